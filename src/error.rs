//! Typed errors, and the one place that decides: retry or reject.

use crate::outcome::ResultError;
use crate::request::RequestError;

/// What happens to a request that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A retry may succeed: hand the message back (SQS) or fail the invocation (EventBridge, direct).
    Retry,
    /// A retry cannot help: publish a REJECTED result and acknowledge.
    Reject,
}

/// How a call to an AWS API failed, as far as the retry decision cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The service answered with an error code (and maybe an HTTP status).
    Service { code: String, status: Option<u16> },
    /// No usable answer: timeout, connection failure, unreadable response, request not built.
    Transport,
}

/// The longest service error message copied into a result or a log line, in characters. Services
/// echo inputs in their messages; a hostile or broken endpoint must not blow up a result.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// A failed AWS call, after the SDK's own retries. Built only through [`CallError::service`] and
/// [`CallError::transport`], which cap the message at [`MAX_ERROR_MESSAGE_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {}: {message}", self.code())]
pub struct CallError {
    operation: &'static str,
    kind: CallErrorKind,
    message: String,
}

impl CallError {
    pub fn service(
        operation: &'static str,
        code: impl Into<String>,
        status: Option<u16>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation,
            kind: CallErrorKind::Service {
                code: code.into(),
                status,
            },
            message: capped(message.into()),
        }
    }

    pub fn transport(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            kind: CallErrorKind::Transport,
            message: capped(message.into()),
        }
    }

    /// The AWS operation that failed.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// How it failed.
    pub fn kind(&self) -> &CallErrorKind {
        &self.kind
    }

    /// What the service (or the transport) said, at most [`MAX_ERROR_MESSAGE_CHARS`] characters.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the service refused the call for its rate: the SDK retried it and gave up.
    pub fn is_throttling(&self) -> bool {
        match &self.kind {
            CallErrorKind::Service { code, status } => {
                THROTTLING_CODES.contains(&bare_code(code)) || *status == Some(429)
            }
            CallErrorKind::Transport => false,
        }
    }

    /// The error code reported in results and logs.
    pub fn code(&self) -> &str {
        match &self.kind {
            CallErrorKind::Service { code, .. } => code,
            CallErrorKind::Transport => "ServiceUnavailable",
        }
    }

    pub fn disposition(&self) -> Disposition {
        match &self.kind {
            CallErrorKind::Transport => Disposition::Retry,
            CallErrorKind::Service { code, status } => classify_service_error(code, *status),
        }
    }
}

/// `message` cut to [`MAX_ERROR_MESSAGE_CHARS`] characters, marked when cut.
fn capped(message: String) -> String {
    match message.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
        None => message,
        Some((cut, _)) => format!("{}… (cut at {MAX_ERROR_MESSAGE_CHARS} characters)", &message[..cut]),
    }
}

/// Error codes that mean "too many calls": retried, and counted as throttling.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Error codes that say "not now" rather than "never": transient server trouble, Service
/// Catalog's InvalidStateException (the product is under change; the action can run once the
/// change is over), and credential or signing failures. The last are retried on purpose: a role
/// or key that is broken now must not turn a backlog into acknowledged rejections; the messages
/// end in the dead-letter queue instead, ready to be redriven once the role is fixed.
/// `AccessDeniedException` is different (the caller is known and not allowed) and is a rejection.
const RETRYABLE_CODES: &[&str] = &[
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "InvalidStateException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
    "IDPCommunicationError",
    // Credentials and signing.
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
];

/// The bare code: some protocols send "Code:namespace" or a "namespace#Code".
fn bare_code(code: &str) -> &str {
    let after_hash = code.rsplit('#').next().unwrap_or(code);
    after_hash.split(':').next().unwrap_or(after_hash)
}

/// Retry or reject for an error code from the service, with the HTTP status when there was one.
/// Anything not known to be transient, and not a 5xx or 429, is a client error that a retry would
/// only repeat: InvalidParametersException, ResourceNotFoundException, AccessDeniedException, and
/// so on.
pub(crate) fn classify_service_error(code: &str, status: Option<u16>) -> Disposition {
    let bare = bare_code(code);
    let transient = THROTTLING_CODES.contains(&bare) || RETRYABLE_CODES.contains(&bare);
    if transient || matches!(status, Some(s) if s >= 500 || s == 429) {
        Disposition::Retry
    } else {
        Disposition::Reject
    }
}

