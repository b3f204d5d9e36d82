//! Section 2, fleet runs and dry runs (issue 11): PatchOS on every env=prod product of the fleet —
//! first as a dry run, then one product's dry run, then for real through the requests queue (the
//! parent's FANNED_OUT summary, its children's outcomes counted), then the parent delivered again,
//! which must start no second execution.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use sc_local_loop::esm::sqs_event;
use sc_local_loop::REGION;
use serde_json::{json, Value};

use super::deployed::Deployed;
use super::inbox::{tracked_for, Received};
use super::show::{heading, result_line, short, step};

/// What the seed's fleet has for `env=prod` on prod-fleet0000001 (emulator/README.md, "The fleet").
const CANDIDATES: u64 = 100;
const ELIGIBLE: u64 = 75;
const SKIPPED_STATUS: u64 = 14;
const SKIPPED_TYPE: u64 = 11;

const PARENT_WITHIN: Duration = Duration::from_secs(20);
const CHILDREN_WITHIN: Duration = Duration::from_secs(60);

fn fleet_request() -> Value {
    json!({"select": {"tags": {"env": "prod"}, "productId": "prod-fleet0000001"}, "serviceActionName": "PatchOS"})
}

fn with_dry_run(mut request: Value) -> Value {
    request["dryRun"] = Value::Bool(true);
    request
}

pub(crate) async fn run(demo: &mut Deployed<'_>) -> Result<(), String> {
    heading(
        "2. Fleet runs and dry runs (issue 11)",
        "One request selects many products by tags and product; the function lists them \
         (SearchProvisionedProducts), skips those whose status or type cannot run an action, and sends one child \
         request per target to the requests queue, where each runs (and is tracked) like any request. A dry run \
         does every check and changes nothing.",
    );
    let dry_fleet = fleet_dry_run(demo).await?;
    product_dry_run(demo).await?;
    let Some((parent_id, parent)) = fleet_run(demo, &dry_fleet).await? else {
        return Ok(());
    };
    redeliver_parent(demo, &parent_id, &parent).await
}

/// The fleet as a dry run, invoked directly: the `fleet` block a real run would publish, nothing sent.
async fn fleet_dry_run(demo: &mut Deployed<'_>) -> Result<Value, String> {
    let request = with_dry_run(fleet_request());
    step(&format!("fleet dry run (direct invocation): {request}"));
    let before = demo.executions();
    let answer = demo.invoke(&request).await?;
    println!("   {}", result_line(&answer));
    let fleet = answer["fleet"].clone();
    let n = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    demo.report
        .expect(answer["outcome"] == "DRY_RUN", "the fleet dry run answers DRY_RUN");
    demo.report.expect(
        n(&fleet["candidates"]) == CANDIDATES
            && n(&fleet["enqueued"]) == ELIGIBLE
            && n(&fleet["skipped"]["status"]) == SKIPPED_STATUS
            && n(&fleet["skipped"]["type"]) == SKIPPED_TYPE,
        format!(
            "the dry run finds {CANDIDATES} candidates and would enqueue {ELIGIBLE} (skipping {SKIPPED_STATUS} for status, {SKIPPED_TYPE} for type), got {fleet}"
        ),
    );
    let after = demo.executions();
    println!(
        "   nothing sent, nothing run: {} new executions in Service Catalog",
        after - before
    );
    demo.report
        .expect(after == before, "a fleet dry run starts no execution");
    Ok(fleet)
}

/// One product's dry run: the product's status and the action's parameters, never Execute.
async fn product_dry_run(demo: &mut Deployed<'_>) -> Result<(), String> {
    let request = json!({"provisionedProductId": "pp-fleet00000001", "serviceActionName": "PatchOS",
                         "parameters": {"RebootOption": ["NoReboot"]}, "dryRun": true});
    step("one product's dry run (direct invocation): PatchOS on pp-fleet00000001, parameter RebootOption");
    let before = demo.executions();
    let answer = demo.invoke(&request).await?;
    println!("   {}", result_line(&answer));
    demo.report.expect(
        answer["outcome"] == "DRY_RUN"
            && answer["dryRun"]["wouldExecute"] == true
            && answer["dryRun"]["productStatus"] == "AVAILABLE",
        format!("the one-product dry run says it would execute, got {answer}"),
    );
    demo.report
        .expect(demo.executions() == before, "a one-product dry run starts no execution");
    Ok(())
}

