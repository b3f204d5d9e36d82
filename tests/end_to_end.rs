//! The built binary end to end, through the Lambda Runtime API (cargo-lambda, behind the local
//! loop's proxy that gives every invocation a real deadline) against moto SQS and the Service
//! Catalog emulator, with the local SQS event source mapping bringing back what the function sends
//! to its own requests queue: tracking messages, fleet children, transformed AWS events.
//!
//! - issue 9: a record slower than the deadline is abandoned; the invocation answers in time;
//! - issue 10: executions followed to SUCCEEDED, FAILED and TIMED_OUT through the requests queue;
//! - issue 11: a fleet fanned out through the requests queue, more than one page, a redelivered
//!   parent, a fleet larger than maxTargets;
//! - issue 15: AWS events put on moto's EventBridge become actions on the product that owns the
//!   resource.
//!
//! Every test needs `moto_server` and `cargo-lambda` on PATH, so each is `#[ignore]`d with that
//! reason: `cargo test` alone reports them as ignored; `make test` runs them (`--include-ignored`),
//! and then a missing tool fails them.

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sc_action_runner::token::derive;
use sc_local_loop::esm::{EsmOptions, EventSourceMapping};
use sc_local_loop::eventbridge::{load_presets, read_json, EventBridge, TargetQueue};
use sc_local_loop::sc_emulator::{EmulatorConfig, Fault};
use sc_local_loop::{LocalLoop, LoopOptions, RequestsQueue, Tools};
use serde_json::{json, Value};
use support::{failures, sqs_record};

const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
const WEB_PROD: &str = "pp-webprod000001";
const WEB_STAGING: &str = "pp-webstag000001";
const WEB_CANARY: &str = "pp-webcanary0001";

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails (never passes) when the tools are missing: these tests only run when asked for.
fn require_tools() {
    if let Err(e) = Tools::find() {
        panic!("this test needs moto_server and cargo-lambda: {e}");
    }
}

/// A loop whose function has a requests queue (named in `url_env`) and a real deadline.
fn options(url_env: &[&str], env: &[(&str, &str)]) -> LoopOptions {
    require_tools();
    let mut queue = RequestsQueue::new("sc-action-requests", 5);
    for name in url_env {
        queue = queue.url_in(*name);
    }
    let mut options = LoopOptions::new(env!("CARGO_BIN_EXE_sc-action-runner"), project());
    options.emulator = EmulatorConfig {
        progress_ms: 2_000,
        ..EmulatorConfig::default()
    };
    options.function_timeout = Some(Duration::from_secs(20));
    options.invoked_function_arn = Some(options.function_arn());
    options.requests_queue = Some(queue);
    for (k, v) in env {
        options = options.env(*k, *v);
    }
    options
}

/// Sends `bodies` to the requests queue; answers their message ids, in order.
async fn send(local: &LocalLoop, bodies: &[Value]) -> Vec<String> {
    let queue = local.requests_queue().unwrap();
    let mut ids = Vec::new();
    for body in bodies {
        let sent = local
            .sqs()
            .send_message()
            .queue_url(&queue.url)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
        ids.push(sent.message_id().unwrap().to_owned());
    }
    ids
}

/// Runs the event source mapping on the requests queue until it stays empty (bounded), and reads
/// every result published meanwhile.
async fn drain(local: &LocalLoop, within: Duration) -> Vec<Value> {
    let mut esm_options = EsmOptions::for_queue(local.requests_queue().unwrap());
    esm_options.visibility_timeout = Some(Duration::from_secs(30));
    esm_options.function_timeout = Duration::from_secs(20);
    let esm = EventSourceMapping::new(local, esm_options).unwrap();
    let ran = tokio::time::timeout(within, esm.run_until_empty(3, Duration::from_millis(500))).await;
    assert!(
        ran.is_ok(),
        "the requests queue did not drain within {within:?}: {:?}",
        esm.counters()
    );
    local.take_results().await.unwrap()
}

fn by_outcome<'a>(results: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    results.iter().filter(|r| r["outcome"] == outcome).collect()
}

/// How many distinct executions (tokens) have a result with `outcome`. Results are delivered at
/// least once, so a copy may come along; it carries the same token.
fn distinct(results: &[Value], outcome: &str) -> usize {
    let tokens: std::collections::BTreeSet<&str> = by_outcome(results, outcome)
        .iter()
        .map(|r| r["executeToken"].as_str().unwrap())
        .collect();
    tokens.len()
}

