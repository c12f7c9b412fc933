//! Runs arbitrary bytes through the whole front end under every SQL version. A panic, a stack
//! overflow, a timeout or a diagnostic that breaks the invariants below is a crash.

#![no_main]

use std::borrow::Cow;

use iotrules_compiler::{Diagnostic, SqlVersion, check_sql};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = match std::str::from_utf8(data) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(data),
    };
    for version in SqlVersion::ALL {
        for diagnostic in &check_sql(&source, version).diagnostics {
            assert_well_formed(&source, diagnostic);
        }
    }
});

/// Every span must slice the source, or the CLI and the language server would panic or point
/// at the wrong text when rendering it; every diagnostic must say what happened and what to do.
fn assert_well_formed(source: &str, diagnostic: &Diagnostic) {
    for label in &diagnostic.labels {
        let span = label.span;
        assert!(
            span.start <= span.end
                && span.end <= source.len()
                && source.is_char_boundary(span.start)
                && source.is_char_boundary(span.end),
            "{} has span {span:?} in a source of {} bytes: {source:?}",
            diagnostic.code,
            source.len(),
        );
    }
    assert!(!diagnostic.message.is_empty(), "{} has an empty message", diagnostic.code);
    assert!(
        diagnostic.help.as_deref().is_some_and(|help| !help.is_empty()),
        "{} has no help line: {}",
        diagnostic.code,
        diagnostic.message,
    );
}
