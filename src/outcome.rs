//! What goes to the results queue: one [`ResultMessage`] per request.

use serde::{Deserialize, Serialize};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Service Catalog accepted the execution; `recordDetail` says what it recorded.
    Executed,
    /// The request can never succeed as sent; `error` says why. It is not retried.
    Rejected,
    /// Completion tracking: the execution's record ended `SUCCEEDED`.
    Succeeded,
    /// Completion tracking: the execution's record ended `FAILED`; `error` is its first RecordError.
    Failed,
    /// Completion tracking: no final status within `TRACK_TIMEOUT_SECONDS`.
    TimedOut,
    /// A fleet run sent one child request per target; `fleet` says how many.
    FannedOut,
    /// A dry run: every check passed or failed as a real run's would, and nothing changed.
    DryRun,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Sqs,
    Eventbridge,
    Direct,
}

/// The delivery a result belongs to: an SQS message id, an EventBridge event id or a Lambda request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    pub id: String,
}

/// Why a request was rejected: `code` is machine-readable, `message` names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultError {
    pub code: String,
    pub message: String,
}

/// The body of a results-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultMessage {
    pub outcome: Outcome,
    pub execute_token: String,
    pub source: Source,
    pub provisioned_product_id: Option<String>,
    pub service_action_id: Option<String>,
    pub record_detail: Option<RecordDetail>,
    pub error: Option<ResultError>,
    /// The record's outputs, on a final result of completion tracking only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_outputs: Option<Vec<RecordOutput>>,
    /// The fleet run the execution belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_run_id: Option<String>,
    /// The resource a request named instead of a product (`resourceArn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// A fleet run's summary (FANNED_OUT, or DRY_RUN of a fleet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<crate::fleet::FleetSummary>,
    /// What a dry run of one product found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<DryRunReport>,
    /// Whether this is the final message of a tracked execution (it then follows an EXECUTED
    /// message with the same token, so a FIFO queue needs another deduplication id for it).
    #[serde(skip)]
    concludes_execution: bool,
}

/// What a dry run of one product found. Never parameter values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunReport {
    /// DescribeProvisionedProduct's `Status`.
    pub product_status: String,
    /// The parameter keys the request gives.
    pub parameter_keys: Vec<String>,
    /// The parameters the action defines (DescribeServiceActionExecutionParameters).
    pub action_parameters: Vec<String>,
    /// Keys the request gives that the action does not define.
    pub unknown_parameter_keys: Vec<String>,
    /// `false` when the product is not `AVAILABLE` or a key is unknown.
    pub would_execute: bool,
}

/// One of DescribeRecord's RecordOutputs. Its value can be anything the automation produced, so
/// it never goes to a log: `Debug` leaves it out.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl std::fmt::Debug for RecordOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordOutput")
            .field("output_key", &self.output_key)
            .field("output_value", &self.output_value.as_ref().map(|_| "<not shown>"))
            .finish()
    }
}

/// The API's RecordDetail with the API's own member names, times as RFC 3339. Members the API did
/// not return are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_product_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_product_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_artifact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_errors: Vec<RecordErrorDetail>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_tags: Vec<RecordTag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_role_arn: Option<String>,
}

