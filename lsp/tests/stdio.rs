//! The real `iotrules-lsp` binary, driven over standard input and output as an editor drives
//! it: `Content-Length` framed JSON-RPC from initialize to exit.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Connection {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Connection {
    fn start() -> Connection {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iotrules-lsp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the language server starts");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Connection { child, input, output }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.input.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut line = String::new();
            assert!(self.output.read_line(&mut line).unwrap() > 0, "the server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = Some(value.parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        self.output.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// The next message that answers request `id` or is notification `method`.
    fn receive_matching(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self.receive();
            if wanted(&message) {
                return message;
            }
        }
    }
}

#[test]
fn editor_session_over_stdio() {
    let mut server = Connection::start();
    server.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}));
    let initialized = server.receive_matching(|message| message["id"] == 1);
    assert_eq!(initialized["result"]["serverInfo"]["name"], "iotrules-lsp");
    server.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));

    let text = "SELECT 😀 AS e, lenght(a) AS n FROM 'a/#'";
    server.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": "file:///broken.sql", "languageId": "iotsql", "version": 1, "text": text}}}));
    let published = server.receive_matching(|message| message["method"] == "textDocument/publishDiagnostics");
    let diagnostics = published["params"]["diagnostics"].as_array().unwrap();
    let unknown = diagnostics.iter().find(|d| d["code"] == "iotsql::unknown_function").expect("lenght is reported");
    // `😀` is two UTF-16 units: `lenght` starts at column 16, byte 18.
    assert_eq!(unknown["range"]["start"], json!({"line": 0, "character": 16}));

    server.send(json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": "file:///broken.sql"}, "position": {"line": 0, "character": 1}}}));
    let hover = server.receive_matching(|message| message["id"] == 2);
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().starts_with("**SELECT**"), "{hover}");

    server.send(json!({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}));
    let shutdown = server.receive_matching(|message| message["id"] == 3);
    assert_eq!(shutdown["result"], Value::Null);
    server.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    drop(server.input);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}
