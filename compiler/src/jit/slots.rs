//! Payload slots: the values compiled rules read, picked out of a payload in one validating
//! pass without building a value tree. Every payload path a compiled rule of the set reads is
//! a node of one tree, and each node owns one slot.
//!
//! INVARIANT: a fill either succeeds, and then every slot holds exactly what field access on
//! the fully parsed payload gives (missing when that is Undefined), or it reports that the
//! payload needs the interpreter: not a JSON object, invalid, too deep, a repeated planned
//! key, or an escaped key where keys are planned.

use std::collections::HashMap;

use crate::eval::scanner::{Scanner, Stop};
use crate::eval::value::parse_numeric_string;

pub(crate) const MISSING: u8 = 0;
pub(crate) const INT: u8 = 1;
pub(crate) const DECIMAL: u8 = 2;
pub(crate) const NUMERIC_STRING: u8 = 3;
pub(crate) const STRING: u8 = 4;
pub(crate) const NULL: u8 = 5;
pub(crate) const BOOL: u8 = 6;
/// An object or an array; its text is parsed only if a rule writes it out.
pub(crate) const CONTAINER: u8 = 7;

/// One payload value as compiled code reads it: its kind, its number (the Int, the Decimal,
/// a numeric string's value, a Boolean as 0 or 1) and where its text is in the payload (a
/// string's body between the quotes, otherwise the whole value).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Slot {
    pub(crate) kind: u8,
    /// A string whose body has escapes, to decode before use.
    pub(crate) escaped: u8,
    pub(crate) int: i64,
    pub(crate) float: f64,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

/// The payload paths a set's compiled rules read, as a tree of field names.
#[derive(Debug)]
pub(crate) struct SlotTree {
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    /// A one-word filter over the children's names (by length and first byte, see
    /// [`name_bit`]), so most unplanned keys are passed over without hashing.
    names: u64,
}

impl Default for SlotTree {
    fn default() -> Self {
        SlotTree { nodes: vec![Node::default()] }
    }
}

impl SlotTree {
    /// The slot of `path`, adding it and its parents.
    pub(crate) fn insert(&mut self, path: &[String]) -> usize {
        let mut node = 0;
        for name in path {
            let next = self.nodes.len();
            let Some(parent) = self.nodes.get_mut(node) else { return 0 };
            parent.names |= name_bit(name.as_bytes());
            node = *parent.children.entry(name.as_bytes().into()).or_insert(next);
            if node == next {
                self.nodes.push(Node::default());
            }
        }
        node
    }

    /// How many slots a fill writes into.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    fn child(&self, node: usize, name: &[u8]) -> Option<usize> {
        let node = self.nodes.get(node)?;
        if node.names & name_bit(name) == 0 {
            return None;
        }
        node.children.get(name).copied()
    }

    fn has_children(&self, node: usize) -> bool {
        self.nodes.get(node).is_some_and(|node| !node.children.is_empty())
    }
}

fn name_bit(name: &[u8]) -> u64 {
    let first = name.first().copied().unwrap_or_default();
    1 << ((name.len().wrapping_mul(7).wrapping_add(usize::from(first))) & 63)
}

/// The slots of one message, reused from message to message.
#[derive(Debug, Default)]
pub(crate) struct SlotBuffer {
    slots: Vec<Slot>,
    /// The slots written since the last clear, so clearing costs what filling did.
    touched: Vec<usize>,
}

impl SlotBuffer {
    pub(crate) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Fills the slots `tree` plans from `payload`; false when the payload needs the
    /// interpreter (see the module invariant), leaving the buffer clear.
    pub(crate) fn fill(&mut self, tree: &SlotTree, payload: &[u8]) -> bool {
        self.clear();
        if self.slots.len() < tree.len() {
            self.slots.resize(tree.len(), Slot::default());
        }
        if std::str::from_utf8(payload).is_err() {
            return false;
        }
        let mut scanner = Scanner::new(payload);
        scanner.skip_whitespace();
        let filled = scanner.peek() == Some(b'{') && {
            let mut fill = Fill { tree, buffer: self, scanner };
            let object = fill.object(0).is_ok();
            fill.scanner.skip_whitespace();
            object && fill.scanner.at == payload.len()
        };
        if !filled {
            self.clear();
        }
        filled
    }

    pub(crate) fn clear(&mut self) {
        for slot in self.touched.drain(..) {
            if let Some(slot) = self.slots.get_mut(slot) {
                *slot = Slot::default();
            }
        }
    }
}

struct Fill<'a, 'p> {
    tree: &'a SlotTree,
    buffer: &'a mut SlotBuffer,
    scanner: Scanner<'p>,
}

