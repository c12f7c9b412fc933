//! Authorization decisions for a realistic device policy, in one group with its peers on
//! identical requests: iotrules' compiled decision functions, its reference evaluator, the
//! cedar-policy crate and the regorus crate (Rego), each given the equivalent policy.
//!
//! The device may connect only as its own thing (and only while attached), publish and receive
//! on its own telemetry topics, subscribe to its own topic filters, and use its shadow topics;
//! a deny carves its firmware topic out. AWS substitutes policy variables per connection, and
//! so does every peer here: the Cedar and Rego policies are written for the connection's thing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotrules_compiler::policy::check_policy;
use iotrules_compiler::policy::compiled::CompiledPolicies;
use iotrules_compiler::policy::eval::{Context, Decision, Request, authorize};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:";
const THING: &str = "boiler-7";

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}",
     "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/sensors/${iot:Connection.Thing.ThingName}/*",
                  "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/sensors/${iot:Connection.Thing.ThingName}/*",
                  "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
    {"Effect": "Deny", "Action": "iot:Publish",
     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/sensors/${iot:Connection.Thing.ThingName}/firmware"}
  ]
}"#;

/// The same policy in Cedar, for this connection's thing: the resource ARN travels in the
/// request context, since Cedar patterns are literals.
fn cedar_policy() -> String {
    format!(
        r#"
permit(principal, action == Action::"iot:Connect", resource)
  when {{ context.attached && context.arn == "{ARN}client/{THING}" }};
permit(principal, action in [Action::"iot:Publish", Action::"iot:Receive"], resource)
  when {{ context.arn like "{ARN}topic/sensors/{THING}/*" || context.arn like "{ARN}topic/$aws/things/{THING}/shadow/*" }};
permit(principal, action == Action::"iot:Subscribe", resource)
  when {{ context.arn like "{ARN}topicfilter/sensors/{THING}/*" || context.arn like "{ARN}topicfilter/$aws/things/{THING}/shadow/*" }};
forbid(principal, action == Action::"iot:Publish", resource)
  when {{ context.arn == "{ARN}topic/sensors/{THING}/firmware" }};
"#
    )
}

/// The same policy in Rego, for this connection's thing.
fn rego_policy() -> String {
    format!(
        r#"package iot

default allow := false

allow if {{
    not deny
    granted
}}

granted if {{
    input.action == "iot:Connect"
    input.attached
    input.resource == "{ARN}client/{THING}"
}}

granted if {{
    input.action in {{"iot:Publish", "iot:Receive"}}
    startswith(input.resource, "{ARN}topic/sensors/{THING}/")
}}

granted if {{
    input.action in {{"iot:Publish", "iot:Receive"}}
    startswith(input.resource, "{ARN}topic/$aws/things/{THING}/shadow/")
}}

granted if {{
    input.action == "iot:Subscribe"
    startswith(input.resource, "{ARN}topicfilter/sensors/{THING}/")
}}

granted if {{
    input.action == "iot:Subscribe"
    startswith(input.resource, "{ARN}topicfilter/$aws/things/{THING}/shadow/")
}}

deny if {{
    input.action == "iot:Publish"
    input.resource == "{ARN}topic/sensors/{THING}/firmware"
}}
"#
    )
}

/// A device's day: connects, telemetry, shadow traffic, subscriptions, and attempts it is
/// refused (another thing's topics, the firmware topic).
fn requests() -> Vec<Request> {
    [
        ("iot:Connect", format!("client/{THING}")),
        ("iot:Connect", "client/boiler-8".to_owned()),
        ("iot:Publish", format!("topic/sensors/{THING}/telemetry")),
        ("iot:Publish", format!("topic/sensors/{THING}/firmware")),
        ("iot:Publish", "topic/sensors/boiler-8/telemetry".to_owned()),
        ("iot:Receive", format!("topic/$aws/things/{THING}/shadow/update/accepted")),
        ("iot:Subscribe", format!("topicfilter/sensors/{THING}/#")),
        ("iot:Subscribe", "topicfilter/sensors/#".to_owned()),
    ]
    .into_iter()
    .map(|(action, resource)| Request { action: action.to_owned(), resource: format!("{ARN}{resource}") })
    .collect()
}

