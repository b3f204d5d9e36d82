//! Resolving what a request names to ids: the product that owns a resource (Tagging API), a
//! product by name, an action by name — checking the allow-lists as soon as each id is known, and
//! keeping what names resolved to in the warm environment's name cache (`NAME_CACHE_SECONDS`).

use tokio::time::Instant;
use tracing::{warn, Span};

use super::record::Failure;
use super::{Context, Handler};
use crate::cache::{ActionKey, NameCache};
use crate::error::{CallError, RecordError};
use crate::ports::{
    ActionExecutor, MessageSender, ProvisionedProduct, ResourceOwners, ResultPublisher, VisibilityChanger,
};
use crate::request::{AcceptLanguage, ActionRef, ProductRef};
use crate::resource::{parse_owner_tag, OWNER_TAG};

/// Whether resolution may answer from the name cache. The second try after a stale entry does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    Cached,
    Fresh,
}

/// A name cache entry a resolution relied on (dropped when it proves stale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CacheKey {
    Product(ProductRef),
    Action(ActionKey),
    Owner(String),
}

/// The ids a request resolved to.
#[derive(Debug)]
pub(super) struct Resolved {
    pub(super) provisioned_product_id: String,
    pub(super) service_action_id: String,
    /// The product's description, when it was fetched from the API on the way (not from the cache).
    pub(super) described: Option<ProvisionedProduct>,
    /// The cache entries the resolution relied on.
    pub(super) cached: Vec<CacheKey>,
}

