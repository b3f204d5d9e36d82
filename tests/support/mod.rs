//! In-memory fakes of the two ports, shared by the handler, bad-input and security tests, with the
//! helpers that build a handler over them. The fake catalog is seeded from the emulator's seed file,
//! so expectations match `make demo`.
// Each test binary uses only part of this module.
#![allow(dead_code)]
// Test support: `pub` for the test files that include it, and unwrap is how a fake fails a test.
#![allow(unreachable_pub, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sc_action_runner::config::Config;
use sc_action_runner::error::CallError;
use sc_action_runner::fleet::Candidate;
use sc_action_runner::handler::InvocationError;
use sc_action_runner::outcome::{RecordDetail, RecordErrorDetail, RecordOutput, ResultMessage};
use sc_action_runner::ports::{
    ActionExecutor, DescribedRecord, Execution, MessageSender, OutgoingMessage, ProvisionedProduct, ResourceOwners,
    ResultPublisher, VisibilityChanger,
};
use sc_action_runner::request::{AcceptLanguage, ProductRef};
use sc_action_runner::{Handler, Invocation};
use serde_json::{json, Value};

// ---------------------------------------------------------------- fakes

/// One execution the fake catalog ran, with what it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub provisioned_product_id: String,
    pub service_action_id: String,
    pub execute_token: String,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub accept_language: Option<AcceptLanguage>,
}

/// Service Catalog in memory, with the emulator's seed and the API's documented behaviour. Its
/// fields are public so a test can build one with `..FakeCatalog::seeded()`.
#[derive(Default)]
pub struct FakeCatalog {
    /// id → the provisioned product
    pub products: HashMap<String, FakeProduct>,
    /// action id → parameter names the action defines
    pub action_parameters: HashMap<String, Vec<String>>,
    /// resource ARN → its tags
    pub resources: HashMap<String, BTreeMap<String, String>>,
    /// Errors GetResources returns, one per call, before it answers.
    pub owner_faults: Mutex<Vec<CallError>>,
    /// action id → name
    pub actions: HashMap<String, String>,
    /// (product id, artifact id) → associated action ids
    pub associations: HashMap<(String, String), Vec<String>>,
    /// Errors Execute returns for a provisioned product id, one per call, before it succeeds.
    pub execute_faults: Mutex<HashMap<String, Vec<CallError>>>,
    /// An error Execute returns for a provisioned product id once, after that many calls succeeded.
    pub execute_faults_after: Mutex<HashMap<String, (usize, CallError)>>,
    pub calls: Mutex<Vec<String>>,
    pub executions: Mutex<Vec<Executed>>,
    pub records_by_token: Mutex<HashMap<String, String>>,
    pub in_flight: AtomicUsize,
    /// The most Execute calls that were ever in flight at once.
    pub max_in_flight: AtomicUsize,
    /// How long each Execute call takes before it answers.
    pub execute_delay: Option<Duration>,
    /// Execute calls for these provisioned products take this long instead.
    pub slow_products: HashMap<String, Duration>,
    /// Execute calls in flight per provisioned product, and the most there ever were.
    pub in_flight_by_product: Mutex<HashMap<String, usize>>,
    pub max_in_flight_by_product: Mutex<HashMap<String, usize>>,
    /// The provisioned product of each Execute call, in the order the calls started.
    pub started: Mutex<Vec<String>>,
    /// The status Execute reports for a new record (default `CREATED`).
    pub execute_status: Option<String>,
    /// record id → provisioned product id, for DescribeRecord.
    pub records: Mutex<HashMap<String, String>>,
    /// What DescribeRecord says of the records of a provisioned product (default: IN_PROGRESS).
    pub record_states: Mutex<HashMap<String, RecordState>>,
    /// Errors DescribeRecord returns, one per call, before it answers.
    pub describe_record_faults: Mutex<Vec<CallError>>,
    /// Errors SearchProvisionedProducts returns (last first), one per call, before it answers.
    pub search_faults: Mutex<Vec<CallError>>,
}

/// A provisioned product of the fake catalog.
#[derive(Debug, Clone, Default)]
pub struct FakeProduct {
    pub name: String,
    pub product_id: String,
    pub artifact_id: String,
    pub status: String,
    pub product_type: String,
    pub tags: BTreeMap<String, String>,
}

/// A record's status, errors and outputs, as DescribeRecord reports them.
#[derive(Debug, Clone, Default)]
pub struct RecordState {
    pub status: String,
    pub errors: Vec<RecordErrorDetail>,
    pub outputs: Vec<RecordOutput>,
}

