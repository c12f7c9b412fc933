//! The Cranelift JIT. Today it compiles WHERE clauses that compare payload fields with number
//! literals (combined with AND, OR and NOT) into native predicates; a rule whose WHERE it does
//! not compile is evaluated entirely by the interpreter, with the reason recorded. Either way
//! the outcome is the interpreter's, byte for byte (`tests/engines.rs`).
//!
//! **Architecture Invariant:** compiled code only reads the slot array it is given, never
//! calls back into Rust, and so never unwinds. All of a set's functions are finalized in one
//! module, which is freed when the set is dropped.

mod predicate;

use std::sync::Mutex;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, UserFuncName, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};

use crate::eval::value::{Value, parse_numeric_string};
use crate::syntax::ast::{BinaryOp, Statement};
use predicate::{Literal, Predicate};

/// One payload value as compiled code reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Slot {
    kind: u8,
    int: i64,
    float: f64,
}

const MISSING: u8 = 0;
const INT: u8 = 1;
const DECIMAL: u8 = 2;
const NUMERIC_STRING: u8 = 3;
const OTHER: u8 = 4;

const FALSE: i64 = 0;
const TRUE: i64 = 1;
const UNDEFINED: i64 = 2;

impl Slot {
    /// The slot for a payload value, classified the way the comparison tables need it.
    pub fn of(value: Option<&Value>) -> Slot {
        match value {
            None | Some(Value::Undefined) => Slot { kind: MISSING, ..Slot::default() },
            Some(Value::Int(int)) => Slot { kind: INT, int: *int, float: 0.0 },
            Some(Value::Decimal(decimal)) => Slot { kind: DECIMAL, int: 0, float: *decimal },
            Some(Value::String(text)) => match parse_numeric_string(text) {
                Some(number) => Slot { kind: NUMERIC_STRING, int: 0, float: number },
                None => Slot { kind: OTHER, ..Slot::default() },
            },
            Some(_) => Slot { kind: OTHER, ..Slot::default() },
        }
    }
}

type PredicateFn = unsafe extern "C" fn(*const Slot) -> u8;

/// A lowered WHERE clause and the payload paths of its slots, or why the rule has none.
type Lowered = Result<(Predicate, Vec<Vec<String>>), String>;

/// A rule's compiled WHERE clause and the payload paths its slots hold.
#[derive(Debug)]
pub struct CompiledWhere {
    function: PredicateFn,
    paths: Vec<Vec<String>>,
}

/// The compiled predicates of a rule set, or why each rule has none.
pub struct CompiledPredicates {
    functions: Vec<Result<CompiledWhere, String>>,
    /// Owns the code every function points into; `Mutex` only to make the set `Sync`.
    module: Mutex<Option<JITModule>>,
}

impl std::fmt::Debug for CompiledPredicates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPredicates").field("functions", &self.functions).finish_non_exhaustive()
    }
}

impl CompiledPredicates {
    /// Compiles the WHERE clause of every statement it can, finalizing them in one batch.
    pub fn compile<'a>(statements: impl IntoIterator<Item = &'a Statement>) -> CompiledPredicates {
        let lowered: Vec<Lowered> = statements
            .into_iter()
            .map(|statement| {
                // SET runs before WHERE and may fail; such rules keep the interpreter's order.
                if !statement.set.is_empty() {
                    return Err("the rule has a SET clause".to_owned());
                }
                let condition = statement.where_clause.as_ref().ok_or("the rule has no WHERE clause")?;
                let mut paths = Vec::new();
                let predicate = predicate::lower(condition, &mut paths)?;
                Ok((predicate, paths))
            })
            .collect();
        match build(&lowered) {
            Ok((module, ids)) => {
                let functions = lowered
                    .into_iter()
                    .zip(ids)
                    .map(|(lowered, id)| {
                        let (_, paths) = lowered?;
                        let id = id.ok_or("code generation failed")?;
                        let pointer = module.get_finalized_function(id);
                        // SAFETY: `id` was defined with the signature `fn(*const Slot) -> i8`
                        // in `module`, which this value owns and frees only on drop, after
                        // every use of the pointer.
                        #[expect(unsafe_code, reason = "the one place JIT code becomes a function")]
                        let function = unsafe { std::mem::transmute::<*const u8, PredicateFn>(pointer) };
                        Ok(CompiledWhere { function, paths })
                    })
                    .collect();
                CompiledPredicates { functions, module: Mutex::new(Some(module)) }
            }
            Err(reason) => CompiledPredicates {
                functions: lowered.into_iter().map(|_| Err(reason.clone())).collect(),
                module: Mutex::new(None),
            },
        }
    }

    /// Rule `rule`'s compiled WHERE clause, or why it has none.
    pub fn get(&self, rule: usize) -> Result<&CompiledWhere, &str> {
        match self.functions.get(rule) {
            Some(Ok(compiled)) => Ok(compiled),
            Some(Err(reason)) => Err(reason),
            None => Err("no such rule"),
        }
    }
}

