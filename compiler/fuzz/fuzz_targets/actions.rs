//! Renders arbitrary substitution templates on arbitrary messages and checks the result as
//! the action path does before anything leaves: the republish topic (AWS's and MQTT's rules),
//! MQTT string properties, and an http action's URL against its confirmed destination.
//!
//! Input layout: `TEMPLATE \0 TOPIC \0 DESTINATION \0 PAYLOAD`, split on the first three
//! 0x00 bytes; all but the payload are decoded lossily to UTF-8.
//!
//! A panic, a hang, or a broken invariant below is a crash:
//! * a topic `topic_name_problem` accepts is non-empty, at most 256 bytes, and holds no
//!   wildcard and no character MQTT forbids;
//! * a string `mqtt_string_problem` accepts fits an MQTT string (65,535 bytes) and holds no
//!   character MQTT forbids;
//! * a URL `confirmed` accepts begins with the destination and names its scheme, host and
//!   port; `redacted` never shows a URL's password.

#![no_main]

use iotrules_compiler::SqlVersion;
use iotrules_compiler::check::topic_name::{
    MAX_MQTT_STRING, forbidden_character, mqtt_string_problem, topic_name_problem,
};
use iotrules_compiler::eval::{Environment, Message};
use iotrules_compiler::rule_file::destination::{confirmed, redacted};
use iotrules_compiler::template::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&byte| byte == 0);
    let template = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let topic = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let destination = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let payload = parts.next().unwrap_or_default();

    let parsed = Template::parse(&template, SqlVersion::V2016_03_23);
    let Some(template) = parsed.template else { return };
    let message = Message { topic: &topic, payload, client_id: Some("fuzz-client"), ..Message::default() };
    let Ok(rendered) = template.render(&Environment::default(), &message) else { return };

    if topic_name_problem(&rendered).is_none() {
        assert!(!rendered.is_empty() && rendered.len() <= 256, "{rendered:?}");
        assert!(!rendered.contains(['+', '#']) && forbidden_character(&rendered).is_none(), "{rendered:?}");
    }
    if mqtt_string_problem(&rendered).is_none() {
        assert!(rendered.len() <= MAX_MQTT_STRING && forbidden_character(&rendered).is_none());
    }
    if let Ok(url) = confirmed(&rendered, &destination) {
        assert!(rendered.starts_with(destination.as_ref()), "{rendered:?} / {destination:?}");
        let expected = url::Url::parse(&destination).expect("a destination that confirmed a URL parses");
        assert_eq!((url.scheme(), url.host(), url.port_or_known_default()),
                   (expected.scheme(), expected.host(), expected.port_or_known_default()));
    }
    if let Ok(url) = url::Url::parse(&rendered)
        && let Some(password) = url.password()
        && password.len() > 3
    {
        assert!(!redacted(&rendered).contains(&format!(":{password}@")), "{rendered:?}");
    }
});
