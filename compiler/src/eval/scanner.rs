//! A validating JSON scanner, shared by every reader of payloads: the full parse
//! (`json.rs`), and the readers that pick planned parts out of a payload without parsing the
//! rest.

use crate::eval::json::MAX_DEPTH;

/// A validating JSON scanner: RFC 8259's grammar, strings without control characters or lone
/// surrogates (as serde_json reads them), numbers of any magnitude, and fewer than
/// [`MAX_DEPTH`] nested containers.
pub(crate) struct Scanner<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
    pub(crate) depth: usize,
}

/// The scanner stopped: invalid JSON, or nesting too deep (see [`Scanner::too_deep`]).
pub(crate) struct Stop;

impl<'a> Scanner<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, at: 0, depth: 0 }
    }

    #[inline]
    pub(crate) fn too_deep(&self) -> bool {
        self.depth >= MAX_DEPTH
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    pub(crate) fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    #[inline]
    pub(crate) fn eat(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Stop)
        }
    }

    pub(crate) fn value(&mut self) -> Result<(), Stop> {
        match self.peek() {
            Some(b'{') => self.container(b'}', true),
            Some(b'[') => self.container(b']', false),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Stop),
        }
    }

    pub(crate) fn container(&mut self, close: u8, object: bool) -> Result<(), Stop> {
        self.depth += 1;
        if self.too_deep() {
            return Err(Stop);
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if object {
                self.string()?;
                self.skip_whitespace();
                self.eat(b':')?;
                self.skip_whitespace();
            }
            self.value()?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_whitespace();
                }
                Some(byte) if byte == close => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        if self.bytes.get(self.at..self.at + word.len()) == Some(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Stop)
        }
    }

    #[inline]
    pub(crate) fn number(&mut self) -> Result<(), Stop> {
        let digits = |scanner: &mut Self| {
            let rest = scanner.bytes.get(scanner.at..).unwrap_or_default();
            let count = rest.iter().position(|byte| !byte.is_ascii_digit()).unwrap_or(rest.len());
            scanner.at += count;
            count
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(Stop),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(Stop);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(Stop);
            }
        }
        Ok(())
    }

    /// Scans a string; returns its raw body (between the quotes) and whether it has escapes.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<(usize, usize, bool), Stop> {
        self.eat(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            // Most of a string is plain text: skip it eight bytes at a time.
            self.at += plain_prefix(self.bytes.get(self.at..).unwrap_or_default());
            match self.peek() {
                None => return Err(Stop),
                Some(b'"') => {
                    let end = self.at;
                    self.at += 1;
                    return Ok((start, end, escaped));
                }
                Some(0x00..=0x1f) => return Err(Stop),
                Some(b'\\') => {
                    escaped = true;
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 1,
                        Some(b'u') => {
                            self.at += 1;
                            let unit = self.hex4()?;
                            if (0xD800..0xDC00).contains(&unit) {
                                // A high surrogate must be followed by an escaped low one.
                                self.eat(b'\\')?;
                                self.eat(b'u')?;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(Stop);
                                }
                            } else if (0xDC00..0xE000).contains(&unit) {
                                return Err(Stop);
                            }
                        }
                        _ => return Err(Stop),
                    }
                }
                Some(_) => self.at += 1,
            }
        }
    }

    pub(crate) fn hex4(&mut self) -> Result<u32, Stop> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or(Stop)?;
        let text = std::str::from_utf8(digits).map_err(|_| Stop)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(Stop);
        }
        self.at += 4;
        u32::from_str_radix(text, 16).map_err(|_| Stop)
    }
}

/// How many bytes at the start of `text` need no attention inside a JSON string: neither a
/// quote, a backslash nor a control character. Eight bytes are tested at once; the test
/// flags a byte exactly when it is special and every byte before it is not, so the first
/// flag is the first special byte.
#[inline]
fn plain_prefix(text: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut at = 0;
    while let Some(chunk) = text.get(at..at + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let special = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if special != 0 {
            return at + (special.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = text.get(at..).unwrap_or_default();
    at + rest.iter().position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20).unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::plain_prefix;

    #[test]
    fn plain_prefix_stops_at_the_first_special_byte() {
        let naive = |text: &[u8]| {
            text.iter().position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20).unwrap_or(text.len())
        };
        let mut texts: Vec<Vec<u8>> =
            vec![b"".to_vec(), b"plain text, long enough".to_vec(), "h\u{e9}llo w\u{f6}rld!\"".as_bytes().to_vec()];
        for special in [b'"', b'\\', 0x00, 0x1f, 0x01] {
            for position in 0..20 {
                for tail in [b'a', 0x20, 0x7f, 0x80, 0xff, 0x21, 0x00, b'"'] {
                    let mut text = vec![b'x'; 24];
                    text[position] = special;
                    text[position + 1] = tail;
                    if position > 0 {
                        text[position - 1] = tail.clamp(0x20, 0x21);
                    }
                    texts.push(text);
                }
            }
        }
        for byte in 0..=255u8 {
            texts.push(vec![b'a', b'b', b'c', byte, b'd', b'e', b'f', b'g', b'h', byte]);
        }
        for text in &texts {
            assert_eq!(plain_prefix(text), naive(text), "{text:?}");
        }
    }
}
