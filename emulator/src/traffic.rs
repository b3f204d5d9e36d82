//! What happens to an AWS call before the emulated service sees it: it is counted and its time
//! recorded, the rate limits admit it or not, and the fault rules decide its fate.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::faults::{FaultKind, FaultSet};
use crate::ratelimit::RateLimits;

/// What the emulator has counted since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// AWS calls received per operation, including those answered by an injected fault or a
    /// rate limit, and idempotent replays.
    pub calls: BTreeMap<String, u64>,
    /// Executions actually started, per `ExecuteToken` (a replayed token does not count again).
    pub executions: BTreeMap<String, u64>,
    /// Executions actually started, per provisioned product id.
    pub executions_by_product: BTreeMap<String, u64>,
    /// Faults that fired, per kind, so a test can tell that each one it injected happened.
    pub faults_fired: FaultsFired,
}

/// How many times each kind of fault fired (over all operations). A latency counts once per
/// rule that delayed a call; `rate_limited` counts calls refused by a rate limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultsFired {
    /// [`FaultKind::Throttle`]
    pub throttle: u64,
    /// [`FaultKind::Error500`]
    pub error500: u64,
    /// [`FaultKind::Drop`]
    pub drop: u64,
    /// [`FaultKind::Latency`]
    pub latency: u64,
    /// [`FaultKind::ApplyDrop`]
    pub apply_drop: u64,
    /// [`FaultKind::Apply500`]
    pub apply500: u64,
    /// Calls refused by a rate limit.
    pub rate_limited: u64,
}

impl FaultsFired {
    fn count(&mut self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::Throttle => &mut self.throttle,
            FaultKind::Error500 => &mut self.error500,
            FaultKind::Drop => &mut self.drop,
            FaultKind::Latency => &mut self.latency,
            FaultKind::ApplyDrop => &mut self.apply_drop,
            FaultKind::Apply500 => &mut self.apply500,
        };
        *counter += 1;
    }
}

/// What the server does with one call, after the injected delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Handle it.
    Serve,
    /// The service's throttling error; nothing applied (a throttle fault or a rate limit).
    Throttle,
    /// HTTP 500; nothing applied.
    Fail500,
    /// Close the connection; nothing applied.
    Drop,
    /// Handle it, then close the connection.
    ApplyThenDrop,
    /// Handle it, then answer HTTP 500.
    ApplyThen500,
}

/// The delay and fate decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    pub(crate) latency_ms: u64,
    pub(crate) fate: Fate,
}

/// Everything about the calls themselves, as opposed to the catalog they act on.
#[derive(Debug)]
pub(crate) struct Traffic {
    calls: BTreeMap<String, u64>,
    call_times: BTreeMap<String, Vec<u64>>,
    fired: FaultsFired,
    pub(crate) faults: FaultSet,
    pub(crate) rate_limits: RateLimits,
}

impl Traffic {
    pub(crate) fn new(rng_seed: u64, rate_limits: BTreeMap<String, f64>) -> Self {
        Traffic {
            calls: BTreeMap::new(),
            call_times: BTreeMap::new(),
            fired: FaultsFired::default(),
            faults: FaultSet::new(rng_seed),
            rate_limits: RateLimits::new(rate_limits, Instant::now()),
        }
    }

    /// Counters, call times and faults cleared; rate limits back to the configured ones.
    pub(crate) fn reset(&mut self) {
        self.calls.clear();
        self.call_times.clear();
        self.fired = FaultsFired::default();
        self.faults.clear();
        self.rate_limits.reset(Instant::now());
    }

    /// Counts and timestamps the call, then lets the rate limit and the fault rules decide.
    /// A call refused by the rate limit is not shown to the fault rules (they are not used up).
    pub(crate) fn admit(&mut self, operation: &str, body: Option<&Value>) -> Admission {
        self.admit_at(operation, body, Instant::now(), epoch_ms())
    }

