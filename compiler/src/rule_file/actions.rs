//! The actions of a rule file: each entry as written (type, parameters, spans) and, for the
//! types iotrules runs (`republish`, `http`), the parameters read into templates with every
//! problem reported where it is in the file.

use jsonc_parser::ast::{Object, ObjectProp, Value};

use super::{Reader, name_span, range_of};
use crate::diagnostics::{Code, Diagnostic};
use crate::span::Span;
use crate::template::Template;
use crate::version::SqlVersion;

/// AWS allows at most this many headers on an HTTP action.
pub const MAX_HTTP_HEADERS: usize = 100;

/// The longest HTTP action URL AWS accepts, in bytes.
pub const MAX_HTTP_URL: usize = 2048;

/// One entry of `actions`, or the `errorAction`, as the file writes it.
#[derive(Clone, Debug)]
pub struct ActionSpec {
    /// The action type, such as `republish`.
    pub kind: String,
    /// The action's parameters as written.
    pub parameters: serde_json::Value,
    /// The action object in the file.
    pub span: Span,
    /// The action type's name in the file.
    pub kind_span: Span,
    /// The parameters read for running; present for `republish` and `http` actions whose
    /// parameters have no errors.
    pub action: Option<Action>,
}

impl ActionSpec {
    /// Moves the action's places by `by` bytes, for an action read from a part of a file.
    pub(crate) fn shift(&mut self, by: usize) {
        self.span = Span::new(self.span.start + by, self.span.end + by);
        self.kind_span = Span::new(self.kind_span.start + by, self.kind_span.end + by);
    }
}

/// An action iotrules can run, read from its parameters.
#[derive(Clone, Debug)]
pub enum Action {
    Republish(Republish),
    Http(Http),
}

/// A `republish` action.
#[derive(Clone, Debug)]
pub struct Republish {
    pub topic: Template,
    /// `topic` as written, template and all; the error action's `failedResource`.
    pub topic_text: String,
    /// 0 or 1; AWS's default is 0.
    pub qos: u8,
    pub headers: RepublishHeaders,
}

/// The MQTT 5 `headers` of a `republish` action; every value is a template.
#[derive(Clone, Debug, Default)]
pub struct RepublishHeaders {
    pub content_type: Option<Template>,
    /// Base64 of the correlation data's bytes.
    pub correlation_data: Option<Template>,
    /// Seconds, as decimal digits.
    pub message_expiry: Option<Template>,
    /// `UNSPECIFIED_BYTES` or `UTF8_DATA`.
    pub payload_format_indicator: Option<Template>,
    pub response_topic: Option<Template>,
    pub user_properties: Vec<(Template, Template)>,
}

/// An `http` action.
#[derive(Clone, Debug)]
pub struct Http {
    pub url: Template,
    /// `url` as written; the error action's `failedResource`.
    pub url_text: String,
    pub confirmation_url: Option<String>,
    /// Header names (never templated, per AWS) with templated values.
    pub headers: Vec<(String, Template)>,
}

const REPUBLISH_FIELDS: &[&str] = &["topic", "qos", "roleArn", "headers"];
const HEADER_FIELDS: &[&str] =
    &["contentType", "correlationData", "messageExpiry", "payloadFormatIndicator", "responseTopic", "userProperties"];
const HTTP_FIELDS: &[&str] = &["url", "confirmationUrl", "headers", "auth", "enableBatching", "batchConfig"];
const KEY_VALUE_FIELDS: &[&str] = &["key", "value"];
const PAYLOAD_FORMATS: &[&str] = &["UNSPECIFIED_BYTES", "UTF8_DATA"];

/// Nesting beyond this depth is not copied into [`ActionSpec::parameters`]; no action of
/// AWS's nests half as deep.
const MAX_PARAMETER_DEPTH: usize = 32;

impl Reader {
    /// Reads one action object whose single property is `prop`.
    pub(super) fn action_spec(
        &mut self,
        text: &str,
        version: SqlVersion,
        object: &Object<'_>,
        prop: &ObjectProp<'_>,
    ) -> ActionSpec {
        let kind = prop.name.as_str().to_owned();
        let action = match (&prop.value, kind.as_str()) {
            (Value::Object(parameters), "republish") => {
                self.republish(text, version, parameters).map(Action::Republish)
            }
            (Value::Object(parameters), "http") => self.http(text, version, parameters).map(Action::Http),
            _ => None,
        };
        ActionSpec {
            kind,
            parameters: to_json(&prop.value, 0),
            span: Span::new(object.range.start, object.range.end),
            kind_span: name_span(prop),
            action,
        }
    }

