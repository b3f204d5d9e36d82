//! The handler: one invocation in, one answer out. An SQS batch goes through the batch driver
//! ([`batch`]: run → publish → hand back); an EventBridge event or a direct request runs alone and
//! answers with its published result. The per-record flow is in [`record`].

mod batch;
mod fleet;
mod record;
mod resolve;
mod track;

use std::sync::Mutex;

use serde_json::Value;
use tracing::warn;

use crate::cache::NameCache;
use crate::config::Config;
use crate::deadline::Budget;
use crate::error::{CallError, RecordError};
use crate::event::{classify, EventError, Inbound, WorkItem};
use crate::metrics::{unix_millis, InvocationMetrics, Metric};
use crate::outcome::{Outcome, ResultMessage};
use crate::ports::{
    ActionExecutor, MessageSender, OutgoingMessage, ResourceOwners, ResultPublisher, VisibilityChanger,
};
use crate::request::AcceptLanguage;

/// What the handler needs of the Lambda invocation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id: token source of last resort, and the source id of a direct request.
    pub request_id: String,
    /// When the invocation times out, if known.
    pub deadline: Option<std::time::SystemTime>,
    /// The ARN the function was invoked by (`Lambda-Runtime-Invoked-Function-Arn`): its account and
    /// region are the function's own.
    pub invoked_function_arn: Option<String>,
}

/// What every record of one invocation shares: the time budget, and the function's own account
/// and region (when the invoked function ARN gives them).
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) budget: Budget,
    pub(crate) home: Option<(String, String)>,
}

/// Why a record is handed back for retry instead of being acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandBack {
    /// A failure that a retry may get past (throttling, 5xx, timeouts, a product under change, …).
    #[error(transparent)]
    Retryable(RecordError),
    /// Less than `DEADLINE_MARGIN_MS` was left before the invocation's deadline.
    #[error("not started: less than DEADLINE_MARGIN_MS was left before the invocation's deadline")]
    NotStarted,
    /// Its calls had not finished `DEADLINE_MARGIN_MS` before the deadline; it may have run.
    #[error(
        "abandoned: its calls had not finished DEADLINE_MARGIN_MS before the invocation's deadline (the action \
         may have started; its redelivery carries the same ExecuteToken)"
    )]
    Abandoned,
    /// FIFO: an earlier record of the same message group must be retried, so this one waits.
    #[error("not started: an earlier record of FIFO message group {group:?} must be retried first")]
    EarlierInGroup { group: String },
    /// Its result could not be sent to the results queue.
    #[error("result not published: {0}")]
    NotPublished(CallError),
    /// Its results were sent, but its tracking message was not (the redelivery sends the same
    /// results again: harmless copies).
    #[error("tracking message not sent: {0}")]
    FollowUpNotSent(CallError),
}

impl HandBack {
    /// Whether the record should come back after a back-off rather than at once or after the
    /// queue's visibility timeout: a failure that a little time may cure.
    pub fn backs_off(&self) -> bool {
        matches!(
            self,
            HandBack::Retryable(_) | HandBack::NotPublished(_) | HandBack::FollowUpNotSent(_)
        )
    }

    /// Whether Service Catalog (not SQS) refused a call for its rate, after the SDK's retries.
    pub fn is_throttling(&self) -> bool {
        matches!(self, HandBack::Retryable(RecordError::Call(e)) if e.is_throttling() && !e.operation().starts_with("SendMessage"))
    }

    /// A short machine-readable code, for the `RetryableFailure` of a single request.
    pub fn code(&self) -> String {
        match self {
            HandBack::Retryable(e) => e.to_result_error().code,
            HandBack::NotStarted => "NotStarted".to_owned(),
            HandBack::Abandoned => "DeadlineReached".to_owned(),
            HandBack::EarlierInGroup { .. } => "EarlierRecordFailed".to_owned(),
            HandBack::NotPublished(e) | HandBack::FollowUpNotSent(e) => e.code().to_owned(),
        }
    }
}

