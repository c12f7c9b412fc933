//! Several shadow services serving one fleet, keeping the shadows in one Redis server: through
//! `$share` on the embedded broker, a burst of updates to one shadow, answered by both, gets
//! every version exactly once, and an instance that dies leaves nothing behind, since the
//! other reads the same store; split by thing (`--shard`) on Mosquitto, whose shared
//! subscriptions do not reach `$aws/...`, each instance answers exactly its own things.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Broker, Kind, free_port, scratch_dir, serialize};

/// A process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    assert!(found || std::env::var_os("CI").is_none(), "`{tool}` is needed (redis-server, mosquitto-clients)");
    found
}

/// Redis as the shared store should run: every write in its append-only file before it answers.
fn redis(dir: &Path) -> (Running, u16) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .arg("--dir")
        .arg(dir)
        .stdout(fs::File::create(dir.join("redis.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "Redis did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Running(child), port)
}

fn shadows_with(broker: &Broker, redis_port: u16, name: &str, log: &Path, split: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["shadows", "--broker", &broker.url(), "--client-id", name])
        .args(split)
        .args(["--shadow-store", &format!("redis://127.0.0.1:{redis_port}"), "--shadow-requests-per-second", "0"])
        .env("IOTRULES_LOG", "warn,iotrules::shadow=debug")
        .stdout(Stdio::null())
        .stderr(fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Running(child)
}

fn answered(log: &Path) -> usize {
    fs::read_to_string(log).unwrap_or_default().matches("shadow request answered").count()
}

/// Redis, a broker of `kind` and two shadow services on it, split as `splits` say.
struct Services {
    _redis: Running,
    redis_port: u16,
    broker: Broker,
    a: Running,
    _b: Running,
    logs: [std::path::PathBuf; 2],
}

fn services(name: &str, kind: Kind, splits: [&[&str]; 2]) -> Option<Services> {
    if !installed("redis-server") || !installed("mosquitto_pub") {
        return None;
    }
    let dir = scratch_dir(name);
    let (redis, redis_port) = redis(&dir);
    let broker = Broker::start(kind, &dir)?;
    let logs = [dir.join("a.log"), dir.join("b.log")];
    let a = shadows_with(&broker, redis_port, "shadows-a", &logs[0], splits[0]);
    let b = shadows_with(&broker, redis_port, "shadows-b", &logs[1], splits[1]);
    std::thread::sleep(Duration::from_millis(1500));
    Some(Services { _redis: redis, redis_port, broker, a, _b: b, logs })
}

impl Services {
    /// Watches `count` update answers to `thing` (`+` for every thing).
    fn watch(&self, thing: &str, count: usize) -> Child {
        let watcher = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.broker.port.to_string(), "-i", "watcher", "-q", "1", "-v"])
            .args(["-C", &count.to_string(), "-W", "30"])
            .args(["-t", &format!("$aws/things/{thing}/shadow/update/accepted")])
            .args(["-t", &format!("$aws/things/{thing}/shadow/update/rejected")])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        watcher
    }

    /// `count` updates of `thing`'s reported `n`, from 0, as fast as the broker takes them.
    fn burst(&self, thing: &str, count: u64) {
        let updates: String =
            (0..count).map(|n| format!("{{\"state\": {{\"reported\": {{\"n\": {n}}}}}}}\n")).collect();
        let mut burst = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.broker.port.to_string(), "-i", thing, "-q", "1", "-l"])
            .args(["-t", &format!("$aws/things/{thing}/shadow/update")])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut burst.stdin.take().unwrap(), updates.as_bytes()).unwrap();
        assert!(burst.wait().unwrap().success());
    }

    fn get(&self, thing: &str) -> serde_json::Value {
        let got = Command::new(env!("CARGO_BIN_EXE_iotrules"))
            .args(["shadow", "get", thing, "--broker", &self.broker.url(), "--client-id", "tool"])
            .output()
            .unwrap();
        serde_json::from_slice(&got.stdout).unwrap_or_default()
    }
}

#[test]
fn two_services_share_one_store_and_hand_out_each_version_once() {
    let _one = serialize();
    let split: &[&str] = &["--share-group", "fleet"];
    let Some(mut services) = services("shadows-shared", Kind::Embedded, [split, split]) else { return };
    let answers = services.watch("boiler-1", 60);
    services.burst("boiler-1", 60);
    let received = String::from_utf8(answers.wait_with_output().unwrap().stdout).unwrap();
    let mut versions: Vec<u64> = received
        .lines()
        .filter_map(|line| line.strip_prefix("$aws/things/boiler-1/shadow/update/accepted "))
        .map(|body| serde_json::from_str::<serde_json::Value>(body).unwrap()["version"].as_u64().unwrap())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=60).collect::<Vec<u64>>(), "{received}");
    // Both services answered part of the burst.
    let (by_a, by_b) = (answered(&services.logs[0]), answered(&services.logs[1]));
    assert_eq!(by_a + by_b, 60, "a: {by_a}, b: {by_b}");
    assert!(by_a > 0 && by_b > 0, "one service answered everything: a {by_a}, b {by_b}");

    // One service gone: the other answers from the same store.
    let _ = services.a.0.kill();
    let _ = services.a.0.wait();
    let answer = services.get("boiler-1");
    assert_eq!(answer["version"].as_u64(), Some(60), "{answer}");
    let redis_port = services.redis_port;
    let listed = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["shadow", "list", "--store", &format!("redis://127.0.0.1:{redis_port}")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "boiler-1 (classic)\n");
    let listed = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["shadow", "list", "--store", &format!("redis://127.0.0.1:{redis_port}"), "--format", "json"])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, serde_json::json!({"shadows": [{"thing": "boiler-1", "name": null}]}));
}

/// Two instances split the things by name on Mosquitto (`--shard 0/2`, `--shard 1/2`): every
/// update of four things is answered once, in order, by the instance that owns the thing.
#[test]
fn two_services_split_the_things_by_shard_on_mosquitto() {
    let _one = serialize();
    let Some(mut services) = services("shadows-sharded", Kind::Mosquitto, [&["--shard", "0/2"], &["--shard", "1/2"]])
    else {
        return;
    };
    // boiler-1 and boiler-3 are shard 0's, boiler-2 and boiler-4 shard 1's.
    let things = ["boiler-1", "boiler-2", "boiler-3", "boiler-4"];
    let answers = services.watch("+", 60);
    for thing in things {
        services.burst(thing, 15);
    }
    let received = String::from_utf8(answers.wait_with_output().unwrap().stdout).unwrap();
    for thing in things {
        let accepted = format!("$aws/things/{thing}/shadow/update/accepted ");
        let answers: Vec<(u64, u64)> = received
            .lines()
            .filter_map(|line| line.strip_prefix(accepted.as_str()))
            .map(|body| serde_json::from_str::<serde_json::Value>(body).unwrap())
            .map(|body| (body["version"].as_u64().unwrap(), body["state"]["reported"]["n"].as_u64().unwrap()))
            .collect();
        // One owner answers a thing's requests in the order they came: version n + 1 holds n.
        assert_eq!(answers, (0..15).map(|n| (n + 1, n)).collect::<Vec<_>>(), "{thing}: {received}");
    }
    let by_each = (answered(&services.logs[0]), answered(&services.logs[1]));
    assert_eq!(by_each, (30, 30), "each instance answers its own two things");

    // An instance gone: the other still answers its own things from the shared store.
    let _ = services.a.0.kill();
    let _ = services.a.0.wait();
    let answer = services.get("boiler-2");
    assert_eq!(answer["version"].as_u64(), Some(15), "{answer}");
}
