//! The SDK adapters in `src/aws/` against real SDK clients whose HTTP layer is replaced by
//! `aws-smithy-mocks` rules: what goes out on the wire (as the SDK's input), how each answer of the
//! service comes back as a `CallError`, and which of those a retry may cure.
//!
//! Errors are mostly served as HTTP responses with the service's JSON error body, so that the SDK's
//! own deserializer builds the modeled error (with its code) as it would against the real service.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag as TaggingTag};
use aws_sdk_servicecatalog::config::http::HttpResponse;
use aws_sdk_servicecatalog::config::retry::RetryConfig;
use aws_sdk_servicecatalog::error::ErrorMetadata;
use aws_sdk_servicecatalog::operation::describe_provisioned_product::{
    DescribeProvisionedProductInput, DescribeProvisionedProductOutput,
};
use aws_sdk_servicecatalog::operation::describe_record::{DescribeRecordInput, DescribeRecordOutput};
use aws_sdk_servicecatalog::operation::describe_service_action_execution_parameters::DescribeServiceActionExecutionParametersOutput;
use aws_sdk_servicecatalog::operation::execute_provisioned_product_service_action::{
    ExecuteProvisionedProductServiceActionError, ExecuteProvisionedProductServiceActionInput,
    ExecuteProvisionedProductServiceActionOutput,
};
use aws_sdk_servicecatalog::operation::list_service_actions_for_provisioning_artifact::{
    ListServiceActionsForProvisioningArtifactInput, ListServiceActionsForProvisioningArtifactOutput,
};
use aws_sdk_servicecatalog::operation::search_provisioned_products::{
    SearchProvisionedProductsInput, SearchProvisionedProductsOutput,
};
use aws_sdk_servicecatalog::primitives::DateTime;
use aws_sdk_servicecatalog::types::error::{
    InvalidParametersException, InvalidStateException, ResourceNotFoundException,
};
use aws_sdk_servicecatalog::types::{
    AccessLevelFilterKey, ExecutionParameter, ProvisionedProductAttribute, ProvisionedProductDetail,
    ProvisionedProductStatus, ProvisionedProductViewFilterBy, RecordError as SdkRecordError, RecordStatus,
    RecordTag as SdkRecordTag, ServiceActionSummary, Tag as SdkTag,
};
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityOutput;
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchInput, SendMessageBatchOutput};
use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;

use sc_action_runner::aws::servicecatalog::ServiceCatalogExecutor;
use sc_action_runner::aws::sqs::SqsQueues;
use sc_action_runner::error::{CallError, CallErrorKind, Disposition};
use sc_action_runner::fleet::Candidate;
use sc_action_runner::outcome::{
    RecordDetail, RecordErrorDetail, RecordTag, ResultError, ResultMessage, Source, SourceKind,
};
use sc_action_runner::pace::Pace;
use sc_action_runner::ports::{
    ActionExecutor, Execution, FifoIds, MessageSender, OutgoingMessage, ProvisionedProduct, ResourceOwners,
    ResultPublisher, VisibilityChanger,
};
use sc_action_runner::request::{AcceptLanguage, ProductRef};

const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
const DESCRIBE: &str = "DescribeProvisionedProduct";
const LIST_ACTIONS: &str = "ListServiceActionsForProvisioningArtifact";
const SEND: &str = "SendMessageBatch";

/// How many times the SDK tries a call in these tests (the SDK's default, too).
const MAX_ATTEMPTS: usize = 3;
const RESULTS_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-results";
const RESULTS_FIFO_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-results.fifo";

// ---------------------------------------------------------------------------------------------
// Test plumbing
// ---------------------------------------------------------------------------------------------

/// The SDK's standard retry strategy, as in production, with backoff capped at a few milliseconds
/// so that retry tests really retry without making the suite slow.
fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS as u32)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn service_catalog(rules: &[&Rule]) -> ServiceCatalogExecutor {
    let client = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, rules, |c| c
        .retry_config(fast_retries()));
    ServiceCatalogExecutor::new(client)
}

fn sqs(rules: &[&Rule], queue_url: &str) -> SqsQueues {
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, rules, |c| c
        .retry_config(fast_retries()));
    SqsQueues::new(client, queue_url)
}

/// Keeps every request a rule saw, to assert on the exact input afterwards (a failed
/// `assert_eq!` says more than a matcher that does not match).
#[derive(Clone)]
struct Seen<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Seen<T> {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Vec::new())))
    }

    /// For `match_requests`: records the request and matches it.
    fn record(&self, input: &T) -> bool {
        self.0.lock().expect("not poisoned").push(input.clone());
        true
    }

    fn all(&self) -> Vec<T> {
        self.0.lock().expect("not poisoned").clone()
    }
}

/// An HTTP error response as an AWS JSON protocol service sends it.
fn json_error(status: u16, type_: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        format!(r#"{{"__type":"{type_}","message":"{message}"}}"#).into(),
    )
}

fn service_error(operation: &'static str, code: &str, status: u16, message: &str) -> CallError {
    CallError::service(operation, code, Some(status), message)
}

/// An error answer of the service on every attempt, and what must come of it.
#[derive(Clone, Copy, Debug)]
struct ErrorCase {
    status: u16,
    /// The `__type` of the JSON error body; `None` for an empty body.
    type_: Option<&'static str>,
    disposition: Disposition,
    /// How many attempts the SDK makes before it gives up.
    attempts: usize,
}

impl ErrorCase {
    const MESSAGE: &'static str = "refused for the test";

    fn json(status: u16, type_: &'static str, disposition: Disposition, attempts: usize) -> Self {
        Self {
            status,
            type_: Some(type_),
            disposition,
            attempts,
        }
    }

    fn bare(status: u16, disposition: Disposition, attempts: usize) -> Self {
        Self {
            status,
            type_: None,
            disposition,
            attempts,
        }
    }

    fn response(&self) -> HttpResponse {
        match self.type_ {
            Some(type_) => json_error(self.status, type_, Self::MESSAGE),
            None => HttpResponse::new(StatusCode::try_from(self.status).expect("valid status"), "".into()),
        }
    }

    /// The code `call_error` must report: the service's, or `HTTP<status>` when it sent none.
    fn code(&self) -> String {
        self.type_.map_or_else(|| format!("HTTP{}", self.status), str::to_owned)
    }

    fn check(&self, err: &CallError, operation: &'static str, attempts: usize) {
        let code = self.code();
        let message = if self.type_.is_some() {
            Self::MESSAGE
        } else {
            code.as_str()
        };
        assert_eq!(err, &service_error(operation, &code, self.status, message), "{self:?}");
        assert_eq!(err.disposition(), self.disposition, "{self:?}");
        assert_eq!(attempts, self.attempts, "attempts for {self:?}");
    }
}

fn execution<'a>(parameters: &'a BTreeMap<String, Vec<String>>) -> Execution<'a> {
    Execution {
        provisioned_product_id: "pp-abcdefghijklm",
        service_action_id: "act-0123456789abc",
        execute_token: "f3b1c0de5a5a4b1e9d0e8f7a6b5c4d3e",
        parameters,
        accept_language: Some(AcceptLanguage::Jp),
    }
}

fn created_output() -> ExecuteProvisionedProductServiceActionOutput {
    ExecuteProvisionedProductServiceActionOutput::builder()
        .record_detail(
            aws_sdk_servicecatalog::types::RecordDetail::builder()
                .record_id("rec-1")
                .status(RecordStatus::Created)
                .build(),
        )
        .build()
}

