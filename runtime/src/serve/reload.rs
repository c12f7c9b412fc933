//! When to reload the rule set (SIGHUP, or a change to a rule file) and when to stop
//! (SIGINT, SIGTERM).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::Watcher;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// Editors save a file in several steps (write, rename, chmod); one reload follows them all.
const SETTLE: Duration = Duration::from_millis(150);

/// Requests to reload, coalesced: however many arrive during one reload, one more follows.
pub(crate) fn requests(paths: &[PathBuf], watch: bool) -> Result<mpsc::Receiver<()>, String> {
    let (requests, receiver) = mpsc::channel(1);
    let mut hangups = signal(SignalKind::hangup()).map_err(|error| format!("cannot handle SIGHUP: {error}"))?;
    let on_hangup = requests.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the rule set");
            let _ = on_hangup.try_send(());
        }
    });
    if watch {
        watch_files(paths, requests)?;
    }
    Ok(receiver)
}

fn watch_files(paths: &[PathBuf], requests: mpsc::Sender<()>) -> Result<(), String> {
    let (changes, mut changed) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
            && event.paths.iter().any(|path| is_rule_file(path))
        {
            let _ = changes.send(());
        }
    })
    .map_err(|error| format!("cannot watch the rule files: {error}"))?;
    for path in paths {
        let (target, mode) = crate::commands::watch::target(path);
        watcher.watch(target, mode).map_err(|error| format!("cannot watch `{}`: {error}", target.display()))?;
    }
    tokio::spawn(async move {
        let _watcher = watcher;
        while changed.recv().await.is_some() {
            tokio::time::sleep(SETTLE).await;
            while changed.try_recv().is_ok() {}
            tracing::info!("a rule file changed: reloading the rule set");
            if requests.send(()).await.is_err() {
                return;
            }
        }
    });
    Ok(())
}

fn is_rule_file(path: &Path) -> bool {
    path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| ext == "json" || ext == "sql")
}

/// Resolves on the first SIGINT or SIGTERM.
pub(crate) async fn stop_requested() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot handle SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
        () = terminate => tracing::info!("SIGTERM"),
    }
}
