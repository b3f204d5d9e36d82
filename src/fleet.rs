//! Fleet runs: a request that selects many provisioned products (`select`) instead of naming one.
//! The function lists the candidates (SearchProvisionedProducts), keeps those that match and may
//! run the action, and sends one child request per target to the requests queue; each child then
//! runs through the normal path with its own token.
//!
//! This module is the pure part: the selection and its validation, the filter with its skip
//! counts, the children's bodies, and the `fleet` block of the parent's result.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::request::{is_valid_id, type_name, ActionRef, RequestError};

/// `maxTargets` bounds.
pub(crate) const MAX_TARGETS: u32 = 10_000;
const DEFAULT_MAX_TARGETS: u32 = 100;
/// How many target ids the parent's result lists.
pub(crate) const LISTED_TARGETS: usize = 100;

/// Tag key and value lengths the API allows.
const MAX_TAG_KEY_LEN: usize = 128;
const MAX_TAG_VALUE_LEN: usize = 256;

/// The statuses a provisioned product can have, and the types.
const STATUSES: [&str; 5] = ["AVAILABLE", "UNDER_CHANGE", "TAINTED", "ERROR", "PLAN_IN_PROGRESS"];
const TYPES: [&str; 5] = [
    "CFN_STACK",
    "CFN_STACKSET",
    "TERRAFORM_OPEN_SOURCE",
    "TERRAFORM_CLOUD",
    "EXTERNAL",
];
/// Self-service actions run on CloudFormation products only.
const DEFAULT_TYPES: [&str; 2] = ["CFN_STACK", "CFN_STACKSET"];

/// Which provisioned products a fleet request selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// A product matches when it carries every one of these tags (exact, case-sensitive).
    pub tags: BTreeMap<String, String>,
    pub product_id: Option<String>,
    pub provisioning_artifact_id: Option<String>,
    /// Allowed statuses (default AVAILABLE).
    pub statuses: BTreeSet<String>,
    /// Allowed types (default CFN_STACK, CFN_STACKSET).
    pub types: BTreeSet<String>,
    /// More targets than this rejects the run (TooManyTargets).
    pub max_targets: u32,
}

impl Selection {
    /// The form that goes into the ExecuteToken derivation: `select:` and the selection as
    /// canonical JSON (sorted keys, defaults filled in), which holds no line feed.
    pub fn token_label(&self) -> String {
        format!("select:{}", serde_json::to_string(self).unwrap_or_default())
    }

    /// A SearchQuery that narrows the listing on the server; the filter decides in any case.
    pub fn search_query(&self) -> Option<String> {
        match (&self.product_id, &self.provisioning_artifact_id) {
            (Some(product), _) => Some(format!("productId:{product}")),
            (None, Some(artifact)) => Some(format!("provisioningArtifactId:{artifact}")),
            (None, None) => None,
        }
    }
}

fn bad(field: &str, message: impl Into<String>) -> RequestError {
    RequestError::new(field, message)
}

