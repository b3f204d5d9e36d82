//! Fault injection: which AWS calls to throttle, fail, slow down or cut off, before or after
//! they take effect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Matches every operation when used as [`Fault::operation`].
pub const ANY_OPERATION: &str = "*";

/// What an injected fault does to a matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// HTTP 400 throttling error (`ThrottlingException`; `ThrottledException` for the Tagging
    /// API): the SDK classifies it as a throttling error and retries. Nothing is applied.
    Throttle,
    /// HTTP 500 (`InternalFailure`; `InternalServiceException` for the Tagging API): a
    /// transient server error. Nothing is applied.
    Error500,
    /// Delay the call by [`Fault::latency_ms`], then handle it normally.
    Latency,
    /// Close the connection without answering: the client sees an I/O error. Nothing is applied.
    Drop,
    /// Handle the call (an execution is started and counted), then close the connection
    /// without answering: the client cannot tell whether it took effect. The case that an
    /// idempotency token exists for.
    ApplyDrop,
    /// Handle the call (an execution is started and counted), then answer HTTP 500 instead of
    /// its result.
    Apply500,
}

/// One fault rule. Rules are checked in the order they were injected.
///
/// Fires on the next `count` matching calls, or on a `fraction` of them (drawn from a seeded
/// RNG, so runs are repeatable), or — with neither — on every matching call until cleared.
/// With both, each call fires with probability `fraction` until it has fired `count` times.
/// With `when`, only calls whose JSON body has each of those top-level string members with
/// exactly that value match (to fault one record of a batch); other calls pass it by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// An AWS operation name such as `ExecuteProvisionedProductServiceAction`, or `*`.
    pub operation: String,
    /// What happens to a matching call.
    pub kind: FaultKind,
    /// Fire on this many matching calls, then retire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Fire on this share (0.0–1.0) of matching calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// Delay for [`FaultKind::Latency`]; ignored by the other kinds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Match only calls whose body has these top-level members with these string values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: BTreeMap<String, String>,
}

impl Fault {
    /// A fault of `kind` on the next `count` calls of `operation` (`*` for any).
    pub fn new(operation: impl Into<String>, kind: FaultKind, count: u64) -> Self {
        Fault {
            operation: operation.into(),
            kind,
            count: Some(count),
            fraction: None,
            latency_ms: 0,
            when: BTreeMap::new(),
        }
    }

    /// Throttle the next `count` calls of `operation`.
    pub fn throttle(operation: impl Into<String>, count: u64) -> Self {
        Self::new(operation, FaultKind::Throttle, count)
    }

    /// Answer the next `count` calls of `operation` with HTTP 500.
    pub fn error500(operation: impl Into<String>, count: u64) -> Self {
        Self::new(operation, FaultKind::Error500, count)
    }

    /// Close the connection on the next `count` calls of `operation`.
    pub fn drop_connection(operation: impl Into<String>, count: u64) -> Self {
        Self::new(operation, FaultKind::Drop, count)
    }

    /// Delay every call of `operation` by `latency_ms` until cleared.
    pub fn latency(operation: impl Into<String>, latency_ms: u64) -> Self {
        Fault {
            operation: operation.into(),
            kind: FaultKind::Latency,
            count: None,
            fraction: None,
            latency_ms,
            when: BTreeMap::new(),
        }
    }

    /// Handle the next `count` calls of `operation`, then close their connections unanswered.
    pub fn apply_then_drop(operation: impl Into<String>, count: u64) -> Self {
        Self::new(operation, FaultKind::ApplyDrop, count)
    }

    /// Handle the next `count` calls of `operation`, then answer them with HTTP 500.
    pub fn apply_then_500(operation: impl Into<String>, count: u64) -> Self {
        Self::new(operation, FaultKind::Apply500, count)
    }

    /// Fire on a share of matching calls instead of (or, with a count, as well as) the next N.
    pub fn with_fraction(mut self, fraction: f64) -> Self {
        self.fraction = Some(fraction);
        self
    }

    /// Fire on every matching call until cleared.
    pub fn always(mut self) -> Self {
        self.count = None;
        self
    }

    /// Match only calls whose JSON body has the top-level string `member` equal to `value`,
    /// e.g. `.when("ProvisionedProductId", "pp-webprod000001")`. Several conditions must all hold.
    pub fn when(mut self, member: impl Into<String>, value: impl Into<String>) -> Self {
        self.when.insert(member.into(), value.into());
        self
    }

    /// Rejects rules that could never behave as the caller meant.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.operation.is_empty() {
            return Err("operation must name an AWS operation or be \"*\"".to_owned());
        }
        if let Some(f) = self.fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("fraction must be within 0.0..=1.0, got {f}"));
            }
        }
        if self.when.keys().any(String::is_empty) {
            return Err("when must name body members".to_owned());
        }
        Ok(())
    }

    fn matches(&self, operation: &str, body: Option<&Value>) -> bool {
        let operation_matches = self.operation == ANY_OPERATION || self.operation == operation;
        operation_matches
            && self
                .when
                .iter()
                .all(|(member, value)| body.and_then(|b| b.get(member)).and_then(Value::as_str) == Some(value))
    }
}

/// What the injected faults decided for one call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Extra delay from latency faults, added up.
    pub latency_ms: u64,
    /// How many latency rules fired.
    pub latencies_fired: u64,
    /// The first fault of another kind that fired, if any.
    pub failure: Option<FaultKind>,
}

/// The active rules plus the RNG that `fraction` draws from.
#[derive(Debug)]
pub(crate) struct FaultSet {
    rules: Vec<Fault>,
    rng: SplitMix64,
}

