//! No document content can crash or stall the server: every request the server answers,
//! run at every position of random and truncated documents of each kind. Also measures how
//! long a 500-line document takes to re-check after an edit.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Instant;

use iotrules_lsp::document::Document;
use iotrules_lsp::{code_action, completion, hover, server, symbols};
use proptest::prelude::*;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

const SAMPLES: &[&str] = &[
    "SET @v = 1 SELECT substring(a, 1) AS s, cast(b AS Int), {'k': [1, (SELECT x FROM y)]} FROM 'a/#' WHERE a > @v",
    "SELECT CASE a WHEN 1 THEN 'x' ELSE lenght(b) END FROM 't' WHERE NOT b = 'é😀'",
    r#"{"ruleName": "r", "sql": "SELECT \"😀\", lenght(a) FROM 't'", "awsIotSqlVersion": "2016-03-23", "actions": []}"#,
    r#"{"Version": "2012-10-17", "Statement": [{"Sid": "a", "Effect": "Allow", "Action": ["iot:Publsh"], "Resource": ["arn:aws:iot:us-east-1:1:topic/${iot:ClientId}"], "Condition": {"StringLike": {"iot:ClientId": "x*"}}}]}"#,
];

/// Runs every feature at every character boundary (and one past the end).
fn exercise(text: &str, json: bool) {
    let uri: Uri = if json { "file:///d.json" } else { "file:///d.sql" }.parse().unwrap();
    let document = Document::new(text.to_owned(), json);
    document.lsp_diagnostics(&uri);
    symbols::symbols(&document);
    server::format(&document);
    let everything = Range::new(Position::new(0, 0), document.position(text.len()));
    code_action::quick_fixes(&document, &uri, everything);
    for offset in (0..=text.len() + 1).filter(|offset| *offset > text.len() || text.is_char_boundary(*offset)) {
        let position = document.position(offset);
        let offset = document.offset(position);
        hover::hover(&document, offset);
        completion::completions(&document, offset);
        completion::signature_help(&document, offset);
        code_action::quick_fixes(&document, &uri, Range::new(position, position));
    }
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("SELECT ".to_owned()),
        Just("FROM ".to_owned()),
        Just("cast(".to_owned()),
        Just(" AS ".to_owned()),
        Just("substring(".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("${".to_owned()),
        Just("\"Action\": \"".to_owned()),
        Just("\"Statement\"".to_owned()),
        Just("\"sql\": \"".to_owned()),
        Just("😀".to_owned()),
        Just("\n".to_owned()),
        "[{}\\[\\](),:@*a-z0-9 -]{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn random_documents(text in text(), json in any::<bool>()) {
        exercise(&text, json);
    }

    #[test]
    fn truncated_samples(sample in 0..SAMPLES.len(), cut in any::<prop::sample::Index>()) {
        let text = SAMPLES[sample];
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        exercise(&text[..end], text.starts_with('{'));
    }

    /// Edits anywhere, even at positions past the end, keep the text valid UTF-8 and checked.
    #[test]
    fn random_edits(sample in 0..SAMPLES.len(), edits in prop::collection::vec((0..3u32, 0..300u32, 0..3u32, 0..300u32, text()), 1..6)) {
        let json = SAMPLES[sample].starts_with('{');
        let mut document = Document::new(SAMPLES[sample].to_owned(), json);
        for (start_line, start, end_line, end, text) in edits {
            document.apply(vec![TextDocumentContentChangeEvent {
                range: Some(Range::new(Position::new(start_line, start), Position::new(end_line, end))),
                range_length: None,
                text,
            }]);
        }
        exercise(document.text(), json);
    }
}

#[test]
fn every_sample_is_exercised() {
    for sample in SAMPLES {
        exercise(sample, sample.starts_with('{'));
    }
}

