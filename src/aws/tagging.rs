//! The Resource Groups Tagging API: which provisioned product owns a resource.

use aws_sdk_resourcegroupstagging::Client;

use super::call_error;
use crate::error::CallError;
use crate::resource::OWNER_TAG;

const GET_RESOURCES: &str = "GetResources";

/// GetResources for one ARN: the value of its `aws:servicecatalog:provisionedProductArn` tag, or
/// `None` when the resource is unknown to the API or has no such tag.
pub(crate) async fn owner_tag(client: &Client, resource_arn: &str) -> Result<Option<String>, CallError> {
    let output = client
        .get_resources()
        .resource_arn_list(resource_arn)
        .send()
        .await
        .map_err(|e| call_error(GET_RESOURCES, e))?;
    let tag = output
        .resource_tag_mapping_list()
        .iter()
        .filter(|mapping| mapping.resource_arn() == Some(resource_arn))
        .flat_map(|mapping| mapping.tags())
        .find(|tag| tag.key() == OWNER_TAG)
        .map(|tag| tag.value().to_owned());
    Ok(tag)
}
