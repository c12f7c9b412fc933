//! What a frame's body is, by JSON-RPC 2.0: a request, a notification or a response to pass
//! on, or the error response the client is owed.

use serde_json::{Map, Value};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Id, Request, Response};

/// The judgement on one body.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A request or notification, as tower-lsp-server reads it.
    Request(Request),
    /// A response to one of the server's requests, as tower-lsp-server reads it.
    Response(Response),
    /// A body that is no message, and the error response it gets.
    Reject(Response),
}

/// Judges one body.
///
/// A batch is answered with a single Invalid Request, not one answer per element: LSP has no
/// batches, so the array is one message the server does not understand, and running its
/// elements would make an editor believe batches work.
pub(crate) fn judge(body: &[u8]) -> Verdict {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(error) => {
            return reject(ErrorCode::ParseError, Id::Null, format!("invalid UTF-8 at byte {}", error.valid_up_to()));
        }
    };
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(error) => return reject(ErrorCode::ParseError, Id::Null, error.to_string()),
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => return invalid(Id::Null, "batches are not supported"),
        _ => return invalid(Id::Null, "a message must be an object"),
    };
    let id = object.get("id").map(read_id);
    let answer_to = id.clone().flatten().unwrap_or(Id::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(answer_to, "`jsonrpc` must be \"2.0\"");
    }
    if id == Some(None) {
        return invalid(answer_to, "`id` must be an integer, a string or null");
    }
    if object.contains_key("method") {
        judge_request(object, answer_to)
    } else if object.contains_key("result") || object.contains_key("error") {
        judge_response(object, answer_to)
    } else {
        invalid(answer_to, "neither a request (`method`) nor a response (`result` or `error`)")
    }
}

fn judge_request(object: Map<String, Value>, answer_to: Id) -> Verdict {
    if !object.get("method").is_some_and(Value::is_string) {
        return invalid(answer_to, "`method` must be a string");
    }
    // JSON-RPC wants an object or an array; null is let through because some clients (lsp4j)
    // send it for methods without parameters, and tower-lsp-server accepts it there.
    if object.get("params").is_some_and(|params| !(params.is_object() || params.is_array() || params.is_null())) {
        return invalid(answer_to, "`params` must be an object or an array");
    }
    match serde_json::from_value(Value::Object(object)) {
        Ok(request) => Verdict::Request(request),
        Err(error) => invalid(answer_to, &error.to_string()),
    }
}

fn judge_response(object: Map<String, Value>, answer_to: Id) -> Verdict {
    if object.contains_key("result") == object.contains_key("error") {
        return invalid(answer_to, "a response must have exactly one of `result` and `error`");
    }
    if !object.contains_key("id") {
        return invalid(answer_to, "a response must have an `id`");
    }
    match serde_json::from_value(Value::Object(object)) {
        Ok(response) => Verdict::Response(response),
        Err(error) => invalid(answer_to, &format!("`error` is not a JSON-RPC error object: {error}")),
    }
}

/// The id as tower-lsp-server reads it, or `None` when it is not one.
fn read_id(id: &Value) -> Option<Id> {
    match id {
        Value::Null => Some(Id::Null),
        Value::String(id) => Some(Id::String(id.clone())),
        Value::Number(id) => id.as_i64().map(Id::Number),
        _ => None,
    }
}

fn invalid(answer_to: Id, detail: &str) -> Verdict {
    reject(ErrorCode::InvalidRequest, answer_to, detail.to_owned())
}

