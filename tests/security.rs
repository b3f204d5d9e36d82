//! Security properties through the real `Handler` with in-memory fakes:
//! - the allow-lists hold whatever way a message names the product or action (ids, names resolved
//!   first, case variants, surrounding whitespace, PascalCase aliases, duplicate keys, an EventBridge
//!   envelope inside SQS): nothing outside them is ever executed;
//! - parameter values (which can carry secrets) never reach the logs, at any level and in either log
//!   format, nor any result or error message, whether the request runs, is rejected or is retried;
//!   nor does the AWS SDK log them at TRACE when the real Service Catalog adapter sends them.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_servicecatalog::config::http::HttpResponse;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use sc_action_runner::aws::servicecatalog::ServiceCatalogExecutor;
use sc_action_runner::error::CallError;
use sc_action_runner::outcome::Outcome;
use sc_action_runner::ports::{ActionExecutor, Execution};
use serde_json::{json, Value};
use tracing_subscriber::fmt::MakeWriter;

use support::{new_handler, run, sqs_event, sqs_record, throttled};

const ALLOWED_ACTION: &str = "act-restart00001";
const ALLOWED_PRODUCT: &str = "pp-webprod000001";
const ALLOW_LISTS: &[(&str, &str)] = &[
    ("ALLOWED_SERVICE_ACTION_IDS", ALLOWED_ACTION),
    ("ALLOWED_PROVISIONED_PRODUCT_IDS", ALLOWED_PRODUCT),
];

// ---------------------------------------------------------------- allow-lists

/// Runs `event` against a handler with both allow-lists and returns its one published result as
/// (outcome, error code, error message), checking that nothing outside the lists was executed.
async fn outcome_under_allow_lists(event: Value) -> (Outcome, String, String) {
    let (handler, catalog, queue) = new_handler(ALLOW_LISTS);
    let response = run(&handler, event.clone(), "req-bad-input").await.unwrap();
    if event.get("Records").is_some() {
        assert_eq!(response, json!({"batchItemFailures": []}), "{event}");
    }
    for e in catalog.executions() {
        assert_eq!(
            (e.provisioned_product_id.as_str(), e.service_action_id.as_str()),
            (ALLOWED_PRODUCT, ALLOWED_ACTION),
            "{event}"
        );
    }
    let sent = queue.sent();
    assert_eq!(sent.len(), 1, "{event}");
    let (code, message) = match &sent[0].error {
        Some(e) => (e.code.clone(), e.message.clone()),
        None => (String::new(), String::new()),
    };
    (sent[0].outcome, code, message)
}

fn direct(product: (&str, &str), action: (&str, &str)) -> Value {
    json!({ product.0: product.1, action.0: action.1 })
}

#[tokio::test]
async fn the_allowed_pair_runs_by_id_and_by_name() {
    // GIVEN allow-lists naming one product and one action, WHEN a message names them by id or by
    // name, THEN it runs: the checks below reject for the right reason, not because nothing runs.
    for event in [
        direct(
            ("provisionedProductId", ALLOWED_PRODUCT),
            ("serviceActionId", ALLOWED_ACTION),
        ),
        direct(
            ("provisionedProductName", "web-prod"),
            ("serviceActionName", "RestartService"),
        ),
        direct(
            ("ProvisionedProductId", ALLOWED_PRODUCT),
            ("ServiceActionName", "RestartService"),
        ),
    ] {
        let (outcome, code, _) = outcome_under_allow_lists(event.clone()).await;
        assert_eq!((outcome, code.as_str()), (Outcome::Executed, ""), "{event}");
    }
}

