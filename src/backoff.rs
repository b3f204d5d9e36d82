//! How long a record handed back for a retryable error stays invisible before it comes back:
//! exponential in its receive count, capped, with jitter — sooner than a queue's visibility timeout
//! on the first tries (a throttled record need not wait a full timeout), later on the next ones
//! (a product under change, an outage), spread out so throttled records do not return together.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// The visibility timeout for a message received `receive_count` times (1 on the first receive):
/// `d = min(max, base × 2^(receive_count − 1))`, then a point in `[d/2, d]` picked by `jitter_key`
/// (the receipt handle: different for every message and every receive, the same when asked twice).
/// Whole seconds, at least 1.
pub fn visibility_seconds(receive_count: u32, base: Duration, max: Duration, jitter_key: &str) -> u32 {
    let exponent = receive_count.saturating_sub(1).min(32);
    let full = base.as_secs_f64() * f64::from(2u32.saturating_pow(exponent).max(1));
    let capped = full.min(max.as_secs_f64());
    let seconds = capped / 2.0 + capped / 2.0 * unit(jitter_key);
    (seconds.round() as u32).max(1)
}

/// A number in [0, 1] derived from `key`.
fn unit(key: &str) -> f64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 4];
    first.copy_from_slice(&digest[..4]);
    f64::from(u32::from_be_bytes(first)) / f64::from(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(2);
    const MAX: Duration = Duration::from_secs(300);

    #[test]
    fn the_back_off_doubles_with_each_receive_within_its_jitter_band_and_stops_at_the_cap() {
        for receive in 1..=12u32 {
            let full = (2.0 * f64::from(2u32.pow(receive - 1))).min(300.0);
            for key in ["a", "b", "c", "d", "e", "f"] {
                let s = f64::from(visibility_seconds(receive, BASE, MAX, key));
                assert!(
                    s >= (full / 2.0).round().max(1.0) && s <= full.round(),
                    "receive {receive}: {s} for {full}"
                );
            }
        }
        assert!(visibility_seconds(40, BASE, MAX, "x") <= 300);
        assert_eq!(
            visibility_seconds(u32::MAX, BASE, MAX, "x"),
            visibility_seconds(33, BASE, MAX, "x")
        );
    }

    #[test]
    fn the_jitter_spreads_messages_and_is_stable_for_one_receipt() {
        let spread: std::collections::BTreeSet<u32> = (0..50)
            .map(|i| visibility_seconds(6, BASE, MAX, &format!("receipt-{i}")))
            .collect();
        assert!(spread.len() > 10, "{spread:?}");
        assert_eq!(
            visibility_seconds(6, BASE, MAX, "same"),
            visibility_seconds(6, BASE, MAX, "same")
        );
    }

    #[test]
    fn a_zero_receive_count_is_read_as_the_first_and_the_result_is_at_least_a_second() {
        assert_eq!(
            visibility_seconds(0, BASE, MAX, "k"),
            visibility_seconds(1, BASE, MAX, "k")
        );
        assert_eq!(visibility_seconds(1, Duration::from_millis(100), MAX, "k"), 1);
    }
}
