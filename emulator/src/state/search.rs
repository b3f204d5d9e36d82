//! `SearchProvisionedProducts`: the listing a fleet run starts from. All products are visible
//! whatever the access level (one account, one user); `Filters.SearchQuery` narrows them (see
//! `search_query` for the subset understood); results are sorted by id unless `SortBy` says
//! otherwise, in pages of `PageSize` (0–100, default 20).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::paging::{checked_page_start, page_of, page_size_within, with_next_page_token};
use super::products::Provisioned;
use super::search_query::{self, Field, Searchable, Term};
use super::State;
use crate::error::{self, ApiError};

const MAX_PAGE_SIZE: i64 = 100;
const DEFAULT_PAGE_SIZE: i64 = 20;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AccessLevelFilter {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SearchInput {
    accept_language: Option<String>,
    access_level_filter: Option<AccessLevelFilter>,
    filters: Option<BTreeMap<String, Vec<String>>>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
}

/// What `SortBy` can name, as the API documents it.
#[derive(Debug, Clone, Copy)]
enum SortField {
    Arn,
    Id,
    Name,
    LastRecordId,
}

/// A provisioned product with the names a query or an attribute needs.
struct View<'a> {
    product: &'a Provisioned,
    arn: String,
    product_name: &'a str,
    artifact_name: &'a str,
}

impl Searchable for View<'_> {
    fn field(&self, field: Field) -> &str {
        let pp = &self.product.seeded;
        match field {
            Field::Arn => &self.arn,
            Field::Id => &pp.id,
            Field::Name => &pp.name,
            Field::Type => &pp.product_type,
            Field::Status => &self.product.status,
            Field::ProductId => &pp.product_id,
            Field::ProductName => self.product_name,
            Field::ProvisioningArtifactId => &pp.provisioning_artifact_id,
            Field::ProvisioningArtifactName => self.artifact_name,
            Field::LastRecordId => &self.product.last_record_id,
            Field::IdempotencyToken => &self.product.idempotency_token,
        }
    }
}

impl View<'_> {
    fn sort_key(&self, by: SortField) -> &str {
        match by {
            SortField::Arn => &self.arn,
            SortField::Id => &self.product.seeded.id,
            SortField::Name => &self.product.seeded.name,
            SortField::LastRecordId => &self.product.last_record_id,
        }
    }

    /// A `ProvisionedProductAttribute`.
    fn to_json(&self) -> Value {
        let mut out = self.product.common_json();
        out.insert("Tags".to_owned(), json!(self.product.seeded.tags));
        out.insert("ProductName".to_owned(), json!(self.product_name));
        out.insert("ProvisioningArtifactName".to_owned(), json!(self.artifact_name));
        Value::Object(out)
    }
}

impl State {
    pub(super) fn search_provisioned_products(&self, input: SearchInput) -> Result<Value, ApiError> {
        error::accept_language(input.accept_language.as_deref())?;
        check_access_level(input.access_level_filter.as_ref())?;
        let terms = search_terms(input.filters.as_ref())?;
        let (sort_by, descending) = sort(input.sort_by.as_deref(), input.sort_order.as_deref())?;
        let size = page_size_within(input.page_size, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)?;
        let start = checked_page_start(input.page_token.as_deref())?;

        let mut found: Vec<View<'_>> = self
            .products
            .iter()
            .map(|p| self.view(p))
            .filter(|v| search_query::matches(&terms, v))
            .collect();
        found.sort_by(|a, b| a.sort_key(sort_by).cmp(b.sort_key(sort_by)));
        if descending {
            found.reverse();
        }
        let page: Vec<Value> = page_of(&found, start, size).iter().map(View::to_json).collect();
        let out = json!({ "ProvisionedProducts": page, "TotalResultsCount": found.len() });
        Ok(with_next_page_token(out, start, size, found.len()))
    }

    fn view<'a>(&'a self, product: &'a Provisioned) -> View<'a> {
        let pp = &product.seeded;
        let product_name = self
            .seed
            .products
            .iter()
            .find(|p| p.id == pp.product_id)
            .map_or("", |p| p.name.as_str());
        let artifact_name = self
            .seed
            .provisioning_artifacts
            .iter()
            .find(|pa| pa.id == pp.provisioning_artifact_id)
            .map_or("", |pa| pa.name.as_str());
        View {
            product,
            arn: product.arn(),
            product_name,
            artifact_name,
        }
    }
}

/// `Key`: `Account`, `Role` or `User`; `Value`: `self`, the only value the API supports.
fn check_access_level(filter: Option<&AccessLevelFilter>) -> Result<(), ApiError> {
    let Some(filter) = filter else {
        return Ok(());
    };
    let key = error::required("AccessLevelFilter.Key", filter.key.as_deref())?;
    if !matches!(key, "Account" | "Role" | "User") {
        return Err(error::constraint(
            "AccessLevelFilter.Key",
            Some(key),
            "Member must satisfy enum value set: [Account, Role, User]",
        ));
    }
    let value = error::required("AccessLevelFilter.Value", filter.value.as_deref())?;
    if value != "self" {
        return Err(ApiError::invalid_parameters(format!(
            "AccessLevelFilter.Value {value:?} is not supported; the only supported value is self"
        )));
    }
    Ok(())
}

