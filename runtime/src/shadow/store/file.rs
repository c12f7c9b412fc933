//! Shadows in a file: one redb table, a shadow's [`Stored`] state by `thing/name` (`thing/` for
//! the classic shadow). A write returns only once its transaction is committed, which redb
//! makes durable before returning, so a shadow update is acknowledged only when a crash
//! cannot lose it. One process at a time: redb locks the file.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{failed, key};
use crate::shadow::service::{Outcome, Stored};
use crate::shadow::topics::ShadowId;

const SHADOWS: TableDefinition<&str, &[u8]> = TableDefinition::new("shadows");

/// A shadow store in one redb file.
pub(crate) struct FileStore {
    database: Database,
}

impl FileStore {
    /// Opens (or creates) the store at `path`.
    pub(crate) fn open(path: &Path) -> Result<FileStore, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create the shadow folder `{}`: {error}", parent.display()))?;
        }
        let database = Database::create(path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => format!(
                "the shadow store `{}` is open in another iotrules process; give each its own --shadow-store",
                path.display()
            ),
            error => format!("cannot open the shadow store `{}`: {error}", path.display()),
        })?;
        let transaction = database.begin_write().map_err(failed)?;
        transaction.open_table(SHADOWS).map_err(failed)?;
        transaction.commit().map_err(failed)?;
        Ok(FileStore { database })
    }

    /// The stored state of `id`: nothing and version 0 when it was never written.
    pub(crate) fn get(&self, id: &ShadowId) -> Result<Stored, String> {
        let transaction = self.database.begin_read().map_err(failed)?;
        let table = transaction.open_table(SHADOWS).map_err(failed)?;
        match table.get(key(id).as_str()).map_err(failed)? {
            Some(bytes) => serde_json::from_slice(bytes.value()).map_err(failed),
            None => Ok(Stored::default()),
        }
    }

    /// Writes `stored` for `id`, durably.
    #[cfg(test)]
    pub(crate) fn put(&self, id: &ShadowId, stored: &Stored) -> Result<(), String> {
        self.apply(id, &mut |_| Outcome { store: Some(stored.clone()), publish: Vec::new() }).map(|_| ())
    }

    /// Reads `id`, decides with `decide` and stores what it says, in one write transaction
    /// (redb has one writer at a time), durably.
    pub(crate) fn apply(&self, id: &ShadowId, decide: &mut dyn FnMut(&Stored) -> Outcome) -> Result<Outcome, String> {
        let transaction = self.database.begin_write().map_err(failed)?;
        let outcome = {
            let mut table = transaction.open_table(SHADOWS).map_err(failed)?;
            let current = match table.get(key(id).as_str()).map_err(failed)? {
                Some(bytes) => serde_json::from_slice(bytes.value()).map_err(failed)?,
                None => Stored::default(),
            };
            let outcome = decide(&current);
            if let Some(new) = &outcome.store {
                let bytes = serde_json::to_vec(new).map_err(failed)?;
                table.insert(key(id).as_str(), bytes.as_slice()).map_err(failed)?;
            }
            outcome
        };
        if outcome.store.is_some() {
            transaction.commit().map_err(failed)?;
        } else {
            transaction.abort().map_err(failed)?;
        }
        Ok(outcome)
    }

    /// The shadows that have a document, of one thing or of all.
    pub(crate) fn list(&self, thing: Option<&str>) -> Result<Vec<ShadowId>, String> {
        let transaction = self.database.begin_read().map_err(failed)?;
        let table = transaction.open_table(SHADOWS).map_err(failed)?;
        let mut found = Vec::new();
        for entry in table.iter().map_err(failed)? {
            let (key, value) = entry.map_err(failed)?;
            let Some((owner, name)) = key.value().split_once('/') else { continue };
            if thing.is_some_and(|thing| thing != owner) {
                continue;
            }
            let stored: Stored = serde_json::from_slice(value.value()).map_err(failed)?;
            if stored.document.is_some() {
                let name = (!name.is_empty()).then(|| name.to_owned());
                found.push(ShadowId { thing: owner.to_owned(), name });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::document::{Document, Section};

    #[test]
    fn shadows_survive_reopening_and_are_listed() {
        let path = std::env::temp_dir().join(format!("iotrules-shadows-{}.redb", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let classic = ShadowId { thing: "t1".to_owned(), name: None };
        let named = ShadowId { thing: "t1".to_owned(), name: Some("config".to_owned()) };
        let deleted = ShadowId { thing: "t2".to_owned(), name: None };
        {
            let store = FileStore::open(&path).unwrap();
            assert_eq!(store.get(&classic).unwrap(), Stored::default());
            let mut document = Document::default();
            document.apply(Section::Reported, &serde_json::json!({"on": true}), 5);
            store.put(&classic, &Stored { document: Some(document.clone()), version: 3 }).unwrap();
            store.put(&named, &Stored { document: Some(document), version: 1 }).unwrap();
            store.put(&deleted, &Stored { document: None, version: 7 }).unwrap();
        }
        let store = FileStore::open(&path).unwrap();
        assert_eq!(store.get(&classic).unwrap().version, 3);
        assert_eq!(store.get(&deleted).unwrap(), Stored { document: None, version: 7 });
        assert_eq!(store.list(None).unwrap(), [classic.clone(), named.clone()]);
        assert_eq!(store.list(Some("t2")).unwrap(), []);
        drop(store);
        std::fs::remove_file(&path).unwrap();
    }
}
