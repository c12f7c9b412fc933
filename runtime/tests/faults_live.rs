//! `iotrules run` under the faults a production stream meets, against Mosquitto: a hanging
//! endpoint, runs cut short by SIGKILL, topics and headers that MQTT cannot carry, a broker
//! that refuses a publish, a broker killed mid-stream, Mosquitto's default settings, and a
//! share group member that never comes back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::time::Duration;

use support::{
    Broker, HttpSink, Iotrules, collect, publish_messages, publish_numbers, republish_rule, scratch_dir, serialize,
    write_atomically,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

/// A rule file with `actions` and an error action republishing to `errors/<rule>`.
fn rule_file(path: &std::path::Path, name: &str, sql: &str, actions: serde_json::Value) {
    let rule = serde_json::json!({
        "ruleName": name,
        "sql": sql,
        "awsIotSqlVersion": "2016-03-23",
        "actions": actions,
        "errorAction": {"republish": {"topic": format!("errors/{name}"), "roleArn": "arn:aws:iam::123456789012:role/r", "qos": 1}}
    });
    write_atomically(path, &serde_json::to_string_pretty(&rule).expect("JSON"));
}

/// One endpoint that never answers holds up only its own action: a republish rule on the
/// same stream keeps flowing, and the hanging action's runs queue up to their bound and then
/// fail into the error action, each reported once.
#[test]
fn a_hanging_endpoint_holds_up_only_its_own_action() {
    const EACH: u64 = 1_000;
    let _one = serialize();
    let dir = scratch_dir("hanging-endpoint");
    let Some(broker) = Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let runtime = runtime();
    let sink = runtime.block_on(HttpSink::start(0));
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules folder");
    republish_rule(&rules.join("fast.json"), "fast", "SELECT n FROM 'fast/+'", "fast-out/${topic(2)}");
    rule_file(
        &rules.join("slow.json"),
        "slow",
        "SELECT n FROM 'slow/+'",
        serde_json::json!([{"http": {"url": format!("{}/hang", sink.url)}}]),
    );
    let iotrules = Iotrules::run(
        &dir,
        "iotrules",
        &[
            rules.to_str().expect("path"),
            "--broker",
            &broker.url(),
            "--http-timeout-ms",
            "600000",
            "--action-queue",
            "100",
        ],
    );
    runtime.block_on(async {
        let fast = collect(&broker.url(), "fast-reader", "fast-out/#").await;
        let errors = collect(&broker.url(), "errors-reader", "errors/#").await;
        publish_numbers(
            broker.url(),
            "numbers",
            0..2 * EACH,
            |n| if n % 2 == 0 { format!("fast/{}", n % 7) } else { format!("slow/{}", n % 7) },
            None,
        )
        .await;
        fast.wait_until("every fast message republished", |received| received.numbers().len() == EACH as usize).await;
        // 256 runs hang on the endpoint and 100 wait for them; every other one failed at once.
        errors
            .wait_until("the runs past the queue reported", |received| received.all().len() >= (EACH - 356) as usize)
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reported = errors.all();
        let numbers: std::collections::BTreeSet<u64> = reported
            .iter()
            .filter_map(|(_, payload)| payload["base64OriginalPayload"].as_str().map(decode_n))
            .collect();
        assert_eq!(numbers.len(), reported.len(), "each failed run reported once");
        assert!(reported.len() <= (EACH - 356) as usize, "the runs on the endpoint and in the queue wait");
        let (_, first) = &reported[0];
        let message = first["failures"][0]["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("queue is full"), "{first}");
        assert_eq!(first["failures"][0]["failedAction"], "HttpAction");
    });
    let log = iotrules.log_text();
    assert!(log.contains("the action's queue is full: its runs fail"), "{log}");
    assert!(log.matches("the action's queue is full: its runs fail").count() <= 3, "rate-limited:\n{log}");
    assert!(log.matches("action failed").count() <= 3, "failures are counted, and logged rate-limited:\n{log}");
    assert!(!log.contains("dropped"), "Mosquitto dropped nothing:\n{log}");
}

/// The `n` of a message from its payload in an error action's `base64OriginalPayload`.
fn decode_n(base64: &str) -> u64 {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(base64).expect("base64");
    serde_json::from_slice::<serde_json::Value>(&bytes).expect("JSON")["n"].as_u64().expect("n")
}

/// A slow endpoint (200 ms an answer) under a burst: its runs are handed off and queue on its
/// lane, every one reaches the endpoint exactly as the rule produced it, and a republish rule
/// on the same stream is not held up by them.
#[test]
fn a_slow_endpoint_gets_every_message_and_holds_up_nothing() {
    const EACH: u64 = 600;
    let _one = serialize();
    let dir = scratch_dir("slow-endpoint");
    let Some(broker) = Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let runtime = runtime();
    let sink = runtime.block_on(HttpSink::start(200));
    sink.slow_down(Duration::from_millis(200));
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules folder");
    republish_rule(&rules.join("fast.json"), "fast", "SELECT n FROM 'in/+'", "fast-out/${topic(2)}");
    rule_file(
        &rules.join("slow.json"),
        "slow",
        "SELECT n FROM 'in/+'",
        serde_json::json!([{"http": {"url": format!("{}/slow", sink.url)}}]),
    );
    let iotrules = Iotrules::run(
        &dir,
        "iotrules",
        &[rules.to_str().expect("path"), "--broker", &broker.url(), "--action-concurrency", "32"],
    );
    runtime.block_on(async {
        let fast = collect(&broker.url(), "fast-reader", "fast-out/#").await;
        publish_numbers(broker.url(), "numbers", 0..EACH, |n| format!("in/{}", n % 5), None).await;
        fast.wait_until("every fast message republished", |received| received.numbers().len() == EACH as usize).await;
        // The endpoint takes 32 posts per 200 ms (about 3.75 s for all): the republishes did
        // not wait for it.
        let posted_when_fast_done = sink.requests().len();
        assert!(
            posted_when_fast_done < EACH as usize / 2,
            "{posted_when_fast_done} posts before the republishes ended"
        );
        let deadline = std::time::Instant::now() + support::PATIENCE;
        loop {
            let posted: std::collections::BTreeSet<u64> =
                sink.requests().iter().filter_map(|(_, _, body)| body["n"].as_u64()).collect();
            if posted.len() == EACH as usize {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "only {} of {EACH} posted", posted.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(sink.requests().len(), EACH as usize, "each message posted once");
    });
    let log = iotrules.log_text();
    assert!(!log.contains("action failed"), "{log}");
}

/// Runs handed off to the outbox survive SIGKILL: after a restart, every message whose run
/// was handed off reaches the endpoint, though the broker was told long before that they
/// were done.
#[test]
fn handed_off_runs_survive_sigkill() {
    const MESSAGES: u64 = 60;
    let _one = serialize();
    let dir = scratch_dir("handoff-sigkill");
    let Some(broker) = Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let runtime = runtime();
    let sink = runtime.block_on(HttpSink::start(0));
    let rule = dir.join("post.json");
    rule_file(
        &rule,
        "post",
        "SELECT n FROM 'in/+'",
        serde_json::json!([{"http": {"url": format!("{}/in/${{topic(2)}}", sink.url), "confirmationUrl": format!("{}/in/", sink.url)}}]),
    );
    let metrics = format!("127.0.0.1:{}", support::free_port());
    let args = [rule.to_str().expect("path"), "--broker", &broker.url(), "--http-timeout-ms", "600000"];
    let with_metrics = [&args[..], &["--metrics", &metrics]].concat();
    let mut first = Iotrules::run(&dir, "first", &with_metrics);
    runtime.block_on(publish_numbers(broker.url(), "numbers", 0..MESSAGES, |n| format!("in/d{}", n % 3), None));
    // Every run handed off (so every message acknowledged to the broker), while the endpoint
    // answered none.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while metric(&metrics, "iotrules_outbox_records") != Some(MESSAGES as f64) {
        assert!(std::time::Instant::now() < deadline, "the runs were not handed off:\n{}", first.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.requests().is_empty());
    first.kill();
    sink.answer(200);
    let metrics = format!("127.0.0.1:{}", support::free_port());
    let second = Iotrules::run(&dir, "second", &[&args[..], &["--metrics", &metrics]].concat());
    runtime.block_on(async {
        let deadline = std::time::Instant::now() + support::PATIENCE;
        loop {
            let posted: std::collections::BTreeSet<u64> =
                sink.requests().iter().filter_map(|(_, _, body)| body["n"].as_u64()).collect();
            if posted.len() == MESSAGES as usize {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {MESSAGES} posted after the restart",
                posted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let requests = sink.requests();
    assert!(requests.iter().all(|(path, _, body)| *path == format!("/in/d{}", body["n"].as_u64().unwrap() % 3)));
    // The broker had nothing left to deliver: the outbox alone carried the runs over.
    assert_eq!(metric(&metrics, "iotrules_messages_in_total").unwrap_or(0.0), 0.0, "{}", second.log_text());
    assert!(second.log_text().contains("resuming the actions handed off"), "{}", second.log_text());
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while metric(&metrics, "iotrules_outbox_records") != Some(0.0) {
        assert!(std::time::Instant::now() < deadline, "the outbox never emptied");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A metric's value from a Prometheus endpoint, summed over its labels.
fn metric(address: &str, name: &str) -> Option<f64> {
    let text = support::http_get(address, "/metrics");
    let values: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Topics and headers a template fills with text MQTT cannot carry fail their own action
/// into the error action; the session stays up, and no garbage reaches the broker.
#[test]
fn unpublishable_topics_fail_their_action_not_the_session() {
    let _one = serialize();
    let dir = scratch_dir("bad-topics");
    let Some(broker) = Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let rule = dir.join("route.json");
    rule_file(
        &rule,
        "route",
        "SELECT n FROM 'in/+'",
        serde_json::json!([{"republish": {"topic": "out/${name}", "roleArn": "arn:aws:iam::123456789012:role/r", "qos": 1}}]),
    );
    let iotrules = Iotrules::run(&dir, "iotrules", &[rule.to_str().expect("path"), "--broker", &broker.url()]);
    let long = "x".repeat(70_000);
    let bad = ["a\u{1}b", "a\nb", "a\u{7f}b", "a\u{85}b", "a\u{ffff}b", "a/+", "#", long.as_str()];
    let mut messages = Vec::new();
    for round in 0..5u64 {
        for (index, name) in bad.iter().enumerate() {
            let n = round * 100 + index as u64;
            messages
                .push(("in/bad".to_owned(), serde_json::to_vec(&serde_json::json!({"n": n, "name": name})).unwrap()));
            let good = n + 50;
            messages.push((
                "in/good".to_owned(),
                serde_json::to_vec(&serde_json::json!({"n": good, "name": format!("ok{good}")})).unwrap(),
            ));
        }
    }
    runtime().block_on(async {
        let everything = collect(&broker.url(), "everything", "#").await;
        publish_messages(broker.url(), "publisher", messages, None).await;
        everything
            .wait_until("every message routed or reported", |received| {
                received
                    .all()
                    .iter()
                    .filter(|(topic, _)| topic.starts_with("out/") || topic.starts_with("errors/"))
                    .count()
                    >= 80
            })
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let received = everything.all();
        let out: Vec<&String> =
            received.iter().map(|(topic, _)| topic).filter(|topic| topic.starts_with("out/")).collect();
        assert_eq!(out.len(), 40, "every good message republished once: {out:?}");
        assert!(out.iter().all(|topic| topic.starts_with("out/ok")), "{out:?}");
        let errors: Vec<&serde_json::Value> =
            received.iter().filter(|(topic, _)| topic == "errors/route").map(|(_, payload)| payload).collect();
        assert_eq!(errors.len(), 40, "every bad topic reported once");
        assert!(
            received
                .iter()
                .all(|(topic, _)| topic.starts_with("in/") || topic.starts_with("out/") || topic == "errors/route"),
            "nothing else reached the broker"
        );
        let text = errors.iter().map(|payload| payload.to_string()).collect::<String>();
        for expected in
            ["U+0001", "U+000A", "U+007F", "U+0085", "U+FFFF", "wildcard `+`", "wildcard `#`", "70004 bytes"]
        {
            assert!(text.contains(expected), "no failure names {expected}");
        }
    });
    let log = iotrules.log_text();
    assert!(!log.contains("connection lost") && !log.contains("connection to the broker lost"), "{log}");
}

/// Over MQTT 5 a broker may refuse a publish (PUBACK 0x87): that republish fails into the
/// error action with the broker's reason, and the others go on.
#[test]
fn a_publish_the_broker_refuses_fails_its_action() {
    let _one = serialize();
    let dir = scratch_dir("refused-publish");
    let acl = dir.join("acl");
    std::fs::write(&acl, "topic readwrite #\ntopic deny denied/#\n").expect("acl file");
    let Some(broker) = Broker::mosquitto_with(&dir, &format!("acl_file {}\n", acl.display())) else { return };
    let rule = dir.join("split.json");
    let role = "arn:aws:iam::123456789012:role/r";
    rule_file(
        &rule,
        "split",
        "SELECT n FROM 'in/+'",
        serde_json::json!([
            {"republish": {"topic": "denied/${topic(2)}", "roleArn": role, "qos": 1}},
            {"republish": {"topic": "allowed/${topic(2)}", "roleArn": role, "qos": 1}}
        ]),
    );
    let _iotrules = Iotrules::run(
        &dir,
        "iotrules",
        &[rule.to_str().expect("path"), "--broker", &broker.url(), "--mqtt-version", "5"],
    );
    runtime().block_on(async {
        let allowed = collect(&broker.url(), "allowed-reader", "allowed/#").await;
        let errors = collect(&broker.url(), "errors-reader", "errors/#").await;
        publish_numbers(broker.url(), "numbers", 0..20, |n| format!("in/{n}"), None).await;
        allowed.wait_until("every allowed republish", |received| received.numbers().len() == 20).await;
        errors.wait_until("every refusal reported", |received| received.all().len() == 20).await;
        let (_, payload) = &errors.all()[0];
        assert_eq!(payload["failures"][0]["failedAction"], "RepublishAction");
        let message = payload["failures"][0]["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("not authorized (0x87)"), "{payload}");
    });
}

/// A broker killed with SIGKILL while messages keep coming: iotrules reconnects, processes
/// everything published once the broker is back, and stops cleanly.
#[test]
fn survives_a_broker_killed_mid_stream() {
    let _one = serialize();
    let dir = scratch_dir("broker-sigkill");
    let Some(mut broker) = Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let rule = dir.join("copy.json");
    republish_rule(&rule, "copy", "SELECT n FROM 'in/+'", "out/${topic(2)}");
    let mut iotrules = Iotrules::run(&dir, "iotrules", &[rule.to_str().expect("path"), "--broker", &broker.url()]);
    let runtime = runtime();
    let out = runtime.block_on(collect(&broker.url(), "reader", "out/#"));
    let publishing = runtime.spawn(publish_numbers(
        broker.url(),
        "numbers",
        0..3_000,
        |n| format!("in/{}", n % 3),
        Some(Duration::from_millis(1)),
    ));
    runtime.block_on(out.wait_until("the stream under way", |received| received.numbers().len() >= 500));
    broker.kill();
    std::thread::sleep(Duration::from_millis(500));
    broker.start_again();
    iotrules.wait_for_log("connected to the broker", 2);
    runtime.block_on(async {
        // The crash may have taken the acknowledgement of a message in flight with it, so the
        // first publisher is not waited for; what counts is what is published from now on.
        publishing.abort();
        let after = collect(&broker.url(), "reader-after", "out/#").await;
        publish_numbers(broker.url(), "numbers-after", 10_000..10_500, |n| format!("in/{}", n % 3), None).await;
        after
            .wait_until("everything published after the restart", |received| {
                (10_000..10_500).all(|n| received.numbers().contains(&n))
            })
            .await;
    });
    assert_eq!(iotrules.interrupt(), Some(0));
}

/// What "no message is lost" needs of the broker: Mosquitto as installed keeps at most 1,000
/// messages for a session whose client is away. An outage within that loses nothing; a
/// longer one loses what Mosquitto dropped, and iotrules says so from Mosquitto's own count.
#[test]
fn mosquitto_defaults_keep_a_short_outage_and_report_the_drops_of_a_long_one() {
    let _one = serialize();
    let dir = scratch_dir("mosquitto-defaults");
    let Some(broker) = Broker::mosquitto_defaults(&dir) else { return };
    let rule = dir.join("copy.json");
    republish_rule(&rule, "copy", "SELECT n FROM 'in/+'", "out/${topic(2)}");
    let args = [rule.to_str().expect("path"), "--broker", &broker.url()];
    let runtime = runtime();
    let out = runtime.block_on(collect(&broker.url(), "reader", "out/#"));

    let mut iotrules = Iotrules::run(&dir, "first", &args);
    iotrules.kill();
    runtime.block_on(publish_numbers(broker.url(), "short", 0..500, |n| format!("in/{}", n % 3), None));
    let mut iotrules = Iotrules::run(&dir, "second", &args);
    runtime.block_on(out.wait_until("the short outage's messages", |received| received.numbers().len() == 500));

    iotrules.kill();
    runtime.block_on(publish_numbers(broker.url(), "long", 1_000..4_000, |n| format!("in/{}", n % 3), None));
    let third = Iotrules::run(&dir, "third", &args);
    // Mosquitto publishes its counters every 10 s by default.
    third.wait_for_log("dropped", 1);
    let log = third.log_text();
    assert!(log.contains("max_queued_messages 0"), "{log}");
    let dropped: usize = log
        .split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .expect("the warning gives the count");
    runtime.block_on(out.wait_until("what Mosquitto kept", |received| {
        received.numbers().iter().filter(|&&n| n >= 1_000).count() + dropped >= 3_000
    }));
    let kept = out.numbers().iter().filter(|&&n| n >= 1_000).count();
    assert_eq!(kept + dropped, 3_000, "every message is either processed or counted as dropped");
    assert!(dropped >= 1_900, "Mosquitto queues about 1,000: it dropped {dropped}");
    eprintln!("Mosquitto as installed kept {kept} of 3,000 messages published while iotrules was away");
}

/// A share group member that dies: with a bounded MQTT 5 session expiry the broker stops
/// giving it a share once the session expires, and the survivor takes the whole stream;
/// without one, its share waits until the same client id comes back.
#[test]
fn a_dead_share_group_member_is_dropped_once_its_session_expires() {
    let _one = serialize();
    let dir = scratch_dir("share-expiry");
    let Some(broker) = Broker::start(support::Kind::Mosquitto, &dir) else { return };
    let rule = dir.join("copy.json");
    republish_rule(&rule, "copy", "SELECT n FROM 'in/+'", "out/${topic(2)}");
    let member = |name: &str, expiry: Option<&str>| {
        let mut args = vec![
            rule.to_str().expect("path").to_owned(),
            "--broker".to_owned(),
            broker.url(),
            "--client-id".to_owned(),
            name.to_owned(),
            "--share-group".to_owned(),
            "rules".to_owned(),
            "--mqtt-version".to_owned(),
            "5".to_owned(),
        ];
        if let Some(expiry) = expiry {
            args.extend(["--session-expiry".to_owned(), expiry.to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Iotrules::run(&dir, name, &args)
    };
    let runtime = runtime();
    let out = runtime.block_on(collect(&broker.url(), "reader", "out/#"));

    // Expiring sessions: once b's has expired, a gets everything.
    let _a = member("a", Some("2"));
    let mut b = member("b", Some("2"));
    runtime.block_on(publish_numbers(broker.url(), "warm-up", 0..200, |n| format!("in/{}", n % 3), None));
    runtime.block_on(out.wait_until("both members at work", |received| received.numbers().len() == 200));
    b.kill();
    std::thread::sleep(Duration::from_secs(4));
    runtime.block_on(publish_numbers(broker.url(), "after-expiry", 1_000..2_000, |n| format!("in/{}", n % 3), None));
    runtime.block_on(out.wait_until("everything after b's session expired", |received| {
        (1_000..2_000).all(|n| received.numbers().contains(&n))
    }));

    // Sessions without expiry: c's share waits for c, and arrives when it comes back.
    let _c_survivor = member("c", None);
    let mut d = member("d", None);
    std::thread::sleep(Duration::from_millis(500));
    d.kill();
    runtime.block_on(publish_numbers(broker.url(), "stranded", 3_000..3_400, |n| format!("in/{}", n % 3), None));
    std::thread::sleep(Duration::from_secs(2));
    let before = (3_000..3_400).filter(|n| out.numbers().contains(n)).count();
    assert!(before < 400, "d's share waits for d while it is away ({before} of 400 arrived)");
    let _d_again = member("d", None);
    runtime.block_on(
        out.wait_until("d's share once d is back", |received| (3_000..3_400).all(|n| received.numbers().contains(&n))),
    );
}
