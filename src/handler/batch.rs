//! The batch driver, in three steps whose signatures tell the story:
//!
//! 1. **run** every record within the budget: a standard queue's records concurrently (at most
//!    `MAX_CONCURRENCY`); a FIFO queue's message groups concurrently, each group's records one after
//!    the other, a group stopping at its first record that must be retried;
//! 2. **publish** the results of the records that finished, before anything is acknowledged;
//! 3. **hand back** every record that must be retried (and, FIFO, every later record of its group)
//!    as a batch item failure; the rest are acknowledged.

use std::collections::BTreeSet;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use super::record::RecordRun;
use super::{Context, Deliveries, HandBack, Handler, InvocationError};
use crate::backoff::visibility_seconds;
use crate::event::WorkItem;
use crate::ports::{ActionExecutor, MessageSender, ResourceOwners, ResultPublisher, VisibilityChanger};

/// What became of one record: acknowledged, or handed back for this reason.
type RecordEnd = Result<(), HandBack>;

impl<E, Q> Handler<E, Q>
where
    E: ActionExecutor + ResourceOwners,
    Q: ResultPublisher + MessageSender + VisibilityChanger,
{
    pub(super) async fn handle_batch(
        &self,
        items: Vec<WorkItem>,
        fifo: bool,
        ctx: &Context,
    ) -> Result<SqsBatchResponse, InvocationError> {
        let runs = self.run_all(&items, fifo, ctx).await;
        let ends = self.publish(runs, ctx).await;
        let groups = fifo.then(|| items.iter().map(|i| i.message_group_id.as_deref()).collect::<Vec<_>>());
        let handed_back = hand_back(&ends, groups.as_deref());

        for &index in &handed_back {
            match &ends[index] {
                Err(cause) => {
                    warn!(message_id = %items[index].source.id, cause = %cause, "handing the record back");
                    self.note_handed_back(cause);
                }
                Ok(()) => {
                    let earlier = HandBack::EarlierInGroup {
                        group: items[index].message_group_id.clone().unwrap_or_default(),
                    };
                    self.note_handed_back(&earlier);
                }
            }
        }
        self.back_off(&items, &ends, &handed_back, ctx).await;
        info!(
            records = items.len(),
            acknowledged = items.len() - handed_back.len(),
            handed_back = handed_back.len(),
            fifo,
            "batch done"
        );
        if !items.is_empty() && handed_back.len() == items.len() {
            return Err(InvocationError::BatchFailed {
                count: items.len(),
                first: Box::new(first_cause(ends)),
            });
        }
        Ok(batch_response(&items, &handed_back))
    }

    /// Step 1: runs every record, in record order in the answer.
    async fn run_all(&self, items: &[WorkItem], fifo: bool, ctx: &Context) -> Vec<RecordRun> {
        if !fifo {
            return stream::iter(items)
                .map(|item| self.run_record(item, ctx))
                .buffered(self.config.max_concurrency)
                .collect()
                .await;
        }
        let mut runs: Vec<Option<RecordRun>> = items.iter().map(|_| None).collect();
        let groups = stream::iter(message_groups(items))
            .map(|indexes| self.run_group(items, indexes, ctx))
            .buffer_unordered(self.config.max_concurrency)
            .collect::<Vec<_>>()
            .await;
        for (index, run) in groups.into_iter().flatten() {
            runs[index] = Some(run);
        }
        // Every index belongs to exactly one group; should one be missing, retry it.
        runs.into_iter()
            .map(|run| run.unwrap_or(RecordRun::HandBack(HandBack::NotStarted)))
            .collect()
    }

    /// The records of one FIFO message group, one after the other; after the first that must be
    /// retried, the rest wait (handed back unstarted) so the group is redelivered in its order.
    async fn run_group(&self, items: &[WorkItem], indexes: Vec<usize>, ctx: &Context) -> Vec<(usize, RecordRun)> {
        let mut out = Vec::with_capacity(indexes.len());
        let mut stopped = false;
        for index in indexes {
            let item = &items[index];
            let run = if stopped {
                let group = item.message_group_id.clone().unwrap_or_default();
                RecordRun::HandBack(HandBack::EarlierInGroup { group })
            } else {
                self.run_record(item, ctx).await
            };
            stopped |= matches!(run, RecordRun::HandBack(_));
            out.push((index, run));
        }
        out
    }

    /// Step 2: sends what the finished records produced (results, then tracking messages); says for
    /// each record whether it may be acknowledged.
    async fn publish(&self, runs: Vec<RecordRun>, ctx: &Context) -> Vec<RecordEnd> {
        let records = runs.len();
        let mut handed_back: Vec<Option<HandBack>> = Vec::with_capacity(records);
        let mut outputs = Vec::new();
        for (index, run) in runs.into_iter().enumerate() {
            match run {
                RecordRun::Done(output) => {
                    outputs.push((index, *output));
                    handed_back.push(None);
                }
                RecordRun::HandBack(cause) => handed_back.push(Some(cause)),
            }
        }
        let sent = self.deliver(&Deliveries::of(outputs), records, ctx).await;
        handed_back
            .into_iter()
            .zip(sent)
            .map(|(cause, sent)| match cause {
                Some(cause) => Err(cause),
                None => sent,
            })
            .collect()
    }

    /// Records handed back for a retryable error come back after an exponential back-off in their
    /// receive count instead of the queue's visibility timeout (`RETRY_BACKOFF_SECONDS`). A change
    /// that fails only means the record comes back at the usual time: the hand-back stands.
    async fn back_off(&self, items: &[WorkItem], ends: &[RecordEnd], handed_back: &BTreeSet<usize>, ctx: &Context) {
        if self.config.retry_backoff.is_zero() {
            return;
        }
        let changes = handed_back.iter().filter_map(|&index| {
            let receipt = items[index].receipt.as_ref()?;
            let cause = ends[index].as_ref().err()?;
            if !cause.backs_off() {
                return None;
            }
            let seconds = visibility_seconds(
                receipt.receive_count,
                self.config.retry_backoff,
                self.config.retry_backoff_max,
                &receipt.handle,
            );
            Some(async move {
                let changed = self
                    .queues
                    .change_visibility(&receipt.queue_url, &receipt.handle, seconds)
                    .await;
                match changed {
                    Ok(()) => info!(message_id = %items[index].source.id, seconds, "comes back after its back-off"),
                    Err(e) => warn!(message_id = %items[index].source.id, error = %e, "back-off not set; it comes back after the queue's visibility timeout"),
                }
            })
        });
        let all = futures::future::join_all(changes);
        if ctx.budget.bound_publish(all).await.is_none() {
            warn!("back-offs not all set before the deadline; those records come back after the queue's visibility timeout");
        }
    }
}

