//! The handler over every sample event in events/, with the in-memory fakes of the two ports in
//! tests/support. The fake catalog is seeded from the emulator's seed file, so these expectations
//! match `make demo`.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use sc_action_runner::error::CallError;
use sc_action_runner::outcome::{Outcome, ResultMessage, SourceKind};
use sc_action_runner::request::AcceptLanguage;
use sc_action_runner::token::derive;
use sc_action_runner::Invocation;
use serde_json::{json, Value};

use support::{
    config_with, event, failures, handler_with, message_ids, new_handler, run, throttled, FakeCatalog, FakeQueue,
};

// ---------------------------------------------------------------- helpers

fn codes(results: &[ResultMessage]) -> Vec<(String, Outcome, Option<String>)> {
    results
        .iter()
        .map(|r| (r.source.id.clone(), r.outcome, r.error.as_ref().map(|e| e.code.clone())))
        .collect()
}

fn params(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

// ---------------------------------------------------------------- every file in events/

#[test]
fn every_sample_event_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "direct-request.json",
            "eventbridge.json",
            "scheduled-request.json",
            "sqs-bad-records.json",
            "sqs-batch.json",
            "sqs-eventbridge.json",
            "sqs-fifo-batch.json"
        ],
        "a new sample event needs its expectations in tests/handler.rs"
    );
}

#[tokio::test]
async fn sqs_batch_executes_every_record_and_acknowledges_all() {
    let (handler, catalog, queue) = new_handler(&[]);
    let event = event("sqs-batch.json");
    let ids = message_ids(&event);

    let response = run(&handler, event, "req-1").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let sent = queue.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(
        queue.calls.load(Ordering::SeqCst),
        1,
        "all results go out in one publish"
    );
    let expected = [
        (
            &ids[0],
            "pp-webprod000001",
            "act-restart00001",
            "id:pp-webprod000001",
            "id:act-restart00001",
        ),
        (
            &ids[1],
            "pp-webstag000001",
            "act-rotate000001",
            "name:web-staging",
            "name:RotateLogs",
        ),
        (
            &ids[2],
            "pp-webstag000001",
            "act-restart00001",
            "id:pp-webstag000001",
            "id:act-restart00001",
        ),
    ];
    for (result, (id, pp, act, pl, al)) in sent.iter().zip(expected) {
        assert_eq!(result.outcome, Outcome::Executed);
        assert_eq!(result.source.kind, SourceKind::Sqs);
        assert_eq!(&result.source.id, id);
        assert_eq!(result.execute_token, derive(id, pl, al));
        assert_eq!(result.provisioned_product_id.as_deref(), Some(pp));
        assert_eq!(result.service_action_id.as_deref(), Some(act));
        assert!(result
            .record_detail
            .as_ref()
            .unwrap()
            .record_id
            .as_deref()
            .unwrap()
            .starts_with("rec-"));
        assert_eq!(result.error, None);
    }
    let executions = catalog.executions();
    assert_eq!(executions.len(), 3);
    let by_token: HashMap<_, _> = executions.iter().map(|e| (e.execute_token.clone(), e)).collect();
    let second = by_token[&sent[1].execute_token];
    assert_eq!(
        second.parameters,
        params(&[("LogGroups", &["/app/web", "/app/worker"]), ("RetentionDays", &["14"])])
    );
    assert_eq!(by_token[&sent[0].execute_token].parameters, BTreeMap::new());
    assert_eq!(
        by_token[&sent[2].execute_token].accept_language,
        Some(AcceptLanguage::En)
    );
}

#[tokio::test]
async fn sqs_wrapped_eventbridge_event_takes_its_token_from_the_event_id() {
    let (handler, catalog, queue) = new_handler(&[]);
    let event = event("sqs-eventbridge.json");
    let message_id = message_ids(&event)[0].clone();

    let response = run(&handler, event, "req-1").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let sent = queue.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].source.kind, SourceKind::Sqs);
    assert_eq!(sent[0].source.id, message_id);
    assert_eq!(
        sent[0].execute_token,
        derive(
            "3b9e1c6a-7f2d-4e1b-a2c8-5d4f00000001",
            "name:web-prod",
            "name:RestartService"
        )
    );
    assert_eq!(sent[0].provisioned_product_id.as_deref(), Some("pp-webprod000001"));
    assert_eq!(sent[0].service_action_id.as_deref(), Some("act-restart00001"));
    assert_eq!(
        catalog.executions()[0].parameters,
        params(&[("Reason", &["health check failed"])])
    );
}

