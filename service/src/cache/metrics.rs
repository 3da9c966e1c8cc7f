//! Programme metrics kept for a bounded time: a dashboard that many analysts
//! reload pays for the aggregates once per bound, not once per request.
//!
//! The bound is a promise about staleness, not a store's TTL: every entry
//! carries the instant its computation *started* (every statement it ran
//! read data committed by then or later), and is served only while less than
//! the bound has passed since. So a write committed at instant `w` is in
//! every answer given after `w + bound`, whichever replica answers and
//! however long the store keeps the entry (the store's TTL only returns its
//! memory). The key holds everything a figure depends on besides the data:
//! the programme, the window, today's date (which closes weeks) and k.
//!
//! Concurrent misses of one key on one replica compute it once (the others
//! wait for it and read what it stored). Errors are never kept.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::AvailabilityCache;
use crate::error::AppResult;

/// The longest staleness the service accepts (`METRICS_CACHE_SECS` ≤ this).
pub const MOST_STALENESS: Duration = Duration::from_secs(60);

/// Entries the in-process store keeps: a full summary is about 30 KB, so at
/// most a few MB, whatever windows callers ask for.
pub const IN_PROCESS_ENTRIES: usize = 128;

/// Bumped when the stored format changes, so old entries are ignored.
const FORMAT: &str = "v1";

/// A figure as stored: what it is and when its computation started.
#[derive(Serialize, serde::Deserialize)]
struct Stamped<T> {
    /// Milliseconds since the epoch when the computation started.
    started_ms: i64,
    value: T,
}

/// A figure and the instant its computation started (the data it reflects
/// is at least that recent).
#[derive(Clone, Debug, PartialEq)]
pub struct Kept<T> {
    /// The figure.
    pub value: T,
    /// When its computation started.
    pub started: DateTime<Utc>,
}

/// The computations of one key on this replica take turns; the one that
/// computes leaves its answer here for the others, so they never compute
/// again, even when the store is unreachable.
type Flight = tokio::sync::Mutex<Option<String>>;

/// Programme figures, each served for at most `bound` after its computation began.
#[derive(Clone)]
pub struct MetricsCache {
    store: Arc<dyn AvailabilityCache>,
    bound: Duration,
    flights: Arc<Mutex<HashMap<String, Arc<Flight>>>>,
}

impl MetricsCache {
    /// Figures kept in `store` for at most `bound` (zero: never kept).
    pub fn new(store: Arc<dyn AvailabilityCache>, bound: Duration) -> Self {
        Self {
            store,
            bound: Ord::min(bound, MOST_STALENESS),
            flights: Arc::default(),
        }
    }

    /// How stale a figure may be.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// The figure stored under `key` if it is fresh at `now()`, else the one
    /// `compute` gives, stored for the next callers and stamped with the
    /// instant its computation started, or `derived_from` when it is built
    /// on an older figure (its freshness is that figure's). Entries leave
    /// the store when the bound has passed since that stamp, by the store's
    /// own clock, and are refused on reading by [`fresh`] as well.
    pub async fn get_or_compute<T, F>(
        &self,
        key: &str,
        now: impl Fn() -> DateTime<Utc>,
        derived_from: Option<DateTime<Utc>>,
        compute: F,
    ) -> AppResult<Kept<T>>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = AppResult<T>>,
    {
        if self.bound.is_zero() {
            let started = now();
            let value = compute.await?;
            return Ok(Kept { value, started });
        }
        let key = format!("tandem:metrics:{FORMAT}:{key}");
        if let Some(kept) = self.read(&key, now()).await {
            return Ok(kept);
        }
        let landing = Landing::board(self, &key);
        let mut slot = landing.flight.lock().await;
        if let Some(kept) = slot.as_deref().and_then(|text| self.decode(text, now())) {
            return Ok(kept);
        }
        if let Some(kept) = self.read(&key, now()).await {
            return Ok(kept);
        }
        let clock = std::time::Instant::now();
        let started = derived_from.map_or_else(&now, |older| Ord::min(older, now()));
        let value = compute.await?;
        let kept = Kept { value, started };
        let stamped = Stamped {
            started_ms: started.timestamp_millis(),
            value: &kept.value,
        };
        let encoded = serde_json::to_string(&stamped).ok();
        let age = now()
            .signed_duration_since(started)
            .to_std()
            .unwrap_or(clock.elapsed());
        if let (Some(text), Some(left)) = (&encoded, self.bound.checked_sub(age)) {
            self.store
                .put_many(&[(key.clone(), text.clone())], left)
                .await;
        }
        *slot = encoded;
        Ok(kept)
    }

