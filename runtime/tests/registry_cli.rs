//! `iotrules fleet`, `check --registry` and `authorize --registry` as a user runs them: a fleet
//! is made, checked, and its devices are allowed and refused as their policy says.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::Path;

use common::{code, iotrules, scratch_dir};
use serde_json::Value;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn decision(registry: &Path, certificate: &Path, client_id: &str, action: &str, resource: &str) -> (i32, String) {
    let output = iotrules(&[
        "authorize",
        "--registry",
        registry.to_str().unwrap(),
        "--certificate",
        certificate.to_str().unwrap(),
        "--client-id",
        client_id,
        "--action",
        action,
        "--resource",
        resource,
    ]);
    let decision = serde_json::from_slice::<Value>(&output.stdout)
        .map(|result| result["authDecision"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|_| String::from_utf8_lossy(&output.stderr).into_owned());
    (code(&output), decision)
}

#[test]
fn a_fleet_is_created_checked_and_enforced_by_its_policy() {
    let dir = scratch_dir("registry_fleet").join("fleet");
    let made = iotrules(&["fleet", dir.to_str().unwrap(), "--thing", "boiler-1", "--thing", "boiler-2"]);
    assert_eq!(code(&made), 0, "{}", String::from_utf8_lossy(&made.stderr));
    let again = iotrules(&["fleet", dir.to_str().unwrap()]);
    assert_eq!(code(&again), 2, "a fleet never overwrites one");

    let registry = dir.join("registry");
    let checked = iotrules(&["check", "--registry", registry.to_str().unwrap()]);
    assert_eq!(code(&checked), 0, "{}", String::from_utf8_lossy(&checked.stderr));

    let boiler_1 = dir.join("devices/boiler-1.pem");
    let connect =
        |client: &str| decision(&registry, &boiler_1, client, "iot:Connect", &format!("{ARN}:client/{client}"));
    assert_eq!(connect("boiler-1"), (0, "ALLOWED".to_owned()));
    // Its certificate is not attached to boiler-2: no thing, so the policy's condition fails.
    assert_eq!(connect("boiler-2"), (0, "IMPLICIT_DENY".to_owned()));
    let publish =
        |topic: &str| decision(&registry, &boiler_1, "boiler-1", "iot:Publish", &format!("{ARN}:topic/{topic}"));
    assert_eq!(publish("devices/boiler-1/telemetry"), (0, "ALLOWED".to_owned()));
    assert_eq!(publish("$aws/things/boiler-1/shadow/update"), (0, "ALLOWED".to_owned()));
    assert_eq!(publish("devices/boiler-2/telemetry"), (0, "IMPLICIT_DENY".to_owned()));

    // Revoking the certificate refuses the connection before any policy is read.
    let description = registry.join("certificates/boiler-1.json");
    let revoked = std::fs::read_to_string(&description).unwrap().replace("\"ACTIVE\"", "\"REVOKED\"");
    std::fs::write(&description, revoked).unwrap();
    let (exit, message) = connect("boiler-1");
    assert_eq!(exit, 1);
    assert!(message.contains("certificate is REVOKED"), "{message}");
}

#[test]
fn a_broken_registry_is_reported_in_the_file_at_fault() {
    let dir = scratch_dir("registry_broken");
    let made = iotrules(&["fleet", dir.join("fleet").to_str().unwrap(), "--thing", "a"]);
    assert_eq!(code(&made), 0);
    let registry = dir.join("fleet/registry");
    std::fs::write(registry.join("attached-policies/a.json"), r#"{"policies": [{"policyName": "missing"}]}"#).unwrap();
    let output = iotrules(&["check", "--format", "json", "--registry", registry.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["file"].as_str().unwrap_or_default().to_owned(), d["code"].as_str().unwrap().to_owned()))
        .collect();
    assert!(
        found
            .iter()
            .any(|(file, code)| file.ends_with("attached-policies/a.json") && code == "registry::dangling_reference"),
        "{found:?}"
    );
    assert!(found.iter().any(|(_, code)| code == "registry::certificate_without_policies"), "{found:?}");
}

#[test]
fn the_example_fleet_is_valid() {
    let registry = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fleet/registry");
    let output = iotrules(&["check", "--deny-warnings", "--registry", registry.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn fleet_json_names_every_file_it_wrote() {
    let dir = scratch_dir("registry_fleet_json").join("fleet");
    let made = iotrules(&["fleet", dir.to_str().unwrap(), "--thing", "pump-1", "--format", "json"]);
    assert_eq!(code(&made), 0, "{}", String::from_utf8_lossy(&made.stderr));
    let created: Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(created["devices"][0]["thing"], "pump-1");
    for path in [&created["ca"], &created["server_certificate"], &created["server_key"], &created["devices"][0]["key"]]
    {
        assert!(Path::new(path.as_str().unwrap()).is_file(), "{path}");
    }
    let files = created["files"].as_array().unwrap();
    assert!(files.contains(&created["devices"][0]["certificate"]), "{created}");
    assert!(files.iter().all(|file| Path::new(file.as_str().unwrap()).is_file()), "{created}");
    assert!(Path::new(created["registry"].as_str().unwrap()).is_dir());

    let again = iotrules(&["fleet", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&again), 2, "a fleet is only created in an empty directory");
    let failure: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(failure["error"].as_str().unwrap().contains("is not empty"), "{failure}");
}
