//! CloudFormation templates in YAML, read into JSON text with a way back.
//!
//! A YAML template is turned into the JSON template CloudFormation would read (short-form
//! tags such as `!Sub` become the `{"Fn::Sub": ...}` objects they stand for), and every
//! offset of that JSON text can be mapped back to the YAML source: each node keeps the byte
//! range it came from, and each string keeps, for every byte of its value, the byte of the
//! source it was read from. So the JSON template checker runs unchanged and its diagnostics
//! land on the YAML text.
//!
//! Folded (`>`) and multi-line plain or quoted scalars join lines: a space or line break of
//! the value that stands for a line break of the source maps to that line break, and every
//! other character to itself, so columns stay exact inside block scalars too. A value whose
//! characters cannot be found in its source in order (which YAML's rules should never
//! produce) maps every offset to the scalar's start.
//!
//! INVARIANT: hostile input is bounded, never followed: a template over [`MAX_BYTES`],
//! nested deeper than [`MAX_DEPTH`], or whose aliases expand to more than [`MAX_JSON_BYTES`]
//! of JSON is an error, found before that much work is done (aliases are shared, not copied,
//! while the tree is built).

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::span::Span;

/// The largest YAML template read; CloudFormation itself takes at most 1 MB.
pub(crate) const MAX_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting read, counting aliases expanded.
pub(crate) const MAX_DEPTH: usize = 128;
/// The most JSON a template may expand to through its aliases.
pub(crate) const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// Why a YAML template cannot be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub(crate) span: Span,
    pub(crate) message: String,
    pub(crate) help: &'static str,
}

/// A YAML node with the byte range of its source (tag and anchor included).
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) span: Span,
    /// A CloudFormation short-form function (`!Sub` is `Fn::Sub`, `!Ref` is `Ref`).
    pub(crate) function: Option<String>,
    pub(crate) value: Value,
}

#[derive(Debug)]
pub(crate) enum Value {
    /// `content` is the scalar's own text: after its tag and anchor, and for a block scalar
    /// after its header line.
    Scalar {
        text: String,
        style: ScalarStyle,
        content: Span,
    },
    Sequence(Vec<Rc<Node>>),
    Mapping(Vec<(Rc<Node>, Rc<Node>)>),
    /// An alias, sharing the node its anchor names.
    Alias(Rc<Node>),
}

