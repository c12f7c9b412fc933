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
    RuleActions::from_rule_file(&loaded, false).unwrap().0
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

async fn run(actions: &RuleActions, publisher: &Recorder, timeout: Duration, message: &Incoming) -> ActionsReport {
    let http = HttpClient::new(timeout).unwrap();
    actions.run(publisher, &http, &Environment::default(), message, Bytes::from_static(b"{\"t\":31}")).await
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
                r#"{{"failedAction":"RepublishAction","failedResource":"fail/x","errorMessage":"publish failed: broker refused"}}]}}"#
            ),
            base = base,
            timeout = timeout
        )
    );
}

#[tokio::test]
async fn sql_rules_log_and_unsupported_actions_are_named() {
    let sql = crate::rules::from_sql("rule.sql", "SELECT * FROM 'a'".to_owned(), SqlVersion::V2016_03_23);
    let (actions, diagnostics) = RuleActions::from_rule_file(&sql, false).unwrap();
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
    let errors = RuleActions::from_rule_file(&loaded, false).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, Code::RuleUnsupportedAction);
    assert_eq!(errors[0].message, "rule `fanout`: `lambda` actions do not run offline");
    assert_eq!(&text[errors[0].span().start..errors[0].span().end], "\"lambda\"");
    let (actions, warnings) = RuleActions::from_rule_file(&loaded, true).unwrap();
    assert_eq!((actions.len(), warnings[0].severity), (1, iotrules_compiler::Severity::Warning));
}

#[test]
fn error_payload_fields_are_in_aws_order() {
    let failures = [Failure {
        failed_action: "RepublishAction",
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
