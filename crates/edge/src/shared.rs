//! The state every request shares: the configuration, one runtime (connector and pools) per
//! origin, the metrics, the incident writer and the id generator.

use std::sync::Arc;

use crate::config::{ConfigError, EdgeConfig, OriginConfig};
use crate::connect::Connector;
use crate::incident::IdGen;
use crate::metrics::Metrics;
use crate::pool::Pool;
use crate::store::Writer;

/// An origin with its connector and pool.
#[derive(Debug)]
pub struct OriginRuntime {
    /// Its configuration.
    pub cfg: OriginConfig,
    /// Opens connections.
    pub connector: Connector,
    /// Idle connections, one pool per worker thread: a connection is only ever used on the
    /// thread whose runtime registered it, so its readiness never crosses threads.
    pub pools: Vec<Pool>,
}

impl OriginRuntime {
    /// The pool of worker `worker`.
    pub fn pool(&self, worker: usize) -> &Pool {
        &self.pools[worker % self.pools.len()]
    }
}

/// State shared by every request.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: EdgeConfig,
    /// One runtime per configured origin, same order.
    pub origins: Vec<OriginRuntime>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The incident writer, if a store is configured.
    pub store: Option<Writer>,
    /// Incident ids.
    pub ids: IdGen,
}

impl Shared {
    /// Builds the runtime state of `config` for `workers` worker threads.
    pub fn new(
        config: EdgeConfig,
        metrics: Arc<Metrics>,
        store: Option<Writer>,
        workers: usize,
    ) -> Result<Shared, ConfigError> {
        let workers = workers.max(1);
        config.validate()?;
        let origins = config
            .origins
            .iter()
            .map(|o| {
                Ok(OriginRuntime {
                    connector: Connector::new(o)?,
                    pools: (0..workers)
                        .map(|_| {
                            Pool::new(
                                o.idle_timeout(),
                                config.max_idle_per_origin.div_ceil(workers),
                                config.reuse_check,
                            )
                        })
                        .collect(),
                    cfg: o.clone(),
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Shared {
            config,
            origins,
            metrics,
            store,
            ids: IdGen::default(),
        })
    }

    /// Idle pooled connections over all origins.
    pub fn idle_connections(&self) -> usize {
        self.origins
            .iter()
            .flat_map(|o| &o.pools)
            .map(Pool::idle_count)
            .sum()
    }
}