fn cedar_request(request: &Request) -> cedar_policy::Request {
    use cedar_policy::{Context as CedarContext, EntityUid, RestrictedExpression};
    let entity = |text: &str| text.parse::<EntityUid>().unwrap_or_else(|error| unreachable!("{text}: {error}"));
    let context = CedarContext::from_pairs([
        ("arn".to_owned(), RestrictedExpression::new_string(request.resource.clone())),
        ("attached".to_owned(), RestrictedExpression::new_bool(true)),
    ])
    .unwrap_or_else(|error| unreachable!("{error}"));
    cedar_policy::Request::new(
        entity(&format!(r#"Device::"{THING}""#)),
        entity(&format!(r#"Action::"{}""#, request.action)),
        entity(r#"Resource::"any""#),
        context,
        None,
    )
    .unwrap_or_else(|error| unreachable!("{error}"))
}

fn rego_input(request: &Request) -> regorus::Value {
    let input = serde_json::json!({"action": request.action, "resource": request.resource, "attached": true});
    regorus::Value::from_json_str(&input.to_string()).unwrap_or_else(|error| unreachable!("{error}"))
}

fn policy_decisions(c: &mut Criterion) {
    let checked = check_policy(POLICY);
    let policies = vec![checked.policy.unwrap_or_else(|| unreachable!("{:?}", checked.diagnostics))];
    let context = Context {
        client_id: Some(THING.to_owned()),
        thing_name: Some(THING.to_owned()),
        is_attached: Some(true),
        ..Context::default()
    };
    let compiled = CompiledPolicies::compile(&policies, &context).unwrap_or_else(|error| unreachable!("{error}"));
    let cedar_policies: cedar_policy::PolicySet =
        cedar_policy().parse().unwrap_or_else(|error| unreachable!("{error}"));
    let cedar = cedar_policy::Authorizer::new();
    let entities = cedar_policy::Entities::empty();
    let mut rego = regorus::Engine::new();
    rego.add_policy("iot.rego".to_owned(), rego_policy()).unwrap_or_else(|error| unreachable!("{error}"));
    let requests = requests();

    // Every peer decides every request the same way before anything is timed.
    for request in &requests {
        let expected = authorize(&policies, &context, request).decision == Decision::Allowed;
        assert_eq!(compiled.authorize(request).decision == Decision::Allowed, expected, "compiled: {request:?}");
        let cedar_allowed = cedar.is_authorized(&cedar_request(request), &cedar_policies, &entities).decision()
            == cedar_policy::Decision::Allow;
        assert_eq!(cedar_allowed, expected, "cedar: {request:?}");
        rego.set_input(rego_input(request));
        let rego_allowed = rego.eval_rule("data.iot.allow".to_owned()).unwrap_or_else(|error| unreachable!("{error}"));
        assert_eq!(rego_allowed, regorus::Value::from(expected), "regorus: {request:?}");
    }

    let mut group = c.benchmark_group("policy_decisions");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.bench_function("iotrules_compiled", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(compiled.authorize(black_box(request)));
            }
        });
    });
    group.bench_function("iotrules_interp", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(authorize(&policies, &context, black_box(request)));
            }
        });
    });
    // Cedar and Rego take their requests in their own shapes; building them is part of a
    // decision, as it would be in a broker.
    group.bench_function("cedar", |b| {
        b.iter(|| {
            for request in &requests {
                let cedar_request = cedar_request(black_box(request));
                black_box(cedar.is_authorized(&cedar_request, &cedar_policies, &entities).decision());
            }
        });
    });
    group.bench_function("regorus", |b| {
        b.iter(|| {
            for request in &requests {
                rego.set_input(rego_input(black_box(request)));
                black_box(rego.eval_rule("data.iot.allow".to_owned()).ok());
            }
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = policy_decisions
}
criterion_main!(benches);
