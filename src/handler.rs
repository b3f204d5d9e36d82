//! The per-record flow and the batch driver: concurrency, FIFO order, the deadline, and publishing
//! results before anything is acknowledged.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{field::Empty, info, info_span, warn, Instrument, Span};

use crate::config::Config;
use crate::error::{CallError, Disposition, RecordError};
use crate::event::{classify, EventError, Inbound, WorkItem};
use crate::outcome::{RecordDetail, ResultMessage};
use crate::ports::{ActionExecutor, Execution, ResultPublisher};
use crate::request::{parse_request, ActionRef, ActionRequest, ProductRef};
use crate::token::execute_token;

/// What the handler needs of the Lambda invocation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id: token source of last resort, and the source id of a direct request.
    pub request_id: String,
    /// When the invocation times out, if known.
    pub deadline: Option<SystemTime>,
}

/// Why the invocation as a whole fails (and so is retried, where Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{code}: {message} (retryable: the invocation fails so that it is retried with the same token)")]
    Retry { code: String, message: String },
    #[error("the result could not be sent to the results queue, so the request will be retried: {0}")]
    Publish(CallError),
    #[error("all {count} records of the batch were handed back for retry; first cause: {first}")]
    BatchFailed { count: usize, first: String },
}

impl InvocationError {
    /// The `errorType` Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::Event(_) => "InvalidEvent",
            InvocationError::Retry { .. } => "RetryableFailure",
            InvocationError::Publish(_) => "ResultNotPublished",
            InvocationError::BatchFailed { .. } => "BatchFailed",
        }
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// How one record ended, before its result is published.
#[derive(Debug)]
enum Processed {
    /// EXECUTED or REJECTED: the result must be published before the record is acknowledged.
    Finished(Box<ResultMessage>),
    /// Must be retried; no result is published.
    Retry(RecordError),
    /// Never started (deadline, or after a FIFO failure): handed back untouched.
    NotStarted(&'static str),
}

/// The invocation's deadline from the Runtime API's `Lambda-Runtime-Deadline-Ms`. Lambda sends epoch
/// milliseconds; some local runtime emulators (cargo-lambda's `watch`) send a fixed timeout such as
/// `600000` instead, which read as a timestamp would be in 1970 and stop every batch after its first
/// record. A value too small to be a timestamp of this century is therefore read as "this many
/// milliseconds from now". Zero means no deadline is known.
pub fn deadline_from_runtime(deadline_ms: u64, now: SystemTime) -> Option<SystemTime> {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    match deadline_ms {
        0 => None,
        ms if ms < YEAR_2001_MS => Some(now + Duration::from_millis(ms)),
        ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
    }
}

/// Whether a record may start: only while more than `margin` remains before the deadline.
pub fn has_time_to_start(now: SystemTime, deadline: Option<SystemTime>, margin: Duration) -> bool {
    match deadline {
        None => true,
        Some(deadline) => deadline.duration_since(now).is_ok_and(|remaining| remaining > margin),
    }
}

/// The function: owns the configuration and the two ports, built once at init.
pub struct Handler<E, P> {
    config: Config,
    executor: E,
    publisher: P,
}

impl<E: ActionExecutor, P: ResultPublisher> Handler<E, P> {
    pub fn new(config: Config, executor: E, publisher: P) -> Self {
        Self {
            config,
            executor,
            publisher,
        }
    }

    /// Handles one invocation: an SQS batch answers with its `batchItemFailures`; an EventBridge
    /// event or a direct request answers with its published result.
    pub async fn handle(&self, event: Value, invocation: &Invocation) -> Result<Value, InvocationError> {
        match classify(event, &invocation.request_id)? {
            Inbound::Sqs { items, fifo } => {
                let response = self.handle_batch(items, fifo, invocation).await?;
                Ok(serde_json::to_value(response).unwrap_or(Value::Null))
            }
            Inbound::Single(item) => self.handle_single(item, invocation).await,
        }
    }

    async fn handle_single(&self, item: WorkItem, invocation: &Invocation) -> Result<Value, InvocationError> {
        // A single request always starts: there is nothing else to hand back instead.
        match self.process(item, invocation, true).await {
            Processed::Finished(result) => {
                if let Some(Err(e)) = self
                    .publisher
                    .publish(std::slice::from_ref(&result))
                    .await
                    .into_iter()
                    .next()
                {
                    warn!(error = %e, "result not published; failing the invocation so that it is retried");
                    return Err(InvocationError::Publish(e));
                }
                Ok(serde_json::to_value(&result).unwrap_or(Value::Null))
            }
            Processed::Retry(e) => Err(InvocationError::Retry {
                code: e.to_result_error().code,
                message: e.to_string(),
            }),
            Processed::NotStarted(why) => Err(InvocationError::Retry {
                code: "NotStarted".into(),
                message: why.to_owned(),
            }),
        }
    }

