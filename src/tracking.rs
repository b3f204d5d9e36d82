//! Completion tracking: `ExecuteProvisionedProductServiceAction` only *starts* an action; whether
//! its automation worked shows in `DescribeRecord` later. With `TRACKING_QUEUE_URL` set, the
//! function follows each execution with tracking messages — SQS messages whose body is
//! `{"trackRecord": {...}}`, delayed with `DelaySeconds` — until the record ends `SUCCEEDED` or
//! `FAILED` (or tracking times out), and then publishes the final result.
//!
//! This module is the pure part: the message's shape and validation, the delays, the decision on
//! a record's status, and the final result's error.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outcome::{Outcome, RecordDetail, ResultError, Source};
use crate::request::{is_valid_id, type_name, RequestError};
use crate::token::is_valid_execute_token;

/// The one top-level key of a tracking message's body.
pub const TRACK_KEY: &str = "trackRecord";

/// The longest delay SQS allows on a message.
pub(crate) const MAX_DELAY_SECONDS: u32 = 900;

/// Bounds how many checks a (possibly forged) tracking message may claim.
const MAX_CHECKS: u32 = 100_000;

/// What the final result of a tracked execution needs, carried from check to check. Never
/// parameter values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackRecord {
    /// The execution's RecordId.
    pub record_id: String,
    pub execute_token: String,
    /// The delivery of the original request (the final result reports it).
    pub source: Source,
    pub provisioned_product_id: String,
    pub service_action_id: String,
    /// The fleet run the execution belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_run_id: Option<String>,
    /// The resource the request named, if it named one instead of a product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// `AcceptLanguage` of the original request, for DescribeRecord.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_language: Option<String>,
    /// When tracking began, in milliseconds since the Unix epoch.
    pub tracking_started_ms: u64,
    /// How many checks (DescribeRecord calls) were made before this message.
    pub checks: u32,
}

/// What a record's status means for its tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `SUCCEEDED` or `FAILED`: publish the final result.
    Final(Outcome),
    /// Not final yet, and there is time left: check again later.
    Pending,
    /// Not final, and tracking began `TRACK_TIMEOUT_SECONDS` ago or more.
    TimedOut,
}

/// The tracking message in `payload`, if `payload` is one: `None` when it is not a tracking message
/// at all (no `trackRecord` key), `Some(Err(..))` when it is one but malformed.
pub fn tracking_message(payload: &Value) -> Option<Result<TrackRecord, RequestError>> {
    let obj = payload.as_object()?;
    let track = obj.get(TRACK_KEY)?;
    Some(parse(obj.len(), track))
}

fn parse(keys: usize, track: &Value) -> Result<TrackRecord, RequestError> {
    let bad = |message: String| RequestError::new(TRACK_KEY, message);
    if keys != 1 {
        return Err(bad(format!(
            "a tracking message has exactly one key, `{TRACK_KEY}`, got {keys}"
        )));
    }
    if !track.is_object() {
        return Err(bad(format!(
            "`{TRACK_KEY}` must be an object, got {}",
            type_name(track)
        )));
    }
    let record: TrackRecord = serde_json::from_value(track.clone())
        .map_err(|e| bad(format!("`{TRACK_KEY}` is not a tracking record: {e}")))?;
    validate(&record).map_err(|what| bad(format!("`{TRACK_KEY}`: {what}")))?;
    Ok(record)
}

fn validate(r: &TrackRecord) -> Result<(), String> {
    let id = |name: &str, v: &str| {
        if is_valid_id(v) {
            Ok(())
        } else {
            Err(format!("{name} must be 1-100 characters of [a-zA-Z0-9_-]"))
        }
    };
    id("recordId", &r.record_id)?;
    id("provisionedProductId", &r.provisioned_product_id)?;
    id("serviceActionId", &r.service_action_id)?;
    if !is_valid_execute_token(&r.execute_token) {
        return Err("executeToken is not a valid ExecuteToken".to_owned());
    }
    if r.source.id.is_empty() || r.source.id.len() > 1024 {
        return Err("source.id must be 1-1024 characters".to_owned());
    }
    if r.fleet_run_id.as_deref().is_some_and(|f| !is_valid_execute_token(f)) {
        return Err("fleetRunId is not a valid fleet run id".to_owned());
    }
    if let Some(arn) = &r.resource_arn {
        crate::resource::parse_arn(arn).map_err(|why| format!("resourceArn {why}"))?;
    }
    if r.checks > MAX_CHECKS {
        return Err(format!("checks must be at most {MAX_CHECKS}"));
    }
    Ok(())
}

