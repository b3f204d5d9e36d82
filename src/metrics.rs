//! What one invocation did, as counts and latencies, written as one CloudWatch Embedded Metric
//! Format (EMF) line.
//!
//! Lambda sends the function's stdout to CloudWatch Logs, and CloudWatch Logs turns a log line that
//! follows the EMF specification into metrics, with no API call and no extra permission. The handler
//! fills an [`InvocationMetrics`] while it works and prints [`InvocationMetrics::emf_line`] once at
//! the end, so a 10-record batch costs one log line.
//!
//! Only metric names, counts and latencies go in; never ids, tokens, parameter values or record
//! outputs, and the one dimension is the function name (low cardinality by construction). A test
//! checks that the line has no other member.
//!
//! The module is pure (no clock, no environment, no global recorder): the caller passes the
//! namespace, the function name and the timestamp, which keeps it testable without global state.
//! The caller prints the line as it is, on its own line of stdout (one `write_all` of the line and
//! `\n`), not through `tracing`, whose JSON wrapper would hide the `_aws` member from CloudWatch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// Namespace used when `METRICS_NAMESPACE` is unset or blank. The template's alarms assume it
/// unless its `MetricsNamespace` parameter says otherwise.
pub const DEFAULT_NAMESPACE: &str = "ScActionRunner";

/// The one dimension of every metric; its value is the function's name.
pub const FUNCTION_NAME_DIMENSION: &str = "FunctionName";

/// The dimension value outside Lambda (no `AWS_LAMBDA_FUNCTION_NAME`), e.g. under `cargo lambda watch`.
pub const LOCAL_FUNCTION_NAME: &str = "local";

/// Name of the latency metric (Unit `Milliseconds`).
pub const EXECUTE_LATENCY: &str = "ExecuteLatency";

/// The EMF specification allows at most 100 values in one metric's array; later values of the same
/// invocation are not kept (the counts stay exact).
pub const MAX_LATENCY_VALUES: usize = 100;

/// The EMF specification allows at most 100 metrics in one directive.
const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// The counted metrics (Unit `Count`). Each counts events of one invocation; CloudWatch sums them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Requests that Service Catalog accepted for execution (an `EXECUTED` result).
    Executed,
    /// Requests that ended as a `REJECTED` result.
    Rejected,
    /// Records (or direct/EventBridge invocations) handed back for a later retry.
    Retried,
    /// Service Catalog throttling errors that reached the function, i.e. after the SDK's own
    /// retries (`AWS_MAX_ATTEMPTS`) had been used up.
    Throttled,
    /// Result messages sent to the results queue.
    ResultsPublished,
    /// Tracked executions that ended `SUCCEEDED`.
    Succeeded,
    /// Tracked executions that ended `FAILED`.
    Failed,
    /// Tracked executions still unfinished when tracking gave up (`TIMED_OUT`).
    TimedOut,
    /// Child requests a fleet run enqueued, one per target.
    FleetTargets,
    /// Dry runs answered (`DRY_RUN` results).
    DryRuns,
}

impl Metric {
    /// Every counted metric, in the order they appear in an EMF line.
    pub const ALL: [Metric; 10] = [
        Metric::Executed,
        Metric::Rejected,
        Metric::Retried,
        Metric::Throttled,
        Metric::ResultsPublished,
        Metric::Succeeded,
        Metric::Failed,
        Metric::TimedOut,
        Metric::FleetTargets,
        Metric::DryRuns,
    ];

    /// The CloudWatch metric name; dashboards and alarms depend on it, so it never changes.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::Executed => "Executed",
            Metric::Rejected => "Rejected",
            Metric::Retried => "Retried",
            Metric::Throttled => "Throttled",
            Metric::ResultsPublished => "ResultsPublished",
            Metric::Succeeded => "Succeeded",
            Metric::Failed => "Failed",
            Metric::TimedOut => "TimedOut",
            Metric::FleetTargets => "FleetTargets",
            Metric::DryRuns => "DryRuns",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// What one invocation did. Cheap to create; one per invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationMetrics {
    counts: [u64; Metric::ALL.len()],
    /// Microseconds, so that the line can say 12.345 ms without float noise.
    execute_latencies_us: Vec<u64>,
}