#[tokio::test]
async fn names_are_resolved_then_checked_against_the_allow_lists() {
    for (event, field_message) in [
        (
            direct(
                ("provisionedProductId", ALLOWED_PRODUCT),
                ("serviceActionName", "RotateLogs"),
            ),
            "serviceActionId: act-rotate000001 is not in ALLOWED_SERVICE_ACTION_IDS",
        ),
        (
            direct(
                ("provisionedProductName", "web-staging"),
                ("serviceActionId", ALLOWED_ACTION),
            ),
            "provisionedProductId: pp-webstag000001 is not in ALLOWED_PROVISIONED_PRODUCT_IDS",
        ),
        (
            direct(
                ("ProvisionedProductName", "web-staging"),
                ("ServiceActionName", "RestartService"),
            ),
            "provisionedProductId: pp-webstag000001 is not in ALLOWED_PROVISIONED_PRODUCT_IDS",
        ),
    ] {
        let (outcome, code, message) = outcome_under_allow_lists(event.clone()).await;
        assert_eq!((outcome, code.as_str()), (Outcome::Rejected, "NotAllowed"), "{event}");
        assert_eq!(message, field_message);
    }
}

#[tokio::test]
async fn an_action_name_that_spells_an_allowed_id_is_looked_up_as_a_name() {
    let event = direct(
        ("provisionedProductId", ALLOWED_PRODUCT),
        ("serviceActionName", ALLOWED_ACTION),
    );
    let (outcome, code, message) = outcome_under_allow_lists(event).await;
    assert_eq!(
        (outcome, code.as_str()),
        (Outcome::Rejected, "ResourceNotFoundException")
    );
    assert!(
        message.starts_with("serviceActionName: no service action named \"act-restart00001\""),
        "{message}"
    );
}

#[tokio::test]
async fn case_variants_of_allowed_ids_are_not_allowed() {
    for (product, action, expected) in [
        (
            ALLOWED_PRODUCT,
            "ACT-RESTART00001",
            "serviceActionId: ACT-RESTART00001 is not in",
        ),
        (
            ALLOWED_PRODUCT,
            "Act-Restart00001",
            "serviceActionId: Act-Restart00001 is not in",
        ),
        (
            "PP-WEBPROD000001",
            ALLOWED_ACTION,
            "provisionedProductId: PP-WEBPROD000001 is not in",
        ),
    ] {
        let event = direct(("provisionedProductId", product), ("serviceActionId", action));
        let (outcome, code, message) = outcome_under_allow_lists(event).await;
        assert_eq!((outcome, code.as_str()), (Outcome::Rejected, "NotAllowed"), "{action}");
        assert!(message.starts_with(expected), "{message}");
    }
}

#[tokio::test]
async fn surrounding_whitespace_makes_an_invalid_id_never_a_trimmed_allowed_one() {
    for action in [
        " act-restart00001",
        "act-restart00001 ",
        "\tact-restart00001",
        "act-restart00001\n",
        "\u{a0}act-restart00001",
        "act-restart00001\u{200b}",
    ] {
        let event = direct(("provisionedProductId", ALLOWED_PRODUCT), ("serviceActionId", action));
        let (outcome, code, message) = outcome_under_allow_lists(event).await;
        assert_eq!(
            (outcome, code.as_str()),
            (Outcome::Rejected, "InvalidRequest"),
            "{action:?}"
        );
        assert!(
            message.starts_with("`serviceActionId` must be 1-100 characters of [a-zA-Z0-9_-], got "),
            "{message}"
        );
    }
    let event = direct(
        ("provisionedProductId", " pp-webprod000001"),
        ("serviceActionId", ALLOWED_ACTION),
    );
    let (_, code, message) = outcome_under_allow_lists(event).await;
    assert_eq!(code, "InvalidRequest");
    assert!(message.starts_with("`provisionedProductId` must be"), "{message}");
}