impl<E, Q> Handler<E, Q>
where
    E: ActionExecutor + ResourceOwners,
    Q: ResultPublisher + MessageSender + VisibilityChanger,
{
    fn names(&self) -> std::sync::MutexGuard<'_, NameCache> {
        self.names.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops cache entries that proved stale.
    pub(super) fn forget(&self, keys: &[CacheKey]) {
        let mut names = self.names();
        for key in keys {
            match key {
                CacheKey::Product(product) => names.products.remove(product),
                CacheKey::Action(key) => names.actions.remove(key),
                CacheKey::Owner(arn) => names.owners.remove(arn),
            }
        }
    }

    /// The provisioned product that owns `arn`, by its owner tag; rejected when there is none, or
    /// when it lives in another account or region than this function.
    pub(super) async fn owner_of(
        &self,
        arn: &str,
        ctx: &Context,
        lookup: Lookup,
    ) -> Result<(String, Option<CacheKey>), Failure> {
        let key = arn.to_owned();
        if lookup == Lookup::Cached {
            if let Some(id) = self.names().owners.get(&key, Instant::now()) {
                return Ok((id, Some(CacheKey::Owner(key))));
            }
        }
        let not_ours = |message: String| Failure::new(RecordError::NotAServiceCatalogResource { message }, None, None);
        let tag = self
            .executor
            .owner_tag(arn)
            .await
            .map_err(|e| Failure::new(e, None, None))?;
        let Some(tag) = tag else {
            return Err(not_ours(format!(
                "resourceArn: {arn} is not a resource Service Catalog provisioned (no {OWNER_TAG} tag)"
            )));
        };
        let owner = parse_owner_tag(&tag).map_err(|why| not_ours(format!("resourceArn: {arn}: {why}")))?;
        match &ctx.home {
            Some((account, region)) if *account != owner.account || *region != owner.region => {
                let message = format!(
                    "resourceArn: {arn} belongs to provisioned product {} in account {} region {}, not this \
                     function's ({account}, {region})",
                    owner.provisioned_product_id, owner.account, owner.region
                );
                return Err(Failure::new(RecordError::OtherAccountOrRegion { message }, None, None));
            }
            Some(_) => {}
            None => warn!("the invoked function ARN gives no account and region; the owner's are not checked"),
        }
        let id = owner.provisioned_product_id;
        self.names().owners.put(key, id.clone(), Instant::now());
        Ok((id, None))
    }

    /// Resolves names to ids, checking the allow-lists as soon as each id is known (so a given id
    /// that is not allowed costs no call at all).
    pub(super) async fn resolve(
        &self,
        product: &ProductRef,
        action: &ActionRef,
        language: Option<AcceptLanguage>,
        lookup: Lookup,
    ) -> Result<Resolved, Failure> {
        let given_product = match product {
            ProductRef::Id(id) => Some(self.allowed_product(id, None)?),
            ProductRef::Name(_) => None,
        };
        let given_action = match action {
            ActionRef::Id(id) => Some(self.allowed_action(id, given_product.as_deref())?),
            ActionRef::Name(_) => None,
        };
        if let (Some(product), Some(action)) = (&given_product, &given_action) {
            return Ok(Resolved {
                provisioned_product_id: product.clone(),
                service_action_id: action.clone(),
                described: None,
                cached: Vec::new(),
            });
        }

        let mut cached = Vec::new();
        let (described, from_cache) = self
            .describe(product, language, lookup)
            .await
            .map_err(|e| Failure::new(e, given_product.as_deref(), given_action.as_deref()))?;
        if from_cache {
            cached.push(CacheKey::Product(product.clone()));
        }
        let product_id = match given_product {
            Some(id) => id,
            None => self.allowed_product(&described.id, given_action.as_deref())?,
        };
        let action_id = match (given_action, action) {
            (Some(id), _) => id,
            (None, ActionRef::Id(id)) => self.allowed_action(id, Some(&product_id))?,
            (None, ActionRef::Name(name)) => {
                let (id, key) = self
                    .find_action(&described, name, &product_id, language, lookup)
                    .await?;
                cached.extend(key);
                id
            }
        };
        Ok(Resolved {
            provisioned_product_id: product_id,
            service_action_id: action_id,
            described: (!from_cache).then_some(described),
            cached,
        })
    }

    /// DescribeProvisionedProduct, or its cached answer; says whether it came from the cache.
    async fn describe(
        &self,
        product: &ProductRef,
        language: Option<AcceptLanguage>,
        lookup: Lookup,
    ) -> Result<(ProvisionedProduct, bool), CallError> {
        if lookup == Lookup::Cached {
            if let Some(hit) = self.names().products.get(product, Instant::now()) {
                return Ok((hit, true));
            }
        }
        let described = self.executor.describe_provisioned_product(product, language).await?;
        self.names()
            .products
            .put(product.clone(), described.clone(), Instant::now());
        Ok((described, false))
    }

    /// The id of the action named `name` among those of the product's artifact, if allowed, and
    /// the cache entry it came from.
    async fn find_action(
        &self,
        product: &ProvisionedProduct,
        name: &str,
        product_id: &str,
        language: Option<AcceptLanguage>,
        lookup: Lookup,
    ) -> Result<(String, Option<CacheKey>), Failure> {
        let key = (
            product.product_id.clone(),
            product.provisioning_artifact_id.clone(),
            name.to_owned(),
        );
        let hit = match lookup {
            Lookup::Cached => self.names().actions.get(&key, Instant::now()),
            Lookup::Fresh => None,
        };
        if let Some(id) = hit {
            let id = self.allowed_action(&id, Some(product_id))?;
            return Ok((id, Some(CacheKey::Action(key))));
        }
        let found = self
            .executor
            .find_service_action_id(&product.product_id, &product.provisioning_artifact_id, name, language)
            .await
            .map_err(|e| Failure::new(e, Some(product_id), None))?;
        let Some(id) = found else {
            let message = format!(
                "serviceActionName: no service action named {name:?} is associated with provisioned product {} \
                 (product {}, provisioning artifact {})",
                product.id, product.product_id, product.provisioning_artifact_id
            );
            return Err(Failure::new(
                RecordError::ServiceActionNotFound { message },
                Some(product_id),
                None,
            ));
        };
        self.names().actions.put(key, id.clone(), Instant::now());
        Ok((self.allowed_action(&id, Some(product_id))?, None))
    }

    /// `id` when the product allow-list lets it through (recorded on the span), else the rejection
    /// (with the action id when it was already known).
    pub(super) fn allowed_product(&self, id: &str, action: Option<&str>) -> Result<String, Failure> {
        self.config
            .product_allowed(id)
            .map_err(|e| Failure::new(e, None, action))?;
        Span::current().record("provisioned_product_id", id);
        Ok(id.to_owned())
    }

    /// `id` when the action allow-list lets it through (recorded on the span), else the rejection
    /// (with the product id when it was already known).
    pub(super) fn allowed_action(&self, id: &str, product: Option<&str>) -> Result<String, Failure> {
        self.config
            .action_allowed(id)
            .map_err(|e| Failure::new(e, product, None))?;
        Span::current().record("service_action_id", id);
        Ok(id.to_owned())
    }
}
