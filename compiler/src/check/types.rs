//! Static types: the set of IoT SQL types an expression can evaluate to, and the operator
//! tables of `iotsql-semantics` applied to those sets.
//!
//! The checker only warns when a set leaves no possible outcome but Undefined, so every
//! uncertainty widens a set rather than narrowing it.

use std::fmt;
use std::ops::{BitAnd, BitOr};

use crate::syntax::ast::BinaryOp;

/// A set of possible runtime types. Strings are split by what they convert to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Types(u16);

impl Types {
    pub const NONE: Types = Types(0);
    pub const INT: Types = Types(1);
    pub const DECIMAL: Types = Types(1 << 1);
    pub const BOOLEAN: Types = Types(1 << 2);
    /// A string that converts to a number (`"-1.2"`, `"5E3"`).
    pub const NUMERIC_STRING: Types = Types(1 << 3);
    /// A string that converts to a Boolean (`"true"`, `"FALSE"`).
    pub const BOOLEAN_STRING: Types = Types(1 << 4);
    pub const OTHER_STRING: Types = Types(1 << 5);
    pub const ARRAY: Types = Types(1 << 6);
    pub const OBJECT: Types = Types(1 << 7);
    pub const NULL: Types = Types(1 << 8);
    pub const UNDEFINED: Types = Types(1 << 9);

    pub const NUMBER: Types = Types(Self::INT.0 | Self::DECIMAL.0);
    pub const STRING: Types = Types(Self::NUMERIC_STRING.0 | Self::BOOLEAN_STRING.0 | Self::OTHER_STRING.0);
    /// Anything a payload attribute can hold.
    pub const ANY: Types = Types((1 << 10) - 1);

    pub const fn union(self, other: Types) -> Types {
        Types(self.0 | other.0)
    }

    pub const fn contains(self, other: Types) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: Types) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_subset_of(self, other: Types) -> bool {
        self.0 & !other.0 == 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Nothing but Undefined.
    pub const fn is_undefined(self) -> bool {
        self.0 == Self::UNDEFINED.0
    }

    pub const fn without(self, other: Types) -> Types {
        Types(self.0 & !other.0)
    }

    /// The types of a string literal with this text.
    pub fn of_string(text: &str) -> Types {
        if is_numeric_string(text) {
            Types::NUMERIC_STRING
        } else if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
            Types::BOOLEAN_STRING
        } else {
            Types::OTHER_STRING
        }
    }

    fn kinds(self) -> impl Iterator<Item = Types> {
        (0..10).map(|bit| Types(1 << bit)).filter(move |kind| self.contains(*kind))
    }

    /// Applies `op` to every pair of kinds and collects the outcomes.
    fn each_pair(lhs: Types, rhs: Types, op: impl Fn(Types, Types) -> Types) -> Types {
        lhs.kinds().flat_map(|l| rhs.kinds().map(move |r| (l, r))).fold(Types::NONE, |acc, (l, r)| acc | op(l, r))
    }
}

impl BitOr for Types {
    type Output = Types;
    fn bitor(self, rhs: Types) -> Types {
        Types(self.0 | rhs.0)
    }
}

impl BitAnd for Types {
    type Output = Types;
    fn bitand(self, rhs: Types) -> Types {
        Types(self.0 & rhs.0)
    }
}

impl fmt::Debug for Types {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Types {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 10] =
            ["Int", "Decimal", "Boolean", "String", "String", "String", "Array", "Object", "Null", "Undefined"];
        if *self == Types::ANY {
            return f.write_str("any value");
        }
        let mut names: Vec<&str> = (0..10).filter(|bit| self.0 & (1 << bit) != 0).map(|bit| NAMES[bit]).collect();
        names.dedup();
        if names.is_empty() { f.write_str("nothing") } else { f.write_str(&names.join(" or ")) }
    }
}

