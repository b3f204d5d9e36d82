//! Page sizes and page tokens shared by the listing operations.

use serde_json::{json, Value};

use crate::error::{self, ApiError};

/// Largest page of `ListServiceActionsForProvisioningArtifact` and `DescribeRecord`, and
/// their default.
pub(super) const MAX_PAGE_SIZE: i64 = 20;

const PAGE_TOKEN_PREFIX: &str = "emu-page-";

/// `PageSize` of at most 20, where absent or 0 means 20.
pub(super) fn page_size(requested: Option<i64>) -> Result<usize, ApiError> {
    page_size_within(requested, MAX_PAGE_SIZE, MAX_PAGE_SIZE)
}

/// `PageSize`: 0..=`max`, where absent or 0 means `default`.
pub(super) fn page_size_within(requested: Option<i64>, max: i64, default: i64) -> Result<usize, ApiError> {
    let n = match requested {
        None | Some(0) => default,
        Some(n) if n < 0 => {
            return Err(error::constraint(
                "PageSize",
                Some(&n.to_string()),
                "Member must have value greater than or equal to 0",
            ))
        }
        Some(n) if n > max => {
            return Err(error::constraint(
                "PageSize",
                Some(&n.to_string()),
                &format!("Member must have value less than or equal to {max}"),
            ))
        }
        Some(n) => n,
    };
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Page tokens are opaque to callers; here they carry the offset of the next page. A token
/// this emulator did not hand out is an `InvalidParametersException`.
pub(super) fn page_start(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None => Ok(0),
        Some(t) => t
            .strip_prefix(PAGE_TOKEN_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid_parameters("The PageToken is not valid")),
    }
}

/// A `PageToken` of at most 2024 characters (never echoed), then the offset it carries, as
/// [`page_start`] reads it.
pub(super) fn checked_page_start(token: Option<&str>) -> Result<usize, ApiError> {
    if let Some(t) = token {
        error::length("PageToken", t, 0, 2024, false)?;
    }
    page_start(token)
}

/// The token of the page after `[start, start + size)` of `total` items; `None` on the last page.
fn next_page_token(start: usize, size: usize, total: usize) -> Option<String> {
    let next = start.saturating_add(size);
    (next < total).then(|| format!("{PAGE_TOKEN_PREFIX}{next}"))
}

/// `out` (a JSON object) with the `NextPageToken` of the page after `[start, start + size)` of
/// `total` items; unchanged on the last page.
pub(super) fn with_next_page_token(mut out: Value, start: usize, size: usize, total: usize) -> Value {
    if let (Some(token), Some(obj)) = (next_page_token(start, size, total), out.as_object_mut()) {
        obj.insert("NextPageToken".to_owned(), json!(token));
    }
    out
}

/// The items of one page.
pub(super) fn page_of<T>(items: &[T], start: usize, size: usize) -> &[T] {
    let start = start.min(items.len());
    let end = start.saturating_add(size).min(items.len());
    &items[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_the_last_page_has_none() {
        let token = next_page_token(0, 20, 25).expect("more");
        assert_eq!(page_start(Some(&token)).expect("valid"), 20);
        assert_eq!(next_page_token(20, 20, 25), None);
        assert_eq!(page_of(&[1, 2, 3], 2, 5), [3]);
        assert!(page_of(&[1, 2, 3], 7, 5).is_empty());
        assert!(page_start(Some("emu-page-x")).is_err());
        assert_eq!(page_size_within(Some(100), 100, 20).expect("max"), 100);
        assert!(page_size_within(Some(101), 100, 20).is_err());
        assert_eq!(page_size_within(None, 100, 20).expect("default"), 20);
    }
}
