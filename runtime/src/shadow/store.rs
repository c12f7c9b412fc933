//! Where shadows are kept: a redb file for one process (the default), or a Redis server that
//! several shadow services share when they split one fleet's requests through `$share`.
//!
//! Invariant for both: [`Store::apply`] reads a shadow, decides and writes in one atomic step
//! (a redb write transaction; a Redis `WATCH`/`MULTI`/`EXEC` retried while another writer got
//! there first), so two services answering requests to the same shadow at once never hand out
//! the same version twice; it returns only once the write is stored.

mod file;
mod redis;

use std::path::Path;

pub(crate) use file::FileStore;
pub(crate) use redis::RedisStore;

use super::service::{Outcome, Stored};
use super::topics::ShadowId;

/// A shadow store.
pub(crate) enum Store {
    File(FileStore),
    Redis(Box<RedisStore>),
}

/// The key of a shadow: `thing/name`, `thing/` for the classic shadow.
fn key(id: &ShadowId) -> String {
    format!("{}/{}", id.thing, id.name.as_deref().unwrap_or(""))
}

fn failed(error: impl std::fmt::Display) -> String {
    format!("the shadow store: {error}")
}

impl Store {
    /// Opens the store `location` names: a `redis://` URL, or a file path.
    pub(crate) fn open(location: &str) -> Result<Store, String> {
        if location.starts_with("redis://") {
            RedisStore::open(location).map(|store| Store::Redis(Box::new(store)))
        } else if location.starts_with("rediss://") {
            Err(format!(
                "the shadow store `{location}`: Redis over TLS is not supported; use redis:// on a private network or through a TLS tunnel"
            ))
        } else {
            FileStore::open(Path::new(location)).map(Store::File)
        }
    }

    /// The stored state of `id`: nothing and version 0 when it was never written.
    pub(crate) fn get(&self, id: &ShadowId) -> Result<Stored, String> {
        match self {
            Store::File(store) => store.get(id),
            Store::Redis(store) => store.get(id),
        }
    }

    /// Reads `id`, lets `decide` say what to store and publish, and stores it atomically and
    /// durably (see the module's invariant); `decide` may run more than once.
    pub(crate) fn apply(&self, id: &ShadowId, mut decide: impl FnMut(&Stored) -> Outcome) -> Result<Outcome, String> {
        match self {
            Store::File(store) => store.apply(id, &mut decide),
            Store::Redis(store) => store.apply(id, &mut decide),
        }
    }

    /// The shadows that have a document, of one thing or of all.
    pub(crate) fn list(&self, thing: Option<&str>) -> Result<Vec<ShadowId>, String> {
        match self {
            Store::File(store) => store.list(thing),
            Store::Redis(store) => store.list(thing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_cannot_be_used_says_why() {
        let error = Store::open("redis://127.0.0.1:1").err().unwrap_or_default();
        assert!(error.starts_with("cannot reach the shadow store at `redis://127.0.0.1:1`"), "{error}");
        assert!(error.ends_with("(is Redis running there?)"), "{error}");
        let error = Store::open("rediss://example.com:6380").err().unwrap_or_default();
        assert!(error.contains("Redis over TLS is not supported"), "{error}");
        let error = Store::open("redis://[not a url").err().unwrap_or_default();
        assert!(error.starts_with("the shadow store `redis://[not a url`"), "{error}");
    }
}