impl Node {
    /// The value of `key` in a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.resolved().value {
            Value::Mapping(entries) => {
                entries.iter().find(|(name, _)| name.as_str() == Some(key)).map(|(_, value)| value.as_ref())
            }
            _ => None,
        }
    }

    /// The text of a scalar (not a function).
    pub(crate) fn as_str(&self) -> Option<&str> {
        let node = self.resolved();
        match &node.value {
            Value::Scalar { text, .. } if node.function.is_none() => Some(text),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub(crate) fn entries(&self) -> &[(Rc<Node>, Rc<Node>)] {
        match &self.resolved().value {
            Value::Mapping(entries) => entries,
            _ => &[],
        }
    }

    fn resolved(&self) -> &Node {
        // An alias never names another alias: anchors are set on the nodes they mark.
        match &self.value {
            Value::Alias(target) => target,
            _ => self,
        }
    }
}

/// Parses the first document of `text` into a tree.
pub(crate) fn parse(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_BYTES {
        return Err(YamlError {
            span: Span::new(0, 0),
            message: format!("template is larger than {} MiB", MAX_BYTES / (1024 * 1024)),
            help: "CloudFormation takes templates of at most 1 MB",
        });
    }
    let offsets = ByteOffsets::new(text);
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    let mut root = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| {
            let at = offsets.byte(error.marker().index());
            if error.info() == "recursion limit exceeded" {
                return too_deep(at);
            }
            YamlError {
                span: Span::new(at, at),
                message: format!("invalid YAML: {}", error.info()),
                help: "a CloudFormation template must be valid YAML (or JSON)",
            }
        })?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index());
        let node = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let end = start + text.get(start..end).map_or(0, |s| s.trim_end().len());
                let node = Node {
                    span: Span::new(start, end),
                    function: tag.as_deref().and_then(function_of),
                    value: Value::Scalar {
                        text: value.into_owned(),
                        style,
                        content: Span::new(content_start(text, start, end, style), end),
                    },
                };
                anchored(&mut anchors, anchor, node)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) if open.len() >= MAX_DEPTH => {
                let _ = (anchor, tag);
                return Err(too_deep(start));
            }
            Event::SequenceStart(anchor, tag) => {
                let function = tag.as_deref().and_then(function_of);
                open.push(Open { start, function, anchor, mapping: false, items: Vec::new() });
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                let function = tag.as_deref().and_then(function_of);
                open.push(Open { start, function, anchor, mapping: true, items: Vec::new() });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(Open { start, function, anchor, mapping, items }) = open.pop() else { continue };
                let last = items.last().map_or(start, |item| item.span.end);
                let end = if end > start && text.get(end.saturating_sub(1)..end).is_some_and(|c| c == "]" || c == "}") {
                    end
                } else {
                    last
                };
                let value = if mapping {
                    let mut entries = Vec::with_capacity(items.len() / 2);
                    let mut items = items.into_iter();
                    while let (Some(key), Some(value)) = (items.next(), items.next()) {
                        entries.push((key, value));
                    }
                    Value::Mapping(entries)
                } else {
                    Value::Sequence(items)
                };
                anchored(&mut anchors, anchor, Node { span: Span::new(start, end), function, value })
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(target) => {
                    Rc::new(Node { span: Span::new(start, end), function: None, value: Value::Alias(target.clone()) })
                }
                None => continue,
            },
            Event::DocumentEnd if root.is_some() => break,
            _ => continue,
        };
        match open.last_mut() {
            Some(collection) => collection.items.push(node),
            None => root = Some(node),
        }
    }
    match root.map(Rc::try_unwrap) {
        Some(Ok(node)) => Ok(node),
        Some(Err(shared)) => Ok(Node { span: shared.span, function: None, value: Value::Alias(shared) }),
        None => Ok(Node {
            span: Span::new(0, 0),
            function: None,
            value: Value::Scalar { text: String::new(), style: ScalarStyle::Plain, content: Span::new(0, 0) },
        }),
    }
}

/// A collection being read: where it starts, its function, its anchor, and the nodes so far
/// (keys and values alternating in a mapping).
struct Open {
    start: usize,
    function: Option<String>,
    anchor: usize,
    mapping: bool,
    items: Vec<Rc<Node>>,
}

fn too_deep(at: usize) -> YamlError {
    YamlError {
        span: Span::new(at, at),
        message: format!("template is nested more than {MAX_DEPTH} levels deep"),
        help: "a CloudFormation template nests a few levels; this one cannot be read",
    }
}

/// Records `node` under its anchor (`0` when it has none) and shares it.
fn anchored(anchors: &mut HashMap<usize, Rc<Node>>, anchor: usize, node: Node) -> Rc<Node> {
    let node = Rc::new(node);
    if anchor != 0 {
        anchors.insert(anchor, node.clone());
    }
    node
}

/// Where a scalar's own text starts: after its tag and anchor and the spaces that follow
/// them, and for a block scalar after its header line.
fn content_start(text: &str, start: usize, end: usize, style: ScalarStyle) -> usize {
    let mut at = start;
    while let Some(rest) = text.get(at..end)
        && rest.starts_with(['!', '&'])
    {
        let token = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let after = rest.get(token..).unwrap_or_default();
        at += token + (after.len() - after.trim_start_matches([' ', '\t']).len());
    }
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
        && let Some(rest) = text.get(at..end)
        && rest.starts_with(['|', '>'])
    {
        at += rest.find('\n').map_or(rest.len(), |line| line + 1);
    }
    at
}

