//! Every feature through the protocol, in process: the server driven as a `tower::Service`
//! with JSON-RPC requests, its notifications read from the client socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use futures::StreamExt;
use iotrules_lsp::Backend;
use serde_json::{Value, json};
use tower::{Service, ServiceExt};
use tower_lsp_server::jsonrpc::Request;
use tower_lsp_server::{ClientSocket, LspService};

struct Server {
    service: LspService<Backend>,
    socket: ClientSocket,
    next_id: i64,
}

impl Server {
    async fn start() -> Server {
        let (service, socket) = iotrules_lsp::service();
        let mut server = Server { service, socket, next_id: 1 };
        let capabilities = server.request("initialize", json!({"capabilities": {}})).await;
        assert_eq!(capabilities["capabilities"]["textDocumentSync"], 2, "incremental sync");
        server.notify("initialized", json!({})).await;
        server
    }

    async fn request(&mut self, method: &'static str, params: Value) -> Value {
        let request = Request::build(method).params(params).id(self.next_id).finish();
        self.next_id += 1;
        let response = self.service.ready().await.unwrap().call(request).await.unwrap().unwrap();
        response.result().cloned().unwrap_or_else(|| panic!("{method} failed: {response:?}"))
    }

    async fn notify(&mut self, method: &'static str, params: Value) {
        let request = Request::build(method).params(params).finish();
        assert!(self.service.ready().await.unwrap().call(request).await.unwrap().is_none());
    }

    /// Sends a notification that publishes diagnostics, and returns them.
    async fn notify_and_diagnostics(&mut self, method: &'static str, params: Value) -> Value {
        let request = Request::build(method).params(params).finish();
        let service = &mut self.service;
        let socket = &mut self.socket;
        let (_, published) =
            tokio::join!(async { service.ready().await.unwrap().call(request).await.unwrap() }, async {
                socket.next().await.unwrap()
            });
        assert_eq!(published.method(), "textDocument/publishDiagnostics");
        published.params().unwrap()["diagnostics"].clone()
    }

    async fn open(&mut self, uri: &str, text: &str) -> Value {
        let params = json!({"textDocument": {"uri": uri, "languageId": "", "version": 1, "text": text}});
        self.notify_and_diagnostics("textDocument/didOpen", params).await
    }

    async fn at(&mut self, method: &'static str, uri: &str, line: u32, character: u32) -> Value {
        let params = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
        self.request(method, params).await
    }
}

/// The position of the first `needle` in one-line `text`, in UTF-16 units, plus `shift` units.
fn column(text: &str, needle: &str, shift: u32) -> u32 {
    let byte = text.find(needle).unwrap();
    u32::try_from(text[..byte].encode_utf16().count()).unwrap() + shift
}

#[tokio::test]
async fn diagnostics_on_open_and_change_with_utf16_columns() {
    let mut server = Server::start().await;
    let text = "SELECT '😀é' AS e, lenght(name) AS n FROM 'a/b'";
    let diagnostics = server.open("file:///r.sql", text).await;
    assert_eq!(diagnostics.as_array().unwrap().len(), 1, "{diagnostics}");
    let diagnostic = &diagnostics[0];
    assert_eq!(diagnostic["code"], "iotsql::unknown_function");
    assert_eq!(diagnostic["severity"], 1);
    assert!(diagnostic["message"].as_str().unwrap().contains("help: did you mean `length`?"), "{diagnostic}");
    // Byte 22, but `😀` counts two UTF-16 units and `é` one.
    assert_eq!(text.find("lenght"), Some(22));
    assert_eq!(column(text, "lenght", 0), 19);
    assert_eq!(
        diagnostic["range"],
        json!({"start": {"line": 0, "character": 19}, "end": {"line": 0, "character": 25}})
    );

    let change = json!({
        "textDocument": {"uri": "file:///r.sql", "version": 2},
        "contentChanges": [{"range": {"start": {"line": 0, "character": 19}, "end": {"line": 0, "character": 25}}, "text": "length"}],
    });
    let diagnostics = server.notify_and_diagnostics("textDocument/didChange", change).await;
    assert_eq!(diagnostics, json!([]));
}

#[tokio::test]
async fn rule_file_diagnostics_land_inside_the_sql_string() {
    let mut server = Server::start().await;
    let text = r#"{"sql": "SELECT 😀, lenght(a) FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": []}"#;
    let diagnostics = server.open("file:///rule.json", text).await;
    let unknown = diagnostics.as_array().unwrap().iter().find(|d| d["code"] == "iotsql::unknown_function").unwrap();
    assert_eq!(unknown["range"]["start"]["character"], column(text, "lenght", 0));
}

