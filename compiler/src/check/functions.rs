//! The catalogue of IoT SQL functions: arity, parameter kinds, result types, the SQL version
//! each needs and how deterministic it is. One table, shared by the checker, the evaluators
//! and the language server.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::check::types::Types;
use crate::version::SqlVersion;

/// What a parameter does with the value it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// Any value is meaningful, Undefined and Null included.
    Any,
    /// Converted to a Decimal: numbers and numeric strings; anything else makes the call Undefined.
    Number,
    /// Converted to an Int by rounding down: as `Number`.
    Integer,
    /// Converted to a String: everything but Null and Undefined.
    Text,
}

impl Param {
    /// Argument types that make the whole call Undefined.
    pub const fn rejects(self) -> Types {
        match self {
            Param::Any => Types::NONE,
            Param::Number | Param::Integer => Types::BOOLEAN
                .union(Types::BOOLEAN_STRING)
                .union(Types::OTHER_STRING)
                .union(Types::ARRAY)
                .union(Types::OBJECT)
                .union(Types::NULL)
                .union(Types::UNDEFINED),
            Param::Text => Types::NULL.union(Types::UNDEFINED),
        }
    }

    pub const fn describe(self) -> &'static str {
        match self {
            Param::Any => "any value",
            Param::Number | Param::Integer => "a number or a numeric string",
            Param::Text => "a value that converts to a string",
        }
    }
}

/// Where a function's result comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Determinism {
    /// Depends only on the arguments.
    Pure,
    /// Depends on the message or rule (topic, client id, SQL version), reproducibly.
    Context,
    /// Depends on time or randomness.
    Volatile,
    /// Calls another AWS service.
    External,
}

/// How many arguments a function takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Range(usize, usize),
    /// One of the listed counts.
    OneOf(&'static [usize]),
    AtLeast(usize),
}

impl Arity {
    pub fn accepts(self, count: usize) -> bool {
        match self {
            Arity::Range(min, max) => (min..=max).contains(&count),
            Arity::OneOf(counts) => counts.contains(&count),
            Arity::AtLeast(min) => count >= min,
        }
    }

    pub fn describe(self) -> String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self {
            Arity::Range(0, 0) => "no arguments".to_owned(),
            Arity::Range(min, max) if min == max => format!("{min} {}", plural(min)),
            Arity::Range(min, max) if max == min + 1 => format!("{min} or {max} {}", plural(max)),
            Arity::Range(min, max) => format!("{min} to {max} arguments"),
            Arity::OneOf(counts) => {
                let counts: Vec<String> = counts.iter().map(usize::to_string).collect();
                format!("{} arguments", counts.join(" or "))
            }
            Arity::AtLeast(min) => format!("at least {min} {}", plural(min)),
        }
    }
}

/// One IoT SQL function.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    /// The documented spelling; calls match it case-insensitively.
    pub name: &'static str,
    pub arity: Arity,
    /// Parameter kinds in order; the last one repeats for variadic functions.
    pub params: &'static [Param],
    pub result: Types,
    pub since: SqlVersion,
    pub determinism: Determinism,
    /// AWS evaluates at most one call of it per statement.
    pub once_per_statement: bool,
}

impl Function {
    /// The parameter kind of argument `index`.
    pub fn param(&self, index: usize) -> Param {
        self.params.get(index).or(self.params.last()).copied().unwrap_or(Param::Any)
    }
}

/// Looks a function up by name, ignoring case. Every call evaluated looks its function up,
/// so the catalogue is indexed by lowercase name once.
pub fn lookup(name: &str) -> Option<&'static Function> {
    static BY_NAME: LazyLock<HashMap<String, &'static Function>> =
        LazyLock::new(|| FUNCTIONS.iter().map(|function| (function.name.to_ascii_lowercase(), function)).collect());
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        BY_NAME.get(&name.to_ascii_lowercase()).copied()
    } else {
        BY_NAME.get(name).copied()
    }
}

/// Every name the catalogue knows, for "did you mean".
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|function| function.name).chain(std::iter::once("cast"))
}

use Determinism::{Context, External, Pure, Volatile};
use Param::{Any, Integer, Number, Text};

const V2015: SqlVersion = SqlVersion::V2015_10_08;
const V2016: SqlVersion = SqlVersion::V2016_03_23;

const NUMBER_RESULT: Types = Types::NUMBER.union(Types::UNDEFINED);
const DOUBLE: Types = Types::NUMBER.union(Types::UNDEFINED);
const INT: Types = Types::INT.union(Types::UNDEFINED);
const STRING: Types = Types::STRING.union(Types::UNDEFINED);
const BOOLEAN: Types = Types::BOOLEAN.union(Types::UNDEFINED);
const OBJECT: Types = Types::OBJECT.union(Types::UNDEFINED);

const fn f(name: &'static str, arity: Arity, params: &'static [Param], result: Types, since: SqlVersion) -> Function {
    Function { name, arity, params, result, since, determinism: Pure, once_per_statement: false }
}

