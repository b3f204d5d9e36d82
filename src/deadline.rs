//! The invocation's deadline, and the time budget it leaves the records of one invocation.
//!
//! Lambda stops an invocation at its deadline: nothing it did is acknowledged and no answer goes
//! out, so a whole batch would come back. The function therefore bounds its own work: records run
//! until `DEADLINE_MARGIN_MS` before the deadline and are abandoned (handed back) after that; the
//! margin is for publishing the results of the records that finished, and for answering.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The smallest `DEADLINE_MARGIN_MS` accepted: publishing needs at least a few round trips.
pub(crate) const MIN_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Kept after publishing, to serialize the answer and hand it to the Runtime API.
pub(crate) const ANSWER_RESERVE: Duration = Duration::from_millis(250);

/// The invocation's deadline from the Runtime API's `Lambda-Runtime-Deadline-Ms`. Lambda sends epoch
/// milliseconds; some local runtime emulators (cargo-lambda's `watch`) send a fixed timeout such as
/// `600000` instead, which read as a timestamp would be in 1970 and stop every batch after its first
/// record. A value too small to be a timestamp of this century is therefore read as "this many
/// milliseconds from now". Zero means no deadline is known.
pub fn deadline_from_runtime(deadline_ms: u64, now: SystemTime) -> Option<SystemTime> {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    match deadline_ms {
        0 => None,
        ms if ms < YEAR_2001_MS => Some(now + Duration::from_millis(ms)),
        ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
    }
}

/// When the records' work must end, and when publishing must end, for one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// No record starts after this, and one still running then is abandoned.
    work_end: Option<Instant>,
    /// Publishing (results, follow-up messages) must be done by this.
    publish_end: Option<Instant>,
}

impl Budget {
    /// The budget of an invocation that ends at `deadline` (None: no known deadline, no bound).
    pub(crate) fn new(deadline: Option<SystemTime>, margin: Duration) -> Self {
        Self::at(deadline, margin, SystemTime::now(), Instant::now())
    }

    /// As [`Budget::new`], with the clocks read by the caller (for tests).
    pub(crate) fn at(deadline: Option<SystemTime>, margin: Duration, now: SystemTime, now_instant: Instant) -> Self {
        let Some(deadline) = deadline else {
            return Budget {
                work_end: None,
                publish_end: None,
            };
        };
        let left = deadline.duration_since(now).unwrap_or(Duration::ZERO);
        let end_after = |reserve: Duration| now_instant + left.saturating_sub(reserve);
        Budget {
            work_end: Some(end_after(margin)),
            publish_end: Some(end_after(ANSWER_RESERVE.min(margin))),
        }
    }

    /// Whether a record may still start.
    pub(crate) fn can_start(&self) -> bool {
        self.work_end.is_none_or(|end| Instant::now() < end)
    }

    /// Runs a record's work until the work must end; `None` when it did not finish in time.
    pub(crate) async fn bound_work<F: Future>(&self, work: F) -> Option<F::Output> {
        bound(self.work_end, work).await
    }

    /// Runs publishing until it must end; `None` when it did not finish in time.
    pub(crate) async fn bound_publish<F: Future>(&self, publishing: F) -> Option<F::Output> {
        bound(self.publish_end, publishing).await
    }
}

async fn bound<F: Future>(end: Option<Instant>, work: F) -> Option<F::Output> {
    match end {
        None => Some(work.await),
        Some(end) => tokio::time::timeout_at(end, work).await.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_deadlines_are_epoch_millis_or_a_local_emulators_timeout() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_150_000);
        assert_eq!(deadline_from_runtime(0, now), None);
        assert_eq!(
            deadline_from_runtime(1_764_150_030_000, now),
            Some(UNIX_EPOCH + Duration::from_millis(1_764_150_030_000))
        );
        // cargo lambda watch sends a fixed 600000.
        assert_eq!(
            deadline_from_runtime(600_000, now),
            Some(now + Duration::from_secs(600))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn work_ends_a_margin_before_the_deadline_and_publishing_just_before_it() {
        let (now, instant) = (SystemTime::now(), Instant::now());
        let budget = Budget::at(
            Some(now + Duration::from_secs(10)),
            Duration::from_secs(3),
            now,
            instant,
        );
        assert_eq!(budget.work_end, Some(instant + Duration::from_secs(7)));
        assert_eq!(budget.publish_end, Some(instant + Duration::from_millis(9_750)));
        assert!(budget.can_start());

        // Work that takes longer than 7 s is cut off at 7 s; publishing may go on to 9.75 s.
        let slow = tokio::time::sleep(Duration::from_secs(8));
        assert_eq!(budget.bound_work(slow).await, None);
        assert_eq!(Instant::now(), instant + Duration::from_secs(7));
        assert!(!budget.can_start());
        let publishing = tokio::time::sleep(Duration::from_secs(2));
        assert_eq!(budget.bound_publish(publishing).await, Some(()));
        assert_eq!(budget.bound_publish(async { 5 }).await, Some(5));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            budget.bound_publish(tokio::time::sleep(Duration::from_secs(1))).await,
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_past_leaves_no_time_and_no_deadline_leaves_all() {
        let now = SystemTime::now();
        let past = Budget::at(
            Some(now - Duration::from_secs(1)),
            Duration::from_secs(1),
            now,
            Instant::now(),
        );
        assert!(!past.can_start());
        let pending = tokio::time::sleep(Duration::from_millis(1));
        assert_eq!(past.bound_work(pending).await, None);

        let unbounded = Budget::new(None, Duration::from_secs(3));
        assert!(unbounded.can_start());
        let long = tokio::time::sleep(Duration::from_secs(3600));
        assert_eq!(unbounded.bound_work(long).await, Some(()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_smallest_margin_still_leaves_time_to_publish_after_the_work() {
        let (now, instant) = (SystemTime::now(), Instant::now());
        let budget = Budget::at(Some(now + Duration::from_secs(5)), MIN_DEADLINE_MARGIN, now, instant);
        let (work_end, publish_end) = (budget.work_end.unwrap(), budget.publish_end.unwrap());
        assert_eq!(publish_end - work_end, MIN_DEADLINE_MARGIN - ANSWER_RESERVE);
    }
}
