//! Base-protocol frames: a header block of `Name: value` lines ended by an empty line, all
//! separated by `\r\n`, then exactly `Content-Length` bytes of body.
//!
//! The reader is fed bytes as they arrive and hands out whole bodies. A header block it cannot
//! use is reported once, then the reader skips to the next `Content-Length` header: without a
//! length there is no way to tell where the body ends.

use std::fmt;

/// The longest header block, blank line included. Real ones are under 100 bytes; the limit
/// lets garbage without a blank line be recognised as garbage instead of buffered forever.
pub(crate) const MAX_HEADER_BYTES: usize = 8 * 1024;

/// What resynchronisation looks for, compared without regard to case.
const RESYNC: &[u8] = b"content-length";

/// An incremental frame reader.
#[derive(Debug)]
pub(crate) struct FrameReader {
    buffer: Vec<u8>,
    /// Where the unread part of `buffer` begins; consumed bytes are dropped on the next `extend`
    /// so a body can be lent out without a copy.
    start: usize,
    state: State,
    max_body: usize,
}

/// What the reader found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// The body of one frame, not yet checked in any way.
    Frame(&'a [u8]),
    /// Input that is not a usable frame; the reader is skipping to the next `Content-Length`.
    Malformed(Malformed),
}

/// Why input could not be read as a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Malformed {
    NotAHeader { byte: u8 },
    HeaderTooLong,
    BadHeaderLine { line: String },
    MissingContentLength,
    InvalidContentLength { value: String },
    ConflictingContentLength,
    TooLarge { value: String, max: usize },
    TruncatedHeader { received: usize },
    TruncatedBody { expected: usize, received: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body { length: usize },
    Skipping,
}

impl FrameReader {
    /// A reader that refuses bodies longer than `max_body` bytes.
    pub(crate) fn new(max_body: usize) -> FrameReader {
        FrameReader { buffer: Vec::new(), start: 0, state: State::Header, max_body }
    }

    /// Appends bytes read from the input.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buffer.drain(..self.start);
        self.start = 0;
        self.buffer.extend_from_slice(bytes);
    }

    /// The next frame or problem, or `None` when more input is needed.
    pub(crate) fn next_event(&mut self) -> Option<Event<'_>> {
        loop {
            let pending = self.buffer.get(self.start..).unwrap_or_default();
            match self.state {
                State::Body { length } => {
                    if pending.len() < length {
                        return None;
                    }
                    let body = self.start;
                    self.start += length;
                    self.state = State::Header;
                    return self.buffer.get(body..self.start).map(Event::Frame);
                }
                State::Skipping => match find_ignoring_case(pending, RESYNC) {
                    Some(at) => {
                        self.start += at;
                        self.state = State::Header;
                    }
                    None => {
                        // The tail may be the start of a header split across reads.
                        self.start += pending.len().saturating_sub(RESYNC.len() - 1);
                        return None;
                    }
                },
                State::Header => match parse_header(pending, self.max_body)? {
                    Ok(Header { length, header_bytes }) => {
                        self.start += header_bytes;
                        self.state = State::Body { length };
                    }
                    Err((problem, skip)) => {
                        self.start += skip;
                        self.state = State::Skipping;
                        return Some(Event::Malformed(problem));
                    }
                },
            }
        }
    }

    /// What was left unfinished when the input ended, if anything.
    pub(crate) fn finish(&self) -> Option<Malformed> {
        let received = self.buffer.len().saturating_sub(self.start);
        match self.state {
            State::Header if received > 0 => Some(Malformed::TruncatedHeader { received }),
            State::Body { length } => Some(Malformed::TruncatedBody { expected: length, received }),
            State::Header | State::Skipping => None,
        }
    }
}

struct Header {
    length: usize,
    header_bytes: usize,
}

