//! Throughput under Service Catalog's limits, through the handler with the in-memory fakes: the name
//! cache (a warm environment resolves a name once; a stale entry is dropped and resolved afresh,
//! under the same token) and the back-off of records handed back (ChangeMessageVisibility from the
//! receive count, never failing the hand-back).

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use sc_action_runner::backoff::visibility_seconds;
use sc_action_runner::error::CallError;
use sc_action_runner::outcome::Outcome;
use serde_json::{json, Value};

use support::{
    config_with, event, failures, handler_with, new_handler, run, sqs_record, throttled, FakeCatalog, FakeQueue,
};

const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

fn by_names(id: &str) -> Value {
    sqs_record(
        id,
        &json!({"provisionedProductName": "web-prod", "serviceActionName": "RestartService"}).to_string(),
    )
}

fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

// ---------------------------------------------------------------- the name cache

#[tokio::test]
async fn a_warm_environment_resolves_a_name_once_for_many_records() {
    let (handler, catalog, _queue) = new_handler(&[]);
    let records: Vec<Value> = (0..10).map(|i| by_names(&format!("m-{i}"))).collect();

    run(&handler, json!({ "Records": records }), "r1").await.unwrap();
    run(&handler, json!({ "Records": [by_names("m-10")] }), "r2")
        .await
        .unwrap();

    let calls = catalog.calls();
    assert_eq!(count(&calls, "Execute"), 11);
    // Ten records run concurrently may all miss the cache at first; the next invocation hits it.
    let describes = count(&calls, "Describe Name");
    let lists = count(&calls, "ListActions");
    assert!(describes <= 10 && lists <= 10, "{calls:?}");
    let last_calls: Vec<&String> = calls.iter().rev().take_while(|c| !c.starts_with("Execute")).collect();
    assert!(last_calls.is_empty(), "the second invocation only executed: {calls:?}");
    assert_eq!(
        calls.last().unwrap(),
        "Execute pp-webprod000001 act-restart00001",
        "{calls:?}"
    );
}

#[tokio::test]
async fn in_one_record_after_another_the_cache_saves_every_lookup_but_the_first() {
    let (handler, catalog, _queue) = new_handler(&[]);
    for i in 0..5 {
        run(&handler, json!({ "Records": [by_names(&format!("m-{i}"))] }), "r")
            .await
            .unwrap();
    }
    let calls = catalog.calls();
    assert_eq!(count(&calls, "Describe Name"), 1, "{calls:?}");
    assert_eq!(count(&calls, "ListActions"), 1, "{calls:?}");
    assert_eq!(count(&calls, "Execute"), 5);
}

#[tokio::test(start_paused = true)]
async fn an_entry_older_than_name_cache_seconds_is_resolved_again_and_zero_disables_the_cache() {
    let (handler, catalog, _queue) = handler_with(
        config_with(&[("NAME_CACHE_SECONDS", "30")]),
        FakeCatalog::seeded(),
        FakeQueue::default(),
    );
    let invocation = |id: &str| sc_action_runner::Invocation {
        request_id: id.into(),
        deadline: None,
        invoked_function_arn: None,
    };
    handler
        .handle(json!({"Records": [by_names("m-1")]}), &invocation("a"))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(29)).await;
    handler
        .handle(json!({"Records": [by_names("m-2")]}), &invocation("b"))
        .await
        .unwrap();
    assert_eq!(count(&catalog.calls(), "Describe Name"), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    handler
        .handle(json!({"Records": [by_names("m-3")]}), &invocation("c"))
        .await
        .unwrap();
    assert_eq!(count(&catalog.calls(), "Describe Name"), 2, "expired after 30 s");

    let (handler, catalog, _queue) = handler_with(
        config_with(&[("NAME_CACHE_SECONDS", "0")]),
        FakeCatalog::seeded(),
        FakeQueue::default(),
    );
    for id in ["m-1", "m-2", "m-3"] {
        handler
            .handle(json!({"Records": [by_names(id)]}), &invocation(id))
            .await
            .unwrap();
    }
    assert_eq!(count(&catalog.calls(), "Describe Name"), 3);
}

