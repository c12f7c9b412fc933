//! `iotrules.toml`: a project's settings, read from its text. Finding the file is the
//! program's (the command line from the current folder up, the language server from each
//! document's folder up); what the text means is decided here, once for both.
//!
//! ```toml
//! # The SQL version of `.sql` files (rule files name their own awsIotSqlVersion).
//! sql-version = "2016-03-23"
//!
//! # Diagnostics not to report for some files: glob patterns relative to this file's folder.
//! [[ignore]]
//! paths = ["legacy/**"]
//! codes = ["iotsql::duplicate_output_key", "iotsql::unnamed_output"]
//! ```
//!
//! INVARIANT: a setting iotrules does not know, a code that does not exist or a pattern that
//! does not parse is an error that names it; a setting is never silently dropped.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::diagnostics::{Code, did_you_mean};
use crate::span::Span;
use crate::version::SqlVersion;

/// The file name looked for.
pub const FILE_NAME: &str = "iotrules.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    sql_version: Option<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<IgnoreEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreEntry {
    paths: Vec<Spanned<String>>,
    codes: Vec<Spanned<String>>,
}

/// The settings of one `iotrules.toml`.
#[derive(Debug)]
pub struct Config {
    pub sql_version: Option<SqlVersion>,
    ignores: Vec<(GlobSet, Vec<Code>)>,
}

/// What is wrong with an `iotrules.toml`, and where in its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub span: Option<Span>,
    pub message: String,
}

impl Config {
    /// Reads the settings from the text of an `iotrules.toml`.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: File = toml::from_str(text).map_err(|error| ConfigError {
            span: error.span().map(|span| Span::new(span.start, span.end)),
            message: error.message().to_owned(),
        })?;
        let at = |value: &Spanned<String>| Some(Span::new(value.span().start, value.span().end));
        let sql_version = file
            .sql_version
            .map(|version| {
                version
                    .get_ref()
                    .parse::<SqlVersion>()
                    .map_err(|error| ConfigError { span: at(&version), message: format!("sql-version: {error}") })
            })
            .transpose()?;
        let mut ignores = Vec::new();
        for entry in file.ignore {
            let mut paths = GlobSetBuilder::new();
            for pattern in &entry.paths {
                let glob = Glob::new(pattern.get_ref()).map_err(|error| ConfigError {
                    span: at(pattern),
                    message: format!("ignore path `{}`: {error}", pattern.get_ref()),
                })?;
                paths.add(glob);
            }
            let paths = paths
                .build()
                .map_err(|error| ConfigError { span: entry.paths.first().and_then(at), message: error.to_string() })?;
            let codes = entry
                .codes
                .iter()
                .map(|name| {
                    Code::ALL.iter().copied().find(|code| code.as_str() == name.get_ref()).ok_or_else(|| {
                        let names = Code::ALL.iter().map(|code| code.as_str());
                        let hint = did_you_mean(name.get_ref(), names)
                            .map(|close| format!("; did you mean `{close}`?"))
                            .unwrap_or_else(|| "; `docs/diagnostics.md` lists them".to_owned());
                        ConfigError {
                            span: at(name),
                            message: format!("no diagnostic code `{}`{hint}", name.get_ref()),
                        }
                    })
                })
                .collect::<Result<Vec<Code>, ConfigError>>()?;
            ignores.push((paths, codes));
        }
        Ok(Config { sql_version, ignores })
    }

    /// Whether diagnostics of `code` are not to be reported for the file at `relative`, a
    /// path relative to the folder of the `iotrules.toml`.
    pub fn ignores(&self, relative: &Path, code: Code) -> bool {
        self.ignores.iter().any(|(paths, codes)| codes.contains(&code) && paths.is_match(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_and_mistakes_named() {
        let config = Config::parse(
            "sql-version = \"2015-10-08\"\n[[ignore]]\npaths = [\"legacy/**\"]\ncodes = [\"iotsql::unknown_function\"]\n",
        )
        .unwrap();
        assert_eq!(config.sql_version, Some(SqlVersion::V2015_10_08));
        assert!(config.ignores(Path::new("legacy/a.sql"), Code::UnknownFunction));
        assert!(!config.ignores(Path::new("rules/a.sql"), Code::UnknownFunction));

        let error = Config::parse("sql-versoin = \"2016-03-23\"\n").unwrap_err();
        assert!(error.message.contains("sql-versoin") && error.span == Some(Span::new(0, 11)), "{error:?}");
        let text = "[[ignore]]\npaths = [\"a/**\"]\ncodes = [\"iotsql::unknown_functon\"]\n";
        let error = Config::parse(text).unwrap_err();
        assert!(error.message.contains("did you mean `iotsql::unknown_function`?"), "{error:?}");
        let span = error.span.unwrap();
        assert_eq!(&text[span.start..span.end], "\"iotsql::unknown_functon\"");
        let error = Config::parse("sql-version = \"2017\"\n").unwrap_err();
        assert!(error.message.contains("sql-version"), "{error:?}");
        let error = Config::parse("[[ignore]]\npaths = [\"a/[\"]\ncodes = []\n").unwrap_err();
        assert!(error.message.contains("a/["), "{error:?}");
    }
}
