//! The seed file: the catalog (products, artifacts, actions, associations) and the
//! provisioned products that the emulator starts with, and returns to on reset.

mod check;
mod fleet;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use fleet::{FLEET_ARTIFACT_ID, FLEET_PRODUCT_ID, PATCH_OS_ACTION_ID};

/// The seed shipped with the crate (`emulator/seed.json`); its ids are relied on by other tests.
const DEFAULT_SEED: &str = include_str!("../../seed.json");

/// Everything the emulator knows at start-up. Top-level keys are camelCase; the entries
/// keep the Service Catalog API's PascalCase member names so they read like API output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seed {
    /// Products, which own provisioning artifacts.
    #[serde(default)]
    pub products: Vec<Product>,
    /// Provisioning artifacts (product versions).
    #[serde(default)]
    pub provisioning_artifacts: Vec<ProvisioningArtifact>,
    /// Self-service actions, associated or not.
    #[serde(default)]
    pub service_actions: Vec<ServiceAction>,
    /// Which actions may run against which artifact, in listing order.
    #[serde(default)]
    pub associations: Vec<Association>,
    /// Provisioned products that actions run against.
    #[serde(default)]
    pub provisioned_products: Vec<ProvisionedProduct>,
    /// Tagged resources that the Resource Groups Tagging API's `GetResources` returns.
    #[serde(default)]
    pub resources: Vec<TaggedResource>,
}

/// A product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Product {
    /// `prod-…`
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A provisioning artifact of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisioningArtifact {
    /// `pa-…`
    pub id: String,
    /// The owning product.
    pub product_id: String,
    /// Version name, e.g. `v1`.
    pub name: String,
}

/// A self-service action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceAction {
    /// `act-…`
    pub id: String,
    /// The name a caller may look the action up by.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `SSM_AUTOMATION` in practice.
    #[serde(default = "default_definition_type")]
    pub definition_type: String,
    /// Emulator extension: when set, records of this action end `FAILED` with this
    /// description in `RecordErrors`, so callers can exercise the failure path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Emulator extension: the `Code` of that record error (default `ActionFailed`); needs
    /// `FailureMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    /// Emulator extension: `RecordOutputs` that `DescribeRecord` returns once a record of this
    /// action has `SUCCEEDED`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<RecordOutput>,
    /// Emulator extension: records of this action stay `IN_PROGRESS` forever (an automation
    /// that never returns), so callers can exercise their time-outs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_finishes: bool,
    /// What `DescribeServiceActionExecutionParameters` returns for this action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ActionParameter>,
}

/// One `RecordOutputs` entry, with the API's member names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordOutput {
    /// The output's name.
    pub output_key: String,
    /// Its value.
    pub output_value: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// An execution parameter an action defines (`ExecutionParameter` in the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActionParameter {
    /// The parameter's name, 1–50 characters, e.g. `InstanceId`.
    pub name: String,
    /// `TARGET` (filled from the provisioned product) or `TEXT_VALUE`.
    #[serde(rename = "Type")]
    pub parameter_type: String,
    /// Defaults, `[]` when none.
    #[serde(default)]
    pub default_values: Vec<String>,
}

fn default_definition_type() -> String {
    "SSM_AUTOMATION".to_owned()
}

/// The actions associated with one provisioning artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Association {
    /// The product owning the artifact.
    pub product_id: String,
    /// The artifact the actions are associated with.
    pub provisioning_artifact_id: String,
    /// Associated action ids, in the order `ListServiceActionsForProvisioningArtifact` returns them.
    pub service_action_ids: Vec<String>,
}

/// A provisioned product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedProduct {
    /// `pp-…`
    pub id: String,
    /// Unique name; `DescribeProvisionedProduct` can look it up by this.
    pub name: String,
    /// The product it was launched from.
    pub product_id: String,
    /// The artifact it runs; decides which actions are allowed.
    pub provisioning_artifact_id: String,
    /// `AVAILABLE`, `UNDER_CHANGE`, `TAINTED`, `ERROR` or `PLAN_IN_PROGRESS`. Actions are
    /// refused in `UNDER_CHANGE` and `PLAN_IN_PROGRESS`.
    #[serde(default = "default_status")]
    pub status: String,
    /// `CFN_STACK`, `CFN_STACKSET`, `TERRAFORM_OPEN_SOURCE`, `TERRAFORM_CLOUD` or `EXTERNAL`
    /// (the emulator does not tie it to the product).
    #[serde(default = "default_type", rename = "Type")]
    pub product_type: String,
    /// Optional launch path id; one is made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_id: Option<String>,
    /// Tags, as `SearchProvisionedProducts` returns them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// A tag, with the API's member names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// 1–128 characters.
    pub key: String,
    /// 0–256 characters.
    pub value: String,
}

/// A resource and its tags, as `GetResources` returns it (`ResourceTagMapping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedResource {
    /// Any ARN, 1–1011 characters; resources of other accounts and regions are allowed.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    /// Its tags, `aws:` ones included (Service Catalog tags what it provisions with
    /// `aws:servicecatalog:provisionedProductArn`).
    #[serde(rename = "Tags", default)]
    pub tags: Vec<Tag>,
}