/// The time to apply a one-character edit to a 500-line statement, re-check it and convert its
/// diagnostics, printed (`--nocapture`) rather than asserted: timings depend on the machine.
#[test]
fn recheck_time_of_a_500_line_document() {
    let mut text = "SELECT\n".to_owned();
    for line in 0..498 {
        text.push_str(&format!("    abs(state.reported.sensor_{line} - {line}.5) * 2 AS s_{line},\n"));
    }
    text.push_str("    lenght(x) AS last FROM 'fleet/+/telemetry' WHERE temperature > 20\n");
    assert_eq!(text.lines().count(), 500);
    let uri: Uri = "file:///big.sql".parse().unwrap();
    let mut document = Document::new(text, false);
    let mut timings = Vec::new();
    for round in 0..40u32 {
        let character = if round % 2 == 0 { "1" } else { "" };
        let range = if round % 2 == 0 {
            Range::new(Position::new(250, 4), Position::new(250, 4))
        } else {
            Range::new(Position::new(250, 4), Position::new(250, 5))
        };
        let started = Instant::now();
        document.apply(vec![TextDocumentContentChangeEvent {
            range: Some(range),
            range_length: None,
            text: character.to_owned(),
        }]);
        let diagnostics = document.lsp_diagnostics(&uri);
        timings.push(started.elapsed());
        assert!(!diagnostics.is_empty());
    }
    timings.sort();
    let median = timings[timings.len() / 2];
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!(
        "500-line re-check after an edit: median {median:?}, max {:?} ({profile} build)",
        timings[timings.len() - 1]
    );
}

/// A document of `items` SELECT items on one line, each with a character UTF-16 counts
/// differently from UTF-8, then a misspelt function and a known one.
fn long_line(items: usize) -> String {
    let items: Vec<String> = (0..items).map(|i| format!("'é' AS a{i}")).collect();
    format!("SELECT {}, lenght(x) AS typo, upper(x) AS last FROM 't'", items.join(", "))
}

/// Every feature on a document too large to run at every position: a line of 50,000 items.
/// Positions on it were converted by walking the line's wide characters, so the outline's
/// 100,000 positions took time quadratic in the line.
#[test]
fn features_answer_on_a_long_line_of_wide_characters() {
    let text = long_line(50_000);
    let uri: Uri = "file:///long.sql".parse().unwrap();
    let document = Document::new(text.clone(), false);
    let diagnostics = document.lsp_diagnostics(&uri);
    assert!(diagnostics.iter().any(|d| d.message.starts_with("unknown function `lenght`")));
    let outline = symbols::symbols(&document);
    let select = outline.iter().find(|symbol| symbol.name == "SELECT").unwrap();
    let items = select.children.as_ref().unwrap();
    assert_eq!(items.len(), 50_002);
    // `é` is two bytes and one UTF-16 unit: the last item starts one unit per `é` before its byte.
    let last = text.find("upper").unwrap();
    assert_eq!(items[50_001].range.start, Position::new(0, u32::try_from(last - 50_000).unwrap()));
    let hover = hover::hover(&document, last + 1).unwrap();
    assert_eq!(hover.range.unwrap().start, items[50_001].range.start);
    assert!(!completion::completions(&document, last).is_empty());
}

/// How long a hover waits behind typing in a document of 20,000 SELECT items: the server
/// re-checks the document and converts its diagnostics on every change, in order, before it
/// answers the hover. Printed (`--nocapture`) rather than asserted: timings depend on the
/// machine.
#[test]
fn hover_time_after_typing_in_20000_items() {
    let items: Vec<String> = (0..20_000).map(|i| format!("a{}", i % 10_000)).collect();
    let text = format!("SELECT {} FROM 't' WHERE nofn()", items.join(", "));
    let uri: Uri = "file:///items.sql".parse().unwrap();
    let started = Instant::now();
    let mut document = Document::new(text, false);
    document.lsp_diagnostics(&uri);
    let opened = started.elapsed();
    // Typing `, b` after the first item, one character per change.
    for (column, character) in (9u32..).zip([",", " ", "b"].iter().cycle().take(45)) {
        let at = Position::new(0, column);
        document.apply(vec![TextDocumentContentChangeEvent {
            range: Some(Range::new(at, at)),
            range_length: None,
            text: (*character).to_owned(),
        }]);
        document.lsp_diagnostics(&uri);
    }
    let nofn = document.text().find("nofn").unwrap();
    let hover = hover::hover(&document, nofn - 3);
    let elapsed = started.elapsed();
    assert!(hover.is_some());
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!(
        "20,000 items: open and check {opened:?}; 45 keystrokes, each re-checked, then a hover: {elapsed:?} ({profile} build)"
    );
}
