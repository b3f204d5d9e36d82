//! [`ActionExecutor`] on AWS Service Catalog.

use aws_sdk_servicecatalog::primitives::{DateTime, DateTimeFormat};
use aws_sdk_servicecatalog::types;
use aws_sdk_servicecatalog::Client;

use std::sync::Arc;

use super::call_error;
use crate::error::CallError;
use crate::fleet::Candidate;
use crate::outcome::{RecordDetail, RecordErrorDetail, RecordOutput, RecordTag};
use crate::pace::Pace;
use crate::ports::{ActionExecutor, DescribedRecord, Execution, ProvisionedProduct, ResourceOwners};
use crate::request::{AcceptLanguage, ProductRef};

const DESCRIBE: &str = "DescribeProvisionedProduct";
const LIST_ACTIONS: &str = "ListServiceActionsForProvisioningArtifact";
const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
const DESCRIBE_RECORD: &str = "DescribeRecord";
const SEARCH: &str = "SearchProvisionedProducts";
const PARAMETERS: &str = "DescribeServiceActionExecutionParameters";

/// The largest page SearchProvisionedProducts returns.
const SEARCH_PAGE_SIZE: i32 = 100;
/// SearchProvisionedProducts pages read at most (100,000 products). A listing cut short would plan
/// a fleet run on part of the fleet, so more is an error, not a shorter list.
const MAX_SEARCH_PAGES: usize = 1000;

/// The largest page ListServiceActionsForProvisioningArtifact and DescribeRecord return.
const PAGE_SIZE: i32 = 20;
/// ListServiceActionsForProvisioningArtifact pages read at most (2,000 actions).
const MAX_ACTION_PAGES: usize = 100;
/// DescribeRecord pages read at most (2,000 outputs).
const MAX_RECORD_PAGES: usize = 100;

/// Service Catalog through the AWS SDK, with the Resource Groups Tagging API for finding the
/// product that owns a resource. The clients are built once at init and cloned cheaply.
#[derive(Clone, Debug)]
pub struct ServiceCatalogExecutor {
    client: Client,
    tagging: Option<aws_sdk_resourcegroupstagging::Client>,
    pace: Option<Arc<Pace>>,
}

impl ServiceCatalogExecutor {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            tagging: None,
            pace: None,
        }
    }

    /// The same executor, every Service Catalog call (each page too) waiting its turn in `pace`.
    pub fn with_pace(mut self, pace: Arc<Pace>) -> Self {
        self.pace = Some(pace);
        self
    }

    /// Waits until the next Service Catalog call may go out.
    async fn paced(&self) {
        if let Some(pace) = &self.pace {
            pace.acquire().await;
        }
    }

    /// The same executor, able to answer `resourceArn` requests through `tagging`.
    pub fn with_tagging(mut self, tagging: aws_sdk_resourcegroupstagging::Client) -> Self {
        self.tagging = Some(tagging);
        self
    }

    async fn search_page(
        &self,
        search_query: Option<&str>,
        accept_language: Option<AcceptLanguage>,
        page_token: Option<String>,
    ) -> Result<
        aws_sdk_servicecatalog::operation::search_provisioned_products::SearchProvisionedProductsOutput,
        CallError,
    > {
        let account = types::AccessLevelFilter::builder()
            .key(types::AccessLevelFilterKey::Account)
            .value("self")
            .build();
        let filters = search_query.map(|q| {
            std::collections::HashMap::from([(types::ProvisionedProductViewFilterBy::SearchQuery, vec![q.to_owned()])])
        });
        self.client
            .search_provisioned_products()
            .access_level_filter(account)
            .set_filters(filters)
            .page_size(SEARCH_PAGE_SIZE)
            .set_page_token(page_token)
            .set_accept_language(accept_language.map(lang))
            .send()
            .await
            .map_err(|e| call_error(SEARCH, e))
    }
}

