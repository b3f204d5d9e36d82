//! Completion tracking in the handler: after an EXECUTED result, the first tracking message (or,
//! when the record is already final, the final result at once); on a tracking message, one check
//! with DescribeRecord and what follows from it. The pure rules are in [`crate::tracking`].

use std::time::{Duration, SystemTime};

use tracing::{info, warn, Span};

use super::record::{finish_failed, finish_failed_as, Failure, Outputs, RecordRun};
use super::{HandBack, Handler};
use crate::error::{CallError, Disposition, RecordError};
use crate::event::WorkItem;
use crate::metrics::unix_millis;
use crate::outcome::{Outcome, ResultMessage};
use crate::ports::{
    ActionExecutor, DescribedRecord, MessageSender, OutgoingMessage, ResourceOwners, ResultPublisher, VisibilityChanger,
};
use crate::request::{AcceptLanguage, RequestError};
use crate::token::execute_token;
use crate::tracking::{decide, delay_seconds, failed_error, is_final_status, timed_out_error, Check, TrackRecord};

impl<E, Q> Handler<E, Q>
where
    E: ActionExecutor + ResourceOwners,
    Q: ResultPublisher + MessageSender + VisibilityChanger,
{
    /// What an EXECUTED result brings with tracking on: the first tracking message, or — when the
    /// record is already final — the final result right away (after one check for its outputs).
    pub(super) async fn after_executed(
        &self,
        executed: ResultMessage,
        accept_language: Option<AcceptLanguage>,
    ) -> RecordRun {
        let Some(tracking) = &self.config.tracking else {
            return RecordRun::result(executed);
        };
        let Some(track) = track_record(&executed, accept_language) else {
            warn!("the EXECUTED record has no RecordId; it cannot be tracked");
            return RecordRun::result(executed);
        };
        let status = executed.record_detail.as_ref().and_then(|d| d.status.as_deref());
        if is_final_status(status) {
            match self.check(track.clone()).await {
                RecordRun::Done(mut outputs) => {
                    outputs.results.insert(0, executed);
                    return RecordRun::Done(outputs);
                }
                // The action ran: never hand it back for a check that may pass later. The EXECUTED
                // result goes out with a tracking message, and the check is retried the usual way.
                RecordRun::HandBack(cause) => {
                    warn!(cause = %cause, "the final status could not be read yet; tracking it instead");
                }
            }
        }
        self.follow_up(vec![executed], &track, tracking.first_delay_seconds)
    }

    /// A tracking message: a check, or a REJECTED result for one that cannot be read.
    pub(super) async fn check_tracked(&self, item: &WorkItem, tracked: Result<TrackRecord, RequestError>) -> RecordRun {
        match tracked {
            Ok(track) => {
                let span = Span::current();
                span.record("execute_token", track.execute_token.as_str());
                span.record("provisioned_product_id", track.provisioned_product_id.as_str());
                span.record("service_action_id", track.service_action_id.as_str());
                info!(record_id = %track.record_id, checks = track.checks, "tracking check");
                self.check(track).await
            }
            Err(e) => {
                info!(error = %e, "tracking message rejected: malformed");
                let token = execute_token(&item.token_source, None);
                finish_failed(item, token, Failure::new(RecordError::InvalidRequest(e), None, None))
            }
        }
    }

    /// One check of a tracked execution: DescribeRecord, then the final result, the next tracking
    /// message, or a hand-back.
    async fn check(&self, track: TrackRecord) -> RecordRun {
        if let Err(error) = self.tracked_ids_allowed(&track) {
            return concluding_failure(&track, error);
        }
        let language = self.language(track.accept_language.as_deref().and_then(AcceptLanguage::parse));
        let described = match self.executor.describe_record(&track.record_id, language).await {
            Ok(described) => described,
            Err(e) => return self.describe_failed(&track, e),
        };
        if described.detail.provisioned_product_id.as_deref() != Some(track.provisioned_product_id.as_str()) {
            let message = format!(
                "record {} does not belong to provisioned product {}",
                track.record_id, track.provisioned_product_id
            );
            return concluding_failure(&track, RecordError::RecordMismatch { message });
        }
        self.final_or_pending(track, described)
    }

    /// The final result, or the next tracking message while the record is not final and there is
    /// time left. A tracking message that arrives while tracking is off gets this one check.
    fn final_or_pending(&self, track: TrackRecord, described: DescribedRecord) -> RecordRun {
        let tracking = self.config.tracking.as_ref();
        let tracked_for = track.tracked_for(unix_millis(SystemTime::now()));
        let status = described.detail.status.clone();
        let timeout = tracking.map_or(Duration::ZERO, |t| t.timeout);
        let (outcome, error) = match decide(status.as_deref(), tracked_for, timeout) {
            Check::Final(Outcome::Failed) => (Outcome::Failed, Some(failed_error(&described.detail))),
            Check::Final(outcome) => (outcome, None),
            Check::TimedOut => (Outcome::TimedOut, Some(timed_out_error(tracked_for, status.as_deref()))),
            Check::Pending => {
                info!(
                    status = status.as_deref().unwrap_or_default(),
                    "not final yet; checking again later"
                );
                let first = tracking.map_or(0, |t| t.first_delay_seconds);
                return self.follow_up(Vec::new(), &track.next(), first);
            }
        };
        info!(outcome = ?outcome, tracked_ms = tracked_for.as_millis() as u64, "tracked to its end");
        let result = ResultMessage::executed(
            track.source.clone(),
            track.execute_token.clone(),
            track.provisioned_product_id.clone(),
            track.service_action_id.clone(),
            described.detail,
        )
        .concluded(outcome, described.outputs, error);
        RecordRun::result(result).map_results(|result| of_request(&track, result))
    }

    /// DescribeRecord failed: retry what may pass; anything else ends the tracked execution with
    /// a REJECTED result that carries its token, source and ids.
    fn describe_failed(&self, track: &TrackRecord, e: CallError) -> RecordRun {
        match e.disposition() {
            Disposition::Retry => {
                warn!(error = %e, "tracking check must be retried");
                RecordRun::HandBack(HandBack::Retryable(RecordError::Call(e)))
            }
            Disposition::Reject => concluding_failure(track, RecordError::Call(e)),
        }
    }

    /// The allow-lists apply to tracking messages too: one cannot be forged to look into a product
    /// or an action this function may not touch.
    fn tracked_ids_allowed(&self, track: &TrackRecord) -> Result<(), RecordError> {
        self.config.product_allowed(&track.provisioned_product_id)?;
        self.config.action_allowed(&track.service_action_id)
    }

    /// `results`, then the tracking message that carries `track` (waiting as the `track.checks`-th
    /// one does). A message that cannot be serialized is retried, never sent as something else.
    fn follow_up(&self, results: Vec<ResultMessage>, track: &TrackRecord, first_delay: u32) -> RecordRun {
        match track.to_body() {
            Ok(body) => RecordRun::Done(Box::new(Outputs {
                results,
                follow_up: Some(OutgoingMessage {
                    body,
                    delay_seconds: delay_seconds(track.checks, first_delay),
                    fifo: None,
                }),
            })),
            Err(e) => {
                let e = CallError::transport("SendMessageBatch", format!("tracking message not serializable: {e}"));
                RecordRun::HandBack(HandBack::Retryable(RecordError::Call(e)))
            }
        }
    }
}

