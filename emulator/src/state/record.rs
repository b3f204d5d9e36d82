//! Records: what `DescribeRecord` returns for an execution, and how its status moves on.

use serde_json::{json, Value};

use super::ExecutionParameters;
use crate::seed::{RecordOutput, ServiceAction};

/// `Code` of the record error of a failing action whose seed gives none.
const DEFAULT_FAILURE_CODE: &str = "ActionFailed";

/// How a record ends, decided by the action's seed entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// `SUCCEEDED`, with these `RecordOutputs`.
    Succeeds(Vec<RecordOutput>),
    /// `FAILED`, with one record error.
    Fails { code: String, description: String },
    /// `IN_PROGRESS` forever.
    NeverFinishes,
}

impl Outcome {
    pub(super) fn of(action: &ServiceAction) -> Self {
        match (&action.failure_message, action.never_finishes) {
            (Some(description), _) => Outcome::Fails {
                code: action
                    .failure_code
                    .clone()
                    .unwrap_or_else(|| DEFAULT_FAILURE_CODE.to_owned()),
                description: description.clone(),
            },
            (None, true) => Outcome::NeverFinishes,
            (None, false) => Outcome::Succeeds(action.outputs.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) id: String,
    pub(super) record_type: &'static str,
    pub(super) pp_id: String,
    pub(super) pp_name: String,
    pub(super) pp_type: String,
    pub(super) product_id: String,
    pub(super) artifact_id: String,
    pub(super) path_id: String,
    pub(super) created: f64,
    pub(super) outcome: Outcome,
    /// What an idempotent replay must match: action and parameters.
    pub(super) request: Option<(String, Option<ExecutionParameters>)>,
}

impl Record {
    /// CREATED for the first quarter of `progress_ms`, IN_PROGRESS until it has elapsed, then
    /// SUCCEEDED or FAILED (or IN_PROGRESS forever); `UpdatedTime` is when the current status
    /// was reached.
    pub(super) fn status_at(&self, now: f64, progress_ms: u64) -> (&'static str, f64) {
        let elapsed_ms = (now - self.created) * 1000.0;
        let progress = progress_ms as f64;
        let finished = elapsed_ms >= progress && self.outcome != Outcome::NeverFinishes;
        if finished {
            let done = match self.outcome {
                Outcome::Fails { .. } => "FAILED",
                _ => "SUCCEEDED",
            };
            (done, self.created + progress / 1000.0)
        } else if elapsed_ms >= progress / 4.0 {
            ("IN_PROGRESS", self.created + progress / 4000.0)
        } else {
            ("CREATED", self.created)
        }
    }

    /// The `RecordOutputs` at `now`: the action's outputs once it has SUCCEEDED, else none.
    pub(super) fn outputs_at(&self, now: f64, progress_ms: u64) -> &[RecordOutput] {
        match (&self.outcome, self.status_at(now, progress_ms).0) {
            (Outcome::Succeeds(outputs), "SUCCEEDED") => outputs,
            _ => &[],
        }
    }

    pub(super) fn to_json(&self, now: f64, progress_ms: u64) -> Value {
        let (status, updated) = self.status_at(now, progress_ms);
        let errors = match (&self.outcome, status) {
            (Outcome::Fails { code, description }, "FAILED") => json!([{ "Code": code, "Description": description }]),
            _ => json!([]),
        };
        json!({
            "RecordId": self.id,
            "ProvisionedProductName": self.pp_name,
            "Status": status,
            "CreatedTime": self.created,
            "UpdatedTime": updated,
            "ProvisionedProductType": self.pp_type,
            "RecordType": self.record_type,
            "ProvisionedProductId": self.pp_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.artifact_id,
            "PathId": self.path_id,
            "RecordErrors": errors,
            "RecordTags": [],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RECORD_TYPE_EXECUTE;

    fn record(outcome: Outcome) -> Record {
        Record {
            id: "rec-1".into(),
            record_type: RECORD_TYPE_EXECUTE,
            pp_id: "pp-webprod000001".into(),
            pp_name: "web-prod".into(),
            pp_type: "CFN_STACK".into(),
            product_id: "p".into(),
            artifact_id: "pa".into(),
            path_id: "lpv3-x".into(),
            created: 1000.0,
            outcome,
            request: None,
        }
    }

    fn output() -> RecordOutput {
        RecordOutput {
            output_key: "HealthStatus".into(),
            output_value: "Healthy".into(),
            description: String::new(),
        }
    }

    #[test]
    fn record_status_moves_from_created_through_in_progress_to_done() {
        let record = record(Outcome::Succeeds(vec![output()]));
        assert_eq!(record.status_at(1000.1, 2000), ("CREATED", 1000.0));
        assert_eq!(record.status_at(1001.0, 2000), ("IN_PROGRESS", 1000.5));
        assert!(
            record.outputs_at(1001.0, 2000).is_empty(),
            "no outputs before it succeeds"
        );
        assert_eq!(record.status_at(1002.0, 2000), ("SUCCEEDED", 1002.0));
        assert_eq!(record.outputs_at(1002.0, 2000), [output()]);
        assert_eq!(record.status_at(1000.0, 0).0, "SUCCEEDED");
    }

    #[test]
    fn failing_record_carries_its_code_and_description_once_failed() {
        let failing = record(Outcome::Fails {
            code: "AccessDeniedException".into(),
            description: "boom".into(),
        });
        assert_eq!(failing.to_json(1001.0, 2000)["RecordErrors"], json!([]));
        let json = failing.to_json(1003.0, 2000);
        assert_eq!(json["Status"], "FAILED");
        assert_eq!(
            json["RecordErrors"],
            json!([{"Code": "AccessDeniedException", "Description": "boom"}])
        );
    }

    #[test]
    fn never_finishing_record_stays_in_progress() {
        let stuck = record(Outcome::NeverFinishes);
        assert_eq!(stuck.status_at(1000.1, 2000).0, "CREATED");
        assert_eq!(stuck.status_at(1_000_000.0, 2000), ("IN_PROGRESS", 1000.5));
        assert_eq!(stuck.status_at(1000.0, 0).0, "IN_PROGRESS");
    }
}
