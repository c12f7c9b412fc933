//! X.509 certificates as AWS IoT sees them: the certificate id is the lowercase hex SHA-256 of
//! the DER encoding, and the certificate policy variables read the subject's and issuer's
//! attributes and alternative names by AWS's names (`CommonName`, `AlternativeName.DNSName`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::x509::X509Name;

/// A registered certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Certificate {
    pub(crate) id: String,
    pub(crate) status: Status,
    /// The registered CA that signed it, when `describe-certificate` names one.
    pub(crate) ca_certificate_id: Option<String>,
    pub(crate) der: Vec<u8>,
    pub(crate) fields: Fields,
}

/// What the certificate policy variables read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    /// Attribute name → values in certificate order; alternative names under
    /// `AlternativeName.<type>`.
    pub(crate) subject: BTreeMap<String, Vec<String>>,
    pub(crate) issuer: BTreeMap<String, Vec<String>>,
    /// The serial number in decimal, as Java's `X509Certificate.getSerialNumber()` prints it.
    pub(crate) serial_number: String,
}

/// A certificate's status in the registry (`describe-certificate`'s `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Inactive,
    Revoked,
    PendingTransfer,
    RegisterInactive,
    PendingActivation,
}

impl Status {
    pub(crate) const ALL: [Status; 6] = [
        Status::Active,
        Status::Inactive,
        Status::Revoked,
        Status::PendingTransfer,
        Status::RegisterInactive,
        Status::PendingActivation,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Inactive => "INACTIVE",
            Status::Revoked => "REVOKED",
            Status::PendingTransfer => "PENDING_TRANSFER",
            Status::RegisterInactive => "REGISTER_INACTIVE",
            Status::PendingActivation => "PENDING_ACTIVATION",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// The certificate id AWS gives a certificate: lowercase hex SHA-256 of its DER encoding.
pub(crate) fn certificate_id(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM text.
pub(crate) fn pem_to_der(text: &str) -> Result<Vec<u8>, String> {
    let mut rest = text.as_bytes();
    loop {
        match x509_parser::pem::parse_x509_pem(rest) {
            Ok((_, pem)) if pem.label == "CERTIFICATE" => return Ok(pem.contents),
            Ok((after, _)) if after.len() < rest.len() => rest = after,
            Ok(_) => return Err("no CERTIFICATE block".to_owned()),
            Err(_) if rest.len() == text.len() => return Err("not a PEM certificate".to_owned()),
            Err(_) => return Err("no CERTIFICATE block".to_owned()),
        }
    }
}

/// Reads the fields the policy variables use from DER bytes.
pub(crate) fn fields(der: &[u8]) -> Result<Fields, String> {
    let (_, certificate) =
        x509_parser::parse_x509_certificate(der).map_err(|error| format!("not an X.509 certificate: {error}"))?;
    let mut subject = attributes(certificate.subject());
    let mut issuer = attributes(certificate.issuer());
    for extension in certificate.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(names) => alternative_names(&names.general_names, &mut subject),
            ParsedExtension::IssuerAlternativeName(names) => alternative_names(&names.general_names, &mut issuer),
            _ => {}
        }
    }
    Ok(Fields { subject, issuer, serial_number: certificate.tbs_certificate.serial.to_string() })
}

/// AWS's names for the distinguished-name attributes its policy variables read.
fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CommonName",
        "2.5.4.4" => "Surname",
        "2.5.4.5" => "SerialNumber",
        "2.5.4.6" => "Country",
        "2.5.4.7" => "Locality",
        "2.5.4.8" => "State",
        "2.5.4.10" => "Organization",
        "2.5.4.11" => "OrganizationalUnit",
        "2.5.4.12" => "Title",
        "2.5.4.42" => "GivenName",
        "2.5.4.43" => "Initials",
        "2.5.4.44" => "GenerationQualifier",
        "2.5.4.46" => "DistinguishedNameQualifier",
        "2.5.4.65" => "Pseudonym",
        _ => return None,
    })
}

fn attributes(name: &X509Name<'_>) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attribute in name.iter_attributes() {
        let Some(key) = attribute_name(&attribute.attr_type().to_id_string()) else { continue };
        if let Ok(value) = attribute.as_str() {
            found.entry(key.to_owned()).or_default().push(value.to_owned());
        }
    }
    found
}

fn alternative_names(names: &[GeneralName<'_>], into: &mut BTreeMap<String, Vec<String>>) {
    for name in names {
        let (kind, value) = match name {
            GeneralName::DNSName(dns) => ("DNSName", (*dns).to_owned()),
            GeneralName::RFC822Name(mail) => ("RFC822Name", (*mail).to_owned()),
            GeneralName::URI(uri) => ("UniformResourceIdentifier", (*uri).to_owned()),
            GeneralName::DirectoryName(directory) => ("DirectoryName", directory.to_string()),
            GeneralName::IPAddress(bytes) => match ip_address(bytes) {
                Some(address) => ("IPAddress", address.to_string()),
                None => continue,
            },
            _ => continue,
        };
        into.entry(format!("AlternativeName.{kind}")).or_default().push(value);
    }
}

fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}