/// The fleet for real, through the requests queue: the parent's FANNED_OUT result, then every
/// child EXECUTED and tracked to its end. Returns the parent's message id and body.
async fn fleet_run(demo: &mut Deployed<'_>, dry_fleet: &Value) -> Result<Option<(String, Value)>, String> {
    let request = fleet_request();
    step(&format!(
        "the same fleet for real, sent to the requests queue: {request}"
    ));
    let parent_id = demo.send_request(&request).await?;
    let found = demo
        .inbox
        .wait_until(PARENT_WITHIN, |inbox| {
            inbox.first_for_source(&parent_id, "FANNED_OUT").is_some()
        })
        .await?;
    let Some(parent) = demo.inbox.first_for_source(&parent_id, "FANNED_OUT").cloned() else {
        demo.report.expect(
            found,
            format!(
                "a FANNED_OUT result for the parent within {} s",
                PARENT_WITHIN.as_secs()
            ),
        );
        return Ok(None);
    };
    println!("   {}", result_line(&parent.result));
    let fleet = &parent.result["fleet"];
    demo.report.expect(
        fleet == dry_fleet,
        "the real run's fleet block is the dry run's, word for word",
    );
    let run_id = parent.token().to_owned();
    let enqueued = fleet["enqueued"].as_u64().unwrap_or(0) as usize;
    let finished = demo
        .inbox
        .wait_until(CHILDREN_WITHIN, |inbox| {
            let executed = inbox.of_fleet_run(&run_id, "EXECUTED");
            tokens(&executed).len() >= enqueued && executed.iter().all(|e| inbox.final_for(e).is_some())
        })
        .await?;
    demo.report.expect(
        finished,
        format!(
            "all {enqueued} children EXECUTED and tracked to the end within {} s",
            CHILDREN_WITHIN.as_secs()
        ),
    );
    show_children(demo, &parent, fleet);
    Ok(Some((parent_id, request)))
}

/// The distinct execute tokens of some results.
fn tokens(results: &[&Received]) -> BTreeSet<String> {
    results.iter().map(|r| r.token().to_owned()).collect()
}

/// Counts the children's outcomes and checks them against the parent's targets.
fn show_children(demo: &mut Deployed<'_>, parent: &Received, fleet: &Value) {
    let run_id = parent.token();
    // One EXECUTED result per child: SQS delivers at least once, so a child may have run twice
    // (same token, same record; its copy is not another execution).
    let mut seen = BTreeSet::new();
    let executed: Vec<&Received> = demo
        .inbox
        .of_fleet_run(run_id, "EXECUTED")
        .into_iter()
        .filter(|e| seen.insert(e.token()))
        .collect();
    let finals: Vec<(&Received, &Received)> = executed
        .iter()
        .filter_map(|e| demo.inbox.final_for(e).map(|f| (*e, f)))
        .collect();
    let mut by_outcome = std::collections::BTreeMap::<&str, usize>::new();
    for (_, last) in &finals {
        *by_outcome.entry(last.outcome()).or_default() += 1;
    }
    let outcomes: Vec<String> = by_outcome.iter().map(|(o, n)| format!("{n} {o}")).collect();
    let times: Vec<f64> = finals.iter().map(|(e, f)| tracked_for(e, f).as_secs_f64()).collect();
    let (fastest, slowest) = times
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
    let all_done = finals
        .iter()
        .map(|(_, f)| f.sent_ms)
        .max()
        .unwrap_or(parent.sent_ms)
        .saturating_sub(parent.sent_ms);
    println!(
        "   children (fleetRunId {}): {} EXECUTED, then {}; tracking took {fastest:.1}–{slowest:.1} s each, the last final result {:.1} s after the parent's",
        short(run_id),
        executed.len(),
        outcomes.join(", "),
        all_done as f64 / 1000.0
    );
    let products: BTreeSet<&str> = executed
        .iter()
        .filter_map(|e| e.result["provisionedProductId"].as_str())
        .collect();
    let targets: BTreeSet<&str> = fleet["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    demo.report.expect(
        products == targets && targets.len() as u64 == ELIGIBLE,
        format!(
            "the children ran on exactly the {} targets the parent listed (ran on {})",
            targets.len(),
            products.len()
        ),
    );
    demo.report.expect(
        by_outcome.get("SUCCEEDED") == Some(&targets.len()) && by_outcome.len() == 1,
        format!(
            "every child ends SUCCEEDED (PatchOS succeeds), got {}",
            outcomes.join(", ")
        ),
    );
}