/// The header block at the start of `pending`, or why it is unusable and how many bytes to
/// skip before looking for the next `Content-Length`; `None` while it may still be incomplete.
///
/// Skipping one byte lets the search find a header that garbage ran into (`xyzContent-Length`
/// or a stray body followed by a real message). A block with two lengths is skipped whole, or
/// the search would land on its second one.
fn parse_header(pending: &[u8], max_body: usize) -> Option<Result<Header, (Malformed, usize)>> {
    if pending.is_empty() {
        return None;
    }
    let searched = pending.get(..MAX_HEADER_BYTES).unwrap_or(pending);
    let end = searched.windows(4).position(|window| window == b"\r\n\r\n");
    let block = end.and_then(|end| searched.get(..end)).unwrap_or(searched);
    if let Some(&byte) = block.iter().find(|&&byte| !is_header_byte(byte)) {
        return Some(Err((Malformed::NotAHeader { byte }, 1)));
    }
    let Some(end) = end else {
        return (pending.len() >= MAX_HEADER_BYTES).then_some(Err((Malformed::HeaderTooLong, 1)));
    };
    let header_bytes = end + 4;
    // Only printable ASCII and line breaks are left, so the block is UTF-8.
    let text = String::from_utf8_lossy(block);
    let mut length = None;
    for line in text.split("\r\n") {
        let Some((name, value)) =
            line.split_once(':').filter(|(name, _)| is_token(name) && !line.contains(['\r', '\n']))
        else {
            return Some(Err((Malformed::BadHeaderLine { line: line.to_owned() }, 1)));
        };
        // Other headers, `Content-Type` included, change nothing: LSP defines only UTF-8 bodies.
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let value = value.trim_matches([' ', '\t']);
        let parsed = match parse_length(value, max_body) {
            Ok(parsed) => parsed,
            Err(problem) => return Some(Err((problem, 1))),
        };
        if length.is_some_and(|previous| previous != parsed) {
            return Some(Err((Malformed::ConflictingContentLength, header_bytes)));
        }
        length = Some(parsed);
    }
    Some(length.map(|length| Header { length, header_bytes }).ok_or((Malformed::MissingContentLength, 1)))
}

fn parse_length(value: &str, max_body: usize) -> Result<usize, Malformed> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Malformed::InvalidContentLength { value: value.to_owned() });
    }
    value
        .parse::<usize>()
        .ok()
        .filter(|&length| length <= max_body)
        .ok_or_else(|| Malformed::TooLarge { value: value.to_owned(), max: max_body })
}

fn is_header_byte(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\r' | b'\n' | b' '..=b'~')
}

