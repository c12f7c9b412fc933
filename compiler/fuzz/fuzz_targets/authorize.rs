//! Reads arbitrary policy text and decides arbitrary requests with it, through the reference
//! evaluator and the compiled decision functions.
//!
//! Input layout: `A POLICY \0 RESOURCE`. The first byte picks the action (`byte % 8` indexes
//! `ACTIONS` below) and the context's shape (`byte / 8 % 4`); the rest is split on its first
//! 0x00 byte and decoded lossily to UTF-8.
//!
//! A panic, a hang, or compiled and reference results that differ is a crash.

#![no_main]

use iotrules_compiler::policy::check_policy;
use iotrules_compiler::policy::compiled::CompiledPolicies;
use iotrules_compiler::policy::eval::{Context, Request, authorize};
use libfuzzer_sys::fuzz_target;

const ACTIONS: [&str; 8] = [
    "iot:Connect",
    "iot:Publish",
    "iot:Subscribe",
    "iot:Receive",
    "iot:GetThingShadow",
    "iot:RetainPublish",
    "iotjobsdata:DescribeJobExecution",
    "sts:AssumeRole",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let action = ACTIONS[usize::from(selector) % ACTIONS.len()];
    let mut parts = rest.splitn(2, |&byte| byte == 0);
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let resource = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let report = check_policy(&text);
    let Some(policy) = report.policy else { return };
    let mut context = Context { client_id: Some("dev-1".to_owned()), ..Context::default() };
    match selector / 8 % 4 {
        0 => {}
        1 => context.thing_name = Some("dev-1".to_owned()),
        2 => {
            context.client_id = Some("+".to_owned());
            context.is_attached = Some(true);
        }
        _ => {
            context.thing_name = Some("th*ng/é".to_owned());
            context.connect_attributes = vec!["PersistentConnect".to_owned()];
            context.subject.insert("CommonName".to_owned(), vec!["a".to_owned(), "b?".to_owned()]);
        }
    }
    let policies = vec![policy];
    let compiled = match CompiledPolicies::compile(&policies, &context) {
        Ok(compiled) => compiled,
        Err(error) => panic!("a checked policy does not compile: {error}\n  policy: {text:?}"),
    };
    let request = Request { action: action.to_owned(), resource: resource.into_owned() };
    let reference = authorize(&policies, &context, &request);
    let native = compiled.authorize(&request);
    assert_eq!(native, reference, "\n  policy: {text:?}\n  request: {request:?}");
});
