//! `iotrules.toml` for `iotrules check`: found in the current folder or the nearest one above
//! it (or named with `--config`), and read by the compiler's `config` (what the settings are
//! and mean, shared with the language server).

use std::path::{Path, PathBuf};

use iotrules_compiler::config::{self, ConfigError};
use iotrules_compiler::{Code, SqlVersion};

/// A loaded `iotrules.toml`.
#[derive(Debug)]
pub(crate) struct Config {
    /// Where it was found; paths in it are relative to its folder.
    pub(crate) path: PathBuf,
    pub(crate) sql_version: Option<SqlVersion>,
    settings: config::Config,
}

impl Config {
    /// Whether diagnostics of a code in the file at `path` are not to be reported; the path is
    /// resolved once, for all of the file's diagnostics.
    pub(crate) fn ignores_in(&self, path: &Path) -> impl Fn(Code) -> bool + '_ {
        let relative = self.relative(path);
        move |code| relative.as_deref().is_some_and(|relative| self.settings.ignores(relative, code))
    }

    /// `path` relative to this file's folder, when it lies in it.
    fn relative(&self, path: &Path) -> Option<PathBuf> {
        let dir = self.path.parent()?;
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
        };
        // Both sides canonical, so `./a/../b` and links name the file as the patterns do.
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        absolute.strip_prefix(&dir).ok().map(Path::to_path_buf)
    }
}

/// The configuration in force: the file `explicit` names, or the nearest `iotrules.toml` from
/// the current folder up; `None` when there is none.
pub(crate) fn load(explicit: Option<&Path>) -> Result<Option<Config>, String> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let Ok(cwd) = std::env::current_dir() else { return Ok(None) };
            match cwd.ancestors().map(|dir| dir.join(config::FILE_NAME)).find(|candidate| candidate.is_file()) {
                Some(found) => found,
                None => return Ok(None),
            }
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    parse(&path, &text).map(Some)
}

fn parse(path: &Path, text: &str) -> Result<Config, String> {
    match config::Config::parse(text) {
        Ok(settings) => Ok(Config { path: path.to_path_buf(), sql_version: settings.sql_version, settings }),
        Err(error) => Err(describe(path, text, &error)),
    }
}

/// A mistake in the file as the command line says it: `path:line:column`, then what is wrong.
fn describe(path: &Path, text: &str, error: &ConfigError) -> String {
    let at = error.span.map(|span| line_column(text, span.start)).map(|(line, column)| format!(":{line}:{column}"));
    format!("`{}{}`: {}", path.display(), at.unwrap_or_default(), error.message)
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
    fn mistakes_are_named_with_their_line_and_column() {
        let path = Path::new("/project/iotrules.toml");
        let config = parse(path, "sql-version = \"2015-10-08\"\n").unwrap();
        assert_eq!(config.sql_version, Some(SqlVersion::V2015_10_08));
        let error = parse(path, "sql-versoin = \"2016-03-23\"\n").unwrap_err();
        assert!(error.starts_with("`/project/iotrules.toml:1:1`: ") && error.contains("sql-versoin"), "{error}");
        let error = parse(path, "\nsql-version = \"2017\"\n").unwrap_err();
        assert!(error.starts_with("`/project/iotrules.toml:2:15`: sql-version"), "{error}");
    }
}
