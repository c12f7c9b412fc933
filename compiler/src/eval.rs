//! The reference interpreter: evaluates a checked statement against one message exactly as
//! AWS IoT Core's rules engine does. The JIT is held to its results.
//!
//! **Architecture Invariant:** evaluation never panics and always ends: recursion is bounded
//! by the tree's depth limit and by the payload parser's nesting limit, and every loop runs
//! over the input. Failures that are not Undefined (a payload over the size limit, a call
//! to another AWS service with no stand-in value) are `EvalError`s.

pub mod access_plan;
pub mod functions;
pub mod json;
pub(crate) mod operators;
pub(crate) mod scanner;
pub mod value;

use std::collections::HashMap;
use std::sync::Arc;

use crate::check::functions::{self as catalogue, cast_target};
use crate::check::topic_filter;
use crate::syntax::ast::{Alias, BinaryOp, Case, Expr, ExprKind, Query, Select, SelectItem, Statement};
use crate::version::SqlVersion;
pub use value::{Number, Object, Value};

/// AWS IoT Core's message size limit, the default payload limit.
pub const DEFAULT_MAX_PAYLOAD: usize = 128 * 1024;

/// A rule ready to evaluate: a statement that checked without errors.
#[derive(Clone, Copy, Debug)]
pub struct Rule<'a> {
    pub statement: &'a Statement,
    pub version: SqlVersion,
    /// The rule's name, which Basic Ingest topics (`$aws/rules/<name>/...`) address.
    pub name: Option<&'a str>,
}

/// One incoming message and what AWS knows about its sender.
#[derive(Clone, Debug, Default)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    /// MQTT client id; `clientid()` is `n/a` without one.
    pub client_id: Option<&'a str>,
    pub principal: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    /// When the broker received the message, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// MQTT 5 properties, when the message arrived over MQTT 5.
    pub properties: Option<&'a MqttProperties>,
}

/// The MQTT 5 PUBLISH properties `get_mqtt_property` and `get_user_properties` read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MqttProperties {
    pub content_type: Option<String>,
    pub payload_format_indicator: Option<u8>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub message_expiry_interval: Option<u32>,
    pub user_properties: Vec<(String, String)>,
}

/// What the rule engine around the statement provides.
#[derive(Clone, Debug)]
pub struct Environment {
    /// `accountid()`.
    pub account_id: String,
    /// Stand-in results for functions that call other AWS services, by function name.
    pub stubs: HashMap<String, Value>,
    /// Answers some functions that call other AWS services for real (the runtime's own
    /// services, such as the shadows of `iotrules serve`); what it does not answer falls back
    /// on `stubs`.
    pub services: Option<Arc<dyn Services>>,
    /// Larger payloads are refused, as AWS IoT Core refuses them.
    pub max_payload: usize,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            account_id: "123456789012".to_owned(),
            stubs: HashMap::new(),
            services: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// Other AWS services a rule's functions call, provided by the program running the rules:
/// the compiler stays free of IO and only calls this.
pub trait Services: Send + Sync + std::fmt::Debug {
    /// `function` (such as `get_thing_shadow`) on its evaluated arguments: `None` when it is not
    /// served here, `Some(Err(message))` when the service refused the call as AWS's would.
    fn call(&self, function: &str, args: &[Value]) -> Option<Result<Value, String>>;
}

/// What a rule did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The topic is not one the rule listens to.
    NotMatched,
    /// The WHERE clause was not the Boolean true.
    Filtered,
    /// The rule fired and published these bytes.
    Fired(Vec<u8>),
}

/// A failure that is not an Undefined value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("payload is {size} bytes, more than the limit of {limit}")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("`{function}` calls another AWS service, which iotrules does not reach")]
    ExternalCall { function: &'static str },
    #[error("`{function}` failed: {message}")]
    ServiceFailed { function: &'static str, message: String },
}

impl EvalError {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            EvalError::PayloadTooLarge { .. } => {
                "AWS IoT Core rejects messages over 128 KB; raise the limit only to test larger payloads".to_owned()
            }
            EvalError::ExternalCall { function } => {
                format!("supply the value it should return with `--stub {function}=JSON`")
            }
            EvalError::ServiceFailed { .. } => {
                "the message is not evaluated, as on AWS when a rule's function call fails".to_owned()
            }
        }
    }
}

