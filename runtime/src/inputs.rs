//! Finding and reading the files a command is given.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use iotrules_compiler::file_kind::{FileKind, classify};

/// The UTF-8 byte order mark that Windows editors and consoles write at the start of a file.
pub(crate) const BOM: &str = "\u{feff}";

/// A file's text, or where its bytes stop being UTF-8. A byte order mark at the start is not
/// part of the text, so it is checked as if the mark were not there; `bom` says whether the
/// file has one, which then comes before every offset into `text`.
#[derive(Debug)]
pub(crate) enum Contents {
    Text { text: String, bom: bool },
    NotUtf8 { valid_up_to: usize, text: String, bom: bool },
}

impl Contents {
    /// Bytes of the file before the text: the byte order mark's three, or none.
    pub(crate) fn offset(&self) -> usize {
        match self {
            Contents::Text { bom, .. } | Contents::NotUtf8 { bom, .. } => bom_len(*bom),
        }
    }
}

/// The bytes a byte order mark takes, if there is one.
pub(crate) fn bom_len(bom: bool) -> usize {
    if bom { BOM.len() } else { 0 }
}

/// The file names a folder walk looks at; what they hold is then told by [`FileKind`].
const EXTENSIONS: &[&str] = &["sql", "iotsql", "json", "jsonl", "yaml", "yml", "template"];

/// A file found by [`find`], read once: what it holds and its contents, handed on to the
/// command that reads it.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    /// What the file holds; `None` when it cannot be read.
    pub(crate) kind: Option<FileKind>,
    /// The file's contents, or why it cannot be read.
    pub(crate) contents: io::Result<Contents>,
}

/// The files under `paths` that hold one of `kinds`, sorted so output is stable, for every
/// command alike: folders are walked as git sees them (`.gitignore` and `.ignore` respected,
/// hidden files and folders and `node_modules` skipped), and each `.sql`, `.iotsql`, `.json`,
/// `.jsonl`, `.yaml`, `.yml` and `.template` file is told apart by its name and content
/// ([`classify`]); files of other
/// kinds are passed over. A file named directly is never reinterpreted: one of another kind is
/// an error that says what it is and which command reads it. What the walk skipped (link
/// loops, dangling links) is printed to standard error as warnings. Each file is read once,
/// and its contents come with it.
pub(crate) fn find(paths: &[PathBuf], kinds: &[FileKind]) -> Result<Vec<Input>, String> {
    let listing = list(paths, EXTENSIONS).map_err(|error| format!("cannot list the inputs: {error}"))?;
    for warning in &listing.warnings {
        eprintln!("warning: {warning}");
    }
    let mut found = Vec::new();
    let mut refused = Vec::new();
    for path in listing.files {
        let contents = read(&path);
        let kind = match &contents {
            Ok(Contents::Text { text, .. } | Contents::NotUtf8 { text, .. }) if is_stdin(&path) => classify_stdin(text),
            Ok(Contents::Text { text, .. } | Contents::NotUtf8 { text, .. }) => classify(&path.to_string_lossy(), text),
            // A file that cannot be read is kept: the command reports why.
            Err(_) => {
                found.push(Input { path, kind: None, contents });
                continue;
            }
        };
        if kinds.contains(&kind) {
            found.push(Input { path, kind: Some(kind), contents });
        } else if listing.named.contains(&path) && kind == FileKind::Other && is_yaml_name(&path) {
            refused.push(format!(
                "`{}` holds no topic rule; iotrules reads YAML files that are CloudFormation templates with an `AWS::IoT::TopicRule` resource",
                path.display()
            ));
        } else if listing.named.contains(&path) {
            refused.push(format!("`{}` is {}; {}", path.display(), kind.describe(), where_it_goes(kind)));
        }
    }
    if refused.is_empty() { Ok(found) } else { Err(refused.join("\nerror: ")) }
}

/// Whether `path` is named like a YAML file.
fn is_yaml_name(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| ["yaml", "yml", "template"].iter().any(|yaml| yaml.eq_ignore_ascii_case(extension)))
}

