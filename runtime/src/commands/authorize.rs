//! `iotrules authorize`: decides requests under IoT policies, as AWS IoT Core's
//! TestAuthorization does, and prints its `authResult` as JSON.
//!
//! Contract (shared/conformance): one JSON object on standard output and exit 0 for a
//! decision, whatever it is; exit 1 with diagnostics on standard error when a policy document
//! is invalid or a request names an unknown action or a resource that is not one (nothing is
//! decided then); exit 2 on a usage error. With `--requests`, one object per line, in order.
//! With `--format json`, one document holding every result, and failures as JSON on standard
//! output with the same exit codes.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use iotrules_compiler::policy::eval::{Authorization, Context, Decision, Request, StatementRef, authorize};
use iotrules_compiler::policy::{Policy, check_request};
use iotrules_compiler::{Diagnostic, Span};
use serde::Serialize;
use serde_json::Value as Json;

use crate::cli::{AuthorizeArgs, Format};
use crate::policies;
use crate::registry::{self, identity::Connection};
use crate::report::{self, InputReport, JsonDiagnostic, JsonError, output};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthResult<'a> {
    auth_info: AuthInfo<'a>,
    auth_decision: &'static str,
    allowed: PolicyList<'a>,
    denied: Denied<'a>,
    missing_context_values: &'a [String],
}

/// What `authorize --format json` prints: every request's result, and the warnings about the
/// requests.
#[derive(Serialize)]
struct JsonResults<'a> {
    results: Vec<AuthResult<'a>>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct AuthInfo<'a> {
    action: &'a str,
    resources: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Denied<'a> {
    explicit_deny: PolicyList<'a>,
    implicit_deny: PolicyList<'a>,
}

#[derive(Serialize)]
struct PolicyList<'a> {
    policies: Vec<PolicyEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyEntry<'a> {
    policy_name: &'a str,
    /// The statements that decided, by index in the document (and `Sid` when it has one).
    statements: Vec<StatementEntry<'a>>,
}

#[derive(Serialize)]
struct StatementEntry<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
}

pub(crate) fn run(args: &AuthorizeArgs) -> ExitCode {
    let format = args.format;
    if let Some(dir) = &args.registry {
        return from_registry(args, dir);
    }
    let mut loaded = Vec::new();
    for path in &args.policies {
        match policies::load(path) {
            Ok(policy) => loaded.push(policy),
            Err(message) => return format.usage_error(&message),
        }
    }
    let invalid: Vec<_> = loaded.iter().filter(|policy| policy.policy.is_none()).collect();
    if !invalid.is_empty() {
        return format.invalid("a policy document is invalid", invalid.iter().map(|policy| &policy.report));
    }
    let context = match &args.context {
        None => Context::default(),
        Some(path) => match std::fs::read_to_string(path).map_err(|error| error.to_string()).and_then(|text| {
            serde_json::from_str::<Json>(&text)
                .map_err(|error| JsonError::of(&error).to_string())
                .and_then(|json| Context::from_json(&json))
        }) {
            Ok(context) => context,
            Err(message) => {
                return format.usage_error(&format!("cannot read the context `{}`: {message}", path.display()));
            }
        },
    };
    let names: Vec<&str> = loaded.iter().map(|policy| policy.name.as_str()).collect();
    let documents: Vec<Policy> = loaded.iter().filter_map(|policy| policy.policy.clone()).collect();
    decide(args, &names, &documents, &context)
}

/// Decides with the policies and context a registry gives the connection.
fn from_registry(args: &AuthorizeArgs, dir: &Path) -> ExitCode {
    let format = args.format;
    let loaded = match registry::load(dir) {
        Ok(loaded) => loaded,
        Err(message) => return format.usage_error(&message),
    };
    if loaded.has_errors() {
        return format.invalid("the registry has errors", loaded.error_reports());
    }
    let (Some(certificate), Some(client_id)) = (&args.certificate, &args.client_id) else {
        return format.usage_error("--registry needs --certificate and --client-id");
    };
    let id = if Path::new(certificate).is_file() {
        let der = std::fs::read_to_string(certificate)
            .map_err(|error| format!("cannot read `{certificate}`: {error}"))
            .and_then(|text| {
                registry::certificate::pem_to_der(&text).map_err(|error| format!("`{certificate}`: {error}"))
            });
        match der {
            Ok(der) => registry::certificate::certificate_id(&der),
            Err(message) => return format.usage_error(&message),
        }
    } else {
        certificate.clone()
    };
    let identity = match loaded.registry.identify(&id, client_id) {
        Ok(identity) => identity,
        Err(refusal) => {
            return format.error(1, &format!("the connection is refused: {refusal} (certificate id {id})"), None);
        }
    };
    let connection = Connection {
        region: args.region.clone(),
        account: args.account.clone(),
        client_id: client_id.clone(),
        ..Connection::default()
    };
    let context = identity.context(&connection);
    let names: Vec<&str> = identity.policies.iter().map(|named| named.name.as_str()).collect();
    decide(args, &names, &identity.documents(), &context)
}

