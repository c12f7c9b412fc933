//! The iotrules compiler: reads AWS IoT SQL rules and TopicRulePayload files, checks them
//! against AWS IoT Core's documented behaviour, and reports precise diagnostics.
//!
//! **Architecture Invariant:** nothing here does IO, and nothing panics on any input: every
//! entry point returns its result together with the diagnostics it found.

pub mod check;
pub mod config;
pub mod decimal;
pub mod diagnostics;
pub mod docs;
pub mod eval;
pub mod file_kind;
pub mod format;
pub mod jit;
pub mod policy;
pub mod rule_file;
pub mod ruleset;
pub mod span;
pub mod syntax;
pub mod template;
pub mod version;

pub use check::{Checked, check_sql};
pub use diagnostics::{Code, Diagnostic, Severity};
pub use format::format_sql;
pub use span::Span;
pub use version::SqlVersion;
