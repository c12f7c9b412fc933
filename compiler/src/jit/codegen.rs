//! Cranelift code generation for lowered rules: one function per rule, all in one module.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Signature, UserFuncName, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use super::helpers::Data;
use super::helpers::{
    self, CONTEXT_ACCOUNT_ID, CONTEXT_CLIENT_ID, CONTEXT_PRINCIPAL, CONTEXT_SOURCE_IP, CONTEXT_TIMESTAMP,
    CONTEXT_TOPIC, CONTEXT_TOPIC_LEVEL,
};
use super::lower::{BuiltItem, Literal, Lowered, Operand, Predicate, Source, Unsupported, ValueExpr};
use super::slots::{BOOL, DECIMAL, INT, MISSING, NUMERIC_STRING, Slot};
use super::{FALSE, TRUE, UNDEFINED};
use crate::syntax::ast::{BinaryOp, UnaryOp};

/// A finalized module, the function of each rule that compiled, and the constants the code
/// points at.
pub(super) struct Built {
    pub(super) module: JITModule,
    pub(super) ids: Vec<Option<FuncId>>,
    pub(super) constants: Vec<Box<[u8]>>,
    /// What value helpers are given by address.
    #[expect(clippy::vec_box, reason = "compiled code holds each entry's address, which must not move")]
    pub(super) data: Vec<Box<Data>>,
    /// Machine code bytes of every function, as emitted (before page rounding).
    pub(super) code_bytes: usize,
}

/// Defines every lowered rule in one module and finalizes them together. `slot_maps[r][i]`
/// is the set-wide slot of rule `r`'s path `i`.
pub(super) fn build(lowered: &[Result<Lowered, Unsupported>], slot_maps: &[Vec<usize>]) -> Result<Built, String> {
    let mut module = super::new_module()?;
    let pointer = module.target_config().pointer_type();
    let mut signature = module.make_signature();
    signature.params.extend([AbiParam::new(pointer), AbiParam::new(pointer)]);
    signature.returns.push(AbiParam::new(types::I8));
    let mut builder_context = FunctionBuilderContext::new();
    let mut constants = Vec::new();
    let mut data = Vec::new();
    let mut code_bytes = 0;
    let mut ids = Vec::with_capacity(lowered.len());
    for (index, (lowered, slot_map)) in lowered.iter().zip(slot_maps).enumerate() {
        let Ok(lowered) = lowered else {
            ids.push(None);
            continue;
        };
        let id = module
            .declare_function(&format!("rule_{index}"), Linkage::Local, &signature)
            .map_err(|error| error.to_string())?;
        let mut context = module.make_context();
        context.func.signature = signature.clone();
        context.func.name = UserFuncName::user(0, id.as_u32());
        {
            let builder = FunctionBuilder::new(&mut context.func, &mut builder_context);
            let mut emitter = Emit {
                b: builder,
                pointer,
                slot_map,
                variables: &lowered.variables,
                constants: &mut constants,
                data: &mut data,
                call_conv: signature.call_conv,
            };
            emitter.rule(lowered);
            emitter.b.seal_all_blocks();
            emitter.b.finalize(module.target_config());
        }
        let defined = module.define_function(id, &mut context);
        code_bytes += context.compiled_code().map_or(0, |code| code.code_buffer().len());
        module.clear_context(&mut context);
        ids.push(defined.ok().map(|()| id));
    }
    module.finalize_definitions().map_err(|error| error.to_string())?;
    Ok(Built { module, ids, constants, data, code_bytes })
}

struct Emit<'a, 'b> {
    b: FunctionBuilder<'b>,
    pointer: types::Type,
    slot_map: &'a [usize],
    /// The rule's SET variable names, by index.
    variables: &'a [String],
    constants: &'a mut Vec<Box<[u8]>>,
    #[expect(clippy::vec_box, reason = "compiled code holds each entry's address, which must not move")]
    data: &'a mut Vec<Box<Data>>,
    call_conv: cranelift_codegen::isa::CallConv,
}

/// The arguments of a helper: pointers and integers, all pointer-sized, and what it returns.
enum Returns {
    Nothing,
    Truth,
}

