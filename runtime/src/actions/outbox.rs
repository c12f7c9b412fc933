//! The outbox: rule runs handed off to disk so that their message can be acknowledged before
//! their slow actions finish.
//!
//! A message is acknowledged once each of its actions has succeeded, failed into the error
//! action, or been handed off here. A hand-off is durable when [`Outbox::put`] returns: the
//! record is in a committed redb transaction. When the run finishes, its record is deleted;
//! a record still present at start-up is a run that a crash or a stop interrupted, and is run
//! again (at least once, as for the message itself).
//!
//! One writer thread owns the database and commits whatever requests are waiting in one
//! transaction (group commit), so a burst of hand-offs costs one disk flush, not one each.
//! redb locks its file, so two processes can never share an outbox: a second `iotrules run`
//! with the same client id is refused at start-up instead of replaying the first one's work.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

/// Records by key, in the order they were handed off.
pub(crate) type Records = Vec<(u64, Vec<u8>)>;

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("handed_off");

/// `iotrules_outbox_records`: runs handed off and not finished yet.
pub(crate) const RECORDS_GAUGE: &str = "iotrules_outbox_records";

/// At most this many requests go into one transaction, so a commit stays short under load.
const GROUP: usize = 1024;

enum Request {
    Put { key: u64, record: Vec<u8>, done: oneshot::Sender<Result<(), String>> },
    Delete(u64),
}

/// The handle the runtime uses; cheap to clone. The writer thread ends when every handle is
/// dropped, after committing what was asked.
#[derive(Clone, Debug)]
pub(crate) struct Outbox {
    requests: mpsc::Sender<Request>,
    next_key: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Records stored and not deleted, for the gauge.
    records: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    gauge: metrics::Gauge,
    path: PathBuf,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Put { key, .. } => write!(f, "Put({key})"),
            Request::Delete(key) => write!(f, "Delete({key})"),
        }
    }
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`; returns it with the records an earlier run
    /// left, in the order they were handed off.
    pub(crate) fn open(path: &Path) -> Result<(Outbox, Records), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create the state folder `{}`: {error}", parent.display()))?;
        }
        let database = Database::create(path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => format!(
                "`{}` is in use by another iotrules process: give each instance its own --client-id or --state-dir",
                path.display()
            ),
            other => format!("cannot open the outbox `{}`: {other}", path.display()),
        })?;
        let left =
            read_all(&database).map_err(|error| format!("cannot read the outbox `{}`: {error}", path.display()))?;
        let next_key = left.last().map_or(0, |(key, _)| key + 1);
        let (requests, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("iotrules-outbox".to_owned())
            .spawn(move || write_loop(&database, &receiver))
            .map_err(|error| format!("cannot start the outbox writer: {error}"))?;
        let outbox = Outbox {
            requests,
            next_key: std::sync::Arc::new(next_key.into()),
            records: std::sync::Arc::new(left.len().into()),
            gauge: metrics::gauge!(RECORDS_GAUGE),
            path: path.to_owned(),
        };
        outbox.records_changed(0);
        Ok((outbox, left))
    }

    /// Stores `record` durably and returns its key once committed.
    pub(crate) async fn put(&self, record: Vec<u8>) -> Result<u64, String> {
        let key = self.next_key.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, committed) = oneshot::channel();
        self.requests
            .send(Request::Put { key, record, done })
            .map_err(|_| "the outbox writer has stopped".to_owned())?;
        match committed.await {
            Ok(Ok(())) => {
                self.records_changed(1);
                Ok(key)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err("the outbox writer has stopped".to_owned()),
        }
    }

    fn records_changed(&self, added: isize) {
        use std::sync::atomic::Ordering;
        let now = if added >= 0 {
            self.records.fetch_add(added.unsigned_abs(), Ordering::Relaxed) + added.unsigned_abs()
        } else {
            self.records.fetch_sub(added.unsigned_abs(), Ordering::Relaxed).saturating_sub(added.unsigned_abs())
        };
        self.gauge.set(now as f64);
    }

    /// Forgets a finished run's record.
    pub(crate) fn delete(&self, key: u64) {
        self.records_changed(-1);
        if self.requests.send(Request::Delete(key)).is_err() {
            tracing::warn!(key, "the outbox writer has stopped: the record is run again at the next start");
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn read_all(database: &Database) -> Result<Records, redb::Error> {
    let transaction = database.begin_read()?;
    let table = match transaction.open_table(RECORDS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    };
    let mut records = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        records.push((key.value(), value.value().to_vec()));
    }
    Ok(records)
}

fn write_loop(database: &Database, receiver: &mpsc::Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let mut waiting = Vec::new();
        let result = commit(database, batch, &mut waiting);
        let outcome = result.map_err(|error| format!("cannot write the outbox: {error}"));
        if let Err(error) = &outcome {
            tracing::error!(%error, "hand-offs failed: their messages wait for their actions instead");
        }
        for done in waiting {
            let _ = done.send(outcome.clone());
        }
    }
}

fn commit(
    database: &Database,
    batch: Vec<Request>,
    waiting: &mut Vec<oneshot::Sender<Result<(), String>>>,
) -> Result<(), redb::Error> {
    let transaction = database.begin_write()?;
    {
        let mut table = transaction.open_table(RECORDS)?;
        for request in batch {
            match request {
                Request::Put { key, record, done } => {
                    waiting.push(done);
                    table.insert(key, record.as_slice())?;
                }
                Request::Delete(key) => {
                    table.remove(key)?;
                }
            }
        }
    }
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Outbox;

    #[tokio::test]
    async fn records_survive_until_deleted_and_one_process_owns_the_file() {
        let dir = std::env::temp_dir().join(format!("iotrules-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("outbox.redb");
        {
            let (outbox, left) = Outbox::open(&path).unwrap();
            assert!(left.is_empty());
            let first = outbox.put(b"first".to_vec()).await.unwrap();
            let second = outbox.put(b"second".to_vec()).await.unwrap();
            let third = outbox.put(b"third".to_vec()).await.unwrap();
            outbox.delete(second);
            assert!(first < third);
            // Wait for the delete: a put after it is committed after it.
            outbox.put(b"fourth".to_vec()).await.unwrap();
            let error = Outbox::open(&path).unwrap_err();
            assert!(error.contains("in use by another iotrules process"), "{error}");
        }
        // The writer thread lets go of the file once every handle is gone.
        let mut reopened = Outbox::open(&path);
        for _ in 0..100 {
            if reopened.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            reopened = Outbox::open(&path);
        }
        let (outbox, left) = reopened.unwrap();
        let texts: Vec<&[u8]> = left.iter().map(|(_, record)| record.as_slice()).collect();
        assert_eq!(texts, [b"first".as_slice(), b"third", b"fourth"]);
        let key = outbox.put(b"fifth".to_vec()).await.unwrap();
        assert!(key > left.last().unwrap().0, "keys keep growing across restarts");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