/// The intrinsic function a CloudFormation short-form tag stands for.
fn function_of(tag: &saphyr_parser::Tag) -> Option<String> {
    if tag.handle != "!" || tag.suffix.is_empty() {
        return None;
    }
    Some(match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix.clone(),
        other => format!("Fn::{other}"),
    })
}

/// Byte offsets of the character indices saphyr's markers count.
struct ByteOffsets {
    /// Empty when the text is ASCII, where both are the same.
    starts: Vec<usize>,
    len: usize,
}

impl ByteOffsets {
    fn new(text: &str) -> ByteOffsets {
        let starts = if text.is_ascii() { Vec::new() } else { text.char_indices().map(|(at, _)| at).collect() };
        ByteOffsets { starts, len: text.len() }
    }

    fn byte(&self, index: usize) -> usize {
        if self.starts.is_empty() { index.min(self.len) } else { self.starts.get(index).copied().unwrap_or(self.len) }
    }
}

/// A template as JSON text, and the way back to its YAML source.
#[derive(Debug)]
pub(crate) struct Transcoded {
    pub(crate) json: String,
    /// Every node written, in the order written (so by start), with its parent.
    segments: Vec<Segment>,
}

#[derive(Debug)]
struct Segment {
    json: Span,
    yaml: Span,
    parent: Option<usize>,
    /// For a string: the JSON offset of each byte of its value, and the source offset it
    /// came from (one more entry for the end); `None` when it maps to its start only.
    string: Option<Vec<(usize, usize)>>,
}

impl Transcoded {
    /// The source range of a range of the JSON text.
    pub(crate) fn to_yaml(&self, span: Span) -> Span {
        let start = self.offset(span.start, false);
        let end = if span.end > span.start { self.offset(span.end, true).max(start) } else { start };
        Span::new(start, end)
    }

    fn offset(&self, at: usize, end: bool) -> usize {
        // The last segment starting at or before `at`, then up to the one holding it.
        // Segments are in the order written, so the one holding `at` is the last one starting
        // before it or one of its ancestors.
        let found = self
            .segments
            .partition_point(|segment| if end { segment.json.start < at } else { segment.json.start <= at });
        let mut current = found.checked_sub(1);
        while let Some(segment) = current.and_then(|index| self.segments.get(index)) {
            let holds = if end { at <= segment.json.end } else { at < segment.json.end };
            if holds {
                return segment.map(at, end);
            }
            current = segment.parent;
        }
        self.segments.first().map_or(0, |root| if end { root.yaml.end } else { root.yaml.start })
    }
}

impl Segment {
    fn map(&self, at: usize, end: bool) -> usize {
        let inside = at > self.json.start && at < self.json.end;
        match &self.string {
            Some(bytes) if inside => {
                let found = bytes.partition_point(|&(json, _)| json < at);
                if end {
                    match found.checked_sub(1).and_then(|before| bytes.get(before)) {
                        Some(&(_, yaml)) => yaml + 1,
                        None => self.yaml.start,
                    }
                } else {
                    bytes.get(found).map_or(self.yaml.end, |&(_, yaml)| yaml)
                }
            }
            _ if at <= self.json.start => self.yaml.start,
            _ if at >= self.json.end => self.yaml.end,
            _ if end => self.yaml.end,
            _ => self.yaml.start,
        }
    }
}

/// Writes the template `root` of `text` as JSON.
pub(crate) fn to_json(text: &str, root: &Node) -> Result<Transcoded, YamlError> {
    let mut writer = Writer { text, out: String::new(), segments: Vec::new(), alias: None };
    writer.node(root, None, 0)?;
    Ok(Transcoded { json: writer.out, segments: writer.segments })
}

struct Writer<'a> {
    text: &'a str,
    out: String,
    segments: Vec<Segment>,
    /// The outermost alias being expanded, which an expansion too large is reported at.
    alias: Option<Span>,
}

