//! Fleets through the real SDK: `SearchProvisionedProducts` over the seeded fleet (filters,
//! pages, the counts the README documents), `DescribeServiceActionExecutionParameters`, and a
//! generated fleet.

mod common;

use std::collections::BTreeMap;

use aws_sdk_servicecatalog::types::{
    AccessLevelFilter, AccessLevelFilterKey, ProvisionedProductAttribute, ProvisionedProductViewFilterBy,
};
use common::*;
use sc_emulator::{start_local, EmulatorConfig, EmulatorHandle, Seed, PATCH_OS_ACTION_ID};

const PATCH_OS: &str = PATCH_OS_ACTION_ID;

async fn emulator(seed: Seed) -> EmulatorHandle {
    start_local(EmulatorConfig {
        seed,
        progress_ms: 0,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

fn account_self() -> AccessLevelFilter {
    AccessLevelFilter::builder()
        .key(AccessLevelFilterKey::Account)
        .value("self")
        .build()
}

/// Every page, as the fleet feature lists candidates.
async fn search_all(sc: &aws_sdk_servicecatalog::Client, query: Option<&str>) -> Vec<ProvisionedProductAttribute> {
    let mut request = sc
        .search_provisioned_products()
        .access_level_filter(account_self())
        .page_size(100);
    if let Some(q) = query {
        request = request.filters(ProvisionedProductViewFilterBy::SearchQuery, vec![q.to_owned()]);
    }
    let pages = request
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("all pages");
    pages
        .iter()
        .flat_map(|p| p.provisioned_products().iter().cloned())
        .collect()
}

fn tag<'a>(p: &'a ProvisionedProductAttribute, key: &str) -> Option<&'a str> {
    p.tags().iter().find(|t| t.key() == key).map(|t| t.value())
}

fn eligible(p: &ProvisionedProductAttribute) -> bool {
    p.status().map(|s| s.as_str()) == Some("AVAILABLE") && matches!(p.r#type(), Some("CFN_STACK" | "CFN_STACKSET"))
}

#[tokio::test]
async fn seeded_fleet_lists_in_pages_with_the_documented_composition() {
    // GIVEN the default seed
    let emu = emulator(Seed::default_seed()).await;
    let sc = client(&emu.url(), 1).await;

    // WHEN every page is listed, 100 at a time
    let all = search_all(&sc, None).await;

    // THEN 304 products in id order, over four pages, with the README's counts
    assert_eq!(all.len(), 304);
    assert_eq!(emu.calls_for("SearchProvisionedProducts"), 4);
    let ids: Vec<_> = all.iter().filter_map(|p| p.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let count = |f: &dyn Fn(&ProvisionedProductAttribute) -> bool| all.iter().filter(|p| f(p)).count();
    let fleet = |p: &ProvisionedProductAttribute| p.product_id() == Some("prod-fleet0000001");
    assert_eq!(count(&fleet), 300);
    assert_eq!(count(&|p| tag(p, "env") == Some("prod")), 102);
    assert_eq!(count(&|p| fleet(p) && tag(p, "env") == Some("prod")), 100);
    assert_eq!(count(&|p| fleet(p) && tag(p, "env") == Some("prod") && eligible(p)), 75);
    assert_eq!(count(&|p| tag(p, "env") == Some("prod") && eligible(p)), 76);
    let prod = |p: &ProvisionedProductAttribute| tag(p, "env") == Some("prod");
    let available = |p: &ProvisionedProductAttribute| p.status().map(|s| s.as_str()) == Some("AVAILABLE");
    assert_eq!(
        count(&|p| prod(p) && !available(p)),
        15,
        "skipped for status (db-migrating included)"
    );
    assert_eq!(
        count(&|p| prod(p) && available(p) && !eligible(p)),
        11,
        "skipped for type"
    );
    assert_eq!(
        count(&|p| fleet(p) && tag(p, "env") == Some("prod") && tag(p, "team") == Some("payments") && eligible(p)),
        19
    );
    assert_eq!(count(&|p| fleet(p) && eligible(p)), 225);
    assert_eq!(count(&|p| p.r#type() == Some("TERRAFORM_OPEN_SOURCE")), 30);
    assert_eq!(count(&|p| p.r#type() == Some("CFN_STACKSET")), 30);
    assert_eq!(count(&|p| p.r#type() == Some("EXTERNAL")), 6);
    let statuses = all.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p.status().map(|s| s.as_str().to_owned()).unwrap_or_default())
            .or_insert(0) += 1;
        m
    });
    assert_eq!(
        statuses,
        BTreeMap::from([
            ("AVAILABLE".to_owned(), 261),
            ("ERROR".to_owned(), 15),
            ("TAINTED".to_owned(), 15),
            ("UNDER_CHANGE".to_owned(), 13),
        ])
    );
    let first = &all[0];
    assert_eq!(first.id(), Some("pp-fleet00000001"));
    assert_eq!(first.name(), Some("fleet-001"));
    assert_eq!(
        first.arn(),
        Some("arn:aws:servicecatalog:us-east-1:123456789012:stack/fleet-001/pp-fleet00000001")
    );
    assert_eq!(first.provisioning_artifact_id(), Some("pa-fleet00000001"));
    assert_eq!(first.product_name(), Some("Linux server fleet"));
    assert!(first.created_time().is_some() && first.last_record_id().is_some());
}

#[tokio::test]
async fn search_query_narrows_the_listing_and_the_total_counts_every_match() {
    let emu = emulator(Seed::default_seed()).await;
    let sc = client(&emu.url(), 1).await;

    let stacksets = search_all(&sc, Some("productId:prod-fleet0000001 type:CFN_STACKSET")).await;
    assert_eq!(stacksets.len(), 30);

    let first = sc
        .search_provisioned_products()
        .filters(
            ProvisionedProductViewFilterBy::SearchQuery,
            vec!["status:TAINTED".to_owned()],
        )
        .page_size(10)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first.provisioned_products().len(), 10);
    assert_eq!(first.total_results_count(), 15);
    let token = first.next_page_token().expect("a second page");
    let second = sc
        .search_provisioned_products()
        .filters(
            ProvisionedProductViewFilterBy::SearchQuery,
            vec!["status:TAINTED".to_owned()],
        )
        .page_size(10)
        .page_token(token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.provisioned_products().len(), 5);
    assert!(second.next_page_token().is_none());

    let err = sc
        .search_provisioned_products()
        .page_size(101)
        .send()
        .await
        .expect_err("page too large");
    assert!(err.into_service_error().is_invalid_parameters_exception());
    let err = sc
        .search_provisioned_products()
        .page_token("emu-page-nope")
        .send()
        .await
        .expect_err("foreign token");
    assert!(err.into_service_error().is_invalid_parameters_exception());
}

#[tokio::test]
async fn action_parameters_are_described_for_an_associated_action_only() {
    let emu = emulator(Seed::default_seed()).await;
    let sc = client(&emu.url(), 1).await;

    let out = sc
        .describe_service_action_execution_parameters()
        .provisioned_product_id("pp-fleet00000001")
        .service_action_id(PATCH_OS)
        .send()
        .await
        .expect("described");
    let params = out.service_action_parameters();
    let names: Vec<_> = params.iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, ["InstanceId", "Operation", "RebootOption"]);
    assert_eq!(params[0].r#type(), Some("TARGET"));
    assert_eq!(params[1].default_values(), ["Install"]);

    let err = sc
        .describe_service_action_execution_parameters()
        .provisioned_product_id(PP)
        .service_action_id(PATCH_OS)
        .send()
        .await
        .expect_err("not associated with web-prod's artifact");
    assert!(err.into_service_error().is_invalid_parameters_exception());
    let err = sc
        .describe_service_action_execution_parameters()
        .provisioned_product_id("pp-doesnotexist1")
        .service_action_id(PATCH_OS)
        .send()
        .await
        .expect_err("unknown product");
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn generated_fleet_is_selectable_by_its_tags_and_patchable() {
    // GIVEN 250 generated products on top of the seed
    let emu = emulator(Seed::default_seed().with_generated_fleet(250, [("fleet", "bench")])).await;
    let sc = client(&emu.url(), 1).await;

    // WHEN listed
    let all = search_all(&sc, None).await;

    // THEN exactly 250 carry the tag, all AVAILABLE CFN_STACK, and PatchOS runs on them
    let generated: Vec<_> = all.iter().filter(|p| tag(p, "fleet") == Some("bench")).collect();
    assert_eq!(generated.len(), 250);
    assert!(generated.iter().all(|p| eligible(p)));
    assert_eq!(generated[0].id(), Some("pp-bench00000001"));
    sc.execute_provisioned_product_service_action()
        .provisioned_product_id("pp-bench00000250")
        .service_action_id(PATCH_OS)
        .execute_token("bench-250")
        .send()
        .await
        .expect("PatchOS runs on a generated product");
}
