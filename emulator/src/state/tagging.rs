//! The Resource Groups Tagging API's `GetResources` over the seeded `resources`: by ARN list (up
//! to 100, not combinable with filters or paging; ARNs not found are simply absent), or by tag
//! and resource-type filters in pages. Its errors are `InvalidParameterException` (singular),
//! not Service Catalog's `InvalidParametersException`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::State;
use crate::error::ApiError;
use crate::seed::TaggedResource;

const DEFAULT_RESOURCES_PER_PAGE: usize = 50;
const TOKEN_PREFIX: &str = "emu-tags-";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagFilter {
    key: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetResourcesInput {
    pagination_token: Option<String>,
    tag_filters: Option<Vec<TagFilter>>,
    resources_per_page: Option<i64>,
    tags_per_page: Option<i64>,
    resource_type_filters: Option<Vec<String>>,
    include_compliance_details: Option<bool>,
    exclude_compliant_resources: Option<bool>,
    #[serde(rename = "ResourceARNList")]
    resource_arn_list: Option<Vec<String>>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

impl State {
    pub(super) fn get_resources(&self, input: GetResourcesInput) -> Result<Value, ApiError> {
        input.validate()?;
        let compliance = input.include_compliance_details == Some(true);
        if input.exclude_compliant_resources == Some(true) {
            // Every seeded resource complies (there are no tag policies): nothing is left.
            return Ok(json!({ "ResourceTagMappingList": [], "PaginationToken": "" }));
        }
        if let Some(arns) = &input.resource_arn_list {
            let list: Vec<Value> = self.by_arns(arns).iter().map(|r| mapping(r, compliance)).collect();
            return Ok(json!({ "ResourceTagMappingList": list, "PaginationToken": "" }));
        }
        let matching: Vec<&TaggedResource> = self.seed.resources.iter().filter(|r| input.matches(r)).collect();
        let per_page = input
            .resources_per_page
            .map_or(DEFAULT_RESOURCES_PER_PAGE, |n| usize::try_from(n).unwrap_or(0));
        let start = page_start(input.pagination_token.as_deref())?;
        let end = start.saturating_add(per_page).min(matching.len());
        let page: Vec<Value> = matching
            .get(start.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|r| mapping(r, compliance))
            .collect();
        let token = if end < matching.len() {
            format!("{TOKEN_PREFIX}{end}")
        } else {
            String::new()
        };
        Ok(json!({ "ResourceTagMappingList": page, "PaginationToken": token }))
    }
}

impl State {
    /// The resources of `arns` that exist, once each, in request order.
    fn by_arns(&self, arns: &[String]) -> Vec<&TaggedResource> {
        let mut found: Vec<&TaggedResource> = Vec::new();
        for arn in arns {
            let known = self.seed.resources.iter().find(|r| &r.resource_arn == arn);
            if let Some(r) = known.filter(|r| !found.iter().any(|f| f.resource_arn == r.resource_arn)) {
                found.push(r);
            }
        }
        found
    }
}

/// A `ResourceTagMapping`.
fn mapping(resource: &TaggedResource, compliance: bool) -> Value {
    let mut out = json!({ "ResourceARN": resource.resource_arn, "Tags": resource.tags });
    if let (true, Some(obj)) = (compliance, out.as_object_mut()) {
        obj.insert(
            "ComplianceDetails".to_owned(),
            json!({ "NoncompliantKeys": [], "KeysWithNoncompliantValues": [], "ComplianceStatus": true }),
        );
    }
    out
}

/// An empty token is the first page, as the SDKs send it.
fn page_start(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| invalid("The specified PaginationToken is not valid")),
    }
}

/// `arn:partition:service:region:account:resource` → (service, resource type), where the type is
/// the resource part before its first `/` or `:` (`bucket` for S3).
fn service_and_type(arn: &str) -> (&str, &str) {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or_default();
    let resource = parts.nth(2).unwrap_or_default();
    let resource_type = match resource.find(['/', ':']) {
        Some(i) => &resource[..i],
        None if service == "s3" => "bucket",
        None => "",
    };
    (service, resource_type)
}

