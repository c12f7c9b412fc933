//! Rule sets the benchmarks build: what loading rules costs and what a set weighs.

use iotrules_compiler::ruleset::{Engine, RuleSet, SetRule};
use iotrules_compiler::{SqlVersion, check_sql};

const VERSION: SqlVersion = SqlVersion::V2016_03_23;

/// `count` copies of the w1 rule, rule `i` listening on `fleet/i/+/telemetry`, so a message
/// to `fleet/i/<device>/telemetry` reaches exactly rule `i`. Rules that do not check are left
/// out, as loading rule files does; these always check.
pub fn fleet(count: usize) -> RuleSet {
    fleet_on(count, Engine::Interp)
}

/// [`fleet`] on `engine`.
pub fn fleet_on(count: usize, engine: Engine) -> RuleSet {
    let sources: Vec<String> = (0..count)
        .map(|index| {
            format!(
                "SELECT temperature, humidity, topic(3) AS device FROM 'fleet/{index}/+/telemetry' \
                 WHERE temperature > 50 AND humidity < 80"
            )
        })
        .collect();
    compile_on(&sources, engine)
}

/// What loading rule files does: check every rule, keep those AWS would accept, index them.
pub fn compile(sources: &[String]) -> RuleSet {
    compile_on(sources, Engine::Interp)
}

/// [`compile`] on `engine`; with the JIT this includes generating and finalizing the code.
pub fn compile_on(sources: &[String], engine: Engine) -> RuleSet {
    RuleSet::with_engine(
        sources
            .iter()
            .enumerate()
            .filter_map(|(index, source)| {
                let checked = check_sql(source, VERSION);
                if checked.has_errors() {
                    return None;
                }
                Some(SetRule { name: format!("rule_{index}"), statement: checked.statement?, version: VERSION })
            })
            .collect(),
        engine,
    )
}
