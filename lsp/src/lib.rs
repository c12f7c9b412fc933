//! The iotrules language server: diagnostics, hover, completion, signature help, quick fixes,
//! outline and formatting for IoT SQL (`.sql`, `.iotsql`), TopicRulePayload JSON files and IoT
//! policy documents, over the Language Server Protocol.
//!
//! **Architecture Invariant:** the server only translates. Every diagnostic, documentation
//! entry and formatting decision comes from `iotrules-compiler`, so an editor shows exactly
//! what `iotrules check` and `iotrules fmt` print. Positions are UTF-16 code units, converted
//! in `document.rs` alone.

pub mod code_action;
pub mod completion;
pub mod document;
pub mod framing;
pub mod hover;
mod json;
pub mod server;
mod sql;
pub mod symbols;

pub use document::Document;
pub use server::{Backend, service};