// ---------------------------------------------------------------- issue 9: the deadline

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_record_slower_than_the_deadline_is_handed_back_and_the_rest_answer_in_time() {
    // GIVEN a function with a 4 s timeout and a 1 s margin, and Service Catalog answering
    // web-staging's Execute only after 8 s (once)
    let mut options = options(&[], &[("DEADLINE_MARGIN_MS", "1000")]);
    options.function_timeout = Some(Duration::from_secs(4));
    let local = LocalLoop::start(options).await.unwrap();
    let mut slow = Fault::latency(EXECUTE, 8_000).when("ProvisionedProductId", WEB_STAGING);
    slow.count = Some(1);
    local.emulator().inject(slow);
    let records: Vec<Value> = (0..10)
        .map(|i| {
            let pp = if i == 4 { WEB_STAGING } else { WEB_PROD };
            sqs_record(
                &format!("m-{i}"),
                &json!({"provisionedProductId": pp, "serviceActionId": "act-rotate000001"}).to_string(),
            )
        })
        .collect();
    let batch = json!({ "Records": records });

    // WHEN the batch is invoked
    let started = Instant::now();
    let response = local.invoke_within(&batch, Duration::from_secs(10)).await.unwrap();
    let took = started.elapsed();

    // THEN it answered before its deadline (4 s from when the runtime took the invocation, a moment
    // after this call began; the slow call alone would have taken 8 s), only the slow record back
    assert!(took < Duration::from_millis(4_500), "answered after {took:?}");
    assert!(
        took >= Duration::from_millis(2_900),
        "the slow record had until 3 s: {took:?}"
    );
    assert_eq!(failures(&response), vec!["m-4"]);
    let results = local.take_results().await.unwrap();
    assert_eq!(results.len(), 9, "{results:?}");
    assert!(results
        .iter()
        .all(|r| r["outcome"] == "EXECUTED" && r["source"]["id"] != "m-4"));

    // AND on redelivery (after the late call had time to land) it executes once
    tokio::time::sleep(Duration::from_secs(6)).await;
    let redelivery = json!({ "Records": [batch["Records"][4].clone()] });
    let response = local.invoke_within(&redelivery, Duration::from_secs(10)).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let result = local.take_results().await.unwrap().pop().unwrap();
    assert_eq!(result["outcome"], "EXECUTED");
    let token = derive("m-4", &format!("id:{WEB_STAGING}"), "id:act-rotate000001");
    assert_eq!(result["executeToken"], token.as_str());
    assert_eq!(local.emulator().executions_for(&token), 1);
}

// ---------------------------------------------------------------- issue 10: completion tracking

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn executions_are_followed_through_the_requests_queue_to_their_final_outcome() {
    let env = [("TRACK_FIRST_DELAY_SECONDS", "1"), ("TRACK_TIMEOUT_SECONDS", "6")];
    let local = LocalLoop::start(options(&["TRACKING_QUEUE_URL"], &env)).await.unwrap();
    let requests = [
        json!({"provisionedProductId": WEB_CANARY, "serviceActionName": "HealthCheck"}),
        json!({"provisionedProductId": WEB_CANARY, "serviceActionName": "CreateSnapshot"}),
        json!({"provisionedProductId": WEB_CANARY, "serviceActionName": "DrainConnections"}),
        json!({"provisionedProductName": "web-prod", "serviceActionName": "RestartService"}),
    ];
    let ids = send(&local, &requests).await;

    let results = drain(&local, Duration::from_secs(90)).await;

    // Two messages per execution: EXECUTED, then exactly one final outcome with the same token.
    let mut by_token: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &results {
        by_token
            .entry(r["executeToken"].as_str().unwrap().to_owned())
            .or_default()
            .push(r);
    }
    assert_eq!(by_token.len(), 4, "{results:#?}");
    let final_of = |id: &str| -> (&Value, &Value) {
        let (_, pair) = by_token
            .iter()
            .find(|(_, rs)| rs.iter().any(|r| r["source"]["id"] == id))
            .unwrap();
        let executed = pair.iter().find(|r| r["outcome"] == "EXECUTED").unwrap();
        let finals: Vec<&&Value> = pair.iter().filter(|r| r["outcome"] != "EXECUTED").collect();
        assert!(!finals.is_empty(), "a final outcome: {pair:#?}");
        // At least once: a copy carries the same outcome and RecordId.
        for copy in &finals {
            assert_eq!(copy["outcome"], finals[0]["outcome"], "{pair:#?}");
            assert_eq!(copy["source"], executed["source"]);
            assert_eq!(copy["recordDetail"]["RecordId"], executed["recordDetail"]["RecordId"]);
        }
        (executed, finals[0])
    };
    let (_, healthy) = final_of(&ids[0]);
    assert_eq!(healthy["outcome"], "SUCCEEDED");
    assert_eq!(healthy["error"], Value::Null);
    assert!(!healthy["recordOutputs"].as_array().unwrap().is_empty(), "{healthy}");
    let (_, failed) = final_of(&ids[1]);
    assert_eq!(failed["outcome"], "FAILED");
    assert_eq!(failed["error"]["code"], "AccessDeniedException");
    assert_eq!(
        failed["error"]["message"],
        failed["recordDetail"]["RecordErrors"][0]["Description"]
    );
    let (_, stuck) = final_of(&ids[2]);
    assert_eq!(stuck["outcome"], "TIMED_OUT");
    assert_eq!(stuck["error"]["code"], "TrackingTimedOut");
    let (executed, restarted) = final_of(&ids[3]);
    assert_eq!(restarted["outcome"], "SUCCEEDED");
    assert_eq!(restarted["provisionedProductId"], executed["provisionedProductId"]);
    assert_eq!(local.emulator().counters().executions.len(), 4);
}