// ---------------------------------------------------------------------------------------------
// ExecuteProvisionedProductServiceAction: the request, the RecordDetail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn execute_sends_exactly_the_ids_token_language_and_parameters_and_maps_the_record_detail() {
    // GIVEN a request with two parameters, one of them with no values
    let seen = Seen::new();
    let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action)
        .match_requests({
            let seen = seen.clone();
            move |r| seen.record(r)
        })
        .then_output(|| {
            ExecuteProvisionedProductServiceActionOutput::builder()
                .record_detail(
                    aws_sdk_servicecatalog::types::RecordDetail::builder()
                        .record_id("rec-q2w3e4r5t6y7u")
                        .provisioned_product_name("web-frontend")
                        .status(RecordStatus::InProgress)
                        .created_time(DateTime::from_secs(1_795_687_200))
                        .updated_time(DateTime::from_millis(1_795_687_201_250))
                        .provisioned_product_type("CFN_STACK")
                        .record_type("EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION")
                        .provisioned_product_id("pp-abcdefghijklm")
                        .product_id("prod-abcdefghijklm")
                        .provisioning_artifact_id("pa-abcdefghijklm")
                        .path_id("lpv3-abcdefghijklm")
                        .record_errors(
                            SdkRecordError::builder()
                                .code("SSM_DOCUMENT_FAILED")
                                .description("step 2 failed")
                                .build(),
                        )
                        .record_errors(SdkRecordError::builder().code("OTHER").build())
                        .record_tags(SdkRecordTag::builder().key("team").value("payments").build())
                        .launch_role_arn("arn:aws:iam::123456789012:role/SCLaunchRole")
                        .build(),
                )
                .build()
        });
    let sc = service_catalog(&[&rule]);
    let parameters = BTreeMap::from([
        ("InstanceIds".to_owned(), vec!["i-0abc".to_owned(), "i-0def".to_owned()]),
        ("DryRun".to_owned(), vec![]),
    ]);

    // WHEN it is executed
    let detail = sc.execute(execution(&parameters)).await.expect("executed");

    // THEN exactly these members went out, nothing else (no SDK-generated token)
    let sent = seen.all();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent.provisioned_product_id(), Some("pp-abcdefghijklm"));
    assert_eq!(sent.service_action_id(), Some("act-0123456789abc"));
    assert_eq!(sent.execute_token(), Some("f3b1c0de5a5a4b1e9d0e8f7a6b5c4d3e"));
    assert_eq!(sent.accept_language(), Some("jp"));
    let expected_parameters = HashMap::from([
        ("InstanceIds".to_owned(), vec!["i-0abc".to_owned(), "i-0def".to_owned()]),
        ("DryRun".to_owned(), vec![]),
    ]);
    assert_eq!(sent.parameters(), Some(&expected_parameters));
    let expected = ExecuteProvisionedProductServiceActionInput::builder()
        .provisioned_product_id("pp-abcdefghijklm")
        .service_action_id("act-0123456789abc")
        .execute_token("f3b1c0de5a5a4b1e9d0e8f7a6b5c4d3e")
        .accept_language("jp")
        .set_parameters(Some(expected_parameters))
        .build()
        .expect("valid input");
    assert_eq!(sent, &expected);
    assert_eq!(rule.num_calls(), 1);

    // AND the RecordDetail comes back with the API's values, times as RFC 3339
    assert_eq!(
        detail,
        RecordDetail {
            record_id: Some("rec-q2w3e4r5t6y7u".into()),
            provisioned_product_name: Some("web-frontend".into()),
            status: Some("IN_PROGRESS".into()),
            created_time: Some("2026-11-26T10:00:00Z".into()),
            updated_time: Some("2026-11-26T10:00:01.25Z".into()),
            provisioned_product_type: Some("CFN_STACK".into()),
            record_type: Some("EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION".into()),
            provisioned_product_id: Some("pp-abcdefghijklm".into()),
            product_id: Some("prod-abcdefghijklm".into()),
            provisioning_artifact_id: Some("pa-abcdefghijklm".into()),
            path_id: Some("lpv3-abcdefghijklm".into()),
            record_errors: vec![
                RecordErrorDetail {
                    code: Some("SSM_DOCUMENT_FAILED".into()),
                    description: Some("step 2 failed".into()),
                },
                RecordErrorDetail {
                    code: Some("OTHER".into()),
                    description: None,
                },
            ],
            record_tags: vec![RecordTag {
                key: Some("team".into()),
                value: Some("payments".into()),
            }],
            launch_role_arn: Some("arn:aws:iam::123456789012:role/SCLaunchRole".into()),
        }
    );
}

#[tokio::test]
async fn execute_leaves_out_parameters_and_accept_language_when_there_are_none() {
    // GIVEN a request with no parameters and no language
    let seen = Seen::new();
    let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action)
        .match_requests({
            let seen = seen.clone();
            move |r| seen.record(r)
        })
        .then_output(created_output);
    let sc = service_catalog(&[&rule]);
    let no_parameters = BTreeMap::new();
    let request = Execution {
        accept_language: None,
        ..execution(&no_parameters)
    };

    // WHEN it is executed
    let detail = sc.execute(request).await.expect("executed");

    // THEN Parameters is absent, not `{}` (the API rejects an empty map), and so is AcceptLanguage
    let sent = seen.all();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].parameters(), None);
    assert_eq!(sent[0].accept_language(), None);
    assert_eq!(sent[0].execute_token(), Some("f3b1c0de5a5a4b1e9d0e8f7a6b5c4d3e"));
    // AND a sparse RecordDetail leaves the missing members out
    assert_eq!(
        detail,
        RecordDetail {
            record_id: Some("rec-1".into()),
            status: Some("CREATED".into()),
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn execute_without_a_record_detail_in_the_answer_is_a_transport_error_to_retry() {
    let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action)
        .then_output(|| ExecuteProvisionedProductServiceActionOutput::builder().build());
    let sc = service_catalog(&[&rule]);
    let parameters = BTreeMap::new();

    let err = sc.execute(execution(&parameters)).await.expect_err("no RecordDetail");

    assert_eq!(err, CallError::transport(EXECUTE, "the response has no RecordDetail"));
    assert_eq!(err.disposition(), Disposition::Retry);
}

// ---------------------------------------------------------------------------------------------
// ExecuteProvisionedProductServiceAction: errors and retries
// ---------------------------------------------------------------------------------------------

/// Executes once against a client whose every HTTP attempt gets `response`.
async fn execute_against(response: fn() -> HttpResponse) -> (Result<RecordDetail, CallError>, usize) {
    let rule =
        mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action).then_http_response(response);
    let sc = service_catalog(&[&rule]);
    let parameters = BTreeMap::new();
    let result = sc.execute(execution(&parameters)).await;
    (result, rule.num_calls())
}

#[tokio::test]
async fn execute_modeled_errors_keep_their_code_and_only_invalid_state_is_retried() {
    // None of these is transient to the SDK: one attempt each, the retry decision is ours.
    let cases = [
        ErrorCase::json(400, "InvalidParametersException", Disposition::Reject, 1),
        ErrorCase::json(400, "ResourceNotFoundException", Disposition::Reject, 1),
        ErrorCase::json(400, "InvalidStateException", Disposition::Retry, 1),
    ];
    for case in cases {
        let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action)
            .then_http_response(move || case.response());
        let sc = service_catalog(&[&rule]);
        let parameters = BTreeMap::new();

        let err = sc.execute(execution(&parameters)).await.expect_err(&case.code());

        case.check(&err, EXECUTE, rule.num_calls());
        assert_eq!(err.code(), case.code());
    }
}

#[tokio::test]
async fn execute_modeled_errors_from_then_error_map_the_same_way() {
    // The same three errors as the SDK's deserializer builds them, served with `then_error`.
    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }
    type ModeledError = fn() -> ExecuteProvisionedProductServiceActionError;
    let cases: [(ModeledError, &str, Disposition); 3] = [
        (
            || {
                ExecuteProvisionedProductServiceActionError::InvalidParametersException(
                    InvalidParametersException::builder()
                        .message("bad")
                        .meta(meta("InvalidParametersException", "bad"))
                        .build(),
                )
            },
            "InvalidParametersException",
            Disposition::Reject,
        ),
        (
            || {
                ExecuteProvisionedProductServiceActionError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("bad")
                        .meta(meta("ResourceNotFoundException", "bad"))
                        .build(),
                )
            },
            "ResourceNotFoundException",
            Disposition::Reject,
        ),
        (
            || {
                ExecuteProvisionedProductServiceActionError::InvalidStateException(
                    InvalidStateException::builder()
                        .message("bad")
                        .meta(meta("InvalidStateException", "bad"))
                        .build(),
                )
            },
            "InvalidStateException",
            Disposition::Retry,
        ),
    ];
    for (error, code, disposition) in cases {
        let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action).then_error(error);
        let sc = service_catalog(&[&rule]);
        let parameters = BTreeMap::new();

        let err = sc.execute(execution(&parameters)).await.expect_err(code);

        assert_eq!(err.operation(), EXECUTE);
        assert!(
            matches!(err.kind(), CallErrorKind::Service { code: c, .. } if c == code),
            "{code}: {err:?}"
        );
        assert_eq!(err.message(), "bad");
        assert_eq!(err.disposition(), disposition, "{code}");
        assert_eq!(rule.num_calls(), 1, "{code}");
    }
}