#[tokio::test]
async fn pascal_case_aliases_are_checked_like_camel_case_and_cannot_be_mixed() {
    let alias = json!({"ProvisionedProductId": ALLOWED_PRODUCT, "ServiceActionId": "act-rotate000001"});
    let (_, code, message) = outcome_under_allow_lists(alias).await;
    assert_eq!(code, "NotAllowed");
    assert_eq!(
        message,
        "serviceActionId: act-rotate000001 is not in ALLOWED_SERVICE_ACTION_IDS"
    );

    // An allowed camelCase id next to a forbidden PascalCase one is not a choice we make.
    for (camel, pascal) in [
        (ALLOWED_ACTION, "act-rotate000001"),
        ("act-rotate000001", ALLOWED_ACTION),
    ] {
        let mixed =
            json!({"provisionedProductId": ALLOWED_PRODUCT, "serviceActionId": camel, "ServiceActionId": pascal});
        let (_, code, message) = outcome_under_allow_lists(sqs_event(&mixed.to_string())).await;
        assert_eq!(code, "InvalidRequest");
        assert_eq!(
            message,
            "`serviceActionId` and `ServiceActionId` are the same field; give it once"
        );
    }
}

#[tokio::test]
async fn an_eventbridge_envelope_inside_sqs_is_checked_on_its_detail() {
    // The envelope's own members are not the request: only `detail` is, and it is checked.
    let body = json!({
        "version": "0", "id": "evt-1", "detail-type": "Run Service Action", "source": "com.example",
        "provisionedProductId": ALLOWED_PRODUCT, "serviceActionId": ALLOWED_ACTION,
        "detail": {"provisionedProductId": ALLOWED_PRODUCT, "serviceActionId": "act-rotate000001"}
    });
    let (_, code, message) = outcome_under_allow_lists(sqs_event(&body.to_string())).await;
    assert_eq!(code, "NotAllowed");
    assert!(message.starts_with("serviceActionId: act-rotate000001"), "{message}");

    let by_name = json!({"id": "evt-2", "detail-type": "x", "source": "s",
                         "detail": {"provisionedProductName": "web-staging", "ServiceActionName": "RotateLogs"}});
    let (_, code, _) = outcome_under_allow_lists(sqs_event(&by_name.to_string())).await;
    assert_eq!(code, "NotAllowed");

    // The same envelope straight from EventBridge.
    let (_, code, _) = outcome_under_allow_lists(body).await;
    assert_eq!(code, "NotAllowed");
}

#[tokio::test]
async fn a_duplicate_key_cannot_smuggle_a_second_action_past_a_check() {
    // GIVEN a body whose first serviceActionId is allowed and whose last is not (or the reverse)
    for (first, last) in [
        (ALLOWED_ACTION, "act-rotate000001"),
        ("act-rotate000001", ALLOWED_ACTION),
    ] {
        let body = format!(
            r#"{{"provisionedProductId": "{ALLOWED_PRODUCT}", "serviceActionId": "{first}", "serviceActionId": "{last}"}}"#
        );
        // WHEN it arrives through SQS, THEN it is rejected as ambiguous and nothing runs.
        let (outcome, code, message) = outcome_under_allow_lists(sqs_event(&body)).await;
        assert_eq!((outcome, code.as_str()), (Outcome::Rejected, "InvalidRequest"));
        assert!(message.contains("key \"serviceActionId\" appears twice"), "{message}");
    }
}

#[tokio::test]
async fn one_bad_record_cannot_widen_what_another_record_may_run() {
    let (handler, catalog, queue) = new_handler(ALLOW_LISTS);
    let good = json!({"provisionedProductId": ALLOWED_PRODUCT, "serviceActionId": ALLOWED_ACTION}).to_string();
    let bad = json!({"provisionedProductId": ALLOWED_PRODUCT, "serviceActionName": "RotateLogs"}).to_string();
    let event = json!({"Records": [sqs_record("m-1", &bad), sqs_record("m-2", &good), sqs_record("m-3", &bad)]});

    let response = run(&handler, event, "req-bad-input").await.unwrap();

    assert_eq!(response, json!({"batchItemFailures": []}));
    let executions = catalog.executions();
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].service_action_id, ALLOWED_ACTION);
    let outcomes: Vec<(String, Outcome)> = queue.sent().iter().map(|r| (r.source.id.clone(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("m-1".to_owned(), Outcome::Rejected),
            ("m-2".to_owned(), Outcome::Executed),
            ("m-3".to_owned(), Outcome::Rejected)
        ]
    );
}

