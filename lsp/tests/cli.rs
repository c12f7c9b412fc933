//! The `iotrules-lsp` command line as a user types it: `--version`, `--help`, and arguments
//! it does not know.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::process::{Command, Output, Stdio};

fn run(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotrules-lsp"))
        .args(arguments)
        // A server that ignored its arguments would read this and end quietly instead of hanging.
        .stdin(Stdio::null())
        .output()
        .expect("iotrules-lsp runs")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn version_prints_the_name_and_crate_version() {
    for flag in ["--version", "-V"] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{flag}");
        assert_eq!(text(&output.stdout), format!("iotrules-lsp {}\n", env!("CARGO_PKG_VERSION")));
        assert_eq!(text(&output.stderr), "");
    }
}

#[test]
fn help_prints_usage_and_what_the_server_handles() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{flag}");
        let help = text(&output.stdout);
        assert!(help.starts_with(&format!("iotrules-lsp {}\n", env!("CARGO_PKG_VERSION"))), "{help}");
        for expected in [
            "Usage: iotrules-lsp",
            "Language Server Protocol over standard input and output",
            ".iotsql",
            ".sql",
            "TopicRulePayload",
            "IoT policy document",
            "editors/vscode",
            "editors/neovim/iotrules.lua",
            "--version",
        ] {
            assert!(help.contains(expected), "`{expected}` is not in the help:\n{help}");
        }
        assert!(help.lines().all(|line| line.chars().count() <= 100), "{help}");
        assert_eq!(text(&output.stderr), "");
    }
}

#[test]
fn the_first_of_help_and_version_wins() {
    assert!(text(&run(&["--version", "--help"]).stdout).starts_with("iotrules-lsp 0"));
    assert!(text(&run(&["--help", "--version"]).stdout).contains("Usage:"));
}

#[test]
fn an_unknown_argument_is_named_on_stderr_with_status_2() {
    for arguments in [&["--verbose"][..], &["rules.sql"], &["--version", "extra"], &["--stdio", "-x"]] {
        let output = run(arguments);
        let unknown = arguments.last().unwrap();
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        assert_eq!(text(&output.stdout), "", "{arguments:?}");
        let error = text(&output.stderr);
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(error.contains(&format!("`{unknown}`")), "{error}");
        assert!(error.contains("--help"), "{error}");
    }
}

#[test]
fn stdio_is_accepted_and_serves() {
    // With standard input already at its end, the server reads nothing and ends cleanly.
    let output = run(&["--stdio"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
}
