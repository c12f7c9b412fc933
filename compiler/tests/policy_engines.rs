//! The compiled decision functions against the reference evaluator: random policies, random
//! connections and random requests must get identical results (decision, allowing and
//! denying statements, missing context values). The pieces cover every service policies
//! carry, certificate values that need escaping, defaults, multi-valued keys, both versions
//! and every kind of condition value.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use iotrules_compiler::policy::check_policy;
use iotrules_compiler::policy::compiled::CompiledPolicies;
use iotrules_compiler::policy::eval::{Context, Request, authorize};
use proptest::prelude::*;
use serde_json::json;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:";

fn action() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "iot:Connect",
        "iot:Publish",
        "iot:Subscribe",
        "iot:Receive",
        "iot:*",
        "*",
        "iot:*Shadow",
        "IOT:publish",
        "iot:Pub*",
        "iot:?onnect",
        "iotjobsdata:*",
        "iot:GetThingShadow",
        "greengrass:*",
        "greengrass:GetConnectivityInfo",
        "iotwireless:Get*",
    ])
    .prop_map(str::to_owned)
}

/// Resource text from pieces that exercise globbing, literal MQTT wildcards, non-ASCII and
/// variables.
fn resource_pattern() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "*",
        "?",
        "a",
        "b",
        "/",
        "+",
        "#",
        "é",
        "ab",
        "${iot:ClientId}",
        "${iot:Connection.Thing.ThingName}",
        "${iot:Connection.Thing.Attributes[floor]}",
        "${*}",
        "${?}",
        "${iot:Certificate.Subject.CommonName}",
        "${iot:Unknown}",
        "sensors/",
        "${iot:ClientId, 'none'}",
        "${iot:Connection.Thing.ThingName, ''}",
        "${iot:Certificate.Subject.CommonName.List}",
        "${iot:Certificate.Subject.Organization}",
        "${IOT:certificate.serialnumber}",
        ":",
    ]);
    let kind = prop::sample::select(vec![
        "topic/",
        "topicfilter/",
        "client/",
        "thing/",
        "",
        "*",
        "/greengrass/things/",
        "WirelessDevice/",
    ]);
    (prop::bool::weighted(0.1), kind, prop::collection::vec(piece, 0..6)).prop_map(|(star, kind, pieces)| {
        if star { "*".to_owned() } else { format!("{}{kind}{}", arn_for(kind), pieces.concat()) }
    })
}

/// The ARN prefix of the service a resource type belongs to.
fn arn_for(kind: &str) -> &'static str {
    match kind {
        "/greengrass/things/" => "arn:aws:greengrass:us-east-1:123456789012:",
        "WirelessDevice/" => "arn:aws:iotwireless:us-east-1:123456789012:",
        _ => ARN,
    }
}

