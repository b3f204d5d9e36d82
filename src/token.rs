//! The ExecuteToken: what makes a redelivered message safe.
//!
//! Service Catalog treats two calls with the same ExecuteToken as one execution. So the token must
//! be a pure function of what identifies the *delivery* of a request (its token source) and of what
//! the request names, and nothing else:
//!
//! ```text
//! token = lowercase hex( SHA-256( "sc-action-runner/v1" LF source LF product LF action ) )
//! ```
//!
//! where `source` is the first of: the request's `idempotencyKey`; the EventBridge event `id`; the
//! SQS `messageId`; the Lambda request id ([`TokenSource`], chosen by [`token_source`]) — and
//! `product` / `action` are `id:<id>` or `name:<name>` as the message names them (empty when the
//! request could not be parsed). Product and action can't contain a line feed (they are validated
//! first), so the encoding is unambiguous even when the source contains one. The result is 64
//! characters of `[0-9a-f]`, inside the API's `[a-zA-Z0-9][a-zA-Z0-9_-]*`, 1–128.
//!
//! [`execute_token`] is the one place that applies this rule; the handler, the fuzz target and the
//! benchmarks all call it.

use sha2::{Digest, Sha256};

use crate::request::ActionRequest;

/// Domain separation and versioning: changing the derivation means changing this, never reusing it.
const DOMAIN: &str = "sc-action-runner/v1";

/// What identifies one delivery of a request, in the order of precedence the token uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The request's own `idempotencyKey`: wins over any delivery id.
    IdempotencyKey(String),
    /// An EventBridge event's `id` (straight to the function, or wrapped in an SQS body): one event
    /// delivered twice keeps it.
    EventBridgeEvent(String),
    /// An SQS `messageId`: a redelivered message keeps it.
    SqsMessage(String),
    /// The Lambda request id: Lambda keeps it when it retries an asynchronous invocation.
    LambdaRequest(String),
}

impl TokenSource {
    /// The id that goes into the derivation.
    pub fn id(&self) -> &str {
        match self {
            TokenSource::IdempotencyKey(id)
            | TokenSource::EventBridgeEvent(id)
            | TokenSource::SqsMessage(id)
            | TokenSource::LambdaRequest(id) => id,
        }
    }
}

/// The token source of a request delivered as `delivery`: its `idempotencyKey` when it gives one,
/// else the delivery's own id.
pub fn token_source(delivery: &TokenSource, request: Option<&ActionRequest>) -> TokenSource {
    match request.and_then(|r| r.idempotency_key.as_deref()) {
        Some(key) => TokenSource::IdempotencyKey(key.to_owned()),
        None => delivery.clone(),
    }
}

/// The ExecuteToken of a request delivered as `delivery`; `None` for a request that could not be
/// parsed (it still gets a token, from the delivery alone, for its REJECTED result).
pub fn execute_token(delivery: &TokenSource, request: Option<&ActionRequest>) -> String {
    let source = token_source(delivery, request);
    match request {
        Some(r) => derive(source.id(), &r.target.token_label(), &r.action.token_label()),
        None => derive(source.id(), "", ""),
    }
}