impl Fill<'_, '_> {
    /// Scans the object at the cursor, filling the slots of `node`'s children.
    fn object(&mut self, node: usize) -> Result<(), Stop> {
        let s = &mut self.scanner;
        s.depth += 1;
        if s.too_deep() {
            return Err(Stop);
        }
        s.eat(b'{')?;
        s.skip_whitespace();
        if s.eat(b'}').is_ok() {
            s.depth -= 1;
            return Ok(());
        }
        let planned = self.tree.has_children(node);
        loop {
            let (start, end, escaped) = self.scanner.string()?;
            // An escaped key may spell a planned one; the interpreter decodes it.
            if escaped && planned {
                return Err(Stop);
            }
            let child =
                if planned { self.tree.child(node, self.scanner.bytes.get(start..end).ok_or(Stop)?) } else { None };
            let s = &mut self.scanner;
            s.skip_whitespace();
            s.eat(b':')?;
            s.skip_whitespace();
            match child {
                Some(child) => self.value(child)?,
                None => self.scanner.value()?,
            }
            let s = &mut self.scanner;
            s.skip_whitespace();
            if s.eat(b',').is_ok() {
                s.skip_whitespace();
                continue;
            }
            s.eat(b'}')?;
            s.depth -= 1;
            return Ok(());
        }
    }

    /// Scans the value at the cursor into slot `node`.
    fn value(&mut self, node: usize) -> Result<(), Stop> {
        // A planned key seen twice: the later value wins, and with it whatever it nests.
        if self.buffer.slots.get(node).is_none_or(|slot| slot.kind != MISSING) {
            return Err(Stop);
        }
        let start = self.scanner.at;
        let mut slot = Slot { start, ..Slot::default() };
        match self.scanner.peek() {
            Some(b'{') if self.tree.has_children(node) => {
                self.object(node)?;
                slot.kind = CONTAINER;
            }
            Some(b'{' | b'[') => {
                self.scanner.value()?;
                slot.kind = CONTAINER;
            }
            Some(b'"') => {
                let (body, end, escaped) = self.scanner.string()?;
                let raw = self.scanner.bytes.get(body..end).ok_or(Stop)?;
                let numeric = if escaped {
                    let quoted = self.scanner.bytes.get(start..self.scanner.at).ok_or(Stop)?;
                    let text: String = serde_json::from_slice(quoted).map_err(|_| Stop)?;
                    parse_numeric_string(&text)
                } else {
                    parse_numeric_string(std::str::from_utf8(raw).map_err(|_| Stop)?)
                };
                slot.kind = if numeric.is_some() { NUMERIC_STRING } else { STRING };
                slot.float = match &numeric {
                    Some(decimal) => comparable(decimal).ok_or(Stop)?,
                    None => 0.0,
                };
                slot.escaped = u8::from(escaped);
                slot.start = body;
                slot.len = end - body;
                self.buffer.touch(node, slot);
                return Ok(());
            }
            Some(b't' | b'f') => {
                slot.int = i64::from(self.scanner.peek() == Some(b't'));
                self.scanner.value()?;
                slot.kind = BOOL;
            }
            Some(b'n') => {
                self.scanner.value()?;
                slot.kind = NULL;
            }
            _ => {
                self.scanner.number()?;
                let text = self.scanner.bytes.get(start..self.scanner.at).ok_or(Stop)?;
                match number(text).ok_or(Stop)? {
                    SlotNumber::Int(int) => (slot.kind, slot.int) = (INT, int),
                    SlotNumber::Decimal(decimal) => (slot.kind, slot.float) = (DECIMAL, decimal),
                }
            }
        }
        slot.len = self.scanner.at - start;
        self.buffer.touch(node, slot);
        Ok(())
    }
}

impl SlotBuffer {
    fn touch(&mut self, node: usize, slot: Slot) {
        if let Some(target) = self.slots.get_mut(node) {
            *target = slot;
            self.touched.push(node);
        }
    }
}

/// A number as a slot holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum SlotNumber {
    Int(i64),
    /// A Decimal whose double is exact enough to compare: see [`number`].
    Decimal(f64),
}

/// The largest magnitude of an Int slot: every Int up to it is exactly a double, so compiled
/// comparisons with Decimal literals (done as doubles) are exact.
const MAX_EXACT_INT: i64 = 1 << 53;

