//! Completion tracking through the handler, with the in-memory fakes: every branch of issue 10's
//! behaviour — the first tracking message after EXECUTED, a check that ends SUCCEEDED, FAILED or
//! TIMED_OUT, one that must wait, one that must be retried, one for a record that is gone, a
//! malformed tracking message, a tracking message that cannot be sent, an execution already final,
//! and the direct and EventBridge envelopes.

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use sc_action_runner::error::CallError;
use sc_action_runner::outcome::{Outcome, ResultMessage};
use sc_action_runner::token::derive;
use serde_json::{json, Value};

use support::{
    batch_of, config_with, event, failures, handler_with, message_ids, run, FakeCatalog, FakeQueue, RecordState,
    TestHandler,
};

const TRACKING_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-requests";
const WEB_PROD: &str = "pp-webprod000001";
const WEB_STAGING: &str = "pp-webstag000001";

fn tracking_on(extra: &[(&str, &str)]) -> (TestHandler, std::sync::Arc<FakeCatalog>, std::sync::Arc<FakeQueue>) {
    let mut vars = vec![("TRACKING_QUEUE_URL", TRACKING_QUEUE)];
    vars.extend_from_slice(extra);
    handler_with(config_with(&vars), FakeCatalog::seeded(), FakeQueue::default())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Runs the sample batch with tracking on and returns the first tracking message's body.
async fn executed_and_first_tracking_message(handler: &TestHandler, queue: &FakeQueue) -> (Vec<ResultMessage>, Value) {
    let response = run(handler, event("sqs-batch.json"), "req-1").await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let messages = queue.messages();
    assert_eq!(messages.len(), 3, "one tracking message per EXECUTED result");
    (queue.sent(), messages[0].1.clone())
}

// ---------------------------------------------------------------- after EXECUTED

#[tokio::test]
async fn an_executed_result_is_followed_by_a_delayed_tracking_message_sent_after_it() {
    let (handler, _catalog, queue) = tracking_on(&[]);
    let event = event("sqs-batch.json");
    let ids = message_ids(&event);

    let response = run(&handler, event, "req-1").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let sent = queue.sent();
    assert!(sent.iter().all(|r| r.outcome == Outcome::Executed));
    let messages = queue.messages();
    assert_eq!(messages.len(), 3);
    for ((queue_url, body, delay), result) in messages.iter().zip(&sent) {
        assert_eq!(queue_url, TRACKING_QUEUE);
        assert_eq!(*delay, 30, "TRACK_FIRST_DELAY_SECONDS defaults to 30");
        let track = &body["trackRecord"];
        assert_eq!(body.as_object().unwrap().len(), 1, "one top-level key: {body}");
        assert_eq!(
            track["recordId"],
            result.record_detail.as_ref().unwrap().record_id.as_deref().unwrap()
        );
        assert_eq!(track["executeToken"], result.execute_token.as_str());
        assert_eq!(track["source"], json!({"kind": "sqs", "id": result.source.id}));
        assert_eq!(
            track["provisionedProductId"],
            result.provisioned_product_id.as_deref().unwrap()
        );
        assert_eq!(track["serviceActionId"], result.service_action_id.as_deref().unwrap());
        assert_eq!(track["checks"], 0);
        let started = track["trackingStartedMs"].as_u64().unwrap();
        assert!(now_ms() - started < 60_000);
    }
    // The second request carries parameters: they never reach a tracking message.
    assert_eq!(sent[1].source.id, ids[1]);
    assert!(!messages[1].1.to_string().contains("/app/web"), "{}", messages[1].1);
    // Every result went out before any tracking message.
    let log = queue.log();
    let last_result = log.iter().rposition(|l| l.starts_with("result")).unwrap();
    let first_message = log.iter().position(|l| l.starts_with("message")).unwrap();
    assert!(last_result < first_message, "{log:?}");
}

#[tokio::test]
async fn tracking_off_sends_no_tracking_message() {
    let (handler, _catalog, queue) = handler_with(config_with(&[]), FakeCatalog::seeded(), FakeQueue::default());
    run(&handler, event("sqs-batch.json"), "req-1").await.unwrap();
    assert_eq!(queue.sent().len(), 3);
    assert!(queue.messages().is_empty());
}

#[tokio::test]
async fn a_tracking_message_that_cannot_be_sent_hands_the_record_back_after_its_result() {
    let queue = FakeQueue {
        refuse_messages: true,
        ..Default::default()
    };
    let config = config_with(&[("TRACKING_QUEUE_URL", TRACKING_QUEUE)]);
    let (handler, catalog, queue) = handler_with(config, FakeCatalog::seeded(), queue);
    let event = event("eventbridge.json");

    // A single request: the invocation fails, so it is retried (same token).
    let err = run(&handler, event.clone(), "req-1").await.unwrap_err();
    assert_eq!(err.error_type(), "RetryableFailure");
    assert!(err.to_string().contains("tracking message not sent"), "{err}");
    assert_eq!(queue.sent().len(), 1, "the EXECUTED result went out first");

    // A batch: every record is handed back, so the whole batch fails visibly.
    let err = run(&handler, crate::event("sqs-batch.json"), "req-2")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "BatchFailed");
    assert_eq!(catalog.executions().len(), 4);
}

