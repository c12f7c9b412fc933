//! Native decision functions for IoT policies, for one connection: one function per set of
//! statements an action keeps (actions that keep the same statements share one).
//! Everything that depends only on the connection (which statements name the action, which
//! conditions hold, what each variable stands for) is settled before code generation; the
//! function only matches the resource against the remaining patterns.
//!
//! A pattern `S0*S1*...*Sk` is matched as IAM's glob is: `S0` at the start, `Sk` at the end,
//! each middle segment at its earliest place after the previous one (earliest is never worse,
//! as `*` takes anything between). Each segment is straight-line byte compares (`?` steps over
//! one UTF-8 character), so a resource of n bytes costs at most n tries per segment: linear in
//! n for a given pattern, whatever its stars.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{AbiParam, Block, InstBuilder, MemFlagsData, UserFuncName, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use crate::policy::glob::Token;

/// One statement as its decision function sees it.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) deny: bool,
    /// `NotResource`: the statement applies when no pattern matches.
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<Vec<Token>>,
}

/// A compiled decision: `fn(resource, len, applies) -> decision`, writing 1 or 0 for each
/// candidate into `applies` and returning 0 for allowed, 1 for an explicit deny, 2 for an
/// implicit deny.
pub(crate) type DecisionFn = unsafe extern "C" fn(*const u8, usize, *mut u8) -> u8;

pub(crate) const ALLOWED: u8 = 0;
pub(crate) const EXPLICIT_DENY: u8 = 1;
pub(crate) const IMPLICIT_DENY: u8 = 2;

/// The decision functions of one connection, owning their code.
pub(crate) struct DecisionSet {
    functions: Vec<DecisionFn>,
    /// Owns the code the functions point into.
    _module: super::OwnedModule,
}

impl std::fmt::Debug for DecisionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionSet").field("functions", &self.functions.len()).finish_non_exhaustive()
    }
}

impl DecisionSet {
    /// Compiles one decision function per candidate list, finalized in one batch.
    pub(crate) fn compile(actions: &[Vec<Candidate>]) -> Result<DecisionSet, String> {
        let (module, ids) = build(actions)?;
        let functions = ids
            .into_iter()
            .map(|id| {
                let pointer = module.get_finalized_function(id);
                // SAFETY: `id` was defined with `DecisionFn`'s signature in `module`, which the
                // set owns (`OwnedModule`) and frees only on drop, after every use of the pointer.
                #[expect(unsafe_code, reason = "the one place decision code becomes a function")]
                let function = unsafe { std::mem::transmute::<*const u8, DecisionFn>(pointer) };
                function
            })
            .collect();
        Ok(DecisionSet { functions, _module: super::OwnedModule::new(module) })
    }

    /// Runs function `index` on `resource`, writing whether each candidate applies into
    /// `applies` (which must hold one byte per candidate); `None` for no such function or a
    /// buffer too short.
    pub(crate) fn decide(&self, index: usize, candidates: usize, resource: &[u8], applies: &mut [u8]) -> Option<u8> {
        let function = self.functions.get(index)?;
        if applies.len() < candidates {
            return None;
        }
        // SAFETY: the function reads `resource.len()` bytes from `resource` and writes one
        // byte per candidate, which `applies` holds; its module lives as long as `self`.
        #[expect(unsafe_code, reason = "calling decision code")]
        let decision = unsafe { function(resource.as_ptr(), resource.len(), applies.as_mut_ptr()) };
        Some(decision)
    }
}

/// Compiles one decision function per candidate list, finalized together.
fn build(actions: &[Vec<Candidate>]) -> Result<(JITModule, Vec<FuncId>), String> {
    let mut module = super::new_module()?;
    let pointer = module.target_config().pointer_type();
    let mut signature = module.make_signature();
    signature.params.extend([AbiParam::new(pointer), AbiParam::new(pointer), AbiParam::new(pointer)]);
    signature.returns.push(AbiParam::new(types::I8));
    let mut builder_context = FunctionBuilderContext::new();
    let mut ids = Vec::with_capacity(actions.len());
    for (index, candidates) in actions.iter().enumerate() {
        let id = module
            .declare_function(&format!("decide_{index}"), Linkage::Local, &signature)
            .map_err(|error| error.to_string())?;
        let mut context = module.make_context();
        context.func.signature = signature.clone();
        context.func.name = UserFuncName::user(1, id.as_u32());
        {
            let builder = FunctionBuilder::new(&mut context.func, &mut builder_context);
            let mut emit = Emit { b: builder, pointer };
            emit.decision(candidates);
            emit.b.seal_all_blocks();
            emit.b.finalize(module.target_config());
        }
        module.define_function(id, &mut context).map_err(|error| error.to_string())?;
        module.clear_context(&mut context);
        ids.push(id);
    }
    module.finalize_definitions().map_err(|error| error.to_string())?;
    Ok((module, ids))
}

