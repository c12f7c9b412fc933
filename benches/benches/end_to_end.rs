//! End to end on a real broker: Mosquitto on loopback, one publisher of W1 telemetry, and on
//! the other side either
//!
//! - `plain`: a rumqttc QoS 1 subscriber on `sensors/+/telemetry`, the floor any consumer of
//!   the stream pays, or
//! - `iotrules`: `iotrules run` with the W1 rule and a QoS 1 `republish` to `out/telemetry`,
//!   and a rumqttc subscriber on `out/telemetry`, or
//! - `forwarder`: the same job written by hand on rumqttc, the cheapest republisher there is
//!   (the condition and the output hard-coded, serde_json, acknowledged on receipt, so with
//!   none of iotrules' delivery guarantees), and the same subscriber on `out/telemetry`. It
//!   is the ceiling for any rules engine that republishes through the broker on this machine:
//!   the broker routes every output again, and on a small machine all share the cores.
//!
//! - `beside an endpoint`: `iotrules run` with the same rule and, on the same stream, a rule
//!   whose http action posts every message to a local endpoint that answers at once
//!   (`answering`) or accepts connections and never answers (`hanging`): how much of its rate
//!   the republish rule keeps when another rule's action hangs.
//!
//! Each payload carries its sequence number and the time it was published, and the rule keeps
//! both, so the subscriber computes latency (publish to receipt) and which messages arrived.
//! Two phases per path: `saturated` publishes as fast as the broker takes messages (the rate is
//! the consumer's), `paced` publishes at a fixed rate below it (the latency is the path's, not
//! a queue's).
//! Saturated, the plain path runs before and after the other two and counts as their mean,
//! since the speed of a shared machine drifts from one minute to the next.
//!
//! Last, reloads: `iotrules run` with the rule and a folder of generated rules (10,000, from
//! `rules::realistic_rules`), paced, receives SIGHUP five times while messages flow; the bench
//! reports the latency of the messages around the reloads against a paced phase without any,
//! and iotrules' resident memory before the first reload and after each one.
//!
//! ```sh
//! cargo bench -p iotrules-benches --bench end_to_end                  # 100,000 messages, 3 rounds
//! IOTRULES_E2E_MESSAGES=20000 IOTRULES_E2E_ROUNDS=1 cargo bench -p iotrules-benches --bench end_to_end
//! cargo test -p iotrules-benches --bench end_to_end                   # 2,000 messages, checks only
//! ```
//!
//! `IOTRULES_E2E_RELOAD_RULES` sets the number of generated rules for the reload phase
//! (1,000 in test mode).
//!
//! Settings (environment): `IOTRULES_E2E_MESSAGES` (saturated phase), `IOTRULES_E2E_ROUNDS`,
//! `IOTRULES_E2E_RATE` and `IOTRULES_E2E_PACED_MESSAGES` (paced phase), `IOTRULES_E2E_IN_FLIGHT`
//! (`iotrules run --in-flight`), `IOTRULES_BIN` (an `iotrules` binary to use instead of building
//! one), `MOSQUITTO` (the broker binary).
//!
//! The benches package cannot depend on a binary, so unless `IOTRULES_BIN` is set the bench
//! asks cargo to build `iotrules` in the profile the bench itself was built in (release for
//! `cargo bench`, dev for `cargo test`, where it is usually built already) and takes the path
//! cargo reports, whatever the target directory.

use std::io::{BufRead, ErrorKind};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iotrules_benches::process::{Running, free_port, iotrules_binary, mosquitto};
use iotrules_benches::telemetry::{Telemetry, telemetry};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

const INPUT_FILTER: &str = "sensors/+/telemetry";
const OUTPUT_TOPIC: &str = "out/telemetry";

/// The W1 rule (`benches/benches/rules.rs`), keeping the fields the subscriber measures with.
const RULE: &str = r#"{
  "sql": "SELECT temperature, humidity, topic(2) AS device, seq, sent FROM 'sensors/+/telemetry' WHERE temperature > 50 AND humidity < 80",
  "awsIotSqlVersion": "2016-03-23",
  "actions": [{ "republish": { "topic": "out/telemetry", "roleArn": "arn:aws:iam::123456789012:role/republish", "qos": 1 } }]
}"#;

/// The broker holds every message a slow consumer has not taken (Mosquitto drops QoS 1
/// messages past `max_queued_messages`, 1,000 by default), and sends each client up to 1,000
/// unacknowledged ones, more than `iotrules run --in-flight` allows by default (256), so that
/// the consumer's own window is the one that binds.
const MOSQUITTO_CONF: &str = "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n\
                              max_inflight_messages 1000\npersistence false\nlog_dest stderr\nlog_type error\n";

/// No message for this long once publishing is over means the rest are lost.
const IDLE_PATIENCE: Duration = Duration::from_secs(15);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, port] = args.as_slice()
        && flag == FORWARDER_FLAG
    {
        if let Err(error) = forwarder::run(port) {
            eprintln!("end_to_end: forwarder: {error}");
            std::process::exit(1);
        }
        return;
    }
    // Criterion's convention: `cargo bench` passes `--bench`; `cargo test` does not.
    let test_mode = args.iter().any(|arg| arg == "--test") || !args.iter().any(|arg| arg == "--bench");
    if let Err(error) = run(test_mode) {
        eprintln!("end_to_end: {error}");
        std::process::exit(1);
    }
}

