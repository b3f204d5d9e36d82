//! The event source mapping against moto, with the test acting as the function: the events it
//! builds, what it deletes, and that it leaves visibility, delays and FIFO groups to moto.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use sc_local_loop::{EsmCounters, EsmOptions, EventSourceMapping, LocalLoop, QueuePair, RequestsQueue};
use serde_json::{json, Value};
use support::{options_without_function, start, Answer, Runtime};

/// Every record the function was given, with when it got it.
type Seen = Arc<Mutex<Vec<(Instant, Value)>>>;

async fn start_with_queue(name: &str, max_receive_count: u32) -> (LocalLoop, QueuePair) {
    let mut options = options_without_function();
    options.requests_queue = Some(RequestsQueue::new(name, max_receive_count));
    let local = start(options).await;
    let queues = local.requests_queue().expect("a requests queue").clone();
    (local, queues)
}

async fn send(local: &LocalLoop, url: &str, body: &str) -> aws_sdk_sqs::operation::send_message::SendMessageOutput {
    local
        .sqs()
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage")
}

async fn drain(esm: &EventSourceMapping) {
    tokio::time::timeout(
        Duration::from_secs(90),
        esm.run_until_empty(3, Duration::from_millis(300)),
    )
    .await
    .expect("the queue empties within 90 s");
}

fn records(event: &Value) -> Vec<Value> {
    event["Records"].as_array().cloned().unwrap_or_default()
}

