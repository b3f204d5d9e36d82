//! `DescribeRecord`: a record's current status, and its `RecordOutputs` once it has succeeded.

use serde::Deserialize;
use serde_json::{json, Value};

use super::paging::{checked_page_start, page_of, page_size, with_next_page_token};
use super::{now_epoch, State};
use crate::error::{self, ApiError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeRecordInput {
    id: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
    accept_language: Option<String>,
}

impl State {
    /// `PageSize` and `PageToken` page through `RecordOutputs` (20 by default), with a
    /// `NextPageToken` when more are left.
    pub(super) fn describe_record(&self, input: DescribeRecordInput) -> Result<Value, ApiError> {
        let id = error::required("Id", input.id.as_deref())?;
        error::id("Id", id)?;
        error::accept_language(input.accept_language.as_deref())?;
        let size = page_size(input.page_size)?;
        let start = checked_page_start(input.page_token.as_deref())?;
        let record = self
            .records
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("Record {id} not found")))?;
        let now = now_epoch();
        let outputs = record.outputs_at(now, self.progress_ms);
        let out = json!({
            "RecordDetail": record.to_json(now, self.progress_ms),
            "RecordOutputs": page_of(outputs, start, size),
        });
        Ok(with_next_page_token(out, start, size, outputs.len()))
    }
}
