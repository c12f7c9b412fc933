//! Many rules evaluated together: a message reaches only the rules whose FROM filter matches
//! its topic (or the rule a Basic Ingest topic names), and its payload is read once for all
//! of them, so the cost of a message does not grow with rules it does not reach.

pub mod topic_index;

use std::collections::HashMap;

use crate::check::topic_filter;
use crate::eval::access_plan::{AccessPlan, ReadError};
use crate::eval::{self, Environment, EvalError, Message, Outcome, Rule};
use crate::jit::CompiledPredicates;
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
    #[default]
    Interp,
    /// WHERE clauses the JIT compiles run as native code; everything else is interpreted.
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
    /// The compiled WHERE clauses, with the JIT engine.
    compiled: Option<CompiledPredicates>,
}

impl RuleSet {
    pub fn new(rules: Vec<SetRule>) -> Self {
        Self::with_engine(rules, Engine::Interp)
    }

    /// A set whose rules run on `engine`; with the JIT, every WHERE clause it compiles is
    /// finalized in one batch, freed when the set is dropped.
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
        let compiled =
            (engine == Engine::Jit).then(|| CompiledPredicates::compile(rules.iter().map(|rule| &rule.statement)));
        RuleSet { rules, plans, whole: AccessPlan::whole(), index, by_name, compiled }
    }

    pub fn rules(&self) -> &[SetRule] {
        &self.rules
    }

    /// With the JIT engine, the rules whose WHERE clause is interpreted, and why.
    pub fn interpreted(&self) -> Vec<(usize, &str)> {
        let Some(compiled) = &self.compiled else { return Vec::new() };
        (0..self.rules.len()).filter_map(|id| compiled.get(id).err().map(|reason| (id, reason))).collect()
    }

    /// The rules `topic` reaches, in the order they were given.
    pub fn reached_by(&self, topic: &str) -> Vec<usize> {
        match topic_filter::basic_ingest_rule(topic) {
            Some(name) => self.by_name.get(name).copied().into_iter().collect(),
            None => self.index.matching(topic),
        }
    }

    /// Evaluates every rule `message` reaches, scanning its payload once. Rules the topic
    /// reaches but whose WHERE is not true report `Outcome::Filtered`.
    pub fn evaluate(&self, env: &Environment, message: &Message<'_>) -> Result<Vec<(usize, Outcome)>, EvalError> {
        let reached = self.reached_by(message.topic);
        if reached.is_empty() {
            return Ok(Vec::new());
        }
        if message.payload.len() > env.max_payload {
            return Err(EvalError::PayloadTooLarge { size: message.payload.len(), limit: env.max_payload });
        }
        // One scan of the payload serves every reached rule, materializing what they read.
        let merged;
        let plan = match reached.as_slice() {
            [only] => self.plans.get(*only).unwrap_or(&self.whole),
            _ => {
                let mut plan = AccessPlan::default();
                for id in &reached {
                    if let Some(rule_plan) = self.plans.get(*id) {
                        plan.merge(rule_plan);
                    }
                }
                merged = plan;
                &merged
            }
        };
        let payload = plan
            .read(message.payload)
            .map_err(|ReadError::TooDeep| EvalError::PayloadTooDeep { limit: eval::json::MAX_DEPTH })?;
        let mut outcomes = Vec::with_capacity(reached.len());
        for id in reached {
            let Some(rule) = self.rules.get(id) else { continue };
            let rule = Rule { statement: &rule.statement, version: rule.version, name: Some(&rule.name) };
            let outcome = match self.compiled.as_ref().map(|compiled| compiled.get(id)) {
                Some(Ok(compiled)) if !compiled.passes_on(&payload) => Outcome::Filtered,
                Some(Ok(_)) => eval::evaluate_read_passed(&rule, env, message, &payload)?,
                _ => eval::evaluate_read(&rule, env, message, &payload)?,
            };
            outcomes.push((id, outcome));
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_sql;

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
}
