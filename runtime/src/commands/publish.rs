//! `iotrules publish`: messages into a broker, so the rules have something to act on without
//! another MQTT client installed.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::PublishArgs;
use crate::commands::run::{credentials, version};
use crate::mqtt::endpoint::{Connection, Endpoint};
use crate::mqtt::sender;
use crate::report::output;
use crate::{report, samples};

/// One line of `publish --format json`: a message the broker has.
#[derive(Serialize)]
struct Published<'a> {
    topic: &'a str,
    qos: u8,
    /// The broker acknowledged it (QoS 1); a QoS 0 message is only written to the connection.
    acknowledged: bool,
    /// Why an MQTT 5 broker refused it in its acknowledgement.
    refused: Option<String>,
}

pub(crate) fn run(args: &PublishArgs) -> ExitCode {
    let format = args.format;
    crate::logging::init(format);
    let connection = match Endpoint::parse(&args.broker)
        .and_then(|endpoint| Connection::new(endpoint, version(&args.connection), credentials(&args.connection)?))
    {
        Ok(connection) => connection,
        Err(message) => return format.usage_error(&message),
    };
    let messages = match (&args.topic, &args.message, &args.messages) {
        (Some(topic), Some(message), _) => vec![(topic.clone(), message.clone().into_bytes())],
        (_, _, Some(path)) => match samples::load(path) {
            Ok(messages) => messages,
            Err(message) => return format.usage_error(&message),
        },
        _ => return format.usage_error("give --topic and --message, or --messages FILE"),
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(1);
    };
    let topics: Vec<String> = messages.iter().map(|(topic, _)| topic.clone()).collect();
    let mut written = true;
    let taken = |index: u64, refused: Option<String>| {
        if !format.is_json() {
            return;
        }
        let topic = usize::try_from(index).ok().and_then(|index| topics.get(index % topics.len().max(1)));
        let line =
            Published { topic: topic.map_or("", String::as_str), qos: args.qos, acknowledged: args.qos == 1, refused };
        written &= output::line(&line);
    };
    let sent = runtime.block_on(sender::send_all(&connection, &args.client_id, messages, args.qos, args.repeat, taken));
    match sent {
        Ok(_) if !written => ExitCode::from(1),
        Ok(_) if format.is_json() => ExitCode::SUCCESS,
        Ok(sent) => {
            eprintln!("published {} to {}", report::count(sent, "message", "messages"), connection.endpoint);
            ExitCode::SUCCESS
        }
        Err(message) => format.error(1, &format!("cannot publish to {}: {message}", connection.endpoint), None),
    }
}
