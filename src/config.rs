//! Configuration, read once at init from the environment.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::deadline::MIN_DEADLINE_MARGIN;
use crate::error::RecordError;
use crate::request::{is_valid_id, AcceptLanguage};

/// Default number of records of one SQS batch that run at the same time (the default SQS batch size).
pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 10;
/// Default time kept in reserve before the invocation's deadline for publishing and answering:
/// records' work ends this long before the deadline.
pub(crate) const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(3000);
/// Default delay of the first tracking message of an execution (`TRACK_FIRST_DELAY_SECONDS`).
pub(crate) const DEFAULT_TRACK_FIRST_DELAY_SECONDS: u32 = 30;
/// Default time tracking waits for a final status (`TRACK_TIMEOUT_SECONDS`).
pub(crate) const DEFAULT_TRACK_TIMEOUT: Duration = Duration::from_secs(3600);
/// Default time resolved names are kept (`NAME_CACHE_SECONDS`).
pub(crate) const DEFAULT_NAME_CACHE: Duration = Duration::from_secs(60);
/// Default first back-off of a record handed back for a retryable error (`RETRY_BACKOFF_SECONDS`).
pub(crate) const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(2);
/// Default longest back-off (`RETRY_BACKOFF_MAX_SECONDS`).
pub(crate) const DEFAULT_RETRY_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// SQS's longest visibility timeout: 12 hours.
const MAX_VISIBILITY_SECONDS: u64 = 43_200;
/// Default limit on one attempt of an AWS call (connect, send, answer); the SDK makes up to 3 attempts.
pub(crate) const DEFAULT_SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where one result message per request is sent (`RESULTS_QUEUE_URL`, required).
    pub results_queue_url: String,
    /// Records of a standard-queue batch run at most this many at once (`MAX_CONCURRENCY`).
    pub max_concurrency: usize,
    /// `AcceptLanguage` for requests that don't name one (`DEFAULT_ACCEPT_LANGUAGE`).
    pub default_accept_language: Option<AcceptLanguage>,
    /// When set, only these service actions may run (`ALLOWED_SERVICE_ACTION_IDS`).
    pub allowed_service_action_ids: Option<BTreeSet<String>>,
    /// When set, only these provisioned products may be acted on (`ALLOWED_PROVISIONED_PRODUCT_IDS`).
    pub allowed_provisioned_product_ids: Option<BTreeSet<String>>,
    /// Records' work ends this long before the deadline; the rest is for publishing their results
    /// and answering (`DEADLINE_MARGIN_MS`, at least 500 ms).
    pub deadline_margin: Duration,
    /// One attempt of an AWS call is abandoned (and retried) after this long (`SDK_ATTEMPT_TIMEOUT_MS`).
    /// Local fault tests shorten it so that latency spikes past it happen in reasonable time.
    pub sdk_attempt_timeout: Duration,
    /// Completion tracking, when `TRACKING_QUEUE_URL` is set.
    pub tracking: Option<Tracking>,
    /// Where a fleet run sends its child requests (`REQUESTS_QUEUE_URL`); fleet runs are refused
    /// without it.
    pub requests_queue_url: Option<String>,
    /// CloudWatch namespace of the metrics (`METRICS_NAMESPACE`); `None` when they are off.
    pub metrics_namespace: Option<String>,
    /// At most this many Service Catalog calls a second from this environment
    /// (`SC_MAX_CALLS_PER_SECOND`); `None` = no pacing.
    pub max_calls_per_second: Option<f64>,
    /// How long resolved names are kept (`NAME_CACHE_SECONDS`, 0 = not at all).
    pub name_cache_ttl: Duration,
    /// A record handed back for a retryable error comes back after about this long on its first
    /// receive, twice as long on each next one (`RETRY_BACKOFF_SECONDS`; 0 = leave it to the
    /// queue's visibility timeout) …
    pub retry_backoff: Duration,
    /// … but never later than this (`RETRY_BACKOFF_MAX_SECONDS`).
    pub retry_backoff_max: Duration,
    /// The metrics' `FunctionName` dimension (`AWS_LAMBDA_FUNCTION_NAME`, set by Lambda; `local`
    /// without it).
    pub function_name: String,
}

