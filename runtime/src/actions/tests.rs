use std::sync::{Arc, Mutex};
use std::time::Duration;

use iotrules_compiler::SqlVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::inputs::Contents;
use crate::rules::from_file;

/// Keeps what it is asked to publish; fails topics starting with `fail/`.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Outgoing>>>);

impl Publisher for Recorder {
    async fn publish(&self, message: Outgoing) -> Result<(), String> {
        if message.topic.starts_with("fail/") {
            return Err("broker refused".to_owned());
        }
        self.0.lock().unwrap().push(message);
        Ok(())
    }
}

impl Recorder {
    fn taken(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A request the test server received.
#[derive(Clone, Debug)]
struct Received {
    head: String,
    body: Vec<u8>,
}

/// An HTTP/1.1 server answering each request with the next status of `script` (the last one
/// repeats); status 0 means never answering.
async fn server(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        let mut served = 0;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let status = script.get(served).or(script.last()).copied().unwrap_or(200);
            served += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buffer = [0u8; 4096];
                let (head, body) = loop {
                    let Ok(read) = socket.read(&mut buffer).await else { return };
                    if read == 0 {
                        return;
                    }
                    data.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&data).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length = text[..end]
                        .lines()
                        .find_map(|line| {
                            line.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|n| n.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        break (text[..end].to_owned(), data[end + 4..end + 4 + length].to_vec());
                    }
                };
                log.lock().unwrap().push(Received { head, body });
                if status == 0 {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                let response = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{address}"), received)
}

fn rule(text: &str) -> RuleActions {
    let loaded = from_file(
        std::path::Path::new("fanout.json"),
        Contents::Text { text: text.to_owned(), bom: false },
        SqlVersion::V2016_03_23,
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.report.diagnostics);
    RuleActions::from_rule_file(&loaded, false, &Lanes::default()).unwrap().0
}

fn incoming(topic: &str, payload: &str) -> Incoming {
    Incoming {
        topic: topic.to_owned(),
        payload: Bytes::from(payload.to_owned()),
        client_id: Some("sensor-7".to_owned()),
        trace_id: "7e146a2c-95b5-6caf-98b9-50e3969734c7".to_owned(),
        ..Incoming::default()
    }
}

fn file(actions: &str, error_action: &str) -> String {
    format!(
        r#"{{"ruleName": "fanout", "sql": "SELECT * FROM 'devices/+/telemetry'", "awsIotSqlVersion": "2016-03-23",
            "actions": [{actions}]{error_action}}}"#
    )
}

const ERROR_TO_TOPIC: &str = r#", "errorAction": {"republish": {"topic": "errors/${topic(2)}", "roleArn": "r"}}"#;

fn runner(publisher: &Recorder, timeout: Duration) -> Runner<Recorder> {
    Runner {
        publisher: publisher.clone(),
        http: HttpClient::new(timeout).unwrap(),
        env: Arc::new(Environment::default()),
        handoff: None,
    }
}

async fn run(actions: &RuleActions, publisher: &Recorder, timeout: Duration, message: &Incoming) -> ActionsReport {
    let output = Bytes::from_static(b"{\"t\":31}");
    let settled = std::sync::atomic::AtomicBool::new(false);
    let report = actions
        .run(&runner(publisher, timeout), message, output, None, || {
            settled.store(true, std::sync::atomic::Ordering::Relaxed)
        })
        .await;
    assert!(settled.into_inner(), "the message is released once the run is done");
    report
}

#[tokio::test]
async fn republish_renders_templates_against_the_original_message() {
    let actions = rule(&file(
        r#"{"republish": {"topic": "$$aws/things/${topic(2)}/shadow/update", "qos": 1, "roleArn": "r",
             "headers": {"contentType": "application/json", "correlationData": "AAEC", "messageExpiry": "${60 * 5}",
                         "payloadFormatIndicator": "UTF8_DATA", "responseTopic": "replies/${clientid()}",
                         "userProperties": [{"key": "device", "value": "${topic(2)}"}]}}},
           {"republish": {"topic": "by-client/${clientid()}/${missing}", "roleArn": "r"}}"#,
        "",
    ));
    let publisher = Recorder::default();
    let report =
        run(&actions, &publisher, http::DEFAULT_HTTP_TIMEOUT, &incoming("devices/d1/telemetry", "{\"t\":31}")).await;
    assert_eq!(report, ActionsReport { succeeded: 2, ..ActionsReport::default() });
    let published = publisher.taken();
    assert_eq!(published[0].topic, "$aws/things/d1/shadow/update");
    assert_eq!(published[0].qos, 1);
    assert_eq!(published[0].payload, Bytes::from_static(b"{\"t\":31}"));
    assert_eq!(
        published[0].properties,
        MqttProperties {
            content_type: Some("application/json".to_owned()),
            payload_format_indicator: Some(1),
            response_topic: Some("replies/sensor-7".to_owned()),
            correlation_data: Some(vec![0, 1, 2]),
            message_expiry_interval: Some(300),
            user_properties: vec![("device".to_owned(), "d1".to_owned())],
        }
    );
    // Undefined renders as nothing.
    assert_eq!((published[1].topic.as_str(), published[1].qos), ("by-client/sensor-7/", 0));
}