impl TrackRecord {
    /// The first tracking record of an execution, at `now_ms`.
    pub fn begin(
        record_id: String,
        execute_token: String,
        source: Source,
        provisioned_product_id: String,
        service_action_id: String,
        now_ms: u64,
    ) -> Self {
        TrackRecord {
            record_id,
            execute_token,
            source,
            provisioned_product_id,
            service_action_id,
            fleet_run_id: None,
            resource_arn: None,
            accept_language: None,
            tracking_started_ms: now_ms,
            checks: 0,
        }
    }

    /// The record for the next tracking message, after one more check.
    pub fn next(&self) -> Self {
        TrackRecord {
            checks: self.checks.saturating_add(1),
            ..self.clone()
        }
    }

    /// The body of the tracking message that carries this record.
    pub fn to_body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&serde_json::json!({ TRACK_KEY: self }))
    }

    /// How long tracking has run at `now_ms`.
    pub fn tracked_for(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.tracking_started_ms))
    }
}

/// How long the n-th tracking message of an execution waits (n = 0 for the first):
/// min(900, first × 2ⁿ) seconds.
pub fn delay_seconds(n: u32, first: u32) -> u32 {
    let factor = 1u64.checked_shl(n).unwrap_or(u64::MAX);
    u64::from(first)
        .saturating_mul(factor)
        .min(u64::from(MAX_DELAY_SECONDS)) as u32
}

/// Whether a record status is one tracking stops at.
pub fn is_final_status(status: Option<&str>) -> bool {
    matches!(status, Some("SUCCEEDED" | "FAILED"))
}

/// What to do with a record in `status`, tracked for `tracked_for` out of `timeout`.
pub fn decide(status: Option<&str>, tracked_for: Duration, timeout: Duration) -> Check {
    match status {
        Some("SUCCEEDED") => Check::Final(Outcome::Succeeded),
        Some("FAILED") => Check::Final(Outcome::Failed),
        _ if tracked_for >= timeout => Check::TimedOut,
        _ => Check::Pending,
    }
}

/// The `error` of a FAILED final result: the record's first RecordError, as it is.
pub fn failed_error(detail: &RecordDetail) -> ResultError {
    match detail.record_errors.first() {
        Some(first) => ResultError {
            code: first.code.clone().unwrap_or_else(|| "RecordFailed".to_owned()),
            message: first.description.clone().unwrap_or_default(),
        },
        None => ResultError {
            code: "RecordFailed".to_owned(),
            message: "the record ended FAILED without RecordErrors".to_owned(),
        },
    }
}

