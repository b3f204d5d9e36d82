//! Fleet runs and dry runs through the handler, with the in-memory fakes (seeded from the
//! emulator's seed: 300 fleet products, 100 of them tagged env=prod, 75 of those AVAILABLE
//! CloudFormation products — 14 skipped for their status, 11 for their type).

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use sc_action_runner::outcome::{Outcome, ResultMessage};
use sc_action_runner::token::{derive, digest};
use serde_json::{json, Value};

use support::{
    batch_of, config_with, event, failures, handler_with, run, sqs_record, throttled, FakeCatalog, FakeQueue,
    TestHandler,
};

const REQUESTS_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-requests";
const FLEET_PRODUCT: &str = "prod-fleet0000001";

fn fleet_handler(vars: &[(&str, &str)]) -> (TestHandler, Arc<FakeCatalog>, Arc<FakeQueue>) {
    let mut all = vec![("REQUESTS_QUEUE_URL", REQUESTS_QUEUE)];
    all.extend_from_slice(vars);
    handler_with(config_with(&all), FakeCatalog::seeded(), FakeQueue::default())
}

fn prod_fleet(extra: Value) -> Value {
    let mut select = json!({"tags": {"env": "prod"}, "productId": FLEET_PRODUCT});
    for (k, v) in extra.as_object().unwrap() {
        select[k] = v.clone();
    }
    json!({"select": select, "serviceActionName": "PatchOS", "parameters": {"RebootOption": ["NoReboot"]}})
}

/// The only result published so far.
fn only_result(queue: &FakeQueue) -> ResultMessage {
    let sent = queue.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent[0].clone()
}

// ---------------------------------------------------------------- fan-out

#[tokio::test]
async fn a_fleet_request_sends_one_child_per_target_in_id_order_and_publishes_its_summary() {
    let (handler, catalog, queue) = fleet_handler(&[]);
    let request = prod_fleet(json!({}));

    let response = run(&handler, batch_of("parent-1", &request), "req").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let parent = only_result(&queue);
    let fleet_run_id = derive(
        "parent-1",
        &sc_action_runner::request::parse_request(&request)
            .unwrap()
            .target
            .token_label(),
        "name:PatchOS",
    );
    assert_eq!(parent.outcome, Outcome::FannedOut);
    assert_eq!(parent.execute_token, fleet_run_id);
    assert_eq!(parent.fleet_run_id.as_deref(), Some(fleet_run_id.as_str()));
    assert_eq!(parent.provisioned_product_id, None);
    assert_eq!(parent.service_action_id, None, "the action was named by name");
    assert_eq!((parent.record_detail.as_ref(), parent.error.as_ref()), (None, None));
    let fleet = serde_json::to_value(parent.fleet.as_ref().unwrap()).unwrap();
    assert_eq!(fleet["candidates"], 100);
    assert_eq!(fleet["enqueued"], 75);
    assert_eq!(fleet["skipped"], json!({"status": 14, "type": 11, "notAllowed": 0}));
    let targets: Vec<String> = serde_json::from_value(fleet["targets"].clone()).unwrap();
    assert_eq!(targets.len(), 75);
    let mut sorted = targets.clone();
    sorted.sort();
    assert_eq!(targets, sorted, "targets in id order");

    // One child per target, to the requests queue, in the same order, and nothing executed yet.
    let messages = queue.messages();
    assert_eq!(messages.len(), 75);
    assert!(messages.iter().all(|(q, _, delay)| q == REQUESTS_QUEUE && *delay == 0));
    let children: Vec<&Value> = messages.iter().map(|(_, body, _)| body).collect();
    assert_eq!(
        children[0],
        &json!({"provisionedProductId": targets[0], "serviceActionName": "PatchOS",
                "parameters": {"RebootOption": ["NoReboot"]},
                "idempotencyKey": format!("{fleet_run_id}/{}", targets[0]), "fleetRunId": fleet_run_id})
    );
    let child_targets: Vec<&str> = children
        .iter()
        .map(|c| c["provisionedProductId"].as_str().unwrap())
        .collect();
    assert_eq!(child_targets, targets);
    assert!(catalog.executions().is_empty());
    assert_eq!(catalog.calls(), vec![format!("Search productId:{FLEET_PRODUCT}")]);
}