impl Types {
    /// The set as a noun phrase: "an Int", "a String or an Array", "any value".
    pub fn with_article(self) -> String {
        if self == Types::ANY {
            return "any value".to_owned();
        }
        let names = self.to_string();
        names
            .split(" or ")
            .map(|name| match name {
                "Null" => "null".to_owned(),
                "Undefined" => "Undefined".to_owned(),
                _ if name.starts_with(['A', 'E', 'I', 'O', 'U']) => format!("an {name}"),
                _ => format!("a {name}"),
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// The numeric-string rule: `^-?\d+(\.\d+)?((?i)E-?\d+)?$`.
pub fn is_numeric_string(text: &str) -> bool {
    fn digits(bytes: &[u8]) -> usize {
        bytes.iter().take_while(|byte| byte.is_ascii_digit()).count()
    }
    let bytes = text.as_bytes();
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    let whole = digits(bytes.get(at..).unwrap_or_default());
    if whole == 0 {
        return false;
    }
    at += whole;
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(bytes.get(at + 1..).unwrap_or_default());
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let exponent = digits(bytes.get(at..).unwrap_or_default());
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == bytes.len()
}

/// Types an operand of AND, OR and NOT may have without the result being Undefined.
const LOGICAL: Types = Types(Types::BOOLEAN.0 | Types::BOOLEAN_STRING.0);
/// Types that convert to a Decimal.
const NUMERIC: Types = Types(Types::NUMBER.0 | Types::NUMERIC_STRING.0);
/// Numbers under 2016-03-23, where whole-number Decimals are processed as Int.
const SOME_NUMBER: Types = Types::NUMBER;

/// The result types of `op` on operands of types `lhs` and `rhs`.
pub fn binary(op: BinaryOp, lhs: Types, rhs: Types) -> Types {
    Types::each_pair(lhs, rhs, |l, r| binary_kind(op, l, r))
}

fn binary_kind(op: BinaryOp, l: Types, r: Types) -> Types {
    let undefined = l == Types::UNDEFINED || r == Types::UNDEFINED;
    match op {
        // Left to right (`operators::logical`): a Boolean left operand may decide alone, so
        // only a left operand that cannot be a Boolean makes the result always Undefined.
        BinaryOp::And | BinaryOp::Or => {
            if !LOGICAL.contains(l) {
                Types::UNDEFINED
            } else if LOGICAL.contains(r) {
                Types::BOOLEAN
            } else {
                Types::BOOLEAN | Types::UNDEFINED
            }
        }
        BinaryOp::In => {
            if l == Types::UNDEFINED || r != Types::ARRAY {
                Types::UNDEFINED
            } else {
                Types::BOOLEAN
            }
        }
        BinaryOp::Eq | BinaryOp::Ne => {
            if undefined {
                Types::UNDEFINED
            } else {
                Types::BOOLEAN
            }
        }
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            if NUMERIC.contains(l) && NUMERIC.contains(r) {
                Types::BOOLEAN
            } else {
                Types::UNDEFINED
            }
        }
        BinaryOp::Add => {
            let is_string = |t: Types| Types::STRING.contains(t);
            if is_string(l) || is_string(r) {
                // The other side is converted to a string; Null and Undefined do not convert.
                let other = if is_string(l) { r } else { l };
                if other == Types::NULL || other == Types::UNDEFINED { Types::UNDEFINED } else { Types::STRING }
            } else {
                arithmetic(l, r)
            }
        }
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            if l == Types::NUMERIC_STRING || r == Types::NUMERIC_STRING {
                if NUMERIC.contains(l) && NUMERIC.contains(r) { SOME_NUMBER } else { Types::UNDEFINED }
            } else {
                arithmetic(l, r)
            }
        }
    }
}

fn arithmetic(l: Types, r: Types) -> Types {
    if l == Types::INT && r == Types::INT {
        // Integer division by zero has no documented result.
        Types::INT | Types::UNDEFINED
    } else if Types::NUMBER.contains(l) && Types::NUMBER.contains(r) {
        SOME_NUMBER | Types::UNDEFINED
    } else {
        Types::UNDEFINED
    }
}

/// The result types of `NOT` on an operand of type `operand`.
pub fn not(operand: Types) -> Types {
    operand
        .kinds()
        .fold(Types::NONE, |acc, kind| acc | if LOGICAL.contains(kind) { Types::BOOLEAN } else { Types::UNDEFINED })
}

/// The result types of unary minus.
pub fn negate(operand: Types) -> Types {
    operand.kinds().fold(Types::NONE, |acc, kind| {
        acc | if NUMERIC.contains(kind) {
            if kind == Types::INT { Types::INT } else { SOME_NUMBER }
        } else {
            Types::UNDEFINED
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_strings_follow_the_documented_pattern() {
        for accepted in ["0", "-1.2", "5E-12", "5e-1", "10"] {
            assert!(is_numeric_string(accepted), "{accepted}");
        }
        for rejected in ["+5", ".5", "5.", " 5", "0x1F", "NaN", "", "-", "1e", "1.5e+3"] {
            assert!(!is_numeric_string(rejected), "{rejected}");
        }
    }

    #[test]
    fn operator_tables() {
        let s = Types::of_string;
        assert!(binary(BinaryOp::Sub, s("abc"), Types::INT).is_undefined());
        assert!(binary(BinaryOp::Add, s("5"), Types::INT).is_subset_of(Types::STRING));
        assert!(binary(BinaryOp::Add, Types::BOOLEAN, Types::INT).is_undefined());
        assert!(binary(BinaryOp::Add, Types::NULL, s("a")).is_undefined());
        assert_eq!(binary(BinaryOp::Gt, s("10"), s("9")), Types::BOOLEAN);
        assert!(binary(BinaryOp::Gt, s("abc"), Types::INT).is_undefined());
        assert_eq!(binary(BinaryOp::Eq, Types::INT, s("1")), Types::BOOLEAN);
        assert!(binary(BinaryOp::Eq, Types::UNDEFINED, Types::INT).is_undefined());
        assert_eq!(binary(BinaryOp::Or, s("True"), Types::BOOLEAN), Types::BOOLEAN);
        assert!(binary(BinaryOp::And, s("yes"), Types::BOOLEAN).is_undefined());
        assert!(binary(BinaryOp::Div, Types::OBJECT, Types::INT).is_undefined());
        assert_eq!(binary(BinaryOp::Or, Types::ANY, Types::BOOLEAN), Types::BOOLEAN | Types::UNDEFINED);
        // `true OR missing` may be decided by its left side; `missing OR true` never is.
        assert_eq!(binary(BinaryOp::Or, Types::BOOLEAN, Types::UNDEFINED), Types::BOOLEAN | Types::UNDEFINED);
        assert!(binary(BinaryOp::And, Types::UNDEFINED, Types::BOOLEAN).is_undefined());
        assert!(not(Types::INT).is_undefined());
        assert!(negate(s("x")).is_undefined());
        assert_eq!(negate(Types::INT), Types::INT);
    }
}
