//! The device registry: things, certificates, policies, thing groups and how they are
//! attached, read from a directory of files in the shapes the AWS CLI prints, so a fleet
//! exported from an account (or written by hand) reads as it is.
//!
//! ```text
//! things/<thing>.json               aws iot describe-thing
//! certificates/<name>.pem           the certificate; ACTIVE unless <name>.json says otherwise
//! certificates/<name>.json          aws iot describe-certificate (certificatePem inside or beside)
//! policies/<policy>.json            aws iot get-policy, or the policy document itself
//! thing-groups/<group>.json         aws iot describe-thing-group, plus the `things` that
//!                                   aws iot list-things-in-thing-group prints
//! thing-principals/<thing>.json     aws iot list-thing-principals (or -v2, for EXCLUSIVE_THING)
//! attached-policies/<target>.json   aws iot list-attached-policies, for a certificate (its id or
//!                                   file name) or a thing group
//! ```
//!
//! Reading is split in two: [`files`] turns each file's text into entries and diagnostics
//! (pure), and [`Registry::build`] links them, reporting what does not fit together. Only
//! [`load`] touches the file system. [`identity`] answers who a connection is.

pub(crate) mod certificate;
mod files;
pub(crate) mod identity;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use iotrules_compiler::diagnostics::{Code, Diagnostic, Severity};
use iotrules_compiler::policy::{Effect, Policy};
use iotrules_compiler::span::Span;

pub(crate) use certificate::{Certificate, Status};
use files::{Entry, Reference};

use crate::inputs::{self, Contents};
use crate::report::InputReport;

/// AWS's limit on the policies attached to one certificate or thing group.
pub(crate) const MAX_ATTACHED_POLICIES: usize = 10;

/// The folders of a registry directory, and what each holds.
pub(crate) const FOLDERS: &[(&str, Kind)] = &[
    ("things", Kind::Thing),
    ("certificates", Kind::Certificate),
    ("policies", Kind::Policy),
    ("thing-groups", Kind::ThingGroup),
    ("thing-principals", Kind::ThingPrincipals),
    ("attached-policies", Kind::AttachedPolicies),
];

/// What a registry file holds, told by its folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Thing,
    Certificate,
    Policy,
    ThingGroup,
    ThingPrincipals,
    AttachedPolicies,
}

/// A thing, as `describe-thing` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Thing {
    pub(crate) name: String,
    pub(crate) type_name: Option<String>,
    pub(crate) attributes: BTreeMap<String, String>,
}

/// A static thing group: its parent and its member things.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThingGroup {
    pub(crate) name: String,
    pub(crate) parent: Option<String>,
    pub(crate) things: Vec<String>,
}

/// How a certificate is attached to a thing (`AttachThingPrincipal`'s `thingPrincipalType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Association {
    /// The default: the certificate may be attached to other things too, and a connection's
    /// thing is the one its client id names.
    NonExclusive,
    /// The thing is the only one attached to the certificate, and is the connection's thing
    /// whatever the client id.
    Exclusive,
}

/// A policy by name, checked.
#[derive(Clone, Debug)]
pub(crate) struct NamedPolicy {
    pub(crate) name: String,
    pub(crate) policy: Policy,
}

/// A linked registry: every reference resolves.
#[derive(Clone, Debug, Default)]
pub(crate) struct Registry {
    pub(crate) things: BTreeMap<String, Thing>,
    /// By certificate id.
    pub(crate) certificates: BTreeMap<String, Certificate>,
    pub(crate) policies: BTreeMap<String, NamedPolicy>,
    pub(crate) groups: BTreeMap<String, ThingGroup>,
    /// Certificate id → the things it is attached to.
    pub(crate) thing_principals: BTreeMap<String, Vec<(String, Association)>>,
    /// Certificate id or thing group name → the names of its policies, in attachment order.
    pub(crate) attached_policies: BTreeMap<String, Vec<String>>,
}

