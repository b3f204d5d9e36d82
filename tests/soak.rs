//! The fault and load test (issue 6): nothing lost, nothing run twice.
//!
//! The built binary runs under cargo-lambda's Runtime API against moto SQS and the Service Catalog
//! emulator, and the local loop's SQS event source mapping (`sc_local_loop::EventSourceMapping`)
//! feeds it: batches of up to 10 from a requests queue, several invocations at once, what succeeded
//! deleted, the rest left to reappear after the visibility timeout; moto's RedrivePolicy moves a
//! message to the dead-letter queue once it was received `MAX_RECEIVE` times.
//!
//! At the same time: 20% throttling and 5% HTTP 500 on Execute, latency spikes past the SDK's
//! attempt timeout and dropped connections on every Service Catalog call, a window in which the
//! results queue cannot be reached, execution environments killed mid-invocation (a Lambda timeout:
//! the whole batch reappears), and one environment so close to its deadline that it hands records
//! back unstarted.
//!
//! Then it checks, prints and asserts: every request ends as exactly one EXECUTED or REJECTED result
//! or one DLQ message; the emulator ran each ExecuteToken at most once and no request under two
//! tokens; a result delivered twice carries the same token and RecordId; and prints the counts and
//! messages per second.
//!
//! Size: `SOAK_REQUESTS` (default 400, what CI runs); `make soak` runs 10,000. Needs `moto_server`
//! and `cargo-lambda` on PATH; without them (and without SC_REQUIRE_LOCAL_LOOP) it says it is skipped.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use sc_action_runner::token::derive as execute_token;
use sc_local_loop::sc_emulator::{EmulatorConfig, Fault};
use sc_local_loop::{
    queue_depth, EsmOptions, EventSourceMapping, FunctionProcess, LocalLoop, LoopOptions, OutageProxy, Tools,
};
use serde_json::{json, Value};

const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
const ANY: &str = "*";

/// The ESM's view of the requests queue.
const VISIBILITY_TIMEOUT_S: u64 = 5;
const MAX_RECEIVE: u32 = 5;
/// Invocations in flight at once (the ESM's concurrency), and function processes serving them.
const INVOKERS: usize = 4;
const KILLABLE_WORKERS: usize = 2;
/// The function's timeout as the ESM sees it: no answer by then counts as a failed invocation.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(20);
/// The SDK gives up an attempt after this long; latency spikes last longer.
const SDK_ATTEMPT_TIMEOUT_MS: u64 = 1000;
const LATENCY_SPIKE_MS: u64 = 1500;
/// cargo-lambda watch gives every invocation 600 s; this margin leaves the deadline worker 100 ms.
const DEADLINE_WORKER_MARGIN_MS: &str = "599900";
const RESULTS_OUTAGE: Duration = Duration::from_secs(6);
/// Requests waiting or in flight at most: moto slows down badly as a queue grows past a few
/// thousand messages, so requests are fed in as others settle (a steady load, as in production).
const BACKLOG: usize = 400;

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn requested_size() -> usize {
    std::env::var("SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 100)
        .unwrap_or(400)
}

/// What a request is meant to end as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// Valid, by ids: EXECUTED.
    ById,
    /// Valid, by names (DescribeProvisionedProduct and a paged action lookup first): EXECUTED.
    ByName,
    /// Malformed, or refused by the API as it stands: REJECTED, never executed.
    Invalid,
    /// For the UNDER_CHANGE product: retried (InvalidStateException) until it lands in the DLQ.
    UnderChange,
}

struct Request {
    kind: Kind,
    body: String,
    /// The ExecuteToken labels the function must derive (`""` for a body that does not parse).
    labels: (String, String),
}

