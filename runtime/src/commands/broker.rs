//! `iotrules broker`: the embedded broker on its own, for rules run elsewhere and for tests
//! that stop iotrules but not the broker.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use crate::broker::{self, Open, Options};
use crate::cli::BrokerArgs;

pub(crate) fn run(args: &BrokerArgs) -> ExitCode {
    let format = args.format;
    crate::logging::init(format);
    let options = Options {
        tcp: SocketAddr::new(args.bind, args.port),
        ws: args.ws_port.map(|port| SocketAddr::new(args.bind, port)),
        proxy_protocol: false,
        exact_retained: false,
        gate: Arc::new(Open),
    };
    let broker = match broker::start(options) {
        Ok(broker) => broker,
        Err(message) => return format.error(1, &message, None),
    };
    let mut banner = format!("embedded MQTT broker listening on mqtt://{}; stop it with Ctrl-C", broker.tcp_address());
    if let Some(address) = broker.ws_address() {
        banner.push_str(&format!("\n  and on ws://{address} (MQTT over WebSocket)"));
    }
    crate::logging::console(&banner);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(1);
    };
    runtime.block_on(crate::serve::stop_requested());
    drop(broker);
    ExitCode::SUCCESS
}