    fn republish(&mut self, text: &str, version: SqlVersion, parameters: &Object<'_>) -> Option<Republish> {
        let before = self.error_count();
        self.unknown_parameters(parameters, REPUBLISH_FIELDS);
        self.required_string(parameters, "roleArn", "republish action");
        let topic = match self.required_string(parameters, "topic", "republish action") {
            Some((value, span)) => {
                if value.is_empty() {
                    self.push(
                        Diagnostic::error(Code::RuleInvalidActionParameter, span, "`topic` is empty")
                            .with_help("name the topic to publish to, such as \"alerts/${topic(2)}\""),
                    );
                }
                if value.starts_with('$') && !value.starts_with("$$") && !value.starts_with("${") {
                    self.push(
                        Diagnostic::warning(
                            Code::RuleReservedTopicUnescaped,
                            Span::new(span.start + 1, span.start + 2),
                            "republish topic starts with a single `$`",
                        )
                        .with_label("reserved topics start with `$`")
                        .with_help(format!("to publish to a reserved topic AWS needs `$$`: write \"${value}\"")),
                    );
                }
                self.template(text, version, parameters, "topic").map(|topic| (topic, value))
            }
            None => None,
        };
        let qos = match parameters.get("qos") {
            None => 0,
            Some(prop) => match &prop.value {
                Value::NumberLit(number) if number.value == "0" => 0,
                Value::NumberLit(number) if number.value == "1" => 1,
                other => {
                    self.push(
                        Diagnostic::error(
                            Code::RuleInvalidActionParameter,
                            range_of(other),
                            "`qos` must be 0 or 1",
                        )
                        .with_label("not a QoS AWS republishes with")
                        .with_help("AWS republishes with QoS 0 (the default) or 1; substitution templates are not allowed here"),
                    );
                    0
                }
            },
        };
        let headers = match parameters.get("headers") {
            None => RepublishHeaders::default(),
            Some(ObjectProp { value: Value::Object(headers), .. }) => self.republish_headers(text, version, headers),
            Some(prop) => {
                self.parameter_type(prop, "an object of MQTT 5 headers");
                RepublishHeaders::default()
            }
        };
        let (topic, topic_text) = topic?;
        (self.error_count() == before).then_some(Republish { topic, topic_text, qos, headers })
    }

    fn republish_headers(&mut self, text: &str, version: SqlVersion, headers: &Object<'_>) -> RepublishHeaders {
        self.unknown_parameters(headers, HEADER_FIELDS);
        let string = |reader: &mut Self, name: &str| -> Option<Template> {
            let prop = headers.get(name)?;
            let Value::StringLit(literal) = &prop.value else {
                reader.parameter_type(prop, "a string");
                return None;
            };
            let span = Span::new(literal.range.start, literal.range.end);
            let value = literal.value.as_ref();
            let bad = match name {
                "payloadFormatIndicator" if !value.contains("${") && !PAYLOAD_FORMATS.contains(&value) => {
                    Some(format!("use {} or a substitution template", PAYLOAD_FORMATS.join(" or ")))
                }
                "messageExpiry" if !value.contains("${") && value.parse::<u32>().is_err() => {
                    Some("write the expiry in seconds, from 0 to 4294967295, as a string".to_owned())
                }
                "correlationData" if !value.contains("${") && !is_base64(value) => {
                    Some("correlation data is written as base64 of its bytes".to_owned())
                }
                _ => None,
            };
            if let Some(help) = bad {
                reader.push(
                    Diagnostic::error(
                        Code::RuleInvalidActionParameter,
                        span,
                        format!("`{value}` is not a valid `{name}`"),
                    )
                    .with_help(help),
                );
            }
            reader.template(text, version, headers, name)
        };
        let mut read = RepublishHeaders {
            content_type: string(self, "contentType"),
            correlation_data: string(self, "correlationData"),
            message_expiry: string(self, "messageExpiry"),
            payload_format_indicator: string(self, "payloadFormatIndicator"),
            response_topic: string(self, "responseTopic"),
            user_properties: Vec::new(),
        };
        for pair in self.key_value_list(headers, "userProperties") {
            let key = self.template(text, version, pair, "key");
            let value = self.template(text, version, pair, "value");
            if let (Some(key), Some(value)) = (key, value) {
                read.user_properties.push((key, value));
            }
        }
        read
    }

