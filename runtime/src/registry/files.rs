//! One registry file's text → its entries and diagnostics, pure. Each reader accepts the shape
//! the AWS CLI prints (extra fields such as `thingArn` or `version` are read past) and reports
//! a missing or mistyped field where it is written.

use std::collections::BTreeMap;

use iotrules_compiler::diagnostics::{Code, Diagnostic};
use iotrules_compiler::policy::check_policy;
use iotrules_compiler::rule_file::{parse_strict_json, range_of};
use iotrules_compiler::span::Span;
use jsonc_parser::ast::{Object, Value};

use super::certificate::{self, Certificate, Status};
use super::{Association, Kind, NamedPolicy, Thing};

/// What one file contributes.
#[derive(Debug)]
pub(super) enum Entry {
    Thing { thing: Thing, span: Span },
    Certificate { certificate: Certificate, stem: String, span: Span },
    Policy { policy: NamedPolicy, span: Span },
    ThingGroup { group: String, parent: Option<Reference>, things: Vec<Reference>, span: Span },
    ThingPrincipals { thing: String, principals: Vec<(Reference, Association)>, span: Span },
    AttachedPolicies { target: String, policies: Vec<Reference>, span: Span },
}

/// A name one entry uses for another, where it is written.
#[derive(Clone, Debug)]
pub(super) struct Reference {
    pub(super) name: String,
    pub(super) span: Span,
}

/// AWS's limits on registry names and attributes.
const MAX_NAME: usize = 128;
const MAX_ATTRIBUTES: usize = 50;
const MAX_ATTRIBUTE_VALUE: usize = 800;

/// Reads a file of `kind` named `stem`. A certificate's `.json` gets the text of the `.pem`
/// of the same name, when there is one, as `pem`.
pub(super) fn read(kind: Kind, stem: &str, text: &str, pem: Option<&str>) -> (Vec<Entry>, Vec<Diagnostic>) {
    let mut reader = Reader { diagnostics: Vec::new() };
    let whole = Span::new(0, text.len());
    let entry = if kind == Kind::Certificate && !text.trim_start().starts_with('{') {
        reader.pem_certificate(stem, text, whole)
    } else {
        match parse_strict_json(text) {
            Ok(Some(Value::Object(object))) => match kind {
                Kind::Thing => reader.thing(stem, &object),
                Kind::Certificate => reader.described_certificate(stem, &object, pem),
                Kind::Policy => reader.policy(stem, text, &object),
                Kind::ThingGroup => reader.thing_group(stem, &object),
                Kind::ThingPrincipals => reader.thing_principals(stem, &object),
                Kind::AttachedPolicies => reader.attached_policies(stem, &object),
            },
            Ok(Some(value)) => {
                reader.invalid(
                    range_of(&value),
                    "the file must hold one JSON object",
                    "write the AWS CLI's output here",
                );
                None
            }
            Ok(None) => {
                reader.invalid(whole, "the file is empty", "write the AWS CLI's output here");
                None
            }
            Err((span, message)) => {
                reader.invalid(span, &format!("invalid JSON: {message}"), "the file must be one JSON object");
                None
            }
        }
    };
    (entry.into_iter().collect(), reader.diagnostics)
}

struct Reader {
    diagnostics: Vec<Diagnostic>,
}

impl Reader {
    fn invalid(&mut self, span: Span, message: &str, help: &str) {
        self.diagnostics.push(
            Diagnostic::error(Code::RegistryInvalidFile, span, message.to_owned())
                .with_label("here")
                .with_help(help.to_owned()),
        );
    }

    /// A required string member.
    fn string(&mut self, object: &Object<'_>, key: &str, help: &str) -> Option<Reference> {
        match object.get(key).map(|prop| &prop.value) {
            Some(Value::StringLit(text)) => Some(Reference {
                name: text.value.clone().into_owned(),
                span: Span::new(text.range.start, text.range.end),
            }),
            Some(other) => {
                self.invalid(range_of(other), &format!("`{key}` must be a string"), help);
                None
            }
            None => {
                let span = Span::new(object.range.start, object.range.start + 1);
                self.invalid(span, &format!("missing `{key}`"), help);
                None
            }
        }
    }

    /// An optional string member; `null` is absent.
    fn optional_string(&mut self, object: &Object<'_>, key: &str) -> Option<Reference> {
        match object.get(key).map(|prop| &prop.value) {
            None | Some(Value::NullKeyword(_)) => None,
            Some(_) => self.string(object, key, "write it as a string, or leave it out"),
        }
    }