    fn admit_at(&mut self, operation: &str, body: Option<&Value>, now: Instant, epoch_ms: u64) -> Admission {
        *self.calls.entry(operation.to_owned()).or_default() += 1;
        self.call_times.entry(operation.to_owned()).or_default().push(epoch_ms);
        if !self.rate_limits.admit(operation, now) {
            self.fired.rate_limited += 1;
            return Admission {
                latency_ms: 0,
                fate: Fate::Throttle,
            };
        }
        let verdict = self.faults.decide(operation, body);
        self.fired.latency += verdict.latencies_fired;
        if let Some(kind) = verdict.failure {
            self.fired.count(kind);
        }
        let fate = match verdict.failure {
            None | Some(FaultKind::Latency) => Fate::Serve,
            Some(FaultKind::Throttle) => Fate::Throttle,
            Some(FaultKind::Error500) => Fate::Fail500,
            Some(FaultKind::Drop) => Fate::Drop,
            Some(FaultKind::ApplyDrop) => Fate::ApplyThenDrop,
            Some(FaultKind::Apply500) => Fate::ApplyThen500,
        };
        Admission {
            latency_ms: verdict.latency_ms,
            fate,
        }
    }

    /// Calls received per operation.
    pub(crate) fn calls(&self) -> &BTreeMap<String, u64> {
        &self.calls
    }

    pub(crate) fn faults_fired(&self) -> FaultsFired {
        self.fired
    }

    /// When each call of `operation` was received (epoch milliseconds, in arrival order).
    pub(crate) fn call_times(&self, operation: &str) -> Vec<u64> {
        self.call_times.get(operation).cloned().unwrap_or_default()
    }

    /// Every operation's call times.
    pub(crate) fn all_call_times(&self) -> &BTreeMap<String, Vec<u64>> {
        &self.call_times
    }
}

/// Milliseconds since the epoch (0 if the clock is before it, which only a broken host does).
fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::faults::Fault;

    const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

    #[test]
    fn every_call_is_counted_and_timed_whatever_its_fate() {
        let mut traffic = Traffic::new(1, BTreeMap::from([(EXECUTE.to_owned(), 1.0)]));
        let t0 = Instant::now();
        traffic.faults.push(Fault::error500("DescribeRecord", 1));
        assert_eq!(traffic.admit_at(EXECUTE, None, t0, 1000).fate, Fate::Serve);
        assert_eq!(traffic.admit_at(EXECUTE, None, t0, 1001).fate, Fate::Throttle);
        assert_eq!(traffic.admit_at("DescribeRecord", None, t0, 1002).fate, Fate::Fail500);
        assert_eq!(traffic.calls().get(EXECUTE), Some(&2));
        assert_eq!(traffic.call_times(EXECUTE), [1000, 1001]);
        assert_eq!(traffic.call_times("DescribeRecord"), [1002]);
        assert_eq!(traffic.faults_fired().rate_limited, 1);
        assert_eq!(traffic.faults_fired().error500, 1);
        traffic.reset();
        assert!(traffic.calls().is_empty() && traffic.all_call_times().is_empty());
        assert_eq!(traffic.faults_fired(), FaultsFired::default());
    }

    #[test]
    fn a_rate_limited_call_does_not_use_up_a_fault() {
        let mut traffic = Traffic::new(1, BTreeMap::from([(EXECUTE.to_owned(), 1.0)]));
        let t0 = Instant::now();
        traffic.faults.push(Fault::apply_then_drop(EXECUTE, 1));
        assert_eq!(traffic.admit_at(EXECUTE, None, t0, 0).fate, Fate::ApplyThenDrop);
        traffic.faults.push(Fault::apply_then_500(EXECUTE, 1));
        assert_eq!(traffic.admit_at(EXECUTE, None, t0, 0).fate, Fate::Throttle);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(traffic.admit_at(EXECUTE, None, later, 0).fate, Fate::ApplyThen500);
        let fired = traffic.faults_fired();
        assert_eq!((fired.apply_drop, fired.apply500, fired.rate_limited), (1, 1, 1));
    }

    #[test]
    fn counters_json_names_every_fault_kind() {
        let json = serde_json::to_value(Counters::default()).expect("serializes");
        let fired = json["faultsFired"].as_object().expect("object");
        let mut keys: Vec<_> = fired.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "apply500",
                "applyDrop",
                "drop",
                "error500",
                "latency",
                "rateLimited",
                "throttle"
            ]
        );
    }
}