fn decide(args: &AuthorizeArgs, names: &[&str], documents: &[Policy], context: &Context) -> ExitCode {
    let format = args.format;
    // Warnings about the requests: shown, and every request decided.
    let mut warned = Vec::new();
    let requests = match (&args.requests, &args.action, &args.resource) {
        (Some(path), _, _) => match read_requests(path) {
            Ok((requests, report)) if !report.diagnostics.iter().any(Diagnostic::is_error) => {
                warned.push(report);
                requests
            }
            Ok((_, report)) => return format.invalid("a request is not one AWS IoT makes", [&report]),
            Err(message) => return format.usage_error(&message),
        },
        (None, Some(action), Some(resource)) => {
            let checked = check_request(action, resource);
            let failed = checked.has_errors();
            let reports = [("--action", action, checked.action), ("--resource", resource, checked.resource)]
                .into_iter()
                .filter(|(_, _, diagnostics)| !diagnostics.is_empty())
                .map(|(flag, text, diagnostics)| argument_report(flag, text, diagnostics));
            if failed {
                return format.invalid("the request is not one AWS IoT makes", &reports.collect::<Vec<_>>());
            }
            warned.extend(reports);
            vec![Request { action: action.clone(), resource: resource.clone() }]
        }
        _ => return format.usage_error("give --action and --resource, or --requests"),
    };
    if !format.is_json() {
        for report in warned.iter().filter(|report| !report.diagnostics.is_empty()) {
            eprint!("{}", report::render(report));
        }
    }
    let authorizations: Vec<Authorization> =
        requests.iter().map(|request| authorize(documents, context, request)).collect();
    let results = requests
        .iter()
        .zip(&authorizations)
        .map(|(request, authorization)| auth_result(request, authorization, names, documents));
    if format == Format::Json {
        let results = JsonResults { results: results.collect(), diagnostics: report::json_diagnostics(&warned) };
        return if output::document(&results) { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let mut stdout = std::io::stdout().lock();
    for result in results {
        let written = if args.requests.is_some() {
            serde_json::to_writer(&mut stdout, &result)
        } else {
            serde_json::to_writer_pretty(&mut stdout, &result)
        };
        if written.is_err() || stdout.write_all(b"\n").is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// A command-line argument as the input its diagnostics point into.
fn argument_report(flag: &str, text: &str, diagnostics: Vec<Diagnostic>) -> InputReport {
    InputReport { name: flag.to_owned(), source: text.to_owned(), offset: 0, diagnostics, description: String::new() }
}

/// The requests of a `--requests` file, one JSON object a line, and the diagnostics of those
/// that name an action or resource that is not one, pointing into the file. `Err` when the
/// file cannot be read as requests at all.
fn read_requests(path: &Path) -> Result<(Vec<Request>, InputReport), String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    let mut requests = Vec::new();
    let mut diagnostics = Vec::new();
    let mut start = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_start = start;
        start += line.len();
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), index + 1);
        let json: Json =
            serde_json::from_str(line).map_err(|error| format!("{at}: {}", JsonError::of(&error).in_line()))?;
        let field = |name: &str| {
            json.get(name)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{at}: each request needs a string `{name}`"))
        };
        let request = Request { action: field("action")?, resource: field("resource")? };
        let checked = check_request(&request.action, &request.resource);
        for (value, found) in [(&request.action, checked.action), (&request.resource, checked.resource)] {
            let shift = placed(line, value);
            let whole_line = Span::new(line_start, line_start + line.trim_end().len());
            diagnostics.extend(found.into_iter().map(|diagnostic| {
                diagnostic.map_spans(|span| match shift {
                    Some(shift) => Span::new(line_start + shift + span.start, line_start + shift + span.end),
                    None => whole_line,
                })
            }));
        }
        requests.push(request);
    }
    let name = path.display().to_string();
    Ok((requests, InputReport { name, source: text, offset: 0, diagnostics, description: String::new() }))
}

/// Where the text of a JSON string value starts in its line, when it is written there without
/// escapes, so diagnostics can point at it.
fn placed(line: &str, value: &str) -> Option<usize> {
    let quoted = serde_json::to_string(value).ok()?;
    (quoted.len() == value.len() + 2).then(|| line.find(&quoted).map(|at| at + 1)).flatten()
}

fn auth_result<'a>(
    request: &'a Request,
    authorization: &'a Authorization,
    names: &[&'a str],
    documents: &'a [Policy],
) -> AuthResult<'a> {
    let entries = |statements: &[StatementRef]| -> Vec<PolicyEntry<'a>> {
        let mut entries: Vec<PolicyEntry<'a>> = Vec::new();
        for reference in statements {
            let sid = documents
                .get(reference.policy)
                .and_then(|policy| policy.statements.get(reference.statement))
                .and_then(|statement| statement.sid.as_deref());
            let statement = StatementEntry { index: reference.statement, sid };
            let name = names.get(reference.policy).copied().unwrap_or_default();
            match entries.iter_mut().find(|entry| entry.policy_name == name) {
                Some(entry) => entry.statements.push(statement),
                None => entries.push(PolicyEntry { policy_name: name, statements: vec![statement] }),
            }
        }
        entries
    };
    // Like TestAuthorization, an implicit deny lists every policy that was evaluated.
    let implicit = match authorization.decision {
        Decision::ImplicitDeny => {
            names.iter().map(|name| PolicyEntry { policy_name: name, statements: Vec::new() }).collect()
        }
        _ => Vec::new(),
    };
    AuthResult {
        auth_info: AuthInfo { action: &request.action, resources: [&request.resource] },
        auth_decision: authorization.decision.as_str(),
        allowed: PolicyList { policies: entries(&authorization.allowing) },
        denied: Denied {
            explicit_deny: PolicyList { policies: entries(&authorization.denying) },
            implicit_deny: PolicyList { policies: implicit },
        },
        missing_context_values: &authorization.missing,
    }
}
