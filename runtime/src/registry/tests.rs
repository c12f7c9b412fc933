use std::path::PathBuf;

use iotrules_compiler::diagnostics::Code;

use super::certificate::{certificate_id, fields};
use super::identity::{Connection, Refusal};
use super::*;
use crate::fleet::{self, Account, Authority};

fn source(kind: Kind, path: &str, text: &str) -> Source {
    Source { kind, path: PathBuf::from(path), text: text.to_owned(), offset: 0 }
}

fn account() -> Account {
    Account { region: "us-east-1".to_owned(), account: "123456789012".to_owned() }
}

fn arn(id: &str) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:cert/{id}")
}

const ALLOW_ALL_TOPICS: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/t"}]}"#;

/// Two devices of one CA, `a` and `b`, with their ids.
struct Fleet {
    a: (String, String),
    b: (String, String),
}

fn fleet_of_two(ca: &Authority) -> Fleet {
    let a = ca.device("thing-a").unwrap();
    let b = ca.device("thing-b").unwrap();
    Fleet { a: (a.certificate_pem.clone(), certificate_id(&a.der)), b: (b.certificate_pem, certificate_id(&b.der)) }
}

fn codes(loaded: &Loaded) -> Vec<(String, Code)> {
    loaded
        .reports
        .iter()
        .flat_map(|report| report.diagnostics.iter().map(|diagnostic| (report.name.clone(), diagnostic.code)))
        .collect()
}

