//! The Resource Groups Tagging API's `GetResources` through the real
//! `aws-sdk-resourcegroupstagging` client, on the same port as Service Catalog: the seeded
//! resources, its own error codes, and faults and counters that work for it too.

mod common;

use aws_sdk_resourcegroupstagging::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use common::*;
use sc_emulator::{start_local, EmulatorConfig, EmulatorHandle, Fault};

const PP_ARN_TAG: &str = "aws:servicecatalog:provisionedProductArn";
const WEB_PROD_1: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60001";
const WEB_STAGING_1: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0b1b2c3d4e5f60001";
const BASTION: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0c1b2c3d4e5f60001";
const OTHER_ACCOUNT: &str = "arn:aws:ec2:us-east-1:210987654321:instance/i-0d1b2c3d4e5f60001";
const OTHER_REGION: &str = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0e1b2c3d4e5f60001";
const RETIRED: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0f1b2c3d4e5f60001";
const GET_RESOURCES: &str = "GetResources";

async fn emulator() -> EmulatorHandle {
    start_local(EmulatorConfig::default()).await.expect("emulator starts")
}

/// The provisioned product ARN a resource is tagged with, `None` if it is absent or untagged.
async fn owner(tagging: &aws_sdk_resourcegroupstagging::Client, arn: &str) -> Option<String> {
    let out = tagging
        .get_resources()
        .resource_arn_list(arn)
        .send()
        .await
        .expect("get resources");
    assert_eq!(out.pagination_token(), Some(""), "one page for an ARN list");
    let mapping = out.resource_tag_mapping_list().first()?;
    assert_eq!(mapping.resource_arn(), Some(arn));
    mapping
        .tags()
        .iter()
        .find(|t| t.key() == PP_ARN_TAG)
        .map(|t| t.value().to_owned())
}

#[tokio::test]
async fn each_seeded_resource_names_its_provisioned_product_or_not() {
    let emu = emulator().await;
    let tagging = tagging_client(&emu.url(), 1).await;
    let stack = |rest: &str| format!("arn:aws:servicecatalog:{rest}");

    assert_eq!(
        owner(&tagging, WEB_PROD_1).await,
        Some(stack("us-east-1:123456789012:stack/web-prod/pp-webprod000001"))
    );
    assert_eq!(
        owner(&tagging, WEB_STAGING_1).await,
        Some(stack("us-east-1:123456789012:stack/web-staging/pp-webstag000001"))
    );
    assert_eq!(owner(&tagging, BASTION).await, None, "present, without the tag");
    assert_eq!(
        owner(&tagging, OTHER_ACCOUNT).await,
        Some(stack("us-east-1:210987654321:stack/shared-web/pp-sharedweb0001"))
    );
    assert_eq!(
        owner(&tagging, OTHER_REGION).await,
        Some(stack("eu-west-1:123456789012:stack/web-eu/pp-webeu00000001"))
    );
    assert_eq!(
        owner(&tagging, RETIRED).await,
        Some(stack("us-east-1:123456789012:stack/web-retired/pp-retired000001"))
    );
    let unknown = tagging
        .get_resources()
        .resource_arn_list("arn:aws:ec2:us-east-1:123456789012:instance/i-00000000000000000")
        .send()
        .await
        .expect("an unknown ARN is no error");
    assert!(unknown.resource_tag_mapping_list().is_empty());
    assert_eq!(emu.calls_for(GET_RESOURCES), 7);
}

#[tokio::test]
async fn tag_filters_page_until_the_token_is_empty() {
    let emu = emulator().await;
    let tagging = tagging_client(&emu.url(), 1).await;
    let pages = tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key(PP_ARN_TAG).build())
        .resources_per_page(4)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("all pages");
    let sizes: Vec<_> = pages.iter().map(|p| p.resource_tag_mapping_list().len()).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(pages.last().and_then(|p| p.pagination_token()), Some(""));
}

#[tokio::test]
async fn invalid_input_is_the_tagging_apis_invalid_parameter_exception() {
    let emu = emulator().await;
    let tagging = tagging_client(&emu.url(), 1).await;
    let err = tagging
        .get_resources()
        .resource_arn_list(WEB_PROD_1)
        .tag_filters(TagFilter::builder().key("env").build())
        .send()
        .await
        .expect_err("ARN list with tag filters");
    let err = err.into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert!(err.message().is_some_and(|m| m.contains("TagFilters")));
    let too_long = "x".repeat(1012);
    let err = tagging
        .get_resources()
        .resource_arn_list(too_long)
        .send()
        .await
        .expect_err("ARN too long");
    assert!(err.into_service_error().is_invalid_parameter_exception());
}

#[tokio::test]
async fn faults_use_the_tagging_apis_own_codes_and_are_counted() {
    // GIVEN one throttle, one 500 and one drop on GetResources
    let emu = emulator().await;
    emu.inject(Fault::throttle(GET_RESOURCES, 1));
    emu.inject(Fault::error500(GET_RESOURCES, 1));
    emu.inject(Fault::drop_connection(GET_RESOURCES, 1));
    let once = tagging_client(&emu.url(), 1).await;
    let call = || once.get_resources().resource_arn_list(WEB_PROD_1).send();

    // THEN the SDK sees ThrottledException, InternalServiceException, then an I/O error
    let throttled = call().await.expect_err("throttled").into_service_error();
    assert!(throttled.is_throttled_exception(), "{throttled:?}");
    let failed = call().await.expect_err("500");
    assert_eq!(failed.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert!(failed.into_service_error().is_internal_service_exception());
    assert!(matches!(
        call().await.expect_err("dropped"),
        SdkError::DispatchFailure(_)
    ));

    // AND a retrying client rides over a throttle, and over the rate limit
    emu.inject(Fault::throttle(GET_RESOURCES, 2));
    emu.set_rate_limit(GET_RESOURCES, 50.0);
    let retrying = tagging_client(&emu.url(), 3).await;
    retrying
        .get_resources()
        .resource_arn_list(WEB_PROD_1)
        .send()
        .await
        .expect("third attempt succeeds");
    let counters = emu.counters();
    assert_eq!(counters.calls.get(GET_RESOURCES), Some(&6));
    assert_eq!(
        (
            counters.faults_fired.throttle,
            counters.faults_fired.error500,
            counters.faults_fired.drop
        ),
        (3, 1, 1)
    );
    assert_eq!(emu.call_times(GET_RESOURCES).len(), 6);

    // AND GetResources is not a Service Catalog operation
    let wrong_api = aws(emu.addr(), GET_RESOURCES, "{}").await;
    assert_eq!(wrong_api.json()["__type"], "UnknownOperationException");
}
