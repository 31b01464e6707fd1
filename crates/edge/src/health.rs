//! The admin listener's `/healthz` document (`originlens.edge-health/1`, `schemas/edge-health.json`).

use serde::Serialize;

use crate::shared::Shared;

/// The schema id; bump the number on an incompatible change.
pub const SCHEMA: &str = "originlens.edge-health/1";

/// What `/healthz` answers in JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    /// Always `originlens.edge-health/1`.
    pub schema: &'static str,
    /// `ok` while the edge serves.
    pub status: &'static str,
    /// The visitor-facing address.
    pub listen: String,
    /// Origins configured, by Host.
    pub origins: usize,
    /// Idle upstream connections in the pool now.
    pub idle_connections: usize,
    /// Whether incidents are stored.
    pub store: bool,
}

impl Health {
    /// The document for a running edge.
    pub fn of(shared: &Shared) -> Health {
        Health {
            schema: SCHEMA,
            status: "ok",
            listen: shared.config.listen.to_string(),
            origins: shared.config.origins.len(),
            idle_connections: shared.idle_connections(),
            store: shared.config.store.is_some(),
        }
    }

    /// The JSON body, one line.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
