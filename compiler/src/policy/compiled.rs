//! Compiled policy decisions: a principal's policies, for one connection, become one native
//! decision function per action (`jit::decision`). Statements that do not name the action or
//! whose conditions fail for this connection are dropped before code generation, and policy
//! variables are substituted once; a request then costs only the resource match.
//!
//! INVARIANT: `CompiledPolicies::authorize` gives exactly `eval::authorize`'s result (decision,
//! allowing and denying statements, missing context values), which the differential tests in
//! `tests/policy_engines.rs` and the `authorize` fuzz target hold it to.

use smallvec::SmallVec;

use super::eval::{self, Authorization, Context, Decision, Request, StatementRef, action_matches, conditions_hold};
use super::{ACTIONS, Effect, Policy};
use crate::jit::decision::{ALLOWED, Candidate, DecisionSet, EXPLICIT_DENY};

/// The decision functions of one connection.
#[derive(Debug)]
pub struct CompiledPolicies {
    /// By index in [`ACTIONS`]: the statements each function's candidates stand for, and the
    /// context values statements for the action lack.
    actions: Vec<ActionPlan>,
    decisions: DecisionSet,
    /// For actions outside [`ACTIONS`], which no function covers.
    policies: Vec<Policy>,
    context: Context,
}

#[derive(Debug)]
struct ActionPlan {
    statements: Vec<(StatementRef, Effect)>,
    missing: Vec<String>,
}

impl CompiledPolicies {
    /// Compiles `policies` for the connection `context`.
    pub fn compile(policies: &[Policy], context: &Context) -> Result<CompiledPolicies, String> {
        let mut plans = Vec::with_capacity(ACTIONS.len());
        let mut candidate_lists = Vec::with_capacity(ACTIONS.len());
        for action in ACTIONS {
            let mut statements = Vec::new();
            let mut candidates = Vec::new();
            let mut missing = Vec::new();
            for (policy_index, policy) in policies.iter().enumerate() {
                for (statement_index, statement) in policy.statements.iter().enumerate() {
                    eval::missing_values(statement, context, action, &mut missing);
                    if !action_matches(statement, action) || !conditions_hold(statement, context) {
                        continue;
                    }
                    let patterns = statement
                        .resources
                        .patterns
                        .iter()
                        .filter_map(|pattern| eval::substitute(&pattern.text, context))
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
            plans.push(ActionPlan { statements, missing });
            candidate_lists.push(candidates);
        }
        let decisions = DecisionSet::compile(&candidate_lists)?;
        Ok(CompiledPolicies { actions: plans, decisions, policies: policies.to_vec(), context: context.clone() })
    }

    /// Decides `request` as [`eval::authorize`] does.
    pub fn authorize(&self, request: &Request) -> Authorization {
        // Actions are nearly always spelled as AWS spells them: try that first.
        let index = ACTIONS
            .iter()
            .position(|action| *action == request.action)
            .or_else(|| ACTIONS.iter().position(|action| action.eq_ignore_ascii_case(&request.action)));
        let Some(index) = index else {
            return eval::authorize(&self.policies, &self.context, request);
        };
        let Some(plan) = self.actions.get(index) else {
            return eval::authorize(&self.policies, &self.context, request);
        };
        let mut applies: SmallVec<[u8; 32]> = SmallVec::from_elem(0, plan.statements.len());
        let Some(code) = self.decisions.decide(index, plan.statements.len(), request.resource.as_bytes(), &mut applies)
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