fn condition() -> impl Strategy<Value = Option<serde_json::Value>> {
    prop::option::weighted(
        0.3,
        prop::sample::select(vec![
            json!({"Bool": {"iot:Connection.Thing.IsAttached": "true"}}),
            json!({"StringEquals": {"iot:ClientId": "${iot:Connection.Thing.ThingName}"}}),
            json!({"StringNotEquals": {"iot:Connection.Thing.ThingTypeName": "sensor"}}),
            json!({"ForAnyValue:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}}),
            json!({"ForAllValues:StringEquals": {"iot:ConnectAttributes": ["LastWill", "PersistentConnect"]}}),
            json!({"StringLike": {"iot:ClientId": "a*"}}),
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            json!({"Null": {"iot:Connection.Thing.ThingName": "true"}}),
            json!({"BinaryEquals": {"iot:ClientId": ["YQ==", "YWI="]}}),
            json!({"DateLessThan": {"aws:CurrentTime": "2024-06-15"}}),
            json!({"DateGreaterThanEquals": {"aws:CurrentTime": "1718409600"}}),
            json!({"ForAnyValue:StringLike": {"iot:Certificate.AvailableKeys": "*Organization"}}),
            json!({"StringEquals": {"iot:Certificate.SerialNumber": "0a"}}),
            json!({"StringEquals": {"iot:ClientId": "${iot:Certificate.Subject.Organization, 'a'}"}}),
            json!({"ArnLike": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/${iot:ClientId}"}}),
        ]),
    )
}

fn statement() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::bool::ANY,
        prop::bool::weighted(0.15),
        prop::collection::vec(action(), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(resource_pattern(), 1..3),
        condition(),
    )
        .prop_map(|(allow, not_action, actions, not_resource, resources, condition)| {
            let mut statement = json!({"Effect": if allow { "Allow" } else { "Deny" }});
            statement[if not_action { "NotAction" } else { "Action" }] = json!(actions);
            statement[if not_resource { "NotResource" } else { "Resource" }] = json!(resources);
            if let Some(condition) = condition {
                statement["Condition"] = condition;
            }
            statement
        })
}

fn context() -> impl Strategy<Value = serde_json::Value> {
    let name = prop::sample::select(vec!["a", "ab", "b", "+", "é", "a*b", "sensors"]);
    let organization = prop::sample::select(vec!["a", "a,b", "a\\b", "x=y;z", "a*"]);
    let time = prop::sample::select(vec!["2024-06-14T23:59:59Z", "2024-06-15T00:00:00+00:00", "1718409600.5"]);
    (
        prop::option::of(name.clone()),
        prop::option::of(name),
        prop::bool::ANY,
        prop::bool::ANY,
        prop::option::of(organization),
        prop::option::of(time),
    )
        .prop_map(|(client, thing, attached, persistent, organization, time)| {
            let mut context = json!({"region": "us-east-1", "account": "123456789012", "isAttached": attached,
                "thingAttributes": {"floor": "b"}, "sourceIp": "10.1.2.3", "lastWillTopic": "a",
                "certificate": {"serialNumber": "0a", "subject": {"CommonName": ["a", "b"]}}});
            if let Some(organization) = organization {
                context["certificate"]["subject"]["Organization"] = json!(organization);
            }
            if let Some(time) = time {
                context["currentTime"] = json!(time);
            }
            if let Some(client) = client {
                context["clientId"] = json!(client);
            }
            if let Some(thing) = thing {
                context["thingName"] = json!(thing);
            }
            if persistent {
                context["connectAttributes"] = json!(["PersistentConnect"]);
            }
            context
        })
}

fn request() -> impl Strategy<Value = Request> {
    let action = prop::sample::select(vec![
        "iot:Connect",
        "iot:Publish",
        "iot:Subscribe",
        "iot:receive",
        "iot:GetThingShadow",
        "sts:AssumeRole",
        "greengrass:GetConnectivityInfo",
        "Greengrass:Discover",
        "iotwireless:GetWirelessDevice",
    ]);
    let tail = prop::collection::vec(
        prop::sample::select(vec!["a", "b", "/", "+", "#", "é", "*", "?", "sensors/", "\\,", "none", ":"]),
        0..6,
    );
    let kind = prop::sample::select(vec![
        "topic/",
        "topicfilter/",
        "client/",
        "thing/",
        "/greengrass/things/",
        "WirelessDevice/",
    ]);
    (action, kind, tail).prop_map(|(action, kind, tail)| Request {
        action: action.to_owned(),
        resource: format!("{}{kind}{}", arn_for(kind), tail.concat()),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compiled_decisions_equal_the_reference(
        statements in prop::collection::vec(statement(), 1..4),
        context in context(),
        requests in prop::collection::vec(request(), 1..6),
        legacy in prop::bool::weighted(0.1),
    ) {
        let version = if legacy { "2008-10-17" } else { "2012-10-17" };
        let document = json!({"Version": version, "Statement": statements}).to_string();
        let report = check_policy(&document);
        prop_assume!(report.policy.is_some());
        let policies = vec![report.policy.unwrap()];
        let context = Context::from_json(&context).unwrap();
        let compiled = CompiledPolicies::compile(&policies, &context).unwrap();
        for request in &requests {
            let reference = authorize(&policies, &context, request);
            prop_assert_eq!(compiled.authorize(request), reference, "{} {:?}", document, request);
        }
    }
}

/// `*a*a*...*b` against a long run of `a`: the compiled matcher tries each segment at most
/// once per position, so this answers at once (a backtracking matcher would not).
#[test]
fn pathological_patterns_get_the_reference_answer() {
    let pattern = format!("{ARN}topic/{}b", "*a".repeat(30));
    let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": pattern}]});
    let policies = vec![check_policy(&document.to_string()).policy.unwrap()];
    let context = Context::default();
    let compiled = CompiledPolicies::compile(&policies, &context).unwrap();
    for tail in ["a".repeat(4000), format!("{}b", "a".repeat(4000)), format!("{}b", "a".repeat(29))] {
        let request = Request { action: "iot:Publish".to_owned(), resource: format!("{ARN}topic/{tail}") };
        assert_eq!(compiled.authorize(&request), authorize(&policies, &context, &request));
    }
}

proptest! {
    /// Any text at all is read without a panic: a policy or diagnostics, never both missing.
    #[test]
    fn any_text_is_read_without_panicking(text in ".{0,300}", cut in 0usize..400) {
        let report = check_policy(&text);
        prop_assert!(report.policy.is_some() || report.has_errors());
        let document = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Publish"], "Resource": "arn:aws:iot:us-east-1:1:topic/${iot:ClientId}", "Condition": {"StringEquals": {"iot:ClientId": ["a", true, 1]}}}]}"#;
        let prefix: String = document.chars().take(cut).collect();
        let truncated = check_policy(&prefix);
        prop_assert!(truncated.policy.is_some() || truncated.has_errors());
    }
}