/// A registry read from a directory, with a report per file read.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) registry: Registry,
    pub(crate) reports: Vec<InputReport>,
}

impl Loaded {
    pub(crate) fn has_errors(&self) -> bool {
        self.error_reports().next().is_some()
    }

    /// The reports of the files that hold an error, as callers print them before refusing the
    /// registry.
    pub(crate) fn error_reports(&self) -> impl Iterator<Item = &InputReport> {
        self.reports
            .iter()
            .filter(|report| report.diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error))
    }
}

/// One file's text, for [`Registry::build`].
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) kind: Kind,
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    /// Bytes before `text` in the file (a byte order mark).
    pub(crate) offset: usize,
}

/// Reads the registry in `dir`. A file that cannot be read is reported as its own input; a
/// folder that does not exist holds nothing.
pub(crate) fn load(dir: &Path) -> Result<Loaded, String> {
    if !dir.is_dir() {
        return Err(format!("`{}` is not a registry directory", dir.display()));
    }
    let mut sources = Vec::new();
    let mut unreadable = Vec::new();
    for (folder, kind) in FOLDERS {
        let folder = dir.join(folder);
        if !folder.is_dir() {
            continue;
        }
        let extensions: &[&str] = if *kind == Kind::Certificate { &["pem", "json"] } else { &["json"] };
        let listing = inputs::list(std::slice::from_ref(&folder), extensions)
            .map_err(|error| format!("cannot read `{}`: {error}", folder.display()))?;
        for path in listing.files {
            match inputs::read(&path) {
                Ok(Contents::Text { text, bom }) => {
                    sources.push(Source { kind: *kind, path, text, offset: inputs::bom_len(bom) })
                }
                Ok(Contents::NotUtf8 { .. }) => unreadable.push(format!("`{}` is not UTF-8", path.display())),
                Err(error) => unreadable.push(format!("cannot read `{}`: {error}", path.display())),
            }
        }
    }
    if let Some(first) = unreadable.first() {
        return Err(first.clone());
    }
    Ok(Registry::build(&sources))
}

/// Where a name was written: the file (an index into the reports) and the span in it.
#[derive(Clone, Copy, Debug)]
struct Place {
    file: usize,
    span: Span,
}

impl Registry {
    /// Reads every file and links the entries. Each diagnostic lands in the report of the file
    /// where the problem is written.
    pub(crate) fn build(sources: &[Source]) -> Loaded {
        let mut reports: Vec<InputReport> = sources
            .iter()
            .map(|source| InputReport {
                name: source.path.display().to_string(),
                source: source.text.clone(),
                offset: source.offset,
                diagnostics: Vec::new(),
                description: describe(source.kind).to_owned(),
            })
            .collect();
        // A certificate's `.pem` beside its `describe-certificate` `.json` is read as part of it.
        let stem_of = |source: &Source| source.path.file_stem().map(|stem| stem.to_string_lossy().into_owned());
        let is_pem = |source: &Source| source.path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("pem"));
        let described: BTreeSet<String> = sources
            .iter()
            .filter(|source| source.kind == Kind::Certificate && !is_pem(source))
            .filter_map(stem_of)
            .collect();
        let pems: BTreeMap<String, &str> = sources
            .iter()
            .filter(|source| source.kind == Kind::Certificate && is_pem(source))
            .filter_map(|source| Some((stem_of(source)?, source.text.as_str())))
            .collect();
        let mut entries = Vec::new();
        for (file, source) in sources.iter().enumerate() {
            let stem = stem_of(source).unwrap_or_default();
            let companion = source.kind == Kind::Certificate && is_pem(source) && described.contains(&stem);
            if companion {
                if let Some(report) = reports.get_mut(file) {
                    report.description = format!("registry certificate, read with `{stem}.json`");
                }
                continue;
            }
            let pem = if source.kind == Kind::Certificate { pems.get(&stem).copied() } else { None };
            let (found, diagnostics) = files::read(source.kind, &stem, &source.text, pem);
            if let Some(report) = reports.get_mut(file) {
                report.diagnostics.extend(diagnostics);
            }
            entries.extend(found.into_iter().map(|entry| (file, entry)));
        }
        let mut linker = Linker {
            reports: &mut reports,
            registry: Registry::default(),
            defined: BTreeMap::new(),
            certificate_stems: BTreeMap::new(),
            thing_principals: Vec::new(),
            attached: Vec::new(),
            group_members: Vec::new(),
            group_parents: Vec::new(),
        };
        linker.collect(entries);
        linker.link();
        linker.lint();
        let registry = linker.registry;
        Loaded { registry, reports }
    }

    /// The names of the groups `group` is in, itself first, then its ancestors.
    pub(crate) fn group_chain(&self, group: &str) -> Vec<&str> {
        let mut chain = Vec::new();
        let mut current = self.groups.get(group);
        while let Some(found) = current {
            if chain.contains(&found.name.as_str()) {
                break;
            }
            chain.push(found.name.as_str());
            current = found.parent.as_deref().and_then(|parent| self.groups.get(parent));
        }
        chain
    }
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Thing => "registry thing",
        Kind::Certificate => "registry certificate",
        Kind::Policy => "registry policy",
        Kind::ThingGroup => "registry thing group",
        Kind::ThingPrincipals => "registry thing principals",
        Kind::AttachedPolicies => "registry attached policies",
    }
}

