//! The one diagnostic type every phase reports through.
//!
//! A diagnostic carries a stable [`Code`], a severity, a lowercase message, an optional help
//! line and labelled spans. The command line renders it with miette; the language server turns
//! the same value into an LSP diagnostic, so both show identical text.

use std::fmt;

use crate::span::Span;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A suggestion; the input is fine as it is.
    Advice,
    /// The input is accepted but almost certainly does not do what was meant.
    Warning,
    /// The input is rejected, as AWS IoT Core rejects it.
    Error,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Advice => "advice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, )*) => {
        /// Stable diagnostic codes. The names are part of the public interface: editors,
        /// CI scripts and suppression lists refer to them, so they never change meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable name, such as `iotsql::unknown_function`.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// One sentence saying what the code reports.
            pub const fn summary(self) -> &'static str {
                match self { $( Code::$variant => concat!($($doc),*), )* }
            }
        }
    };
}

codes! {
    /// A character that cannot start any IoT SQL token.
    InvalidToken = "iotsql::invalid_token",
    /// A string literal with no closing quote.
    UnterminatedString = "iotsql::unterminated_string",
    /// An operator from another SQL dialect, such as `!=` or `==`.
    ForeignOperator = "iotsql::foreign_operator",
    /// A token where the grammar does not allow it.
    UnexpectedToken = "iotsql::unexpected_token",
    /// The statement stops before it is complete.
    UnexpectedEnd = "iotsql::unexpected_end",
    /// Expressions nested deeper than the compiler accepts.
    NestingTooDeep = "iotsql::nesting_too_deep",
    /// More syntax errors than are worth reporting one by one.
    TooManyErrors = "iotsql::too_many_errors",
    /// An integer literal of more than 34 digits, which an Int cannot hold: read as a rounded Decimal.
    IntegerOutOfRange = "iotsql::integer_out_of_range",
    /// A number literal with more than 34 significant digits, or outside the Decimal range.
    NumberOutOfRange = "iotsql::number_out_of_range",
    /// A call to a function IoT SQL does not have.
    UnknownFunction = "iotsql::unknown_function",
    /// A function called with a number of arguments it does not take; the call is always Undefined.
    WrongArity = "iotsql::wrong_arity",
    /// A feature or function that the statement's SQL version does not have.
    RequiresSqlVersion = "iotsql::requires_sql_version",
    /// A `cast` whose target is not one of the documented type keywords.
    InvalidCastType = "iotsql::invalid_cast_type",
    /// The `x AS type` argument form outside `cast`.
    AsOutsideCast = "iotsql::as_outside_cast",
    /// Bracket indexing, which IoT SQL does not have.
    UnsupportedIndexing = "iotsql::unsupported_indexing",
    /// A `CASE` without a value to compare.
    SearchedCase = "iotsql::searched_case",
    /// A FROM clause that is not a quoted topic filter.
    TopicFilterNotQuoted = "iotsql::topic_filter_not_quoted",
    /// A topic filter MQTT does not allow.
    InvalidTopicFilter = "iotsql::invalid_topic_filter",
    /// A topic filter past an AWS IoT Core limit.
    TopicFilterLimit = "iotsql::topic_filter_limit",
    /// A FROM clause naming a Basic Ingest topic, which rules never subscribe to.
    BasicIngestInFrom = "iotsql::basic_ingest_in_from",
    /// A statement with no FROM clause, reachable only through Basic Ingest.
    MissingFrom = "iotsql::missing_from",
    /// An expression whose value is Undefined for every message.
    AlwaysUndefined = "iotsql::always_undefined",
    /// A WHERE clause that can never be Boolean true, so the rule never fires.
    WhereNeverTrue = "iotsql::where_never_true",
    /// Two SELECT items that write the same output key.
    DuplicateOutputKey = "iotsql::duplicate_output_key",
    /// An object literal that repeats a key.
    DuplicateObjectKey = "iotsql::duplicate_object_key",
    /// A SELECT item whose output key AWS does not document.
    UnnamedOutput = "iotsql::unnamed_output",
    /// A regular expression using a construct the linear-time engine cannot run.
    UnsupportedRegex = "iotsql::unsupported_regex",
    /// A regular expression that does not compile, so the call is always Undefined.
    InvalidRegex = "iotsql::invalid_regex",
    /// A `@variable` used without a SET assignment before it.
    UndefinedVariable = "iotsql::undefined_variable",
    /// A `@variable` assigned more than once.
    DuplicateVariable = "iotsql::duplicate_variable",
    /// A `@variable` name longer than 64 characters.
    VariableNameTooLong = "iotsql::variable_name_too_long",
    /// A SET clause assigning more variables than AWS allows in one statement.
    TooManyVariables = "iotsql::too_many_variables",
    /// A function AWS allows at most once per statement, called twice.
    FunctionCalledTwice = "iotsql::function_called_twice",
    /// A file that is not valid UTF-8.
    InvalidUtf8 = "input::invalid_utf8",
    /// More diagnostics of one code than are worth reporting one by one; the rest are counted.
    TooManyDiagnostics = "input::too_many_diagnostics",
    /// A rule file that is not valid JSON.
    RuleInvalidJson = "rule::invalid_json",
    /// A CloudFormation template in YAML that cannot be read: not YAML, or larger, deeper or
    /// more aliased than iotrules reads.
    RuleInvalidYaml = "rule::invalid_yaml",
    /// A rule file field that is missing, of the wrong type, or not a rule field.
    RuleInvalidField = "rule::invalid_field",
    /// A rule name outside `[a-zA-Z0-9_]{1,128}`.
    RuleInvalidName = "rule::invalid_rule_name",
    /// A value of a CloudFormation template's topic rule that CloudFormation computes
    /// (`Fn::Sub`, `Ref`, ...): it cannot be checked before the stack is deployed. The rest of
    /// the rule is checked, and the rule is not run.
    TemplateValueNotChecked = "rule::template_value_not_checked",
    /// An `awsIotSqlVersion` AWS does not know.
    RuleInvalidSqlVersion = "rule::invalid_sql_version",
    /// A rule with no `awsIotSqlVersion`, which AWS runs as 2015-10-08.
    RuleMissingSqlVersion = "rule::missing_sql_version",
    /// More than the 10 actions AWS allows on one rule.
    RuleTooManyActions = "rule::too_many_actions",
    /// An action entry naming no known action type, or more than one.
    RuleUnknownAction = "rule::unknown_action",
    /// An action parameter that is missing, misspelt, of the wrong type, or outside the values AWS accepts.
    RuleInvalidActionParameter = "rule::invalid_action_parameter",
    /// An HTTP action URL that is not `https://`: AWS rejects it; iotrules sends it, for local endpoints.
    RuleHttpUrlNotHttps = "rule::http_url_not_https",
    /// An HTTP action `auth` block: iotrules sends the request unsigned.
    RuleUnsupportedAuth = "rule::unsupported_auth",
    /// An HTTP action whose confirmed destination does not fix the host: a substitution can
    /// change where the request goes, and iotrules refuses every URL off the destination.
    RuleUrlHostTemplated = "rule::url_host_templated",
    /// A republish topic starting with a single `$`; AWS reaches reserved topics through `$$`.
    RuleReservedTopicUnescaped = "rule::reserved_topic_unescaped",
    /// An action type `iotrules run` cannot perform offline.
    RuleUnsupportedAction = "rule::unsupported_action",
    /// A `${` in a substitution template with no closing `}`.
    TemplateUnclosed = "template::unclosed_substitution",
    /// A `${}` in a substitution template with no expression inside.
    TemplateEmpty = "template::empty_substitution",
    /// A rule the JIT does not compile, which runs on the interpreter with the same results.
    JitInterpreted = "jit::interpreted",
    /// A policy document that is not valid JSON.
    PolicyInvalidJson = "policy::invalid_json",
    /// A policy document over 2,048 characters, whitespace not counted.
    PolicyTooLong = "policy::too_long",
    /// A `Version` other than `2012-10-17` or `2008-10-17`, or none.
    PolicyInvalidVersion = "policy::invalid_version",
    /// A policy element of the wrong type, misspelled, or not allowed in an IoT policy.
    PolicyInvalidElement = "policy::invalid_element",
    /// A statement without `Effect`.
    PolicyMissingEffect = "policy::missing_effect",
    /// An `Effect` other than exactly `Allow` or `Deny`.
    PolicyInvalidEffect = "policy::invalid_effect",
    /// A statement with neither or both of `Action` and `NotAction`.
    PolicyMissingAction = "policy::missing_action",
    /// A statement with neither or both of `Resource` and `NotResource`.
    PolicyMissingResource = "policy::missing_resource",
    /// An action AWS IoT policies do not carry: an error for a service they do not cover, a warning
    /// for an unknown action of one they do (evaluated as written); in an authorization request,
    /// any unknown action is an error.
    PolicyUnknownAction = "policy::unknown_action",
    /// A resource that is neither `*` nor an AWS IoT, Greengrass or IoT Wireless ARN.
    PolicyInvalidArn = "policy::invalid_arn",
    /// A condition operator IAM does not define.
    PolicyUnknownConditionOperator = "policy::unknown_condition_operator",
    /// A condition key AWS IoT policies do not support.
    PolicyUnknownConditionKey = "policy::unknown_condition_key",
    /// A resource whose type the statement's actions are never checked against, or an MQTT
    /// action requested for a resource of another type.
    PolicyResourceTypeMismatch = "policy::resource_type_mismatch",
    /// A `${...}` variable AWS does not define, which is never resolved.
    PolicyUnknownVariable = "policy::unknown_variable",
    /// A `${...}` variable where AWS does not substitute it: an ARN's region or account, or a
    /// condition that is not a string or ARN comparison.
    PolicyMisplacedVariable = "policy::misplaced_variable",
    /// An Allow of every action on every resource.
    PolicyAllowsEverything = "policy::allows_everything",
    /// An Allow to connect with any client id, without requiring the thing to be attached.
    PolicyConnectWithoutAttachment = "policy::connect_without_attachment",
    /// `${iot:ClientId}` in a topic filter resource, where a client id `+` or `#` becomes a wildcard.
    PolicyClientIdInTopicFilter = "policy::client_id_in_topic_filter",
    /// `+` or `#` in a topic or topic filter ARN, where they are literal characters.
    PolicyLiteralMqttWildcard = "policy::literal_mqtt_wildcard",
    /// A key repeated in one object of a policy document: two `Effect`, one condition operator
    /// twice in a `Condition`, one condition key twice under an operator.
    PolicyDuplicateKey = "policy::duplicate_key",
    /// `Version` 2008-10-17, IAM's first policy language, under which `${...}` is literal text.
    PolicyLegacyVersion = "policy::legacy_version",
    /// A `${...}` variable of a multi-valued key, which has no single value and is never
    /// substituted.
    PolicyMultivaluedVariable = "policy::multivalued_variable",
    /// A registry file that is not valid JSON, or not in the shape the AWS CLI prints.
    RegistryInvalidFile = "registry::invalid_file",
    /// A certificate whose PEM does not parse, or whose stated id is not its SHA-256.
    RegistryInvalidCertificate = "registry::invalid_certificate",
    /// Two registry entries with the same name or certificate id.
    RegistryDuplicate = "registry::duplicate",
    /// An attachment naming a thing, certificate, policy or thing group the registry lacks.
    RegistryDanglingReference = "registry::dangling_reference",
    /// A certificate attached exclusively to one thing and attached to another as well.
    RegistryExclusiveConflict = "registry::exclusive_conflict",
    /// More than 10 policies attached to one certificate or thing group.
    RegistryTooManyPolicies = "registry::too_many_policies",
    /// An ACTIVE certificate with no policy, directly or through a thing group: it can do nothing.
    RegistryCertificateWithoutPolicies = "registry::certificate_without_policies",
    /// A policy without an Allow statement: attached anywhere, it grants nothing.
    RegistryPolicyAllowsNothing = "registry::policy_allows_nothing",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A labelled span inside a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: Option<String>,
}