#[tokio::test]
async fn the_same_eventbridge_event_in_two_sqs_messages_runs_once() {
    let (handler, catalog, queue) = new_handler(&[]);
    let mut twice = event("sqs-eventbridge.json");
    let mut copy = twice["Records"][0].clone();
    copy["messageId"] = json!("a9d0c6b2-5e3f-4c1d-8b7a-000000000099");
    twice["Records"].as_array_mut().unwrap().push(copy);

    let response = run(&handler, twice, "req-1").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let sent = queue.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].execute_token, sent[1].execute_token);
    assert_eq!(
        sent[0].record_detail.as_ref().unwrap().record_id,
        sent[1].record_detail.as_ref().unwrap().record_id
    );
    assert_eq!(catalog.executions().len(), 1);
}

#[tokio::test]
async fn eventbridge_event_answers_with_its_published_result() {
    let (handler, catalog, queue) = new_handler(&[]);

    let response = run(&handler, event("eventbridge.json"), "req-9").await.unwrap();

    let sent = queue.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(response, serde_json::to_value(&sent[0]).unwrap());
    assert_eq!(response["outcome"], "EXECUTED");
    assert_eq!(
        response["source"],
        json!({"kind": "eventbridge", "id": "3b9e1c6a-7f2d-4e1b-a2c8-5d4f00000002"})
    );
    assert_eq!(
        response["executeToken"],
        derive(
            "3b9e1c6a-7f2d-4e1b-a2c8-5d4f00000002",
            "id:pp-webstag000001",
            "id:act-rotate000001"
        )
    );
    assert_eq!(catalog.executions()[0].parameters, params(&[("RetentionDays", &["7"])]));
    // Ids given: no lookups at all.
    assert_eq!(catalog.calls(), vec!["Execute pp-webstag000001 act-rotate000001"]);
}

#[tokio::test]
async fn direct_request_by_names_resolves_both_and_uses_the_request_id() {
    let (handler, catalog, queue) = new_handler(&[]);

    let response = run(&handler, event("direct-request.json"), "8e2f-request-id")
        .await
        .unwrap();

    assert_eq!(response["outcome"], "EXECUTED");
    assert_eq!(response["source"], json!({"kind": "direct", "id": "8e2f-request-id"}));
    assert_eq!(response["provisionedProductId"], "pp-webprod000001");
    assert_eq!(response["serviceActionId"], "act-rotate000001");
    assert_eq!(
        response["executeToken"],
        derive("8e2f-request-id", "name:web-prod", "name:RotateLogs")
    );
    assert_eq!(
        catalog.calls(),
        vec![
            "Describe Name(\"web-prod\")",
            "ListActions pa-webapp0000001 RotateLogs",
            "Execute pp-webprod000001 act-rotate000001"
        ]
    );
    assert_eq!(catalog.executions()[0].accept_language, Some(AcceptLanguage::En));
    assert_eq!(queue.sent().len(), 1);
}

#[tokio::test]
async fn scheduled_request_takes_its_token_from_the_idempotency_key_whatever_the_request_id() {
    let (handler, catalog, queue) = new_handler(&[]);

    let first = run(&handler, event("scheduled-request.json"), "req-a").await.unwrap();
    let retry = run(&handler, event("scheduled-request.json"), "req-b").await.unwrap();

    let token = derive(
        "nightly-rotate-2026-11-26",
        "id:pp-webprod000001",
        "id:act-rotate000001",
    );
    assert_eq!(first["executeToken"], token);
    assert_eq!(retry["executeToken"], token);
    assert_eq!(first["recordDetail"]["RecordId"], retry["recordDetail"]["RecordId"]);
    assert_eq!(catalog.executions().len(), 1);
    assert_eq!(queue.sent().len(), 2);
}

