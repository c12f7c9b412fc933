//! Finding and reading the files a command is given.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A file's text, or where its bytes stop being UTF-8.
#[derive(Debug)]
pub(crate) enum Contents {
    Text(String),
    NotUtf8 { valid_up_to: usize, text: String },
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

pub(crate) fn read(path: &Path) -> io::Result<Contents> {
    let bytes = fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Contents::Text(text),
        Err(error) => {
            let valid_up_to = error.utf8_error().valid_up_to();
            Contents::NotUtf8 { valid_up_to, text: String::from_utf8_lossy(error.as_bytes()).into_owned() }
        }
    })
}
