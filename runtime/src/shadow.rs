//! The Device Shadow service, as AWS IoT Core runs it over MQTT: classic and named shadows on
//! the reserved `$aws/things/<thing>/shadow/...` topics.
//!
//! - `topics.rs`: which topics are requests, and where answers go.
//! - `document.rs`: the document and its operations (merge, metadata, delta), pure.
//! - `service.rs`: a request and the stored shadow → what to store and what to publish, pure.
//! - `store.rs`: the durable store (redb).
//! - `throttle.rs`: AWS's 20 requests a second per thing, pure.
//! - `shard.rs`: which instance answers a thing's requests when they are split by name, pure.
//! - `functions.rs`: `get_thing_shadow()` for the rules of `iotrules serve`, from the store.

pub(crate) mod client;
pub(crate) mod document;
pub(crate) mod functions;
pub(crate) mod service;
pub(crate) mod shard;
pub(crate) mod store;
pub(crate) mod throttle;
pub(crate) mod topics;