/// Evaluates `rule` on `message`.
pub fn evaluate(rule: &Rule<'_>, env: &Environment, message: &Message<'_>) -> Result<Outcome, EvalError> {
    if visible_topic(rule, message.topic).is_none() {
        return Ok(Outcome::NotMatched);
    }
    let payload = read_payload(env, message)?;
    evaluate_read(rule, env, message, &payload)
}

/// The payload as every rule sees it: its JSON value, or its bytes when it is not JSON.
/// Read it once per message and pass it to [`evaluate_read`] for each rule.
pub fn read_payload(env: &Environment, message: &Message<'_>) -> Result<Value, EvalError> {
    if message.payload.len() > env.max_payload {
        return Err(EvalError::PayloadTooLarge { size: message.payload.len(), limit: env.max_payload });
    }
    // What is not JSON (or nests past `json::MAX_DEPTH`) is a binary payload (§14).
    Ok(json::parse(message.payload).unwrap_or_else(|| Value::Binary(message.payload.to_vec())))
}

/// Evaluates `rule` on `message`, whose payload [`read_payload`] already read.
pub fn evaluate_read(
    rule: &Rule<'_>,
    env: &Environment,
    message: &Message<'_>,
    payload: &Value,
) -> Result<Outcome, EvalError> {
    run_scope(rule, env, message, payload, false)
}

/// [`evaluate_read`] for a rule with no SET clause whose WHERE clause is already known to be
/// true for this message (a compiled predicate said so), so it is not evaluated again.
pub fn evaluate_read_passed(
    rule: &Rule<'_>,
    env: &Environment,
    message: &Message<'_>,
    payload: &Value,
) -> Result<Outcome, EvalError> {
    run_scope(rule, env, message, payload, true)
}

/// Evaluates a lone expression (a substitution template's) on `message`, whose payload
/// [`read_payload`] already read. The expression sees the payload, functions and operators,
/// never a statement's aliases or variables; a Basic Ingest prefix is hidden from `topic()`
/// as it is from the statement.
pub fn evaluate_expr(
    expr: &Expr,
    version: SqlVersion,
    env: &Environment,
    message: &Message<'_>,
    payload: &Value,
) -> Result<Value, EvalError> {
    // Only the version of the rule is read while an expression is evaluated; the statement
    // is a placeholder the scope requires.
    let statement = Statement {
        set_keyword: None,
        set: Vec::new(),
        select: Select::Items(Vec::new()),
        from: None,
        where_clause: None,
        span: expr.span,
    };
    let rule = Rule { statement: &statement, version, name: None };
    let topic = basic_ingest(message.topic).map_or(message.topic, |(_, rest)| rest);
    Scope::for_call(&rule, env, message, topic, payload, HashMap::new()).expr(expr, &Row::top(payload))
}

fn run_scope(
    rule: &Rule<'_>,
    env: &Environment,
    message: &Message<'_>,
    payload: &Value,
    where_passed: bool,
) -> Result<Outcome, EvalError> {
    let Some(topic) = visible_topic(rule, message.topic) else { return Ok(Outcome::NotMatched) };
    Scope { rule, env, message, topic, payload, variables: HashMap::new(), where_passed }.run()
}

/// The topic the statement sees, when the message reaches the rule at all: a Basic Ingest
/// message addresses the rule by name and hides its prefix; any other message must match FROM.
fn visible_topic<'m>(rule: &Rule<'_>, topic: &'m str) -> Option<&'m str> {
    if let Some((name, rest)) = basic_ingest(topic) {
        return (rule.name == Some(name)).then_some(rest);
    }
    let ExprKind::String(filter) = &rule.statement.from.as_ref()?.kind else { return None };
    topic_filter::matches(&filter.value, topic).then_some(topic)
}

/// The rule a Basic Ingest topic addresses, and the topic without its prefix.
fn basic_ingest(topic: &str) -> Option<(&str, &str)> {
    let name = topic_filter::basic_ingest_rule(topic)?;
    Some((name, topic.get(topic_filter::BASIC_INGEST_PREFIX.len() + name.len() + 1..).unwrap_or_default()))
}

