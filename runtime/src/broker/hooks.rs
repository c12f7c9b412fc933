//! rmqtt's hooks, answered by the [`Gate`]: authentication for CONNECT, the subscribe and
//! publish ACL checks, and the message expiry check of every delivery (the one hook that runs
//! for each message to each session, live, retained or queued, and can drop it). The delivery,
//! drop and disconnection hooks also feed [`Redelivery`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, Priority, ReturnType, Type};
use rmqtt::session::Session;
use rmqtt::types::{AuthResult, ConnectInfo, Id, LastWill, Publish, PublishAclResult, SubscribeAclResult};

use super::redelivery::Redelivery;
use super::{Client, Gate, Protocol, Verdict, Will};

/// Before every other handler: no plugin gets to decide first.
const PRIORITY: Priority = Priority::MAX;

/// The hooks the gate answers.
const TYPES: [Type; 9] = [
    Type::ClientAuthenticate,
    Type::MessagePublish,
    Type::ClientSubscribeCheckAcl,
    Type::MessagePublishCheckAcl,
    Type::MessageExpiryCheck,
    Type::MessageDelivered,
    Type::MessageAcked,
    Type::MessageDropped,
    Type::ClientDisconnected,
];

pub(super) async fn register(scx: &ServerContext, gate: Arc<dyn Gate>, exact_retained: bool) {
    let hooks = Hooks { gate, clients: Arc::default(), scx: scx.clone(), redelivery: Arc::default(), exact_retained };
    let register = scx.extends.hook_mgr().register();
    for typ in TYPES {
        register.add_priority(typ, PRIORITY, Box::new(hooks.clone())).await;
    }
    // Handlers do nothing until started.
    register.start().await;
}

/// Every connection the gate let in, as it saw it at CONNECT, by rmqtt's session id (a
/// reconnection is a new session id, so a connection's entry is never replaced by another's).
type Clients = RwLock<HashMap<Id, Arc<Client>>>;

#[derive(Clone)]
struct Hooks {
    gate: Arc<dyn Gate>,
    clients: Arc<Clients>,
    scx: ServerContext,
    redelivery: Arc<Redelivery>,
    /// Deliver a retained message on subscribe only to a filter equal to its topic, and never
    /// to a shared subscription, as AWS IoT Core does.
    exact_retained: bool,
}

#[async_trait]
impl Handler for Hooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(connect) => self.authenticate(connect),
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let filter = match subscribe.opts.shared_group() {
                    Some(group) => format!("$share/{group}/{}", subscribe.topic_filter),
                    None => subscribe.topic_filter.to_string(),
                };
                match self.decide(session, |gate, client| gate.subscribe(client, &filter)) {
                    Verdict::Allow => (true, acc),
                    Verdict::Deny => (
                        false,
                        Some(HookResult::SubscribeAclResult(SubscribeAclResult::new_failure(
                            SubscribeAckReason::NotAuthorized,
                        ))),
                    ),
                }
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let mut protocol = None;
                let verdict = self.decide(session, |gate, client| {
                    protocol = Some(client.protocol);
                    gate.publish(client, &publish.topic, publish.retain)
                });
                match verdict {
                    Verdict::Allow => (true, acc),
                    // MQTT 3.1.1 has no negative PUBACK: AWS IoT Core closes the connection.
                    Verdict::Deny => {
                        let disconnect = protocol != Some(Protocol::V5);
                        (false, Some(HookResult::PublishAclResult(PublishAclResult::rejected(disconnect, None))))
                    }
                }
            }
            Parameter::MessageExpiryCheck(session, _, publish) => {
                if self.exact_retained && publish.retain && !exact_subscription(session, &publish.topic).await {
                    return (false, Some(HookResult::MessageExpiry));
                }
                match self.decide(session, |gate, client| gate.receive(client, &publish.topic)) {
                    // rmqtt goes on to its own expiry check.
                    Verdict::Allow => (true, acc),
                    Verdict::Deny => (false, Some(HookResult::MessageExpiry)),
                }
            }
            // A client's publish carries its identity when the gate gives one.
            Parameter::MessagePublish(Some(session), _, publish) => {
                let client = self.clients.read().unwrap_or_else(PoisonError::into_inner).get(&session.id).cloned();
                let identity = client.and_then(|client| self.gate.identity(&client));
                match stamped(publish, identity) {
                    Some(stamped) => (true, Some(HookResult::Publish(stamped))),
                    None => (true, acc),
                }
            }
            Parameter::MessageDelivered(session, from, publish) => {
                self.redelivery.delivering(session, from, publish);
                let client = self.clients.read().unwrap_or_else(PoisonError::into_inner).get(&session.id).cloned();
                let sees = client.is_some_and(|client| self.gate.sees_identity(&client));
                match (sees, stamped(publish, None)) {
                    (false, Some(stripped)) => (true, Some(HookResult::Publish(stripped))),
                    _ => (true, acc),
                }
            }
            Parameter::MessageAcked(session, _, publish) => {
                self.redelivery.acked(session, publish);
                (true, acc)
            }
            Parameter::MessageDropped(to, from, publish, reason) => {
                tracing::debug!(to = ?to.as_ref().map(|to| to.client_id.to_string()), topic = %publish.topic, ?reason, "rmqtt dropped a message");
                if let Some(to) = to
                    && Redelivery::in_takeover(reason)
                    && self.keeps_session(&to.client_id)
                {
                    Redelivery::after_takeover(&self.scx, to, from, publish);
                }
                (true, acc)
            }
            Parameter::ClientDisconnected(session, _) => {
                let client = self.clients.write().unwrap_or_else(PoisonError::into_inner).remove(&session.id);
                if let Some(client) = client {
                    self.gate.disconnected(&client);
                }
                self.redelivery.disconnected(&self.scx, session).await;
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}