#[tokio::test]
async fn children_run_through_the_normal_path_once_each_even_when_the_parent_is_redelivered() {
    let (handler, catalog, queue) = fleet_handler(&[]);
    let parent = batch_of("parent-1", &prod_fleet(json!({"maxTargets": 80})));

    run(&handler, parent.clone(), "req-1").await.unwrap();
    run(&handler, parent, "req-2").await.unwrap();

    // The redelivered parent sent the very same children again.
    let messages = queue.messages();
    assert_eq!(messages.len(), 150);
    assert_eq!(messages[..75], messages[75..]);
    // Every child message (duplicates included) runs; each product's action executes once.
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (_, body, _))| sqs_record(&format!("child-{i}"), &body.to_string()))
        .collect();
    for chunk in records.chunks(10) {
        let response = run(&handler, json!({ "Records": chunk }), "req").await.unwrap();
        assert_eq!(failures(&response), Vec::<String>::new());
    }
    let executions = catalog.executions();
    assert_eq!(executions.len(), 75);
    let fleet_run_id = queue.sent()[0].execute_token.clone();
    let children: Vec<ResultMessage> = queue.sent().into_iter().skip(2).collect();
    assert_eq!(children.len(), 150);
    for child in &children {
        assert_eq!(child.outcome, Outcome::Executed);
        assert_eq!(child.fleet_run_id.as_deref(), Some(fleet_run_id.as_str()));
        let pp = child.provisioned_product_id.clone().unwrap();
        assert_eq!(
            child.execute_token,
            derive(&format!("{fleet_run_id}/{pp}"), &format!("id:{pp}"), "name:PatchOS")
        );
    }
}

#[tokio::test]
async fn more_targets_than_max_targets_rejects_the_run_and_sends_nothing() {
    let (handler, _catalog, queue) = fleet_handler(&[]);

    run(&handler, batch_of("p", &prod_fleet(json!({"maxTargets": 74}))), "req")
        .await
        .unwrap();

    let parent = only_result(&queue);
    assert_eq!(parent.outcome, Outcome::Rejected);
    let error = parent.error.unwrap();
    assert_eq!(error.code, "TooManyTargets");
    assert!(
        error.message.contains("75 targets") && error.message.contains("maxTargets 74"),
        "{}",
        error.message
    );
    assert_eq!(parent.fleet.unwrap().enqueued, 0);
    assert!(queue.messages().is_empty());
}

#[tokio::test]
async fn a_fleet_dry_run_reports_the_same_summary_and_sends_nothing() {
    let (handler, _catalog, queue) = fleet_handler(&[]);
    let mut request = prod_fleet(json!({}));
    request["dryRun"] = json!(true);

    run(&handler, batch_of("p", &request), "req").await.unwrap();

    let parent = only_result(&queue);
    assert_eq!(parent.outcome, Outcome::DryRun);
    let fleet = parent.fleet.unwrap();
    assert_eq!((fleet.candidates, fleet.enqueued), (100, 75));
    assert!(queue.messages().is_empty());
    // dryRun does not feed the token: a real run from the same message uses the same one.
    let mut real = request.clone();
    real.as_object_mut().unwrap().remove("dryRun");
    let (handler, _catalog, queue) = fleet_handler(&[]);
    run(&handler, batch_of("p", &real), "req").await.unwrap();
    assert_eq!(queue.sent()[0].execute_token, parent.execute_token);
}

#[tokio::test]
async fn without_a_requests_queue_a_fleet_request_is_refused_before_any_listing() {
    let (handler, catalog, queue) = handler_with(config_with(&[]), FakeCatalog::seeded(), FakeQueue::default());
    for dry_run in [false, true] {
        let mut request = prod_fleet(json!({}));
        request["dryRun"] = json!(dry_run);
        run(&handler, batch_of("p", &request), "req").await.unwrap();
    }
    assert!(queue
        .sent()
        .iter()
        .all(|r| r.error.as_ref().unwrap().code == "FleetRunsNotConfigured"));
    assert_eq!(queue.sent().len(), 2);
    assert!(catalog.calls().is_empty());
}

