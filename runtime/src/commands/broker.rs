//! `iotrules broker`: the embedded broker on its own, for rules run elsewhere and for tests
//! that stop iotrules but not the broker.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::cli::BrokerArgs;
use crate::mqtt::embedded;

pub(crate) fn run(args: &BrokerArgs) -> ExitCode {
    crate::logging::init();
    let address = SocketAddr::new(args.bind, args.port);
    if let Err(message) = embedded::start(address) {
        eprintln!("error: {message}");
        return ExitCode::from(1);
    }
    eprintln!("embedded MQTT broker listening on mqtt://{address}; stop it with Ctrl-C");
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(1);
    };
    runtime.block_on(crate::serve::stop_requested());
    ExitCode::SUCCESS
}