#[tokio::test]
async fn an_execution_already_final_gets_its_final_result_at_once_and_no_tracking_message() {
    let catalog = FakeCatalog {
        execute_status: Some("SUCCEEDED".into()),
        ..FakeCatalog::seeded()
    };
    catalog.set_record_state(WEB_STAGING, RecordState::succeeded(&[("Restarted", "true")]));
    let config = config_with(&[("TRACKING_QUEUE_URL", TRACKING_QUEUE)]);
    let (handler, _catalog, queue) = handler_with(config, catalog, FakeQueue::default());

    let response = run(&handler, event("eventbridge.json"), "req-1").await.unwrap();

    assert_eq!(response["outcome"], "EXECUTED");
    let sent = queue.sent();
    assert_eq!(
        sent.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [Outcome::Executed, Outcome::Succeeded]
    );
    assert_eq!(sent[0].execute_token, sent[1].execute_token);
    assert_eq!(sent[1].record_outputs.as_ref().unwrap().len(), 1);
    assert!(queue.messages().is_empty());
}

#[tokio::test]
async fn an_execution_already_final_whose_check_must_wait_is_reported_and_tracked_not_handed_back() {
    // GIVEN Execute answers SUCCEEDED at once, and DescribeRecord is throttled
    let catalog = FakeCatalog {
        execute_status: Some("SUCCEEDED".into()),
        ..FakeCatalog::seeded()
    };
    catalog.describe_record_faults.lock().unwrap().extend(
        (0..3).map(|_| CallError::service("DescribeRecord", "ThrottlingException", Some(400), "Rate exceeded")),
    );
    let config = config_with(&[("TRACKING_QUEUE_URL", TRACKING_QUEUE)]);
    let (handler, catalog, queue) = handler_with(config, catalog, FakeQueue::default());

    // WHEN a batch of two runs
    let response = run(&handler, event("sqs-batch.json"), "req").await.unwrap();

    // THEN nothing is handed back: the actions ran, their EXECUTED results went out, and tracking
    // messages will read the final status later
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(catalog.executions().len(), 3);
    let sent = queue.sent();
    assert!(sent.iter().any(|r| r.outcome == Outcome::Executed));
    let messages = queue.messages();
    assert!(!messages.is_empty(), "the throttled checks went to tracking messages");
    assert!(messages.iter().all(|(_, body, _)| body["trackRecord"]["checks"] == 0));
    assert_eq!(
        messages.len() + sent.iter().filter(|r| r.outcome == Outcome::Succeeded).count(),
        3
    );
}

