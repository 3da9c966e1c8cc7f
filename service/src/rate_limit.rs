//! Where rate limits are counted: in Redis, shared by every replica (one
//! atomic script: GCRA on Redis's own clock), or, when Redis is not
//! configured or does not answer, in this process — never no limit, never
//! refusing everyone. The arithmetic is [`crate::domain::rate_limit`]'s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::auth::{Caller, Role};
use crate::domain::rate_limit::{Decision, Limit, decide};

/// The GCRA step, atomic in Redis: KEYS[1] the caller's TAT, ARGV the
/// interval and tolerance (ms). Answers {1, 0} or {0, retry after ms}.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if now < tat - tolerance then
  return {0, tat - tolerance - now}
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now + tolerance + 1000)
return {1, 0}
";

/// Entries kept in the in-process store before expired ones are dropped.
const LOCAL_PRUNE_AT: usize = 100_000;

/// The limits by role and where they are counted.
pub struct RateLimiter {
    /// Employees' limit (no role); None: unlimited.
    default: Option<Limit>,
    /// Per role: None is unlimited (the HRIS account by default).
    by_role: HashMap<Role, Option<Limit>>,
    redis: Option<(ConnectionManager, Duration)>,
    /// Until when (ms) Redis is skipped after it failed: an outage costs
    /// one timeout a second, not one a request.
    redis_skipped_until: AtomicI64,
    local: Mutex<HashMap<String, i64>>,
}

/// How long Redis is skipped after a failure.
const REDIS_BACKOFF_MS: i64 = 1_000;

/// A refused request: how long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Whole seconds (at least one), for `Retry-After`.
    pub retry_after_secs: u64,
}

impl RateLimiter {
    /// The limiter `config` describes (`RATE_LIMIT_*`), counting in Redis
    /// when `redis_url` is set.
    pub fn new(
        config: &crate::config::RateLimitConfig,
        redis_url: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let redis = match redis_url {
            Some(url) if config.enabled() => {
                let client = redis::Client::open(url)?;
                let manager = ConnectionManager::new_lazy_with_config(
                    client,
                    ConnectionManagerConfig::new()
                        .set_response_timeout(Some(timeout))
                        .set_connection_timeout(Some(timeout.max(Duration::from_millis(250))))
                        .set_number_of_retries(0),
                )?;
                Some((manager, timeout))
            }
            _ => None,
        };
        Ok(Self {
            default: config.per_minute.map(Limit::per_minute),
            by_role: config
                .by_role
                .iter()
                .map(|(role, n)| (*role, n.map(Limit::per_minute)))
                .collect(),
            redis,
            redis_skipped_until: AtomicI64::new(0),
            local: Mutex::new(HashMap::new()),
        })
    }

    /// The limit of `caller`: the most generous of their roles' (a role
    /// without a limit of its own has the default).
    fn limit_of(&self, caller: &Caller) -> Option<Limit> {
        if caller.roles.is_empty() {
            return self.default;
        }
        let limits: Vec<Option<Limit>> = caller
            .roles
            .iter()
            .map(|role| self.by_role.get(role).copied().unwrap_or(self.default))
            .collect();
        if limits.iter().any(Option::is_none) {
            return None;
        }
        limits.into_iter().flatten().max_by_key(|l| l.per_minute)
    }

    /// Counts one request of `caller`; Some when it must be refused.
    pub async fn check(&self, caller: &Caller) -> Option<Limited> {
        let limit = self.limit_of(caller)?;
        // One bucket per caller and role set (a service account may hold
        // tokens of several roles).
        let roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
        let key = format!("tandem:rl:{}:{}", caller.subject, roles.join("+"));
        let retry_ms = match self.in_redis(&key, limit).await {
            Some(answer) => answer,
            None => self.in_process(&key, limit),
        }?;
        Some(Limited {
            retry_after_secs: u64::try_from(retry_ms).unwrap_or(0).div_ceil(1000).max(1),
        })
    }

    /// Some(None) allowed, Some(Some(ms)) refused, None: Redis did not
    /// answer (or is not configured).
    async fn in_redis(&self, key: &str, limit: Limit) -> Option<Option<i64>> {
        let (manager, timeout) = self.redis.as_ref()?;
        if now_ms() < self.redis_skipped_until.load(Ordering::Relaxed) {
            return None;
        }
        let mut connection = manager.clone();
        let mut eval = redis::cmd("EVAL");
        eval.arg(SCRIPT)
            .arg(1)
            .arg(key)
            .arg(limit.interval_ms())
            .arg(limit.tolerance_ms());
        let call = eval.query_async::<(i64, i64)>(&mut connection);
        match tokio::time::timeout(*timeout, call).await {
            Ok(Ok((1, _))) => Some(None),
            Ok(Ok((_, retry))) => Some(Some(retry)),
            Ok(Err(error)) => {
                tracing::debug!(%error, "rate limit counted in-process: Redis refused");
                self.skip_redis();
                None
            }
            Err(_) => {
                tracing::debug!("rate limit counted in-process: Redis did not answer");
                self.skip_redis();
                None
            }
        }
    }

    fn skip_redis(&self) {
        let now = now_ms();
        let was = self
            .redis_skipped_until
            .swap(now + REDIS_BACKOFF_MS, Ordering::Relaxed);
        // Once per outage, not once a second.
        if was + 2 * REDIS_BACKOFF_MS < now {
            tracing::warn!(
                "Redis does not answer: rate limits are counted in each process until it does"
            );
        }
    }

    /// The same step in this process (Redis down or not configured).
    fn in_process(&self, key: &str, limit: Limit) -> Option<i64> {
        let now = now_ms();
        let mut local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if local.len() > LOCAL_PRUNE_AT {
            local.retain(|_, tat| *tat > now);
            // Still full of live buckets (a flood of subjects): start over
            // rather than scan on every request; a reset only forgives.
            if local.len() > LOCAL_PRUNE_AT / 2 {
                local.clear();
            }
        }
        match decide(limit, local.get(key).copied(), now) {
            Decision::Allow { tat_ms } => {
                local.insert(key.to_owned(), tat_ms);
                None
            }
            Decision::Refuse { retry_after_ms } => Some(retry_after_ms),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
