//! The device endpoint's [`Gate`]: every packet the broker receives or delivers is decided by
//! the connection's policies ([`Authorizer`]). iotrules' own clients (the rules engine, the
//! shadow service) present a username made fresh at each start, which no device can guess,
//! and pass.

use std::sync::Arc;

use super::authorization::{Action, Authorizer, ConnectFacts};
use crate::broker::{CLIENT_ID_PROPERTY, Client, Gate, PRINCIPAL_PROPERTY, SOURCE_IP_PROPERTY, Verdict};

pub(crate) struct EndpointGate {
    pub(crate) authorizer: Arc<Authorizer>,
    /// The username iotrules' own clients connect with.
    pub(crate) internal: String,
}

fn verdict(allowed: bool) -> Verdict {
    if allowed { Verdict::Allow } else { Verdict::Deny }
}

impl EndpointGate {
    fn internal(&self, client: &Client) -> bool {
        client.username.as_deref() == Some(self.internal.as_str()) && client.remote.ip().is_loopback()
    }
}

impl Gate for EndpointGate {
    fn connect(&self, client: &Client) -> Verdict {
        if self.internal(client) {
            return Verdict::Allow;
        }
        let facts = ConnectFacts {
            client_id: client.client_id.clone(),
            persistent: !client.clean_start || client.session_expiry.is_some_and(|seconds| seconds > 0),
            will: client.will.as_ref().map(|will| (will.topic.clone(), will.retain)),
        };
        verdict(self.authorizer.connect(client.remote, &facts).allowed)
    }

    fn subscribe(&self, client: &Client, filter: &str) -> Verdict {
        verdict(self.internal(client) || self.authorizer.check(&client.remote, Action::Subscribe, filter))
    }

    fn publish(&self, client: &Client, topic: &str, retain: bool) -> Verdict {
        if self.internal(client) {
            return Verdict::Allow;
        }
        // AWS does not retain messages on reserved (`$`) topics.
        if retain && topic.starts_with('$') {
            return Verdict::Deny;
        }
        let allowed = self.authorizer.check(&client.remote, Action::Publish, topic)
            && (!retain || self.authorizer.check(&client.remote, Action::RetainPublish, topic));
        verdict(allowed)
    }

    fn receive(&self, client: &Client, topic: &str) -> Verdict {
        verdict(self.internal(client) || self.authorizer.check(&client.remote, Action::Receive, topic))
    }

    fn disconnected(&self, client: &Client) {
        self.authorizer.disconnected(&client.remote);
    }

    fn identity(&self, client: &Client) -> Option<Vec<(String, String)>> {
        let session = self.authorizer.session(&client.remote)?;
        Some(vec![
            (CLIENT_ID_PROPERTY.to_owned(), session.client_id.clone()),
            (PRINCIPAL_PROPERTY.to_owned(), session.certificate_id.clone()),
            (SOURCE_IP_PROPERTY.to_owned(), session.source_ip.clone()),
        ])
    }

    fn sees_identity(&self, client: &Client) -> bool {
        self.internal(client)
    }
}
