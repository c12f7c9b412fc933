//! Rule actions: republish to a fixed topic (substitution templates, http and the error
//! action come with the actions layer).
#![allow(dead_code, reason = "fields the full actions layer reads")]
use bytes::Bytes;
use iotrules_compiler::eval::{Environment, MqttProperties};

pub(crate) trait Publisher: Send + Sync + 'static {
    fn publish(&self, message: Outgoing) -> impl std::future::Future<Output = Result<(), String>> + Send;
}
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) qos: u8,
    pub(crate) properties: MqttProperties,
}
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) client_id: Option<String>,
    pub(crate) timestamp_ms: i64,
    pub(crate) properties: Option<MqttProperties>,
}
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpClient;
#[derive(Debug, Default)]
pub(crate) struct ActionsReport {
    pub(crate) succeeded: usize,
    pub(crate) failed: usize,
}
#[derive(Debug)]
pub(crate) struct RuleActions {
    pub(crate) topic: Option<String>,
}
impl RuleActions {
    pub(crate) fn from_loaded(
        loaded: &crate::rules::LoadedRule,
        _name: &str,
        _skip: bool,
    ) -> Result<RuleActions, String> {
        let json: serde_json::Value = serde_json::from_str(&loaded.report.source).unwrap_or_default();
        let rule = json.get("rule").unwrap_or(&json);
        let topic = rule
            .get("actions")
            .and_then(|a| a.get(0))
            .and_then(|a| a.get("republish"))
            .and_then(|r| r.get("topic"))
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        Ok(RuleActions { topic })
    }
    pub(crate) async fn run<P: Publisher>(
        &self,
        publisher: &P,
        _http: &HttpClient,
        _env: &Environment,
        _incoming: &Incoming,
        output: Bytes,
    ) -> ActionsReport {
        let Some(topic) = &self.topic else { return ActionsReport::default() };
        match publisher
            .publish(Outgoing { topic: topic.clone(), payload: output, qos: 1, properties: MqttProperties::default() })
            .await
        {
            Ok(()) => ActionsReport { succeeded: 1, failed: 0 },
            Err(_) => ActionsReport { succeeded: 0, failed: 1 },
        }
    }
}