#[derive(Clone, Copy, Debug)]
struct Config {
    messages: u64,
    rounds: u32,
    rate: u64,
    paced_messages: u64,
    in_flight: Option<u16>,
    reload_rules: usize,
}

impl Config {
    fn from_env(test_mode: bool) -> Result<Config, String> {
        let (messages, rounds, rate, paced_messages) =
            if test_mode { (2_000, 1, 2_000, 1_000) } else { (100_000, 3, 5_000, 25_000) };
        Ok(Config {
            messages: setting("IOTRULES_E2E_MESSAGES", messages)?,
            rounds: setting("IOTRULES_E2E_ROUNDS", rounds)?,
            rate: setting("IOTRULES_E2E_RATE", rate)?,
            paced_messages: setting("IOTRULES_E2E_PACED_MESSAGES", paced_messages)?,
            reload_rules: setting("IOTRULES_E2E_RELOAD_RULES", if test_mode { 1_000 } else { 10_000 })?,
            in_flight: std::env::var("IOTRULES_E2E_IN_FLIGHT")
                .ok()
                .map(|text| text.parse())
                .transpose()
                .map_err(|error| format!("IOTRULES_E2E_IN_FLIGHT: {error}"))?,
        })
    }
}

fn setting<T: std::str::FromStr<Err: std::fmt::Display>>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(text) => text.parse().map_err(|error| format!("{name}=`{text}`: {error}")),
        Err(_) => Ok(default),
    }
}

fn run(test_mode: bool) -> Result<(), String> {
    let Some(mosquitto) = mosquitto() else {
        let message = "needs `mosquitto` (Debian/Ubuntu: apt-get install mosquitto; or set MOSQUITTO=/path/to/it)";
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            return Err(message.to_owned());
        }
        println!("end_to_end: skipped: {message}");
        return Ok(());
    };
    let config = Config::from_env(test_mode)?;
    let iotrules = iotrules_binary()?;
    let dir = std::env::temp_dir().join(format!("iotrules-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let rule = dir.join("w1_republish.json");
    std::fs::write(&rule, RULE).map_err(|error| format!("{}: {error}", rule.display()))?;
    let hanging_rule = dir.join("hanging_http.json");
    std::fs::write(&hanging_rule, HTTP_RULE.replace("{address}", &endpoint(false)?.to_string()))
        .map_err(|error| format!("{}: {error}", hanging_rule.display()))?;
    let answering_rule = dir.join("answering_http.json");
    std::fs::write(&answering_rule, HTTP_RULE.replace("{address}", &endpoint(true)?.to_string()))
        .map_err(|error| format!("{}: {error}", answering_rule.display()))?;
    let generated = dir.join("generated");
    write_generated_rules(&generated, config.reload_rules)?;
    let tools = Tools { mosquitto, iotrules, rule, hanging_rule, answering_rule, generated, dir: dir.clone() };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start tokio: {error}"))?;
    println!(
        "end_to_end: {} messages saturated and {} paced at {}/s, {} round(s); iotrules --in-flight {}",
        config.messages,
        config.paced_messages,
        config.rate,
        config.rounds,
        config.in_flight.map_or_else(|| "default".to_owned(), |n| n.to_string()),
    );
    let mut saturated: Vec<(Measured, Measured)> = Vec::new();
    let mut paced: Vec<(Measured, Measured)> = Vec::new();
    let mut ceilings: Vec<Measured> = Vec::new();
    let mut beside_saturated: Vec<Beside> = Vec::new();
    let mut beside_paced: Vec<Beside> = Vec::new();
    for round in 1..=config.rounds {
        // The machine's speed drifts (a shared VM), so the plain path is measured before and
        // after the other two and the ratios use both.
        let before = runtime.block_on(measure(&tools, &config, Route::Plain, config.messages, None))?;
        let forwarded = runtime.block_on(measure(&tools, &config, Route::Forwarder, config.messages, None))?;
        let rules = runtime.block_on(measure(&tools, &config, Route::Iotrules, config.messages, None))?;
        let answering = runtime.block_on(measure(&tools, &config, Route::BesideAnswering, config.messages, None))?;
        let hanging = runtime.block_on(measure(&tools, &config, Route::BesideHanging, config.messages, None))?;
        let after = runtime.block_on(measure(&tools, &config, Route::Plain, config.messages, None))?;
        println!("round {round} saturated, plain before {:.0} msg/s and after {:.0} msg/s:", before.rate, after.rate);
        let plain = Measured::bracketing(before, after);
        print_pair(&format!("round {round} saturated"), &plain, &rules);
        print_ceiling(&plain, &forwarded, &rules);
        let beside = Beside { alone: rules.clone(), answering, hanging };
        beside.print();
        beside_saturated.push(beside);
        saturated.push((plain, rules));
        ceilings.push(forwarded);
        let rate = Some(config.rate);
        let plain = runtime.block_on(measure(&tools, &config, Route::Plain, config.paced_messages, rate))?;
        let rules = runtime.block_on(measure(&tools, &config, Route::Iotrules, config.paced_messages, rate))?;
        let answering =
            runtime.block_on(measure(&tools, &config, Route::BesideAnswering, config.paced_messages, rate))?;
        let hanging = runtime.block_on(measure(&tools, &config, Route::BesideHanging, config.paced_messages, rate))?;
        print_pair(&format!("round {round} paced at {}/s", config.rate), &plain, &rules);
        let beside = Beside { alone: rules.clone(), answering, hanging };
        beside.print();
        beside_paced.push(beside);
        paced.push((plain, rules));
    }
    summarize("saturated", &saturated);
    summarize_ceiling(&saturated, &ceilings);
    summarize(&format!("paced at {}/s", config.rate), &paced);
    summarize_beside("saturated", &beside_saturated);
    summarize_beside(&format!("paced at {}/s", config.rate), &beside_paced);
    let reloads = runtime.block_on(measure_reloads(&tools, &config))?;
    reloads.print(config.reload_rules);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

struct Tools {
    mosquitto: PathBuf,
    iotrules: PathBuf,
    rule: PathBuf,
    /// A rule on the same stream whose http action posts to an endpoint that never answers.
    hanging_rule: PathBuf,
    /// The same rule, posting to an endpoint that answers at once.
    answering_rule: PathBuf,
    /// A folder of generated `.sql` rules that listen on other topics, for the reload phase.
    generated: PathBuf,
    dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Plain,
    Iotrules,
    Forwarder,
    BesideAnswering,
    BesideHanging,
    Reloading,
}

/// A second rule on the W1 stream, firing on every message, posting to a local endpoint.
const HTTP_RULE: &str = r#"{
  "sql": "SELECT seq FROM 'sensors/+/telemetry'",
  "awsIotSqlVersion": "2016-03-23",
  "actions": [{ "http": { "url": "http://{address}/ingest" } }]
}"#;

/// A local HTTP endpoint: with `answers`, a `200` to every request at once (keep-alive, one
/// thread per connection); without, it accepts every connection and never answers.
fn endpoint(answers: bool) -> Result<std::net::SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no port for the endpoint: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            if answers {
                std::thread::spawn(move || answer(stream));
            } else {
                held.push(stream);
            }
        }
    });
    Ok(address)
}

