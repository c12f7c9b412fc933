//! The gateway's WebSocket front: MQTT over WebSocket over TLS, as AWS IoT Core serves it on
//! `wss://<endpoint>/mqtt`. After the handshake the connection is a byte stream like the TLS
//! front's, so the sessions of `v4.rs` and `v5.rs` run over it unchanged.
//!
//! INVARIANTS:
//! - Only a GET of `/mqtt` (with any query, as presigned URLs carry) offering the `mqtt`
//!   subprotocol is upgraded; anything else gets an HTTP error and is closed.
//! - A frame or message larger than the largest MQTT packet the gateway reads is refused by
//!   the WebSocket layer before it is buffered.
//! - Text frames close the connection: MQTT travels in binary frames.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

/// The path AWS IoT Core serves MQTT over WebSocket on.
const PATH: &str = "/mqtt";

/// The subprotocol MQTT over WebSocket is spoken under (MQTT 3.1.1 and 5, section 6).
const SUBPROTOCOL: &str = "mqtt";

/// Upgrades `stream` to a WebSocket carrying MQTT, and returns it as a byte stream.
pub(super) async fn accept<S>(stream: S, max_packet: usize) -> Result<WebSocketBytes<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default().max_message_size(Some(max_packet)).max_frame_size(Some(max_packet));
    let socket = tokio_tungstenite::accept_hdr_async_with_config(stream, upgrade, Some(config))
        .await
        .map_err(|error| format!("WebSocket handshake: {error}"))?;
    Ok(WebSocketBytes { socket, pending: Bytes::new() })
}

/// Decides a WebSocket upgrade request: the path and the subprotocol (see the invariants).
#[expect(clippy::result_large_err, reason = "the signature tungstenite's callback has")]
fn upgrade(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() != PATH {
        return Err(refusal(StatusCode::NOT_FOUND, format!("MQTT over WebSocket is served on {PATH}")));
    }
    let offered = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(SUBPROTOCOL));
    if !offered {
        return Err(refusal(StatusCode::BAD_REQUEST, format!("offer the WebSocket subprotocol `{SUBPROTOCOL}`")));
    }
    response.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(SUBPROTOCOL));
    Ok(response)
}

fn refusal(status: StatusCode, body: String) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(body));
    *response.status_mut() = status;
    response
}

/// A WebSocket read and written as the bytes of its binary messages: each write is one
/// message (the gateway writes whole packets), reads run across message boundaries, as MQTT
/// over WebSocket allows packets to span messages.
pub(super) struct WebSocketBytes<S> {
    socket: WebSocketStream<S>,
    /// What is left of the last message read.
    pending: Bytes,
}

fn io_error(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        error => io::Error::other(error),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocketBytes<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let take = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..take]);
                self.pending.advance(take);
                return Poll::Ready(Ok(()));
            }
            // Pings are answered by tungstenite itself; pongs and raw frames carry nothing.
            match ready!(Pin::new(&mut self.socket).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text frame: MQTT over WebSocket is sent in binary frames",
                    )));
                }
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocketBytes<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.socket).poll_ready(cx)).map_err(io_error)?;
        Pin::new(&mut self.socket).start_send(Message::Binary(Bytes::copy_from_slice(buf))).map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.socket).poll_close(cx)) {
            Ok(()) | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Poll::Ready(Ok(()))
            }
            Err(error) => Poll::Ready(Err(io_error(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn request(path: &str, protocols: Option<&str>) -> Request {
        let mut request = Request::builder().uri(path);
        if let Some(protocols) = protocols {
            request = request.header("Sec-WebSocket-Protocol", protocols);
        }
        request.body(()).unwrap()
    }

    #[test]
    fn only_mqtt_on_its_path_is_upgraded() {
        let answer = upgrade(&request("/mqtt?X-Amz-Signature=abc", Some("mqttv3.1, mqtt")), Response::default());
        let answered = answer.ok().and_then(|response| response.headers().get("sec-websocket-protocol").cloned());
        assert_eq!(answered, Some(HeaderValue::from_static("mqtt")));
        let status = |request: Request| upgrade(&request, Response::default()).err().map(|error| error.status());
        assert_eq!(status(request("/", Some("mqtt"))), Some(StatusCode::NOT_FOUND));
        assert_eq!(status(request("/mqtt", None)), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status(request("/mqtt", Some("chat"))), Some(StatusCode::BAD_REQUEST));
    }

    /// Bytes written on one side arrive on the other across message boundaries, and a text
    /// frame is refused.
    #[tokio::test]
    async fn messages_read_as_one_byte_stream() {
        let (server, client) = tokio::io::duplex(4096);
        let role = tungstenite::protocol::Role::Client;
        let client = tokio::spawn(async move {
            let mut client = WebSocketStream::from_raw_socket(client, role, None).await;
            use futures_util::SinkExt;
            for part in [&b"\x10\x13\x00\x04MQ"[..], b"TT", b"\x04\x02"] {
                let _ = client.send(Message::Binary(Bytes::copy_from_slice(part))).await;
            }
            let _ = client.send(Message::Text("{}".into())).await;
            client
        });
        let socket = WebSocketStream::from_raw_socket(server, tungstenite::protocol::Role::Server, None).await;
        let mut bytes = WebSocketBytes { socket, pending: Bytes::new() };
        let mut read = [0u8; 10];
        let mut filled = 0;
        while filled < read.len() {
            filled += bytes.read(&mut read[filled..]).await.unwrap_or(0);
        }
        assert_eq!(&read, b"\x10\x13\x00\x04MQTT\x04\x02");
        let error = bytes.read(&mut [0u8; 4]).await.err().map(|error| error.kind());
        assert_eq!(error, Some(io::ErrorKind::InvalidData));
        let _ = bytes.write_all(b"\x20\x02\x00\x00").await;
        let _ = bytes.flush().await;
        let mut client = client.await.unwrap();
        use futures_util::StreamExt;
        let answer = client.next().await.and_then(Result::ok);
        assert_eq!(answer, Some(Message::Binary(Bytes::from_static(b"\x20\x02\x00\x00"))));
    }
}