#[tokio::test]
async fn an_action_id_off_the_allow_list_rejects_the_run_before_listing() {
    let (handler, catalog, queue) = fleet_handler(&[("ALLOWED_SERVICE_ACTION_IDS", "act-restart00001")]);
    let request = json!({"select": {"productId": FLEET_PRODUCT}, "serviceActionId": "act-patchos00001"});

    run(&handler, batch_of("p", &request), "req").await.unwrap();

    assert_eq!(only_result(&queue).error.unwrap().code, "NotAllowed");
    assert!(catalog.calls().is_empty());
}

#[tokio::test]
async fn products_off_the_allow_list_are_skipped_and_counted() {
    let allowed = "pp-fleet00000001,pp-fleet00000004,pp-fleet00000099";
    let (handler, _catalog, queue) = fleet_handler(&[("ALLOWED_PROVISIONED_PRODUCT_IDS", allowed)]);
    let request = json!({"select": {"productId": FLEET_PRODUCT}, "serviceActionId": "act-patchos00001"});

    run(&handler, batch_of("p", &request), "req").await.unwrap();

    let parent = only_result(&queue);
    assert_eq!(parent.service_action_id.as_deref(), Some("act-patchos00001"));
    let fleet = parent.fleet.unwrap();
    assert_eq!(fleet.candidates, 300);
    assert_eq!(fleet.skipped.status + fleet.skipped.product_type, 42 + 33);
    assert_eq!(fleet.enqueued as usize + fleet.skipped.not_allowed as usize, 225);
    assert!(fleet.targets.iter().all(|t| allowed.contains(t.as_str())));
    let bodies: Vec<Value> = queue.messages().into_iter().map(|(_, b, _)| b).collect();
    assert_eq!(bodies.len() as u64, fleet.enqueued);
    assert!(bodies
        .iter()
        .all(|b| b["serviceActionId"] == "act-patchos00001" && b.get("parameters").is_none()));
}

#[tokio::test]
async fn a_throttled_listing_or_an_unsent_child_hands_the_parent_back() {
    let (handler, catalog, queue) = fleet_handler(&[]);
    catalog
        .search_faults
        .lock()
        .unwrap()
        .push(throttled("SearchProvisionedProducts"));
    let err = run(&handler, batch_of("p", &prod_fleet(json!({}))), "req")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "BatchFailed");
    assert!(queue.sent().is_empty());

    let refusing = FakeQueue {
        refuse_messages: true,
        ..Default::default()
    };
    let config = config_with(&[("REQUESTS_QUEUE_URL", REQUESTS_QUEUE)]);
    let (handler, _catalog, queue) = handler_with(config, FakeCatalog::seeded(), refusing);
    let err = run(&handler, batch_of("p", &prod_fleet(json!({}))), "req")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "BatchFailed");
    assert!(
        queue.sent().is_empty(),
        "no FANNED_OUT result before every child was sent"
    );
}

#[tokio::test]
async fn children_for_a_fifo_requests_queue_carry_their_group_and_deduplication_ids() {
    let fifo = "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-requests.fifo";
    let config = config_with(&[("REQUESTS_QUEUE_URL", fifo)]);
    let (handler, _catalog, queue) = handler_with(config, FakeCatalog::seeded(), FakeQueue::default());

    run(&handler, batch_of("p", &prod_fleet(json!({}))), "req")
        .await
        .unwrap();

    let fleet_run_id = queue.sent()[0].execute_token.clone();
    let sent = queue.messages.lock().unwrap().clone();
    assert_eq!(sent.len(), 75);
    for (_, message) in &sent {
        let body: Value = serde_json::from_str(&message.body).unwrap();
        let pp = body["provisionedProductId"].as_str().unwrap();
        let ids = message.fifo.as_ref().unwrap();
        assert_eq!(ids.group_id, pp);
        assert_eq!(ids.deduplication_id, digest(&format!("{fleet_run_id}/{pp}")));
        assert!(ids.deduplication_id.len() <= 128);
    }
}

// ---------------------------------------------------------------- dry run of one product

