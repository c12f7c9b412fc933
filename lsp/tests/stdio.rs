//! The real `iotrules-lsp` binary, driven over standard input and output as an editor drives
//! it: `Content-Length` framed JSON-RPC from initialize to exit, and malformed input in the
//! middle of a session, which is answered or logged and never ends it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Only there so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

struct Connection {
    child: Child,
    input: Option<ChildStdin>,
    messages: Receiver<Value>,
    log: Option<JoinHandle<String>>,
}

impl Connection {
    fn start() -> Connection {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iotrules-lsp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the language server starts");
        let input = child.stdin.take();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            while let Some(message) = read_message(&mut output) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            stderr.read_to_string(&mut log).unwrap();
            log
        });
        Connection { child, input, messages, log: Some(log) }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        self.send_raw(&frame(body.as_bytes()));
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let input = self.input.as_mut().expect("input is open");
        input.write_all(bytes).unwrap();
        input.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        match self.messages.recv_timeout(PATIENCE) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server in {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
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

    fn initialize(&mut self) {
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}));
        let initialized = self.receive();
        assert_eq!(initialized["id"], 1, "{initialized}");
        assert_eq!(initialized["result"]["serverInfo"]["name"], "iotrules-lsp");
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    }

    /// Opens an SQL document and reads the diagnostics it publishes.
    fn open(&mut self, uri: &str, text: &str) -> Value {
        self.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "iotsql", "version": 1, "text": text}}}));
        let published = self.receive();
        assert_eq!(published["method"], "textDocument/publishDiagnostics", "{published}");
        published
    }

    /// Asks for hover at line 0 of `uri` and requires the very next message to answer it.
    fn hover(&mut self, id: i64, uri: &str, character: u32) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 0, "character": character}}}));
        let hover = self.receive();
        assert_eq!(hover["id"], id, "{hover}");
        hover
    }

    fn assert_alive(&mut self) {
        assert!(self.child.try_wait().unwrap().is_none(), "the server exited early");
    }

    /// Shuts the server down as an editor does, and returns how it exited and what it logged.
    fn shutdown_and_exit(mut self, id: i64) -> (ExitStatus, String) {
        self.assert_alive();
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "shutdown"}));
        let shutdown = self.receive_matching(|message| message["id"] == id);
        assert_eq!(shutdown["result"], Value::Null, "{shutdown}");
        self.assert_alive();
        self.send(json!({"jsonrpc": "2.0", "method": "exit"}));
        self.wait()
    }

    fn close_input_and_wait(mut self) -> (ExitStatus, String) {
        drop(self.input.take());
        self.wait()
    }

    /// Waits for the server to exit with its input left open, as some editors leave it.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.log.take().unwrap().join().unwrap())
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame
}

fn read_message(output: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if output.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = Some(value.parse::<usize>().unwrap());
        }
    }
    let mut body = vec![0; length.expect("a Content-Length header")];
    output.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap())
}

#[test]
fn editor_session_over_stdio() {
    let mut server = Connection::start();
    server.initialize();

    let text = "SELECT 😀 AS e, lenght(a) AS n FROM 'a/#'";
    let published = server.open("file:///broken.sql", text);
    let diagnostics = published["params"]["diagnostics"].as_array().unwrap();
    let unknown = diagnostics.iter().find(|d| d["code"] == "iotsql::unknown_function").expect("lenght is reported");
    // `😀` is two UTF-16 units: `lenght` starts at column 16, byte 18.
    assert_eq!(unknown["range"]["start"], json!({"line": 0, "character": 16}));

    let hover = server.hover(2, "file:///broken.sql", 1);
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().starts_with("**SELECT**"), "{hover}");

    let (status, log) = server.shutdown_and_exit(3);
    assert!(status.success(), "{status}\n{log}");
}

/// What the server owes the client for one malformed input.
enum Owed {
    /// An error response with this code and id.
    Error(i64, Value),
    /// Nothing: no id can be read, so only the log says what happened.
    Nothing,
}

