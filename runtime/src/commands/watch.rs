//! `--watch`: run a command again whenever one of its inputs changes, until interrupted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::cli::Format;
use crate::inputs;

/// How long to wait after a change for the others of the same save (editors write a file in
/// several steps) before running again.
const SETTLE: Duration = Duration::from_millis(200);

/// Runs `once`, then again after every change to a file under `paths` that a command reads
/// (statements, rule, policy and test files, `iotrules.toml`), until the process is stopped.
pub(crate) fn rerun(paths: &[PathBuf], mut once: impl FnMut() -> ExitCode) -> ExitCode {
    if paths.iter().any(|path| inputs::is_stdin(path)) {
        return Format::Human.usage_error("--watch needs files or folders, not standard input");
    }
    let (changes, changed) = mpsc::channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
            && event.paths.iter().any(|path| watched(path))
        {
            let _ = changes.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => return Format::Human.usage_error(&format!("cannot watch the inputs: {error}")),
    };
    for path in paths {
        let (target, mode) = target(path);
        if let Err(error) = watcher.watch(target, mode) {
            return Format::Human.usage_error(&format!("cannot watch `{}`: {error}", target.display()));
        }
    }
    loop {
        let _ = once();
        eprintln!("watching for changes (Ctrl-C to stop)");
        if changed.recv().is_err() {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(SETTLE);
        while changed.try_recv().is_ok() {}
        eprintln!("\na file changed: running again\n");
    }
}

/// What to watch for changes to `path`: a folder and all below it, or a file through its
/// folder (editors that save by renaming a new file over the old one would otherwise leave
/// the watch on a deleted file).
pub(crate) fn target(path: &Path) -> (&Path, RecursiveMode) {
    if path.is_dir() {
        (path, RecursiveMode::Recursive)
    } else {
        let folder = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (folder, RecursiveMode::NonRecursive)
    }
}

/// Whether a change to `path` can change what a command reports.
fn watched(path: &Path) -> bool {
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    name == iotrules_compiler::config::FILE_NAME
        || path.extension().and_then(|extension| extension.to_str()).is_some_and(|extension| {
            ["sql", "iotsql", "json", "jsonl"].contains(&extension.to_ascii_lowercase().as_str())
        })
}