/// How executions are followed to their final status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    /// Where tracking messages go (`TRACKING_QUEUE_URL`): a standard queue whose messages come
    /// back to this function (the template uses the requests queue).
    pub queue_url: String,
    /// The first tracking message waits this long; the n-th min(900, first × 2ⁿ)
    /// (`TRACK_FIRST_DELAY_SECONDS`, 0–900).
    pub first_delay_seconds: u32,
    /// Tracking gives up (TIMED_OUT) this long after it began (`TRACK_TIMEOUT_SECONDS`, 1–604800).
    pub timeout: Duration,
}

/// Why the configuration cannot be used; the function then fails at init.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let results_queue_url = non_empty("RESULTS_QUEUE_URL").ok_or(ConfigError::Missing("RESULTS_QUEUE_URL"))?;
        check_queue_url("RESULTS_QUEUE_URL", &results_queue_url)?;
        let seconds = |name: &'static str, range: std::ops::RangeInclusive<u64>, default: Duration| {
            number_in(name, non_empty(name), range, default.as_secs()).map(Duration::from_secs)
        };
        Ok(Config {
            results_queue_url,
            max_concurrency: number_in(
                "MAX_CONCURRENCY",
                non_empty("MAX_CONCURRENCY"),
                1..=1000,
                DEFAULT_MAX_CONCURRENCY,
            )?,
            default_accept_language: accept_language(non_empty("DEFAULT_ACCEPT_LANGUAGE"))?,
            allowed_service_action_ids: allow_list("ALLOWED_SERVICE_ACTION_IDS", lookup("ALLOWED_SERVICE_ACTION_IDS"))?,
            allowed_provisioned_product_ids: allow_list(
                "ALLOWED_PROVISIONED_PRODUCT_IDS",
                lookup("ALLOWED_PROVISIONED_PRODUCT_IDS"),
            )?,
            deadline_margin: deadline_margin(non_empty("DEADLINE_MARGIN_MS"))?,
            sdk_attempt_timeout: Duration::from_millis(number_in(
                "SDK_ATTEMPT_TIMEOUT_MS",
                non_empty("SDK_ATTEMPT_TIMEOUT_MS"),
                100..=900_000,
                DEFAULT_SDK_ATTEMPT_TIMEOUT.as_millis() as u64,
            )?),
            tracking: tracking(&non_empty)?,
            requests_queue_url: optional_queue_url("REQUESTS_QUEUE_URL", non_empty("REQUESTS_QUEUE_URL"))?,
            metrics_namespace: crate::metrics::namespace_setting(lookup("METRICS_NAMESPACE").as_deref()).map_err(
                |reason| ConfigError::Invalid {
                    name: "METRICS_NAMESPACE",
                    reason,
                },
            )?,
            function_name: crate::metrics::function_name_dimension(lookup("AWS_LAMBDA_FUNCTION_NAME").as_deref()),
            max_calls_per_second: max_calls_per_second(non_empty("SC_MAX_CALLS_PER_SECOND"))?,
            name_cache_ttl: seconds("NAME_CACHE_SECONDS", 0..=86_400, DEFAULT_NAME_CACHE)?,
            retry_backoff: seconds(
                "RETRY_BACKOFF_SECONDS",
                0..=MAX_VISIBILITY_SECONDS,
                DEFAULT_RETRY_BACKOFF,
            )?,
            retry_backoff_max: seconds(
                "RETRY_BACKOFF_MAX_SECONDS",
                1..=MAX_VISIBILITY_SECONDS,
                DEFAULT_RETRY_BACKOFF_MAX,
            )?,
        })
    }
}