#[tokio::test]
async fn execute_throttled_until_the_sdk_gives_up_is_retried_later() {
    // GIVEN Service Catalog throttles every attempt (HTTP 400, ThrottlingException)
    let (result, calls) = execute_against(|| json_error(400, "ThrottlingException", "Rate exceeded")).await;

    // THEN the SDK tried as often as configured, and the error says: retry later
    assert_eq!(calls, MAX_ATTEMPTS);
    let err = result.expect_err("throttled");
    assert_eq!(err, service_error(EXECUTE, "ThrottlingException", 400, "Rate exceeded"));
    assert_eq!(err.disposition(), Disposition::Retry);
}

#[tokio::test]
async fn execute_throttled_with_http_429_and_no_error_code_is_retried_later() {
    let (result, calls) =
        execute_against(|| HttpResponse::new(StatusCode::try_from(429).expect("valid"), "".into())).await;

    let err = result.expect_err("429");
    assert_eq!(err, service_error(EXECUTE, "HTTP429", 429, "HTTP429"));
    assert_eq!(err.disposition(), Disposition::Retry);
    // The SDK retries by status only 500, 502, 503 and 504: a codeless 429 is left to us.
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn execute_access_denied_which_the_operation_does_not_model_is_rejected() {
    let (result, calls) = execute_against(|| {
        json_error(
            400,
            "AccessDeniedException",
            "User is not authorized to perform: servicecatalog:ExecuteProvisionedProductServiceAction",
        )
    })
    .await;

    let err = result.expect_err("denied");
    assert_eq!(
        err,
        service_error(
            EXECUTE,
            "AccessDeniedException",
            400,
            "User is not authorized to perform: servicecatalog:ExecuteProvisionedProductServiceAction"
        )
    );
    assert_eq!(err.disposition(), Disposition::Reject);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn execute_failing_with_http_500_on_every_attempt_is_retried_later() {
    let (result, calls) = execute_against(|| json_error(500, "InternalFailure", "internal error")).await;

    assert_eq!(calls, MAX_ATTEMPTS);
    let err = result.expect_err("500");
    assert_eq!(err, service_error(EXECUTE, "InternalFailure", 500, "internal error"));
    assert_eq!(err.disposition(), Disposition::Retry);
}

#[tokio::test]
async fn execute_failing_with_a_bare_http_500_is_retried_later() {
    let (result, calls) =
        execute_against(|| HttpResponse::new(StatusCode::try_from(500).expect("valid"), "".into())).await;

    assert_eq!(calls, MAX_ATTEMPTS);
    let err = result.expect_err("500");
    assert_eq!(err, service_error(EXECUTE, "HTTP500", 500, "HTTP500"));
    assert_eq!(err.disposition(), Disposition::Retry);
}

#[tokio::test]
async fn execute_succeeds_when_the_sdk_retries_a_503() {
    // GIVEN the first attempt gets 503 Service Unavailable and the second succeeds
    let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action)
        .sequence()
        .http_status(503, None)
        .output(created_output)
        .build();
    let sc = service_catalog(&[&rule]);
    let parameters = BTreeMap::new();

    // WHEN it is executed
    let detail = sc
        .execute(execution(&parameters))
        .await
        .expect("second attempt succeeds");

    // THEN the SDK retried once, and the caller sees only the success
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(detail.record_id.as_deref(), Some("rec-1"));
    assert_eq!(detail.status.as_deref(), Some("CREATED"));
}

#[tokio::test]
async fn execute_gets_503_twice_then_succeeds_on_the_last_allowed_attempt() {
    let rule = mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action)
        .sequence()
        .http_status(503, None)
        .times(MAX_ATTEMPTS - 1)
        .output(created_output)
        .build();
    let sc = service_catalog(&[&rule]);
    let parameters = BTreeMap::new();

    let detail = sc.execute(execution(&parameters)).await.expect("last attempt succeeds");

    assert_eq!(rule.num_calls(), MAX_ATTEMPTS);
    assert_eq!(detail.record_id.as_deref(), Some("rec-1"));
}

// ---------------------------------------------------------------------------------------------
// DescribeProvisionedProduct
// ---------------------------------------------------------------------------------------------

fn described(id: &str) -> DescribeProvisionedProductOutput {
    DescribeProvisionedProductOutput::builder()
        .provisioned_product_detail(
            ProvisionedProductDetail::builder()
                .id(id)
                .name("web-frontend")
                .product_id("prod-abcdefghijklm")
                .provisioning_artifact_id("pa-abcdefghijklm")
                .status(aws_sdk_servicecatalog::types::ProvisionedProductStatus::Tainted)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn describe_by_id_sends_the_id_member_only() {
    let seen = Seen::new();
    let rule = mock!(aws_sdk_servicecatalog::Client::describe_provisioned_product)
        .match_requests({
            let seen = seen.clone();
            move |r| seen.record(r)
        })
        .then_output(|| described("pp-abcdefghijklm"));
    let sc = service_catalog(&[&rule]);

    let product = sc
        .describe_provisioned_product(&ProductRef::Id("pp-abcdefghijklm".into()), Some(AcceptLanguage::Zh))
        .await
        .expect("described");

    assert_eq!(
        seen.all(),
        vec![DescribeProvisionedProductInput::builder()
            .id("pp-abcdefghijklm")
            .accept_language("zh")
            .build()
            .expect("valid input")]
    );
    assert_eq!(
        product,
        ProvisionedProduct {
            id: "pp-abcdefghijklm".into(),
            product_id: "prod-abcdefghijklm".into(),
            provisioning_artifact_id: "pa-abcdefghijklm".into(),
            status: "TAINTED".into(),
        }
    );
}

#[tokio::test]
async fn describe_by_name_sends_the_name_member_only_and_returns_the_products_id() {
    let seen = Seen::new();
    let rule = mock!(aws_sdk_servicecatalog::Client::describe_provisioned_product)
        .match_requests({
            let seen = seen.clone();
            move |r| seen.record(r)
        })
        .then_output(|| described("pp-resolvedfromname"));
    let sc = service_catalog(&[&rule]);

    let product = sc
        .describe_provisioned_product(&ProductRef::Name("web-frontend".into()), None)
        .await
        .expect("described");

    let sent = seen.all();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].name(), Some("web-frontend"));
    assert_eq!(sent[0].id(), None);
    assert_eq!(sent[0].accept_language(), None);
    assert_eq!(
        sent[0],
        DescribeProvisionedProductInput::builder()
            .name("web-frontend")
            .build()
            .expect("valid input")
    );
    assert_eq!(product.id, "pp-resolvedfromname");
}

#[tokio::test]
async fn describe_without_a_provisioned_product_detail_is_a_transport_error_to_retry() {
    let rule = mock!(aws_sdk_servicecatalog::Client::describe_provisioned_product)
        .then_output(|| DescribeProvisionedProductOutput::builder().build());
    let sc = service_catalog(&[&rule]);

    let err = sc
        .describe_provisioned_product(&ProductRef::Id("pp-abcdefghijklm".into()), None)
        .await
        .expect_err("no detail");

    assert_eq!(
        err,
        CallError::transport(DESCRIBE, "the response has no ProvisionedProductDetail")
    );
    assert_eq!(err.disposition(), Disposition::Retry);
}

#[tokio::test]
async fn describe_with_a_detail_missing_its_product_id_is_a_transport_error_naming_the_member() {
    let rule = mock!(aws_sdk_servicecatalog::Client::describe_provisioned_product).then_output(|| {
        DescribeProvisionedProductOutput::builder()
            .provisioned_product_detail(
                ProvisionedProductDetail::builder()
                    .id("pp-abcdefghijklm")
                    .provisioning_artifact_id("pa-abcdefghijklm")
                    .build(),
            )
            .build()
    });
    let sc = service_catalog(&[&rule]);

    let err = sc
        .describe_provisioned_product(&ProductRef::Id("pp-abcdefghijklm".into()), None)
        .await
        .expect_err("no ProductId");

    assert_eq!(
        err,
        CallError::transport(DESCRIBE, "the ProvisionedProductDetail has no ProductId")
    );
    assert_eq!(err.disposition(), Disposition::Retry);
}