impl FaultSet {
    pub(crate) fn new(rng_seed: u64) -> Self {
        FaultSet {
            rules: Vec::new(),
            rng: SplitMix64(rng_seed),
        }
    }

    pub(crate) fn push(&mut self, fault: Fault) {
        self.rules.push(fault);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn rules(&self) -> Vec<Fault> {
        self.rules.clone()
    }

    /// Decides the fate of one call (`body`: its JSON, when it parsed) and uses up counted rules
    /// that fired. Every latency rule that fires adds up; only the first failure rule that fires
    /// is used up.
    pub(crate) fn decide(&mut self, operation: &str, body: Option<&Value>) -> Verdict {
        let mut verdict = Verdict::default();
        for rule in self.rules.iter_mut().filter(|r| r.matches(operation, body)) {
            if rule.kind != FaultKind::Latency && verdict.failure.is_some() {
                continue;
            }
            if rule.count == Some(0) {
                continue;
            }
            if let Some(fraction) = rule.fraction {
                if self.rng.next_f64() >= fraction {
                    continue;
                }
            }
            if let Some(n) = rule.count.as_mut() {
                *n -= 1;
            }
            match rule.kind {
                FaultKind::Latency => {
                    verdict.latency_ms += rule.latency_ms;
                    verdict.latencies_fired += 1;
                }
                kind => verdict.failure = Some(kind),
            }
        }
        self.rules.retain(|r| r.count != Some(0));
        verdict
    }
}

/// A tiny deterministic RNG; repeatable runs matter more here than quality.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

    #[test]
    fn counted_fault_fires_n_times_then_retires() {
        let mut faults = FaultSet::new(1);
        faults.push(Fault::throttle(EXECUTE, 2));
        assert_eq!(faults.decide(EXECUTE, None).failure, Some(FaultKind::Throttle));
        assert_eq!(faults.decide("DescribeRecord", None).failure, None);
        assert_eq!(faults.decide(EXECUTE, None).failure, Some(FaultKind::Throttle));
        assert_eq!(faults.decide(EXECUTE, None).failure, None);
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn only_the_first_failure_is_used_up_but_latencies_add_up() {
        let mut faults = FaultSet::new(1);
        faults.push(Fault::latency("*", 5));
        faults.push(Fault::error500("*", 1));
        faults.push(Fault::drop_connection(EXECUTE, 1));
        faults.push(Fault::latency(EXECUTE, 7));
        let first = faults.decide(EXECUTE, None);
        assert_eq!(first.failure, Some(FaultKind::Error500));
        assert_eq!(first.latency_ms, 12);
        assert_eq!(faults.decide(EXECUTE, None).failure, Some(FaultKind::Drop));
        assert_eq!(faults.decide(EXECUTE, None).failure, None);
    }

    #[test]
    fn fraction_fires_on_about_that_share_of_calls() {
        let mut faults = FaultSet::new(42);
        faults.push(Fault::throttle("*", 0).always().with_fraction(0.25));
        let fired = (0..4000)
            .filter(|_| faults.decide(EXECUTE, None).failure.is_some())
            .count();
        assert!((800..1200).contains(&fired), "fired {fired} of 4000");
    }

    #[test]
    fn fault_json_uses_the_control_api_names() {
        let fault: Fault = serde_json::from_str(r#"{"operation":"*","kind":"latency","fraction":0.5,"latencyMs":30}"#)
            .expect("valid fault");
        assert_eq!(fault, Fault::latency("*", 30).with_fraction(0.5));
        let err500: Fault =
            serde_json::from_str(r#"{"operation":"DescribeRecord","kind":"error500","count":3}"#).expect("valid fault");
        assert_eq!(err500, Fault::error500("DescribeRecord", 3));
        assert!(Fault::throttle("*", 1).with_fraction(1.5).check().is_err());
        let apply: Fault = serde_json::from_str(
            r#"{"operation":"*","kind":"applyDrop","count":1,"when":{"ProvisionedProductId":"pp-1"}}"#,
        )
        .expect("valid fault");
        assert_eq!(
            apply,
            Fault::apply_then_drop("*", 1).when("ProvisionedProductId", "pp-1")
        );
        let apply500 = serde_json::to_value(Fault::apply_then_500(EXECUTE, 2)).expect("serializes");
        assert_eq!(apply500["kind"], "apply500");
        assert!(apply500.get("when").is_none());
    }

    #[test]
    fn when_matches_only_calls_whose_body_has_that_member_value() {
        let mut faults = FaultSet::new(1);
        faults.push(Fault::error500(EXECUTE, 1).when("ProvisionedProductId", "pp-b"));
        let body = |pp: &str| serde_json::json!({"ProvisionedProductId": pp, "ServiceActionId": "act-1"});
        assert_eq!(faults.decide(EXECUTE, Some(&body("pp-a"))).failure, None);
        assert_eq!(
            faults.decide(EXECUTE, None).failure,
            None,
            "an unparsed body never matches"
        );
        assert_eq!(
            faults
                .decide(EXECUTE, Some(&serde_json::json!({"ProvisionedProductId": 5})))
                .failure,
            None
        );
        assert_eq!(
            faults.decide(EXECUTE, Some(&body("pp-b"))).failure,
            Some(FaultKind::Error500)
        );
        assert!(faults.rules().is_empty(), "used up by the matching call only");
    }

    #[test]
    fn latency_rules_that_fire_are_counted() {
        let mut faults = FaultSet::new(1);
        faults.push(Fault::latency("*", 5));
        faults.push(Fault::latency(EXECUTE, 7));
        let verdict = faults.decide(EXECUTE, None);
        assert_eq!((verdict.latency_ms, verdict.latencies_fired), (12, 2));
        assert_eq!(faults.decide("DescribeRecord", None).latencies_fired, 1);
    }
}