impl GetResourcesInput {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(arns) = &self.resource_arn_list {
            self.validate_arn_list(arns)?;
        }
        if let Some(filters) = &self.tag_filters {
            validate_tag_filters(filters)?;
        }
        if let Some(types) = &self.resource_type_filters {
            if types.len() > 100 || types.iter().any(|t| t.chars().count() > 256) {
                return Err(invalid(
                    "ResourceTypeFilters: at most 100 resource types of at most 256 characters",
                ));
            }
        }
        if let Some(n) = self.resources_per_page.filter(|n| !(1..=100).contains(n)) {
            return Err(invalid(format!("ResourcesPerPage must be between 1 and 100, got {n}")));
        }
        if let Some(n) = self.tags_per_page.filter(|n| !(100..=500).contains(n)) {
            return Err(invalid(format!("TagsPerPage must be between 100 and 500, got {n}")));
        }
        if self.exclude_compliant_resources == Some(true) && self.include_compliance_details != Some(true) {
            return Err(invalid(
                "ExcludeCompliantResources can only be used with IncludeComplianceDetails set to true",
            ));
        }
        if self.pagination_token.as_ref().is_some_and(|t| t.chars().count() > 2048) {
            return Err(invalid("PaginationToken must have at most 2048 characters"));
        }
        Ok(())
    }

    /// 1–100 ARNs of 1–1011 characters, and none of the filters or paging members with them.
    fn validate_arn_list(&self, arns: &[String]) -> Result<(), ApiError> {
        if !(1..=100).contains(&arns.len()) {
            return Err(invalid(format!(
                "ResourceARNList must contain between 1 and 100 ARNs, got {}",
                arns.len()
            )));
        }
        if arns.iter().any(|a| !(1..=1011).contains(&a.chars().count())) {
            return Err(invalid("Each ARN in ResourceARNList must have 1-1011 characters"));
        }
        let combined = [
            ("TagFilters", self.tag_filters.is_some()),
            ("ResourceTypeFilters", self.resource_type_filters.is_some()),
            ("ResourcesPerPage", self.resources_per_page.is_some()),
            ("TagsPerPage", self.tags_per_page.is_some()),
            (
                "PaginationToken",
                self.pagination_token.as_deref().is_some_and(|t| !t.is_empty()),
            ),
        ];
        match combined.iter().find(|(_, given)| *given) {
            Some((member, _)) => Err(invalid(format!(
                "ResourceARNList cannot be used together with {member}"
            ))),
            None => Ok(()),
        }
    }

    /// All tag filters hold (a filter without values: the key is present) and, when resource
    /// type filters are given, one of them names the resource's service or service:type.
    fn matches(&self, resource: &TaggedResource) -> bool {
        let tags_match = self.tag_filters.iter().flatten().all(|filter| {
            let key = filter.key.as_deref().unwrap_or_default();
            let values = filter.values.as_deref().unwrap_or_default();
            resource
                .tags
                .iter()
                .any(|t| t.key == key && (values.is_empty() || values.contains(&t.value)))
        });
        let (service, resource_type) = service_and_type(&resource.resource_arn);
        let type_matches = match &self.resource_type_filters {
            None => true,
            Some(types) => types.iter().any(|t| match t.split_once(':') {
                Some((s, ty)) => s == service && ty == resource_type,
                None => t == service,
            }),
        };
        tags_match && type_matches
    }
}