struct Emit<'a> {
    b: FunctionBuilder<'a>,
    pointer: types::Type,
}

/// The resource being matched: its address and length.
#[derive(Clone, Copy)]
struct Resource {
    base: Value,
    len: Value,
}

impl Emit<'_> {
    fn decision(&mut self, candidates: &[Candidate]) {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (Some(&base), Some(&len), Some(&applies)) = (params.first(), params.get(1), params.get(2)) else {
            let implicit = self.b.ins().iconst(types::I8, i64::from(IMPLICIT_DENY));
            self.b.ins().return_(&[implicit]);
            return;
        };
        let resource = Resource { base, len };
        let mut allow = self.b.ins().iconst(types::I8, 0);
        let mut deny = self.b.ins().iconst(types::I8, 0);
        for (index, candidate) in candidates.iter().enumerate() {
            let matched = self.any_pattern(resource, &candidate.patterns);
            let applied = if candidate.negated { self.b.ins().bxor_imm_u(matched, 1) } else { matched };
            self.b.ins().store(MemFlagsData::trusted(), applied, applies, i32::try_from(index).unwrap_or(0));
            if candidate.deny {
                deny = self.b.ins().bor(deny, applied);
            } else {
                allow = self.b.ins().bor(allow, applied);
            }
        }
        let allowed = self.b.ins().iconst(types::I8, i64::from(ALLOWED));
        let implicit = self.b.ins().iconst(types::I8, i64::from(IMPLICIT_DENY));
        let explicit = self.b.ins().iconst(types::I8, i64::from(EXPLICIT_DENY));
        let allow_or_implicit = self.b.ins().select(allow, allowed, implicit);
        let decision = self.b.ins().select(deny, explicit, allow_or_implicit);
        self.b.ins().return_(&[decision]);
    }

    /// 1 when the resource matches one of `patterns` (tried in order, stopping at the first).
    fn any_pattern(&mut self, resource: Resource, patterns: &[Vec<Token>]) -> Value {
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I8);
        for pattern in patterns {
            let matched = self.b.create_block();
            let next = self.b.create_block();
            self.pattern(resource, pattern, matched, next);
            self.b.switch_to_block(matched);
            let one = self.b.ins().iconst(types::I8, 1);
            self.b.ins().jump(done, &[one.into()]);
            self.b.switch_to_block(next);
        }
        let zero = self.b.ins().iconst(types::I8, 0);
        self.b.ins().jump(done, &[zero.into()]);
        self.b.switch_to_block(done);
        self.b.block_params(done).first().copied().unwrap_or(zero)
    }

    /// Jumps to `matched` or `failed`.
    fn pattern(&mut self, resource: Resource, pattern: &[Token], matched: Block, failed: Block) {
        let segments: Vec<&[Token]> = pattern.split(|token| *token == Token::Star).collect();
        let zero = self.b.ins().iconst(self.pointer, 0);
        let (Some((first, rest)), true) = (segments.split_first(), segments.len() > 1) else {
            // No star: the one segment must cover the whole resource.
            let end = self.segment(resource, pattern, zero, failed);
            let whole = self.b.ins().icmp(IntCC::Equal, end, resource.len);
            self.b.ins().brif(whole, matched, &[], failed, &[]);
            return;
        };
        let mut at = self.segment(resource, first, zero, failed);
        let Some((last, middle)) = rest.split_last() else {
            self.b.ins().jump(matched, &[]);
            return;
        };
        for segment in middle.iter().filter(|segment| !segment.is_empty()) {
            at = self.search(resource, segment, at, failed, false);
        }
        if last.is_empty() {
            self.b.ins().jump(matched, &[]);
        } else {
            self.search(resource, last, at, failed, true);
            self.b.ins().jump(matched, &[]);
        }
    }

    /// Finds the earliest place at or after `from` where `segment` matches (ending exactly
    /// at the resource's end when `at_end`), continuing in a new block with the position
    /// after it; jumps to `failed` when there is none.
    fn search(&mut self, resource: Resource, segment: &[Token], from: Value, failed: Block, at_end: bool) -> Value {
        let header = self.b.create_block();
        self.b.append_block_param(header, self.pointer);
        let attempt = self.b.create_block();
        let next = self.b.create_block();
        self.b.append_block_param(next, self.pointer);
        let found = self.b.create_block();
        self.b.append_block_param(found, self.pointer);
        self.b.ins().jump(header, &[from.into()]);

        self.b.switch_to_block(header);
        let start = self.b.block_params(header).first().copied().unwrap_or(from);
        let past_end = self.b.ins().icmp(IntCC::UnsignedGreaterThan, start, resource.len);
        let check = self.b.create_block();
        self.b.ins().brif(past_end, failed, &[], check, &[]);
        // A match starts on a character boundary: skip UTF-8 continuation bytes.
        self.b.switch_to_block(check);
        let in_range = self.b.ins().icmp(IntCC::UnsignedLessThan, start, resource.len);
        let continuation = self.continuation_at(resource, start, in_range);
        self.b.ins().brif(continuation, next, &[start.into()], attempt, &[]);

        self.b.switch_to_block(attempt);
        let retry = next_with(self, next, start);
        let end = self.segment(resource, segment, start, retry);
        if at_end {
            let whole = self.b.ins().icmp(IntCC::Equal, end, resource.len);
            self.b.ins().brif(whole, found, &[end.into()], next, &[start.into()]);
        } else {
            self.b.ins().jump(found, &[end.into()]);
        }

        self.b.switch_to_block(next);
        let tried = self.b.block_params(next).first().copied().unwrap_or(start);
        let following = self.b.ins().iadd_imm_u(tried, 1);
        self.b.ins().jump(header, &[following.into()]);

        self.b.switch_to_block(found);
        self.b.block_params(found).first().copied().unwrap_or(start)
    }

    /// Whether the byte at `at` is a UTF-8 continuation byte (0 when `at` is past the end).
    fn continuation_at(&mut self, resource: Resource, at: Value, in_range: Value) -> Value {
        let safe_at = self.b.ins().select(in_range, at, resource.len);
        let load = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::I8);
        let zero = self.b.ins().iconst(types::I8, 0);
        self.b.ins().brif(in_range, load, &[], join, &[zero.into()]);
        self.b.switch_to_block(load);
        let address = self.b.ins().iadd(resource.base, safe_at);
        let byte = self.b.ins().load(types::I8, MemFlagsData::trusted(), address, 0);
        let masked = self.b.ins().band_imm_u(byte, 0xC0);
        let is_continuation = self.b.ins().icmp_imm_u(IntCC::Equal, masked, 0x80);
        self.b.ins().jump(join, &[is_continuation.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join).first().copied().unwrap_or(zero)
    }

    /// The byte at `at`, continuing in a new block; jumps to `failed` past the end.
    fn byte_or_fail(&mut self, resource: Resource, at: Value, failed: Block) -> Value {
        let in_range = self.b.ins().icmp(IntCC::UnsignedLessThan, at, resource.len);
        let load = self.b.create_block();
        self.b.ins().brif(in_range, load, &[], failed, &[]);
        self.b.switch_to_block(load);
        let address = self.b.ins().iadd(resource.base, at);
        self.b.ins().load(types::I8, MemFlagsData::trusted(), address, 0)
    }

    /// Matches `segment` (no stars) at `at`: straight-line compares, jumping to `failed` on a
    /// mismatch; returns the position after it.
    fn segment(&mut self, resource: Resource, segment: &[Token], at: Value, failed: Block) -> Value {
        let mut at = at;
        for token in segment {
            match token {
                Token::Literal(c) => {
                    let mut buffer = [0; 4];
                    for &expected in c.encode_utf8(&mut buffer).as_bytes() {
                        let byte = self.byte_or_fail(resource, at, failed);
                        let same = self.b.ins().icmp_imm_u(IntCC::Equal, byte, i64::from(expected));
                        let ok = self.b.create_block();
                        self.b.ins().brif(same, ok, &[], failed, &[]);
                        self.b.switch_to_block(ok);
                        at = self.b.ins().iadd_imm_u(at, 1);
                    }
                }
                Token::One => {
                    // One character: 1 to 4 bytes, by its lead byte.
                    let byte = self.byte_or_fail(resource, at, failed);
                    let two = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, byte, 0xC0);
                    let three = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, byte, 0xE0);
                    let four = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, byte, 0xF0);
                    let extra = self.b.ins().iadd(two, three);
                    let extra = self.b.ins().iadd(extra, four);
                    let extra = self.b.ins().uextend(self.pointer, extra);
                    let width = self.b.ins().iadd_imm_u(extra, 1);
                    at = self.b.ins().iadd(at, width);
                    let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, at, resource.len);
                    let ok = self.b.create_block();
                    self.b.ins().brif(fits, ok, &[], failed, &[]);
                    self.b.switch_to_block(ok);
                }
                Token::Star => {}
            }
        }
        at
    }
}

/// A block that forwards to `next` with `start`: mismatches inside an attempt retry from the
/// following position.
fn next_with(emit: &mut Emit<'_>, next: Block, start: Value) -> Block {
    let retry = emit.b.create_block();
    let current = emit.b.current_block();
    emit.b.switch_to_block(retry);
    emit.b.ins().jump(next, &[start.into()]);
    if let Some(current) = current {
        emit.b.switch_to_block(current);
    }
    retry
}
