//! The emulated service: catalog, provisioned products, records, counters and faults, and the
//! four operations. Pure and synchronous; the server holds it behind a mutex.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{self, ApiError};
use crate::faults::{FaultSet, SplitMix64};
use crate::seed::Seed;

/// `RecordType` of the records this emulator creates for action executions.
pub const RECORD_TYPE_EXECUTE: &str = "EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION";

/// Statuses in which a provisioned product refuses new actions.
const BUSY_STATUSES: [&str; 2] = ["UNDER_CHANGE", "PLAN_IN_PROGRESS"];

/// Largest page `ListServiceActionsForProvisioningArtifact` returns, and its default.
const MAX_PAGE_SIZE: i64 = 20;

/// What the emulator has counted since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// AWS calls received per operation, including those answered by an injected fault
    /// and idempotent replays.
    pub calls: BTreeMap<String, u64>,
    /// Executions actually started, per `ExecuteToken` (a replayed token does not count again).
    pub executions: BTreeMap<String, u64>,
    /// Executions actually started, per provisioned product id.
    pub executions_by_product: BTreeMap<String, u64>,
}

/// Seconds since the epoch, fractional, as the JSON protocol carries timestamps.
pub(crate) fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `Parameters` of an execution: name to values.
type ExecutionParameters = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone)]
struct ProductState {
    status: String,
    status_message: Option<String>,
    created_time: f64,
    idempotency_token: String,
    path_id: String,
    last_record_id: String,
    last_provisioning_record_id: String,
}

#[derive(Debug, Clone)]
struct Record {
    id: String,
    record_type: &'static str,
    pp_id: String,
    pp_name: String,
    pp_type: String,
    product_id: String,
    artifact_id: String,
    path_id: String,
    created: f64,
    /// `Some(description)` when the record ends `FAILED`.
    failure: Option<String>,
    /// What an idempotent replay must match: action and parameters.
    request: Option<(String, Option<ExecutionParameters>)>,
}

impl Record {
    /// CREATED for the first quarter of `progress_ms`, IN_PROGRESS until it has elapsed,
    /// then SUCCEEDED (or FAILED); `UpdatedTime` is when the current status was reached.
    fn status_at(&self, now: f64, progress_ms: u64) -> (&'static str, f64) {
        let elapsed_ms = (now - self.created) * 1000.0;
        let progress = progress_ms as f64;
        if elapsed_ms >= progress {
            let done = if self.failure.is_some() { "FAILED" } else { "SUCCEEDED" };
            (done, self.created + progress / 1000.0)
        } else if elapsed_ms >= progress / 4.0 {
            ("IN_PROGRESS", self.created + progress / 4000.0)
        } else {
            ("CREATED", self.created)
        }
    }