/// Topics and headers that a template fills from the message are checked before anything
/// reaches the publisher: each bad one fails its action into the error action.
#[tokio::test]
async fn substituted_topics_and_headers_are_checked_before_publishing() {
    let actions = rule(&file(
        r#"{"republish": {"topic": "out/${name}", "qos": 1, "roleArn": "r"}},
           {"republish": {"topic": "headers/x", "roleArn": "r",
                          "headers": {"contentType": "${name}", "userProperties": [{"key": "k", "value": "${name}"}]}}}"#,
        ERROR_TO_TOPIC,
    ));
    let long = "x".repeat(70_000);
    let bad_names: &[(&str, &str)] = &[
        (r"a\u0001b", "U+0001"),
        (r"a\nb", "U+000A"),
        (r"a\u007fb", "U+007F"),
        (r"a\u0085b", "U+0085"),
        (r"a\uffffb", "U+FFFF"),
        ("a/+", "wildcard `+`"),
        ("#", "wildcard `#`"),
        ("1/2/3/4/5/6/7/8", "8 forward slashes"),
        (&long, "70004 bytes long"),
    ];
    for (name, expected) in bad_names {
        let publisher = Recorder::default();
        let message = incoming("devices/d1/telemetry", &format!("{{\"name\": \"{name}\"}}"));
        let report = run(&actions, &publisher, http::DEFAULT_HTTP_TIMEOUT, &message).await;
        let first = &report.failures[0];
        assert_eq!(first.failed_action, "RepublishAction");
        assert!(first.error_message.contains(expected), "{name:.20}: {}", first.error_message);
        assert!(first.failed_resource.len() <= 260 && !first.failed_resource.contains(['\n', '\u{1}']));
        assert_eq!(report.error_action, Some(Ok(())), "{name:.20}");
        let published = publisher.taken();
        assert!(published.iter().all(|message| message.topic == "errors/d1" || message.topic == "headers/x"));
        assert!(published.iter().all(|message| message.topic.len() <= 256));
    }
    // A header MQTT cannot carry fails its action too.
    let publisher = Recorder::default();
    let message = incoming("devices/d1/telemetry", r#"{"name": "ok\u001b[31m"}"#);
    let report = run(&actions, &publisher, http::DEFAULT_HTTP_TIMEOUT, &message).await;
    assert_eq!(report.succeeded, 0);
    assert!(
        report.failures[1].error_message.contains("cannot be sent: it holds the character U+001B"),
        "{:?}",
        report.failures
    );
    assert!(report.failures[0].error_message.contains("U+001B"), "{:?}", report.failures);
}

/// An output larger than AWS's message limit is refused before the encoder sees it.
#[tokio::test]
async fn oversized_outputs_fail_the_action() {
    let actions = rule(&file(r#"{"republish": {"topic": "big", "roleArn": "r"}}"#, ERROR_TO_TOPIC));
    let publisher = Recorder::default();
    let output = Bytes::from(vec![b'x'; 128 * 1024 + 1]);
    let runner = runner(&publisher, http::DEFAULT_HTTP_TIMEOUT);
    let report = actions.run(&runner, &incoming("devices/d1/telemetry", "{}"), output, None, || {}).await;
    assert!(report.failures[0].error_message.contains("131073 bytes"), "{:?}", report.failures);
    assert_eq!(publisher.taken().iter().map(|message| message.topic.as_str()).collect::<Vec<_>>(), ["errors/d1"]);
}

#[tokio::test]
async fn http_posts_the_output_with_templated_url_and_headers() {
    let (base, received) = server(vec![200]).await;
    let actions = rule(&file(
        &format!(
            r#"{{"http": {{"url": "{base}/in/${{topic(2)}}", "confirmationUrl": "{base}/",
                  "headers": [{{"key": "x-device", "value": "${{clientid()}}-${{t}}"}}]}}}}"#
        ),
        "",
    ));
    let publisher = Recorder::default();
    let report =
        run(&actions, &publisher, http::DEFAULT_HTTP_TIMEOUT, &incoming("devices/d1/telemetry", "{\"t\":31}")).await;
    assert_eq!(report, ActionsReport { succeeded: 1, ..ActionsReport::default() });
    let requests = received.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let head = requests[0].head.to_ascii_lowercase();
    assert!(head.starts_with("post /in/d1 http/1.1"), "{head}");
    assert!(head.contains("x-device: sensor-7-31"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(requests[0].body, b"{\"t\":31}");
}

#[tokio::test]
async fn http_retries_a_server_error() {
    let (base, received) = server(vec![500, 200]).await;
    let actions = rule(&file(&format!(r#"{{"http": {{"url": "{base}/in"}}}}"#), ERROR_TO_TOPIC));
    let publisher = Recorder::default();
    let report = run(&actions, &publisher, http::DEFAULT_HTTP_TIMEOUT, &incoming("devices/d1/telemetry", "{}")).await;
    assert_eq!(report, ActionsReport { succeeded: 1, ..ActionsReport::default() });
    assert_eq!(received.lock().unwrap().len(), 2);
    assert!(publisher.taken().is_empty());
}

#[tokio::test]
async fn http_does_not_retry_a_client_error() {
    let (base, received) = server(vec![404, 200]).await;
    let actions = rule(&file(&format!(r#"{{"http": {{"url": "{base}/in"}}}}"#), ""));
    let report =
        run(&actions, &Recorder::default(), http::DEFAULT_HTTP_TIMEOUT, &incoming("devices/d1/telemetry", "{}")).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].failed_action, "HttpAction");
    assert_eq!(report.failures[0].failed_resource, format!("{base}/in"));
    assert!(report.failures[0].error_message.contains("404"), "{:?}", report.failures);
    assert_eq!(report.error_action, None);
}

#[tokio::test]
async fn http_timeout_runs_the_error_action_with_aws_payload() {
    let (base, _) = server(vec![0]).await;
    let actions = rule(&file(
        &format!(
            r#"{{"http": {{"url": "{base}/slow"}}}}, {{"republish": {{"topic": "fail/x", "roleArn": "r"}}}}, {{"republish": {{"topic": "ok", "roleArn": "r"}}}}"#
        ),
        ERROR_TO_TOPIC,
    ));
    let publisher = Recorder::default();
    let report =
        run(&actions, &publisher, Duration::from_millis(300), &incoming("devices/d1/telemetry", "{\"t\":31}")).await;
    assert_eq!(report.succeeded, 1);
    assert_eq!(report.failures.len(), 2);
    assert_eq!(report.error_action, Some(Ok(())));
    let published = publisher.taken();
    let error = published.iter().find(|message| message.topic == "errors/d1").unwrap();
    let text = String::from_utf8(error.payload.to_vec()).unwrap();
    let timeout = &report.failures[0].error_message;
    assert!(timeout.contains("timed out after 300 ms"), "{timeout}");
    assert_eq!(
        text,
        format!(
            concat!(
                r#"{{"ruleName":"fanout","topic":"devices/d1/telemetry","cloudwatchTraceId":"7e146a2c-95b5-6caf-98b9-50e3969734c7","#,
                r#""clientId":"sensor-7","base64OriginalPayload":"eyJ0IjozMX0=","failures":["#,
                r#"{{"failedAction":"HttpAction","failedResource":"{base}/slow","errorMessage":"{timeout}"}},"#,
                r#"{{"failedAction":"RepublishAction","failedResource":"fail/x","errorMessage":"Failed to republish to topic. The error received was: broker refused"}}]}}"#
            ),
            base = base,
            timeout = timeout
        )
    );
}

#[tokio::test]
async fn sql_rules_log_and_unsupported_actions_are_named() {
    let sql = crate::rules::from_sql("rule.sql", "SELECT * FROM 'a'".to_owned(), SqlVersion::V2016_03_23);
    let (actions, diagnostics) = RuleActions::from_rule_file(&sql, false, &Lanes::default()).unwrap();
    assert!(diagnostics.is_empty());
    let report = run(&actions, &Recorder::default(), http::DEFAULT_HTTP_TIMEOUT, &incoming("a", "{}")).await;
    assert!(report.logged);

    let text = file(
        r#"{"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}}, {"republish": {"topic": "ok", "roleArn": "r"}}"#,
        "",
    );
    let loaded = from_file(
        std::path::Path::new("fanout.json"),
        Contents::Text { text: text.clone(), bom: false },
        SqlVersion::V2016_03_23,
    );
    let errors = RuleActions::from_rule_file(&loaded, false, &Lanes::default()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, Code::RuleUnsupportedAction);
    assert_eq!(errors[0].message, "rule `fanout`: `lambda` actions do not run offline");
    assert!(errors[0].help.as_deref().is_some_and(|help| help.contains("`--skip-unsupported-actions`")));
    assert_eq!(&text[errors[0].span().start..errors[0].span().end], "\"lambda\"");
    let (actions, warnings) = RuleActions::from_rule_file(&loaded, true, &Lanes::default()).unwrap();
    assert_eq!((actions.len(), warnings[0].severity), (1, iotrules_compiler::Severity::Warning));
}

#[test]
fn error_payload_fields_are_in_aws_order() {
    let failures = [Failure {
        failed_action: "RepublishAction".to_owned(),
        failed_resource: "out".to_owned(),
        error_message: "publish failed".to_owned(),
    }];
    let message = Incoming { client_id: None, ..incoming("a/b", "hi") };
    let payload = error::payload("r", &message, &failures);
    assert_eq!(
        std::str::from_utf8(&payload).unwrap(),
        r#"{"ruleName":"r","topic":"a/b","cloudwatchTraceId":"7e146a2c-95b5-6caf-98b9-50e3969734c7","clientId":"n/a","base64OriginalPayload":"aGk=","failures":[{"failedAction":"RepublishAction","failedResource":"out","errorMessage":"publish failed"}]}"#
    );
}

/// An outbox in a folder of its own, and a runner that hands off after `after`.
fn handing_off(publisher: &Recorder, name: &str, after: Duration) -> (Runner<Recorder>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("iotrules-handoff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("outbox.redb");
    let (outbox, left) = outbox::Outbox::open(&path).unwrap();
    assert!(left.is_empty());
    let runner = Runner { handoff: Some(Handoff { outbox, after }), ..runner(publisher, Duration::from_secs(2)) };
    (runner, path)
}

/// Reopens an outbox once the handles of the last process are gone.
fn reopen(path: &std::path::Path) -> (outbox::Outbox, Vec<(u64, Vec<u8>)>) {
    for _ in 0..200 {
        if let Ok(opened) = outbox::Outbox::open(path) {
            return opened;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the outbox stays locked");
}

/// A run still going after the hand-off delay releases its message, goes on, and leaves
/// nothing in the outbox once it is done.
#[tokio::test]
async fn a_slow_run_releases_its_message_and_finishes_later() {
    let (base, received) = server(vec![0, 200]).await;
    let actions = rule(&file(&format!(r#"{{"http": {{"url": "{base}/slow"}}}}"#), ERROR_TO_TOPIC));
    let publisher = Recorder::default();
    let (runner, path) = handing_off(&publisher, "slow", Duration::from_millis(50));
    let settled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = settled.clone();
    let message = incoming("devices/d1/telemetry", "{}");
    let run = tokio::spawn(async move {
        let output = Bytes::from_static(b"{}");
        actions
            .run(&runner, &message, output, None, move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            .await
    });
    // The first request hangs until the 2 s timeout; the message is released long before.
    while !settled.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!run.is_finished(), "released while the action still runs");
    let report = run.await.unwrap();
    assert!(report.handed_off);
    assert_eq!(report.failures.len(), 1, "the hanging endpoint timed out: {report:?}");
    assert_eq!(report.error_action, Some(Ok(())));
    assert_eq!(received.lock().unwrap().len(), 1);
    let (outbox, left) = reopen(&path);
    assert!(left.is_empty(), "a finished run leaves no record");
    drop(outbox);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A run cut short after its hand-off (a crash) is resumed from its record: the endpoint
/// gets the output the rule produced, with the original message's templates.
#[tokio::test]
async fn a_handed_off_run_survives_a_crash() {
    let (hanging, _) = server(vec![0]).await;
    let actions = rule(&file(
        &format!(
            r#"{{"http": {{"url": "{hanging}/in/${{topic(2)}}", "confirmationUrl": "{hanging}/in/"}}}}, {{"republish": {{"topic": "fail/x", "roleArn": "r"}}}}"#
        ),
        ERROR_TO_TOPIC,
    ));
    let publisher = Recorder::default();
    let (first_runner, path) = handing_off(&publisher, "crash", Duration::from_millis(20));
    let settled = Arc::new(tokio::sync::Notify::new());
    let notify = settled.clone();
    let message = incoming("devices/d7/telemetry", r#"{"t": 40}"#);
    let run = tokio::spawn(async move {
        actions
            .run(&first_runner, &message, Bytes::from_static(b"{\"out\":1}"), None, move || notify.notify_one())
            .await
    });
    settled.notified().await;
    run.abort();
    let _ = run.await;

    let (outbox, left) = reopen(&path);
    assert_eq!(left.len(), 1, "the interrupted run is still recorded");
    let (key, bytes) = left.into_iter().next().unwrap();
    let restored = record::decode(key, &bytes, &Lanes::default()).unwrap();
    assert_eq!(restored.resumed.pending, vec![0], "the republish had already failed");
    assert_eq!(restored.resumed.failures.len(), 1);
    // The endpoint answers now; the resumed run posts the output and reports both failures'
    // fate in order: only the republish failed.
    let (base, received) = server(vec![200]).await;
    let text = String::from_utf8(bytes).unwrap().replace(&hanging, &base);
    let restored = record::decode(key, text.as_bytes(), &Lanes::default()).unwrap();
    let publisher = Recorder::default();
    let runner = Runner {
        handoff: Some(Handoff { outbox, after: Duration::from_millis(20) }),
        ..runner(&publisher, Duration::from_secs(2))
    };
    let report =
        restored.actions.run(&runner, &restored.incoming, restored.output, Some(restored.resumed), || {}).await;
    assert_eq!(report.succeeded, 1);
    assert_eq!(report.failures.iter().map(|failure| failure.failed_resource.as_str()).collect::<Vec<_>>(), ["fail/x"]);
    let requests = received.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].head.starts_with("POST /in/d7 "), "{}", requests[0].head);
    assert_eq!(requests[0].body, b"{\"out\":1}");
    let error = publisher.taken().into_iter().find(|message| message.topic == "errors/d7").unwrap();
    assert!(String::from_utf8_lossy(&error.payload).contains("\"cloudwatchTraceId\":\"7e146a2c"));
    drop(runner);
    let (outbox, left) = reopen(&path);
    assert!(left.is_empty(), "the resumed run's record is gone once it is done");
    drop(outbox);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A run whose lane is full fails at once into the error action, naming the queue.
#[tokio::test]
async fn a_full_queue_fails_into_the_error_action() {
    let (base, _) = server(vec![0]).await;
    let lanes = Lanes::new(lanes::LaneLimits { concurrency: 1, capacity: 1 });
    let text = file(&format!(r#"{{"http": {{"url": "{base}/hang"}}}}"#), ERROR_TO_TOPIC);
    let loaded =
        from_file(std::path::Path::new("fanout.json"), Contents::Text { text, bom: false }, SqlVersion::V2016_03_23);
    let actions = Arc::new(RuleActions::from_rule_file(&loaded, false, &lanes).unwrap().0);
    let publisher = Recorder::default();
    let runner = Arc::new(runner(&publisher, Duration::from_secs(5)));
    let start = |actions: Arc<RuleActions>, runner: Arc<Runner<Recorder>>| {
        tokio::spawn(async move {
            actions.run(&runner, &incoming("devices/d1/telemetry", "{}"), Bytes::from_static(b"{}"), None, || {}).await
        })
    };
    let running = start(actions.clone(), runner.clone());
    let queued = start(actions.clone(), runner.clone());
    while actions.lanes[0].waiting() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = start(actions.clone(), runner.clone()).await.unwrap();
    assert!(refused.failures[0].error_message.contains("queue is full"), "{:?}", refused.failures);
    assert_eq!(refused.failures[0].failed_resource, format!("{base}/hang"));
    assert_eq!(refused.error_action, Some(Ok(())));
    running.abort();
    queued.abort();
}
