//! Employees' expanded free time, cached per employee, availability version
//! and horizon.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike as _, Duration as Days, Utc};
use uuid::Uuid;

use super::{AvailabilityCache, CacheHealth};
use crate::domain::availability::Interval;

/// How many weeks ahead free time is cached. A query window inside the
/// horizon (every `nextCommonSlots` up to eleven weeks out) is served from
/// the cache; one reaching further is computed directly.
pub const HORIZON_WEEKS: i64 = 12;

/// How long an entry lives. Entries are never stale (the key carries the
/// version); the TTL only returns the memory of superseded versions.
const ENTRY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Bumped when the stored format changes, so old entries are ignored.
const FORMAT: &str = "v1";

/// Free time of employees over the current horizon, keyed by version.
#[derive(Clone)]
pub struct FreeTimeCache {
    store: Arc<dyn AvailabilityCache>,
}

impl FreeTimeCache {
    /// Free time stored in `store`.
    pub fn new(store: Arc<dyn AvailabilityCache>) -> Self {
        Self { store }
    }

    /// The span cached for everyone at `now`: from Monday 00:00 UTC of the
    /// current week for [`HORIZON_WEEKS`] weeks. Anchoring on the week keeps
    /// one entry per employee valid all week.
    pub fn horizon(now: DateTime<Utc>) -> Interval {
        let today = now.date_naive();
        let monday = today - Days::days(today.weekday().num_days_from_monday().into());
        let start = monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        Interval {
            start,
            end: start + Days::weeks(HORIZON_WEEKS),
        }
    }

    /// The cached free time over `horizon` of each `(employee, version)`, in
    /// order; None where it is not cached (or the store is unreachable).
    pub async fn get(
        &self,
        people: &[(Uuid, i64)],
        horizon: Interval,
    ) -> Vec<Option<Vec<Interval>>> {
        let keys: Vec<String> = people
            .iter()
            .map(|(id, version)| key(*id, *version, horizon))
            .collect();
        self.store
            .get_many(&keys)
            .await
            .into_iter()
            .map(|value| value.and_then(|v| decode(&v)))
            .collect()
    }

    /// Stores the free time over `horizon` of each `(employee, version)`.
    pub async fn put(&self, entries: &[((Uuid, i64), Vec<Interval>)], horizon: Interval) {
        let encoded: Vec<(String, String)> = entries
            .iter()
            .filter_map(|((id, version), free)| {
                encode(free).map(|value| (key(*id, *version, horizon), value))
            })
            .collect();
        self.store.put_many(&encoded, ENTRY_TTL).await;
    }

    /// Whether the store answers now.
    pub async fn health(&self) -> CacheHealth {
        self.store.check().await
    }

    /// `redis` or `in-process`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Whether the store is being skipped after a failure (metrics).
    pub fn breaker_open(&self) -> bool {
        self.store.breaker_open()
    }
}

fn key(employee_id: Uuid, version: i64, horizon: Interval) -> String {
    format!(
        "tandem:free:{FORMAT}:{employee_id}:{version}:{}",
        horizon.start.timestamp()
    )
}

/// `[[start, end], …]` in nanoseconds since the epoch: exact, so a cached
/// answer is the computed one to the nanosecond.
fn encode(free: &[Interval]) -> Option<String> {
    let pairs = free
        .iter()
        .map(|i| Some([i.start.timestamp_nanos_opt()?, i.end.timestamp_nanos_opt()?]))
        .collect::<Option<Vec<[i64; 2]>>>()?;
    serde_json::to_string(&pairs).ok()
}

fn decode(value: &str) -> Option<Vec<Interval>> {
    let pairs: Vec<[i64; 2]> = serde_json::from_str(value).ok()?;
    pairs
        .into_iter()
        .map(|[start, end]| {
            Interval::new(
                DateTime::from_timestamp_nanos(start),
                DateTime::from_timestamp_nanos(end),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::InProcessCache;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn the_horizon_starts_on_monday_midnight_utc() {
        let horizon = FreeTimeCache::horizon(at("2027-03-28T23:30:00Z"));
        assert_eq!(horizon.start, at("2027-03-22T00:00:00Z"));
        assert_eq!(horizon.end, at("2027-06-14T00:00:00Z"));
        let monday = FreeTimeCache::horizon(at("2027-03-22T00:00:00Z"));
        assert_eq!(monday.start, at("2027-03-22T00:00:00Z"));
    }

    #[test]
    fn free_time_survives_encoding_to_the_nanosecond() {
        let free = vec![
            Interval::new(
                at("2027-03-23T08:00:00.123456789Z"),
                at("2027-03-23T10:00:00Z"),
            )
            .unwrap(),
            Interval::new(at("2027-03-30T07:00:00Z"), at("2027-03-30T09:00:00Z")).unwrap(),
        ];
        assert_eq!(decode(&encode(&free).unwrap()), Some(free));
        assert_eq!(decode(&encode(&[]).unwrap()), Some(Vec::new()));
        assert_eq!(decode("not json"), None);
        assert_eq!(decode("[[5, 1]]"), None, "an inverted interval is refused");
    }

    #[tokio::test]
    async fn an_entry_is_only_found_under_its_own_version() {
        let cache = FreeTimeCache::new(Arc::new(InProcessCache::default()));
        let horizon = FreeTimeCache::horizon(at("2027-03-23T12:00:00Z"));
        let person = Uuid::now_v7();
        let free =
            vec![Interval::new(at("2027-03-23T08:00:00Z"), at("2027-03-23T10:00:00Z")).unwrap()];
        cache.put(&[((person, 7), free.clone())], horizon).await;
        let found = cache.get(&[(person, 7), (person, 8)], horizon).await;
        assert_eq!(found, vec![Some(free), None]);
        let next_week = FreeTimeCache::horizon(at("2027-03-30T12:00:00Z"));
        assert_eq!(cache.get(&[(person, 7)], next_week).await, vec![None]);
    }
}