/// Why the invocation as a whole fails (and so is retried, where Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{code}: {cause} (retryable: the invocation fails so that it is retried with the same token)", code = .0.code(), cause = .0)]
    Retry(HandBack),
    #[error("the result could not be sent to the results queue, so the request will be retried: {0}")]
    Publish(CallError),
    #[error("all {count} records of the batch were handed back for retry; first cause: {first}")]
    BatchFailed { count: usize, first: Box<HandBack> },
    /// The answer could not be serialized: failing is the safe side (a `null` SQS answer would
    /// acknowledge every record).
    #[error("the answer could not be serialized, so the invocation fails and is retried: {0}")]
    Answer(String),
}

impl InvocationError {
    /// The `errorType` Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::Event(_) => "InvalidEvent",
            InvocationError::Retry(_) => "RetryableFailure",
            InvocationError::Publish(_) => "ResultNotPublished",
            InvocationError::BatchFailed { .. } => "BatchFailed",
            InvocationError::Answer(_) => "AnswerNotSerializable",
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

/// Where the invocation's metrics line goes (stdout in Lambda; a test can capture it).
pub type MetricsOut = Box<dyn Fn(&str) + Send + Sync>;

/// The function: owns the configuration and the ports, built once at init. `queues` is SQS: the
/// results queue and the function's own queues (tracking messages).
pub struct Handler<E, Q> {
    config: Config,
    executor: E,
    queues: Q,
    /// What the current invocation did. Lambda runs one invocation at a time per environment, so
    /// one accumulator serves; it is emptied at the end of each invocation.
    metrics: Mutex<InvocationMetrics>,
    metrics_out: MetricsOut,
    /// What names resolved to, kept for `NAME_CACHE_SECONDS` in the warm environment.
    names: Mutex<NameCache>,
}

impl<E, Q> Handler<E, Q>
where
    E: ActionExecutor + ResourceOwners,
    Q: ResultPublisher + MessageSender + VisibilityChanger,
{
    pub fn new(config: Config, executor: E, queues: Q) -> Self {
        Self {
            executor,
            queues,
            metrics: Mutex::new(InvocationMetrics::new()),
            metrics_out: Box::new(print_line),
            names: Mutex::new(NameCache::new(config.name_cache_ttl)),
            config,
        }
    }

    /// The same handler, with its metrics line sent to `out` instead of stdout.
    pub fn with_metrics_out(mut self, out: MetricsOut) -> Self {
        self.metrics_out = out;
        self
    }

    /// The language of a request's calls: its own `acceptLanguage`, else `DEFAULT_ACCEPT_LANGUAGE`.
    fn language(&self, given: Option<AcceptLanguage>) -> Option<AcceptLanguage> {
        given.or(self.config.default_accept_language)
    }

    /// Adds to the current invocation's metrics.
    fn note(&self, f: impl FnOnce(&mut InvocationMetrics)) {
        f(&mut self.metrics.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    }

    /// Writes the invocation's one metrics line (when metrics are on and something happened).
    fn emit_metrics(&self) {
        let metrics = std::mem::take(&mut *self.metrics.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let Some(namespace) = &self.config.metrics_namespace else {
            return;
        };
        let now = unix_millis(std::time::SystemTime::now());
        if let Some(line) = metrics.emf_line(namespace, &self.config.function_name, now) {
            (self.metrics_out)(&line);
        }
    }

    /// Counts a record (or a single request) handed back, and whether Service Catalog throttled it.
    fn note_handed_back(&self, cause: &HandBack) {
        self.note(|m| {
            m.count(Metric::Retried, 1);
            if cause.is_throttling() {
                m.count(Metric::Throttled, 1);
            }
        });
    }

    /// Counts a result that was sent, by its outcome.
    fn note_published(&self, result: &ResultMessage) {
        self.note(|m| {
            m.count(Metric::ResultsPublished, 1);
            if let Some(metric) = outcome_metric(result.outcome) {
                m.count(metric, 1);
            }
        });
    }

    /// Handles one invocation: an SQS batch answers with its `batchItemFailures`; an EventBridge
    /// event or a direct request answers with its published result.
    pub async fn handle(&self, event: Value, invocation: &Invocation) -> Result<Value, InvocationError> {
        let answer = self.answer(event, invocation).await;
        self.emit_metrics();
        answer
    }

    async fn answer(&self, event: Value, invocation: &Invocation) -> Result<Value, InvocationError> {
        let ctx = Context {
            budget: Budget::new(invocation.deadline, self.config.deadline_margin),
            home: invocation
                .invoked_function_arn
                .as_deref()
                .and_then(crate::resource::home_of),
        };
        match classify(event, &invocation.request_id)? {
            Inbound::Sqs { items, fifo } => {
                let response = self.handle_batch(items, fifo, &ctx).await?;
                to_answer(&response)
            }
            Inbound::Single(item) => {
                let answer = self.handle_single(item, &ctx).await;
                if let Err(InvocationError::Retry(cause)) = &answer {
                    self.note_handed_back(cause);
                } else if let Err(InvocationError::Publish(_)) = &answer {
                    self.note(|m| m.count(Metric::Retried, 1));
                }
                answer
            }
        }
    }

    /// One request on its own: what it produced is sent before the answer; anything that must be
    /// retried fails the invocation (Lambda or EventBridge retries it with the same event, so the
    /// same token).
    async fn handle_single(&self, item: WorkItem, ctx: &Context) -> Result<Value, InvocationError> {
        let outputs = match self.run_record(&item, ctx).await {
            record::RecordRun::Done(outputs) => *outputs,
            record::RecordRun::HandBack(cause) => return Err(InvocationError::Retry(cause)),
        };
        let answer = match (outputs.results.first(), &outputs.follow_up) {
            (Some(first), _) => to_answer(first)?,
            (None, Some(next)) => serde_json::json!({"tracking": {"nextCheckInSeconds": next.delay_seconds}}),
            (None, None) => Value::Null,
        };
        let deliveries = Deliveries::of(vec![(0, outputs)]);
        if let Some(Err(cause)) = self.deliver(&deliveries, 1, ctx).await.into_iter().next() {
            warn!(cause = %cause, "not everything was sent; failing the invocation so that it is retried");
            return Err(match cause {
                HandBack::NotPublished(e) => InvocationError::Publish(e),
                other => InvocationError::Retry(other),
            });
        }
        Ok(answer)
    }

    /// Sends what records produced: every result first, then the follow-up messages of the records
    /// whose results were all sent. Answers, for each of the `records`, whether all of it was sent.
    async fn deliver(&self, deliveries: &Deliveries, records: usize, ctx: &Context) -> Vec<Result<(), HandBack>> {
        let mut ends: Vec<Result<(), HandBack>> = vec![Ok(()); records];
        let sent = self.publish_results(&deliveries.results, ctx).await;
        for ((&owner, outcome), result) in deliveries.result_owners.iter().zip(sent).zip(&deliveries.results) {
            match (outcome, &ends[owner]) {
                (Ok(()), _) => self.note_published(result),
                (Err(e), Ok(())) => ends[owner] = Err(HandBack::NotPublished(e)),
                (Err(_), Err(_)) => {}
            }
        }
        let ready: Vec<&(usize, OutgoingMessage)> = deliveries
            .follow_ups
            .iter()
            .filter(|(owner, _)| ends[*owner].is_ok())
            .collect();
        let messages: Vec<OutgoingMessage> = ready.iter().map(|(_, m)| m.clone()).collect();
        for (&&(owner, _), outcome) in ready.iter().zip(self.send_follow_ups(&messages, ctx).await) {
            if let Err(e) = outcome {
                ends[owner] = Err(HandBack::FollowUpNotSent(e));
            }
        }
        ends
    }

    /// Sends tracking messages to the tracking queue, bounded by the budget.
    async fn send_follow_ups(&self, messages: &[OutgoingMessage], ctx: &Context) -> Vec<Result<(), CallError>> {
        if messages.is_empty() {
            return Vec::new();
        }
        let Some(tracking) = &self.config.tracking else {
            let off = CallError::transport(
                "SendMessageBatch",
                "no TRACKING_QUEUE_URL to send a tracking message to",
            );
            return vec![Err(off); messages.len()];
        };
        sent_in_time(self.queues.send(&tracking.queue_url, messages), messages.len(), ctx).await
    }

    /// Sends results, bounded by the budget; answers one outcome per result, in order. A result
    /// the publisher did not answer for, or that was not sent in time, counts as not sent.
    async fn publish_results(&self, results: &[ResultMessage], ctx: &Context) -> Vec<Result<(), CallError>> {
        if results.is_empty() {
            return Vec::new();
        }
        sent_in_time(self.queues.publish(results), results.len(), ctx).await
    }
}

/// The answer of a send of `len` entries, bounded by the budget: an entry not confirmed before the
/// publishing deadline, or that the sender said nothing about, counts as not sent.
async fn sent_in_time(
    sending: impl std::future::Future<Output = Vec<Result<(), CallError>>>,
    len: usize,
    ctx: &Context,
) -> Vec<Result<(), CallError>> {
    let answered = ctx.budget.bound_publish(sending).await.unwrap_or_else(|| {
        let late = CallError::transport("SendMessageBatch", "not confirmed before the invocation's deadline");
        vec![Err(late); len]
    });
    every_entry_answered(answered, len)
}

/// What records produced, laid out for sending: the results in record order (with the record each
/// belongs to), and the follow-up messages (likewise).
#[derive(Debug, Default)]
struct Deliveries {
    results: Vec<ResultMessage>,
    result_owners: Vec<usize>,
    follow_ups: Vec<(usize, OutgoingMessage)>,
}

impl Deliveries {
    fn of(outputs: Vec<(usize, record::Outputs)>) -> Self {
        let mut deliveries = Deliveries::default();
        for (owner, output) in outputs {
            for result in output.results {
                deliveries.results.push(result);
                deliveries.result_owners.push(owner);
            }
            if let Some(message) = output.follow_up {
                deliveries.follow_ups.push((owner, message));
            }
        }
        deliveries
    }
}

/// `answers` padded to `len` with failures: an entry the publisher said nothing about was not sent.
fn every_entry_answered(mut answers: Vec<Result<(), CallError>>, len: usize) -> Vec<Result<(), CallError>> {
    let missing = CallError::transport("SendMessageBatch", "the publisher gave no answer for this result");
    answers.truncate(len);
    answers.resize(len, Err(missing));
    answers
}

/// The metric an outcome counts under.
fn outcome_metric(outcome: Outcome) -> Option<Metric> {
    match outcome {
        Outcome::Executed => Some(Metric::Executed),
        Outcome::Rejected => Some(Metric::Rejected),
        Outcome::Succeeded => Some(Metric::Succeeded),
        Outcome::Failed => Some(Metric::Failed),
        Outcome::TimedOut => Some(Metric::TimedOut),
        Outcome::DryRun => Some(Metric::DryRuns),
        Outcome::FannedOut => None,
    }
}

/// Lambda's way to the metrics pipeline: the raw line on stdout, in one write (never through
/// `tracing`, whose JSON wrapper would hide the `_aws` member).
fn print_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

fn to_answer<T: serde::Serialize>(answer: &T) -> Result<Value, InvocationError> {
    serde_json::to_value(answer).map_err(|e| InvocationError::Answer(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_errors_have_distinct_error_types() {
        let e: lambda_runtime::Diagnostic = InvocationError::Event(EventError::NotAnObject("an array")).into();
        assert_eq!(e.error_type, "InvalidEvent");
        assert!(e.error_message.contains("must be a JSON object"));
        let e: lambda_runtime::Diagnostic = InvocationError::BatchFailed {
            count: 2,
            first: Box::new(HandBack::NotStarted),
        }
        .into();
        assert_eq!(e.error_type, "BatchFailed");
        let e: lambda_runtime::Diagnostic = InvocationError::Retry(HandBack::Abandoned).into();
        assert_eq!(e.error_type, "RetryableFailure");
        assert!(
            e.error_message.starts_with("DeadlineReached: abandoned"),
            "{}",
            e.error_message
        );
    }

    #[test]
    fn a_publisher_that_answers_too_few_entries_failed_the_missing_ones() {
        let answered = every_entry_answered(vec![Ok(())], 3);
        assert_eq!(answered.len(), 3);
        assert!(answered[0].is_ok());
        assert!(answered[1..].iter().all(Result::is_err));
        assert!(every_entry_answered(Vec::new(), 1)[0].is_err());
        assert_eq!(every_entry_answered(vec![Ok(()), Ok(())], 1), vec![Ok(())]);
    }

    #[test]
    fn an_answer_that_cannot_be_serialized_fails_the_invocation() {
        struct Unserializable;
        impl serde::Serialize for Unserializable {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("cannot"))
            }
        }
        let err = to_answer(&Unserializable).unwrap_err();
        assert_eq!(err.error_type(), "AnswerNotSerializable");
    }
}