/// Why one request did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The message body was not JSON, or not a usable request.
    #[error("{0}")]
    InvalidRequest(RequestError),
    /// The allow-list does not include this product or action.
    #[error("{message}")]
    NotAllowed { field: &'static str, message: String },
    /// A service action name did not match any action of the product's provisioning artifact.
    #[error("{message}")]
    ServiceActionNotFound { message: String },
    /// A tracking message names a record that is not the execution it claims to track.
    #[error("{message}")]
    RecordMismatch { message: String },
    /// `resourceArn` names no resource that Service Catalog provisioned.
    #[error("{message}")]
    NotAServiceCatalogResource { message: String },
    /// `resourceArn` belongs to a provisioned product of another account or region.
    #[error("{message}")]
    OtherAccountOrRegion { message: String },
    /// A fleet request, where this function cannot take one (no `REQUESTS_QUEUE_URL`).
    #[error("{message}")]
    FleetRunsNotConfigured { message: String },
    /// A fleet selection that matches more targets than its `maxTargets`.
    #[error("{message}")]
    TooManyTargets { message: String },
    /// An AWS call failed.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl RecordError {
    pub fn disposition(&self) -> Disposition {
        match self {
            RecordError::InvalidRequest(_)
            | RecordError::NotAllowed { .. }
            | RecordError::ServiceActionNotFound { .. }
            | RecordError::RecordMismatch { .. }
            | RecordError::NotAServiceCatalogResource { .. }
            | RecordError::OtherAccountOrRegion { .. }
            | RecordError::FleetRunsNotConfigured { .. }
            | RecordError::TooManyTargets { .. } => Disposition::Reject,
            RecordError::Call(e) => e.disposition(),
        }
    }

    /// The `error` of a REJECTED result.
    pub fn to_result_error(&self) -> ResultError {
        let (code, message) = match self {
            RecordError::InvalidRequest(e) => ("InvalidRequest".to_owned(), e.message.clone()),
            RecordError::NotAllowed { message, .. } => ("NotAllowed".to_owned(), message.clone()),
            RecordError::ServiceActionNotFound { message } => ("ResourceNotFoundException".to_owned(), message.clone()),
            RecordError::RecordMismatch { message } => ("RecordMismatch".to_owned(), message.clone()),
            RecordError::NotAServiceCatalogResource { message } => {
                ("NotAServiceCatalogResource".to_owned(), message.clone())
            }
            RecordError::OtherAccountOrRegion { message } => ("OtherAccountOrRegion".to_owned(), message.clone()),
            RecordError::FleetRunsNotConfigured { message } => ("FleetRunsNotConfigured".to_owned(), message.clone()),
            RecordError::TooManyTargets { message } => ("TooManyTargets".to_owned(), message.clone()),
            RecordError::Call(e) => (e.code().to_owned(), format!("{}: {}", e.operation, e.message)),
        };
        ResultError { code, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_api_error_of_the_calls_we_make_is_classified() {
        // ExecuteProvisionedProductServiceAction, DescribeProvisionedProduct and
        // ListServiceActionsForProvisioningArtifact model these three; the rest are common errors.
        let cases = [
            ("InvalidParametersException", Some(400), Disposition::Reject),
            ("ResourceNotFoundException", Some(400), Disposition::Reject),
            ("InvalidStateException", Some(400), Disposition::Retry),
            ("AccessDeniedException", Some(400), Disposition::Reject),
            ("UnrecognizedClientException", Some(400), Disposition::Retry),
            ("InvalidClientTokenId", Some(403), Disposition::Retry),
            ("SignatureDoesNotMatch", Some(403), Disposition::Retry),
            ("MissingAuthenticationToken", Some(403), Disposition::Retry),
            ("MissingAuthenticationTokenException", Some(400), Disposition::Retry),
            ("ExpiredToken", Some(400), Disposition::Retry),
            ("ValidationException", Some(400), Disposition::Reject),
            ("InvalidSignatureException", Some(400), Disposition::Retry),
            ("ThrottlingException", Some(400), Disposition::Retry),
            ("TooManyRequestsException", Some(429), Disposition::Retry),
            ("ExpiredTokenException", Some(400), Disposition::Retry),
            ("InternalFailure", Some(500), Disposition::Retry),
            // The Resource Groups Tagging API's own names.
            ("ThrottledException", Some(400), Disposition::Retry),
            ("InternalServiceException", Some(400), Disposition::Retry),
            ("InvalidParameterException", Some(400), Disposition::Reject),
            ("ServiceUnavailable", Some(503), Disposition::Retry),
            ("SomethingNew", Some(502), Disposition::Retry),
            ("SomethingNew", Some(429), Disposition::Retry),
            ("SomethingNew", Some(400), Disposition::Reject),
            ("SomethingNew", None, Disposition::Reject),
            ("ThrottlingException", None, Disposition::Retry),
            (
                "com.amazonaws.servicecatalog#InvalidStateException",
                Some(400),
                Disposition::Retry,
            ),
            (
                "ThrottlingException:http://internal.amazon.com/",
                Some(400),
                Disposition::Retry,
            ),
        ];
        for (code, status, expected) in cases {
            assert_eq!(classify_service_error(code, status), expected, "{code} {status:?}");
            let e = RecordError::Call(CallError::service("Op", code, status, "m"));
            assert_eq!(e.disposition(), expected, "{code}");
        }
    }

    #[test]
    fn long_service_messages_are_cut_at_a_thousand_characters() {
        let long = "é".repeat(5000);
        let e = CallError::service("Op", "InvalidParametersException", Some(400), long.clone());
        assert_eq!(
            e.message().chars().filter(|c| *c == 'é').count(),
            MAX_ERROR_MESSAGE_CHARS
        );
        assert!(e.message().ends_with("(cut at 1000 characters)"), "{}", e.message());
        let e = CallError::transport("Op", long);
        assert!(e.message().chars().count() < MAX_ERROR_MESSAGE_CHARS + 40);
        let short = CallError::service("Op", "X", None, "exactly this");
        assert_eq!(short.message(), "exactly this");
        let exact = "a".repeat(MAX_ERROR_MESSAGE_CHARS);
        assert_eq!(CallError::transport("Op", exact.clone()).message(), exact);
        let e = RecordError::Call(CallError::service("Op", "X", Some(400), "b".repeat(3000)));
        assert!(e.to_result_error().message.chars().count() < MAX_ERROR_MESSAGE_CHARS + 40);
    }

    #[test]
    fn throttling_is_recognised_by_code_or_429() {
        assert!(CallError::service("Op", "ThrottlingException", Some(400), "").is_throttling());
        assert!(CallError::service("Op", "x#TooManyRequestsException", Some(400), "").is_throttling());
        assert!(CallError::service("Op", "Whatever", Some(429), "").is_throttling());
        assert!(!CallError::service("Op", "InternalFailure", Some(500), "").is_throttling());
        assert!(!CallError::transport("Op", "timeout").is_throttling());
    }

    #[test]
    fn transport_failures_are_retried() {
        let e = CallError::transport("ExecuteProvisionedProductServiceAction", "timed out");
        assert_eq!(e.disposition(), Disposition::Retry);
        assert_eq!(e.code(), "ServiceUnavailable");
    }

    #[test]
    fn our_own_rejections_are_never_retried_and_carry_their_code() {
        let cases = [
            (
                RecordError::InvalidRequest(RequestError::new("x", "bad x")),
                "InvalidRequest",
                "bad x",
            ),
            (
                RecordError::NotAllowed {
                    field: "serviceActionId",
                    message: "no".into(),
                },
                "NotAllowed",
                "no",
            ),
            (
                RecordError::ServiceActionNotFound { message: "none".into() },
                "ResourceNotFoundException",
                "none",
            ),
        ];
        for (e, code, message) in cases {
            assert_eq!(e.disposition(), Disposition::Reject);
            assert_eq!(
                e.to_result_error(),
                ResultError {
                    code: code.into(),
                    message: message.into()
                }
            );
        }
    }

    #[test]
    fn api_rejections_report_the_api_code_and_operation() {
        let e = RecordError::Call(CallError::service(
            "ExecuteProvisionedProductServiceAction",
            "ResourceNotFoundException",
            Some(400),
            "Provisioned product not found",
        ));
        assert_eq!(
            e.to_result_error(),
            ResultError {
                code: "ResourceNotFoundException".into(),
                message: "ExecuteProvisionedProductServiceAction: Provisioned product not found".into()
            }
        );
    }
}
