//! The availability cache: a small key/value store behind
//! [`AvailabilityCache`], with a Redis implementation (production, shared by
//! replicas) and an in-process one (the embedded default), and
//! [`FreeTimeCache`], which stores employees' expanded free time in it.
//!
//! The cache is never the source of truth. Keys carry the employee's
//! availability version, which every write that changes free time bumps in
//! its own transaction, so an entry can only ever be read for the state it was
//! computed from; a store that fails or hangs costs latency (bounded by a
//! timeout), never a wrong answer.

mod free_time;
mod in_process;
mod metrics;
mod redis_store;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use free_time::FreeTimeCache;
pub use in_process::InProcessCache;
pub use metrics::{IN_PROCESS_ENTRIES, Kept, MetricsCache};
pub use redis_store::RedisCache;

use crate::config::CacheConfig;

/// Whether the cache is doing its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheHealth {
    /// Reads and writes go through.
    Ok,
    /// Unreachable or too slow: every answer is computed from the database.
    Degraded,
}

impl CacheHealth {
    /// The word `/readyz` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
        }
    }
}

/// A best-effort string store with expiry. Implementations never fail a
/// request: an unreachable store answers misses and drops writes.
pub trait AvailabilityCache: Send + Sync {
    /// The values of `keys`, in order (None: a miss, or the store is unreachable).
    fn get_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Vec<Option<String>>>;
    /// Stores each `(key, value)` for `ttl`.
    fn put_many<'a>(&'a self, entries: &'a [(String, String)], ttl: Duration) -> BoxFuture<'a, ()>;
    /// Asks the store now whether it answers (readiness probes).
    fn check(&self) -> BoxFuture<'_, CacheHealth>;
    /// `redis` or `in-process`, for readiness and logs.
    fn backend(&self) -> &'static str;
    /// Whether calls skip the store after a failure (a circuit breaker,
    /// for the metrics); a store without one never does.
    fn breaker_open(&self) -> bool {
        false
    }
}

/// The store the configuration asks for: Redis when `REDIS_URL` is set (it
/// connects lazily, so a Redis that is down at start only degrades the cache),
/// else in-process.
pub fn from_config(config: &CacheConfig) -> anyhow::Result<Arc<dyn AvailabilityCache>> {
    Ok(match &config.redis_url {
        Some(url) => RedisCache::connect(url, config.redis_timeout)?,
        None => Arc::new(InProcessCache::default()),
    })
}

/// Programme metrics kept for `config`'s staleness bound: in Redis beside
/// free time when the service has one (replicas then share each figure), else
/// in a small in-process map of their own, so they never crowd out free time.
pub fn metrics_cache(config: &CacheConfig, shared: &Arc<dyn AvailabilityCache>) -> MetricsCache {
    let store: Arc<dyn AvailabilityCache> = if config.redis_url.is_some() {
        shared.clone()
    } else {
        Arc::new(InProcessCache::with_capacity(IN_PROCESS_ENTRIES))
    };
    MetricsCache::new(store, config.metrics_staleness)
}
