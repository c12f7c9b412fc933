//! Shadows on a Redis server, shared by every shadow service pointed at it: one string key per
//! shadow, `iotrules:shadow:<thing>/<name>`, holding its stored state as JSON.
//!
//! An update is `WATCH key`, `GET key`, decide, `MULTI`/`SET`/`EXEC`, retried when another
//! writer changed the key in between. It is acknowledged once Redis answered `EXEC`; it
//! survives a Redis crash only when Redis writes its append-only file on every write
//! (`appendonly yes`, `appendfsync always`), which is checked at start-up and warned about.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::{Commands, Connection};

use super::{failed, key};
use crate::shadow::service::{Outcome, Stored};
use crate::shadow::topics::ShadowId;

const PREFIX: &str = "iotrules:shadow:";

/// How long to wait for Redis before the request is left unacknowledged (and redelivered).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts of one update that other writers keep beating.
const ATTEMPTS: usize = 100;

pub(crate) struct RedisStore {
    client: redis::Client,
    /// One connection, made again after a failure.
    connection: Mutex<Option<Connection>>,
}

impl RedisStore {
    /// Connects to the Redis server at `url`, and warns when its settings can lose an
    /// acknowledged update.
    pub(crate) fn open(url: &str) -> Result<RedisStore, String> {
        let client = redis::Client::open(url).map_err(|error| format!("the shadow store `{url}`: {error}"))?;
        let store = RedisStore { client, connection: Mutex::new(None) };
        store
            .with(|connection| redis::cmd("PING").query::<String>(connection))
            .map_err(|error| format!("cannot reach the shadow store at `{url}`: {error} (is Redis running there?)"))?;
        store.warn_unless_durable();
        Ok(store)
    }

    fn warn_unless_durable(&self) {
        let setting = |name: &str| {
            self.with(|connection| redis::cmd("CONFIG").arg("GET").arg(name).query::<Vec<String>>(connection))
                .ok()
                .and_then(|pair| pair.get(1).cloned())
        };
        match (setting("appendonly"), setting("appendfsync")) {
            (Some(only), Some(fsync)) if only == "yes" && fsync == "always" => {}
            (Some(only), Some(fsync)) => tracing::warn!(
                appendonly = only,
                appendfsync = fsync,
                "Redis may lose acknowledged shadow updates in a crash: run it with `appendonly yes` and `appendfsync always`"
            ),
            // CONFIG is often disabled on managed Redis: nothing to check.
            _ => {}
        }
    }

    fn connection(&self) -> MutexGuard<'_, Option<Connection>> {
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` on the connection, connecting first when there is none; a failed call
    /// drops the connection so the next one starts afresh.
    fn with<T>(&self, work: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> Result<T, String> {
        let mut held = self.connection();
        if held.is_none() {
            let connection = self.client.get_connection_with_timeout(TIMEOUT).map_err(failed)?;
            connection.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
            connection.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
            *held = Some(connection);
        }
        let Some(connection) = held.as_mut() else { return Err(failed("no connection")) };
        let result = work(connection);
        if result.is_err() {
            *held = None;
        }
        result.map_err(failed)
    }

    pub(crate) fn get(&self, id: &ShadowId) -> Result<Stored, String> {
        let stored: Option<Vec<u8>> = self.with(|connection| connection.get(format!("{PREFIX}{}", key(id))))?;
        match stored {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(failed),
            None => Ok(Stored::default()),
        }
    }

    pub(crate) fn apply(&self, id: &ShadowId, decide: &mut dyn FnMut(&Stored) -> Outcome) -> Result<Outcome, String> {
        let name = format!("{PREFIX}{}", key(id));
        let mut undecodable = None;
        let outcome = self.with(|connection| {
            for _ in 0..ATTEMPTS {
                redis::cmd("WATCH").arg(&name).exec(connection)?;
                let stored: Option<Vec<u8>> = connection.get(&name)?;
                let current = match stored.map(|bytes| serde_json::from_slice::<Stored>(&bytes)) {
                    Some(Ok(current)) => current,
                    Some(Err(error)) => {
                        redis::cmd("UNWATCH").exec(connection)?;
                        undecodable = Some(error.to_string());
                        return Ok(None);
                    }
                    None => Stored::default(),
                };
                let outcome = decide(&current);
                let Some(new) = &outcome.store else {
                    redis::cmd("UNWATCH").exec(connection)?;
                    return Ok(Some(outcome));
                };
                let bytes = serde_json::to_vec(new).unwrap_or_default();
                // EXEC answers nil when the watched key changed: decide again on the new state.
                let done: Option<()> = redis::pipe().atomic().set(&name, bytes).ignore().query(connection)?;
                if done.is_some() {
                    return Ok(Some(outcome));
                }
            }
            Ok(None)
        })?;
        match (outcome, undecodable) {
            (Some(outcome), _) => Ok(outcome),
            (None, Some(error)) => Err(failed(format!("`{name}` is not a stored shadow: {error}"))),
            (None, None) => Err(failed(format!("`{name}` kept changing; {ATTEMPTS} attempts failed"))),
        }
    }

    pub(crate) fn list(&self, thing: Option<&str>) -> Result<Vec<ShadowId>, String> {
        let pattern = match thing {
            // A thing name never holds a glob character (a-zA-Z0-9:_-).
            Some(thing) => format!("{PREFIX}{thing}/*"),
            None => format!("{PREFIX}*"),
        };
        let mut keys: Vec<String> = self.with(|connection| connection.scan_match::<_, String>(&pattern)?.collect())?;
        keys.sort();
        let mut found = Vec::new();
        for name in keys {
            let Some((owner, shadow)) = name.strip_prefix(PREFIX).and_then(|rest| rest.split_once('/')) else {
                continue;
            };
            let id = ShadowId { thing: owner.to_owned(), name: (!shadow.is_empty()).then(|| shadow.to_owned()) };
            if self.get(&id)?.document.is_some() {
                found.push(id);
            }
        }
        Ok(found)
    }
}
