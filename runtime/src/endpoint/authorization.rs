//! Packet-by-packet authorization, as AWS IoT Core does it: at CONNECT the connection is
//! resolved in the registry, its policy variables substituted, and every packet decided on
//! that. Each denial is logged with the policies and statements that decided, and counted.
//!
//! Decisions are tiered, as a JIT's are: a new session decides with the reference evaluator
//! (`policy::eval`, about 4 µs a decision) and, once it has made [`COMPILE_AFTER`] decisions,
//! its policies are compiled into native decision functions (`CompiledPolicies`, under 0.1 µs)
//! on the compile thread. Compiling costs about 4 ms, so doing it at CONNECT would cap the
//! endpoint at a few hundred connections a second and make a registry reload recompile every
//! live connection at once; a device that sends a handful of packets never pays for it. Both
//! tiers give the same answer (the compiled functions are tested against the evaluator).
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
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use iotrules_compiler::policy::Policy;
use iotrules_compiler::policy::compiled::CompiledPolicies;
use iotrules_compiler::policy::context::Context;
use iotrules_compiler::policy::eval::{self, Authorization, Decision, Request};

use super::SharedRegistry;
use super::tls::Peers;
use crate::broker::{CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY, SOURCE_IP_PROPERTY};
use crate::registry::Registry;
use crate::registry::identity::Connection;

/// `iotrules_authorization_denied_total{action}`: requests refused by the policies.
pub(crate) const DENIED: &str = "iotrules_authorization_denied_total";

/// Decisions a session makes with the evaluator before its policies are compiled: about
/// 0.25 ms of evaluation, against about 4 ms of compilation.
pub(crate) const COMPILE_AFTER: u32 = 64;

/// Sessions waiting for the compile thread; past this the request is dropped and made again
/// by a later decision, so a reconnect storm cannot queue unbounded work.
const COMPILE_QUEUE: usize = 1024;

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
    policies: Vec<Policy>,
    context: Context,
    /// Set by the compile thread once the session has made [`COMPILE_AFTER`] decisions.
    compiled: OnceLock<CompiledPolicies>,
    /// Decisions made by the evaluator; the one that reaches [`COMPILE_AFTER`] asks for
    /// compilation (a full queue puts the count back so a later decision asks again).
    interpreted: AtomicU32,
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
            policies: documents,
            context,
            compiled: OnceLock::new(),
            interpreted: AtomicU32::new(0),
            arn_prefix: format!("arn:aws:iot:{}:{}:", account.region, account.account),
        })
    }

    /// Decides `action` on the topic, filter or client id `name`; `true` in the second place
    /// when this decision is the one that should have the session compiled.
    pub(crate) fn decide(&self, action: Action, name: &str) -> (Decided, bool) {
        let resource = format!("{}{}/{name}", self.arn_prefix, action.resource_type());
        let request = Request { action: action.as_str().to_owned(), resource };
        let (authorization, compile) = match self.compiled.get() {
            Some(compiled) => (compiled.authorize(&request), false),
            None => {
                let made = self.interpreted.fetch_add(1, Ordering::Relaxed) + 1;
                (eval::authorize(&self.policies, &self.context, &request), made == COMPILE_AFTER)
            }
        };
        (self.decided(&authorization), compile)
    }

    /// Who the connection is, as the reserved user properties the rules read
    /// (`clientid()`, `principal()`, `sourceip()`).
    pub(crate) fn identity_properties(&self) -> Vec<(String, String)> {
        vec![
            (CLIENT_ID_PROPERTY.to_owned(), self.client_id.clone()),
            (PRINCIPAL_PROPERTY.to_owned(), self.certificate_id.clone()),
            (SOURCE_IP_PROPERTY.to_owned(), self.source_ip.clone()),
        ]
    }

    /// Whether the session decides with native code yet.
    #[cfg(test)]
    pub(crate) fn is_compiled(&self) -> bool {
        self.compiled.get().is_some()
    }

    /// Compiles the session's policies; a policy the compiler cannot handle leaves the session
    /// on the evaluator, which decides everything.
    fn compile(&self) {
        if self.compiled.get().is_some() {
            return;
        }
        match CompiledPolicies::compile(&self.policies, &self.context) {
            Ok(compiled) => {
                let _ = self.compiled.set(compiled);
            }
            Err(error) => tracing::warn!(client_id = self.client_id, %error, "policies not compiled; evaluating them"),
        }
    }

    fn decided(&self, authorization: &Authorization) -> Decided {
        let allowed = authorization.decision == Decision::Allowed;
        Decided { allowed, because: self.explain(authorization) }
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
    /// The compile thread's queue; the thread ends when the authorizer is dropped.
    compile: SyncSender<Weak<Session>>,
}

impl Authorizer {
    pub(crate) fn new(registry: SharedRegistry, peers: Arc<Peers>, region: &str, account: &str) -> Self {
        let account = Connection { region: region.to_owned(), account: account.to_owned(), ..Connection::default() };
        let (compile, queue) = std::sync::mpsc::sync_channel::<Weak<Session>>(COMPILE_QUEUE);
        // One thread, so compilation never takes more than a core from the packets; a session
        // that disconnected while queued is skipped.
        let spawned = std::thread::Builder::new().name("policy-compile".to_owned()).spawn(move || {
            for session in queue {
                if let Some(session) = session.upgrade() {
                    session.compile();
                }
            }
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no policy compile thread; every decision is evaluated");
        }
        Authorizer { registry, peers, account, sessions: Mutex::new(HashMap::new()), compile }
    }

    /// Queues `session` for compilation; with the queue full, a later decision asks again.
    fn request_compile(&self, session: &Arc<Session>) {
        match self.compile.try_send(Arc::downgrade(session)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                session.interpreted.store(0, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
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
        let (mut decided, _) = session.decide(Action::Connect, &facts.client_id);
        if decided.allowed
            && let Some((topic, retain)) = &facts.will
        {
            let (will, _) = session.decide(Action::Publish, topic);
            let retained = if *retain { session.decide(Action::RetainPublish, topic).0 } else { will.clone() };
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
        let (decided, compile) = session.decide(action, name);
        if compile {
            self.request_compile(&session);
        }
        if !decided.allowed {
            log_denial(action, &session.client_id, &session.certificate_id, name, &decided.because);
        }
        decided.allowed
    }

    /// Closes the device connection forwarded from `forwarded_from`.
    pub(crate) fn close(&self, forwarded_from: &SocketAddr) {
        self.peers.close(forwarded_from);
    }

    pub(crate) fn disconnected(&self, forwarded_from: &SocketAddr) {
        self.sessions().remove(forwarded_from);
    }

    /// Reopens every live session against the registry as it is now (each is compiled again
    /// once it has made enough decisions). A connection whose certificate is no longer ACTIVE,
    /// or that cannot be resolved any more, loses its session and is closed, as AWS
    /// disconnects the devices of a certificate that leaves the ACTIVE state; the addresses of
    /// the closed connections are returned.
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
                    self.peers.close(&address);
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