/// Everything an expression can see while one message is evaluated.
pub(crate) struct Scope<'a> {
    pub(crate) rule: &'a Rule<'a>,
    pub(crate) env: &'a Environment,
    pub(crate) message: &'a Message<'a>,
    /// The topic as the statement sees it (without a Basic Ingest prefix).
    pub(crate) topic: &'a str,
    pub(crate) payload: &'a Value,
    variables: HashMap<String, Value>,
    /// The WHERE clause is known to be true; skip it.
    where_passed: bool,
}

impl<'a> Scope<'a> {
    /// A scope for calling functions and running nested queries on one message outside a
    /// full evaluation (the JIT's value helpers), with the SET variables given.
    pub(crate) fn for_call(
        rule: &'a Rule<'a>,
        env: &'a Environment,
        message: &'a Message<'a>,
        topic: &'a str,
        payload: &'a Value,
        variables: HashMap<String, Value>,
    ) -> Self {
        Scope { rule, env, message, topic, payload, variables, where_passed: false }
    }
}

impl Scope<'_> {
    fn run(mut self) -> Result<Outcome, EvalError> {
        let statement = self.rule.statement;
        for assignment in &statement.set {
            let value = self.expr(&assignment.value, &Row::top(self.payload))?;
            self.variables.insert(assignment.variable.text.clone(), value);
        }
        if let Some(condition) = &statement.where_clause
            && !self.where_passed
            && self.expr(condition, &Row::top(self.payload))? != Value::Bool(true)
        {
            return Ok(Outcome::Filtered);
        }
        let whole_as_int = self.rule.version.has_2016_features();
        let output = match &statement.select {
            Select::Value(expr) => self.expr(expr, &Row::top(self.payload))?,
            Select::Items(items) => {
                if let ([SelectItem::Expr { expr, alias: None }], Value::Binary(bytes)) =
                    (items.as_slice(), self.payload)
                    && expr.kind == ExprKind::Payload
                {
                    return Ok(Outcome::Fired(bytes.clone()));
                }
                if let ([SelectItem::Expr { expr, alias: None }], payload) = (items.as_slice(), self.payload)
                    && expr.kind == ExprKind::Payload
                    && !matches!(payload, Value::Object(_))
                {
                    payload.clone()
                } else if let Some(keys) = flat_keys(items) {
                    return Ok(Outcome::Fired(self.write_items(items, &keys, whole_as_int)?));
                } else {
                    self.items(items, &Row::top(self.payload))?
                }
            }
        };
        Ok(Outcome::Fired(match output {
            Value::Binary(bytes) => bytes,
            value => {
                // Undefined on its own serializes as the empty string.
                let mut out = String::new();
                value::write_json(&mut out, &value, whole_as_int);
                out.into_bytes()
            }
        }))
    }

    /// Writes the output object of a SELECT list whose items each write one distinct,
    /// undotted key straight into the output, as `items` and `write_json` would.
    fn write_items(&self, items: &[SelectItem], keys: &[&str], whole_as_int: bool) -> Result<Vec<u8>, EvalError> {
        let mut out = String::from("{");
        for (item, key) in items.iter().zip(keys) {
            let SelectItem::Expr { expr, .. } = item else { continue };
            let value = self.expr(expr, &Row::top(self.payload))?;
            let mark = out.len();
            if out.len() > 1 {
                out.push(',');
            }
            value::write_json_string(&mut out, key);
            out.push(':');
            if !value::write_json(&mut out, &value, whole_as_int) {
                out.truncate(mark);
            }
        }
        out.push('}');
        Ok(out.into_bytes())
    }

    /// Builds the object a SELECT list produces over `row` (the payload, or an element in a
    /// nested query).
    fn items(&self, items: &[SelectItem], row: &Row<'_>) -> Result<Value, EvalError> {
        let mut output = Object::default();
        for item in items {
            let SelectItem::Expr { expr, alias } = item else { continue };
            if expr.kind == ExprKind::Payload && alias.is_none() {
                if let Value::Object(object) = row.value {
                    output.extend(object.iter().map(|(key, value)| (key.clone(), value.clone())));
                }
                continue;
            }
            let value = self.expr(expr, row)?;
            if value.is_undefined() {
                continue;
            }
            // An unaliased object literal (`SELECT {'key-with-hyphen': x}`) gives its members
            // to the output, the way `*` gives the payload's.
            if let (ExprKind::Object(_), None, Value::Object(members)) = (&expr.kind, alias, &value) {
                output.extend(members.iter().map(|(key, value)| (key.clone(), value.clone())));
                continue;
            }
            let key = output_key(expr, alias.as_deref());
            insert_at(&mut output, &key, value);
        }
        Ok(Value::Object(output))
    }

    pub(crate) fn expr(&self, expr: &Expr, row: &Row<'_>) -> Result<Value, EvalError> {
        Ok(match &expr.kind {
            ExprKind::Integer(int) => Value::Int(*int),
            ExprKind::Decimal(decimal) => Value::from_decimal(decimal.as_deref().cloned()),
            ExprKind::String(literal) => Value::String(literal.value.clone()),
            ExprKind::Boolean(flag) => Value::Bool(*flag),
            ExprKind::Null => Value::Null,
            ExprKind::Payload => row.value.clone(),
            ExprKind::Attribute(name) => row.attribute(name),
            ExprKind::Variable(name) => self.variables.get(name).cloned().unwrap_or(Value::Undefined),
            ExprKind::Field { base, name } => self.expr(base, row)?.field(&name.text),
            ExprKind::Unary { op, operand } => {
                let operand = self.expr(operand, row)?;
                match op {
                    crate::syntax::ast::UnaryOp::Neg => operators::negate(&operand),
                    crate::syntax::ast::UnaryOp::Not => operators::not(&operand),
                }
            }
            ExprKind::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), lhs, rhs } => {
                let lhs = self.expr(lhs, row)?;
                let mut failure = None;
                let value = operators::logical(*op, &lhs, || {
                    self.expr(rhs, row).unwrap_or_else(|error| {
                        failure = Some(error);
                        Value::Undefined
                    })
                });
                if let Some(error) = failure {
                    return Err(error);
                }
                value
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (lhs, rhs) = (self.expr(lhs, row)?, self.expr(rhs, row)?);
                operators::binary(*op, &lhs, &rhs, self.rule.version)
            }
            ExprKind::Call { function, args } => {
                let Some(function) = catalogue::lookup(&function.text) else { return Ok(Value::Undefined) };
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    // `encode(*, ...)` encodes the payload's bytes as they arrived.
                    if arg.kind == ExprKind::Payload && function.name == "encode" && row.outer.is_none() {
                        values.push(Value::Binary(self.message.payload.to_vec()));
                    } else {
                        values.push(self.expr(arg, row)?);
                    }
                }
                functions::call(function, &values, self)?
            }
            ExprKind::Cast { value, target, .. } => {
                let value = self.expr(value, row)?;
                match cast_target(&target.text) {
                    Some((target, _)) => operators::cast(&value, target, self.rule.version),
                    None => Value::Undefined,
                }
            }
            ExprKind::Case(case) => {
                let Case { subject, branches, otherwise } = &**case;
                let Some(subject) = subject else { return Ok(Value::Undefined) };
                let subject = self.expr(subject, row)?;
                if subject.is_undefined() {
                    return Ok(Value::Undefined);
                }
                for (when, then) in branches {
                    let candidate = self.expr(when, row)?;
                    if !candidate.is_undefined() && operators::equals(&subject, &candidate) {
                        return self.expr(then, row);
                    }
                }
                match otherwise {
                    Some(otherwise) => self.expr(otherwise, row)?,
                    None => Value::Undefined,
                }
            }
            ExprKind::Object(entries) => {
                let mut object = Object::default();
                for (key, value) in entries {
                    let value = self.expr(value, row)?;
                    if !value.is_undefined() {
                        object.insert(key.value.clone(), value);
                    }
                }
                Value::Object(object)
            }
            ExprKind::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.expr(item, row)?);
                }
                Value::Array(values)
            }
            ExprKind::Query(query) => self.query(query, row)?,
            ExprKind::Index { .. } | ExprKind::Error => Value::Undefined,
        })
    }

    /// A nested query runs once per element of its source array; elements whose WHERE is not
    /// true are dropped, and Undefined results are left out. `FROM *` reads the row it stands
    /// in as an array of that one row (`get((SELECT *, topic() AS t FROM *), 0)` is the payload
    /// with `t` added). Over an object named by any other source it runs once and gives that
    /// one result, as the `transform` examples in the AWS reference show; over anything else
    /// it is Undefined. Inside, a name is the source's alias, else a field of the element, else
    /// a name of the rows around it.
    pub(crate) fn query(&self, query: &Query, row: &Row<'_>) -> Result<Value, EvalError> {
        if query.from.kind == ExprKind::Payload {
            return Ok(Value::Array(self.query_rows(query, std::slice::from_ref(row.value), row)?));
        }
        let elements = match self.expr(&query.from, row)? {
            Value::Array(elements) => elements,
            object @ Value::Object(_) => {
                let results = self.query_rows(query, std::slice::from_ref(&object), row)?;
                return Ok(results.into_iter().next().unwrap_or(Value::Undefined));
            }
            _ => return Ok(Value::Undefined),
        };
        Ok(Value::Array(self.query_rows(query, &elements, row)?))
    }

    fn query_rows(&self, query: &Query, elements: &[Value], outer: &Row<'_>) -> Result<Vec<Value>, EvalError> {
        let mut results = Vec::new();
        let alias = query.alias.as_ref().map(|alias| alias.text.as_str());
        for element in elements {
            let row = Row { value: element, alias, outer: Some(outer) };
            if let Some(condition) = &query.where_clause
                && self.expr(condition, &row)? != Value::Bool(true)
            {
                continue;
            }
            let value = match &query.select {
                Select::Value(expr) => self.expr(expr, &row)?,
                Select::Items(items) => self.items(items, &row)?,
            };
            if !value.is_undefined() {
                results.push(value);
            }
        }
        Ok(results)
    }
}

