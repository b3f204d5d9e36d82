//! The built binary, through cargo-lambda's Lambda Runtime API, against moto's SQS and the
//! Service Catalog emulator: the same loop as `make demo`.
//!
//! These tests need `moto_server` and `cargo-lambda` on PATH, so each is `#[ignore]`d with that
//! reason: `cargo test` alone reports them as ignored; `make test` installs the tools into .venv
//! and runs them (`--include-ignored`), and then a missing tool fails them.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use sc_action_runner::token::derive;
use sc_local_loop::sc_emulator::{EmulatorConfig, Fault};
use sc_local_loop::{LocalLoop, LoopOptions, ResultsQueue, Tools};
use serde_json::{json, Value};
use support::{event, failures, message_ids};

const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn options() -> LoopOptions {
    let mut options = LoopOptions::new(env!("CARGO_BIN_EXE_sc-action-runner"), project());
    options.emulator = EmulatorConfig {
        progress_ms: 60_000,
        ..EmulatorConfig::default()
    };
    options
}

/// Starts the loop. These tests are `#[ignore]`d with the reason they need moto_server and
/// cargo-lambda; asked for without them, they fail rather than pass.
async fn start(options: LoopOptions) -> LocalLoop {
    if let Err(e) = Tools::find() {
        panic!("this test needs moto_server and cargo-lambda: {e}");
    }
    LocalLoop::start(options).await.expect("the local loop starts")
}

