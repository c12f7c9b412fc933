//! Finding and reading the files a command is given.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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

/// Expands directories into the files inside them with one of `extensions`, sorted so output
/// is stable; files named directly are kept whatever their extension. What [`list`] skipped
/// is printed to standard error as warnings.
pub(crate) fn expand(paths: &[PathBuf], extensions: &[&str]) -> io::Result<Vec<PathBuf>> {
    let listing = list(paths, extensions)?;
    for warning in &listing.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(listing.files)
}

/// The files [`list`] found, and what it skipped.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) files: Vec<PathBuf>,
    /// Each symbolic link loop and dangling link met, once.
    pub(crate) warnings: Vec<String>,
}

/// Walks `paths` as [`expand`] does. Symbolic links are followed, but every real file is listed
/// once (under the first name met) and every real directory walked once, so links cannot make
/// the walk repeat or run forever: a link to a directory that is being walked (a loop) is a
/// warning, a link to one walked already is skipped, and so is a link that leads nowhere.
pub(crate) fn list(paths: &[PathBuf], extensions: &[&str]) -> io::Result<Listing> {
    let mut walker = Walker {
        extensions,
        listing: Listing::default(),
        files: HashSet::new(),
        directories: HashSet::new(),
        open: Vec::new(),
    };
    for path in paths {
        if path.is_dir() {
            walker.directory(path)?;
        } else {
            walker.file(path.clone());
        }
    }
    Ok(walker.listing)
}

struct Walker<'a> {
    extensions: &'a [&'a str],
    listing: Listing,
    /// The real paths of the files listed.
    files: HashSet<PathBuf>,
    /// The real paths of the directories walked or being walked.
    directories: HashSet<PathBuf>,
    /// The real paths of the directories being walked, outermost first.
    open: Vec<PathBuf>,
}

impl Walker<'_> {
    fn file(&mut self, path: PathBuf) {
        // A path that does not resolve is listed as given; reading it reports why.
        let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.files.insert(real) {
            self.listing.files.push(path);
        }
    }

    fn directory(&mut self, dir: &Path) -> io::Result<()> {
        let real = fs::canonicalize(dir)?;
        if self.open.contains(&real) {
            self.listing.warnings.push(format!(
                "skipped `{}`: a symbolic link loop back to `{}`",
                dir.display(),
                real.display()
            ));
            return Ok(());
        }
        if !self.directories.insert(real.clone()) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> =
            fs::read_dir(dir)?.map(|entry| entry.map(|entry| entry.path())).collect::<io::Result<_>>()?;
        entries.sort();
        self.open.push(real);
        for path in entries {
            if path.is_dir() {
                self.directory(&path)?;
            } else if path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| self.extensions.contains(&ext)) {
                if path.exists() {
                    self.file(path);
                } else {
                    self.listing.warnings.push(format!("skipped `{}`: a symbolic link to nothing", path.display()));
                }
            }
        }
        self.open.pop();
        Ok(())
    }
}

/// Reads a file, skipping a UTF-8 byte order mark at its start.
pub(crate) fn read(path: &Path) -> io::Result<Contents> {
    let mut bytes = fs::read(path)?;
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
