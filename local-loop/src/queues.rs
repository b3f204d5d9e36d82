//! A requests queue with a dead-letter queue, as an SQS event source mapping reads it.
//!
//! moto implements RedrivePolicy as SQS does: a message received `maxReceiveCount` times and still
//! not deleted is moved to the dead-letter queue by the next ReceiveMessage that finds it visible.
//! As in SQS, a name ending in `.fifo` makes a FIFO queue (its DLQ is FIFO too).

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;

use crate::{create_queue, err, LoopError};

/// A queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueuePair {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
    pub max_receive_count: u32,
}

/// A requests queue and its DLQ for [`crate::LocalLoop::start`] to create before the function
/// starts, so that the function can be told its URL (a function that sends work back to its own
/// queue: tracking messages with a delay, fleet runs fanning out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestsQueue {
    /// The queue's name; `<name>-dlq` is its DLQ (`<stem>-dlq.fifo` for `<stem>.fifo`).
    pub name: String,
    /// Receives before moto moves a message to the DLQ.
    pub max_receive_count: u32,
    /// Environment variables of the function that are set to the queue's URL.
    pub url_env: Vec<String>,
}

impl RequestsQueue {
    pub fn new(name: impl Into<String>, max_receive_count: u32) -> Self {
        RequestsQueue {
            name: name.into(),
            max_receive_count,
            url_env: Vec::new(),
        }
    }

    /// Also sets the function's environment variable `name` to the queue's URL.
    pub fn url_in(mut self, name: impl Into<String>) -> Self {
        self.url_env.push(name.into());
        self
    }
}

/// How many messages a queue holds: visible, received but not yet deleted (in flight), and sent
/// with a delay that has not passed yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl QueueDepth {
    /// Nothing left to receive, now or later.
    pub fn is_empty(&self) -> bool {
        self.visible == 0 && self.in_flight == 0 && self.delayed == 0
    }
}

impl QueuePair {
    /// Creates `<name>-dlq`, then `<name>` with a RedrivePolicy pointing at it. A `<stem>.fifo`
    /// name makes both FIFO queues, the DLQ named `<stem>-dlq.fifo`.
    pub async fn create(sqs: &aws_sdk_sqs::Client, name: &str, max_receive_count: u32) -> Result<QueuePair, LoopError> {
        let fifo_stem = name.strip_suffix(".fifo");
        let dlq_name = match fifo_stem {
            Some(stem) => format!("{stem}-dlq.fifo"),
            None => format!("{name}-dlq"),
        };
        let fifo = fifo_stem.is_some();
        let dlq_url = create_queue(sqs, &dlq_name, fifo).await?;
        let dlq_arn = queue_arn(sqs, &dlq_url).await?;
        let url = create_queue(sqs, name, fifo).await?;
        let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}).to_string();
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .map_err(|e| err(format!("SetQueueAttributes {name}: {}", DisplayErrorContext(e))))?;
        let arn = queue_arn(sqs, &url).await?;
        Ok(QueuePair {
            url,
            arn,
            dlq_url,
            dlq_arn,
            max_receive_count,
        })
    }
}

/// The queue's ARN.
pub(crate) async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, LoopError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| err(format!("GetQueueAttributes {url}: {}", DisplayErrorContext(e))))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| err(format!("GetQueueAttributes {url}: no QueueArn")))
}

/// The queue's approximate depth (moto's figures are exact).
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<QueueDepth, LoopError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| err(format!("GetQueueAttributes {url}: {}", DisplayErrorContext(e))))?;
    let number = |name: QueueAttributeName| -> u64 {
        out.attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(QueueDepth {
        visible: number(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        delayed: number(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    })
}

/// Receives and deletes every message now on the queue at `url`; their bodies, in the order
/// received.
pub(crate) async fn take_bodies(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<Vec<String>, LoopError> {
    let mut bodies = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .visibility_timeout(60)
            .send()
            .await
            .map_err(|e| err(format!("ReceiveMessage: {}", DisplayErrorContext(e))))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(bodies);
        }
        for m in messages {
            bodies.push(m.body().unwrap_or_default().to_owned());
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| err(format!("DeleteMessage: {}", DisplayErrorContext(e))))?;
            }
        }
    }
}