fn reject(code: ErrorCode, answer_to: Id, detail: String) -> Verdict {
    let kind = match code {
        ErrorCode::ParseError => "Parse error",
        _ => "Invalid Request",
    };
    Verdict::Reject(Response::from_error(
        answer_to,
        Error { code, message: format!("{kind}: {detail}").into(), data: None },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Judges `body` and renders the verdict as `request <json>`, `response <json>` or
    /// `reject <error response>`, each as tower-lsp-server serializes it.
    fn check(body: &[u8], expected: &str) {
        // Compared as JSON values: key order is serde_json's business (it keeps insertion
        // order when another crate of the build asks for it).
        let rendered = match judge(body) {
            Verdict::Request(request) => ("request", serde_json::to_value(request).unwrap()),
            Verdict::Response(response) => ("response", serde_json::to_value(response).unwrap()),
            Verdict::Reject(response) => ("reject", serde_json::to_value(response).unwrap()),
        };
        let expected =
            expected.split_once(' ').map(|(verdict, json)| (verdict, serde_json::from_str::<Value>(json).unwrap()));
        assert_eq!(Some(rendered), expected, "{}", body.escape_ascii());
    }

    fn parse_error(detail: &str) -> String {
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {detail}")}})
            .to_string()
    }

    fn invalid_request(id: Value, detail: &str) -> String {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32600, "message": format!("Invalid Request: {detail}")}})
            .to_string()
    }

    #[test]
    fn messages_pass() {
        let cases = [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"shutdown"}"#,
            r#"{"jsonrpc":"2.0","id":-3,"method":"shutdown","params":null}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"x","params":[1]}"#,
            r#"{"jsonrpc":"2.0","method":"exit"}"#,
        ];
        for case in cases {
            check(case.as_bytes(), &format!("request {case}"));
        }
        check(br#" {"method":"exit","jsonrpc":"2.0","extra":1} "#, r#"request {"jsonrpc":"2.0","method":"exit"}"#);
        let responses = [
            r#"{"jsonrpc":"2.0","id":1,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":"1","result":{"a":[]}}"#,
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}"#,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"no","data":[1]}}"#,
        ];
        for case in responses {
            check(case.as_bytes(), &format!("response {case}"));
        }
    }

    #[test]
    fn bodies_that_are_not_json_are_parse_errors() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "EOF while parsing a value at line 1 column 0"),
            (b"{", "EOF while parsing an object at line 1 column 1"),
            (b"hello", "expected value at line 1 column 1"),
            (br#"{"jsonrpc":"2.0","id":1,"method":"x"} {}"#, "trailing characters at line 1 column 39"),
            (b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"\xff\"}", "invalid UTF-8 at byte 34"),
            (b"\xef\xbb\xbf{}", "expected value at line 1 column 1"),
        ];
        for (body, detail) in cases {
            check(body, &format!("reject {}", parse_error(detail)));
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        check(deep.as_bytes(), &format!("reject {}", parse_error("recursion limit exceeded at line 1 column 128")));
    }

    #[test]
    fn json_that_is_not_a_message_is_an_invalid_request() {
        let cases = [
            (r#"[{"jsonrpc":"2.0","id":1,"method":"shutdown"}]"#, json!(null), "batches are not supported"),
            ("[]", json!(null), "batches are not supported"),
            ("1", json!(null), "a message must be an object"),
            ("null", json!(null), "a message must be an object"),
            (r#"{"id":4,"method":"initialize"}"#, json!(4), "`jsonrpc` must be \"2.0\""),
            (r#"{"jsonrpc":"1.0","id":"x","method":"initialize"}"#, json!("x"), "`jsonrpc` must be \"2.0\""),
            (r#"{"jsonrpc":2.0,"id":5,"method":"initialize"}"#, json!(5), "`jsonrpc` must be \"2.0\""),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#, json!(null), "`id` must be an integer, a string or null"),
            (r#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#, json!(null), "`id` must be an integer, a string or null"),
            (
                r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"x"}"#,
                json!(null),
                "`id` must be an integer, a string or null",
            ),
            (r#"{"jsonrpc":"2.0","id":6,"method":1}"#, json!(6), "`method` must be a string"),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":"x","params":"a"}"#,
                json!(6),
                "`params` must be an object or an array",
            ),
            (r#"{"jsonrpc":"2.0","method":"x","params":3}"#, json!(null), "`params` must be an object or an array"),
            (
                r#"{"jsonrpc":"2.0","id":8}"#,
                json!(8),
                "neither a request (`method`) nor a response (`result` or `error`)",
            ),
            (r#"{"jsonrpc":"2.0","result":1}"#, json!(null), "a response must have an `id`"),
            (
                r#"{"jsonrpc":"2.0","id":9,"result":1,"error":{"code":1,"message":"m"}}"#,
                json!(9),
                "a response must have exactly one of `result` and `error`",
            ),
        ];
        for (body, id, detail) in cases {
            check(body.as_bytes(), &format!("reject {}", invalid_request(id, detail)));
        }
        let Verdict::Reject(response) = judge(br#"{"jsonrpc":"2.0","id":3,"error":{"code":1.5,"message":"m"}}"#) else {
            panic!("an error with a fractional code passed");
        };
        assert_eq!(response.id(), &Id::Number(3));
        assert_eq!(response.error().map(|error| error.code), Some(ErrorCode::InvalidRequest));
    }
}
