//! The results queue as the demo reads it while the event source mapping runs: every result
//! received (and deleted) is kept with the time SQS says it was sent, so that a section can wait
//! for the results it expects, find them by source, token or fleet run, and tell how long
//! tracking took (from the EXECUTED result's send time to the final result's).

use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::Value;

/// Outcomes that end a tracked execution.
const FINAL_OUTCOMES: [&str; 4] = ["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED"];

/// One result read back.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) result: Value,
    /// SQS's `SentTimestamp`: when the function sent it (epoch milliseconds).
    pub(crate) sent_ms: u64,
}

impl Received {
    pub(crate) fn outcome(&self) -> &str {
        self.result["outcome"].as_str().unwrap_or_default()
    }

    pub(crate) fn token(&self) -> &str {
        self.result["executeToken"].as_str().unwrap_or_default()
    }

    fn source_id(&self) -> &str {
        self.result["source"]["id"].as_str().unwrap_or_default()
    }

    fn fleet_run_id(&self) -> &str {
        self.result["fleetRunId"].as_str().unwrap_or_default()
    }
}

/// How long tracking took: from the EXECUTED result to the final one.
pub(crate) fn tracked_for(executed: &Received, last: &Received) -> Duration {
    Duration::from_millis(last.sent_ms.saturating_sub(executed.sent_ms))
}

/// Every result read back from one results queue so far.
pub(crate) struct ResultsInbox {
    sqs: aws_sdk_sqs::Client,
    url: String,
    received: Vec<Received>,
}

impl ResultsInbox {
    pub(crate) fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        ResultsInbox {
            sqs,
            url: url.into(),
            received: Vec::new(),
        }
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Value> {
        self.received.iter().map(|r| &r.result)
    }

    /// Receives until `done` holds for what was received, or `timeout` passes; says whether it held.
    pub(crate) async fn wait_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&ResultsInbox) -> bool,
    ) -> Result<bool, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(self) {
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            self.receive_once().await?;
        }
        Ok(true)
    }

    /// One long poll (up to a second): what arrived is kept and deleted from the queue.
    async fn receive_once(&mut self) -> Result<(), String> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage (results queue): {}", DisplayErrorContext(e)))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(());
        }
        let mut deletes = Vec::with_capacity(messages.len());
        for (n, m) in messages.iter().enumerate() {
            let body = m.body().unwrap_or_default();
            let sent_ms = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            self.received.push(Received {
                result: serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned())),
                sent_ms,
            });
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .build()
                .map_err(|e| format!("DeleteMessageBatch entry: {e}"))?;
            deletes.push(entry);
        }
        self.sqs
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(deletes))
            .send()
            .await
            .map_err(|e| format!("DeleteMessageBatch (results queue): {}", DisplayErrorContext(e)))?;
        Ok(())
    }

    /// The first result with this outcome for the request that came from source `id`.
    pub(crate) fn first_for_source(&self, id: &str, outcome: &str) -> Option<&Received> {
        self.received
            .iter()
            .find(|r| r.source_id() == id && r.outcome() == outcome)
    }

    /// The first result whose `resourceArn` is `arn`, other than a final one.
    pub(crate) fn first_for_resource(&self, arn: &str) -> Option<&Received> {
        self.received
            .iter()
            .find(|r| r.result["resourceArn"] == arn && matches!(r.outcome(), "EXECUTED" | "REJECTED"))
    }

    /// Every result with this outcome and token.
    pub(crate) fn with_token(&self, token: &str, outcome: &str) -> Vec<&Received> {
        self.received
            .iter()
            .filter(|r| r.token() == token && r.outcome() == outcome)
            .collect()
    }

    /// The first result that ends the execution EXECUTED with `executed`'s token.
    pub(crate) fn final_for(&self, executed: &Received) -> Option<&Received> {
        self.received.iter().find(|r| {
            r.token() == executed.token() && FINAL_OUTCOMES.contains(&r.outcome()) && r.sent_ms >= executed.sent_ms
        })
    }

    /// Every result of fleet run `fleet_run_id`'s children with this outcome.
    pub(crate) fn of_fleet_run(&self, fleet_run_id: &str, outcome: &str) -> Vec<&Received> {
        self.received
            .iter()
            .filter(|r| r.fleet_run_id() == fleet_run_id && r.outcome() == outcome && r.token() != fleet_run_id)
            .collect()
    }

    /// Every final result of fleet run `fleet_run_id`'s children.
    pub(crate) fn finals_of_fleet_run(&self, fleet_run_id: &str) -> Vec<&Received> {
        self.received
            .iter()
            .filter(|r| r.fleet_run_id() == fleet_run_id && FINAL_OUTCOMES.contains(&r.outcome()))
            .collect()
    }
}
