//! `DescribeServiceActionExecutionParameters`: the parameters an action defines, for a dry run
//! to check a request's keys against.

use serde::Deserialize;
use serde_json::{json, Value};

use super::State;
use crate::error::{self, ApiError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeActionParametersInput {
    provisioned_product_id: Option<String>,
    service_action_id: Option<String>,
    accept_language: Option<String>,
}

impl State {
    /// Unknown product or action: `ResourceNotFoundException`; an action not associated with
    /// the product's artifact: `InvalidParametersException` (as Execute).
    pub(super) fn describe_action_parameters(&self, input: DescribeActionParametersInput) -> Result<Value, ApiError> {
        let pp_id = error::required("ProvisionedProductId", input.provisioned_product_id.as_deref())?;
        error::id("ProvisionedProductId", pp_id)?;
        let action_id = error::required("ServiceActionId", input.service_action_id.as_deref())?;
        error::id("ServiceActionId", action_id)?;
        error::accept_language(input.accept_language.as_deref())?;
        let (_, action) = self.action_target(pp_id, action_id)?;
        Ok(json!({ "ServiceActionParameters": action.parameters }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::state::test_support::*;

    const DESCRIBE: &str = "DescribeServiceActionExecutionParameters";

    #[test]
    fn parameters_come_from_the_seed_with_their_defaults() {
        let mut s = state(0);
        let out = s
            .call(
                DESCRIBE,
                json!({"ProvisionedProductId": PP, "ServiceActionId": "act-rotate000001"}),
            )
            .expect("described");
        assert_eq!(
            out["ServiceActionParameters"],
            json!([
                {"Name": "RetentionDays", "Type": "TEXT_VALUE", "DefaultValues": ["30"]},
                {"Name": "LogGroups", "Type": "TEXT_VALUE", "DefaultValues": []},
            ])
        );
        let filler = s
            .call(
                DESCRIBE,
                json!({"ProvisionedProductId": PP, "ServiceActionId": "act-filler0000001"}),
            )
            .expect("described");
        assert_eq!(filler["ServiceActionParameters"], json!([]));
    }

    #[test]
    fn lookups_and_members_fail_like_execute() {
        let mut s = state(0);
        let mut code = |body| s.call(DESCRIBE, body).expect_err("must fail").code;
        assert_eq!(
            code(json!({"ProvisionedProductId": "pp-nope", "ServiceActionId": RESTART})),
            "ResourceNotFoundException"
        );
        assert_eq!(
            code(json!({"ProvisionedProductId": PP, "ServiceActionId": "act-nope"})),
            "ResourceNotFoundException"
        );
        assert_eq!(
            code(json!({"ProvisionedProductId": PP, "ServiceActionId": "act-patchos00001"})),
            "InvalidParametersException"
        );
        assert_eq!(
            code(json!({"ProvisionedProductId": "pp bad", "ServiceActionId": RESTART})),
            "InvalidParametersException"
        );
        assert_eq!(code(json!({"ProvisionedProductId": PP})), "InvalidParametersException");
    }
}