impl Writer<'_> {
    fn node(&mut self, node: &Node, parent: Option<usize>, depth: usize) -> Result<(), YamlError> {
        if depth > MAX_DEPTH {
            return Err(too_deep(self.alias.unwrap_or(node.span).start));
        }
        if self.out.len() > MAX_JSON_BYTES {
            let span = self.alias.unwrap_or(node.span);
            return Err(YamlError {
                span,
                message: format!("aliases expand the template to more than {} MiB", MAX_JSON_BYTES / (1024 * 1024)),
                help: "write the values out, or refer to fewer of them",
            });
        }
        let segment = self.open(node.span, parent);
        if let Some(function) = &node.function {
            self.out.push('{');
            let tag = 1 + function.strip_prefix("Fn::").unwrap_or(function).len();
            let key = self.open(Span::new(node.span.start, node.span.start + tag), Some(segment));
            self.string(function, key, None);
            self.out.push(':');
        }
        match &node.value {
            Value::Scalar { text, style, content } => {
                let inner = self.open(*content, Some(segment));
                if node.function.is_none() && *style == ScalarStyle::Plain && is_json_literal(text) {
                    self.out.push_str(if text == "~" || text.is_empty() { "null" } else { text });
                    self.close(inner);
                } else {
                    let offsets = source_offsets(self.text, *content, *style, text);
                    self.string(text, inner, offsets.as_deref());
                }
            }
            Value::Sequence(items) => {
                self.out.push('[');
                for (at, item) in items.iter().enumerate() {
                    if at > 0 {
                        self.out.push(',');
                    }
                    self.node(item, Some(segment), depth + 1)?;
                }
                self.out.push(']');
            }
            Value::Mapping(entries) => {
                self.out.push('{');
                for (at, (key, value)) in entries.iter().enumerate() {
                    if at > 0 {
                        self.out.push(',');
                    }
                    let name = self.open(key.span, Some(segment));
                    match &key.value {
                        Value::Scalar { text, style, content } => {
                            let offsets = source_offsets(self.text, *content, *style, text);
                            self.string(text, name, offsets.as_deref());
                        }
                        _ => self.string("", name, None),
                    }
                    self.out.push(':');
                    self.node(value, Some(segment), depth + 1)?;
                }
                self.out.push('}');
            }
            Value::Alias(target) => {
                let outer = self.alias.is_none();
                if outer {
                    self.alias = Some(node.span);
                }
                self.node(target, Some(segment), depth + 1)?;
                if outer {
                    self.alias = None;
                }
            }
        }
        if node.function.is_some() {
            self.out.push('}');
        }
        self.close(segment);
        Ok(())
    }

    fn open(&mut self, yaml: Span, parent: Option<usize>) -> usize {
        let at = self.out.len();
        self.segments.push(Segment { json: Span::new(at, at), yaml, parent, string: None });
        self.segments.len() - 1
    }

    fn close(&mut self, segment: usize) {
        let end = self.out.len();
        if let Some(segment) = self.segments.get_mut(segment) {
            segment.json = Span::new(segment.json.start, end);
        }
    }

    /// Writes `value` as a JSON string for `segment`, recording where each byte came from.
    fn string(&mut self, value: &str, segment: usize, sources: Option<&[usize]>) {
        let mut bytes = sources.map(|_| Vec::with_capacity(value.len() + 1));
        self.out.push('"');
        for (at, c) in value.char_indices() {
            if let (Some(bytes), Some(sources)) = (bytes.as_mut(), sources) {
                let json = self.out.len();
                bytes
                    .extend((at..at + c.len_utf8()).map(|byte| (json, sources.get(byte).copied().unwrap_or_default())));
            }
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                c if u32::from(c) < 0x20 => self.out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => self.out.push(c),
            }
        }
        if let (Some(bytes), Some(sources)) = (bytes.as_mut(), sources) {
            bytes.push((self.out.len(), sources.last().copied().unwrap_or_default()));
        }
        self.out.push('"');
        self.close(segment);
        if let Some(segment) = self.segments.get_mut(segment) {
            segment.string = bytes;
        }
    }
}

