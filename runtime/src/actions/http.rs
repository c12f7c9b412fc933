//! The `http` action: the rule's output POSTed to a templated URL with templated headers.
//!
//! Retries follow AWS's documented logic: at most three tries in all; a retry only after a
//! connection error, a 429 or a 5xx response; and never past the timeout, which bounds the
//! tries together (3,000 ms by default, as on AWS). Between tries the client waits an
//! exponential backoff with full jitter. Any other status outside 2xx (redirects included,
//! which are not followed) fails at once.

use std::time::Duration;

use bytes::Bytes;
use iotrules_compiler::rule_file::Http;
use iotrules_compiler::rule_file::destination::confirmed;
pub(crate) use iotrules_compiler::rule_file::destination::redacted;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tokio::time::{Instant, timeout_at};

use super::{Context, Failure, Publisher};

/// AWS's name for the action in an error payload.
pub(super) const FAILED_ACTION: &str = "HttpAction";

/// AWS IoT's HTTP action timeout.
pub(crate) const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_millis(3_000);

/// One try and at most two retries, as AWS.
const MAX_TRIES: u32 = 3;

/// The first retry waits up to this long; each later one up to twice the previous.
const BASE_BACKOFF: Duration = Duration::from_millis(100);

/// One HTTP client shared by every action, so connections are reused.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpClient {
    /// A client whose requests, retries included, end after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Result<HttpClient, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("iotrules/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(HttpClient { client, timeout })
    }
}

pub(super) async fn run<P: Publisher>(context: &Context<'_, P>, action: &Http, output: Bytes) -> Result<(), Failure> {
    let written = redacted(&action.url_text);
    let url = context.render(&action.url, FAILED_ACTION, &written)?;
    let fail = |resource: &str, error_message: String| Failure {
        failed_action: FAILED_ACTION.to_owned(),
        failed_resource: redacted(resource),
        error_message,
    };
    let destination = action.confirmation_url.as_deref().unwrap_or(&action.url_text);
    let url = confirmed(&url, destination).map_err(|reason| fail(&url, reason))?;
    let resource = url.as_str().to_owned();
    let fail = |error_message: String| fail(&resource, error_message);
    let mut headers = reqwest::header::HeaderMap::new();
    for (key, value) in &action.headers {
        let value = context.render(value, FAILED_ACTION, &redacted(&resource))?;
        let name =
            HeaderName::from_bytes(key.as_bytes()).map_err(|_| fail(format!("`{key}` is not a valid header name")))?;
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| fail(format!("the value of `{key}` is not a valid header value")))?;
        // Kept out of any debug output reqwest or hyper may write.
        value.set_sensitive(is_secret_header(key));
        headers.append(name, value);
    }
    if !headers.contains_key(CONTENT_TYPE) {
        // AWS's default: JSON output is sent as JSON, anything else as bytes.
        let kind = if serde_json::from_slice::<serde::de::IgnoredAny>(&output).is_ok() {
            "application/json"
        } else {
            "application/octet-stream"
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    }
    let client = context.http;
    let deadline = Instant::now() + client.timeout;
    let mut tries = 0;
    loop {
        tries += 1;
        let request = client.client.post(url.clone()).headers(headers.clone()).body(output.clone()).send();
        let retry = match timeout_at(deadline, request).await {
            Err(_) => {
                return Err(fail(format!(
                    "request timed out after {} ms ({} {})",
                    client.timeout.as_millis(),
                    tries,
                    if tries == 1 { "try" } else { "tries" }
                )));
            }
            Ok(Ok(response)) => {
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let message = format!("endpoint answered HTTP status {status}");
                if status.as_u16() != 429 && !status.is_server_error() {
                    return Err(fail(message));
                }
                message
            }
            Ok(Err(error)) if error.is_connect() => format!("cannot connect: {}", error_chain(&error.without_url())),
            Ok(Err(error)) => return Err(fail(format!("request failed: {}", error_chain(&error.without_url())))),
        };
        if tries >= MAX_TRIES {
            return Err(fail(format!("{retry} after {tries} tries")));
        }
        let backoff = BASE_BACKOFF.saturating_mul(1 << (tries - 1));
        let wait = backoff.mul_f64(fastrand::f64());
        if Instant::now() + wait >= deadline {
            return Err(fail(format!("{retry}; no time left to retry within {} ms", client.timeout.as_millis())));
        }
        tokio::time::sleep(wait).await;
    }
}

/// Headers that carry credentials, whose values are never shown.
pub(crate) fn is_secret_header(name: &str) -> bool {
    const SECRET: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-amz-security-token",
    ];
    let name = name.to_ascii_lowercase();
    SECRET.contains(&name.as_str()) || name.contains("secret") || name.contains("token") || name.contains("password")
}

/// An error with its causes, which name what actually went wrong (refused, reset, DNS).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::is_secret_header;

    #[test]
    fn secret_headers() {
        assert!(
            is_secret_header("Authorization") && is_secret_header("X-Session-Token") && !is_secret_header("Accept")
        );
    }
}