#[tokio::test]
async fn describe_errors_keep_their_code_and_disposition() {
    let cases = [
        ErrorCase::json(400, "InvalidParametersException", Disposition::Reject, 1),
        ErrorCase::json(400, "ResourceNotFoundException", Disposition::Reject, 1),
        ErrorCase::json(400, "AccessDeniedException", Disposition::Reject, 1),
        ErrorCase::json(400, "ThrottlingException", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::bare(500, Disposition::Retry, MAX_ATTEMPTS),
    ];
    for case in cases {
        let rule = mock!(aws_sdk_servicecatalog::Client::describe_provisioned_product)
            .then_http_response(move || case.response());
        let sc = service_catalog(&[&rule]);

        let err = sc
            .describe_provisioned_product(&ProductRef::Name("web-frontend".into()), None)
            .await
            .expect_err(&case.code());

        case.check(&err, DESCRIBE, rule.num_calls());
    }
}

// ---------------------------------------------------------------------------------------------
// ListServiceActionsForProvisioningArtifact: name resolution
// ---------------------------------------------------------------------------------------------

fn summary(id: &str, name: &str) -> ServiceActionSummary {
    ServiceActionSummary::builder().id(id).name(name).build()
}

/// Two pages of service actions: "Restart" (exactly) only on the second.
fn two_pages(r: &ListServiceActionsForProvisioningArtifactInput) -> ListServiceActionsForProvisioningArtifactOutput {
    match r.page_token() {
        None => ListServiceActionsForProvisioningArtifactOutput::builder()
            .service_action_summaries(summary("act-page1restart", "restart"))
            .service_action_summaries(summary("act-page1restartx", "Restart "))
            .service_action_summaries(summary("act-page1restartdb", "RestartDb"))
            .next_page_token("page-2-token")
            .build(),
        Some("page-2-token") => ListServiceActionsForProvisioningArtifactOutput::builder()
            .service_action_summaries(summary("act-page2stop", "Stop"))
            .service_action_summaries(summary("act-page2restart", "Restart"))
            .build(),
        Some(other) => panic!("unexpected page token {other}"),
    }
}

fn list_rule(seen: &Seen<ListServiceActionsForProvisioningArtifactInput>) -> Rule {
    let seen = seen.clone();
    mock!(aws_sdk_servicecatalog::Client::list_service_actions_for_provisioning_artifact)
        .match_requests(move |r| seen.record(r))
        .then_compute_output(two_pages)
}

#[tokio::test]
async fn find_service_action_id_follows_the_page_token_to_the_exact_name_on_page_two() {
    // GIVEN page 1 has only near misses of "Restart" and a NextPageToken, page 2 has "Restart"
    let seen = Seen::new();
    let rule = list_rule(&seen);
    let sc = service_catalog(&[&rule]);

    // WHEN the name is resolved
    let id = sc
        .find_service_action_id(
            "prod-abcdefghijklm",
            "pa-abcdefghijklm",
            "Restart",
            Some(AcceptLanguage::En),
        )
        .await
        .expect("listed");

    // THEN it is the id on page 2, after two calls, the second carrying page 1's token
    assert_eq!(id.as_deref(), Some("act-page2restart"));
    assert_eq!(rule.num_calls(), 2);
    let page = |token: Option<&str>| {
        ListServiceActionsForProvisioningArtifactInput::builder()
            .product_id("prod-abcdefghijklm")
            .provisioning_artifact_id("pa-abcdefghijklm")
            .page_size(20)
            .set_page_token(token.map(str::to_owned))
            .accept_language("en")
            .build()
            .expect("valid input")
    };
    assert_eq!(seen.all(), vec![page(None), page(Some("page-2-token"))]);
}

#[tokio::test]
async fn find_service_action_id_stops_at_the_first_page_that_has_the_name() {
    let seen = Seen::new();
    let rule = list_rule(&seen);
    let sc = service_catalog(&[&rule]);

    let id = sc
        .find_service_action_id("prod-abcdefghijklm", "pa-abcdefghijklm", "RestartDb", None)
        .await
        .expect("listed");

    assert_eq!(id.as_deref(), Some("act-page1restartdb"));
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(seen.all()[0].page_token(), None);
    assert_eq!(seen.all()[0].accept_language(), None);
}

#[tokio::test]
async fn find_service_action_id_returns_none_for_a_name_on_no_page() {
    let seen = Seen::new();
    let rule = list_rule(&seen);
    let sc = service_catalog(&[&rule]);

    let id = sc
        .find_service_action_id("prod-abcdefghijklm", "pa-abcdefghijklm", "Reboot", None)
        .await
        .expect("listed");

    assert_eq!(id, None);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn find_service_action_id_matches_names_exactly_and_case_sensitively() {
    for near_miss in ["RESTART", "restart ", "Restar", " Restart", "restartdb"] {
        let seen = Seen::new();
        let rule = list_rule(&seen);
        let sc = service_catalog(&[&rule]);

        let id = sc
            .find_service_action_id("prod-abcdefghijklm", "pa-abcdefghijklm", near_miss, None)
            .await
            .expect("listed");

        assert_eq!(id, None, "{near_miss:?}");
        assert_eq!(rule.num_calls(), 2, "{near_miss:?}");
    }
    // "restart" (lower case) is a name of its own, on page 1.
    let seen = Seen::new();
    let rule = list_rule(&seen);
    let sc = service_catalog(&[&rule]);
    let id = sc
        .find_service_action_id("prod-abcdefghijklm", "pa-abcdefghijklm", "restart", None)
        .await
        .expect("listed");
    assert_eq!(id.as_deref(), Some("act-page1restart"));
}

#[tokio::test]
async fn find_service_action_id_errors_keep_their_code_and_disposition() {
    let cases = [
        ErrorCase::json(400, "InvalidParametersException", Disposition::Reject, 1),
        ErrorCase::json(400, "ResourceNotFoundException", Disposition::Reject, 1),
        ErrorCase::json(400, "AccessDeniedException", Disposition::Reject, 1),
        ErrorCase::json(400, "ThrottlingException", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::bare(503, Disposition::Retry, MAX_ATTEMPTS),
    ];
    for case in cases {
        let rule = mock!(aws_sdk_servicecatalog::Client::list_service_actions_for_provisioning_artifact)
            .then_http_response(move || case.response());
        let sc = service_catalog(&[&rule]);

        let err = sc
            .find_service_action_id("prod-abcdefghijklm", "pa-abcdefghijklm", "Restart", None)
            .await
            .expect_err(&case.code());

        case.check(&err, LIST_ACTIONS, rule.num_calls());
    }
}

#[tokio::test]
async fn find_service_action_id_fails_when_a_later_page_fails() {
    // GIVEN page 1 lacks the name and page 2 is refused
    let rule = mock!(aws_sdk_servicecatalog::Client::list_service_actions_for_provisioning_artifact)
        .sequence()
        .output(|| {
            ListServiceActionsForProvisioningArtifactOutput::builder()
                .service_action_summaries(summary("act-page1stop", "Stop"))
                .next_page_token("page-2-token")
                .build()
        })
        .http_response(|| json_error(400, "ResourceNotFoundException", "artifact deleted"))
        .build();
    let sc = service_catalog(&[&rule]);

    let err = sc
        .find_service_action_id("prod-abcdefghijklm", "pa-abcdefghijklm", "Restart", None)
        .await
        .expect_err("page 2 refused");

    // THEN the error is the page's, not "not found"
    assert_eq!(
        err,
        service_error(LIST_ACTIONS, "ResourceNotFoundException", 400, "artifact deleted")
    );
    assert_eq!(err.disposition(), Disposition::Reject);
    assert_eq!(rule.num_calls(), 2);
}

// ---------------------------------------------------------------------------------------------
// SqsQueues: SendMessageBatch
// ---------------------------------------------------------------------------------------------

fn result(i: usize, provisioned_product_id: Option<&str>) -> ResultMessage {
    ResultMessage::rejected(
        Source {
            kind: SourceKind::Sqs,
            id: format!("msg-{i}"),
        },
        format!("token-{i:02}"),
        provisioned_product_id.map(str::to_owned),
        None,
        ResultError {
            code: "InvalidRequest".into(),
            message: format!("request {i} is bad"),
        },
    )
}

fn results(n: usize) -> Vec<ResultMessage> {
    (0..n).map(|i| result(i, Some(&format!("pp-{i:02}")))).collect()
}

/// SQS accepting every entry of the batch.
fn all_sent(input: &SendMessageBatchInput) -> SendMessageBatchOutput {
    let successful = input
        .entries()
        .iter()
        .map(|e| {
            SendMessageBatchResultEntry::builder()
                .id(e.id())
                .message_id(format!("sqs-{}", e.message_body()))
                .md5_of_message_body("d41d8cd98f00b204e9800998ecf8427e")
                .build()
                .expect("valid entry")
        })
        .collect();
    SendMessageBatchOutput::builder()
        .set_successful(Some(successful))
        .set_failed(Some(vec![]))
        .build()
        .expect("valid output")
}

fn send_rule(seen: &Seen<SendMessageBatchInput>) -> Rule {
    let seen = seen.clone();
    mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(move |r| seen.record(r))
        .then_compute_output(all_sent)
}

fn bodies(input: &SendMessageBatchInput) -> Vec<String> {
    input.entries().iter().map(|e| e.message_body().to_owned()).collect()
}

fn ids(input: &SendMessageBatchInput) -> Vec<String> {
    input.entries().iter().map(|e| e.id().to_owned()).collect()
}

fn index_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

#[tokio::test]
async fn publishing_23_results_sends_three_batches_of_10_10_and_3_with_the_results_json() {
    // GIVEN 23 results for a standard queue
    let seen = Seen::new();
    let rule = send_rule(&seen);
    let publisher = sqs(&[&rule], RESULTS_QUEUE);
    let results = results(23);

    // WHEN they are published
    let outcomes = publisher.publish(&results).await;

    // THEN every result was sent
    assert_eq!(outcomes, vec![Ok(()); 23]);
    // AND in three calls of 10, 10 and 3 entries (the chunks run concurrently: sort them back)
    let mut calls = seen.all();
    assert_eq!(calls.len(), 3);
    assert_eq!(rule.num_calls(), 3);
    calls.sort_by_key(|c| c.entries()[0].message_body().to_owned());
    let chunks: Vec<&[ResultMessage]> = results.chunks(10).collect();
    for (call, chunk) in calls.iter().zip(&chunks) {
        assert_eq!(call.queue_url(), Some(RESULTS_QUEUE));
        assert_eq!(ids(call), index_ids(chunk.len()));
        assert_eq!(
            bodies(call),
            chunk.iter().map(|r| r.to_json().unwrap()).collect::<Vec<_>>()
        );
        // A standard queue takes neither FIFO member.
        for entry in call.entries() {
            assert_eq!(entry.message_group_id(), None);
            assert_eq!(entry.message_deduplication_id(), None);
        }
    }
    assert_eq!(
        calls.iter().map(|c| c.entries().len()).collect::<Vec<_>>(),
        vec![10, 10, 3]
    );
    // AND a body is the result's JSON, which reads back as the result
    let first: ResultMessage = serde_json::from_str(calls[0].entries()[0].message_body()).expect("JSON body");
    assert_eq!(first, results[0]);
}

#[tokio::test]
async fn publishing_nothing_sends_nothing() {
    let seen = Seen::new();
    let rule = send_rule(&seen);
    let publisher = sqs(&[&rule], RESULTS_QUEUE);

    let outcomes = publisher.publish(&[]).await;

    assert!(outcomes.is_empty());
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn a_partially_failed_batch_fails_exactly_the_refused_results() {
    // GIVEN SQS refuses result 3 (sender's fault) and result 12 (its own fault) and takes the rest
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch).then_compute_output(|input: &SendMessageBatchInput| {
        let (mut successful, mut failed) = (vec![], vec![]);
        for e in input.entries() {
            let body = e.message_body();
            if body.contains("\"token-03\"") {
                failed.push(
                    BatchResultErrorEntry::builder()
                        .id(e.id())
                        .sender_fault(true)
                        .code("InvalidMessageContents")
                        .message("bad character")
                        .build()
                        .expect("valid entry"),
                );
            } else if body.contains("\"token-12\"") {
                failed.push(
                    BatchResultErrorEntry::builder()
                        .id(e.id())
                        .sender_fault(false)
                        .code("InternalError")
                        .build()
                        .expect("valid entry"),
                );
            } else {
                successful.push(
                    SendMessageBatchResultEntry::builder()
                        .id(e.id())
                        .message_id("m")
                        .md5_of_message_body("d41d8cd98f00b204e9800998ecf8427e")
                        .build()
                        .expect("valid entry"),
                );
            }
        }
        SendMessageBatchOutput::builder()
            .set_successful(Some(successful))
            .set_failed(Some(failed))
            .build()
            .expect("valid output")
    });
    let publisher = sqs(&[&rule], RESULTS_QUEUE);

    // WHEN 15 results are published
    let outcomes = publisher.publish(&results(15)).await;

    // THEN only results 3 and 12 failed, each with its own entry's error
    assert_eq!(outcomes.len(), 15);
    for (i, outcome) in outcomes.iter().enumerate() {
        match i {
            3 => assert_eq!(
                outcome,
                &Err(service_error(
                    SEND,
                    "InvalidMessageContents",
                    400,
                    "entry 3 refused: bad character"
                ))
            ),
            12 => assert_eq!(
                outcome,
                &Err(service_error(SEND, "InternalError", 500, "entry 12 refused: "))
            ),
            _ => assert_eq!(outcome, &Ok(()), "result {i}"),
        }
    }
    // AND the sender's fault is not retried, SQS's own is
    assert_eq!(
        outcomes[3].as_ref().map_err(CallError::disposition),
        Err(Disposition::Reject)
    );
    assert_eq!(
        outcomes[12].as_ref().map_err(CallError::disposition),
        Err(Disposition::Retry)
    );
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_batch_the_response_does_not_mention_fails_the_unmentioned_entries() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch).then_output(|| {
        SendMessageBatchOutput::builder()
            .successful(
                SendMessageBatchResultEntry::builder()
                    .id("1")
                    .message_id("m")
                    .md5_of_message_body("d41d8cd98f00b204e9800998ecf8427e")
                    .build()
                    .expect("valid entry"),
            )
            .set_failed(Some(vec![]))
            .build()
            .expect("valid output")
    });
    let publisher = sqs(&[&rule], RESULTS_QUEUE);

    let outcomes = publisher.publish(&results(2)).await;

    let unmentioned = CallError::transport(SEND, "the response did not mention this entry");
    assert_eq!(outcomes, vec![Err(unmentioned.clone()), Ok(())]);
    assert_eq!(unmentioned.disposition(), Disposition::Retry);
}

#[tokio::test]
async fn a_failed_call_fails_every_result_of_its_chunk_and_no_other() {
    // GIVEN SQS refuses the whole call that carries results 10..19 (KMS key access denied)
    let refused = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries()[0].message_body().contains("\"token-10\""))
        .then_http_response(|| {
            let mut response = json_error(
                400,
                "com.amazonaws.sqs#KmsAccessDenied",
                "The caller doesn't have the required KMS access.",
            );
            response
                .headers_mut()
                .insert("x-amzn-query-error", "KMS.AccessDeniedException;Sender");
            response
        });
    let seen = Seen::new();
    let accepted = send_rule(&seen);
    let publisher = sqs(&[&refused, &accepted], RESULTS_QUEUE);

    // WHEN 25 results are published
    let outcomes = publisher.publish(&results(25)).await;

    // THEN results 10..19 failed with the call's error (the SQS code from x-amzn-query-error)
    let err = service_error(
        SEND,
        "KMS.AccessDeniedException",
        400,
        "The caller doesn't have the required KMS access.",
    );
    let mut expected = vec![Ok(()); 25];
    expected[10..20].fill(Err(err.clone()));
    assert_eq!(outcomes, expected);
    assert_eq!(err.disposition(), Disposition::Reject);
    // AND the other two chunks were sent
    assert_eq!(refused.num_calls(), 1);
    assert_eq!(accepted.num_calls(), 2);
    let mut sent: Vec<usize> = seen.all().iter().map(|c| c.entries().len()).collect();
    sent.sort_unstable();
    assert_eq!(sent, vec![5, 10]);
}

#[tokio::test]
async fn a_throttled_call_fails_its_chunk_with_a_retryable_error_after_the_sdks_retries() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch)
        .then_http_response(|| json_error(400, "ThrottlingException", "Rate exceeded"));
    let publisher = sqs(&[&rule], RESULTS_QUEUE);

    let outcomes = publisher.publish(&results(3)).await;

    let err = service_error(SEND, "ThrottlingException", 400, "Rate exceeded");
    assert_eq!(outcomes, vec![Err(err.clone()); 3]);
    assert_eq!(err.disposition(), Disposition::Retry);
    assert_eq!(rule.num_calls(), MAX_ATTEMPTS);
}

