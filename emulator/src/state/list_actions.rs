//! `ListServiceActionsForProvisioningArtifact`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::paging::{page_of, page_size, page_start, with_next_page_token};
use super::State;
use crate::error::{self, ApiError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListActionsInput {
    product_id: Option<String>,
    provisioning_artifact_id: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
    accept_language: Option<String>,
}

impl State {
    pub(super) fn list_service_actions(&self, input: ListActionsInput) -> Result<Value, ApiError> {
        let product_id = error::required("ProductId", input.product_id.as_deref())?;
        error::id("ProductId", product_id)?;
        let artifact_id = error::required("ProvisioningArtifactId", input.provisioning_artifact_id.as_deref())?;
        error::id("ProvisioningArtifactId", artifact_id)?;
        error::accept_language(input.accept_language.as_deref())?;
        let page_size = page_size(input.page_size)?;
        let start = page_start(input.page_token.as_deref())?;

        if !self.seed.products.iter().any(|p| p.id == product_id) {
            return Err(ApiError::not_found(format!("Product {product_id} not found")));
        }
        if !self.seed.has_artifact(product_id, artifact_id) {
            return Err(ApiError::not_found(format!(
                "Provisioning artifact {artifact_id} of product {product_id} not found"
            )));
        }
        let ids = self.seed.associated_actions(product_id, artifact_id);
        let page: Vec<Value> = page_of(ids, start, page_size)
            .iter()
            .filter_map(|id| self.seed.service_action(id))
            .map(|a| {
                json!({
                    "Id": a.id,
                    "Name": a.name,
                    "Description": a.description,
                    "DefinitionType": a.definition_type,
                })
            })
            .collect();
        Ok(with_next_page_token(
            json!({ "ServiceActionSummaries": page }),
            start,
            page_size,
            ids.len(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;

    #[test]
    fn service_actions_come_in_pages_of_at_most_twenty() {
        let s = state(0);
        let list = |size: Option<i64>, token: Option<&str>| {
            s.list_service_actions(ListActionsInput {
                product_id: Some("prod-webapp0000001".into()),
                provisioning_artifact_id: Some("pa-webapp0000001".into()),
                page_size: size,
                page_token: token.map(str::to_owned),
                accept_language: None,
            })
        };
        let first = list(None, None).expect("page 1");
        assert_eq!(first["ServiceActionSummaries"].as_array().map(Vec::len), Some(20));
        let token = first["NextPageToken"].as_str().expect("more pages");
        let second = list(Some(0), Some(token)).expect("page 2");
        assert_eq!(second["ServiceActionSummaries"].as_array().map(Vec::len), Some(5));
        assert!(second.get("NextPageToken").is_none());
        assert_eq!(second["ServiceActionSummaries"][3]["Name"], "RestartService");
        assert!(list(Some(21), None)
            .expect_err("too big")
            .message
            .contains("'PageSize'"));
        assert_eq!(
            list(None, Some("garbage")).expect_err("bad token").code,
            "InvalidParametersException"
        );
    }
}