/// Whether a plain scalar is a JSON literal as written: a Boolean, null, or a number JSON
/// spells the same way. Other plain scalars are strings.
fn is_json_literal(text: &str) -> bool {
    matches!(text, "true" | "false" | "null" | "~" | "")
        || (text.bytes().next().is_some_and(|b| b == b'-' || b.is_ascii_digit())
            && serde_json::from_str::<serde_json::Number>(text).is_ok())
}

/// For every byte of `value`, the byte of `text` it was read from, and the end; `None` when
/// the value's characters cannot be found in order in `content`.
fn source_offsets(text: &str, content: Span, style: ScalarStyle, value: &str) -> Option<Vec<usize>> {
    let source = text.get(content.start..content.end)?;
    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
    // A block scalar's indentation: that of its first line.
    let line_start = text.get(..content.start)?.rfind('\n').map_or(0, |at| at + 1);
    let indent = text.get(line_start..)?.bytes().take_while(|&b| b == b' ').count();
    let mut at = match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => 1,
        _ => 0,
    };
    let mut offsets = Vec::with_capacity(value.len() + 1);
    let after_break = |at: usize| -> usize {
        let rest = source.get(at..).unwrap_or_default();
        let skipped = if block {
            rest.bytes().take(indent).take_while(|&b| b == b' ').count()
        } else {
            rest.bytes().take_while(|&b| b == b' ' || b == b'\t').count()
        };
        at + skipped
    };
    for c in value.chars() {
        let found = loop {
            let rest = source.get(at..)?;
            let Some(next) = rest.chars().next() else {
                // Line breaks a block scalar keeps at its end come after its last character.
                if c == '\n' {
                    break at;
                }
                return None;
            };
            if style == ScalarStyle::SingleQuoted && c == '\'' && rest.starts_with("''") {
                let found = at;
                at += 2;
                break found;
            }
            if style == ScalarStyle::DoubleQuoted && next == '\\' {
                match escape(rest) {
                    (Some(decoded), len) if decoded == c => {
                        let found = at;
                        at += len;
                        break found;
                    }
                    (None, len) => {
                        at = after_break(at + len);
                        continue;
                    }
                    (Some(_), _) => return None,
                }
            }
            if next == c {
                let found = at;
                at += next.len_utf8();
                if c == '\n' {
                    at = after_break(at);
                }
                break found;
            }
            match next {
                '\n' if c == ' ' && style != ScalarStyle::Literal => {
                    let found = at;
                    at = after_break(at + 1);
                    break found;
                }
                '\n' => at = after_break(at + 1),
                '\r' | ' ' | '\t' => at += 1,
                _ => return None,
            }
        };
        // Each byte of a character written as itself comes from the same byte of the source;
        // the bytes of an escape's character fall inside the (ASCII) escape.
        offsets.extend((0..c.len_utf8()).map(|byte| content.start + found + byte));
    }
    offsets.push(content.start + at);
    Some(offsets)
}

