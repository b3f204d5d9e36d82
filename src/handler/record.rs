//! The per-record flow: parse the request, derive its token, find the product (by id, by name, or
//! as the owner of a resource), resolve the action (checking the allow-lists as soon as each id is
//! known), execute (or, for a dry run, check and report), and turn the outcome into results to
//! publish or a reason to hand the record back. Bounded by the invocation's budget. Fleet requests
//! go to [`super::fleet`], tracking messages to [`super::track`].

use tracing::{field::Empty, info, info_span, warn, Instrument, Span};

use super::resolve::{CacheKey, Lookup, Resolved};
use super::{Context, HandBack, Handler};
use crate::error::{Disposition, RecordError};
use crate::event::WorkItem;
use crate::outcome::{DryRunReport, RecordDetail, ResultMessage};
use crate::ports::{
    ActionExecutor, Execution, MessageSender, OutgoingMessage, ResourceOwners, ResultPublisher, VisibilityChanger,
};
use crate::request::{parse_request, AcceptLanguage, ActionRequest, ProductRef, Target};
use crate::token::execute_token;
use crate::tracking::tracking_message;

/// How one record's run ended, before anything is published.
#[derive(Debug)]
pub(super) enum RecordRun {
    /// Ran to an end: what it produced must be sent before the record is acknowledged.
    Done(Box<Outputs>),
    /// Must be retried; nothing is published.
    HandBack(HandBack),
}

/// What a record that ran produced, in the order it must be sent: its results (EXECUTED,
/// REJECTED, a final result, or EXECUTED and its final result), then its follow-up message (the
/// next tracking message).
#[derive(Debug, Default)]
pub(super) struct Outputs {
    pub(super) results: Vec<ResultMessage>,
    pub(super) follow_up: Option<OutgoingMessage>,
}

impl RecordRun {
    pub(super) fn result(result: ResultMessage) -> Self {
        RecordRun::Done(Box::new(Outputs {
            results: vec![result],
            follow_up: None,
        }))
    }

    /// This run with `change` applied to each of its results (a hand-back has none).
    pub(super) fn map_results(mut self, mut change: impl FnMut(&mut ResultMessage)) -> Self {
        if let RecordRun::Done(outputs) = &mut self {
            outputs.results.iter_mut().for_each(&mut change);
        }
        self
    }
}

/// Copies the request's fleet run id and resource ARN into a result.
fn stamp(result: &mut ResultMessage, request: &ActionRequest) {
    if result.fleet_run_id.is_none() {
        result.fleet_run_id = request.fleet_run_id.clone();
    }
    if let Target::Resource(arn) = &request.target {
        result.resource_arn = Some(arn.clone());
    }
}

