//! Function calls: arity, then the family that implements each function.
//!
//! Every function is total: bad arguments give Undefined (or Null where AWS documents it),
//! never an error. Only functions that call other AWS services can fail, and only when the
//! caller supplied no stand-in value for them.

mod codec;
mod context;
mod math;
pub(crate) mod text;
mod time;

use crate::check::functions::Function;
use crate::eval::value::Value;
use crate::eval::{EvalError, Scope};

/// Calls `function`, which the checker found in the catalogue, with evaluated arguments.
pub(crate) fn call(function: &Function, args: &[Value], scope: &Scope<'_>) -> Result<Value, EvalError> {
    if !function.arity.accepts(args.len()) {
        return Ok(Value::Undefined);
    }
    // The protobuf form of `decode` reads its descriptor file from S3.
    if function.name == "decode" && args.len() == 6 {
        return scope.env.stubs.get("decode").cloned().ok_or(EvalError::ExternalCall { function: "decode" });
    }
    let version = scope.rule.version;
    let name = function.name;
    let value = math::call(name, args)
        .or_else(|| text::call(name, args, version))
        .or_else(|| codec::call(name, args, version))
        .or_else(|| time::call(name, args));
    match value {
        Some(value) => Ok(value),
        None => context::call(function, args, scope),
    }
}