#[tokio::test]
async fn bad_records_are_rejected_one_by_one_and_the_good_one_runs() {
    let (handler, catalog, queue) = new_handler(&[]);
    let event = event("sqs-bad-records.json");
    let ids = message_ids(&event);

    let response = run(&handler, event, "req-1").await.unwrap();

    assert_eq!(
        failures(&response),
        Vec::<String>::new(),
        "rejections are acknowledged, never retried"
    );
    let sent = queue.sent();
    let code = |s: &str| Some(s.to_owned());
    assert_eq!(
        codes(&sent),
        vec![
            (ids[0].clone(), Outcome::Executed, None),
            (ids[1].clone(), Outcome::Rejected, code("InvalidRequest")),
            (ids[2].clone(), Outcome::Rejected, code("InvalidRequest")),
            (ids[3].clone(), Outcome::Rejected, code("InvalidRequest")),
            (ids[4].clone(), Outcome::Rejected, code("InvalidRequest")),
            (ids[5].clone(), Outcome::Rejected, code("InvalidRequest")),
            (ids[6].clone(), Outcome::Rejected, code("ResourceNotFoundException")),
            (ids[7].clone(), Outcome::Rejected, code("ResourceNotFoundException")),
            (ids[8].clone(), Outcome::Rejected, code("InvalidParametersException")),
        ]
    );
    let message = |i: usize| sent[i].error.as_ref().unwrap().message.clone();
    assert!(
        message(1).starts_with("the message body is not valid JSON"),
        "{}",
        message(1)
    );
    assert_eq!(message(2), "the request must be a JSON object, got an array");
    assert!(message(3).contains("`provisionedProductName`, `resourceArn` or `select` is required"));
    assert!(
        message(4).contains("`provisionedProductId` must be 1-100 characters"),
        "{}",
        message(4)
    );
    assert_eq!(
        message(5),
        "parameter \"Target\" must be a list of strings, got a string"
    );
    assert!(
        message(7).contains("no service action named \"NoSuchAction\""),
        "{}",
        message(7)
    );
    // Ids known when rejected are reported; unparsed requests get a token from the message id alone.
    assert_eq!(sent[1].execute_token, derive(&ids[1], "", ""));
    assert_eq!(sent[6].provisioned_product_id.as_deref(), Some("pp-doesnotexist1"));
    assert_eq!(sent[7].provisioned_product_id.as_deref(), Some("pp-webprod000001"));
    assert_eq!(sent[7].service_action_id, None);
    assert_eq!(catalog.executions().len(), 1);
}

/// The FIFO sample: three message groups interleaved. Group pp-migrating0001 is under change, so
/// its first record must be retried and its second waits; the other groups run to the end.
const WEB_PROD: &str = "pp-webprod000001";
const WEB_STAGING: &str = "pp-webstag000001";
const MIGRATING: &str = "pp-migrating0001";