#[tokio::test]
async fn a_direct_request_sends_its_tracking_message_before_it_answers() {
    let (handler, _catalog, queue) = tracking_on(&[("TRACK_FIRST_DELAY_SECONDS", "5")]);

    let response = run(&handler, event("direct-request.json"), "req-1").await.unwrap();

    assert_eq!(response["outcome"], "EXECUTED");
    let messages = queue.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].2, 5);
    assert_eq!(
        messages[0].1["trackRecord"]["source"],
        json!({"kind": "direct", "id": "req-1"})
    );
}

// ---------------------------------------------------------------- a tracking message's check

#[tokio::test]
async fn a_check_that_finds_the_record_succeeded_publishes_the_final_result_with_its_outputs() {
    let (handler, catalog, queue) = tracking_on(&[]);
    let (executed, tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.set_record_state(WEB_PROD, RecordState::succeeded(&[("InstanceState", "running")]));

    let response = run(&handler, batch_of("t-1", &tracking), "req-2").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let last: &ResultMessage = &queue.sent()[3];
    assert_eq!(last.outcome, Outcome::Succeeded);
    assert_eq!(last.execute_token, executed[0].execute_token);
    assert_eq!(
        last.source, executed[0].source,
        "the original request's source, not the tracking message's"
    );
    assert_eq!(last.provisioned_product_id, executed[0].provisioned_product_id);
    assert_eq!(last.service_action_id, executed[0].service_action_id);
    assert_eq!(last.error, None);
    assert_eq!(
        last.record_detail.as_ref().unwrap().status.as_deref(),
        Some("SUCCEEDED")
    );
    let outputs = last.record_outputs.as_ref().unwrap();
    assert_eq!(outputs[0].output_key.as_deref(), Some("InstanceState"));
    assert_eq!(outputs[0].output_value.as_deref(), Some("running"));
    assert!(last.concludes_execution());
    assert_eq!(last.deduplication_id(), format!("{}-final", last.execute_token));
    assert_eq!(queue.messages().len(), 3, "no further tracking message");
    let json: Value = serde_json::from_str(&last.to_json().unwrap()).unwrap();
    assert_eq!(json["outcome"], "SUCCEEDED");
    assert_eq!(json["recordOutputs"][0]["OutputValue"], "running");
}

#[tokio::test]
async fn a_check_that_finds_the_record_failed_reports_its_first_record_error_exactly() {
    let (handler, catalog, queue) = tracking_on(&[]);
    let (_, tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.set_record_state(
        WEB_PROD,
        RecordState::failed(&[
            (
                "AccessDenied",
                "not authorized to perform: ssm:StartAutomationExecution",
            ),
            ("Other", "second"),
        ]),
    );

    run(&handler, batch_of("t-1", &tracking), "req-2").await.unwrap();

    let last = &queue.sent()[3];
    assert_eq!(last.outcome, Outcome::Failed);
    let error = last.error.as_ref().unwrap();
    assert_eq!(error.code, "AccessDenied");
    assert_eq!(error.message, "not authorized to perform: ssm:StartAutomationExecution");
    assert_eq!(last.record_outputs, Some(vec![]));
    assert_eq!(last.record_detail.as_ref().unwrap().record_errors.len(), 2);

    // Without RecordErrors the code is RecordFailed.
    catalog.set_record_state(WEB_PROD, RecordState::status("FAILED"));
    run(&handler, batch_of("t-1", &tracking), "req-3").await.unwrap();
    assert_eq!(queue.sent()[4].error.as_ref().unwrap().code, "RecordFailed");
}

#[tokio::test]
async fn a_check_that_finds_the_record_still_running_sends_the_next_message_with_a_doubled_delay() {
    let (handler, catalog, queue) = tracking_on(&[("TRACK_FIRST_DELAY_SECONDS", "30")]);
    let (_, mut tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.set_record_state(WEB_PROD, RecordState::status("IN_PROGRESS_IN_ERROR"));

    let mut delays = Vec::new();
    for n in 1..=6 {
        let response = run(&handler, batch_of(&format!("t-{n}"), &tracking), "req")
            .await
            .unwrap();
        assert_eq!(
            failures(&response),
            Vec::<String>::new(),
            "acknowledged once the next one was sent"
        );
        let (queue_url, next, delay) = queue.messages().last().cloned().unwrap();
        assert_eq!(queue_url, TRACKING_QUEUE);
        assert_eq!(next["trackRecord"]["checks"], n);
        assert_eq!(
            next["trackRecord"]["executeToken"],
            tracking["trackRecord"]["executeToken"]
        );
        assert_eq!(
            next["trackRecord"]["trackingStartedMs"],
            tracking["trackRecord"]["trackingStartedMs"]
        );
        delays.push(delay);
        tracking = next;
    }
    // The n-th message waits min(900, 30 × 2ⁿ).
    assert_eq!(delays, [60, 120, 240, 480, 900, 900]);
    assert_eq!(queue.sent().len(), 3, "no result while the record is not final");
}

#[tokio::test]
async fn a_check_past_the_timeout_publishes_timed_out_with_the_latest_record() {
    let (handler, catalog, queue) = tracking_on(&[("TRACK_TIMEOUT_SECONDS", "60")]);
    let (executed, mut tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.set_record_state(WEB_PROD, RecordState::status("IN_PROGRESS"));
    tracking["trackRecord"]["trackingStartedMs"] = json!(now_ms() - 61_000);

    let response = run(&handler, batch_of("t-1", &tracking), "req-2").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let last = &queue.sent()[3];
    assert_eq!(last.outcome, Outcome::TimedOut);
    assert_eq!(last.execute_token, executed[0].execute_token);
    let error = last.error.as_ref().unwrap();
    assert_eq!(error.code, "TrackingTimedOut");
    assert!(
        error.message.contains("61 s") && error.message.contains("IN_PROGRESS"),
        "{}",
        error.message
    );
    assert_eq!(
        last.record_detail.as_ref().unwrap().status.as_deref(),
        Some("IN_PROGRESS")
    );
    assert_eq!(queue.messages().len(), 3, "tracking stops");
}

#[tokio::test]
async fn a_throttled_check_is_handed_back_like_any_retryable_record() {
    let (handler, catalog, queue) = tracking_on(&[]);
    let (_, tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.describe_record_faults.lock().unwrap().extend([
        CallError::service("DescribeRecord", "ThrottlingException", Some(400), "Rate exceeded"),
        CallError::transport("DescribeRecord", "timed out"),
    ]);

    let single = batch_of("t-1", &tracking);
    let mut two = single.clone();
    let mut other = two["Records"][0].clone();
    other["messageId"] = json!("t-2");
    two["Records"].as_array_mut().unwrap().push(other);
    let err = run(&handler, two, "req-2").await.unwrap_err();

    assert_eq!(err.error_type(), "BatchFailed", "both checks must be retried");
    assert_eq!(queue.sent().len(), 3);
    assert_eq!(queue.messages().len(), 3);
}

#[tokio::test]
async fn a_record_that_is_gone_ends_its_execution_with_a_rejected_final_message() {
    let (handler, catalog, queue) = tracking_on(&[]);
    let (executed, tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.describe_record_faults.lock().unwrap().push(CallError::service(
        "DescribeRecord",
        "ResourceNotFoundException",
        Some(400),
        "Record not found",
    ));

    let response = run(&handler, batch_of("t-1", &tracking), "req-2").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new(), "acknowledged, no retry");
    let last = &queue.sent()[3];
    assert_eq!(last.outcome, Outcome::Rejected);
    assert_eq!(last.error.as_ref().unwrap().code, "ResourceNotFoundException");
    assert_eq!(last.execute_token, executed[0].execute_token);
    assert_eq!(last.source, executed[0].source);
    assert_eq!(last.provisioned_product_id, executed[0].provisioned_product_id);
    assert_eq!(last.service_action_id, executed[0].service_action_id);
    assert_eq!(last.deduplication_id(), format!("{}-final", last.execute_token));
}

#[tokio::test]
async fn a_malformed_tracking_message_is_rejected_under_its_own_source_without_a_call() {
    let (handler, catalog, queue) = tracking_on(&[]);
    for (i, body) in [
        json!({"trackRecord": "rec-1"}),
        json!({"trackRecord": {"recordId": "rec-1"}}),
        json!({"trackRecord": {}, "provisionedProductId": "pp-webprod000001"}),
    ]
    .iter()
    .enumerate()
    {
        let id = format!("bad-{i}");
        let response = run(&handler, batch_of(&id, body), "req").await.unwrap();
        assert_eq!(failures(&response), Vec::<String>::new(), "{body}");
        let last = queue.sent().last().cloned().unwrap();
        assert_eq!(last.outcome, Outcome::Rejected);
        assert_eq!(last.source.id, id);
        assert_eq!(last.error.as_ref().unwrap().code, "InvalidRequest");
        assert!(last.error.as_ref().unwrap().message.contains("trackRecord"), "{last:?}");
        assert_eq!(last.execute_token, derive(&id, "", ""));
    }
    assert!(catalog.calls().is_empty());
}

#[tokio::test]
async fn a_tracking_message_is_recognised_in_every_envelope() {
    let (handler, catalog, queue) = tracking_on(&[]);
    let (_, tracking) = executed_and_first_tracking_message(&handler, &queue).await;
    catalog.set_record_state(WEB_PROD, RecordState::succeeded(&[]));

    // Direct invocation.
    let direct = run(&handler, tracking.clone(), "req-direct").await.unwrap();
    assert_eq!(direct["outcome"], "SUCCEEDED");
    // EventBridge event (straight, and wrapped in an SQS body).
    let eventbridge = json!({"version": "0", "id": "evt-t", "detail-type": "Track", "source": "x",
                             "detail": tracking.clone()});
    let answer = run(&handler, eventbridge.clone(), "req-eb").await.unwrap();
    assert_eq!(answer["outcome"], "SUCCEEDED");
    let wrapped = batch_of("t-wrapped", &eventbridge);
    assert_eq!(
        failures(&run(&handler, wrapped, "req").await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        queue.sent()[3..].iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [Outcome::Succeeded; 3]
    );
    // A direct check that is not final yet answers with when the next check comes.
    catalog.set_record_state(WEB_PROD, RecordState::status("IN_PROGRESS"));
    let pending = run(&handler, tracking, "req-pending").await.unwrap();
    assert_eq!(pending, json!({"tracking": {"nextCheckInSeconds": 60}}));
}

#[tokio::test]
async fn a_forged_tracking_message_cannot_look_past_the_allow_lists_or_into_another_product() {
    let (handler, catalog, queue) =
        tracking_on(&[("ALLOWED_PROVISIONED_PRODUCT_IDS", "pp-webprod000001,pp-webstag000001")]);
    let (_, tracking) = executed_and_first_tracking_message(&handler, &queue).await;

    // Another product than the allowed ones: rejected, no call.
    let mut forged = tracking.clone();
    forged["trackRecord"]["provisionedProductId"] = json!("pp-migrating0001");
    run(&handler, batch_of("f-1", &forged), "req").await.unwrap();
    assert_eq!(queue.sent()[3].error.as_ref().unwrap().code, "NotAllowed");
    assert!(!catalog.calls().iter().any(|c| c.starts_with("DescribeRecord")));

    // An allowed product that the record does not belong to: rejected after the one call.
    let mut forged = tracking;
    forged["trackRecord"]["provisionedProductId"] = json!("pp-webstag000001");
    run(&handler, batch_of("f-2", &forged), "req").await.unwrap();
    assert_eq!(queue.sent()[4].error.as_ref().unwrap().code, "RecordMismatch");
}
