//! A requests queue with a dead-letter queue, as an SQS event source mapping reads it.
//!
//! moto implements RedrivePolicy as SQS does: a message received `maxReceiveCount` times and still
//! not deleted is moved to the dead-letter queue by the next ReceiveMessage that finds it visible.

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

/// How many messages a queue holds: visible, and received but not yet deleted (in flight).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

impl QueueDepth {
    pub fn is_empty(&self) -> bool {
        self.visible == 0 && self.in_flight == 0
    }
}

impl QueuePair {
    /// Creates `<name>-dlq`, then `<name>` with a RedrivePolicy pointing at it.
    pub async fn create(sqs: &aws_sdk_sqs::Client, name: &str, max_receive_count: u32) -> Result<QueuePair, LoopError> {
        let dlq_url = create_queue(sqs, &format!("{name}-dlq"), false).await?;
        let dlq_arn = queue_arn(sqs, &dlq_url).await?;
        let url = create_queue(sqs, name, false).await?;
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

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, LoopError> {
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
    })
}
