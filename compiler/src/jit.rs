//! The Cranelift JIT: every rule of a set it can compile becomes one native function that
//! evaluates the WHERE clause over payload slots and, when it holds, writes the SELECT output
//! straight into a byte buffer. A rule it does not compile keeps the interpreter, with the
//! reason recorded. Either way the outcome is the interpreter's, byte for byte
//! (`tests/engines.rs`, the `evaluate` fuzz target).
//!
//! **Architecture Invariant:** compiled code reads only the slot buffer and the constants
//! its set owns, and calls only the helpers in [`helpers`], which never unwind. All of a
//! set's functions are finalized in one module, freed when the set is dropped.

mod codegen;
pub(crate) mod decision;
mod helpers;
mod lower;
pub(crate) mod slots;

use std::sync::Mutex;

use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;

pub(crate) use helpers::Emitter;
pub use lower::Unsupported;
use slots::{SlotBuffer, SlotTree};

use crate::syntax::ast::Statement;
use crate::version::SqlVersion;

const FALSE: i64 = 0;
const TRUE: i64 = 1;
const UNDEFINED: i64 = 2;

/// A compiled rule: `fn(slots, emitter) -> 1 when it fired, 0 when WHERE did not hold`.
type RuleFn = unsafe extern "C" fn(*const slots::Slot, *mut std::ffi::c_void) -> i8;

/// The compiled rules of a set, or why each rule has none.
pub struct CompiledRules {
    functions: Vec<Result<RuleFn, Unsupported>>,
    /// Every payload path a compiled rule reads.
    tree: SlotTree,
    /// Keys and constants compiled code points at.
    _constants: Vec<Box<[u8]>>,
    #[expect(clippy::vec_box, reason = "compiled code holds each entry's address, which must not move")]
    _data: Vec<Box<helpers::Data>>,
    code_bytes: usize,
    /// Owns the code every function points into.
    _module: Option<OwnedModule>,
}

impl std::fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let compiled = self.functions.iter().filter(|function| function.is_ok()).count();
        f.debug_struct("CompiledRules").field("compiled", &compiled).finish_non_exhaustive()
    }
}

impl CompiledRules {
    /// Compiles every statement it can, finalizing them in one batch.
    pub fn compile<'a>(statements: impl IntoIterator<Item = (&'a Statement, SqlVersion)>) -> CompiledRules {
        let lowered: Vec<Result<lower::Lowered, Unsupported>> =
            statements.into_iter().map(|(statement, version)| lower::lower(statement, version)).collect();
        let mut tree = SlotTree::default();
        let slot_maps: Vec<Vec<usize>> = lowered
            .iter()
            .map(|lowered| match lowered {
                Ok(lowered) => lowered.paths.iter().map(|path| tree.insert(path)).collect(),
                Err(_) => Vec::new(),
            })
            .collect();
        match codegen::build(&lowered, &slot_maps) {
            Ok(built) => {
                let functions = lowered
                    .into_iter()
                    .zip(built.ids)
                    .map(|(lowered, id)| {
                        let lowered = lowered?;
                        let failed = || Unsupported { reason: "code generation failed".to_owned(), span: lowered.span };
                        let id = id.ok_or_else(failed)?;
                        let pointer = built.module.get_finalized_function(id);
                        // SAFETY: `id` was defined with the signature of `RuleFn` in the
                        // module, which this value owns and frees only on drop, after every
                        // use of the pointer.
                        #[expect(unsafe_code, reason = "the one place JIT code becomes a function")]
                        let function = unsafe { std::mem::transmute::<*const u8, RuleFn>(pointer) };
                        Ok(function)
                    })
                    .collect();
                CompiledRules {
                    functions,
                    tree,
                    _constants: built.constants,
                    _data: built.data,
                    code_bytes: built.code_bytes,
                    _module: Some(OwnedModule::new(built.module)),
                }
            }
            Err(reason) => CompiledRules {
                functions: lowered
                    .into_iter()
                    .map(|lowered| {
                        let span = match lowered {
                            Ok(lowered) => lowered.span,
                            Err(unsupported) => unsupported.span,
                        };
                        Err(Unsupported { reason: format!("anything on this machine ({reason})"), span })
                    })
                    .collect(),
                tree: SlotTree::default(),
                _constants: Vec::new(),
                _data: Vec::new(),
                code_bytes: 0,
                _module: None,
            },
        }
    }

    /// The machine code the set's functions occupy, in bytes: memory outside the heap.
    pub fn code_bytes(&self) -> usize {
        self.code_bytes
    }

    /// Whether rule `rule` is compiled, or why not; `None` for no such rule.
    pub fn status(&self, rule: usize) -> Option<Result<(), &Unsupported>> {
        self.functions.get(rule).map(|function| function.as_ref().map(|_| ()))
    }

    /// Fills `buffer` from `payload` for every compiled rule; false when the payload needs
    /// the interpreter.
    pub(crate) fn fill(&self, buffer: &mut SlotBuffer, payload: &[u8]) -> bool {
        buffer.fill(&self.tree, payload)
    }

    /// Runs compiled rule `rule` on filled slots: `Some(true)` when it fired (its output is
    /// appended to the emitter's buffer), `Some(false)` when its WHERE did not hold, `None`
    /// when it is not compiled or a helper failed (nothing is appended).
    pub(crate) fn run(&self, rule: usize, buffer: &SlotBuffer, emitter: &mut Emitter<'_>) -> Option<bool> {
        let Some(Ok(function)) = self.functions.get(rule) else { return None };
        if buffer.slots().len() < self.tree.len() {
            return None;
        }
        let mark = emitter.out.len();
        emitter.first = true;
        emitter.failed = false;
        emitter.stack.clear();
        emitter.variables.clear();
        // SAFETY: the function reads slots below `tree.len()`, which the buffer holds, and
        // gets the emitter its helpers expect; its module lives as long as `self`.
        #[expect(unsafe_code, reason = "calling JIT code")]
        let fired = unsafe { function(buffer.slots().as_ptr(), std::ptr::from_mut(emitter).cast()) };
        if emitter.failed {
            emitter.out.truncate(mark);
            return None;
        }
        if i64::from(fired) != TRUE {
            emitter.out.truncate(mark);
        }
        Some(i64::from(fired) == TRUE)
    }
}

