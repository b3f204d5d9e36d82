//! The seed file: the catalog (products, artifacts, actions, associations) and the
//! provisioned products that the emulator starts with, and returns to on reset.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The seed shipped with the crate (`emulator/seed.json`); its ids are relied on by other tests.
const DEFAULT_SEED: &str = include_str!("../seed.json");

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
    /// `AVAILABLE`, `UNDER_CHANGE`, `TAINTED`, `ERROR` or `PLAN_IN_PROGRESS`.
    #[serde(default = "default_status")]
    pub status: String,
    /// `CFN_STACK` or `CFN_STACKSET`.
    #[serde(default = "default_type", rename = "Type")]
    pub product_type: String,
    /// Optional launch path id; one is made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_id: Option<String>,
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

    /// The action ids associated with an artifact, in listing order.
    pub fn associated_actions(&self, product_id: &str, artifact_id: &str) -> &[String] {
        self.associations
            .iter()
            .find(|a| a.product_id == product_id && a.provisioning_artifact_id == artifact_id)
            .map(|a| a.service_action_ids.as_slice())
            .unwrap_or(&[])
    }

    /// Catches dangling references early, so a typo in a seed fails at start-up and not
    /// as a confusing `ResourceNotFoundException` mid-test.
    fn check(&self) -> Result<(), SeedError> {
        let has_product = |id: &str| self.products.iter().any(|p| p.id == id);
        let has_artifact = |product: &str, id: &str| {
            self.provisioning_artifacts
                .iter()
                .any(|pa| pa.id == id && pa.product_id == product)
        };
        for pa in &self.provisioning_artifacts {
            if !has_product(&pa.product_id) {
                return Err(SeedError::Invalid(format!(
                    "provisioning artifact {} names unknown product {}",
                    pa.id, pa.product_id
                )));
            }
        }
        for assoc in &self.associations {
            if !has_artifact(&assoc.product_id, &assoc.provisioning_artifact_id) {
                return Err(SeedError::Invalid(format!(
                    "association names unknown artifact {} of product {}",
                    assoc.provisioning_artifact_id, assoc.product_id
                )));
            }
            if let Some(missing) = assoc
                .service_action_ids
                .iter()
                .find(|id| self.service_action(id).is_none())
            {
                return Err(SeedError::Invalid(format!(
                    "association names unknown service action {missing}"
                )));
            }
        }
        for (i, pp) in self.provisioned_products.iter().enumerate() {
            if !has_artifact(&pp.product_id, &pp.provisioning_artifact_id) {
                return Err(SeedError::Invalid(format!(
                    "provisioned product {} names unknown artifact {} of product {}",
                    pp.id, pp.provisioning_artifact_id, pp.product_id
                )));
            }
            if self.provisioned_products[..i]
                .iter()
                .any(|other| other.id == pp.id || other.name == pp.name)
            {
                return Err(SeedError::Invalid(format!(
                    "provisioned product {} is not unique",
                    pp.id
                )));
            }
        }
        Ok(())
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
    fn dangling_reference_is_rejected() {
        let text = r#"{"products":[],"provisioningArtifacts":[{"Id":"pa-1","ProductId":"prod-x","Name":"v1"}]}"#;
        let err = Seed::from_json(text).expect_err("unknown product");
        assert!(err.to_string().contains("prod-x"), "{err}");
    }
}
