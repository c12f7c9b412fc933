//! Several shadow services serving one fleet: `iotrules shadows` instances split the requests
//! through `$share` on the embedded broker and keep the shadows in one Redis server. A burst of
//! updates to one shadow, answered by both, gets every version exactly once; an instance that
//! dies leaves nothing behind, since the other reads the same store.

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

fn shadows(broker: &Broker, redis_port: u16, name: &str, log: &Path) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["shadows", "--broker", &broker.url(), "--client-id", name, "--share-group", "fleet"])
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

#[test]
fn two_services_share_one_store_and_hand_out_each_version_once() {
    if !installed("redis-server") || !installed("mosquitto_pub") {
        return;
    }
    let _one = serialize();
    let dir = scratch_dir("shadows-shared");
    let (_redis, redis_port) = redis(&dir);
    let broker = Broker::start(Kind::Embedded, &dir).unwrap();
    let (log_a, log_b) = (dir.join("a.log"), dir.join("b.log"));
    let mut a = shadows(&broker, redis_port, "shadows-a", &log_a);
    let _b = shadows(&broker, redis_port, "shadows-b", &log_b);
    std::thread::sleep(Duration::from_millis(1500));

    let port = broker.port.to_string();
    let answers = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port, "-i", "watcher", "-q", "1", "-v", "-C", "60", "-W", "30"])
        .args([
            "-t",
            "$aws/things/boiler-1/shadow/update/accepted",
            "-t",
            "$aws/things/boiler-1/shadow/update/rejected",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let updates: String = (0..60).map(|n| format!("{{\"state\": {{\"reported\": {{\"n\": {n}}}}}}}\n")).collect();
    let mut burst = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-i", "boiler-1", "-q", "1", "-l"])
        .args(["-t", "$aws/things/boiler-1/shadow/update"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut burst.stdin.take().unwrap(), updates.as_bytes()).unwrap();
    assert!(burst.wait().unwrap().success());
    let received = String::from_utf8(answers.wait_with_output().unwrap().stdout).unwrap();
    let mut versions: Vec<u64> = received
        .lines()
        .filter_map(|line| line.strip_prefix("$aws/things/boiler-1/shadow/update/accepted "))
        .map(|body| serde_json::from_str::<serde_json::Value>(body).unwrap()["version"].as_u64().unwrap())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=60).collect::<Vec<u64>>(), "{received}");
    // Both services answered part of the burst.
    let (by_a, by_b) = (answered(&log_a), answered(&log_b));
    assert_eq!(by_a + by_b, 60, "a: {by_a}, b: {by_b}");
    assert!(by_a > 0 && by_b > 0, "one service answered everything: a {by_a}, b {by_b}");

    // One service gone: the other answers from the same store.
    let _ = a.0.kill();
    let _ = a.0.wait();
    let got = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["shadow", "get", "boiler-1", "--broker", &broker.url(), "--client-id", "tool"])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap_or_default();
    assert_eq!(answer["version"].as_u64(), Some(60), "{answer}");
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