/// The first tracking record of an EXECUTED result; `None` without a RecordId.
fn track_record(executed: &ResultMessage, accept_language: Option<AcceptLanguage>) -> Option<TrackRecord> {
    let record_id = executed.record_detail.as_ref()?.record_id.clone()?;
    let mut track = TrackRecord::begin(
        record_id,
        executed.execute_token.clone(),
        executed.source.clone(),
        executed.provisioned_product_id.clone()?,
        executed.service_action_id.clone()?,
        unix_millis(SystemTime::now()),
    );
    track.fleet_run_id = executed.fleet_run_id.clone();
    track.resource_arn = executed.resource_arn.clone();
    track.accept_language = accept_language.map(|l| l.as_str().to_owned());
    Some(track)
}

/// A REJECTED result (or, for a retryable error, a hand-back) that ends a tracked execution: its
/// token, source and ids, and the final message's deduplication id.
fn concluding_failure(track: &TrackRecord, error: RecordError) -> RecordRun {
    let failure = Failure::new(
        error,
        Some(&track.provisioned_product_id),
        Some(&track.service_action_id),
    );
    finish_failed_as(track.source.clone(), track.execute_token.clone(), failure, true)
        .map_results(|result| of_request(track, result))
}

/// A tracked execution's final result carries the fleet run and the resource of the request it
/// tracks.
fn of_request(track: &TrackRecord, result: &mut ResultMessage) {
    result.fleet_run_id = track.fleet_run_id.clone();
    result.resource_arn = track.resource_arn.clone();
}
