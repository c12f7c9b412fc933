//! Heap bytes a compiled rule set holds per rule, for w2 (`w2_rule_count`) and for realistic
//! rules, on each engine. Not a criterion benchmark: dhat counts every allocation, so nothing
//! is timed here. dhat sees the heap only; the machine code the JIT emits is counted apart and
//! added.

use iotrules_benches::rules::realistic_rules;
use iotrules_benches::sets::{compile_on, fleet_on};
use iotrules_compiler::ruleset::{Engine, RuleSet};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    for engine in [Engine::Interp, Engine::Jit] {
        for count in [1, 100, 1_000, 10_000] {
            report(&format!("{engine:?}: w2 fleet rules, {count} rules"), count, || fleet_on(count, engine));
        }
        let sources = realistic_rules(1_000);
        report(&format!("{engine:?}: realistic rules, 1000 rules"), 1_000, || compile_on(&sources, engine));
    }
}

/// Builds a set and prints the heap it keeps, per rule; the set is dropped afterwards.
fn report(label: &str, rules: usize, build: impl FnOnce() -> RuleSet) {
    let before = dhat::HeapStats::get().curr_bytes;
    let set = build();
    let after = dhat::HeapStats::get().curr_bytes;
    let heap = after.saturating_sub(before);
    let code = set.code_bytes();
    let per_rule = (heap + code) as f64 / rules as f64;
    println!("{label}: {heap} heap bytes and {code} code bytes in all, {per_rule:.0} bytes per rule");
    drop(set);
}
