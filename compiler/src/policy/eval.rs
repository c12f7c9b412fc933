//! The reference evaluator: decides an authorization request against the policies attached to
//! a principal exactly as AWS IoT Core does. An applicable Deny wins over any Allow, an
//! applicable Allow over the default implicit deny.
//!
//! A statement applies when its action matches, its resource matches after policy variables
//! are substituted (`variables`), and every condition holds (`conditions`). A resource entry
//! whose variable cannot be resolved matches nothing; a substituted value is literal text,
//! never a pattern. Each request sees the connection as its action does
//! ([`Context::for_action`]).

use super::conditions;
pub use super::context::Context;
use super::glob::{self, Token};
use super::variables::{self, resource_part_start};
use super::{Effect, Policy, Statement};

/// What a principal asks to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: String,
    pub resource: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// As AWS's TestAuthorization spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "ALLOWED",
            Decision::ExplicitDeny => "EXPLICIT_DENY",
            Decision::ImplicitDeny => "IMPLICIT_DENY",
        }
    }
}

/// One statement of one policy, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatementRef {
    pub policy: usize,
    pub statement: usize,
}

/// The decision and the statements behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub decision: Decision,
    /// Every applicable Allow statement.
    pub allowing: Vec<StatementRef>,
    /// Every applicable Deny statement.
    pub denying: Vec<StatementRef>,
    /// Policy variables and condition keys that statements for this action needed and the
    /// context lacks, as TestAuthorization's `missingContextValues`; sorted, each once.
    pub missing: Vec<String>,
}

/// Decides `request` under `policies` for the connection `context`.
pub fn authorize(policies: &[Policy], context: &Context, request: &Request) -> Authorization {
    let context = context.for_action(&request.action);
    let context = context.as_ref();
    let mut allowing = Vec::new();
    let mut denying = Vec::new();
    let mut missing = Vec::new();
    for (policy_index, policy) in policies.iter().enumerate() {
        for (statement_index, statement) in policy.statements.iter().enumerate() {
            missing_values(statement, context, &request.action, &mut missing);
            if applies(statement, context, request) {
                let reference = StatementRef { policy: policy_index, statement: statement_index };
                match statement.effect {
                    Effect::Allow => allowing.push(reference),
                    Effect::Deny => denying.push(reference),
                }
            }
        }
    }
    let decision = if !denying.is_empty() {
        Decision::ExplicitDeny
    } else if !allowing.is_empty() {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    };
    missing.sort();
    missing.dedup();
    Authorization { decision, allowing, denying, missing }
}

/// Adds what `statement` needed from the context for `request` and did not find: variables
/// in its resources and the keys of its conditions, when its action matches.
pub(crate) fn missing_values(statement: &Statement, context: &Context, action: &str, missing: &mut Vec<String>) {
    if !action_matches(statement, action) {
        return;
    }
    for pattern in &statement.resources.patterns {
        let from = resource_part_start(&pattern.text);
        variables::missing(&pattern.text, from, context, statement.variables, missing);
    }
    for condition in &statement.conditions {
        if condition.operator.test != super::Test::Null
            && context.values(&condition.key.text).is_none_or(|values| values.is_empty())
        {
            missing.push(condition.key.text.clone());
        }
    }
}

/// Whether `statement` applies to `request`, `context` being the connection as the request's
/// action sees it.
pub fn applies(statement: &Statement, context: &Context, request: &Request) -> bool {
    if !action_matches(statement, &request.action) {
        return false;
    }
    let resource = statement.resources.patterns.iter().any(|pattern| {
        resource_pattern(statement, &pattern.text, context)
            .is_some_and(|tokens| glob::matches_tokens(&tokens, &request.resource))
    });
    if resource == statement.resources.negated {
        return false;
    }
    conditions_hold(statement, context)
}

/// Whether `statement`'s `Action` (or `NotAction`) covers `action`; names are case-insensitive.
pub(crate) fn action_matches(statement: &Statement, action: &str) -> bool {
    let listed = statement.actions.patterns.iter().any(|pattern| glob::matches_ignore_case(&pattern.text, action));
    listed != statement.actions.negated
}

/// Whether every condition of `statement` holds for the connection.
pub(crate) fn conditions_hold(statement: &Statement, context: &Context) -> bool {
    statement.conditions.iter().all(|condition| conditions::holds(condition, context, statement.variables))
}

/// A resource entry of `statement` compiled for the connection: variables substituted in the
/// resource part of the ARN only; `None` when one has no value, so the entry matches nothing.
pub fn resource_pattern(statement: &Statement, pattern: &str, context: &Context) -> Option<Vec<Token>> {
    variables::substitute(pattern, resource_part_start(pattern), context, statement.variables)
}
