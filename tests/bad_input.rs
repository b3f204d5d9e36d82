//! The bad-input corpus (tests/bad-input/cases.json, format in its README) through the real
//! `Handler` with in-memory fakes: every hostile or malformed event ends as exactly the outcome the
//! corpus gives it, a REJECTED result with a precise message or an `InvalidEvent` invocation
//! error, and never as a panic, a retry or an execution.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use futures::FutureExt;
use sc_action_runner::outcome::{Outcome, SourceKind};
use sc_action_runner::token::is_valid_execute_token;
use serde_json::{json, Map, Value};

use support::{new_handler, run, sqs_event};

/// Longest message any rejection may carry: a huge input must not come back whole.
const MAX_MESSAGE_LEN: usize = 1024;

fn corpus() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let Value::Array(cases) = serde_json::from_str(&text).expect("cases.json is JSON") else {
        panic!("cases.json must be an array of cases")
    };
    cases
}

/// Expands the corpus's two generators (`$repeat`, `$keys`) anywhere in `v`.
fn expand(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("$repeat") => {
            let times = o["times"].as_u64().expect("$repeat needs times") as usize;
            Value::String(o["$repeat"].as_str().expect("$repeat needs a string").repeat(times))
        }
        Value::Object(o) if o.contains_key("$keys") => {
            let count = o["$keys"].as_u64().expect("$keys needs a count");
            let prefix = o["prefix"].as_str().unwrap_or("");
            let keys: Map<String, Value> = (0..count)
                .map(|i| (format!("{prefix}{i}"), expand(&o["value"])))
                .collect();
            Value::Object(keys)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), expand(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(expand).collect()),
        other => other.clone(),
    }
}

/// The invocation event a case describes.
fn event_of(case: &Value) -> Value {
    if let Some(body) = case.get("sqsBody") {
        let body = match expand(body) {
            Value::String(s) => s,
            Value::Array(parts) => parts
                .iter()
                .map(|p| p.as_str().expect("sqsBody parts are strings"))
                .collect(),
            other => panic!("sqsBody must be a string or a list of strings, got {other}"),
        };
        sqs_event(&body)
    } else if let Some(request) = case.get("request") {
        sqs_event(&expand(request).to_string())
    } else if let Some(event) = case.get("event") {
        expand(event)
    } else {
        panic!("a case needs sqsBody, request or event")
    }
}

fn config_of(case: &Value) -> Vec<(String, String)> {
    case.get("config")
        .and_then(Value::as_object)
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("config values are strings").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one case and checks its outcome; `Err` says what went wrong, naming the case.
async fn check(case: &Value) -> Result<(), String> {
    let name = case["case"].as_str().ok_or("a case needs a name")?;
    let event = event_of(case);
    let is_batch = event.get("Records").is_some();
    let vars = config_of(case);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (handler, catalog, queue) = new_handler(&vars);

    let outcome = std::panic::AssertUnwindSafe(run(&handler, event, "req-bad-input"))
        .catch_unwind()
        .await
        .map_err(|_| format!("{name}: the handler panicked"))?;

    if !catalog.executions().is_empty() {
        return Err(format!("{name}: something was executed: {:?}", catalog.executions()));
    }
    let sent = queue.sent();

    if let Some(expected) = case.get("rejected") {
        let response = outcome.map_err(|e| format!("{name}: expected a REJECTED result, got the error {e}"))?;
        let [result] = sent.as_slice() else {
            return Err(format!("{name}: expected one result, {} were sent", sent.len()));
        };
        let error = result
            .error
            .as_ref()
            .ok_or(format!("{name}: the result has no error"))?;
        let (code, message) = (expected["code"].as_str(), expected["message"].as_str());
        if result.outcome != Outcome::Rejected || Some(error.code.as_str()) != code {
            return Err(format!(
                "{name}: expected REJECTED {code:?}, got {:?} {error:?}",
                result.outcome
            ));
        }
        if !error.message.contains(message.ok_or("rejected needs a message")?) {
            return Err(format!("{name}: message {:?} lacks {message:?}", error.message));
        }
        if error.message.len() > MAX_MESSAGE_LEN {
            return Err(format!("{name}: message of {} bytes", error.message.len()));
        }
        if !is_valid_execute_token(&result.execute_token) {
            return Err(format!("{name}: invalid token {:?}", result.execute_token));
        }
        if error.code == "InvalidRequest" && !catalog.calls().is_empty() {
            return Err(format!(
                "{name}: an invalid request reached the catalog: {:?}",
                catalog.calls()
            ));
        }
        if is_batch {
            // Acknowledged: a retry could only repeat the rejection.
            if response != json!({"batchItemFailures": []}) {
                return Err(format!("{name}: expected no batch item failures, got {response}"));
            }
            if result.source.kind != SourceKind::Sqs {
                return Err(format!("{name}: source {:?}", result.source));
            }
        } else if response != serde_json::to_value(result).unwrap() {
            return Err(format!("{name}: the answer is not the published result: {response}"));
        }
    } else if let Some(expected) = case.get("invocationError") {
        let Err(e) = outcome else {
            return Err(format!("{name}: expected an invocation error, got {outcome:?}"));
        };
        let (kind, message) = (expected["type"].as_str(), expected["message"].as_str());
        if Some(e.error_type()) != kind {
            return Err(format!("{name}: expected {kind:?}, got {} ({e})", e.error_type()));
        }
        if !e
            .to_string()
            .contains(message.ok_or("invocationError needs a message")?)
        {
            return Err(format!("{name}: message {:?} lacks {message:?}", e.to_string()));
        }
        if !sent.is_empty() || !catalog.calls().is_empty() {
            return Err(format!("{name}: something ran: {:?} {sent:?}", catalog.calls()));
        }
    } else {
        return Err(format!("{name}: a case needs `rejected` or `invocationError`"));
    }
    Ok(())
}

#[tokio::test]
async fn every_bad_input_ends_as_its_expected_outcome() {
    let cases = corpus();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = check(case).await {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_has_at_least_forty_uniquely_named_cases() {
    let cases = corpus();
    let mut names: Vec<&str> = cases.iter().map(|c| c["case"].as_str().expect("named")).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "duplicate case names");
    assert!(names.len() >= 40, "only {} cases", names.len());
}

/// What the function does with a duplicate key in an event the Lambda runtime parses: the runtime's
/// serde_json keeps the last one, so the request that is checked is the request that runs.
#[tokio::test]
async fn a_duplicate_key_in_a_runtime_parsed_event_keeps_the_last_value() {
    let raw = r#"{"provisionedProductId": "pp-webprod000001",
                  "serviceActionId": "act-orphan000001", "serviceActionId": "act-restart00001"}"#;
    let event: Value = serde_json::from_str(raw).unwrap();
    let (handler, catalog, _queue) = new_handler(&[]);

    let response = run(&handler, event, "req-bad-input").await.unwrap();

    assert_eq!(response["outcome"], "EXECUTED");
    assert_eq!(catalog.executions()[0].service_action_id, "act-restart00001");
}