/// The documented formula over raw parts (see the module docs). Use [`execute_token`], which also
/// chooses the source; this is public so that tests can check tokens against the formula itself.
pub fn derive(source: &str, product_label: &str, action_label: &str) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in [DOMAIN, source, product_label, action_label].into_iter().enumerate() {
        if i > 0 {
            hasher.update(b"\n");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Lowercase hex SHA-256 of `text`: a fixed-length id made from one of any length (a fleet child's
/// FIFO deduplication id, say).
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether `token` is acceptable to the API: 1–128 of `[a-zA-Z0-9][a-zA-Z0-9_-]*`.
pub fn is_valid_execute_token(token: &str) -> bool {
    let b = token.as_bytes();
    (1..=128).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn request(json: serde_json::Value) -> ActionRequest {
        crate::request::parse_request(&json).expect("a valid request")
    }

    #[test]
    fn the_idempotency_key_wins_over_every_delivery_id() {
        let keyed = request(
            serde_json::json!({"provisionedProductId": "pp-1", "serviceActionName": "Restart",
                                               "idempotencyKey": "nightly"}),
        );
        for delivery in [
            TokenSource::EventBridgeEvent("evt-1".into()),
            TokenSource::SqsMessage("m-1".into()),
            TokenSource::LambdaRequest("req-1".into()),
        ] {
            assert_eq!(
                token_source(&delivery, Some(&keyed)),
                TokenSource::IdempotencyKey("nightly".into())
            );
            assert_eq!(
                execute_token(&delivery, Some(&keyed)),
                derive("nightly", "id:pp-1", "name:Restart")
            );
        }
    }

    #[test]
    fn without_a_key_the_delivery_id_is_the_source() {
        let plain = request(serde_json::json!({"provisionedProductName": "web", "serviceActionId": "act-1"}));
        let delivery = TokenSource::SqsMessage("m-1".into());
        assert_eq!(token_source(&delivery, Some(&plain)), delivery);
        assert_eq!(
            execute_token(&delivery, Some(&plain)),
            derive("m-1", "name:web", "id:act-1")
        );
        // A request that could not be parsed: the delivery alone.
        assert_eq!(execute_token(&delivery, None), derive("m-1", "", ""));
        assert_eq!(TokenSource::LambdaRequest("r".into()).id(), "r");
    }

    #[test]
    fn same_inputs_give_the_same_token() {
        let a = derive("059f36b4-87a3-44ab-83d2-661975830a7d", "id:pp-1", "name:Restart");
        let b = derive("059f36b4-87a3-44ab-83d2-661975830a7d", "id:pp-1", "name:Restart");
        assert_eq!(a, b);
    }

    #[test]
    fn the_derivation_is_the_documented_one() {
        // sha256("sc-action-runner/v1\nmsg-1\nid:pp-1\nid:act-1"), computed independently:
        // printf 'sc-action-runner/v1\nmsg-1\nid:pp-1\nid:act-1' | sha256sum
        assert_eq!(
            derive("msg-1", "id:pp-1", "id:act-1"),
            "43ee233866a420c9863fd4c79c21ce286da4a6c2d50cec9d84e345bc8a7560f6"
        );
    }

    #[test]
    fn any_difference_gives_a_different_token() {
        let base = derive("m", "id:pp-1", "id:act-1");
        let variants = [
            derive("m2", "id:pp-1", "id:act-1"),
            derive("m", "id:pp-2", "id:act-1"),
            derive("m", "name:pp-1", "id:act-1"),
            derive("m", "id:pp-1", "id:act-2"),
            derive("m", "id:pp-1", "name:act-1"),
            // Moving a separator must not collide.
            derive("m\nid:pp-1", "id:act-1", ""),
        ];
        let mut seen: HashSet<String> = variants.iter().cloned().collect();
        assert_eq!(seen.len(), variants.len());
        assert!(seen.insert(base));
    }

    #[test]
    fn distinct_message_ids_give_distinct_tokens() {
        let tokens: HashSet<String> = (0..10_000)
            .map(|i| derive(&format!("msg-{i}"), "id:pp", "id:a"))
            .collect();
        assert_eq!(tokens.len(), 10_000);
    }

    #[test]
    fn tokens_match_the_api_pattern_for_odd_and_long_sources() {
        let long = "x".repeat(100_000);
        for source in ["", " ", "\n", "\u{0}", "ünïcödé 🚀", "a/b+c=d", long.as_str()] {
            let t = derive(source, "name:web", "name:Restart");
            assert_eq!(t.len(), 64);
            assert!(is_valid_execute_token(&t), "{t}");
        }
    }

    #[test]
    fn token_validation_matches_the_api() {
        assert!(is_valid_execute_token("a"));
        assert!(is_valid_execute_token(&"a".repeat(128)));
        assert!(!is_valid_execute_token(""));
        assert!(!is_valid_execute_token("-a"));
        assert!(!is_valid_execute_token("a.b"));
        assert!(!is_valid_execute_token(&"a".repeat(129)));
    }
}
