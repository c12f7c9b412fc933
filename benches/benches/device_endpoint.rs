//! The device endpoint against the same broker with no gate: `iotrules serve` (devices over
//! TLS with certificates, every CONNECT, PUBLISH and delivery decided by their policies) and
//! `iotrules broker` (the same embedded rmqtt, plain TCP, every packet allowed), side by side.
//!
//! - connections: devices connect (TLS handshake and CONNACK on `serve`), then disconnect, one
//!   after another; connections per second.
//! - messages: one device publishes QoS 1 telemetry with 100 in flight and another receives
//!   it; messages per second between the first and last received, and p50/p99 latency. Each
//!   message costs `serve` two decisions (the publisher's `iot:Publish`, the receiver's
//!   `iot:Receive`) and the TLS front's forwarding both ways.
//!
//! - shadows (on `serve` only): one device updates its shadow and waits for each
//!   `/update/accepted` before the next, so every update is stored durably first; updates per
//!   second and p50/p99 latency from publish to answer.
//! - the gateway: the same connections and messages on Mosquitto directly, and through
//!   `serve --upstream` in front of it; each row also gives the CPU time per message of the
//!   processes involved (`/proc/<pid>/stat`).
//!
//! ```sh
//! cargo bench -p iotrules-benches --bench device_endpoint        # 500 connections, 20,000 messages
//! cargo test -p iotrules-benches --bench device_endpoint         # 50 connections, 500 messages, checks only
//! ```
//!
//! `IOTRULES_BIN` names an `iotrules` binary to use instead of building one.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iotrules_benches::process::{Running, cpu_seconds, free_port, iotrules_binary, mosquitto};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn main() {
    let test_mode = std::env::args().any(|arg| arg == "--test") || !std::env::args().any(|arg| arg == "--bench");
    let (connections, messages) = if test_mode { (50, 500) } else { (500, 20_000) };
    if let Err(message) = run(connections, messages) {
        eprintln!("device_endpoint: {message}");
        std::process::exit(1);
    }
}

/// Where clients connect, and with what.
#[derive(Clone)]
enum Target {
    /// `iotrules serve` on this port, with the fleet in this folder.
    Serve(u16, PathBuf),
    /// `iotrules broker` on this port.
    Plain(u16),
}

impl Target {
    fn options(&self, thing: &str) -> Result<MqttOptions, String> {
        match self {
            Target::Plain(port) => {
                let mut options = MqttOptions::new(thing, "127.0.0.1", *port);
                options.set_keep_alive(Duration::from_secs(30));
                Ok(options)
            }
            Target::Serve(port, fleet) => {
                let mut options = MqttOptions::new(thing, "localhost", *port);
                options.set_keep_alive(Duration::from_secs(30));
                let mut roots = rustls::RootCertStore::empty();
                let ca = CertificateDer::from_pem_file(fleet.join("ca/ca.pem")).map_err(|error| error.to_string())?;
                roots.add(ca).map_err(|error| error.to_string())?;
                let device = |extension: &str| fleet.join(format!("devices/{thing}.{extension}"));
                let chain = vec![CertificateDer::from_pem_file(device("pem")).map_err(|error| error.to_string())?];
                let key = PrivateKeyDer::from_pem_file(device("key")).map_err(|error| error.to_string())?;
                let config =
                    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                        .with_safe_default_protocol_versions()
                        .map_err(|error| error.to_string())?
                        .with_root_certificates(roots)
                        .with_client_auth_cert(chain, key)
                        .map_err(|error| error.to_string())?;
                options.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(config))));
                Ok(options)
            }
        }
    }
}