impl Config {
    /// The one allow-list check: `Err(NotAllowed)` when the provisioned product allow-list is set
    /// and does not hold `id`.
    pub(crate) fn product_allowed(&self, id: &str) -> Result<(), RecordError> {
        check_allowed(
            self.allowed_provisioned_product_ids.as_ref(),
            "provisionedProductId",
            "ALLOWED_PROVISIONED_PRODUCT_IDS",
            id,
        )
    }

    /// As [`Config::product_allowed`], for the service action allow-list.
    pub(crate) fn action_allowed(&self, id: &str) -> Result<(), RecordError> {
        check_allowed(
            self.allowed_service_action_ids.as_ref(),
            "serviceActionId",
            "ALLOWED_SERVICE_ACTION_IDS",
            id,
        )
    }
}

fn check_allowed(
    list: Option<&BTreeSet<String>>,
    field: &'static str,
    variable: &str,
    id: &str,
) -> Result<(), RecordError> {
    match list {
        Some(allowed) if !allowed.contains(id) => Err(RecordError::NotAllowed {
            field,
            message: format!("{field}: {id} is not in {variable}"),
        }),
        _ => Ok(()),
    }
}

/// The SDK's endpoint variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) among `vars` that
/// are set but blank. The SDK would take a blank one as the endpoint and fail at the first call of
/// that service; `sam local invoke` passes a template's conditional variable as `""`. `main` unsets
/// them before the SDK reads the environment, so blank means "not set", as for every other setting.
pub fn blank_endpoint_variables(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    vars.into_iter()
        .filter(|(name, value)| {
            (name == "AWS_ENDPOINT_URL" || name.starts_with("AWS_ENDPOINT_URL_")) && value.trim().is_empty()
        })
        .map(|(name, _)| name)
        .collect()
}

/// `DEFAULT_ACCEPT_LANGUAGE`: `en`, `jp` or `zh`, or unset.
fn accept_language(raw: Option<String>) -> Result<Option<AcceptLanguage>, ConfigError> {
    let Some(v) = raw else { return Ok(None) };
    AcceptLanguage::parse(&v).map(Some).ok_or_else(|| ConfigError::Invalid {
        name: "DEFAULT_ACCEPT_LANGUAGE",
        reason: format!("expected one of en, jp, zh, got {v:?}"),
    })
}

/// `DEADLINE_MARGIN_MS`: at least [`MIN_DEADLINE_MARGIN`].
fn deadline_margin(raw: Option<String>) -> Result<Duration, ConfigError> {
    let Some(v) = raw else {
        return Ok(DEFAULT_DEADLINE_MARGIN);
    };
    match v.parse::<u64>().map(Duration::from_millis) {
        Ok(margin) if margin >= MIN_DEADLINE_MARGIN => Ok(margin),
        _ => Err(ConfigError::Invalid {
            name: "DEADLINE_MARGIN_MS",
            reason: format!(
                "expected milliseconds as a whole number of at least {} (time to publish results and answer \
                 before the deadline), got {v:?}",
                MIN_DEADLINE_MARGIN.as_millis()
            ),
        }),
    }
}

/// A queue URL setting that may be unset.
fn optional_queue_url(name: &'static str, raw: Option<String>) -> Result<Option<String>, ConfigError> {
    match raw {
        Some(url) => check_queue_url(name, &url).map(|()| Some(url)),
        None => Ok(None),
    }
}

fn check_queue_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        name,
        reason: format!("expected a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), got {url:?}"),
    })
}

