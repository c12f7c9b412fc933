//! The LSP base protocol on standard input and output, in front of tower-lsp-server.
//!
//! tower-lsp-server's own codec ends its input stream at the first message it cannot decode,
//! and the server then exits as if the editor had closed the pipe. So the client's bytes are
//! read here first: frames by `frame::FrameReader`, bodies judged by `message::judge`.
//! Well-formed messages reach tower-lsp-server through an in-memory pipe; a body that is not
//! JSON gets a Parse error (-32700) and JSON that is not a JSON-RPC message an Invalid Request
//! (-32600), with the message's id when it has a readable one; a header without a usable
//! `Content-Length` cannot be answered (there is no id to answer), so it is logged and
//! skipped up to the next `Content-Length` header. Problems are logged to standard error
//! only: editors show a server's standard error, and `window/logMessage` may not be sent
//! before the client's `initialize`.
//!
//! Invariants:
//! - tower-lsp-server reads only frames written here, each holding the serialization of one of
//!   its own `Request` or `Response` values, so its codec never fails: the session ends at
//!   `exit` or at the end of the input, never because of what the input held.
//! - No length read from the input sizes an allocation. A body is buffered as its bytes arrive,
//!   up to [`MAX_MESSAGE_BYTES`]; a header block, up to `frame::MAX_HEADER_BYTES`.
//! - Standard output receives whole frames only, from one writer, so the server's messages and
//!   the error responses never interleave. An error response leaves before anything the server
//!   says after the next message reached it.
//! - Input that ends inside a frame is logged, and the session ends as at a clean end of input.

mod frame;
mod message;

use std::fmt::Display;
use std::pin::pin;
use std::process::ExitCode;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::Response;
use tower_lsp_server::{ClientSocket, LanguageServer, LspService, Server};

use self::frame::{Event, FrameReader};
use self::message::Verdict;

/// The largest body accepted: far above any rule or policy document an editor sends, while a
/// hostile `Content-Length` can make the server buffer no more than this, and only as the
/// bytes actually arrive.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

const READ_BYTES: usize = 64 * 1024;
const PIPE_BYTES: usize = 64 * 1024;
const PENDING_REPLIES: usize = 16;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The client sent `exit`.
    Exit {
        /// Whether a `shutdown` request came first.
        after_shutdown: bool,
    },
    /// The input ended without `exit`.
    EndOfInput,
}

impl Ending {
    /// The status LSP prescribes for `exit`: success only after `shutdown`. At the end of the
    /// input LSP prescribes nothing, and tower-lsp-server's success is kept.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Ending::Exit { after_shutdown: false } => ExitCode::FAILURE,
            Ending::Exit { after_shutdown: true } | Ending::EndOfInput => ExitCode::SUCCESS,
        }
    }
}

/// Serves `service` to the client on `input` and `output` until the client sends `exit` or
/// closes `input`.
pub async fn serve<S, I, O>(input: I, output: O, service: LspService<S>, socket: ClientSocket) -> Ending
where
    S: LanguageServer,
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    // Pipes that close when either end is dropped, so the server sees the end of the input.
    let (server_input, to_server) = tokio::io::duplex(PIPE_BYTES);
    let (from_server, server_output) = tokio::io::duplex(PIPE_BYTES);
    let (replies, pending_replies) = mpsc::channel(PENDING_REPLIES);
    let reading = async {
        let mut serving = pin!(Server::new(server_input, server_output, socket).serve(service));
        let mut filtering = pin!(read_input(input, to_server, replies));
        tokio::select! {
            // Finishing drops the pipe into the server, which then drains and stops.
            ending = &mut filtering => {
                serving.await;
                ending
            }
            // The server stops only after `exit`, which ends the filter first; should that
            // change, reading on would keep the process alive for nothing.
            () = &mut serving => Ending::EndOfInput,
        }
    };
    let (ending, ()) = tokio::join!(reading, write_output(from_server, pending_replies, output));
    ending
}

