//! Page sizes and page tokens shared by the listing operations.

use crate::error::{self, ApiError};

/// Largest page `ListServiceActionsForProvisioningArtifact` returns, and its default.
pub(super) const MAX_PAGE_SIZE: i64 = 20;

pub(super) const PAGE_TOKEN_PREFIX: &str = "emu-page-";

/// `PageSize`: 0–20, where absent or 0 means 20.
pub(super) fn page_size(requested: Option<i64>) -> Result<usize, ApiError> {
    match requested {
        None | Some(0) => Ok(MAX_PAGE_SIZE as usize),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n as usize),
        Some(n) if n < 0 => Err(error::constraint(
            "PageSize",
            Some(&n.to_string()),
            "Member must have value greater than or equal to 0",
        )),
        Some(n) => Err(error::constraint(
            "PageSize",
            Some(&n.to_string()),
            "Member must have value less than or equal to 20",
        )),
    }
}

/// Page tokens are opaque to callers; here they carry the offset of the next page.
pub(super) fn page_start(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None => Ok(0),
        Some(t) => t
            .strip_prefix(PAGE_TOKEN_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid_parameters("The PageToken is not valid")),
    }
}
