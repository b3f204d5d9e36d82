//! Lambda's SQS event source mapping (ESM), played against moto: pollers that receive batches from a
//! queue, invoke the function with the event Lambda would send, and delete what the function did
//! not hand back.
//!
//! What it does, as Lambda does it with `ReportBatchItemFailures` on:
//! - each poller: `ReceiveMessage` (up to `batch_size`, long poll `wait_time`, every system and
//!   message attribute), one invocation with the batch, then `DeleteMessageBatch` for every record
//!   not in the answer's `batchItemFailures`. Pollers run `concurrency` at a time, so that many
//!   invocations are in flight at most;
//! - an invocation that fails, or gives no answer within `function_timeout`, deletes nothing: the
//!   whole batch reappears when its visibility timeout runs out;
//! - an answer Lambda cannot read as a batch response (an `itemIdentifier` that is empty or names no
//!   record of the batch, `batchItemFailures` that is not a list, an answer that is not an object)
//!   fails the whole batch too; an empty or `null` answer, or one without `batchItemFailures`,
//!   acknowledges every record.
//!
//! What it leaves to moto, which implements it as SQS does: the visibility timeout (the queue's own
//! unless `visibility_timeout` is set), `maxReceiveCount` and the move to the DLQ, `DelaySeconds` on
//! messages the function sends back to the same queue (they are received once visible; the
//! "queue is empty" check counts them), `ChangeMessageVisibility` calls the function makes on a
//! record's receipt handle (the mapping never changes a message's visibility itself), and FIFO
//! message groups (moto does not hand out a group's messages while others of it are in flight).
//!
//! Not played: the batching window, scaling up pollers with the backlog, and Lambda's own retries of
//! a throttled invocation.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Map, Value};

use crate::{err, queue_depth, Invoker, LocalLoop, LoopError, QueuePair, REGION};

