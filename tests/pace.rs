//! `SC_MAX_CALLS_PER_SECOND` seen from the other end (issue 14): the built binary, under
//! cargo-lambda's Runtime API against moto SQS and the Service Catalog emulator, given a burst of
//! records with its token bucket set, never sends Service Catalog more than the bucket allows. The
//! emulator records when every call arrived; every window of those arrival times must hold at most
//! rate × window + burst calls.
//!
//! Arrival is not sending: a call leaves the bucket and reaches the emulator a little later, and
//! on a loaded machine not equally late for every call, so each window is widened by
//! [`ARRIVAL_JITTER`]. That slack is 1.25 calls at this rate; the burst without the bucket (ten
//! calls in the same few milliseconds, against a bound of 6.25) is far outside it.
//!
//! No timing is asserted beyond the bound itself: targets live in the benchmark.
//!
//! It needs `moto_server` and `cargo-lambda` on PATH, so it is `#[ignore]`d with that reason:
//! `cargo test` alone reports it as ignored; run with `--include-ignored` (what `make test` is
//! for), a missing tool fails it.

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use sc_local_loop::sc_emulator::{EmulatorConfig, Seed};
use sc_local_loop::{LocalLoop, LoopOptions, Tools};
use serde_json::{json, Value};

/// The bucket under test: calls a second, and the burst (the rate, as `src/pace.rs` makes it).
const RATE: f64 = 5.0;
const BURST: f64 = RATE;
/// How much later one call may reach the emulator than another sent at the same moment.
const ARRIVAL_JITTER: Duration = Duration::from_millis(250);
const BATCHES: usize = 3;
const PER_BATCH: usize = 10;
const PATCH_OS: &str = "act-patchos00001";
const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An SQS record; the first batch names its products and action (so name resolution is paced
/// too), the others give ids.
fn record(batch: usize, i: usize) -> Value {
    let n = batch * PER_BATCH + i + 1;
    let body = if batch == 0 {
        json!({"provisionedProductName": format!("bench-{n:08}"), "serviceActionName": "PatchOS"})
    } else {
        json!({"provisionedProductId": format!("pp-bench{n:08}"), "serviceActionId": PATCH_OS})
    };
    json!({
        "messageId": format!("pace-{n:04}"),
        "receiptHandle": format!("pace-handle-{n:04}"),
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764150000000"},
        "messageAttributes": {},
        "md5OfBody": "0".repeat(32),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sc-action-requests",
        "awsRegion": "us-east-1",
    })
}

/// The first window of `times` (epoch ms, sorted) that holds more calls than the bucket allows:
/// (calls, from, to).
fn window_over_the_rate(times: &[u64]) -> Option<(usize, u64, u64)> {
    for (i, from) in times.iter().enumerate() {
        for (j, to) in times.iter().enumerate().skip(i) {
            let calls = j - i + 1;
            let window = (to - from) as f64 / 1000.0 + ARRIVAL_JITTER.as_secs_f64();
            if calls as f64 > RATE * window + BURST {
                return Some((calls, *from, *to));
            }
        }
    }
    None
}

#[test]
fn the_window_check_catches_an_unpaced_burst_and_passes_a_paced_one() {
    let unpaced = vec![1_000; 10];
    assert!(window_over_the_rate(&unpaced).is_some());
    // 5 at once, then one every 200 ms, each up to 100 ms late.
    let paced: Vec<u64> = (0..5)
        .map(|_| 1_000)
        .chain((1..=20).map(|k| 1_000 + 200 * k + if k % 2 == 0 { 100 } else { 0 }))
        .collect();
    assert_eq!(window_over_the_rate(&paced), None);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda on PATH: run make test"]
async fn a_burst_of_records_with_the_bucket_set_never_exceeds_the_rate_at_the_emulator() {
    if let Err(e) = Tools::find() {
        panic!("this test drives the built binary through the local loop: {e}");
    }
    // GIVEN one execution environment whose bucket allows 5 Service Catalog calls a second, ten
    // records at a time, and an emulator that would take any rate
    let mut options = LoopOptions::new(env!("CARGO_BIN_EXE_sc-action-runner"), project())
        .env("SC_MAX_CALLS_PER_SECOND", RATE.to_string())
        .env("MAX_CONCURRENCY", PER_BATCH.to_string());
    options.emulator = EmulatorConfig {
        seed: Seed::default_seed().with_generated_fleet(BATCHES * PER_BATCH, [("bench", "pace")]),
        ..EmulatorConfig::default()
    };
    let local = LocalLoop::start(options).await.expect("the local loop starts");

    // WHEN three batches of ten arrive at once (the environment serves them one after another)
    let invocations = (0..BATCHES).map(|batch| {
        let event = json!({"Records": (0..PER_BATCH).map(|i| record(batch, i)).collect::<Vec<_>>()});
        let local = &local;
        async move { local.invoke_within(&event, Duration::from_secs(120)).await }
    });
    let answers = futures::future::join_all(invocations).await;

    // THEN every record ran, once
    for answer in &answers {
        let answer = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{e}\n{}", local.function_log()));
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    let counters = local.emulator().counters();
    assert_eq!(counters.calls.get(EXECUTE), Some(&((BATCHES * PER_BATCH) as u64)));
    assert_eq!(counters.executions.len(), BATCHES * PER_BATCH);
    // AND no window of Service Catalog calls, all operations together, holds more than the bucket
    // lets through
    let mut times: Vec<u64> = counters
        .calls
        .keys()
        .flat_map(|op| local.emulator().call_times(op))
        .collect();
    times.sort_unstable();
    assert!(
        times.len() > BATCHES * PER_BATCH,
        "name resolution calls are counted too: {counters:?}"
    );
    if let Some((calls, from, to)) = window_over_the_rate(&times) {
        let offsets: Vec<u64> = times.iter().map(|t| t - times[0]).collect();
        panic!(
            "{calls} calls arrived within {} ms (at most {RATE}/s × (window + {} ms) + {BURST} allowed); \
             arrivals in ms from the first: {offsets:?}",
            to - from,
            ARRIVAL_JITTER.as_millis()
        );
    }
}
