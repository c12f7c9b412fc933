//! Packet-by-packet authorization, as AWS IoT Core does it: at CONNECT the connection is
//! resolved in the registry and its policies compiled into native decision functions for that
//! connection (`CompiledPolicies`); every later packet costs one resource match. Each denial
//! is logged with the policies and statements that decided, and counted.
//!
//! Decisions (AWS documents the actions; where it is silent the choice is named here):
//! - CONNECT: `iot:Connect` on `client/<clientId>`. A last will needs `iot:Publish` on its topic
//!   (and `iot:RetainPublish` when retained) at CONNECT, so a will that could never be
//!   published refuses the connection rather than vanishing later.
//! - PUBLISH: `iot:Publish` on `topic/<topic>`; a retained publish also `iot:RetainPublish`.
//! - SUBSCRIBE: `iot:Subscribe` on `topicfilter/<filter>`, per filter.
//! - every delivery: `iot:Receive` on `topic/<topic>`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use iotrules_compiler::policy::compiled::CompiledPolicies;
use iotrules_compiler::policy::eval::{Authorization, Decision, Request};

use super::SharedRegistry;
use super::tls::Peers;
use crate::registry::Registry;
use crate::registry::identity::Connection;

/// `iotrules_authorization_denied_total{action}`: requests refused by the policies.
pub(crate) const DENIED: &str = "iotrules_authorization_denied_total";

/// The IoT actions a device's packets ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Connect,
    Publish,
    RetainPublish,
    Subscribe,
    Receive,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish => "iot:Publish",
            Action::RetainPublish => "iot:RetainPublish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
        }
    }

    /// The ARN resource type the action is checked against.
    fn resource_type(self) -> &'static str {
        match self {
            Action::Connect => "client",
            Action::Subscribe => "topicfilter",
            Action::Publish | Action::RetainPublish | Action::Receive => "topic",
        }
    }
}

/// What CONNECT says about a connection, beyond its certificate.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectFacts {
    pub(crate) client_id: String,
    /// A session that outlives the connection (clean session 0, or a session expiry interval).
    pub(crate) persistent: bool,
    pub(crate) will: Option<(String, bool)>,
}

/// One connection's identity and compiled decisions.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: String,
    facts: ConnectFacts,
    pub(crate) certificate_id: String,
    pub(crate) thing: Option<String>,
    pub(crate) source_ip: String,
    policy_names: Vec<String>,
    sids: Vec<Vec<Option<String>>>,
    compiled: CompiledPolicies,
    arn_prefix: String,
}

/// A decision and, for the log, what made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    pub(crate) allowed: bool,
    pub(crate) because: String,
}

impl Session {
    /// Resolves the connection of `certificate_id` from `device` in `registry` and compiles its
    /// policies; `Err` says why the connection cannot be made at all.
    pub(crate) fn open(
        registry: &Registry,
        account: &Connection,
        certificate_id: &str,
        device: SocketAddr,
        facts: &ConnectFacts,
    ) -> Result<Session, String> {
        let identity = registry.identify(certificate_id, &facts.client_id).map_err(|refusal| refusal.to_string())?;
        let mut connect_attributes = Vec::new();
        if facts.persistent {
            connect_attributes.push("PersistentConnect".to_owned());
        }
        if facts.will.is_some() {
            connect_attributes.push("LastWill".to_owned());
        }
        let connection = Connection {
            client_id: facts.client_id.clone(),
            source_ip: Some(device.ip().to_string()),
            connect_attributes,
            last_will_topic: facts.will.as_ref().map(|(topic, _)| topic.clone()),
            current_time: Some(now_epoch_seconds()),
            ..account.clone()
        };
        let context = identity.context(&connection);
        let documents = identity.documents();
        let compiled = CompiledPolicies::compile(&documents, &context)
            .map_err(|error| format!("cannot compile the policies: {error}"))?;
        Ok(Session {
            client_id: facts.client_id.clone(),
            facts: facts.clone(),
            certificate_id: certificate_id.to_owned(),
            thing: identity.thing.map(|thing| thing.name.clone()),
            source_ip: device.ip().to_string(),
            policy_names: identity.policies.iter().map(|named| named.name.clone()).collect(),
            sids: documents
                .iter()
                .map(|policy| policy.statements.iter().map(|statement| statement.sid.clone()).collect())
                .collect(),
            compiled,
            arn_prefix: format!("arn:aws:iot:{}:{}:", account.region, account.account),
        })
    }

    /// Decides `action` on the topic, filter or client id `name`.
    pub(crate) fn decide(&self, action: Action, name: &str) -> Decided {
        let resource = format!("{}{}/{name}", self.arn_prefix, action.resource_type());
        let authorization = self.compiled.authorize(&Request { action: action.as_str().to_owned(), resource });
        let allowed = authorization.decision == Decision::Allowed;
        Decided { allowed, because: self.explain(&authorization) }
    }

