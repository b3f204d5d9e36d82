//! The name cache: what names resolved to, kept in the warm execution environment for
//! `NAME_CACHE_SECONDS` so that a batch of requests by name does not resolve the same names again
//! for every record. An entry is used only while fresh, and dropped when an Execute after a cached
//! resolution finds the resource gone (the handler then resolves afresh, once).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::ProvisionedProduct;
use crate::request::ProductRef;

/// Entries that expire `ttl` after they were put in.
#[derive(Debug)]
pub(crate) struct TtlMap<K, V> {
    ttl: Duration,
    entries: HashMap<K, (V, Instant)>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        TtlMap {
            ttl,
            entries: HashMap::new(),
        }
    }

    /// The value put in less than the TTL before `now`; an expired one is dropped.
    pub(crate) fn get(&mut self, key: &K, now: Instant) -> Option<V> {
        match self.entries.get(key) {
            Some((value, at)) if now.saturating_duration_since(*at) < self.ttl => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&mut self, key: K, value: V, now: Instant) {
        if !self.ttl.is_zero() {
            self.entries.insert(key, (value, now));
        }
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// An action name's cache key: (product id, provisioning artifact id, action name).
pub(crate) type ActionKey = (String, String, String);

/// What the handler caches: provisioned products by how requests name them, action ids by
/// (product, artifact, action name), and owners by resource ARN.
#[derive(Debug)]
pub(crate) struct NameCache {
    pub(crate) products: TtlMap<ProductRef, ProvisionedProduct>,
    pub(crate) actions: TtlMap<ActionKey, String>,
    pub(crate) owners: TtlMap<String, String>,
}

impl NameCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        NameCache {
            products: TtlMap::new(ttl),
            actions: TtlMap::new(ttl),
            owners: TtlMap::new(ttl),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_entry_lives_for_the_ttl_and_no_longer() {
        let mut map = TtlMap::new(Duration::from_secs(60));
        let t0 = Instant::now();
        map.put("web-prod", "pp-1", t0);
        assert_eq!(map.get(&"web-prod", t0 + Duration::from_secs(59)), Some("pp-1"));
        assert_eq!(map.get(&"web-prod", t0 + Duration::from_secs(60)), None);
        assert_eq!(map.len(), 0, "an expired entry is dropped");
        assert_eq!(map.get(&"other", t0), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_entry_is_gone_and_a_new_put_restarts_the_clock() {
        let mut map = TtlMap::new(Duration::from_secs(10));
        let t0 = Instant::now();
        map.put("k", 1, t0);
        map.remove(&"k");
        assert_eq!(map.get(&"k", t0), None);
        map.put("k", 2, t0 + Duration::from_secs(5));
        assert_eq!(map.get(&"k", t0 + Duration::from_secs(14)), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_ttl_keeps_nothing() {
        let mut map = TtlMap::new(Duration::ZERO);
        map.put("k", 1, Instant::now());
        assert_eq!(map.len(), 0);
        assert_eq!(map.get(&"k", Instant::now()), None);
    }
}