/// The certificates a `thing-principals` file attaches, and how.
type Principals = Vec<(Reference, Association)>;

/// Links entries into a [`Registry`], reporting into the file each problem is written in.
struct Linker<'r> {
    reports: &'r mut Vec<InputReport>,
    registry: Registry,
    /// Where each entry was defined, for "defined twice" and for lints about it.
    defined: BTreeMap<(Kind, String), Place>,
    /// Certificate file stems → ids, so attachments may name a certificate by file name.
    certificate_stems: BTreeMap<String, String>,
    thing_principals: Vec<(Place, String, Principals)>,
    attached: Vec<(Place, String, Vec<Reference>)>,
    group_members: Vec<(String, Vec<Reference>)>,
    group_parents: Vec<(String, Reference)>,
}

impl Linker<'_> {
    fn report(&mut self, file: usize, diagnostic: Diagnostic) {
        if let Some(report) = self.reports.get_mut(file) {
            report.diagnostics.push(diagnostic);
        }
    }

    fn define(&mut self, kind: Kind, name: &str, place: Place) -> bool {
        if let Some(first) = self.defined.get(&(kind, name.to_owned())).copied() {
            let what = match kind {
                Kind::Certificate => "certificate",
                Kind::Thing => "thing",
                Kind::Policy => "policy",
                _ => "thing group",
            };
            let elsewhere = self.reports.get(first.file).map(|report| report.name.clone()).unwrap_or_default();
            self.report(
                place.file,
                Diagnostic::error(Code::RegistryDuplicate, place.span, format!("{what} `{name}` is defined twice"))
                    .with_label("defined again here")
                    .with_help(format!("it is already defined in `{elsewhere}`; keep one of them")),
            );
            return false;
        }
        self.defined.insert((kind, name.to_owned()), place);
        true
    }

    fn collect(&mut self, entries: Vec<(usize, Entry)>) {
        for (file, entry) in entries {
            match entry {
                Entry::Thing { thing, span } => {
                    if self.define(Kind::Thing, &thing.name, Place { file, span }) {
                        self.registry.things.insert(thing.name.clone(), thing);
                    }
                }
                Entry::Certificate { certificate, stem, span } => {
                    let id = certificate.id.clone();
                    if self.define(Kind::Certificate, &id, Place { file, span }) {
                        self.certificate_stems.insert(stem, id.clone());
                        self.registry.certificates.insert(id, certificate);
                    }
                }
                Entry::Policy { policy, span } => {
                    if self.define(Kind::Policy, &policy.name, Place { file, span }) {
                        self.registry.policies.insert(policy.name.clone(), policy);
                    }
                }
                Entry::ThingGroup { group, parent, things, span } => {
                    if self.define(Kind::ThingGroup, &group, Place { file, span }) {
                        self.registry.groups.insert(
                            group.clone(),
                            ThingGroup { name: group.clone(), parent: None, things: Vec::new() },
                        );
                        self.group_members.push((group.clone(), things));
                        if let Some(parent) = parent {
                            self.group_parents.push((group, parent));
                        }
                    }
                }
                Entry::ThingPrincipals { thing, principals, span } => {
                    self.thing_principals.push((Place { file, span }, thing, principals));
                }
                Entry::AttachedPolicies { target, policies, span } => {
                    self.attached.push((Place { file, span }, target, policies));
                }
            }
        }
    }

    /// Resolves a certificate named by id, ARN or file stem.
    fn certificate_id(&self, name: &str) -> Option<String> {
        let id = name.rsplit_once(":cert/").map_or(name, |(_, id)| id);
        if self.registry.certificates.contains_key(id) {
            return Some(id.to_owned());
        }
        self.certificate_stems.get(name).cloned()
    }

    fn dangling(&mut self, file: usize, reference: &Reference, what: &str, help: &str) {
        self.report(
            file,
            Diagnostic::error(
                Code::RegistryDanglingReference,
                reference.span,
                format!("no {what} `{}` in the registry", shown(&reference.name)),
            )
            .with_label(format!("unknown {what}"))
            .with_help(help.to_owned()),
        );
    }

    fn link(&mut self) {
        for (group, parent) in std::mem::take(&mut self.group_parents) {
            let file = self.defined.get(&(Kind::ThingGroup, group.clone())).map_or(0, |place| place.file);
            if self.registry.groups.contains_key(&parent.name) {
                if let Some(entry) = self.registry.groups.get_mut(&group) {
                    entry.parent = Some(parent.name.clone());
                }
            } else {
                self.dangling(file, &parent, "thing group", "add the parent group's file to thing-groups/");
            }
        }
        for (group, members) in std::mem::take(&mut self.group_members) {
            let file = self.defined.get(&(Kind::ThingGroup, group.clone())).map_or(0, |place| place.file);
            for member in members {
                if !self.registry.things.contains_key(&member.name) {
                    self.dangling(
                        file,
                        &member,
                        "thing",
                        "add the thing's file to things/, or remove it from the group",
                    );
                } else if let Some(entry) = self.registry.groups.get_mut(&group) {
                    entry.things.push(member.name);
                }
            }
        }
        for (place, thing, principals) in std::mem::take(&mut self.thing_principals) {
            if !self.registry.things.contains_key(&thing) {
                let reference = Reference { name: thing, span: place.span };
                self.dangling(place.file, &reference, "thing", "the file name names the thing; add it to things/");
                continue;
            }
            for (principal, association) in principals {
                let Some(id) = self.certificate_id(&principal.name) else {
                    self.dangling(
                        place.file,
                        &principal,
                        "certificate",
                        "name a certificate by its ARN, its id or its file name in certificates/",
                    );
                    continue;
                };
                self.registry.thing_principals.entry(id).or_default().push((thing.clone(), association));
            }
        }
        for (place, target, policies) in std::mem::take(&mut self.attached) {
            let key = match self.certificate_id(&target) {
                Some(id) => id,
                None if self.registry.groups.contains_key(&target) => target,
                None => {
                    let reference = Reference { name: target, span: place.span };
                    self.dangling(
                        place.file,
                        &reference,
                        "certificate or thing group",
                        "the file name names the target: a certificate's id or file name, or a thing group",
                    );
                    continue;
                }
            };
            let mut names = Vec::new();
            for policy in policies {
                if self.registry.policies.contains_key(&policy.name) {
                    names.push(policy.name);
                } else {
                    self.dangling(place.file, &policy, "policy", "add the policy's file to policies/");
                }
            }
            let all = self.registry.attached_policies.entry(key.clone()).or_default();
            all.extend(names);
            if all.len() > MAX_ATTACHED_POLICIES {
                let count = all.len();
                self.report(
                    place.file,
                    Diagnostic::error(
                        Code::RegistryTooManyPolicies,
                        place.span,
                        format!("{count} policies attached to `{}`, more than {MAX_ATTACHED_POLICIES}", shown(&key)),
                    )
                    .with_label("too many policies")
                    .with_help("AWS attaches at most 10 policies to a certificate or thing group; merge some"),
                );
            }
        }
        self.exclusive_conflicts();
    }

    /// A certificate attached to a thing exclusively may not be attached to any other.
    fn exclusive_conflicts(&mut self) {
        let conflicts: Vec<(String, String, usize)> = self
            .registry
            .thing_principals
            .iter()
            .filter_map(|(id, things)| {
                let exclusive = things.iter().find(|(_, association)| *association == Association::Exclusive)?;
                let distinct: BTreeSet<&str> = things.iter().map(|(thing, _)| thing.as_str()).collect();
                (distinct.len() > 1).then(|| (id.clone(), exclusive.0.clone(), distinct.len()))
            })
            .collect();
        for (id, thing, count) in conflicts {
            let place = self.defined.get(&(Kind::Certificate, id.clone())).copied();
            let Some(place) = place else { continue };
            self.report(
                place.file,
                Diagnostic::error(
                    Code::RegistryExclusiveConflict,
                    place.span,
                    format!("certificate is attached exclusively to `{thing}` and to {} other things", count - 1),
                )
                .with_label("this certificate")
                .with_help("an EXCLUSIVE_THING attachment must be the certificate's only one; detach the others"),
            );
        }
    }

    /// What links but cannot work: active certificates without policies, policies that grant
    /// nothing.
    fn lint(&mut self) {
        let mut findings = Vec::new();
        for (id, certificate) in &self.registry.certificates {
            if certificate.status != Status::Active {
                continue;
            }
            let direct = self.registry.attached_policies.get(id).is_some_and(|names| !names.is_empty());
            let through_groups = self.registry.thing_principals.get(id).is_some_and(|things| {
                things.iter().any(|(thing, _)| {
                    self.registry.groups.values().filter(|group| group.things.contains(thing)).any(|group| {
                        self.registry.group_chain(&group.name).iter().any(|name| {
                            self.registry.attached_policies.get(*name).is_some_and(|names| !names.is_empty())
                        })
                    })
                })
            });
            if !direct
                && !through_groups
                && let Some(place) = self.defined.get(&(Kind::Certificate, id.clone()))
            {
                findings.push((
                    place.file,
                    Diagnostic::warning(
                        Code::RegistryCertificateWithoutPolicies,
                        place.span,
                        "active certificate has no policy attached, so every connection with it is refused",
                    )
                    .with_label("no policy")
                    .with_help(format!("add attached-policies/{}.json listing its policies", short_id(id))),
                ));
            }
        }
        for (name, policy) in &self.registry.policies {
            let allows = policy.policy.statements.iter().any(|statement| statement.effect == Effect::Allow);
            if !allows && let Some(place) = self.defined.get(&(Kind::Policy, name.clone())) {
                findings.push((
                    place.file,
                    Diagnostic::warning(
                        Code::RegistryPolicyAllowsNothing,
                        place.span,
                        format!("policy `{name}` has no Allow statement, so it grants nothing"),
                    )
                    .with_label("only Deny statements")
                    .with_help("a Deny only takes away what another policy allows; add the Allow it is meant to limit"),
                ));
            }
        }
        for (file, diagnostic) in findings {
            self.report(file, diagnostic);
        }
    }
}

/// A name for a message: long names are cut.
fn shown(name: &str) -> String {
    const SHOWN: usize = 80;
    match name.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", name.get(..cut).unwrap_or_default()),
        None => name.to_owned(),
    }
}

/// The first characters of a certificate id, as the AWS console shows it.
fn short_id(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}