impl Drop for CompiledPredicates {
    fn drop(&mut self) {
        let module = match self.module.get_mut() {
            Ok(module) => module.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: the functions pointing into the module are fields of `self`, which is
            // being dropped, so none can be called after this.
            #[expect(unsafe_code, reason = "freeing JIT code is unsafe by nature")]
            unsafe {
                module.free_memory();
            }
        }
    }
}

impl CompiledWhere {
    /// The payload paths, in slot order.
    pub fn paths(&self) -> &[Vec<String>] {
        &self.paths
    }

    /// Whether the WHERE clause is the Boolean true for `payload`.
    pub fn passes_on(&self, payload: &Value) -> bool {
        let slots: Vec<Slot> = self.paths.iter().map(|path| Slot::of(value_at(payload, path))).collect();
        self.passes(&slots)
    }

    /// Whether the WHERE clause is the Boolean true for these slots, one per path.
    pub fn passes(&self, slots: &[Slot]) -> bool {
        if slots.len() != self.paths.len() {
            return false;
        }
        // SAFETY: the function reads exactly `paths.len()` slots, which `slots` holds, and
        // its module lives as long as the `CompiledPredicates` that owns `self`.
        #[expect(unsafe_code, reason = "calling JIT code")]
        let result = unsafe { (self.function)(slots.as_ptr()) };
        i64::from(result) == TRUE
    }
}

/// The value at a path of field names, if every step is an object with that field.
fn value_at<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |value, name| match value {
        Value::Object(object) => object.get(name),
        _ => None,
    })
}

/// Defines every lowered predicate in one module and finalizes them together.
fn build(lowered: &[Lowered]) -> Result<(JITModule, Vec<Option<FuncId>>), String> {
    let mut flags = settings::builder();
    for (name, value) in [("use_colocated_libcalls", "false"), ("is_pic", "false"), ("opt_level", "speed")] {
        flags.set(name, value).map_err(|error| error.to_string())?;
    }
    let isa = cranelift_native::builder()
        .map_err(str::to_owned)?
        .finish(settings::Flags::new(flags))
        .map_err(|error| error.to_string())?;
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    let pointer = module.target_config().pointer_type();
    let mut signature = module.make_signature();
    signature.params.push(AbiParam::new(pointer));
    signature.returns.push(AbiParam::new(types::I8));
    let mut builder_context = FunctionBuilderContext::new();
    let mut ids = Vec::with_capacity(lowered.len());
    for (index, lowered) in lowered.iter().enumerate() {
        let Ok((predicate, _)) = lowered else {
            ids.push(None);
            continue;
        };
        let id = module
            .declare_function(&format!("where_{index}"), Linkage::Local, &signature)
            .map_err(|error| error.to_string())?;
        let mut context = module.make_context();
        context.func.signature = signature.clone();
        context.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut builder = FunctionBuilder::new(&mut context.func, &mut builder_context);
            let entry = builder.create_block();
            builder.append_block_params_for_function_params(entry);
            builder.switch_to_block(entry);
            let slots = builder.block_params(entry).first().copied().ok_or("no parameter")?;
            let result = emit(&mut builder, slots, predicate);
            builder.ins().return_(&[result]);
            builder.seal_all_blocks();
            builder.finalize(module.target_config());
        }
        let defined = module.define_function(id, &mut context);
        module.clear_context(&mut context);
        ids.push(defined.ok().map(|()| id));
    }
    module.finalize_definitions().map_err(|error| error.to_string())?;
    Ok((module, ids))
}

/// Emits `predicate` as an i8: 0 false, 1 true, 2 Undefined.
fn emit(
    b: &mut FunctionBuilder<'_>,
    slots: cranelift_codegen::ir::Value,
    predicate: &Predicate,
) -> cranelift_codegen::ir::Value {
    match predicate {
        Predicate::Constant(flag) => b.ins().iconst(types::I8, if *flag { TRUE } else { FALSE }),
        Predicate::Not(inner) => {
            let value = emit(b, slots, inner);
            let undefined = b.ins().icmp_imm_u(IntCC::Equal, value, UNDEFINED);
            let flipped = b.ins().bxor_imm_u(value, TRUE);
            let undefined_value = b.ins().iconst(types::I8, UNDEFINED);
            b.ins().select(undefined, undefined_value, flipped)
        }
        Predicate::And(lhs, rhs) | Predicate::Or(lhs, rhs) => {
            let (l, r) = (emit(b, slots, lhs), emit(b, slots, rhs));
            let l_undefined = b.ins().icmp_imm_u(IntCC::Equal, l, UNDEFINED);
            let r_undefined = b.ins().icmp_imm_u(IntCC::Equal, r, UNDEFINED);
            let undefined = b.ins().bor(l_undefined, r_undefined);
            let combined = if matches!(predicate, Predicate::And(..)) { b.ins().band(l, r) } else { b.ins().bor(l, r) };
            let undefined_value = b.ins().iconst(types::I8, UNDEFINED);
            b.ins().select(undefined, undefined_value, combined)
        }
        Predicate::Compare { op, slot, literal } => compare(b, slots, *op, *slot, *literal),
    }
}