/// Passes the client's well-formed messages to the server and answers or logs the rest, until
/// the input ends or `exit` has been passed on.
async fn read_input(
    mut input: impl AsyncRead + Unpin,
    mut to_server: impl AsyncWrite + Unpin,
    replies: mpsc::Sender<Response>,
) -> Ending {
    let mut reader = FrameReader::new(MAX_MESSAGE_BYTES);
    let mut chunk = vec![0; READ_BYTES];
    let mut after_shutdown = false;
    loop {
        while let Some(event) = reader.next_event() {
            let (message, exit) = match event {
                Event::Frame(body) => match message::judge(body) {
                    Verdict::Request(request) => {
                        after_shutdown |= request.method() == "shutdown" && request.id().is_some();
                        (serde_json::to_vec(&request), request.method() == "exit")
                    }
                    Verdict::Response(response) => (serde_json::to_vec(&response), false),
                    Verdict::Reject(response) => {
                        if let Some(error) = response.error() {
                            log(format_args!("answered error {} to a message: {}", error.code, error.message));
                        }
                        // Only fails once standard output is gone, and then nobody is listening.
                        let _ = replies.send(response).await;
                        continue;
                    }
                },
                Event::Malformed(problem) => {
                    log(format_args!("{problem}; skipping to the next `Content-Length` header"));
                    continue;
                }
            };
            let written = match message {
                Ok(message) => write_frame(&mut to_server, &message).await,
                Err(error) => Err(error.into()),
            };
            if let Err(error) = written {
                log(format_args!("cannot pass a message on to the server: {error}"));
                return Ending::EndOfInput;
            }
            if exit {
                return Ending::Exit { after_shutdown };
            }
        }
        match input.read(&mut chunk).await {
            Ok(0) => break,
            Ok(read) => reader.extend(chunk.get(..read).unwrap_or_default()),
            Err(error) => {
                log(format_args!("cannot read standard input: {error}"));
                break;
            }
        }
    }
    if let Some(problem) = reader.finish() {
        log(problem);
    }
    Ending::EndOfInput
}

/// Writes the server's messages and the error responses to `output`, whole frames at a time.
async fn write_output(
    mut from_server: impl AsyncRead + Unpin,
    mut replies: mpsc::Receiver<Response>,
    output: impl AsyncWrite + Unpin,
) {
    let mut output = BufWriter::new(output);
    // The server's own output is trusted: its size is not limited.
    let mut reader = FrameReader::new(usize::MAX);
    let mut chunk = vec![0; READ_BYTES];
    let (mut server_open, mut replies_open) = (true, true);
    loop {
        let written = tokio::select! {
            // Replies first: each was queued before the server saw any later message.
            biased;
            reply = replies.recv(), if replies_open => match reply {
                Some(reply) => match serde_json::to_vec(&reply) {
                    Ok(reply) => write_frame(&mut output, &reply).await,
                    Err(error) => Err(error.into()),
                },
                None => {
                    replies_open = false;
                    Ok(())
                }
            },
            read = from_server.read(&mut chunk), if server_open => match read {
                Ok(0) | Err(_) => {
                    server_open = false;
                    Ok(())
                }
                Ok(read) => {
                    reader.extend(chunk.get(..read).unwrap_or_default());
                    let mut written = Ok(());
                    while let Some(event) = reader.next_event() {
                        match event {
                            Event::Frame(body) => written = write_frame(&mut output, body).await,
                            Event::Malformed(problem) => log(format_args!("the server wrote {problem}")),
                        }
                        if written.is_err() {
                            break;
                        }
                    }
                    written
                }
            },
            else => break,
        };
        if let Err(error) = written {
            log(format_args!("cannot write standard output: {error}"));
            return;
        }
    }
}

async fn write_frame(output: &mut (impl AsyncWrite + Unpin), body: &[u8]) -> std::io::Result<()> {
    output.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()).await?;
    output.write_all(body).await?;
    output.flush().await
}

fn log(message: impl Display) {
    eprintln!("iotrules-lsp: {message}");
}