/// One finding about one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Lowercase, no final period, user input in backticks.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The primary span first, then any related spans.
    pub labels: Vec<Label>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, span, message)
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, span, message)
    }

    pub fn advice(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Advice, span, message)
    }

    pub fn new(code: Code, severity: Severity, span: Span, message: impl Into<String>) -> Self {
        Self { code, severity, message: message.into(), help: None, labels: vec![Label { span, text: None }] }
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the text shown under the primary span.
    pub fn with_label(mut self, text: impl Into<String>) -> Self {
        if let Some(primary) = self.labels.first_mut() {
            primary.text = Some(text.into());
        }
        self
    }

    /// Adds a secondary labelled span.
    pub fn with_related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: Some(text.into()) });
        self
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        self.labels.first().map(|label| label.span).unwrap_or_default()
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Maps every span through `map`, for text embedded in a larger file.
    pub fn map_spans(mut self, mut map: impl FnMut(Span) -> Span) -> Self {
        for label in &mut self.labels {
            label.span = map(label.span);
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Advice => miette::Severity::Advice,
            Severity::Warning => miette::Severity::Warning,
            Severity::Error => miette::Severity::Error,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_deref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().enumerate().map(|(index, label)| {
            let span = miette::SourceSpan::from(label.span);
            if index == 0 {
                miette::LabeledSpan::new_primary_with_span(label.text.clone(), span)
            } else {
                miette::LabeledSpan::new_with_span(label.text.clone(), span)
            }
        })))
    }
}