#[tokio::test]
async fn a_fifo_queue_gets_the_product_as_group_and_the_execute_token_as_deduplication_id() {
    // GIVEN a FIFO results queue and 12 results, one of them for a product never resolved
    let seen = Seen::new();
    let rule = send_rule(&seen);
    let publisher = sqs(&[&rule], RESULTS_FIFO_QUEUE);
    let mut results = results(12);
    results[1] = result(1, None);

    // WHEN they are published
    let outcomes = publisher.publish(&results).await;

    // THEN each entry is grouped by its product ("unresolved" when there is none) and
    // deduplicated by its execute token
    assert_eq!(outcomes, vec![Ok(()); 12]);
    let calls = seen.all();
    assert_eq!(calls.len(), 2);
    let entries: Vec<_> = calls.iter().flat_map(|c| c.entries()).collect();
    let groups: Vec<_> = entries.iter().map(|e| e.message_group_id()).collect();
    let mut expected_groups: Vec<String> = (0..12).map(|i| format!("pp-{i:02}")).collect();
    expected_groups[1] = "unresolved".into();
    assert_eq!(
        groups,
        expected_groups.iter().map(|g| Some(g.as_str())).collect::<Vec<_>>()
    );
    let dedup: Vec<_> = entries.iter().map(|e| e.message_deduplication_id()).collect();
    let tokens: Vec<String> = (0..12).map(|i| format!("token-{i:02}")).collect();
    assert_eq!(dedup, tokens.iter().map(|t| Some(t.as_str())).collect::<Vec<_>>());
    // AND the chunks went one after the other, in the results' order (no sorting needed here)
    assert_eq!(calls[0].queue_url(), Some(RESULTS_FIFO_QUEUE));
    assert_eq!(ids(&calls[0]), index_ids(10));
    assert_eq!(ids(&calls[1]), index_ids(2));
    assert_eq!(
        calls.iter().flat_map(bodies).collect::<Vec<_>>(),
        results.iter().map(|r| r.to_json().unwrap()).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------------
// Answers the SDK cannot read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn execute_answered_with_an_unreadable_200_is_a_transport_error_to_retry() {
    // GIVEN a 200 whose body is cut short: the action may well have started
    let (result, calls) =
        execute_against(|| HttpResponse::new(StatusCode::try_from(200).expect("valid"), r#"{"RecordDetail":"#.into()))
            .await;

    // THEN it is "no answer" (retried with the same ExecuteToken, which is safe), not a rejection
    let err = result.expect_err("unreadable");
    assert_eq!(err.operation(), EXECUTE);
    assert_eq!(err.kind(), &CallErrorKind::Transport, "{err:?}");
    assert_eq!(err.disposition(), Disposition::Retry);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn a_batch_answered_with_an_unreadable_200_fails_its_results_with_a_retryable_error() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch)
        .then_http_response(|| HttpResponse::new(StatusCode::try_from(200).expect("valid"), "<html>".into()));
    let publisher = sqs(&[&rule], RESULTS_QUEUE);

    let outcomes = publisher.publish(&results(2)).await;

    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        let err = outcome.expect_err("unreadable");
        assert_eq!(err.operation(), SEND);
        assert_eq!(err.kind(), &CallErrorKind::Transport, "{err:?}");
        assert_eq!(err.disposition(), Disposition::Retry);
    }
}

#[tokio::test]
async fn a_fifo_queue_sends_no_later_result_of_a_group_whose_result_failed_and_goes_on_with_the_others() {
    // GIVEN a FIFO results queue whose first batch refuses its fourth entry (product pp-03), and
    // results 12 and 14 for the same product
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(move |r| recorder.record(r))
        .then_compute_output(|input| {
            let mut output = all_sent(input);
            if input
                .entries()
                .iter()
                .any(|e| e.message_deduplication_id() == Some("token-03"))
            {
                let successful = output.successful.into_iter().filter(|e| e.id != "3").collect();
                output.successful = successful;
                output.failed = vec![BatchResultErrorEntry::builder()
                    .id("3")
                    .sender_fault(false)
                    .code("InternalError")
                    .message("try again")
                    .build()
                    .expect("valid entry")];
            }
            output
        });
    let publisher = sqs(&[&rule], RESULTS_FIFO_QUEUE);
    let mut results = results(15);
    results[12] = result(12, Some("pp-03"));
    results[14] = result(14, Some("pp-03"));

    // WHEN they are published
    let outcomes = publisher.publish(&results).await;

    // THEN the second batch carried the other groups' results only, so no result of pp-03 overtook
    // the failed one
    let calls = seen.all();
    assert_eq!(calls.len(), 2);
    let second: Vec<_> = calls[1]
        .entries()
        .iter()
        .map(|e| e.message_deduplication_id())
        .collect();
    assert_eq!(second, vec![Some("token-10"), Some("token-11"), Some("token-13")]);
    let failed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, [3, 12, 14]);
    assert_eq!(outcomes[3].as_ref().unwrap_err().code(), "InternalError");
    assert!(outcomes[12].as_ref().unwrap_err().message().contains("not sent"));
    assert_eq!(outcomes[12].as_ref().unwrap_err().disposition(), Disposition::Retry);
}