fn bodies(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(_, r)| r["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn record_failure(id: &Value) -> Value {
    json!({"itemIdentifier": id})
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn records_are_deleted_unless_handed_back_and_what_is_handed_back_returns_until_the_dlq() {
    // GIVEN four messages, one with message attributes; the function hands back "retry-once" on its
    // first receive and "poison" always
    let (local, queues) = start_with_queue("sc-esm", 3).await;
    let sent_ok = send(&local, &queues.url, "ok-1").await;
    let with_attributes = local
        .sqs()
        .send_message()
        .queue_url(&queues.url)
        .message_body("ok-2")
        .message_attributes(
            "Kind",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("request")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "Raw",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(Blob::new("1100"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("SendMessage");
    send(&local, &queues.url, "retry-once").await;
    let poison = send(&local, &queues.url, "poison").await;
    let seen: Seen = Arc::default();
    let runtime = Runtime::new(local.runtime_api());
    let _function = runtime.serve(2, {
        let seen = seen.clone();
        move |event| {
            let seen = seen.clone();
            async move {
                let mut failures = Vec::new();
                for r in records(&event) {
                    let hand_back = match r["body"].as_str() {
                        Some("poison") => true,
                        Some("retry-once") => r["attributes"]["ApproximateReceiveCount"] == "1",
                        _ => false,
                    };
                    if hand_back {
                        failures.push(record_failure(&r["messageId"]));
                    }
                    seen.lock().unwrap().push((Instant::now(), r));
                }
                Answer::Respond(json!({ "batchItemFailures": failures }))
            }
        }
    });
    let esm = EventSourceMapping::new(
        &local,
        EsmOptions {
            visibility_timeout: Some(Duration::from_secs(1)),
            concurrency: 2,
            function_timeout: Duration::from_secs(10),
            ..EsmOptions::for_queue(&queues)
        },
    )
    .expect("valid options");

    // WHEN the mapping runs until the queue is empty
    drain(&esm).await;

    // THEN each message was delivered as often as it was handed back, plus once
    let mut delivered = bodies(&seen);
    delivered.sort();
    assert_eq!(
        delivered,
        ["ok-1", "ok-2", "poison", "poison", "poison", "retry-once", "retry-once"]
    );
    // AND poison is in the DLQ, received maxReceiveCount times
    let dlq = local
        .sqs()
        .receive_message()
        .queue_url(&queues.dlq_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage");
    let in_dlq: Vec<&str> = dlq.messages().iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(in_dlq, [poison.message_id().unwrap()]);
    // AND every record is what Lambda sends
    let seen = seen.lock().unwrap();
    for (_, r) in seen.iter() {
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], queues.arn.as_str());
        assert_eq!(r["awsRegion"], "us-east-1");
        for attribute in [
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        ] {
            assert!(r["attributes"][attribute].is_string(), "{attribute} in {r}");
        }
        assert!(r["receiptHandle"].is_string(), "{r}");
    }
    let first = |body: &str| seen.iter().map(|(_, r)| r).find(|r| r["body"] == body).unwrap().clone();
    let ok = first("ok-1");
    assert_eq!(ok["messageId"], sent_ok.message_id().unwrap());
    assert_eq!(ok["md5OfBody"], sent_ok.md5_of_message_body().unwrap());
    assert_eq!(ok["messageAttributes"], json!({}));
    let ok2 = first("ok-2");
    assert_eq!(
        ok2["messageAttributes"],
        json!({
            "Kind": {"stringValue": "request", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "Raw": {"binaryValue": "MTEwMA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        })
    );
    assert_eq!(
        ok2["md5OfMessageAttributes"],
        with_attributes.md5_of_message_attributes().unwrap()
    );
    let receive_counts: Vec<&str> = seen
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r["body"] == "poison")
        .map(|r| r["attributes"]["ApproximateReceiveCount"].as_str().unwrap())
        .collect();
    assert_eq!(receive_counts, ["1", "2", "3"]);
    // AND the counters agree
    let counters = esm.counters();
    assert_eq!(counters.deliveries, 7);
    assert_eq!(counters.deleted, 3, "{counters:?}");
    assert_eq!(counters.handed_back, 4, "{counters:?}");
    assert_eq!((counters.timed_out, counters.invalid_responses), (0, 0), "{counters:?}");
    assert_eq!(esm.in_flight(), 0);
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_batch_comes_back_whole_after_a_timeout_an_error_or_an_unreadable_answer() {
    // GIVEN a function that, for one message, gives no answer, then fails, then answers with an
    // itemIdentifier that is not in the batch, then succeeds
    let (local, queues) = start_with_queue("sc-esm-failures", 5).await;
    send(&local, &queues.url, "flaky").await;
    let runtime = Runtime::new(local.runtime_api());
    let _function = runtime.serve(1, |event| async move {
        let r = &records(&event)[0];
        match r["attributes"]["ApproximateReceiveCount"].as_str() {
            Some("1") => Answer::Nothing,
            Some("2") => Answer::Fail("Boom"),
            Some("3") => Answer::Respond(json!({"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]})),
            _ => Answer::Respond(json!({"batchItemFailures": []})),
        }
    });
    let esm = EventSourceMapping::new(
        &local,
        EsmOptions {
            visibility_timeout: Some(Duration::from_secs(2)),
            concurrency: 1,
            function_timeout: Duration::from_secs(1),
            ..EsmOptions::for_queue(&queues)
        },
    )
    .expect("valid options");

    // WHEN the mapping runs until the queue is empty
    drain(&esm).await;

    // THEN it took four deliveries, the last one deleted the message
    let counters = esm.counters();
    assert_eq!(
        counters,
        EsmCounters {
            receives: counters.receives,
            deliveries: 4,
            invocations: 4,
            handed_back: 3,
            timed_out: 1,
            failed_by_type: [("Boom".to_owned(), 1)].into_iter().collect(),
            invalid_responses: 1,
            deleted: 1,
            sqs_errors: 0,
        }
    );
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_message_the_function_sends_back_with_a_delay_arrives_after_it_and_keeps_the_mapping_running() {
    // GIVEN a function that answers "step 0" by sending "step 1" to its own queue, 2 s delayed
    let (local, queues) = start_with_queue("sc-esm-delays", 5).await;
    send(&local, &queues.url, "step 0").await;
    let seen: Seen = Arc::default();
    let sent_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let runtime = Runtime::new(local.runtime_api());
    let _function = runtime.serve(1, {
        let (seen, sent_at, sqs, url) = (seen.clone(), sent_at.clone(), local.sqs().clone(), queues.url.clone());
        move |event| {
            let (seen, sent_at, sqs, url) = (seen.clone(), sent_at.clone(), sqs.clone(), url.clone());
            async move {
                for r in records(&event) {
                    if r["body"] == "step 0" {
                        sqs.send_message()
                            .queue_url(&url)
                            .message_body("step 1")
                            .delay_seconds(2)
                            .send()
                            .await
                            .expect("the function's SendMessage");
                        *sent_at.lock().unwrap() = Some(Instant::now());
                    }
                    seen.lock().unwrap().push((Instant::now(), r));
                }
                Answer::Respond(json!({"batchItemFailures": []}))
            }
        }
    });
    let esm = EventSourceMapping::new(&local, EsmOptions::for_queue(&queues)).expect("valid options");

    // WHEN the mapping runs until the queue is empty
    drain(&esm).await;

    // THEN "step 1" came, no sooner than its delay
    assert_eq!(bodies(&seen), ["step 0", "step 1"]);
    let sent_at = sent_at.lock().unwrap().expect("step 1 was sent");
    let received_at = seen.lock().unwrap()[1].0;
    assert!(
        received_at.duration_since(sent_at) >= Duration::from_millis(1900),
        "step 1 arrived {:?} after it was sent with a 2 s delay",
        received_at.duration_since(sent_at)
    );
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_visibility_timeout_the_function_sets_on_a_record_is_honoured() {
    // GIVEN a queue whose visibility timeout is 30 s, and a function that hands a record back after
    // setting its visibility timeout to 1 s (a back-off of its own)
    let (local, queues) = start_with_queue("sc-esm-visibility", 5).await;
    local
        .sqs()
        .set_queue_attributes()
        .queue_url(&queues.url)
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .expect("SetQueueAttributes");
    send(&local, &queues.url, "back off").await;
    let seen: Seen = Arc::default();
    let runtime = Runtime::new(local.runtime_api());
    let _function = runtime.serve(1, {
        let (seen, sqs, url) = (seen.clone(), local.sqs().clone(), queues.url.clone());
        move |event| {
            let (seen, sqs, url) = (seen.clone(), sqs.clone(), url.clone());
            async move {
                let r = records(&event).remove(0);
                let first = r["attributes"]["ApproximateReceiveCount"] == "1";
                if first {
                    sqs.change_message_visibility()
                        .queue_url(&url)
                        .receipt_handle(r["receiptHandle"].as_str().unwrap())
                        .visibility_timeout(1)
                        .send()
                        .await
                        .expect("the function's ChangeMessageVisibility");
                }
                let failures = if first {
                    vec![record_failure(&r["messageId"])]
                } else {
                    vec![]
                };
                seen.lock().unwrap().push((Instant::now(), r));
                Answer::Respond(json!({ "batchItemFailures": failures }))
            }
        }
    });
    // The mapping leaves the queue's visibility timeout alone (as Lambda does).
    let esm = EventSourceMapping::new(&local, EsmOptions::for_queue(&queues)).expect("valid options");

    // WHEN the mapping runs until the queue is empty
    drain(&esm).await;

    // THEN the record came back after about 1 s, not 30 s
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].0.duration_since(seen[0].0);
    assert!(gap < Duration::from_secs(10), "redelivered after {gap:?}");
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn fifo_records_carry_their_message_group_and_keep_its_order() {
    // GIVEN two message groups interleaved on a FIFO queue
    let (local, queues) = start_with_queue("sc-esm.fifo", 5).await;
    for (n, group) in ["g-1", "g-2", "g-1", "g-2", "g-1"].iter().enumerate() {
        local
            .sqs()
            .send_message()
            .queue_url(&queues.url)
            .message_body(format!("{group} #{n}"))
            .message_group_id(*group)
            .message_deduplication_id(format!("dedup-{n}"))
            .send()
            .await
            .expect("SendMessage");
    }
    let seen: Seen = Arc::default();
    let runtime = Runtime::new(local.runtime_api());
    let _function = runtime.serve(1, {
        let seen = seen.clone();
        move |event| {
            let seen = seen.clone();
            async move {
                for r in records(&event) {
                    seen.lock().unwrap().push((Instant::now(), r));
                }
                Answer::Respond(json!({"batchItemFailures": []}))
            }
        }
    });
    let esm = EventSourceMapping::new(
        &local,
        EsmOptions {
            concurrency: 1,
            ..EsmOptions::for_queue(&queues)
        },
    )
    .expect("valid options");

    // WHEN the mapping runs until the queue is empty
    drain(&esm).await;

    // THEN every record names its group, sequence and deduplication id, and each group is in order
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    for (_, r) in seen.iter() {
        let body = r["body"].as_str().unwrap();
        let n = body.rsplit('#').next().unwrap();
        assert_eq!(r["attributes"]["MessageGroupId"], &body[..3], "{r}");
        assert_eq!(r["attributes"]["MessageDeduplicationId"], format!("dedup-{n}"), "{r}");
        assert!(r["attributes"]["SequenceNumber"].is_string(), "{r}");
        assert_eq!(r["eventSourceARN"], queues.arn.as_str());
    }
    for group in ["g-1", "g-2"] {
        let order: Vec<&str> = seen
            .iter()
            .filter_map(|(_, r)| r["body"].as_str())
            .filter(|b| b.starts_with(group))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "{group} out of order");
    }
}
