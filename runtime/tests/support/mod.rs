//! What the live tests share: brokers on free ports (Mosquitto and the embedded one, each in
//! a process of its own so it can be stopped apart from iotrules), iotrules processes, and
//! MQTT clients that publish and collect.

#![allow(dead_code, reason = "each live test uses its own subset")]

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};

/// Long enough for a slow CI machine; healthy runs finish far sooner.
pub(crate) const PATIENCE: Duration = Duration::from_secs(90);

/// One live test at a time: they start several processes each, and two cores are shared.
pub(crate) static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub(crate) fn serialize() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// An empty folder of its own for one test.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("the scratch folder can be made");
    dir
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Embedded,
    Mosquitto,
}

/// The Mosquitto binary; in CI its absence fails the test instead of skipping it.
pub(crate) fn mosquitto() -> Option<PathBuf> {
    let found = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "mosquitto is not installed: CI must install it (apt-get install -y mosquitto)"
        );
        eprintln!("mosquitto is not installed: skipping its half of this test (apt-get install -y mosquitto)");
    }
    found
}

/// A broker in its own process.
pub(crate) struct Broker {
    pub(crate) kind: Kind,
    pub(crate) port: u16,
    dir: PathBuf,
    /// More Mosquitto configuration, such as a TLS listener.
    extra: String,
    /// Mosquitto as installed: no persistence, its default queue limits.
    defaults: bool,
    child: Option<Child>,
}

impl Broker {
    /// `None` when the broker is Mosquitto and it is not installed (outside CI).
    pub(crate) fn start(kind: Kind, dir: &Path) -> Option<Broker> {
        if kind == Kind::Mosquitto {
            mosquitto()?;
        }
        let mut broker =
            Broker { kind, port: free_port(), dir: dir.to_owned(), extra: String::new(), defaults: false, child: None };
        broker.spawn();
        Some(broker)
    }

    /// Mosquitto with `extra` appended to its configuration; `None` when it is not installed
    /// (outside CI).
    pub(crate) fn mosquitto_with(dir: &Path, extra: &str) -> Option<Broker> {
        mosquitto()?;
        let mut broker = Broker {
            kind: Kind::Mosquitto,
            port: free_port(),
            dir: dir.to_owned(),
            extra: extra.to_owned(),
            defaults: false,
            child: None,
        };
        broker.spawn();
        Some(broker)
    }

    /// Mosquitto with its default settings (a listener and anonymous access only): no
    /// persistence, at most 1,000 messages queued per client, 20 in flight. `None` when it is
    /// not installed (outside CI).
    pub(crate) fn mosquitto_defaults(dir: &Path) -> Option<Broker> {
        mosquitto()?;
        let mut broker = Broker {
            kind: Kind::Mosquitto,
            port: free_port(),
            dir: dir.to_owned(),
            extra: String::new(),
            defaults: true,
            child: None,
        };
        broker.spawn();
        Some(broker)
    }

    pub(crate) fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = fs::File::create(self.dir.join(format!("{:?}-broker.log", self.kind))).expect("log file");
        let child = match self.kind {
            Kind::Embedded => Command::new(env!("CARGO_BIN_EXE_iotrules"))
                .args(["broker", "--port", &self.port.to_string()])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn(),
            Kind::Mosquitto => {
                let config = self.dir.join("mosquitto.conf");
                // Persistence keeps the queued QoS 1 messages of persistent sessions over a
                // restart; no limit on the queue, so nothing is dropped while iotrules is away.
                // `user root` keeps a broker started as root able to write its database here
                // (it is ignored when not started as root).
                let text = if self.defaults {
                    format!("listener {} 127.0.0.1\nallow_anonymous true\n", self.port)
                } else {
                    format!(
                        "listener {} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\npersistence_location {}/\nmax_queued_messages 0\nmax_inflight_messages 100\nautosave_interval 1\n{}",
                        self.port,
                        self.dir.display(),
                        self.extra
                    )
                };
                fs::write(&config, text).expect("mosquitto.conf");
                Command::new(mosquitto().expect("mosquitto"))
                    .arg("-c")
                    .arg(&config)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
            }
        };
        self.child = Some(child.expect("the broker starts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "{:?} broker did not listen on {}", self.kind, self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker as an operator would (SIGTERM, so Mosquitto saves its sessions) and
    /// starts it again on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            let _ = child.wait();
        }
    }