fn run(connections: usize, messages: usize) -> Result<(), String> {
    let iotrules = iotrules_binary()?;
    let dir = std::env::temp_dir().join(format!("iotrules-bench-endpoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let things: Vec<String> = (1..=10).map(|index| format!("thing-{index}")).collect();
    let mut fleet = Command::new(&iotrules);
    fleet.arg("fleet").arg(dir.join("fleet"));
    for thing in &things {
        fleet.args(["--thing", thing]);
    }
    let made = fleet.output().map_err(|error| error.to_string())?;
    if !made.status.success() {
        return Err(String::from_utf8_lossy(&made.stderr).into_owned());
    }
    // Every device may publish and receive any device's telemetry, and use its own shadow.
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": format!("{ARN}:client/${{iot:Connection.Thing.ThingName}}"),
         "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
            format!("{ARN}:topic/devices/*"), format!("{ARN}:topic/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/*")]},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
            format!("{ARN}:topicfilter/devices/*"), format!("{ARN}:topicfilter/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/*")]}
    ]});
    std::fs::write(dir.join("fleet/registry/policies/device.json"), policy.to_string())
        .map_err(|error| error.to_string())?;
    std::fs::create_dir_all(dir.join("rules")).map_err(|error| error.to_string())?;
    std::fs::write(dir.join("rules/none.sql"), "SELECT * FROM 'nothing/here'").map_err(|error| error.to_string())?;

    let serve_port = free_port()?;
    let serve_process = Running(spawn(
        Command::new(&iotrules)
            .arg("serve")
            .arg(dir.join("rules"))
            .arg("--registry")
            .arg(dir.join("fleet/registry"))
            .args(["--tls-port", &serve_port.to_string(), "--bind", "127.0.0.1", "--stats-interval", "0"])
            // The service's own rate, not AWS's 20 requests a second per thing.
            .args(["--shadow-requests-per-second", "0"])
            .env("IOTRULES_STATE_DIR", dir.join("state")),
    )?);
    let plain_port = free_port()?;
    let plain_process = Running(spawn(Command::new(&iotrules).args(["broker", "--port", &plain_port.to_string()]))?);
    wait_for_port(serve_port)?;
    wait_for_port(plain_port)?;

    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|error| error.to_string())?;
    let serve = Target::Serve(serve_port, dir.join("fleet"));
    let plain = Target::Plain(plain_port);
    println!("device endpoint, {connections} connections and {messages} messages each way");
    println!("| path | connections/s | messages/s | p50 | p99 | CPU per message |");
    println!("|---|---:|---:|---:|---:|---:|");
    let measure = |name: &str, target: &Target, processes: &[(&str, u32)]| -> Result<(f64, f64), String> {
        let rate = runtime.block_on(connect_rate(target, &things, connections))?;
        let before: Vec<Option<f64>> = processes.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
        let (throughput, p50, p99) = runtime.block_on(message_rate(target, messages))?;
        let cpu: Vec<String> = processes
            .iter()
            .zip(before)
            .filter_map(|((process, pid), before)| {
                let used = cpu_seconds(*pid)? - before?;
                Some(format!("{process} {:.1} µs", used * 1e6 / messages as f64))
            })
            .collect();
        println!(
            "| {name} | {rate:.0} | {throughput:.0} | {:.2} ms | {:.2} ms | {} |",
            p50 * 1e3,
            p99 * 1e3,
            cpu.join(", ")
        );
        Ok((rate, throughput))
    };
    let (plain_connect, plain_messages) =
        measure("iotrules broker (plain TCP, no gate)", &plain, &[("broker", plain_process.0.id())])?;
    let (serve_connect, serve_messages) =
        measure("iotrules serve (TLS, policies)", &serve, &[("serve", serve_process.0.id())])?;
    let (updates, p50, p99) = runtime.block_on(shadow_rate(&serve, messages / 20))?;
    println!("shadow updates on serve: {updates:.0}/s, p50 {:.2} ms, p99 {:.2} ms", p50 * 1e3, p99 * 1e3);
    println!(
        "serve / plain: connections {:.1}%, messages {:.1}%",
        100.0 * serve_connect / plain_connect,
        100.0 * serve_messages / plain_messages
    );

    // The gateway: `serve --upstream` in front of Mosquitto, against devices on Mosquitto itself.
    let Some(mosquitto_binary) = mosquitto() else {
        let message = "the gateway rows need `mosquitto` (apt-get install mosquitto, or MOSQUITTO=/path/to/it)";
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            return Err(message.to_owned());
        }
        println!("skipped: {message}");
        return Ok(());
    };
    let mosquitto_port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {mosquitto_port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 100\nmax_queued_messages 0\n"),
    )
    .map_err(|error| error.to_string())?;
    let mosquitto_process = Running(
        Command::new(&mosquitto_binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start mosquitto: {error}"))?,
    );
    wait_for_port(mosquitto_port)?;
    let gateway_port = free_port()?;
    let gateway_process = Running(spawn(
        Command::new(&iotrules)
            .arg("serve")
            .arg(dir.join("rules"))
            .arg("--registry")
            .arg(dir.join("fleet/registry"))
            .args(["--tls-port", &gateway_port.to_string(), "--bind", "127.0.0.1", "--stats-interval", "0"])
            .args(["--upstream", &format!("mqtt://127.0.0.1:{mosquitto_port}"), "--client-id", "gateway-bench"])
            .env("IOTRULES_STATE_DIR", dir.join("gateway-state")),
    )?);
    wait_for_port(gateway_port)?;
    let direct = Target::Plain(mosquitto_port);
    let gateway = Target::Serve(gateway_port, dir.join("fleet"));
    let (direct_connect, direct_messages) =
        measure("Mosquitto (plain TCP, no gate)", &direct, &[("mosquitto", mosquitto_process.0.id())])?;
    let (gateway_connect, gateway_messages) = measure(
        "iotrules serve --upstream Mosquitto (TLS, policies)",
        &gateway,
        &[("gateway", gateway_process.0.id()), ("mosquitto", mosquitto_process.0.id())],
    )?;
    println!(
        "gateway / Mosquitto: connections {:.1}%, messages {:.1}%",
        100.0 * gateway_connect / direct_connect,
        100.0 * gateway_messages / direct_messages
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn spawn(command: &mut Command) -> Result<Child, String> {
    command
        .env("IOTRULES_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start iotrules: {error}"))
}

fn wait_for_port(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Connects and disconnects `count` times, cycling through the things; connections per second.
async fn connect_rate(target: &Target, things: &[String], count: usize) -> Result<f64, String> {
    let started = Instant::now();
    for index in 0..count {
        let thing = &things[index % things.len()];
        let (client, mut events) = AsyncClient::new(target.options(thing)?, 10);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                Ok(_) => {}
                Err(error) => return Err(format!("{thing} could not connect: {error}")),
            }
        }
        let _ = client.disconnect().await;
        while !matches!(events.poll().await, Err(_) | Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) {}
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// One device publishes `count` messages, another receives them: messages per second and the
/// p50 and p99 latency, in seconds.
async fn message_rate(target: &Target, count: usize) -> Result<(f64, f64, f64), String> {
    let mut receiver_options = target.options("thing-2")?;
    receiver_options.set_inflight(100);
    let (receiver, mut incoming) = AsyncClient::new(receiver_options, 100);
    receiver.subscribe("devices/thing-1/telemetry", QoS::AtLeastOnce).await.map_err(|error| error.to_string())?;
    loop {
        match incoming.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => break,
            Ok(_) => {}
            Err(error) => return Err(format!("the receiver could not subscribe: {error}")),
        }
    }
    let mut sender_options = target.options("thing-1")?;
    sender_options.set_inflight(100);
    let (sender, mut outgoing) = AsyncClient::new(sender_options, 200);
    let start = Instant::now();
    let publishing = tokio::spawn(async move {
        for index in 0..count {
            let sent = start.elapsed().as_nanos();
            let payload = format!(r#"{{"n": {index}, "sent": {sent}}}"#);
            if sender.publish("devices/thing-1/telemetry", QoS::AtLeastOnce, false, payload).await.is_err() {
                break;
            }
        }
        sender
    });
    let driving = tokio::spawn(async move { while outgoing.poll().await.is_ok() {} });
    let mut latencies = Vec::with_capacity(count);
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while latencies.len() < count {
        if Instant::now() > deadline {
            return Err(format!("only {} of {count} messages arrived", latencies.len()));
        }
        match tokio::time::timeout(Duration::from_secs(10), incoming.poll()).await {
            Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                let now = start.elapsed();
                first.get_or_insert(now);
                let body: serde_json::Value = serde_json::from_slice(&publish.payload).unwrap_or_default();
                let sent = body["sent"].as_u64().unwrap_or_default();
                latencies.push(now.as_nanos().saturating_sub(u128::from(sent)) as f64 / 1e9);
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("the receiver lost its connection: {error}")),
            Err(_) => return Err(format!("no message for 10 s after {} of {count}", latencies.len())),
        }
    }
    let last = start.elapsed();
    let _ = publishing.await;
    driving.abort();
    let span = (last - first.unwrap_or_default()).as_secs_f64().max(1e-9);
    latencies.sort_by(f64::total_cmp);
    let at = |fraction: f64| latencies[((latencies.len() as f64 - 1.0) * fraction) as usize];
    Ok((count as f64 / span, at(0.5), at(0.99)))
}

/// One device updates its shadow `count` times, each after the previous was accepted: updates
/// per second and the p50 and p99 latency, in seconds.
async fn shadow_rate(target: &Target, count: usize) -> Result<(f64, f64, f64), String> {
    let (client, mut events) = AsyncClient::new(target.options("thing-3")?, 10);
    // A device waiting for each answer sends its next request at once, not after its
    // acknowledgement of the last answer is acknowledged (Nagle's algorithm).
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    events.set_network_options(network);
    client
        .subscribe("$aws/things/thing-3/shadow/update/accepted", QoS::AtLeastOnce)
        .await
        .map_err(|error| error.to_string())?;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => break,
            Ok(_) => {}
            Err(error) => return Err(format!("the shadow client could not subscribe: {error}")),
        }
    }
    let mut latencies = Vec::with_capacity(count);
    let started = Instant::now();
    for value in 0..count {
        let sent = Instant::now();
        let update = format!(r#"{{"state": {{"reported": {{"value": {value}}}}}}}"#);
        client
            .publish("$aws/things/thing-3/shadow/update", QoS::AtLeastOnce, false, update)
            .await
            .map_err(|error| error.to_string())?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(format!("the shadow client lost its connection: {error}")),
                Err(_) => return Err(format!("no answer to update {value}")),
            }
        }
        latencies.push(sent.elapsed().as_secs_f64());
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |fraction: f64| latencies[((latencies.len() as f64 - 1.0) * fraction) as usize];
    Ok((rate, at(0.5), at(0.99)))
}
