//! `iotrules check` as users and CI scripts run it: exit codes, JSON output, files and folders.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::Path;

use common::{code, iotrules, scratch_dir};
use serde_json::Value;

/// The conformance contract: `compile_error` cases exit 1, every other case exits 0.
#[test]
fn conformance_cases_get_the_right_exit_code() {
    let corpus = include_str!("../../compiler/tests/data/conformance/iotsql.jsonl");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for line in corpus.lines().filter(|line| !line.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let expected = if case["expect"] == "compile_error" { 1 } else { 0 };
        let is_verdict_case = case["expect"] == "compile_error" || case["expect"] == "compile_ok";
        if !is_verdict_case {
            continue;
        }
        let sql = case["sql"].as_str().unwrap();
        let output = iotrules(&["check", "--sql", sql, "--sql-version", "2016-03-23"]);
        checked += 1;
        if code(&output) != expected {
            wrong.push(format!("{}: exit {} for `{sql}`", case["id"], code(&output)));
        }
    }
    assert_eq!(checked, 28, "the corpus has 12 compile_error and 16 compile_ok cases");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn json_format_locates_each_diagnostic() {
    let dir = scratch_dir("json_format");
    let file = dir.join("rule.json");
    std::fs::write(
        &file,
        "{\n  \"sql\": \"SELECT 'é' AS a, uper(x) AS b FROM 't'\",\n  \"awsIotSqlVersion\": \"2016-03-23\",\n  \"actions\": []\n}\n",
    )
    .unwrap();
    let output = iotrules(&["check", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let unknown = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "iotsql::unknown_function")
        .expect("the unknown function is reported");
    assert_eq!(unknown["severity"], "error");
    assert_eq!(unknown["message"], "unknown function `uper`");
    assert_eq!(unknown["help"], "did you mean `upper`?");
    assert_eq!(unknown["file"], file.to_str().unwrap());
    assert_eq!((unknown["line"].as_u64(), unknown["column"].as_u64()), (Some(2), Some(28)));
    let start = unknown["byte_range"][0].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(&text[start..start + 4], "uper");
    assert_eq!(report["summary"]["errors"], 1);
}

#[test]
fn warnings_pass_unless_denied() {
    let sql = "SELECT 'abc' - 1 AS x FROM 't'";
    assert_eq!(code(&iotrules(&["check", "--sql", sql])), 0);
    assert_eq!(code(&iotrules(&["check", "--sql", sql, "--deny-warnings"])), 1);
}

#[test]
fn sql_version_gates_apply() {
    let sql = "SELECT encode(*, 'base64') AS data FROM 't'";
    assert_eq!(code(&iotrules(&["check", "--sql", sql, "--sql-version", "2016-03-23"])), 0);
    let old = iotrules(&["check", "--sql", sql, "--sql-version", "2015-10-08"]);
    assert_eq!(code(&old), 1);
    assert!(String::from_utf8_lossy(&old.stderr).contains("iotsql::requires_sql_version"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(code(&iotrules(&["check"])), 2);
    assert_eq!(code(&iotrules(&["check", "--sql", "SELECT * FROM 't'", "--sql-version", "2017-01-01"])), 2);
    assert_eq!(code(&iotrules(&["check", "--no-such-flag"])), 2);
    let missing = iotrules(&["check", "no/such/file.sql"]);
    assert_eq!(code(&missing), 2);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read `no/such/file.sql`"));
}

#[test]
fn directories_are_walked_and_file_kinds_recognised() {
    let dir = scratch_dir("walk");
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("a.sql"), "SELECT * FROM 'a/+'\n").unwrap();
    std::fs::write(
        dir.join("nested/b.json"),
        r#"{"sql": "SELECT x FROM 'b'", "awsIotSqlVersion": "2016-03-23", "actions": []}"#,
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a rule").unwrap();
    let output = iotrules(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["inputs"], 2);

    let empty = scratch_dir("walk_empty");
    assert_eq!(code(&iotrules(&["check", empty.to_str().unwrap()])), 2);
}

#[test]
fn invalid_utf8_is_reported_at_the_first_bad_byte() {
    let dir = scratch_dir("utf8");
    let file = dir.join("bad.sql");
    std::fs::write(&file, b"SELECT '\xff' FROM 't'").unwrap();
    let output = iotrules(&["check", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["code"], "input::invalid_utf8");
    assert_eq!(diagnostic["byte_range"][0], 8);
}

#[test]
fn the_examples_are_valid_and_the_broken_ones_are_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples");
    let good = iotrules(&["check", root.join("rules").to_str().unwrap()]);
    assert_eq!(code(&good), 0, "{}", String::from_utf8_lossy(&good.stderr));
    let broken = iotrules(&["check", "--format", "json", root.join("broken").to_str().unwrap()]);
    assert_eq!(code(&broken), 1);
    let report: Value = serde_json::from_slice(&broken.stdout).unwrap();
    let codes: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    for expected in
        ["rule::invalid_rule_name", "iotsql::unknown_function", "iotsql::invalid_topic_filter", "rule::unknown_action"]
    {
        assert!(codes.contains(&expected), "{expected} missing from {codes:?}");
    }
}

/// A statement whose `nofn()` lies past column 65,535 of its one line (miette's graphical
/// renderer panicked on such a column).
fn long_line_statement() -> String {
    let items: Vec<String> = (0..15_000).map(|i| format!("a{i}")).collect();
    format!("SELECT {} FROM 't' WHERE nofn()", items.join(","))
}

fn column_of(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap() + 1
}

#[test]
fn diagnostics_past_column_65535_are_rendered() {
    let sql = long_line_statement();
    let column = column_of(&sql, "nofn");
    assert!(column > 65_535);
    let output = iotrules(&["check", "--sql", &sql]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 1, "{stderr}");
    assert!(stderr.contains("unknown function `nofn`"), "{stderr}");
    assert!(stderr.contains(&format!("[--sql:1:{column}]")), "{stderr}");
    // The snippet shows the line around the label, not all 90,000 characters of it.
    assert!(stderr.lines().all(|line| line.chars().count() < 1_000), "a line of the whole statement");

    // The same statement in a one-line rule file, through `check` and at `run`'s start-up.
    let dir = scratch_dir("long_line");
    let rule = serde_json::json!({"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": []}).to_string();
    let file = dir.join("rule.json");
    std::fs::write(&file, &rule).unwrap();
    let in_file = column_of(&rule, "nofn");
    for args in [vec!["check", file.to_str().unwrap()], vec!["run", file.to_str().unwrap(), "--port", "1"]] {
        let output = iotrules(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(code(&output), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("rule.json:1:{in_file}]")), "{args:?}: {stderr}");
        assert!(stderr.contains("unknown function `nofn`"), "{args:?}: {stderr}");
    }
}

/// What Windows editors and the AWS console write at the start of a UTF-8 file.
const BOM: &str = "\u{feff}";

#[test]
fn files_starting_with_a_byte_order_mark_are_read_without_it() {
    let dir = scratch_dir("bom");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{BOM}{text}")).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let sql = write("valid.sql", "SELECT a FROM 't'");
    let rule = write("valid.json", r#"{"sql": "SELECT a FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": []}"#);
    let policy = write(
        "policy.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}"#,
    );
    let output = iotrules(&["check", &sql, &rule, &policy]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert!(stderr.contains("(policy, 1 statement)"), "told apart by content after the mark: {stderr}");

    // Byte ranges are offsets into the file on disk, mark included; lines and columns are as
    // an editor shows the text, without it.
    let sql = write("invalid.sql", "SELECT a\nFROM 't' WHERE nofn()");
    let rule = write(
        "invalid.json",
        r#"{"sql": "SELECT a FROM 't' WHERE nofn()", "awsIotSqlVersion": "2016-03-23", "actions": []}"#,
    );
    for (file, line, column) in [(&sql, 2, 16), (&rule, 1, 34)] {
        let output = iotrules(&["check", "--format", "json", file]);
        assert_eq!(code(&output), 1);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let diagnostic = &report["diagnostics"][0];
        assert_eq!(diagnostic["code"], "iotsql::unknown_function", "{report}");
        assert_eq!((diagnostic["line"].as_u64(), diagnostic["column"].as_u64()), (Some(line), Some(column)));
        let range = diagnostic["byte_range"].as_array().unwrap();
        let (start, end) = (range[0].as_u64().unwrap() as usize, range[1].as_u64().unwrap() as usize);
        assert_eq!(&std::fs::read(file).unwrap()[start..end], b"nofn");
        let human = iotrules(&["check", file]);
        let stderr = String::from_utf8_lossy(&human.stderr);
        assert!(stderr.contains(&format!(":{line}:{column}]")), "{stderr}");
        assert!(!stderr.contains(BOM), "the mark is not shown: {stderr}");
    }
}

#[test]
fn symbolic_links_are_followed_once() {
    // A loop made `check` walk 40 levels of `self/self/...` and check the file at each one.
    let dir = scratch_dir("symlinks");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.sql"), "SELECT a FROM 't'").unwrap();
    std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("a.sql", dir.join("same.sql")).unwrap();
    std::os::unix::fs::symlink("gone.sql", dir.join("dangling.sql")).unwrap();
    let output = iotrules(&["check", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert!(stderr.contains("checked 1 input:"), "{stderr}");
    assert_eq!(stderr.matches("warning: skipped").count(), 3, "two loops and a dangling link: {stderr}");
    assert!(stderr.contains("symbolic link loop") && stderr.contains("symbolic link to nothing"), "{stderr}");

    // `run` reads the set through the same walk: one rule, not two rules of the same name.
    std::fs::write(dir.join("a.sql"), "SELECT nofn() AS a FROM 't'").unwrap();
    let output = iotrules(&["run", dir.to_str().unwrap(), "--port", "1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 1, "{stderr}");
    assert_eq!(stderr.matches("unknown function `nofn`").count(), 1, "{stderr}");
    assert!(!stderr.contains("two rules are named"), "{stderr}");
}

#[test]
fn an_unclosed_string_is_an_error() {
    // Its diagnostic was dropped unless an earlier string looked like it swallowed keywords.
    for sql in ["SELECT a FROM 't' WHERE b = \"open", "SELECT 'a b' AS c FROM 't' WHERE b = 'open"] {
        let output = iotrules(&["check", "--sql", sql]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(code(&output), 1, "{sql}: {stderr}");
        assert!(stderr.contains("string is never closed"), "{stderr}");
    }
}

/// Every command finds files the same way: `.iotsql` statements are checked (a broken one
/// fails), test, context and registry files in the folder are not read as rules, hidden
/// folders, `node_modules` and what `.gitignore` lists are skipped, and a file named
/// directly is never reinterpreted.
#[test]
fn folders_are_walked_as_git_sees_them_and_files_told_apart_by_content() {
    let dir = scratch_dir("discovery");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("rules/good.sql", "SELECT a FROM 't'");
    write("rules/broken.iotsql", "SELECT FROM 't'");
    write("rules/alert.json", r#"{"sql": "SELECT a FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": []}"#);
    write("policies/device.json", r#"{"Version": "2012-10-17", "Statement": []}"#);
    write(
        "tests/case.json",
        r#"{"topic": "t", "inputPayload": {}, "inputSql": "SELECT a FROM 't'", "expectedOutput": {}}"#,
    );
    write(
        "tests/cases.jsonl",
        "{\"id\": \"x\", \"sql\": \"SELECT a FROM 't'\", \"topic\": \"t\", \"payload\": {}, \"expect\": {}}\n",
    );
    write("contexts/boiler.json", r#"{"clientId": "boiler-7", "thingName": "boiler-7", "isAttached": true}"#);
    write(
        "registry/things/boiler.json",
        r#"{"thingName": "boiler", "thingArn": "arn", "attributes": {}, "version": 1}"#,
    );
    write(".hidden/bad.sql", "SELECT FROM");
    write("node_modules/pkg/bad.sql", "SELECT FROM");
    write("generated/bad.sql", "SELECT FROM");
    write(".gitignore", "generated/\n");
    let root = dir.to_str().unwrap();

    // What a user reads, whichever stream each part goes to.
    let said = |output: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    };
    let output = iotrules(&["check", root]);
    let text = said(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("checked 4 inputs"), "{text}");
    assert!(text.contains("broken.iotsql"), "the .iotsql rule was not checked: {text}");
    for skipped in ["case.json", "cases.jsonl", "boiler.json", ".hidden", "node_modules", "generated"] {
        assert!(!text.contains(skipped), "{skipped} was read: {text}");
    }

    // `test` finds the test files of the same folder, and only them.
    let output = iotrules(&["test", root]);
    let text = said(&output);
    assert_eq!(code(&output), 0, "{text}");
    assert!(text.contains("2 passed"), "{text}");

    // `fmt --check` reads the statements, the `.iotsql` one included.
    let output = iotrules(&["fmt", "--check", root]);
    let text = said(&output);
    assert!(text.contains("broken.iotsql") && text.contains("syntax errors"), "{text}");

    // Named directly, a file is what it is: a test file is not a rule, a YAML file without a
    // topic rule is no template.
    for (name, expected) in
        [("tests/cases.jsonl", "is a test file; run it with `iotrules test`"), ("template.yaml", "holds no topic rule")]
    {
        write("template.yaml", "Resources: {}\n");
        let output = iotrules(&["check", dir.join(name).to_str().unwrap()]);
        let text = said(&output);
        assert_eq!(code(&output), 2, "{text}");
        assert!(text.contains(expected), "{text}");
    }
}

/// `--format github|sarif|junit` for CI: the same diagnostic, at the same line and column,
/// in each CI system's format; a message cannot break out of its format.
#[test]
fn ci_formats_place_each_diagnostic() {
    let dir = scratch_dir("ci_formats");
    let file = dir.join("rule.sql");
    // A second line, so the error is at line 2, column 8; the `<` and the newline in messages
    // must be escaped in XML and in workflow commands.
    std::fs::write(&file, "SELECT a,\n       uper(b) AS c FROM 't' WHERE a < 'x'").unwrap();
    let name = file.to_str().unwrap();

    let output = iotrules(&["check", "--format", "github", name]);
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let annotation = stdout.lines().find(|line| line.starts_with("::error ")).expect("an error annotation");
    assert!(
        annotation.contains(",line=2,col=8,endLine=2,endColumn=12,title=iotsql%3A%3Aunknown_function::"),
        "{annotation}"
    );
    assert!(annotation.ends_with("unknown function `uper`%0Ahelp: did you mean `upper`?"), "{annotation}");
    assert!(stdout.lines().all(|line| line.starts_with("::")), "{stdout}");

    let output = iotrules(&["check", "--format", "sarif", name]);
    assert_eq!(code(&output), 1);
    let log: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    let unknown = results.iter().find(|result| result["ruleId"] == "iotsql::unknown_function").unwrap();
    assert_eq!(unknown["level"], "error");
    let region = &unknown["locations"][0]["physicalLocation"]["region"];
    assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64()), (Some(2), Some(8)));
    let rules = log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|rule| rule["id"] == "iotsql::unknown_function"));

    let good = dir.join("good.sql");
    std::fs::write(&good, "SELECT a FROM 't'").unwrap();
    let output = iotrules(&["check", "--format", "junit", name, good.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let xml = String::from_utf8(output.stdout).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"), "{xml}");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains(":2:8: error [iotsql::unknown_function] unknown function `uper`"), "{xml}");
    assert!(!xml.contains("a < 'x'") && !xml.contains("<'"), "unescaped source text: {xml}");
}

/// `-` names standard input: a statement, or a rule file or policy when it is JSON; `fmt -`
/// writes the formatted statement to standard output.
#[test]
fn standard_input_is_read_as_dash() {
    use std::io::Write;
    let piped = |args: &[&str], input: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iotrules"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (code(&output), text)
    };
    let (status, text) = piped(&["check", "-"], "SELECT uper(a) AS b FROM 't'");
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("<stdin>:1:8") && text.contains("did you mean `upper`?"), "{text}");
    let rule = r#"{"sql": "SELECT a FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": [{"republsh": {}}]}"#;
    let (status, text) = piped(&["check", "-"], rule);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("unknown action type `republsh`"), "{text}");
    let (status, text) = piped(&["check", "-"], r#"{"Version": "2012-10-17", "Statement": []}"#);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("policy"), "{text}");
    let (status, text) = piped(&["fmt", "-"], "select a from 't' where a>1");
    assert_eq!((status, text.as_str()), (0, "SELECT a\nFROM 't'\nWHERE a > 1\n"));
}

/// `iotrules.toml` in the folder `check` runs from (or above it): the default SQL version of
/// `.sql` files, and diagnostic codes not reported for some paths; a mistake in it is named.
#[test]
fn iotrules_toml_sets_the_sql_version_and_ignores_codes_per_path() {
    let dir = scratch_dir("config");
    std::fs::create_dir_all(dir.join("legacy")).unwrap();
    std::fs::create_dir_all(dir.join("rules/sub")).unwrap();
    // Array literals came with SQL version 2016-03-23.
    let statement = "SELECT a FROM 't' WHERE a IN [1, 2]";
    std::fs::write(dir.join("rules/a.sql"), "SELECT a, a FROM 't'").unwrap();
    std::fs::write(dir.join("legacy/b.sql"), "SELECT a, a FROM 't'").unwrap();
    std::fs::write(dir.join("rules/sub/c.sql"), statement).unwrap();
    let run = |cwd: &Path, args: &[&str]| {
        let output =
            std::process::Command::new(env!("CARGO_BIN_EXE_iotrules")).args(args).current_dir(cwd).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (code(&output), text)
    };
    let (_, before) = run(&dir, &["check", "."]);
    assert_eq!(before.matches("iotsql::duplicate_output_key").count(), 2, "{before}");

    std::fs::write(
        dir.join("iotrules.toml"),
        "sql-version = \"2016-03-23\"\n\n[[ignore]]\npaths = [\"legacy/**\"]\ncodes = [\"iotsql::duplicate_output_key\"]\n",
    )
    .unwrap();
    // Found from a folder below it too; paths are relative to the file's folder.
    let (_, after) = run(&dir.join("rules"), &["check", ".", "../legacy"]);
    assert_eq!(after.matches("iotsql::duplicate_output_key").count(), 1, "{after}");
    assert!(after.contains("a.sql") && !after.contains("legacy/b.sql:"), "{after}");

    std::fs::write(
        dir.join("iotrules.toml"),
        "[[ignore]]\npaths = [\"x\"]\ncodes = [\"iotsql::duplicate_output_kye\"]\n",
    )
    .unwrap();
    let (status, text) = run(&dir, &["check", "."]);
    assert_eq!(status, 2, "{text}");
    assert!(text.contains("did you mean `iotsql::duplicate_output_key`?"), "{text}");
    // `--config` names another file; its SQL version decides, and `--sql-version` over it.
    let other = dir.join("other.toml");
    std::fs::write(&other, "sql-version = \"2015-10-08\"\n").unwrap();
    let (status, text) = run(&dir, &["check", "--config", other.to_str().unwrap(), "rules/sub/c.sql"]);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("SQL version 2015-10-08 does not have array literals"), "{text}");
    let (status, text) =
        run(&dir, &["check", "--config", other.to_str().unwrap(), "--sql-version", "2016-03-23", "rules/sub/c.sql"]);
    assert_eq!(status, 0, "{text}");
}

/// `check --watch` checks, then checks again when a file changes, until stopped.
#[test]
fn watch_checks_again_when_a_file_changes() {
    use std::io::BufRead;
    let dir = scratch_dir("watch");
    let file = dir.join("rule.sql");
    std::fs::write(&file, "SELECT a FROM 't'").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iotrules"))
        .args(["check", "--watch", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // What was printed up to the next "watching for changes", within ten seconds.
    let until_watching = || {
        let mut seen = String::new();
        while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(10)) {
            if line.starts_with("watching for changes") {
                return Some(seen);
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        None
    };
    let first = until_watching().expect("a first check");
    assert!(first.contains("checked 1 input: 0 errors"), "{first}");
    std::fs::write(&file, "SELECT uper(a) AS b FROM 't'").unwrap();
    let second = until_watching();
    let _ = child.kill();
    let _ = child.wait();
    let second = second.expect("a check after the change");
    assert!(second.contains("unknown function `uper`") && second.contains("1 error"), "{second}");
}

/// CloudFormation templates (JSON): each `AWS::IoT::TopicRule` is checked, its diagnostics
/// at their places in the template; a template without topic rules in a folder is not read.
#[test]
fn cloudformation_templates_are_checked_in_place() {
    let dir = scratch_dir("cloudformation");
    let template = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Alerts": {"Type": "AWS::IoT::TopicRule", "Properties": {"RuleName": "alerts", "TopicRulePayload": {
                "Sql": "SELECT uper(a) AS b FROM 't/#'", "AwsIotSqlVersion": "2016-03-23",
                "Actions": [{"Republish": {"Topic": "out", "RoleArn": "arn:aws:iam::123456789012:role/r"}}]}}},
            "Summary": {"Type": "AWS::IoT::TopicRule", "Properties": {"TopicRulePayload": {
                "Sql": "SELECT * FROM 's'", "AwsIotSqlVersion": "2016-03-23", "Actions": []}}}
        }
    });
    let file = dir.join("stack.json");
    std::fs::write(&file, serde_json::to_string_pretty(&template).unwrap()).unwrap();
    std::fs::write(dir.join("bucket.json"), r#"{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}"#).unwrap();
    let output = iotrules(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "iotsql::unknown_function");
    let text = std::fs::read_to_string(&file).unwrap();
    let start = diagnostics[0]["byte_range"][0].as_u64().unwrap() as usize;
    assert_eq!(&text[start..start + 4], "uper");
    assert_eq!(report["summary"]["inputs"], 1, "the template without topic rules is not read");
}

#[test]
fn usage_errors_are_json_with_format_json() {
    let empty = scratch_dir("json_usage_empty");
    let output = iotrules(&["check", "--format", "json", empty.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(failure["error"].as_str().unwrap().starts_with("no inputs found in"), "{failure}");
    assert_eq!(failure["diagnostics"], serde_json::json!([]));
    let human = iotrules(&["check", empty.to_str().unwrap()]);
    assert_eq!(code(&human), 2);
    assert!(human.stdout.is_empty());
    assert!(String::from_utf8_lossy(&human.stderr).starts_with("error: no inputs found in"));
}

#[test]
fn run_and_serve_refuse_to_start_in_json() {
    let dir = scratch_dir("json_run_refused");
    std::fs::write(dir.join("a.sql"), "SELECT nofn() AS a FROM 't'").unwrap();
    std::fs::write(dir.join("b.sql"), "SELECT x FROM 'u'").unwrap();
    std::fs::write(dir.join("c.json"), r#"{"ruleName": "b", "sql": "SELECT y FROM 'v'", "actions": []}"#).unwrap();
    let output = iotrules(&["run", dir.to_str().unwrap(), "--port", "1", "--format", "json"]);
    assert_eq!(code(&output), 1);
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = failure["error"].as_str().unwrap();
    assert!(error.starts_with("the rule set has errors; nothing runs until they are fixed"), "{failure}");
    assert!(error.contains("two rules are named `b`"), "problems said in words join the error: {failure}");
    assert_eq!(failure["diagnostics"][0]["code"], "iotsql::unknown_function");
    assert!(failure["diagnostics"][0]["file"].as_str().unwrap().ends_with("a.sql"), "{failure}");

    let output = iotrules(&["serve", "--registry", dir.join("missing").to_str().unwrap(), ".", "--format", "json"]);
    assert_eq!(code(&output), 2, "{}", String::from_utf8_lossy(&output.stdout));
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(failure["error"].is_string(), "{failure}");
}

/// CloudFormation templates (YAML): short-form tags are the functions they stand for, each
/// diagnostic lands at its place in the YAML text (inside a folded block scalar too), and
/// other YAML files (CI workflows, docker-compose files) are passed over in a folder and
/// refused by name.
#[test]
fn yaml_cloudformation_templates_are_checked_in_place() {
    let dir = scratch_dir("cloudformation-yaml");
    let template = "AWSTemplateFormatVersion: \"2010-09-09\"\nParameters:\n  Prefix:\n    Type: String\nResources:\n  \
                    Alerts:\n    Type: AWS::IoT::TopicRule\n    Properties:\n      RuleName: alerts\n      \
                    TopicRulePayload:\n        Sql: >-\n          SELECT deviceId\n            FROM 't/#'\n          \
                    WHERE uper(status) = 'HOT'\n        AwsIotSqlVersion: \"2016-03-23\"\n        RuleDisabled: false\n        \
                    Actions:\n          - Republish:\n              Topic: alerts/${topic(2)}\n              \
                    RoleArn: arn:aws:iam::123456789012:role/r\n  Plain:\n    Type: AWS::IoT::TopicRule\n    Properties:\n      \
                    TopicRulePayload:\n        Sql: SELECT lenght(name) AS n FROM 's'\n        AwsIotSqlVersion: \"2016-03-23\"\n        \
                    Actions: []\n  Computed:\n    Type: AWS::IoT::TopicRule\n    Properties:\n      TopicRulePayload:\n        \
                    Sql: !Sub \"SELECT * FROM '${Prefix}/#'\"\n        Actions:\n          - Lambda: {FunctionArn: !GetAtt Fn.Arn}\n";
    let file = dir.join("stack.yaml");
    std::fs::write(&file, template).unwrap();
    std::fs::write(dir.join("ci.yml"), "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n").unwrap();
    std::fs::write(dir.join("docker-compose.yaml"), "services:\n  web:\n    image: nginx\n").unwrap();
    let output = iotrules(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 1, "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["inputs"], 1, "only the template is read: {report}");
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let found: Vec<(String, String)> = diagnostics
        .iter()
        .map(|diagnostic| {
            let start = diagnostic["byte_range"][0].as_u64().unwrap() as usize;
            let end = diagnostic["byte_range"][1].as_u64().unwrap() as usize;
            (diagnostic["code"].as_str().unwrap().to_owned(), template[start..end].to_owned())
        })
        .collect();
    assert_eq!(
        found,
        [
            ("iotsql::unknown_function".to_owned(), "uper".to_owned()),
            ("iotsql::unknown_function".to_owned(), "lenght".to_owned()),
            // Checked around its computed SQL: the rule sets no SQL version.
            ("rule::missing_sql_version".to_owned(), "Sql".to_owned()),
            ("rule::template_value_not_checked".to_owned(), "!Sub \"SELECT * FROM '${Prefix}/#'\"".to_owned()),
            ("rule::template_value_not_checked".to_owned(), "!GetAtt Fn.Arn".to_owned()),
        ],
        "{diagnostics:?}"
    );
    assert_eq!(diagnostics[0]["line"], 14, "{:?}", diagnostics[0]);
    assert_eq!(diagnostics[0]["column"], 17, "{:?}", diagnostics[0]);

    let output = iotrules(&["check", dir.join("ci.yml").to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ci.yml` holds no topic rule"), "{stderr}");
}