    fn http(&mut self, text: &str, version: SqlVersion, parameters: &Object<'_>) -> Option<Http> {
        let before = self.error_count();
        self.unknown_parameters(parameters, HTTP_FIELDS);
        let url = match self.required_string(parameters, "url", "http action") {
            Some((value, span)) => {
                self.url(&value, span, "url");
                self.template(text, version, parameters, "url").map(|url| (url, value))
            }
            None => None,
        };
        let confirmation_url = match parameters.get("confirmationUrl") {
            None => None,
            Some(ObjectProp { value: Value::StringLit(literal), .. }) => {
                let span = Span::new(literal.range.start, literal.range.end);
                self.url(&literal.value, span, "confirmationUrl");
                if let Some((_, written)) = &url
                    && !written.starts_with(literal.value.as_ref())
                {
                    self.push(
                        Diagnostic::error(
                            Code::RuleInvalidActionParameter,
                            span,
                            "`url` does not begin with `confirmationUrl`",
                        )
                        .with_help("AWS requires `confirmationUrl` to be a prefix of `url`"),
                    );
                }
                Some(literal.value.to_string())
            }
            Some(prop) => {
                self.parameter_type(prop, "a string");
                None
            }
        };
        if let Some((_, written)) = &url
            && written.contains("${")
        {
            let destination = confirmation_url.as_deref().unwrap_or(written);
            if !super::destination::fixes_host(destination)
                && let Some(prop) = parameters.get("confirmationUrl").or_else(|| parameters.get("url"))
            {
                self.push(
                    Diagnostic::warning(
                        Code::RuleUrlHostTemplated,
                        range_of(&prop.value),
                        "a message can choose the host this http action posts to",
                    )
                    .with_label("the host does not end here")
                    .with_help(
                        "end the host in `confirmationUrl` with `/`, such as \"https://hooks.example.com/\"; iotrules posts only to URLs on the confirmed host and refuses the rest",
                    ),
                );
            }
        }
        if let (Some((_, written)), None) = (&url, &confirmation_url)
            && written.contains("${")
            && let Some(prop) = parameters.get("url")
        {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidActionParameter,
                    range_of(&prop.value),
                    "a templated `url` needs a `confirmationUrl`",
                )
                .with_help(
                    "add \"confirmationUrl\" with the fixed beginning of the URL, such as \"https://example.com/\"",
                ),
            );
        }
        let mut headers = Vec::new();
        let pairs = self.key_value_list(parameters, "headers");
        if let (Some(extra), Some(last)) = (pairs.get(MAX_HTTP_HEADERS), pairs.last()) {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidActionParameter,
                    Span::new(extra.range.start, last.range.end),
                    format!("http action has {} headers", pairs.len()),
                )
                .with_label(format!("past the limit of {MAX_HTTP_HEADERS}"))
                .with_help(format!("AWS allows at most {MAX_HTTP_HEADERS} headers on an http action")),
            );
        }
        for pair in pairs {
            let key = match pair.get("key") {
                Some(ObjectProp { value: Value::StringLit(key), .. }) => {
                    if key.value.contains("${") {
                        self.push(
                            Diagnostic::error(
                                Code::RuleInvalidActionParameter,
                                Span::new(key.range.start, key.range.end),
                                "header names are not templated",
                            )
                            .with_help("AWS substitutes templates in header values only; write a fixed name"),
                        );
                    }
                    Some(key.value.to_string())
                }
                _ => None,
            };
            let value = self.template(text, version, pair, "value");
            if let (Some(key), Some(value)) = (key, value) {
                headers.push((key, value));
            }
        }
        if let Some(prop) = parameters.get("auth") {
            self.push(
                Diagnostic::warning(Code::RuleUnsupportedAuth, name_span(prop), "iotrules does not sign HTTP requests")
                    .with_label("sent without this authentication")
                    .with_help("AWS signs these requests with Signature Version 4; offline they are sent unsigned"),
            );
        }
        let (url, url_text) = url?;
        (self.error_count() == before).then_some(Http { url, url_text, confirmation_url, headers })
    }

    /// Checks the fixed beginning of a URL: its scheme, and AWS's length limit.
    fn url(&mut self, value: &str, span: Span, name: &str) {
        if value.len() > MAX_HTTP_URL {
            self.push(
                Diagnostic::error(
                    Code::RuleInvalidActionParameter,
                    span,
                    format!("`{name}` is {} bytes long", value.len()),
                )
                .with_help(format!("AWS accepts URLs of at most {MAX_HTTP_URL} bytes")),
            );
        }
        let scheme = value.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("https") => {}
            Some("http") => self.push(
                Diagnostic::warning(
                    Code::RuleHttpUrlNotHttps,
                    Span::new(span.start + 1, span.start + 5),
                    format!("`{name}` is not https"),
                )
                .with_label("plain http")
                .with_help("AWS accepts only https URLs; iotrules sends plain http so local endpoints can be tested"),
            ),
            _ if value.starts_with("${") => {}
            _ => self.push(
                Diagnostic::error(Code::RuleInvalidActionParameter, span, format!("`{name}` is not an https URL"))
                    .with_help("write a URL such as \"https://example.com/ingest\""),
            ),
        }
    }

    /// Parses the string parameter `name` of `object` as a template, with its diagnostics
    /// moved into the file.
    fn template(&mut self, text: &str, version: SqlVersion, object: &Object<'_>, name: &str) -> Option<Template> {
        let prop = object.get(name)?;
        let Value::StringLit(literal) = &prop.value else {
            self.parameter_type(prop, "a string");
            return None;
        };
        let value = literal.value.as_ref();
        let parsed = Template::parse(value, version);
        self.embed(text, Span::new(literal.range.start, literal.range.end), value, parsed.diagnostics);
        parsed.template
    }

    /// A required string parameter, with its span; reports it missing or of the wrong type.
    fn required_string(&mut self, object: &Object<'_>, name: &str, owner: &str) -> Option<(String, Span)> {
        match object.get(name) {
            Some(ObjectProp { value: Value::StringLit(literal), .. }) => {
                Some((literal.value.to_string(), Span::new(literal.range.start, literal.range.end)))
            }
            Some(prop) => {
                self.parameter_type(prop, "a string");
                None
            }
            None => {
                self.push(
                    Diagnostic::error(
                        Code::RuleInvalidActionParameter,
                        Span::new(object.range.start, object.range.start + 1),
                        format!("{owner} has no `{name}`"),
                    )
                    .with_label("in these parameters")
                    .with_help(format!("AWS requires `{name}` in every {owner}")),
                );
                None
            }
        }
    }

    /// The objects of a `[{"key": ..., "value": ...}]` list; reports anything else in it.
    fn key_value_list<'o, 'a>(&mut self, object: &'o Object<'a>, name: &str) -> Vec<&'o Object<'a>> {
        let Some(prop) = object.get(name) else { return Vec::new() };
        let Value::Array(items) = &prop.value else {
            self.parameter_type(prop, "an array of {\"key\": ..., \"value\": ...} objects");
            return Vec::new();
        };
        let mut pairs = Vec::new();
        for item in &items.elements {
            let Value::Object(pair) = item else {
                self.push(
                    Diagnostic::error(
                        Code::RuleInvalidActionParameter,
                        range_of(item),
                        format!("an entry of `{name}` is a {{\"key\": ..., \"value\": ...}} object"),
                    )
                    .with_help("write {\"key\": \"name\", \"value\": \"text\"}"),
                );
                continue;
            };
            self.unknown_parameters(pair, KEY_VALUE_FIELDS);
            for field in KEY_VALUE_FIELDS {
                self.required_string(pair, field, &format!("`{name}` entry"));
            }
            pairs.push(pair);
        }
        pairs
    }

    fn unknown_parameters(&mut self, object: &Object<'_>, known: &[&str]) {
        self.unknown_names(object, known, Code::RuleInvalidActionParameter, "parameter");
    }

    fn parameter_type(&mut self, prop: &ObjectProp<'_>, expected: &str) {
        self.wrong_type_as(Code::RuleInvalidActionParameter, prop, expected);
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        if diagnostic.is_error() {
            self.errors += 1;
        }
        self.diagnostics.add(diagnostic);
    }

    /// An error whose diagnostic is built only when it is shown: it holds a "did you mean"
    /// search.
    pub(super) fn error_with(&mut self, code: Code, build: impl FnOnce() -> Diagnostic) {
        self.errors += 1;
        if self.diagnostics.count(code) {
            self.diagnostics.push(build());
        }
    }

    /// Errors found so far, kept or not; counted as they come, since an action asks before and
    /// after reading its parameters, and a file can hold any number of actions.
    fn error_count(&self) -> usize {
        self.errors
    }
}

/// Whether `text` is standard base64 with padding.
fn is_base64(text: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).is_ok()
}

/// The parameters as a JSON value; members past [`MAX_PARAMETER_DEPTH`] become null.
fn to_json(value: &Value<'_>, depth: usize) -> serde_json::Value {
    if depth > MAX_PARAMETER_DEPTH {
        return serde_json::Value::Null;
    }
    match value {
        Value::StringLit(literal) => serde_json::Value::String(literal.value.to_string()),
        Value::NumberLit(number) => {
            serde_json::from_str(number.value).unwrap_or(serde_json::Value::String(number.value.to_owned()))
        }
        Value::BooleanLit(flag) => serde_json::Value::Bool(flag.value),
        Value::NullKeyword(_) => serde_json::Value::Null,
        Value::Array(items) => {
            serde_json::Value::Array(items.elements.iter().map(|item| to_json(item, depth + 1)).collect())
        }
        Value::Object(object) => serde_json::Value::Object(
            object
                .properties
                .iter()
                .map(|prop| (prop.name.as_str().to_owned(), to_json(&prop.value, depth + 1)))
                .collect(),
        ),
    }
}