#[tokio::test]
async fn policy_diagnostics_and_quick_fix() {
    let mut server = Server::start().await;
    let text =
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publsh", "Resource": "*"}]}"#;
    let diagnostics = server.open("file:///p.json", text).await;
    let unknown = diagnostics.as_array().unwrap().iter().find(|d| d["code"] == "policy::unknown_action").unwrap();
    let range = unknown["range"].clone();
    let actions = server
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///p.json"}, "range": range, "context": {"diagnostics": []}}),
        )
        .await;
    let edit = &actions[0]["edit"]["changes"]["file:///p.json"][0];
    assert_eq!(edit["newText"], "iot:Publish");
    // The quotes stay: only the string's text is replaced.
    let start = column(text, "iot:Publsh", 0);
    assert_eq!(edit["range"]["start"]["character"], start);
    assert_eq!(edit["range"]["end"]["character"], start + 10);
}

#[tokio::test]
async fn policy_variable_quick_fix_replaces_only_the_variable() {
    let mut server = Server::start().await;
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:1:topic/${iot:Thing.ThingName}/x"}]}"#;
    let diagnostics = server.open("file:///v.json", text).await;
    let unknown = diagnostics.as_array().unwrap().iter().find(|d| d["code"] == "policy::unknown_variable").unwrap();
    let params =
        json!({"textDocument": {"uri": "file:///v.json"}, "range": unknown["range"], "context": {"diagnostics": []}});
    let actions = server.request("textDocument/codeAction", params).await;
    let edit = &actions[0]["edit"]["changes"]["file:///v.json"][0];
    assert_eq!(edit["newText"], "${iot:Connection.Thing.ThingName}");
    assert_eq!(edit["range"]["start"]["character"], column(text, "${iot:Thing", 0));
    assert_eq!(edit["range"]["end"]["character"], column(text, "/x\"", 0));
}

#[tokio::test]
async fn sql_quick_fix_replaces_the_misspelt_name() {
    let mut server = Server::start().await;
    let text = "SELECT cast(a AS Integr), lenght(b) FROM 't'";
    server.open("file:///q.sql", text).await;
    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 44}});
    let actions = server
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///q.sql"}, "range": whole, "context": {"diagnostics": []}}),
        )
        .await;
    let titles: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Replace with `Integer`", "Replace with `length`"]);
}

#[tokio::test]
async fn hover_documents_functions_keywords_and_policy_names() {
    let mut server = Server::start().await;
    let text = "select 😀, substring(a, 1) from 't' where cast(x AS Decimal) > 1";
    server.open("file:///h.sql", text).await;
    let hover = server.at("textDocument/hover", "file:///h.sql", 0, column(text, "substring", 3)).await;
    let markdown = hover["contents"]["value"].as_str().unwrap();
    assert!(markdown.contains("substring(text, start, [end])") && markdown.contains("SQL version"), "{markdown}");
    assert!(markdown.contains("Example"), "{markdown}");
    assert_eq!(hover["range"]["start"]["character"], column(text, "substring", 0));
    let keyword = server.at("textDocument/hover", "file:///h.sql", 0, column(text, "where", 1)).await;
    assert!(keyword["contents"]["value"].as_str().unwrap().starts_with("**WHERE**"));
    let cast = server.at("textDocument/hover", "file:///h.sql", 0, column(text, "Decimal", 1)).await;
    assert!(cast["contents"]["value"].as_str().unwrap().contains("cast"));
    let nothing = server.at("textDocument/hover", "file:///h.sql", 0, column(text, "'t'", 1)).await;
    assert_eq!(nothing, Value::Null);

    let policy = r#"{"Statement": [{"Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:ClientId}", "Condition": {"StringLike": {}}}]}"#;
    server.open("file:///p.json", policy).await;
    let hover = |needle: &str| (0, column(policy, needle, 2));
    for (needle, expected) in [
        ("iot:Connect", "Connect to the message broker"),
        ("iot:ClientId", "client ID"),
        ("StringLike", "wildcards"),
        ("client/", "`client/`"),
    ] {
        let (line, character) = hover(needle);
        let answer = server.at("textDocument/hover", "file:///p.json", line, character).await;
        let value = answer["contents"]["value"].as_str().unwrap_or_default();
        assert!(value.contains(expected), "{needle}: {answer}");
    }
}

