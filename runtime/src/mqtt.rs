//! MQTT: the broker iotrules attaches to, the connection rules listen on, and the one their
//! actions publish on.

pub(crate) mod backoff;
pub(crate) mod consumer;
pub(crate) mod endpoint;
pub(crate) mod link;
pub(crate) mod probe;
pub(crate) mod publisher;
pub(crate) mod sender;
