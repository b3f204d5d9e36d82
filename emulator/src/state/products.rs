//! Provisioned products: as seeded plus what happened to them since (status, last record), looked
//! up by id or name, and shown the way the API shows them.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::State;
use crate::error::ApiError;
use crate::seed::{ProvisionedProduct, ServiceAction};

/// The account and region every ARN of this emulator names.
pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "us-east-1";

/// A provisioned product as seeded, and what has happened to it since.
#[derive(Debug, Clone)]
pub(super) struct Provisioned {
    pub(super) seeded: ProvisionedProduct,
    pub(super) status: String,
    pub(super) status_message: Option<String>,
    pub(super) created_time: f64,
    pub(super) idempotency_token: String,
    pub(super) path_id: String,
    pub(super) last_record_id: String,
    pub(super) last_provisioning_record_id: String,
}

/// All provisioned products in seed order, indexed by id and by name (fleets are large).
#[derive(Debug, Default)]
pub(super) struct Products {
    all: Vec<Provisioned>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl Products {
    pub(super) fn push(&mut self, product: Provisioned) {
        let index = self.all.len();
        self.by_id.insert(product.seeded.id.clone(), index);
        self.by_name.insert(product.seeded.name.clone(), index);
        self.all.push(product);
    }

    pub(super) fn clear(&mut self) {
        *self = Products::default();
    }

    pub(super) fn get(&self, id: &str) -> Option<&Provisioned> {
        self.by_id.get(id).and_then(|&i| self.all.get(i))
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut Provisioned> {
        self.by_id.get(id).and_then(|&i| self.all.get_mut(i))
    }

    pub(super) fn named(&self, name: &str) -> Option<&Provisioned> {
        self.by_name.get(name).and_then(|&i| self.all.get(i))
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Provisioned> {
        self.all.iter()
    }
}

/// `arn:aws:servicecatalog:<region>:<account>:stack/<name>/<pp-id>`, what Service Catalog tags
/// the resources it provisions with (`aws:servicecatalog:provisionedProductArn`).
pub(crate) fn provisioned_product_arn(name: &str, id: &str) -> String {
    format!("arn:aws:servicecatalog:{REGION}:{ACCOUNT}:stack/{name}/{id}")
}

impl Provisioned {
    pub(super) fn arn(&self) -> String {
        provisioned_product_arn(&self.seeded.name, &self.seeded.id)
    }

    /// The members `ProvisionedProductDetail` and `ProvisionedProductAttribute` share.
    pub(super) fn common_json(&self) -> Map<String, Value> {
        let pp = &self.seeded;
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_owned(), value);
        };
        put("Name", json!(pp.name));
        put("Arn", json!(self.arn()));
        put("Type", json!(pp.product_type));
        put("Id", json!(pp.id));
        put("Status", json!(self.status));
        if let Some(message) = &self.status_message {
            put("StatusMessage", json!(message));
        }
        put("CreatedTime", json!(self.created_time));
        put("IdempotencyToken", json!(self.idempotency_token));
        put("LastRecordId", json!(self.last_record_id));
        put("LastProvisioningRecordId", json!(self.last_provisioning_record_id));
        put(
            "LastSuccessfulProvisioningRecordId",
            json!(self.last_provisioning_record_id),
        );
        put("ProductId", json!(pp.product_id));
        put("ProvisioningArtifactId", json!(pp.provisioning_artifact_id));
        out
    }
}

impl State {
    /// The provisioned product `pp_id` and the action `action_id`, which must be associated with
    /// its artifact: what Execute and DescribeServiceActionExecutionParameters both check.
    pub(super) fn action_target(
        &self,
        pp_id: &str,
        action_id: &str,
    ) -> Result<(&Provisioned, &ServiceAction), ApiError> {
        let product = self
            .products
            .get(pp_id)
            .ok_or_else(|| ApiError::not_found(format!("Provisioned product {pp_id} not found")))?;
        let action = self
            .seed
            .service_action(action_id)
            .ok_or_else(|| ApiError::not_found(format!("Service action {action_id} not found")))?;
        let pp = &product.seeded;
        let associated = self
            .seed
            .associated_actions(&pp.product_id, &pp.provisioning_artifact_id)
            .iter()
            .any(|a| a == action_id);
        if !associated {
            return Err(ApiError::invalid_parameters(format!(
                "ServiceActionId {action_id} is not associated with provisioning artifact {} of product {}",
                pp.provisioning_artifact_id, pp.product_id
            )));
        }
        Ok((product, action))
    }
}
