//! The emulated service: catalog, provisioned products, records and executions, and the
//! operations (one module each). Pure and synchronous; the server holds it behind a mutex.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::ApiError;
use crate::faults::SplitMix64;
use crate::seed::Seed;

mod action_parameters;
mod describe;
mod describe_record;
mod execute;
mod list_actions;
mod paging;
mod products;
mod record;
mod search;
mod search_query;
mod tagging;

use products::{Products, Provisioned};
use record::{Outcome, Record};

/// `RecordType` of the records this emulator creates for action executions.
pub const RECORD_TYPE_EXECUTE: &str = "EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION";

/// Statuses in which a provisioned product refuses new actions.
const BUSY_STATUSES: [&str; 2] = ["UNDER_CHANGE", "PLAN_IN_PROGRESS"];

/// Executions actually started (replays of a token do not count again).
#[derive(Debug, Clone, Default)]
pub(crate) struct Executions {
    /// Per `ExecuteToken`: 0 or 1.
    pub(crate) by_token: BTreeMap<String, u64>,
    /// Per provisioned product id.
    pub(crate) by_product: BTreeMap<String, u64>,
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

/// The whole mutable world of one emulator.
#[derive(Debug)]
pub(crate) struct State {
    seed: Seed,
    progress_ms: u64,
    products: Products,
    records: HashMap<String, Record>,
    tokens: HashMap<String, String>,
    pub(crate) executions: Executions,
    ids: SplitMix64,
}

impl State {
    pub(crate) fn new(seed: Seed, progress_ms: u64, rng_seed: u64) -> Self {
        let mut state = State {
            seed,
            progress_ms,
            products: Products::default(),
            records: HashMap::new(),
            tokens: HashMap::new(),
            executions: Executions::default(),
            ids: SplitMix64(rng_seed ^ 0x1d5),
        };
        state.load_seed();
        state
    }

    /// Back to the seed: products as seeded, no records or executions.
    pub(crate) fn reset(&mut self) {
        self.records.clear();
        self.tokens.clear();
        self.executions = Executions::default();
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
            let record = Record {
                id: record_id.clone(),
                record_type: "PROVISION_PRODUCT",
                pp_id: pp.id.clone(),
                pp_name: pp.name.clone(),
                pp_type: pp.product_type.clone(),
                product_id: pp.product_id.clone(),
                artifact_id: pp.provisioning_artifact_id.clone(),
                path_id: path_id.clone(),
                created,
                outcome: Outcome::Succeeds(Vec::new()),
                request: None,
            };
            self.records.insert(record_id.clone(), record);
            let idempotency_token = self.new_id("");
            self.products.push(Provisioned {
                status: pp.status.clone(),
                seeded: pp,
                status_message: None,
                created_time: created,
                idempotency_token,
                path_id,
                last_record_id: record_id.clone(),
                last_provisioning_record_id: record_id,
            });
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
            "DescribeServiceActionExecutionParameters" => self.describe_action_parameters(parse(body)?),
            "SearchProvisionedProducts" => self.search_provisioned_products(parse(body)?),
            "GetResources" => self.get_resources(parse(body)?),
            other => Err(ApiError::unknown_operation(format!(
                "Operation {other} is not supported"
            ))),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::serialization(format!("Cannot deserialize request: {e}")))
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub(crate) const PP: &str = "pp-webprod000001";
    pub(crate) const RESTART: &str = "act-restart00001";

    pub(crate) fn state(progress_ms: u64) -> State {
        State::new(Seed::default_seed(), progress_ms, 7)
    }

    pub(crate) fn execute(state: &mut State, body: Value) -> Result<Value, ApiError> {
        state.call("ExecuteProvisionedProductServiceAction", body)
    }

    pub(crate) fn invalid_member(body: Value) -> String {
        let err = execute(&mut state(0), body).expect_err("must be rejected");
        assert_eq!(err.code, "InvalidParametersException", "{err:?}");
        err.message
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::state::test_support::*;

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
        assert!(s.executions.by_token.is_empty());
        let d = s
            .call("DescribeProvisionedProduct", json!({"Id": "pp-migrating0001"}))
            .expect("ok");
        assert_eq!(d["ProvisionedProductDetail"]["Status"], "UNDER_CHANGE");
    }
}
