//! Many rules evaluated together: a message reaches only the rules whose FROM filter matches
//! its topic (or the rule a Basic Ingest topic names), and its payload is read once for all
//! of them, so the cost of a message does not grow with rules it does not reach.

pub mod topic_index;

use std::collections::HashMap;
use std::ops::Range;

use crate::check::topic_filter;
use crate::eval::access_plan::AccessPlan;
use crate::eval::{self, Environment, EvalError, Message, Outcome, Rule, Value};
use crate::jit::slots::SlotBuffer;
use crate::jit::{CompiledRules, Emitter, Unsupported};
use crate::syntax::ast::{ExprKind, Statement};
use crate::version::SqlVersion;
use topic_index::TopicIndex;

/// One rule of a set: a statement that checked without errors.
#[derive(Clone, Debug)]
pub struct SetRule {
    pub name: String,
    pub statement: Statement,
    pub version: SqlVersion,
}

/// How a set evaluates its rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// The reference interpreter.
    Interp,
    /// Rules the JIT compiles run as native code; the others are interpreted.
    #[default]
    Jit,
}

/// A set of rules indexed by topic.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<SetRule>,
    /// What each rule reads of a payload, by rule.
    plans: Vec<AccessPlan>,
    /// A plan that reads everything, for lookups that find no rule's plan.
    whole: AccessPlan,
    index: TopicIndex,
    by_name: HashMap<String, usize>,
    /// The compiled rules, with the JIT engine.
    compiled: Option<CompiledRules>,
}

/// What one rule did with a message, as [`Scratch::outcomes`] gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Produced<'a> {
    /// The WHERE clause was not the Boolean true.
    Filtered,
    /// The rule fired and published these bytes.
    Fired(&'a [u8]),
}

/// The buffers one message is evaluated in, reused from message to message so that a
/// steady stream allocates nothing.
#[derive(Debug, Default)]
pub struct Scratch {
    reached: Vec<usize>,
    slots: SlotBuffer,
    /// The value helpers' operand stack and SET variables.
    stack: Vec<Value>,
    variables: Vec<Value>,
    out: Vec<u8>,
    /// Each reached rule and, when it fired, where its output is in `out`.
    results: Vec<(usize, Option<Range<usize>>)>,
    /// The reached rules whose evaluation failed (a call of another AWS service with no
    /// answer), each on its own: the other rules of the message still ran.
    failures: Vec<(usize, EvalError)>,
}

impl Scratch {
    /// Every rule the last message reached, in the set's order, and what it did.
    pub fn outcomes(&self) -> impl Iterator<Item = (usize, Produced<'_>)> {
        self.results.iter().map(|(rule, output)| {
            let produced = match output {
                Some(range) => Produced::Fired(self.out.get(range.clone()).unwrap_or_default()),
                None => Produced::Filtered,
            };
            (*rule, produced)
        })
    }

    /// The rules the last message reached whose evaluation failed, and why.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &EvalError)> {
        self.failures.iter().map(|(rule, error)| (*rule, error))
    }
}

impl RuleSet {
    /// A set on the interpreter.
    pub fn new(rules: Vec<SetRule>) -> Self {
        Self::with_engine(rules, Engine::Interp)
    }

    /// A set whose rules run on `engine`; with the JIT, every rule it compiles is finalized
    /// in one batch, freed when the set is dropped.
    pub fn with_engine(rules: Vec<SetRule>, engine: Engine) -> Self {
        let mut index = TopicIndex::default();
        let mut by_name = HashMap::new();
        for (id, rule) in rules.iter().enumerate() {
            if let Some(ExprKind::String(filter)) = rule.statement.from.as_ref().map(|from| &from.kind) {
                index.insert(&filter.value, id);
            }
            by_name.entry(rule.name.clone()).or_insert(id);
        }
        let plans = rules.iter().map(|rule| AccessPlan::of(&rule.statement)).collect();
        let compiled = (engine == Engine::Jit)
            .then(|| CompiledRules::compile(rules.iter().map(|rule| (&rule.statement, rule.version))));
        RuleSet { rules, plans, whole: AccessPlan::whole(), index, by_name, compiled }
    }

