//! The APIs served on `POST /`, told apart by their `X-Amz-Target` prefix, and the error codes
//! each uses for throttling and server failures (they differ between the two).

use crate::error::ApiError;

/// One AWS JSON 1.1 API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// AWS Service Catalog.
    ServiceCatalog,
    /// The Resource Groups Tagging API (`GetResources`), on the same port.
    Tagging,
}

/// Operations implemented, per API, by `X-Amz-Target` suffix.
const SERVICE_CATALOG_OPERATIONS: [&str; 6] = [
    "ExecuteProvisionedProductServiceAction",
    "DescribeProvisionedProduct",
    "ListServiceActionsForProvisioningArtifact",
    "DescribeRecord",
    "DescribeServiceActionExecutionParameters",
    "SearchProvisionedProducts",
];
const TAGGING_OPERATIONS: [&str; 1] = ["GetResources"];

impl Api {
    const ALL: [Api; 2] = [Api::ServiceCatalog, Api::Tagging];

    /// The `X-Amz-Target` prefix, up to and including the dot.
    pub(crate) fn target_prefix(self) -> &'static str {
        match self {
            Api::ServiceCatalog => "AWS242ServiceCatalogService.",
            Api::Tagging => "ResourceGroupsTaggingAPI_20170126.",
        }
    }

    /// The API and operation an `X-Amz-Target` header names, if it is one of ours.
    pub(crate) fn from_target(target: &str) -> Option<(Api, &str)> {
        Self::ALL.into_iter().find_map(|api| {
            target
                .strip_prefix(api.target_prefix())
                .filter(|op| !op.is_empty())
                .map(|op| (api, op))
        })
    }

    pub(crate) fn implements(self, operation: &str) -> bool {
        match self {
            Api::ServiceCatalog => SERVICE_CATALOG_OPERATIONS.contains(&operation),
            Api::Tagging => TAGGING_OPERATIONS.contains(&operation),
        }
    }

    /// HTTP 400 with the code this API's SDK classifies as throttling.
    pub(crate) fn throttling(self) -> ApiError {
        match self {
            Api::ServiceCatalog => ApiError::new(400, "ThrottlingException", "Rate exceeded"),
            Api::Tagging => ApiError::new(400, "ThrottledException", "Rate exceeded"),
        }
    }

    /// HTTP 500 with this API's server-failure code.
    pub(crate) fn internal(self, message: impl Into<String>) -> ApiError {
        match self {
            Api::ServiceCatalog => ApiError::new(500, "InternalFailure", message),
            Api::Tagging => ApiError::new(500, "InternalServiceException", message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_to_their_api_and_operation() {
        assert_eq!(
            Api::from_target("AWS242ServiceCatalogService.DescribeRecord"),
            Some((Api::ServiceCatalog, "DescribeRecord"))
        );
        assert_eq!(
            Api::from_target("ResourceGroupsTaggingAPI_20170126.GetResources"),
            Some((Api::Tagging, "GetResources"))
        );
        assert_eq!(Api::from_target("AWS242ServiceCatalogService."), None);
        assert!(!Api::Tagging.implements("DescribeRecord"));
        assert_eq!(Api::Tagging.throttling().code, "ThrottledException");
        assert_eq!(Api::from_target("AmazonSQS.SendMessage"), None);
    }
}