/// One of RecordDetail's RecordErrors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One of RecordDetail's RecordTags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordTag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl ResultMessage {
    /// A result of `outcome` for the request `source` delivered, with `execute_token`, and nothing
    /// else yet: the constructors below fill in what their outcome carries.
    fn bare(outcome: Outcome, source: Source, execute_token: String) -> Self {
        Self {
            outcome,
            execute_token,
            source,
            provisioned_product_id: None,
            service_action_id: None,
            record_detail: None,
            error: None,
            record_outputs: None,
            fleet_run_id: None,
            resource_arn: None,
            fleet: None,
            dry_run: None,
            concludes_execution: false,
        }
    }

    /// An EXECUTED result.
    pub fn executed(
        source: Source,
        execute_token: String,
        provisioned_product_id: String,
        service_action_id: String,
        record_detail: RecordDetail,
    ) -> Self {
        Self {
            provisioned_product_id: Some(provisioned_product_id),
            service_action_id: Some(service_action_id),
            record_detail: Some(record_detail),
            ..Self::bare(Outcome::Executed, source, execute_token)
        }
    }

    /// A REJECTED result; the ids are those known when the request was rejected.
    pub fn rejected(
        source: Source,
        execute_token: String,
        provisioned_product_id: Option<String>,
        service_action_id: Option<String>,
        error: ResultError,
    ) -> Self {
        Self {
            provisioned_product_id,
            service_action_id,
            error: Some(error),
            ..Self::bare(Outcome::Rejected, source, execute_token)
        }
    }

    /// This EXECUTED result turned into the final result of its tracked execution: SUCCEEDED,
    /// FAILED or TIMED_OUT, with the record's outputs.
    pub fn concluded(
        mut self,
        outcome: Outcome,
        record_outputs: Vec<RecordOutput>,
        error: Option<ResultError>,
    ) -> Self {
        self.outcome = outcome;
        self.record_outputs = Some(record_outputs);
        self.error = error;
        self.concluding()
    }

    /// A fleet run's result: FANNED_OUT (or DRY_RUN), its token the fleet run id.
    pub fn fanned_out(
        source: Source,
        fleet_run_id: String,
        service_action_id: Option<String>,
        fleet: crate::fleet::FleetSummary,
        dry_run: bool,
    ) -> Self {
        let outcome = if dry_run { Outcome::DryRun } else { Outcome::FannedOut };
        Self {
            service_action_id,
            fleet: Some(fleet),
            fleet_run_id: Some(fleet_run_id.clone()),
            ..Self::bare(outcome, source, fleet_run_id)
        }
    }

    /// A dry run's result for one product: the ids and token a real run would use, and the report.
    pub fn dry_run(
        source: Source,
        execute_token: String,
        provisioned_product_id: String,
        service_action_id: String,
        report: DryRunReport,
    ) -> Self {
        Self {
            provisioned_product_id: Some(provisioned_product_id),
            service_action_id: Some(service_action_id),
            dry_run: Some(report),
            ..Self::bare(Outcome::DryRun, source, execute_token)
        }
    }

    /// This result, marked as the final message of a tracked execution.
    pub fn concluding(mut self) -> Self {
        self.concludes_execution = true;
        self
    }

    /// Whether this is the final message of a tracked execution.
    pub fn concludes_execution(&self) -> bool {
        self.concludes_execution
    }

    /// The MessageDeduplicationId on a FIFO results queue: the token, with `-final` for the final
    /// message of a tracked execution (so it is not taken for a copy of the EXECUTED one).
    pub fn deduplication_id(&self) -> String {
        if self.concludes_execution {
            format!("{}-final", self.execute_token)
        } else {
            self.execute_token.clone()
        }
    }

    /// The JSON body sent to the results queue. Plain strings, options and vectors do not fail to
    /// serialize; should it ever happen, the caller retries rather than send something else.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn executed_result_has_the_documented_shape() {
        let r = ResultMessage::executed(
            Source {
                kind: SourceKind::Sqs,
                id: "m-1".into(),
            },
            "tok".into(),
            "pp-1".into(),
            "act-1".into(),
            RecordDetail {
                record_id: Some("rec-1".into()),
                status: Some("CREATED".into()),
                created_time: Some("2026-11-26T10:00:00Z".into()),
                record_errors: vec![RecordErrorDetail {
                    code: Some("E".into()),
                    description: None,
                }],
                ..Default::default()
            },
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "outcome": "EXECUTED", "executeToken": "tok",
                "source": {"kind": "sqs", "id": "m-1"},
                "provisionedProductId": "pp-1", "serviceActionId": "act-1",
                "recordDetail": {"RecordId": "rec-1", "Status": "CREATED", "CreatedTime": "2026-11-26T10:00:00Z",
                                 "RecordErrors": [{"Code": "E"}]},
                "error": null
            })
        );
        let back: ResultMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_concluding_result_has_its_own_deduplication_id_and_the_same_json() {
        let source = Source {
            kind: SourceKind::Sqs,
            id: "m-1".into(),
        };
        let error = ResultError {
            code: "X".into(),
            message: "y".into(),
        };
        let first = ResultMessage::rejected(source, "tok".into(), None, None, error);
        let last = first.clone().concluding();
        assert_eq!(first.deduplication_id(), "tok");
        assert_eq!(last.deduplication_id(), "tok-final");
        assert!(last.concludes_execution() && !first.concludes_execution());
        assert_eq!(first.to_json().unwrap(), last.to_json().unwrap());
    }

    #[test]
    fn record_output_values_never_show_in_debug() {
        let output = RecordOutput {
            output_key: Some("Password".into()),
            output_value: Some("hunter2".into()),
            description: None,
        };
        let shown = format!("{output:?}");
        assert!(shown.contains("Password") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn rejected_result_keeps_nulls_for_unknown_ids() {
        let r = ResultMessage::rejected(
            Source {
                kind: SourceKind::Direct,
                id: "req".into(),
            },
            "tok".into(),
            None,
            None,
            ResultError {
                code: "InvalidRequest".into(),
                message: "bad".into(),
            },
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"outcome": "REJECTED", "executeToken": "tok", "source": {"kind": "direct", "id": "req"},
                   "provisionedProductId": null, "serviceActionId": null, "recordDetail": null,
                   "error": {"code": "InvalidRequest", "message": "bad"}})
        );
    }
}