    fn to_json(&self, now: f64, progress_ms: u64) -> Value {
        let (status, updated) = self.status_at(now, progress_ms);
        let errors = match (&self.failure, status) {
            (Some(description), "FAILED") => json!([{ "Code": "ActionFailed", "Description": description }]),
            _ => json!([]),
        };
        json!({
            "RecordId": self.id,
            "ProvisionedProductName": self.pp_name,
            "Status": status,
            "CreatedTime": self.created,
            "UpdatedTime": updated,
            "ProvisionedProductType": self.pp_type,
            "RecordType": self.record_type,
            "ProvisionedProductId": self.pp_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.artifact_id,
            "PathId": self.path_id,
            "RecordErrors": errors,
            "RecordTags": [],
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExecuteInput {
    provisioned_product_id: Option<String>,
    service_action_id: Option<String>,
    execute_token: Option<String>,
    accept_language: Option<String>,
    parameters: Option<ExecutionParameters>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeProvisionedProductInput {
    id: Option<String>,
    name: Option<String>,
    accept_language: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListActionsInput {
    product_id: Option<String>,
    provisioning_artifact_id: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
    accept_language: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeRecordInput {
    id: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
    accept_language: Option<String>,
}

/// The whole mutable world of one emulator.
#[derive(Debug)]
pub(crate) struct State {
    seed: Seed,
    progress_ms: u64,
    products: HashMap<String, ProductState>,
    records: HashMap<String, Record>,
    tokens: HashMap<String, String>,
    pub(crate) counters: Counters,
    pub(crate) faults: FaultSet,
    ids: SplitMix64,
}

/// The operations this emulator implements, by `X-Amz-Target` suffix.
pub(crate) const OPERATIONS: [&str; 4] = [
    "ExecuteProvisionedProductServiceAction",
    "DescribeProvisionedProduct",
    "ListServiceActionsForProvisioningArtifact",
    "DescribeRecord",
];

impl State {
    pub(crate) fn new(seed: Seed, progress_ms: u64, rng_seed: u64) -> Self {
        let mut state = State {
            seed,
            progress_ms,
            products: HashMap::new(),
            records: HashMap::new(),
            tokens: HashMap::new(),
            counters: Counters::default(),
            faults: FaultSet::new(rng_seed),
            ids: SplitMix64(rng_seed ^ 0x1d5),
        };
        state.load_seed();
        state
    }

    /// Back to the seed: products as seeded, no records, counters or faults.
    pub(crate) fn reset(&mut self) {
        self.records.clear();
        self.tokens.clear();
        self.counters = Counters::default();
        self.faults.clear();
        self.load_seed();
    }

    /// Each seeded product gets a finished PROVISION_PRODUCT record a day old, so its
    /// `LastRecordId` can be described like a real one.
    fn load_seed(&mut self) {
        self.products.clear();
        let created = now_epoch() - 86_400.0;
        for pp in self.seed.provisioned_products.clone() {
            let record_id = self.new_id("rec-");
            let path_id = pp.path_id.clone().unwrap_or_else(|| self.new_id("lpv3-"));
            self.records.insert(
                record_id.clone(),
                Record {
                    id: record_id.clone(),
                    record_type: "PROVISION_PRODUCT",
                    pp_id: pp.id.clone(),
                    pp_name: pp.name.clone(),
                    pp_type: pp.product_type.clone(),
                    product_id: pp.product_id.clone(),
                    artifact_id: pp.provisioning_artifact_id.clone(),
                    path_id: path_id.clone(),
                    created,
                    failure: None,
                    request: None,
                },
            );
            let token = self.new_id("");
            self.products.insert(
                pp.id.clone(),
                ProductState {
                    status: pp.status.clone(),
                    status_message: None,
                    created_time: created,
                    idempotency_token: token,
                    path_id,
                    last_record_id: record_id.clone(),
                    last_provisioning_record_id: record_id,
                },
            );
        }
    }

    /// `prefix` + 13 lowercase alphanumerics, unique among records.
    fn new_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            let mut n = self.ids.next_u64();
            let mut id = String::with_capacity(prefix.len() + 13);
            id.push_str(prefix);
            for _ in 0..13 {
                id.push(char::from(ALPHABET[(n % 36) as usize]));
                n /= 36;
            }
            if !self.records.contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn count_call(&mut self, operation: &str) {
        *self.counters.calls.entry(operation.to_owned()).or_default() += 1;
    }

    /// Sets a provisioned product's status; false if there is no such product.
    pub(crate) fn set_status(&mut self, pp_id: &str, status: &str, message: Option<String>) -> bool {
        match self.products.get_mut(pp_id) {
            Some(p) => {
                p.status = status.to_owned();
                p.status_message = message;
                true
            }
            None => false,
        }
    }

    /// Runs one AWS operation on a parsed JSON body.
    pub(crate) fn call(&mut self, operation: &str, body: Value) -> Result<Value, ApiError> {
        match operation {
            "ExecuteProvisionedProductServiceAction" => self.execute(parse(body)?),
            "DescribeProvisionedProduct" => self.describe_provisioned_product(parse(body)?),
            "ListServiceActionsForProvisioningArtifact" => self.list_service_actions(parse(body)?),
            "DescribeRecord" => self.describe_record(parse(body)?),
            other => Err(ApiError::unknown_operation(format!(
                "Operation {other} is not supported"
            ))),
        }
    }

    fn execute(&mut self, input: ExecuteInput) -> Result<Value, ApiError> {
        let pp_id = error::required("ProvisionedProductId", input.provisioned_product_id.as_deref())?;
        error::id("ProvisionedProductId", pp_id)?;
        let action_id = error::required("ServiceActionId", input.service_action_id.as_deref())?;
        error::id("ServiceActionId", action_id)?;
        let token = error::required("ExecuteToken", input.execute_token.as_deref())?;
        error::length("ExecuteToken", token, 1, 128, true)?;
        if !error::is_token_pattern(token) {
            return Err(error::constraint(
                "ExecuteToken",
                Some(token),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9][a-zA-Z0-9_-]*",
            ));
        }
        error::accept_language(input.accept_language.as_deref())?;
        if let Some(params) = &input.parameters {
            check_parameters(params)?;
        }

        let now = now_epoch();
        if let Some(record_id) = self.tokens.get(token) {
            let record = self
                .records
                .get(record_id)
                .ok_or_else(|| ApiError::internal("record of a known ExecuteToken is missing"))?;
            let same_request = record.pp_id == pp_id
                && record.request.as_ref() == Some(&(action_id.to_owned(), input.parameters.clone()));
            if !same_request {
                return Err(ApiError::invalid_parameters(format!(
                    "ExecuteToken {token} was already used for a different request"
                )));
            }
            return Ok(json!({ "RecordDetail": record.to_json(now, self.progress_ms) }));
        }

        let pp = self
            .seed
            .provisioned_product(pp_id)
            .ok_or_else(|| ApiError::not_found(format!("Provisioned product {pp_id} not found")))?
            .clone();
        let action = self
            .seed
            .service_action(action_id)
            .ok_or_else(|| ApiError::not_found(format!("Service action {action_id} not found")))?
            .clone();
        let associated = self
            .seed
            .associated_actions(&pp.product_id, &pp.provisioning_artifact_id)
            .iter()
            .any(|a| a == action_id);
        if !associated {
            return Err(ApiError::invalid_parameters(format!(
                "ServiceActionId {action_id} is not associated with provisioning artifact {} of product {}",
                pp.provisioning_artifact_id, pp.product_id
            )));
        }
        let product = self
            .products
            .get(pp_id)
            .ok_or_else(|| ApiError::internal("seeded provisioned product has no state"))?;
        if BUSY_STATUSES.contains(&product.status.as_str()) {
            return Err(ApiError::invalid_state(format!(
                "Provisioned product {pp_id} is in status {} and cannot run actions",
                product.status
            )));
        }
        let path_id = product.path_id.clone();

        let record_id = self.new_id("rec-");
        let record = Record {
            id: record_id.clone(),
            record_type: RECORD_TYPE_EXECUTE,
            pp_id: pp.id.clone(),
            pp_name: pp.name.clone(),
            pp_type: pp.product_type.clone(),
            product_id: pp.product_id.clone(),
            artifact_id: pp.provisioning_artifact_id.clone(),
            path_id,
            created: now,
            failure: action.failure_message.clone(),
            request: Some((action_id.to_owned(), input.parameters.clone())),
        };
        let detail = record.to_json(now, self.progress_ms);
        self.records.insert(record_id.clone(), record);
        self.tokens.insert(token.to_owned(), record_id.clone());
        if let Some(product) = self.products.get_mut(pp_id) {
            product.last_record_id = record_id;
        }
        *self.counters.executions.entry(token.to_owned()).or_default() += 1;
        *self.counters.executions_by_product.entry(pp_id.to_owned()).or_default() += 1;
        Ok(json!({ "RecordDetail": detail }))
    }

    fn describe_provisioned_product(&self, input: DescribeProvisionedProductInput) -> Result<Value, ApiError> {
        error::accept_language(input.accept_language.as_deref())?;
        let pp = match (input.id.as_deref(), input.name.as_deref()) {
            (Some(id), None) => {
                error::id("Id", id)?;
                self.seed
                    .provisioned_product(id)
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
                self.seed
                    .provisioned_products
                    .iter()
                    .find(|pp| pp.name == name)
                    .ok_or_else(|| ApiError::not_found(format!("Provisioned product named {name} not found")))?
            }
            _ => {
                return Err(ApiError::invalid_parameters(
                    "Exactly one of Id and Name must be provided",
                ))
            }
        };
        let state = self
            .products
            .get(&pp.id)
            .ok_or_else(|| ApiError::internal("seeded provisioned product has no state"))?;
        let mut detail = json!({
            "Name": pp.name,
            "Arn": format!("arn:aws:servicecatalog:us-east-1:123456789012:stack/{}/{}", pp.name, pp.id),
            "Type": pp.product_type,
            "Id": pp.id,
            "Status": state.status,
            "CreatedTime": state.created_time,
            "IdempotencyToken": state.idempotency_token,
            "LastRecordId": state.last_record_id,
            "LastProvisioningRecordId": state.last_provisioning_record_id,
            "LastSuccessfulProvisioningRecordId": state.last_provisioning_record_id,
            "ProductId": pp.product_id,
            "ProvisioningArtifactId": pp.provisioning_artifact_id,
        });
        if let (Some(message), Some(obj)) = (&state.status_message, detail.as_object_mut()) {
            obj.insert("StatusMessage".to_owned(), json!(message));
        }
        Ok(json!({ "ProvisionedProductDetail": detail, "CloudWatchDashboards": [] }))
    }

    fn list_service_actions(&self, input: ListActionsInput) -> Result<Value, ApiError> {
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
        if !self
            .seed
            .provisioning_artifacts
            .iter()
            .any(|pa| pa.id == artifact_id && pa.product_id == product_id)
        {
            return Err(ApiError::not_found(format!(
                "Provisioning artifact {artifact_id} of product {product_id} not found"
            )));
        }
        let ids = self.seed.associated_actions(product_id, artifact_id);
        let page: Vec<Value> = ids
            .iter()
            .skip(start)
            .take(page_size)
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
        let mut out = json!({ "ServiceActionSummaries": page });
        let next = start + page_size;
        if next < ids.len() {
            if let Some(obj) = out.as_object_mut() {
                obj.insert("NextPageToken".to_owned(), json!(format!("{PAGE_TOKEN_PREFIX}{next}")));
            }
        }
        Ok(out)
    }

    fn describe_record(&self, input: DescribeRecordInput) -> Result<Value, ApiError> {
        let id = error::required("Id", input.id.as_deref())?;
        error::id("Id", id)?;
        error::accept_language(input.accept_language.as_deref())?;
        page_size(input.page_size)?;
        if let Some(token) = input.page_token.as_deref() {
            error::length("PageToken", token, 0, 2024, false)?;
        }
        let record = self
            .records
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("Record {id} not found")))?;
        Ok(json!({ "RecordDetail": record.to_json(now_epoch(), self.progress_ms), "RecordOutputs": [] }))
    }
}

const PAGE_TOKEN_PREFIX: &str = "emu-page-";

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::serialization(format!("Cannot deserialize request: {e}")))
}

/// `PageSize`: 0–20, where absent or 0 means 20.
fn page_size(requested: Option<i64>) -> Result<usize, ApiError> {
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
fn page_start(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None => Ok(0),
        Some(t) => t
            .strip_prefix(PAGE_TOKEN_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid_parameters("The PageToken is not valid")),
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
    use super::*;

    const PP: &str = "pp-webprod000001";
    const RESTART: &str = "act-restart00001";

    fn state(progress_ms: u64) -> State {
        State::new(Seed::default_seed(), progress_ms, 7)
    }

    fn execute(state: &mut State, body: Value) -> Result<Value, ApiError> {
        state.call("ExecuteProvisionedProductServiceAction", body)
    }

    fn invalid_member(body: Value) -> String {
        let err = execute(&mut state(0), body).expect_err("must be rejected");
        assert_eq!(err.code, "InvalidParametersException", "{err:?}");
        err.message
    }

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
        assert_eq!(s.counters.executions.get("tok-1"), Some(&1));
        assert_eq!(s.counters.executions_by_product.get(PP), Some(&1));

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
        assert!(!s.counters.executions_by_product.contains_key(PP));
    }

    #[test]
    fn record_status_moves_from_created_through_in_progress_to_done() {
        let record = Record {
            id: "rec-1".into(),
            record_type: RECORD_TYPE_EXECUTE,
            pp_id: PP.into(),
            pp_name: "web-prod".into(),
            pp_type: "CFN_STACK".into(),
            product_id: "p".into(),
            artifact_id: "pa".into(),
            path_id: "lpv3-x".into(),
            created: 1000.0,
            failure: None,
            request: None,
        };
        assert_eq!(record.status_at(1000.1, 2000), ("CREATED", 1000.0));
        assert_eq!(record.status_at(1001.0, 2000), ("IN_PROGRESS", 1000.5));
        assert_eq!(record.status_at(1002.0, 2000), ("SUCCEEDED", 1002.0));
        assert_eq!(record.status_at(1000.0, 0).0, "SUCCEEDED");
        let failing = Record {
            failure: Some("boom".into()),
            ..record
        };
        let json = failing.to_json(1003.0, 2000);
        assert_eq!(json["Status"], "FAILED");
        assert_eq!(json["RecordErrors"][0]["Description"], "boom");
    }

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

    #[test]
    fn reset_forgets_records_and_restores_seeded_status() {
        let mut s = state(0);
        execute(
            &mut s,
            json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": "tok"}),
        )
        .expect("ok");
        s.set_status("pp-migrating0001", "AVAILABLE", None);
        s.reset();
        assert!(s.counters.executions.is_empty());
        let d = s
            .call("DescribeProvisionedProduct", json!({"Id": "pp-migrating0001"}))
            .expect("ok");
        assert_eq!(d["ProvisionedProductDetail"]["Status"], "UNDER_CHANGE");
    }
}