    pub fn rules(&self) -> &[SetRule] {
        &self.rules
    }

    /// With the JIT engine, the bytes of machine code its compiled rules occupy.
    pub fn code_bytes(&self) -> usize {
        self.compiled.as_ref().map_or(0, CompiledRules::code_bytes)
    }

    /// With the JIT engine, the rules it does not compile, and why; they are interpreted.
    pub fn interpreted(&self) -> Vec<(usize, &Unsupported)> {
        let Some(compiled) = &self.compiled else { return Vec::new() };
        (0..self.rules.len()).filter_map(|id| compiled.status(id)?.err().map(|reason| (id, reason))).collect()
    }

    /// The rules `topic` reaches, in the order they were given.
    pub fn reached_by(&self, topic: &str) -> Vec<usize> {
        let mut reached = Vec::new();
        self.reached_into(topic, &mut reached);
        reached
    }

    fn reached_into(&self, topic: &str, reached: &mut Vec<usize>) {
        reached.clear();
        match topic_filter::basic_ingest_rule(topic) {
            Some(name) => reached.extend(self.by_name.get(name).copied()),
            None => self.index.matching_into(topic, reached),
        }
    }

    /// Evaluates every rule `message` reaches. Rules the topic reaches but whose WHERE is
    /// not true report `Outcome::Filtered`; the first rule whose evaluation failed makes the
    /// whole answer that failure (see [`Scratch::failures`] for each rule's own).
    pub fn evaluate(&self, env: &Environment, message: &Message<'_>) -> Result<Vec<(usize, Outcome)>, EvalError> {
        let mut scratch = Scratch::default();
        self.evaluate_with(env, message, &mut scratch)?;
        if let Some((_, error)) = scratch.failures.first() {
            return Err(error.clone());
        }
        Ok(scratch
            .outcomes()
            .map(|(rule, produced)| {
                let outcome = match produced {
                    Produced::Filtered => Outcome::Filtered,
                    Produced::Fired(bytes) => Outcome::Fired(bytes.to_vec()),
                };
                (rule, outcome)
            })
            .collect())
    }

    /// Evaluates every rule `message` reaches into `scratch`, whose
    /// [`outcomes`](Scratch::outcomes) then tell what each did. The payload is scanned once
    /// for all of them: into slots when the JIT compiled every reached rule, otherwise into
    /// the values the reached rules' access plans name, for the interpreter.
    pub fn evaluate_with(
        &self,
        env: &Environment,
        message: &Message<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), EvalError> {
        scratch.results.clear();
        scratch.failures.clear();
        scratch.out.clear();
        let mut reached = std::mem::take(&mut scratch.reached);
        self.reached_into(message.topic, &mut reached);
        let result = self.evaluate_reached(env, message, &reached, scratch);
        scratch.reached = reached;
        result
    }

    fn evaluate_reached(
        &self,
        env: &Environment,
        message: &Message<'_>,
        reached: &[usize],
        scratch: &mut Scratch,
    ) -> Result<(), EvalError> {
        if reached.is_empty() {
            return Ok(());
        }
        if message.payload.len() > env.max_payload {
            return Err(EvalError::PayloadTooLarge { size: message.payload.len(), limit: env.max_payload });
        }
        if let Some(compiled) = &self.compiled
            && reached.iter().all(|id| matches!(compiled.status(*id), Some(Ok(()))))
            && compiled.fill(&mut scratch.slots, message.payload)
        {
            let result = self.run_compiled(compiled, env, message, reached, scratch);
            scratch.slots.clear();
            return result;
        }
        let payload = self.read_for(reached, message.payload)?;
        for id in reached {
            self.interpret(*id, env, message, &payload, scratch)?;
        }
        Ok(())
    }