#[tokio::test]
async fn a_dry_run_checks_everything_reports_what_it_found_and_executes_nothing() {
    let (handler, catalog, queue) = fleet_handler(&[]);
    let request = json!({"provisionedProductName": "web-prod", "serviceActionName": "RotateLogs",
                         "parameters": {"RetentionDays": ["7"], "Typo": ["x"]}, "dryRun": true});

    let answer = run(&handler, request.clone(), "req-dry").await.unwrap();

    assert_eq!(answer["outcome"], "DRY_RUN");
    assert_eq!(answer["provisionedProductId"], "pp-webprod000001");
    assert_eq!(answer["serviceActionId"], "act-rotate000001");
    assert_eq!(
        answer["executeToken"],
        derive("req-dry", "name:web-prod", "name:RotateLogs"),
        "the token a real run from the same source would use"
    );
    assert_eq!(
        answer["dryRun"],
        json!({"productStatus": "AVAILABLE", "parameterKeys": ["RetentionDays", "Typo"],
               "actionParameters": ["RetentionDays", "LogGroups"], "unknownParameterKeys": ["Typo"],
               "wouldExecute": false})
    );
    assert!(
        !answer.to_string().contains("\"7\""),
        "no parameter value in the report"
    );
    assert!(!catalog.calls().iter().any(|c| c.starts_with("Execute")));
    assert_eq!(queue.sent().len(), 1);
}

#[tokio::test]
async fn a_dry_run_by_ids_describes_the_product_and_says_it_would_not_run_on_one_under_change() {
    let (handler, catalog, _queue) = fleet_handler(&[]);
    let ok = json!({"provisionedProductId": "pp-webprod000001", "serviceActionId": "act-restart00001", "dryRun": true});
    let answer = run(&handler, ok, "r1").await.unwrap();
    assert_eq!(answer["dryRun"]["wouldExecute"], true);
    assert_eq!(answer["dryRun"]["unknownParameterKeys"], json!([]));

    let busy =
        json!({"provisionedProductId": "pp-migrating0001", "serviceActionId": "act-restart00001", "dryRun": true});
    let answer = run(&handler, busy, "r2").await.unwrap();
    assert_eq!(answer["dryRun"]["productStatus"], "UNDER_CHANGE");
    assert_eq!(answer["dryRun"]["wouldExecute"], false);
    assert!(catalog.executions().is_empty());
}

#[tokio::test]
async fn a_dry_run_is_rejected_exactly_as_a_real_run_would_be_and_is_never_tracked() {
    let vars = [
        ("ALLOWED_SERVICE_ACTION_IDS", "act-restart00001"),
        ("TRACKING_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/track"),
    ];
    let (handler, _catalog, queue) = fleet_handler(&vars);
    let not_allowed = json!({"provisionedProductName": "web-prod", "serviceActionName": "RotateLogs", "dryRun": true});
    let answer = run(&handler, not_allowed.clone(), "r1").await.unwrap();
    let mut real = not_allowed;
    real.as_object_mut().unwrap().remove("dryRun");
    let real_answer = run(&handler, real, "r1").await.unwrap();
    assert_eq!(answer, real_answer);
    assert_eq!(answer["error"]["code"], "NotAllowed");

    let missing =
        json!({"provisionedProductId": "pp-nothere0000001", "serviceActionId": "act-restart00001", "dryRun": true});
    assert_eq!(
        run(&handler, missing, "r2").await.unwrap()["error"]["code"],
        "ResourceNotFoundException"
    );

    let fine =
        json!({"provisionedProductId": "pp-webprod000001", "serviceActionId": "act-restart00001", "dryRun": true});
    assert_eq!(run(&handler, fine, "r3").await.unwrap()["outcome"], "DRY_RUN");
    assert!(queue.messages().is_empty(), "a dry run is never tracked");
}

#[tokio::test]
async fn the_sample_events_still_run_as_before_with_fleet_runs_configured() {
    let (handler, _catalog, queue) = fleet_handler(&[]);
    let response = run(&handler, event("sqs-batch.json"), "req").await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    assert!(queue
        .sent()
        .iter()
        .all(|r| r.outcome == Outcome::Executed && r.fleet_run_id.is_none()));
}