fn products_of(executions: &[support::Executed]) -> Vec<(String, String)> {
    executions
        .iter()
        .map(|e| (e.provisioned_product_id.clone(), e.service_action_id.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn fifo_batch_runs_each_group_in_order_one_record_at_a_time_and_groups_side_by_side() {
    // GIVEN every Execute call takes 50 ms
    let catalog = FakeCatalog {
        execute_delay: Some(Duration::from_millis(50)),
        ..FakeCatalog::seeded()
    };
    let (handler, catalog, queue) = handler_with(config_with(&[]), catalog, FakeQueue::default());
    let event = event("sqs-fifo-batch.json");
    let ids = message_ids(&event);

    // WHEN the batch of three interleaved groups runs
    let response = run(&handler, event, "req-1").await.unwrap();

    // THEN within a group one record ran at a time, in order …
    let max = catalog.max_in_flight_by_product.lock().unwrap().clone();
    assert_eq!(max[WEB_PROD], 1, "records of one group ran concurrently: {max:?}");
    assert_eq!(max[WEB_STAGING], 1, "records of one group ran concurrently: {max:?}");
    let per_group = |pp: &str| -> Vec<String> {
        products_of(&catalog.executions())
            .into_iter()
            .filter(|(p, _)| p == pp)
            .map(|(_, a)| a)
            .collect()
    };
    assert_eq!(
        per_group(WEB_PROD),
        ["act-rotate000001", "act-restart00001", "act-rotate000001"]
    );
    assert_eq!(per_group(WEB_STAGING), ["act-restart00001", "act-rotate000001"]);
    // … while the groups ran side by side
    assert!(catalog.max_in_flight.load(Ordering::SeqCst) >= 2);
    // AND the group under change stopped at its first record: both of its records go back
    assert_eq!(failures(&response), vec![ids[3].clone(), ids[5].clone()]);
    assert_eq!(
        catalog
            .started
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == MIGRATING)
            .count(),
        1,
        "the second record of the failed group never started"
    );
    // AND the other five records' results were published, in record order
    let sent: Vec<String> = queue.sent().iter().map(|r| r.source.id.clone()).collect();
    assert_eq!(
        sent,
        [
            ids[0].clone(),
            ids[1].clone(),
            ids[2].clone(),
            ids[4].clone(),
            ids[6].clone()
        ]
    );
    assert_eq!(
        queue.sent()[4].execute_token,
        derive("rotate-after-restart", "name:web-prod", "name:RotateLogs")
    );
}

#[tokio::test]
async fn fifo_batch_throttled_in_one_group_hands_back_only_the_rest_of_that_group() {
    // GIVEN the web-prod group's second record is throttled
    let catalog = FakeCatalog::seeded();
    let throttled = CallError::service("Op", "ThrottlingException", Some(400), "Rate exceeded");
    catalog.fail_execute_after(WEB_PROD, 1, throttled);
    let (handler, catalog, queue) = handler_with(config_with(&[]), catalog, FakeQueue::default());
    let event = event("sqs-fifo-batch.json");
    let ids = message_ids(&event);

    // WHEN the batch runs
    let response = run(&handler, event, "req-1").await.unwrap();

    // THEN web-prod's records 3 and 7 go back with the migrating group's two; staging finished
    assert_eq!(
        failures(&response),
        vec![ids[2].clone(), ids[3].clone(), ids[5].clone(), ids[6].clone()]
    );
    let sent: Vec<String> = queue.sent().iter().map(|r| r.source.id.clone()).collect();
    assert_eq!(sent, [ids[0].clone(), ids[1].clone(), ids[4].clone()]);
    assert!(
        !catalog
            .calls()
            .iter()
            .any(|c| c.contains("Describe Name(\"web-prod\")")),
        "web-prod's last record never started: {:?}",
        catalog.calls()
    );
}

#[tokio::test]
async fn fifo_batch_hands_back_a_record_whose_result_was_not_published_and_the_rest_of_its_group() {
    // GIVEN the results queue refuses the result of web-staging's first record
    let (handler, _catalog, queue) = new_handler(&[]);
    let event = event("sqs-fifo-batch.json");
    let ids = message_ids(&event);
    let refused = derive(&ids[1], "id:pp-webstag000001", "id:act-restart00001");
    queue.refuse_tokens.lock().unwrap().push(refused);

    let response = run(&handler, event, "req-1").await.unwrap();

    // THEN it and the later staging record go back (with the migrating group); web-prod is done
    assert_eq!(
        failures(&response),
        vec![ids[1].clone(), ids[3].clone(), ids[4].clone(), ids[5].clone()]
    );
}

// ---------------------------------------------------------------- retry, reject, never lose

#[tokio::test]
async fn throttled_record_is_handed_back_without_a_result_and_the_redelivery_runs_once() {
    let (handler, catalog, queue) = new_handler(&[]);
    catalog.fail_execute(
        "pp-webprod000001",
        vec![throttled("ExecuteProvisionedProductServiceAction")],
    );
    let event = event("sqs-batch.json");
    let ids = message_ids(&event);

    let first = run(&handler, event.clone(), "req-1").await.unwrap();
    assert_eq!(failures(&first), vec![ids[0].clone()]);
    assert_eq!(queue.sent().len(), 2);
    assert!(queue.sent().iter().all(|r| r.source.id != ids[0]));

    // SQS redelivers the same message id; the others are gone, so only it comes back.
    let mut redelivery = event.clone();
    redelivery["Records"].as_array_mut().unwrap().truncate(1);
    let second = run(&handler, redelivery, "req-2").await.unwrap();
    assert_eq!(failures(&second), Vec::<String>::new());
    let sent = queue.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].source.id, ids[0]);
    assert_eq!(sent[2].outcome, Outcome::Executed);
    assert_eq!(
        catalog
            .executions()
            .iter()
            .filter(|e| e.provisioned_product_id == "pp-webprod000001")
            .count(),
        1
    );
}