/// Request `i`: 70% by ids, 15% by names, 14% invalid (seven ways), 1% for the UNDER_CHANGE product.
fn request(i: usize) -> Request {
    let ids = |pp: &str, act: &str| (format!("id:{pp}"), format!("id:{act}"));
    let unparsed = || (String::new(), String::new());
    let (kind, body, labels) = match i % 100 {
        0..=69 => {
            let pp = ["pp-webprod000001", "pp-webstag000001"][i % 2];
            let act = ["act-restart00001", "act-rotate000001"][(i / 2) % 2];
            let body =
                json!({"provisionedProductId": pp, "serviceActionId": act, "parameters": {"Seq": [i.to_string()]}});
            (Kind::ById, body.to_string(), ids(pp, act))
        }
        70..=84 => {
            let pp = ["web-prod", "web-staging"][i % 2];
            let act = ["RestartService", "RotateLogs"][(i / 2) % 2];
            let body = json!({"provisionedProductName": pp, "serviceActionName": act});
            (
                Kind::ByName,
                body.to_string(),
                (format!("name:{pp}"), format!("name:{act}")),
            )
        }
        99 => {
            let body = json!({"provisionedProductId": "pp-migrating0001", "serviceActionId": "act-restart00001"});
            (
                Kind::UnderChange,
                body.to_string(),
                ids("pp-migrating0001", "act-restart00001"),
            )
        }
        n => match (n - 85) % 7 {
            0 => (Kind::Invalid, "not json {".to_owned(), unparsed()),
            1 => (
                Kind::Invalid,
                json!({"provisionedProductId": "pp-webprod000001"}).to_string(),
                unparsed(),
            ),
            2 => (
                Kind::Invalid,
                json!({"provisionedProductId": "pp-webprod000001", "serviceActionId": "act-orphan000001"}).to_string(),
                ids("pp-webprod000001", "act-orphan000001"),
            ),
            3 => (
                Kind::Invalid,
                json!({"provisionedProductId": "pp-doesnotexist01", "serviceActionId": "act-restart00001"}).to_string(),
                ids("pp-doesnotexist01", "act-restart00001"),
            ),
            4 => (
                Kind::Invalid,
                json!({"provisionedProductName": "web-prod", "serviceActionName": "NoSuchAction"}).to_string(),
                ("name:web-prod".to_owned(), "name:NoSuchAction".to_owned()),
            ),
            5 => (
                Kind::Invalid,
                json!({"provisionedProductId": "bad id!", "serviceActionId": "act-restart00001"}).to_string(),
                unparsed(),
            ),
            _ => (Kind::Invalid, "[1, 2]".to_owned(), unparsed()),
        },
    };
    Request { kind, body, labels }
}

/// A result as read from the results queue.
#[derive(Debug, Clone)]
struct Delivered {
    sqs_message_id: String,
    body: Value,
}

/// Receives (and deletes) results until told to stop, then until the queue is empty.
async fn read_results(local: &LocalLoop, stop: &AtomicBool, out: &Mutex<Vec<Delivered>>) {
    let sqs = local.sqs();
    let mut empty_after_stop = 0;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let received = sqs
            .receive_message()
            .queue_url(local.results_queue_url())
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("soak: results ReceiveMessage failed: {}", DisplayErrorContext(e));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if messages.is_empty() {
            if stopping {
                empty_after_stop += 1;
                if empty_after_stop >= 2 {
                    return;
                }
            }
            continue;
        }
        empty_after_stop = 0;
        let mut entries = Vec::new();
        {
            let mut out = out.lock().unwrap();
            for (n, m) in messages.iter().enumerate() {
                let body = m.body().unwrap_or_default();
                out.push(Delivered {
                    sqs_message_id: m.message_id().unwrap_or_default().to_owned(),
                    body: serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned())),
                });
                entries.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .expect("id and receipt handle are set"),
                );
            }
        }
        if let Err(e) = sqs
            .delete_message_batch()
            .queue_url(local.results_queue_url())
            .set_entries(Some(entries))
            .send()
            .await
        {
            eprintln!("soak: results DeleteMessageBatch failed: {}", DisplayErrorContext(e));
        }
    }
}

