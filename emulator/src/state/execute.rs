//! `ExecuteProvisionedProductServiceAction`: validation, idempotency on `ExecuteToken`, records.

use serde::Deserialize;
use serde_json::{json, Value};

use super::record::{Outcome, Record};
use super::{now_epoch, ExecutionParameters, State, BUSY_STATUSES, RECORD_TYPE_EXECUTE};
use crate::error::{self, ApiError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ExecuteInput {
    provisioned_product_id: Option<String>,
    service_action_id: Option<String>,
    execute_token: Option<String>,
    accept_language: Option<String>,
    parameters: Option<ExecutionParameters>,
}

impl State {
    pub(super) fn execute(&mut self, input: ExecuteInput) -> Result<Value, ApiError> {
        let (pp_id, action_id, token) = input.validate()?;
        let now = now_epoch();
        if let Some(replayed) = self.replay(pp_id, action_id, token, &input.parameters, now)? {
            return Ok(replayed);
        }
        let record = self.new_execution(pp_id, action_id, &input.parameters, now)?;
        let record_id = record.id.clone();
        let detail = record.to_json(now, self.progress_ms);
        self.records.insert(record_id.clone(), record);
        self.tokens.insert(token.to_owned(), record_id.clone());
        if let Some(product) = self.products.get_mut(pp_id) {
            product.last_record_id = record_id;
        }
        *self.executions.by_token.entry(token.to_owned()).or_default() += 1;
        *self.executions.by_product.entry(pp_id.to_owned()).or_default() += 1;
        Ok(json!({ "RecordDetail": detail }))
    }

    /// A known token: the record it started if the request is the same, else an error.
    fn replay(
        &self,
        pp_id: &str,
        action_id: &str,
        token: &str,
        parameters: &Option<ExecutionParameters>,
        now: f64,
    ) -> Result<Option<Value>, ApiError> {
        let Some(record_id) = self.tokens.get(token) else {
            return Ok(None);
        };
        let record = self
            .records
            .get(record_id)
            .ok_or_else(|| ApiError::internal("record of a known ExecuteToken is missing"))?;
        let same_request =
            record.pp_id == pp_id && record.request.as_ref() == Some(&(action_id.to_owned(), parameters.clone()));
        if !same_request {
            return Err(ApiError::invalid_parameters(format!(
                "ExecuteToken {token} was already used for a different request"
            )));
        }
        Ok(Some(json!({ "RecordDetail": record.to_json(now, self.progress_ms) })))
    }

    /// The record of a new execution, once the product and action allow it.
    fn new_execution(
        &mut self,
        pp_id: &str,
        action_id: &str,
        parameters: &Option<ExecutionParameters>,
        now: f64,
    ) -> Result<Record, ApiError> {
        let (product, action) = self.action_target(pp_id, action_id)?;
        if BUSY_STATUSES.contains(&product.status.as_str()) {
            return Err(ApiError::invalid_state(format!(
                "Provisioned product {pp_id} is in status {} and cannot run actions",
                product.status
            )));
        }
        let pp = product.seeded.clone();
        let path_id = product.path_id.clone();
        let outcome = Outcome::of(action);
        Ok(Record {
            id: self.new_id("rec-"),
            record_type: RECORD_TYPE_EXECUTE,
            pp_id: pp.id,
            pp_name: pp.name,
            pp_type: pp.product_type,
            product_id: pp.product_id,
            artifact_id: pp.provisioning_artifact_id,
            path_id,
            created: now,
            outcome,
            request: Some((action_id.to_owned(), parameters.clone())),
        })
    }
}

impl ExecuteInput {
    /// Every member against the API model; returns the product id, action id and token.
    fn validate(&self) -> Result<(&str, &str, &str), ApiError> {
        let pp_id = error::required("ProvisionedProductId", self.provisioned_product_id.as_deref())?;
        error::id("ProvisionedProductId", pp_id)?;
        let action_id = error::required("ServiceActionId", self.service_action_id.as_deref())?;
        error::id("ServiceActionId", action_id)?;
        let token = error::required("ExecuteToken", self.execute_token.as_deref())?;
        error::length("ExecuteToken", token, 1, 128, true)?;
        if !error::is_token_pattern(token) {
            return Err(error::constraint(
                "ExecuteToken",
                Some(token),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9][a-zA-Z0-9_-]*",
            ));
        }
        error::accept_language(self.accept_language.as_deref())?;
        if let Some(params) = &self.parameters {
            check_parameters(params)?;
        }
        Ok((pp_id, action_id, token))
    }
}