/// At most this many diagnostics of one code are reported for one input (a statement, a
/// substitution template, a rule file, a policy document).
pub const MAX_PER_CODE: usize = 50;

/// Keeps the first [`MAX_PER_CODE`] diagnostics of each code, in the order given (by
/// position), and stands for the rest of each code with one `input::too_many_diagnostics`
/// diagnostic at the first one left out. The result is sorted by position. Linear in the
/// number of diagnostics.
pub fn limit_per_code(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut limited = Limited::default();
    for diagnostic in diagnostics {
        limited.add(diagnostic);
    }
    limited.finish()
}

/// The diagnostics of one input, collected so that at most [`MAX_PER_CODE`] of a code are kept,
/// and the rest only counted: a caller asks [`Limited::count`] before it builds a diagnostic
/// (building can cost a "did you mean" search, and a hostile input holds millions).
#[derive(Debug)]
pub struct Limited {
    /// How many diagnostics of each code were found, kept or not, by `Code as usize`.
    found: [usize; Code::ALL.len()],
    kept: Vec<Diagnostic>,
    /// Per code past the limit, the first one left out: where it is, and how severe.
    first_left_out: Vec<(Code, Severity, Span)>,
}

impl Default for Limited {
    fn default() -> Self {
        Limited { found: [0; Code::ALL.len()], kept: Vec::new(), first_left_out: Vec::new() }
    }
}