/// A finalized module, freed when dropped. Whatever holds function pointers into it must
/// hold it too and drop them together; `Mutex` only makes it `Sync`.
pub(crate) struct OwnedModule(Mutex<Option<JITModule>>);

impl OwnedModule {
    pub(crate) fn new(module: JITModule) -> Self {
        OwnedModule(Mutex::new(Some(module)))
    }
}

impl std::fmt::Debug for OwnedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnedModule")
    }
}

impl Drop for OwnedModule {
    fn drop(&mut self) {
        let module = match self.0.get_mut() {
            Ok(module) => module.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: the owner of this value drops the function pointers into the module
            // with it (both are fields of one struct), so none can be called after this.
            #[expect(unsafe_code, reason = "freeing JIT code is unsafe by nature")]
            unsafe {
                module.free_memory();
            }
        }
    }
}

/// A JIT module for the host, optimizing for speed; debug builds (and so the tests) run
/// Cranelift's verifier.
pub(crate) fn new_module() -> Result<JITModule, String> {
    let mut flags = settings::builder();
    let verifier = if cfg!(debug_assertions) { "true" } else { "false" };
    for (name, value) in [
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
        ("opt_level", "speed"),
        ("enable_verifier", verifier),
    ] {
        flags.set(name, value).map_err(|error| error.to_string())?;
    }
    let isa = cranelift_native::builder()
        .map_err(str::to_owned)?
        .finish(settings::Flags::new(flags))
        .map_err(|error| error.to_string())?;
    Ok(JITModule::new(JITBuilder::with_isa(isa, default_libcall_names())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Severity, Span, SqlVersion, check_sql};

    fn compiled(sql: &str) -> (CompiledRules, Statement) {
        let checked = check_sql(sql, SqlVersion::V2016_03_23);
        let statement = checked.statement.unwrap_or_else(|| unreachable!("{sql}"));
        (CompiledRules::compile([(&statement, SqlVersion::V2016_03_23)]), statement)
    }

    /// Runs the one compiled rule: its output, `-` when WHERE does not hold, `?` when the
    /// payload or a helper needs the interpreter.
    fn run(sql: &str, topic: &str, payload: &str) -> String {
        let (rules, _) = compiled(sql);
        assert!(matches!(rules.status(0), Some(Ok(()))), "{sql}: {:?}", rules.status(0));
        let mut buffer = SlotBuffer::default();
        if !rules.fill(&mut buffer, payload.as_bytes()) {
            return "?".to_owned();
        }
        let mut out = Vec::new();
        let mut stack = Vec::new();
        let mut variables = Vec::new();
        let statement = check_sql(sql, SqlVersion::V2016_03_23).statement.unwrap_or_else(|| unreachable!());
        let rule = crate::eval::Rule { statement: &statement, version: SqlVersion::V2016_03_23, name: None };
        let env = crate::eval::Environment::default();
        let message = crate::eval::Message { topic, payload: payload.as_bytes(), ..Default::default() };
        let mut emitter = Emitter {
            out: &mut out,
            stack: &mut stack,
            variables: &mut variables,
            rule: &rule,
            env: &env,
            message: &message,
            payload: payload.as_bytes(),
            topic,
            client_id: None,
            principal: None,
            source_ip: None,
            account_id: "123456789012",
            timestamp_ms: 42,
            whole_as_int: true,
            first: true,
            failed: false,
        };
        match rules.run(0, &buffer, &mut emitter) {
            Some(true) => String::from_utf8_lossy(&out).into_owned(),
            Some(false) => "-".to_owned(),
            None => "?".to_owned(),
        }
    }

    #[test]
    fn compiled_rules_filter_and_write_their_output() {
        let sql = "SELECT t, h AS humidity, topic(2) AS device, clientid() AS c, 'x\"' AS k, 10.0 AS d \
                   FROM 'a/+' WHERE t > 50 AND NOT (s = 'off') AND ok <> false";
        assert_eq!(
            run(sql, "a/dev-1", r#"{"t": 55.20, "h": {"v": [1, 2.50]}, "s": "on", "ok": true}"#),
            r#"{"t":55.2,"humidity":{"v":[1,2.5]},"device":"dev-1","c":"n/a","k":"x\"","d":10}"#
        );
        assert_eq!(run(sql, "a/dev-1", r#"{"t": 55, "s": "off", "ok": true}"#), "-");
        assert_eq!(
            run(sql, "a/dev-1", r#"{"t": "51", "s": "\u006fn", "ok": true}"#),
            r#"{"t":"51","device":"dev-1","c":"n/a","k":"x\"","d":10}"#
        );
        assert_eq!(run(sql, "a/dev-1", r#"{"t": 55, "ok": true}"#), "-", "s = 'off' is Undefined");
        assert_eq!(run("SELECT VALUE a.b FROM 't'", "t", r#"{"a": {"b": "\ud83d\ude00"}}"#), "\"\u{1f600}\"");
        assert_eq!(
            run("SELECT * FROM 't' WHERE topic(1) = 't'", "t", r#"{"b": 1.0, "a": [true]}"#),
            r#"{"b":1,"a":[true]}"#
        );
        assert_eq!(run("SELECT a FROM 't'", "t", r#"{"a": 1, "a": 2}"#), "?");
        let functions = "SELECT upper(s) AS u, t * 2 AS d, cast(t AS String) AS s2, {'a': t, 'b': [1, m]} AS o \
                         FROM 'a/+' WHERE startswith(s, 'o') AND t + 1 > 2";
        assert_eq!(
            run(functions, "a/b", r#"{"s": "on", "t": 2.5}"#),
            r#"{"u":"ON","d":5,"s2":"2.5","o":{"a":2.5,"b":[1]}}"#
        );
        assert_eq!(run(functions, "a/b", r#"{"s": "off", "t": 0.5}"#), "-");
        assert_eq!(run("SELECT VALUE a FROM 't' WHERE b", "t", r#"{"a": 1, "b": "true"}"#), "-", "only true itself");
        assert_eq!(run("SELECT VALUE a FROM 't' WHERE b AND true", "t", r#"{"a": 1, "b": "TRUE"}"#), "1");
        let shapes = "SET @d = t * 2 SELECT *, @d AS s.d, CASE s WHEN 'on' THEN 1 WHEN 'off' THEN 0 ELSE -1 END AS c, \
                      encode(*, 'base64') AS raw FROM 't' WHERE @d > 1";
        assert_eq!(
            run(shapes, "t", r#"{"s": "on", "t": 1}"#),
            r#"{"s":{"d":2},"t":1,"c":1,"raw":"eyJzIjogIm9uIiwgInQiOiAxfQ=="}"#
        );
        assert_eq!(run(shapes, "t", r#"{"s": "off", "t": 0.5}"#), "-");
        assert_eq!(
            run(
                "SELECT timestamp() AS ts, accountid() AS id, sourceip() AS ip, sql_version() AS v FROM 't'",
                "t",
                "{}"
            ),
            r#"{"ts":42,"id":"123456789012","v":"2016-03-23"}"#
        );
    }

    #[test]
    fn nested_queries_compile_and_see_set_variables() {
        let sql = "SET @n = 't' SELECT (SELECT VALUE v FROM e WHERE n = @n) AS r FROM 'a'";
        let payload = r#"{"e": [{"n": "t", "v": 1}, {"n": "h", "v": 2}, {"n": "t", "v": 3}]}"#;
        assert_eq!(run(sql, "a", payload), r#"{"r":[1,3]}"#);
    }

    #[test]
    fn a_refusal_is_an_advice_at_the_construct() {
        let unsupported = Unsupported { reason: "a construct".to_owned(), span: Span::new(7, 8) };
        let diagnostic = unsupported.diagnostic();
        assert_eq!((diagnostic.code, diagnostic.severity), (Code::JitInterpreted, Severity::Advice));
        assert_eq!(diagnostic.labels.first().map(|label| label.span), Some(Span::new(7, 8)));
        assert!(diagnostic.message.ends_with("the JIT does not compile a construct"));
        assert!(rules_compile("SELECT a FROM 't' WHERE true"));
    }

    fn rules_compile(sql: &str) -> bool {
        matches!(compiled(sql).0.status(0), Some(Ok(())))
    }
}