/// What the names of an expression read: the payload at the top of a statement; inside a
/// nested query, the element being read (named by the source's alias), then the rows around
/// it, innermost first.
#[derive(Clone, Copy)]
pub(crate) struct Row<'r> {
    /// The payload, or the element of a nested query's source.
    pub(crate) value: &'r Value,
    /// The name `FROM source AS alias` gives the element.
    alias: Option<&'r str>,
    outer: Option<&'r Row<'r>>,
}

impl<'r> Row<'r> {
    /// The row of a whole statement: the payload.
    pub(crate) fn top(payload: &'r Value) -> Self {
        Row { value: payload, alias: None, outer: None }
    }

    /// A name: the alias of a row, else a member of that row's object, from the innermost
    /// row out; Undefined when no row has it.
    fn attribute(&self, name: &str) -> Value {
        let mut row = Some(self);
        while let Some(current) = row {
            if current.alias == Some(name) {
                return current.value.clone();
            }
            if let Value::Object(object) = current.value
                && let Some(value) = object.get(name)
            {
                return value.clone();
            }
            row = current.outer;
        }
        Value::Undefined
    }
}

/// The output key path of a SELECT item: its alias, or its [`unaliased_key`].
pub(crate) fn output_key(expr: &Expr, alias: Option<&Alias>) -> Vec<String> {
    match alias {
        Some(alias) => alias.path.iter().map(|name| name.text.clone()).collect(),
        None => vec![unaliased_key(expr).to_owned()],
    }
}

