//! Checking an authorization request before it is decided: its action and resource get the
//! diagnostics a policy document gets for them, so a misspelt action or a resource that is not
//! an ARN is reported instead of being silently denied.
//!
//! A request is stricter than a document. It names one action AWS IoT asks about, so an action
//! iotrules does not know is an error (in a document it is a warning: AWS adds actions) and `*`
//! and `?` are literal characters. The MQTT actions are asked about for one resource type each,
//! so another type is an error too.

use super::document::{
    invalid_arn, known_service, other_service_action, service_action_suggestion, unknown_service_action,
};
use super::{ACTIONS, Spanned, lint};
use crate::diagnostics::{Code, Diagnostic, Severity};
use crate::span::Span;

/// The diagnostics of one request; each span is an offset into the text it concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestReport {
    pub action: Vec<Diagnostic>,
    pub resource: Vec<Diagnostic>,
}

impl RequestReport {
    pub fn has_errors(&self) -> bool {
        self.action.iter().chain(&self.resource).any(Diagnostic::is_error)
    }
}

/// Checks the action and resource of one authorization request.
pub fn check_request(action: &str, resource: &str) -> RequestReport {
    let action_text = Spanned { text: action.to_owned(), span: Span::new(0, action.len()) };
    let resource_text = Spanned { text: resource.to_owned(), span: Span::new(0, resource.len()) };
    let known = ACTIONS.iter().any(|known| known.eq_ignore_ascii_case(action));
    let action_diagnostics = if known {
        Vec::new()
    } else {
        vec![match known_service(action) {
            None => other_service_action(&action_text),
            Some(service) => {
                // Refused: a wildcard, or a near miss of an `iot:` action (`iot:Publsh`), which
                // is a typo. Any other action of a service policies carry is decided as written,
                // with a warning: AWS matches policies against whatever text a request names,
                // and its list of actions grows.
                let (help, severity) = if action.contains(['*', '?']) {
                    (
                        "a request names one action: `*` and `?` are wildcards only in policies".to_owned(),
                        Severity::Error,
                    )
                } else {
                    match service_action_suggestion(action, service) {
                        Some(suggestion) if service == "iot" => (suggestion, Severity::Error),
                        Some(suggestion) => (format!("{suggestion} It is decided as written"), Severity::Warning),
                        None => (
                            format!("iotrules knows no such `{service}:` action; it is decided as written"),
                            Severity::Warning,
                        ),
                    }
                };
                unknown_service_action(&action_text, service, help, severity)
            }
        }]
    };
    let resource_diagnostics = match invalid_arn(&resource_text) {
        Some(diagnostic) => vec![diagnostic],
        None if known => type_mismatch(action, &resource_text).into_iter().collect(),
        None => Vec::new(),
    };
    RequestReport { action: action_diagnostics, resource: resource_diagnostics }
}

/// The MQTT actions a broker asks about, each for one resource type it forms itself.
const MQTT_ACTIONS: &[&str] = &["iot:connect", "iot:publish", "iot:receive", "iot:retainpublish", "iot:subscribe"];

/// `policy::resource_type_mismatch` for a request of an MQTT action on a resource of another
/// type: AWS IoT Core never asks that, so no policy is written for it.
fn type_mismatch(action: &str, resource: &Spanned) -> Option<Diagnostic> {
    if !MQTT_ACTIONS.contains(&action.to_ascii_lowercase().as_str()) {
        return None;
    }
    let expected = *lint::types_for(action)?.first()?;
    let (start, rest) = lint::resource_part(&resource.text)?;
    let kind = lint::resource_type(&resource.text)?;
    if kind == expected {
        return None;
    }
    let prefix = resource.text.get(..start)?;
    let name = rest.get(kind.len()..).unwrap_or_default();
    let span = Span::new(resource.span.start + start, resource.span.start + start + kind.len());
    Some(
        Diagnostic::error(
            Code::PolicyResourceTypeMismatch,
            span,
            format!("`{action}` is asked for `{expected}/` resources, not `{kind}/`"),
        )
        .with_help(format!("did you mean `{prefix}{expected}{name}`?")),
    )
}

#[cfg(test)]
mod tests {
    use super::check_request;
    use crate::diagnostics::Code;

    const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

    fn findings(action: &str, resource: &str) -> Vec<(Code, String, Option<String>)> {
        let report = check_request(action, resource);
        report.action.iter().chain(&report.resource).map(|d| (d.code, d.message.clone(), d.help.clone())).collect()
    }

    #[test]
    fn requests_the_broker_makes_pass() {
        for (action, resource) in [
            ("iot:Connect", format!("{ARN}:client/c1")),
            ("iot:publish", format!("{ARN}:topic/a/b")),
            ("IOT:Subscribe", format!("{ARN}:topicfilter/a/#")),
            ("iot:ListRetainedMessages", "*".to_owned()),
            ("iotjobsdata:GetPendingJobExecutions", format!("{ARN}:topic/$aws/things/t")),
        ] {
            assert_eq!(findings(action, &resource), [], "{action} {resource}");
        }
    }

    #[test]
    fn an_unknown_action_is_an_error_with_a_suggestion() {
        let report = check_request("iot:Publsh", &format!("{ARN}:topic/a"));
        assert!(report.has_errors());
        let found = findings("iot:Publsh", &format!("{ARN}:topic/a"));
        assert_eq!(
            found,
            [(
                Code::PolicyUnknownAction,
                "unknown action `iot:Publsh`".to_owned(),
                Some("did you mean `iot:Publish`?".to_owned())
            )]
        );
        let bare = findings("PUBLISH", &format!("{ARN}:topic/a"));
        assert_eq!(
            bare[0].2.as_deref(),
            Some("did you mean `iot:Publish`? Actions are written with their service prefix")
        );
        let star = findings("iot:*", "*");
        assert_eq!(star[0].0, Code::PolicyUnknownAction);
        assert!(star[0].2.as_deref().is_some_and(|help| help.contains("wildcards only in policies")));
        assert_eq!(findings("s3:GetObject", "*")[0].0, Code::PolicyUnknownAction);
    }

    #[test]
    fn a_resource_must_be_an_arn_of_the_right_type() {
        assert_eq!(findings("iot:Publish", "a/b")[0].0, Code::PolicyInvalidArn);
        let wrong = findings("iot:Subscribe", &format!("{ARN}:topic/a"));
        assert_eq!(wrong[0].0, Code::PolicyResourceTypeMismatch);
        assert_eq!(wrong[0].1, "`iot:Subscribe` is asked for `topicfilter/` resources, not `topic/`");
        assert_eq!(findings("iot:Connect", &format!("{ARN}:topic/a"))[0].0, Code::PolicyResourceTypeMismatch);
        assert_eq!(findings("iot:Receive", &format!("{ARN}:topicfilter/a"))[0].0, Code::PolicyResourceTypeMismatch);
        // The job actions are matched literally whatever the type: the corpus relies on it.
        assert_eq!(findings("iot:DescribeJobExecution", &format!("{ARN}:topic/a")), []);
    }
}