// ---------------------------------------------------------------------------------------------
// DescribeRecord (completion tracking)
// ---------------------------------------------------------------------------------------------

fn record_output(key: &str, value: &str) -> aws_sdk_servicecatalog::types::RecordOutput {
    aws_sdk_servicecatalog::types::RecordOutput::builder()
        .output_key(key)
        .output_value(value)
        .description(format!("{key} of the run"))
        .build()
}

#[tokio::test]
async fn describe_record_sends_the_id_and_language_and_gathers_the_outputs_of_every_page() {
    // GIVEN a record whose outputs come on two pages
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_servicecatalog::Client::describe_record)
        .match_requests(move |r| recorder.record(r))
        .then_compute_output(|input: &DescribeRecordInput| {
            let detail = aws_sdk_servicecatalog::types::RecordDetail::builder()
                .record_id("rec-1")
                .status(RecordStatus::Failed)
                .provisioned_product_id("pp-1")
                .updated_time(DateTime::from_secs(1_764_150_000))
                .record_errors(
                    SdkRecordError::builder()
                        .code("AccessDenied")
                        .description("no role")
                        .build(),
                )
                .build();
            match input.page_token() {
                None => DescribeRecordOutput::builder()
                    .record_detail(detail)
                    .record_outputs(record_output("A", "1"))
                    .next_page_token("page-2")
                    .build(),
                Some(_) => DescribeRecordOutput::builder()
                    .record_detail(detail)
                    .record_outputs(record_output("B", "2"))
                    .build(),
            }
        });
    let sc = service_catalog(&[&rule]);

    // WHEN it is described
    let described = sc
        .describe_record("rec-1", Some(AcceptLanguage::Zh))
        .await
        .expect("described");

    // THEN both pages were asked for, with the id, the language and the largest page size
    let calls = seen.all();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.id(), Some("rec-1"));
        assert_eq!(call.accept_language(), Some("zh"));
        assert_eq!(call.page_size(), Some(20));
    }
    assert_eq!(calls[0].page_token(), None);
    assert_eq!(calls[1].page_token(), Some("page-2"));
    // AND the detail keeps the API's names and RecordErrors; the outputs of both pages are there
    assert_eq!(described.detail.record_id.as_deref(), Some("rec-1"));
    assert_eq!(described.detail.status.as_deref(), Some("FAILED"));
    assert_eq!(described.detail.updated_time.as_deref(), Some("2025-11-26T09:40:00Z"));
    assert_eq!(
        described.detail.record_errors,
        vec![RecordErrorDetail {
            code: Some("AccessDenied".into()),
            description: Some("no role".into())
        }]
    );
    let outputs: Vec<(Option<&str>, Option<&str>, Option<&str>)> = described
        .outputs
        .iter()
        .map(|o| {
            (
                o.output_key.as_deref(),
                o.output_value.as_deref(),
                o.description.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        outputs,
        [
            (Some("A"), Some("1"), Some("A of the run")),
            (Some("B"), Some("2"), Some("B of the run"))
        ]
    );
}

#[tokio::test]
async fn describe_record_errors_keep_their_code_and_disposition() {
    for case in [
        ErrorCase::json(400, "ResourceNotFoundException", Disposition::Reject, 1),
        ErrorCase::json(400, "ThrottlingException", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::json(500, "InternalFailure", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::json(400, "AccessDeniedException", Disposition::Reject, 1),
    ] {
        let rule = mock!(aws_sdk_servicecatalog::Client::describe_record).then_http_response(move || case.response());
        let sc = service_catalog(&[&rule]);
        let err = sc.describe_record("rec-1", None).await.expect_err("refused");
        case.check(&err, "DescribeRecord", rule.num_calls());
    }
}

#[tokio::test]
async fn describe_record_without_a_record_detail_is_no_answer() {
    let rule =
        mock!(aws_sdk_servicecatalog::Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
    let err = service_catalog(&[&rule])
        .describe_record("rec-1", None)
        .await
        .expect_err("no detail");
    assert_eq!(err.kind(), &CallErrorKind::Transport);
    assert_eq!(err.disposition(), Disposition::Retry);
}

// ---------------------------------------------------------------------------------------------
// The function's own queues (tracking messages)
// ---------------------------------------------------------------------------------------------

const REQUESTS_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/sc-action-requests";

fn outgoing(i: usize, delay_seconds: u32) -> OutgoingMessage {
    OutgoingMessage {
        body: format!(r#"{{"trackRecord":{{"n":{i}}}}}"#),
        delay_seconds,
        fifo: None,
    }
}

#[tokio::test]
async fn messages_go_to_the_named_queue_ten_at_a_time_with_their_delay() {
    let seen = Seen::new();
    let rule = send_rule(&seen);
    let queues = sqs(&[&rule], RESULTS_QUEUE);
    let messages: Vec<OutgoingMessage> = (0..12).map(|i| outgoing(i, if i == 0 { 0 } else { 30 })).collect();

    let outcomes = queues.send(REQUESTS_QUEUE, &messages).await;

    assert_eq!(outcomes, vec![Ok(()); 12]);
    let mut calls = seen.all();
    calls.sort_by_key(|c| c.entries().len());
    assert_eq!(calls.iter().map(|c| c.entries().len()).collect::<Vec<_>>(), [2, 10]);
    for call in &calls {
        assert_eq!(call.queue_url(), Some(REQUESTS_QUEUE), "not the results queue");
    }
    let ten = &calls[1];
    assert_eq!(ids(ten), index_ids(10));
    assert_eq!(ten.entries()[0].message_body(), messages[0].body);
    assert_eq!(
        ten.entries()[0].delay_seconds(),
        None,
        "no delay: the member is left out"
    );
    assert_eq!(ten.entries()[1].delay_seconds(), Some(30));
    assert!(ten.entries().iter().all(|e| e.message_group_id().is_none()));
}

#[tokio::test]
async fn a_message_for_a_fifo_queue_carries_its_group_and_deduplication_ids() {
    let seen = Seen::new();
    let rule = send_rule(&seen);
    let queues = sqs(&[&rule], RESULTS_QUEUE);
    let message = OutgoingMessage {
        fifo: Some(FifoIds {
            group_id: "pp-1".into(),
            deduplication_id: "dedup-1".into(),
        }),
        ..outgoing(0, 0)
    };

    let outcomes = queues
        .send("https://sqs.us-east-1.amazonaws.com/1/q.fifo", &[message])
        .await;

    assert_eq!(outcomes, vec![Ok(())]);
    let calls = seen.all();
    let entry = &calls[0].entries()[0];
    assert_eq!(entry.message_group_id(), Some("pp-1"));
    assert_eq!(entry.message_deduplication_id(), Some("dedup-1"));
    assert_eq!(entry.delay_seconds(), None);
}

#[tokio::test]
async fn a_refused_message_fails_alone() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch).then_compute_output(|input| {
        let mut output = all_sent(input);
        output.successful.retain(|e| e.id != "1");
        output.failed = vec![BatchResultErrorEntry::builder()
            .id("1")
            .sender_fault(false)
            .code("InternalError")
            .build()
            .expect("valid entry")];
        output
    });
    let queues = sqs(&[&rule], RESULTS_QUEUE);

    let outcomes = queues.send(REQUESTS_QUEUE, &[outgoing(0, 0), outgoing(1, 0)]).await;

    assert_eq!(outcomes[0], Ok(()));
    assert_eq!(outcomes[1].as_ref().unwrap_err().disposition(), Disposition::Retry);
}

#[tokio::test]
async fn the_final_message_of_a_tracked_execution_gets_its_own_deduplication_id_in_the_same_group() {
    let seen = Seen::new();
    let rule = send_rule(&seen);
    let queues = sqs(&[&rule], RESULTS_FIFO_QUEUE);
    let first = result(0, Some("pp-00"));
    let last = first.clone().concluding();

    let outcomes = queues.publish(&[first, last]).await;

    assert_eq!(outcomes, vec![Ok(()); 2]);
    let entries: Vec<_> = seen.all()[0].entries().to_vec();
    assert_eq!(entries[0].message_deduplication_id(), Some("token-00"));
    assert_eq!(entries[1].message_deduplication_id(), Some("token-00-final"));
    assert_eq!(entries[0].message_group_id(), entries[1].message_group_id());
}

// ---------------------------------------------------------------------------------------------
// SearchProvisionedProducts and DescribeServiceActionExecutionParameters (fleet and dry runs)
// ---------------------------------------------------------------------------------------------

fn attribute(
    id: &str,
    status: ProvisionedProductStatus,
    kind: &str,
    tags: &[(&str, &str)],
) -> ProvisionedProductAttribute {
    ProvisionedProductAttribute::builder()
        .id(id)
        .name(format!("name-of-{id}"))
        .status(status)
        .r#type(kind)
        .product_id("prod-fleet0000001")
        .provisioning_artifact_id("pa-fleet00000001")
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| SdkTag::builder().key(*k).value(*v).build().expect("valid tag"))
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn search_lists_every_page_at_account_level_with_the_query_and_maps_each_attribute() {
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_servicecatalog::Client::search_provisioned_products)
        .match_requests(move |r| recorder.record(r))
        .then_compute_output(|input: &SearchProvisionedProductsInput| match input.page_token() {
            None => SearchProvisionedProductsOutput::builder()
                .provisioned_products(attribute(
                    "pp-1",
                    ProvisionedProductStatus::Available,
                    "CFN_STACK",
                    &[("env", "prod")],
                ))
                .next_page_token("next")
                .build(),
            Some(_) => SearchProvisionedProductsOutput::builder()
                .provisioned_products(attribute(
                    "pp-2",
                    ProvisionedProductStatus::Tainted,
                    "TERRAFORM_OPEN_SOURCE",
                    &[],
                ))
                .next_page_token("")
                .build(),
        });
    let sc = service_catalog(&[&rule]);

    let listed = sc
        .search_provisioned_products(Some("productId:prod-fleet0000001"), Some(AcceptLanguage::En))
        .await
        .expect("listed");

    let calls = seen.all();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        let filter = call.access_level_filter().expect("an access level filter");
        assert_eq!(filter.key(), Some(&AccessLevelFilterKey::Account));
        assert_eq!(filter.value(), Some("self"));
        assert_eq!(call.page_size(), Some(100));
        assert_eq!(call.accept_language(), Some("en"));
        let filters = call.filters().expect("filters");
        assert_eq!(
            filters.get(&ProvisionedProductViewFilterBy::SearchQuery),
            Some(&vec!["productId:prod-fleet0000001".to_owned()])
        );
    }
    assert_eq!(calls[1].page_token(), Some("next"));
    assert_eq!(
        listed,
        vec![
            Candidate {
                id: "pp-1".into(),
                status: "AVAILABLE".into(),
                product_type: "CFN_STACK".into(),
                product_id: "prod-fleet0000001".into(),
                provisioning_artifact_id: "pa-fleet00000001".into(),
                tags: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
            },
            Candidate {
                id: "pp-2".into(),
                status: "TAINTED".into(),
                product_type: "TERRAFORM_OPEN_SOURCE".into(),
                product_id: "prod-fleet0000001".into(),
                provisioning_artifact_id: "pa-fleet00000001".into(),
                tags: BTreeMap::new(),
            }
        ]
    );
}

#[tokio::test]
async fn search_without_a_query_sends_no_filter_and_its_errors_keep_their_disposition() {
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_servicecatalog::Client::search_provisioned_products)
        .match_requests(move |r| recorder.record(r))
        .then_output(|| SearchProvisionedProductsOutput::builder().build());
    let listed = service_catalog(&[&rule])
        .search_provisioned_products(None, None)
        .await
        .expect("listed");
    assert!(listed.is_empty());
    assert_eq!(seen.all()[0].filters(), None);

    for case in [
        ErrorCase::json(400, "ThrottlingException", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::json(400, "InvalidParametersException", Disposition::Reject, 1),
    ] {
        let rule = mock!(aws_sdk_servicecatalog::Client::search_provisioned_products)
            .then_http_response(move || case.response());
        let err = service_catalog(&[&rule])
            .search_provisioned_products(None, None)
            .await
            .expect_err("refused");
        case.check(&err, "SearchProvisionedProducts", rule.num_calls());
    }
}

#[tokio::test]
async fn action_parameters_are_asked_for_the_product_and_action_and_answered_by_name() {
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_servicecatalog::Client::describe_service_action_execution_parameters)
        .match_requests(move |r| recorder.record(r))
        .then_output(|| {
            DescribeServiceActionExecutionParametersOutput::builder()
                .service_action_parameters(
                    ExecutionParameter::builder()
                        .name("InstanceId")
                        .r#type("TARGET")
                        .build(),
                )
                .service_action_parameters(ExecutionParameter::builder().name("Mode").r#type("TEXT_VALUE").build())
                .build()
        });

    let names = service_catalog(&[&rule])
        .action_parameter_names("pp-1", "act-1", Some(AcceptLanguage::Jp))
        .await
        .expect("described");

    assert_eq!(names, ["InstanceId", "Mode"]);
    let call = &seen.all()[0];
    assert_eq!(
        (
            call.provisioned_product_id(),
            call.service_action_id(),
            call.accept_language()
        ),
        (Some("pp-1"), Some("act-1"), Some("jp"))
    );
}

// ---------------------------------------------------------------------------------------------
// GetResources (resourceArn requests)
// ---------------------------------------------------------------------------------------------

const INSTANCE: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60001";

fn tagging(rules: &[&Rule]) -> ServiceCatalogExecutor {
    let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, &[]);
    let tagging = mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, rules, |c| c
        .retry_config(fast_retries()));
    ServiceCatalogExecutor::new(sc).with_tagging(tagging)
}

