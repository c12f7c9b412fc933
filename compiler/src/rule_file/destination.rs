//! Where an http action may send a request: AWS sends one only to a destination that was
//! confirmed, and a URL with substitution templates only where every value it can take
//! matches one. Offline, the confirmed destination is the action's `confirmationUrl`, else its
//! `url` as written.
//!
//! The check runs on the URL after substitution, so no message can steer a request (and the
//! headers meant for the endpoint) to another host: `http://hooks.example${topic(2)}` filled
//! with `@127.0.0.1:8080` names another host while it still begins with the confirmed text.

use url::Url;

/// The URL a template rendered, if the action may send to it: it begins with the
/// destination, and names the same scheme (http or https), host, port and credentials.
pub fn confirmed(rendered: &str, destination: &str) -> Result<Url, String> {
    let refused = |why: &str| {
        Err(format!(
            "the URL `{}` is not the confirmed destination `{}`: {why}",
            redacted(rendered).escape_debug(),
            redacted(destination).escape_debug()
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

/// Whether the fixed beginning of a URL names its whole host and port: a `/`, `?` or `#`
/// follows the authority before any substitution, so nothing substituted can extend the host
/// (`https://hooks.example${x}`) or turn it into credentials (`https://hooks.example@${x}`).
pub fn fixes_host(url: &str) -> bool {
    let fixed = url.split("${").next().unwrap_or_default();
    let Some((_, rest)) = fixed.split_once("://") else { return false };
    rest.find(['/', '\\', '?', '#']).is_some_and(|end| end > 0)
}

/// `url` with the credentials of its authority (`user:password@`) replaced by `***`, for
/// logs and error payloads; works on templates as written too. Where the URL parses with a
/// password, every other occurrence of that password goes too: parsers disagree on where an
/// authority ends (`\\` ends it for `http`), and a log line must not show it either way.
pub fn redacted(url: &str) -> String {
    let mut text = url.to_owned();
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest.get(..authority_end).and_then(|authority| authority.rfind('@')) {
            text = format!("{scheme}://***@{}", rest.get(at + 1..).unwrap_or_default());
        }
    }
    if let Ok(parsed) = Url::parse(url)
        && let Some(password) = parsed.password().filter(|password| !password.is_empty())
    {
        text = text.replace(password, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{confirmed, fixes_host, redacted};

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
    fn a_host_is_fixed_once_its_authority_ends() {
        assert!(fixes_host("https://hooks.example.com/${topic(2)}"));
        assert!(fixes_host("https://hooks.example.com?d=${topic(2)}"));
        assert!(!fixes_host("https://hooks.example.com${topic(2)}/ingest"));
        assert!(!fixes_host("https://${topic(2)}/ingest"));
        assert!(!fixes_host("https://"));
        assert!(!fixes_host("${url}"));
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redacted("https://user:secret@api.example.com/x?y=1"), "https://***@api.example.com/x?y=1");
        assert_eq!(redacted("https://api.example.com/a@b"), "https://api.example.com/a@b");
        assert_eq!(redacted("http://a:b@c@host/"), "http://***@host/");
        assert_eq!(redacted("${url}"), "${url}");
        assert_eq!(redacted("https://u:sere@ttps://u:sere@tcBBv"), "https://***@ttps://u:***@tcBBv");
        assert_eq!(redacted("http://u:pw@h\\x@y/"), "http://***@h\\x@y/");
        assert_eq!(redacted("https:/u:secret@host/"), "https:/u:***@host/");
    }
}