impl ActionExecutor for ServiceCatalogExecutor {
    async fn describe_provisioned_product(
        &self,
        product: &ProductRef,
        accept_language: Option<AcceptLanguage>,
    ) -> Result<ProvisionedProduct, CallError> {
        let request = self
            .client
            .describe_provisioned_product()
            .set_accept_language(accept_language.map(lang));
        let request = match product {
            ProductRef::Id(id) => request.id(id),
            ProductRef::Name(name) => request.name(name),
        };
        self.paced().await;
        let output = request.send().await.map_err(|e| call_error(DESCRIBE, e))?;
        let detail = output
            .provisioned_product_detail()
            .ok_or_else(|| CallError::transport(DESCRIBE, "the response has no ProvisionedProductDetail"))?;
        let field = |value: Option<&str>, name: &str| {
            value
                .map(str::to_owned)
                .ok_or_else(|| CallError::transport(DESCRIBE, format!("the ProvisionedProductDetail has no {name}")))
        };
        Ok(ProvisionedProduct {
            id: field(detail.id(), "Id")?,
            product_id: field(detail.product_id(), "ProductId")?,
            provisioning_artifact_id: field(detail.provisioning_artifact_id(), "ProvisioningArtifactId")?,
            status: detail.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        })
    }

    async fn find_service_action_id(
        &self,
        product_id: &str,
        provisioning_artifact_id: &str,
        name: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> Result<Option<String>, CallError> {
        let mut page_token: Option<String> = None;
        // Pages of 20; a token that never ends is a broken endpoint.
        for _ in 0..MAX_ACTION_PAGES {
            self.paced().await;
            let page = self
                .client
                .list_service_actions_for_provisioning_artifact()
                .product_id(product_id)
                .provisioning_artifact_id(provisioning_artifact_id)
                .set_accept_language(accept_language.map(lang))
                .page_size(PAGE_SIZE)
                .set_page_token(page_token.take())
                .send()
                .await
                .map_err(|e| call_error(LIST_ACTIONS, e))?;
            if let Some(found) = page.service_action_summaries().iter().find(|s| s.name() == Some(name)) {
                return Ok(found.id().map(str::to_owned));
            }
            let Some(next) = next_page(page.next_page_token()) else {
                break;
            };
            page_token = Some(next);
        }
        Ok(None)
    }

    async fn execute(&self, execution: Execution<'_>) -> Result<RecordDetail, CallError> {
        let parameters = (!execution.parameters.is_empty()).then(|| execution.parameters.clone().into_iter().collect());
        self.paced().await;
        let output = self
            .client
            .execute_provisioned_product_service_action()
            .provisioned_product_id(execution.provisioned_product_id)
            .service_action_id(execution.service_action_id)
            .execute_token(execution.execute_token)
            .set_parameters(parameters)
            .set_accept_language(execution.accept_language.map(lang))
            .send()
            .await
            .map_err(|e| call_error(EXECUTE, e))?;
        let detail = output
            .record_detail()
            .ok_or_else(|| CallError::transport(EXECUTE, "the response has no RecordDetail"))?;
        Ok(record_detail(detail))
    }

    async fn describe_record(
        &self,
        record_id: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> Result<DescribedRecord, CallError> {
        let mut described = DescribedRecord::default();
        let mut page_token: Option<String> = None;
        // Outputs come 20 to a page; a token that never ends is a broken endpoint, not a record.
        for _ in 0..MAX_RECORD_PAGES {
            self.paced().await;
            let page = self
                .client
                .describe_record()
                .id(record_id)
                .set_accept_language(accept_language.map(lang))
                .page_size(PAGE_SIZE)
                .set_page_token(page_token.take())
                .send()
                .await
                .map_err(|e| call_error(DESCRIBE_RECORD, e))?;
            if described.detail.record_id.is_none() {
                if let Some(detail) = page.record_detail() {
                    described.detail = record_detail(detail);
                }
            }
            described
                .outputs
                .extend(page.record_outputs().iter().map(|o| RecordOutput {
                    output_key: o.output_key().map(str::to_owned),
                    output_value: o.output_value().map(str::to_owned),
                    description: o.description().map(str::to_owned),
                }));
            let Some(next) = next_page(page.next_page_token()) else {
                break;
            };
            page_token = Some(next);
        }
        match described.detail.record_id {
            Some(_) => Ok(described),
            None => Err(CallError::transport(
                DESCRIBE_RECORD,
                "the response has no RecordDetail",
            )),
        }
    }

    async fn search_provisioned_products(
        &self,
        search_query: Option<&str>,
        accept_language: Option<AcceptLanguage>,
    ) -> Result<Vec<Candidate>, CallError> {
        let mut listed = Vec::new();
        let mut page_token = None;
        for _ in 0..MAX_SEARCH_PAGES {
            self.paced().await;
            let page = self.search_page(search_query, accept_language, page_token).await?;
            listed.extend(page.provisioned_products().iter().map(candidate));
            let Some(next) = next_page(page.next_page_token()) else {
                return Ok(listed);
            };
            page_token = Some(next);
        }
        Err(CallError::service(
            SEARCH,
            "TooManyProvisionedProducts",
            None,
            format!(
                "more than {} provisioned products to list",
                MAX_SEARCH_PAGES * SEARCH_PAGE_SIZE as usize
            ),
        ))
    }

    async fn action_parameter_names(
        &self,
        provisioned_product_id: &str,
        service_action_id: &str,
        accept_language: Option<AcceptLanguage>,
    ) -> Result<Vec<String>, CallError> {
        self.paced().await;
        let output = self
            .client
            .describe_service_action_execution_parameters()
            .provisioned_product_id(provisioned_product_id)
            .service_action_id(service_action_id)
            .set_accept_language(accept_language.map(lang))
            .send()
            .await
            .map_err(|e| call_error(PARAMETERS, e))?;
        Ok(output
            .service_action_parameters()
            .iter()
            .filter_map(|p| p.name().map(str::to_owned))
            .collect())
    }
}

impl ResourceOwners for ServiceCatalogExecutor {
    async fn owner_tag(&self, resource_arn: &str) -> Result<Option<String>, CallError> {
        match &self.tagging {
            Some(tagging) => super::tagging::owner_tag(tagging, resource_arn).await,
            None => Err(CallError::transport(
                "GetResources",
                "no Tagging API client was configured",
            )),
        }
    }
}

/// A SearchProvisionedProducts attribute as a fleet candidate.
fn candidate(p: &types::ProvisionedProductAttribute) -> Candidate {
    let s = |v: Option<&str>| v.unwrap_or_default().to_owned();
    Candidate {
        id: s(p.id()),
        status: p.status().map(|st| st.as_str().to_owned()).unwrap_or_default(),
        product_type: s(p.r#type()),
        product_id: s(p.product_id()),
        provisioning_artifact_id: s(p.provisioning_artifact_id()),
        tags: p
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    }
}
/// The token of the next page, from a page's `NextPageToken`: `None` on the last page (an empty
/// token ends a listing too).
fn next_page(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_owned)
}

fn lang(l: AcceptLanguage) -> String {
    l.as_str().to_owned()
}

fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

/// The SDK's RecordDetail as our serde type, with the API's member names.
pub fn record_detail(d: &types::RecordDetail) -> RecordDetail {
    let s = |v: Option<&str>| v.map(str::to_owned);
    RecordDetail {
        record_id: s(d.record_id()),
        provisioned_product_name: s(d.provisioned_product_name()),
        status: d.status().map(|st| st.as_str().to_owned()),
        created_time: time(d.created_time()),
        updated_time: time(d.updated_time()),
        provisioned_product_type: s(d.provisioned_product_type()),
        record_type: s(d.record_type()),
        provisioned_product_id: s(d.provisioned_product_id()),
        product_id: s(d.product_id()),
        provisioning_artifact_id: s(d.provisioning_artifact_id()),
        path_id: s(d.path_id()),
        record_errors: d
            .record_errors()
            .iter()
            .map(|e| RecordErrorDetail {
                code: s(e.code()),
                description: s(e.description()),
            })
            .collect(),
        record_tags: d
            .record_tags()
            .iter()
            .map(|t| RecordTag {
                key: s(t.key()),
                value: s(t.value()),
            })
            .collect(),
        launch_role_arn: s(d.launch_role_arn()),
    }
}
