//! The runtime helpers compiled code calls for what is not worth inlining: writing output
//! members, comparing strings, reading the topic and the client id.
//!
//! **Architecture Invariant:** a helper never unwinds into compiled code. Each body runs
//! under `catch_unwind`; a panic (a bug, never expected) marks the emitter failed, and the
//! rule set then evaluates that rule with the interpreter instead.

#![expect(unsafe_code, reason = "compiled code hands helpers raw pointers")]

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::slots::{BOOL, CONTAINER, DECIMAL, INT, MISSING, NULL, NUMERIC_STRING, STRING, Slot};
use super::{FALSE, TRUE, UNDEFINED};
use crate::check::functions::{CastTarget, Function};
use crate::decimal::Decimal;
use crate::eval::value::{self, Value};
use crate::eval::{Environment, Message, Row, Rule, Scope, functions, insert_at, json, operators};
use crate::syntax::ast::{BinaryOp, Query};

/// What compiled code writes into and reads the message from, for one rule on one message.
pub(crate) struct Emitter<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    /// The operands of value helpers, pushed and popped in evaluation order.
    pub(crate) stack: &'a mut Vec<Value>,
    /// SET variables, by index.
    pub(crate) variables: &'a mut Vec<Value>,
    pub(crate) rule: &'a Rule<'a>,
    pub(crate) env: &'a Environment,
    pub(crate) message: &'a Message<'a>,
    pub(crate) payload: &'a [u8],
    /// The topic as the statement sees it.
    pub(crate) topic: &'a str,
    pub(crate) client_id: Option<&'a str>,
    pub(crate) principal: Option<&'a str>,
    pub(crate) source_ip: Option<&'a str>,
    pub(crate) account_id: &'a str,
    pub(crate) timestamp_ms: i64,
    pub(crate) whole_as_int: bool,
    /// No member has been written yet, so the next one needs no comma.
    pub(crate) first: bool,
    /// A helper could not do its job; the rule's output is discarded and interpreted.
    pub(crate) failed: bool,
}

/// Which message fact `emit_context` and `context_equals_text` read.
pub(crate) const CONTEXT_TOPIC: i64 = 0;
pub(crate) const CONTEXT_TOPIC_LEVEL: i64 = 1;
pub(crate) const CONTEXT_CLIENT_ID: i64 = 2;
pub(crate) const CONTEXT_PRINCIPAL: i64 = 3;
pub(crate) const CONTEXT_SOURCE_IP: i64 = 4;
pub(crate) const CONTEXT_ACCOUNT_ID: i64 = 5;
pub(crate) const CONTEXT_TIMESTAMP: i64 = 6;

