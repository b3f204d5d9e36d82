//! `DescribeProvisionedProduct`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::State;
use crate::error::{self, ApiError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeProvisionedProductInput {
    id: Option<String>,
    name: Option<String>,
    accept_language: Option<String>,
}

impl State {
    pub(super) fn describe_provisioned_product(
        &self,
        input: DescribeProvisionedProductInput,
    ) -> Result<Value, ApiError> {
        error::accept_language(input.accept_language.as_deref())?;
        let product = match (input.id.as_deref(), input.name.as_deref()) {
            (Some(id), None) => {
                error::id("Id", id)?;
                self.products
                    .get(id)
                    .ok_or_else(|| ApiError::not_found(format!("Provisioned product {id} not found")))?
            }
            (None, Some(name)) => {
                error::length("Name", name, 1, 128, true)?;
                if !error::is_name_pattern(name) {
                    return Err(error::constraint(
                        "Name",
                        Some(name),
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9][a-zA-Z0-9._-]*",
                    ));
                }
                self.products
                    .named(name)
                    .ok_or_else(|| ApiError::not_found(format!("Provisioned product named {name} not found")))?
            }
            _ => {
                return Err(ApiError::invalid_parameters(
                    "Exactly one of Id and Name must be provided",
                ))
            }
        };
        Ok(json!({ "ProvisionedProductDetail": product.common_json(), "CloudWatchDashboards": [] }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::state::test_support::*;

    #[test]
    fn describe_provisioned_product_tracks_the_last_record() {
        let mut s = state(0);
        let out = execute(
            &mut s,
            json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": "tok"}),
        )
        .expect("ok");
        let by_name = s
            .call("DescribeProvisionedProduct", json!({"Name": "web-prod"}))
            .expect("by name");
        let detail = &by_name["ProvisionedProductDetail"];
        assert_eq!(detail["Id"], PP);
        assert_eq!(detail["LastRecordId"], out["RecordDetail"]["RecordId"]);
        let provisioning = detail["LastProvisioningRecordId"].as_str().expect("id").to_owned();
        let record = s
            .call("DescribeRecord", json!({"Id": provisioning}))
            .expect("seeded record");
        assert_eq!(record["RecordDetail"]["RecordType"], "PROVISION_PRODUCT");
        let both = s.call("DescribeProvisionedProduct", json!({"Id": PP, "Name": "web-prod"}));
        assert_eq!(both.expect_err("both").code, "InvalidParametersException");
        let neither = s.call("DescribeProvisionedProduct", json!({}));
        assert_eq!(neither.expect_err("neither").code, "InvalidParametersException");
    }
}
