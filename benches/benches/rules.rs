//! Running rules over messages, reported in messages per second (rules per second for w3):
//!
//! - `w1_one_rule`: one filtering, reshaping rule over sensor telemetry, next to what a user
//!   would write by hand with `serde_json::Value` and to the same filter in jq (jaq); every
//!   peer publishes the same JSON for the same messages.
//! - `w2_rule_count`: the cost of one message as the set grows from 1 to 10,000 rules, of
//!   which the message reaches exactly one.
//! - `w3_compile`: 1,000 realistic rules from source text to a ready-to-run `RuleSet`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iotrules_benches::rules::realistic_rules;
use iotrules_benches::sets::{compile, compile_on, fleet_on};
use iotrules_benches::telemetry::{Telemetry, telemetry};
use iotrules_compiler::eval::{Environment, Message, Outcome, Rule, evaluate};
use iotrules_compiler::ruleset::{Engine, Produced, RuleSet, Scratch, SetRule};
use iotrules_compiler::syntax::ast::Statement;
use iotrules_compiler::{SqlVersion, check_sql};
use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;

const VERSION: SqlVersion = SqlVersion::V2016_03_23;

/// Messages per iteration in w1 and w2: half of them pass the WHERE clause.
const MESSAGES: usize = 64;

const W1_RULE: &str = "SELECT temperature, humidity, topic(2) AS device FROM 'sensors/+/telemetry' \
                       WHERE temperature > 50 AND humidity < 80";
const W1_JQ: &str = "select(.temperature > 50 and .humidity < 80) | {temperature, humidity, device: $device}";

const RULE_COUNTS: [usize; 4] = [1, 100, 1_000, 10_000];

const COMPILED_RULES: usize = 1_000;

fn w1_one_rule(c: &mut Criterion) {
    let messages = telemetry(MESSAGES);
    let env = Environment::default();
    let statement = statement(W1_RULE);
    let rule = Rule { statement: &statement, version: VERSION, name: None };
    let jq = jaq_filter(W1_JQ);

    let on_interp = RuleSet::with_engine(vec![set_rule(W1_RULE)], Engine::Interp);
    let on_jit = RuleSet::with_engine(vec![set_rule(W1_RULE)], Engine::Jit);
    assert!(on_jit.interpreted().is_empty(), "the JIT compiles the whole w1 rule");

    let (mut jit_scratch, mut interp_scratch) = (Scratch::default(), Scratch::default());
    let mut peers: Vec<Peer<'_>> = vec![
        ("iotrules_jit", Box::new(|topic, payload, out| in_set(&on_jit, &env, &mut jit_scratch, topic, payload, out))),
        (
            "iotrules_interp_ruleset",
            Box::new(|topic, payload, out| in_set(&on_interp, &env, &mut interp_scratch, topic, payload, out)),
        ),
        ("iotrules_interp", Box::new(|topic, payload, out| interp(&rule, &env, topic, payload, out))),
        ("serde_json_value", Box::new(serde_json_value)),
        ("jaq", Box::new(|topic, payload, out| jaq(&jq, topic, payload, out))),
    ];
    assert_same_outputs(&mut peers, &messages);

    let mut group = c.benchmark_group("w1_one_rule");
    group.throughput(Throughput::Elements(messages.len() as u64));
    let mut out = Vec::new();
    for (name, run) in &mut peers {
        group.bench_function(*name, |b| {
            b.iter(|| {
                for message in &messages {
                    black_box(run(black_box(&message.topic), black_box(&message.payload), &mut out));
                }
            });
        });
    }
    group.finish();
}

fn w2_rule_count(c: &mut Criterion) {
    let env = Environment::default();
    let mut group = c.benchmark_group("w2_rule_count");
    for (count, engine) in RULE_COUNTS.into_iter().flat_map(|count| [(count, Engine::Interp), (count, Engine::Jit)]) {
        let set = fleet_on(count, engine);
        // The trie should make the position of the one matching rule irrelevant; the middle
        // keeps a linear scan from looking good by luck.
        let target = count / 2;
        let telemetry = telemetry(MESSAGES);
        let topics: Vec<String> =
            telemetry.iter().map(|message| format!("fleet/{target}/{}/telemetry", message.device)).collect();
        let messages: Vec<Message<'_>> = telemetry
            .iter()
            .zip(&topics)
            .map(|(message, topic)| Message { topic, payload: &message.payload, ..Message::default() })
            .collect();
        for (message, sent) in messages.iter().zip(&telemetry) {
            let outcomes = set.evaluate(&env, message).unwrap_or_default();
            assert!(
                matches!(outcomes.as_slice(), [(id, outcome)] if *id == target
                    && matches!(outcome, Outcome::Fired(_)) == sent.hot),
                "{} rules: `{}` gave {outcomes:?}",
                count,
                message.topic
            );
        }

        group.throughput(Throughput::Elements(messages.len() as u64));
        let name = if engine == Engine::Jit { "iotrules_jit_ruleset" } else { "iotrules_interp_ruleset" };
        let mut scratch = Scratch::default();
        group.bench_with_input(BenchmarkId::new(name, count), &messages, |b, messages| {
            b.iter(|| {
                for message in messages {
                    black_box(set.evaluate_with(&env, black_box(message), &mut scratch).ok());
                }
            });
        });
    }
    group.finish();
}