/// A whole number within `range`, or the default when unset.
fn number_in<T>(
    name: &'static str,
    raw: Option<String>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(v) = raw else { return Ok(default) };
    match v.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!(
                "expected a whole number from {} to {}, got {v:?}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// `SC_MAX_CALLS_PER_SECOND`: a positive number of calls a second (fractions allowed), or unset.
fn max_calls_per_second(raw: Option<String>) -> Result<Option<f64>, ConfigError> {
    let Some(v) = raw else { return Ok(None) };
    match v.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 10_000.0 => Ok(Some(rate)),
        _ => Err(ConfigError::Invalid {
            name: "SC_MAX_CALLS_PER_SECOND",
            reason: format!("expected calls per second, more than 0 and at most 10000 (e.g. 4 or 0.5), got {v:?}"),
        }),
    }
}

fn tracking(non_empty: &impl Fn(&str) -> Option<String>) -> Result<Option<Tracking>, ConfigError> {
    let Some(queue_url) = non_empty("TRACKING_QUEUE_URL") else {
        return Ok(None);
    };
    check_queue_url("TRACKING_QUEUE_URL", &queue_url)?;
    if is_fifo_queue(&queue_url) {
        return Err(ConfigError::Invalid {
            name: "TRACKING_QUEUE_URL",
            reason: format!(
                "{queue_url:?} is a FIFO queue, and SQS cannot delay single messages on a FIFO queue \
                 (tracking messages wait with DelaySeconds); use a standard queue"
            ),
        });
    }
    let first_delay_seconds = number_in(
        "TRACK_FIRST_DELAY_SECONDS",
        non_empty("TRACK_FIRST_DELAY_SECONDS"),
        0..=crate::tracking::MAX_DELAY_SECONDS,
        DEFAULT_TRACK_FIRST_DELAY_SECONDS,
    )?;
    let timeout_seconds = number_in(
        "TRACK_TIMEOUT_SECONDS",
        non_empty("TRACK_TIMEOUT_SECONDS"),
        1..=604_800u64,
        DEFAULT_TRACK_TIMEOUT.as_secs(),
    )?;
    Ok(Some(Tracking {
        queue_url,
        first_delay_seconds,
        timeout: Duration::from_secs(timeout_seconds),
    }))
}

/// Whether a queue URL names a FIFO queue (SQS requires the `.fifo` suffix on those, and only those).
pub(crate) fn is_fifo_queue(url: &str) -> bool {
    url.ends_with(".fifo")
}

/// A comma-separated list of ids; unset or blank means "no allow-list". Entries are trimmed, and
/// each must be a well-formed id, so a typo (or a name where an id belongs) fails at init instead of
/// silently rejecting everything.
fn allow_list(name: &'static str, raw: Option<String>) -> Result<Option<BTreeSet<String>>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let ids: BTreeSet<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = ids.iter().find(|id| !is_valid_id(id)) {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("{bad:?} is not a valid id (1-100 characters of [a-zA-Z0-9_-])"),
        });
    }
    Ok(Some(ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const URL: (&str, &str) = (
        "RESULTS_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/123456789012/results",
    );

    #[test]
    fn missing_results_queue_url_names_the_variable() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("RESULTS_QUEUE_URL"));
        assert!(err.to_string().contains("RESULTS_QUEUE_URL"));
        assert_eq!(
            config(&[("RESULTS_QUEUE_URL", "  ")]).unwrap_err(),
            ConfigError::Missing("RESULTS_QUEUE_URL")
        );
    }

    #[test]
    fn defaults_apply_when_only_the_queue_is_set() {
        let c = config(&[URL]).unwrap();
        assert_eq!(c.max_concurrency, 10);
        assert_eq!(c.default_accept_language, None);
        assert_eq!(c.allowed_service_action_ids, None);
        assert_eq!(c.allowed_provisioned_product_ids, None);
        assert_eq!(c.deadline_margin, Duration::from_millis(3000));
        assert_eq!(c.sdk_attempt_timeout, Duration::from_secs(10));
        assert!(!is_fifo_queue(&c.results_queue_url));
        assert_eq!(c.tracking, None);
        assert_eq!(c.requests_queue_url, None);
        assert_eq!(c.max_calls_per_second, None);
        assert_eq!(c.name_cache_ttl, Duration::from_secs(60));
        assert_eq!(c.retry_backoff, Duration::from_secs(2));
        assert_eq!(c.retry_backoff_max, Duration::from_secs(300));
        assert_eq!(c.metrics_namespace.as_deref(), Some("ScActionRunner"));
    }

    #[test]
    fn tracking_is_on_with_a_standard_queue_and_its_defaults() {
        let queue = "https://sqs.us-east-1.amazonaws.com/1/requests";
        let c = config(&[URL, ("TRACKING_QUEUE_URL", queue)]).unwrap();
        assert_eq!(
            c.tracking,
            Some(Tracking {
                queue_url: queue.into(),
                first_delay_seconds: 30,
                timeout: Duration::from_secs(3600),
            })
        );
        let c = config(&[
            URL,
            ("TRACKING_QUEUE_URL", queue),
            ("TRACK_FIRST_DELAY_SECONDS", "0"),
            ("TRACK_TIMEOUT_SECONDS", "604800"),
        ])
        .unwrap();
        let tracking = c.tracking.unwrap();
        assert_eq!((tracking.first_delay_seconds, tracking.timeout.as_secs()), (0, 604_800));
        assert_eq!(config(&[URL, ("TRACKING_QUEUE_URL", " ")]).unwrap().tracking, None);
    }

    #[test]
    fn tracking_settings_out_of_range_are_init_errors() {
        let queue = ("TRACKING_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/requests");
        for (name, value) in [
            ("TRACK_FIRST_DELAY_SECONDS", "901"),
            ("TRACK_FIRST_DELAY_SECONDS", "-1"),
            ("TRACK_TIMEOUT_SECONDS", "0"),
            ("TRACK_TIMEOUT_SECONDS", "604801"),
        ] {
            match config(&[URL, queue, (name, value)]) {
                Err(ConfigError::Invalid { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}={value}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_fifo_tracking_queue_is_an_init_error_that_says_why() {
        let err = config(&[
            URL,
            ("TRACKING_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q.fifo"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("TRACKING_QUEUE_URL") && err.contains("cannot delay single messages"),
            "{err}"
        );
    }

    #[test]
    fn blank_endpoint_variables_are_found_and_set_ones_left_alone() {
        let vars = [
            ("AWS_ENDPOINT_URL_SQS", ""),
            ("AWS_ENDPOINT_URL_SERVICE_CATALOG", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL", "  "),
            ("AWS_ENDPOINT_URLS", ""),
            ("RESULTS_QUEUE_URL", ""),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            blank_endpoint_variables(vars),
            ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"]
        );
    }

    #[test]
    fn throughput_settings_are_read() {
        let c = config(&[
            URL,
            ("SC_MAX_CALLS_PER_SECOND", "0.5"),
            ("NAME_CACHE_SECONDS", "0"),
            ("RETRY_BACKOFF_SECONDS", "0"),
            ("RETRY_BACKOFF_MAX_SECONDS", "43200"),
        ])
        .unwrap();
        assert_eq!(c.max_calls_per_second, Some(0.5));
        assert_eq!(c.name_cache_ttl, Duration::ZERO);
        assert_eq!(c.retry_backoff, Duration::ZERO);
        assert_eq!(c.retry_backoff_max, Duration::from_secs(43_200));
    }

    #[test]
    fn metrics_can_be_turned_off() {
        assert_eq!(
            config(&[URL, ("METRICS_NAMESPACE", "off")]).unwrap().metrics_namespace,
            None
        );
        assert_eq!(
            config(&[URL, ("METRICS_NAMESPACE", "Team/Remediation")])
                .unwrap()
                .metrics_namespace
                .as_deref(),
            Some("Team/Remediation")
        );
    }

    #[test]
    fn every_setting_is_read() {
        let c = config(&[
            ("RESULTS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/r.fifo"),
            ("MAX_CONCURRENCY", "3"),
            ("DEFAULT_ACCEPT_LANGUAGE", "jp"),
            ("ALLOWED_SERVICE_ACTION_IDS", " act-a , act-b,,"),
            ("ALLOWED_PROVISIONED_PRODUCT_IDS", "pp-1"),
            ("DEADLINE_MARGIN_MS", "1500"),
            ("SDK_ATTEMPT_TIMEOUT_MS", "750"),
        ])
        .unwrap();
        assert!(is_fifo_queue(&c.results_queue_url));
        assert_eq!(c.max_concurrency, 3);
        assert_eq!(c.default_accept_language, Some(AcceptLanguage::Jp));
        assert_eq!(
            c.allowed_service_action_ids,
            Some(["act-a".to_string(), "act-b".to_string()].into_iter().collect())
        );
        assert_eq!(
            c.allowed_provisioned_product_ids,
            Some(["pp-1".to_string()].into_iter().collect())
        );
        assert_eq!(c.deadline_margin, Duration::from_millis(1500));
        assert_eq!(c.sdk_attempt_timeout, Duration::from_millis(750));
    }

    #[test]
    fn a_deadline_margin_of_500_ms_or_more_is_accepted() {
        for ms in ["500", "501", "60000"] {
            let c = config(&[URL, ("DEADLINE_MARGIN_MS", ms)]).unwrap();
            assert_eq!(c.deadline_margin.as_millis().to_string(), ms);
        }
        let err = config(&[URL, ("DEADLINE_MARGIN_MS", "0")]).unwrap_err().to_string();
        assert!(
            err.contains("DEADLINE_MARGIN_MS") && err.contains("at least 500"),
            "{err}"
        );
    }

    #[test]
    fn blank_allow_list_means_no_allow_list() {
        let c = config(&[URL, ("ALLOWED_SERVICE_ACTION_IDS", " , ")]).unwrap();
        assert_eq!(c.allowed_service_action_ids, None);
    }

    #[test]
    fn invalid_values_are_init_errors_naming_the_variable() {
        for (name, value) in [
            ("MAX_CONCURRENCY", "0"),
            ("MAX_CONCURRENCY", "ten"),
            ("DEFAULT_ACCEPT_LANGUAGE", "fr"),
            ("ALLOWED_SERVICE_ACTION_IDS", "act-1,Restart Service"),
            ("ALLOWED_PROVISIONED_PRODUCT_IDS", "pp 1"),
            ("DEADLINE_MARGIN_MS", "-5"),
            ("DEADLINE_MARGIN_MS", "0"),
            ("DEADLINE_MARGIN_MS", "499"),
            ("SDK_ATTEMPT_TIMEOUT_MS", "0"),
            ("SDK_ATTEMPT_TIMEOUT_MS", "1s"),
            ("RESULTS_QUEUE_URL", "results"),
            ("TRACKING_QUEUE_URL", "requests"),
            ("REQUESTS_QUEUE_URL", "sqs://requests"),
            ("SC_MAX_CALLS_PER_SECOND", "0"),
            ("SC_MAX_CALLS_PER_SECOND", "fast"),
            ("NAME_CACHE_SECONDS", "-1"),
            ("RETRY_BACKOFF_MAX_SECONDS", "43201"),
            ("RETRY_BACKOFF_MAX_SECONDS", "0"),
            ("METRICS_NAMESPACE", "AWS/Lambda"),
        ] {
            let vars = if name == "RESULTS_QUEUE_URL" {
                vec![(name, value)]
            } else {
                vec![URL, (name, value)]
            };
            match config(&vars) {
                Err(ConfigError::Invalid { name: n, reason }) => {
                    assert_eq!(n, name);
                    assert!(!reason.is_empty());
                }
                other => panic!("{name}={value}: expected Invalid, got {other:?}"),
            }
        }
    }
}
