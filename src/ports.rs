//! The narrow ports the handler needs. `src/aws/` implements them with the AWS SDK; tests use small
//! in-memory fakes.

use std::collections::BTreeMap;
use std::future::Future;

use crate::error::CallError;
use crate::fleet::Candidate;
use crate::outcome::{RecordDetail, RecordOutput, ResultMessage};
use crate::request::{AcceptLanguage, ProductRef};

/// What the handler needs to know of a provisioned product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedProduct {
    pub id: String,
    pub product_id: String,
    pub provisioning_artifact_id: String,
    /// `AVAILABLE`, `UNDER_CHANGE`, … (a dry run reports it).
    pub status: String,
}

/// One ExecuteProvisionedProductServiceAction call.
#[derive(Clone, PartialEq, Eq)]
pub struct Execution<'a> {
    pub provisioned_product_id: &'a str,
    pub service_action_id: &'a str,
    pub execute_token: &'a str,
    /// Sent as is; an empty map is left out of the call (the API rejects `{}`).
    pub parameters: &'a BTreeMap<String, Vec<String>>,
    pub accept_language: Option<AcceptLanguage>,
}

impl std::fmt::Debug for Execution<'_> {
    /// Keys only: parameter values can carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("provisioned_product_id", &self.provisioned_product_id)
            .field("service_action_id", &self.service_action_id)
            .field("execute_token", &self.execute_token)
            .field("parameter_keys", &self.parameters.keys().collect::<Vec<_>>())
            .field("accept_language", &self.accept_language)
            .finish()
    }
}

/// DescribeRecord's answer: the record, and its outputs from every page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribedRecord {
    pub detail: RecordDetail,
    pub outputs: Vec<RecordOutput>,
}

/// A message for a queue of this function's own: a tracking message, or a fleet run's child request.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// `DelaySeconds` (0–900); standard queues only.
    pub delay_seconds: u32,
    /// `MessageGroupId` and `MessageDeduplicationId`, for a FIFO queue.
    pub fifo: Option<FifoIds>,
}

/// The two ids every message to a FIFO queue needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoIds {
    pub group_id: String,
    pub deduplication_id: String,
}

impl std::fmt::Debug for OutgoingMessage {
    /// The body is left out: a child request carries parameter values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("body_bytes", &self.body.len())
            .field("delay_seconds", &self.delay_seconds)
            .field("fifo", &self.fifo)
            .finish()
    }
}

/// Service Catalog, as far as running a self-service action goes.
pub trait ActionExecutor: Send + Sync {
    /// DescribeProvisionedProduct, by id or by name.
    fn describe_provisioned_product(
        &self,
        product: &ProductRef,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<ProvisionedProduct, CallError>> + Send;

    /// The id of the service action named exactly `name` among those associated with the artifact
    /// (ListServiceActionsForProvisioningArtifact, every page), or `None`.
    fn find_service_action_id(
        &self,
        product_id: &str,
        provisioning_artifact_id: &str,
        name: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<Option<String>, CallError>> + Send;

    /// ExecuteProvisionedProductServiceAction.
    fn execute(&self, execution: Execution<'_>) -> impl Future<Output = Result<RecordDetail, CallError>> + Send;

    /// DescribeRecord, with the record's outputs from every page.
    fn describe_record(
        &self,
        record_id: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<DescribedRecord, CallError>> + Send;

    /// SearchProvisionedProducts at account level, every page (`search_query` may narrow it).
    fn search_provisioned_products(
        &self,
        search_query: Option<&str>,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<Vec<Candidate>, CallError>> + Send;

    /// The names of the parameters an action defines for a provisioned product
    /// (DescribeServiceActionExecutionParameters).
    fn action_parameter_names(
        &self,
        provisioned_product_id: &str,
        service_action_id: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<Vec<String>, CallError>> + Send;
}

/// Which provisioned product owns a resource: the Resource Groups Tagging API.
pub trait ResourceOwners: Send + Sync {
    /// The value of the resource's `aws:servicecatalog:provisionedProductArn` tag; `None` when the
    /// resource is unknown or carries no such tag.
    fn owner_tag(&self, resource_arn: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
}

/// The results queue.
pub trait ResultPublisher: Send + Sync {
    /// Sends every result, and says for each one (same order) whether it was sent.
    fn publish(&self, results: &[ResultMessage]) -> impl Future<Output = Vec<Result<(), CallError>>> + Send;
}

/// The function's own queues: where tracking messages (and a fleet run's child requests) go.
pub trait MessageSender: Send + Sync {
    /// Sends every message to `queue_url`, and says for each one (same order) whether it was sent.
    fn send(
        &self,
        queue_url: &str,
        messages: &[OutgoingMessage],
    ) -> impl Future<Output = Vec<Result<(), CallError>>> + Send;
}

/// Where a handed-back message comes back: SQS ChangeMessageVisibility.
pub trait VisibilityChanger: Send + Sync {
    /// Makes the message invisible for `seconds` from now.
    fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        seconds: u32,
    ) -> impl Future<Output = Result<(), CallError>> + Send;
}

impl<T: VisibilityChanger> VisibilityChanger for std::sync::Arc<T> {
    fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        seconds: u32,
    ) -> impl Future<Output = Result<(), CallError>> + Send {
        (**self).change_visibility(queue_url, receipt_handle, seconds)
    }
}

/// A shared port is a port: lets callers keep a handle on what they lend the handler.
impl<T: ActionExecutor> ActionExecutor for std::sync::Arc<T> {
    fn describe_provisioned_product(
        &self,
        product: &ProductRef,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<ProvisionedProduct, CallError>> + Send {
        (**self).describe_provisioned_product(product, accept_language)
    }

    fn find_service_action_id(
        &self,
        product_id: &str,
        provisioning_artifact_id: &str,
        name: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<Option<String>, CallError>> + Send {
        (**self).find_service_action_id(product_id, provisioning_artifact_id, name, accept_language)
    }

    fn execute(&self, execution: Execution<'_>) -> impl Future<Output = Result<RecordDetail, CallError>> + Send {
        (**self).execute(execution)
    }

    fn describe_record(
        &self,
        record_id: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<DescribedRecord, CallError>> + Send {
        (**self).describe_record(record_id, accept_language)
    }

    fn search_provisioned_products(
        &self,
        search_query: Option<&str>,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<Vec<Candidate>, CallError>> + Send {
        (**self).search_provisioned_products(search_query, accept_language)
    }

    fn action_parameter_names(
        &self,
        provisioned_product_id: &str,
        service_action_id: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> impl Future<Output = Result<Vec<String>, CallError>> + Send {
        (**self).action_parameter_names(provisioned_product_id, service_action_id, accept_language)
    }
}

impl<T: ResourceOwners> ResourceOwners for std::sync::Arc<T> {
    fn owner_tag(&self, resource_arn: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send {
        (**self).owner_tag(resource_arn)
    }
}

impl<T: ResultPublisher> ResultPublisher for std::sync::Arc<T> {
    fn publish(&self, results: &[ResultMessage]) -> impl Future<Output = Vec<Result<(), CallError>>> + Send {
        (**self).publish(results)
    }
}

impl<T: MessageSender> MessageSender for std::sync::Arc<T> {
    fn send(
        &self,
        queue_url: &str,
        messages: &[OutgoingMessage],
    ) -> impl Future<Output = Vec<Result<(), CallError>>> + Send {
        (**self).send(queue_url, messages)
    }
}
