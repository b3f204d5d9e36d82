//! Rate limits per operation: a token bucket of R calls/s with a burst of R, the way AWS
//! throttles an API. Calls beyond it get the service's throttling error.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::faults::ANY_OPERATION;

/// Rejects rates that could never behave as meant.
pub(crate) fn check_rate(operation: &str, per_second: f64) -> Result<(), String> {
    if operation.is_empty() {
        return Err("operation must name an AWS operation or be \"*\"".to_owned());
    }
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(format!("perSecond must be a positive number, got {per_second}"));
    }
    Ok(())
}

/// A token bucket that starts full. Time is passed in, so tests can drive it virtually.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    /// At least one, so that a rate below 1/s still lets a call through now and then.
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    pub(crate) fn new(per_second: f64, now: Instant) -> Self {
        let burst = per_second.max(1.0);
        TokenBucket {
            per_second,
            burst,
            tokens: burst,
            refilled_at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled_at = now.max(self.refilled_at);
    }

    fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

/// The limits in force: those configured at start (restored on reset) plus those set at run time.
#[derive(Debug)]
pub(crate) struct RateLimits {
    configured: BTreeMap<String, f64>,
    buckets: BTreeMap<String, TokenBucket>,
}

impl RateLimits {
    pub(crate) fn new(configured: BTreeMap<String, f64>, now: Instant) -> Self {
        let mut limits = RateLimits {
            configured,
            buckets: BTreeMap::new(),
        };
        limits.reset(now);
        limits
    }

    /// Back to the configured limits, with full buckets.
    pub(crate) fn reset(&mut self, now: Instant) {
        self.buckets = self
            .configured
            .iter()
            .map(|(op, rate)| (op.clone(), TokenBucket::new(*rate, now)))
            .collect();
    }

    /// Sets (or replaces, with a full bucket) the limit of `operation`; `*` is one bucket
    /// shared by every operation.
    pub(crate) fn set(&mut self, operation: &str, per_second: f64, now: Instant) {
        self.buckets
            .insert(operation.to_owned(), TokenBucket::new(per_second, now));
    }

    /// Removes the limit of one operation.
    pub(crate) fn remove(&mut self, operation: &str) {
        self.buckets.remove(operation);
    }

    pub(crate) fn clear(&mut self) {
        self.buckets.clear();
    }

    /// Operation → calls per second.
    pub(crate) fn rates(&self) -> BTreeMap<String, f64> {
        self.buckets
            .iter()
            .map(|(op, bucket)| (op.clone(), bucket.per_second))
            .collect()
    }

    /// Whether a call of `operation` may go ahead now; takes a token from its bucket and from
    /// the `*` bucket only when both have one.
    pub(crate) fn admit(&mut self, operation: &str, now: Instant) -> bool {
        let mut allowed = true;
        for key in [operation, ANY_OPERATION] {
            if let Some(bucket) = self.buckets.get_mut(key) {
                allowed &= bucket.has_token(now);
            }
        }
        if allowed {
            for key in [operation, ANY_OPERATION] {
                if let Some(bucket) = self.buckets.get_mut(key) {
                    bucket.take();
                }
            }
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

    fn admitted(limits: &mut RateLimits, op: &str, at: Instant, calls: usize) -> usize {
        (0..calls).filter(|_| limits.admit(op, at)).count()
    }

    #[test]
    fn bucket_allows_a_burst_of_r_then_r_per_second() {
        let t0 = Instant::now();
        let mut limits = RateLimits::new(BTreeMap::from([(EXECUTE.to_owned(), 20.0)]), t0);
        assert_eq!(admitted(&mut limits, EXECUTE, t0, 50), 20, "burst = rate");
        assert_eq!(admitted(&mut limits, EXECUTE, t0 + Duration::from_millis(100), 50), 2);
        assert_eq!(
            admitted(&mut limits, EXECUTE, t0 + Duration::from_secs(10), 50),
            20,
            "capped at the burst"
        );
        assert_eq!(
            admitted(&mut limits, "DescribeRecord", t0, 50),
            50,
            "other operations are free"
        );
    }

    #[test]
    fn star_bucket_is_shared_and_both_buckets_must_allow() {
        let t0 = Instant::now();
        let mut limits = RateLimits::new(BTreeMap::new(), t0);
        limits.set("*", 5.0, t0);
        limits.set(EXECUTE, 2.0, t0);
        assert_eq!(admitted(&mut limits, EXECUTE, t0, 10), 2);
        assert_eq!(
            admitted(&mut limits, "DescribeRecord", t0, 10),
            3,
            "5 shared, 2 used by Execute"
        );
    }

    #[test]
    fn reset_restores_the_configured_limits_and_drops_runtime_ones() {
        let t0 = Instant::now();
        let mut limits = RateLimits::new(BTreeMap::from([(EXECUTE.to_owned(), 1.0)]), t0);
        limits.set("DescribeRecord", 3.0, t0);
        limits.remove(EXECUTE);
        limits.reset(t0);
        assert_eq!(limits.rates(), BTreeMap::from([(EXECUTE.to_owned(), 1.0)]));
        limits.clear();
        assert!(limits.rates().is_empty());
    }

    #[test]
    fn slow_rate_still_lets_one_call_through() {
        let t0 = Instant::now();
        let mut limits = RateLimits::new(BTreeMap::from([(EXECUTE.to_owned(), 0.5)]), t0);
        assert_eq!(admitted(&mut limits, EXECUTE, t0, 3), 1);
        assert_eq!(admitted(&mut limits, EXECUTE, t0 + Duration::from_secs(1), 3), 0);
        assert_eq!(admitted(&mut limits, EXECUTE, t0 + Duration::from_secs(2), 3), 1);
        assert!(check_rate(EXECUTE, 0.0).is_err() && check_rate(EXECUTE, f64::NAN).is_err());
        assert!(check_rate("", 1.0).is_err() && check_rate("*", 0.1).is_ok());
    }
}
