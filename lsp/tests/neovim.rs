//! The Neovim set-up, `editors/neovim/iotrules.lua`, in a headless Neovim against this build of
//! the server: `editors/neovim/test.lua` opens files as a user does and checks which get the
//! server and its diagnostics. Without `nvim` the test is skipped, except in CI, where that
//! fails it. `IOTRULES_NVIM` names another Neovim binary to run it with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Only there so a Neovim that never quits fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

fn neovim() -> Option<PathBuf> {
    let nvim = std::env::var_os("IOTRULES_NVIM").map_or_else(|| PathBuf::from("nvim"), PathBuf::from);
    let found = Command::new(&nvim)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{}` is not installed: CI must install it (apt-get install -y neovim)",
            nvim.display()
        );
        eprintln!("`{}` is not installed: skipping the Neovim test (apt-get install -y neovim)", nvim.display());
        return None;
    }
    Some(nvim)
}

fn read_all(mut stream: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
}

#[test]
fn neovim_attaches_the_server_to_iot_sql_rules_and_policies_only() {
    let Some(nvim) = neovim() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/neovim/test.lua");
    // Neovim's own files (log, shada, state) go to a scratch folder, never the user's.
    let home = std::env::temp_dir().join(format!("iotrules-lsp-neovim-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut child = Command::new(&nvim)
        .args(["--headless", "-u", "NORC", "--noplugin", "-i", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        // Reached only when the script itself fails to load.
        .args(["-c", "cquit 3"])
        .env("IOTRULES_LSP", env!("CARGO_BIN_EXE_iotrules-lsp"))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("Neovim did not quit in {PATIENCE:?}:\n{}", stdout.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    std::fs::remove_dir_all(&home).unwrap();
    println!("{stdout}");
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}