impl Emit<'_, '_> {
    fn rule(&mut self, lowered: &Lowered) {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (Some(&slots), Some(&ctx)) = (params.first(), params.get(1)) else {
            let zero = self.b.ins().iconst(types::I8, FALSE);
            self.b.ins().return_(&[zero]);
            return;
        };
        for (variable, value) in &lowered.set {
            self.value(slots, ctx, value);
            let index = self.integer(i64::try_from(*variable).unwrap_or(0));
            self.call(helpers::v_assign as *const () as usize, &[ctx, index], Returns::Nothing);
        }
        if let Some(predicate) = &lowered.predicate {
            let truth = self.predicate(slots, ctx, predicate);
            let body = self.b.create_block();
            let filtered = self.b.create_block();
            let holds = self.b.ins().icmp_imm_u(IntCC::Equal, truth, TRUE);
            self.b.ins().brif(holds, body, &[], filtered, &[]);
            self.b.switch_to_block(filtered);
            let zero = self.b.ins().iconst(types::I8, FALSE);
            self.b.ins().return_(&[zero]);
            self.b.switch_to_block(body);
        }
        if let Some(built) = &lowered.built {
            let mut paths = Vec::with_capacity(built.len());
            for item in built {
                match item {
                    BuiltItem::MergePayload => paths.push(None),
                    BuiltItem::Value(path, value) => {
                        self.value(slots, ctx, value);
                        paths.push(Some(path.clone()));
                    }
                }
            }
            let data = self.data(Data::Built(paths));
            self.call(helpers::emit_built as *const () as usize, &[ctx, data], Returns::Nothing);
            let one = self.b.ins().iconst(types::I8, TRUE);
            self.b.ins().return_(&[one]);
            return;
        }
        if lowered.object {
            self.raw(ctx, b"{");
        }
        for item in &lowered.items {
            match &item.source {
                Source::Operand(Operand::Path(path)) => {
                    let slot = self.slot_address(slots, *path);
                    let (key, key_len) = self.constant(&item.prefix);
                    self.call(helpers::emit_slot as *const () as usize, &[ctx, slot, key, key_len], Returns::Nothing);
                }
                Source::Operand(operand) => {
                    let (which, level) = self.context(*operand);
                    let (key, key_len) = self.constant(&item.prefix);
                    self.call(
                        helpers::emit_context as *const () as usize,
                        &[ctx, which, level, key, key_len],
                        Returns::Nothing,
                    );
                }
                Source::Payload => {
                    let (key, key_len) = self.constant(&item.prefix);
                    self.call(helpers::emit_payload as *const () as usize, &[ctx, key, key_len], Returns::Nothing);
                }
                Source::Constant(Some(value)) => {
                    let member = [item.prefix.as_slice(), value].concat();
                    let (text, len) = self.constant(&member);
                    self.call(helpers::emit_constant as *const () as usize, &[ctx, text, len], Returns::Nothing);
                }
                Source::Constant(None) => {}
                Source::Value(value) => {
                    self.value(slots, ctx, value);
                    let (key, key_len) = self.constant(&item.prefix);
                    self.call(helpers::emit_value as *const () as usize, &[ctx, key, key_len], Returns::Nothing);
                }
            }
        }
        if lowered.object {
            self.raw(ctx, b"}");
        }
        let one = self.b.ins().iconst(types::I8, TRUE);
        self.b.ins().return_(&[one]);
    }

