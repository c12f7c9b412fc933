//! Compiled policy decisions: a principal's policies, for one connection, become native
//! decision functions (`jit::decision`). Statements that do not name the action or whose
//! conditions fail for this connection are dropped before code generation, and policy
//! variables are substituted once; a request then costs only the resource match. Actions
//! that come down to the same statements share one function, so a large action table costs
//! no code.
//!
//! INVARIANT: `CompiledPolicies::authorize` gives exactly `eval::authorize`'s result (decision,
//! allowing and denying statements, missing context values), which the differential tests in
//! `tests/policy_engines.rs` and the `authorize` fuzz target hold it to.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use smallvec::SmallVec;

use super::eval::{self, Authorization, Context, Decision, Request, StatementRef, action_matches, conditions_hold};
use super::{ACTIONS, Effect, Policy};
use crate::jit::decision::{ALLOWED, Candidate, DecisionSet, EXPLICIT_DENY};

/// The decision functions of one connection.
#[derive(Debug)]
pub struct CompiledPolicies {
    /// By index in [`ACTIONS`]: the function that decides the action, the statements its
    /// candidates stand for, and the context values statements for the action lack.
    actions: Vec<ActionPlan>,
    decisions: DecisionSet,
    /// For actions outside [`ACTIONS`], which no function covers.
    policies: Vec<Policy>,
    context: Context,
}

#[derive(Debug)]
struct ActionPlan {
    function: usize,
    statements: Vec<(StatementRef, Effect)>,
    missing: Vec<String>,
}

/// [`ACTIONS`] by name as AWS spells it.
static ACTION_INDEX: LazyLock<HashMap<&'static str, usize>> =
    LazyLock::new(|| ACTIONS.iter().enumerate().map(|(index, action)| (*action, index)).collect());

impl CompiledPolicies {
    /// Compiles `policies` for the connection `context`.
    pub fn compile(policies: &[Policy], context: &Context) -> Result<CompiledPolicies, String> {
        let mut plans = Vec::with_capacity(ACTIONS.len());
        let mut candidate_lists = Vec::new();
        // The statements that apply and whether the action sees the connection's thing decide
        // the candidates, so actions agreeing on both share a function.
        let mut functions: BTreeMap<(Vec<StatementRef>, bool), usize> = BTreeMap::new();
        for action in ACTIONS {
            let view = context.for_action(action);
            let mut statements = Vec::new();
            let mut candidates = Vec::new();
            let mut missing = Vec::new();
            for (policy_index, policy) in policies.iter().enumerate() {
                for (statement_index, statement) in policy.statements.iter().enumerate() {
                    eval::missing_values(statement, &view, action, &mut missing);
                    if !action_matches(statement, action) || !conditions_hold(statement, &view) {
                        continue;
                    }
                    let patterns = statement
                        .resources
                        .patterns
                        .iter()
                        .filter_map(|pattern| eval::resource_pattern(statement, &pattern.text, &view))
                        .collect();
                    statements
                        .push((StatementRef { policy: policy_index, statement: statement_index }, statement.effect));
                    candidates.push(Candidate {
                        deny: statement.effect == Effect::Deny,
                        negated: statement.resources.negated,
                        patterns,
                    });
                }
            }
            missing.sort();
            missing.dedup();
            let key = (statements.iter().map(|(reference, _)| *reference).collect(), matches!(view, Cow::Owned(_)));
            let function = *functions.entry(key).or_insert_with(|| {
                candidate_lists.push(candidates);
                candidate_lists.len() - 1
            });
            plans.push(ActionPlan { function, statements, missing });
        }
        let decisions = DecisionSet::compile(&candidate_lists)?;
        Ok(CompiledPolicies { actions: plans, decisions, policies: policies.to_vec(), context: context.clone() })
    }

    /// Decides `request` as [`eval::authorize`] does.
    pub fn authorize(&self, request: &Request) -> Authorization {
        // Actions are nearly always spelled as AWS spells them: try that first.
        let index = ACTION_INDEX
            .get(request.action.as_str())
            .copied()
            .or_else(|| ACTIONS.iter().position(|action| action.eq_ignore_ascii_case(&request.action)));
        let Some(plan) = index.and_then(|index| self.actions.get(index)) else {
            return eval::authorize(&self.policies, &self.context, request);
        };
        let mut applies: SmallVec<[u8; 32]> = SmallVec::from_elem(0, plan.statements.len());
        let Some(code) =
            self.decisions.decide(plan.function, plan.statements.len(), request.resource.as_bytes(), &mut applies)
        else {
            return eval::authorize(&self.policies, &self.context, request);
        };
        let (mut allowing, mut denying) = (Vec::new(), Vec::new());
        for ((reference, effect), applied) in plan.statements.iter().zip(&applies) {
            if *applied != 0 {
                match effect {
                    Effect::Allow => allowing.push(*reference),
                    Effect::Deny => denying.push(*reference),
                }
            }
        }
        let decision = match code {
            ALLOWED => Decision::Allowed,
            EXPLICIT_DENY => Decision::ExplicitDeny,
            _ => Decision::ImplicitDeny,
        };
        Authorization { decision, allowing, denying, missing: plan.missing.clone() }
    }
}