#[tokio::test]
async fn redelivered_message_reuses_its_execute_token_and_runs_once() {
    let (handler, catalog, queue) = new_handler(&[]);
    let event = event("sqs-batch.json");

    run(&handler, event.clone(), "req-1").await.unwrap();
    run(&handler, event, "req-2").await.unwrap();

    let sent = queue.sent();
    assert_eq!(sent.len(), 6);
    for i in 0..3 {
        assert_eq!(sent[i].execute_token, sent[i + 3].execute_token);
        assert_eq!(sent[i].record_detail, sent[i + 3].record_detail);
    }
    assert_eq!(catalog.executions().len(), 3);
}

#[tokio::test]
async fn retryable_errors_hand_the_record_back_and_client_errors_reject_it() {
    let cases = [
        ("ThrottlingException", Some(400), true),
        ("InvalidStateException", Some(400), true),
        ("InternalFailure", Some(500), true),
        ("ServiceUnavailable", Some(503), true),
        // A broken role or key: retried until the DLQ, redrivable once fixed; never rejected.
        ("UnrecognizedClientException", Some(400), true),
        ("InvalidSignatureException", Some(400), true),
        ("ExpiredTokenException", Some(400), true),
        ("AccessDeniedException", Some(400), false),
        ("InvalidParametersException", Some(400), false),
        ("ResourceNotFoundException", Some(400), false),
    ];
    for (code, status, retried) in cases {
        let (handler, catalog, queue) = new_handler(&[]);
        catalog.fail_execute("pp-webprod000001", vec![CallError::service("Op", code, status, "boom")]);
        let event = event("sqs-batch.json");
        let ids = message_ids(&event);

        let response = run(&handler, event, "req").await.unwrap();

        if retried {
            assert_eq!(failures(&response), vec![ids[0].clone()], "{code}");
            assert_eq!(queue.sent().len(), 2, "{code}");
        } else {
            assert_eq!(failures(&response), Vec::<String>::new(), "{code}");
            let rejected = queue.sent().into_iter().find(|r| r.source.id == ids[0]).unwrap();
            assert_eq!(rejected.outcome, Outcome::Rejected);
            assert_eq!(rejected.error.unwrap().code, code);
        }
    }
    // A timeout or connection failure (after the SDK's retries) is retried too.
    let (handler, catalog, _queue) = new_handler(&[]);
    catalog.fail_execute(
        "pp-webprod000001",
        vec![CallError::transport("Op", "dispatch failure: timed out")],
    );
    let event = event("sqs-batch.json");
    let response = run(&handler, event.clone(), "req").await.unwrap();
    assert_eq!(failures(&response), vec![message_ids(&event)[0].clone()]);
}

#[tokio::test]
async fn product_under_change_is_retried() {
    let (handler, _catalog, queue) = new_handler(&[]);
    let event = json!({"Records": [
        {"messageId": "m-1", "body": r#"{"provisionedProductName":"db-migrating","serviceActionName":"RestartService"}"#,
         "attributes": {}, "eventSource": "aws:sqs"},
        {"messageId": "m-2", "body": r#"{"provisionedProductId":"pp-webprod000001","serviceActionId":"act-rotate000001"}"#,
         "attributes": {}, "eventSource": "aws:sqs"}
    ]});

    let response = run(&handler, event, "req").await.unwrap();

    assert_eq!(failures(&response), vec!["m-1"]);
    assert_eq!(queue.sent().len(), 1);
}

#[tokio::test]
async fn a_result_that_could_not_be_sent_hands_its_record_back() {
    let (handler, _catalog, queue) = new_handler(&[]);
    let event = event("sqs-batch.json");
    let ids = message_ids(&event);
    queue
        .refuse_tokens
        .lock()
        .unwrap()
        .push(derive(&ids[1], "name:web-staging", "name:RotateLogs"));

    let response = run(&handler, event, "req").await.unwrap();

    assert_eq!(failures(&response), vec![ids[1].clone()]);
    assert_eq!(queue.sent().len(), 2);
}

