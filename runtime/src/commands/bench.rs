//! `iotrules bench`: the throughput of the user's own rules on their own sample messages.
//!
//! The whole set is measured as the runtime runs it (topic index, payload read once per
//! message, every reached rule evaluated), then each rule alone on the messages that reach it.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use iotrules_compiler::eval::{Environment, Message};
use iotrules_compiler::file_kind::FileKind;
use iotrules_compiler::ruleset::{RuleSet, Scratch, SetRule};
use serde::Serialize;

use crate::cli::{BenchArgs, Engine, Format};
use crate::{inputs, report, rules, samples};

#[derive(Debug, Serialize)]
struct EngineResult {
    engine: &'static str,
    messages_per_second: f64,
    ns_per_message: f64,
    messages: u64,
    rules: Vec<RuleResult>,
}

#[derive(Debug, Serialize)]
struct RuleResult {
    name: String,
    /// Share of the sample messages whose topic reaches the rule.
    reached: f64,
    messages_per_second: f64,
    ns_per_message: f64,
    /// With the JIT engine, why the rule is interpreted.
    #[serde(skip_serializing_if = "Option::is_none")]
    interpreted_because: Option<String>,
}

pub(crate) fn run(args: &BenchArgs) -> ExitCode {
    let format = args.format;
    let usage_error = |message: &str| format.usage_error(message);
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return usage_error("--seconds must be a positive number");
    }
    let rules = match load_rules(format, &args.rules) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let samples = match samples::load(&args.messages) {
        Ok(samples) if !samples.is_empty() => samples,
        Ok(_) => return usage_error("the messages file holds no messages"),
        Err(message) => return usage_error(&message),
    };
    let budget = Duration::from_secs_f64(args.seconds);
    let engines = match args.engine {
        Some(engine) => vec![engine],
        None => vec![Engine::Jit, Engine::Interp],
    };
    let progress = Progress::new(std::io::stderr().is_terminal() && args.format == Format::Human);
    let results: Vec<EngineResult> =
        engines.into_iter().map(|engine| measure_engine(engine, &rules, &samples, budget, &progress)).collect();
    progress.done();

    match args.format {
        Format::Json => {
            let document = serde_json::json!({ "engines": results });
            println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        }
        Format::Human => {
            println!(
                "{}, {}",
                report::count(rules.len(), "rule", "rules"),
                report::count(samples.len(), "sample message", "sample messages")
            );
            for result in &results {
                print_table(result);
            }
            if results.len() == 2
                && let (Some(jit), Some(interp)) = (results.first(), results.get(1))
            {
                println!(
                    "\njit / interp: {:.2}× the messages per second",
                    jit.messages_per_second / interp.messages_per_second
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// Measures the whole set on `engine`, then each rule alone on the messages that reach it.
fn measure_engine(
    engine: Engine,
    rules: &[SetRule],
    samples: &[(String, Vec<u8>)],
    budget: Duration,
    progress: &Progress,
) -> EngineResult {
    let env = Environment::default();
    let set = RuleSet::with_engine(rules.to_vec(), engine.ruleset());
    progress.show(&format!("{}: whole set", engine.name()));
    let mut scratch = Scratch::default();
    let (messages, elapsed) = measure(budget, |index| {
        let (topic, payload) = &samples[index % samples.len()];
        let message = Message { topic, payload, ..Message::default() };
        let _ = std::hint::black_box(set.evaluate_with(&env, &message, &mut scratch));
    });
    let interpreted = set.interpreted();
    let mut results = Vec::new();
    for (id, rule) in set.rules().iter().enumerate() {
        progress.show(&format!("{}: rule {}", engine.name(), rule.name));
        let reaching: Vec<&(String, Vec<u8>)> =
            samples.iter().filter(|(topic, _)| set.reached_by(topic).contains(&id)).collect();
        let reached = reaching.len() as f64 / samples.len() as f64;
        let fallback = interpreted
            .iter()
            .find(|(rule, _)| *rule == id)
            .map(|(_, unsupported)| format!("the JIT does not compile {}", unsupported.reason));
        let mut result = RuleResult {
            name: rule.name.clone(),
            reached,
            messages_per_second: 0.0,
            ns_per_message: 0.0,
            interpreted_because: fallback,
        };
        if !reaching.is_empty() {
            let single = RuleSet::with_engine(vec![rule.clone()], engine.ruleset());
            let (count, elapsed) = measure(budget / 5, |index| {
                let (topic, payload) = reaching[index % reaching.len()];
                let message = Message { topic, payload, ..Message::default() };
                let _ = std::hint::black_box(single.evaluate_with(&env, &message, &mut scratch));
            });
            result.messages_per_second = count as f64 / elapsed.as_secs_f64();
            result.ns_per_message = elapsed.as_nanos() as f64 / count as f64;
        }
        results.push(result);
    }
    EngineResult {
        engine: engine.name(),
        messages_per_second: messages as f64 / elapsed.as_secs_f64(),
        ns_per_message: elapsed.as_nanos() as f64 / messages as f64,
        messages,
        rules: results,
    }
}

/// Runs `step` with increasing indices until `budget` has passed; returns how many ran and
/// how long they took. The clock is read every 64 steps so it does not dominate fast steps.
fn measure(budget: Duration, mut step: impl FnMut(usize)) -> (u64, Duration) {
    let started = Instant::now();
    let mut count = 0usize;
    loop {
        for _ in 0..64 {
            step(count);
            count += 1;
        }
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return (count as u64, elapsed);
        }
    }
}

fn load_rules(format: Format, paths: &[std::path::PathBuf]) -> Result<Vec<SetRule>, ExitCode> {
    let usage_error = |message: &str| format.usage_error(message);
    let files =
        inputs::find(paths, &[FileKind::Statement, FileKind::TopicRule]).map_err(|message| usage_error(&message))?;
    if files.is_empty() {
        return Err(usage_error("no .sql or .json rule files found"));
    }
    let mut set = Vec::new();
    for input in files {
        let path = &input.path;
        let contents =
            input.contents.map_err(|error| usage_error(&format!("cannot read `{}`: {error}", path.display())))?;
        let loaded = rules::from_file(path, contents, iotrules_compiler::SqlVersion::V2016_03_23);
        if loaded.has_errors() {
            return Err(format.invalid("the rules have errors; nothing is measured", [&loaded.report]));
        }
        let name = loaded.rule_name();
        let Some(statement) = loaded.statement else { return Err(ExitCode::from(1)) };
        set.push(SetRule { name, statement, version: loaded.version });
    }
    Ok(set)
}

fn print_table(result: &EngineResult) {
    println!();
    println!("{:<32} {:>9} {:>16} {:>12}", format!("engine {}", result.engine), "reached", "messages/s", "ns/message");
    println!(
        "{:<32} {:>9} {:>16} {:>12.0}",
        "whole set",
        "",
        format_rate(result.messages_per_second),
        result.ns_per_message
    );
    for rule in &result.rules {
        let reached = format!("{:.0}%", rule.reached * 100.0);
        if rule.ns_per_message == 0.0 {
            println!("{:<32} {:>9} {:>16} {:>12}", rule.name, reached, "-", "-");
        } else {
            println!(
                "{:<32} {:>9} {:>16} {:>12.0}",
                rule.name,
                reached,
                format_rate(rule.messages_per_second),
                rule.ns_per_message
            );
        }
        if let Some(reason) = &rule.interpreted_because {
            println!("    interpreted: {reason}");
        }
    }
}

fn format_rate(rate: f64) -> String {
    if rate >= 1e6 { format!("{:.2} M", rate / 1e6) } else { format!("{:.1} k", rate / 1e3) }
}

/// A one-line status on a terminal while measurements run.
struct Progress {
    enabled: bool,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Progress { enabled }
    }

    fn show(&self, what: &str) {
        if self.enabled {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2Kmeasuring {what}…");
            let _ = stderr.flush();
        }
    }

    fn done(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}
