//! Inbound shapes. The function takes any event as one JSON value and tells the shapes apart:
//! an SQS batch (`Records[]` from `aws:sqs`), an EventBridge event (`detail-type` + `detail`), or a
//! direct request (an object naming a product or an action). Each request becomes a [`WorkItem`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::outcome::{Source, SourceKind};
use crate::request::{type_name, RequestError};
use crate::token::TokenSource;

/// One request to run, with what identifies its delivery.
#[derive(Clone, PartialEq)]
pub struct WorkItem {
    /// The delivery, reported in the result (and, for SQS, the batch item identifier).
    pub source: Source,
    /// The token source when the request has no `idempotencyKey`: the EventBridge event id, else
    /// the SQS message id, else the Lambda request id.
    pub token_source: TokenSource,
    /// The request as JSON, or why there is no request to parse (body not JSON, no `detail`, …).
    pub payload: Result<Value, RequestError>,
    /// `MessageGroupId` of an SQS FIFO record.
    pub message_group_id: Option<String>,
    /// How to change the message's visibility (SQS records only).
    pub receipt: Option<Receipt>,
}

/// What it takes to change an SQS message's visibility: its queue, its receipt handle, and how
/// often it was received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub queue_url: String,
    pub handle: String,
    /// `ApproximateReceiveCount` (1 on the first receive).
    pub receive_count: u32,
}

/// The queue URL of an SQS queue ARN (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`). The SDK sends it
/// as `QueueUrl` to whatever endpoint it is configured with.
pub(crate) fn queue_url_of(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, partition, "sqs", region, account, name] = parts.as_slice() else {
        return None;
    };
    if region.is_empty() || account.is_empty() || name.is_empty() {
        return None;
    }
    let domain = if partition.starts_with("aws-cn") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
}

/// The payload is left out: parameter values can be secrets, and a stray `{:?}` must not leak them.
impl fmt::Debug for WorkItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let payload = match &self.payload {
            Ok(_) => "Ok(<request>)".to_owned(),
            Err(e) => format!("Err(field {:?})", e.field),
        };
        f.debug_struct("WorkItem")
            .field("source", &self.source)
            .field("token_source", &self.token_source)
            .field("payload", &format_args!("{payload}"))
            .field("message_group_id", &self.message_group_id)
            .field("receipt", &self.receipt.as_ref().map(|r| r.receive_count))
            .finish()
    }
}

/// An invocation event, sorted by shape. Its `Debug` shows no payload (see [`WorkItem`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// An SQS batch; `fifo` when it comes from a FIFO queue (records then run in order).
    Sqs { items: Vec<WorkItem>, fifo: bool },
    /// An EventBridge event delivered straight to the function, or a direct request.
    Single(WorkItem),
}

/// An event no request can be taken from: the invocation fails with this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event must be a JSON object (an SQS batch, an EventBridge event or a request), got {0}")]
    NotAnObject(&'static str),
    #[error(
        "unrecognised event shape (top-level keys: {0}); expected an SQS batch (Records), an EventBridge event \
         (detail-type, detail), a request naming provisionedProductId/provisionedProductName and \
         serviceActionId/serviceActionName, or a tracking message (trackRecord)"
    )]
    UnknownShape(String),
    #[error("`Records` must be an array of SQS records, got {0}")]
    RecordsNotAnArray(&'static str),
    #[error("record {index} is from event source {event_source:?}; only aws:sqs records are supported")]
    UnsupportedEventSource { index: usize, event_source: String },
    #[error(
        "record {index} has no messageId, so it could not be reported as a batch item failure; \
         the invocation fails so that the whole batch is retried (nothing ran)"
    )]
    RecordWithoutMessageId { index: usize },
}

const REQUEST_KEYS: &[&str] = &[
    "provisionedProductId",
    "provisionedProductName",
    "serviceActionId",
    "serviceActionName",
    "ProvisionedProductId",
    "ProvisionedProductName",
    "ServiceActionId",
    "ServiceActionName",
    crate::tracking::TRACK_KEY,
];