/// Answers each request on a connection with an empty `200`, until the client closes it.
fn answer(stream: TcpStream) {
    use std::io::{Read, Write};
    let mut reader = std::io::BufReader::new(match stream.try_clone() {
        Ok(clone) => clone,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err()
        {
            return;
        }
    }
}

/// `count` generated rules as `.sql` files in `dir`; their filters never match the W1 stream.
fn write_generated_rules(dir: &std::path::Path, count: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    for (index, sql) in iotrules_benches::rules::realistic_rules(count).iter().enumerate() {
        let path = dir.join(format!("rule{index:05}.sql"));
        std::fs::write(&path, sql).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(())
}

/// One phase on one path, as the subscriber saw it.
#[derive(Clone, Debug)]
struct Measured {
    /// Input messages per second, from the first to the last message received.
    rate: f64,
    /// Input messages per second the publisher got the broker to take.
    offered: f64,
    latencies_us: Vec<u64>,
    duplicates: u64,
    /// CPU time (user and system) per input message while the messages flowed, in µs: the
    /// broker's, and the consumer's own (iotrules or the forwarder; none on the plain path,
    /// where the bench subscribes itself). On a small machine they share the cores.
    broker_cpu_us: f64,
    consumer_cpu_us: f64,
    /// This process's: the publisher and the subscriber.
    bench_cpu_us: f64,
    /// The machine's CPU time per input message over all cores, and how busy the cores were.
    machine_cpu_us: f64,
    machine_busy: f64,
    /// With reloads: iotrules' resident memory (KiB) before the first and after each reload,
    /// and how long each took from SIGHUP to its log line.
    memory_kib: Vec<u64>,
    reload_ms: Vec<f64>,
}

impl Measured {
    /// One path measured twice, around others: the mean of its rates and CPU figures, and
    /// the latencies of both.
    fn bracketing(before: Measured, after: Measured) -> Measured {
        let mean = |pick: fn(&Measured) -> f64| (pick(&before) + pick(&after)) / 2.0;
        let mut latencies_us = [before.latencies_us.as_slice(), after.latencies_us.as_slice()].concat();
        latencies_us.sort_unstable();
        Measured {
            rate: mean(|m| m.rate),
            offered: mean(|m| m.offered),
            duplicates: before.duplicates + after.duplicates,
            broker_cpu_us: mean(|m| m.broker_cpu_us),
            consumer_cpu_us: mean(|m| m.consumer_cpu_us),
            bench_cpu_us: mean(|m| m.bench_cpu_us),
            machine_cpu_us: mean(|m| m.machine_cpu_us),
            machine_busy: mean(|m| m.machine_busy),
            latencies_us,
            memory_kib: Vec::new(),
            reload_ms: Vec::new(),
        }
    }

    fn percentile(&self, percent: usize) -> f64 {
        let index = (self.latencies_us.len() * percent / 100).min(self.latencies_us.len().saturating_sub(1));
        self.latencies_us.get(index).map_or(f64::NAN, |&us| us as f64 / 1_000.0)
    }
}

/// A fresh broker, the consumer under test, `count` messages published (at `rate` per second,
/// or as fast as the broker takes them), and what the subscriber saw.
async fn measure(
    tools: &Tools,
    config: &Config,
    route: Route,
    count: u64,
    rate: Option<u64>,
) -> Result<Measured, String> {
    measure_with_reloads(tools, config, route, count, rate, 0).await
}

/// [`measure`], with `reloads` SIGHUPs sent to iotrules while the messages flow.
async fn measure_with_reloads(
    tools: &Tools,
    config: &Config,
    route: Route,
    count: u64,
    rate: Option<u64>,
    reloads: usize,
) -> Result<Measured, String> {
    let port = free_port()?;
    let broker = start_broker(tools, port)?;
    // The consumer under test, a process of its own whose CPU time is measured.
    let consumer = match route {
        Route::Plain => None,
        Route::Iotrules | Route::BesideAnswering | Route::BesideHanging | Route::Reloading => {
            Some(start_iotrules(tools, config, route, port)?)
        }
        Route::Forwarder => Some(start_forwarder(tools, port)?),
    };
    let (filter, expected): (&str, Vec<bool>) = match route {
        Route::Plain => (INPUT_FILTER, vec![true; count as usize]),
        _ => (OUTPUT_TOPIC, (0..count).map(|seq| template(seq).hot).collect()),
    };
    let epoch = Instant::now();
    let subscriber = Subscriber::connect(port, filter).await?;
    let probe_seen = Arc::new(AtomicBool::new(false));
    let receiving = tokio::spawn(subscriber.receive(expected.clone(), epoch, probe_seen.clone()));
    let publisher = Publisher::connect(port, epoch);
    // Only once a message has come all the way through is the path ready: the consumer has
    // (compiled its rule and) subscribed, and every connection is up.
    let ready_by = Instant::now() + Duration::from_secs(60);
    while !probe_seen.load(Ordering::Acquire) {
        if Instant::now() > ready_by {
            return Err(format!("{route:?}: no message came through in 60 s"));
        }
        publisher.send(PROBE, 0).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_before = (cpu_us(&broker), consumer.as_ref().map_or(0, cpu_us), process_cpu_us("self"), machine_cpu());
    let reloading = match (&consumer, reloads) {
        (Some(consumer), 1..) => {
            let (pid, log) = (consumer.0.id(), tools.dir.join(format!("iotrules-{port}.log")));
            Some(std::thread::spawn(move || reload_repeatedly(pid, &log, reloads)))
        }
        _ => None,
    };
    let offered = publisher.publish_all(count, rate).await?;
    let mut measured = receiving.await.map_err(|error| format!("{route:?}: the subscriber stopped: {error}"))??;
    if let Some(reloading) = reloading {
        (measured.memory_kib, measured.reload_ms) =
            reloading.join().map_err(|_| "the reloading thread panicked".to_owned())??;
    }
    let machine = machine_cpu();
    let per_message = |before: u64, after: u64| after.saturating_sub(before) as f64 / count as f64;
    measured.offered = offered;
    measured.broker_cpu_us = per_message(cpu_before.0, cpu_us(&broker));
    measured.consumer_cpu_us = per_message(cpu_before.1, consumer.as_ref().map_or(0, cpu_us));
    measured.bench_cpu_us = per_message(cpu_before.2, process_cpu_us("self"));
    measured.machine_cpu_us = per_message(cpu_before.3.busy_us, machine.busy_us);
    let total = machine.total_us.saturating_sub(cpu_before.3.total_us);
    measured.machine_busy = machine.busy_us.saturating_sub(cpu_before.3.busy_us) as f64 / total.max(1) as f64;
    let wanted = expected.iter().filter(|&&wanted| wanted).count();
    if measured.latencies_us.len() != wanted {
        return Err(format!("{route:?}: {} of {wanted} messages arrived", measured.latencies_us.len()));
    }
    Ok(measured)
}

/// Sends SIGHUP to `pid` `reloads` times, a second apart once each reload is done (its log
/// line in `log`); returns the resident memory before the first and after each, and each
/// reload's time from signal to log line.
fn reload_repeatedly(pid: u32, log: &std::path::Path, reloads: usize) -> Result<(Vec<u64>, Vec<f64>), String> {
    const DONE: &str = "rule set reloaded";
    std::thread::sleep(Duration::from_secs(1));
    let mut memory = vec![resident_kib(pid)];
    let mut took = Vec::new();
    for reload in 1..=reloads {
        let started = Instant::now();
        let status = Command::new("kill").args(["-HUP", &pid.to_string()]).status();
        if !status.is_ok_and(|status| status.success()) {
            return Err(format!("cannot send SIGHUP to {pid}"));
        }
        while std::fs::read_to_string(log).unwrap_or_default().matches(DONE).count() < reload {
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!("reload {reload} did not finish in 120 s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        took.push(started.elapsed().as_secs_f64() * 1_000.0);
        // The old set is freed on another thread once swapped out.
        std::thread::sleep(Duration::from_secs(1));
        memory.push(resident_kib(pid));
    }
    Ok((memory, took))
}

/// `VmRSS` of a process, in KiB (Linux; 0 elsewhere).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// The reload phase: the same paced stream with and without SIGHUPs.
struct Reloads {
    quiet: Measured,
    reloading: Measured,
}

async fn measure_reloads(tools: &Tools, config: &Config) -> Result<Reloads, String> {
    // Long enough for five reloads of the set, a second apart.
    let count = config.rate * if config.reload_rules >= 10_000 { 40 } else { 6 };
    let rate = Some(config.rate);
    let quiet = measure_with_reloads(tools, config, Route::Reloading, count, rate, 0).await?;
    let reloading = measure_with_reloads(tools, config, Route::Reloading, count, rate, 5).await?;
    Ok(Reloads { quiet, reloading })
}

impl Reloads {
    fn print(&self, rules: usize) {
        let (quiet, reloading) = (&self.quiet, &self.reloading);
        println!(
            "reloads of {} rules while {} messages flow paced: without reloads p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             with 5 reloads p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; each reload took {} ms (SIGHUP to swap); \
             iotrules resident memory {} KiB before the first reload, then {} KiB",
            rules + 1,
            quiet.latencies_us.len(),
            quiet.percentile(50),
            quiet.percentile(99),
            quiet.percentile(100),
            reloading.percentile(50),
            reloading.percentile(99),
            reloading.percentile(100),
            reloading.reload_ms.iter().map(|ms| format!("{ms:.0}")).collect::<Vec<_>>().join(", "),
            reloading.memory_kib.first().copied().unwrap_or(0),
            reloading.memory_kib.iter().skip(1).map(u64::to_string).collect::<Vec<_>>().join(", "),
        );
    }
}

/// The sequence number of probe messages, which the subscriber counts apart.
const PROBE: i64 = -1;

/// The W1 telemetry message `seq` is made from: the 64 of `benches/benches/rules.rs` in turn,
/// so half of them pass the rule.
fn template(seq: u64) -> Telemetry {
    thread_local! {
        static MESSAGES: Vec<Telemetry> = telemetry(64);
    }
    MESSAGES.with(|messages| messages[(seq % 64) as usize].clone())
}

/// `template`'s payload with its own `seq` replaced, and the time it is sent added.
fn payload(message: &Telemetry, seq: i64, sent_us: u64) -> Vec<u8> {
    let text = String::from_utf8_lossy(&message.payload);
    let head = text.rfind(r#""seq":"#).map_or(&text[..text.len() - 1], |at| &text[..at]);
    format!(r#"{head}"seq":{seq},"sent":{sent_us}}}"#).into_bytes()
}

/// The integer after `"name":` in a flat JSON object, whatever spacing the writer used.
fn field(payload: &[u8], name: &str) -> Option<i64> {
    let key = format!("\"{name}\"");
    let at = payload.windows(key.len()).position(|window| window == key.as_bytes())? + key.len();
    let rest = std::str::from_utf8(payload.get(at..)?).ok()?.trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

struct Publisher {
    client: AsyncClient,
    epoch: Instant,
    acked: tokio::sync::watch::Receiver<u64>,
    driving: tokio::task::JoinHandle<()>,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // Its event loop would retry forever once the broker is gone.
        self.driving.abort();
    }
}

impl Publisher {
    fn connect(port: u16, epoch: Instant) -> Publisher {
        let mut options = MqttOptions::new("e2e-publisher", "127.0.0.1", port);
        // As `iotrules publish` does.
        options.set_inflight(100);
        let (client, eventloop) = AsyncClient::new(options, 256);
        let (acks, acked) = tokio::sync::watch::channel(0);
        let driving = tokio::spawn(drive_publisher(eventloop, acks));
        Publisher { client, epoch, acked, driving }
    }

    async fn send(&self, seq: i64, template_seq: u64) -> Result<(), String> {
        let sent_us = self.epoch.elapsed().as_micros() as u64;
        let message = template(template_seq);
        self.client
            .publish(message.topic.clone(), QoS::AtLeastOnce, false, payload(&message, seq, sent_us))
            .await
            .map_err(|error| format!("cannot publish: {error}"))
    }

    /// Publishes messages `0..count`; returns the rate at which the broker acknowledged them.
    async fn publish_all(&self, count: u64, rate: Option<u64>) -> Result<f64, String> {
        let before = *self.acked.borrow();
        let started = Instant::now();
        for seq in 0..count {
            if let Some(rate) = rate {
                let due = started + Duration::from_secs_f64(seq as f64 / rate as f64);
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
            }
            self.send(seq as i64, seq).await?;
        }
        let mut acked = self.acked.clone();
        acked
            .wait_for(|&acked| acked >= before + count)
            .await
            .map_err(|_| "the publisher's connection ended".to_owned())?;
        Ok(count as f64 / started.elapsed().as_secs_f64())
    }
}

async fn drive_publisher(mut eventloop: EventLoop, acks: tokio::sync::watch::Sender<u64>) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => acks.send_modify(|acked| *acked += 1),
            Ok(_) => {}
            Err(error) => {
                eprintln!("end_to_end: publisher: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

struct Subscriber {
    eventloop: EventLoop,
    _client: AsyncClient,
}

impl Subscriber {
    async fn connect(port: u16, filter: &str) -> Result<Subscriber, String> {
        let options = MqttOptions::new("e2e-subscriber", "127.0.0.1", port);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        client.subscribe(filter, QoS::AtLeastOnce).await.map_err(|error| format!("cannot subscribe: {error}"))?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => return Ok(Subscriber { eventloop, _client: client }),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(format!("subscriber: {error}")),
                Err(_) => return Err("subscriber: no SUBACK in 10 s".to_owned()),
            }
        }
    }

    /// Receives until every message `expected` marks has arrived, or none has for a while.
    async fn receive(
        mut self,
        expected: Vec<bool>,
        epoch: Instant,
        probe_seen: Arc<AtomicBool>,
    ) -> Result<Measured, String> {
        let wanted = expected.iter().filter(|&&wanted| wanted).count();
        let mut seen = vec![false; expected.len()];
        let mut latencies_us = Vec::with_capacity(wanted);
        let (mut duplicates, mut first, mut last) = (0, None, None);
        while latencies_us.len() < wanted {
            let event = match tokio::time::timeout(IDLE_PATIENCE, self.eventloop.poll()).await {
                Ok(Ok(event)) => event,
                Ok(Err(error)) => return Err(format!("subscriber: {error}")),
                Err(_) => break,
            };
            let Event::Incoming(Packet::Publish(publish)) = event else { continue };
            let received_us = epoch.elapsed().as_micros() as u64;
            let (Some(seq), Some(sent_us)) = (field(&publish.payload, "seq"), field(&publish.payload, "sent")) else {
                return Err(format!("no seq or sent in {}", String::from_utf8_lossy(&publish.payload)));
            };
            if seq == PROBE {
                probe_seen.store(true, Ordering::Release);
                continue;
            }
            let index = usize::try_from(seq).map_err(|_| format!("unexpected seq {seq}"))?;
            if !expected.get(index).copied().unwrap_or(false) {
                return Err(format!("message {seq} should not have come through"));
            }
            if seen[index] {
                duplicates += 1;
                continue;
            }
            seen[index] = true;
            latencies_us.push(received_us.saturating_sub(sent_us as u64));
            first = first.or(Some((seq, received_us)));
            last = Some((seq, received_us));
        }
        latencies_us.sort_unstable();
        let rate = match (first, last) {
            (Some((first_seq, first_us)), Some((last_seq, last_us))) if last_us > first_us => {
                (last_seq - first_seq) as f64 / ((last_us - first_us) as f64 / 1e6)
            }
            _ => f64::NAN,
        };
        Ok(Measured {
            rate,
            offered: f64::NAN,
            latencies_us,
            duplicates,
            broker_cpu_us: f64::NAN,
            consumer_cpu_us: f64::NAN,
            bench_cpu_us: f64::NAN,
            machine_cpu_us: f64::NAN,
            machine_busy: f64::NAN,
            memory_kib: Vec::new(),
            reload_ms: Vec::new(),
        })
    }
}

/// Mosquitto on `port`, once it accepts connections.
fn start_broker(tools: &Tools, port: u16) -> Result<Running, String> {
    let conf = tools.dir.join(format!("mosquitto-{port}.conf"));
    std::fs::write(&conf, MOSQUITTO_CONF.replace("{port}", &port.to_string()))
        .map_err(|error| format!("{}: {error}", conf.display()))?;
    let child = Command::new(&tools.mosquitto)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", tools.mosquitto.display()))?;
    let broker = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(_) => return Ok(broker),
            Err(error) if error.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(format!("mosquitto on port {port}: {error}")),
        }
    }
}

/// The flag that makes this bench binary the forwarder instead.
const FORWARDER_FLAG: &str = "--e2e-forwarder";

/// This binary again, as the forwarder on `port`.
fn start_forwarder(tools: &Tools, port: u16) -> Result<Running, String> {
    let me = std::env::current_exe().map_err(|error| format!("cannot find the bench binary: {error}"))?;
    let log = tools.dir.join(format!("forwarder-{port}.log"));
    let log_file = std::fs::File::create(&log).map_err(|error| format!("{}: {error}", log.display()))?;
    let child = Command::new(&me)
        .args([FORWARDER_FLAG, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|error| format!("cannot start the forwarder: {error}"))?;
    Ok(Running(child))
}

/// `iotrules run` with the rule (and the rules `route` adds), its log in the temporary
/// directory.
fn start_iotrules(tools: &Tools, config: &Config, route: Route, port: u16) -> Result<Running, String> {
    let log = tools.dir.join(format!("iotrules-{port}.log"));
    let log_file = std::fs::File::create(&log).map_err(|error| format!("{}: {error}", log.display()))?;
    let mut command = Command::new(&tools.iotrules);
    command.arg("run").arg(&tools.rule);
    match route {
        Route::BesideAnswering => {
            command.arg(&tools.answering_rule);
        }
        Route::BesideHanging => {
            command.arg(&tools.hanging_rule);
        }
        Route::Reloading => {
            command.arg(&tools.generated).arg("--no-watch");
        }
        Route::Plain | Route::Iotrules | Route::Forwarder => {}
    }
    command
        .args(["--broker", &format!("mqtt://127.0.0.1:{port}"), "--client-id", "e2e-iotrules"])
        .args(["--stats-interval", "0"])
        // A state folder of its own: runs one process handed off are not the next one's.
        .env("IOTRULES_STATE_DIR", tools.dir.join(format!("state-{port}")))
        .stdout(Stdio::null())
        .stderr(log_file);
    if let Some(in_flight) = config.in_flight {
        command.args(["--in-flight", &in_flight.to_string()]);
    }
    let child = command.spawn().map_err(|error| format!("cannot start {}: {error}", tools.iotrules.display()))?;
    Ok(Running(child))
}

/// User and system CPU time a running process has used, in µs (Linux `/proc`; 0 elsewhere).
fn cpu_us(process: &Running) -> u64 {
    process_cpu_us(&process.0.id().to_string())
}

/// [`cpu_us`] for `/proc/<pid>`, `self` included.
fn process_cpu_us(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Fields after the parenthesised command name, which may itself hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12].iter().filter_map(|&at| fields.get(at)?.parse::<u64>().ok()).sum();
    // USER_HZ is 100 on every Linux this runs on.
    ticks * 10_000
}

/// CPU time of all cores together, in µs: busy (not idle or waiting for I/O) and in all.
#[derive(Clone, Copy, Default)]
struct MachineCpu {
    busy_us: u64,
    total_us: u64,
}

/// The `cpu` line of `/proc/stat` (Linux; zeros elsewhere).
fn machine_cpu() -> MachineCpu {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return MachineCpu::default() };
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else { return MachineCpu::default() };
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|field| field.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...; guest time is already in user.
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    MachineCpu { busy_us: (total - idle) * 10_000, total_us: total * 10_000 }
}

fn print_pair(label: &str, plain: &Measured, rules: &Measured) {
    println!("{label}:");
    print_measured("plain", plain);
    print_measured("iotrules", rules);
    println!("  iotrules/plain {:.1}%", 100.0 * rules.rate / plain.rate);
}

fn print_measured(name: &str, measured: &Measured) {
    println!(
        "  {name:<9} {:>9.0} msg/s (publisher {:>7.0}/s)  latency p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  \
         {} received, {} duplicates; CPU per message: broker {:.1} µs, {name} {:.1} µs, bench {:.1} µs, \
         machine {:.1} µs ({:.0}% busy)",
        measured.rate,
        measured.offered,
        measured.percentile(50),
        measured.percentile(99),
        measured.percentile(100),
        measured.latencies_us.len(),
        measured.duplicates,
        measured.broker_cpu_us,
        measured.consumer_cpu_us,
        measured.bench_cpu_us,
        measured.machine_cpu_us,
        100.0 * measured.machine_busy,
    );
}

/// The forwarder's rate beside the others: how much of the plain rate republishing through
/// the broker leaves at best, and how much of that iotrules reaches.
fn print_ceiling(plain: &Measured, forwarded: &Measured, rules: &Measured) {
    print_measured("forwarder", forwarded);
    println!(
        "  forwarder/plain {:.1}%, iotrules/forwarder {:.1}%",
        100.0 * forwarded.rate / plain.rate,
        100.0 * rules.rate / forwarded.rate,
    );
}

/// The republish rule alone, beside an endpoint that answers, and beside one that hangs.
struct Beside {
    alone: Measured,
    answering: Measured,
    hanging: Measured,
}

impl Beside {
    fn print(&self) {
        print_measured("answering", &self.answering);
        print_measured("hanging", &self.hanging);
        println!(
            "  beside a hanging endpoint: {:.1}% of the rate alone, {:.1}% of the rate beside an answering endpoint",
            100.0 * self.hanging.rate / self.alone.rate,
            100.0 * self.hanging.rate / self.answering.rate,
        );
    }
}

fn summarize_beside(label: &str, rounds: &[Beside]) {
    let of = |pick: &dyn Fn(&Beside) -> f64| median(rounds.iter().map(pick).collect());
    println!(
        "median over {} round(s), {label}: the republish rule alone {:.0} msg/s (p99 {:.2} ms), beside an answering \
         endpoint {:.0} msg/s (p99 {:.2} ms), beside a hanging one {:.0} msg/s (p99 {:.2} ms): {:.1}% of its rate \
         alone, {:.1}% of its rate beside the answering one; iotrules CPU per message {:.1} / {:.1} / {:.1} µs",
        rounds.len(),
        of(&|beside| beside.alone.rate),
        of(&|beside| beside.alone.percentile(99)),
        of(&|beside| beside.answering.rate),
        of(&|beside| beside.answering.percentile(99)),
        of(&|beside| beside.hanging.rate),
        of(&|beside| beside.hanging.percentile(99)),
        of(&|beside| 100.0 * beside.hanging.rate / beside.alone.rate),
        of(&|beside| 100.0 * beside.hanging.rate / beside.answering.rate),
        of(&|beside| beside.alone.consumer_cpu_us),
        of(&|beside| beside.answering.consumer_cpu_us),
        of(&|beside| beside.hanging.consumer_cpu_us),
    );
}

/// The middle value (the upper one of an even count), NaN for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn summarize_ceiling(rounds: &[(Measured, Measured)], ceilings: &[Measured]) {
    let pairs = || rounds.iter().zip(ceilings);
    println!(
        "median over {} round(s), saturated: forwarder {:.0} msg/s, forwarder/plain {:.1}%, iotrules/forwarder {:.1}%; \
         CPU per message: broker {:.1} µs, forwarder {:.1} µs",
        ceilings.len(),
        median(ceilings.iter().map(|forwarded| forwarded.rate).collect()),
        median(pairs().map(|((plain, _), forwarded)| 100.0 * forwarded.rate / plain.rate).collect()),
        median(pairs().map(|((_, rules), forwarded)| 100.0 * rules.rate / forwarded.rate).collect()),
        median(ceilings.iter().map(|forwarded| forwarded.broker_cpu_us).collect()),
        median(ceilings.iter().map(|forwarded| forwarded.consumer_cpu_us).collect()),
    );
}

/// Medians over the rounds: the rates, each path's p50 and p99, and the ratio of the rates.
fn summarize(label: &str, rounds: &[(Measured, Measured)]) {
    let of = |pick: &dyn Fn(&(Measured, Measured)) -> f64| median(rounds.iter().map(pick).collect());
    println!(
        "median over {} round(s), {label}: plain {:.0} msg/s (p50 {:.2} ms, p99 {:.2} ms), iotrules {:.0} msg/s \
         (p50 {:.2} ms, p99 {:.2} ms), iotrules/plain {:.1}%; CPU per message: broker {:.1} µs plain, \
         {:.1} µs with iotrules, iotrules {:.1} µs",
        rounds.len(),
        of(&|(plain, _)| plain.rate),
        of(&|(plain, _)| plain.percentile(50)),
        of(&|(plain, _)| plain.percentile(99)),
        of(&|(_, rules)| rules.rate),
        of(&|(_, rules)| rules.percentile(50)),
        of(&|(_, rules)| rules.percentile(99)),
        of(&|(plain, rules)| 100.0 * rules.rate / plain.rate),
        of(&|(plain, _)| plain.broker_cpu_us),
        of(&|(_, rules)| rules.broker_cpu_us),
        of(&|(_, rules)| rules.consumer_cpu_us),
    );
}

/// The W1 rule with its republish, written by hand on rumqttc with nothing else: the
/// cheapest way to do the job, to measure the ceiling against.
mod forwarder {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    use serde_json::{Value, json};

    use super::{INPUT_FILTER, OUTPUT_TOPIC};

    pub(super) fn run(port: &str) -> Result<(), String> {
        let port: u16 = port.parse().map_err(|error| format!("port `{port}`: {error}"))?;
        // One thread, as cheap as rumqttc gets on a machine the broker shares.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start tokio: {error}"))?;
        runtime.block_on(forward(port))
    }

    async fn forward(port: u16) -> Result<(), String> {
        let mut options = MqttOptions::new("e2e-forwarder-out", "127.0.0.1", port);
        options.set_inflight(256);
        let (out, mut out_loop) = AsyncClient::new(options, 1024);
        tokio::spawn(async move {
            while out_loop.poll().await.is_ok() {}
            eprintln!("the publishing connection ended");
        });
        let options = MqttOptions::new("e2e-forwarder-in", "127.0.0.1", port);
        let (input, mut in_loop) = AsyncClient::new(options, 64);
        input.subscribe(INPUT_FILTER, QoS::AtLeastOnce).await.map_err(|error| error.to_string())?;
        loop {
            let event = in_loop.poll().await.map_err(|error| error.to_string())?;
            let Event::Incoming(Packet::Publish(publish)) = event else { continue };
            let Ok(message) = serde_json::from_slice::<Value>(&publish.payload) else { continue };
            let (Some(temperature), Some(humidity)) = (message["temperature"].as_f64(), message["humidity"].as_f64())
            else {
                continue;
            };
            if temperature > 50.0 && humidity < 80.0 {
                let output = json!({
                    "temperature": message["temperature"],
                    "humidity": message["humidity"],
                    "device": publish.topic.split('/').nth(1),
                    "seq": message["seq"],
                    "sent": message["sent"],
                });
                out.publish(OUTPUT_TOPIC, QoS::AtLeastOnce, false, output.to_string())
                    .await
                    .map_err(|error| error.to_string())?;
            }
        }
    }
}