/// The key an item without an alias writes: the attribute or last field name, a function's
/// name, or else `_` (AWS documents only the first of these).
fn unaliased_key(expr: &Expr) -> &str {
    match &expr.kind {
        ExprKind::Attribute(name) => name,
        ExprKind::Variable(name) => name,
        ExprKind::Field { name, .. } => &name.text,
        ExprKind::Call { function, .. } | ExprKind::Cast { function, .. } => &function.text,
        _ => "_",
    }
}

/// The output keys of a SELECT list when each item writes one undotted key and no key
/// repeats, so the output can be written item by item; `None` otherwise (a `*` to merge, a
/// dotted alias, an object literal's members, a repeated key), when the output object is built
/// first.
pub(crate) fn flat_keys(items: &[SelectItem]) -> Option<Vec<&str>> {
    let mut keys: Vec<&str> = Vec::with_capacity(items.len());
    for item in items {
        let SelectItem::Expr { expr, alias } = item else { return None };
        let key = match alias {
            Some(alias) => match alias.path.as_slice() {
                [name] => name.text.as_str(),
                _ => return None,
            },
            None if matches!(expr.kind, ExprKind::Payload | ExprKind::Object(_)) => return None,
            None => unaliased_key(expr),
        };
        if keys.contains(&key) {
            return None;
        }
        keys.push(key);
    }
    Some(keys)
}