/// How a single-product request names its product.
#[derive(Debug, Clone, Copy)]
enum One<'a> {
    Product(&'a ProductRef),
    Resource(&'a str),
}

/// One try at a single-product request: its end, or the cache entries that proved stale (an Execute
/// after a cached resolution found the resource gone), which calls for one more, fresh try.
enum Attempt {
    Done(RecordRun),
    Stale(Vec<CacheKey>),
}

/// Why a request did not run, with the ids known by then (a REJECTED result reports them).
pub(super) struct Failure {
    error: RecordError,
    provisioned_product_id: Option<String>,
    service_action_id: Option<String>,
}

impl Failure {
    /// A failure with the ids `ids` resolved to.
    fn with(error: impl Into<RecordError>, ids: &Resolved) -> Self {
        Failure::new(error, Some(&ids.provisioned_product_id), Some(&ids.service_action_id))
    }

    pub(super) fn new(error: impl Into<RecordError>, product: Option<&str>, action: Option<&str>) -> Self {
        Failure {
            error: error.into(),
            provisioned_product_id: product.map(str::to_owned),
            service_action_id: action.map(str::to_owned),
        }
    }
}

impl<E, Q> Handler<E, Q>
where
    E: ActionExecutor + ResourceOwners,
    Q: ResultPublisher + MessageSender + VisibilityChanger,
{
    /// Runs one record within the budget: not started when no time is left, abandoned (handed
    /// back) when its calls have not finished by the end of the work time.
    pub(super) async fn run_record(&self, item: &WorkItem, ctx: &Context) -> RecordRun {
        if !ctx.budget.can_start() {
            warn!(message_id = %item.source.id, "record not started: too close to the deadline; handing it back");
            return RecordRun::HandBack(HandBack::NotStarted);
        }
        let span = info_span!(
            "record",
            message_id = %item.source.id,
            provisioned_product_id = Empty,
            service_action_id = Empty,
            execute_token = Empty,
        );
        match ctx
            .budget
            .bound_work(self.process(item, ctx).instrument(span.clone()))
            .await
        {
            Some(run) => run,
            None => {
                warn!(parent: &span, "record abandoned at the deadline margin; handing it back");
                RecordRun::HandBack(HandBack::Abandoned)
            }
        }
    }

    async fn process(&self, item: &WorkItem, ctx: &Context) -> RecordRun {
        let span = Span::current();
        if let Some(tracked) = item.payload.as_ref().ok().and_then(tracking_message) {
            return self.check_tracked(item, tracked).await;
        }
        let request = item.payload.clone().and_then(|payload| parse_request(&payload));
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                let token = execute_token(&item.token_source, None);
                span.record("execute_token", token.as_str());
                info!(field = %e.field, error = %e, "request rejected: invalid");
                let failure = Failure::new(RecordError::InvalidRequest(e), None, None);
                return finish_failed(item, token, failure);
            }
        };
        let token = execute_token(&item.token_source, Some(&request));
        span.record("execute_token", token.as_str());
        info!(parameter_keys = ?request.parameter_keys(), dry_run = request.dry_run, "request");

        let run = match &request.target {
            Target::Fleet(selection) => self.run_fleet(item, &request, selection, token).await,
            Target::Product(product) => self.run_single(item, &request, One::Product(product), token, ctx).await,
            Target::Resource(arn) => self.run_single(item, &request, One::Resource(arn), token, ctx).await,
        };
        // Every result of the run carries the request's fleet run id and resource ARN, if it has them.
        run.map_results(|result| stamp(result, &request))
    }

    /// One product: a try with the name cache, and — when a cached name proved stale — one more
    /// with fresh lookups, under the same token.
    async fn run_single(
        &self,
        item: &WorkItem,
        request: &ActionRequest,
        one: One<'_>,
        token: String,
        ctx: &Context,
    ) -> RecordRun {
        match self
            .attempt(item, request, one, token.clone(), ctx, Lookup::Cached)
            .await
        {
            Attempt::Done(run) => run,
            Attempt::Stale(keys) => {
                info!("a cached name was stale; resolving afresh and executing again with the same token");
                self.forget(&keys);
                match self.attempt(item, request, one, token, ctx, Lookup::Fresh).await {
                    Attempt::Done(run) => run,
                    // A fresh try relies on no cache entry, so it never ends stale.
                    Attempt::Stale(_) => RecordRun::HandBack(HandBack::NotStarted),
                }
            }
        }
    }

    /// Resolve the product (by id, name or owned resource) and the action, then execute (or, for
    /// a dry run, check and report).
    async fn attempt(
        &self,
        item: &WorkItem,
        request: &ActionRequest,
        one: One<'_>,
        token: String,
        ctx: &Context,
        lookup: Lookup,
    ) -> Attempt {
        let language = self.language(request.accept_language);
        let (product, owner_key) = match one {
            One::Resource(arn) => match self.owner_of(arn, ctx, lookup).await {
                Ok((id, key)) => (ProductRef::Id(id), key),
                Err(failure) => return Attempt::Done(finish_failed(item, token, failure)),
            },
            One::Product(product) => (product.clone(), None),
        };
        let mut ids = match self.resolve(&product, &request.action, language, lookup).await {
            Ok(ids) => ids,
            Err(failure) => return Attempt::Done(finish_failed(item, token, failure)),
        };
        ids.cached.extend(owner_key);
        if request.dry_run {
            return Attempt::Done(self.dry_run(item, request, ids, token, language).await);
        }
        self.execute(item, request, ids, token, language, lookup).await
    }

    async fn execute(
        &self,
        item: &WorkItem,
        request: &ActionRequest,
        ids: Resolved,
        token: String,
        language: Option<AcceptLanguage>,
        lookup: Lookup,
    ) -> Attempt {
        let execution = Execution {
            provisioned_product_id: &ids.provisioned_product_id,
            service_action_id: &ids.service_action_id,
            execute_token: &token,
            parameters: &request.parameters,
            accept_language: language,
        };
        let started = std::time::Instant::now();
        let executed = self.executor.execute(execution).await;
        self.note(|m| m.execute_latency(started.elapsed()));
        match executed {
            Ok(detail) => {
                let mut result = executed_result(item, token, ids, detail);
                stamp(&mut result, request);
                Attempt::Done(self.after_executed(result, request.accept_language).await)
            }
            Err(e) if lookup == Lookup::Cached && !ids.cached.is_empty() && e.code() == "ResourceNotFoundException" => {
                Attempt::Stale(ids.cached)
            }
            Err(e) => Attempt::Done(finish_failed(item, token, Failure::with(e, &ids))),
        }
    }

    /// A dry run of one product: its status, the parameters its action defines, and whether a real
    /// run would execute. Never Execute.
    async fn dry_run(
        &self,
        item: &WorkItem,
        request: &ActionRequest,
        ids: Resolved,
        token: String,
        language: Option<AcceptLanguage>,
    ) -> RecordRun {
        let product = match &ids.described {
            Some(product) => Ok(product.clone()),
            None => {
                let by_id = ProductRef::Id(ids.provisioned_product_id.clone());
                self.executor.describe_provisioned_product(&by_id, language).await
            }
        };
        let product = match product {
            Ok(product) => product,
            Err(e) => return finish_failed(item, token, Failure::with(e, &ids)),
        };
        let defined = self
            .executor
            .action_parameter_names(&ids.provisioned_product_id, &ids.service_action_id, language)
            .await;
        let action_parameters = match defined {
            Ok(names) => names,
            Err(e) => return finish_failed(item, token, Failure::with(e, &ids)),
        };
        let parameter_keys: Vec<String> = request.parameters.keys().cloned().collect();
        let unknown_parameter_keys: Vec<String> = parameter_keys
            .iter()
            .filter(|k| !action_parameters.contains(k))
            .cloned()
            .collect();
        let report = DryRunReport {
            would_execute: product.status == "AVAILABLE" && unknown_parameter_keys.is_empty(),
            product_status: product.status,
            parameter_keys,
            action_parameters,
            unknown_parameter_keys,
        };
        info!(would_execute = report.would_execute, "dry run");
        let result = ResultMessage::dry_run(
            item.source.clone(),
            token,
            ids.provisioned_product_id,
            ids.service_action_id,
            report,
        );
        RecordRun::result(result)
    }
}