/// Runs `body` on the emitter behind `ctx`, turning a panic into a failure.
fn with_emitter<T>(ctx: *mut c_void, fallback: T, body: impl FnOnce(&mut Emitter<'_>) -> T) -> T {
    // SAFETY: compiled code passes the `&mut Emitter` the rule set gave it, alive and not
    // otherwise borrowed for the whole call.
    let emitter = unsafe { &mut *ctx.cast::<Emitter<'_>>() };
    match catch_unwind(AssertUnwindSafe(|| body(emitter))) {
        Ok(result) => result,
        Err(_) => {
            emitter.failed = true;
            fallback
        }
    }
}

/// # Safety
/// `pointer` and `len` come from a `Box<[u8]>` the compiled rules own.
fn bytes<'a>(pointer: *const u8, len: usize) -> &'a [u8] {
    // SAFETY: see above; constants outlive the code that embeds their addresses.
    unsafe { std::slice::from_raw_parts(pointer, len) }
}

fn slot<'a>(pointer: *const Slot) -> &'a Slot {
    // SAFETY: compiled code passes the address of a slot inside the filled slot buffer.
    unsafe { &*pointer }
}

/// Writes one output member, `key` followed by what `write` writes, with the comma that
/// separates it from the previous one; nothing when `write` writes nothing (Undefined).
fn member(emitter: &mut Emitter<'_>, key: &[u8], write: impl FnOnce(&mut Emitter<'_>) -> bool) {
    let mark = emitter.out.len();
    if !emitter.first {
        emitter.out.push(b',');
    }
    emitter.out.extend_from_slice(key);
    if write(emitter) {
        emitter.first = false;
    } else {
        emitter.out.truncate(mark);
    }
}

pub(crate) extern "C" fn emit_slot(ctx: *mut c_void, slot_pointer: *const Slot, key: *const u8, key_len: usize) {
    with_emitter(ctx, (), |emitter| {
        let slot = slot(slot_pointer);
        member(emitter, bytes(key, key_len), |emitter| write_slot(emitter, slot));
    });
}

pub(crate) extern "C" fn emit_context(ctx: *mut c_void, which: i64, level: i64, key: *const u8, key_len: usize) {
    with_emitter(ctx, (), |emitter| {
        if which == CONTEXT_TIMESTAMP {
            let timestamp = emitter.timestamp_ms;
            member(emitter, bytes(key, key_len), |emitter| {
                emitter.out.extend_from_slice(itoa::Buffer::new().format(timestamp).as_bytes());
                true
            });
            return;
        }
        let Some(text) = context(emitter, which, level) else { return };
        member(emitter, bytes(key, key_len), |emitter| {
            push_json_string(emitter.out, text);
            true
        });
    });
}

/// `member` is the key and the value, both already written as JSON.
pub(crate) extern "C" fn emit_constant(ctx: *mut c_void, member_pointer: *const u8, len: usize) {
    with_emitter(ctx, (), |emitter| {
        member(emitter, bytes(member_pointer, len), |_| true);
    });
}

pub(crate) extern "C" fn emit_payload(ctx: *mut c_void, key: *const u8, key_len: usize) {
    with_emitter(ctx, (), |emitter| {
        let payload = emitter.payload;
        member(emitter, bytes(key, key_len), |emitter| write_parsed(emitter, payload));
    });
}

/// `slot = text` (or `<>` when `negate` is 1): Undefined when the slot is missing, false
/// for a value that is not a string.
pub(crate) extern "C" fn slot_equals_text(
    ctx: *mut c_void,
    slot_pointer: *const Slot,
    text: *const u8,
    len: usize,
    negate: i64,
) -> i8 {
    with_emitter(ctx, UNDEFINED as i8, |emitter| {
        let slot = slot(slot_pointer);
        let literal = bytes(text, len);
        let equal = match slot.kind {
            MISSING => return UNDEFINED as i8,
            STRING | NUMERIC_STRING => match slot_text(emitter, slot) {
                Some(value) => value.as_bytes() == literal,
                None => {
                    emitter.failed = true;
                    return UNDEFINED as i8;
                }
            },
            _ => false,
        };
        truth(equal != (negate != 0))
    })
}

/// A textual message fact `= text` (or `<>`); Undefined when the fact is (a topic level past
/// the end, no principal).
pub(crate) extern "C" fn context_equals_text(
    ctx: *mut c_void,
    which: i64,
    level: i64,
    text: *const u8,
    len: usize,
    negate: i64,
) -> i8 {
    with_emitter(ctx, UNDEFINED as i8, |emitter| match context(emitter, which, level) {
        Some(value) => truth((value.as_bytes() == bytes(text, len)) != (negate != 0)),
        None => UNDEFINED as i8,
    })
}

fn truth(flag: bool) -> i8 {
    (if flag { TRUE } else { FALSE }) as i8
}

fn context<'a>(emitter: &Emitter<'a>, which: i64, level: i64) -> Option<&'a str> {
    match which {
        CONTEXT_TOPIC => Some(emitter.topic),
        CONTEXT_TOPIC_LEVEL => {
            let index = usize::try_from(level.checked_sub(1)?).ok()?;
            emitter.topic.split('/').nth(index)
        }
        CONTEXT_CLIENT_ID => Some(emitter.client_id.unwrap_or("n/a")),
        CONTEXT_PRINCIPAL => emitter.principal,
        CONTEXT_SOURCE_IP => emitter.source_ip,
        CONTEXT_ACCOUNT_ID => Some(emitter.account_id),
        _ => None,
    }
}

/// A string slot's text, decoded when it has escapes.
fn slot_text<'a>(emitter: &Emitter<'a>, slot: &Slot) -> Option<std::borrow::Cow<'a, str>> {
    let body = emitter.payload.get(slot.start..slot.start.checked_add(slot.len)?)?;
    if slot.escaped == 0 {
        return std::str::from_utf8(body).ok().map(std::borrow::Cow::Borrowed);
    }
    let quoted = emitter.payload.get(slot.start.checked_sub(1)?..slot.start + slot.len + 1)?;
    serde_json::from_slice::<String>(quoted).ok().map(std::borrow::Cow::Owned)
}

