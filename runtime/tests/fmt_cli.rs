//! `iotrules fmt` as users and CI scripts run it: rewriting files, `--check`, and files it
//! leaves alone.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{code, iotrules, scratch_dir};
use serde_json::Value;

const MESSY: &str = "select temperature as t,humidity from 'sensors/#' where temperature>(20+5)*2";
const TIDY: &str = "SELECT temperature AS t, humidity\nFROM 'sensors/#'\nWHERE temperature > (20 + 5) * 2\n";

#[test]
fn check_lists_files_that_would_change_and_changes_nothing() {
    let dir = scratch_dir("fmt_check");
    std::fs::write(dir.join("messy.sql"), MESSY).unwrap();
    std::fs::write(dir.join("tidy.sql"), TIDY).unwrap();
    let output = iotrules(&["fmt", "--check", dir.to_str().unwrap()]);
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(code(&output), 1, "{stderr}");
    assert!(stderr.contains("would reformat") && stderr.contains("messy.sql"), "{stderr}");
    assert!(!stderr.contains("tidy.sql"), "{stderr}");
    assert!(output.stdout.is_empty(), "human output is on stderr");
    assert_eq!(std::fs::read_to_string(dir.join("messy.sql")).unwrap(), MESSY);

    let output = iotrules(&["fmt", "--check", dir.join("tidy.sql").to_str().unwrap()]);
    assert_eq!(code(&output), 0);
}

#[test]
fn formats_in_place_and_then_passes_check() {
    let dir = scratch_dir("fmt_write");
    let file = dir.join("rule.sql");
    std::fs::write(&file, MESSY).unwrap();
    let output = iotrules(&["fmt", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);
    assert_eq!(code(&iotrules(&["fmt", "--check", file.to_str().unwrap()])), 0);
}

#[test]
fn syntax_errors_and_json_files_are_left_alone() {
    let dir = scratch_dir("fmt_left_alone");
    let broken = dir.join("broken.sql");
    std::fs::write(&broken, "SELECT a, FROM 't'").unwrap();
    let rule = dir.join("rule.json");
    std::fs::write(&rule, r#"{"sql": "select a from 't'"}"#).unwrap();
    let output = iotrules(&["fmt", broken.to_str().unwrap(), rule.to_str().unwrap()]);
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(code(&output), 1, "{stderr}");
    assert!(stderr.contains("syntax errors") && stderr.contains("skipped"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "SELECT a, FROM 't'");
    assert_eq!(std::fs::read_to_string(&rule).unwrap(), r#"{"sql": "select a from 't'"}"#);
}

#[test]
fn a_byte_order_mark_is_kept_when_rewriting() {
    let dir = scratch_dir("fmt_bom");
    let file = dir.join("rule.sql");
    std::fs::write(&file, format!("\u{feff}{MESSY}")).unwrap();
    let output = iotrules(&["fmt", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("\u{feff}{TIDY}"));
    let output = iotrules(&["fmt", "--check", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "formatted text after the mark is left as it is");
}

#[test]
fn a_symbolic_link_loop_is_walked_once() {
    let dir = scratch_dir("fmt_symlinks");
    std::fs::write(dir.join("messy.sql"), MESSY).unwrap();
    std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
    let output = iotrules(&["fmt", "--check", dir.to_str().unwrap()]);
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(code(&output), 1, "{stderr}");
    assert_eq!(stderr.lines().filter(|line| line.starts_with("would reformat")).count(), 1, "{stderr}");
    assert!(stderr.contains("symbolic link loop"), "{stderr}");
}

/// `--diff` prints what would change as a unified diff, changes nothing, and exits 1; a tidy
/// file gives no diff and exit 0.
#[test]
fn diff_shows_the_change_without_making_it() {
    let dir = scratch_dir("fmt_diff");
    let file = dir.join("rule.sql");
    std::fs::write(&file, MESSY).unwrap();
    let name = file.to_str().unwrap();
    let output = iotrules(&["fmt", "--diff", name]);
    assert_eq!(code(&output), 1);
    let diff = String::from_utf8(output.stdout).unwrap();
    assert!(diff.starts_with(&format!("--- {name}\n+++ {name}\n@@ ")), "{diff}");
    for line in TIDY.lines() {
        assert!(diff.contains(&format!("+{line}\n")), "no `+{line}` in {diff}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MESSY);
    std::fs::write(&file, TIDY).unwrap();
    let output = iotrules(&["fmt", "--diff", name]);
    assert_eq!((code(&output), output.stdout.len()), (0, 0));
}

#[test]
fn json_format_lists_every_file_with_its_status_and_syntax_errors_as_diagnostics() {
    let dir = scratch_dir("fmt_json");
    std::fs::write(dir.join("messy.sql"), MESSY).unwrap();
    std::fs::write(dir.join("tidy.sql"), TIDY).unwrap();
    let broken = dir.join("broken.sql");
    std::fs::write(&broken, "SELECT a, FROM 't'").unwrap();
    let file = |document: &Value, name: &str| {
        document["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["file"].as_str().unwrap().ends_with(name))
            .cloned()
    };

    let output = iotrules(&["fmt", "--check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 1, "the exit code of the human format");
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(file(&document, "messy.sql").unwrap()["status"], "would_reformat");
    assert_eq!(file(&document, "tidy.sql").unwrap()["status"], "unchanged");
    assert_eq!(file(&document, "broken.sql").unwrap()["status"], "not_formatted");
    let diagnostic = &document["diagnostics"][0];
    assert_eq!(diagnostic["severity"], "error");
    assert_eq!(diagnostic["file"], broken.to_str().unwrap());
    assert_eq!(diagnostic["line"], 1);
    assert!(diagnostic["code"].as_str().unwrap().starts_with("iotsql::"), "{diagnostic}");
    assert_eq!(
        document["summary"],
        serde_json::json!({"files": 3, "changed": 1, "unchanged": 1, "not_formatted": 1, "skipped": 0})
    );
    assert_eq!(std::fs::read_to_string(dir.join("messy.sql")).unwrap(), MESSY);

    let output = iotrules(&["fmt", "--diff", "--format", "json", dir.join("messy.sql").to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let diff = file(&document, "messy.sql").unwrap()["diff"].as_str().unwrap().to_owned();
    assert!(diff.contains("+SELECT temperature AS t, humidity"), "{diff}");

    std::fs::remove_file(&broken).unwrap();
    let output = iotrules(&["fmt", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stdout));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(file(&document, "messy.sql").unwrap()["status"], "formatted");
    assert_eq!(std::fs::read_to_string(dir.join("messy.sql")).unwrap(), TIDY);

    let empty = scratch_dir("fmt_json_empty");
    let output = iotrules(&["fmt", "--format", "json", empty.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(failure["error"].as_str().unwrap().starts_with("no inputs found in"), "{failure}");
    assert!(failure["help"].as_str().unwrap().contains("iotrules fmt"), "{failure}");
}