    /// Emits the helper calls that leave `expr`'s value on the emitter's stack.
    fn value(&mut self, slots: Value, ctx: Value, expr: &ValueExpr) {
        match expr {
            ValueExpr::Operand(Operand::Path(path)) => {
                let slot = self.slot_address(slots, *path);
                self.call(helpers::v_slot as *const () as usize, &[ctx, slot], Returns::Nothing);
            }
            ValueExpr::Operand(operand) => {
                let (which, level) = self.context(*operand);
                self.call(helpers::v_context as *const () as usize, &[ctx, which, level], Returns::Nothing);
            }
            ValueExpr::Constant(value) => {
                let data = self.data(Data::Value(value.clone()));
                self.call(helpers::v_constant as *const () as usize, &[ctx, data], Returns::Nothing);
            }
            ValueExpr::Unary(op, operand) => {
                self.value(slots, ctx, operand);
                let code = self.integer(i64::from(*op != UnaryOp::Neg));
                self.call(helpers::v_unary as *const () as usize, &[ctx, code], Returns::Nothing);
            }
            ValueExpr::Binary(op, lhs, rhs) => {
                self.value(slots, ctx, lhs);
                self.value(slots, ctx, rhs);
                let index = helpers::BINARY_OPS.iter().position(|known| known == op);
                let code = self.integer(index.and_then(|index| i64::try_from(index).ok()).unwrap_or(helpers::REM));
                self.call(helpers::v_binary as *const () as usize, &[ctx, code], Returns::Nothing);
            }
            ValueExpr::Call(function, args) => {
                for arg in args {
                    self.value(slots, ctx, arg);
                }
                let data = self.data(Data::Function(function));
                let count = self.integer(i64::try_from(args.len()).unwrap_or(0));
                self.call(helpers::v_call as *const () as usize, &[ctx, data, count], Returns::Nothing);
            }
            ValueExpr::Cast(target, operand) => {
                self.value(slots, ctx, operand);
                let data = self.data(Data::Cast(*target));
                self.call(helpers::v_cast as *const () as usize, &[ctx, data], Returns::Nothing);
            }
            ValueExpr::Field(base, name) => {
                self.value(slots, ctx, base);
                let data = self.data(Data::Name(name.clone()));
                self.call(helpers::v_field as *const () as usize, &[ctx, data], Returns::Nothing);
            }
            ValueExpr::Array(items) => {
                for item in items {
                    self.value(slots, ctx, item);
                }
                let count = self.integer(i64::try_from(items.len()).unwrap_or(0));
                self.call(helpers::v_array as *const () as usize, &[ctx, count], Returns::Nothing);
            }
            ValueExpr::Variable(index) => {
                let index = self.integer(i64::try_from(*index).unwrap_or(0));
                self.call(helpers::v_variable as *const () as usize, &[ctx, index], Returns::Nothing);
            }
            ValueExpr::Payload { raw } => {
                let raw = self.integer(i64::from(*raw));
                self.call(helpers::v_payload as *const () as usize, &[ctx, raw], Returns::Nothing);
            }
            ValueExpr::Case { subject, branches, otherwise } => {
                self.case(slots, ctx, subject, branches, otherwise.as_deref())
            }
            ValueExpr::Query(query) => {
                // The query sees every SET variable, by name, as the interpreter's does.
                let data = self.data(Data::Query(query.clone(), self.variables.to_vec()));
                self.call(helpers::v_query as *const () as usize, &[ctx, data], Returns::Nothing);
            }
            ValueExpr::Object(entries) => {
                for (_, value) in entries {
                    self.value(slots, ctx, value);
                }
                let data = self.data(Data::Keys(entries.iter().map(|(key, _)| key.clone()).collect()));
                self.call(helpers::v_object as *const () as usize, &[ctx, data], Returns::Nothing);
            }
        }
    }