    async fn handle_batch(
        &self,
        items: Vec<WorkItem>,
        fifo: bool,
        invocation: &Invocation,
    ) -> Result<SqsBatchResponse, InvocationError> {
        let ids: Vec<String> = items.iter().map(|i| i.source.id.clone()).collect();

        let processed: Vec<Processed> = if fifo {
            // In order; after the first record that must retry, the rest are handed back unprocessed
            // so that SQS redelivers the group in its original order.
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                if out.iter().any(|p| !matches!(p, Processed::Finished(_))) {
                    out.push(Processed::NotStarted(
                        "an earlier record of this FIFO batch must be retried",
                    ));
                    continue;
                }
                out.push(self.process(item, invocation, index == 0).await);
            }
            out
        } else {
            stream::iter(items.into_iter().enumerate())
                .map(|(index, item)| self.process(item, invocation, index == 0))
                .buffered(self.config.max_concurrency)
                .collect()
                .await
        };

        // Publish every finished result; a record is acknowledged only once its result was sent.
        let mut finished_at = Vec::new();
        let mut results = Vec::new();
        let mut causes: Vec<Option<String>> = Vec::with_capacity(processed.len());
        for (index, p) in processed.into_iter().enumerate() {
            match p {
                Processed::Finished(result) => {
                    finished_at.push(index);
                    results.push(*result);
                    causes.push(None);
                }
                Processed::Retry(e) => causes.push(Some(e.to_string())),
                Processed::NotStarted(why) => {
                    warn!(message_id = %ids[index], reason = why, "record not started; handing it back");
                    causes.push(Some(why.to_owned()))
                }
            }
        }
        let sent = if results.is_empty() {
            Vec::new()
        } else {
            self.publisher.publish(&results).await
        };
        for (slot, outcome) in finished_at
            .iter()
            .zip(sent.into_iter().chain(std::iter::repeat_with(|| {
                Err(CallError::transport("SendMessageBatch", "no answer for this entry"))
            })))
        {
            if let Err(e) = outcome {
                warn!(message_id = %ids[*slot], error = %e, "result not published; handing the record back");
                causes[*slot] = Some(format!("result not published: {e}"));
            }
        }

        let failed: BTreeSet<usize> = match causes.iter().position(Option::is_some) {
            // A FIFO batch hands back everything from its first failure on, to keep the order.
            Some(first) if fifo => (first..causes.len()).collect(),
            _ => causes
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_some())
                .map(|(i, _)| i)
                .collect(),
        };

        info!(
            records = ids.len(),
            acknowledged = ids.len() - failed.len(),
            handed_back = failed.len(),
            fifo,
            "batch done"
        );
        if !ids.is_empty() && failed.len() == ids.len() {
            let first = causes.iter().flatten().next().cloned().unwrap_or_default();
            return Err(InvocationError::BatchFailed {
                count: ids.len(),
                first,
            });
        }

