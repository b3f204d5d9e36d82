//! The per-record flow: parse the request, derive its token, resolve names (checking the
//! allow-lists as soon as each id is known), execute, and turn the outcome into a result to publish
//! or a reason to hand the record back. Bounded by the invocation's budget.

use tracing::{field::Empty, info, info_span, warn, Instrument, Span};

use super::{HandBack, Handler};
use crate::deadline::Budget;
use crate::error::{Disposition, RecordError};
use crate::event::WorkItem;
use crate::outcome::ResultMessage;
use crate::ports::{ActionExecutor, Execution, MessageSender, OutgoingMessage, ResultPublisher};
use crate::request::{parse_request, AcceptLanguage, ActionRef, ActionRequest, ProductRef};
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
}

/// The ids a request resolved to.
struct Resolved {
    provisioned_product_id: String,
    service_action_id: String,
}

/// Why a request did not run, with the ids known by then (a REJECTED result reports them).
pub(super) struct Failure {
    error: RecordError,
    provisioned_product_id: Option<String>,
    service_action_id: Option<String>,
}

impl Failure {
    pub(super) fn new(error: impl Into<RecordError>, product: Option<&str>, action: Option<&str>) -> Self {
        Failure {
            error: error.into(),
            provisioned_product_id: product.map(str::to_owned),
            service_action_id: action.map(str::to_owned),
        }
    }
}

impl<E: ActionExecutor, Q: ResultPublisher + MessageSender> Handler<E, Q> {
    /// Runs one record within the budget: not started when no time is left, abandoned (handed
    /// back) when its calls have not finished by the end of the work time.
    pub(super) async fn run_record(&self, item: &WorkItem, budget: &Budget) -> RecordRun {
        if !budget.can_start() {
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
        match budget.bound_work(self.process(item).instrument(span.clone())).await {
            Some(run) => run,
            None => {
                warn!(parent: &span, "record abandoned at the deadline margin; handing it back");
                RecordRun::HandBack(HandBack::Abandoned)
            }
        }
    }

    async fn process(&self, item: &WorkItem) -> RecordRun {
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
        info!(parameter_keys = ?request.parameter_keys(), "request");

        match self.resolve_and_execute(&request, &token).await {
            Ok((ids, detail)) => {
                info!(
                    record_id = detail.record_id.as_deref().unwrap_or_default(),
                    status = detail.status.as_deref().unwrap_or_default(),
                    "executed"
                );
                let result = ResultMessage::executed(
                    item.source.clone(),
                    token,
                    ids.provisioned_product_id,
                    ids.service_action_id,
                    detail,
                );
                self.after_executed(result, request.accept_language).await
            }
            Err(failure) => finish_failed(item, token, failure),
        }
    }

    async fn resolve_and_execute(
        &self,
        request: &ActionRequest,
        token: &str,
    ) -> Result<(Resolved, crate::outcome::RecordDetail), Failure> {
        let language = request.accept_language.or(self.config.default_accept_language);
        let ids = self.resolve(request, language).await?;
        let execution = Execution {
            provisioned_product_id: &ids.provisioned_product_id,
            service_action_id: &ids.service_action_id,
            execute_token: token,
            parameters: &request.parameters,
            accept_language: language,
        };
        let started = std::time::Instant::now();
        let executed = self.executor.execute(execution).await;
        self.note(|m| m.execute_latency(started.elapsed()));
        match executed {
            Ok(detail) => Ok((ids, detail)),
            Err(e) => Err(Failure::new(
                e,
                Some(&ids.provisioned_product_id),
                Some(&ids.service_action_id),
            )),
        }
    }

    /// Resolves names to ids, checking the allow-lists as soon as each id is known (so a given id
    /// that is not allowed costs no call at all).
    async fn resolve(&self, request: &ActionRequest, language: Option<AcceptLanguage>) -> Result<Resolved, Failure> {
        let given_product = match &request.product {
            ProductRef::Id(id) => Some(self.allowed_product(id, None)?),
            ProductRef::Name(_) => None,
        };
        let given_action = match &request.action {
            ActionRef::Id(id) => Some(self.allowed_action(id, given_product.as_deref())?),
            ActionRef::Name(_) => None,
        };
        if let (Some(product), Some(action)) = (&given_product, &given_action) {
            return Ok(Resolved {
                provisioned_product_id: product.clone(),
                service_action_id: action.clone(),
            });
        }

        let known = given_product.as_deref();
        let product = self
            .executor
            .describe_provisioned_product(&request.product, language)
            .await
            .map_err(|e| Failure::new(e, known, given_action.as_deref()))?;
        let product_id = match given_product {
            Some(id) => id,
            None => self.allowed_product(&product.id, given_action.as_deref())?,
        };
        let action_id = match (given_action, &request.action) {
            (Some(id), _) => id,
            (None, ActionRef::Id(id)) => self.allowed_action(id, Some(&product_id))?,
            (None, ActionRef::Name(name)) => {
                let found = self
                    .executor
                    .find_service_action_id(&product.product_id, &product.provisioning_artifact_id, name, language)
                    .await
                    .map_err(|e| Failure::new(e, Some(&product_id), None))?;
                let Some(id) = found else {
                    let message = format!(
                        "serviceActionName: no service action named {name:?} is associated with provisioned product \
                         {} (product {}, provisioning artifact {})",
                        product.id, product.product_id, product.provisioning_artifact_id
                    );
                    let error = RecordError::ServiceActionNotFound { message };
                    return Err(Failure::new(error, Some(&product_id), None));
                };
                self.allowed_action(&id, Some(&product_id))?
            }
        };
        Ok(Resolved {
            provisioned_product_id: product_id,
            service_action_id: action_id,
        })
    }

    /// `id` when the product allow-list lets it through (recorded on the span), else the rejection.
    fn allowed_product(&self, id: &str, action: Option<&str>) -> Result<String, Failure> {
        match &self.config.allowed_provisioned_product_ids {
            Some(allowed) if !allowed.contains(id) => Err(Failure::new(
                RecordError::NotAllowed {
                    field: "provisionedProductId",
                    message: format!("provisionedProductId: {id} is not in ALLOWED_PROVISIONED_PRODUCT_IDS"),
                },
                None,
                action,
            )),
            _ => {
                Span::current().record("provisioned_product_id", id);
                Ok(id.to_owned())
            }
        }
    }

    /// `id` when the action allow-list lets it through (recorded on the span), else the rejection.
    fn allowed_action(&self, id: &str, product: Option<&str>) -> Result<String, Failure> {
        match &self.config.allowed_service_action_ids {
            Some(allowed) if !allowed.contains(id) => Err(Failure::new(
                RecordError::NotAllowed {
                    field: "serviceActionId",
                    message: format!("serviceActionId: {id} is not in ALLOWED_SERVICE_ACTION_IDS"),
                },
                product,
                None,
            )),
            _ => {
                Span::current().record("service_action_id", id);
                Ok(id.to_owned())
            }
        }
    }
}

/// The one place where a failure becomes a REJECTED result or a hand-back, by its disposition.
fn finish_failed(item: &WorkItem, token: String, failure: Failure) -> RecordRun {
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
