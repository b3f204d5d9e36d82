//! Load-time checks of a seed: dangling references, duplicates and contradictory settings fail
//! at start-up, not as a confusing `ResourceNotFoundException` mid-test.

use std::collections::HashSet;

use super::{Seed, SeedError, ServiceAction};

fn invalid(message: String) -> SeedError {
    SeedError::Invalid(message)
}

/// The first value that occurs twice, if any.
fn first_duplicate<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    values.into_iter().find(|v| !seen.insert(*v))
}

impl Seed {
    pub(super) fn check(&self) -> Result<(), SeedError> {
        self.check_catalog()?;
        self.service_actions.iter().try_for_each(check_action)?;
        self.check_associations()?;
        self.check_provisioned_products()?;
        self.check_resources()
    }

    /// Resources may name provisioned products that do not exist (on purpose: a product can be
    /// terminated while its resources stay tagged), but must be valid for `GetResources`.
    fn check_resources(&self) -> Result<(), SeedError> {
        for resource in &self.resources {
            let arn = &resource.resource_arn;
            if !(1..=1011).contains(&arn.chars().count()) {
                return Err(invalid(format!("resource ARN {arn:?} must have 1-1011 characters")));
            }
            let bad_tag = resource
                .tags
                .iter()
                .find(|t| !(1..=128).contains(&t.key.chars().count()) || t.value.chars().count() > 256);
            if let Some(tag) = bad_tag {
                return Err(invalid(format!(
                    "resource {arn}: tag {:?} needs a key of 1-128 and a value of 0-256 characters",
                    tag.key
                )));
            }
        }
        match first_duplicate(self.resources.iter().map(|r| r.resource_arn.as_str())) {
            Some(arn) => Err(invalid(format!("resource {arn} is listed twice"))),
            None => Ok(()),
        }
    }

    fn check_catalog(&self) -> Result<(), SeedError> {
        if let Some(pa) = self
            .provisioning_artifacts
            .iter()
            .find(|pa| !self.products.iter().any(|p| p.id == pa.product_id))
        {
            return Err(invalid(format!(
                "provisioning artifact {} names unknown product {}",
                pa.id, pa.product_id
            )));
        }
        let ids = self.products.iter().map(|p| p.id.as_str());
        let ids = ids.chain(self.provisioning_artifacts.iter().map(|pa| pa.id.as_str()));
        let ids = ids.chain(self.service_actions.iter().map(|a| a.id.as_str()));
        match first_duplicate(ids) {
            Some(id) => Err(invalid(format!("id {id} is defined twice"))),
            None => Ok(()),
        }
    }

    fn check_associations(&self) -> Result<(), SeedError> {
        for assoc in &self.associations {
            if !self.has_artifact(&assoc.product_id, &assoc.provisioning_artifact_id) {
                return Err(invalid(format!(
                    "association names unknown artifact {} of product {}",
                    assoc.provisioning_artifact_id, assoc.product_id
                )));
            }
            if let Some(missing) = assoc
                .service_action_ids
                .iter()
                .find(|id| self.service_action(id).is_none())
            {
                return Err(invalid(format!("association names unknown service action {missing}")));
            }
        }
        Ok(())
    }

    fn check_provisioned_products(&self) -> Result<(), SeedError> {
        if let Some(pp) = self
            .provisioned_products
            .iter()
            .find(|pp| !self.has_artifact(&pp.product_id, &pp.provisioning_artifact_id))
        {
            return Err(invalid(format!(
                "provisioned product {} names unknown artifact {} of product {}",
                pp.id, pp.provisioning_artifact_id, pp.product_id
            )));
        }
        if let Some(id) = first_duplicate(self.provisioned_products.iter().map(|pp| pp.id.as_str())) {
            return Err(invalid(format!("provisioned product {id} is not unique")));
        }
        if let Some(name) = first_duplicate(self.provisioned_products.iter().map(|pp| pp.name.as_str())) {
            return Err(invalid(format!("provisioned product name {name} is not unique")));
        }
        Ok(())
    }
}

/// An action ends one way: failing, succeeding with outputs, or never.
fn check_action(action: &ServiceAction) -> Result<(), SeedError> {
    let id = &action.id;
    let fails = action.failure_message.is_some();
    if action.failure_code.is_some() && !fails {
        return Err(invalid(format!(
            "service action {id}: FailureCode needs FailureMessage"
        )));
    }
    if fails && action.never_finishes {
        return Err(invalid(format!(
            "service action {id}: FailureMessage and NeverFinishes contradict each other"
        )));
    }
    if !action.outputs.is_empty() && (fails || action.never_finishes) {
        return Err(invalid(format!(
            "service action {id}: Outputs are only returned by an action that succeeds"
        )));
    }
    if let Some(p) = action
        .parameters
        .iter()
        .find(|p| !(1..=50).contains(&p.name.chars().count()))
    {
        return Err(invalid(format!(
            "service action {id}: parameter name {:?} must have 1-50 characters",
            p.name
        )));
    }
    match first_duplicate(action.parameters.iter().map(|p| p.name.as_str())) {
        Some(name) => Err(invalid(format!(
            "service action {id}: parameter {name} is defined twice"
        ))),
        None => Ok(()),
    }
}