impl InvocationMetrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` to `metric`.
    pub fn count(&mut self, metric: Metric, n: u64) {
        let slot = &mut self.counts[metric.index()];
        *slot = slot.saturating_add(n);
    }

    /// Records how long one `ExecuteProvisionedProductServiceAction` call took, SDK retries included.
    /// Only the first [`MAX_LATENCY_VALUES`] calls of an invocation are kept.
    pub fn execute_latency(&mut self, elapsed: Duration) {
        if self.execute_latencies_us.len() < MAX_LATENCY_VALUES {
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            self.execute_latencies_us.push(micros);
        }
    }

    /// How much `metric` has counted so far (tests compare it with what ran).
    pub fn counted(&self, metric: Metric) -> u64 {
        self.counts[metric.index()]
    }

    /// The kept Execute latencies, in milliseconds.
    pub fn execute_latencies_ms(&self) -> Vec<f64> {
        self.execute_latencies_us.iter().map(|&us| us as f64 / 1000.0).collect()
    }

    /// Nothing counted and no latency recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&n| n == 0) && self.execute_latencies_us.is_empty()
    }

    /// The EMF line for this invocation (no trailing newline), or `None` when it counted nothing:
    /// no empty line, and no metric data point that would only say "0".
    ///
    /// Only metrics with a non-zero count appear (and `ExecuteLatency` when a call was timed), so a
    /// metric that never happens costs nothing; alarms on such metrics treat missing data as "not
    /// breaching". `timestamp_ms` is milliseconds since the Unix epoch ([`unix_millis`]).
    pub fn emf_line(&self, namespace: &str, function_name: &str, timestamp_ms: u64) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut definitions = Vec::new();
        let mut root = Map::new();
        for metric in Metric::ALL {
            let n = self.counted(metric);
            if n > 0 {
                definitions.push(json!({ "Name": metric.name(), "Unit": "Count" }));
                root.insert(metric.name().to_owned(), Value::from(n));
            }
        }
        if !self.execute_latencies_us.is_empty() {
            definitions.push(json!({ "Name": EXECUTE_LATENCY, "Unit": "Milliseconds" }));
            root.insert(EXECUTE_LATENCY.to_owned(), Value::from(self.execute_latencies_ms()));
        }
        debug_assert!(definitions.len() <= MAX_METRICS_PER_DIRECTIVE);
        root.insert(FUNCTION_NAME_DIMENSION.to_owned(), Value::from(function_name));
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [[FUNCTION_NAME_DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        // A map of strings and numbers always serializes.
        serde_json::to_string(&Value::Object(root)).ok()
    }
}

/// Milliseconds since the Unix epoch, the EMF `Timestamp` (0 for a clock before 1970).
pub fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The `FunctionName` dimension value from `AWS_LAMBDA_FUNCTION_NAME`: [`LOCAL_FUNCTION_NAME`]
/// when unset or blank.
pub fn function_name_dimension(raw: Option<&str>) -> String {
    match raw.map(str::trim) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => LOCAL_FUNCTION_NAME.to_owned(),
    }
}

/// `METRICS_NAMESPACE`: unset or blank gives [`DEFAULT_NAMESPACE`]; `off` (any case) gives `None`,
/// metrics disabled; anything else must be a valid CloudWatch namespace. The error is the reason
/// for the configuration error, naming the rule that was broken.
pub fn namespace_setting(raw: Option<&str>) -> Result<Option<String>, String> {
    let value = raw.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Ok(Some(DEFAULT_NAMESPACE.to_owned()));
    }
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#' | ':' | ' ');
    let broken = if value.len() > 255 {
        Some("at most 255 characters")
    } else if !value.chars().all(allowed) {
        Some("only A-Z a-z 0-9 . - _ / # : and space")
    } else if value.starts_with("AWS/") {
        Some("not starting with \"AWS/\" (reserved for AWS services)")
    } else if value.starts_with(':') {
        Some("not starting with \":\"")
    } else {
        None
    };
    match broken {
        None => Ok(Some(value.to_owned())),
        Some(rule) => Err(format!(
            "expected a CloudWatch namespace ({rule}) or \"off\" to disable metrics, got {value:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const NOW_MS: u64 = 1_764_412_800_123;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).expect("an EMF line is one JSON document")
    }

    fn a_batch() -> InvocationMetrics {
        let mut metrics = InvocationMetrics::new();
        metrics.count(Metric::Executed, 7);
        metrics.count(Metric::Rejected, 2);
        metrics.count(Metric::Retried, 1);
        metrics.count(Metric::Throttled, 1);
        metrics.count(Metric::ResultsPublished, 9);
        for ms in [41, 52, 38, 47, 60, 44, 39] {
            metrics.execute_latency(Duration::from_millis(ms));
        }
        metrics
    }

    /// The checks of the EMF specification that apply to what this module writes.
    fn assert_valid_emf(doc: &Value) {
        let root = doc.as_object().expect("the root is an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_u64(), "Timestamp is an integer of milliseconds");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics is an array");
        assert!(!directives.is_empty());
        for directive in directives {
            assert!(directive["Namespace"].as_str().is_some_and(|ns| !ns.trim().is_empty()));
            for dimension_set in directive["Dimensions"].as_array().expect("Dimensions is an array") {
                let keys = dimension_set.as_array().expect("a dimension set is an array");
                assert!(keys.len() <= 30, "at most 30 dimensions in a set");
                for key in keys {
                    let key = key.as_str().expect("a dimension key is a string");
                    let value = root.get(key).and_then(Value::as_str);
                    assert!(
                        value.is_some_and(|v| !v.is_empty()),
                        "dimension {key} has a string value at the root"
                    );
                }
            }
            let definitions = directive["Metrics"].as_array().expect("Metrics is an array");
            assert!(definitions.len() <= 100, "at most 100 metrics in a directive");
            for definition in definitions {
                let name = definition["Name"].as_str().expect("a metric has a Name");
                assert!(matches!(definition["Unit"].as_str(), Some("Count" | "Milliseconds")));
                match &root[name] {
                    Value::Number(_) => {}
                    Value::Array(values) => {
                        assert!(!values.is_empty() && values.len() <= 100, "1 to 100 values for {name}");
                        assert!(values.iter().all(Value::is_number));
                    }
                    other => panic!("metric {name} needs a number or an array of numbers at the root, got {other}"),
                }
            }
        }
    }

    #[test]
    fn an_invocation_that_counted_nothing_writes_no_line() {
        assert_eq!(InvocationMetrics::new().emf_line("ScActionRunner", "fn", NOW_MS), None);
        let mut zero = InvocationMetrics::new();
        zero.count(Metric::Executed, 0);
        assert_eq!(zero.emf_line("ScActionRunner", "fn", NOW_MS), None);
    }

    #[test]
    fn a_batch_is_one_line_that_follows_the_emf_specification() {
        // GIVEN a batch's metrics WHEN written
        let line = a_batch()
            .emf_line("ScActionRunner", "sc-action-runner-prod", NOW_MS)
            .unwrap();

        // THEN one line, valid EMF, with the namespace, the one dimension and the timestamp
        assert!(!line.contains('\n'));
        let doc = parse(&line);
        assert_valid_emf(&doc);
        assert_eq!(doc["_aws"]["Timestamp"], NOW_MS);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ScActionRunner");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(doc["FunctionName"], "sc-action-runner-prod");
    }

    #[test]
    fn the_line_carries_the_counts_of_what_ran() {
        let doc = parse(&a_batch().emf_line("ns", "fn", NOW_MS).unwrap());

        assert_eq!(doc["Executed"], 7);
        assert_eq!(doc["Rejected"], 2);
        assert_eq!(doc["Retried"], 1);
        assert_eq!(doc["Throttled"], 1);
        assert_eq!(doc["ResultsPublished"], 9);
        assert_eq!(doc["ExecuteLatency"], json!([41.0, 52.0, 38.0, 47.0, 60.0, 44.0, 39.0]));
        let units: Vec<(String, String)> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["Name"].as_str().unwrap().to_owned(),
                    d["Unit"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            units,
            [
                ("Executed", "Count"),
                ("Rejected", "Count"),
                ("Retried", "Count"),
                ("Throttled", "Count"),
                ("ResultsPublished", "Count"),
                ("ExecuteLatency", "Milliseconds"),
            ]
            .map(|(n, u)| (n.to_owned(), u.to_owned()))
        );
    }

    #[test]
    fn metrics_that_did_not_happen_are_left_out() {
        let mut metrics = InvocationMetrics::new();
        metrics.count(Metric::Failed, 1);

        let doc = parse(&metrics.emf_line("ns", "fn", NOW_MS).unwrap());

        assert_valid_emf(&doc);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{ "Name": "Failed", "Unit": "Count" }])
        );
        assert!(doc.get("Executed").is_none() && doc.get("ExecuteLatency").is_none());
    }

    #[test]
    fn the_line_holds_metric_names_the_dimension_and_nothing_else() {
        let mut metrics = a_batch();
        for metric in Metric::ALL {
            metrics.count(metric, 1);
        }

        let doc = parse(&metrics.emf_line("ns", "fn", NOW_MS).unwrap());

        assert_valid_emf(&doc);
        let members: BTreeSet<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        expected.extend(["ExecuteLatency", "FunctionName", "_aws"]);
        assert_eq!(members, expected);
    }

    #[test]
    fn counts_add_up_and_latencies_are_kept_in_call_order() {
        let mut invocation = InvocationMetrics::new();
        for _ in 0..2 {
            invocation.count(Metric::Executed, 1);
            invocation.execute_latency(Duration::from_micros(12_345));
        }
        invocation.count(Metric::Executed, 3);

        assert_eq!(invocation.counted(Metric::Executed), 5);
        assert_eq!(invocation.execute_latencies_ms(), [12.345, 12.345]);
        let doc = parse(&invocation.emf_line("ns", "fn", NOW_MS).unwrap());
        assert_eq!(doc["ExecuteLatency"], json!([12.345, 12.345]));
    }

    #[test]
    fn latencies_stop_at_the_specifications_100_values_while_counts_stay_exact() {
        let mut metrics = InvocationMetrics::new();
        for i in 0..250u64 {
            metrics.count(Metric::Executed, 1);
            metrics.execute_latency(Duration::from_millis(i));
        }

        let doc = parse(&metrics.emf_line("ns", "fn", NOW_MS).unwrap());

        assert_valid_emf(&doc);
        assert_eq!(doc["Executed"], 250);
        let values = doc["ExecuteLatency"].as_array().unwrap();
        assert_eq!(values.len(), MAX_LATENCY_VALUES);
        assert_eq!(values[99], 99.0, "the first 100 calls are kept");
    }

    #[test]
    fn counts_saturate_instead_of_overflowing() {
        let mut metrics = InvocationMetrics::new();
        metrics.count(Metric::Retried, u64::MAX);
        metrics.count(Metric::Retried, 1);
        assert_eq!(metrics.counted(Metric::Retried), u64::MAX);
    }

    #[test]
    fn metric_names_are_the_contract_of_the_alarms_and_dashboard() {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "Executed",
                "Rejected",
                "Retried",
                "Throttled",
                "ResultsPublished",
                "Succeeded",
                "Failed",
                "TimedOut",
                "FleetTargets",
                "DryRuns"
            ]
        );
        assert!(Metric::ALL.iter().enumerate().all(|(i, m)| m.index() == i));
    }

    #[test]
    fn the_function_name_comes_from_lambda_or_is_local() {
        assert_eq!(
            function_name_dimension(Some("sc-action-runner-prod")),
            "sc-action-runner-prod"
        );
        assert_eq!(function_name_dimension(Some("  ")), "local");
        assert_eq!(function_name_dimension(None), "local");
    }

    #[test]
    fn timestamps_are_milliseconds_since_the_epoch() {
        assert_eq!(unix_millis(UNIX_EPOCH + Duration::from_millis(NOW_MS)), NOW_MS);
        assert_eq!(unix_millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn an_unset_or_blank_namespace_is_the_default() {
        assert_eq!(namespace_setting(None), Ok(Some("ScActionRunner".to_owned())));
        assert_eq!(namespace_setting(Some(" ")), Ok(Some("ScActionRunner".to_owned())));
    }

    #[test]
    fn off_in_any_case_disables_metrics() {
        for off in ["off", "OFF", " Off "] {
            assert_eq!(namespace_setting(Some(off)), Ok(None), "{off:?}");
        }
    }

    #[test]
    fn a_valid_namespace_is_kept_trimmed() {
        for ns in [
            "Ops/ScActionRunner",
            "team.ops#1:runner",
            "Sc Action Runner",
            &"n".repeat(255),
        ] {
            assert_eq!(
                namespace_setting(Some(&format!(" {ns} "))),
                Ok(Some(ns.to_owned())),
                "{ns:?}"
            );
        }
    }

    #[test]
    fn an_invalid_namespace_says_which_rule_it_breaks() {
        let cases = [
            ("n".repeat(256), "at most 255 characters"),
            ("Ops|Runner".to_owned(), "only A-Z a-z 0-9"),
            ("Opsé".to_owned(), "only A-Z a-z 0-9"),
            ("Ops\tRunner".to_owned(), "only A-Z a-z 0-9"),
            ("AWS/Lambda".to_owned(), "reserved for AWS services"),
            (":Runner".to_owned(), "not starting with \":\""),
        ];
        for (raw, rule) in cases {
            let err = namespace_setting(Some(&raw)).unwrap_err();
            assert!(err.contains(rule) && err.contains("\"off\""), "{raw:?}: {err}");
        }
    }
}
