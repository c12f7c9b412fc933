//! What the command-line tests share: running the binary and scratch folders.

#![allow(dead_code, reason = "each test file uses its own subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn iotrules(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotrules")).args(args).output().expect("the iotrules binary runs")
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

/// An empty folder of its own for one test.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder can be made");
    dir
}