/// A JSON number (as the scanner accepted it) as compiled code can compare it exactly, or
/// `None` when it needs the interpreter's 34-digit arithmetic. Ints of up to 2^53 and
/// decimals of up to 15 significant digits without an exponent qualify: the double of such a
/// decimal is the correctly rounded one (its digits and its power of ten are exact doubles,
/// and one division rounds once), and two distinct decimals of at most 15 digits never round
/// to the same double, so comparing doubles compares the decimals.
pub(crate) fn number(text: &[u8]) -> Option<SlotNumber> {
    let (negative, unsigned) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut digits: i64 = 0;
    let mut significant = 0;
    let mut fraction_digits = None;
    for &byte in unsigned {
        match byte {
            b'0'..=b'9' => {
                if significant > 0 || byte != b'0' {
                    significant += 1;
                }
                // Past 18 digits an i64 could overflow; such numbers are refused anyway.
                if significant > 18 {
                    return None;
                }
                digits = digits * 10 + i64::from(byte - b'0');
                if let Some(fraction) = &mut fraction_digits {
                    *fraction += 1;
                }
            }
            b'.' if fraction_digits.is_none() => fraction_digits = Some(0),
            _ => return None,
        }
    }
    match fraction_digits {
        None if digits <= MAX_EXACT_INT => Some(SlotNumber::Int(if negative { -digits } else { digits })),
        None => None,
        Some(_) if significant > 15 => None,
        Some(fraction) => {
            let magnitude = digits as f64 / POWERS_OF_TEN.get(fraction)?;
            Some(SlotNumber::Decimal(if negative { -magnitude } else { magnitude }))
        }
    }
}

/// A numeric string's value as a double compiled code can compare exactly (as for
/// [`number`]: at most 15 significant digits, an exponent far from the double's limits), or
/// `None` when the interpreter must compare it.
fn comparable(decimal: &crate::decimal::Decimal) -> Option<f64> {
    (decimal.significant_digits() <= 15 && (-300..=300).contains(&decimal.adjusted_exponent()))
        .then(|| decimal.to_f64())
}

const POWERS_OF_TEN: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&[&str]]) -> (SlotTree, Vec<usize>) {
        let mut tree = SlotTree::default();
        let ids = paths
            .iter()
            .map(|path| tree.insert(&path.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()))
            .collect();
        (tree, ids)
    }

    /// A number a slot takes has the value the full parse gives it; the others (exponents,
    /// long numbers, Ints past 2^53) are left to the interpreter.
    #[test]
    fn slot_numbers_are_exact_or_refused() {
        use crate::decimal::Decimal;
        use crate::eval::{json, value::Value};
        let taken = [
            "0",
            "-0",
            "17",
            "-42",
            "55.20",
            "-0.0",
            "0.1",
            "-0.000",
            "99999999999999.9",
            "123456789.012345",
            "0.000000000000001",
            "9007199254740992",
        ];
        for text in taken {
            let slotted = number(text.as_bytes()).unwrap_or_else(|| panic!("{text} is taken"));
            match (slotted, json::parse(text.as_bytes())) {
                (SlotNumber::Int(int), Some(Value::Int(full))) => assert_eq!(int, full, "{text}"),
                (SlotNumber::Decimal(float), Some(Value::Decimal(full))) => {
                    assert_eq!(Decimal::from_f64(float), Some(full.clone()), "{text}");
                }
                (SlotNumber::Decimal(float), Some(Value::Int(full))) => assert_eq!(float, full as f64, "{text}"),
                (slotted, full) => panic!("{text}: {slotted:?} against {full:?}"),
            }
        }
        let refused = [
            "1e2",
            "1E-2",
            "9007199254740993",
            "9223372036854775808",
            "18446744073709551616",
            "0.30000000000000004",
            "3.141592653589793238",
            "1234567.891011121314",
            "4503599627370497.5",
            "999999999999999.9",
        ];
        for text in refused {
            assert_eq!(number(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn slots_hold_what_field_access_gives() {
        let (tree, ids) = tree(&[&["a"], &["b", "c"], &["s"], &["n"], &["missing"]]);
        let mut buffer = SlotBuffer::default();
        let payload = br#"{"a": 7, "x": {"a": 1}, "b": {"c": "12", "d": [1]}, "s": "h\u00e9", "n": null}"#;
        assert!(buffer.fill(&tree, payload));
        let kinds: Vec<u8> = ids.iter().map(|id| buffer.slots()[*id].kind).collect();
        assert_eq!(kinds, [INT, NUMERIC_STRING, STRING, NULL, MISSING]);
        assert_eq!(buffer.slots()[ids[1]].float, 12.0);
        assert_eq!(buffer.slots()[ids[2]].escaped, 1);
        assert_eq!(buffer.slots()[tree.child(0, b"b").unwrap_or(0)].kind, CONTAINER);
    }

    #[test]
    fn payloads_the_interpreter_must_read_are_refused() {
        let (tree, _) = tree(&[&["a"], &["b", "c"]]);
        let mut buffer = SlotBuffer::default();
        for payload in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"b": {"c": 1}, "b": 5}"#,
            r#"{"\u0061": 1}"#,
            r#"[1]"#,
            r#"{"a": 1"#,
            r#"{"a": tru}"#,
            "not json",
        ] {
            assert!(!buffer.fill(&tree, payload.as_bytes()), "{payload}");
            assert!(buffer.slots().iter().all(|slot| slot.kind == MISSING), "{payload}");
        }
        // Repeats and escapes where nothing is planned need nothing.
        assert!(buffer.fill(&tree, br#"{"z": 1, "z": {"\u007a": 3}, "b": {"d": 1, "d": 2}}"#));
    }
}