#[tokio::test]
async fn a_stale_cached_name_is_dropped_resolved_afresh_and_executed_again_with_the_same_token() {
    let (handler, catalog, queue) = new_handler(&[]);
    run(&handler, json!({"Records": [by_names("m-1")]}), "r1")
        .await
        .unwrap();
    // The cached action id no longer exists: Execute says so once.
    catalog.fail_execute(
        "pp-webprod000001",
        vec![CallError::service(
            EXECUTE,
            "ResourceNotFoundException",
            Some(400),
            "Service action not found",
        )],
    );

    let response = run(&handler, json!({"Records": [by_names("m-2")]}), "r2")
        .await
        .unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let calls = catalog.calls();
    let second: Vec<&str> = calls[3..].iter().map(String::as_str).collect();
    assert_eq!(
        second,
        [
            "Execute pp-webprod000001 act-restart00001",
            "Describe Name(\"web-prod\")",
            "ListActions pa-webapp0000001 RestartService",
            "Execute pp-webprod000001 act-restart00001",
        ],
        "{calls:?}"
    );
    assert_eq!(queue.sent()[1].outcome, Outcome::Executed);
    assert_eq!(catalog.executions().len(), 2, "one per message");
}

#[tokio::test]
async fn without_a_cached_resolution_not_found_is_a_rejection_at_once() {
    let (handler, catalog, queue) = new_handler(&[]);
    catalog.fail_execute(
        "pp-webprod000001",
        vec![CallError::service(
            EXECUTE,
            "ResourceNotFoundException",
            Some(400),
            "gone",
        )],
    );
    run(&handler, json!({"Records": [by_names("m-1")]}), "r1")
        .await
        .unwrap();
    assert_eq!(
        queue.sent()[0].error.as_ref().unwrap().code,
        "ResourceNotFoundException"
    );
    assert_eq!(
        count(&catalog.calls(), "Execute"),
        1,
        "no second try: nothing was cached"
    );
}

// ---------------------------------------------------------------- back-off

fn throttled_batch(receive_count: &str) -> (Value, String) {
    let mut batch = event("sqs-batch.json");
    batch["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!(receive_count);
    let handle = batch["Records"][0]["receiptHandle"].as_str().unwrap().to_owned();
    (batch, handle)
}

fn throttle_web_prod(catalog: &FakeCatalog) {
    catalog.fail_execute("pp-webprod000001", vec![throttled(EXECUTE)]);
}

#[tokio::test]
async fn a_record_handed_back_for_throttling_comes_back_after_a_back_off_from_its_receive_count() {
    for receive_count in ["1", "4"] {
        let (handler, catalog, queue) = new_handler(&[]);
        throttle_web_prod(&catalog);
        let (batch, handle) = throttled_batch(receive_count);

        let response = run(&handler, batch, "r").await.unwrap();

        assert_eq!(failures(&response).len(), 1);
        let expected = visibility_seconds(
            receive_count.parse().unwrap(),
            Duration::from_secs(2),
            Duration::from_secs(300),
            &handle,
        );
        assert_eq!(
            queue.visibility(),
            vec![(
                "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-requests".to_owned(),
                handle.clone(),
                expected
            )]
        );
    }
}

#[tokio::test]
async fn a_failed_visibility_change_never_fails_the_hand_back_and_zero_turns_back_off_off() {
    let refusing = FakeQueue {
        refuse_visibility: true,
        ..Default::default()
    };
    let (handler, catalog, _queue) = handler_with(config_with(&[]), FakeCatalog::seeded(), refusing);
    throttle_web_prod(&catalog);
    let (batch, _) = throttled_batch("2");
    let response = run(&handler, batch.clone(), "r").await.unwrap();
    assert_eq!(
        failures(&response),
        vec![batch["Records"][0]["messageId"].as_str().unwrap()]
    );

    let (handler, catalog, queue) = new_handler(&[("RETRY_BACKOFF_SECONDS", "0")]);
    throttle_web_prod(&catalog);
    let (batch, _) = throttled_batch("2");
    assert_eq!(failures(&run(&handler, batch, "r").await.unwrap()).len(), 1);
    assert!(queue.visibility().is_empty());
}

#[tokio::test]
async fn records_that_were_not_started_or_wait_behind_their_group_get_no_back_off() {
    let (handler, _catalog, queue) = new_handler(&[]);
    // The FIFO sample: the group under change is retried (back-off), its second record waits (none).
    let fifo = event("sqs-fifo-batch.json");
    let response = run(&handler, fifo.clone(), "r").await.unwrap();
    assert_eq!(failures(&response).len(), 2);
    let changed: Vec<String> = queue.visibility().into_iter().map(|(_, handle, _)| handle).collect();
    assert_eq!(changed, [fifo["Records"][3]["receiptHandle"].as_str().unwrap()]);
}