    async fn read<T: DeserializeOwned>(&self, key: &str, now: DateTime<Utc>) -> Option<Kept<T>> {
        let found = self.store.get_many(&[key.to_owned()]).await;
        self.decode(found.first()?.as_deref()?, now)
    }

    fn decode<T: DeserializeOwned>(&self, text: &str, now: DateTime<Utc>) -> Option<Kept<T>> {
        let stored: Stamped<T> = serde_json::from_str(text).ok()?;
        let started = DateTime::from_timestamp_millis(stored.started_ms)?;
        fresh(started, now, self.bound).then_some(Kept {
            value: stored.value,
            started,
        })
    }
}

/// A caller's place on a key's flight. Leaving it (also when the request
/// is dropped half-way) forgets the flight once no one else is on it, so
/// the map holds only keys being computed now.
struct Landing<'a> {
    cache: &'a MetricsCache,
    key: &'a str,
    flight: Arc<Flight>,
}

impl<'a> Landing<'a> {
    fn board(cache: &'a MetricsCache, key: &'a str) -> Self {
        let flight = match cache.flights.lock() {
            Ok(mut flights) => flights.entry(key.to_owned()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        Self { cache, key, flight }
    }
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        if let Ok(mut flights) = self.cache.flights.lock()
            && flights
                .get(self.key)
                .is_some_and(|kept| Arc::ptr_eq(kept, &self.flight))
            && Arc::strong_count(&self.flight) <= 2
        {
            flights.remove(self.key);
        }
    }
}

/// Whether a figure whose computation started at `started` may still be
/// served at `now`: less than `bound` has passed (and the clock has not gone
/// back past it, which would make its age unknowable).
pub fn fresh(started: DateTime<Utc>, now: DateTime<Utc>, bound: Duration) -> bool {
    let Ok(bound) = chrono::Duration::from_std(bound) else {
        return false;
    };
    started <= now && now.signed_duration_since(started) < bound
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::TimeZone as _;

    use super::*;
    use crate::cache::InProcessCache;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    /// The figure `cache` answers under `key` at second `now`, where the
    /// data would give `value`.
    async fn ask(cache: &MetricsCache, key: &str, now: i64, value: i64) -> Option<i64> {
        let compute = async move { Ok::<_, crate::error::AppError>(value) };
        let kept = cache.get_or_compute(key, || at(now), None, compute).await;
        kept.ok().map(|k| k.value)
    }

    fn cache(bound_secs: u64) -> MetricsCache {
        MetricsCache::new(
            Arc::new(InProcessCache::with_capacity(IN_PROCESS_ENTRIES)),
            Duration::from_secs(bound_secs),
        )
    }

    #[test]
    fn a_figure_is_fresh_until_the_bound_has_passed_since_it_started() {
        let bound = Duration::from_secs(60);
        assert!(fresh(at(0), at(0), bound));
        assert!(fresh(at(0), at(59), bound));
        assert!(!fresh(at(0), at(60), bound));
        assert!(!fresh(at(0), at(3600), bound));
    }

    #[test]
    fn a_figure_from_the_future_is_never_fresh() {
        assert!(!fresh(at(10), at(0), Duration::from_secs(60)));
    }

    #[test]
    fn the_bound_never_exceeds_sixty_seconds() {
        assert_eq!(cache(3600).bound(), MOST_STALENESS);
    }

    #[tokio::test]
    async fn a_write_shows_once_the_bound_has_passed() {
        let cache = cache(60);
        assert_eq!(ask(&cache, "k", 0, 1).await, Some(1));
        // The data changes: within the bound the kept figure is served…
        assert_eq!(ask(&cache, "k", 59, 2).await, Some(1));
        // …and from the bound on, the new one.
        assert_eq!(ask(&cache, "k", 60, 2).await, Some(2));
        assert_eq!(ask(&cache, "k", 61, 3).await, Some(2));
    }

    #[tokio::test]
    async fn a_figure_built_on_an_older_one_expires_with_it() {
        let cache = cache(60);
        let figure = |n: i64| async move { Ok::<_, crate::error::AppError>(n) };
        let kept = cache
            .get_or_compute("k", || at(30), Some(at(10)), figure(1))
            .await;
        assert_eq!(kept.ok().map(|k| k.started), Some(at(10)));
        assert_eq!(ask(&cache, "k", 69, 2).await, Some(1));
        assert_eq!(
            ask(&cache, "k", 70, 2).await,
            Some(2),
            "60 s after the older figure"
        );
    }

    #[tokio::test]
    async fn a_dropped_request_leaves_no_flight_behind() {
        let cache = cache(60);
        let stalled = cache.get_or_compute(
            "k",
            || at(0),
            None,
            std::future::pending::<crate::error::AppResult<i64>>(),
        );
        let gave_up = tokio::time::timeout(Duration::from_millis(1), stalled).await;
        assert!(gave_up.is_err());
        let flights = cache.flights.lock().map(|f| f.len()).unwrap_or(usize::MAX);
        assert_eq!(flights, 0);
    }

    #[tokio::test]
    async fn a_zero_bound_keeps_nothing() {
        let cache = cache(0);
        assert_eq!(ask(&cache, "k", 0, 1).await, Some(1));
        assert_eq!(ask(&cache, "k", 0, 2).await, Some(2));
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let cache = cache(60);
        let failed = cache
            .get_or_compute("k", || at(0), None, async {
                Err::<i64, _>(crate::error::AppError::NotFound("programme"))
            })
            .await;
        assert!(failed.is_err());
        let figure = async { Ok::<_, crate::error::AppError>(7) };
        let kept = cache.get_or_compute("k", || at(1), None, figure).await;
        assert_eq!(kept.ok().map(|k| k.value), Some(7));
    }

    #[tokio::test]
    async fn keys_do_not_share_figures() {
        let cache = cache(60);
        assert_eq!(ask(&cache, "a", 0, 1).await, Some(1));
        assert_eq!(ask(&cache, "b", 0, 2).await, Some(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_compute_once() {
        let cache = cache(60);
        let computed = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let (cache, computed, gate) = (cache.clone(), computed.clone(), gate.clone());
                tokio::spawn(async move {
                    let compute = async {
                        computed.fetch_add(1, Ordering::SeqCst);
                        if let Ok(permit) = gate.acquire().await {
                            permit.forget();
                        }
                        Ok::<_, crate::error::AppError>(42)
                    };
                    let kept = cache.get_or_compute("k", || at(0), None, compute).await;
                    kept.ok().map(|k| k.value)
                })
            })
            .collect();
        // Hold the first computation until all sixteen share its flight.
        let waiting = || {
            let flights = cache.flights.lock().ok()?;
            flights.values().next().map(Arc::strong_count)
        };
        for _ in 0..100_000 {
            if waiting() == Some(17) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(waiting(), Some(17), "all sixteen wait on one flight");
        gate.add_permits(16);
        for answer in futures_util::future::join_all(calls).await {
            assert_eq!(answer.ok().flatten(), Some(42));
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        let flights = cache.flights.lock().map(|f| f.len()).unwrap_or(usize::MAX);
        assert_eq!(flights, 0, "every flight's lock is forgotten");
    }
}
