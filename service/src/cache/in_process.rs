//! The embedded default: a bounded map in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt as _};

use super::{AvailabilityCache, CacheHealth};

/// Entries kept before expired ones are swept (and, if the map is still
/// full, everything is dropped: the cache is only ever an optimisation).
const DEFAULT_CAPACITY: usize = 50_000;

/// A cache private to one process: right for a single instance and for demos.
pub struct InProcessCache {
    entries: Mutex<HashMap<String, (Instant, String)>>,
    capacity: usize,
}

impl Default for InProcessCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl InProcessCache {
    /// A cache of at most `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn get_now(&self, keys: &[String]) -> Vec<Option<String>> {
        let now = Instant::now();
        let Ok(entries) = self.entries.lock() else {
            return vec![None; keys.len()];
        };
        keys.iter()
            .map(|key| {
                entries
                    .get(key)
                    .filter(|(expires, _)| *expires > now)
                    .map(|(_, value)| value.clone())
            })
            .collect()
    }

    fn put_now(&self, items: &[(String, String)], ttl: Duration) {
        let now = Instant::now();
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() + items.len() > self.capacity {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() + items.len() > self.capacity {
                entries.clear();
            }
        }
        for (key, value) in items.iter().take(self.capacity) {
            entries.insert(key.clone(), (now + ttl, value.clone()));
        }
    }
}

impl AvailabilityCache for InProcessCache {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Vec<Option<String>>> {
        futures_util::future::ready(self.get_now(keys)).boxed()
    }

    fn put_many<'a>(&'a self, entries: &'a [(String, String)], ttl: Duration) -> BoxFuture<'a, ()> {
        self.put_now(entries, ttl);
        futures_util::future::ready(()).boxed()
    }

    fn check(&self) -> BoxFuture<'_, CacheHealth> {
        futures_util::future::ready(CacheHealth::Ok).boxed()
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[tokio::test]
    async fn returns_what_was_stored_until_it_expires() {
        let cache = InProcessCache::default();
        let entries = vec![("a".to_owned(), "1".to_owned())];
        cache.put_many(&entries, Duration::from_secs(60)).await;
        cache
            .put_many(&[("b".to_owned(), "2".to_owned())], Duration::ZERO)
            .await;
        let found = cache.get_many(&keys(&["a", "b", "c"])).await;
        assert_eq!(found, vec![Some("1".to_owned()), None, None]);
    }

    #[tokio::test]
    async fn never_grows_past_its_capacity() {
        let cache = InProcessCache::with_capacity(3);
        for i in 0..10 {
            let entry = vec![(format!("k{i}"), i.to_string())];
            cache.put_many(&entry, Duration::from_secs(60)).await;
        }
        let held = cache.entries.lock().map(|e| e.len()).unwrap_or(usize::MAX);
        assert!(held <= 3, "{held} entries held");
        let last = cache.get_many(&keys(&["k9"])).await;
        assert_eq!(last, vec![Some("9".to_owned())]);
    }
}
