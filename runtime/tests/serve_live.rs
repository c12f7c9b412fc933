//! `iotrules serve` end to end, with real clients: Mosquitto's `mosquitto_pub` and
//! `mosquitto_sub` connect with certificates from `iotrules fleet`, over MQTT 3.1.1 and 5, and
//! are allowed and refused exactly as their policies say; shadows answer; rules fire on the
//! devices' messages and on shadow updates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, scratch_dir, serialize};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

/// A device policy that also refuses receiving `devices/<thing>/secret`.
fn policy() -> String {
    let thing = "${iot:Connection.Thing.ThingName}";
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": format!("{ARN}:client/{thing}"),
             "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [format!("{ARN}:topic/devices/{thing}/*"), format!("{ARN}:topic/$aws/things/{thing}/shadow/*")]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [format!("{ARN}:topicfilter/devices/{thing}/*"), format!("{ARN}:topicfilter/$aws/things/{thing}/shadow/*")]},
            {"Sid": "NoSecrets", "Effect": "Deny", "Action": "iot:Receive", "Resource": format!("{ARN}:topic/devices/{thing}/secret")}
        ]
    });
    serde_json::to_string_pretty(&document).unwrap()
}

struct Serve {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    port: u16,
    wss_port: u16,
    fleet: PathBuf,
    /// `serve`'s own options beyond the ports.
    options: Vec<String>,
    /// Its state folder.
    state: PathBuf,
}

impl Serve {
    fn start(dir: &Path) -> Option<Serve> {
        Serve::start_with(dir, &[])
    }

    fn start_with(dir: &Path, options: &[&str]) -> Option<Serve> {
        if !tool("mosquitto_pub") || !tool("mosquitto_sub") {
            assert!(std::env::var_os("CI").is_none(), "mosquitto_pub and mosquitto_sub are needed (mosquitto-clients)");
            eprintln!("skipped: mosquitto_pub and mosquitto_sub are not installed");
            return None;
        }
        let fleet = dir.join("fleet");
        let made = Command::new(env!("CARGO_BIN_EXE_iotrules")).arg("fleet").arg(&fleet).output().unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        fs::write(fleet.join("registry/policies/device.json"), policy()).unwrap();
        let rules = dir.join("rules");
        fs::create_dir_all(&rules).unwrap();
        let republish = |name: &str, sql: &str, topic: &str| {
            let rule = serde_json::json!({"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": [{"republish": {
                "topic": topic, "qos": 1, "roleArn": "arn:aws:iam::123456789012:role/republish"}}]});
            fs::write(rules.join(format!("{name}.json")), rule.to_string()).unwrap();
        };
        // thing-2's telemetry reaches thing-1, in the box it names.
        republish(
            "relay",
            "SELECT *, clientid() AS sender, principal() AS principal, sourceip() AS ip, get_user_properties('iotrules-client-id') AS forged FROM 'devices/thing-2/telemetry' WHERE box <> ''",
            "devices/thing-1/${box}",
        );
        // The seed's shadow rule: fires on a shadow's first update and on every change; thing-2
        // watches.
        republish(
            "shadow_changes",
            "SELECT current.state.reported.value AS value, topic(3) AS thing FROM '$aws/things/+/shadow/update/documents' WHERE isNull(previous) OR previous.state.reported.value <> current.state.reported.value",
            "devices/thing-2/changes",
        );
        // get_thing_shadow() reads the endpoint's own shadows: thing-2 asks for thing-1's
        // reported value, which reaches thing-1 (the role is not checked: the endpoint has no
        // IAM).
        republish(
            "shadow_read",
            "SELECT get_thing_shadow('thing-1', 'arn:aws:iam::123456789012:role/read').state.reported.value AS value, n FROM 'devices/thing-2/ask'",
            "devices/thing-1/answer",
        );
        let port = free_port();
        let wss_port = free_port();
        let log = dir.join("serve.log");
        let options: Vec<String> = options.iter().map(|option| (*option).to_owned()).collect();
        let state = dir.join("state");
        let child = Serve::spawn(dir, &state, &fleet, port, wss_port, &log, &options);
        let serve = Serve { child, dir: dir.to_owned(), log, port, wss_port, fleet, options, state };
        serve.wait_for_log("connected to the broker");
        Some(serve)
    }

    /// Another instance on the same fleet and rules, with its own port, state, log and options.
    fn another(&self, name: &str, options: &[&str]) -> Serve {
        let (port, wss_port) = (free_port(), free_port());
        let (log, state) = (self.dir.join(format!("{name}.log")), self.dir.join(format!("state-{name}")));
        let options: Vec<String> = options.iter().map(|option| (*option).to_owned()).collect();
        let child = Serve::spawn(&self.dir, &state, &self.fleet, port, wss_port, &log, &options);
        let serve =
            Serve { child, dir: self.dir.clone(), log, port, wss_port, fleet: self.fleet.clone(), options, state };
        serve.wait_for_log("connected to the broker");
        serve
    }

    fn spawn(
        dir: &Path,
        state: &Path,
        fleet: &Path,
        port: u16,
        wss_port: u16,
        log: &Path,
        options: &[String],
    ) -> Child {
        let file = fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        Command::new(env!("CARGO_BIN_EXE_iotrules"))
            .arg("serve")
            .arg(dir.join("rules"))
            .arg("--registry")
            .arg(fleet.join("registry"))
            .args(["--tls-port", &port.to_string()])
            .args(["--wss-port", &wss_port.to_string()])
            .args(["--bind", "127.0.0.1", "--stats-interval", "0"])
            .args(options)
            .env("IOTRULES_STATE_DIR", state)
            .env("IOTRULES_LOG", "warn,iotrules=info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap()
    }

    /// SIGKILL, then the same endpoint again on the same state.
    fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let before = self.log_text().matches("connected to the broker").count();
        self.child =
            Serve::spawn(&self.dir, &self.state, &self.fleet, self.port, self.wss_port, &self.log, &self.options);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.log_text().matches("connected to the broker").count() <= before {
            assert!(Instant::now() < deadline, "the endpoint did not come back:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log_text().contains(needle) {
            assert!(Instant::now() < deadline, "no `{needle}` in the log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The TLS arguments of `thing`'s certificate.
    fn device(&self, thing: &str) -> Vec<String> {
        let file = |path: String| self.fleet.join(path).to_string_lossy().into_owned();
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.port.to_string(),
            "--cafile".into(),
            file("ca/ca.pem".into()),
            "--cert".into(),
            file(format!("devices/{thing}.pem")),
            "--key".into(),
            file(format!("devices/{thing}.key")),
        ]
    }

    fn publish(&self, thing: &str, client_id: &str, version: &str, topic: &str, message: &str) -> Output {
        Command::new("mosquitto_pub")
            .args(self.device(thing))
            .args(["-i", client_id, "-V", version, "-q", "1", "-t", topic, "-m", message])
            .output()
            .unwrap()
    }

    /// thing-2's telemetry for the relay rule: a message for the `secret` box, then one for
    /// `inbox`; over MQTT 5 each also claims to come from thing-9 through the reserved
    /// property, which must be dropped.
    fn send_telemetry(&self, version: &str) {
        for message in [r#"{"box": "secret", "n": 7}"#, r#"{"box": "inbox", "n": 2}"#] {
            let mut publish = Command::new("mosquitto_pub");
            publish.args(self.device("thing-2")).args(["-i", "thing-2", "-V", version, "-q", "1"]);
            if version == "mqttv5" {
                publish.args(["-D", "publish", "user-property", "iotrules-client-id", "thing-9"]);
            }
            let sent = publish.args(["-t", "devices/thing-2/telemetry", "-m", message]).output().unwrap();
            assert!(sent.status.success(), "{version}: {}", String::from_utf8_lossy(&sent.stderr));
        }
    }

    /// Subscribes as `thing` until `count` messages arrived or `seconds` passed.
    fn subscribe(&self, thing: &str, version: &str, filter: &str, count: u32, seconds: u32) -> Child {
        Command::new("mosquitto_sub")
            .args(self.device(thing))
            .args(["-i", thing, "-V", version, "-q", "1", "-t", filter, "-v"])
            .args(["-C", &count.to_string(), "-W", &seconds.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn finished(child: Child) -> (String, String) {
    let output = child.wait_with_output().unwrap();
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Gives a subscriber time to have its subscription in place.
fn settle() {
    std::thread::sleep(Duration::from_millis(700));
}

#[test]
fn devices_are_allowed_and_refused_as_their_policies_say() {
    let _one = serialize();
    let dir = scratch_dir("serve-policies");
    let Some(serve) = Serve::start(&dir) else { return };
    for version in ["mqttv311", "mqttv5"] {
        // Connect: only as the thing the certificate is attached to.
        let refused = serve.publish("thing-1", "thing-2", version, "devices/thing-1/telemetry", "{}");
        assert!(!refused.status.success(), "{version}: thing-1's certificate connected as thing-2");
        // Answered, not closed: CONNACK 5 over MQTT 3.1.1, 0x87 over MQTT 5.
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.to_lowercase().contains("not authori"), "{version}: {said}");
        let allowed = serve.publish("thing-2", "thing-2", version, "devices/thing-2/telemetry", r#"{"n": 1}"#);
        assert!(allowed.status.success(), "{version}: {}", String::from_utf8_lossy(&allowed.stderr));

        // Subscribe: another thing's topics are refused.
        let (_, errors) = finished(serve.subscribe("thing-1", version, "devices/thing-2/#", 1, 5));
        assert!(errors.contains("denied"), "{version}: {errors}");

        // Publish, receive and the rules: thing-2's telemetry reaches thing-1 through the relay
        // rule, on `devices/thing-1/<box>`; thing-2 cannot publish on thing-1's topics, and
        // thing-1 may subscribe to all its topics but never receives `secret`.
        let own = serve.subscribe("thing-1", version, "devices/thing-1/#", 1, 15);
        settle();
        let _ = serve.publish("thing-2", "thing-2", version, "devices/thing-1/inbox", r#"{"n": 666}"#);
        serve.send_telemetry(version);
        let (received, _) = finished(own);
        assert!(
            received.starts_with("devices/thing-1/inbox ") && received.contains(r#""n":2"#),
            "{version}: {received}"
        );
        assert!(!received.contains("666"), "{version}: a refused publish was delivered: {received}");
        assert!(!received.contains(r#""n":7"#), "{version}: a denied delivery arrived: {received}");
        // The rules see who published: clientid(), principal() (the certificate id), sourceip().
        let described: serde_json::Value =
            serde_json::from_slice(&fs::read(serve.fleet.join("registry/certificates/thing-2.json")).unwrap()).unwrap();
        let id = described["certificateDescription"]["certificateId"].as_str().unwrap();
        assert!(received.contains(r#""sender":"thing-2""#), "{version}: {received}");
        assert!(received.contains(&format!(r#""principal":"{id}""#)), "{version}: {received}");
        assert!(received.contains(r#""ip":"127.0.0.1""#), "{version}: {received}");
        assert!(!received.contains("forged") && !received.contains("thing-9"), "{version}: {received}");
    }
    let log = serve.log_text();
    assert!(log.contains(r#"because="denied by device statement 3 (NoSecrets)""#), "{log}");
    assert!(log.contains(r#"action="iot:Subscribe""#), "{log}");
}

#[test]
fn shadows_answer_and_their_rules_fire_and_a_revoked_certificate_is_refused() {
    let _one = serialize();
    let dir = scratch_dir("serve-shadows");
    let Some(serve) = Serve::start(&dir) else { return };
    let iotrules = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iotrules"));
        command.arg("shadow").args(args).args([
            "--broker",
            &format!("mqtts://localhost:{}", serve.port),
            "--ca-file",
            serve.fleet.join("ca/ca.pem").to_str().unwrap(),
            "--cert",
            serve.fleet.join("devices/thing-1.pem").to_str().unwrap(),
            "--key",
            serve.fleet.join("devices/thing-1.key").to_str().unwrap(),
        ]);
        let output = command.output().unwrap();
        (output.status.code(), serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default())
    };
    let (code, answer) = iotrules(&["get", "thing-1"]);
    assert_eq!((code, answer["code"].as_u64()), (Some(1), Some(404)), "{answer}");
    // Before the shadow exists, get_thing_shadow() fails as GetThingShadow does, and only its
    // rule is skipped.
    let asked = serve.publish("thing-2", "thing-2", "mqttv311", "devices/thing-2/ask", r#"{"n": 4}"#);
    assert!(asked.status.success(), "{}", String::from_utf8_lossy(&asked.stderr));
    serve.wait_for_log("404 No shadow exists with name: thing-1");
    assert!(serve.log_text().contains("rule not evaluated"), "{}", serve.log_text());

    // The seed's shadow rule fires on the first update of a shadow and on a change, not on an
    // update that leaves the value as it was.
    let changes = serve.subscribe("thing-2", "mqttv5", "devices/thing-2/changes", 2, 20);
    settle();
    let thing_2 = |document: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iotrules"));
        command.args(["shadow", "update", "thing-2", "--document", document]).args([
            "--broker",
            &format!("mqtts://localhost:{}", serve.port),
            "--ca-file",
            serve.fleet.join("ca/ca.pem").to_str().unwrap(),
            "--cert",
            serve.fleet.join("devices/thing-2.pem").to_str().unwrap(),
            "--key",
            serve.fleet.join("devices/thing-2.key").to_str().unwrap(),
            "--client-id",
            "thing-2-tool",
        ]);
        command.output().unwrap()
    };
    // The tool's client id is not the thing's name: refused, as the policy says.
    assert!(!thing_2(r#"{"state": {"reported": {"value": 1}}}"#).status.success());
    for (value, version) in [(1, 1), (1, 2), (2, 3)] {
        let document = format!(r#"{{"state": {{"reported": {{"value": {value}}}}}}}"#);
        let (code, answer) = iotrules(&["update", "thing-1", "--document", &document]);
        assert_eq!((code, answer["version"].as_u64()), (Some(0), Some(version)), "{answer}");
    }
    let (code, answer) = iotrules(&["get", "thing-1"]);
    assert_eq!((code, answer["state"]["reported"]["value"].as_u64()), (Some(0), Some(2)), "{answer}");
    let (code, answer) = iotrules(&["get", "thing-1", "--format", "json"]);
    assert_eq!(code, Some(0), "{answer}");
    assert_eq!(
        (&answer["thing"], &answer["name"], &answer["operation"]),
        (&"thing-1".into(), &().into(), &"get".into())
    );
    assert_eq!(answer["accepted"], true);
    assert_eq!(answer["topic"], "$aws/things/thing-1/shadow/get/accepted");
    assert_eq!(answer["response"]["state"]["reported"]["value"], 2, "{answer}");
    // A rule reads the same shadow with get_thing_shadow().
    let answers = serve.subscribe("thing-1", "mqttv311", "devices/thing-1/answer", 1, 15);
    settle();
    let asked = serve.publish("thing-2", "thing-2", "mqttv311", "devices/thing-2/ask", r#"{"n": 5}"#);
    assert!(asked.status.success(), "{}", String::from_utf8_lossy(&asked.stderr));
    let (answered, _) = finished(answers);
    assert_eq!(answered.trim(), r#"devices/thing-1/answer {"value":2,"n":5}"#);
    let (received, _) = finished(changes);
    let values: Vec<&str> = received.lines().collect();
    assert_eq!(values.len(), 2, "{received}");
    assert!(values[0].contains(r#""value":1"#) && values[0].contains(r#""thing":"thing-1""#), "{received}");
    assert!(values[1].contains(r#""value":2"#), "{received}");
    // Another thing's shadow: the subscription and the request are refused.
    let (code, _) = iotrules(&["get", "thing-2", "--client-id", "thing-1", "--timeout", "3"]);
    assert_eq!(code, Some(1));
    let (code, failure) = iotrules(&["get", "thing-2", "--client-id", "thing-1", "--timeout", "3", "--format", "json"]);
    assert_eq!(code, Some(1));
    // Refused: the subscription, or the request, which closes an MQTT 3.1.1 connection.
    assert!(failure["error"].is_string() && failure["diagnostics"].is_array(), "{failure}");

    // Revoking thing-1's certificate in the registry: its live connection is closed, as AWS
    // disconnects a certificate's devices when it leaves ACTIVE, and new connections are
    // refused.
    let live = serve.subscribe("thing-1", "mqttv311", "devices/thing-1/#", 1, 30);
    settle();
    let revoking = Instant::now();
    let description = serve.fleet.join("registry/certificates/thing-1.json");
    let revoked = fs::read_to_string(&description).unwrap().replace("\"ACTIVE\"", "\"REVOKED\"");
    fs::write(&description, revoked).unwrap();
    serve.wait_for_log("registry reloaded connections_closed=1");
    let (_, said) = finished(live);
    assert!(said.contains("connection was lost"), "{said}");
    assert!(revoking.elapsed() < Duration::from_secs(20), "the live connection stayed open");
    let refused = serve.publish("thing-1", "thing-1", "mqttv311", "devices/thing-1/telemetry", "{}");
    assert!(!refused.status.success(), "a revoked certificate connected");
    let still = serve.publish("thing-2", "thing-2", "mqttv311", "devices/thing-2/telemetry", "{}");
    assert!(still.status.success(), "{}", String::from_utf8_lossy(&still.stderr));
}

/// `--mqtt311-refusal close`: an MQTT 3.1.1 device whose CONNECT or SUBSCRIBE is refused has
/// its connection closed with no CONNACK or SUBACK; MQTT 5 devices still get 0x87.
#[test]
fn mqtt311_refusals_can_close_the_connection() {
    let _one = serialize();
    let dir = scratch_dir("serve-close");
    let Some(serve) = Serve::start_with(&dir, &["--mqtt311-refusal", "close"]) else { return };
    let refused = serve.publish("thing-1", "thing-2", "mqttv311", "devices/thing-1/telemetry", "{}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(7), "{said}");
    assert!(said.contains("connection was lost") && !said.contains("not authorised"), "{said}");
    let (_, said) = finished(serve.subscribe("thing-1", "mqttv311", "devices/thing-2/#", 1, 10));
    assert!(said.contains("connection was lost") && !said.contains("denied"), "{said}");

    let refused = serve.publish("thing-1", "thing-2", "mqttv5", "devices/thing-1/telemetry", "{}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("Not authorized"), "{said}");
    let (_, said) = finished(serve.subscribe("thing-1", "mqttv5", "devices/thing-2/#", 1, 10));
    assert!(said.contains("denied"), "{said}");
    // Allowed packets are untouched.
    let allowed = serve.publish("thing-1", "thing-1", "mqttv311", "devices/thing-1/telemetry", "{}");
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
}

/// `serve --upstream`: the same devices and policies in front of Mosquitto, over MQTT 3.1.1
/// and 5. Connect, publish, subscribe (filter by filter, merged into one SUBACK) and receive
/// are decided by the gateway; what is allowed reaches Mosquitto, the rules run on Mosquitto,
/// and they see who published.
#[test]
fn the_gateway_authorizes_devices_in_front_of_mosquitto() {
    let _one = serialize();
    let dir = scratch_dir("serve-gateway");
    let Some(mosquitto) = support::Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let Some(serve) = Serve::start_with(&dir, &["--upstream", &mosquitto.url()]) else { return };
    for version in ["mqttv311", "mqttv5"] {
        let refused = serve.publish("thing-1", "thing-2", version, "devices/thing-1/telemetry", "{}");
        let said = String::from_utf8_lossy(&refused.stderr).to_lowercase();
        assert!(!refused.status.success() && said.contains("not authori"), "{version}: {said}");
        let (_, said) = finished(serve.subscribe("thing-1", version, "devices/thing-2/#", 1, 5));
        assert!(said.contains("denied"), "{version}: {said}");

        // Watching Mosquitto directly: what the gateway forwards arrives there.
        let direct = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &mosquitto.port.to_string(), "-i", "watcher", "-q", "1", "-v"])
            .args(["-t", "devices/thing-2/#", "-C", "2", "-W", "15"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // One SUBSCRIBE with an allowed and a refused filter: the allowed one works.
        let own = Command::new("mosquitto_sub")
            .args(serve.device("thing-1"))
            .args(["-i", "thing-1", "-V", version, "-q", "1", "-v", "-C", "1", "-W", "15"])
            .args(["-t", "devices/thing-1/#", "-t", "devices/thing-2/#"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        settle();
        let refused = serve.publish("thing-2", "thing-2", version, "devices/thing-1/inbox", r#"{"n": 666}"#);
        if version == "mqttv311" {
            assert!(!refused.status.success(), "a refused publish was accepted");
        }
        serve.send_telemetry(version);
        let (received, _) = finished(own);
        assert!(
            received.starts_with("devices/thing-1/inbox ") && received.contains(r#""n":2"#),
            "{version}: the rule's republish through Mosquitto did not arrive: {received}"
        );
        assert!(!received.contains("666") && !received.contains(r#""n":7"#), "{version}: {received}");
        assert!(!received.contains("thing-9"), "{version}: {received}");
        {
            // The rules on Mosquitto see who published, from the gateway's properties (its
            // connection upstream is MQTT 5 for a 3.1.1 device too).
            let described: serde_json::Value =
                serde_json::from_slice(&fs::read(serve.fleet.join("registry/certificates/thing-2.json")).unwrap())
                    .unwrap();
            let id = described["certificateDescription"]["certificateId"].as_str().unwrap();
            assert!(received.contains(r#""sender":"thing-2""#), "{received}");
            assert!(received.contains(&format!(r#""principal":"{id}""#)), "{received}");
            assert!(received.contains(r#""ip":"127.0.0.1""#), "{received}");
            assert!(!received.contains("forged"), "the rules saw the reserved properties: {received}");
        }
        let (seen, _) = finished(direct);
        assert!(seen.contains(r#"devices/thing-2/telemetry {"box": "inbox", "n": 2}"#), "{version}: {seen}");
        assert!(!seen.contains("666"), "{version}: a refused publish reached Mosquitto: {seen}");
    }
    let log = serve.log_text();
    assert!(log.contains(r#"because="denied by device statement 3 (NoSecrets)""#), "{log}");
}

/// `--upstream mqtts://`: the gateway and its rules reach Mosquitto over TLS, trusting the
/// broker's CA from `--ca-file`.
#[test]
fn the_gateway_reaches_its_broker_over_tls() {
    let _one = serialize();
    let dir = scratch_dir("serve-gateway-tls");
    // The broker's own CA and certificate (for `localhost`), from another fleet.
    let pki = dir.join("broker-pki");
    let made = Command::new(env!("CARGO_BIN_EXE_iotrules")).arg("fleet").arg(&pki).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let tls_port = free_port();
    let listener = format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
        pki.join("ca/ca.pem").display(),
        pki.join("server/server.pem").display(),
        pki.join("server/server.key").display()
    );
    let Some(mosquitto) = support::Broker::mosquitto_with(&dir, &listener) else { return };
    let upstream = format!("mqtts://localhost:{tls_port}");
    let ca = pki.join("ca/ca.pem").to_string_lossy().into_owned();
    let Some(serve) = Serve::start_with(&dir, &["--upstream", &upstream, "--ca-file", &ca]) else { return };
    let direct = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &mosquitto.port.to_string(), "-i", "watcher", "-q", "1", "-v"])
        .args(["-t", "devices/thing-2/telemetry", "-C", "2", "-W", "15"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let own = serve.subscribe("thing-1", "mqttv5", "devices/thing-1/#", 1, 15);
    settle();
    serve.send_telemetry("mqttv5");
    let (received, _) = finished(own);
    assert!(received.starts_with("devices/thing-1/inbox ") && received.contains(r#""n":2"#), "{received}");
    assert!(received.contains(r#""sender":"thing-2""#), "{received}");
    let (seen, _) = finished(direct);
    assert!(seen.contains(r#""box": "inbox""#), "{seen}");
}

/// Two gateways in front of one Mosquitto, the rules split between them: a device's
/// persistent session lives in Mosquitto, so when the gateway it used is killed (SIGKILL) in
/// the middle of a stream and it reconnects through the other, it gets every QoS 1 message
/// Mosquitto accepted.
#[test]
fn a_killed_gateway_loses_no_message_the_broker_accepted() {
    let _one = serialize();
    let dir = scratch_dir("serve-gateways");
    let Some(mosquitto) = support::Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let url = mosquitto.url();
    let share = ["--upstream", url.as_str(), "--share-group", "rules"];
    let Some(mut a) = Serve::start_with(&dir, &[&share[..], &["--client-id", "gateway-a"]].concat()) else { return };
    let b = a.another("gateway-b", &[&share[..], &["--client-id", "gateway-b"]].concat());
    let listen = |serve: &Serve, seconds: u32| {
        Command::new("mosquitto_sub")
            .args(serve.device("thing-1"))
            .args(["-i", "thing-1", "-V", "mqttv311", "-q", "1", "-c", "-t", "devices/thing-1/n"])
            .args(["-W", &seconds.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = listen(&a, 30);
    settle();
    // 300 QoS 1 messages straight to Mosquitto, a few milliseconds apart.
    let mut publisher = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &mosquitto.port.to_string(), "-i", "source", "-q", "1", "-l"])
        .args(["-t", "devices/thing-1/n"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = publisher.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for n in 0..300 {
            std::io::Write::write_all(&mut lines, format!("{n}\n").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(3));
        }
    });
    std::thread::sleep(Duration::from_millis(400));
    let _ = a.child.kill();
    let _ = a.child.wait();
    let (before, said) = finished(first);
    assert!(said.contains("connection was lost"), "{said}");
    writer.join().unwrap();
    assert!(publisher.wait().unwrap().success());
    // The same device, through the other gateway, resumes its session.
    let (after, _) = finished(listen(&b, 4));
    let numbers: std::collections::BTreeSet<u32> =
        before.lines().chain(after.lines()).filter_map(|line| line.trim().parse().ok()).collect();
    let got_before = before.lines().count();
    eprintln!(
        "gateway killed after {got_before} deliveries; {} after reconnecting through the other",
        after.lines().count()
    );
    assert!(got_before > 0 && got_before < 300, "the kill came too late or too early: {got_before} before it");
    assert_eq!(
        numbers.len(),
        300,
        "{} before the kill, {} after; missing: {:?}",
        got_before,
        after.lines().count(),
        (0..300).filter(|n| !numbers.contains(n)).collect::<Vec<_>>()
    );
}

type TlsClient = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

/// A device's WebSocket over TLS to `port` with its certificate, after the upgrade to MQTT;
/// `Err` holds what was answered instead of `101 Switching Protocols`.
fn websocket(port: u16, fleet: &Path, certificate: &Path, key: &Path) -> Result<TlsClient, Vec<u8>> {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(fleet.join("ca/ca.pem")).unwrap()).unwrap();
    let chain = vec![CertificateDer::from_pem_file(certificate).unwrap()];
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let tls = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut stream = rustls::StreamOwned::new(tls, socket);
    let upgrade = "GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    if stream.write_all(upgrade.as_bytes()).is_err() {
        return Err(Vec::new());
    }
    let mut answer = vec![0u8; 4096];
    let read = stream.read(&mut answer).unwrap_or(0);
    answer.truncate(read);
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.1 101") && text.to_lowercase().contains("sec-websocket-protocol: mqtt") {
        Ok(stream)
    } else {
        Err(answer)
    }
}

/// Sends `packet` in one masked binary WebSocket frame (shorter than 126 bytes), as a client
/// must.
fn send_frame(stream: &mut TlsClient, packet: &[u8]) {
    use std::io::Write;
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x82, 0x80 | u8::try_from(packet.len()).unwrap()];
    frame.extend_from_slice(&mask);
    frame.extend(packet.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
    stream.write_all(&frame).unwrap();
}

/// Reads until `expected` has arrived, or five seconds passed; returns what arrived.
fn read_until(stream: &mut TlsClient, expected: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while !got.windows(expected.len()).any(|window| window == expected) && Instant::now() < deadline {
        let mut buffer = [0u8; 256];
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => got.extend_from_slice(&buffer[..read]),
        }
    }
    got
}

/// An MQTT 3.1.1 CONNECT as thing-1, clean session, keep-alive 60 s.
const CONNECT_THING_1: &[u8] = b"\x10\x13\x00\x04MQTT\x04\x02\x00\x3c\x00\x07thing-1";

/// The CONNACK that accepts it, in a binary frame: 0x82, length 4, then 0x20 0x02 0x00 0x00.
const CONNACK_ACCEPTED: &[u8] = &[0x82, 0x04, 0x20, 0x02, 0x00, 0x00];

/// thing-1 over WebSocket, connected: its CONNECT sent and accepted.
fn websocket_connected(serve: &Serve) -> TlsClient {
    let fleet = &serve.fleet;
    let mut stream =
        websocket(serve.wss_port, fleet, &fleet.join("devices/thing-1.pem"), &fleet.join("devices/thing-1.key"))
            .unwrap_or_else(|answer| panic!("no upgrade: {}", String::from_utf8_lossy(&answer)));
    send_frame(&mut stream, CONNECT_THING_1);
    let reply = read_until(&mut stream, CONNACK_ACCEPTED);
    assert!(reply.ends_with(CONNACK_ACCEPTED), "{reply:?}");
    stream
}

/// A certificate from another fleet, which the registry does not hold, gets no upgrade.
fn assert_stranger_refused(serve: &Serve, dir: &Path) {
    let stranger_dir = dir.join("stranger");
    let made = Command::new(env!("CARGO_BIN_EXE_iotrules")).arg("fleet").arg(&stranger_dir).output().unwrap();
    assert!(made.status.success());
    let certificate = (stranger_dir.join("devices/thing-1.pem"), stranger_dir.join("devices/thing-1.key"));
    let stranger = websocket(serve.wss_port, &serve.fleet, &certificate.0, &certificate.1);
    assert!(stranger.is_err(), "an unregistered certificate got through");
}

/// MQTT over WebSocket over TLS: a device with a registered certificate gets the WebSocket
/// handshake (subprotocol `mqtt`, as AWS SDKs and browsers' MQTT clients ask) and then an MQTT
/// CONNACK; a certificate the registry does not hold gets neither.
#[test]
fn browsers_connect_over_websocket_with_their_certificates() {
    let _one = serialize();
    let dir = scratch_dir("serve-wss");
    let Some(serve) = Serve::start(&dir) else { return };
    let _connected = websocket_connected(&serve);
    assert_stranger_refused(&serve, &dir);
}

/// The gateway's WebSocket front, in front of Mosquitto: the device's CONNECT is answered by
/// Mosquitto through it, an allowed publish reaches Mosquitto and is acknowledged, a refused
/// one closes the connection (MQTT 3.1.1, as AWS) and never reaches Mosquitto; an
/// unregistered certificate gets no upgrade.
#[test]
fn the_gateway_serves_devices_over_websocket() {
    let _one = serialize();
    let dir = scratch_dir("serve-gateway-wss");
    let Some(mosquitto) = support::Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let Some(serve) = Serve::start_with(&dir, &["--upstream", &mosquitto.url()]) else { return };
    let direct = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &mosquitto.port.to_string(), "-i", "watcher", "-q", "1", "-v"])
        .args(["-t", "devices/#", "-C", "1", "-W", "10"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    settle();
    let mut stream = websocket_connected(&serve);
    // PUBLISH QoS 1, packet id 1, to devices/thing-1/ws (18 bytes), then 9 bytes of payload.
    let publish = b"\x32\x1f\x00\x12devices/thing-1/ws\x00\x01{\"ws\": 1}";
    send_frame(&mut stream, publish);
    let puback = [0x82, 0x04, 0x40, 0x02, 0x00, 0x01];
    let reply = read_until(&mut stream, &puback);
    assert!(reply.ends_with(&puback), "{reply:?}");
    // Refused: thing-1 may not publish to thing-2's topics; the gateway closes the connection.
    send_frame(&mut stream, b"\x32\x1b\x00\x14devices/thing-2/evil\x00\x02666");
    let reply = read_until(&mut stream, b"never");
    assert!(!reply.windows(2).any(|window| window == [0x40, 0x02]), "a refused publish was acknowledged: {reply:?}");
    let (seen, _) = finished(direct);
    assert_eq!(seen.trim(), r#"devices/thing-1/ws {"ws": 1}"#);
    assert_stranger_refused(&serve, &dir);
}

/// An acknowledged shadow update survives SIGKILL: the store is written before the answer.
#[test]
fn accepted_shadow_updates_survive_sigkill() {
    let _one = serialize();
    let dir = scratch_dir("serve-sigkill");
    let Some(mut serve) = Serve::start(&dir) else { return };
    let shadow = |serve: &Serve, args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_iotrules"))
            .arg("shadow")
            .args(args)
            .args(["--broker", &format!("mqtts://localhost:{}", serve.port)])
            .arg("--ca-file")
            .arg(serve.fleet.join("ca/ca.pem"))
            .arg("--cert")
            .arg(serve.fleet.join("devices/thing-1.pem"))
            .arg("--key")
            .arg(serve.fleet.join("devices/thing-1.key"))
            .output()
            .unwrap();
        (output.status.code(), serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default())
    };
    for value in 1..=20 {
        let document = format!(r#"{{"state": {{"reported": {{"value": {value}}}}}}}"#);
        let (code, answer) = shadow(&serve, &["update", "thing-1", "--name", "config", "--document", &document]);
        assert_eq!((code, answer["version"].as_u64()), (Some(0), Some(value)), "{answer}");
    }
    serve.kill_and_restart();
    let (code, answer) = shadow(&serve, &["get", "thing-1", "--name", "config"]);
    assert_eq!(code, Some(0), "{answer}");
    assert_eq!(answer["version"], 20, "{answer}");
    assert_eq!(answer["state"]["reported"]["value"], 20, "{answer}");
}

/// The shadow service on a user's broker (Mosquitto), as a client.
#[test]
fn shadows_are_served_on_mosquitto() {
    let _one = serialize();
    let dir = scratch_dir("shadows-mosquitto");
    let Some(broker) = support::Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let log = dir.join("shadows.log");
    let mut service = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        // No share group: Mosquitto 2.0 accepts `$share/<group>/$aws/...` but delivers nothing
        // to it.
        .args(["shadows", "--broker", &broker.url()])
        .arg("--shadow-store")
        .arg(dir.join("shadows.redb"))
        .env("IOTRULES_LOG", "warn,iotrules=info")
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let shadow = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_iotrules"))
            .arg("shadow")
            .args(args)
            .args(["--broker", &broker.url(), "--client-id", "tool"])
            .output()
            .unwrap();
        (output.status.code(), serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default())
    };
    let (code, answer) = shadow(&["update", "boiler-1", "--document", r#"{"state": {"desired": {"on": true}}}"#]);
    assert_eq!(
        (code, answer["version"].as_u64()),
        (Some(0), Some(1)),
        "{answer}\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    let (code, answer) = shadow(&["get", "boiler-1"]);
    assert_eq!((code, answer["state"]["delta"]["on"].as_bool()), (Some(0), Some(true)), "{answer}");
    let (code, answer) = shadow(&["delete", "boiler-1"]);
    assert_eq!((code, answer["version"].as_u64()), (Some(0), Some(1)), "{answer}");

    // AWS's 20 requests a second per thing: a burst of 40 updates to one thing gets 429 for
    // those past the first 20 (give or take what the bucket refills while they arrive).
    let answers = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-i", "watcher", "-q", "1"])
        .args(["-t", "$aws/things/pump-1/shadow/update/accepted", "-t", "$aws/things/pump-1/shadow/update/rejected"])
        .args(["-v", "-C", "40", "-W", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    settle();
    let updates: String = (0..40).map(|n| format!("{{\"state\": {{\"reported\": {{\"n\": {n}}}}}}}\n")).collect();
    let mut burst = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-i", "pump-1", "-q", "1", "-l"])
        .args(["-t", "$aws/things/pump-1/shadow/update"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut burst.stdin.take().unwrap(), updates.as_bytes()).unwrap();
    assert!(burst.wait().unwrap().success());
    let (received, _) = finished(answers);
    let accepted = received.lines().filter(|line| line.contains("/update/accepted ")).count();
    let throttled = received
        .lines()
        .filter(|line| line.contains("/update/rejected ") && line.contains(r#""code":429"#))
        .filter(|line| line.contains(r#""message":"Too Many Requests""#))
        .count();
    assert_eq!(accepted + throttled, 40, "{received}");
    assert!((20..40).contains(&accepted) && throttled > 0, "{accepted} accepted, {throttled} throttled:\n{received}");
    let _ = service.kill();
    let _ = service.wait();
}

/// The container image's command, as the `Dockerfile` gives it, run on the folders its comment
/// mounts (`iotrules fleet fleet` at `/fleet`, `examples/rules` at `/rules`) and its state
/// folder: devices connect with their certificates, are authorized, and their shadows are
/// kept under the state folder. Only the ports change, to free ones on loopback.
#[test]
fn the_container_command_serves_the_fleet_it_mounts() {
    let _one = serialize();
    if !tool("mosquitto_pub") {
        assert!(std::env::var_os("CI").is_none(), "mosquitto_pub is needed (mosquitto-clients)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dockerfile = fs::read_to_string(root.join("Dockerfile")).unwrap();
    let line = |prefix: &str| dockerfile.lines().find(|line| line.starts_with(prefix)).map(str::to_owned);

    // The image builds with the toolchain the repository pins.
    let toolchain = fs::read_to_string(root.join("rust-toolchain.toml")).unwrap();
    let channel = toolchain.lines().find_map(|line| line.strip_prefix("channel = ")).unwrap().trim_matches('"');
    let from = line("FROM rust:").unwrap();
    assert!(from.starts_with(&format!("FROM rust:{channel}-")), "{from} against toolchain {channel}");
    assert_eq!(line("ENTRYPOINT").as_deref(), Some(r#"ENTRYPOINT ["iotrules"]"#));

    let dir = scratch_dir("serve-container");
    let fleet = dir.join("fleet");
    let made = Command::new(env!("CARGO_BIN_EXE_iotrules")).arg("fleet").arg(&fleet).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let state = dir.join("state");
    let state_env = line("ENV IOTRULES_STATE_DIR=").unwrap();
    assert_eq!(state_env.trim_start_matches("ENV IOTRULES_STATE_DIR="), "/var/lib/iotrules");
    let command: Vec<String> = serde_json::from_str(line("CMD ").unwrap().trim_start_matches("CMD ")).unwrap();
    let (port, wss_port) = (free_port(), free_port());
    let mounted = |arg: &str| match arg {
        "/rules" => root.join("examples/rules").to_string_lossy().into_owned(),
        "/fleet/registry" => fleet.join("registry").to_string_lossy().into_owned(),
        "443" => wss_port.to_string(),
        other => other.to_owned(),
    };
    let args: Vec<String> = command.iter().map(|arg| mounted(arg)).collect();
    assert_eq!(args[0], "serve", "{command:?}");
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(&args)
        .args(["--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
        .env("IOTRULES_STATE_DIR", &state)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_to_string(&log).unwrap_or_default().contains("connected to the broker") {
        assert!(Instant::now() < deadline, "{}", fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    let tls = |thing: &str| {
        let file = |path: String| fleet.join(path).to_string_lossy().into_owned();
        let mut tls = vec!["-h".to_owned(), "localhost".to_owned(), "-p".to_owned(), port.to_string()];
        tls.extend(["--cafile".to_owned(), file("ca/ca.pem".into()), "--cert".to_owned()]);
        tls.extend([file(format!("devices/{thing}.pem")), "--key".to_owned(), file(format!("devices/{thing}.key"))]);
        tls
    };
    let device = |thing: &str, client_id: &str, topic: &str, message: &str| {
        Command::new("mosquitto_pub")
            .args(tls(thing))
            .args(["-i", client_id, "-V", "mqttv5", "-q", "1", "-t", topic, "-m", message])
            .output()
            .unwrap()
    };
    // One connection asks and waits for the answer, as a device does.
    let accepted = Command::new("mosquitto_rr")
        .args(tls("thing-1"))
        .args(["-i", "thing-1", "-V", "mqttv5", "-q", "1", "-W", "10"])
        .args(["-t", "$aws/things/thing-1/shadow/update", "-e", "$aws/things/thing-1/shadow/update/accepted"])
        .args(["-m", r#"{"state": {"reported": {"on": true}}}"#])
        .output()
        .unwrap();
    let (answer, errors) = (
        String::from_utf8_lossy(&accepted.stdout).into_owned(),
        String::from_utf8_lossy(&accepted.stderr).into_owned(),
    );
    assert!(answer.contains(r#""on":true"#), "no accepted answer: {answer} {errors}");
    let refused = device("thing-1", "thing-2", "devices/thing-1/telemetry", "{}");
    assert!(!refused.status.success(), "thing-1's certificate connected as thing-2");
    assert!(std::net::TcpStream::connect(("127.0.0.1", wss_port)).is_ok(), "the WebSocket port is not served");
    let _ = child.kill();
    let _ = child.wait();
    // The shadow was kept under the state folder the image declares as its volume.
    let listed = Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["shadow", "list", "--format", "json", "--store"])
        .arg(state.join("shadows.redb"))
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["shadows"], serde_json::json!([{"thing": "thing-1", "name": null}]));
}
