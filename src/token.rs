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
//! SQS `messageId`; the Lambda request id — and `product` / `action` are `id:<id>` or `name:<name>`
//! as the message names them (empty when the request could not be parsed). Product and action can't
//! contain a line feed (they are validated first), so the encoding is unambiguous even when the
//! source contains one. The result is 64 characters of `[0-9a-f]`, inside the API's
//! `[a-zA-Z0-9][a-zA-Z0-9_-]*`, 1–128.

use sha2::{Digest, Sha256};

/// Domain separation and versioning: changing the derivation means changing this, never reusing it.
const DOMAIN: &str = "sc-action-runner/v1";

/// Derives the ExecuteToken (see the module docs for the exact formula).
pub fn execute_token(source: &str, product_label: &str, action_label: &str) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in [DOMAIN, source, product_label, action_label].into_iter().enumerate() {
        if i > 0 {
            hasher.update(b"\n");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
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

    #[test]
    fn same_inputs_give_the_same_token() {
        let a = execute_token("059f36b4-87a3-44ab-83d2-661975830a7d", "id:pp-1", "name:Restart");
        let b = execute_token("059f36b4-87a3-44ab-83d2-661975830a7d", "id:pp-1", "name:Restart");
        assert_eq!(a, b);
    }

    #[test]
    fn the_derivation_is_the_documented_one() {
        // sha256("sc-action-runner/v1\nmsg-1\nid:pp-1\nid:act-1"), computed independently:
        // printf 'sc-action-runner/v1\nmsg-1\nid:pp-1\nid:act-1' | sha256sum
        assert_eq!(
            execute_token("msg-1", "id:pp-1", "id:act-1"),
            "43ee233866a420c9863fd4c79c21ce286da4a6c2d50cec9d84e345bc8a7560f6"
        );
    }

    #[test]
    fn any_difference_gives_a_different_token() {
        let base = execute_token("m", "id:pp-1", "id:act-1");
        let variants = [
            execute_token("m2", "id:pp-1", "id:act-1"),
            execute_token("m", "id:pp-2", "id:act-1"),
            execute_token("m", "name:pp-1", "id:act-1"),
            execute_token("m", "id:pp-1", "id:act-2"),
            execute_token("m", "id:pp-1", "name:act-1"),
            // Moving a separator must not collide.
            execute_token("m\nid:pp-1", "id:act-1", ""),
        ];
        let mut seen: HashSet<String> = variants.iter().cloned().collect();
        assert_eq!(seen.len(), variants.len());
        assert!(seen.insert(base));
    }

    #[test]
    fn distinct_message_ids_give_distinct_tokens() {
        let tokens: HashSet<String> = (0..10_000)
            .map(|i| execute_token(&format!("msg-{i}"), "id:pp", "id:a"))
            .collect();
        assert_eq!(tokens.len(), 10_000);
    }

    #[test]
    fn tokens_match_the_api_pattern_for_odd_and_long_sources() {
        let long = "x".repeat(100_000);
        for source in ["", " ", "\n", "\u{0}", "ünïcödé 🚀", "a/b+c=d", long.as_str()] {
            let t = execute_token(source, "name:web", "name:Restart");
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