#[tokio::test]
async fn a_missing_results_queue_fails_the_whole_batch_visibly() {
    let (handler, catalog, _queue) = handler_with(
        config_with(&[]),
        FakeCatalog::seeded(),
        FakeQueue {
            refuse_all: true,
            ..Default::default()
        },
    );

    let err = run(&handler, event("sqs-batch.json"), "req").await.unwrap_err();

    assert_eq!(err.error_type(), "BatchFailed");
    assert!(err.to_string().contains("all 3 records"), "{err}");
    assert!(err.to_string().contains("NonExistentQueue"), "{err}");
    assert_eq!(
        catalog.executions().len(),
        3,
        "executed; the redelivery will reuse the tokens"
    );
}

#[tokio::test]
async fn eventbridge_and_direct_failures_fail_the_invocation() {
    // Retryable Service Catalog error → the invocation fails, nothing published.
    let (handler, catalog, queue) = new_handler(&[]);
    catalog.fail_execute(
        "pp-webstag000001",
        vec![CallError::service("Op", "ThrottlingException", Some(400), "slow down")],
    );
    let err = run(&handler, event("eventbridge.json"), "req").await.unwrap_err();
    assert_eq!(err.error_type(), "RetryableFailure");
    assert!(err.to_string().contains("ThrottlingException"), "{err}");
    assert!(queue.sent().is_empty());
    // Lambda retries with the same event id: same token, runs once.
    let ok = run(&handler, event("eventbridge.json"), "req-retry").await.unwrap();
    assert_eq!(ok["outcome"], "EXECUTED");
    assert_eq!(catalog.executions().len(), 1);

    // Result not published → the invocation fails.
    let (handler, _catalog, _queue) = handler_with(
        config_with(&[]),
        FakeCatalog::seeded(),
        FakeQueue {
            refuse_all: true,
            ..Default::default()
        },
    );
    let err = run(&handler, event("direct-request.json"), "req").await.unwrap_err();
    assert_eq!(err.error_type(), "ResultNotPublished");

    // A rejected direct request succeeds with its REJECTED result.
    let (handler, _catalog, queue) = new_handler(&[]);
    let response = run(&handler, json!({"provisionedProductId": "pp-webprod000001"}), "req")
        .await
        .unwrap();
    assert_eq!(response["outcome"], "REJECTED");
    assert_eq!(response["error"]["code"], "InvalidRequest");
    assert_eq!(queue.sent().len(), 1);
}