/// A double-quoted scalar's escape at the start of `rest`: the character it stands for
/// (`None` for an escaped line break, which stands for nothing) and its length.
fn escape(rest: &str) -> (Option<char>, usize) {
    let mut chars = rest.chars().skip(1);
    let Some(kind) = chars.next() else { return (None, 1) };
    let simple = match kind {
        '0' => Some('\0'),
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        't' | '\t' => Some('\t'),
        'n' => Some('\n'),
        'v' => Some('\u{b}'),
        'f' => Some('\u{c}'),
        'r' => Some('\r'),
        'e' => Some('\u{1b}'),
        ' ' => Some(' '),
        '"' => Some('"'),
        '/' => Some('/'),
        '\\' => Some('\\'),
        'N' => Some('\u{85}'),
        '_' => Some('\u{a0}'),
        'L' => Some('\u{2028}'),
        'P' => Some('\u{2029}'),
        '\n' => return (None, 2),
        '\r' => return (None, if rest.get(2..3) == Some("\n") { 3 } else { 2 }),
        _ => None,
    };
    if let Some(simple) = simple {
        return (Some(simple), 1 + kind.len_utf8());
    }
    let digits = match kind {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return (Some('\u{fffd}'), 1 + kind.len_utf8()),
    };
    let decoded = rest.get(2..2 + digits).and_then(|hex| u32::from_str_radix(hex, 16).ok()).and_then(char::from_u32);
    (Some(decoded.unwrap_or('\u{fffd}')), 2 + digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcode(text: &str) -> Transcoded {
        to_json(text, &parse(text).unwrap()).unwrap()
    }

    /// The YAML text a JSON range of `transcoded` maps to.
    fn back<'a>(text: &'a str, transcoded: &Transcoded, needle: &str) -> &'a str {
        let start = transcoded.json.find(needle).unwrap();
        let span = transcoded.to_yaml(Span::new(start, start + needle.len()));
        &text[span.start..span.end]
    }

    #[test]
    fn templates_become_json_with_functions() {
        let text = "Resources:\n  R:\n    Type: AWS::IoT::TopicRule\n    Properties:\n      Enabled: false\n      \
                    Count: 2\n      Name: !Sub '${A}-b'\n      List: !Join [',', [a, b]]\n      Ref: !Ref Topic\n";
        let transcoded = transcode(text);
        let json: serde_json::Value = serde_json::from_str(&transcoded.json).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Resources": {"R": {"Type": "AWS::IoT::TopicRule", "Properties": {
                "Enabled": false, "Count": 2, "Name": {"Fn::Sub": "${A}-b"},
                "List": {"Fn::Join": [",", ["a", "b"]]}, "Ref": {"Ref": "Topic"}}}}})
        );
        assert_eq!(back(text, &transcoded, "{\"Fn::Sub\":\"${A}-b\"}"), "!Sub '${A}-b'");
        assert_eq!(back(text, &transcoded, "\"Properties\""), "Properties");
    }

    #[test]
    fn offsets_inside_scalars_are_exact() {
        let text = "A: >-\n  SELECT uper(a)\n    AS b FROM 't'\nB: |\n  SELECT x\n  FROM 'y'\nC: 'it''s uper'\nD: \"a\\tuper\"\nE: plain uper\n  folded uper\n";
        let transcoded = transcode(text);
        for needle in ["uper(a)", "AS b", "FROM 'y'", "s uper", "uper\"", "folded uper"] {
            let needle = needle.trim_end_matches('"');
            let start = transcoded.json.find(needle).unwrap();
            let span = transcoded.to_yaml(Span::new(start, start + needle.len()));
            let found = &text[span.start..span.end];
            assert_eq!(found.replace("''", "'"), needle, "{needle}");
        }
    }

    #[test]
    fn hostile_input_is_bounded() {
        let deep = "[".repeat(100_000);
        let error = parse(&deep).unwrap_err();
        assert!(error.message.contains("nested more than"), "{error:?}");
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = level - 1;
            bomb.push_str(&format!(
                "l{level}: &l{level} [{}]\n",
                vec![format!("*{}", if previous == 0 { "a".to_owned() } else { format!("l{previous}") }); 10]
                    .join(", ")
            ));
        }
        let root = parse(&bomb).unwrap();
        let error = to_json(&bomb, &root).unwrap_err();
        assert!(error.message.contains("aliases expand"), "{error:?}");
        assert!(parse(&" ".repeat(MAX_BYTES + 1)).unwrap_err().message.contains("larger than"));
        assert!(parse("a: [b").unwrap_err().message.starts_with("invalid YAML"));
    }
}
