//! `iotrules fleet`: everything a local test fleet needs to connect as devices connect to AWS
//! IoT Core: a certificate authority, a server certificate for the endpoint, a certificate and
//! key per device, and the registry that identifies them (things, certificates, a device
//! policy and the attachments), in the shapes `--registry` reads.
//!
//! Keys are ECDSA P-256, made by rcgen. Nothing is overwritten: the target directory must be
//! new or empty.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;

use crate::registry::certificate::certificate_id;

/// The organization written into every certificate of a test fleet.
const ORGANIZATION: &str = "iotrules test fleet";

/// The name of the policy attached to every device.
pub(crate) const DEVICE_POLICY: &str = "device";

/// A certificate and its private key, PEM-encoded.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    pub(crate) certificate_pem: String,
    pub(crate) key_pem: String,
    pub(crate) der: Vec<u8>,
}

/// A certificate authority that signs device and server certificates.
pub(crate) struct Authority {
    params: CertificateParams,
    key: KeyPair,
    pub(crate) issued: Issued,
}

fn failed(error: rcgen::Error) -> String {
    format!("cannot make a certificate: {error}")
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    name
}

/// A new self-signed certificate authority.
pub(crate) fn authority(common_name: &str) -> Result<Authority, String> {
    let key = KeyPair::generate().map_err(failed)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let certificate = params.self_signed(&key).map_err(failed)?;
    let issued =
        Issued { certificate_pem: certificate.pem(), key_pem: key.serialize_pem(), der: certificate.der().to_vec() };
    Ok(Authority { params, key, issued })
}

impl Authority {
    fn sign(&self, params: &CertificateParams) -> Result<Issued, String> {
        let key = KeyPair::generate().map_err(failed)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let certificate = params.signed_by(&key, &issuer).map_err(failed)?;
        Ok(Issued { certificate_pem: certificate.pem(), key_pem: key.serialize_pem(), der: certificate.der().to_vec() })
    }

    /// A device (client) certificate whose common name is the thing's name.
    pub(crate) fn device(&self, thing: &str) -> Result<Issued, String> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params.distinguished_name = name(thing);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params)
    }

    /// A server certificate for the endpoint, valid for `hosts` (names or IP addresses).
    pub(crate) fn server(&self, hosts: &[&str]) -> Result<Issued, String> {
        let names: Vec<String> = hosts.iter().map(|host| (*host).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(failed)?;
        params.distinguished_name = name("iotrules endpoint");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params)
    }
}

/// Where the fleet lives in AWS terms, for ARNs.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub(crate) region: String,
    pub(crate) account: String,
}

impl Account {
    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }
}

/// The device policy: connect as an attached thing, publish, subscribe and receive under the
/// thing's own topics and its shadows.
pub(crate) fn device_policy(account: &Account) -> serde_json::Value {
    let thing = "${iot:Connection.Thing.ThingName}";
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": account.arn(&format!("client/{thing}")),
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
            },
            {
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive"],
                "Resource": [
                    account.arn(&format!("topic/devices/{thing}/*")),
                    account.arn(&format!("topic/$aws/things/{thing}/shadow/*"))
                ]
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    account.arn(&format!("topicfilter/devices/{thing}/*")),
                    account.arn(&format!("topicfilter/$aws/things/{thing}/shadow/*"))
                ]
            }
        ]
    })
}

/// Creates a fleet of `things` in `dir`; returns the files written.
pub(crate) fn create(dir: &Path, things: &[String], account: &Account) -> Result<Vec<PathBuf>, String> {
    if dir.exists() && fs::read_dir(dir).map_err(|error| format!("`{}`: {error}", dir.display()))?.next().is_some() {
        return Err(format!("`{}` is not empty; a fleet is only created in a new or empty directory", dir.display()));
    }
    let mut writer = Writer { written: Vec::new() };
    let ca = authority("iotrules test fleet CA")?;
    let ca_id = certificate_id(&ca.issued.der);
    writer.write(&dir.join("ca/ca.pem"), &ca.issued.certificate_pem)?;
    writer.write(&dir.join("ca/ca.key"), &ca.issued.key_pem)?;
    let server = ca.server(&["localhost", "127.0.0.1", "::1"])?;
    writer.write(&dir.join("server/server.pem"), &server.certificate_pem)?;
    writer.write(&dir.join("server/server.key"), &server.key_pem)?;
    let registry = dir.join("registry");
    let policy_document = serde_json::to_string(&device_policy(account)).map_err(|error| error.to_string())?;
    writer.json(
        &registry.join(format!("policies/{DEVICE_POLICY}.json")),
        &json!({
            "policyName": DEVICE_POLICY,
            "policyArn": account.arn(&format!("policy/{DEVICE_POLICY}")),
            "policyDocument": policy_document,
            "defaultVersionId": "1"
        }),
    )?;
    for thing in things {
        let device = ca.device(thing)?;
        let id = certificate_id(&device.der);
        writer.write(&dir.join(format!("devices/{thing}.pem")), &device.certificate_pem)?;
        writer.write(&dir.join(format!("devices/{thing}.key")), &device.key_pem)?;
        writer.json(
            &registry.join(format!("things/{thing}.json")),
            &json!({
                "thingName": thing,
                "thingArn": account.arn(&format!("thing/{thing}")),
                "attributes": {},
                "version": 1
            }),
        )?;
        writer.write(&registry.join(format!("certificates/{thing}.pem")), &device.certificate_pem)?;
        writer.json(
            &registry.join(format!("certificates/{thing}.json")),
            &json!({"certificateDescription": {
                "certificateArn": account.arn(&format!("cert/{id}")),
                "certificateId": id,
                "caCertificateId": ca_id,
                "status": "ACTIVE"
            }}),
        )?;
        writer.json(
            &registry.join(format!("thing-principals/{thing}.json")),
            &json!({"principals": [account.arn(&format!("cert/{id}"))]}),
        )?;
        writer.json(
            &registry.join(format!("attached-policies/{thing}.json")),
            &json!({"policies": [{
                "policyName": DEVICE_POLICY,
                "policyArn": account.arn(&format!("policy/{DEVICE_POLICY}"))
            }]}),
        )?;
    }
    Ok(writer.written)
}

struct Writer {
    written: Vec<PathBuf>,
}

impl Writer {
    fn write(&mut self, path: &Path, text: &str) -> Result<(), String> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|error| format!("cannot create `{}`: {error}", parent.display()))?;
        }
        fs::write(path, text).map_err(|error| format!("cannot write `{}`: {error}", path.display()))?;
        // Private keys are for their owner's eyes only, as ssh-keygen and openssl leave them.
        #[cfg(unix)]
        if path.extension().is_some_and(|extension| extension == "key") {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(|error| format!("cannot restrict `{}`: {error}", path.display()))?;
        }
        self.written.push(path.to_path_buf());
        Ok(())
    }

    fn json(&mut self, path: &Path, value: &serde_json::Value) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(value).map_err(|error| error.to_string())?;
        text.push('\n');
        self.write(path, &text)
    }
}