/// An EXECUTED result with the ids the request resolved to.
fn executed_result(item: &WorkItem, token: String, ids: Resolved, detail: RecordDetail) -> ResultMessage {
    info!(
        record_id = detail.record_id.as_deref().unwrap_or_default(),
        status = detail.status.as_deref().unwrap_or_default(),
        "executed"
    );
    ResultMessage::executed(
        item.source.clone(),
        token,
        ids.provisioned_product_id,
        ids.service_action_id,
        detail,
    )
}

/// The one place where a failure becomes a REJECTED result or a hand-back, by its disposition.
pub(super) fn finish_failed(item: &WorkItem, token: String, failure: Failure) -> RecordRun {
    finish_failed_as(item.source.clone(), token, failure, false)
}

/// As [`finish_failed`], for the result of `source`'s request; `concludes` marks the final message of a
/// tracked execution.
pub(super) fn finish_failed_as(
    source: crate::outcome::Source,
    token: String,
    failure: Failure,
    concludes: bool,
) -> RecordRun {
    match failure.error.disposition() {
        Disposition::Reject => {
            let error = failure.error.to_result_error();
            info!(code = %error.code, error = %failure.error, "request rejected");
            let result = ResultMessage::rejected(
                source,
                token,
                failure.provisioned_product_id,
                failure.service_action_id,
                error,
            );
            RecordRun::result(if concludes { result.concluding() } else { result })
        }
        Disposition::Retry => {
            warn!(error = %failure.error, "request must be retried");
            RecordRun::HandBack(HandBack::Retryable(failure.error))
        }
    }
}