const fn exact(n: usize) -> Arity {
    Arity::Range(n, n)
}

const fn with(function: Function, determinism: Determinism) -> Function {
    Function { determinism, ..function }
}

/// The functions of `iotsql-functions.md`, in alphabetical order.
pub static FUNCTIONS: &[Function] = &[
    f("abs", exact(1), &[Number], NUMBER_RESULT, V2015),
    with(f("accountid", exact(0), &[], STRING, V2015), Context),
    f("acos", exact(1), &[Number], DOUBLE, V2015),
    f("asin", exact(1), &[Number], DOUBLE, V2015),
    f("atan", exact(1), &[Number], DOUBLE, V2015),
    f("atan2", exact(2), &[Number, Number], DOUBLE, V2015),
    with(f("aws_lambda", exact(2), &[Text, Any], Types::ANY, V2015), External),
    f("bitand", exact(2), &[Integer, Integer], INT, V2015),
    f("bitnot", exact(1), &[Integer], INT, V2015),
    f("bitor", exact(2), &[Integer, Integer], INT, V2015),
    f("bitxor", exact(2), &[Integer, Integer], INT, V2015),
    f("ceil", exact(1), &[Number], INT, V2015),
    f("chr", exact(1), &[Integer], STRING, V2015),
    with(f("clientid", exact(0), &[], STRING, V2015), Context),
    f("concat", Arity::AtLeast(1), &[Any], Types::STRING.union(Types::ARRAY).union(Types::UNDEFINED), V2015),
    f("cos", exact(1), &[Number], DOUBLE, V2015),
    f("cosh", exact(1), &[Number], DOUBLE, V2015),
    // Two arguments for base64; six for protobuf (value, 'proto', bucket, key, file, message type).
    f("decode", Arity::OneOf(&[2, 6]), &[Any, Text], Types::ANY, V2016),
    f("encode", exact(2), &[Any, Text], STRING, V2016),
    f("endswith", exact(2), &[Text, Text], BOOLEAN, V2015),
    f("exists", exact(1), &[Any], Types::BOOLEAN, V2016),
    f("exp", exact(1), &[Number], DOUBLE, V2015),
    f("floor", exact(1), &[Number], INT, V2015),
    f("get", exact(2), &[Any, Any], Types::ANY, V2015),
    Function {
        once_per_statement: true,
        ..with(f("get_dynamodb", Arity::OneOf(&[4, 6]), &[Text], OBJECT, V2016), External)
    },
    with(f("get_mqtt_property", exact(1), &[Text], Types::ANY, V2015), Context),
    f("get_or_default", exact(2), &[Any, Any], Types::ANY, V2015),
    with(f("get_registry_data", exact(3), &[Text], OBJECT, V2015), External),
    with(f("get_secret", Arity::Range(3, 4), &[Text], Types::ANY, V2015), External),
    with(f("get_thing_shadow", Arity::Range(2, 3), &[Text], OBJECT, V2016), External),
    with(f("get_user_properties", exact(1), &[Text], Types::ANY, V2015), Context),
    f("indexof", exact(2), &[Text, Text], INT, V2016),
    f("isNull", exact(1), &[Any], Types::BOOLEAN, V2015),
    f("isUndefined", exact(1), &[Any], Types::BOOLEAN, V2016),
    f("length", exact(1), &[Text], INT, V2016),
    f("ln", exact(1), &[Number], DOUBLE, V2015),
    f("log", exact(1), &[Number], DOUBLE, V2015),
    f("lower", exact(1), &[Text], STRING, V2015),
    f("lpad", exact(2), &[Text, Integer], STRING, V2015),
    f("ltrim", exact(1), &[Text], STRING, V2015),
    with(f("machinelearning_predict", exact(3), &[Text, Text, Any], OBJECT, V2015), External),
    f("md2", exact(1), &[Text], STRING, V2015),
    f("md5", exact(1), &[Text], STRING, V2015),
    f("mod", exact(2), &[Number, Number], NUMBER_RESULT, V2015),
    f("nanvl", exact(2), &[Any, Any], Types::ANY, V2015),
    with(f("newuuid", exact(0), &[], Types::STRING, V2015), Volatile),
    f("numbytes", exact(1), &[Text], INT, V2016),
    f("parse_time", Arity::Range(2, 3), &[Text, Number, Text], STRING, V2016),
    f("power", exact(2), &[Number, Number], DOUBLE, V2015),
    with(f("principal", exact(0), &[], STRING, V2015), Context),
    with(f("rand", exact(0), &[], Types::DECIMAL, V2015), Volatile),
    f("regexp_matches", exact(2), &[Text, Text], BOOLEAN, V2015),
    f("regexp_replace", exact(3), &[Text, Text, Text], STRING, V2015),
    f("regexp_substr", exact(2), &[Text, Text], STRING, V2015),
    f("remainder", exact(2), &[Number, Number], NUMBER_RESULT, V2015),
    f("replace", exact(3), &[Text, Text, Text], STRING, V2015),
    f("round", exact(1), &[Number], INT, V2015),
    f("rpad", exact(2), &[Text, Integer], STRING, V2015),
    f("rtrim", exact(1), &[Text], STRING, V2015),
    f("sha1", exact(1), &[Text], STRING, V2015),
    f("sha224", exact(1), &[Text], STRING, V2015),
    f("sha256", exact(1), &[Text], STRING, V2015),
    f("sha384", exact(1), &[Text], STRING, V2015),
    f("sha512", exact(1), &[Text], STRING, V2015),
    f("sign", exact(1), &[Number], INT, V2015),
    f("sin", exact(1), &[Number], DOUBLE, V2015),
    f("sinh", exact(1), &[Number], DOUBLE, V2015),
    with(f("sourceip", exact(0), &[], STRING, V2015), Context),
    with(f("sql_version", exact(0), &[], Types::STRING, V2015), Context),
    f("sqrt", exact(1), &[Number], DOUBLE, V2015),
    f("startswith", exact(2), &[Text, Text], BOOLEAN, V2015),
    f("substring", Arity::Range(2, 3), &[Text, Integer, Integer], STRING, V2015),
    f("tan", exact(1), &[Number], DOUBLE, V2015),
    f("tanh", exact(1), &[Number], DOUBLE, V2015),
    f("time_to_epoch", exact(2), &[Text, Text], INT, V2016),
    with(f("timestamp", exact(0), &[], Types::INT, V2015), Volatile),
    with(f("topic", Arity::Range(0, 1), &[Integer], STRING, V2015), Context),
    with(f("traceid", exact(0), &[], STRING, V2015), Volatile),
    f("transform", exact(3), &[Text, Any, Any], Types::ARRAY.union(Types::UNDEFINED), V2016),
    f("trim", exact(1), &[Text], STRING, V2015),
    f("trunc", exact(2), &[Number, Integer], NUMBER_RESULT, V2015),
    f("upper", exact(1), &[Text], STRING, V2015),
];

