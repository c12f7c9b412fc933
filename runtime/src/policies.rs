//! Reading policy documents from files.

use std::path::Path;

use iotrules_compiler::policy::{Policy, check_policy};

use crate::inputs::{self, Contents};
use crate::report::InputReport;

/// A policy file after checking.
#[derive(Debug)]
pub(crate) struct LoadedPolicy {
    /// The file name without its extension, as TestAuthorization names policies.
    pub(crate) name: String,
    pub(crate) report: InputReport,
    /// Present when the document has no errors.
    pub(crate) policy: Option<Policy>,
}

/// Checks policy `text` read from `path`; `bom` says whether the file starts with a byte
/// order mark before the text.
pub(crate) fn from_text(path: &Path, text: String, bom: bool) -> LoadedPolicy {
    let checked = check_policy(&text);
    let statements = checked.policy.as_ref().map_or(0, |policy| policy.statements.len());
    let report = InputReport {
        name: inputs::display_name(path),
        source: text,
        offset: inputs::bom_len(bom),
        diagnostics: checked.diagnostics,
        description: format!("policy, {statements} statement{}", if statements == 1 { "" } else { "s" }),
    };
    LoadedPolicy { name: policy_name(path), report, policy: checked.policy }
}

/// Reads and checks a policy file; `Err` says why it cannot be read.
pub(crate) fn load(path: &Path) -> Result<LoadedPolicy, String> {
    match inputs::read(path) {
        Ok(Contents::Text { text, bom }) => Ok(from_text(path, text, bom)),
        Ok(Contents::NotUtf8 { .. }) => Err(format!("`{}` is not UTF-8", path.display())),
        Err(error) => Err(format!("cannot read `{}`: {error}", path.display())),
    }
}

fn policy_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| path.display().to_string(), |stem| stem.to_string_lossy().into_owned())
}