    /// SIGKILL: the broker saves nothing, as in a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port (after [`Broker::kill`] or [`Broker::stop`]).
    pub(crate) fn start_again(&mut self) {
        self.spawn();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status();
    assert!(status.is_ok_and(|status| status.success()), "kill -{name} {}", child.id());
}

/// `iotrules run` in a process of its own, logging to a file.
pub(crate) struct Iotrules {
    child: Option<Child>,
    pub(crate) log: PathBuf,
}

impl Iotrules {
    /// Starts `iotrules run` with `args` and waits until it is connected.
    pub(crate) fn run(dir: &Path, name: &str, args: &[&str]) -> Iotrules {
        let iotrules = Iotrules::spawn(dir, name, args);
        iotrules.wait_for_log("connected to the broker", 1);
        iotrules
    }

    /// Starts `iotrules run` with `args`, keeping its state (the outbox) in the test's folder
    /// so that a restart in the same test finds it and other tests never do.
    pub(crate) fn spawn(dir: &Path, name: &str, args: &[&str]) -> Iotrules {
        let log = dir.join(format!("{name}.log"));
        let file = fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_iotrules"))
            .arg("run")
            .args(args)
            .args(["--stats-interval", "0"])
            .env("IOTRULES_STATE_DIR", dir.join("state"))
            .env("IOTRULES_LOG", "warn,iotrules=info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("iotrules starts");
        Iotrules { child: Some(child), log }
    }

    pub(crate) fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Waits until `needle` appears `times` times in the log.
    pub(crate) fn wait_for_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.log_text().matches(needle).count() < times {
            assert!(Instant::now() < deadline, "no `{needle}` ×{times} in the log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGINT, then the exit code.
    pub(crate) fn interrupt(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        signal(&child, "INT");
        child.wait().ok().and_then(|status| status.code())
    }

    /// Waits for the process to exit by itself (within the test's patience), then its exit code.
    pub(crate) fn wait(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn hang_up(&self) {
        if let Some(child) = &self.child {
            signal(child, "HUP");
        }
    }
}

impl Drop for Iotrules {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes a TopicRulePayload file with one republish action.
pub(crate) fn republish_rule(path: &Path, name: &str, sql: &str, topic: &str) {
    let rule = serde_json::json!({
        "ruleName": name,
        "sql": sql,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"topic": topic, "roleArn": "arn:aws:iam::123456789012:role/republish", "qos": 1}}]
    });
    write_atomically(path, &serde_json::to_string_pretty(&rule).expect("JSON"));
}

/// Replaces a file the way editors save: a new file renamed over the old one.
pub(crate) fn write_atomically(path: &Path, text: &str) {
    let temporary = path.with_extension("saving");
    fs::write(&temporary, text).expect("write");
    fs::rename(&temporary, path).expect("rename");
}

/// Messages received on some filter, as (topic, payload).
#[derive(Clone, Default)]
pub(crate) struct Received {
    messages: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

impl Received {
    pub(crate) fn all(&self) -> Vec<(String, serde_json::Value)> {
        self.messages.lock().expect("lock").clone()
    }

    /// The distinct values of the payloads' `n` field.
    pub(crate) fn numbers(&self) -> BTreeSet<u64> {
        self.all().iter().filter_map(|(_, payload)| payload.get("n").and_then(serde_json::Value::as_u64)).collect()
    }

    pub(crate) fn numbers_on(&self, topic: &str) -> BTreeSet<u64> {
        self.all()
            .iter()
            .filter(|(on, _)| on == topic)
            .filter_map(|(_, payload)| payload.get("n").and_then(serde_json::Value::as_u64))
            .collect()
    }

    /// Waits until `done` holds, or fails the test with what arrived.
    pub(crate) async fn wait_until(&self, what: &str, done: impl Fn(&Received) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {} messages arrived", self.all().len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Subscribes to `filter` with QoS 1 on a persistent session that survives broker restarts,
/// and returns once subscribed.
pub(crate) async fn collect(url: &str, client_id: &str, filter: &str) -> Received {
    let received = Received::default();
    let port: u16 = url.rsplit(':').next().and_then(|port| port.parse().ok()).expect("port");
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_clean_session(false);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let sink = received.clone();
    let (subscribed, mut on_subscribed) = tokio::sync::mpsc::channel(1);
    let filter = filter.to_owned();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed.try_send(());
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let payload = serde_json::from_slice(&publish.payload).unwrap_or(serde_json::Value::Null);
                    sink.messages.lock().expect("lock").push((publish.topic, payload));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tokio::time::timeout(PATIENCE, on_subscribed.recv()).await.expect("subscribed in time");
    received
}

/// Publishes `{"n": first..first+count}` to `topic(n)` with QoS 1 and returns once the
/// broker acknowledged every one; `pace` spaces them out.
pub(crate) async fn publish_numbers(
    url: String,
    client_id: &'static str,
    numbers: std::ops::Range<u64>,
    topic: impl Fn(u64) -> String,
    pace: Option<Duration>,
) {
    let messages =
        numbers.map(|n| (topic(n), serde_json::to_vec(&serde_json::json!({"n": n})).expect("JSON"))).collect();
    publish_messages(url, client_id, messages, pace).await;
}

/// Publishes `(topic, payload)` messages with QoS 1 and returns once the broker acknowledged
/// every one; `pace` spaces them out.
pub(crate) async fn publish_messages(
    url: String,
    client_id: &'static str,
    topics: Vec<(String, Vec<u8>)>,
    pace: Option<Duration>,
) {
    let port: u16 = url.rsplit(':').next().and_then(|port| port.parse().ok()).expect("port");
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_inflight(100);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let total = topics.len() as u64;
    let producer = client.clone();
    tokio::spawn(async move {
        for (topic, payload) in topics {
            if producer.publish(topic, QoS::AtLeastOnce, false, payload).await.is_err() {
                return;
            }
            if let Some(pace) = pace {
                tokio::time::sleep(pace).await;
            }
        }
    });
    let mut acknowledged = 0;
    let deadline = Instant::now() + PATIENCE;
    while acknowledged < total {
        assert!(Instant::now() < deadline, "the broker acknowledged {acknowledged} of {total}");
        match tokio::time::timeout(PATIENCE, eventloop.poll()).await.expect("publishing progresses") {
            Ok(Event::Incoming(Packet::PubAck(_))) => acknowledged += 1,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let _ = client.disconnect().await;
}

/// One request as the HTTP sink saw it: path, lower-cased headers, JSON body.
pub(crate) type HttpRequest = (String, Vec<(String, String)>, serde_json::Value);

/// A local HTTP endpoint for the http action: answers every request with its status (0:
/// never answers, holding the connection open) and records what was posted.
#[derive(Clone)]
pub(crate) struct HttpSink {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
    status: Arc<std::sync::atomic::AtomicU16>,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl HttpSink {
    /// From now on, answers with `status` (0: hangs).
    pub(crate) fn answer(&self, status: u16) {
        self.status.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on, waits `delay` before each answer.
    pub(crate) fn slow_down(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) async fn start(status: u16) -> HttpSink {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests: Arc<Mutex<Vec<_>>> = Arc::default();
        let sink = requests.clone();
        let answer = Arc::new(std::sync::atomic::AtomicU16::new(status));
        let answers = answer.clone();
        let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let delays = delay_ms.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = sink.clone();
                let answers = answers.clone();
                let delays = delays.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut request_line = String::new();
                        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                        let mut headers = Vec::new();
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            if let Some((name, value)) = line.split_once(':') {
                                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                                if name == "content-length" {
                                    length = value.parse().unwrap_or(0);
                                }
                                headers.push((name, value));
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                        let status = answers.load(std::sync::atomic::Ordering::SeqCst);
                        if status == 0 {
                            // Hanging: the request is never answered (nor counted as served).
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        let delay = delays.load(std::sync::atomic::Ordering::SeqCst);
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        sink.lock().expect("lock").push((path, headers, body));
                        let reason = if status < 300 { "OK" } else { "Failing" };
                        let response = format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n\r\n");
                        if reader.get_mut().write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        HttpSink { url, requests, status: answer, delay_ms }
    }

    /// (path, lower-cased headers, JSON body) of every request so far.
    pub(crate) fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

/// The body of `GET path` from `address` (host:port), over plain HTTP/1.1.
pub(crate) fn http_get(address: &str, path: &str) -> String {
    use std::io::Write;
    let mut stream = TcpStream::connect(address).expect("the metrics endpoint listens");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// A certificate authority and a server certificate for 127.0.0.1, made with the openssl
/// command: (CA file, server certificate, server key).
pub(crate) fn tls_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl").args(args).current_dir(dir).stderr(Stdio::null()).status();
        assert!(status.is_ok_and(|status| status.success()), "openssl {args:?}");
    };
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("extension file");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=iotrules test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}
