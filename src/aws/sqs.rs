//! [`ResultPublisher`] on Amazon SQS, with SendMessageBatch: one call per ten results.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use futures::future::join_all;

use super::call_error;
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

impl SqsResultPublisher {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        let queue_url = queue_url.into();
        let fifo = queue_url.ends_with(".fifo");
        Self {
            client,
            queue_url,
            fifo,
        }
    }

    fn entry(&self, index: usize, result: &ResultMessage) -> Result<SendMessageBatchRequestEntry, CallError> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(index.to_string())
            .message_body(result.to_json());
        if self.fifo {
            entry = entry
                .message_group_id(result.provisioned_product_id.as_deref().unwrap_or("unresolved"))
                .message_deduplication_id(&result.execute_token);
        }
        entry.build().map_err(|e| CallError::transport(SEND, e.to_string()))
    }

    /// Sends up to ten results in one call; each entry's failure maps back to its own result.
    async fn send_chunk(&self, offset: usize, chunk: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        let entries: Result<Vec<_>, _> = chunk.iter().enumerate().map(|(i, r)| self.entry(i, r)).collect();
        let entries = match entries {
            Ok(entries) => entries,
            Err(e) => return vec![Err(e); chunk.len()],
        };
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
                return vec![Err(e); chunk.len()];
            }
        };
        let mut outcomes: Vec<Result<(), CallError>> =
            vec![Err(CallError::transport(SEND, "the response did not mention this entry")); chunk.len()];
        for ok in output.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| outcomes.get_mut(i)) {
                *slot = Ok(());
            }
        }
        for failed in output.failed() {
            let Some(index) = failed.id().parse::<usize>().ok().filter(|i| *i < outcomes.len()) else {
                continue;
            };
            let status = if failed.sender_fault() { 400 } else { 500 };
            let message = format!("entry {} refused: {}", offset + index, failed.message().unwrap_or(""));
            outcomes[index] = Err(CallError::service(SEND, failed.code(), Some(status), message));
        }
        outcomes
    }
}

impl ResultPublisher for SqsResultPublisher {
    async fn publish(&self, results: &[ResultMessage]) -> Vec<Result<(), CallError>> {
        let chunks = results
            .chunks(BATCH)
            .enumerate()
            .map(|(n, chunk)| self.send_chunk(n * BATCH, chunk));
        if self.fifo {
            // One call after the other, so the queue keeps the results' order within each group; after
            // a call with a failed entry nothing more is sent, so no later result overtakes it.
            let mut out: Vec<Result<(), CallError>> = Vec::with_capacity(results.len());
            for chunk in chunks {
                if out.iter().any(Result::is_err) {
                    break;
                }
                out.extend(chunk.await);
            }
            let not_sent = CallError::transport(SEND, "not sent: an earlier result for this FIFO queue failed");
            out.resize(results.len(), Err(not_sent));
            out
        } else {
            join_all(chunks).await.into_iter().flatten().collect()
        }
    }
}