/// `slot op literal` by the tables of `eval::operators`: ordering compares numbers and
/// numeric strings and is otherwise Undefined; `=` needs the same type and is Undefined only
/// for a missing value.
fn compare(
    b: &mut FunctionBuilder<'_>,
    slots: cranelift_codegen::ir::Value,
    op: BinaryOp,
    slot: usize,
    literal: Literal,
) -> cranelift_codegen::ir::Value {
    // `lower` caps slots at `MAX_SLOTS`, so every offset fits an i32.
    let offset = |field: usize| {
        i32::try_from(slot.saturating_mul(std::mem::size_of::<Slot>()).saturating_add(field)).unwrap_or(0)
    };
    let kind = b.ins().load(types::I8, MemFlagsData::trusted(), slots, offset(std::mem::offset_of!(Slot, kind)));
    let int = b.ins().load(types::I64, MemFlagsData::trusted(), slots, offset(std::mem::offset_of!(Slot, int)));
    let float = b.ins().load(types::F64, MemFlagsData::trusted(), slots, offset(std::mem::offset_of!(Slot, float)));
    let literal_float = b.ins().f64const(match literal {
        Literal::Int(int) => int as f64,
        Literal::Decimal(decimal) => decimal,
    });
    let (int_cc, float_cc) = match op {
        BinaryOp::Lt => (IntCC::SignedLessThan, FloatCC::LessThan),
        BinaryOp::Le => (IntCC::SignedLessThanOrEqual, FloatCC::LessThanOrEqual),
        BinaryOp::Gt => (IntCC::SignedGreaterThan, FloatCC::GreaterThan),
        BinaryOp::Ge => (IntCC::SignedGreaterThanOrEqual, FloatCC::GreaterThanOrEqual),
        _ => (IntCC::Equal, FloatCC::Equal),
    };
    // An Int slot compares exactly with an Int literal and as a double with a Decimal.
    let with_int = match literal {
        Literal::Int(value) => {
            let literal = b.ins().iconst(types::I64, value);
            b.ins().icmp(int_cc, int, literal)
        }
        Literal::Decimal(_) => {
            let as_float = b.ins().fcvt_from_sint(types::F64, int);
            b.ins().fcmp(float_cc, as_float, literal_float)
        }
    };
    let with_float = b.ins().fcmp(float_cc, float, literal_float);
    let is_int = b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(INT));
    let is_decimal = b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(DECIMAL));
    let undefined_value = b.ins().iconst(types::I8, UNDEFINED);
    if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
        let false_value = b.ins().iconst(types::I8, FALSE);
        let decimal_or_mismatch = b.ins().select(is_decimal, with_float, false_value);
        let equal = b.ins().select(is_int, with_int, decimal_or_mismatch);
        let result = if op == BinaryOp::Ne { b.ins().bxor_imm_u(equal, TRUE) } else { equal };
        let missing = b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(MISSING));
        b.ins().select(missing, undefined_value, result)
    } else {
        let is_numeric_string = b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(NUMERIC_STRING));
        let is_float = b.ins().bor(is_decimal, is_numeric_string);
        let float_or_undefined = b.ins().select(is_float, with_float, undefined_value);
        b.ins().select(is_int, with_int, float_or_undefined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqlVersion, check_sql};

    fn compiled(condition: &str) -> CompiledPredicates {
        let checked = check_sql(&format!("SELECT * FROM 't' WHERE {condition}"), SqlVersion::V2016_03_23);
        let statement = checked.statement.unwrap_or_else(|| unreachable!("{condition}"));
        CompiledPredicates::compile([&statement])
    }

    #[test]
    fn numeric_comparisons_follow_the_tables() {
        let predicates = compiled("a > 5 AND NOT (b.c = 2.5 OR 10 <= a)");
        let compiled = predicates.get(0).unwrap_or_else(|reason| unreachable!("{reason}"));
        assert_eq!(compiled.paths(), [vec!["a".to_owned()], vec!["b".to_owned(), "c".to_owned()]]);
        let slots = |a: Value, c: Value| [Slot::of(Some(&a)), Slot::of(Some(&c))];
        assert!(compiled.passes(&slots(Value::Int(6), Value::Int(3))));
        assert!(!compiled.passes(&slots(Value::Int(6), Value::Decimal(2.5))));
        assert!(!compiled.passes(&slots(Value::Int(10), Value::Int(3))));
        assert!(compiled.passes(&slots(Value::String("7".into()), Value::String("2.5".into()))));
        assert!(!compiled.passes(&slots(Value::Null, Value::Int(3))));
        assert!(!compiled.passes(&[Slot::of(None), Slot::of(None)]));
    }

    #[test]
    fn other_clauses_fall_back_with_a_reason() {
        assert!(compiled("upper(a) = 'X'").get(0).is_err());
        assert!(compiled("a > b").get(0).is_err());
        assert!(compiled("true").get(0).is_ok());
    }
}