/// Every message now in the DLQ, by message id (each id once per copy found).
async fn read_dlq(local: &LocalLoop, dlq_url: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = local
            .sqs()
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DLQ ReceiveMessage: {}", DisplayErrorContext(e)));
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        ids.extend(messages.iter().map(|m| m.message_id().unwrap_or_default().to_owned()));
    }
    ids
}

/// Sends every request; returns the SQS message id of each, in order.
async fn send_requests(local: &LocalLoop, url: &str, requests: &[Request]) -> Vec<String> {
    let mut ids = vec![String::new(); requests.len()];
    for (chunk_no, chunk) in requests.chunks(10).enumerate() {
        let entries: Vec<SendMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .map(|(n, r)| {
                SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(&r.body)
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let out = local
            .sqs()
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap_or_else(|e| panic!("SendMessageBatch: {}", DisplayErrorContext(e)));
        assert!(
            out.failed().is_empty(),
            "SendMessageBatch failed entries: {:?}",
            out.failed()
        );
        for entry in out.successful() {
            let n: usize = entry.id().parse().expect("our own entry id");
            ids[chunk_no * 10 + n] = entry.message_id().to_owned();
        }
    }
    ids
}

fn worker_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn count_in(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_and_load_every_request_ends_once_and_nothing_runs_twice() {
    if let Err(e) = Tools::find() {
        if std::env::var_os("SC_REQUIRE_LOCAL_LOOP").is_some() {
            panic!("SC_REQUIRE_LOCAL_LOOP is set but the local loop cannot run: {e}");
        }
        eprintln!("SKIPPED (run `make test` or `make soak` to include this): {e}");
        return;
    }
    let n = requested_size();
    let overall_timeout = Duration::from_secs(300) + Duration::from_millis(300 * n as u64);

    // GIVEN the built function in 4 execution environments (one of them always near its deadline),
    // reaching SQS through a proxy that can be taken down, against an emulator that misbehaves.
    let proxy = OutageProxy::start().await.expect("the outage proxy starts");
    let mut options = LoopOptions::new(env!("CARGO_BIN_EXE_sc-action-runner"), project());
    options.emulator = EmulatorConfig {
        progress_ms: 600_000,
        ..EmulatorConfig::default()
    };
    options.function_env = worker_env(&[
        ("AWS_ENDPOINT_URL_SQS", &proxy.url()),
        ("SDK_ATTEMPT_TIMEOUT_MS", &SDK_ATTEMPT_TIMEOUT_MS.to_string()),
        ("RUST_LOG", "info"),
    ]);
    let mut local = LocalLoop::start(options).await.expect("the local loop starts");
    let moto_addr = local
        .moto_url()
        .trim_start_matches("http://")
        .parse()
        .expect("moto listens on 127.0.0.1:PORT");
    proxy.set_target(moto_addr);
    let queues = local
        .create_queue_with_dlq("sc-soak-requests", MAX_RECEIVE)
        .await
        .expect("requests queue and DLQ");

    let mut killable: Vec<FunctionProcess> = (0..KILLABLE_WORKERS)
        .map(|w| {
            local
                .spawn_function(&format!("worker-{w}-0"), &[])
                .expect("worker starts")
        })
        .collect();
    let mut deadline_worker = local
        .spawn_function(
            "deadline-worker",
            &worker_env(&[
                ("DEADLINE_MARGIN_MS", DEADLINE_WORKER_MARGIN_MS),
                ("MAX_CONCURRENCY", "2"),
            ]),
        )
        .expect("deadline worker starts");

    let emulator = local.emulator().clone();
    emulator.inject(Fault::throttle(EXECUTE, 0).always().with_fraction(0.20));
    // The first failure rule that fires wins, so 5% of all calls need 0.05 / 0.8 of the rest.
    emulator.inject(Fault::error500(EXECUTE, 0).always().with_fraction(0.0625));
    emulator.inject(Fault::drop_connection(ANY, 0).always().with_fraction(0.02));
    emulator.inject(Fault::latency(ANY, LATENCY_SPIKE_MS).with_fraction(0.01));

    let requests: Vec<Request> = (0..n).map(request).collect();
    println!("soak: {n} requests, {INVOKERS} concurrent invocations, visibility {VISIBILITY_TIMEOUT_S} s, maxReceiveCount {MAX_RECEIVE}");

    // WHEN they are sent and the ESM runs until the requests queue is empty, with an outage of the
    // results queue and killed execution environments along the way.
    let started = Instant::now();
    let mut message_ids = send_requests(&local, &queues.url, &requests[..n.min(BACKLOG)]).await;
    let mut next_progress_report = 0.1;
    let esm = EventSourceMapping::new(
        &local,
        EsmOptions {
            batch_size: 10,
            visibility_timeout: Some(Duration::from_secs(VISIBILITY_TIMEOUT_S)),
            concurrency: INVOKERS,
            function_timeout: FUNCTION_TIMEOUT,
            wait_time: Duration::from_secs(1),
            ..EsmOptions::for_queue(&queues)
        },
    )
    .expect("the event source mapping's options are valid");
    let stop_reading = AtomicBool::new(false);
    let results = Mutex::new(Vec::new());
    let kills_planned = (n / 100).clamp(3, 40);
    let mut kills_done = 0usize;
    let mut generation = 0usize;
    let mut outage: Option<(Instant, Option<Instant>)> = None;
    let mut timed_out_waiting = None;

    let control = async {
        let mut quiet = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let depth = match queue_depth(local.sqs(), &queues.url).await {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("soak: {e}");
                    continue;
                }
            };
            let waiting = (depth.visible + depth.in_flight) as usize;
            let settled = message_ids.len().saturating_sub(waiting);
            let progress = settled as f64 / n as f64;
            if message_ids.len() < n && waiting < BACKLOG {
                let (from, to) = (message_ids.len(), n.min(message_ids.len() + BACKLOG - waiting));
                message_ids.extend(send_requests(&local, &queues.url, &requests[from..to]).await);
            }
            if progress >= next_progress_report {
                println!(
                    "soak: {settled} of {n} settled after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
                next_progress_report += 0.1;
            }

            // A Lambda timeout: kill an environment (likely mid-invocation) and start a fresh one.
            if kills_done < kills_planned && progress >= 0.1 + 0.8 * kills_done as f64 / kills_planned as f64 {
                let w = kills_done % killable.len();
                killable[w].kill().await.expect("kill a worker");
                generation += 1;
                killable[w] = local
                    .spawn_function(&format!("worker-{w}-{generation}"), &[])
                    .expect("worker restarts");
                kills_done += 1;
            }
            // The results queue goes away for a while, once, a third of the way through.
            match outage {
                None if progress >= 0.3 => {
                    proxy.set_down(true);
                    outage = Some((Instant::now(), None));
                }
                Some((from, None)) if from.elapsed() >= RESULTS_OUTAGE => {
                    proxy.set_down(false);
                    outage = Some((from, Some(Instant::now())));
                }
                _ => {}
            }

            let outage_over = matches!(outage, Some((_, Some(_))));
            let all_sent = message_ids.len() == n;
            if all_sent && depth.is_empty() && esm.in_flight() == 0 && outage_over {
                quiet += 1;
                if quiet >= 3 {
                    break;
                }
            } else if all_sent && depth.is_empty() && !outage_over {
                // Everything settled before the outage window: open it now so it still counts.
                if outage.is_none() {
                    proxy.set_down(true);
                    outage = Some((Instant::now(), None));
                }
            } else {
                quiet = 0;
            }
            if started.elapsed() > overall_timeout {
                timed_out_waiting = Some(depth);
                break;
            }
        }
        proxy.set_down(false);
        stop_reading.store(true, Ordering::Relaxed);
    };
    // The mapping's pollers run until the control loop ends, then finish the batch they are in.
    tokio::join!(esm.run_until(control), read_results(&local, &stop_reading, &results));
    let elapsed = started.elapsed();
    if let Some(depth) = timed_out_waiting {
        panic!(
            "the requests queue did not drain within {} s: {} visible, {} in flight; function log tail:\n{}",
            overall_timeout.as_secs(),
            depth.visible,
            depth.in_flight,
            last_lines(&local.function_log(), 10)
        );
    }

    // Stop every environment (a timed-out invocation may still be running), then read the rest.
    for worker in &mut killable {
        worker.kill().await.expect("kill a worker");
    }
    local.stop_function().await.expect("stop the function");
    deadline_worker.kill().await.expect("kill the deadline worker");
    let deadline_log = deadline_worker.log();
    let stop_now = AtomicBool::new(true);
    read_results(&local, &stop_now, &results).await;
    let delivered = results.into_inner().unwrap();
    let dlq = read_dlq(&local, &queues.dlq_url).await;
    let counters = emulator.counters();

    // THEN: every request ended exactly once, nothing ran twice, duplicates agree.
    let index_of: HashMap<&str, usize> = message_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let expected_token: Vec<String> = message_ids
        .iter()
        .zip(&requests)
        .map(|(id, r)| execute_token(id, &r.labels.0, &r.labels.1))
        .collect();
    let request_of_token: HashMap<&str, usize> = expected_token
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();

    let mut problems: Vec<String> = Vec::new();
    let mut by_request: Vec<Vec<&Value>> = vec![Vec::new(); n];
    let mut seen_result_ids = HashSet::new();
    let mut stray_results = 0;
    for d in &delivered {
        if !seen_result_ids.insert(d.sqs_message_id.as_str()) {
            continue; // the reader's own re-read, not a second delivery by the function
        }
        match d.body["source"]["id"].as_str().and_then(|id| index_of.get(id)) {
            Some(&i) => by_request[i].push(&d.body),
            None => stray_results += 1,
        }
    }
    if stray_results > 0 {
        problems.push(format!("{stray_results} results name no request that was sent"));
    }
    let mut in_dlq: Vec<usize> = vec![0; n];
    for id in &dlq {
        match index_of.get(id.as_str()) {
            Some(&i) => in_dlq[i] += 1,
            None => problems.push(format!("DLQ holds unknown message {id}")),
        }
    }

    let mut ended: BTreeMap<(Kind, &str), u64> = BTreeMap::new();
    let mut duplicated = 0u64;
    let mut extra_deliveries = 0u64;
    let mut duplicates_differing_in_status = 0u64;
    for i in 0..n {
        let (kind, results, dlq_copies) = (requests[i].kind, &by_request[i], in_dlq[i]);
        let id = &message_ids[i];
        let outcome = results.first().and_then(|r| r["outcome"].as_str()).unwrap_or("");
        let end = match (results.is_empty(), dlq_copies) {
            (false, 0) => outcome,
            (true, 1) => "DLQ",
            (true, 0) => "LOST",
            _ => "MORE THAN ONE END",
        };
        *ended.entry((kind, end)).or_default() += 1;
        if end == "LOST" || end == "MORE THAN ONE END" {
            problems.push(format!(
                "request {i} ({id}, {kind:?}): {} results and {dlq_copies} DLQ copies",
                results.len()
            ));
        }
        let expected_end_ok = match kind {
            Kind::ById | Kind::ByName => end == "EXECUTED" || end == "DLQ",
            Kind::Invalid => end == "REJECTED",
            Kind::UnderChange => end == "DLQ",
        };
        if !expected_end_ok && end != "LOST" && end != "MORE THAN ONE END" {
            let error = results.first().map(|r| r["error"].to_string()).unwrap_or_default();
            problems.push(format!("request {i} ({id}, {kind:?}) ended {end}: {error}"));
        }
        if results.len() > 1 {
            duplicated += 1;
            extra_deliveries += results.len() as u64 - 1;
        }
        for r in results {
            if r["outcome"] != "EXECUTED" && r["outcome"] != "REJECTED" {
                problems.push(format!("request {i}: result with outcome {}", r["outcome"]));
            }
            if r["executeToken"] != expected_token[i].as_str() {
                problems.push(format!(
                    "request {i}: result token {} is not the one derived for it ({})",
                    r["executeToken"], expected_token[i]
                ));
            }
            let first = results[0];
            let key = |v: &Value| {
                (
                    v["outcome"].clone(),
                    v["executeToken"].clone(),
                    v["recordDetail"]["RecordId"].clone(),
                    v["provisionedProductId"].clone(),
                    v["serviceActionId"].clone(),
                    v["error"]["code"].clone(),
                )
            };
            if key(r) != key(first) {
                problems.push(format!("request {i}: results differ: {first} vs {r}"));
            } else if *r != first {
                duplicates_differing_in_status += 1;
            }
        }
        let executions = counters.executions.get(&expected_token[i]).copied().unwrap_or(0);
        if outcome == "EXECUTED" && executions != 1 {
            problems.push(format!(
                "request {i}: EXECUTED but the emulator ran its token {executions} times"
            ));
        }
        if matches!(kind, Kind::Invalid | Kind::UnderChange) && executions != 0 {
            problems.push(format!("request {i} ({kind:?}) was executed {executions} times"));
        }
    }
    let mut executed_in_dlq = 0;
    for (token, &count) in &counters.executions {
        if count > 1 {
            problems.push(format!("token {token} executed {count} times"));
        }
        match request_of_token.get(token.as_str()) {
            None => problems.push(format!("token {token} executed, but no request derives it")),
            Some(&i) if by_request[i].is_empty() => executed_in_dlq += 1,
            Some(_) => {}
        }
    }
    let total_executions: u64 = counters.executions.values().sum();
    let by_product: u64 = counters.executions_by_product.values().sum();
    if total_executions != by_product {
        problems.push(format!(
            "executions by token ({total_executions}) and by product ({by_product}) disagree"
        ));
    }

    // Print the figures.
    let t = esm.counters();
    let secs = elapsed.as_secs_f64();
    let deadline_cut = count_in(&deadline_log, "record not started");
    println!(
        "\n=== soak: {n} requests in {secs:.1} s: {:.1} messages/s ===",
        n as f64 / secs
    );
    println!("ended as (kind, end): count");
    for ((kind, end), count) in &ended {
        println!("  {kind:?} {end}: {count}");
    }
    println!(
        "results read: {} ({} requests delivered more than once, {} extra deliveries, {} of them differing \
         only in the record's progress)",
        seen_result_ids.len(),
        duplicated,
        extra_deliveries,
        duplicates_differing_in_status
    );
    println!(
        "DLQ: {} messages ({} valid requests among them, {} of those executed but never reported)",
        dlq.len(),
        ended.get(&(Kind::ById, "DLQ")).copied().unwrap_or(0) + ended.get(&(Kind::ByName, "DLQ")).copied().unwrap_or(0),
        executed_in_dlq
    );
    println!(
        "emulator: {} tokens executed, {} executions; calls {:?}",
        counters.executions.len(),
        total_executions,
        counters.calls
    );
    println!(
        "ESM: {} receives, {} messages delivered ({:.2} per request), {} invocations, {} records handed back, \
         {} deleted, {} invocations timed out, failed invocations by type {:?}, {} unreadable answers, {} SQS errors",
        t.receives,
        t.deliveries,
        t.deliveries as f64 / n as f64,
        t.invocations,
        t.handed_back,
        t.deleted,
        t.timed_out,
        t.failed_by_type,
        t.invalid_responses,
        t.sqs_errors
    );
    println!(
        "faults: execution environments killed {kills_done}; results queue unreachable for {:.1} s ({} connections cut); \
         records not started near the deadline {deadline_cut}",
        outage
            .and_then(|(from, to)| to.map(|to| to.duration_since(from).as_secs_f64()))
            .unwrap_or(0.0),
        proxy.cut_connections()
    );

    assert!(
        problems.is_empty(),
        "{} problems (first 30):\n{}",
        problems.len(),
        problems.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}
