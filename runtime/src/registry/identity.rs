//! Who a connection is, as AWS IoT Core resolves it at CONNECT: the certificate (registered and
//! ACTIVE), the thing (the one the certificate is attached to exclusively, else the attached
//! thing the client id names), and the policies that apply (the certificate's, then those of
//! the thing's groups and their ancestors). Pure: the endpoint calls it for each CONNECT and
//! again after a registry reload.

use std::collections::BTreeSet;

use iotrules_compiler::policy::eval::Context;

use super::{Association, Certificate, NamedPolicy, Registry, Status, Thing};

/// A resolved connection.
#[derive(Clone, Debug)]
pub(crate) struct Identity<'r> {
    pub(crate) certificate: &'r Certificate,
    /// The thing whose variables the policies see.
    pub(crate) thing: Option<&'r Thing>,
    /// `iot:Connection.Thing.IsAttached`: a thing resolved for this connection is attached to
    /// its certificate.
    pub(crate) is_attached: bool,
    /// Each applicable policy once, the certificate's first.
    pub(crate) policies: Vec<&'r NamedPolicy>,
}

/// Why a certificate cannot connect at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not in the registry.
    Unregistered,
    /// Registered, but not ACTIVE.
    NotActive(Status),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unregistered => f.write_str("certificate not registered"),
            Refusal::NotActive(status) => write!(f, "certificate is {}", status.as_str()),
        }
    }
}

/// What the connection itself says, beyond its certificate.
#[derive(Clone, Debug, Default)]
pub(crate) struct Connection {
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) client_id: String,
    pub(crate) source_ip: Option<String>,
    /// `PersistentConnect`, `LastWill`, as `iot:ConnectAttributes` lists them.
    pub(crate) connect_attributes: Vec<String>,
    pub(crate) last_will_topic: Option<String>,
    /// `aws:CurrentTime`: the endpoint gives the time of the CONNECT, since a connection's
    /// decisions are compiled then.
    pub(crate) current_time: Option<String>,
}

impl Registry {
    /// Resolves the connection of certificate `certificate_id` with `client_id`.
    pub(crate) fn identify(&self, certificate_id: &str, client_id: &str) -> Result<Identity<'_>, Refusal> {
        let certificate = self.certificates.get(certificate_id).ok_or(Refusal::Unregistered)?;
        if certificate.status != Status::Active {
            return Err(Refusal::NotActive(certificate.status));
        }
        let attached: &[(String, Association)] =
            self.thing_principals.get(certificate_id).map_or(&[], |things| things.as_slice());
        // With an exclusive association the thing is known from the certificate alone; otherwise
        // the client id must name an attached thing (the thing policy variables page).
        let thing_name = attached
            .iter()
            .find(|(_, association)| *association == Association::Exclusive)
            .or_else(|| attached.iter().find(|(thing, _)| thing == client_id))
            .map(|(thing, _)| thing.as_str());
        let thing = thing_name.and_then(|name| self.things.get(name));
        let mut names: Vec<&str> =
            self.attached_policies.get(certificate_id).into_iter().flatten().map(String::as_str).collect();
        if let Some(thing) = thing {
            for group in self.groups.values().filter(|group| group.things.contains(&thing.name)) {
                for chain_group in self.group_chain(&group.name) {
                    names.extend(self.attached_policies.get(chain_group).into_iter().flatten().map(String::as_str));
                }
            }
        }
        let mut seen = BTreeSet::new();
        names.retain(|name| seen.insert(*name));
        let policies = names.iter().filter_map(|name| self.policies.get(*name)).collect();
        Ok(Identity { certificate, thing, is_attached: thing.is_some(), policies })
    }
}

impl Identity<'_> {
    /// The policy evaluation context of this identity on `connection`.
    pub(crate) fn context(&self, connection: &Connection) -> Context {
        let mut context = Context {
            region: connection.region.clone(),
            account: connection.account.clone(),
            client_id: Some(connection.client_id.clone()),
            is_attached: Some(self.is_attached),
            certificate_id: Some(self.certificate.id.clone()),
            serial_number: Some(self.certificate.fields.serial_number.clone()),
            subject: self.certificate.fields.subject.clone(),
            issuer: self.certificate.fields.issuer.clone(),
            source_ip: connection.source_ip.clone(),
            connect_attributes: connection.connect_attributes.clone(),
            last_will_topic: connection.last_will_topic.clone(),
            current_time: connection.current_time.clone(),
            ..Context::default()
        };
        if let Some(thing) = self.thing {
            context.thing_name = Some(thing.name.clone());
            context.thing_type_name = thing.type_name.clone();
            context.thing_attributes = thing.attributes.clone();
        }
        context
    }

    /// The applicable policies' documents, in order.
    pub(crate) fn documents(&self) -> Vec<iotrules_compiler::policy::Policy> {
        self.policies.iter().map(|named| named.policy.clone()).collect()
    }
}