/// Which command reads a file of `kind`.
fn where_it_goes(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Statement | FileKind::TopicRule => "check it with `iotrules check`, run it with `iotrules run`",
        FileKind::Policy => "check it with `iotrules check`, decide requests with `iotrules authorize --policy`",
        FileKind::Tests => "run it with `iotrules test`",
        FileKind::Registry => "check its registry with `iotrules check --registry DIR`",
        FileKind::Data => "give it to `iotrules authorize --context` or `iotrules publish`",
        FileKind::Other => {
            "statements are read from .sql and .iotsql files, rules, policies and tests from .json and .jsonl files, CloudFormation templates from .json, .yaml and .yml files"
        }
    }
}

/// The files [`list`] found, and what it skipped.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) files: Vec<PathBuf>,
    /// The files among them that were named directly rather than found in a folder.
    pub(crate) named: HashSet<PathBuf>,
    /// Each symbolic link loop and dangling link met, once.
    pub(crate) warnings: Vec<String>,
}

/// Walks `paths`: files named directly are listed whatever their name; folders are walked as
/// git sees them (see [`find`]) for files with one of `extensions`. Symbolic links are
/// followed, but every real file is listed once (under the first name met) and a folder
/// named twice is walked once, so links cannot make the walk run forever or list a file
/// twice: a link back to a folder being walked (a loop) is a warning, and so is a link named
/// like an input that leads nowhere.
pub(crate) fn list(paths: &[PathBuf], extensions: &[&str]) -> io::Result<Listing> {
    let mut listing = Listing::default();
    let mut files = HashSet::new();
    let mut folders = HashSet::new();
    for path in paths {
        if !path.is_dir() {
            // A path that does not resolve is listed as given; reading it reports why.
            let real = fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            if files.insert(real) {
                listing.files.push(path.clone());
                listing.named.insert(path.clone());
            }
            continue;
        }
        if !folders.insert(fs::canonicalize(path)?) {
            continue;
        }
        let walk = ignore::WalkBuilder::new(path)
            .follow_links(true)
            .require_git(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(|entry| entry.file_name() != "node_modules")
            .build();
        for entry in walk {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    if let Some(warning) = skipped(&error, extensions) {
                        listing.warnings.push(warning);
                    }
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_type().is_some_and(|kind| kind.is_dir()) {
                continue;
            }
            let Ok(real) = fs::canonicalize(path) else { continue };
            let wanted = path
                .extension()
                .and_then(|extension| extension.to_str())
                .is_some_and(|extension| extensions.iter().any(|wanted| wanted.eq_ignore_ascii_case(extension)));
            if wanted && files.insert(real) {
                listing.files.push(path.to_path_buf());
            }
        }
    }
    Ok(listing)
}

/// The warning for what a folder walk could not follow: a link loop, or a link to nothing
/// named like an input.
fn skipped(error: &ignore::Error, extensions: &[&str]) -> Option<String> {
    match error {
        ignore::Error::Loop { ancestor, child } => {
            Some(format!("skipped `{}`: a symbolic link loop back to `{}`", child.display(), ancestor.display()))
        }
        ignore::Error::WithPath { path, err } => {
            let named_like_input = path
                .extension()
                .and_then(|extension| extension.to_str())
                .is_some_and(|extension| extensions.iter().any(|wanted| wanted.eq_ignore_ascii_case(extension)));
            let dangling = err.io_error().is_some_and(|error| error.kind() == io::ErrorKind::NotFound);
            match (dangling, named_like_input) {
                (true, true) => Some(format!("skipped `{}`: a symbolic link to nothing", path.display())),
                (true, false) => None,
                (false, _) => Some(format!("skipped `{}`: {err}", path.display())),
            }
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => skipped(err, extensions),
        error => Some(format!("skipped: {error}")),
    }
}

/// The path that names standard input, as most tools take it.
pub(crate) const STDIN: &str = "-";

/// Whether `path` names standard input.
pub(crate) fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// How an input is named in reports: its path, or `<stdin>`.
pub(crate) fn display_name(path: &Path) -> String {
    if is_stdin(path) { "<stdin>".to_owned() } else { path.display().to_string() }
}

/// Standard input, read once, whole, however often the inputs are listed (`--watch` lists
/// them again).
fn stdin_bytes() -> io::Result<Vec<u8>> {
    static STDIN_BYTES: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    let read = STDIN_BYTES.get_or_init(|| {
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::stdin().lock(), &mut bytes).map(|_| bytes).map_err(|error| error.to_string())
    });
    read.clone().map_err(io::Error::other)
}

/// What standard input holds: JSON when it starts as a JSON object or array does, else one
/// IoT SQL statement.
fn classify_stdin(text: &str) -> FileKind {
    if text.trim_start().starts_with(['{', '[']) {
        iotrules_compiler::file_kind::classify_json(text)
    } else {
        FileKind::Statement
    }
}

/// Reads a file (or standard input, named `-`), skipping a UTF-8 byte order mark at its start.
pub(crate) fn read(path: &Path) -> io::Result<Contents> {
    let mut bytes = if is_stdin(path) { stdin_bytes()? } else { fs::read(path)? };
    let bom = bytes.starts_with(BOM.as_bytes());
    if bom {
        bytes.drain(..BOM.len());
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Contents::Text { text, bom },
        Err(error) => {
            let valid_up_to = error.utf8_error().valid_up_to();
            Contents::NotUtf8 { valid_up_to, text: String::from_utf8_lossy(error.as_bytes()).into_owned(), bom }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};

    use super::list;

    /// A fresh folder beside the test binary, inside the build's target folder.
    fn scratch(name: &str) -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().join(format!("scratch-inputs-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(root: &Path, files: &[PathBuf]) -> Vec<String> {
        files.iter().map(|file| file.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    #[test]
    fn loops_are_walked_once_and_reported_once() {
        let root = scratch("loops");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.sql"), "SELECT a FROM 't'").unwrap();
        std::fs::write(root.join("sub/b.sql"), "SELECT b FROM 't'").unwrap();
        symlink(".", root.join("self")).unwrap();
        symlink("..", root.join("sub/up")).unwrap();
        let listing = list(std::slice::from_ref(&root), &["sql"]).unwrap();
        assert_eq!(names(&root, &listing.files), ["a.sql", "sub/b.sql"]);
        assert_eq!(listing.warnings.len(), 2, "{:?}", listing.warnings);
        assert!(
            listing.warnings.iter().all(|warning| warning.contains("symbolic link loop")),
            "{:?}",
            listing.warnings
        );
    }

    #[test]
    fn a_file_or_folder_met_twice_is_listed_once() {
        let root = scratch("twice");
        std::fs::create_dir_all(root.join("rules")).unwrap();
        std::fs::write(root.join("rules/a.sql"), "SELECT a FROM 't'").unwrap();
        symlink("rules/a.sql", root.join("link1.sql")).unwrap();
        symlink("rules/a.sql", root.join("link2.sql")).unwrap();
        symlink("rules", root.join("same")).unwrap();
        let paths = [root.clone(), root.join("rules/a.sql"), root.join("rules")];
        let listing = list(&paths, &["sql"]).unwrap();
        assert_eq!(names(&root, &listing.files), ["link1.sql"]);
        assert!(listing.warnings.is_empty(), "{:?}", listing.warnings);
    }

    #[test]
    fn a_dangling_link_is_skipped_with_a_warning() {
        let root = scratch("dangling");
        std::fs::write(root.join("a.sql"), "SELECT a FROM 't'").unwrap();
        symlink("gone.sql", root.join("b.sql")).unwrap();
        symlink("gone", root.join("c.txt")).unwrap();
        let listing = list(std::slice::from_ref(&root), &["sql"]).unwrap();
        assert_eq!(names(&root, &listing.files), ["a.sql"]);
        assert_eq!(
            listing.warnings,
            [format!("skipped `{}`: a symbolic link to nothing", root.join("b.sql").display())]
        );
    }
}