/// The parent's message delivered again (same message id and body, as SQS does when an
/// acknowledgement is lost): the same fleet run id, the same children, and no second execution.
async fn redeliver_parent(demo: &mut Deployed<'_>, parent_id: &str, request: &Value) -> Result<(), String> {
    step(&format!(
        "the parent delivered again (same message id {}), as SQS does after a lost acknowledgement",
        short(parent_id)
    ));
    let Some(parent) = demo.inbox.first_for_source(parent_id, "FANNED_OUT").cloned() else {
        return Ok(());
    };
    let run_id = parent.token().to_owned();
    let enqueued = parent.result["fleet"]["enqueued"].as_u64().unwrap_or(0) as usize;
    let before = demo.local.emulator().counters();
    let event = redelivery_event(parent_id, request, &demo.requests.arn);
    let answer = demo.invoke(&event).await?;
    println!("   response: batchItemFailures: {}", answer["batchItemFailures"]);
    demo.inbox
        .wait_until(CHILDREN_WITHIN, |inbox| {
            inbox.with_token(&run_id, "FANNED_OUT").len() >= 2
                && inbox.of_fleet_run(&run_id, "EXECUTED").len() >= 2 * enqueued
                && inbox.finals_of_fleet_run(&run_id).len() >= 2 * enqueued
        })
        .await?;
    let settled = demo.settle(CHILDREN_WITHIN).await?;
    let copies = demo.inbox.with_token(&run_id, "FANNED_OUT");
    if let Some(again) = copies.get(1) {
        println!("   {}", result_line(&again.result));
    }
    println!(
        "   children: {} EXECUTED and {} final results in all: the first run's and their copies (same tokens, same records)",
        demo.inbox.of_fleet_run(&run_id, "EXECUTED").len(),
        demo.inbox.finals_of_fleet_run(&run_id).len()
    );
    let after = demo.local.emulator().counters();
    let fleet_products: Vec<u64> = after
        .executions_by_product
        .iter()
        .filter(|(p, _)| p.starts_with("pp-fleet"))
        .map(|(_, n)| *n)
        .collect();
    let new: u64 = after.executions.values().sum::<u64>() - before.executions.values().sum::<u64>();
    println!(
        "   Service Catalog: {new} new executions; {} fleet products executed, {} of them exactly once",
        fleet_products.len(),
        fleet_products.iter().filter(|n| **n == 1).count()
    );
    demo.report.expect(
        answer["batchItemFailures"] == json!([]),
        "the redelivered parent is acknowledged",
    );
    demo.report.expect(
        copies.len() >= 2,
        "the redelivered parent publishes FANNED_OUT with the same fleet run id",
    );
    demo.report
        .expect(settled, "the requests queue drains after the redelivery");
    demo.report
        .expect(new == 0, "the redelivered parent starts no execution");
    demo.report.expect(
        copies_name_the_same_records(&demo.inbox.of_fleet_run(&run_id, "EXECUTED")),
        "each child's EXECUTED copies name the same record",
    );
    demo.report.expect(
        fleet_products.len() as u64 == ELIGIBLE && fleet_products.iter().all(|n| *n == 1),
        "executions per fleet product: all 1",
    );
    Ok(())
}

/// Whether all EXECUTED results of one token name one and the same record.
fn copies_name_the_same_records(executed: &[&Received]) -> bool {
    let mut records = std::collections::BTreeMap::<&str, &Value>::new();
    executed.iter().all(|e| {
        *records
            .entry(e.token())
            .or_insert(&e.result["recordDetail"]["RecordId"])
            == &e.result["recordDetail"]["RecordId"]
    })
}

/// The SQS event Lambda would send for the parent's message delivered a second time.
fn redelivery_event(message_id: &str, request: &Value, queue_arn: &str) -> Value {
    let message = Message::builder()
        .message_id(message_id)
        .receipt_handle("redelivered-parent")
        .body(request.to_string())
        .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
        .build();
    sqs_event(&[message], queue_arn, REGION)
}
