//! Any bytes, parsed as JSON, through everything an event meets before an AWS call: the envelope
//! sorting (`event::classify`), request validation (`request::parse_request`) and the ExecuteToken
//! derivation. None of it may panic, and every token it derives must be one the API accepts.
//!
//! The same bytes are also tried as an SQS message body, since a body is parsed by the function
//! itself (not by the Lambda runtime) and so meets JSON the runtime would never hand over.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sc_action_runner::event::{classify, Inbound, WorkItem};
use sc_action_runner::request::parse_request;
use sc_action_runner::token::{execute_token, is_valid_execute_token};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Value>(data) {
        check(event);
    }
    if let Ok(body) = std::str::from_utf8(data) {
        let record = json!({"messageId": "m-1", "eventSource": "aws:sqs", "body": body,
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:requests"});
        check(json!({ "Records": [record] }));
    }
});

fn check(event: Value) {
    let Ok(inbound) = classify(event, "fuzz-request-id") else {
        return;
    };
    let items = match inbound {
        Inbound::Sqs { items, .. } => items,
        Inbound::Single(item) => vec![item],
    };
    for WorkItem {
        token_source, payload, ..
    } in items
    {
        // What the handler does with a request it cannot parse: a token from the source alone.
        assert!(is_valid_execute_token(&execute_token(&token_source, None)));
        let Ok(request) = payload.and_then(|p| parse_request(&p)) else {
            continue;
        };
        let token = execute_token(&token_source, Some(&request));
        assert!(is_valid_execute_token(&token), "{token:?}");
        // Validated labels never hold the separator, so the derivation stays unambiguous.
        assert!(!request.target.token_label().contains('\n'));
        assert!(!request.action.token_label().contains('\n'));
    }
}