// ---------------------------------------------------------------- issue 11: fleet runs

fn fleet_request(max_targets: u32) -> Value {
    json!({"select": {"tags": {"env": "prod"}, "maxTargets": max_targets},
           "serviceActionName": "PatchOS", "parameters": {"RebootOption": ["NoReboot"]}})
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_fleet_fans_out_through_the_requests_queue_and_a_redelivered_parent_runs_nothing_twice() {
    let local = LocalLoop::start(options(&["REQUESTS_QUEUE_URL"], &[])).await.unwrap();
    // Tags alone: the listing has every page of the seed's 304 products (4 pages of 100).
    let parent_id = send(&local, &[fleet_request(200)]).await.remove(0);

    let results = drain(&local, Duration::from_secs(120)).await;

    let parent = by_outcome(&results, "FANNED_OUT");
    assert_eq!(distinct(&results, "FANNED_OUT"), 1, "{results:?}");
    let parent = parent[0].clone();
    assert_eq!(parent["source"]["id"], parent_id.as_str());
    let fleet = &parent["fleet"];
    // env=prod: the 100 fleet products and web-prod and db-migrating; 76 of them eligible.
    assert_eq!(fleet["candidates"], 102, "{fleet}");
    assert_eq!(fleet["enqueued"], 76, "{fleet}");
    assert_eq!(fleet["skipped"], json!({"status": 15, "type": 11, "notAllowed": 0}));
    let fleet_run_id = parent["executeToken"].as_str().unwrap().to_owned();
    // The children ran through the normal path: PatchOS on the fleet's products, and a rejection
    // for web-prod, whose artifact has no PatchOS.
    let children: Vec<&Value> = results.iter().filter(|r| r["outcome"] != "FANNED_OUT").collect();
    assert!(children.iter().all(|c| c["fleetRunId"] == fleet_run_id.as_str()));
    assert_eq!(distinct(&results, "EXECUTED"), 75);
    assert_eq!(distinct(&results, "REJECTED"), 1);
    let refused = by_outcome(&results, "REJECTED");
    assert_eq!(refused[0]["provisionedProductId"], WEB_PROD);
    assert_eq!(
        refused[0]["error"]["code"], "ResourceNotFoundException",
        "no PatchOS on web-prod's artifact"
    );
    let executions = local.emulator().counters().executions_by_product;
    assert_eq!(executions.len(), 75);
    assert!(executions.values().all(|n| *n == 1));

    // WHEN the parent is delivered again (same message id)
    let again = json!({"Records": [json!({
        "messageId": parent_id, "receiptHandle": "again", "body": fleet_request(200).to_string(),
        "attributes": {"ApproximateReceiveCount": "2"}, "eventSource": "aws:sqs",
        "eventSourceARN": local.requests_queue().unwrap().arn, "awsRegion": "us-east-1"})]});
    let response = local.invoke(&again).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let rerun = drain(&local, Duration::from_secs(120)).await;

    // THEN the same children came back, and no product ran twice
    let parent_again = by_outcome(&rerun, "FANNED_OUT");
    assert_eq!(parent_again[0]["executeToken"], fleet_run_id.as_str());
    assert_eq!(distinct(&rerun, "EXECUTED"), 75);
    let first_tokens = |rs: &[Value]| -> std::collections::BTreeSet<String> {
        by_outcome(rs, "EXECUTED")
            .iter()
            .map(|r| r["executeToken"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        first_tokens(&rerun),
        first_tokens(&results),
        "the same children, the same tokens"
    );
    let executions = local.emulator().counters().executions_by_product;
    assert_eq!(executions.len(), 75);
    assert!(executions.values().all(|n| *n == 1), "{executions:?}");
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_fleet_larger_than_max_targets_runs_nothing() {
    let local = LocalLoop::start(options(&["REQUESTS_QUEUE_URL"], &[])).await.unwrap();
    send(&local, &[fleet_request(50)]).await;

    let results = drain(&local, Duration::from_secs(60)).await;

    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["error"]["code"], "TooManyTargets");
    assert_eq!(results[0]["fleet"]["enqueued"], 0);
    assert!(local.emulator().counters().executions.is_empty());
}

// ---------------------------------------------------------------- issue 15: AWS events

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn aws_events_on_the_bus_become_actions_on_the_product_that_owns_the_resource() {
    let local = LocalLoop::start(options(&[], &[])).await.unwrap();
    let dir = project().join("events/aws");
    let cases = read_json(&dir.join("cases.json")).unwrap();
    let presets = load_presets(&dir).unwrap();
    let bus = EventBridge::connect(local.moto_url()).await;
    let queue = local.requests_queue().unwrap();
    let target = TargetQueue {
        url: queue.url.clone(),
        arn: queue.arn.clone(),
    };
    let ec2 = &presets["ec2-instance-stopped"];
    let transformer = ec2.transformer_for("RestartService", "aws");
    bus.route_to_queue("ec2-stopped", &ec2.event_pattern, Some(&transformer), &target)
        .await
        .unwrap();

    // Every EC2 case of cases.json goes on the bus; the rule transforms the matching ones into
    // requests on the requests queue.
    let mut expected: HashMap<String, Value> = HashMap::new();
    for case in cases["cases"].as_array().unwrap() {
        if case["preset"] != "ec2-instance-stopped" {
            continue;
        }
        let sample = read_json(&dir.join(case["sample"].as_str().unwrap())).unwrap();
        let event_id = bus.put_event(&sample).await.unwrap();
        if !case["expect"].is_null() {
            expected.insert(event_id, case["expect"].clone());
        }
    }
    let results = drain(&local, Duration::from_secs(60)).await;

    // One execution per matching event; a copy of a result (at least once) agrees with the first.
    let mut by_token: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in &results {
        by_token.entry(r["executeToken"].as_str().unwrap()).or_default().push(r);
    }
    assert_eq!(
        by_token.len(),
        expected.len(),
        "one execution per matching event: {results:#?}"
    );
    for copies in by_token.values() {
        assert!(
            copies.iter().all(|c| c["outcome"] == copies[0]["outcome"]),
            "{copies:#?}"
        );
    }
    for (event_id, expect) in &expected {
        let token_of = |r: &&Value| {
            let arn = r["resourceArn"].as_str().unwrap();
            r["executeToken"] == derive(event_id, &format!("resourceArn:{arn}"), "name:RestartService").as_str()
        };
        let result = results
            .iter()
            .find(token_of)
            .unwrap_or_else(|| panic!("no result for {event_id}"));
        assert_eq!(result["outcome"], expect["outcome"], "{result}");
        if let Some(code) = expect.get("code") {
            assert_eq!(&result["error"]["code"], code, "{result}");
        }
        for key in ["provisionedProductId", "serviceActionId"] {
            if let Some(id) = expect.get(key) {
                assert_eq!(&result[key], id, "{result}");
            }
        }
    }
    assert_eq!(
        local.emulator().counters().executions_by_product.get(WEB_PROD),
        Some(&1)
    );
}
