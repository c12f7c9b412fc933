//! `iotrules.toml`: a project's settings for `iotrules check`, found in the current folder or
//! the nearest one above it (or named with `--config`).
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

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use iotrules_compiler::{Code, SqlVersion};
use serde::Deserialize;

/// The file name looked for.
pub(crate) const FILE_NAME: &str = "iotrules.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    sql_version: Option<String>,
    #[serde(default)]
    ignore: Vec<IgnoreEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreEntry {
    paths: Vec<String>,
    codes: Vec<String>,
}

/// A loaded `iotrules.toml`.
#[derive(Debug)]
pub(crate) struct Config {
    /// Where it was found; paths in it are relative to its folder.
    pub(crate) path: PathBuf,
    pub(crate) sql_version: Option<SqlVersion>,
    ignores: Vec<(GlobSet, Vec<Code>)>,
}

impl Config {
    /// Whether diagnostics of `code` in the file at `path` are not to be reported.
    pub(crate) fn ignores(&self, path: &Path, code: Code) -> bool {
        let Some(dir) = self.path.parent() else { return false };
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
        };
        // Both sides canonical, so `./a/../b` and links name the file as the patterns do.
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let Ok(relative) = absolute.strip_prefix(&dir) else { return false };
        self.ignores.iter().any(|(paths, codes)| codes.contains(&code) && paths.is_match(relative))
    }
}

/// The configuration in force: the file `explicit` names, or the nearest `iotrules.toml` from
/// the current folder up; `None` when there is none.
pub(crate) fn load(explicit: Option<&Path>) -> Result<Option<Config>, String> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let Ok(cwd) = std::env::current_dir() else { return Ok(None) };
            match cwd.ancestors().map(|dir| dir.join(FILE_NAME)).find(|candidate| candidate.is_file()) {
                Some(found) => found,
                None => return Ok(None),
            }
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    parse(&path, &text).map(Some)
}

fn parse(path: &Path, text: &str) -> Result<Config, String> {
    let shown = path.display();
    let file: File = toml::from_str(text).map_err(|error| {
        let at =
            error.span().map(|span| line_column(text, span.start)).map(|(line, column)| format!(":{line}:{column}"));
        format!("`{shown}{}`: {}", at.unwrap_or_default(), error.message())
    })?;
    let sql_version = file
        .sql_version
        .map(|version| version.parse::<SqlVersion>().map_err(|error| format!("`{shown}`: sql-version: {error}")))
        .transpose()?;
    let mut ignores = Vec::new();
    for entry in file.ignore {
        let mut paths = GlobSetBuilder::new();
        for pattern in &entry.paths {
            let glob = Glob::new(pattern).map_err(|error| format!("`{shown}`: ignore path `{pattern}`: {error}"))?;
            paths.add(glob);
        }
        let paths = paths.build().map_err(|error| format!("`{shown}`: {error}"))?;
        let codes = entry
            .codes
            .iter()
            .map(|name| {
                Code::ALL.iter().copied().find(|code| code.as_str() == name).ok_or_else(|| {
                    let names = Code::ALL.iter().map(|code| code.as_str());
                    let hint = iotrules_compiler::diagnostics::did_you_mean(name, names)
                        .map(|close| format!("; did you mean `{close}`?"))
                        .unwrap_or_else(|| "; `docs/diagnostics.md` lists them".to_owned());
                    format!("`{shown}`: no diagnostic code `{name}`{hint}")
                })
            })
            .collect::<Result<Vec<Code>, String>>()?;
        ignores.push((paths, codes));
    }
    Ok(Config { path: path.to_path_buf(), sql_version, ignores })
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_and_mistakes_named() {
        let path = Path::new("/project/iotrules.toml");
        let config = parse(
            path,
            "sql-version = \"2015-10-08\"\n[[ignore]]\npaths = [\"legacy/**\"]\ncodes = [\"iotsql::unknown_function\"]\n",
        )
        .unwrap();
        assert_eq!(config.sql_version, Some(SqlVersion::V2015_10_08));
        assert_eq!(config.ignores.len(), 1);

        let error = parse(path, "sql-versoin = \"2016-03-23\"\n").unwrap_err();
        assert!(error.contains("iotrules.toml:1:1") && error.contains("sql-versoin"), "{error}");
        let error = parse(path, "[[ignore]]\npaths = [\"a/**\"]\ncodes = [\"iotsql::unknown_functon\"]\n").unwrap_err();
        assert!(error.contains("did you mean `iotsql::unknown_function`?"), "{error}");
        let error = parse(path, "sql-version = \"2017\"\n").unwrap_err();
        assert!(error.contains("sql-version"), "{error}");
        let error = parse(path, "[[ignore]]\npaths = [\"a/[\"]\ncodes = []\n").unwrap_err();
        assert!(error.contains("a/["), "{error}");
    }
}