/// Parses and validates `select`; every message names the field at fault.
pub fn parse_selection(value: &Value) -> Result<Selection, RequestError> {
    const KNOWN: [&str; 6] = [
        "tags",
        "productId",
        "provisioningArtifactId",
        "statuses",
        "types",
        "maxTargets",
    ];
    let Value::Object(obj) = value else {
        return Err(bad(
            "select",
            format!("`select` must be an object, got {}", type_name(value)),
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(
            "select",
            format!(
                "`select` has an unknown member {:?}; it takes {}",
                unknown.chars().take(40).collect::<String>(),
                KNOWN.join(", ")
            ),
        ));
    }
    let selection = Selection {
        tags: tags(obj.get("tags"))?,
        product_id: id_member(obj, "productId")?,
        provisioning_artifact_id: id_member(obj, "provisioningArtifactId")?,
        statuses: one_of_each(obj.get("statuses"), "select.statuses", &STATUSES, &["AVAILABLE"])?,
        types: one_of_each(obj.get("types"), "select.types", &TYPES, &DEFAULT_TYPES)?,
        max_targets: max_targets(obj.get("maxTargets"))?,
    };
    if selection.tags.is_empty() && selection.product_id.is_none() && selection.provisioning_artifact_id.is_none() {
        return Err(bad(
            "select",
            "`select` must name at least one of `tags`, `productId` or `provisioningArtifactId`: nothing runs on \"all\"",
        ));
    }
    Ok(selection)
}

fn tags(value: Option<&Value>) -> Result<BTreeMap<String, String>, RequestError> {
    const FIELD: &str = "select.tags";
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(map) = value else {
        return Err(bad(
            FIELD,
            format!(
                "`{FIELD}` must be an object of tag key → value, got {}",
                type_name(value)
            ),
        ));
    };
    let mut tags = BTreeMap::new();
    for (key, value) in map {
        if !(1..=MAX_TAG_KEY_LEN).contains(&key.chars().count()) {
            return Err(bad(
                FIELD,
                format!(
                    "a tag key in `{FIELD}` must be 1-{MAX_TAG_KEY_LEN} characters, got {}",
                    key.chars().count()
                ),
            ));
        }
        let Value::String(value) = value else {
            return Err(bad(
                FIELD,
                format!(
                    "the value of tag {key:?} in `{FIELD}` must be a string, got {}",
                    type_name(value)
                ),
            ));
        };
        if !(1..=MAX_TAG_VALUE_LEN).contains(&value.chars().count()) {
            return Err(bad(
                FIELD,
                format!(
                    "the value of tag {key:?} in `{FIELD}` must be 1-{MAX_TAG_VALUE_LEN} characters, got {}",
                    value.chars().count()
                ),
            ));
        }
        tags.insert(key.clone(), value.clone());
    }
    Ok(tags)
}

fn id_member(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, RequestError> {
    let field = format!("select.{name}");
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if is_valid_id(id) => Ok(Some(id.clone())),
        Some(Value::String(_)) => Err(bad(
            &field,
            format!("`{field}` must be 1-100 characters of [a-zA-Z0-9_-]"),
        )),
        Some(other) => Err(bad(
            &field,
            format!("`{field}` must be a string, got {}", type_name(other)),
        )),
    }
}

fn one_of_each(
    value: Option<&Value>,
    field: &str,
    allowed: &[&str],
    default: &[&str],
) -> Result<BTreeSet<String>, RequestError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(default.iter().map(|s| s.to_string()).collect());
    };
    let Value::Array(items) = value else {
        return Err(bad(
            field,
            format!("`{field}` must be a list, got {}", type_name(value)),
        ));
    };
    let mut out = BTreeSet::new();
    for item in items {
        match item.as_str() {
            Some(s) if allowed.contains(&s) => {
                out.insert(s.to_owned());
            }
            _ => {
                return Err(bad(
                    field,
                    format!("`{field}` takes {}, got {}", allowed.join(", "), short(item)),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(bad(field, format!("`{field}` must not be empty")));
    }
    Ok(out)
}

fn max_targets(value: Option<&Value>) -> Result<u32, RequestError> {
    const FIELD: &str = "select.maxTargets";
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(DEFAULT_MAX_TARGETS);
    };
    match value.as_u64() {
        Some(n) if (1..=u64::from(MAX_TARGETS)).contains(&n) => Ok(n as u32),
        _ => Err(bad(
            FIELD,
            format!(
                "`{FIELD}` must be a whole number from 1 to {MAX_TARGETS}, got {}",
                short(value)
            ),
        )),
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// A provisioned product as SearchProvisionedProducts lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub status: String,
    pub product_type: String,
    pub product_id: String,
    pub provisioning_artifact_id: String,
    pub tags: BTreeMap<String, String>,
}

/// Skipped candidates, each counted once under the first check it fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub status: u64,
    #[serde(rename = "type")]
    pub product_type: u64,
    pub not_allowed: u64,
}

/// What the listing comes to: how many matched, how many were skipped and why, and the targets
/// (ids, sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub candidates: u64,
    pub skipped: Skipped,
    pub targets: Vec<String>,
}

/// Filters the listing: matching tags, product and artifact make a candidate; a candidate whose
/// status or type is not allowed, or that is not on the product allow-list, is skipped.
pub fn plan(listed: &[Candidate], selection: &Selection, allowed: Option<&BTreeSet<String>>) -> Plan {
    let mut plan = Plan::default();
    for candidate in listed.iter().filter(|c| matches(c, selection)) {
        plan.candidates += 1;
        if !selection.statuses.contains(&candidate.status) {
            plan.skipped.status += 1;
        } else if !selection.types.contains(&candidate.product_type) {
            plan.skipped.product_type += 1;
        } else if allowed.is_some_and(|a| !a.contains(&candidate.id)) {
            plan.skipped.not_allowed += 1;
        } else {
            plan.targets.push(candidate.id.clone());
        }
    }
    plan.targets.sort();
    plan.targets.dedup();
    plan
}

fn matches(candidate: &Candidate, selection: &Selection) -> bool {
    let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    same(&selection.product_id, &candidate.product_id)
        && same(&selection.provisioning_artifact_id, &candidate.provisioning_artifact_id)
        && selection.tags.iter().all(|(k, v)| candidate.tags.get(k) == Some(v))
}

/// The `fleet` block of a fleet run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetSummary {
    pub candidates: u64,
    /// Children sent (or, for a dry run, that would be sent).
    pub enqueued: u64,
    pub skipped: Skipped,
    /// The first [`LISTED_TARGETS`] target ids.
    pub targets: Vec<String>,
}