impl Hooks {
    fn authenticate(&self, connect: &ConnectInfo) -> ReturnType {
        let client = client(connect);
        tracing::debug!(
            client_id = client.client_id,
            username = client.username,
            remote = %client.remote,
            protocol = ?client.protocol,
            clean_start = client.clean_start,
            session_expiry = client.session_expiry,
            will_topic = client.will.as_ref().map(|will| will.topic.as_str()),
            will_retain = client.will.as_ref().map(|will| will.retain),
            will_qos = client.will.as_ref().map(|will| will.qos),
            "MQTT client connecting"
        );
        let result = match self.gate.connect(&client) {
            Verdict::Allow => {
                self.clients
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(connect.id().clone(), Arc::new(client));
                // Not a superuser: rmqtt skips the ACL hooks for superusers.
                AuthResult::Allow(false, None)
            }
            Verdict::Deny => AuthResult::NotAuthorized,
        };
        (false, Some(HookResult::AuthResult(result)))
    }

    /// Whether the latest connection of `client_id` kept its session (no clean start).
    fn keeps_session(&self, client_id: &str) -> bool {
        let clients = self.clients.read().unwrap_or_else(PoisonError::into_inner);
        clients
            .iter()
            .filter(|(_, client)| client.client_id == client_id)
            .max_by_key(|(id, _)| id.create_time)
            .is_some_and(|(_, client)| !client.clean_start)
    }

    /// The gate's verdict on the client of `session`; a session the gate never let in (which
    /// rmqtt should not have) is denied everything.
    fn decide(&self, session: &Session, ask: impl FnOnce(&dyn Gate, &Client) -> Verdict) -> Verdict {
        let client = self.clients.read().unwrap_or_else(PoisonError::into_inner).get(&session.id).cloned();
        match client {
            Some(client) => ask(self.gate.as_ref(), &client),
            None => {
                tracing::debug!(client_id = %session.id.client_id, "a session the gate did not let in: denied");
                Verdict::Deny
            }
        }
    }
}

fn client(connect: &ConnectInfo) -> Client {
    let id = connect.id();
    let (protocol, session_expiry) = match connect {
        ConnectInfo::V3(..) => (Protocol::V3_1_1, None),
        ConnectInfo::V5(_, connect) => (Protocol::V5, Some(connect.session_expiry_interval_secs)),
    };
    let will = connect.last_will().map(|will| match will {
        LastWill::V3(will) => Will { topic: will.topic.to_string(), retain: will.retain, qos: will.qos.value() },
        LastWill::V5(will) => Will { topic: will.topic.to_string(), retain: will.retain, qos: will.qos.value() },
    });
    Client {
        client_id: id.client_id.to_string(),
        username: connect.username().map(ToString::to_string),
        // rmqtt always knows the peer of a network connection; the unspecified address stands
        // for one it does not.
        remote: id.remote_addr.unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
        protocol,
        clean_start: connect.clean_start(),
        session_expiry,
        will,
    }
}

/// `publish` with the identity user properties (`IDENTITY_PROPERTIES`) replaced by
/// `identity` (or removed, for `None`); `None` when nothing changes. A device cannot forge
/// them: whatever it sent under those names is dropped.
fn stamped(publish: &Publish, identity: Option<Vec<(String, String)>>) -> Option<Publish> {
    let reserved = |name: &str| super::IDENTITY_PROPERTIES.contains(&name);
    let forged = publish
        .inner
        .properties
        .as_ref()
        .is_some_and(|properties| properties.user_properties.iter().any(|(name, _)| reserved(name)));
    if identity.is_none() && !forged {
        return None;
    }
    let mut changed = publish.clone();
    let properties = changed.inner.properties.get_or_insert_with(Default::default);
    properties.user_properties.retain(|(name, _)| !reserved(name));
    for (name, value) in identity.into_iter().flatten() {
        properties.user_properties.push((name.into(), value.into()));
    }
    Some(changed)
}

/// Whether `session` holds a subscription (not a shared one) whose filter is exactly `topic`.
/// A retained message sent because of a subscription carries the retain flag; AWS IoT Core
/// sends it only to a subscription to exactly its topic.
async fn exact_subscription(session: &Session, topic: &str) -> bool {
    let Ok(subscriptions) = session.subscriptions().await else { return false };
    let subscriptions = subscriptions.read().await;
    subscriptions.iter().any(|(filter, options)| &**filter == topic && options.shared_group().is_none())
}