#[tokio::test]
async fn completion_by_context() {
    let mut server = Server::start().await;
    let text = "SELECT ro FROM 't' WHERE cast(a AS ";
    server.open("file:///c.sql", text).await;
    let items = server.at("textDocument/completion", "file:///c.sql", 0, 9).await;
    let round = items.as_array().unwrap().iter().find(|item| item["label"] == "round").unwrap();
    assert_eq!(round["insertText"], "round(${1:x})");
    assert_eq!(round["insertTextFormat"], 2, "a snippet");
    assert!(items.as_array().unwrap().iter().any(|item| item["label"] == "WHERE"));
    let types = server.at("textDocument/completion", "file:///c.sql", 0, 35).await;
    let labels: Vec<&str> = types.as_array().unwrap().iter().map(|item| item["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"Decimal") && !labels.contains(&"round"), "{labels:?}");

    let policy = r#"{"Statement": [{"Effect": "", "Action": ["iot:Pu"], "Resource": ["arn", "topic/${iot:"], "Condition": {"Str": {}}}]}"#;
    server.open("file:///p.json", policy).await;
    let labels = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .map(|items| items.iter().map(|item| item["label"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let effect = server.at("textDocument/completion", "file:///p.json", 0, column(policy, "\"\"", 1)).await;
    assert_eq!(labels(&effect), ["Allow", "Deny"]);
    let actions = server.at("textDocument/completion", "file:///p.json", 0, column(policy, "iot:Pu", 6)).await;
    assert!(labels(&actions).contains(&"iot:Publish".to_owned()));
    let publish = actions.as_array().unwrap().iter().find(|item| item["label"] == "iot:Publish").unwrap();
    assert_eq!(publish["textEdit"]["range"]["start"]["character"], column(policy, "iot:Pu", 0));
    let resources = server.at("textDocument/completion", "file:///p.json", 0, column(policy, "arn\"", 3)).await;
    assert!(labels(&resources).contains(&"arn:aws:iot:region:account:topic/".to_owned()));
    let variables = server.at("textDocument/completion", "file:///p.json", 0, column(policy, "iot:\"]", 4)).await;
    assert!(labels(&variables).contains(&"iot:Connection.Thing.ThingName".to_owned()));
    let operators = server.at("textDocument/completion", "file:///p.json", 0, column(policy, "Str", 3)).await;
    assert!(labels(&operators).contains(&"StringEquals".to_owned()));
}

#[tokio::test]
async fn signature_help_tracks_the_active_parameter() {
    let mut server = Server::start().await;
    let text = "SELECT substring(name, lower(x), ";
    server.open("file:///s.sql", text).await;
    let help = server.at("textDocument/signatureHelp", "file:///s.sql", 0, 33).await;
    assert_eq!(help["signatures"][0]["label"], "substring(text, start, [end])");
    assert_eq!(help["activeParameter"], 2);
    assert_eq!(help["signatures"][0]["parameters"][2]["label"], json!([23, 28]));
    let inner = server.at("textDocument/signatureHelp", "file:///s.sql", 0, column(text, "x)", 0)).await;
    assert_eq!(inner["signatures"][0]["label"], "lower(text)");
    assert_eq!(inner["activeParameter"], 0);
}

#[tokio::test]
async fn formatting_rewrites_sql_documents_only() {
    let mut server = Server::start().await;
    let format = |uri: &str| json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}});
    server.open("file:///f.sql", "select a,b from 't' where a>1").await;
    let edits = server.request("textDocument/formatting", format("file:///f.sql")).await;
    assert_eq!(edits[0]["newText"], "SELECT a, b\nFROM 't'\nWHERE a > 1\n");
    assert_eq!(edits[0]["range"]["end"], json!({"line": 0, "character": 29}));
    server.open("file:///broken.sql", "select a, from 't'").await;
    let none = server.request("textDocument/formatting", format("file:///broken.sql")).await;
    assert_eq!(none, Value::Null);
}

#[tokio::test]
async fn document_symbols_outline_each_kind() {
    let mut server = Server::start().await;
    server.open("file:///o.sql", "SET @t = 1 SELECT a AS x, b FROM 'a/#' WHERE a > @t").await;
    let symbols =
        server.request("textDocument/documentSymbol", json!({"textDocument": {"uri": "file:///o.sql"}})).await;
    let names: Vec<&str> = symbols.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["@t", "SELECT", "'a/#'", "WHERE"]);
    let items: Vec<&str> =
        symbols[1]["children"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(items, ["x", "b"]);

    server.open("file:///r.json", r#"{"ruleName": "hot", "sql": "SELECT a FROM 't'"}"#).await;
    let rule = server.request("textDocument/documentSymbol", json!({"textDocument": {"uri": "file:///r.json"}})).await;
    assert_eq!(rule[0]["name"], "hot");
    assert_eq!(rule[0]["children"][0]["name"], "SELECT");

    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "pub", "Effect": "Allow"}, {"Effect": "Deny"}]}"#;
    server.open("file:///p.json", policy).await;
    let statements =
        server.request("textDocument/documentSymbol", json!({"textDocument": {"uri": "file:///p.json"}})).await;
    let names: Vec<&str> = statements.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pub", "Statement 2"]);
}