/// At most 50 filters, each with a key of 1–128 characters and at most 20 values of at most 256.
fn validate_tag_filters(filters: &[TagFilter]) -> Result<(), ApiError> {
    if filters.len() > 50 {
        return Err(invalid("TagFilters: at most 50 filters"));
    }
    for filter in filters {
        let key_ok = filter
            .key
            .as_deref()
            .is_some_and(|k| (1..=128).contains(&k.chars().count()));
        if !key_ok {
            return Err(invalid("TagFilters: each filter needs a Key of 1-128 characters"));
        }
        let values = filter.values.as_deref().unwrap_or_default();
        if values.len() > 20 || values.iter().any(|v| v.chars().count() > 256) {
            return Err(invalid(
                "TagFilters: at most 20 Values of at most 256 characters per key",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::service_and_type;
    use crate::state::test_support::*;

    const WEB_PROD_1: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60001";

    fn get(body: Value) -> Result<Value, crate::error::ApiError> {
        state(0).call("GetResources", body)
    }

    fn arns(out: &Value) -> Vec<&str> {
        out["ResourceTagMappingList"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|m| m["ResourceARN"].as_str())
            .collect()
    }

    #[test]
    fn arn_list_returns_the_known_ones_once_in_request_order() {
        let out = get(json!({"ResourceARNList": ["arn:aws:s3:::web-prod-assets-123456789012", "arn:aws:s3:::nope", WEB_PROD_1, WEB_PROD_1]}))
            .expect("ok");
        assert_eq!(arns(&out), ["arn:aws:s3:::web-prod-assets-123456789012", WEB_PROD_1]);
        assert_eq!(out["PaginationToken"], "");
        assert_eq!(
            out["ResourceTagMappingList"][1]["Tags"][0],
            json!({"Key": "aws:servicecatalog:provisionedProductArn",
                   "Value": "arn:aws:servicecatalog:us-east-1:123456789012:stack/web-prod/pp-webprod000001"})
        );
    }

    #[test]
    fn tag_and_type_filters_page_through_the_matches() {
        let filter = json!({"TagFilters": [{"Key": "env", "Values": ["prod", "canary"]}], "ResourceTypeFilters": ["ec2:instance"]});
        let all = get(filter.clone()).expect("ok");
        assert_eq!(arns(&all).len(), 5);
        let mut first = filter.clone();
        first["ResourcesPerPage"] = json!(3);
        let page1 = get(first.clone()).expect("page 1");
        assert_eq!(arns(&page1).len(), 3);
        let mut second = first;
        second["PaginationToken"] = page1["PaginationToken"].clone();
        let page2 = get(second).expect("page 2");
        assert_eq!(arns(&page2).len(), 2);
        assert_eq!(page2["PaginationToken"], "");
        let keyed = get(json!({"TagFilters": [{"Key": "aws:servicecatalog:provisionedProductArn"}]})).expect("ok");
        assert_eq!(arns(&keyed).len(), 10, "every resource but the bastion");
        assert_eq!(arns(&get(json!({"ResourceTypeFilters": ["s3"]})).expect("ok")).len(), 1);
    }

    #[test]
    fn invalid_combinations_and_limits_are_invalid_parameter() {
        let many: Vec<String> = (0..101).map(|i| format!("arn:aws:s3:::b{i}")).collect();
        let cases = [
            json!({"ResourceARNList": []}),
            json!({"ResourceARNList": many}),
            json!({"ResourceARNList": ["x".repeat(1012)]}),
            json!({"ResourceARNList": [WEB_PROD_1], "TagFilters": [{"Key": "env"}]}),
            json!({"ResourceARNList": [WEB_PROD_1], "ResourceTypeFilters": ["ec2"]}),
            json!({"ResourceARNList": [WEB_PROD_1], "ResourcesPerPage": 10}),
            json!({"ResourceARNList": [WEB_PROD_1], "PaginationToken": "emu-tags-1"}),
            json!({"TagFilters": [{"Values": ["prod"]}]}),
            json!({"ResourcesPerPage": 101}),
            json!({"TagsPerPage": 99}),
            json!({"ExcludeCompliantResources": true}),
            json!({"PaginationToken": "nonsense"}),
        ];
        for body in cases {
            let err = get(body.clone()).expect_err("invalid");
            assert_eq!(err.code, "InvalidParameterException", "{body}");
        }
    }

    #[test]
    fn arn_parts_give_service_and_resource_type() {
        assert_eq!(service_and_type(WEB_PROD_1), ("ec2", "instance"));
        assert_eq!(service_and_type("arn:aws:rds:us-east-1:1:db:x"), ("rds", "db"));
        assert_eq!(service_and_type("arn:aws:s3:::bucket"), ("s3", "bucket"));
        assert_eq!(service_and_type("nonsense"), ("", ""));
    }
}