    fn run_compiled(
        &self,
        compiled: &CompiledRules,
        env: &Environment,
        message: &Message<'_>,
        reached: &[usize],
        scratch: &mut Scratch,
    ) -> Result<(), EvalError> {
        // Read lazily: only a rule whose helper failed needs the interpreter's payload.
        let mut payload = None;
        for &id in reached {
            let Some(rule) = self.rules.get(id) else { continue };
            let topic = visible_topic(message.topic);
            let start = scratch.out.len();
            let set_rule = Rule { statement: &rule.statement, version: rule.version, name: Some(&rule.name) };
            let mut emitter = Emitter {
                out: &mut scratch.out,
                stack: &mut scratch.stack,
                variables: &mut scratch.variables,
                rule: &set_rule,
                env,
                message,
                payload: message.payload,
                topic,
                client_id: message.client_id,
                principal: message.principal,
                source_ip: message.source_ip,
                account_id: &env.account_id,
                timestamp_ms: message.timestamp_ms,
                whole_as_int: rule.version.has_2016_features(),
                first: true,
                failed: false,
            };
            match compiled.run(id, &scratch.slots, &mut emitter) {
                Some(true) => scratch.results.push((id, Some(start..scratch.out.len()))),
                Some(false) => scratch.results.push((id, None)),
                None => {
                    if payload.is_none() {
                        payload = Some(self.read_for(reached, message.payload)?);
                    }
                    if let Some(payload) = &payload {
                        self.interpret(id, env, message, payload, scratch)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The payload as the interpreter sees it, with everything the reached rules read.
    fn read_for(&self, reached: &[usize], payload: &[u8]) -> Result<Value, EvalError> {
        let merged;
        let plan = match reached {
            [only] => self.plans.get(*only).unwrap_or(&self.whole),
            _ => {
                let mut plan = AccessPlan::default();
                for id in reached {
                    if let Some(rule_plan) = self.plans.get(*id) {
                        plan.merge(rule_plan);
                    }
                }
                merged = plan;
                &merged
            }
        };
        Ok(plan.read(payload))
    }

    fn interpret(
        &self,
        id: usize,
        env: &Environment,
        message: &Message<'_>,
        payload: &Value,
        scratch: &mut Scratch,
    ) -> Result<(), EvalError> {
        let Some(rule) = self.rules.get(id) else { return Ok(()) };
        let rule = Rule { statement: &rule.statement, version: rule.version, name: Some(&rule.name) };
        let evaluated = match eval::evaluate_read(&rule, env, message, payload) {
            Ok(evaluated) => evaluated,
            Err(error) => {
                scratch.failures.push((id, error));
                return Ok(());
            }
        };
        match evaluated {
            Outcome::Fired(bytes) => {
                let start = scratch.out.len();
                scratch.out.extend_from_slice(&bytes);
                scratch.results.push((id, Some(start..scratch.out.len())));
            }
            Outcome::Filtered => scratch.results.push((id, None)),
            Outcome::NotMatched => {}
        }
        Ok(())
    }
}

/// The topic a statement sees: a Basic Ingest topic without its `$aws/rules/<name>/` prefix.
fn visible_topic(topic: &str) -> &str {
    match topic_filter::basic_ingest_rule(topic) {
        Some(name) => topic.get(topic_filter::BASIC_INGEST_PREFIX.len() + name.len() + 1..).unwrap_or_default(),
        None => topic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_sql;
    use std::sync::Arc;

    fn set(rules: &[(&str, &str)]) -> RuleSet {
        RuleSet::new(
            rules
                .iter()
                .map(|(name, sql)| {
                    let checked = check_sql(sql, SqlVersion::V2016_03_23);
                    assert!(!checked.has_errors(), "{sql}");
                    SetRule {
                        name: (*name).to_owned(),
                        statement: checked.statement.unwrap_or_else(|| unreachable!()),
                        version: SqlVersion::V2016_03_23,
                    }
                })
                .collect(),
        )
    }

    #[test]
    fn a_message_reaches_only_matching_rules() {
        let rules = set(&[
            ("hot", "SELECT t FROM 'sensors/+/telemetry' WHERE t > 50"),
            ("all", "SELECT * FROM 'sensors/#'"),
            ("other", "SELECT * FROM 'doors/+'"),
            ("ingest_only", "SELECT x"),
        ]);
        let message = Message { topic: "sensors/a/telemetry", payload: br#"{"t": 60}"#, ..Message::default() };
        let outcomes = rules.evaluate(&Environment::default(), &message).unwrap_or_default();
        let fired: Vec<(usize, String)> = outcomes
            .into_iter()
            .filter_map(|(id, outcome)| match outcome {
                Outcome::Fired(bytes) => Some((id, String::from_utf8_lossy(&bytes).into_owned())),
                _ => None,
            })
            .collect();
        assert_eq!(fired, vec![(0, r#"{"t":60}"#.to_owned()), (1, r#"{"t":60}"#.to_owned())]);
        assert_eq!(rules.reached_by("doors/front"), vec![2]);
        assert_eq!(rules.reached_by("$aws/rules/ingest_only/anything"), vec![3]);
        assert_eq!(rules.reached_by("$aws/rules/nobody/anything"), Vec::<usize>::new());
    }

    /// Answers `get_thing_shadow` for `boiler` only, as a runtime's service would.
    #[derive(Debug)]
    struct Shadows;

    impl eval::Services for Shadows {
        fn call(&self, function: &str, args: &[Value]) -> Option<Result<Value, String>> {
            if function != "get_thing_shadow" {
                return None;
            }
            Some(match args.first() {
                Some(Value::String(thing)) if thing == "boiler" => {
                    Ok(eval::json::parse(br#"{"state": {"reported": {"t": 21}}}"#).unwrap_or(Value::Undefined))
                }
                _ => Err("404 No shadow exists with name: other".to_owned()),
            })
        }
    }

    /// A rule whose service call fails is skipped on its own; the message's other rules act,
    /// on both engines, and the services answer what they serve.
    #[test]
    fn a_failed_service_call_skips_only_its_own_rule() {
        for engine in [Engine::Interp, Engine::Jit] {
            let rules = set(&[
                (
                    "reads",
                    "SELECT get_thing_shadow(topic(2), 'arn:aws:iam::123456789012:role/r').state.reported.t AS t FROM 'rooms/+'",
                ),
                ("echo", "SELECT n FROM 'rooms/+'"),
            ]);
            let rules = RuleSet::with_engine(rules.rules, engine);
            let env = Environment { services: Some(Arc::new(Shadows)), ..Environment::default() };
            let mut scratch = Scratch::default();
            let boiler = Message { topic: "rooms/boiler", payload: br#"{"n": 1}"#, ..Message::default() };
            assert!(rules.evaluate_with(&env, &boiler, &mut scratch).is_ok());
            let fired: Vec<(usize, String)> = scratch
                .outcomes()
                .filter_map(|(id, produced)| match produced {
                    Produced::Fired(bytes) => Some((id, String::from_utf8_lossy(bytes).into_owned())),
                    Produced::Filtered => None,
                })
                .collect();
            assert_eq!(fired, [(0, r#"{"t":21}"#.to_owned()), (1, r#"{"n":1}"#.to_owned())], "{engine:?}");
            assert_eq!(scratch.failures().count(), 0);

            let other = Message { topic: "rooms/other", payload: br#"{"n": 2}"#, ..Message::default() };
            assert!(rules.evaluate_with(&env, &other, &mut scratch).is_ok());
            let fired: Vec<usize> = scratch.outcomes().map(|(id, _)| id).collect();
            assert_eq!(fired, [1], "{engine:?}");
            let failures: Vec<(usize, String)> =
                scratch.failures().map(|(id, error)| (id, error.to_string())).collect();
            assert_eq!(
                failures,
                [(0, "`get_thing_shadow` failed: 404 No shadow exists with name: other".to_owned())],
                "{engine:?}"
            );
            // Without a service, the stand-in is asked for.
            let bare = rules.evaluate(&Environment::default(), &other);
            assert_eq!(bare, Err(EvalError::ExternalCall { function: "get_thing_shadow" }), "{engine:?}");
        }
    }
}
