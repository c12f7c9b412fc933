//! The device endpoint's [`Gate`]: every packet the broker receives or delivers is decided by
//! the connection's policies ([`Authorizer`]). iotrules' own clients (the rules engine, the
//! shadow service) present a username made fresh at each start, which no device can guess,
//! and pass.

use std::sync::Arc;

use super::authorization::{Action, Authorizer, ConnectFacts};
use crate::broker::{Client, Gate, Protocol, Verdict};
use crate::cli::Mqtt311Refusal;

pub(crate) struct EndpointGate {
    pub(crate) authorizer: Arc<Authorizer>,
    /// The username iotrules' own clients connect with.
    pub(crate) internal: String,
    /// What an MQTT 3.1.1 device is told when its CONNECT or a SUBSCRIBE filter is refused.
    pub(crate) mqtt311_refusal: Mqtt311Refusal,
}

fn verdict(allowed: bool) -> Verdict {
    if allowed { Verdict::Allow } else { Verdict::Deny }
}

impl EndpointGate {
    fn internal(&self, client: &Client) -> bool {
        client.username.as_deref() == Some(self.internal.as_str()) && client.remote.ip().is_loopback()
    }

    /// A refused CONNECT or SUBSCRIBE: with `close`, an MQTT 3.1.1 connection is closed before
    /// the broker's answer can reach it.
    fn refused(&self, client: &Client) -> Verdict {
        if client.protocol == Protocol::V3_1_1 && self.mqtt311_refusal == Mqtt311Refusal::Close {
            self.authorizer.close(&client.remote);
        }
        Verdict::Deny
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
        if self.authorizer.connect(client.remote, &facts).allowed { Verdict::Allow } else { self.refused(client) }
    }

    fn subscribe(&self, client: &Client, filter: &str) -> Verdict {
        if self.internal(client) || self.authorizer.check(&client.remote, Action::Subscribe, filter) {
            Verdict::Allow
        } else {
            self.refused(client)
        }
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
        Some(self.authorizer.session(&client.remote)?.identity_properties())
    }

    fn sees_identity(&self, client: &Client) -> bool {
        self.internal(client)
    }
}
