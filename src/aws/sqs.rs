//! [`ResultPublisher`] on Amazon SQS, with SendMessageBatch: one call per ten results.

use std::collections::HashSet;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use futures::future::join_all;

use super::call_error;
use crate::config::is_fifo_queue;
use crate::error::CallError;
use crate::outcome::ResultMessage;
use crate::ports::ResultPublisher;

const SEND: &str = "SendMessageBatch";
/// The most entries SendMessageBatch takes.
const BATCH: usize = 10;

/// The results queue. For a FIFO queue (URL ending in `.fifo`) each message gets
/// MessageGroupId = provisioned product id (or `unresolved`) and MessageDeduplicationId = executeToken.
#[derive(Clone, Debug)]
pub struct SqsResultPublisher {
    client: Client,
    queue_url: String,
    fifo: bool,
}

/// One result to send, by its index among the results given to `publish`.
type Indexed<'a> = (usize, &'a ResultMessage);

impl SqsResultPublisher {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        let queue_url = queue_url.into();
        let fifo = is_fifo_queue(&queue_url);
        Self {
            client,
            queue_url,
            fifo,
        }
    }

    /// A FIFO message group: the results of one product stay in order.
    fn group(result: &ResultMessage) -> &str {
        result.provisioned_product_id.as_deref().unwrap_or("unresolved")
    }

    /// The entry for a result. A result that cannot be serialized fails alone, and is retried: it
    /// is never sent as something else.
    fn entry(&self, id: usize, result: &ResultMessage) -> Result<SendMessageBatchRequestEntry, CallError> {
        let body = result
            .to_json()
            .map_err(|e| CallError::transport(SEND, format!("the result could not be serialized: {e}")))?;
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(id.to_string())
            .message_body(body);
        if self.fifo {
            entry = entry
                .message_group_id(Self::group(result))
                .message_deduplication_id(&result.execute_token);
        }
        entry.build().map_err(|e| CallError::transport(SEND, e.to_string()))
    }

    /// Sends up to ten results in one call; each entry's failure maps back to its own result.
    /// Answers `(index, outcome)` for every result of the chunk.
    async fn send_chunk(&self, chunk: &[Indexed<'_>]) -> Vec<(usize, Result<(), CallError>)> {
        let mut outcomes: Vec<Result<(), CallError>> =
            vec![Err(CallError::transport(SEND, "the response did not mention this entry")); chunk.len()];
        let mut entries = Vec::with_capacity(chunk.len());
        for (position, (_, result)) in chunk.iter().enumerate() {
            match self.entry(position, result) {
                Ok(entry) => entries.push(entry),
                Err(e) => outcomes[position] = Err(e),
            }
        }
        if !entries.is_empty() {
            self.send_entries(entries, &mut outcomes, chunk).await;
        }
        chunk.iter().map(|(index, _)| *index).zip(outcomes).collect()
    }

    async fn send_entries(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
        outcomes: &mut [Result<(), CallError>],
        chunk: &[Indexed<'_>],
    ) {
        let sent_positions: Vec<usize> = entries.iter().filter_map(|e| e.id().parse().ok()).collect();
        let output = match self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                let e = call_error(SEND, e);
                for position in sent_positions {
                    outcomes[position] = Err(e.clone());
                }
                return;
            }
        };
        for ok in output.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| outcomes.get_mut(i)) {
                *slot = Ok(());
            }
        }
        for failed in output.failed() {
            let Some(position) = failed.id().parse::<usize>().ok().filter(|i| *i < outcomes.len()) else {
                continue;
            };
            let status = if failed.sender_fault() { 400 } else { 500 };
            let index = chunk[position].0;
            let message = format!("entry {index} refused: {}", failed.message().unwrap_or(""));
            outcomes[position] = Err(CallError::service(SEND, failed.code(), Some(status), message));
        }
    }

    /// FIFO: one call after the other, so the queue keeps the results' order within each group;
    /// once a result of a group failed, no later result of that group is sent (it would overtake
    /// the failed one). Other groups go on.
    async fn publish_fifo(&self, results: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        let mut out: Vec<Option<Result<(), CallError>>> = vec![None; results.len()];
        let mut failed_groups: HashSet<&str> = HashSet::new();
        let mut pending = results.iter().enumerate().peekable();
        while pending.peek().is_some() {
            let mut chunk: Vec<Indexed<'_>> = Vec::with_capacity(BATCH);
            for (index, result) in pending.by_ref() {
                if failed_groups.contains(Self::group(result)) {
                    let e = CallError::transport(SEND, "not sent: an earlier result of its FIFO group failed");
                    out[index] = Some(Err(e));
                    continue;
                }
                chunk.push((index, result));
                if chunk.len() == BATCH {
                    break;
                }
            }
            for (index, outcome) in self.send_chunk(&chunk).await {
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

impl ResultPublisher for SqsResultPublisher {
    async fn publish(&self, results: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        if self.fifo {
            return self.publish_fifo(results).await;
        }
        let indexed: Vec<Indexed<'_>> = results.iter().enumerate().collect();
        let mut out: Vec<Result<(), CallError>> = vec![Err(CallError::transport(SEND, "not sent")); results.len()];
        for (index, outcome) in join_all(indexed.chunks(BATCH).map(|c| self.send_chunk(c)))
            .await
            .into_iter()
            .flatten()
        {
            out[index] = outcome;
        }
        out
    }
}
