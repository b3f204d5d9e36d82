//! Pacing: a token bucket over all Service Catalog calls of one function instance
//! (`SC_MAX_CALLS_PER_SECOND`). Service Catalog publishes no rate and throttles bulk use; a call
//! refused for its rate costs a round trip, SDK back-off and often a whole receive of its message,
//! while a call that waits its turn costs only the wait.
//!
//! Written here rather than taken from a crate: the waiting must run on Tokio's clock, so that the
//! invocation's deadline bounds it and tests can run it in paused (virtual) time; `governor`, the
//! usual choice, waits on its own clock and timer.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `rate` tokens a second, at most `rate` (at least one) in hand.
#[derive(Debug)]
pub struct Pace {
    rate: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Pace {
    /// A full bucket of `rate` calls a second (burst = the rate, at least one call).
    pub fn per_second(rate: f64) -> Self {
        let burst = rate.max(1.0);
        Pace {
            rate,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            }),
        }
    }

    /// Takes one token, and says how long the caller must wait before its call (zero when one was
    /// in hand). Taking before waiting keeps concurrent callers in line: each waits its own turn.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut bucket = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        bucket.at = now;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.rate)
        }
    }

    /// Waits for this caller's turn.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_lets_a_burst_through_then_one_call_per_interval() {
        let pace = Pace::per_second(4.0);
        let start = Instant::now();
        let waits: Vec<Duration> = (0..8).map(|_| pace.reserve(start)).collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 0, 0, 0, 250, 500, 750, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_come_back_with_time_up_to_the_burst() {
        let pace = Pace::per_second(2.0);
        let start = Instant::now();
        assert_eq!(pace.reserve(start), Duration::ZERO);
        assert_eq!(pace.reserve(start), Duration::ZERO);
        assert_eq!(pace.reserve(start + Duration::from_millis(500)), Duration::ZERO);
        // Ten idle seconds refill two tokens, not twenty.
        let later = start + Duration::from_secs(10);
        assert_eq!(pace.reserve(later), Duration::ZERO);
        assert_eq!(pace.reserve(later), Duration::ZERO);
        assert_eq!(pace.reserve(later), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn callers_never_exceed_the_rate_over_any_window() {
        // 50 callers at once against 5 calls a second: each second holds at most 5 + the burst.
        let pace = std::sync::Arc::new(Pace::per_second(5.0));
        let start = Instant::now();
        let calls = futures::future::join_all((0..50).map(|_| {
            let pace = pace.clone();
            async move {
                pace.acquire().await;
                Instant::now()
            }
        }))
        .await;
        let mut at: Vec<f64> = calls.iter().map(|t| (*t - start).as_secs_f64()).collect();
        at.sort_by(f64::total_cmp);
        for (i, t) in at.iter().enumerate() {
            let window: usize = at[i..].iter().take_while(|u| **u < t + 1.0).count();
            assert!(window <= 10, "{window} calls in the second from {t}");
        }
        // And the last one went when the rate says: 45 calls after the burst of 5, at 5 a second.
        assert!((at[49] - 9.0).abs() < 1e-6, "{}", at[49]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_below_one_still_lets_one_call_through_at_once() {
        let pace = Pace::per_second(0.5);
        let now = Instant::now();
        assert_eq!(pace.reserve(now), Duration::ZERO);
        assert_eq!(pace.reserve(now), Duration::from_secs(2));
    }
}