// ---------------------------------------------------------------- parameter values and the logs

/// Log output captured in memory, for a subscriber that is the default of this thread only.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A value no code or fixture could produce by chance.
const SECRET: &str = "hunter2-7c1e0b5a-d1f9-4e38-9a0b-5e0c2f1d8a47";
/// The parameter key it is sent under, which may (and should) be logged.
const KEY: &str = "DatabasePassword";

/// Requests carrying SECRET as a parameter value, each meeting a different fate; the last ones
/// meet a fault of Execute, injected for pp-webstag000001.
fn secret_bearing_events() -> Vec<(&'static str, Value, Option<CallError>)> {
    let with = |params: Value| {
        json!({"provisionedProductId": ALLOWED_PRODUCT, "serviceActionId": ALLOWED_ACTION,
                                      "parameters": params})
    };
    let body = |v: Value| sqs_event(&v.to_string());
    let faulty = json!({"provisionedProductId": "pp-webstag000001", "serviceActionId": ALLOWED_ACTION,
                        "parameters": { KEY: [SECRET] }});
    const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
    let mut many: serde_json::Map<String, Value> = (0..200).map(|i| (format!("P{i}"), json!([SECRET]))).collect();
    many.insert(KEY.into(), json!([SECRET]));
    let cases = vec![
        ("executed via SQS", body(with(json!({ KEY: [SECRET] })))),
        (
            "executed by names, direct",
            json!({"provisionedProductName": "web-prod", "serviceActionName": "RestartService",
                   "parameters": { KEY: [SECRET, "second"] }}),
        ),
        (
            "executed via EventBridge",
            json!({"id": "evt-s", "detail-type": "x", "source": "s", "detail": with(json!({ KEY: [SECRET] }))}),
        ),
        ("26 values", body(with(json!({ KEY: vec![SECRET; 26] })))),
        (
            "value of 513 characters",
            body(with(json!({ KEY: [format!("{SECRET}{}", "x".repeat(513))] }))),
        ),
        ("a non-string next to it", body(with(json!({ KEY: [SECRET, 5] })))),
        ("nested list", body(with(json!({ KEY: [[SECRET]] })))),
        ("a string, not a list", body(with(json!({ KEY: SECRET })))),
        ("201 keys", body(with(Value::Object(many)))),
        (
            "bad id after good parameters",
            body(json!({"provisionedProductId": " x", "serviceActionId": ALLOWED_ACTION,
                        "parameters": { KEY: [SECRET] }})),
        ),
        (
            "not allowed",
            body(
                json!({"provisionedProductId": ALLOWED_PRODUCT, "serviceActionName": "RotateLogs",
                        "parameters": { KEY: [SECRET] }}),
            ),
        ),
        (
            "duplicate key",
            sqs_event(&format!(
                r#"{{"provisionedProductId": "{ALLOWED_PRODUCT}", "serviceActionId": "{ALLOWED_ACTION}",
                    "parameters": {{"{KEY}": ["{SECRET}"], "{KEY}": ["{SECRET}"]}}}}"#
            )),
        ),
        (
            "truncated body",
            sqs_event(&format!(r#"{{"parameters": {{"{KEY}": ["{SECRET}"]"#)),
        ),
    ];
    let mut cases: Vec<_> = cases.into_iter().map(|(n, e)| (n, e, None)).collect();
    cases.extend([
        (
            "throttled, via SQS (retry)",
            body(faulty.clone()),
            Some(throttled(EXECUTE)),
        ),
        (
            "transport failure, direct (retry)",
            faulty.clone(),
            Some(CallError::transport(EXECUTE, "connection reset by peer")),
        ),
        (
            "rejected by the service",
            faulty,
            Some(CallError::service(
                EXECUTE,
                "InvalidParametersException",
                Some(400),
                "The parameters are invalid",
            )),
        ),
    ]);
    cases
}