fn by_source(results: &[Value], id: &str) -> Value {
    results
        .iter()
        .find(|r| r["source"]["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no result for {id}: {results:?}"))
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn sqs_batch_of_good_requests_executes_each_once_and_acknowledges_all() {
    let local = start(options()).await;
    let event = event("sqs-batch.json");
    let ids = message_ids(&event);

    let response = local.invoke(&event).await.expect("the batch succeeds");

    assert_eq!(failures(&response), Vec::<String>::new());
    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    let counters = local.emulator().counters();
    for (id, pp, action, labels) in [
        (
            &ids[0],
            "pp-webprod000001",
            "act-restart00001",
            ("id:pp-webprod000001", "id:act-restart00001"),
        ),
        (
            &ids[1],
            "pp-webstag000001",
            "act-rotate000001",
            ("name:web-staging", "name:RotateLogs"),
        ),
        (
            &ids[2],
            "pp-webstag000001",
            "act-restart00001",
            ("id:pp-webstag000001", "id:act-restart00001"),
        ),
    ] {
        let r = by_source(&results, id);
        let token = derive(id, labels.0, labels.1);
        assert_eq!(r["outcome"], "EXECUTED");
        assert_eq!(r["executeToken"], token);
        assert_eq!(r["provisionedProductId"], pp);
        assert_eq!(r["serviceActionId"], action);
        assert_eq!(r["recordDetail"]["Status"], "CREATED");
        assert_eq!(
            r["recordDetail"]["RecordType"],
            "EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION"
        );
        assert!(r["recordDetail"]["CreatedTime"].as_str().unwrap().ends_with('Z'));
        assert_eq!(counters.executions.get(&token), Some(&1));
    }
    assert_eq!(counters.executions.len(), 3);
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn sqs_wrapped_eventbridge_event_takes_its_token_from_the_event_id() {
    let local = start(options()).await;

    let response = local.invoke(&event("sqs-eventbridge.json")).await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 1);
    let token = derive(
        "3b9e1c6a-7f2d-4e1b-a2c8-5d4f00000001",
        "name:web-prod",
        "name:RestartService",
    );
    assert_eq!(results[0]["executeToken"], token);
    assert_eq!(
        results[0]["source"],
        json!({"kind": "sqs", "id": "a9d0c6b2-5e3f-4c1d-8b7a-000000000010"})
    );
    assert_eq!(local.emulator().executions_for(&token), 1);
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn direct_request_by_names_is_resolved_and_answered_with_its_result() {
    let local = start(options()).await;

    let response = local.invoke(&event("direct-request.json")).await.unwrap();

    assert_eq!(response["outcome"], "EXECUTED");
    assert_eq!(response["source"]["kind"], "direct");
    assert_eq!(response["provisionedProductId"], "pp-webprod000001");
    assert_eq!(response["serviceActionId"], "act-rotate000001");
    let results = local.take_results().await.unwrap();
    assert_eq!(results, vec![response.clone()]);
    let emulator = local.emulator();
    assert_eq!(emulator.calls_for("DescribeProvisionedProduct"), 1);
    // RotateLogs is on the second page of the artifact's 25 actions.
    assert_eq!(emulator.calls_for("ListServiceActionsForProvisioningArtifact"), 2);
    assert_eq!(emulator.executions_for(response["executeToken"].as_str().unwrap()), 1);
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn redelivered_message_gets_the_same_token_and_runs_once() {
    let local = start(options()).await;
    let event = event("sqs-eventbridge.json");

    local.invoke(&event).await.unwrap();
    local.invoke(&event).await.unwrap();

    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["executeToken"], results[1]["executeToken"]);
    assert_eq!(
        results[0]["recordDetail"]["RecordId"],
        results[1]["recordDetail"]["RecordId"]
    );
    assert_eq!(local.emulator().calls_for(EXECUTE), 2);
    assert_eq!(
        local
            .emulator()
            .executions_for(results[0]["executeToken"].as_str().unwrap()),
        1
    );
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn throttled_record_is_handed_back_without_a_result_then_its_redelivery_runs_once() {
    let local = start(options()).await;
    // More throttles than the SDK's three attempts: the record must be handed back.
    local.emulator().inject(Fault::throttle(EXECUTE, 3));
    let mut batch = event("sqs-batch.json");
    batch["Records"].as_array_mut().unwrap().truncate(1);
    let mut bad = batch["Records"][0].clone();
    bad["messageId"] = json!("bad-0001");
    bad["body"] = json!("not json");
    batch["Records"].as_array_mut().unwrap().push(bad);
    let good_id = message_ids(&batch)[0].clone();

    let first = local.invoke(&batch).await.unwrap();

    assert_eq!(failures(&first), vec![good_id.clone()]);
    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 1, "only the bad record's REJECTED result: {results:?}");
    assert_eq!(results[0]["source"]["id"], "bad-0001");
    assert_eq!(local.emulator().calls_for(EXECUTE), 3);
    assert!(local.emulator().counters().executions.is_empty());

    // SQS redelivers only the handed-back record.
    batch["Records"].as_array_mut().unwrap().truncate(1);
    let second = local.invoke(&batch).await.unwrap();

    assert_eq!(failures(&second), Vec::<String>::new());
    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["outcome"], "EXECUTED");
    assert_eq!(results[0]["source"]["id"], good_id);
    assert_eq!(
        local
            .emulator()
            .executions_for(results[0]["executeToken"].as_str().unwrap()),
        1
    );
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_results_queue_that_does_not_exist_hands_every_record_back() {
    let local = start(LoopOptions {
        results_queue: ResultsQueue::Missing,
        ..options()
    })
    .await;

    let err = local
        .invoke(&event("sqs-batch.json"))
        .await
        .expect_err("nothing can be acknowledged");

    assert_eq!(err.error_type, "BatchFailed");
    assert!(err.error_message.contains("all 3 records"), "{err}");
    assert!(err.error_message.contains("NonExistentQueue"), "{err}");
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_bad_record_among_good_ones_is_rejected_alone() {
    let local = start(options()).await;
    let event = event("sqs-bad-records.json");
    let ids = message_ids(&event);

    let response = local.invoke(&event).await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 9);
    let expected = [
        ("EXECUTED", None),
        ("REJECTED", Some("InvalidRequest")),
        ("REJECTED", Some("InvalidRequest")),
        ("REJECTED", Some("InvalidRequest")),
        ("REJECTED", Some("InvalidRequest")),
        ("REJECTED", Some("InvalidRequest")),
        ("REJECTED", Some("ResourceNotFoundException")),
        ("REJECTED", Some("ResourceNotFoundException")),
        ("REJECTED", Some("InvalidParametersException")),
    ];
    for (id, (outcome, code)) in ids.iter().zip(expected) {
        let r = by_source(&results, id);
        assert_eq!(r["outcome"], outcome, "{id}");
        assert_eq!(r["error"]["code"].as_str(), code, "{id}: {r}");
    }
    assert_eq!(local.emulator().counters().executions.len(), 1);
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn every_sample_event_runs_through_cargo_lambda_invoke() {
    let local = start(options()).await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(project().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();

    for file in &files {
        let output = local.invoke_cli(file).await.unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let response: Value = serde_json::from_slice(&output.stdout).expect("a JSON response");
        let name = file.file_name().unwrap().to_str().unwrap();
        if name == "sqs-fifo-batch.json" {
            // The group of the product under change is handed back; the other two groups ran.
            let ids = message_ids(&event(name));
            assert_eq!(failures(&response), vec![ids[3].clone(), ids[5].clone()]);
        } else if name.starts_with("sqs-") {
            assert_eq!(response["batchItemFailures"], json!([]), "{}", file.display());
        } else {
            assert_eq!(response["outcome"], "EXECUTED", "{}", file.display());
        }
    }
    let results = local.take_results().await.unwrap();
    assert_eq!(
        results.len(),
        1 + 1 + 1 + 9 + 3 + 1 + 5,
        "one result per request that ended"
    );
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn an_event_of_no_known_shape_fails_the_invocation_clearly() {
    let local = start(options()).await;

    let err = local.invoke(&json!({"hello": "world"})).await.unwrap_err();

    assert_eq!(err.error_type, "InvalidEvent");
    assert!(err.error_message.contains("unrecognised event shape"), "{err}");
    assert!(local.take_results().await.unwrap().is_empty());
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn json_logs_carry_a_span_per_record_and_never_a_parameter_value() {
    let mut options = options();
    options.function_env = vec![
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL".into(), "trace".into()),
    ];
    let local = start(options).await;
    let secret = "s3cr3t-value-that-must-not-be-logged";
    let request = json!({"provisionedProductId": "pp-webprod000001", "serviceActionId": "act-rotate000001",
                         "parameters": {"DbPassword": [secret]}});

    let response = local.invoke(&request).await.unwrap();
    assert_eq!(response["outcome"], "EXECUTED");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = local.function_log();
    let leaks: Vec<String> = log
        .lines()
        .filter(|l| l.contains(secret))
        .map(|l| l.chars().take(300).collect())
        .collect();
    assert!(
        leaks.is_empty(),
        "a parameter value reached the logs:\n{}",
        leaks.join("\n")
    );
    let executed = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "executed")
        .unwrap_or_else(|| panic!("no JSON 'executed' line in:\n{log}"));
    let span = &executed["span"];
    assert_eq!(span["name"], "record");
    assert_eq!(span["provisioned_product_id"], "pp-webprod000001");
    assert_eq!(span["service_action_id"], "act-rotate000001");
    assert_eq!(span["execute_token"], response["executeToken"]);
    assert!(log.contains("DbPassword"), "parameter keys are logged");
}