    /// A name the file name must agree with, when the document states one.
    fn named(&mut self, object: &Object<'_>, key: &str, stem: &str, what: &str) -> Option<(String, Span)> {
        let span = Span::new(object.range.start, object.range.start + 1);
        let Some(stated) = self.optional_string(object, key) else {
            return self.valid_name(stem, span, what).then(|| (stem.to_owned(), span));
        };
        if stated.name != stem {
            self.invalid(
                stated.span,
                &format!("{what} `{}` is in a file named `{stem}`", stated.name),
                &format!("name the file `{}.json`", stated.name),
            );
            return None;
        }
        self.valid_name(&stated.name, stated.span, what).then_some((stated.name, stated.span))
    }

    /// Thing and thing group names: `[a-zA-Z0-9:_-]`, 1 to 128 characters.
    fn valid_name(&mut self, name: &str, span: Span, what: &str) -> bool {
        let valid = (1..=MAX_NAME).contains(&name.len())
            && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b':' | b'_' | b'-'));
        if !valid {
            self.invalid(
                span,
                &format!("`{name}` is not a valid {what} name"),
                "AWS names are 1 to 128 characters of letters, digits, `:`, `_` and `-`",
            );
        }
        valid
    }

    fn thing(&mut self, stem: &str, object: &Object<'_>) -> Option<Entry> {
        let (name, span) = self.named(object, "thingName", stem, "thing")?;
        let type_name = self.optional_string(object, "thingTypeName").map(|reference| reference.name);
        let mut attributes = BTreeMap::new();
        match object.get("attributes").map(|prop| &prop.value) {
            None | Some(Value::NullKeyword(_)) => {}
            Some(Value::Object(members)) => {
                for prop in &members.properties {
                    let key = prop.name.as_str().to_owned();
                    let Value::StringLit(value) = &prop.value else {
                        self.invalid(
                            range_of(&prop.value),
                            &format!("attribute `{key}` must be a string"),
                            "thing attributes are strings, as describe-thing prints them",
                        );
                        continue;
                    };
                    let valid_key = !key.is_empty()
                        && key.len() <= MAX_NAME
                        && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"_.,@/:#-".contains(&byte));
                    if !valid_key || value.value.len() > MAX_ATTRIBUTE_VALUE {
                        self.invalid(
                            Span::new(value.range.start, value.range.end),
                            &format!("attribute `{key}` is not one AWS accepts"),
                            "names are up to 128 of `[a-zA-Z0-9_.,@/:#-]`, values up to 800 characters",
                        );
                        continue;
                    }
                    attributes.insert(key, value.value.clone().into_owned());
                }
                if attributes.len() > MAX_ATTRIBUTES {
                    self.invalid(
                        Span::new(members.range.start, members.range.end),
                        &format!("{} attributes, more than {MAX_ATTRIBUTES}", attributes.len()),
                        "AWS keeps at most 50 attributes on a thing",
                    );
                }
            }
            Some(other) => {
                self.invalid(range_of(other), "`attributes` must be an object", "write `{\"name\": \"value\"}`")
            }
        }
        Some(Entry::Thing { thing: Thing { name, type_name, attributes }, span })
    }

    fn pem_certificate(&mut self, stem: &str, text: &str, span: Span) -> Option<Entry> {
        let der = match certificate::pem_to_der(text) {
            Ok(der) => der,
            Err(message) => {
                self.certificate_problem(span, &message);
                return None;
            }
        };
        let certificate = self.certificate(der, Status::Active, None, span)?;
        Some(Entry::Certificate { certificate, stem: stem.to_owned(), span })
    }

    fn certificate(
        &mut self,
        der: Vec<u8>,
        status: Status,
        ca_certificate_id: Option<String>,
        span: Span,
    ) -> Option<Certificate> {
        match certificate::fields(&der) {
            Ok(fields) => {
                Some(Certificate { id: certificate::certificate_id(&der), status, ca_certificate_id, der, fields })
            }
            Err(message) => {
                self.certificate_problem(span, &message);
                None
            }
        }
    }

    fn certificate_problem(&mut self, span: Span, message: &str) {
        self.diagnostics.push(
            Diagnostic::error(Code::RegistryInvalidCertificate, span, message.to_owned()).with_label("here").with_help(
                "a certificate is a PEM `CERTIFICATE` block, as `describe-certificate` prints in `certificatePem`",
            ),
        );
    }

    /// `{"certificateDescription": {...}}`, or the description itself.
    fn described_certificate(&mut self, stem: &str, object: &Object<'_>, pem: Option<&str>) -> Option<Entry> {
        let description = object.get_object("certificateDescription").unwrap_or(object);
        let span = Span::new(description.range.start, description.range.start + 1);
        let status_help = "one of ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION";
        let status = match self.optional_string(description, "status") {
            None => Status::Active,
            Some(stated) => match Status::parse(&stated.name) {
                Some(status) => status,
                None => {
                    self.invalid(stated.span, &format!("unknown certificate status `{}`", stated.name), status_help);
                    return None;
                }
            },
        };
        let ca = self.optional_string(description, "caCertificateId").map(|reference| reference.name);
        let stated_id = self.optional_string(description, "certificateId");
        let embedded = self.optional_string(description, "certificatePem");
        let (pem_text, pem_span) = match (&embedded, pem) {
            (Some(embedded), _) => (embedded.name.as_str(), embedded.span),
            (None, Some(pem)) => (pem, span),
            (None, None) => {
                self.invalid(
                    span,
                    "no certificate: neither `certificatePem` nor a `.pem` file of the same name",
                    &format!("add `certificatePem`, or put the certificate in `{stem}.pem` beside this file"),
                );
                return None;
            }
        };
        let der = match certificate::pem_to_der(pem_text) {
            Ok(der) => der,
            Err(message) => {
                self.certificate_problem(pem_span, &message);
                return None;
            }
        };
        let certificate = self.certificate(der, status, ca, pem_span)?;
        if let Some(stated) = stated_id
            && stated.name != certificate.id
        {
            self.diagnostics.push(
                Diagnostic::error(
                    Code::RegistryInvalidCertificate,
                    stated.span,
                    "`certificateId` is not the SHA-256 of this certificate",
                )
                .with_label("stated id")
                .with_help(format!("the certificate's id is `{}`", certificate.id)),
            );
            return None;
        }
        Some(Entry::Certificate { certificate, stem: stem.to_owned(), span })
    }

    /// `get-policy`'s `{"policyName", "policyDocument": "<JSON text>"}`, or a policy document.
    fn policy(&mut self, stem: &str, text: &str, object: &Object<'_>) -> Option<Entry> {
        let span = Span::new(object.range.start, object.range.start + 1);
        let Some(document) = object.get("policyDocument") else {
            let checked = check_policy(text);
            self.diagnostics.extend(checked.diagnostics);
            let policy = checked.policy?;
            return Some(Entry::Policy { policy: NamedPolicy { name: stem.to_owned(), policy }, span });
        };
        let Value::StringLit(literal) = &document.value else {
            self.invalid(
                range_of(&document.value),
                "`policyDocument` must be a string",
                "get-policy prints the document as a JSON string; or write the document alone in the file",
            );
            return None;
        };
        let name = match self.optional_string(object, "policyName") {
            Some(stated) if stated.name != stem => {
                self.invalid(
                    stated.span,
                    &format!("policy `{}` is in a file named `{stem}`", stated.name),
                    &format!("name the file `{}.json`", stated.name),
                );
                return None;
            }
            _ => stem.to_owned(),
        };
        let inner = literal.value.as_ref();
        let checked = check_policy(inner);
        let offsets = literal_offsets(text, Span::new(literal.range.start, literal.range.end));
        for diagnostic in checked.diagnostics {
            self.diagnostics.push(diagnostic.map_spans(|inner_span| {
                let at = |offset: usize| offsets.get(offset).copied().unwrap_or(literal.range.end);
                Span::new(at(inner_span.start), at(inner_span.end).max(at(inner_span.start)))
            }));
        }
        let policy = checked.policy?;
        Some(Entry::Policy { policy: NamedPolicy { name, policy }, span })
    }

    fn thing_group(&mut self, stem: &str, object: &Object<'_>) -> Option<Entry> {
        let (group, span) = self.named(object, "thingGroupName", stem, "thing group")?;
        let parent = object
            .get_object("thingGroupMetadata")
            .and_then(|metadata| self.optional_string(metadata, "parentGroupName"));
        let things = self.names(object, "things", "list the member things' names");
        Some(Entry::ThingGroup { group, parent, things, span })
    }

    /// An optional array of strings.
    fn names(&mut self, object: &Object<'_>, key: &str, help: &str) -> Vec<Reference> {
        let mut found = Vec::new();
        match object.get(key).map(|prop| &prop.value) {
            None | Some(Value::NullKeyword(_)) => {}
            Some(Value::Array(items)) => {
                for item in &items.elements {
                    match item {
                        Value::StringLit(text) => found.push(Reference {
                            name: text.value.clone().into_owned(),
                            span: Span::new(text.range.start, text.range.end),
                        }),
                        other => self.invalid(range_of(other), &format!("`{key}` must hold strings"), help),
                    }
                }
            }
            Some(other) => self.invalid(range_of(other), &format!("`{key}` must be an array"), help),
        }
        found
    }

    /// `list-thing-principals`' `{"principals": [arn]}` or `-v2`'s
    /// `{"thingPrincipalObjects": [{"principal", "thingPrincipalType"}]}`.
    fn thing_principals(&mut self, stem: &str, object: &Object<'_>) -> Option<Entry> {
        let span = Span::new(object.range.start, object.range.start + 1);
        let mut principals: Vec<(Reference, Association)> = self
            .names(object, "principals", "list certificate ARNs, as list-thing-principals prints")
            .into_iter()
            .map(|principal| (principal, Association::NonExclusive))
            .collect();
        if let Some(objects) = object.get_array("thingPrincipalObjects") {
            for item in &objects.elements {
                let Value::Object(item) = item else {
                    self.invalid(range_of(item), "each entry must be an object", "write `{\"principal\": arn}`");
                    continue;
                };
                let Some(principal) = self.string(item, "principal", "the certificate's ARN") else { continue };
                let association = match self.optional_string(item, "thingPrincipalType") {
                    None => Association::NonExclusive,
                    Some(kind) if kind.name == "NON_EXCLUSIVE_THING" => Association::NonExclusive,
                    Some(kind) if kind.name == "EXCLUSIVE_THING" => Association::Exclusive,
                    Some(kind) => {
                        self.invalid(
                            kind.span,
                            &format!("unknown thingPrincipalType `{}`", kind.name),
                            "EXCLUSIVE_THING or NON_EXCLUSIVE_THING",
                        );
                        continue;
                    }
                };
                principals.push((principal, association));
            }
        } else if object.get("principals").is_none() {
            self.invalid(
                span,
                "neither `principals` nor `thingPrincipalObjects`",
                "write the output of `aws iot list-thing-principals --thing-name <thing>`",
            );
            return None;
        }
        Some(Entry::ThingPrincipals { thing: stem.to_owned(), principals, span })
    }

    /// `list-attached-policies`' `{"policies": [{"policyName", "policyArn"}]}`.
    fn attached_policies(&mut self, stem: &str, object: &Object<'_>) -> Option<Entry> {
        let span = Span::new(object.range.start, object.range.start + 1);
        let Some(items) = object.get_array("policies") else {
            self.invalid(
                span,
                "missing `policies`",
                "write the output of `aws iot list-attached-policies --target <certificate ARN>`",
            );
            return None;
        };
        let mut policies = Vec::new();
        for item in &items.elements {
            match item {
                Value::Object(item) => {
                    if let Some(name) = self.string(item, "policyName", "the attached policy's name") {
                        policies.push(name);
                    }
                }
                Value::StringLit(name) => policies.push(Reference {
                    name: name.value.clone().into_owned(),
                    span: Span::new(name.range.start, name.range.end),
                }),
                other => {
                    self.invalid(range_of(other), "each policy must be an object", "write `{\"policyName\": name}`")
                }
            }
        }
        Some(Entry::AttachedPolicies { target: stem.to_owned(), policies, span })
    }
}

/// For each byte of the decoded JSON string literal at `literal` in `text`, the offset of the
/// source byte it came from, plus one entry for the end. Escapes map every byte they produce
/// to the backslash.
fn literal_offsets(text: &str, literal: Span) -> Vec<usize> {
    let mut offsets = Vec::new();
    let Some(raw) = text.get(literal.start..literal.end) else { return offsets };
    let inner_start = literal.start + 1;
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
    let mut chars = inner.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let source = inner_start + at;
        if c != '\\' {
            offsets.extend(std::iter::repeat_n(source, c.len_utf8()));
            continue;
        }
        let decoded_len = match chars.next() {
            Some((_, 'u')) => {
                let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                let unit = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&unit) {
                    // A surrogate pair is one character of four bytes, written as two escapes.
                    for _ in 0..6 {
                        chars.next();
                    }
                    4
                } else {
                    char::from_u32(unit).map_or(3, char::len_utf8)
                }
            }
            Some(_) => 1,
            None => 0,
        };
        offsets.extend(std::iter::repeat_n(source, decoded_len));
    }
    offsets.push(literal.end.saturating_sub(1));
    offsets
}