impl Limited {
    /// Counts one more diagnostic of `code`, and says whether to build it and [`Limited::push`]
    /// it: the first [`MAX_PER_CODE`] are kept, and the one after them marks where the rest
    /// start.
    pub fn count(&mut self, code: Code) -> bool {
        match self.found.get_mut(code as usize) {
            Some(found) => {
                *found += 1;
                *found <= MAX_PER_CODE + 1
            }
            None => true,
        }
    }

    /// Takes a diagnostic [`Limited::count`] asked for.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        if self.found(diagnostic.code) <= MAX_PER_CODE {
            self.kept.push(diagnostic);
        } else {
            self.first_left_out.push((diagnostic.code, diagnostic.severity, diagnostic.span()));
        }
    }

    /// Counts and takes a diagnostic built already. Summaries of inner inputs (a rule file's
    /// statement) pass through uncounted.
    pub fn add(&mut self, diagnostic: Diagnostic) {
        if diagnostic.code == Code::TooManyDiagnostics {
            self.kept.push(diagnostic);
        } else if self.count(diagnostic.code) {
            self.push(diagnostic);
        }
    }

    /// How many diagnostics of `code` were counted.
    pub fn found(&self, code: Code) -> usize {
        self.found.get(code as usize).copied().unwrap_or(0)
    }

    /// The diagnostics kept, and for each code past the limit one that counts the rest, at the
    /// first left out and as severe as it; sorted by position.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        if self.first_left_out.is_empty() {
            return self.kept;
        }
        let mut first_left_out = std::mem::take(&mut self.first_left_out);
        // A stable order for codes first left out at the same place.
        first_left_out.sort_by_key(|(code, _, span)| (span.start, code.as_str()));
        for (code, severity, span) in first_left_out {
            let count = self.found(code).saturating_sub(MAX_PER_CODE);
            self.kept.push(too_many(code, count, severity, span));
        }
        self.kept.sort_by_key(|diagnostic| diagnostic.span().start);
        self.kept
    }
}

/// The diagnostic that stands for `count` diagnostics of `code` left out, the first at `span`.
pub fn too_many(code: Code, count: usize, severity: Severity, span: Span) -> Diagnostic {
    let noun = if count == 1 { "diagnostic" } else { "diagnostics" };
    Diagnostic::new(
        Code::TooManyDiagnostics,
        severity,
        span,
        format!("{count} more `{code}` {noun} not shown, the first here"),
    )
    .with_help(format!("at most {MAX_PER_CODE} diagnostics of one code are listed per input; fix the ones shown first"))
}

/// Closest candidate to `word` by edit distance, for "did you mean" help lines.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let length = lower.chars().count();
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let limit = (candidate.len().max(3) / 3).max(1);
            // The distance is at least the difference in length. Skipping those candidates
            // keeps a huge word from costing its length times each candidate's in time and memory.
            if length.abs_diff(candidate.chars().count()) > limit {
                return None;
            }
            let distance = strsim::damerau_levenshtein(&lower, &candidate.to_ascii_lowercase());
            (distance <= limit).then_some((distance, candidate))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}