/// Runs every secret-bearing request with `subscriber` as this thread's default, and returns what
/// the function put anywhere outside the catalog: answers, errors and published results.
async fn run_secret_bearing_events(subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> String {
    let _default = tracing::subscriber::set_default(subscriber);
    let mut visible = String::new();
    let mut executed_with_secret = 0;
    for (name, event, fault) in secret_bearing_events() {
        let (handler, catalog, queue) = new_handler(&[("ALLOWED_SERVICE_ACTION_IDS", ALLOWED_ACTION)]);
        catalog.fail_execute("pp-webstag000001", fault.into_iter().collect());
        match run(&handler, event, "req-bad-input").await {
            Ok(v) => visible.push_str(&format!("{name}: {v}\n")),
            Err(e) => visible.push_str(&format!("{name}: {} {e}\n", e.error_type())),
        }
        for r in queue.sent() {
            visible.push_str(&r.to_json().unwrap());
            visible.push('\n');
        }
        executed_with_secret += catalog
            .executions()
            .iter()
            .filter(|e| e.parameters.get(KEY).is_some_and(|v| v.iter().any(|v| v == SECRET)))
            .count();
    }
    // The secret did flow where it belongs: to the service, for the three requests that ran.
    assert_eq!(executed_with_secret, 3, "{visible}");
    assert!(visible.contains("RetryableFailure"), "{visible}");
    assert!(visible.contains("BatchFailed"), "{visible}");
    visible
}

fn assert_no_secret(logs: &str, visible: &str) {
    assert!(!logs.is_empty());
    assert!(!logs.contains(SECRET), "a parameter value reached the logs:\n{logs}");
    assert!(
        !visible.contains(SECRET),
        "a parameter value reached a result or error:\n{visible}"
    );
    // Not vacuous: the logs speak of the requests and name the parameter, and every fate was logged.
    assert!(logs.contains(KEY), "{logs}");
    for fate in [
        "executed",
        "request rejected: invalid",
        "request rejected",
        "request must be retried",
    ] {
        assert!(logs.contains(fate), "no {fate:?} in the logs:\n{logs}");
    }
}

#[tokio::test]
async fn parameter_values_never_reach_plain_logs_at_trace_level() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();

    let visible = run_secret_bearing_events(subscriber).await;

    assert_no_secret(&logs.text(), &visible);
}

#[tokio::test]
async fn parameter_values_never_reach_json_logs_at_trace_level() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(logs.clone())
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .finish();

    let visible = run_secret_bearing_events(subscriber).await;

    let logs = logs.text();
    assert_no_secret(&logs, &visible);
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
}

#[tokio::test]
async fn the_sdk_does_not_log_parameter_values_at_trace_level_when_the_adapter_sends_them() {
    // GIVEN the real adapter over a real SDK client whose HTTP layer answers 500 (so the SDK retries,
    // logging every attempt), and every target at TRACE
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let rule =
        mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action).then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(500).expect("a status"),
                r#"{"__type":"InternalFailure"}"#.into(),
            )
        });
    let client = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, &[&rule]);
    let parameters = BTreeMap::from([(KEY.to_owned(), vec![SECRET.to_owned()])]);

    // WHEN it sends a request carrying the secret
    let result = ServiceCatalogExecutor::new(client)
        .execute(Execution {
            provisioned_product_id: ALLOWED_PRODUCT,
            service_action_id: ALLOWED_ACTION,
            execute_token: "token-1",
            parameters: &parameters,
            accept_language: None,
        })
        .await;

    // THEN the SDK's request, signing and response traces are there, and the secret is not
    let logs = logs.text();
    assert!(result.is_err());
    assert!(logs.contains("transmitting request"), "{logs}");
    assert!(!logs.contains(SECRET), "the SDK logged a parameter value:\n{logs}");
}
