//! The device endpoint of `iotrules serve`: devices connect with certificates as to AWS IoT
//! Core, are resolved in the registry, and every packet is authorized by their policies.
//!
//! - `tls.rs`: the TLS front; it holds each device's certificate and forwards the connection
//!   to the broker on loopback.
//! - `authorization.rs`: per-connection sessions and decisions (pure apart from logging).
//!
//! The registry is shared by both and replaced whole on reload ([`SharedRegistry`]).

#![cfg_attr(not(test), allow(dead_code, reason = "not yet started by a command"))]

pub(crate) mod authorization;
#[cfg(test)]
mod tests;
pub(crate) mod tls;

use std::sync::{Arc, PoisonError, RwLock};

use crate::registry::Registry;

/// The registry in force, replaced whole when it is reloaded; readers keep the one they took.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedRegistry {
    current: Arc<RwLock<Arc<Registry>>>,
}

impl SharedRegistry {
    pub(crate) fn new(registry: Registry) -> Self {
        SharedRegistry { current: Arc::new(RwLock::new(Arc::new(registry))) }
    }

    pub(crate) fn current(&self) -> Arc<Registry> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn replace(&self, registry: Registry) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(registry);
    }
}