/// Writes a slot's value as the interpreter writes the same value; false when it writes
/// nothing.
fn write_slot(emitter: &mut Emitter<'_>, slot: &Slot) -> bool {
    match slot.kind {
        INT => {
            emitter.out.extend_from_slice(itoa::Buffer::new().format(slot.int).as_bytes());
            true
        }
        DECIMAL => {
            let text = slot.start.checked_add(slot.len).and_then(|end| emitter.payload.get(slot.start..end));
            match text.and_then(canonical_decimal) {
                Some((sign, whole, fraction)) => {
                    emitter.out.extend_from_slice(sign);
                    emitter.out.extend_from_slice(whole);
                    emitter.out.push(b'.');
                    emitter.out.extend_from_slice(fraction);
                    true
                }
                None => match text.and_then(|text| std::str::from_utf8(text).ok()).and_then(Decimal::parse) {
                    Some(decimal) => {
                        let mut out = String::new();
                        decimal.write(&mut out, emitter.whole_as_int);
                        emitter.out.extend_from_slice(out.as_bytes());
                        true
                    }
                    None => false,
                },
            }
        }
        STRING | NUMERIC_STRING => match slot_text(emitter, slot) {
            Some(text) => {
                push_json_string(emitter.out, &text);
                true
            }
            None => {
                emitter.failed = true;
                false
            }
        },
        NULL => {
            emitter.out.extend_from_slice(b"null");
            true
        }
        BOOL => {
            emitter.out.extend_from_slice(if slot.int != 0 { b"true" } else { b"false" });
            true
        }
        CONTAINER => match slot.start.checked_add(slot.len).and_then(|end| emitter.payload.get(slot.start..end)) {
            Some(text) => write_parsed(emitter, text),
            None => {
                emitter.failed = true;
                false
            }
        },
        _ => false,
    }
}

/// Parses JSON text the scan already validated and writes it back the interpreter's way.
fn write_parsed(emitter: &mut Emitter<'_>, text: &[u8]) -> bool {
    let value = json::parse(text).unwrap_or_else(|| {
        emitter.failed = true;
        Value::Undefined
    });
    let mut out = String::new();
    let written = value::write_json(&mut out, &value, emitter.whole_as_int);
    emitter.out.extend_from_slice(out.as_bytes());
    written
}

/// Writes `text` as a JSON string, exactly as `value::write_json_string` does.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\') {
        let mut escaped = String::new();
        value::write_json_string(&mut escaped, text);
        out.extend_from_slice(escaped.as_bytes());
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Appends bytes as they are: the braces around an output object.
pub(crate) extern "C" fn emit_raw(ctx: *mut c_void, text: *const u8, len: usize) {
    with_emitter(ctx, (), |emitter| emitter.out.extend_from_slice(bytes(text, len)));
}

