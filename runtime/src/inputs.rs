//! Finding and reading the files a command is given.

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
/// is stable; files named directly are kept whatever their extension.
pub(crate) fn expand(paths: &[PathBuf], extensions: &[&str]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, extensions, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, extensions: &[&str], files: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> =
        fs::read_dir(dir)?.map(|entry| entry.map(|entry| entry.path())).collect::<io::Result<_>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, extensions, files)?;
        } else if path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| extensions.contains(&ext)) {
            files.push(path);
        }
    }
    Ok(())
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
