//! Records: what `DescribeRecord` returns for an execution, and how its status moves on.

use serde_json::{json, Value};

use super::ExecutionParameters;

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
    /// `Some(description)` when the record ends `FAILED`.
    pub(super) failure: Option<String>,
    /// What an idempotent replay must match: action and parameters.
    pub(super) request: Option<(String, Option<ExecutionParameters>)>,
}

impl Record {
    /// CREATED for the first quarter of `progress_ms`, IN_PROGRESS until it has elapsed,
    /// then SUCCEEDED (or FAILED); `UpdatedTime` is when the current status was reached.
    pub(super) fn status_at(&self, now: f64, progress_ms: u64) -> (&'static str, f64) {
        let elapsed_ms = (now - self.created) * 1000.0;
        let progress = progress_ms as f64;
        if elapsed_ms >= progress {
            let done = if self.failure.is_some() { "FAILED" } else { "SUCCEEDED" };
            (done, self.created + progress / 1000.0)
        } else if elapsed_ms >= progress / 4.0 {
            ("IN_PROGRESS", self.created + progress / 4000.0)
        } else {
            ("CREATED", self.created)
        }
    }

    pub(super) fn to_json(&self, now: f64, progress_ms: u64) -> Value {
        let (status, updated) = self.status_at(now, progress_ms);
        let errors = match (&self.failure, status) {
            (Some(description), "FAILED") => json!([{ "Code": "ActionFailed", "Description": description }]),
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

    const PP: &str = "pp-webprod000001";

    #[test]
    fn record_status_moves_from_created_through_in_progress_to_done() {
        let record = Record {
            id: "rec-1".into(),
            record_type: RECORD_TYPE_EXECUTE,
            pp_id: PP.into(),
            pp_name: "web-prod".into(),
            pp_type: "CFN_STACK".into(),
            product_id: "p".into(),
            artifact_id: "pa".into(),
            path_id: "lpv3-x".into(),
            created: 1000.0,
            failure: None,
            request: None,
        };
        assert_eq!(record.status_at(1000.1, 2000), ("CREATED", 1000.0));
        assert_eq!(record.status_at(1001.0, 2000), ("IN_PROGRESS", 1000.5));
        assert_eq!(record.status_at(1002.0, 2000), ("SUCCEEDED", 1002.0));
        assert_eq!(record.status_at(1000.0, 0).0, "SUCCEEDED");
        let failing = Record {
            failure: Some("boom".into()),
            ..record
        };
        let json = failing.to_json(1003.0, 2000);
        assert_eq!(json["Status"], "FAILED");
        assert_eq!(json["RecordErrors"][0]["Description"], "boom");
    }
}