/// Sorts an invocation event into work. `request_id` is the Lambda request id, the token source of
/// last resort (Lambda reuses it when it retries an async invocation).
pub fn classify(event: Value, request_id: &str) -> Result<Inbound, EventError> {
    let Value::Object(mut obj) = event else {
        return Err(EventError::NotAnObject(type_name(&event)));
    };

    if let Some(records) = obj.remove("Records") {
        return sqs_batch(records);
    }

    if is_eventbridge(&obj) {
        let token_source = match non_empty_str(obj.get("id")) {
            Some(id) => TokenSource::EventBridgeEvent(id.to_owned()),
            None => TokenSource::LambdaRequest(request_id.to_owned()),
        };
        let payload = detail(&mut obj);
        return Ok(Inbound::Single(WorkItem {
            source: Source {
                kind: SourceKind::Eventbridge,
                id: token_source.id().to_owned(),
            },
            token_source,
            payload,
            message_group_id: None,
            receipt: None,
        }));
    }

    if REQUEST_KEYS.iter().any(|k| obj.contains_key(*k)) {
        return Ok(Inbound::Single(WorkItem {
            source: Source {
                kind: SourceKind::Direct,
                id: request_id.to_owned(),
            },
            token_source: TokenSource::LambdaRequest(request_id.to_owned()),
            payload: Ok(Value::Object(obj)),
            message_group_id: None,
            receipt: None,
        }));
    }

    Err(EventError::UnknownShape(describe_keys(&obj)))
}

