//! Fleet runs in the handler: list the candidates, plan the targets, and send one child request
//! per target to the requests queue (or, for a dry run, say what would be sent). The pure rules
//! are in [`crate::fleet`].

use tracing::info;

use super::record::{finish_failed, Failure, RecordRun};
use super::{HandBack, Handler};
use crate::config::is_fifo_queue;
use crate::error::{CallError, Disposition, RecordError};
use crate::event::WorkItem;
use crate::fleet::{child_body, child_key, plan, FleetSummary, Parent, Plan, Selection};
use crate::metrics::Metric;
use crate::outcome::ResultMessage;
use crate::ports::{
    ActionExecutor, FifoIds, MessageSender, OutgoingMessage, ResourceOwners, ResultPublisher, VisibilityChanger,
};
use crate::request::{ActionRef, ActionRequest};
use crate::token::digest;

impl<E, Q> Handler<E, Q>
where
    E: ActionExecutor + ResourceOwners,
    Q: ResultPublisher + MessageSender + VisibilityChanger,
{
    /// A fleet request; its token is the fleet run id.
    pub(super) async fn run_fleet(
        &self,
        item: &WorkItem,
        request: &ActionRequest,
        selection: &Selection,
        fleet_run_id: String,
    ) -> RecordRun {
        let Some(queue_url) = self.config.requests_queue_url.clone() else {
            let message = "select: fleet runs need REQUESTS_QUEUE_URL, the queue their child requests go to".to_owned();
            let failure = Failure::new(RecordError::FleetRunsNotConfigured { message }, None, None);
            return finish_failed(item, fleet_run_id, failure);
        };
        let action_id = match &request.action {
            ActionRef::Id(id) => match self.allowed_action(id, None) {
                Ok(id) => Some(id),
                Err(failure) => return finish_failed(item, fleet_run_id, failure),
            },
            ActionRef::Name(_) => None,
        };
        let language = self.language(request.accept_language);
        let listed = match self
            .executor
            .search_provisioned_products(selection.search_query().as_deref(), language)
            .await
        {
            Ok(listed) => listed,
            Err(e) => return finish_failed(item, fleet_run_id, Failure::new(e, None, action_id.as_deref())),
        };
        let plan = plan(&listed, selection, self.config.allowed_provisioned_product_ids.as_ref());
        info!(
            listed = listed.len(),
            candidates = plan.candidates,
            targets = plan.targets.len(),
            "fleet planned"
        );
        if plan.targets.len() > selection.max_targets as usize {
            return too_many(item, fleet_run_id, action_id, &plan, selection.max_targets);
        }
        let summary = FleetSummary::of(&plan, plan.targets.len() as u64);
        if request.dry_run {
            let result = ResultMessage::fanned_out(item.source.clone(), fleet_run_id, action_id, summary, true);
            return RecordRun::result(result);
        }
        let children = children(request, &fleet_run_id, &plan.targets, is_fifo_queue(&queue_url));
        let sent = self.queues.send(&queue_url, &children).await;
        self.enqueued(item, fleet_run_id, action_id, &plan, sent)
    }

    /// The parent's end once its children were sent: FANNED_OUT; a hand-back when a child must be
    /// sent again (the re-run sends the same children: harmless copies, same tokens); or, when SQS
    /// refused children for good, REJECTED with how many went out.
    fn enqueued(
        &self,
        item: &WorkItem,
        fleet_run_id: String,
        action_id: Option<String>,
        plan: &Plan,
        sent: Vec<Result<(), CallError>>,
    ) -> RecordRun {
        let sent = super::every_entry_answered(sent, plan.targets.len());
        let enqueued = sent.iter().filter(|s| s.is_ok()).count() as u64;
        self.note(|m| m.count(Metric::FleetTargets, enqueued));
        let summary = FleetSummary::of(plan, enqueued);
        let errors: Vec<CallError> = sent.into_iter().filter_map(Result::err).collect();
        let Some(first) = errors.first() else {
            info!(enqueued, "fleet run fanned out");
            let result = ResultMessage::fanned_out(item.source.clone(), fleet_run_id, action_id, summary, false);
            return RecordRun::result(result);
        };
        if let Some(retryable) = errors.iter().find(|e| e.disposition() == Disposition::Retry) {
            return RecordRun::HandBack(HandBack::Retryable(RecordError::Call(retryable.clone())));
        }
        let failure = Failure::new(first.clone(), None, action_id.as_deref());
        with_summary(finish_failed(item, fleet_run_id, failure), summary)
    }
}

/// A fleet run's REJECTED result, with its summary.
fn with_summary(run: RecordRun, summary: FleetSummary) -> RecordRun {
    run.map_results(|result| result.fleet = Some(summary.clone()))
}

/// The REJECTED result of a selection with more targets than its `maxTargets`; nothing is sent.
fn too_many(item: &WorkItem, fleet_run_id: String, action_id: Option<String>, plan: &Plan, max: u32) -> RecordRun {
    let message = format!(
        "select: {} targets match, more than maxTargets {max}; nothing was enqueued (narrow the selection or raise maxTargets)",
        plan.targets.len()
    );
    let failure = Failure::new(RecordError::TooManyTargets { message }, None, action_id.as_deref());
    with_summary(finish_failed(item, fleet_run_id, failure), FleetSummary::of(plan, 0))
}

/// One child request per target, in target order. On a FIFO requests queue each child's group is
/// its product, and its deduplication id a digest of its idempotency key (64 characters, inside
/// SQS's 128).
fn children(request: &ActionRequest, fleet_run_id: &str, targets: &[String], fifo: bool) -> Vec<OutgoingMessage> {
    let parent = Parent {
        fleet_run_id,
        action: &request.action,
        parameters: request.parameters_given.then_some(&request.parameters),
        accept_language: request.accept_language.map(|l| l.as_str()),
    };
    targets
        .iter()
        .map(|target| OutgoingMessage {
            body: child_body(parent, target).to_string(),
            delay_seconds: 0,
            fifo: fifo.then(|| FifoIds {
                group_id: target.clone(),
                deduplication_id: digest(&child_key(fleet_run_id, target)),
            }),
        })
        .collect()
}