/// Data a value helper needs beyond integers, owned by the compiled set.
#[derive(Debug)]
pub(crate) enum Data {
    Value(Value),
    Cast(Option<CastTarget>),
    Name(String),
    Keys(Vec<String>),
    Function(&'static Function),
    /// A built SELECT list: each item's key path, `None` for a merged `*`.
    Built(Vec<Option<Vec<String>>>),
    /// A nested SELECT and the names of the SET variables, by index.
    Query(Box<Query>, Vec<String>),
}

/// The operators value helpers apply, by the index compiled code passes.
pub(crate) const BINARY_OPS: [BinaryOp; 13] = [
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::In,
];
/// `%`, the one operator past the table's end.
pub(crate) const REM: i64 = 13;

fn data<'a>(pointer: *const Data) -> &'a Data {
    // SAFETY: compiled code passes the address of a `Box<Data>` its set owns.
    unsafe { &*pointer }
}

fn pop(emitter: &mut Emitter<'_>) -> Value {
    emitter.stack.pop().unwrap_or(Value::Undefined)
}

/// Pops `count` operands, in the order they were pushed.
fn pop_many(emitter: &mut Emitter<'_>, count: usize) -> Vec<Value> {
    let from = emitter.stack.len().saturating_sub(count);
    emitter.stack.split_off(from)
}

pub(crate) extern "C" fn v_slot(ctx: *mut c_void, slot_pointer: *const Slot) {
    with_emitter(ctx, (), |emitter| {
        let slot = slot(slot_pointer);
        let value = match slot.kind {
            INT => Value::Int(slot.int),
            DECIMAL => {
                let text = slot.start.checked_add(slot.len).and_then(|end| emitter.payload.get(slot.start..end));
                match text.and_then(|text| std::str::from_utf8(text).ok()).and_then(Decimal::parse) {
                    Some(decimal) => Value::Decimal(decimal),
                    None => {
                        emitter.failed = true;
                        Value::Undefined
                    }
                }
            }
            STRING | NUMERIC_STRING => match slot_text(emitter, slot) {
                Some(text) => Value::String(text.into_owned()),
                None => {
                    emitter.failed = true;
                    Value::Undefined
                }
            },
            NULL => Value::Null,
            BOOL => Value::Bool(slot.int != 0),
            CONTAINER => {
                let text = slot.start.checked_add(slot.len).and_then(|end| emitter.payload.get(slot.start..end));
                match text.and_then(json::parse) {
                    Some(value) => value,
                    _ => {
                        emitter.failed = true;
                        Value::Undefined
                    }
                }
            }
            _ => Value::Undefined,
        };
        emitter.stack.push(value);
    });
}

pub(crate) extern "C" fn v_context(ctx: *mut c_void, which: i64, level: i64) {
    with_emitter(ctx, (), |emitter| {
        let value = if which == CONTEXT_TIMESTAMP {
            Value::Int(emitter.timestamp_ms)
        } else {
            context(emitter, which, level).map_or(Value::Undefined, |text| Value::String(text.to_owned()))
        };
        emitter.stack.push(value);
    });
}

pub(crate) extern "C" fn v_constant(ctx: *mut c_void, data_pointer: *const Data) {
    with_emitter(ctx, (), |emitter| {
        let value = match data(data_pointer) {
            Data::Value(value) => value.clone(),
            _ => Value::Undefined,
        };
        emitter.stack.push(value);
    });
}

/// `op` is 0 for `-`, 1 for NOT.
pub(crate) extern "C" fn v_unary(ctx: *mut c_void, op: i64) {
    with_emitter(ctx, (), |emitter| {
        let operand = pop(emitter);
        let value = if op == 0 { operators::negate(&operand) } else { operators::not(&operand) };
        emitter.stack.push(value);
    });
}

/// `op` indexes [`BINARY_OPS`], or is [`REM`].
pub(crate) extern "C" fn v_binary(ctx: *mut c_void, op: i64) {
    with_emitter(ctx, (), |emitter| {
        let rhs = pop(emitter);
        let lhs = pop(emitter);
        let op = usize::try_from(op).ok().and_then(|op| BINARY_OPS.get(op)).copied().unwrap_or(BinaryOp::Rem);
        let value = operators::binary(op, &lhs, &rhs, emitter.rule.version);
        emitter.stack.push(value);
    });
}

/// Calls a library function on the `count` values on top of the stack. A failure that is not
/// Undefined (a call to another AWS service with no stand-in) fails the rule, so the
/// interpreter reports it.
pub(crate) extern "C" fn v_call(ctx: *mut c_void, data_pointer: *const Data, count: usize) {
    with_emitter(ctx, (), |emitter| {
        let args = pop_many(emitter, count);
        let Data::Function(function) = data(data_pointer) else {
            emitter.failed = true;
            return;
        };
        // Compiled code passes `*` to a function as a value, so the scope's payload is unused.
        let payload = Value::Undefined;
        let scope =
            Scope::for_call(emitter.rule, emitter.env, emitter.message, emitter.topic, &payload, HashMap::new());
        match functions::call(function, &args, &scope) {
            Ok(value) => emitter.stack.push(value),
            Err(_) => {
                emitter.failed = true;
                emitter.stack.push(Value::Undefined);
            }
        }
    });
}

pub(crate) extern "C" fn v_cast(ctx: *mut c_void, data_pointer: *const Data) {
    with_emitter(ctx, (), |emitter| {
        let operand = pop(emitter);
        let value = match data(data_pointer) {
            Data::Cast(Some(target)) => operators::cast(&operand, *target, emitter.rule.version),
            _ => Value::Undefined,
        };
        emitter.stack.push(value);
    });
}

pub(crate) extern "C" fn v_field(ctx: *mut c_void, data_pointer: *const Data) {
    with_emitter(ctx, (), |emitter| {
        let base = pop(emitter);
        let value = match data(data_pointer) {
            Data::Name(name) => base.field(name),
            _ => Value::Undefined,
        };
        emitter.stack.push(value);
    });
}

pub(crate) extern "C" fn v_array(ctx: *mut c_void, count: usize) {
    with_emitter(ctx, (), |emitter| {
        let items = pop_many(emitter, count);
        emitter.stack.push(Value::Array(items));
    });
}

/// Builds an object from the values on top of the stack, one per key; Undefined members are
/// left out.
pub(crate) extern "C" fn v_object(ctx: *mut c_void, data_pointer: *const Data) {
    with_emitter(ctx, (), |emitter| {
        let Data::Keys(keys) = data(data_pointer) else {
            emitter.failed = true;
            return;
        };
        let values = pop_many(emitter, keys.len());
        let mut object = value::Object::default();
        for (key, value) in keys.iter().zip(values) {
            if !value.is_undefined() {
                object.insert(key.clone(), value);
            }
        }
        emitter.stack.push(Value::Object(object));
    });
}

/// Pops a value and writes it as an output member (nothing when it is Undefined).
pub(crate) extern "C" fn emit_value(ctx: *mut c_void, key: *const u8, key_len: usize) {
    with_emitter(ctx, (), |emitter| {
        let value = pop(emitter);
        member(emitter, bytes(key, key_len), |emitter| {
            let mut out = String::new();
            let written = value::write_json(&mut out, &value, emitter.whole_as_int);
            emitter.out.extend_from_slice(out.as_bytes());
            written
        });
    });
}

/// Pops a value as a condition: true, false or Undefined (see `Predicate::Value`).
pub(crate) extern "C" fn v_truth(ctx: *mut c_void, exact: i64) -> i8 {
    with_emitter(ctx, UNDEFINED as i8, |emitter| {
        let value = pop(emitter);
        let flag = if exact != 0 {
            match value {
                Value::Bool(flag) => Some(flag),
                _ => None,
            }
        } else {
            value.to_bool()
        };
        flag.map_or(UNDEFINED as i8, truth)
    })
}

/// A decimal as the payload spelled it, split into sign, whole part and fraction, when those
/// digits are exactly what [`value::write_decimal`] prints for the double they denote: no
/// exponent, at most 15 significant digits (so no shorter digit string denotes the same
/// double), a whole part without leading zeros below 10^15 or a lone `0` followed by a
/// nonzero tenth (so the shortest form is written without an exponent), and a fraction that
/// is not all zeros (so the number is not whole). Trailing zeros of the fraction are dropped.
fn canonical_decimal(text: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (sign, unsigned) = match text.split_first() {
        Some((b'-', rest)) => (text.get(..1)?, rest),
        _ => (&text[..0], text),
    };
    let point = unsigned.iter().position(|&byte| byte == b'.')?;
    let (whole, fraction) = (unsigned.get(..point)?, unsigned.get(point + 1..)?);
    let end = fraction.iter().rposition(|&byte| byte != b'0')? + 1;
    let fraction = fraction.get(..end)?;
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let significant = match whole {
        [b'0'] if fraction.first() != Some(&b'0') => fraction.len(),
        [b'0', ..] => return None,
        _ => whole.len() + fraction.len(),
    };
    (significant <= 15).then_some((sign, whole, fraction))
}

pub(crate) extern "C" fn v_variable(ctx: *mut c_void, index: usize) {
    with_emitter(ctx, (), |emitter| {
        let value = emitter.variables.get(index).cloned().unwrap_or(Value::Undefined);
        emitter.stack.push(value);
    });
}

/// Pops a value into SET variable `index`.
pub(crate) extern "C" fn v_assign(ctx: *mut c_void, index: usize) {
    with_emitter(ctx, (), |emitter| {
        let value = pop(emitter);
        if emitter.variables.len() <= index {
            emitter.variables.resize(index + 1, Value::Undefined);
        }
        if let Some(variable) = emitter.variables.get_mut(index) {
            *variable = value;
        }
    });
}

/// Pushes the payload: its bytes when `raw` (what `encode(*, ...)` reads), else its value.
pub(crate) extern "C" fn v_payload(ctx: *mut c_void, raw: i64) {
    with_emitter(ctx, (), |emitter| {
        let value = if raw != 0 {
            Value::Binary(emitter.payload.to_vec())
        } else {
            json::parse(emitter.payload).unwrap_or_else(|| {
                emitter.failed = true;
                Value::Undefined
            })
        };
        emitter.stack.push(value);
    });
}

/// Starts a CASE on the subject on top of the stack: 1 to test its branches, 0 when it is
/// Undefined, which is then left as the CASE's value.
pub(crate) extern "C" fn v_case_subject(ctx: *mut c_void) -> i8 {
    with_emitter(ctx, 0, |emitter| i8::from(!emitter.stack.last().is_none_or(Value::is_undefined)))
}

/// Pops a WHEN candidate and compares it with the subject below it: 1 (and the subject is
/// popped) when they are equal, else 0.
pub(crate) extern "C" fn v_case_when(ctx: *mut c_void) -> i8 {
    with_emitter(ctx, 0, |emitter| {
        let candidate = pop(emitter);
        let matched = emitter
            .stack
            .last()
            .is_some_and(|subject| !candidate.is_undefined() && operators::equals(subject, &candidate));
        if matched {
            emitter.stack.pop();
        }
        i8::from(matched)
    })
}

pub(crate) extern "C" fn v_pop(ctx: *mut c_void) {
    with_emitter(ctx, (), |emitter| {
        emitter.stack.pop();
    });
}

/// Builds the output object of a SELECT list from its values on the stack, exactly as the
/// interpreter's `items` does, and writes it.
pub(crate) extern "C" fn emit_built(ctx: *mut c_void, data_pointer: *const Data) {
    with_emitter(ctx, (), |emitter| {
        let Data::Built(items) = data(data_pointer) else {
            emitter.failed = true;
            return;
        };
        let values = pop_many(emitter, items.iter().filter(|item| item.is_some()).count());
        let mut values = values.into_iter();
        let mut output = value::Object::default();
        for item in items {
            match item {
                None => match json::parse(emitter.payload) {
                    Some(Value::Object(object)) => output.extend(object),
                    _ => emitter.failed = true,
                },
                Some(path) => {
                    let value = values.next().unwrap_or(Value::Undefined);
                    if !value.is_undefined() {
                        insert_at(&mut output, path, value);
                    }
                }
            }
        }
        let mut out = String::new();
        value::write_json(&mut out, &Value::Object(output), emitter.whole_as_int);
        emitter.out.extend_from_slice(out.as_bytes());
    });
}

/// Runs a nested SELECT over the payload with the interpreter's query routine, which owns
/// the per-element semantics, and pushes its result.
pub(crate) extern "C" fn v_query(ctx: *mut c_void, data_pointer: *const Data) {
    with_emitter(ctx, (), |emitter| {
        let Data::Query(query, names) = data(data_pointer) else {
            emitter.failed = true;
            return;
        };
        let Some(payload) = json::parse(emitter.payload) else {
            emitter.failed = true;
            return;
        };
        let variables = names.iter().cloned().zip(emitter.variables.iter().cloned()).collect();
        let scope = Scope::for_call(emitter.rule, emitter.env, emitter.message, emitter.topic, &payload, variables);
        match scope.query(query, &Row::top(&payload)) {
            Ok(value) => emitter.stack.push(value),
            Err(_) => {
                emitter.failed = true;
                emitter.stack.push(Value::Undefined);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::canonical_decimal;
    use crate::decimal::Decimal;

    #[test]
    fn payload_decimals_are_copied_only_when_they_print_the_same() {
        let mut state: u64 = 0x1234_5678;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut texts: Vec<String> = [
            "55.20",
            "0.1",
            "-0.5",
            "0.05",
            "0.00001",
            "-0.0",
            "10.0",
            "1.5e3",
            "007.5",
            "123456789012345.6",
            "12345678901234.5",
            "999999999999999.9",
            "0.123456789012345",
            "0.1234567890123456",
            "3.14159",
        ]
        .iter()
        .map(|text| (*text).to_owned())
        .collect();
        for _ in 0..200_000 {
            let whole_digits = (next() % 16) as usize;
            let fraction_digits = 1 + (next() % 16) as usize;
            let digits = |count: usize, next: &mut dyn FnMut() -> u64| -> String {
                (0..count).map(|_| char::from(b'0' + (next() % 10) as u8)).collect()
            };
            let whole = if whole_digits == 0 { "0".to_owned() } else { digits(whole_digits, &mut next) };
            let sign = if next() % 2 == 0 { "-" } else { "" };
            texts.push(format!("{sign}{whole}.{}", digits(fraction_digits, &mut next)));
        }
        for text in &texts {
            let Some((sign, whole, fraction)) = canonical_decimal(text.as_bytes()) else { continue };
            let copied = [sign, whole, b".", fraction].concat();
            let value = Decimal::parse(text).unwrap();
            for whole_as_int in [true, false] {
                assert_eq!(String::from_utf8_lossy(&copied), value.to_text(whole_as_int), "{text}");
            }
        }
        assert!(canonical_decimal(b"55.20").is_some() && canonical_decimal(b"0.00001").is_none());
    }
}