fn sqs_batch(records: Value) -> Result<Inbound, EventError> {
    let Value::Array(records) = records else {
        return Err(EventError::RecordsNotAnArray(type_name(&records)));
    };
    // Check every record before running any, so a batch that must fail whole fails before anything ran.
    let mut items = Vec::with_capacity(records.len());
    let mut fifo = false;
    for (index, record) in records.into_iter().enumerate() {
        let Value::Object(mut record) = record else {
            return Err(EventError::RecordWithoutMessageId { index });
        };
        match record.get("eventSource").and_then(Value::as_str) {
            Some("aws:sqs") => {}
            other => {
                return Err(EventError::UnsupportedEventSource {
                    index,
                    event_source: other.unwrap_or("(none)").chars().take(64).collect(),
                })
            }
        }
        let message_id = non_empty_str(record.get("messageId"))
            .ok_or(EventError::RecordWithoutMessageId { index })?
            .to_owned();
        let message_group_id = record
            .get("attributes")
            .and_then(|a| a.get("MessageGroupId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let source_arn = record.get("eventSourceARN").and_then(Value::as_str);
        let from_fifo_arn = source_arn.is_some_and(|a| a.ends_with(".fifo"));
        let receipt = receipt(&record, source_arn);
        fifo |= message_group_id.is_some() || from_fifo_arn;

        let (token_source, payload) = match record.remove("body") {
            Some(Value::String(body)) => sqs_body(&body, &message_id),
            Some(other) => (
                TokenSource::SqsMessage(message_id.clone()),
                Err(RequestError::new(
                    "body",
                    format!("the SQS record's body must be a string, got {}", type_name(&other)),
                )),
            ),
            None => (
                TokenSource::SqsMessage(message_id.clone()),
                Err(RequestError::new("body", "the SQS record has no body")),
            ),
        };
        items.push(WorkItem {
            source: Source {
                kind: SourceKind::Sqs,
                id: message_id,
            },
            token_source,
            payload,
            message_group_id,
            receipt,
        });
    }
    Ok(Inbound::Sqs { items, fifo })
}

/// The record's receipt, when it has a receipt handle and its queue is known.
fn receipt(record: &Map<String, Value>, source_arn: Option<&str>) -> Option<Receipt> {
    let handle = non_empty_str(record.get("receiptHandle"))?.to_owned();
    let queue_url = queue_url_of(source_arn?)?;
    let receive_count = record
        .get("attributes")
        .and_then(|a| a.get("ApproximateReceiveCount"))
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    Some(Receipt {
        queue_url,
        handle,
        receive_count,
    })
}

/// An SQS body is a request, or an EventBridge event whose `detail` is the request (what an
/// EventBridge rule with an SQS target delivers). The event id then is the token source, since
/// EventBridge can deliver one event twice as two SQS messages.
fn sqs_body(body: &str, message_id: &str) -> (TokenSource, Result<Value, RequestError>) {
    let message = || TokenSource::SqsMessage(message_id.to_owned());
    match parse_body(body) {
        Err(e) if e.classify() == serde_json::error::Category::Data => (
            message(),
            Err(RequestError::new("body", format!("the message body is ambiguous: {e}"))),
        ),
        Err(e) => (
            message(),
            Err(RequestError::new(
                "body",
                format!("the message body is not valid JSON: {e}"),
            )),
        ),
        Ok(Value::Object(mut obj)) if is_eventbridge(&obj) => {
            let token_source = match non_empty_str(obj.get("id")) {
                Some(id) => TokenSource::EventBridgeEvent(id.to_owned()),
                None => message(),
            };
            (token_source, detail(&mut obj))
        }
        Ok(value) => (message(), Ok(value)),
    }
}

/// Parses a message body as JSON, refusing an object that gives one key twice. serde_json would
/// keep the last one, while other parsers (and whatever checked the message before it was sent)
/// may keep the first: `{"serviceActionId": "act-a", "serviceActionId": "act-b"}` could then be
/// vetted as one action and run as the other, so the body is rejected instead of guessed at. The
/// error (serde_json's `Data` category, unlike syntax errors) names the key, never a value.
///
/// Events the Lambda runtime parses (EventBridge, direct) never reach this: the runtime has
/// already kept the last duplicate by the time the handler sees them.
fn parse_body(body: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(body);
    let value = UniqueKeys::deserialize(&mut de)?.0;
    de.end()?;
    Ok(value)
}

/// A JSON value whose objects have unique keys; see [`parse_body`].
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                let shown: String = key.chars().take(64).flat_map(char::escape_debug).collect();
                return Err(de::Error::custom(format_args!(
                    "key \"{shown}\" appears twice in one object; give each key once"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            obj.insert(key, value);
        }
        Ok(Value::Object(obj))
    }
}

fn is_eventbridge(obj: &Map<String, Value>) -> bool {
    obj.contains_key("detail-type") && (obj.contains_key("detail") || obj.contains_key("source"))
}

fn detail(obj: &mut Map<String, Value>) -> Result<Value, RequestError> {
    match obj.remove("detail") {
        Some(Value::Null) | None => Err(RequestError::new("detail", "the EventBridge event has no `detail`")),
        Some(detail) => Ok(detail),
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Up to ten top-level keys, escaped and cut, for the unknown-shape error.
fn describe_keys(obj: &Map<String, Value>) -> String {
    if obj.is_empty() {
        return "none".to_owned();
    }
    let mut keys: Vec<String> = obj
        .keys()
        .take(10)
        .map(|k| format!("{:?}", k.chars().take(40).collect::<String>()))
        .collect();
    if obj.len() > 10 {
        keys.push(format!("… {} more", obj.len() - 10));
    }
    keys.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({"messageId": id, "receiptHandle": "rh", "body": body, "attributes": {},
               "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:requests"})
    }

    #[test]
    fn sqs_batch_records_become_items_with_their_message_ids() {
        let event = json!({"Records": [
            sqs_record("m-1", r#"{"provisionedProductId":"pp-1","serviceActionId":"act-1"}"#),
            sqs_record("m-2", "not json"),
        ]});
        let Inbound::Sqs { items, fifo } = classify(event, "req").unwrap() else {
            panic!("not sqs")
        };
        assert!(!fifo);
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].source,
            Source {
                kind: SourceKind::Sqs,
                id: "m-1".into()
            }
        );
        assert_eq!(items[0].token_source, TokenSource::SqsMessage("m-1".into()));
        assert_eq!(
            items[0].payload,
            Ok(json!({"provisionedProductId":"pp-1","serviceActionId":"act-1"}))
        );
        let err = items[1].payload.clone().unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.starts_with("the message body is not valid JSON"), "{err}");
    }

    #[test]
    fn sqs_wrapped_eventbridge_event_uses_detail_and_the_event_id() {
        let body = json!({"version": "0", "id": "evt-1", "detail-type": "Run action", "source": "my.app",
                          "detail": {"provisionedProductName": "web", "serviceActionName": "Restart"}})
        .to_string();
        let Inbound::Sqs { items, .. } = classify(json!({"Records": [sqs_record("m-1", &body)]}), "req").unwrap()
        else {
            panic!("not sqs")
        };
        assert_eq!(items[0].source.id, "m-1");
        assert_eq!(items[0].token_source, TokenSource::EventBridgeEvent("evt-1".into()));
        assert_eq!(
            items[0].payload,
            Ok(json!({"provisionedProductName": "web", "serviceActionName": "Restart"}))
        );
    }

    #[test]
    fn fifo_batches_are_recognised_by_group_id_or_arn() {
        let mut r = sqs_record("m-1", "{}");
        r["attributes"]["MessageGroupId"] = json!("g1");
        let Inbound::Sqs { items, fifo } = classify(json!({"Records": [r]}), "req").unwrap() else {
            panic!()
        };
        assert!(fifo);
        assert_eq!(items[0].message_group_id.as_deref(), Some("g1"));

        let mut r = sqs_record("m-1", "{}");
        r["eventSourceARN"] = json!("arn:aws:sqs:us-east-1:1:requests.fifo");
        let Inbound::Sqs { fifo, .. } = classify(json!({"Records": [r]}), "req").unwrap() else {
            panic!()
        };
        assert!(fifo);
    }

    #[test]
    fn eventbridge_event_straight_to_the_function() {
        let event = json!({"version": "0", "id": "evt-9", "detail-type": "Scheduled Event", "source": "aws.scheduler",
                           "account": "1", "time": "2026-11-26T00:00:00Z", "region": "us-east-1", "resources": [],
                           "detail": {"provisionedProductId": "pp-1", "serviceActionId": "act-1"}});
        let Inbound::Single(item) = classify(event, "req-1").unwrap() else {
            panic!()
        };
        assert_eq!(
            item.source,
            Source {
                kind: SourceKind::Eventbridge,
                id: "evt-9".into()
            }
        );
        assert_eq!(item.token_source, TokenSource::EventBridgeEvent("evt-9".into()));
        assert_eq!(
            item.payload,
            Ok(json!({"provisionedProductId": "pp-1", "serviceActionId": "act-1"}))
        );
    }

    #[test]
    fn eventbridge_event_without_detail_or_id() {
        let Inbound::Single(item) = classify(json!({"detail-type": "x", "source": "s"}), "req-1").unwrap() else {
            panic!()
        };
        assert_eq!(item.token_source, TokenSource::LambdaRequest("req-1".into()));
        assert_eq!(item.payload.unwrap_err().field, "detail");
    }

    #[test]
    fn direct_request_uses_the_lambda_request_id() {
        let event = json!({"provisionedProductName": "web", "serviceActionName": "Restart"});
        let Inbound::Single(item) = classify(event.clone(), "req-7").unwrap() else {
            panic!()
        };
        assert_eq!(
            item.source,
            Source {
                kind: SourceKind::Direct,
                id: "req-7".into()
            }
        );
        assert_eq!(item.token_source, TokenSource::LambdaRequest("req-7".into()));
        assert_eq!(item.payload, Ok(event));
        assert!(matches!(
            classify(json!({"ServiceActionId": "a"}), "r").unwrap(),
            Inbound::Single(_)
        ));
    }

    #[test]
    fn unknown_shapes_fail_the_invocation_clearly() {
        let e = classify(json!({"hello": "world"}), "r").unwrap_err();
        assert_eq!(e, EventError::UnknownShape("\"hello\"".into()));
        assert!(e.to_string().contains("unrecognised event shape"));
        assert_eq!(
            classify(json!({}), "r").unwrap_err(),
            EventError::UnknownShape("none".into())
        );
        assert_eq!(
            classify(json!([1]), "r").unwrap_err(),
            EventError::NotAnObject("an array")
        );
        assert_eq!(
            classify(json!("s"), "r").unwrap_err(),
            EventError::NotAnObject("a string")
        );
        assert_eq!(
            classify(json!({"Records": {}}), "r").unwrap_err(),
            EventError::RecordsNotAnArray("an object")
        );
        let many: Map<String, Value> = (0..12).map(|i| (format!("k{i:02}"), json!(1))).collect();
        let msg = classify(Value::Object(many), "r").unwrap_err().to_string();
        assert!(msg.contains("… 2 more"), "{msg}");
    }

    #[test]
    fn records_from_other_sources_or_without_message_id_fail_the_invocation() {
        let mut sns = sqs_record("m-1", "{}");
        sns["eventSource"] = json!("aws:sns");
        assert_eq!(
            classify(json!({"Records": [sqs_record("m-0", "{}"), sns]}), "r").unwrap_err(),
            EventError::UnsupportedEventSource {
                index: 1,
                event_source: "aws:sns".into()
            }
        );
        for bad in [json!(null), json!(""), json!(5)] {
            let mut r = sqs_record("x", "{}");
            r["messageId"] = bad;
            assert_eq!(
                classify(json!({"Records": [r]}), "r").unwrap_err(),
                EventError::RecordWithoutMessageId { index: 0 }
            );
        }
        let mut r = sqs_record("x", "{}");
        r.as_object_mut().unwrap().remove("messageId");
        assert_eq!(
            classify(json!({"Records": [sqs_record("ok", "{}"), r]}), "r").unwrap_err(),
            EventError::RecordWithoutMessageId { index: 1 }
        );
        assert_eq!(
            classify(json!({"Records": ["x"]}), "r").unwrap_err(),
            EventError::RecordWithoutMessageId { index: 0 }
        );
    }

    #[test]
    fn body_that_is_not_a_string_or_missing_is_that_records_problem_only() {
        let mut r = sqs_record("m-1", "");
        r["body"] = json!({"provisionedProductId": "pp"});
        let mut r2 = sqs_record("m-2", "");
        r2.as_object_mut().unwrap().remove("body");
        let Inbound::Sqs { items, .. } = classify(json!({"Records": [r, r2]}), "r").unwrap() else {
            panic!()
        };
        assert!(items[0]
            .payload
            .as_ref()
            .unwrap_err()
            .message
            .contains("must be a string"));
        assert!(items[1].payload.as_ref().unwrap_err().message.contains("has no body"));
    }

    #[test]
    fn an_sqs_record_carries_its_receipt_and_receive_count() {
        let mut r = sqs_record("m-1", "{}");
        r["attributes"]["ApproximateReceiveCount"] = json!("3");
        let Inbound::Sqs { items, .. } = classify(json!({"Records": [r]}), "req").unwrap() else {
            panic!()
        };
        assert_eq!(
            items[0].receipt,
            Some(Receipt {
                queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/requests".into(),
                handle: "rh".into(),
                receive_count: 3,
            })
        );
        assert_eq!(
            queue_url_of("arn:aws-cn:sqs:cn-north-1:1:q.fifo").as_deref(),
            Some("https://sqs.cn-north-1.amazonaws.com.cn/1/q.fifo")
        );
        assert_eq!(queue_url_of("arn:aws:sns:us-east-1:1:topic"), None);
        assert_eq!(queue_url_of("not an arn"), None);
    }

    #[test]
    fn a_work_items_debug_shows_no_payload() {
        let body = r#"{"provisionedProductId":"pp-1","serviceActionId":"act-1","parameters":{"Password":["hunter2"]}}"#;
        let event = json!({"Records": [sqs_record("m-1", body)]});
        let inbound = classify(event, "req").unwrap();
        let shown = format!("{inbound:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("Password"), "{shown}");
        assert!(shown.contains("m-1"), "{shown}");
    }

    #[test]
    fn empty_batch_is_an_empty_sqs_batch() {
        assert_eq!(
            classify(json!({"Records": []}), "r").unwrap(),
            Inbound::Sqs {
                items: vec![],
                fifo: false
            }
        );
    }

    #[test]
    fn a_body_with_a_duplicate_key_is_rejected_naming_the_key() {
        let body = r#"{"provisionedProductId": "pp-1", "serviceActionId": "act-allowed",
                       "serviceActionId": "act-other"}"#;
        let Inbound::Sqs { items, .. } = classify(json!({"Records": [sqs_record("m-1", body)]}), "r").unwrap() else {
            panic!("not sqs")
        };
        let err = items[0].payload.clone().unwrap_err();
        assert_eq!(err.field, "body");
        assert_eq!(
            err.message,
            "the message body is ambiguous: key \"serviceActionId\" appears twice in one object; give each key \
             once at line 2 column 40"
        );

        // At any depth: inside a wrapped EventBridge event's detail, and inside parameters.
        for body in [
            r#"{"detail-type": "x", "source": "s", "detail": {"serviceActionId": "a", "serviceActionId": "b"}}"#,
            r#"{"parameters": {"K": ["1"], "K": ["2"]}}"#,
            r#"[{"a": 1, "a": 1}]"#,
        ] {
            let Inbound::Sqs { items, .. } = classify(json!({"Records": [sqs_record("m-1", body)]}), "r").unwrap()
            else {
                panic!("not sqs")
            };
            let err = items[0].payload.clone().unwrap_err();
            assert!(
                err.message.starts_with("the message body is ambiguous: key "),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn bodies_without_duplicate_keys_parse_exactly_as_serde_json_parses_them() {
        for body in [
            r#"{"provisionedProductId": "pp-1", "serviceActionId": "act-1", "parameters": {"K": ["v", "w"]}}"#,
            r#"{"n": [0, -1, 1.5, 18446744073709551615, -9223372036854775808, 1e300], "b": [true, false, null]}"#,
            r#"{"nested": {"a": {"a": {"a": "\u00e9\ud83d\ude80"}}}, "a": []}"#,
            r#""just a string""#,
            "42",
        ] {
            assert_eq!(
                parse_body(body).unwrap(),
                serde_json::from_str::<Value>(body).unwrap(),
                "{body}"
            );
        }
        // Errors other than a duplicate key stay "not valid JSON".
        for body in ["{", "[1,]", r#"{"a": 1} x"#, &"[".repeat(10_000)] {
            let e = parse_body(body).unwrap_err();
            assert_ne!(e.classify(), serde_json::error::Category::Data, "{body}");
        }
    }
}
