//! `originlens edge --check-config FILE`: everything the edge would refuse at start, found
//! without binding a socket.

use std::path::Path;
use std::sync::Arc;

use crate::config::{ConfigError, EdgeConfig};
use crate::metrics::Metrics;
use crate::shared::Shared;

/// Loads `path`, validates it and builds every origin's connector (TLS names, CA files and
/// profiles are checked there). Returns the configuration that would be served.
pub fn check_file(path: &Path) -> Result<EdgeConfig, ConfigError> {
    let config = crate::file::load(path)?;
    check(&config)?;
    Ok(config)
}

/// Validates `config` and builds its connectors, as [`crate::Edge::bind`] would.
pub fn check(config: &EdgeConfig) -> Result<(), ConfigError> {
    config.validate()?;
    Shared::new(config.clone(), Arc::new(Metrics::new(1)), None, 1)?;
    Ok(())
}
