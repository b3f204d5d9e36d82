//! The AWS adapters: the only modules that know the AWS SDK.

pub mod servicecatalog;
pub mod sqs;
mod tagging;

use aws_sdk_servicecatalog::config::http::HttpResponse;
use aws_sdk_servicecatalog::error::{ProvideErrorMetadata, SdkError};

use crate::error::CallError;

/// Maps any SDK error to a [`CallError`]: the service's error code and HTTP status when it
/// answered, a transport error when it did not.
pub(crate) fn call_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        // A 2xx the SDK could not read arrives as an "unhandled" service error without a code. The
        // call may have worked (an action may have started): that is no answer, not a refusal.
        SdkError::ServiceError(context) if context.err().code().is_none() && context.raw().status().is_success() => {
            CallError::transport(operation, error_chain(&err))
        }
        SdkError::ServiceError(context) => {
            let e = context.err();
            let status = context.raw().status().as_u16();
            let code = e.code().map(str::to_owned).unwrap_or_else(|| format!("HTTP{status}"));
            let message = e.message().map(str::to_owned).unwrap_or_else(|| code.clone());
            CallError::service(operation, code, Some(status), message)
        }
        _ => CallError::transport(operation, error_chain(&err)),
    }
}

/// The error and its sources on one line: the SDK's top-level message alone ("dispatch failure")
/// says little.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