fn mapping(arn: &str, tags: &[(&str, &str)]) -> ResourceTagMapping {
    ResourceTagMapping::builder()
        .resource_arn(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| TaggingTag::builder().key(*k).value(*v).build().expect("valid tag"))
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn get_resources_asks_for_the_one_arn_and_answers_its_owner_tag() {
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .match_requests(move |r| recorder.record(r))
        .then_output(|| {
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(mapping(
                    INSTANCE,
                    &[
                        ("Name", "web-prod-1"),
                        (
                            "aws:servicecatalog:provisionedProductArn",
                            "arn:aws:servicecatalog:us-east-1:123456789012:stack/web-prod/pp-webprod000001",
                        ),
                    ],
                ))
                .pagination_token("")
                .build()
        });

    let owner = tagging(&[&rule]).owner_tag(INSTANCE).await.expect("answered");

    assert_eq!(
        owner.as_deref(),
        Some("arn:aws:servicecatalog:us-east-1:123456789012:stack/web-prod/pp-webprod000001")
    );
    let call = &seen.all()[0];
    assert_eq!(call.resource_arn_list(), [INSTANCE]);
    assert_eq!(call.tag_filters(), []);
}

#[tokio::test]
async fn a_resource_unknown_or_without_the_tag_has_no_owner() {
    for output in [
        GetResourcesOutput::builder().build(),
        GetResourcesOutput::builder()
            .resource_tag_mapping_list(mapping(INSTANCE, &[("Name", "bastion")]))
            .build(),
        GetResourcesOutput::builder()
            .resource_tag_mapping_list(mapping(
                "arn:aws:ec2:us-east-1:123456789012:instance/i-other",
                &[(
                    "aws:servicecatalog:provisionedProductArn",
                    "arn:aws:servicecatalog:us-east-1:1:stack/x/pp-x",
                )],
            ))
            .build(),
    ] {
        let rule = mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_output(move || output.clone());
        assert_eq!(tagging(&[&rule]).owner_tag(INSTANCE).await.expect("answered"), None);
    }
}

#[tokio::test]
async fn tagging_api_errors_keep_their_own_codes_and_disposition() {
    for case in [
        ErrorCase::json(400, "ThrottledException", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::json(500, "InternalServiceException", Disposition::Retry, MAX_ATTEMPTS),
        ErrorCase::json(400, "InvalidParameterException", Disposition::Reject, 1),
        ErrorCase::json(400, "AccessDeniedException", Disposition::Reject, 1),
    ] {
        let rule =
            mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_http_response(move || case.response());
        let err = tagging(&[&rule]).owner_tag(INSTANCE).await.expect_err("refused");
        assert_eq!(err.code(), case.code());
        assert_eq!(err.disposition(), case.disposition, "{case:?}");
        assert_eq!(err.operation(), "GetResources");
    }
}

// ---------------------------------------------------------------------------------------------
// ChangeMessageVisibility (back-off) and pacing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_visibility_change_names_the_queue_the_receipt_and_the_seconds() {
    let seen = Seen::new();
    let recorder = seen.clone();
    let rule = mock!(aws_sdk_sqs::Client::change_message_visibility)
        .match_requests(move |r| recorder.record(r))
        .then_output(|| ChangeMessageVisibilityOutput::builder().build());
    let queues = sqs(&[&rule], RESULTS_QUEUE);

    queues
        .change_visibility(REQUESTS_QUEUE, "AQEB-handle", 37)
        .await
        .expect("changed");

    let call = &seen.all()[0];
    assert_eq!(call.queue_url(), Some(REQUESTS_QUEUE));
    assert_eq!(call.receipt_handle(), Some("AQEB-handle"));
    assert_eq!(call.visibility_timeout(), Some(37));
}

#[tokio::test]
async fn a_refused_visibility_change_is_an_error_the_caller_may_ignore() {
    let rule = mock!(aws_sdk_sqs::Client::change_message_visibility)
        .then_http_response(|| json_error(400, "ReceiptHandleIsInvalid", "The receipt handle has expired"));
    let err = sqs(&[&rule], RESULTS_QUEUE)
        .change_visibility(REQUESTS_QUEUE, "stale", 10)
        .await
        .expect_err("refused");
    assert_eq!(err.operation(), "ChangeMessageVisibility");
    assert_eq!(err.code(), "ReceiptHandleIsInvalid");
}

#[tokio::test(start_paused = true)]
async fn with_a_pace_every_service_catalog_call_waits_its_turn() {
    let rule =
        mock!(aws_sdk_servicecatalog::Client::execute_provisioned_product_service_action).then_output(created_output);
    let sc = service_catalog(&[&rule]).with_pace(Arc::new(Pace::per_second(2.0)));
    let parameters = BTreeMap::new();
    let started = tokio::time::Instant::now();

    let mut at = Vec::new();
    for _ in 0..5 {
        sc.execute(execution(&parameters)).await.expect("executed");
        at.push(started.elapsed().as_millis());
    }

    // A burst of two at once, then one every 500 ms.
    assert_eq!(at, [0, 0, 500, 1000, 1500]);
    assert_eq!(rule.num_calls(), 5);
}