    fn explain(&self, authorization: &Authorization) -> String {
        let statements = |references: &[iotrules_compiler::policy::eval::StatementRef]| -> String {
            let named: Vec<String> = references
                .iter()
                .map(|reference| {
                    let policy = self.policy_names.get(reference.policy).map_or("?", String::as_str);
                    let sid = self
                        .sids
                        .get(reference.policy)
                        .and_then(|sids| sids.get(reference.statement))
                        .cloned()
                        .flatten();
                    match sid {
                        Some(sid) => format!("{policy} statement {} ({sid})", reference.statement),
                        None => format!("{policy} statement {}", reference.statement),
                    }
                })
                .collect();
            named.join(", ")
        };
        match authorization.decision {
            Decision::Allowed => format!("allowed by {}", statements(&authorization.allowing)),
            Decision::ExplicitDeny => format!("denied by {}", statements(&authorization.denying)),
            Decision::ImplicitDeny if self.policy_names.is_empty() => "no policy is attached".to_owned(),
            Decision::ImplicitDeny => format!("no statement of {} allows it", self.policy_names.join(", ")),
        }
    }
}

/// Every live connection's session, by the address the broker sees for it.
pub(crate) struct Authorizer {
    registry: SharedRegistry,
    peers: Arc<Peers>,
    account: Connection,
    sessions: Mutex<HashMap<SocketAddr, Arc<Session>>>,
}

impl Authorizer {
    pub(crate) fn new(registry: SharedRegistry, peers: Arc<Peers>, region: &str, account: &str) -> Self {
        let account = Connection { region: region.to_owned(), account: account.to_owned(), ..Connection::default() };
        Authorizer { registry, peers, account, sessions: Mutex::new(HashMap::new()) }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides a CONNECT arriving from `forwarded_from`; on success the session is kept for the
    /// connection's later packets.
    pub(crate) fn connect(&self, forwarded_from: SocketAddr, facts: &ConnectFacts) -> Decided {
        let Some(peer) = self.peers.get(&forwarded_from) else {
            return self.denied(Action::Connect, &facts.client_id, "no certificate: not a connection of the TLS front");
        };
        let registry = self.registry.current();
        let session = match Session::open(&registry, &self.account, &peer.certificate_id, peer.device, facts) {
            Ok(session) => session,
            Err(reason) => return self.denied(Action::Connect, &facts.client_id, &reason),
        };
        let mut decided = session.decide(Action::Connect, &facts.client_id);
        if decided.allowed
            && let Some((topic, retain)) = &facts.will
        {
            let will = session.decide(Action::Publish, topic);
            let retained = if *retain { session.decide(Action::RetainPublish, topic) } else { will.clone() };
            if !will.allowed || !retained.allowed {
                let because = if will.allowed { retained.because } else { will.because };
                decided = Decided { allowed: false, because: format!("the last will on `{topic}`: {because}") };
            }
        }
        if decided.allowed {
            tracing::info!(
                client_id = session.client_id,
                thing = session.thing.as_deref().unwrap_or("-"),
                source_ip = session.source_ip,
                policies = session.policy_names.join(","),
                "device connected"
            );
            self.sessions().insert(forwarded_from, Arc::new(session));
        } else {
            log_denial(Action::Connect, &facts.client_id, &peer.certificate_id, &facts.client_id, &decided.because);
        }
        decided
    }

    fn denied(&self, action: Action, client_id: &str, because: &str) -> Decided {
        log_denial(action, client_id, "-", client_id, because);
        Decided { allowed: false, because: because.to_owned() }
    }

    /// Decides a later packet of the connection from `forwarded_from`; a connection without a
    /// session is refused everything.
    pub(crate) fn check(&self, forwarded_from: &SocketAddr, action: Action, name: &str) -> bool {
        let session = self.sessions().get(forwarded_from).cloned();
        let Some(session) = session else {
            log_denial(action, "-", "-", name, "no session");
            return false;
        };
        let decided = session.decide(action, name);
        if !decided.allowed {
            log_denial(action, &session.client_id, &session.certificate_id, name, &decided.because);
        }
        decided.allowed
    }

    pub(crate) fn disconnected(&self, forwarded_from: &SocketAddr) {
        self.sessions().remove(forwarded_from);
    }

    /// Recompiles every live session against the registry as it is now. A connection whose
    /// certificate is no longer ACTIVE, or that cannot be resolved any more, loses its session
    /// and so is refused every later packet; its address is returned so the caller can close it.
    pub(crate) fn reload(&self) -> Vec<SocketAddr> {
        let registry = self.registry.current();
        let live: Vec<(SocketAddr, Arc<Session>)> =
            self.sessions().iter().map(|(address, session)| (*address, Arc::clone(session))).collect();
        let mut closed = Vec::new();
        for (address, session) in live {
            let reopened = self.peers.get(&address).and_then(|peer| {
                Session::open(&registry, &self.account, &session.certificate_id, peer.device, &session.facts).ok()
            });
            match reopened {
                Some(reopened) => {
                    self.sessions().insert(address, Arc::new(reopened));
                }
                None => {
                    self.sessions().remove(&address);
                    closed.push(address);
                }
            }
        }
        closed
    }

    pub(crate) fn session(&self, forwarded_from: &SocketAddr) -> Option<Arc<Session>> {
        self.sessions().get(forwarded_from).cloned()
    }
}

/// Now, in the epoch seconds `aws:CurrentTime` takes.
fn now_epoch_seconds() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
        .to_string()
}

fn log_denial(action: Action, client_id: &str, certificate_id: &str, name: &str, because: &str) {
    metrics::counter!(DENIED, "action" => action.as_str()).increment(1);
    tracing::info!(
        action = action.as_str(),
        client_id,
        certificate = certificate_id.get(..10).unwrap_or(certificate_id),
        resource = name,
        because,
        "denied"
    );
}