/// Writes `value` at a dotted key path, creating (or replacing non-object) parents.
pub(crate) fn insert_at(object: &mut Object, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut target = object;
    for parent in parents {
        let slot = target.entry(parent.clone()).or_insert_with(|| Value::Object(Object::default()));
        if !matches!(slot, Value::Object(_)) {
            *slot = Value::Object(Object::default());
        }
        let Value::Object(inner) = slot else { return };
        target = inner;
    }
    target.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_sql;

    /// Runs `sql` on one message and returns what it publishes as text, `-` when it does not
    /// fire, or the error.
    fn run_with(
        sql: &str,
        version: SqlVersion,
        topic: &str,
        payload: &str,
        properties: Option<&MqttProperties>,
    ) -> String {
        let checked = check_sql(sql, version);
        assert!(!checked.has_errors(), "{sql}: {:?}", checked.diagnostics);
        let Some(statement) = &checked.statement else { return "no statement".to_owned() };
        let rule = Rule { statement, version, name: Some("my_rule") };
        let message =
            Message { topic, payload: payload.as_bytes(), timestamp_ms: 42, properties, ..Message::default() };
        match evaluate(&rule, &Environment::default(), &message) {
            Ok(Outcome::Fired(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Outcome::NotMatched | Outcome::Filtered) => "-".to_owned(),
            Err(error) => format!("error: {error}"),
        }
    }

    fn run(sql: &str, topic: &str, payload: &str) -> String {
        run_with(sql, SqlVersion::V2016_03_23, topic, payload, None)
    }

    #[test]
    fn topic_levels_and_basic_ingest() {
        let sql = "SELECT topic() AS t, topic(1) AS a, topic(3) AS c, topic(4) AS d, topic(0) AS z FROM 'a/+/c'";
        assert_eq!(run(sql, "a/b/c", "{}"), r#"{"t":"a/b/c","a":"a","c":"c"}"#);
        assert_eq!(run(sql, "a/b/c/d", "{}"), "-");
        assert_eq!(run(sql, "$aws/rules/my_rule/x/y", "{}"), r#"{"t":"x/y","a":"x"}"#);
        assert_eq!(run(sql, "$aws/rules/other_rule/a/b/c", "{}"), "-");
        assert_eq!(run("SELECT topic() AS t", "$aws/rules/my_rule/q", "{}"), r#"{"t":"q"}"#);
    }

    #[test]
    fn json_helpers() {
        let payload = r#"{"s": "héllo", "o": {"k-1": 5}, "a": [1, 2]}"#;
        let sql = "SELECT get(s, 1) AS c, get(o, 'k-1') AS k, get(a, 1.9) AS i, get(a, 5) AS missing, \
                   nanvl(nothing, 'd') AS n, get_or_default(null, 7) AS g, isNull(null) AS isnull, \
                   transform('enrichArray', {'z': 0}, [{'y': 1}, 2]) AS t, transform('other', {}, []) AS u FROM 't'";
        assert_eq!(
            run(sql, "t", payload),
            r#"{"c":"é","k":5,"i":2,"n":"d","g":7,"isnull":true,"t":[{"y":1,"z":0},2]}"#
        );
    }

    #[test]
    fn output_shapes() {
        assert_eq!(run("SELECT *, 1 AS extra FROM 't'", "t", r#"{"a": 1}"#), r#"{"a":1,"extra":1}"#);
        assert_eq!(run("SELECT *, 1 AS extra FROM 't'", "t", "not json"), r#"{"extra":1}"#);
        assert_eq!(
            run("SELECT a AS state.reported.a, b AS state.desired FROM 't'", "t", r#"{"a": 1, "b": 2}"#),
            r#"{"state":{"reported":{"a":1},"desired":2}}"#
        );
        assert_eq!(run("SELECT VALUE missing FROM 't'", "t", "{}"), "");
        assert_eq!(run("SELECT VALUE [a, missing, 2] FROM 't'", "t", r#"{"a": 1}"#), "[1,2]");
        assert_eq!(run("SELECT * FROM 't'", "t", "[1, 2]"), "[1,2]");
        assert_eq!(run("SELECT upper(s), a.b FROM 't'", "t", r#"{"s": "x", "a": {"b": 3}}"#), r#"{"upper":"X","b":3}"#);
    }

    #[test]
    fn nested_queries() {
        let payload = r#"{"e": [{"n": "t", "v": 1}, {"n": "h", "v": 2}, {"n": "t"}], "o": {"v": 9}}"#;
        assert_eq!(run("SELECT (SELECT VALUE v FROM e WHERE n = 't') AS r FROM 't'", "t", payload), r#"{"r":[1]}"#);
        assert_eq!(run("SELECT (SELECT v FROM e) AS r FROM 't'", "t", payload), r#"{"r":[{"v":1},{"v":2},{}]}"#);
        assert_eq!(run("SELECT (SELECT v FROM o) AS r FROM 't'", "t", payload), r#"{"r":{"v":9}}"#);
        assert_eq!(run("SELECT (SELECT v FROM nothing) AS r FROM 't'", "t", payload), "{}");
    }

    #[test]
    fn versions_print_whole_decimals_differently() {
        let sql = "SELECT 10.0 AS d, cast(5 AS Double) AS c, concat(2.0, '') AS s, 1.5 + 1.5 AS sum FROM 't'";
        assert_eq!(run(sql, "t", "{}"), r#"{"d":10,"c":5,"s":"2","sum":3}"#);
        assert_eq!(
            run_with(sql, SqlVersion::V2015_10_08, "t", "{}", None),
            r#"{"d":10.0,"c":5.0,"s":"2.0","sum":3.0}"#
        );
        assert_eq!(run("SELECT sql_version() AS v FROM 't'", "t", "{}"), r#"{"v":"2016-03-23"}"#);
    }

    #[test]
    fn set_variables_and_where_before_select() {
        let sql = "SET @t = temperature * 2, @u = @t + 1 SELECT @u AS u, @t.x AS none FROM 't' WHERE @t > 10";
        assert_eq!(run(sql, "t", r#"{"temperature": 6}"#), r#"{"u":13}"#);
        assert_eq!(run(sql, "t", r#"{"temperature": 5}"#), "-");
    }

    #[test]
    fn context_functions() {
        let properties = MqttProperties {
            content_type: Some("application/json".to_owned()),
            payload_format_indicator: Some(1),
            user_properties: vec![("k".to_owned(), "a".to_owned()), ("k".to_owned(), "b".to_owned())],
            ..MqttProperties::default()
        };
        let sql = "SELECT clientid() AS c, timestamp() AS ts, accountid() AS acct, get_user_properties('k') AS k, \
                   get_mqtt_property('content_type') AS ct, get_mqtt_property('format_indicator') AS fi FROM 't'";
        assert_eq!(
            run_with(sql, SqlVersion::V2016_03_23, "t", "{}", Some(&properties)),
            r#"{"c":"n/a","ts":42,"acct":"123456789012","k":["a","b"],"ct":"application/json","fi":"UTF8_DATA"}"#
        );
        assert_eq!(run("SELECT get_user_properties('k') AS k FROM 't'", "t", "{}"), "{}");
    }

    #[test]
    fn external_calls_need_a_stand_in() {
        assert_eq!(
            run("SELECT aws_lambda('arn', *) AS r FROM 't'", "t", "{}"),
            "error: `aws_lambda` calls another AWS service, which iotrules does not reach"
        );
        let protobuf = "SELECT VALUE decode(*, 'proto', 'bucket', 'key.desc', 'file.proto', 'Msg') FROM 't'";
        assert_eq!(
            run(protobuf, "t", "{}"),
            "error: `decode` calls another AWS service, which iotrules does not reach"
        );
    }

    #[test]
    fn limits() {
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(DEFAULT_MAX_PAYLOAD));
        assert!(run("SELECT * FROM 't'", "t", &big).starts_with("error: payload is"));
        // Nested as deep as Jackson refuses, a payload is not JSON: its rules see bytes.
        let deep = format!("{}{}", "[".repeat(json::MAX_DEPTH), "]".repeat(json::MAX_DEPTH));
        assert_eq!(run("SELECT * FROM 't'", "t", &deep), deep);
        assert_eq!(run("SELECT a FROM 't'", "t", &deep), "{}");
        let fine = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(run("SELECT VALUE * FROM 't'", "t", &fine), fine);
        assert_eq!(run("SELECT a FROM 't'", "t", "{\"a\": 1"), "{}");
    }
}