impl FleetSummary {
    pub fn of(plan: &Plan, enqueued: u64) -> Self {
        FleetSummary {
            candidates: plan.candidates,
            enqueued,
            skipped: plan.skipped,
            targets: plan.targets.iter().take(LISTED_TARGETS).cloned().collect(),
        }
    }
}

/// What a child request carries from its parent.
#[derive(Debug, Clone, Copy)]
pub struct Parent<'a> {
    pub fleet_run_id: &'a str,
    pub action: &'a ActionRef,
    /// As the parent gave them (absent when it gave none).
    pub parameters: Option<&'a BTreeMap<String, Vec<String>>>,
    pub accept_language: Option<&'a str>,
}

/// A child's idempotency key: the fleet run and the product, so a redelivered parent yields the
/// same children and each product's action runs once.
pub fn child_key(fleet_run_id: &str, provisioned_product_id: &str) -> String {
    format!("{fleet_run_id}/{provisioned_product_id}")
}

/// A child request's body: the product, the action exactly as the parent named it, its parameters
/// and language (each only when given), the idempotency key and the fleet run id. No `select`, no
/// `dryRun`.
pub fn child_body(parent: Parent<'_>, provisioned_product_id: &str) -> Value {
    let mut body = Map::new();
    body.insert("provisionedProductId".into(), Value::from(provisioned_product_id));
    match parent.action {
        ActionRef::Id(id) => body.insert("serviceActionId".into(), Value::from(id.as_str())),
        ActionRef::Name(name) => body.insert("serviceActionName".into(), Value::from(name.as_str())),
    };
    if let Some(parameters) = parent.parameters {
        body.insert(
            "parameters".into(),
            serde_json::to_value(parameters).unwrap_or_default(),
        );
    }
    if let Some(language) = parent.accept_language {
        body.insert("acceptLanguage".into(), Value::from(language));
    }
    body.insert(
        "idempotencyKey".into(),
        Value::from(child_key(parent.fleet_run_id, provisioned_product_id)),
    );
    body.insert("fleetRunId".into(), Value::from(parent.fleet_run_id));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn candidate(id: &str, status: &str, kind: &str, tags: &[(&str, &str)]) -> Candidate {
        Candidate {
            id: id.into(),
            status: status.into(),
            product_type: kind.into(),
            product_id: "prod-1".into(),
            provisioning_artifact_id: "pa-1".into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn a_selection_gets_its_defaults_and_a_canonical_token_label() {
        let s = parse_selection(&json!({"tags": {"env": "prod", "app": "web"}})).unwrap();
        assert_eq!(s.statuses, BTreeSet::from(["AVAILABLE".to_string()]));
        assert_eq!(
            s.types,
            BTreeSet::from(["CFN_STACK".to_string(), "CFN_STACKSET".to_string()])
        );
        assert_eq!(s.max_targets, 100);
        let reordered = parse_selection(&json!({"maxTargets": 100, "tags": {"app": "web", "env": "prod"}})).unwrap();
        assert_eq!(s.token_label(), reordered.token_label());
        assert_eq!(
            s.token_label(),
            r#"select:{"tags":{"app":"web","env":"prod"},"productId":null,"provisioningArtifactId":null,"statuses":["AVAILABLE"],"types":["CFN_STACK","CFN_STACKSET"],"maxTargets":100}"#
        );
        let tricky = parse_selection(&json!({"tags": {"k": "line\nfeed"}})).unwrap();
        assert!(!tricky.token_label().contains('\n'));
    }

    #[test]
    fn invalid_selections_name_the_field() {
        let long = "k".repeat(129);
        let cases = [
            (json!([]), "select", "must be an object"),
            (json!({}), "select", "at least one of"),
            (json!({"tags": {}}), "select", "at least one of"),
            (json!({"statuses": ["AVAILABLE"]}), "select", "at least one of"),
            (json!({"tags": "env=prod"}), "select.tags", "must be an object"),
            (json!({"tags": {long.as_str(): "v"}}), "select.tags", "1-128 characters"),
            (json!({"tags": {"env": ""}}), "select.tags", "1-256 characters"),
            (
                json!({"tags": {"env": "v".repeat(257)}}),
                "select.tags",
                "1-256 characters",
            ),
            (json!({"tags": {"env": 1}}), "select.tags", "must be a string"),
            (json!({"productId": "prod 1"}), "select.productId", "1-100 characters"),
            (
                json!({"provisioningArtifactId": 7}),
                "select.provisioningArtifactId",
                "must be a string",
            ),
            (
                json!({"productId": "p", "statuses": ["available"]}),
                "select.statuses",
                "takes AVAILABLE",
            ),
            (
                json!({"productId": "p", "statuses": []}),
                "select.statuses",
                "must not be empty",
            ),
            (
                json!({"productId": "p", "types": ["CFN"]}),
                "select.types",
                "takes CFN_STACK",
            ),
            (
                json!({"productId": "p", "maxTargets": 0}),
                "select.maxTargets",
                "from 1 to 10000",
            ),
            (
                json!({"productId": "p", "maxTargets": 10_001}),
                "select.maxTargets",
                "from 1 to 10000",
            ),
            (
                json!({"productId": "p", "maxTargets": 2.5}),
                "select.maxTargets",
                "whole number",
            ),
            (
                json!({"productId": "p", "maxTargets": "5"}),
                "select.maxTargets",
                "whole number",
            ),
            (
                json!({"productId": "p", "tag": {"env": "prod"}}),
                "select",
                "unknown member \"tag\"",
            ),
        ];
        for (value, field, expected) in cases {
            let err = parse_selection(&value).unwrap_err();
            assert_eq!(err.field, field, "{value}");
            assert!(err.message.contains(expected), "{value}: {err}");
        }
        let ok = parse_selection(&json!({"productId": "p", "maxTargets": 10_000, "types": ["TERRAFORM_OPEN_SOURCE"]}));
        assert_eq!(ok.unwrap().max_targets, 10_000);
    }

    #[test]
    fn the_filter_counts_each_skip_once_under_its_first_reason_and_sorts_the_targets() {
        let listed = [
            candidate("pp-3", "AVAILABLE", "CFN_STACK", &[("env", "prod")]),
            candidate("pp-1", "AVAILABLE", "CFN_STACKSET", &[("env", "prod"), ("team", "a")]),
            candidate("pp-2", "TAINTED", "TERRAFORM_OPEN_SOURCE", &[("env", "prod")]),
            candidate("pp-4", "AVAILABLE", "EXTERNAL", &[("env", "prod")]),
            candidate("pp-5", "AVAILABLE", "CFN_STACK", &[("env", "Prod")]),
            candidate("pp-6", "AVAILABLE", "CFN_STACK", &[("env", "prod")]),
        ];
        let selection = parse_selection(&json!({"tags": {"env": "prod"}})).unwrap();
        let allowed = BTreeSet::from(["pp-1".to_string(), "pp-3".to_string()]);

        let plan = plan(&listed, &selection, Some(&allowed));

        assert_eq!(plan.candidates, 5, "pp-5's tag differs in case");
        assert_eq!(
            plan.skipped,
            Skipped {
                status: 1,
                product_type: 1,
                not_allowed: 1
            }
        );
        assert_eq!(plan.targets, ["pp-1", "pp-3"]);
        let by_product = parse_selection(&json!({"productId": "prod-2"})).unwrap();
        assert_eq!(super::plan(&listed, &by_product, None).candidates, 0);
    }

    #[test]
    fn a_child_carries_the_action_as_named_its_key_and_no_selection() {
        let parameters = BTreeMap::from([("K".to_string(), vec!["v".to_string()])]);
        let action = ActionRef::Name("PatchOS".into());
        let parent = Parent {
            fleet_run_id: "f00d",
            action: &action,
            parameters: Some(&parameters),
            accept_language: Some("jp"),
        };
        assert_eq!(
            child_body(parent, "pp-1"),
            json!({"provisionedProductId": "pp-1", "serviceActionName": "PatchOS", "parameters": {"K": ["v"]},
                   "acceptLanguage": "jp", "idempotencyKey": "f00d/pp-1", "fleetRunId": "f00d"})
        );
        let by_id = ActionRef::Id("act-1".into());
        let bare = Parent {
            fleet_run_id: "f00d",
            action: &by_id,
            parameters: None,
            accept_language: None,
        };
        assert_eq!(
            child_body(bare, "pp-2"),
            json!({"provisionedProductId": "pp-2", "serviceActionId": "act-1", "idempotencyKey": "f00d/pp-2",
                   "fleetRunId": "f00d"})
        );
    }

    #[test]
    fn the_summary_lists_at_most_a_hundred_targets() {
        let plan = Plan {
            candidates: 150,
            skipped: Skipped::default(),
            targets: (0..150).map(|i| format!("pp-{i:03}")).collect(),
        };
        let summary = FleetSummary::of(&plan, 150);
        assert_eq!(summary.targets.len(), 100);
        assert_eq!(
            serde_json::to_value(&summary).unwrap()["skipped"],
            json!({"status": 0, "type": 0, "notAllowed": 0})
        );
    }
}
