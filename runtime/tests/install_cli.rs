//! What an install puts beside the binary: shell completions and the manual page, generated
//! from the command line the binary parses.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::process::Command;

use common::{code, iotrules, scratch_dir};

/// The bash script, sourced by bash, completes `iotrules` and knows its commands.
#[test]
fn bash_completion_registers_and_knows_the_commands() {
    let output = iotrules(&["completions", "bash"]);
    assert_eq!(code(&output), 0);
    let script = String::from_utf8(output.stdout).unwrap();
    for command in ["check", "serve", "authorize", "completions"] {
        assert!(script.contains(command), "no `{command}` in the bash completion");
    }
    let file = scratch_dir("completions").join("iotrules.bash");
    std::fs::write(&file, &script).unwrap();
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p iotrules", file.display()))
        .output()
        .unwrap();
    assert!(sourced.status.success(), "{}", String::from_utf8_lossy(&sourced.stderr));
    assert!(String::from_utf8_lossy(&sourced.stdout).contains("iotrules"));
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, mark) in [
        ("zsh", "#compdef iotrules"),
        ("fish", "complete -c iotrules"),
        ("elvish", "iotrules"),
        ("powershell", "iotrules"),
    ] {
        let output = iotrules(&["completions", shell]);
        assert_eq!(code(&output), 0, "{shell}");
        assert!(String::from_utf8_lossy(&output.stdout).contains(mark), "{shell}");
    }
    let output = iotrules(&["completions", "tcsh"]);
    assert_eq!(code(&output), 2, "an unknown shell is a usage error");
}

/// The manual page is roff with the name, the synopsis and the commands.
#[test]
fn the_manual_page_is_roff() {
    let output = iotrules(&["man"]);
    assert_eq!(code(&output), 0);
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains(".TH iotrules 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}: {page}");
    }
    assert!(page.contains("serve"), "{page}");
}