#[tokio::test]
async fn events_with_no_identifiable_record_fail_the_invocation_and_run_nothing() {
    let (handler, catalog, queue) = new_handler(&[]);
    let mut no_id = event("sqs-batch.json");
    no_id["Records"][2].as_object_mut().unwrap().remove("messageId");

    for (event, expected) in [
        (no_id, "record 2 has no messageId"),
        (json!({"foo": "bar"}), "unrecognised event shape"),
        (json!([1, 2]), "must be a JSON object"),
    ] {
        let err = run(&handler, event, "req").await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidEvent");
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert!(catalog.calls().is_empty());
    assert!(queue.sent().is_empty());
}

#[tokio::test]
async fn empty_batch_answers_with_no_failures() {
    let (handler, _catalog, queue) = new_handler(&[]);
    let response = run(&handler, json!({"Records": []}), "req").await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert_eq!(queue.calls.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------- allow-lists

#[tokio::test]
async fn allow_lists_reject_before_any_call_when_ids_are_given() {
    let config = config_with(&[
        ("ALLOWED_SERVICE_ACTION_IDS", "act-rotate000001"),
        ("ALLOWED_PROVISIONED_PRODUCT_IDS", "pp-webprod000001"),
    ]);
    let (handler, catalog, queue) = handler_with(config, FakeCatalog::seeded(), FakeQueue::default());

    let response = run(&handler, event("eventbridge.json"), "req").await.unwrap();

    assert_eq!(response["outcome"], "REJECTED");
    assert_eq!(response["error"]["code"], "NotAllowed");
    assert_eq!(
        response["error"]["message"],
        "provisionedProductId: pp-webstag000001 is not in ALLOWED_PROVISIONED_PRODUCT_IDS"
    );
    assert!(catalog.calls().is_empty());
    assert_eq!(queue.sent().len(), 1);
}

#[tokio::test]
async fn allow_lists_check_names_after_resolving_them_and_never_execute() {
    let config = config_with(&[("ALLOWED_SERVICE_ACTION_IDS", "act-restart00001")]);
    let (handler, catalog, _queue) = handler_with(config, FakeCatalog::seeded(), FakeQueue::default());

    // RotateLogs resolves to act-rotate000001, which is not allowed.
    let response = run(&handler, event("direct-request.json"), "req").await.unwrap();

    assert_eq!(response["outcome"], "REJECTED");
    assert_eq!(response["error"]["code"], "NotAllowed");
    assert!(response["error"]["message"]
        .as_str()
        .unwrap()
        .contains("act-rotate000001"));
    assert_eq!(response["serviceActionId"], Value::Null);
    assert_eq!(response["provisionedProductId"], "pp-webprod000001");
    assert!(catalog.executions().is_empty());
    assert!(!catalog.calls().iter().any(|c| c.starts_with("Execute")));

    // An allowed action by name runs.
    let ok = run(
        &handler,
        json!({"provisionedProductName": "web-prod", "serviceActionName": "RestartService"}),
        "r2",
    )
    .await
    .unwrap();
    assert_eq!(ok["outcome"], "EXECUTED");
}

#[tokio::test]
async fn allow_lists_cannot_be_bypassed_through_an_eventbridge_envelope_in_sqs() {
    let config = config_with(&[("ALLOWED_SERVICE_ACTION_IDS", "act-rotate000001")]);
    let (handler, catalog, queue) = handler_with(config, FakeCatalog::seeded(), FakeQueue::default());

    let response = run(&handler, event("sqs-eventbridge.json"), "req").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(queue.sent()[0].error.as_ref().unwrap().code, "NotAllowed");
    assert!(catalog.executions().is_empty());
}

// ---------------------------------------------------------------- batch behaviour

#[tokio::test(start_paused = true)]
async fn standard_batch_runs_at_most_max_concurrency_records_at_once() {
    let catalog = FakeCatalog {
        execute_delay: Some(Duration::from_millis(50)),
        ..FakeCatalog::seeded()
    };
    let (handler, catalog, queue) =
        handler_with(config_with(&[("MAX_CONCURRENCY", "3")]), catalog, FakeQueue::default());
    let records: Vec<Value> = (0..10)
        .map(|i| {
            json!({"messageId": format!("m-{i}"), "eventSource": "aws:sqs", "attributes": {},
                   "body": json!({"provisionedProductId": "pp-webprod000001", "serviceActionId": "act-rotate000001"}).to_string()})
        })
        .collect();

    let response = handler
        .handle(
            json!({"Records": records}),
            &Invocation {
                request_id: "r".into(),
                deadline: None,
                invoked_function_arn: None,
            },
        )
        .await
        .unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(catalog.max_in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(catalog.executions().len(), 10);
    let order: Vec<_> = queue.sent().iter().map(|r| r.source.id.clone()).collect();
    assert_eq!(
        order,
        (0..10).map(|i| format!("m-{i}")).collect::<Vec<_>>(),
        "results keep record order"
    );
}

/// A batch of ten requests by ids; record `slow` acts on web-staging, the others on web-prod.
fn ten_records(slow: usize) -> Value {
    let records: Vec<Value> = (0..10)
        .map(|i| {
            let pp = if i == slow { WEB_STAGING } else { WEB_PROD };
            json!({"messageId": format!("m-{i}"), "eventSource": "aws:sqs", "attributes": {},
                   "body": json!({"provisionedProductId": pp, "serviceActionId": "act-rotate000001"}).to_string()})
        })
        .collect();
    json!({ "Records": records })
}

fn deadline_in(d: Duration) -> Invocation {
    Invocation {
        request_id: "r".into(),
        deadline: Some(SystemTime::now() + d),
        invoked_function_arn: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_still_running_at_the_margin_is_abandoned_and_the_batch_answers_before_its_deadline() {
    // GIVEN Service Catalog answers web-staging only after two minutes, and the invocation has 10 s
    let catalog = FakeCatalog {
        slow_products: HashMap::from([(WEB_STAGING.to_owned(), Duration::from_secs(120))]),
        ..FakeCatalog::seeded()
    };
    let (handler, catalog, queue) = handler_with(config_with(&[]), catalog, FakeQueue::default());
    let started = tokio::time::Instant::now();

    // WHEN a batch of ten with one record for web-staging runs
    let response = handler
        .handle(ten_records(4), &deadline_in(Duration::from_secs(10)))
        .await
        .unwrap();

    // THEN it answered when the work time ran out (deadline - 3 s margin), well before the deadline
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    // AND only the unfinished record is handed back; the nine others' results are published
    assert_eq!(failures(&response), vec!["m-4"]);
    let sent = queue.sent();
    assert_eq!(sent.len(), 9);
    assert!(sent
        .iter()
        .all(|r| r.outcome == Outcome::Executed && r.source.id != "m-4"));
    assert_eq!(catalog.started.lock().unwrap().len(), 10, "every record started");
}

#[tokio::test(start_paused = true)]
async fn a_single_request_that_cannot_finish_in_time_fails_before_the_deadline_as_retryable() {
    let catalog = FakeCatalog {
        slow_products: HashMap::from([(WEB_STAGING.to_owned(), Duration::from_secs(120))]),
        ..FakeCatalog::seeded()
    };
    let (handler, _catalog, queue) = handler_with(config_with(&[]), catalog, FakeQueue::default());
    let started = tokio::time::Instant::now();

    let err = handler
        .handle(event("eventbridge.json"), &deadline_in(Duration::from_secs(10)))
        .await
        .unwrap_err();

    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert_eq!(err.error_type(), "RetryableFailure");
    assert!(err.to_string().starts_with("DeadlineReached: abandoned"), "{err}");
    assert!(queue.sent().is_empty());
}

#[tokio::test]
async fn with_less_than_the_margin_left_nothing_starts_and_the_whole_batch_fails_visibly() {
    let (handler, catalog, queue) = new_handler(&[]);
    // One second left, with the default 3 s margin.
    let err = handler
        .handle(event("sqs-batch.json"), &deadline_in(Duration::from_secs(1)))
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "BatchFailed");
    assert!(err.to_string().contains("not started"), "{err}");
    assert!(catalog.calls().is_empty());
    assert!(queue.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn publishing_that_does_not_finish_before_the_deadline_hands_every_unconfirmed_record_back() {
    // GIVEN a results queue that never answers
    let stuck = FakeQueue {
        stuck: true,
        ..Default::default()
    };
    let (handler, _catalog, _queue) = handler_with(config_with(&[]), FakeCatalog::seeded(), stuck);
    let started = tokio::time::Instant::now();

    let err = handler
        .handle(event("sqs-batch.json"), &deadline_in(Duration::from_secs(10)))
        .await
        .unwrap_err();

    // THEN the invocation still answered before its deadline (250 ms are kept for the answer)
    assert_eq!(started.elapsed(), Duration::from_millis(9_750));
    assert_eq!(err.error_type(), "BatchFailed");
    assert!(
        err.to_string()
            .contains("not confirmed before the invocation's deadline"),
        "{err}"
    );
}

#[tokio::test]
async fn a_publisher_that_answers_for_fewer_results_than_it_was_given_fails_the_missing_ones() {
    // Batch: every record handed back (the whole batch fails visibly).
    let queue = FakeQueue {
        answer_nothing: true,
        ..Default::default()
    };
    let (handler, _catalog, _queue) = handler_with(config_with(&[]), FakeCatalog::seeded(), queue);
    let err = run(&handler, event("sqs-batch.json"), "r").await.unwrap_err();
    assert_eq!(err.error_type(), "BatchFailed");

    // Single request: the invocation fails rather than report a result nobody confirmed.
    let queue = FakeQueue {
        answer_nothing: true,
        ..Default::default()
    };
    let (handler, _catalog, _queue) = handler_with(config_with(&[]), FakeCatalog::seeded(), queue);
    let err = run(&handler, event("direct-request.json"), "r").await.unwrap_err();
    assert_eq!(err.error_type(), "ResultNotPublished");
}
