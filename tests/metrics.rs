//! The invocation's metrics line (CloudWatch Embedded Metric Format), read back and compared with
//! what ran: one line per invocation, the counts of each outcome, retries and throttling, one
//! latency per Execute call, nothing that identifies a request, and none at all when switched off.

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use sc_action_runner::error::CallError;
use serde_json::{json, Value};
use support::{
    config_with, event, handler_with, message_ids, sqs_record, throttled, FakeCatalog, FakeQueue, RecordState,
    TestHandler,
};

/// The metrics lines a handler wrote.
type Lines = Arc<Mutex<Vec<String>>>;

/// A handler whose metrics lines are kept, with the given settings.
fn counting_handler(
    vars: &[(&str, &str)],
    catalog: FakeCatalog,
) -> (TestHandler, Arc<FakeCatalog>, Arc<FakeQueue>, Lines) {
    let mut vars = vars.to_vec();
    vars.push(("AWS_LAMBDA_FUNCTION_NAME", "sc-action-runner-prod"));
    let (handler, catalog, queue) = handler_with(config_with(&vars), catalog, FakeQueue::default());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let handler = handler.with_metrics_out(Box::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())));
    (handler, catalog, queue, lines)
}

fn take(lines: &Mutex<Vec<String>>) -> Vec<Value> {
    std::mem::take(&mut *lines.lock().unwrap())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The metric names the line declares, and checks that each has a value.
fn declared(line: &Value) -> Vec<String> {
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
    assert_eq!(line["FunctionName"], "sc-action-runner-prod");
    assert!(line["_aws"]["Timestamp"].is_u64());
    directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["Name"].as_str().unwrap().to_owned();
            assert!(!line[&name].is_null(), "{name} declared without a value: {line}");
            name
        })
        .collect()
}

#[tokio::test]
async fn a_batch_writes_one_line_whose_counts_are_what_ran() {
    let (handler, catalog, _queue, lines) = counting_handler(&[], FakeCatalog::seeded());

    support::run(&handler, event("sqs-bad-records.json"), "req")
        .await
        .unwrap();

    let lines = take(&lines);
    assert_eq!(lines.len(), 1, "one line per invocation, not per record");
    let line = &lines[0];
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ScActionRunner");
    let mut names = declared(line);
    names.sort();
    assert_eq!(names, ["ExecuteLatency", "Executed", "Rejected", "ResultsPublished"]);
    assert_eq!(line["Executed"], 1);
    assert_eq!(line["Rejected"], 8);
    assert_eq!(line["ResultsPublished"], 9);
    let execute_calls = catalog.calls().iter().filter(|c| c.starts_with("Execute")).count();
    assert_eq!(line["ExecuteLatency"].as_array().unwrap().len(), execute_calls);
    let unit = |name: &str| {
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Name"] == name)
            .unwrap()["Unit"]
            .clone()
    };
    assert_eq!(unit("ExecuteLatency"), "Milliseconds");
    assert_eq!(unit("Executed"), "Count");
}

#[tokio::test]
async fn retries_and_throttling_are_counted_and_nothing_identifies_a_request() {
    let catalog = FakeCatalog::seeded();
    catalog.fail_execute(
        "pp-webprod000001",
        vec![throttled("ExecuteProvisionedProductServiceAction")],
    );
    catalog.fail_execute(
        "pp-webstag000001",
        vec![CallError::service(
            "ExecuteProvisionedProductServiceAction",
            "InternalFailure",
            Some(500),
            "boom",
        )],
    );
    let (handler, _catalog, queue, lines) = counting_handler(&[], catalog);
    let event = event("sqs-batch.json");

    support::run(&handler, event.clone(), "req").await.unwrap();

    let line = &take(&lines)[0];
    assert_eq!(line["Retried"], 2, "{line}");
    assert_eq!(line["Throttled"], 1, "only the throttled one: {line}");
    assert_eq!(line["Executed"], 1);
    let text = line.to_string();
    for id in message_ids(&event) {
        assert!(!text.contains(&id), "a message id in the metrics: {text}");
    }
    for result in queue.sent() {
        assert!(!text.contains(&result.execute_token), "a token in the metrics: {text}");
    }
    for secret in ["/app/web", "pp-webprod000001", "act-rotate000001"] {
        assert!(!text.contains(secret), "{secret} in the metrics: {text}");
    }
}

#[tokio::test]
async fn final_outcomes_of_tracking_are_counted() {
    let tracking = [("TRACKING_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/requests")];
    let (handler, catalog, queue, lines) = counting_handler(&tracking, FakeCatalog::seeded());
    support::run(&handler, event("sqs-batch.json"), "req").await.unwrap();
    take(&lines);
    let messages = queue.messages();
    catalog.set_record_state("pp-webprod000001", RecordState::failed(&[("AccessDenied", "no role")]));
    catalog.set_record_state("pp-webstag000001", RecordState::succeeded(&[("Secret", "do-not-show")]));

    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (_, body, _))| sqs_record(&format!("t-{i}"), &body.to_string()))
        .collect();
    support::run(&handler, json!({ "Records": records }), "req-2")
        .await
        .unwrap();

    let line = &take(&lines)[0];
    assert_eq!(line["Failed"], 1, "{line}");
    assert_eq!(line["Succeeded"], 2, "{line}");
    assert_eq!(line["ResultsPublished"], 3);
    assert!(line.get("Executed").is_none());
    assert!(!line.to_string().contains("do-not-show"));
}

#[tokio::test]
async fn a_single_request_that_fails_counts_as_retried_and_an_empty_batch_writes_nothing() {
    let catalog = FakeCatalog::seeded();
    catalog.fail_execute(
        "pp-webstag000001",
        vec![CallError::service("Op", "ThrottlingException", Some(400), "slow down")],
    );
    let (handler, _catalog, _queue, lines) = counting_handler(&[], catalog);

    support::run(&handler, event("eventbridge.json"), "req")
        .await
        .unwrap_err();
    support::run(&handler, json!({"Records": []}), "req").await.unwrap();

    let lines = take(&lines);
    assert_eq!(lines.len(), 1, "nothing happened in the empty batch: no line");
    assert_eq!(lines[0]["Retried"], 1);
    assert_eq!(lines[0]["Throttled"], 1);
}

#[tokio::test]
async fn metrics_off_writes_no_line_and_a_namespace_is_used_as_given() {
    let (handler, _catalog, _queue, lines) = counting_handler(&[("METRICS_NAMESPACE", "off")], FakeCatalog::seeded());
    support::run(&handler, event("sqs-batch.json"), "req").await.unwrap();
    assert!(take(&lines).is_empty());

    let (handler, _catalog, _queue, lines) =
        counting_handler(&[("METRICS_NAMESPACE", "Team/Remediation")], FakeCatalog::seeded());
    support::run(&handler, event("sqs-batch.json"), "req").await.unwrap();
    assert_eq!(
        take(&lines)[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Team/Remediation"
    );
}