impl Tag {
    /// A tag from a key and a value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

fn default_status() -> String {
    "AVAILABLE".to_owned()
}

fn default_type() -> String {
    "CFN_STACK".to_owned()
}

/// Why a seed could not be loaded.
#[derive(Debug)]
pub enum SeedError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The file is not a valid seed.
    Parse(serde_json::Error),
    /// The seed parses but refers to ids it does not define.
    Invalid(String),
}

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedError::Io(e) => write!(f, "cannot read seed: {e}"),
            SeedError::Parse(e) => write!(f, "cannot parse seed: {e}"),
            SeedError::Invalid(msg) => write!(f, "invalid seed: {msg}"),
        }
    }
}

impl std::error::Error for SeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SeedError::Io(e) => Some(e),
            SeedError::Parse(e) => Some(e),
            SeedError::Invalid(_) => None,
        }
    }
}

impl Seed {
    /// Reads and checks a seed file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SeedError> {
        let text = std::fs::read_to_string(path).map_err(SeedError::Io)?;
        Self::from_json(&text)
    }

    /// Parses and checks seed JSON.
    pub fn from_json(text: &str) -> Result<Self, SeedError> {
        let seed: Seed = serde_json::from_str(text).map_err(SeedError::Parse)?;
        seed.check()?;
        Ok(seed)
    }

    /// The seed embedded from `emulator/seed.json`.
    pub fn default_seed() -> Self {
        Self::from_json(DEFAULT_SEED).expect("the embedded seed.json is valid: a unit test checks it")
    }

    /// Looks up a provisioned product by id.
    pub fn provisioned_product(&self, id: &str) -> Option<&ProvisionedProduct> {
        self.provisioned_products.iter().find(|pp| pp.id == id)
    }

    /// Looks up a service action by id.
    pub fn service_action(&self, id: &str) -> Option<&ServiceAction> {
        self.service_actions.iter().find(|a| a.id == id)
    }

    /// Whether `product_id` has the provisioning artifact `artifact_id`.
    pub(crate) fn has_artifact(&self, product_id: &str, artifact_id: &str) -> bool {
        self.provisioning_artifacts
            .iter()
            .any(|pa| pa.id == artifact_id && pa.product_id == product_id)
    }

    /// The action ids associated with an artifact, in listing order.
    pub fn associated_actions(&self, product_id: &str, artifact_id: &str) -> &[String] {
        self.associations
            .iter()
            .find(|a| a.product_id == product_id && a.provisioning_artifact_id == artifact_id)
            .map(|a| a.service_action_ids.as_slice())
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_seed_parses_and_keeps_the_ids_other_tests_rely_on() {
        let seed = Seed::default_seed();
        assert!(seed.provisioned_product("pp-webprod000001").is_some());
        assert_eq!(
            seed.provisioned_product("pp-migrating0001")
                .map(|pp| pp.status.as_str()),
            Some("UNDER_CHANGE")
        );
        let actions = seed.associated_actions("prod-webapp0000001", "pa-webapp0000001");
        assert_eq!(actions.len(), 25);
        assert!(actions.iter().any(|a| a == "act-restart00001"));
        assert!(!actions.iter().any(|a| a == "act-orphan000001"));
    }

    #[test]
    fn embedded_seed_has_an_action_for_each_way_a_record_ends() {
        let seed = Seed::default_seed();
        let action = |id: &str| seed.service_action(id).expect("seeded action");
        assert_eq!(
            action("act-norole000001").failure_code.as_deref(),
            Some("AccessDeniedException")
        );
        assert_eq!(action("act-health000001").outputs.len(), 3);
        assert!(action("act-drain0000001").never_finishes);
        let v2 = seed.associated_actions("prod-webapp0000001", "pa-webapp0000002");
        assert_eq!(v2.len(), 5);
        assert_eq!(
            seed.provisioned_product("pp-webcanary0001")
                .map(|pp| pp.provisioning_artifact_id.as_str()),
            Some("pa-webapp0000002")
        );
    }

    #[test]
    fn contradictory_action_endings_are_rejected() {
        let seed = |action: &str| format!(r#"{{"serviceActions":[{{"Id":"act-1","Name":"A",{action}}}]}}"#);
        for action in [
            r#""FailureCode":"X""#,
            r#""FailureMessage":"m","NeverFinishes":true"#,
            r#""FailureMessage":"m","Outputs":[{"OutputKey":"k","OutputValue":"v"}]"#,
            r#""Parameters":[{"Name":"P","Type":"TEXT_VALUE"},{"Name":"P","Type":"TARGET"}]"#,
        ] {
            let err = Seed::from_json(&seed(action)).expect_err(action);
            assert!(err.to_string().contains("act-1"), "{err}");
        }
        assert!(Seed::from_json(&seed(r#""FailureMessage":"m","FailureCode":"X""#)).is_ok());
    }

    #[test]
    fn dangling_reference_is_rejected() {
        let text = r#"{"products":[],"provisioningArtifacts":[{"Id":"pa-1","ProductId":"prod-x","Name":"v1"}]}"#;
        let err = Seed::from_json(text).expect_err("unknown product");
        assert!(err.to_string().contains("prod-x"), "{err}");
    }
}