/// `Parameters`: 1–200 keys of 1–50 characters, each a list of at most 25 values of at most
/// 512 characters. Values are never echoed: they may be secrets.
fn check_parameters(params: &ExecutionParameters) -> Result<(), ApiError> {
    if params.is_empty() {
        return Err(error::constraint(
            "Parameters",
            None,
            "Member must have length greater than or equal to 1",
        ));
    }
    if params.len() > 200 {
        return Err(error::constraint(
            "Parameters",
            None,
            "Member must have length less than or equal to 200",
        ));
    }
    for (key, values) in params {
        let key_len = key.chars().count();
        if !(1..=50).contains(&key_len) {
            return Err(error::constraint(
                "Parameters",
                None,
                "Map keys must satisfy constraint: [Member must have length less than or equal to 50, Member must have length greater than or equal to 1]",
            ));
        }
        if values.len() > 25 {
            return Err(error::constraint(
                &format!("Parameters.{key}"),
                None,
                "Member must have length less than or equal to 25",
            ));
        }
        if values.iter().any(|v| v.chars().count() > 512) {
            return Err(error::constraint(
                &format!("Parameters.{key}"),
                None,
                "Member must have length less than or equal to 512",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::state::test_support::*;

    #[test]
    fn each_invalid_member_is_named_in_the_message() {
        let ok = json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": "tok-1"});
        let with = |key: &str, value: Value| {
            let mut body = ok.clone();
            body[key] = value;
            body
        };
        let cases = [
            (
                with("ProvisionedProductId", json!("pp with spaces")),
                "'ProvisionedProductId'",
            ),
            (with("ProvisionedProductId", json!("")), "'ProvisionedProductId'"),
            (with("ServiceActionId", json!("a".repeat(101))), "'ServiceActionId'"),
            (with("ExecuteToken", json!("-leading-dash")), "'ExecuteToken'"),
            (with("ExecuteToken", json!("t".repeat(129))), "'ExecuteToken'"),
            (with("AcceptLanguage", json!("x".repeat(101))), "'AcceptLanguage'"),
            (with("Parameters", json!({})), "'Parameters'"),
            (with("Parameters", json!({"k".repeat(51): ["v"]})), "'Parameters'"),
            (
                with("Parameters", json!({"TARGET": vec!["v"; 26]})),
                "'Parameters.TARGET'",
            ),
            (
                with("Parameters", json!({"TARGET": ["s".repeat(513)]})),
                "'Parameters.TARGET'",
            ),
        ];
        for (body, member) in cases {
            let message = invalid_member(body.clone());
            assert!(message.contains(member), "{member} not in {message} for {body}");
        }
        let mut missing = ok.clone();
        missing.as_object_mut().map(|o| o.remove("ExecuteToken"));
        assert!(
            invalid_member(missing).contains("'ExecuteToken' failed to satisfy constraint: Member must not be null")
        );
    }

    #[test]
    fn two_hundred_parameters_are_accepted_but_not_two_hundred_and_one() {
        let params = |n: usize| -> Value { (0..n).map(|i| (format!("P{i}"), json!(["v"]))).collect() };
        let mut s = state(0);
        let body = |t: &str, n| json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": t, "Parameters": params(n)});
        assert!(execute(&mut s, body("t200", 200)).is_ok());
        let err = execute(&mut s, body("t201", 201)).expect_err("too many");
        assert!(err.message.contains("'Parameters'"));
    }

    #[test]
    fn wrong_member_type_is_a_serialization_error() {
        let err = execute(&mut state(0), json!({"ProvisionedProductId": 5})).expect_err("type");
        assert_eq!(err.code, "SerializationException");
    }

    #[test]
    fn same_token_replays_the_record_and_executes_once() {
        let mut s = state(0);
        let body = json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": "tok-1",
                          "Parameters": {"TARGET": ["i-1"]}});
        let first = execute(&mut s, body.clone()).expect("first");
        let again = execute(&mut s, body.clone()).expect("again");
        assert_eq!(first["RecordDetail"]["RecordId"], again["RecordDetail"]["RecordId"]);
        assert_eq!(s.executions.by_token.get("tok-1"), Some(&1));
        assert_eq!(s.executions.by_product.get(PP), Some(&1));

        let mut other = body;
        other["ServiceActionId"] = json!("act-rotate000001");
        let err = execute(&mut s, other).expect_err("reused token");
        assert_eq!(err.code, "InvalidParametersException");
        assert!(err.message.contains("ExecuteToken"));
    }

    #[test]
    fn record_ids_look_like_service_catalog_ones() {
        let mut s = state(0);
        let out = execute(
            &mut s,
            json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": "tok"}),
        )
        .expect("ok");
        let id = out["RecordDetail"]["RecordId"].as_str().expect("string id");
        assert_eq!(id.len(), 17);
        assert!(
            id.starts_with("rec-") && id[4..].chars().all(|c| c.is_ascii_alphanumeric()),
            "{id}"
        );
        assert_eq!(out["RecordDetail"]["RecordType"], RECORD_TYPE_EXECUTE);
    }

    #[test]
    fn lookups_fail_with_the_modeled_errors() {
        let mut s = state(0);
        let body = |pp: &str, act: &str| json!({"ProvisionedProductId": pp, "ServiceActionId": act, "ExecuteToken": format!("t-{pp}")});
        let code = |r: Result<Value, ApiError>| r.expect_err("must fail").code;
        assert_eq!(
            code(execute(&mut s, body("pp-nope", RESTART))),
            "ResourceNotFoundException"
        );
        assert_eq!(code(execute(&mut s, body(PP, "act-nope"))), "ResourceNotFoundException");
        assert_eq!(
            code(execute(&mut s, body(PP, "act-orphan000001"))),
            "InvalidParametersException"
        );
        assert_eq!(
            code(execute(&mut s, body("pp-migrating0001", RESTART))),
            "InvalidStateException"
        );
        assert!(s.set_status("pp-migrating0001", "AVAILABLE", None));
        assert!(execute(&mut s, body("pp-migrating0001", RESTART)).is_ok());
        assert!(s.set_status(PP, "PLAN_IN_PROGRESS", None));
        assert_eq!(code(execute(&mut s, body(PP, RESTART))), "InvalidStateException");
        assert!(!s.executions.by_product.contains_key(PP));
    }
}
