//! The reserved shadow topics: `$aws/things/<thing>/shadow[/name/<shadow>]/<operation>` and the
//! topics the service answers on.

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Get,
    Update,
    Delete,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// A shadow: its thing, and its name (`None` for the classic shadow).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ShadowId {
    pub(crate) thing: String,
    pub(crate) name: Option<String>,
}

impl ShadowId {
    /// The topic prefix every topic of this shadow starts with.
    pub(crate) fn prefix(&self) -> String {
        match &self.name {
            None => format!("$aws/things/{}/shadow", self.thing),
            Some(name) => format!("$aws/things/{}/shadow/name/{name}", self.thing),
        }
    }

    /// The topic a request is published on: `<prefix>/<operation>`.
    pub(crate) fn request(&self, operation: Operation) -> String {
        format!("{}/{}", self.prefix(), operation.as_str())
    }

    /// The topic a response is published on: `<prefix>/<operation>/<suffix>`.
    pub(crate) fn topic(&self, operation: Operation, suffix: &str) -> String {
        format!("{}/{}/{suffix}", self.prefix(), operation.as_str())
    }
}

/// The longest thing name AWS accepts.
pub(crate) const MAX_THING_NAME: usize = 128;
/// The longest shadow name AWS accepts.
pub(crate) const MAX_SHADOW_NAME: usize = 64;

/// The shadow request a topic is, if it is one: the request topics end in `get`, `update` or
/// `delete`; the response topics (`.../accepted` and so on) are not requests.
pub(crate) fn parse(topic: &str) -> Option<(ShadowId, Operation)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("shadow/")?;
    let (name, operation) = match rest.strip_prefix("name/") {
        Some(named) => {
            let (name, operation) = named.split_once('/')?;
            (Some(name), operation)
        }
        None => (None, rest),
    };
    let operation = match operation {
        "get" => Operation::Get,
        "update" => Operation::Update,
        "delete" => Operation::Delete,
        _ => return None,
    };
    Some((ShadowId::checked(thing, name)?, operation))
}

impl ShadowId {
    /// The shadow `name` of `thing` (the classic shadow without a name), when both names
    /// follow AWS's rules: 1 to 128 (thing) or 64 (shadow) of `a-zA-Z0-9:_-`.
    pub(crate) fn checked(thing: &str, name: Option<&str>) -> Option<ShadowId> {
        let valid = |text: &str, max: usize| {
            (1..=max).contains(&text.len())
                && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b':' | b'_' | b'-'))
        };
        if !valid(thing, MAX_THING_NAME) || name.is_some_and(|name| !valid(name, MAX_SHADOW_NAME)) {
            return None;
        }
        Some(ShadowId { thing: thing.to_owned(), name: name.map(str::to_owned) })
    }
}

/// The topic filters a service subscribes to, to receive every request.
pub(crate) const REQUEST_FILTERS: [&str; 6] = [
    "$aws/things/+/shadow/get",
    "$aws/things/+/shadow/update",
    "$aws/things/+/shadow/delete",
    "$aws/things/+/shadow/name/+/get",
    "$aws/things/+/shadow/name/+/update",
    "$aws/things/+/shadow/name/+/delete",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_topics_name_their_shadow() {
        let classic = parse("$aws/things/boiler-1/shadow/update").unwrap();
        assert_eq!(classic, (ShadowId { thing: "boiler-1".to_owned(), name: None }, Operation::Update));
        let named = parse("$aws/things/boiler-1/shadow/name/config/get").unwrap();
        assert_eq!(named.0.name.as_deref(), Some("config"));
        assert_eq!(named.1, Operation::Get);
        assert_eq!(
            named.0.topic(Operation::Update, "documents"),
            "$aws/things/boiler-1/shadow/name/config/update/documents"
        );
        assert_eq!(parse(&named.0.request(Operation::Delete)), Some((named.0.clone(), Operation::Delete)));
        for not_a_request in [
            "$aws/things/boiler-1/shadow/update/accepted",
            "$aws/things/boiler-1/shadow/name/config",
            "$aws/things//shadow/get",
            "$aws/things/boiler 1/shadow/get",
            "$aws/things/b/shadow/name/bad.name/get",
            "things/boiler-1/shadow/get",
        ] {
            assert_eq!(parse(not_a_request), None, "{not_a_request}");
        }
        assert!(parse(&format!("$aws/things/{}/shadow/get", "t".repeat(129))).is_none());
        // Each request filter, with its wildcards filled in, is a request.
        for filter in REQUEST_FILTERS {
            assert!(parse(&filter.replace('+', "x")).is_some(), "{filter}");
        }
        assert!(parse(&format!("$aws/things/t/shadow/name/{}/get", "s".repeat(65))).is_none());
    }
}
