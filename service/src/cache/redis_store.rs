//! The production cache: Redis through a multiplexed, self-reconnecting
//! [`ConnectionManager`], every call bounded by a short timeout.
//!
//! A small circuit breaker keeps an outage cheap: the first call that fails
//! or times out opens it (one warning per outage), requests then skip Redis
//! entirely and are answered from the database at normal latency, and a
//! background probe closes it again as soon as Redis answers a PING.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt as _};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::Instrument as _;

use super::{AvailabilityCache, CacheHealth};

/// How often an open breaker asks Redis whether it is back.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Redis behind a breaker; cheap to share (`Arc`).
pub struct RedisCache {
    manager: ConnectionManager,
    timeout: Duration,
    reachable: AtomicBool,
}

impl RedisCache {
    /// A cache on `url` that connects lazily (no Redis needed at start) and
    /// gives up on any call after `timeout`.
    pub fn connect(url: &str, timeout: Duration) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(250))))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        let cache = Arc::new(Self {
            manager,
            timeout,
            reachable: AtomicBool::new(true),
        });
        tokio::spawn(probe_while_alive(Arc::downgrade(&cache)));
        Ok(cache)
    }

    fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Acquire)
    }

    /// Runs one Redis call within the timeout; a failure opens the breaker.
    async fn call<T, F>(&self, operation: &'static str, call: F) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let span = tracing::info_span!(
            "redis",
            otel.kind = "client",
            db.system = "redis",
            db.operation.name = operation
        );
        match tokio::time::timeout(self.timeout, call.instrument(span)).await {
            Ok(Ok(value)) => {
                self.mark_reachable();
                Some(value)
            }
            Ok(Err(error)) => {
                self.mark_unreachable(&error.to_string());
                None
            }
            Err(_) => {
                self.mark_unreachable(&format!("no answer within {:?}", self.timeout));
                None
            }
        }
    }

    fn mark_unreachable(&self, cause: &str) {
        if self.reachable.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                cause,
                "Redis is unreachable: free time is computed from the database until it returns"
            );
        }
    }

    fn mark_reachable(&self) {
        if !self.reachable.swap(true, Ordering::AcqRel) {
            tracing::info!("Redis answers again: the availability cache is back in use");
        }
    }

    async fn ping(&self) -> CacheHealth {
        let mut connection = self.manager.clone();
        let answer = self
            .call("PING", async move {
                redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
            })
            .await;
        match answer {
            Some(_) => CacheHealth::Ok,
            None => CacheHealth::Degraded,
        }
    }
}

/// Probes Redis while the breaker is open, until the cache is dropped.
async fn probe_while_alive(cache: Weak<RedisCache>) {
    let mut ticks = tokio::time::interval(PROBE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(cache) = cache.upgrade() else {
            return;
        };
        if !cache.is_reachable() {
            cache.ping().await;
        }
    }
}

impl AvailabilityCache for RedisCache {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Vec<Option<String>>> {
        async move {
            if keys.is_empty() || !self.is_reachable() {
                return vec![None; keys.len()];
            }
            let mut connection = self.manager.clone();
            let values = self
                .call("MGET", async move {
                    redis::cmd("MGET")
                        .arg(keys)
                        .query_async::<Vec<Option<String>>>(&mut connection)
                        .await
                })
                .await;
            match values {
                Some(values) if values.len() == keys.len() => values,
                _ => vec![None; keys.len()],
            }
        }
        .boxed()
    }

    fn put_many<'a>(&'a self, entries: &'a [(String, String)], ttl: Duration) -> BoxFuture<'a, ()> {
        async move {
            if entries.is_empty() || !self.is_reachable() {
                return;
            }
            let mut pipeline = redis::pipe();
            for (key, value) in entries {
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                pipeline.pset_ex(key, value, millis.max(1)).ignore();
            }
            let mut connection = self.manager.clone();
            self.call("PSETEX", async move {
                pipeline.query_async::<()>(&mut connection).await
            })
            .await;
        }
        .boxed()
    }

    fn check(&self) -> BoxFuture<'_, CacheHealth> {
        self.ping().boxed()
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    fn breaker_open(&self) -> bool {
        !self.is_reachable()
    }
}
