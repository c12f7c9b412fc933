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
use reqwest::Url;
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

/// The URL a template rendered, if the rule may send to it: AWS sends an HTTP action only to
/// a destination it confirmed, and a templated URL only where every value it can take
/// matches one. Offline the confirmed destination is `confirmationUrl` (or the literal URL):
/// the rendered URL must begin with it and name the same scheme, host and port, so no
/// message can steer a request (and the headers meant for the endpoint) elsewhere, such as
/// through `user@other-host` or a host that merely begins with the confirmed one.
pub(crate) fn confirmed(rendered: &str, destination: &str) -> Result<Url, String> {
    let refused = |why: &str| {
        Err(format!(
            "the URL `{}` is not the confirmed destination `{}`: {why}",
            redacted(rendered),
            redacted(destination)
        ))
    };
    if destination.contains("${") {
        return refused("iotrules confirms only a destination written without substitution templates");
    }
    let (Ok(url), Ok(confirmed)) = (Url::parse(rendered), Url::parse(destination)) else {
        return refused("it is not an absolute http or https URL");
    };
    if !rendered.starts_with(destination) {
        return refused("it does not begin with the destination");
    }
    if url.scheme() != confirmed.scheme() || !matches!(url.scheme(), "http" | "https") {
        return refused("its scheme differs");
    }
    if url.host() != confirmed.host() || url.port_or_known_default() != confirmed.port_or_known_default() {
        return refused("its host or port differs");
    }
    if url.username() != confirmed.username() || url.password() != confirmed.password() {
        return refused("it adds credentials");
    }
    Ok(url)
}

/// `url` with the credentials of its authority (`user:password@`) replaced by `***`, for
/// logs and error payloads; works on templates as written too.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
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
    use super::{confirmed, is_secret_header, redacted};

    #[test]
    fn only_the_confirmed_destination_is_reached() {
        let destination = "http://hooks.example.invalid";
        assert!(confirmed("http://hooks.example.invalid/ingest", destination).is_ok());
        assert!(confirmed("http://hooks.example.invalid:80/x", destination).is_ok());
        for steered in [
            "http://hooks.example.invalid@127.0.0.1:8080/data/ingest",
            "http://hooks.example.invalid.evil.example/ingest",
            "http://hooks.example.invalid:8080/ingest",
            "https://hooks.example.invalid/ingest",
            "http://hooks.example.invalid:pw@hooks.example.invalid/",
            "http://other.example/",
            "not a url",
        ] {
            let refused = confirmed(steered, destination).unwrap_err();
            assert!(refused.contains("not the confirmed destination"), "{steered}: {refused}");
            assert!(!refused.contains(":pw@"), "credentials stay out: {refused}");
        }
        assert!(confirmed("https://api.example.com/v1/devices/7", "https://api.example.com/v1/").is_ok());
        assert!(confirmed("https://api.example.com/v2/", "https://api.example.com/v1/").is_err());
        assert!(confirmed("https://api.example.com/", "https://${host}/").is_err());
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redacted("https://user:secret@api.example.com/x?y=1"), "https://***@api.example.com/x?y=1");
        assert_eq!(redacted("https://api.example.com/a@b"), "https://api.example.com/a@b");
        assert_eq!(redacted("http://a:b@c@host/"), "http://***@host/");
        assert_eq!(redacted("${url}"), "${url}");
        assert!(
            is_secret_header("Authorization") && is_secret_header("X-Session-Token") && !is_secret_header("Accept")
        );
    }
}
