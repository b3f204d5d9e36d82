//! A generated fleet for benchmarks: N alike provisioned products that `PatchOS` can run on,
//! selectable by their tags.

use super::{
    ActionParameter, Association, Product, ProvisionedProduct, ProvisioningArtifact, Seed, ServiceAction, Tag,
};

/// The product the seeded and generated fleets are launched from.
pub const FLEET_PRODUCT_ID: &str = "prod-fleet0000001";
/// Its artifact, with `PatchOS` (and `RestartService`) associated.
pub const FLEET_ARTIFACT_ID: &str = "pa-fleet00000001";
/// `PatchOS`, the action meant for fleets.
pub const PATCH_OS_ACTION_ID: &str = "act-patchos00001";

/// Generated ids are this plus eight digits, so they sort in creation order.
const GENERATED_ID_PREFIX: &str = "pp-bench";

impl Seed {
    /// Adds `n` provisioned products `pp-bench00000001`, `pp-bench00000002`, … (names
    /// `bench-00000001`, …), all `AVAILABLE` `CFN_STACK`, launched from [`FLEET_ARTIFACT_ID`]
    /// and carrying `tags`. The fleet product, artifact and `PatchOS` action are added if the
    /// seed lacks them; numbering continues after products generated earlier.
    pub fn with_generated_fleet<K, V>(mut self, n: usize, tags: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.ensure_fleet_catalog();
        let tags: Vec<Tag> = tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect();
        let first = 1 + self
            .provisioned_products
            .iter()
            .filter(|pp| pp.id.starts_with(GENERATED_ID_PREFIX))
            .count();
        self.provisioned_products
            .extend((first..first + n).map(|i| ProvisionedProduct {
                id: format!("{GENERATED_ID_PREFIX}{i:08}"),
                name: format!("bench-{i:08}"),
                product_id: FLEET_PRODUCT_ID.to_owned(),
                provisioning_artifact_id: FLEET_ARTIFACT_ID.to_owned(),
                status: "AVAILABLE".to_owned(),
                product_type: "CFN_STACK".to_owned(),
                path_id: None,
                tags: tags.clone(),
            }));
        self
    }

    fn ensure_fleet_catalog(&mut self) {
        if !self.products.iter().any(|p| p.id == FLEET_PRODUCT_ID) {
            self.products.push(Product {
                id: FLEET_PRODUCT_ID.to_owned(),
                name: "Linux server fleet".to_owned(),
            });
        }
        if !self.provisioning_artifacts.iter().any(|pa| pa.id == FLEET_ARTIFACT_ID) {
            self.provisioning_artifacts.push(ProvisioningArtifact {
                id: FLEET_ARTIFACT_ID.to_owned(),
                product_id: FLEET_PRODUCT_ID.to_owned(),
                name: "v1".to_owned(),
            });
        }
        if self.service_action(PATCH_OS_ACTION_ID).is_none() {
            self.service_actions.push(patch_os());
        }
        let associated = self.associated_actions(FLEET_PRODUCT_ID, FLEET_ARTIFACT_ID);
        if !associated.iter().any(|id| id == PATCH_OS_ACTION_ID) {
            match self
                .associations
                .iter_mut()
                .find(|a| a.product_id == FLEET_PRODUCT_ID && a.provisioning_artifact_id == FLEET_ARTIFACT_ID)
            {
                Some(a) => a.service_action_ids.push(PATCH_OS_ACTION_ID.to_owned()),
                None => self.associations.push(Association {
                    product_id: FLEET_PRODUCT_ID.to_owned(),
                    provisioning_artifact_id: FLEET_ARTIFACT_ID.to_owned(),
                    service_action_ids: vec![PATCH_OS_ACTION_ID.to_owned()],
                }),
            }
        }
    }
}

/// `PatchOS` as in the embedded seed.
fn patch_os() -> ServiceAction {
    let parameter = |name: &str, parameter_type: &str, default: Option<&str>| ActionParameter {
        name: name.to_owned(),
        parameter_type: parameter_type.to_owned(),
        default_values: default.into_iter().map(str::to_owned).collect(),
    };
    ServiceAction {
        id: PATCH_OS_ACTION_ID.to_owned(),
        name: "PatchOS".to_owned(),
        description: "Install pending OS patches (AWS-RunPatchBaseline)".to_owned(),
        definition_type: "SSM_AUTOMATION".to_owned(),
        failure_message: None,
        failure_code: None,
        outputs: Vec::new(),
        never_finishes: false,
        parameters: vec![
            parameter("InstanceId", "TARGET", None),
            parameter("Operation", "TEXT_VALUE", Some("Install")),
            parameter("RebootOption", "TEXT_VALUE", Some("RebootIfNeeded")),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_fleet_extends_the_seed_with_tagged_sortable_products() {
        let seed = Seed::default_seed()
            .with_generated_fleet(3, [("fleet", "bench")])
            .with_generated_fleet(2, [("fleet", "more")]);
        let generated: Vec<_> = seed
            .provisioned_products
            .iter()
            .filter(|pp| pp.id.starts_with(GENERATED_ID_PREFIX))
            .collect();
        assert_eq!(generated.len(), 5);
        assert_eq!(generated[0].id, "pp-bench00000001");
        assert_eq!(generated[4].id, "pp-bench00000005");
        assert_eq!(generated[4].tags, [Tag::new("fleet", "more")]);
        assert!(generated.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(
            seed.service_action(PATCH_OS_ACTION_ID),
            Seed::default_seed().service_action(PATCH_OS_ACTION_ID)
        );
        assert!(seed.check().is_ok());
    }

    #[test]
    fn generated_fleet_brings_its_catalog_into_an_empty_seed() {
        let seed = Seed::from_json("{}")
            .expect("empty seed")
            .with_generated_fleet(2, [("a", "b")]);
        assert!(seed.check().is_ok());
        assert_eq!(
            seed.associated_actions(FLEET_PRODUCT_ID, FLEET_ARTIFACT_ID),
            [PATCH_OS_ACTION_ID]
        );
    }
}