/// Record indexes by FIFO message group, groups in the order they first appear. Records without a
/// group id (not seen on a real FIFO queue) share one group, which keeps their order.
fn message_groups(items: &[WorkItem]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let group = item.message_group_id.as_deref();
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, indexes)) => indexes.push(index),
            None => groups.push((group, vec![index])),
        }
    }
    groups.into_iter().map(|(_, indexes)| indexes).collect()
}

/// Step 3: the records to hand back. Standard queue: each record that did not end well. FIFO
/// (`groups` given): in each message group, everything from its first record that did not end
/// well, so that SQS redelivers the group in its order.
fn hand_back(ends: &[RecordEnd], groups: Option<&[Option<&str>]>) -> BTreeSet<usize> {
    let failed = ends.iter().enumerate().filter(|(_, end)| end.is_err()).map(|(i, _)| i);
    let Some(groups) = groups else {
        return failed.collect();
    };
    let mut out = BTreeSet::new();
    for first in failed {
        out.extend((first..ends.len()).filter(|&later| groups[later] == groups[first]));
    }
    out
}

fn first_cause(ends: Vec<RecordEnd>) -> HandBack {
    ends.into_iter().find_map(Result::err).unwrap_or(HandBack::NotStarted)
}

fn batch_response(items: &[WorkItem], handed_back: &BTreeSet<usize>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for &index in handed_back {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = items[index].source.id.clone();
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CallError;

    fn ended(pattern: &str) -> Vec<RecordEnd> {
        pattern
            .chars()
            .map(|c| match c {
                'x' => Err(HandBack::NotPublished(CallError::transport("Op", "no"))),
                _ => Ok(()),
            })
            .collect()
    }

    #[test]
    fn a_standard_batch_hands_back_exactly_the_records_that_did_not_end_well() {
        assert_eq!(hand_back(&ended("..x.x"), None), BTreeSet::from([2, 4]));
        assert_eq!(hand_back(&ended("....."), None), BTreeSet::new());
    }

    #[test]
    fn a_fifo_batch_hands_back_the_rest_of_the_failing_group_only() {
        let groups = [
            Some("a"),
            Some("b"),
            Some("a"),
            Some("c"),
            Some("b"),
            Some("a"),
            Some("c"),
        ];
        // Record 2 (group a) failed: 2 and 5 go back; b and c are untouched.
        assert_eq!(hand_back(&ended("..x...."), Some(&groups)), BTreeSet::from([2, 5]));
        // Record 1 (group b) and record 6 (group c) failed.
        assert_eq!(hand_back(&ended(".x....x"), Some(&groups)), BTreeSet::from([1, 4, 6]));
        // A record before the failure in its group stays acknowledged.
        assert_eq!(hand_back(&ended(".....x."), Some(&groups)), BTreeSet::from([5]));
    }

    #[test]
    fn message_groups_keep_first_appearance_order_and_record_order() {
        let item = |group: Option<&str>| WorkItem {
            source: crate::outcome::Source {
                kind: crate::outcome::SourceKind::Sqs,
                id: "m".into(),
            },
            token_source: crate::token::TokenSource::SqsMessage("m".into()),
            payload: Ok(serde_json::Value::Null),
            message_group_id: group.map(str::to_owned),
            receipt: None,
        };
        let items = [
            item(Some("b")),
            item(Some("a")),
            item(Some("b")),
            item(None),
            item(None),
        ];
        assert_eq!(message_groups(&items), vec![vec![0, 2], vec![1], vec![3, 4]]);
    }
}
