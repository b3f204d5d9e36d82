//! [`ResultPublisher`] and [`MessageSender`] on Amazon SQS, with SendMessageBatch: one call per ten
//! messages, each entry's failure mapped back to its own message.

use std::collections::HashSet;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use futures::future::join_all;

use super::call_error;
use crate::config::is_fifo_queue;
use crate::error::CallError;
use crate::outcome::ResultMessage;
use crate::ports::{MessageSender, OutgoingMessage, ResultPublisher, VisibilityChanger};

const SEND: &str = "SendMessageBatch";
/// The most entries SendMessageBatch takes.
const BATCH: usize = 10;

/// The function's queues: the results queue, and any queue it sends its own messages to. For a
/// FIFO results queue (URL ending in `.fifo`) each result gets MessageGroupId = provisioned
/// product id (or `unresolved`) and MessageDeduplicationId = executeToken (with `-final` for the
/// final message of a tracked execution).
#[derive(Clone, Debug)]
pub struct SqsQueues {
    client: Client,
    results_queue_url: String,
    results_fifo: bool,
}

/// An entry of one SendMessageBatch call, by the index of its message among those given; an entry
/// that could not be built carries why.
type Prepared = (usize, Result<SendMessageBatchRequestEntry, CallError>);

/// What became of each message of a call, by index.
type Sent = Vec<(usize, Result<(), CallError>)>;

impl SqsQueues {
    pub fn new(client: Client, results_queue_url: impl Into<String>) -> Self {
        let results_queue_url = results_queue_url.into();
        let results_fifo = is_fifo_queue(&results_queue_url);
        Self {
            client,
            results_queue_url,
            results_fifo,
        }
    }

    /// A FIFO message group of the results queue: the results of one product stay in order.
    fn group(result: &ResultMessage) -> &str {
        result.provisioned_product_id.as_deref().unwrap_or("unresolved")
    }

    /// The entry for a result. A result that cannot be serialized fails alone, and is retried: it
    /// is never sent as something else.
    fn result_entry(&self, position: usize, result: &ResultMessage) -> Result<SendMessageBatchRequestEntry, CallError> {
        let body = result
            .to_json()
            .map_err(|e| CallError::transport(SEND, format!("the result could not be serialized: {e}")))?;
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(position.to_string())
            .message_body(body);
        if self.results_fifo {
            entry = entry
                .message_group_id(Self::group(result))
                .message_deduplication_id(result.deduplication_id());
        }
        entry.build().map_err(|e| CallError::transport(SEND, e.to_string()))
    }