/// An HTTP header name (RFC 9110's `token`).
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle))
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NotAHeader { byte } => write!(f, "byte 0x{byte:02x} cannot appear in a header"),
            Malformed::HeaderTooLong => write!(f, "no end of header within {MAX_HEADER_BYTES} bytes"),
            Malformed::BadHeaderLine { line } => write!(f, "header line `{line}` is not `Name: value`"),
            Malformed::MissingContentLength => write!(f, "header without `Content-Length`"),
            Malformed::InvalidContentLength { value } => write!(f, "`Content-Length` `{value}` is not a number"),
            Malformed::ConflictingContentLength => write!(f, "`Content-Length` given twice with different values"),
            Malformed::TooLarge { value, max } => write!(f, "`Content-Length` `{value}` is over the {max}-byte limit"),
            Malformed::TruncatedHeader { received } => {
                write!(f, "input ended inside a header, {received} bytes in")
            }
            Malformed::TruncatedBody { expected, received } => {
                write!(f, "input ended inside a body, {received} of {expected} bytes in")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` whole and then one byte at a time, and requires both to give `expected`:
    /// one line per event, `frame <body>` or `malformed: <problem>`, then `end: <problem>` for
    /// what `finish` reports.
    fn check(input: &[u8], expected: &str) {
        let mut whole = FrameReader::new(64);
        whole.extend(input);
        let mut rendered = drain(&mut whole);
        rendered.extend(whole.finish().map(|problem| format!("end: {problem}")));
        assert_eq!(rendered.join("\n"), expected, "fed at once: {}", input.escape_ascii());

        let mut bytewise = FrameReader::new(64);
        let mut rendered = Vec::new();
        for byte in input {
            bytewise.extend(std::slice::from_ref(byte));
            rendered.extend(drain(&mut bytewise));
        }
        rendered.extend(bytewise.finish().map(|problem| format!("end: {problem}")));
        assert_eq!(rendered.join("\n"), expected, "fed bytewise: {}", input.escape_ascii());
    }

    fn drain(reader: &mut FrameReader) -> Vec<String> {
        let mut rendered = Vec::new();
        while let Some(event) = reader.next_event() {
            rendered.push(match event {
                Event::Frame(body) => format!("frame {}", body.escape_ascii()),
                Event::Malformed(problem) => format!("malformed: {problem}"),
            });
        }
        rendered
    }

    #[test]
    fn well_formed_frames() {
        check(b"Content-Length: 2\r\n\r\n{}Content-Length: 3\r\n\r\n[1]", "frame {}\nframe [1]");
        check(b"content-length:2\r\n\r\n{}", "frame {}");
        check(b"CONTENT-LENGTH: \t2 \r\n\r\n{}", "frame {}");
        check(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}", "frame {}");
        check(b"Content-Length: 2\r\nContent-Type: text/plain; charset=latin1\r\n\r\n{}", "frame {}");
        check(b"Content-Length: 2\r\nX-Other: ignored\r\nContent-Length: 02\r\n\r\n{}", "frame {}");
        check(b"Content-Length: 0\r\n\r\n", "frame ");
        check(b"Content-Length: 64\r\n\r\n", "end: input ended inside a body, 0 of 64 bytes in");
        check("Content-Length: 2\r\n\r\né".as_bytes(), r"frame \xc3\xa9");
        check(b"Content-Length: 5\r\n\r\n\xff\xfe{}\x00", r"frame \xff\xfe{}\x00");
    }

    #[test]
    fn unusable_headers_skip_to_the_next_content_length() {
        let next = "Content-Length: 2\r\n\r\n{}";
        let cases = [
            ("Content-Type: x\r\n\r\n{\"id\":1}", "malformed: header without `Content-Length`"),
            ("Content-Length: twelve\r\n\r\n{}", "malformed: `Content-Length` `twelve` is not a number"),
            ("Content-Length: -2\r\n\r\n{}", "malformed: `Content-Length` `-2` is not a number"),
            ("Content-Length: +2\r\n\r\n{}", "malformed: `Content-Length` `+2` is not a number"),
            ("Content-Length: 2 2\r\n\r\n{}", "malformed: `Content-Length` `2 2` is not a number"),
            ("Content-Length:\r\n\r\n{}", "malformed: `Content-Length` `` is not a number"),
            ("Content-Length: 65\r\n\r\n{}", "malformed: `Content-Length` `65` is over the 64-byte limit"),
            (
                "Content-Length: 99999999999999999999999\r\n\r\n",
                "malformed: `Content-Length` `99999999999999999999999` is over the 64-byte limit",
            ),
            (
                "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
                "malformed: `Content-Length` given twice with different values",
            ),
            ("hello\r\n\r\n", "malformed: header line `hello` is not `Name: value`"),
            ("Content Length: 2\r\n\r\n{}", "malformed: header line `Content Length: 2` is not `Name: value`"),
            ("Content-Length: 2\n\r\n\r\n{}", "malformed: header line `Content-Length: 2\n` is not `Name: value`"),
            ("\r\n", "malformed: header line `` is not `Name: value`"),
            ("\u{1}garbage", "malformed: byte 0x01 cannot appear in a header"),
            ("Content-Length: 2\u{7f}\r\n\r\n{}", "malformed: byte 0x7f cannot appear in a header"),
            (
                "{\"jsonrpc\":\"2.0\"}",
                "malformed: header line `{\"jsonrpc\":\"2.0\"}Content-Length: 2` is not `Name: value`",
            ),
            ("xyz", "malformed: header without `Content-Length`"),
        ];
        for (malformed, expected) in cases {
            check(format!("{malformed}{next}").as_bytes(), &format!("{expected}\nframe {{}}"));
        }
    }

    #[test]
    fn a_header_without_an_end_is_garbage_once_it_is_too_long() {
        let mut input = vec![b'a'; MAX_HEADER_BYTES];
        input.extend(b"Content-Length: 2\r\n\r\n{}");
        check(&input, "malformed: no end of header within 8192 bytes\nframe {}");
        check(&input[..MAX_HEADER_BYTES - 1], "end: input ended inside a header, 8191 bytes in");
    }

    #[test]
    fn resynchronisation_ignores_case_and_read_boundaries() {
        check(b"\xffcontent-LENGTH: 2\r\n\r\n{}", "malformed: byte 0xff cannot appear in a header\nframe {}");
        check(b"\xffContent-Content-Length: 2\r\n\r\n{}", "malformed: byte 0xff cannot appear in a header\nframe {}");
        // Garbage that only looks like a header at the end of input is not a message.
        check(
            b"\xffContent-Length",
            "malformed: byte 0xff cannot appear in a header\nend: input ended inside a header, 14 bytes in",
        );
    }

    #[test]
    fn input_ending_inside_a_frame() {
        check(b"Content-Length: 10\r\n\r\n{\"a\"", "end: input ended inside a body, 4 of 10 bytes in");
        check(b"Content-Length: 10\r\n", "end: input ended inside a header, 20 bytes in");
        check(b"Content-Length: 2\r\n\r\n{}\r\n", "frame {}\nend: input ended inside a header, 2 bytes in");
        check(b"\xff\xfe", "malformed: byte 0xff cannot appear in a header");
    }

    #[test]
    fn a_declared_length_allocates_nothing_before_its_bytes_arrive() {
        let mut reader = FrameReader::new(64 * 1024 * 1024);
        reader.extend(b"Content-Length: 67108864\r\n\r\n{");
        assert_eq!(reader.next_event(), None);
        assert!(reader.buffer.capacity() < 1024, "{}", reader.buffer.capacity());
    }

    #[test]
    fn consumed_input_is_released() {
        let mut reader = FrameReader::new(64);
        for _ in 0..1000 {
            reader.extend(b"Content-Length: 2\r\n\r\n{}");
            assert_eq!(reader.next_event(), Some(Event::Frame(b"{}")));
            assert_eq!(reader.next_event(), None);
        }
        reader.extend(b"");
        assert!(reader.buffer.is_empty());
    }
}