/// Sends `malformed` in the middle of a session, and requires the error response it is owed
/// (and nothing else), a log line containing `logged`, answers to the requests that follow, and
/// a normal shutdown.
fn check_mid_session(malformed: &[u8], owed: Owed, logged: &str) {
    let mut server = Connection::start();
    server.initialize();
    server.open("file:///a.sql", "SELECT a FROM 'a/b'");

    server.send_raw(malformed);
    if let Owed::Error(code, id) = owed {
        let error = server.receive();
        assert_eq!(error["error"]["code"], code, "{error}");
        assert_eq!(error["id"], id, "{error}");
        assert_eq!(error["jsonrpc"], "2.0", "{error}");
    }
    server.assert_alive();
    let hover = server.hover(2, "file:///a.sql", 1);
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().starts_with("**SELECT**"), "{hover}");

    let (status, log) = server.shutdown_and_exit(3);
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains(logged), "`{logged}` is not in the log:\n{log}");
}

/// A request the server would answer with id 7 if it ever read it.
const SHUTDOWN_7: &str = r#"{"jsonrpc":"2.0","id":7,"method":"shutdown"}"#;

#[test]
fn a_body_that_is_not_json_gets_a_parse_error() {
    check_mid_session(&frame(br#"{"jsonrpc":"2.0","id":7,"#), Owed::Error(-32700, Value::Null), "Parse error");
}

#[test]
fn a_body_with_invalid_utf8_gets_a_parse_error() {
    let body = b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"shut\xffdown\"}";
    check_mid_session(&frame(body), Owed::Error(-32700, Value::Null), "invalid UTF-8");
}

#[test]
fn a_batch_gets_one_invalid_request() {
    let batch = format!("[{SHUTDOWN_7},{}]", SHUTDOWN_7.replace('7', "8"));
    check_mid_session(&frame(batch.as_bytes()), Owed::Error(-32600, Value::Null), "batches are not supported");
}

#[test]
fn an_object_without_jsonrpc_gets_an_invalid_request_with_its_id() {
    let body = br#"{"id":7,"method":"shutdown"}"#;
    check_mid_session(&frame(body), Owed::Error(-32600, json!(7)), "`jsonrpc` must be \"2.0\"");
}

#[test]
fn a_header_without_content_length_is_skipped() {
    let malformed = format!("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{SHUTDOWN_7}");
    check_mid_session(malformed.as_bytes(), Owed::Nothing, "header without `Content-Length`");
}

#[test]
fn a_content_length_that_is_not_a_number_is_skipped() {
    let malformed = format!("Content-Length: forty\r\n\r\n{SHUTDOWN_7}");
    check_mid_session(malformed.as_bytes(), Owed::Nothing, "`Content-Length` `forty` is not a number");
}

#[test]
fn a_content_length_over_the_limit_is_skipped() {
    let malformed = format!("Content-Length: {}\r\n\r\n{SHUTDOWN_7}", 64 * 1024 * 1024 + 1);
    check_mid_session(malformed.as_bytes(), Owed::Nothing, "`67108865` is over the 67108864-byte limit");
}

#[test]
fn a_mebibyte_of_random_bytes_is_skipped() {
    // xorshift64, seeded: the same bytes on every run.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let garbage: Vec<u8> = (0..1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    check_mid_session(&garbage, Owed::Nothing, "skipping to the next `Content-Length` header");
}

#[test]
fn malformed_input_before_initialize_is_answered_too() {
    let mut server = Connection::start();
    server.send_raw(&frame(b"not json"));
    server.send_raw(&frame(br#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"capabilities":{}},"#));
    server.send_raw(&frame(br#"[]"#));
    for code in [-32700, -32700, -32600] {
        let error = server.receive();
        assert_eq!(error["error"]["code"], code, "{error}");
        assert_eq!(error["id"], Value::Null, "{error}");
    }
    server.initialize();
    let (status, log) = server.shutdown_and_exit(2);
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn a_body_cut_short_by_the_end_of_input_ends_the_session_cleanly() {
    let mut server = Connection::start();
    server.initialize();
    server.open("file:///a.sql", "SELECT a FROM 'a/b'");
    server.hover(2, "file:///a.sql", 1);
    server.send_raw(b"Content-Length: 100\r\n\r\n{\"jsonrpc\":\"2.0\",");
    server.assert_alive();
    let (status, log) = server.close_input_and_wait();
    // What tower-lsp-server does at the end of input without `exit`, cut short or not.
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("input ended inside a body, 17 of 100 bytes in"), "{log}");
}

#[test]
fn exit_without_shutdown_is_a_failure() {
    let mut server = Connection::start();
    server.initialize();
    server.send_raw(&frame(b"not json"));
    assert_eq!(server.receive()["error"]["code"], -32700);
    server.assert_alive();
    server.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    let (status, log) = server.wait();
    assert_eq!(status.code(), Some(1), "{log}");
}

/// `iotrules.toml` in a document's folder or above sets the SQL version of `.sql` documents and
/// the codes not reported for some paths, as for `iotrules check`; a change to the file on disk
/// applies at once, and its mistakes are published on it in the words `iotrules check` uses.
#[test]
fn iotrules_toml_above_a_document_is_honoured() {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().join("scratch-lsp-config");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::create_dir_all(dir.join("legacy")).unwrap();
    let config = dir.join("iotrules.toml");
    std::fs::write(
        &config,
        "sql-version = \"2015-10-08\"\n[[ignore]]\npaths = [\"legacy/**\"]\ncodes = [\"iotsql::duplicate_output_key\"]\n",
    )
    .unwrap();
    let uri = |path: &std::path::Path| format!("file://{}", path.display());
    let (rule, legacy, config_uri) = (uri(&dir.join("rules/a.sql")), uri(&dir.join("legacy/b.sql")), uri(&config));
    let codes = |published: &Value| -> Vec<String> {
        published["params"]["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].to_string()).collect()
    };

    let mut server = Connection::start();
    server.initialize();
    let published = server.open(&rule, "SELECT a FROM 't' WHERE a IN [1, 2]");
    assert!(codes(&published).iter().any(|m| m.contains("2015-10-08 does not have array literals")), "{published}");
    let published = server.open(&legacy, "SELECT a, a FROM 't'");
    assert_eq!(codes(&published), Vec::<String>::new(), "{published}");

    std::fs::write(&config, "[[ignore]]\npaths = [\"x\"]\ncodes = [\"iotsql::duplicate_output_kye\"]\n").unwrap();
    server.send(json!({"jsonrpc": "2.0", "method": "workspace/didChangeWatchedFiles", "params": {
        "changes": [{"uri": config_uri, "type": 2}]}}));
    let published = server.receive_matching(|message| message["params"]["uri"] == config_uri.as_str());
    let mistake = &published["params"]["diagnostics"][0];
    assert!(mistake["message"].as_str().unwrap().contains("did you mean `iotsql::duplicate_output_key`?"), "{mistake}");
    assert_eq!(mistake["range"]["start"], json!({"line": 2, "character": 9}), "{mistake}");
    // The file has mistakes: the defaults apply, as the file's diagnostics say why. Both
    // documents are published again, in either order.
    let mut again = std::collections::HashMap::new();
    while again.len() < 2 {
        let published = server.receive_matching(|message| message["method"] == "textDocument/publishDiagnostics");
        again.insert(published["params"]["uri"].as_str().unwrap().to_owned(), codes(&published));
    }
    assert_eq!(again[&rule], Vec::<String>::new(), "{again:?}");
    assert!(again[&legacy].iter().any(|m| m.contains("`a`")), "{again:?}");

    let (status, log) = server.shutdown_and_exit(9);
    assert!(status.success(), "{status}\n{log}");
}