        let mut response = SqsBatchResponse::default();
        for index in failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = ids[index].clone();
            response.batch_item_failures.push(failure);
        }
        Ok(response)
    }

    /// Runs one record to its outcome, within a span that names it.
    async fn process(&self, item: WorkItem, invocation: &Invocation, first: bool) -> Processed {
        if !first && !has_time_to_start(SystemTime::now(), invocation.deadline, self.config.deadline_margin) {
            return Processed::NotStarted("too close to the invocation's deadline to start");
        }
        let span = info_span!(
            "record",
            message_id = %item.source.id,
            provisioned_product_id = Empty,
            service_action_id = Empty,
            execute_token = Empty,
        );
        self.process_in_span(item).instrument(span).await
    }

    async fn process_in_span(&self, item: WorkItem) -> Processed {
        let span = Span::current();
        let request = item.payload.and_then(|payload| parse_request(&payload));
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                let token = execute_token(&item.token_source, "", "");
                span.record("execute_token", token.as_str());
                info!(field = %e.field, error = %e, "request rejected: invalid");
                let error = RecordError::InvalidRequest(e).to_result_error();
                return Processed::Finished(Box::new(ResultMessage::rejected(item.source, token, None, None, error)));
            }
        };

        let token_source = request.idempotency_key.as_deref().unwrap_or(&item.token_source);
        let token = execute_token(
            token_source,
            &request.product.token_label(),
            &request.action.token_label(),
        );
        span.record("execute_token", token.as_str());

        let mut known = Known::default();
        match self.run(&request, &token, &mut known).await {
            Ok(detail) => {
                let (record_id, status) = (detail.record_id.as_deref(), detail.status.as_deref());
                info!(
                    record_id = record_id.unwrap_or_default(),
                    status = status.unwrap_or_default(),
                    "executed"
                );
                let (pp, action) = (known.product.unwrap_or_default(), known.action.unwrap_or_default());
                Processed::Finished(Box::new(ResultMessage::executed(
                    item.source,
                    token,
                    pp,
                    action,
                    detail,
                )))
            }
            Err(e) => match e.disposition() {
                Disposition::Reject => {
                    let error = e.to_result_error();
                    info!(code = %error.code, error = %e, "request rejected");
                    let result = ResultMessage::rejected(item.source, token, known.product, known.action, error);
                    Processed::Finished(Box::new(result))
                }
                Disposition::Retry => {
                    warn!(error = %e, "request must be retried");
                    Processed::Retry(e)
                }
            },
        }
    }

    /// Resolves names, checks the allow-lists as soon as each id is known, then executes.
    async fn run(&self, request: &ActionRequest, token: &str, known: &mut Known) -> Result<RecordDetail, RecordError> {
        let span = Span::current();
        let language = request.accept_language.or(self.config.default_accept_language);
        info!(parameter_keys = ?request.parameter_keys(), "request");

        if let ProductRef::Id(id) = &request.product {
            self.check_product(id)?;
            known.set_product(&span, id);
        }
        if let ActionRef::Id(id) = &request.action {
            self.check_action(id)?;
            known.set_action(&span, id);
        }

        let needs_product =
            matches!(request.product, ProductRef::Name(_)) || matches!(request.action, ActionRef::Name(_));
        if needs_product {
            let product = self
                .executor
                .describe_provisioned_product(&request.product, language)
                .await?;
            if matches!(request.product, ProductRef::Name(_)) {
                self.check_product(&product.id)?;
                known.set_product(&span, &product.id);
            }
            if let ActionRef::Name(name) = &request.action {
                let found = self
                    .executor
                    .find_service_action_id(&product.product_id, &product.provisioning_artifact_id, name, language)
                    .await?;
                let Some(id) = found else {
                    return Err(RecordError::ServiceActionNotFound {
                        message: format!(
                            "serviceActionName: no service action named {name:?} is associated with provisioned \
                             product {} (product {}, provisioning artifact {})",
                            product.id, product.product_id, product.provisioning_artifact_id
                        ),
                    });
                };
                self.check_action(&id)?;
                known.set_action(&span, &id);
            }
        }

        let execution = Execution {
            provisioned_product_id: known.product.as_deref().unwrap_or_default(),
            service_action_id: known.action.as_deref().unwrap_or_default(),
            execute_token: token,
            parameters: &request.parameters,
            accept_language: language,
        };
        Ok(self.executor.execute(execution).await?)
    }

    fn check_product(&self, id: &str) -> Result<(), RecordError> {
        match &self.config.allowed_provisioned_product_ids {
            Some(allowed) if !allowed.contains(id) => Err(RecordError::NotAllowed {
                field: "provisionedProductId",
                message: format!("provisionedProductId: {id} is not in ALLOWED_PROVISIONED_PRODUCT_IDS"),
            }),
            _ => Ok(()),
        }
    }

    fn check_action(&self, id: &str) -> Result<(), RecordError> {
        match &self.config.allowed_service_action_ids {
            Some(allowed) if !allowed.contains(id) => Err(RecordError::NotAllowed {
                field: "serviceActionId",
                message: format!("serviceActionId: {id} is not in ALLOWED_SERVICE_ACTION_IDS"),
            }),
            _ => Ok(()),
        }
    }
}

/// The ids resolved so far, reported in the result even when a later step rejects the request.
#[derive(Default)]
struct Known {
    product: Option<String>,
    action: Option<String>,
}

impl Known {
    fn set_product(&mut self, span: &Span, id: &str) {
        span.record("provisioned_product_id", id);
        self.product = Some(id.to_owned());
    }

    fn set_action(&mut self, span: &Span, id: &str) {
        span.record("service_action_id", id);
        self.action = Some(id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_start_only_while_more_than_the_margin_remains() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let margin = Duration::from_secs(3);
        assert!(has_time_to_start(now, None, margin));
        assert!(has_time_to_start(now, Some(now + Duration::from_millis(3_001)), margin));
        assert!(!has_time_to_start(now, Some(now + Duration::from_secs(3)), margin));
        assert!(!has_time_to_start(now, Some(now + Duration::from_secs(1)), margin));
        assert!(!has_time_to_start(now, Some(now - Duration::from_secs(1)), margin));
    }

    #[test]
    fn runtime_deadlines_are_epoch_millis_or_a_local_emulators_timeout() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_150_000);
        assert_eq!(deadline_from_runtime(0, now), None);
        assert_eq!(
            deadline_from_runtime(1_764_150_030_000, now),
            Some(UNIX_EPOCH + Duration::from_millis(1_764_150_030_000))
        );
        // cargo lambda watch sends a fixed 600000.
        assert_eq!(
            deadline_from_runtime(600_000, now),
            Some(now + Duration::from_secs(600))
        );
    }

    #[test]
    fn invocation_errors_have_distinct_error_types() {
        let e: lambda_runtime::Diagnostic = InvocationError::Event(EventError::NotAnObject("an array")).into();
        assert_eq!(e.error_type, "InvalidEvent");
        assert!(e.error_message.contains("must be a JSON object"));
        let e: lambda_runtime::Diagnostic = InvocationError::BatchFailed {
            count: 2,
            first: "x".into(),
        }
        .into();
        assert_eq!(e.error_type, "BatchFailed");
    }
}