impl RecordState {
    pub fn succeeded(outputs: &[(&str, &str)]) -> Self {
        RecordState {
            status: "SUCCEEDED".into(),
            errors: Vec::new(),
            outputs: outputs
                .iter()
                .map(|(k, v)| RecordOutput {
                    output_key: Some(k.to_string()),
                    output_value: Some(v.to_string()),
                    description: Some(format!("{k} of the run")),
                })
                .collect(),
        }
    }

    pub fn failed(errors: &[(&str, &str)]) -> Self {
        RecordState {
            status: "FAILED".into(),
            errors: errors
                .iter()
                .map(|(c, d)| RecordErrorDetail {
                    code: Some(c.to_string()),
                    description: Some(d.to_string()),
                })
                .collect(),
            outputs: Vec::new(),
        }
    }

    pub fn status(status: &str) -> Self {
        RecordState {
            status: status.into(),
            ..Default::default()
        }
    }
}

impl FakeCatalog {
    pub fn seeded() -> Self {
        let seed: Value = serde_json::from_str(include_str!("../../emulator/seed.json")).unwrap();
        let mut fake = FakeCatalog::default();
        let tags = |v: &Value| -> BTreeMap<String, String> {
            v.as_array()
                .map(|tags| {
                    tags.iter()
                        .map(|t| {
                            (
                                t["Key"].as_str().unwrap().to_owned(),
                                t["Value"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        for p in seed["provisionedProducts"].as_array().unwrap() {
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            let product = FakeProduct {
                name: s("Name"),
                product_id: s("ProductId"),
                artifact_id: s("ProvisioningArtifactId"),
                status: s("Status"),
                product_type: s("Type"),
                tags: tags(&p["Tags"]),
            };
            fake.products.insert(s("Id"), product);
        }
        for r in seed["resources"].as_array().unwrap() {
            fake.resources
                .insert(r["ResourceARN"].as_str().unwrap().to_owned(), tags(&r["Tags"]));
        }
        for a in seed["serviceActions"].as_array().unwrap() {
            let names = a["Parameters"]
                .as_array()
                .map(|ps| ps.iter().map(|p| p["Name"].as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            fake.action_parameters
                .insert(a["Id"].as_str().unwrap().to_owned(), names);
            fake.actions
                .insert(a["Id"].as_str().unwrap().into(), a["Name"].as_str().unwrap().into());
        }
        for a in seed["associations"].as_array().unwrap() {
            let ids = a["ServiceActionIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned());
            fake.associations.insert(
                (
                    a["ProductId"].as_str().unwrap().into(),
                    a["ProvisioningArtifactId"].as_str().unwrap().into(),
                ),
                ids.collect(),
            );
        }
        fake
    }

    pub fn fail_execute(&self, pp: &str, errors: Vec<CallError>) {
        self.execute_faults.lock().unwrap().insert(pp.to_owned(), errors);
    }

    /// Execute for `pp` succeeds `ok_calls` times, then fails once with `error`.
    pub fn fail_execute_after(&self, pp: &str, ok_calls: usize, error: CallError) {
        self.execute_faults_after
            .lock()
            .unwrap()
            .insert(pp.to_owned(), (ok_calls, error));
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// DescribeRecord reports the records of `pp` in `state` from now on.
    pub fn set_record_state(&self, pp: &str, state: RecordState) {
        self.record_states.lock().unwrap().insert(pp.to_owned(), state);
    }

    pub fn executions(&self) -> Vec<Executed> {
        self.executions.lock().unwrap().clone()
    }

    fn not_found(op: &'static str, what: &str) -> CallError {
        CallError::service(op, "ResourceNotFoundException", Some(400), format!("{what} not found"))
    }
}

impl ActionExecutor for FakeCatalog {
    async fn describe_provisioned_product(
        &self,
        product: &ProductRef,
        _accept_language: Option<AcceptLanguage>,
    ) -> Result<ProvisionedProduct, CallError> {
        self.calls.lock().unwrap().push(format!("Describe {product:?}"));
        let found = self.products.iter().find(|(id, p)| match product {
            ProductRef::Id(want) => *id == want,
            ProductRef::Name(want) => p.name == *want,
        });
        let (id, p) = found.ok_or_else(|| Self::not_found("DescribeProvisionedProduct", "provisioned product"))?;
        Ok(ProvisionedProduct {
            id: id.clone(),
            product_id: p.product_id.clone(),
            provisioning_artifact_id: p.artifact_id.clone(),
            status: p.status.clone(),
        })
    }

    async fn find_service_action_id(
        &self,
        product_id: &str,
        provisioning_artifact_id: &str,
        name: &str,
        _accept_language: Option<AcceptLanguage>,
    ) -> Result<Option<String>, CallError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("ListActions {provisioning_artifact_id} {name}"));
        let ids = self
            .associations
            .get(&(product_id.to_owned(), provisioning_artifact_id.to_owned()))
            .ok_or_else(|| Self::not_found("ListServiceActionsForProvisioningArtifact", "artifact"))?;
        Ok(ids
            .iter()
            .find(|id| self.actions.get(*id).map(String::as_str) == Some(name))
            .cloned())
    }

    async fn execute(&self, e: Execution<'_>) -> Result<RecordDetail, CallError> {
        const OP: &str = "ExecuteProvisionedProductServiceAction";
        self.calls
            .lock()
            .unwrap()
            .push(format!("Execute {} {}", e.provisioned_product_id, e.service_action_id));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let pp = e.provisioned_product_id.to_owned();
        self.started.lock().unwrap().push(pp.clone());
        {
            let mut by_product = self.in_flight_by_product.lock().unwrap();
            let n = by_product.entry(pp.clone()).or_default();
            *n += 1;
            let mut max = self.max_in_flight_by_product.lock().unwrap();
            let m = max.entry(pp.clone()).or_default();
            *m = (*m).max(*n);
        }
        if let Some(delay) = self.slow_products.get(&pp).copied().or(self.execute_delay) {
            tokio::time::sleep(delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        *self.in_flight_by_product.lock().unwrap().entry(pp).or_default() -= 1;

        if let Some(errors) = self.execute_faults.lock().unwrap().get_mut(e.provisioned_product_id) {
            if !errors.is_empty() {
                return Err(errors.remove(0));
            }
        }
        {
            let mut after = self.execute_faults_after.lock().unwrap();
            if let Some((ok_calls, error)) = after.get_mut(e.provisioned_product_id) {
                if *ok_calls == 0 {
                    let error = error.clone();
                    after.remove(e.provisioned_product_id);
                    return Err(error);
                }
                *ok_calls -= 1;
            }
        }
        let FakeProduct {
            name,
            product_id,
            artifact_id,
            status,
            ..
        } = self
            .products
            .get(e.provisioned_product_id)
            .ok_or_else(|| Self::not_found(OP, "provisioned product"))?;
        if !self.actions.contains_key(e.service_action_id) {
            return Err(Self::not_found(OP, "service action"));
        }
        let associated = self
            .associations
            .get(&(product_id.clone(), artifact_id.clone()))
            .is_some_and(|ids| ids.iter().any(|a| a == e.service_action_id));
        if !associated {
            return Err(CallError::service(
                OP,
                "InvalidParametersException",
                Some(400),
                "action not associated",
            ));
        }
        if status == "UNDER_CHANGE" {
            return Err(CallError::service(
                OP,
                "InvalidStateException",
                Some(400),
                "product is under change",
            ));
        }
        let mut records = self.records_by_token.lock().unwrap();
        let fresh = !records.contains_key(e.execute_token);
        let n = records.len();
        let record_id = records
            .entry(e.execute_token.to_owned())
            .or_insert_with(|| format!("rec-{n:013}"))
            .clone();
        self.records
            .lock()
            .unwrap()
            .insert(record_id.clone(), e.provisioned_product_id.to_owned());
        if fresh {
            self.executions.lock().unwrap().push(Executed {
                provisioned_product_id: e.provisioned_product_id.to_owned(),
                service_action_id: e.service_action_id.to_owned(),
                execute_token: e.execute_token.to_owned(),
                parameters: e.parameters.clone(),
                accept_language: e.accept_language,
            });
        }
        Ok(RecordDetail {
            record_id: Some(record_id),
            status: Some(self.execute_status.clone().unwrap_or_else(|| "CREATED".into())),
            provisioned_product_id: Some(e.provisioned_product_id.to_owned()),
            provisioned_product_name: Some(name.clone()),
            record_type: Some("EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION".into()),
            created_time: Some("2026-11-26T09:00:00Z".into()),
            ..Default::default()
        })
    }

    async fn describe_record(
        &self,
        record_id: &str,
        _accept_language: Option<AcceptLanguage>,
    ) -> Result<DescribedRecord, CallError> {
        const OP: &str = "DescribeRecord";
        self.calls.lock().unwrap().push(format!("DescribeRecord {record_id}"));
        {
            let mut faults = self.describe_record_faults.lock().unwrap();
            if !faults.is_empty() {
                return Err(faults.remove(0));
            }
        }
        let pp = self
            .records
            .lock()
            .unwrap()
            .get(record_id)
            .cloned()
            .ok_or_else(|| Self::not_found(OP, "record"))?;
        let state = self
            .record_states
            .lock()
            .unwrap()
            .get(&pp)
            .cloned()
            .unwrap_or_else(|| RecordState::status("IN_PROGRESS"));
        Ok(DescribedRecord {
            detail: RecordDetail {
                record_id: Some(record_id.to_owned()),
                status: Some(state.status),
                provisioned_product_id: Some(pp),
                record_type: Some("EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION".into()),
                record_errors: state.errors,
                ..Default::default()
            },
            outputs: state.outputs,
        })
    }

    async fn search_provisioned_products(
        &self,
        search_query: Option<&str>,
        _accept_language: Option<AcceptLanguage>,
    ) -> Result<Vec<Candidate>, CallError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("Search {}", search_query.unwrap_or("")));
        if let Some(e) = self.search_faults.lock().unwrap().pop() {
            return Err(e);
        }
        let mut listed: Vec<Candidate> = self
            .products
            .iter()
            .map(|(id, p)| Candidate {
                id: id.clone(),
                status: p.status.clone(),
                product_type: p.product_type.clone(),
                product_id: p.product_id.clone(),
                provisioning_artifact_id: p.artifact_id.clone(),
                tags: p.tags.clone(),
            })
            .collect();
        // A listing in an order of its own: the function must sort the targets itself.
        listed.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(listed)
    }

    async fn action_parameter_names(
        &self,
        provisioned_product_id: &str,
        service_action_id: &str,
        _accept_language: Option<AcceptLanguage>,
    ) -> Result<Vec<String>, CallError> {
        const OP: &str = "DescribeServiceActionExecutionParameters";
        self.calls
            .lock()
            .unwrap()
            .push(format!("Parameters {provisioned_product_id} {service_action_id}"));
        if !self.products.contains_key(provisioned_product_id) {
            return Err(Self::not_found(OP, "provisioned product"));
        }
        self.action_parameters
            .get(service_action_id)
            .cloned()
            .ok_or_else(|| Self::not_found(OP, "service action"))
    }
}

impl ResourceOwners for FakeCatalog {
    async fn owner_tag(&self, resource_arn: &str) -> Result<Option<String>, CallError> {
        self.calls.lock().unwrap().push(format!("GetResources {resource_arn}"));
        if let Some(e) = self.owner_faults.lock().unwrap().pop() {
            return Err(e);
        }
        Ok(self
            .resources
            .get(resource_arn)
            .and_then(|tags| tags.get("aws:servicecatalog:provisionedProductArn"))
            .cloned())
    }
}

/// The results queue in memory; can refuse everything, or the results with chosen tokens. Its
/// fields are public so a test can build one with `..Default::default()`.
#[derive(Default)]
pub struct FakeQueue {
    pub sent: Mutex<Vec<ResultMessage>>,
    /// How many times `publish` was called.
    pub calls: AtomicUsize,
    pub refuse_all: bool,
    pub refuse_tokens: Mutex<Vec<String>>,
    /// Sends everything but answers for none of it (a publisher bug the handler must not trust).
    pub answer_nothing: bool,
    /// Messages sent to the function's own queues: (queue URL, message).
    pub messages: Mutex<Vec<(String, OutgoingMessage)>>,
    /// Refuse every message to the function's own queues.
    pub refuse_messages: bool,
    /// Never answer a publish (an SQS endpoint that hangs).
    pub stuck: bool,
    /// Visibility changes: (queue URL, receipt handle, seconds).
    pub visibility: Mutex<Vec<(String, String, u32)>>,
    /// Refuse every visibility change.
    pub refuse_visibility: bool,
    /// What was sent, in order: `result <token>` or `message <queue>`.
    pub log: Mutex<Vec<String>>,
}

impl ResultPublisher for FakeQueue {
    async fn publish(&self, results: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.stuck {
            std::future::pending::<()>().await;
        }
        let refuse = self.refuse_tokens.lock().unwrap().clone();
        if self.answer_nothing {
            self.sent.lock().unwrap().extend_from_slice(results);
            return Vec::new();
        }
        results
            .iter()
            .map(|r| {
                if self.refuse_all {
                    return Err(CallError::service(
                        "SendMessageBatch",
                        "AWS.SimpleQueueService.NonExistentQueue",
                        Some(400),
                        "The specified queue does not exist",
                    ));
                }
                if refuse.contains(&r.execute_token) {
                    return Err(CallError::service(
                        "SendMessageBatch",
                        "InternalError",
                        Some(500),
                        "entry failed",
                    ));
                }
                self.sent.lock().unwrap().push(r.clone());
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("result {:?} {}", r.outcome, r.execute_token));
                Ok(())
            })
            .collect()
    }
}

impl MessageSender for FakeQueue {
    async fn send(&self, queue_url: &str, messages: &[OutgoingMessage]) -> Vec<Result<(), CallError>> {
        messages
            .iter()
            .map(|m| {
                if self.refuse_messages {
                    return Err(CallError::service(
                        "SendMessageBatch",
                        "InternalError",
                        Some(500),
                        "try again",
                    ));
                }
                self.messages.lock().unwrap().push((queue_url.to_owned(), m.clone()));
                self.log.lock().unwrap().push(format!("message {queue_url}"));
                Ok(())
            })
            .collect()
    }
}

impl VisibilityChanger for FakeQueue {
    async fn change_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<(), CallError> {
        if self.refuse_visibility {
            return Err(CallError::service(
                "ChangeMessageVisibility",
                "ReceiptHandleIsInvalid",
                Some(400),
                "stale",
            ));
        }
        self.visibility
            .lock()
            .unwrap()
            .push((queue_url.to_owned(), receipt_handle.to_owned(), seconds));
        Ok(())
    }
}

impl FakeQueue {
    pub fn visibility(&self) -> Vec<(String, String, u32)> {
        self.visibility.lock().unwrap().clone()
    }

    pub fn sent(&self) -> Vec<ResultMessage> {
        self.sent.lock().unwrap().clone()
    }

    /// The messages sent to the function's own queues, bodies as JSON.
    pub fn messages(&self) -> Vec<(String, Value, u32)> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|(q, m)| (q.clone(), serde_json::from_str(&m.body).unwrap(), m.delay_seconds))
            .collect()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------- helpers

pub type TestHandler = Handler<Arc<FakeCatalog>, Arc<FakeQueue>>;

/// A configuration with the results queue set and `vars` on top.
pub fn config_with(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| {
        vars.get(k)
            .cloned()
            .or_else(|| (k == "RESULTS_QUEUE_URL").then(|| "https://sqs.us-east-1.amazonaws.com/1/results".into()))
    })
    .unwrap()
}

/// A handler over `catalog` and `queue`, with handles on both.
pub fn handler_with(
    config: Config,
    catalog: FakeCatalog,
    queue: FakeQueue,
) -> (TestHandler, Arc<FakeCatalog>, Arc<FakeQueue>) {
    let (catalog, queue) = (Arc::new(catalog), Arc::new(queue));
    (Handler::new(config, catalog.clone(), queue.clone()), catalog, queue)
}

/// A handler configured with `vars` over a freshly seeded catalog and an empty queue, with handles
/// on both.
pub fn new_handler(vars: &[(&str, &str)]) -> (TestHandler, Arc<FakeCatalog>, Arc<FakeQueue>) {
    handler_with(config_with(vars), FakeCatalog::seeded(), FakeQueue::default())
}

/// The function's ARN in these tests: account 123456789012, us-east-1, like the emulator's seed.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:sc-action-runner";

/// An invocation with `request_id` and a minute left before its deadline.
pub fn invocation(request_id: &str) -> Invocation {
    Invocation {
        request_id: request_id.into(),
        deadline: Some(SystemTime::now() + Duration::from_secs(60)),
        invoked_function_arn: Some(FUNCTION_ARN.into()),
    }
}

pub async fn run(handler: &TestHandler, event: Value, request_id: &str) -> Result<Value, InvocationError> {
    handler.handle(event, &invocation(request_id)).await
}

/// An SQS record as the event source mapping delivers it, with `body` as its body.
pub fn sqs_record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": "AQEB-bad-input",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "00000000000000000000000000000000",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sc-action-requests",
        "awsRegion": "us-east-1"
    })
}

/// What Service Catalog answers `operation` when it throttles it.
pub fn throttled(operation: &'static str) -> CallError {
    CallError::service(operation, "ThrottlingException", Some(400), "Rate exceeded")
}

/// A one-record SQS batch.
pub fn sqs_event(body: &str) -> Value {
    json!({ "Records": [sqs_record("m-bad-1", body)] })
}

/// A one-record SQS batch: message `id` carrying `body`.
pub fn batch_of(id: &str, body: &Value) -> Value {
    json!({ "Records": [sqs_record(id, &body.to_string())] })
}

/// A sample event from events/, as JSON.
pub fn event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The `itemIdentifier`s of an SQS batch response's `batchItemFailures`.
pub fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("an SQS batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// The `messageId`s of an SQS event's records, in order.
pub fn message_ids(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_owned())
        .collect()
}