/// A registry: things a and b, certificate a attached to thing-a (and b to thing-b), policy
/// `p` attached to certificate a and to group `parent`, thing-b in group `child` of `parent`.
fn sample(fleet: &Fleet, association: &str) -> Vec<Source> {
    let principals = |id: &str| {
        format!(
            r#"{{"thingPrincipalObjects": [{{"principal": "{}", "thingPrincipalType": "{association}"}}]}}"#,
            arn(id)
        )
    };
    vec![
        source(
            Kind::Thing,
            "things/thing-a.json",
            r#"{"thingName": "thing-a", "thingTypeName": "sensor", "attributes": {"floor": "3"}}"#,
        ),
        source(Kind::Thing, "things/thing-b.json", r#"{"thingName": "thing-b"}"#),
        source(Kind::Certificate, "certificates/a.pem", &fleet.a.0),
        source(Kind::Certificate, "certificates/b.pem", &fleet.b.0),
        source(Kind::Policy, "policies/p.json", ALLOW_ALL_TOPICS),
        source(Kind::ThingGroup, "thing-groups/parent.json", r#"{"thingGroupName": "parent"}"#),
        source(
            Kind::ThingGroup,
            "thing-groups/child.json",
            r#"{"thingGroupName": "child", "thingGroupMetadata": {"parentGroupName": "parent"}, "things": ["thing-b"]}"#,
        ),
        source(Kind::ThingPrincipals, "thing-principals/thing-a.json", &principals(&fleet.a.1)),
        source(Kind::ThingPrincipals, "thing-principals/thing-b.json", &principals(&fleet.b.1)),
        source(Kind::AttachedPolicies, "attached-policies/a.json", r#"{"policies": [{"policyName": "p"}]}"#),
        source(Kind::AttachedPolicies, "attached-policies/parent.json", r#"{"policies": [{"policyName": "p"}]}"#),
    ]
}

#[test]
fn a_connection_is_its_certificate_its_thing_and_their_policies() {
    let ca = fleet::authority("test CA").unwrap();
    let fleet = fleet_of_two(&ca);
    let loaded = Registry::build(&sample(&fleet, "NON_EXCLUSIVE_THING"));
    assert_eq!(codes(&loaded), []);
    let registry = &loaded.registry;

    // The client id names the attached thing: its variables resolve.
    let identity = registry.identify(&fleet.a.1, "thing-a").unwrap();
    assert_eq!(identity.thing.map(|thing| thing.name.as_str()), Some("thing-a"));
    assert!(identity.is_attached);
    let names: Vec<&str> = identity.policies.iter().map(|policy| policy.name.as_str()).collect();
    assert_eq!(names, ["p"]);
    let context = identity.context(&Connection { client_id: "thing-a".to_owned(), ..Connection::default() });
    assert_eq!(context.thing_type_name.as_deref(), Some("sensor"));
    assert_eq!(context.thing_attributes.get("floor").map(String::as_str), Some("3"));
    assert_eq!(context.certificate_id.as_deref(), Some(fleet.a.1.as_str()));
    assert_eq!(context.subject.get("CommonName"), Some(&vec!["thing-a".to_owned()]));

    // Another client id: no thing, not attached, the certificate's policies still apply.
    let identity = registry.identify(&fleet.a.1, "someone-else").unwrap();
    assert!(identity.thing.is_none());
    assert!(!identity.is_attached);
    assert_eq!(identity.policies.len(), 1);

    // Certificate b has no policy of its own; its thing's group inherits `p` from `parent`.
    let identity = registry.identify(&fleet.b.1, "thing-b").unwrap();
    let names: Vec<&str> = identity.policies.iter().map(|policy| policy.name.as_str()).collect();
    assert_eq!(names, ["p"]);
    assert!(registry.identify(&fleet.b.1, "thing-a").unwrap().policies.is_empty());

    assert_eq!(registry.identify("0".repeat(64).as_str(), "thing-a").err(), Some(Refusal::Unregistered));
}

#[test]
fn an_exclusive_association_names_the_thing_whatever_the_client_id() {
    let ca = fleet::authority("test CA").unwrap();
    let fleet = fleet_of_two(&ca);
    let loaded = Registry::build(&sample(&fleet, "EXCLUSIVE_THING"));
    assert_eq!(codes(&loaded), []);
    let identity = loaded.registry.identify(&fleet.a.1, "any-client").unwrap();
    assert_eq!(identity.thing.map(|thing| thing.name.as_str()), Some("thing-a"));
    assert!(identity.is_attached);
}

#[test]
fn only_active_certificates_connect() {
    let ca = fleet::authority("test CA").unwrap();
    let fleet = fleet_of_two(&ca);
    for (status, expected) in [("INACTIVE", Status::Inactive), ("REVOKED", Status::Revoked)] {
        let mut sources = sample(&fleet, "NON_EXCLUSIVE_THING");
        sources.push(source(
            Kind::Certificate,
            "certificates/a.json",
            &format!(r#"{{"certificateDescription": {{"certificateId": "{}", "status": "{status}"}}}}"#, fleet.a.1),
        ));
        let loaded = Registry::build(&sources);
        assert_eq!(codes(&loaded), []);
        assert_eq!(loaded.registry.identify(&fleet.a.1, "thing-a").err(), Some(Refusal::NotActive(expected)));
    }
}

#[test]
fn what_does_not_fit_together_is_reported_where_it_is_written() {
    let ca = fleet::authority("test CA").unwrap();
    let fleet = fleet_of_two(&ca);
    let mut sources = sample(&fleet, "NON_EXCLUSIVE_THING");
    sources.extend([
        // An unknown certificate, policy and thing.
        source(
            Kind::ThingPrincipals,
            "thing-principals/thing-b.json",
            &format!(r#"{{"principals": ["{}"]}}"#, arn("ab12")),
        ),
        source(Kind::AttachedPolicies, "attached-policies/b.json", r#"{"policies": [{"policyName": "nope"}]}"#),
        source(Kind::ThingPrincipals, "thing-principals/ghost.json", r#"{"principals": []}"#),
        // A thing defined twice, and a file named after another thing.
        source(Kind::Thing, "more/thing-a.json", r#"{"thingName": "thing-a"}"#),
        source(Kind::Thing, "things/x.json", r#"{"thingName": "y"}"#),
        // A stated id that is not the certificate's.
        source(
            Kind::Certificate,
            "certificates/b.json",
            &format!(r#"{{"certificateDescription": {{"certificateId": "{}"}}}}"#, fleet.a.1),
        ),
        // A policy without Allow, and broken JSON.
        source(
            Kind::Policy,
            "policies/deny.json",
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iot:*", "Resource": "*"}]}"#,
        ),
        source(Kind::Thing, "things/broken.json", r#"{"thingName": "broken",}"#),
    ]);
    let found = codes(&Registry::build(&sources));
    for expected in [
        ("thing-principals/thing-b.json", Code::RegistryDanglingReference),
        ("attached-policies/b.json", Code::RegistryDanglingReference),
        ("thing-principals/ghost.json", Code::RegistryDanglingReference),
        ("more/thing-a.json", Code::RegistryDuplicate),
        ("things/x.json", Code::RegistryInvalidFile),
        ("certificates/b.json", Code::RegistryInvalidCertificate),
        ("policies/deny.json", Code::RegistryPolicyAllowsNothing),
        ("things/broken.json", Code::RegistryInvalidFile),
    ] {
        assert!(found.contains(&(expected.0.to_owned(), expected.1)), "{expected:?} in {found:?}");
    }
}

#[test]
fn exclusive_conflicts_missing_policies_and_the_policy_limit_are_reported() {
    let ca = fleet::authority("test CA").unwrap();
    let fleet = fleet_of_two(&ca);
    let exclusive = format!(
        r#"{{"thingPrincipalObjects": [{{"principal": "{}", "thingPrincipalType": "EXCLUSIVE_THING"}}]}}"#,
        arn(&fleet.a.1)
    );
    let many: Vec<String> = (0..11).map(|index| format!(r#"{{"policyName": "p{index}"}}"#)).collect();
    let mut sources = vec![
        source(Kind::Thing, "things/thing-a.json", r#"{"thingName": "thing-a"}"#),
        source(Kind::Thing, "things/thing-b.json", r#"{"thingName": "thing-b"}"#),
        source(Kind::Certificate, "certificates/a.pem", &fleet.a.0),
        source(Kind::Certificate, "certificates/b.pem", &fleet.b.0),
        source(Kind::ThingPrincipals, "thing-principals/thing-a.json", &exclusive),
        source(
            Kind::ThingPrincipals,
            "thing-principals/thing-b.json",
            &format!(r#"{{"principals": ["{}"]}}"#, arn(&fleet.a.1)),
        ),
        source(
            Kind::AttachedPolicies,
            "attached-policies/a.json",
            &format!(r#"{{"policies": [{}]}}"#, many.join(", ")),
        ),
    ];
    for index in 0..11 {
        sources.push(source(Kind::Policy, &format!("policies/p{index}.json"), ALLOW_ALL_TOPICS));
    }
    let found = codes(&Registry::build(&sources));
    assert!(found.contains(&("certificates/a.pem".to_owned(), Code::RegistryExclusiveConflict)), "{found:?}");
    assert!(found.contains(&("attached-policies/a.json".to_owned(), Code::RegistryTooManyPolicies)), "{found:?}");
    assert!(found.contains(&("certificates/b.pem".to_owned(), Code::RegistryCertificateWithoutPolicies)), "{found:?}");
}

#[test]
fn a_get_policy_document_is_checked_in_place() {
    // `iot:Publsh` inside the escaped document: the diagnostic points at it in the file.
    let text = r#"{"policyName": "p", "policyDocument": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"iot:Publsh\", \"Resource\": \"*\"}]}"}"#;
    let loaded = Registry::build(&[source(Kind::Policy, "policies/p.json", text)]);
    let diagnostic = loaded.reports[0].diagnostics.iter().find(|d| d.code == Code::PolicyUnknownAction).unwrap();
    let span = diagnostic.labels[0].span;
    assert_eq!(&text[span.start..span.end], r#"\"iot:Publsh\""#);
}

#[test]
fn certificate_fields_use_aws_names() {
    let ca = fleet::authority("test CA").unwrap();
    let server = ca.server(&["localhost", "127.0.0.1"]).unwrap();
    let read = fields(&server.der).unwrap();
    assert_eq!(read.subject.get("CommonName"), Some(&vec!["iotrules endpoint".to_owned()]));
    assert_eq!(read.subject.get("Organization"), Some(&vec!["iotrules test fleet".to_owned()]));
    assert_eq!(read.subject.get("AlternativeName.DNSName"), Some(&vec!["localhost".to_owned()]));
    assert_eq!(read.subject.get("AlternativeName.IPAddress"), Some(&vec!["127.0.0.1".to_owned()]));
    assert_eq!(read.issuer.get("CommonName"), Some(&vec!["test CA".to_owned()]));
    assert!(read.serial_number.bytes().all(|byte| byte.is_ascii_digit()));
    assert_eq!(certificate_id(&server.der).len(), 64);
}

#[test]
fn a_created_fleet_reads_back_clean_and_its_devices_connect_as_their_things() {
    let dir = std::env::temp_dir().join(format!("iotrules-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let things = ["thing-1".to_owned(), "thing-2".to_owned()];
    fleet::create(&dir, &things, &account()).unwrap();
    assert!(fleet::create(&dir, &things, &account()).is_err(), "an existing fleet is never overwritten");
    let loaded = load(&dir.join("registry")).unwrap();
    assert_eq!(codes(&loaded), []);
    let pem = std::fs::read_to_string(dir.join("devices/thing-1.pem")).unwrap();
    let id = certificate_id(&certificate::pem_to_der(&pem).unwrap());
    let identity = loaded.registry.identify(&id, "thing-1").unwrap();
    assert_eq!(identity.thing.map(|thing| thing.name.as_str()), Some("thing-1"));
    assert_eq!(identity.policies.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
