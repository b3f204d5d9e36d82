//! The subset of `SearchProvisionedProducts`' `SearchQuery` language the emulator understands:
//! whitespace-separated terms, all of which must match. `field:value` is an exact,
//! case-sensitive match on one of the fields below; a bare word matches when the product's
//! name or id contains it, ignoring case. An unknown field is an `InvalidParametersException`
//! (the real service would search it; an emulator that silently ignored it would mislead).

use crate::error::{self, ApiError};

/// A searchable attribute, by its documented `SearchQuery` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Arn,
    Id,
    Name,
    Type,
    Status,
    ProductId,
    ProductName,
    ProvisioningArtifactId,
    ProvisioningArtifactName,
    LastRecordId,
    IdempotencyToken,
}

const FIELDS: [(&str, Field); 11] = [
    ("arn", Field::Arn),
    ("id", Field::Id),
    ("name", Field::Name),
    ("type", Field::Type),
    ("status", Field::Status),
    ("productId", Field::ProductId),
    ("productName", Field::ProductName),
    ("provisioningArtifactId", Field::ProvisioningArtifactId),
    ("provisioningArtifactName", Field::ProvisioningArtifactName),
    ("lastRecordId", Field::LastRecordId),
    ("idempotencyToken", Field::IdempotencyToken),
];

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Term {
    /// `field:value`, exact.
    Exact(Field, String),
    /// A bare word, lower-cased: a substring of the name or id, ignoring case.
    Text(String),
}

/// The values of a product a query can look at.
pub(super) trait Searchable {
    fn field(&self, field: Field) -> &str;
}

/// Parses every `SearchQuery` string of `Filters`; an empty list matches everything.
pub(super) fn parse(queries: &[String]) -> Result<Vec<Term>, ApiError> {
    queries
        .iter()
        .flat_map(|q| q.split_whitespace())
        .map(parse_term)
        .collect()
}

fn parse_term(term: &str) -> Result<Term, ApiError> {
    let Some((name, value)) = term.split_once(':') else {
        return Ok(Term::Text(term.to_lowercase()));
    };
    let field = FIELDS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, field)| *field)
        .ok_or_else(|| {
            let known: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
            error::constraint(
                "Filters.SearchQuery",
                Some(term),
                &format!("the emulator searches only the fields {}", known.join(", ")),
            )
        })?;
    Ok(Term::Exact(field, value.to_owned()))
}

/// Whether `item` matches every term.
pub(super) fn matches(terms: &[Term], item: &impl Searchable) -> bool {
    terms.iter().all(|term| match term {
        Term::Exact(field, value) => item.field(*field) == value,
        Term::Text(word) => [Field::Name, Field::Id]
            .iter()
            .any(|f| item.field(*f).to_lowercase().contains(word.as_str())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item;

    impl Searchable for Item {
        fn field(&self, field: Field) -> &str {
            match field {
                Field::Id => "pp-fleet00000001",
                Field::Name => "Fleet-001",
                Field::Status => "AVAILABLE",
                Field::ProductId => "prod-fleet0000001",
                _ => "",
            }
        }
    }

    fn query(q: &str) -> Vec<Term> {
        parse(&[q.to_owned()]).expect("valid query")
    }

    #[test]
    fn all_terms_must_match() {
        assert!(matches(&query("status:AVAILABLE productId:prod-fleet0000001"), &Item));
        assert!(!matches(&query("status:AVAILABLE productId:prod-other"), &Item));
        assert!(
            !matches(&query("status:available"), &Item),
            "exact values are case-sensitive"
        );
        assert!(matches(&query("fleet-00"), &Item), "a bare word ignores case");
        assert!(matches(&query("  "), &Item));
        assert!(matches(&[], &Item));
        let two = parse(&["status:AVAILABLE".to_owned(), "id:pp-other".to_owned()]).expect("valid");
        assert!(!matches(&two, &Item), "strings of the list are ANDed too");
    }

    #[test]
    fn unknown_field_names_the_field_and_the_supported_ones() {
        let err = parse(&["tags:env=prod".to_owned()]).expect_err("unsupported");
        assert_eq!(err.code, "InvalidParametersException");
        assert!(err.message.contains("tags:env=prod") && err.message.contains("provisioningArtifactId"));
    }
}