/// The `error` of a TIMED_OUT final result.
pub fn timed_out_error(tracked_for: Duration, status: Option<&str>) -> ResultError {
    ResultError {
        code: "TrackingTimedOut".to_owned(),
        message: format!(
            "no final status after tracking for {} s (TRACK_TIMEOUT_SECONDS); last status {}",
            tracked_for.as_secs(),
            status.unwrap_or("unknown")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{RecordErrorDetail, SourceKind};
    use serde_json::json;

    fn record() -> TrackRecord {
        TrackRecord::begin(
            "rec-1".into(),
            "a".repeat(64),
            Source {
                kind: SourceKind::Sqs,
                id: "m-1".into(),
            },
            "pp-1".into(),
            "act-1".into(),
            1_000,
        )
    }

    #[test]
    fn a_tracking_message_round_trips_and_carries_no_parameters() {
        let r = TrackRecord {
            fleet_run_id: Some("f".repeat(64)),
            accept_language: Some("jp".into()),
            ..record()
        };
        let body: Value = serde_json::from_str(&r.to_body().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"trackRecord": {"recordId": "rec-1", "executeToken": "a".repeat(64),
                   "source": {"kind": "sqs", "id": "m-1"}, "provisionedProductId": "pp-1",
                   "serviceActionId": "act-1", "fleetRunId": "f".repeat(64), "acceptLanguage": "jp",
                   "trackingStartedMs": 1000, "checks": 0}})
        );
        assert_eq!(tracking_message(&body), Some(Ok(r)));
    }

    #[test]
    fn requests_are_not_tracking_messages() {
        assert_eq!(tracking_message(&json!({"provisionedProductId": "pp-1"})), None);
        assert_eq!(tracking_message(&json!([1])), None);
        assert_eq!(tracking_message(&json!("trackRecord")), None);
    }

    #[test]
    fn malformed_tracking_messages_say_what_is_wrong() {
        let good = serde_json::to_value(record()).unwrap();
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("recordId");
        let mut bad_id = good.clone();
        bad_id["provisionedProductId"] = json!("pp 1");
        let mut bad_token = good.clone();
        bad_token["executeToken"] = json!("-x");
        let cases = [
            (json!({"trackRecord": "rec-1"}), "must be an object, got a string"),
            (json!({"trackRecord": null}), "must be an object, got null"),
            (json!({"trackRecord": missing}), "missing field `recordId`"),
            (json!({"trackRecord": bad_id}), "provisionedProductId must be"),
            (json!({"trackRecord": bad_token}), "executeToken is not a valid"),
            (
                json!({"trackRecord": good, "provisionedProductId": "pp-1"}),
                "exactly one key",
            ),
        ];
        for (payload, expected) in cases {
            let err = tracking_message(&payload).expect("a tracking message").unwrap_err();
            assert_eq!(err.field, TRACK_KEY);
            assert!(err.message.contains(expected), "{payload}: {err}");
        }
    }

    #[test]
    fn delays_double_from_the_first_and_stop_at_fifteen_minutes() {
        let delays: Vec<u32> = (0..8).map(|n| delay_seconds(n, 30)).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(delay_seconds(0, 0), 0);
        assert_eq!(delay_seconds(40, 0), 0);
        assert_eq!(delay_seconds(70, 1), 900);
        assert_eq!(delay_seconds(u32::MAX, 900), 900);
        assert_eq!(delay_seconds(3, 1), 8);
    }

    #[test]
    fn final_statuses_end_tracking_and_others_wait_until_the_timeout() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            decide(Some("SUCCEEDED"), hour * 2, hour),
            Check::Final(Outcome::Succeeded)
        );
        assert_eq!(
            decide(Some("FAILED"), Duration::ZERO, hour),
            Check::Final(Outcome::Failed)
        );
        for status in [Some("CREATED"), Some("IN_PROGRESS"), Some("IN_PROGRESS_IN_ERROR"), None] {
            assert_eq!(decide(status, hour - Duration::from_millis(1), hour), Check::Pending);
            assert_eq!(decide(status, hour, hour), Check::TimedOut);
        }
        assert!(is_final_status(Some("FAILED")) && !is_final_status(Some("IN_PROGRESS")));
    }

    #[test]
    fn a_failed_record_reports_its_first_record_error_exactly() {
        let detail = RecordDetail {
            record_errors: vec![
                RecordErrorDetail {
                    code: Some("AccessDenied".into()),
                    description: Some("not authorized to perform ssm:StartAutomationExecution".into()),
                },
                RecordErrorDetail {
                    code: Some("Second".into()),
                    description: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            failed_error(&detail),
            ResultError {
                code: "AccessDenied".into(),
                message: "not authorized to perform ssm:StartAutomationExecution".into()
            }
        );
        assert_eq!(failed_error(&RecordDetail::default()).code, "RecordFailed");
        let e = timed_out_error(Duration::from_secs(3612), Some("IN_PROGRESS"));
        assert_eq!(e.code, "TrackingTimedOut");
        assert!(
            e.message.contains("3612 s") && e.message.contains("IN_PROGRESS"),
            "{}",
            e.message
        );
    }

    #[test]
    fn next_counts_one_more_check_and_keeps_the_rest() {
        let r = record();
        let n = r.next().next();
        assert_eq!(n.checks, 2);
        assert_eq!(n.tracking_started_ms, r.tracking_started_ms);
        assert_eq!(n.tracked_for(61_000), Duration::from_secs(60));
    }
}