    fn message_entry(position: usize, message: &OutgoingMessage) -> Result<SendMessageBatchRequestEntry, CallError> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(position.to_string())
            .message_body(&message.body);
        match &message.fifo {
            Some(ids) => {
                entry = entry
                    .message_group_id(&ids.group_id)
                    .message_deduplication_id(&ids.deduplication_id)
            }
            None if message.delay_seconds > 0 => {
                entry = entry.delay_seconds(i32::try_from(message.delay_seconds).unwrap_or(i32::MAX))
            }
            None => {}
        }
        entry.build().map_err(|e| CallError::transport(SEND, e.to_string()))
    }

    /// One SendMessageBatch call with up to ten prepared entries (ids = their positions).
    async fn send_batch(&self, queue_url: &str, prepared: Vec<Prepared>) -> Sent {
        let indexes: Vec<usize> = prepared.iter().map(|(index, _)| *index).collect();
        let mut outcomes: Vec<Result<(), CallError>> =
            vec![Err(CallError::transport(SEND, "the response did not mention this entry")); prepared.len()];
        let mut entries = Vec::with_capacity(prepared.len());
        for (position, (_, entry)) in prepared.into_iter().enumerate() {
            match entry {
                Ok(entry) => entries.push((position, entry)),
                Err(e) => outcomes[position] = Err(e),
            }
        }
        if !entries.is_empty() {
            for (position, outcome) in self.call(queue_url, entries, &indexes).await {
                outcomes[position] = outcome;
            }
        }
        indexes.into_iter().zip(outcomes).collect()
    }

    /// The SendMessageBatch call: the outcome of each entry the answer names (by position, a
    /// refusal after a success of the same id), or of every entry when the call failed.
    async fn call(
        &self,
        queue_url: &str,
        entries: Vec<(usize, SendMessageBatchRequestEntry)>,
        indexes: &[usize],
    ) -> Vec<(usize, Result<(), CallError>)> {
        let (positions, entries): (Vec<usize>, Vec<_>) = entries.into_iter().unzip();
        let answer = self
            .client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) => {
                let e = call_error(SEND, e);
                return positions
                    .into_iter()
                    .map(|position| (position, Err(e.clone())))
                    .collect();
            }
        };
        let position = |id: &str| id.parse::<usize>().ok().filter(|i| *i < indexes.len());
        let sent = output
            .successful()
            .iter()
            .filter_map(|ok| Some((position(ok.id())?, Ok(()))));
        let refused = output.failed().iter().filter_map(|failed| {
            let position = position(failed.id())?;
            let status = if failed.sender_fault() { 400 } else { 500 };
            let message = format!(
                "entry {} refused: {}",
                indexes[position],
                failed.message().unwrap_or("")
            );
            Some((
                position,
                Err(CallError::service(SEND, failed.code(), Some(status), message)),
            ))
        });
        sent.chain(refused).collect()
    }

    /// Sends prepared entries ten at a time, the calls side by side; answers in index order.
    async fn send_all(&self, queue_url: &str, prepared: Vec<Prepared>) -> Vec<Result<(), CallError>> {
        let len = prepared.len();
        let mut chunks: Vec<Vec<Prepared>> = Vec::new();
        for entry in prepared {
            match chunks.last_mut() {
                Some(chunk) if chunk.len() < BATCH => chunk.push(entry),
                _ => chunks.push(vec![entry]),
            }
        }
        let mut out: Vec<Result<(), CallError>> = vec![Err(CallError::transport(SEND, "not sent")); len];
        let calls = chunks.into_iter().map(|chunk| self.send_batch(queue_url, chunk));
        for (index, outcome) in join_all(calls).await.into_iter().flatten() {
            out[index] = outcome;
        }
        out
    }

    /// FIFO results: one call after the other, so the queue keeps the results' order within each
    /// group; once a result of a group failed, no later result of that group is sent (it would
    /// overtake the failed one). Other groups go on.
    async fn publish_fifo(&self, results: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        let mut out: Vec<Option<Result<(), CallError>>> = vec![None; results.len()];
        let mut failed_groups: HashSet<&str> = HashSet::new();
        let mut pending = results.iter().enumerate().peekable();
        while pending.peek().is_some() {
            let mut chunk: Vec<Prepared> = Vec::with_capacity(BATCH);
            for (index, result) in pending.by_ref() {
                if failed_groups.contains(Self::group(result)) {
                    let e = CallError::transport(SEND, "not sent: an earlier result of its FIFO group failed");
                    out[index] = Some(Err(e));
                    continue;
                }
                chunk.push((index, self.result_entry(chunk.len(), result)));
                if chunk.len() == BATCH {
                    break;
                }
            }
            for (index, outcome) in self.send_batch(&self.results_queue_url, chunk).await {
                if outcome.is_err() {
                    failed_groups.insert(Self::group(&results[index]));
                }
                out[index] = Some(outcome);
            }
        }
        let unanswered = || Err(CallError::transport(SEND, "not sent"));
        out.into_iter().map(|o| o.unwrap_or_else(unanswered)).collect()
    }
}

impl ResultPublisher for SqsQueues {
    async fn publish(&self, results: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        if self.results_fifo {
            return self.publish_fifo(results).await;
        }
        let prepared = results
            .iter()
            .enumerate()
            .map(|(index, result)| (index, self.result_entry(index % BATCH, result)))
            .collect();
        self.send_all(&self.results_queue_url, prepared).await
    }
}

impl MessageSender for SqsQueues {
    async fn send(&self, queue_url: &str, messages: &[OutgoingMessage]) -> Vec<Result<(), CallError>> {
        let prepared = messages
            .iter()
            .enumerate()
            .map(|(index, message)| (index, Self::message_entry(index % BATCH, message)))
            .collect();
        self.send_all(queue_url, prepared).await
    }
}

impl VisibilityChanger for SqsQueues {
    async fn change_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<(), CallError> {
        self.client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("ChangeMessageVisibility", e))
    }
}