/// Type keywords `cast` accepts, with the type each produces and the version it needs.
pub static CAST_TARGETS: &[(&str, CastTarget, SqlVersion)] = &[
    ("String", CastTarget::String, V2015),
    ("Nvarchar", CastTarget::String, V2015),
    ("Text", CastTarget::String, V2015),
    ("Ntext", CastTarget::String, V2015),
    ("varchar", CastTarget::String, V2015),
    ("Int", CastTarget::Int, V2015),
    ("Integer", CastTarget::Int, V2015),
    ("Double", CastTarget::Double, V2015),
    ("Decimal", CastTarget::Decimal, V2016),
    ("Bool", CastTarget::Boolean, V2016),
    ("Boolean", CastTarget::Boolean, V2016),
];

/// What a `cast` converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastTarget {
    String,
    Int,
    Double,
    Decimal,
    Boolean,
}

impl CastTarget {
    /// The result types of casting a value of type `from`.
    pub fn result(self, from: Types) -> Types {
        let converts = match self {
            CastTarget::String => Types::ANY.without(Types::NULL.union(Types::UNDEFINED)),
            CastTarget::Int | CastTarget::Double | CastTarget::Decimal => {
                Types::NUMBER.union(Types::BOOLEAN).union(Types::NUMERIC_STRING)
            }
            CastTarget::Boolean => Types::NUMBER.union(Types::BOOLEAN).union(Types::BOOLEAN_STRING),
        };
        let produced = match self {
            CastTarget::String => Types::STRING,
            CastTarget::Int => Types::INT,
            CastTarget::Double | CastTarget::Decimal => Types::NUMBER,
            CastTarget::Boolean => Types::BOOLEAN,
        };
        let mut result = Types::NONE;
        if from.intersects(converts) {
            result = result | produced;
        }
        if !from.is_subset_of(converts) {
            result = result | Types::UNDEFINED;
        }
        result
    }
}

/// Looks up a cast type keyword, ignoring case.
pub fn cast_target(keyword: &str) -> Option<(CastTarget, SqlVersion)> {
    CAST_TARGETS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(keyword))
        .map(|(_, target, since)| (*target, *since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_and_unique() {
        let names: Vec<String> = FUNCTIONS.iter().map(|function| function.name.to_ascii_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup("ROUND").map(|function| function.name), Some("round"));
        assert_eq!(lookup("isnull").map(|function| function.name), Some("isNull"));
        assert!(lookup("crc32").is_none());
    }

    #[test]
    fn cast_results() {
        assert!(CastTarget::Int.result(Types::ARRAY).is_undefined());
        assert_eq!(CastTarget::Int.result(Types::BOOLEAN), Types::INT);
        assert!(CastTarget::String.result(Types::NULL).is_undefined());
        assert_eq!(cast_target("decimal"), Some((CastTarget::Decimal, V2016)));
    }
}