    /// CASE: the subject stays on the stack while WHEN candidates are tested in turn; only
    /// the chosen THEN (or ELSE) is evaluated, as in the interpreter.
    fn case(
        &mut self,
        slots: Value,
        ctx: Value,
        subject: &ValueExpr,
        branches: &[(ValueExpr, ValueExpr)],
        otherwise: Option<&ValueExpr>,
    ) {
        let done = self.b.create_block();
        self.value(slots, ctx, subject);
        let defined = self
            .call(helpers::v_case_subject as *const () as usize, &[ctx], Returns::Truth)
            .unwrap_or_else(|| self.b.ins().iconst(types::I8, FALSE));
        let mut next = self.b.create_block();
        self.b.ins().brif(defined, next, &[], done, &[]);
        for (when, then) in branches {
            self.b.switch_to_block(next);
            self.value(slots, ctx, when);
            let matched = self
                .call(helpers::v_case_when as *const () as usize, &[ctx], Returns::Truth)
                .unwrap_or_else(|| self.b.ins().iconst(types::I8, FALSE));
            let chosen = self.b.create_block();
            next = self.b.create_block();
            self.b.ins().brif(matched, chosen, &[], next, &[]);
            self.b.switch_to_block(chosen);
            self.value(slots, ctx, then);
            self.b.ins().jump(done, &[]);
        }
        self.b.switch_to_block(next);
        self.call(helpers::v_pop as *const () as usize, &[ctx], Returns::Nothing);
        match otherwise {
            Some(otherwise) => self.value(slots, ctx, otherwise),
            None => {
                let data = self.data(Data::Value(crate::eval::Value::Undefined));
                self.call(helpers::v_constant as *const () as usize, &[ctx, data], Returns::Nothing);
            }
        }
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// Keeps `data` alive with the set and gives its address.
    fn data(&mut self, data: Data) -> Value {
        let boxed = Box::new(data);
        let address = std::ptr::from_ref::<Data>(&boxed) as i64;
        self.data.push(boxed);
        self.b.ins().iconst(self.pointer, address)
    }

    fn raw(&mut self, ctx: Value, text: &[u8]) {
        let (pointer, len) = self.constant(text);
        self.call(helpers::emit_raw as *const () as usize, &[ctx, pointer, len], Returns::Nothing);
    }

    /// Keeps `bytes` alive with the set and gives its address and length as values.
    fn constant(&mut self, bytes: &[u8]) -> (Value, Value) {
        let boxed: Box<[u8]> = bytes.into();
        let address = boxed.as_ptr() as i64;
        self.constants.push(boxed);
        (self.b.ins().iconst(self.pointer, address), self.b.ins().iconst(self.pointer, bytes.len() as i64))
    }

    fn integer(&mut self, value: i64) -> Value {
        self.b.ins().iconst(self.pointer, value)
    }

    /// Calls the helper at `address` with pointer-sized arguments.
    fn call(&mut self, address: usize, args: &[Value], returns: Returns) -> Option<Value> {
        let mut signature = Signature::new(self.call_conv);
        signature.params.extend(args.iter().map(|_| AbiParam::new(self.pointer)));
        if let Returns::Truth = returns {
            signature.returns.push(AbiParam::new(types::I8));
        }
        let signature = self.b.import_signature(signature);
        let callee = self.b.ins().iconst(self.pointer, address as i64);
        let call = self.b.ins().call_indirect(signature, callee, args);
        self.b.inst_results(call).first().copied()
    }

    fn slot_address(&mut self, slots: Value, path: usize) -> Value {
        let slot = self.slot_map.get(path).copied().unwrap_or(0);
        let offset = slot.saturating_mul(std::mem::size_of::<Slot>());
        self.b.ins().iadd_imm_u(slots, i64::try_from(offset).unwrap_or(0))
    }

    fn context(&mut self, operand: Operand) -> (Value, Value) {
        let (which, level) = match operand {
            Operand::Topic => (CONTEXT_TOPIC, 0),
            Operand::TopicLevel(level) => (CONTEXT_TOPIC_LEVEL, level),
            Operand::ClientId | Operand::Path(_) => (CONTEXT_CLIENT_ID, 0),
            Operand::Principal => (CONTEXT_PRINCIPAL, 0),
            Operand::SourceIp => (CONTEXT_SOURCE_IP, 0),
            Operand::AccountId => (CONTEXT_ACCOUNT_ID, 0),
            Operand::Timestamp => (CONTEXT_TIMESTAMP, 0),
        };
        (self.integer(which), self.integer(level))
    }

    /// Emits `predicate` as an i8: 0 false, 1 true, 2 Undefined.
    fn predicate(&mut self, slots: Value, ctx: Value, predicate: &Predicate) -> Value {
        match predicate {
            Predicate::Constant(flag) => self.b.ins().iconst(types::I8, if *flag { TRUE } else { FALSE }),
            Predicate::Not(inner) => {
                let value = self.predicate(slots, ctx, inner);
                let undefined = self.b.ins().icmp_imm_u(IntCC::Equal, value, UNDEFINED);
                let flipped = self.b.ins().bxor_imm_u(value, TRUE);
                let undefined_value = self.b.ins().iconst(types::I8, UNDEFINED);
                self.b.ins().select(undefined, undefined_value, flipped)
            }
            Predicate::And(lhs, rhs) | Predicate::Or(lhs, rhs) => {
                // Left to right, as `operators::logical` does: the right side runs only when
                // the left is the Boolean that leaves the answer open (true for AND, false
                // for OR); otherwise the left is the answer (false, true or Undefined).
                let l = self.predicate(slots, ctx, lhs);
                let open = if matches!(predicate, Predicate::And(..)) { TRUE } else { FALSE };
                let right = self.b.create_block();
                let done = self.b.create_block();
                self.b.append_block_param(done, types::I8);
                let goes_on = self.b.ins().icmp_imm_u(IntCC::Equal, l, open);
                self.b.ins().brif(goes_on, right, &[], done, &[l.into()]);
                self.b.switch_to_block(right);
                let r = self.predicate(slots, ctx, rhs);
                self.b.ins().jump(done, &[r.into()]);
                self.b.switch_to_block(done);
                self.b.block_params(done)[0]
            }
            Predicate::Value { value, exact } => {
                self.value(slots, ctx, value);
                let exact = self.integer(i64::from(*exact));
                self.call(helpers::v_truth as *const () as usize, &[ctx, exact], Returns::Truth)
                    .unwrap_or_else(|| self.b.ins().iconst(types::I8, UNDEFINED))
            }
            Predicate::Compare { op, operand, literal } => {
                let negate = self.integer(i64::from(*op == BinaryOp::Ne));
                match (operand, literal) {
                    (Operand::Path(path), Literal::Int(_) | Literal::Decimal(_)) => {
                        let slot = self.slot_address(slots, *path);
                        self.compare_number(slot, *op, literal)
                    }
                    (Operand::Path(path), Literal::Bool(flag)) => {
                        let slot = self.slot_address(slots, *path);
                        self.compare_bool(slot, *op, *flag)
                    }
                    (Operand::Path(path), Literal::Text(text)) => {
                        let slot = self.slot_address(slots, *path);
                        let (text, len) = self.constant(text.as_bytes());
                        let args = [ctx, slot, text, len, negate];
                        self.call(helpers::slot_equals_text as *const () as usize, &args, Returns::Truth)
                            .unwrap_or_else(|| self.b.ins().iconst(types::I8, UNDEFINED))
                    }
                    (context, Literal::Text(text)) => {
                        let (which, level) = self.context(*context);
                        let (text, len) = self.constant(text.as_bytes());
                        let args = [ctx, which, level, text, len, negate];
                        self.call(helpers::context_equals_text as *const () as usize, &args, Returns::Truth)
                            .unwrap_or_else(|| self.b.ins().iconst(types::I8, UNDEFINED))
                    }
                    // `lower` refuses every other pairing.
                    _ => self.b.ins().iconst(types::I8, UNDEFINED),
                }
            }
        }
    }

    fn load(&mut self, ty: types::Type, slot: Value, offset: usize) -> Value {
        self.b.ins().load(ty, MemFlagsData::trusted(), slot, i32::try_from(offset).unwrap_or(0))
    }

    /// `slot = flag`: the same Boolean, false for any other value, Undefined when missing.
    fn compare_bool(&mut self, slot: Value, op: BinaryOp, flag: bool) -> Value {
        let kind = self.load(types::I8, slot, std::mem::offset_of!(Slot, kind));
        let int = self.load(types::I64, slot, std::mem::offset_of!(Slot, int));
        let same = self.b.ins().icmp_imm_u(IntCC::Equal, int, i64::from(flag));
        let is_bool = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(BOOL));
        let false_value = self.b.ins().iconst(types::I8, FALSE);
        let equal = self.b.ins().select(is_bool, same, false_value);
        let result = if op == BinaryOp::Ne { self.b.ins().bxor_imm_u(equal, TRUE) } else { equal };
        let missing = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(MISSING));
        let undefined_value = self.b.ins().iconst(types::I8, UNDEFINED);
        self.b.ins().select(missing, undefined_value, result)
    }

    /// `slot op literal` by the tables of `eval::operators`: ordering compares numbers and
    /// numeric strings and is otherwise Undefined; `=` needs the same type and is Undefined
    /// only for a missing value.
    fn compare_number(&mut self, slot: Value, op: BinaryOp, literal: &Literal) -> Value {
        let kind = self.load(types::I8, slot, std::mem::offset_of!(Slot, kind));
        let int = self.load(types::I64, slot, std::mem::offset_of!(Slot, int));
        let float = self.load(types::F64, slot, std::mem::offset_of!(Slot, float));
        let literal_float = self.b.ins().f64const(match literal {
            Literal::Int(int) => *int as f64,
            Literal::Decimal(decimal) => *decimal,
            Literal::Text(_) | Literal::Bool(_) => f64::NAN,
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
                let literal = self.b.ins().iconst(types::I64, *value);
                self.b.ins().icmp(int_cc, int, literal)
            }
            _ => {
                let as_float = self.b.ins().fcvt_from_sint(types::F64, int);
                self.b.ins().fcmp(float_cc, as_float, literal_float)
            }
        };
        let with_float = self.b.ins().fcmp(float_cc, float, literal_float);
        let is_int = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(INT));
        let is_decimal = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(DECIMAL));
        let undefined_value = self.b.ins().iconst(types::I8, UNDEFINED);
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
            let false_value = self.b.ins().iconst(types::I8, FALSE);
            let decimal_or_mismatch = self.b.ins().select(is_decimal, with_float, false_value);
            let equal = self.b.ins().select(is_int, with_int, decimal_or_mismatch);
            let result = if op == BinaryOp::Ne { self.b.ins().bxor_imm_u(equal, TRUE) } else { equal };
            let missing = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(MISSING));
            self.b.ins().select(missing, undefined_value, result)
        } else {
            let is_numeric_string = self.b.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(NUMERIC_STRING));
            let is_float = self.b.ins().bor(is_decimal, is_numeric_string);
            let float_or_undefined = self.b.ins().select(is_float, with_float, undefined_value);
            self.b.ins().select(is_int, with_int, float_or_undefined)
        }
    }
}
