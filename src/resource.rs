//! Resources that Service Catalog provisioned: their ARNs, and the tag Service Catalog puts on
//! each of them (`aws:servicecatalog:provisionedProductArn`), which names the provisioned product
//! that owns the resource.
//!
//! ARNs are split here rather than with an ARN crate (`aws-arn`, `scratchstack-arn`): those apply
//! validation rules of their own (partition and service spellings, account id forms) that would
//! change which event ARNs are accepted and what a rejection says, and six colon-separated parts
//! with a length limit is all this function needs.

use crate::request::is_valid_id;

/// The tag Service Catalog puts on every resource it provisions.
pub const OWNER_TAG: &str = "aws:servicecatalog:provisionedProductArn";

/// The Tagging API's limit on an ARN.
pub(crate) const MAX_ARN_LEN: usize = 1011;

/// The parts of an ARN this function looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Parses `arn:<partition>:<service>:<region>:<account>:<resource>`: partition, service and
/// resource non-empty (region and account may be empty, as in `arn:aws:s3:::bucket`), at most
/// 1,011 characters, no control characters. The error says what is wrong.
pub fn parse_arn(arn: &str) -> Result<Arn<'_>, String> {
    if arn.chars().count() > MAX_ARN_LEN {
        return Err(format!(
            "must be at most {MAX_ARN_LEN} characters, got {}",
            arn.chars().count()
        ));
    }
    if arn.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("must look like arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE".to_owned());
    };
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return Err(
            "must have a partition, a service and a resource (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
                .to_owned(),
        );
    }
    Ok(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// Where a provisioned product lives, and its id, from its ARN
/// (`arn:aws:servicecatalog:<region>:<account>:stack/<name>/<pp-id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductArn {
    pub region: String,
    pub account: String,
    pub provisioned_product_id: String,
}

/// Reads the owner tag's value; the id is its last path segment, validated like any id.
pub fn parse_owner_tag(value: &str) -> Result<ProductArn, String> {
    let arn = parse_arn(value).map_err(|e| format!("the {OWNER_TAG} tag {e}"))?;
    let id = arn.resource.rsplit('/').next().unwrap_or_default();
    if arn.service != "servicecatalog" || !arn.resource.starts_with("stack/") || !is_valid_id(id) {
        return Err(format!(
            "the {OWNER_TAG} tag {value:?} is not a provisioned product ARN (arn:aws:servicecatalog:REGION:ACCOUNT:stack/NAME/ID)"
        ));
    }
    Ok(ProductArn {
        region: arn.region.to_owned(),
        account: arn.account.to_owned(),
        provisioned_product_id: id.to_owned(),
    })
}

/// The function's own account and region, from its invoked function ARN
/// (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`).
pub fn home_of(invoked_function_arn: &str) -> Option<(String, String)> {
    let arn = parse_arn(invoked_function_arn).ok()?;
    (arn.service == "lambda" && !arn.region.is_empty() && !arn.account.is_empty())
        .then(|| (arn.account.to_owned(), arn.region.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_have_six_parts_and_region_and_account_may_be_empty() {
        let arn = parse_arn("arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b").unwrap();
        assert_eq!(
            (arn.partition, arn.service, arn.region, arn.account, arn.resource),
            ("aws", "ec2", "us-east-1", "123456789012", "instance/i-0a1b")
        );
        let bucket = parse_arn("arn:aws:s3:::bucket").unwrap();
        assert_eq!((bucket.region, bucket.account, bucket.resource), ("", "", "bucket"));
        // The resource may itself hold colons.
        assert_eq!(
            parse_arn("arn:aws:logs:us-east-1:1:log-group:/app:*").unwrap().resource,
            "log-group:/app:*"
        );
        for bad in [
            "",
            "arn",
            "arn:aws:s3::",
            "arn:aws:s3:::",
            "arn::s3:::bucket",
            "arn:aws::::bucket",
            "arm:aws:s3:::bucket",
            "arn:aws:s3:::buck\net",
        ] {
            assert!(parse_arn(bad).is_err(), "{bad:?}");
        }
        let long = format!("arn:aws:s3:::{}", "b".repeat(1000));
        assert!(parse_arn(&long).unwrap_err().contains("1011"));
        assert!(parse_arn(&long[..1011]).is_ok());
    }

    #[test]
    fn the_owner_tag_names_region_account_and_product() {
        let owner =
            parse_owner_tag("arn:aws:servicecatalog:us-east-1:123456789012:stack/web-prod/pp-webprod000001").unwrap();
        assert_eq!(
            owner,
            ProductArn {
                region: "us-east-1".into(),
                account: "123456789012".into(),
                provisioned_product_id: "pp-webprod000001".into()
            }
        );
        for bad in [
            "arn:aws:ec2:us-east-1:1:instance/i-1",
            "arn:aws:servicecatalog:us-east-1:1:product/prod-1",
            "arn:aws:servicecatalog:us-east-1:1:stack/web/pp 1",
            "not an arn",
        ] {
            assert!(parse_owner_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_home_is_the_invoked_functions_account_and_region() {
        assert_eq!(
            home_of("arn:aws:lambda:eu-west-1:111122223333:function:sc-action-runner:live"),
            Some(("111122223333".into(), "eu-west-1".into()))
        );
        assert_eq!(home_of("arn:aws:lambda:::function:x"), None);
        assert_eq!(home_of(""), None);
    }
}
