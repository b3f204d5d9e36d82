//! Criterion micro-benchmarks for the pure hot path of one 100-record SQS batch: sort the event into
//! work items, validate each request, derive each ExecuteToken, build and serialize each result.
//! No I/O: this is the CPU the function spends per batch besides the SDK calls.
//!
//! `cargo bench --bench hot_path` (add `-- --quick` for a short run). Figures are per batch of 100;
//! criterion also reports records per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sc_action_runner::event::{classify, Inbound, WorkItem};
use sc_action_runner::outcome::{RecordDetail, ResultMessage};
use sc_action_runner::request::{parse_request, ActionRequest};
use sc_action_runner::token::execute_token;
use serde_json::Value;

const RECORDS: usize = 100;

/// The sample batch's records (by id, by name, with parameters), repeated to 100 with distinct
/// message ids, serialized as Lambda delivers it.
fn batch_event_json() -> Vec<u8> {
    let sample: Value = serde_json::from_str(include_str!("../events/sqs-batch.json")).expect("events/sqs-batch.json");
    let records = sample["Records"].as_array().expect("Records");
    let batch: Vec<Value> = (0..RECORDS)
        .map(|i| {
            let mut record = records[i % records.len()].clone();
            record["messageId"] = Value::String(format!("6f1c2d9e-1b1a-4d7e-9c55-{i:012}"));
            record
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": batch })).expect("serializable")
}

fn items(event: Value) -> Vec<WorkItem> {
    match classify(event, "bench-request-id") {
        Ok(Inbound::Sqs { items, .. }) => items,
        other => panic!("expected an SQS batch, got {other:?}"),
    }
}

fn requests(items: &[WorkItem]) -> Vec<ActionRequest> {
    items
        .iter()
        .map(|item| parse_request(item.payload.as_ref().expect("payload")).expect("valid request"))
        .collect()
}

fn token(item: &WorkItem, request: &ActionRequest) -> String {
    execute_token(&item.token_source, Some(request))
}

/// A RecordDetail as the API returns it for a fresh execution.
fn detail(token: &str) -> RecordDetail {
    RecordDetail {
        record_id: Some(format!("rec-{}", &token[..13])),
        provisioned_product_name: Some("web-prod".into()),
        status: Some("CREATED".into()),
        created_time: Some("2026-11-26T13:46:03.514Z".into()),
        updated_time: Some("2026-11-26T13:46:03.514Z".into()),
        provisioned_product_type: Some("CFN_STACK".into()),
        record_type: Some("EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION".into()),
        provisioned_product_id: Some("pp-webprod000001".into()),
        product_id: Some("prod-webapp0000001".into()),
        provisioning_artifact_id: Some("pa-webapp0000001".into()),
        path_id: Some("lpv3-mj7fi0xi9x2ca".into()),
        ..RecordDetail::default()
    }
}

fn result_json(item: &WorkItem, token: String) -> String {
    let detail = detail(&token);
    ResultMessage::executed(
        item.source.clone(),
        token,
        "pp-webprod000001".into(),
        "act-restart00001".into(),
        detail,
    )
    .to_json()
    .expect("a result serializes")
}

fn hot_path(c: &mut Criterion) {
    let raw = batch_event_json();
    let event: Value = serde_json::from_slice(&raw).expect("event");
    let work = items(event.clone());
    let parsed = requests(&work);
    let tokens: Vec<String> = work.iter().zip(&parsed).map(|(i, r)| token(i, r)).collect();

    let mut group = c.benchmark_group("batch_of_100");
    group.throughput(Throughput::Elements(RECORDS as u64));

    group.bench_function("deserialize_event", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&raw)).expect("event"))
    });
    group.bench_function("classify", |b| {
        b.iter_batched(|| event.clone(), |e| items(black_box(e)), BatchSize::SmallInput)
    });
    group.bench_function("parse_request", |b| b.iter(|| requests(black_box(&work))));
    group.bench_function("execute_token", |b| {
        b.iter(|| {
            black_box(&work)
                .iter()
                .zip(black_box(&parsed))
                .map(|(i, r)| token(i, r))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("result_to_json", |b| {
        b.iter_batched(
            || tokens.clone(),
            |tokens| {
                work.iter()
                    .zip(tokens)
                    .map(|(i, t)| result_json(i, t))
                    .collect::<Vec<_>>()
            },
            BatchSize::SmallInput,
        )
    });
    // Everything above in one go, from the bytes the runtime hands over to the result bodies.
    group.bench_function("end_to_end", |b| {
        b.iter(|| {
            let event: Value = serde_json::from_slice(black_box(&raw)).expect("event");
            let work = items(event);
            let parsed = requests(&work);
            work.iter()
                .zip(&parsed)
                .map(|(i, r)| result_json(i, token(i, r)))
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