/// `Filters`: only the `SearchQuery` key exists.
fn search_terms(filters: Option<&BTreeMap<String, Vec<String>>>) -> Result<Vec<Term>, ApiError> {
    let Some(filters) = filters else {
        return Ok(Vec::new());
    };
    if let Some(key) = filters.keys().find(|k| *k != "SearchQuery") {
        return Err(error::constraint(
            "Filters",
            Some(key),
            "Map keys must satisfy constraint: [Member must satisfy enum value set: [SearchQuery]]",
        ));
    }
    search_query::parse(filters.get("SearchQuery").map_or(&[], Vec::as_slice))
}

/// `SortBy` (`arn`, `id`, `name`, `lastRecordId`; default `id`) and whether `SortOrder` is
/// `DESCENDING` (default `ASCENDING`).
fn sort(by: Option<&str>, order: Option<&str>) -> Result<(SortField, bool), ApiError> {
    let field = match by {
        None | Some("id") => SortField::Id,
        Some("arn") => SortField::Arn,
        Some("name") => SortField::Name,
        Some("lastRecordId") => SortField::LastRecordId,
        Some(other) => {
            return Err(ApiError::invalid_parameters(format!(
                "SortBy {other:?} is not valid; valid values are arn, id, name and lastRecordId"
            )))
        }
    };
    let descending = match order {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(other) => {
            return Err(error::constraint(
                "SortOrder",
                Some(other),
                "Member must satisfy enum value set: [ASCENDING, DESCENDING]",
            ))
        }
    };
    Ok((field, descending))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::state::test_support::*;

    fn search(body: Value) -> Value {
        state(0)
            .call("SearchProvisionedProducts", body)
            .expect("search succeeds")
    }

    fn ids(out: &Value) -> Vec<String> {
        out["ProvisionedProducts"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["Id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn all_products_in_id_order_twenty_at_a_time_by_default() {
        let out = search(json!({"AccessLevelFilter": {"Key": "Account", "Value": "self"}}));
        assert_eq!(out["TotalResultsCount"], 304);
        let first = ids(&out);
        assert_eq!(first.len(), 20);
        assert_eq!(first[0], "pp-fleet00000001");
        assert!(first.windows(2).all(|w| w[0] < w[1]));
        assert!(out["NextPageToken"].is_string());
    }

    #[test]
    fn attributes_carry_tags_names_and_the_stack_arn() {
        let out = search(json!({"Filters": {"SearchQuery": ["id:pp-fleet00000010"]}}));
        let attr = &out["ProvisionedProducts"][0];
        assert_eq!(attr["Type"], "TERRAFORM_OPEN_SOURCE");
        assert_eq!(
            attr["Arn"],
            "arn:aws:servicecatalog:us-east-1:123456789012:stack/fleet-010/pp-fleet00000010"
        );
        assert_eq!(attr["ProductName"], "Linux server fleet");
        assert_eq!(attr["ProvisioningArtifactName"], "v1");
        assert_eq!(attr["Tags"][0], json!({"Key": "env", "Value": "prod"}));
        assert!(attr["LastRecordId"].is_string() && attr["CreatedTime"].is_number());
        assert!(out.get("NextPageToken").is_none());
    }

    #[test]
    fn search_query_sort_and_last_page() {
        let out = search(json!({
            "Filters": {"SearchQuery": ["productId:prod-webapp0000001"]},
            "SortBy": "name", "SortOrder": "DESCENDING", "PageSize": 100,
        }));
        assert_eq!(
            ids(&out),
            [
                "pp-webstag000001",
                "pp-webprod000001",
                "pp-webcanary0001",
                "pp-migrating0001"
            ]
        );
        assert_eq!(out["TotalResultsCount"], 4);
        assert!(out.get("NextPageToken").is_none());
        let typed =
            search(json!({"Filters": {"SearchQuery": ["type:CFN_STACKSET status:AVAILABLE"]}, "PageSize": 100}));
        assert_eq!(typed["TotalResultsCount"], 30);
    }

    #[test]
    fn invalid_members_are_invalid_parameters_naming_them() {
        let mut s = state(0);
        let cases = [
            (
                json!({"AccessLevelFilter": {"Key": "Everyone", "Value": "self"}}),
                "AccessLevelFilter.Key",
            ),
            (
                json!({"AccessLevelFilter": {"Key": "User", "Value": "someone"}}),
                "AccessLevelFilter.Value",
            ),
            (json!({"Filters": {"FullTextSearch": ["x"]}}), "Filters"),
            (json!({"Filters": {"SearchQuery": ["owner:me"]}}), "SearchQuery"),
            (json!({"SortBy": "createdTime"}), "SortBy"),
            (json!({"SortOrder": "UP"}), "SortOrder"),
            (json!({"PageSize": 101}), "PageSize"),
            (json!({"PageSize": -1}), "PageSize"),
            (json!({"PageToken": "not-ours"}), "PageToken"),
        ];
        for (body, member) in cases {
            let err = s.call("SearchProvisionedProducts", body.clone()).expect_err("invalid");
            assert_eq!(err.code, "InvalidParametersException", "{body}");
            assert!(err.message.contains(member), "{member} not in {}", err.message);
        }
    }
}
