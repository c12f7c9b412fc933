//! `iotrules publish`: messages into a broker, so the rules have something to act on without
//! another MQTT client installed.

use std::process::ExitCode;

use crate::cli::PublishArgs;
use crate::commands::check::usage_error;
use crate::commands::run::{credentials, version};
use crate::mqtt::endpoint::{Connection, Endpoint};
use crate::mqtt::sender;
use crate::{report, samples};

pub(crate) fn run(args: &PublishArgs) -> ExitCode {
    crate::logging::init();
    let connection = match Endpoint::parse(&args.broker)
        .and_then(|endpoint| Connection::new(endpoint, version(&args.connection), credentials(&args.connection)?))
    {
        Ok(connection) => connection,
        Err(message) => return usage_error(&message),
    };
    let messages = match (&args.topic, &args.message, &args.messages) {
        (Some(topic), Some(message), _) => vec![(topic.clone(), message.clone().into_bytes())],
        (_, _, Some(path)) => match samples::load(path) {
            Ok(messages) => messages,
            Err(message) => return usage_error(&message),
        },
        _ => return usage_error("give --topic and --message, or --messages FILE"),
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(1);
    };
    match runtime.block_on(sender::send_all(&connection, &args.client_id, messages, args.qos, args.repeat)) {
        Ok(sent) => {
            eprintln!("published {} to {}", report::count(sent, "message", "messages"), connection.endpoint);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: cannot publish to {}: {message}", connection.endpoint);
            ExitCode::from(1)
        }
    }
}