/// How the mapping reads its queue and invokes the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsmOptions {
    pub queue_url: String,
    /// Goes into every record's `eventSourceARN`; its region into `awsRegion`.
    pub queue_arn: String,
    /// Records per invocation at most, 1 to 10 (one `ReceiveMessage`; no batching window).
    pub batch_size: i32,
    /// `VisibilityTimeout` of each receive; `None` leaves the queue's own, as Lambda does.
    pub visibility_timeout: Option<Duration>,
    /// Invocations in flight at most (pollers); Lambda's `MaximumConcurrency`.
    pub concurrency: usize,
    /// An invocation without an answer by then counts as timed out: nothing of its batch is deleted.
    /// Give it the loop's [`crate::LoopOptions::function_timeout`] when there is one, so that the
    /// function's deadline and the mapping's patience agree.
    pub function_timeout: Duration,
    /// `WaitTimeSeconds` of each receive (whole seconds, at most 20). A stop takes effect after the
    /// receive in progress, so a short wait stops sooner.
    pub wait_time: Duration,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`. Off: a successful invocation deletes the
    /// whole batch, whatever it answered.
    pub report_batch_item_failures: bool,
}

impl EsmOptions {
    /// Batches of 10, the queue's visibility timeout, 5 concurrent invocations (Lambda's first
    /// pollers), a 60 s function timeout, 1 s long polls, `ReportBatchItemFailures` on.
    pub fn new(queue_url: impl Into<String>, queue_arn: impl Into<String>) -> Self {
        EsmOptions {
            queue_url: queue_url.into(),
            queue_arn: queue_arn.into(),
            batch_size: 10,
            visibility_timeout: None,
            concurrency: 5,
            function_timeout: Duration::from_secs(60),
            wait_time: Duration::from_secs(1),
            report_batch_item_failures: true,
        }
    }

    /// [`EsmOptions::new`] for the queue of a [`QueuePair`].
    pub fn for_queue(queue: &QueuePair) -> Self {
        EsmOptions::new(&queue.url, &queue.arn)
    }

    fn validate(&self) -> Result<(), LoopError> {
        if !(1..=10).contains(&self.batch_size) {
            return Err(err(format!(
                "event source mapping: batch_size {} is not 1 to 10",
                self.batch_size
            )));
        }
        if self.concurrency == 0 {
            return Err(err("event source mapping: concurrency must be at least 1"));
        }
        if self.wait_time > Duration::from_secs(20) {
            return Err(err("event source mapping: wait_time is at most 20 s"));
        }
        if self
            .visibility_timeout
            .is_some_and(|v| v > Duration::from_secs(12 * 3600))
        {
            return Err(err("event source mapping: visibility_timeout is at most 12 hours"));
        }
        Ok(())
    }
}

/// What the mapping did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EsmCounters {
    /// `ReceiveMessage` calls, empty ones included.
    pub receives: u64,
    /// Records handed to the function (a message received three times counts three times).
    pub deliveries: u64,
    pub invocations: u64,
    /// Records not deleted after their invocation: listed in `batchItemFailures`, or the whole batch
    /// of an invocation that failed, timed out or answered something unreadable.
    pub handed_back: u64,
    /// Invocations without an answer within the function timeout.
    pub timed_out: u64,
    /// Invocations that failed, by `errorType` (`LocalLoop` when the Runtime API could not be reached).
    pub failed_by_type: BTreeMap<String, u64>,
    /// Invocations whose answer was no readable batch response (see the module doc).
    pub invalid_responses: u64,
    pub deleted: u64,
    /// Failed SQS calls, and failed entries of `DeleteMessageBatch`.
    pub sqs_errors: u64,
}

#[derive(Default)]
struct Tally {
    receives: AtomicU64,
    deliveries: AtomicU64,
    invocations: AtomicU64,
    handed_back: AtomicU64,
    timed_out: AtomicU64,
    failed_by_type: Mutex<BTreeMap<String, u64>>,
    invalid_responses: AtomicU64,
    deleted: AtomicU64,
    sqs_errors: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// A running (or ready to run) event source mapping; see the module doc.
pub struct EventSourceMapping {
    sqs: aws_sdk_sqs::Client,
    invoker: Invoker,
    options: EsmOptions,
    region: String,
    tally: Tally,
    in_flight: AtomicU64,
}

impl std::fmt::Debug for EventSourceMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSourceMapping")
            .field("options", &self.options)
            .field("counters", &self.counters())
            .finish()
    }
}

impl EventSourceMapping {
    /// A mapping from the loop's SQS to its function; it holds clones of the loop's clients, not a
    /// borrow of the loop.
    pub fn new(local: &LocalLoop, options: EsmOptions) -> Result<EventSourceMapping, LoopError> {
        EventSourceMapping::with_clients(local.sqs().clone(), local.invoker(), options)
    }

    /// A mapping with the given SQS client and invoker (an SQS endpoint other than the loop's).
    pub fn with_clients(
        sqs: aws_sdk_sqs::Client,
        invoker: Invoker,
        options: EsmOptions,
    ) -> Result<EventSourceMapping, LoopError> {
        options.validate()?;
        let region = region_of(&options.queue_arn).unwrap_or(REGION).to_owned();
        Ok(EventSourceMapping {
            sqs,
            invoker,
            options,
            region,
            tally: Tally::default(),
            in_flight: AtomicU64::new(0),
        })
    }

    pub fn options(&self) -> &EsmOptions {
        &self.options
    }

    /// Runs the pollers until `stop` completes; each poller then finishes the receive and the
    /// invocation it is in (nothing received is dropped) and the call returns.
    pub async fn run_until(&self, stop: impl Future<Output = ()>) {
        let stopped = AtomicBool::new(false);
        let pollers = futures::future::join_all((0..self.options.concurrency).map(|_| async {
            while !stopped.load(Ordering::Relaxed) {
                self.poll_once().await;
            }
        }));
        let stopper = async {
            stop.await;
            stopped.store(true, Ordering::Relaxed);
        };
        tokio::join!(pollers, stopper);
    }

    /// Runs the pollers until the queue held nothing (visible, in flight or delayed) and no
    /// invocation was in flight at `checks` checks in a row, `interval` apart. Wrap it in
    /// `tokio::time::timeout` to bound a run whose queue may never empty.
    pub async fn run_until_empty(&self, checks: u32, interval: Duration) {
        self.run_until(async {
            let mut quiet = 0;
            while quiet < checks {
                tokio::time::sleep(interval).await;
                let empty = match queue_depth(&self.sqs, &self.options.queue_url).await {
                    Ok(depth) => depth.is_empty() && self.in_flight() == 0,
                    Err(e) => {
                        add(&self.tally.sqs_errors, 1);
                        eprintln!("esm: {e}");
                        false
                    }
                };
                quiet = if empty { quiet + 1 } else { 0 };
            }
        })
        .await;
    }

    /// Invocations in flight now (batches received and not yet settled).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> EsmCounters {
        let t = &self.tally;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EsmCounters {
            receives: get(&t.receives),
            deliveries: get(&t.deliveries),
            invocations: get(&t.invocations),
            handed_back: get(&t.handed_back),
            timed_out: get(&t.timed_out),
            failed_by_type: t.failed_by_type.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            invalid_responses: get(&t.invalid_responses),
            deleted: get(&t.deleted),
            sqs_errors: get(&t.sqs_errors),
        }
    }

    /// One turn of one poller: receive a batch, invoke the function with it, delete what it did not
    /// hand back. Returns how many records were delivered (0 for an empty or failed receive).
    pub async fn poll_once(&self) -> usize {
        let mut receive = self
            .sqs
            .receive_message()
            .queue_url(&self.options.queue_url)
            .max_number_of_messages(self.options.batch_size)
            .wait_time_seconds(self.options.wait_time.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All");
        if let Some(visibility) = self.options.visibility_timeout {
            receive = receive.visibility_timeout(visibility.as_secs() as i32);
        }
        let received = receive.send().await;
        add(&self.tally.receives, 1);
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                add(&self.tally.sqs_errors, 1);
                eprintln!("esm: ReceiveMessage failed: {}", DisplayErrorContext(e));
                tokio::time::sleep(Duration::from_millis(200)).await;
                return 0;
            }
        };
        if messages.is_empty() {
            return 0;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.deliver(&messages).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        messages.len()
    }

    /// Invokes the function with one batch and deletes what it did not hand back.
    async fn deliver(&self, messages: &[Message]) {
        add(&self.tally.deliveries, messages.len());
        add(&self.tally.invocations, 1);
        let event = sqs_event(messages, &self.options.queue_arn, &self.region);

        let response = match self.invoker.invoke_within(&event, self.options.function_timeout).await {
            Ok(response) => response,
            Err(e) => {
                // Lambda timed out or the function failed: the whole batch comes back later.
                if e.is_timeout() {
                    add(&self.tally.timed_out, 1);
                } else {
                    *self
                        .tally
                        .failed_by_type
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(e.error_type)
                        .or_default() += 1;
                }
                add(&self.tally.handed_back, messages.len());
                return;
            }
        };
        let failed = if self.options.report_batch_item_failures {
            let batch: HashSet<&str> = messages.iter().filter_map(Message::message_id).collect();
            match handed_back(&response, &batch) {
                Ok(failed) => failed,
                Err(why) => {
                    eprintln!("esm: the whole batch fails, as on Lambda: {why}");
                    add(&self.tally.invalid_responses, 1);
                    add(&self.tally.handed_back, messages.len());
                    return;
                }
            }
        } else {
            HashSet::new()
        };
        add(&self.tally.handed_back, failed.len());
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
            .enumerate()
            .filter_map(|(n, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        match self
            .sqs
            .delete_message_batch()
            .queue_url(&self.options.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                add(&self.tally.deleted, out.successful().len());
                add(&self.tally.sqs_errors, out.failed().len());
            }
            Err(e) => {
                add(&self.tally.sqs_errors, 1);
                eprintln!("esm: DeleteMessageBatch failed: {}", DisplayErrorContext(e));
            }
        }
    }
}

/// The region of an ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The message ids an answer hands back, or why Lambda would fail the whole batch instead.
fn handed_back(response: &Value, batch: &HashSet<&str>) -> Result<HashSet<String>, String> {
    let failures = match response {
        Value::Null => return Ok(HashSet::new()),
        Value::String(s) if s.is_empty() => return Ok(HashSet::new()),
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(HashSet::new()),
            Some(Value::Array(failures)) => failures,
            Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
        },
        other => return Err(format!("the answer is not a batch response: {other}")),
    };
    failures
        .iter()
        .map(|f| match f.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if batch.contains(id) => Ok(id.to_owned()),
            Some("") | None => Err(format!("a batch item failure without an itemIdentifier: {f}")),
            Some(id) => Err(format!("itemIdentifier {id:?} is no message of the batch")),
        })
        .collect()
}

/// The event Lambda's SQS event source mapping sends for `messages` (as received with every system
/// and message attribute) from the queue `queue_arn` in `region`: the shape of
/// `events/sqs-batch.json`, with `md5OfMessageAttributes` when the message has attributes, and
/// binary attribute values in base64.
pub fn sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = messages.iter().map(|m| sqs_record(m, queue_arn, region)).collect();
    json!({ "Records": records })
}

fn sqs_record(m: &Message, queue_arn: &str, region: &str) -> Value {
    let attributes: Map<String, Value> = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let message_attributes: Map<String, Value> = m
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(name, v)| {
                    let mut value = Map::new();
                    if let Some(s) = v.string_value() {
                        value.insert("stringValue".into(), s.into());
                    }
                    if let Some(b) = v.binary_value() {
                        value.insert("binaryValue".into(), aws_smithy_types::base64::encode(b).into());
                    }
                    value.insert("stringListValues".into(), json!(v.string_list_values()));
                    let binaries: Vec<String> = v
                        .binary_list_values()
                        .iter()
                        .map(aws_smithy_types::base64::encode)
                        .collect();
                    value.insert("binaryListValues".into(), json!(binaries));
                    value.insert("dataType".into(), v.data_type().into());
                    (name.clone(), Value::Object(value))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut record = json!({
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": m.body(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": m.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    if let (Some(md5), Some(o)) = (m.md5_of_message_attributes(), record.as_object_mut()) {
        o.insert("md5OfMessageAttributes".into(), md5.into());
    }
    record
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;

    const ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:requests.fifo";

    fn batch<'a>(ids: &[&'a str]) -> HashSet<&'a str> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_record_carries_what_lambda_puts_in_an_sqs_event() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh-1")
            .body("{\"a\":1}")
            .md5_of_body("md5-body")
            .md5_of_message_attributes("md5-attrs")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1764150000000")
            .attributes(
                MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                "1764150000500",
            )
            .attributes(MessageSystemAttributeName::MessageGroupId, "pp-1")
            .message_attributes(
                "Kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("track")
                    .build()
                    .unwrap(),
            )
            .message_attributes(
                "Blob",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new("1100"))
                    .build()
                    .unwrap(),
            )
            .build();

        let event = sqs_event(&[message], ARN, "eu-west-1");

        assert_eq!(
            event,
            json!({"Records": [{
                "messageId": "m-1",
                "receiptHandle": "rh-1",
                "body": "{\"a\":1}",
                "attributes": {
                    "ApproximateReceiveCount": "2",
                    "SentTimestamp": "1764150000000",
                    "ApproximateFirstReceiveTimestamp": "1764150000500",
                    "MessageGroupId": "pp-1",
                },
                "messageAttributes": {
                    "Kind": {"stringValue": "track", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                    "Blob": {"binaryValue": "MTEwMA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
                },
                "md5OfBody": "md5-body",
                "md5OfMessageAttributes": "md5-attrs",
                "eventSource": "aws:sqs",
                "eventSourceARN": ARN,
                "awsRegion": "eu-west-1",
            }]})
        );
    }

    #[test]
    fn a_message_without_attributes_has_empty_maps_and_no_attribute_digest() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh")
            .body("x")
            .build();

        let record = &sqs_event(&[message], ARN, "eu-west-1")["Records"][0];

        assert_eq!(record["attributes"], json!({}));
        assert_eq!(record["messageAttributes"], json!({}));
        assert!(record.get("md5OfMessageAttributes").is_none());
    }

    #[test]
    fn the_region_comes_from_the_queue_arn() {
        assert_eq!(region_of(ARN), Some("eu-west-1"));
        assert_eq!(region_of("not an arn"), None);
    }

    #[test]
    fn listed_failures_are_handed_back_and_empty_answers_acknowledge_all() {
        let ids = batch(&["a", "b", "c"]);

        let failed = handed_back(
            &json!({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}),
            &ids,
        );

        assert_eq!(failed, Ok(["b".to_owned(), "c".to_owned()].into_iter().collect()));
        for all_done in [
            json!(null),
            json!(""),
            json!({}),
            json!({"batchItemFailures": null}),
            json!({"batchItemFailures": []}),
        ] {
            assert_eq!(handed_back(&all_done, &ids), Ok(HashSet::new()), "{all_done}");
        }
    }

    #[test]
    fn an_answer_lambda_cannot_read_fails_the_whole_batch() {
        let ids = batch(&["a", "b"]);

        for unreadable in [
            json!({"batchItemFailures": [{"itemIdentifier": "z"}]}),
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": null}]}),
            json!({"batchItemFailures": [{"id": "a"}]}),
            json!({"batchItemFailures": "a"}),
            json!("not a batch response"),
            json!([1, 2]),
        ] {
            assert!(handed_back(&unreadable, &ids).is_err(), "{unreadable}");
        }
    }

    #[test]
    fn options_outside_lambdas_limits_are_refused() {
        let base = EsmOptions::new("http://q", ARN);
        assert!(base.validate().is_ok());
        for bad in [
            EsmOptions {
                batch_size: 11,
                ..base.clone()
            },
            EsmOptions {
                batch_size: 0,
                ..base.clone()
            },
            EsmOptions {
                concurrency: 0,
                ..base.clone()
            },
            EsmOptions {
                wait_time: Duration::from_secs(21),
                ..base.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