fn w3_compile(c: &mut Criterion) {
    let sources = realistic_rules(COMPILED_RULES);
    assert_eq!(compile(&sources).rules().len(), COMPILED_RULES, "a realistic rule failed to check");
    let interpreted = compile_on(&sources, Engine::Jit).interpreted().len();
    assert_eq!(interpreted, 0, "the JIT compiles every realistic rule");

    let mut group = c.benchmark_group("w3_compile");
    group.throughput(Throughput::Elements(COMPILED_RULES as u64)).sample_size(10);
    group.bench_function("iotrules_check_and_index", |b| b.iter_with_large_drop(|| compile(black_box(&sources))));
    group.bench_function("iotrules_check_index_and_jit", |b| {
        b.iter_with_large_drop(|| compile_on(black_box(&sources), Engine::Jit))
    });
    group.finish();
}

/// An engine under test: given a message (topic, payload), it writes what it publishes into
/// the buffer (cleared first) and says whether the rule fired. Every peer reuses one output
/// buffer, as a runtime publishing from it would. Adding an engine to w1 is one more entry.
type Peer<'a> = (&'static str, Box<dyn FnMut(&str, &[u8], &mut Vec<u8>) -> bool + 'a>);

/// The rule as the runtime runs it: through a one-rule set (topic index, payload scan,
/// engine), with the buffers reused from message to message.
fn in_set(
    set: &RuleSet,
    env: &Environment,
    scratch: &mut Scratch,
    topic: &str,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let message = Message { topic, payload, ..Message::default() };
    if set.evaluate_with(env, &message, scratch).is_err() {
        return false;
    }
    match scratch.outcomes().next() {
        Some((_, Produced::Fired(bytes))) => {
            out.extend_from_slice(bytes);
            true
        }
        _ => false,
    }
}

fn set_rule(sql: &str) -> SetRule {
    SetRule { name: "w1".to_owned(), statement: statement(sql), version: VERSION }
}

fn interp(rule: &Rule<'_>, env: &Environment, topic: &str, payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let message = Message { topic, payload, ..Message::default() };
    match evaluate(rule, env, &message) {
        Ok(Outcome::Fired(bytes)) => {
            out.extend_from_slice(&bytes);
            true
        }
        _ => false,
    }
}

/// The rule as a user would write it by hand; the subscription already matched the topic.
fn serde_json_value(topic: &str, payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else { return false };
    let (Some(temperature), Some(humidity)) = (value.get("temperature"), value.get("humidity")) else { return false };
    let (Some(t), Some(h)) = (temperature.as_f64(), humidity.as_f64()) else { return false };
    let Some(device) = topic.split('/').nth(1) else { return false };
    if !(t > 50.0 && h < 80.0) {
        return false;
    }
    let output = serde_json::json!({ "temperature": temperature, "humidity": humidity, "device": device });
    serde_json::to_writer(out, &output).is_ok()
}

type JqFilter = jaq_core::Filter<JustLut<Val>>;

fn jaq(filter: &JqFilter, topic: &str, payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let Ok(input) = jaq_json::read::parse_single(payload) else { return false };
    let Some(device) = topic.split('/').nth(1) else { return false };
    let ctx = Ctx::<JustLut<Val>>::new(&filter.lut, Vars::new([Val::from(device.to_owned())]));
    let Some(Ok(output)) = filter.id.run((ctx, input)).next() else { return false };
    jaq_json::write::write(out, &jaq_json::write::Pp::default(), 0, &output).is_ok()
}

/// Compiles a jq filter with jaq's core definitions (`select` is one), its native functions
/// and one global variable, `$device`. The standard library (`jaq-std` with its default
/// features) is left out: the filter needs nothing from it, and definitions it does not call
/// cost nothing per message.
#[expect(clippy::panic, reason = "the filter is a constant of this file; not compiling is a bug here")]
fn jaq_filter(code: &str) -> JqFilter {
    let defs = jaq_core::defs();
    let funs = jaq_core::funs().chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = match Loader::new(defs).load(&arena, File { code, path: () }) {
        Ok(modules) => modules,
        Err(errors) => panic!("jaq cannot parse `{code}`: {errors:?}"),
    };
    match Compiler::default().with_funs(funs).with_global_vars(["$device"]).compile(modules) {
        Ok(filter) => filter,
        Err(errors) => panic!("jaq cannot compile `{code}`: {errors:?}"),
    }
}

/// Every peer fires on the same messages and publishes the same JSON as the interpreter
/// (compared as parsed values: `serde_json::Map` sorts its keys).
fn assert_same_outputs(peers: &mut [Peer<'_>], messages: &[Telemetry]) {
    let mut out = Vec::new();
    for message in messages {
        let mut outputs = peers.iter_mut().map(|(name, run)| {
            let fired = run(&message.topic, &message.payload, &mut out);
            (*name, fired.then(|| serde_json::from_slice::<serde_json::Value>(&out).ok()))
        });
        let Some((reference, expected)) = outputs.next() else { return };
        assert_eq!(expected.is_some(), message.hot, "{reference} on `{}`", message.topic);
        assert!(matches!(expected, None | Some(Some(_))), "{reference} published invalid JSON");
        for (name, output) in outputs {
            assert_eq!(output, expected, "{name} and {reference} differ on `{}`", message.topic);
        }
    }
}

/// `count` rules like the w1 rule, each on its own filter `fleet/<i>/+/telemetry`.
#[expect(clippy::panic, reason = "the rules are constants of this file; one that does not check is a bug here")]
fn statement(sql: &str) -> Statement {
    let checked = check_sql(sql, VERSION);
    match checked.statement {
        Some(statement) if !checked.has_errors() => statement,
        _ => panic!("`{sql}` does not check: {:?}", checked.diagnostics),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = w1_one_rule, w2_rule_count, w3_compile
}
criterion_main!(benches);
