//! What a message names: [`ActionRequest`], parsed from JSON and validated against the API's limits
//! before anything is called.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// Longest provisioned product or service action id the API accepts.
pub(crate) const MAX_ID_LEN: usize = 100;
/// Longest provisioned product name the API accepts.
pub(crate) const MAX_NAME_LEN: usize = 128;
/// Longest service action name the API accepts.
pub(crate) const MAX_ACTION_NAME_LEN: usize = 256;
/// Most parameter keys in one call.
pub(crate) const MAX_PARAMETERS: usize = 200;
/// Longest parameter key.
pub(crate) const MAX_PARAMETER_KEY_LEN: usize = 50;
/// Most values for one parameter key.
pub(crate) const MAX_PARAMETER_VALUES: usize = 25;
/// Longest parameter value.
pub(crate) const MAX_PARAMETER_VALUE_LEN: usize = 512;
/// Longest idempotency key we take (it is hashed, so any length would do; this bounds abuse).
pub(crate) const MAX_IDEMPOTENCY_KEY_LEN: usize = 1024;

/// The provisioned product, as the message names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProductRef {
    Id(String),
    Name(String),
}

/// What a request acts on: one provisioned product (by id or name), the product that owns a
/// resource, or a fleet selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Product(ProductRef),
    /// The provisioned product that owns this resource (its `aws:servicecatalog:provisionedProductArn` tag).
    Resource(String),
    Fleet(crate::fleet::Selection),
}

impl Target {
    /// The form that goes into the ExecuteToken derivation: `id:<id>`, `name:<name>`,
    /// `resourceArn:<arn>` or `select:<canonical selection>`, as the message names it.
    pub fn token_label(&self) -> String {
        match self {
            Target::Product(product) => product.token_label(),
            Target::Resource(arn) => format!("resourceArn:{arn}"),
            Target::Fleet(selection) => selection.token_label(),
        }
    }
}

/// The service action, as the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionRef {
    Id(String),
    Name(String),
}

impl ProductRef {
    /// The form that goes into the ExecuteToken derivation: `id:<id>` or `name:<name>`.
    pub fn token_label(&self) -> String {
        match self {
            ProductRef::Id(id) => format!("id:{id}"),
            ProductRef::Name(name) => format!("name:{name}"),
        }
    }
}

impl ActionRef {
    /// The form that goes into the ExecuteToken derivation: `id:<id>` or `name:<name>`.
    pub fn token_label(&self) -> String {
        match self {
            ActionRef::Id(id) => format!("id:{id}"),
            ActionRef::Name(name) => format!("name:{name}"),
        }
    }
}

/// The languages the Service Catalog API accepts in `AcceptLanguage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptLanguage {
    En,
    Jp,
    Zh,
}

impl AcceptLanguage {
    /// Parses `en`, `jp` or `zh` (exactly, as the API spells them).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Self::En),
            "jp" => Some(Self::Jp),
            "zh" => Some(Self::Zh),
            _ => None,
        }
    }

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Jp => "jp",
            Self::Zh => "zh",
        }
    }
}

/// A validated request: "run this action on this provisioned product (or these)".
#[derive(Clone, PartialEq, Eq)]
pub struct ActionRequest {
    pub target: Target,
    pub action: ActionRef,
    /// Passed to the API unchanged; empty means "omit the member".
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Whether the request gave `parameters` at all (a fleet's children carry them only then).
    pub parameters_given: bool,
    pub accept_language: Option<AcceptLanguage>,
    pub idempotency_key: Option<String>,
    /// Run every check and change nothing.
    pub dry_run: bool,
    /// The fleet run this request is a child of.
    pub fleet_run_id: Option<String>,
}

/// Parameter values can carry secrets: Debug shows the keys only, so a stray `{:?}` leaks nothing.
impl fmt::Debug for ActionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionRequest")
            .field("target", &self.target)
            .field("action", &self.action)
            .field("parameter_keys", &self.parameter_keys())
            .field("accept_language", &self.accept_language)
            .field("idempotency_key", &self.idempotency_key)
            .field("dry_run", &self.dry_run)
            .field("fleet_run_id", &self.fleet_run_id)
            .finish()
    }
}

impl ActionRequest {
    /// The parameter keys, safe to log (values never are).
    pub fn parameter_keys(&self) -> Vec<&str> {
        self.parameters.keys().map(String::as_str).collect()
    }
}

/// What is wrong with a request; `field` names the member at fault (camelCase).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl RequestError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether `s` is a valid provisioned product or service action id: 1–100 of `[a-zA-Z0-9_-]`.
pub(crate) fn is_valid_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a valid provisioned product name: 1–128 of `[a-zA-Z0-9][a-zA-Z0-9._-]*`.
pub(crate) fn is_valid_product_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    (1..=MAX_NAME_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Whether `s` is a valid service action name: 1–256 of `[a-zA-Z0-9_\-.]*`.
pub(crate) fn is_valid_action_name(s: &str) -> bool {
    (1..=MAX_ACTION_NAME_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// A short, printable rendering of a bad value for an error message: escaped and cut to 64 chars.
fn shown(s: &str) -> String {
    let escaped: String = s.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() > 64 {
        let cut: String = escaped.chars().take(64).collect();
        format!("\"{cut}…\" ({} characters)", s.chars().count())
    } else {
        format!("\"{escaped}\"")
    }
}

/// Looks up a member by its camelCase name or the API's PascalCase name. `null` counts as absent;
/// both spellings at once is an error, since we could not tell which one was meant.
fn member<'a>(obj: &'a Map<String, Value>, camel: &str) -> Result<Option<&'a Value>, RequestError> {
    let pascal = pascal_case(camel);
    let a = obj.get(camel).filter(|v| !v.is_null());
    let b = obj.get(&pascal).filter(|v| !v.is_null());
    match (a, b) {
        (Some(_), Some(_)) => Err(RequestError::new(
            camel,
            format!("`{camel}` and `{pascal}` are the same field; give it once"),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

fn pascal_case(camel: &str) -> String {
    let mut chars = camel.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn string_member<'a>(obj: &'a Map<String, Value>, camel: &str) -> Result<Option<&'a str>, RequestError> {
    match member(obj, camel)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(RequestError::new(
            camel,
            format!("`{camel}` must be a string, got {}", type_name(other)),
        )),
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which of an `…Id` / `…Name` pair a request gave.
enum Named<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// Exactly one of `id_field` (a valid id) or `name_field` (valid by `name_ok`, described by
/// `name_rule` in the error message).
fn id_or_name<'a>(
    obj: &'a Map<String, Value>,
    id_field: &str,
    name_field: &str,
    name_ok: fn(&str) -> bool,
    name_rule: &str,
) -> Result<Named<'a>, RequestError> {
    match (string_member(obj, id_field)?, string_member(obj, name_field)?) {
        (Some(_), Some(_)) => Err(RequestError::new(
            id_field,
            format!("give either `{id_field}` or `{name_field}`, not both"),
        )),
        (None, None) => Err(RequestError::new(
            id_field,
            format!("one of `{id_field}` or `{name_field}` is required"),
        )),
        (Some(id), None) if is_valid_id(id) => Ok(Named::Id(id)),
        (Some(id), None) => Err(RequestError::new(
            id_field,
            format!(
                "`{id_field}` must be 1-100 characters of [a-zA-Z0-9_-], got {}",
                shown(id)
            ),
        )),
        (None, Some(name)) if name_ok(name) => Ok(Named::Name(name)),
        (None, Some(name)) => Err(RequestError::new(
            name_field,
            format!("`{name_field}` must be {name_rule}, got {}", shown(name)),
        )),
    }
}

/// Parses and validates a request. Unknown members are ignored.
pub fn parse_request(value: &Value) -> Result<ActionRequest, RequestError> {
    let Value::Object(obj) = value else {
        return Err(RequestError::new(
            "",
            format!("the request must be a JSON object, got {}", type_name(value)),
        ));
    };

    let target = parse_target(obj)?;

    let action = match id_or_name(
        obj,
        "serviceActionId",
        "serviceActionName",
        is_valid_action_name,
        "1-256 characters of [a-zA-Z0-9_.-]",
    )? {
        Named::Id(id) => ActionRef::Id(id.to_owned()),
        Named::Name(name) => ActionRef::Name(name.to_owned()),
    };

    let given_parameters = member(obj, "parameters")?;
    let parameters = match given_parameters {
        None => BTreeMap::new(),
        Some(v) => parse_parameters(v)?,
    };

    Ok(ActionRequest {
        target,
        action,
        parameters,
        parameters_given: given_parameters.is_some(),
        accept_language: accept_language(obj)?,
        idempotency_key: idempotency_key(obj)?,
        dry_run: dry_run(obj)?,
        fleet_run_id: fleet_run_id(obj)?,
    })
}

fn accept_language(obj: &Map<String, Value>) -> Result<Option<AcceptLanguage>, RequestError> {
    let Some(s) = string_member(obj, "acceptLanguage")? else {
        return Ok(None);
    };
    AcceptLanguage::parse(s).map(Some).ok_or_else(|| {
        RequestError::new(
            "acceptLanguage",
            format!("`acceptLanguage` must be one of en, jp, zh, got {}", shown(s)),
        )
    })
}

fn idempotency_key(obj: &Map<String, Value>) -> Result<Option<String>, RequestError> {
    match string_member(obj, "idempotencyKey")? {
        None => Ok(None),
        Some(k) if (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&k.chars().count()) => Ok(Some(k.to_owned())),
        Some(k) => Err(RequestError::new(
            "idempotencyKey",
            format!(
                "`idempotencyKey` must be 1-{MAX_IDEMPOTENCY_KEY_LEN} characters, got {}",
                k.chars().count()
            ),
        )),
    }
}

fn dry_run(obj: &Map<String, Value>) -> Result<bool, RequestError> {
    match member(obj, "dryRun")? {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(RequestError::new(
            "dryRun",
            format!("`dryRun` must be true or false, got {}", type_name(other)),
        )),
    }
}

fn fleet_run_id(obj: &Map<String, Value>) -> Result<Option<String>, RequestError> {
    match string_member(obj, "fleetRunId")? {
        None => Ok(None),
        Some(id) if crate::token::is_valid_execute_token(id) => Ok(Some(id.to_owned())),
        Some(id) => Err(RequestError::new(
            "fleetRunId",
            format!(
                "`fleetRunId` must be a fleet run id (1-128 of [a-zA-Z0-9_-]), got {}",
                shown(id)
            ),
        )),
    }
}

/// The members that name what a request acts on; exactly one must be given.
const TARGET_FIELDS: [&str; 4] = [
    "provisionedProductId",
    "provisionedProductName",
    "resourceArn",
    "select",
];

/// Exactly one of the target members, validated.
fn parse_target(obj: &Map<String, Value>) -> Result<Target, RequestError> {
    let mut given = Vec::new();
    for field in TARGET_FIELDS {
        if let Some(value) = member(obj, field)? {
            given.push((field, value));
        }
    }
    let all = "`provisionedProductId`, `provisionedProductName`, `resourceArn` or `select`";
    let (field, value) = match given.as_slice() {
        [] => {
            return Err(RequestError::new(
                "provisionedProductId",
                format!("one of {all} is required"),
            ))
        }
        [one] => *one,
        [(first, _), ..] => {
            let names: Vec<String> = given.iter().map(|(f, _)| format!("`{f}`")).collect();
            return Err(RequestError::new(
                *first,
                format!("give only one of {all}, got {}", names.join(" and ")),
            ));
        }
    };
    match field {
        "select" => crate::fleet::parse_selection(value).map(Target::Fleet),
        "resourceArn" => resource_arn(value).map(Target::Resource),
        _ => product(field, value).map(Target::Product),
    }
}

fn string_of<'a>(field: &str, value: &'a Value) -> Result<&'a str, RequestError> {
    value
        .as_str()
        .ok_or_else(|| RequestError::new(field, format!("`{field}` must be a string, got {}", type_name(value))))
}

fn product(field: &str, value: &Value) -> Result<ProductRef, RequestError> {
    let s = string_of(field, value)?;
    match field {
        "provisionedProductId" if is_valid_id(s) => Ok(ProductRef::Id(s.to_owned())),
        "provisionedProductId" => Err(RequestError::new(
            field,
            format!("`{field}` must be 1-100 characters of [a-zA-Z0-9_-], got {}", shown(s)),
        )),
        _ if is_valid_product_name(s) => Ok(ProductRef::Name(s.to_owned())),
        _ => Err(RequestError::new(
            field,
            format!(
                "`{field}` must be 1-128 characters matching [a-zA-Z0-9][a-zA-Z0-9._-]*, got {}",
                shown(s)
            ),
        )),
    }
}

fn resource_arn(value: &Value) -> Result<String, RequestError> {
    let arn = string_of("resourceArn", value)?;
    crate::resource::parse_arn(arn)
        .map(|_| arn.to_owned())
        .map_err(|why| RequestError::new("resourceArn", format!("`resourceArn` {why}, got {}", shown(arn))))
}

/// Parameters: an object of key → list of strings. Messages name the key but never echo a value.
fn parse_parameters(v: &Value) -> Result<BTreeMap<String, Vec<String>>, RequestError> {
    let Value::Object(map) = v else {
        return Err(RequestError::new(
            "parameters",
            format!(
                "`parameters` must be an object of key → list of strings, got {}",
                type_name(v)
            ),
        ));
    };
    if map.len() > MAX_PARAMETERS {
        return Err(RequestError::new(
            "parameters",
            format!(
                "`parameters` has {} keys; at most {MAX_PARAMETERS} are allowed",
                map.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (key, values) in map {
        let key_len = key.chars().count();
        if !(1..=MAX_PARAMETER_KEY_LEN).contains(&key_len) {
            return Err(RequestError::new(
                "parameters",
                format!(
                    "parameter key {} must be 1-{MAX_PARAMETER_KEY_LEN} characters, got {key_len}",
                    shown(key)
                ),
            ));
        }
        let field = format!("parameters.{key}");
        let Value::Array(values) = values else {
            return Err(RequestError::new(
                &field,
                format!(
                    "parameter {} must be a list of strings, got {}",
                    shown(key),
                    type_name(values)
                ),
            ));
        };
        if values.len() > MAX_PARAMETER_VALUES {
            return Err(RequestError::new(
                &field,
                format!(
                    "parameter {} has {} values; at most {MAX_PARAMETER_VALUES} are allowed",
                    shown(key),
                    values.len()
                ),
            ));
        }
        let mut list = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            match value {
                Value::String(s) if s.chars().count() <= MAX_PARAMETER_VALUE_LEN => list.push(s.clone()),
                Value::String(s) => {
                    return Err(RequestError::new(
                        &field,
                        format!(
                            "value {i} of parameter {} is {} characters; at most {MAX_PARAMETER_VALUE_LEN} are allowed",
                            shown(key),
                            s.chars().count()
                        ),
                    ))
                }
                other => {
                    return Err(RequestError::new(
                        &field,
                        format!(
                            "value {i} of parameter {} must be a string, got {}",
                            shown(key),
                            type_name(other)
                        ),
                    ))
                }
            }
        }
        out.insert(key.clone(), list);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> RequestError {
        parse_request(&v).expect_err("expected the request to be rejected")
    }

    #[test]
    fn minimal_request_by_ids() {
        let r = parse_request(&json!({"provisionedProductId": "pp-1", "serviceActionId": "act-1"})).unwrap();
        assert_eq!(r.target, Target::Product(ProductRef::Id("pp-1".into())));
        assert_eq!(r.action, ActionRef::Id("act-1".into()));
        assert!(r.parameters.is_empty());
        assert_eq!(r.accept_language, None);
        assert_eq!(r.idempotency_key, None);
    }

    #[test]
    fn full_request_by_names_with_unknown_fields_ignored() {
        let r = parse_request(&json!({
            "provisionedProductName": "web-prod.v2",
            "serviceActionName": "RestartService",
            "parameters": {"TARGET": ["i-1", "i-2"], "EMPTY": []},
            "acceptLanguage": "zh",
            "idempotencyKey": "nightly-2026-11-26",
            "comment": "ignored"
        }))
        .unwrap();
        assert_eq!(r.target, Target::Product(ProductRef::Name("web-prod.v2".into())));
        assert_eq!(r.action, ActionRef::Name("RestartService".into()));
        assert_eq!(r.parameters["TARGET"], vec!["i-1", "i-2"]);
        assert_eq!(r.parameters["EMPTY"], Vec::<String>::new());
        assert_eq!(r.accept_language, Some(AcceptLanguage::Zh));
        assert_eq!(r.idempotency_key.as_deref(), Some("nightly-2026-11-26"));
    }

    #[test]
    fn pascal_case_names_are_accepted() {
        let r = parse_request(&json!({
            "ProvisionedProductId": "pp-1", "ServiceActionName": "Restart",
            "Parameters": {"K": ["v"]}, "AcceptLanguage": "en", "IdempotencyKey": "k"
        }))
        .unwrap();
        assert_eq!(r.target, Target::Product(ProductRef::Id("pp-1".into())));
        assert_eq!(r.action, ActionRef::Name("Restart".into()));
        assert_eq!(r.parameters.len(), 1);
        assert_eq!(r.accept_language, Some(AcceptLanguage::En));
    }

    #[test]
    fn null_members_count_as_absent() {
        let r = parse_request(&json!({
            "provisionedProductId": null, "provisionedProductName": "web",
            "serviceActionId": "act-1", "parameters": null, "acceptLanguage": null
        }))
        .unwrap();
        assert_eq!(r.target, Target::Product(ProductRef::Name("web".into())));
    }

    #[test]
    fn not_an_object() {
        for v in [json!([]), json!("x"), json!(1), json!(null), json!(true)] {
            let e = err(v);
            assert!(e.message.contains("must be a JSON object"), "{e}");
        }
    }

    #[test]
    fn exactly_one_target_is_required_and_the_message_names_the_fields_given() {
        let e = err(json!({"provisionedProductId": "pp-1", "provisionedProductName": "web", "serviceActionId": "a"}));
        assert_eq!(e.field, "provisionedProductId");
        assert_eq!(
            e.message,
            "give only one of `provisionedProductId`, `provisionedProductName`, `resourceArn` or `select`, got \
             `provisionedProductId` and `provisionedProductName`"
        );
        let e = err(json!({"resourceArn": "arn:aws:s3:::b", "select": {"productId": "p"}, "serviceActionId": "a"}));
        assert_eq!(e.field, "resourceArn");
        assert!(e.message.ends_with("got `resourceArn` and `select`"), "{e}");
        let e = err(json!({"serviceActionId": "a"}));
        assert_eq!(
            e.message,
            "one of `provisionedProductId`, `provisionedProductName`, `resourceArn` or `select` is required"
        );
    }

    #[test]
    fn a_resource_arn_or_a_selection_is_a_target_of_its_own() {
        let r = parse_request(
            &json!({"resourceArn": "arn:aws:ec2:us-east-1:1:instance/i-1", "serviceActionName": "Restart"}),
        )
        .unwrap();
        assert_eq!(
            r.target,
            Target::Resource("arn:aws:ec2:us-east-1:1:instance/i-1".into())
        );
        assert_eq!(
            r.target.token_label(),
            "resourceArn:arn:aws:ec2:us-east-1:1:instance/i-1"
        );
        let e = err(json!({"resourceArn": "i-1", "serviceActionId": "a"}));
        assert_eq!(e.field, "resourceArn");
        assert!(e.message.starts_with("`resourceArn` must look like arn:"), "{e}");
        let e = err(json!({"resourceArn": 5, "serviceActionId": "a"}));
        assert_eq!(e.message, "`resourceArn` must be a string, got a number");
        let r = parse_request(&json!({"select": {"tags": {"env": "prod"}}, "serviceActionName": "PatchOS"})).unwrap();
        assert!(matches!(r.target, Target::Fleet(_)));
        assert!(r.target.token_label().starts_with("select:{"));
        let e = err(json!({"select": {}, "serviceActionName": "PatchOS"}));
        assert_eq!(e.field, "select");
    }

    #[test]
    fn dry_run_must_be_a_boolean_and_a_fleet_run_id_a_token() {
        let base = json!({"provisionedProductId": "pp-1", "serviceActionId": "a"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        assert!(parse_request(&with("dryRun", json!(true))).unwrap().dry_run);
        assert!(!parse_request(&base).unwrap().dry_run);
        for bad in [json!("true"), json!(1), json!([])] {
            let e = err(with("dryRun", bad));
            assert_eq!(e.field, "dryRun");
        }
        let r = parse_request(&with("fleetRunId", json!("abc123"))).unwrap();
        assert_eq!(r.fleet_run_id.as_deref(), Some("abc123"));
        assert_eq!(err(with("fleetRunId", json!("a/b"))).field, "fleetRunId");
        // Parameters given as {} are given (a fleet's children carry them); absent ones are not.
        assert!(parse_request(&with("parameters", json!({}))).unwrap().parameters_given);
        assert!(!parse_request(&base).unwrap().parameters_given);
    }

    #[test]
    fn action_id_and_name_are_exclusive_and_one_is_required() {
        let e = err(json!({"provisionedProductId": "pp-1", "serviceActionId": "a", "serviceActionName": "b"}));
        assert_eq!(e.field, "serviceActionId");
        assert!(e.message.contains("not both"));
        let e = err(json!({"provisionedProductId": "pp-1"}));
        assert!(e
            .message
            .contains("`serviceActionId` or `serviceActionName` is required"));
    }

    #[test]
    fn both_spellings_of_one_field_are_rejected() {
        let e = err(json!({"provisionedProductId": "pp-1", "ProvisionedProductId": "pp-2", "serviceActionId": "a"}));
        assert_eq!(e.field, "provisionedProductId");
        assert!(e.message.contains("same field"));
    }

    #[test]
    fn ids_are_checked_against_the_api_pattern_and_length() {
        let long = "a".repeat(101);
        for bad in ["", "pp 1", "pp/1", "pp-é", "pp-1\n", long.as_str()] {
            let e = err(json!({"provisionedProductId": bad, "serviceActionId": "a"}));
            assert_eq!(e.field, "provisionedProductId", "{bad:?}");
            assert!(e.message.contains("1-100 characters"), "{e}");
            let e = err(json!({"provisionedProductId": "pp-1", "serviceActionId": bad}));
            assert_eq!(e.field, "serviceActionId", "{bad:?}");
        }
        assert!(is_valid_id(&"a".repeat(100)));
    }

    #[test]
    fn overlong_values_are_shown_cut_and_escaped() {
        let e = err(json!({"provisionedProductId": "x\u{0}".repeat(200), "serviceActionId": "a"}));
        assert!(e.message.contains("(400 characters)"), "{e}");
        assert!(e.message.len() < 250, "{e}");
        assert!(!e.message.contains('\u{0}'));
    }

    #[test]
    fn product_names_follow_the_api_pattern() {
        assert!(is_valid_product_name("a"));
        assert!(is_valid_product_name("web-prod_1.2"));
        assert!(is_valid_product_name(&"a".repeat(128)));
        for bad in ["", "-web", ".web", "web prod", "wéb", &"a".repeat(129)] {
            assert!(!is_valid_product_name(bad), "{bad:?}");
            let e = err(json!({"provisionedProductName": bad, "serviceActionId": "a"}));
            assert_eq!(e.field, "provisionedProductName");
        }
    }

    #[test]
    fn wrong_types_name_the_field_and_the_type() {
        let e = err(json!({"provisionedProductId": 12, "serviceActionId": "a"}));
        assert_eq!(e.message, "`provisionedProductId` must be a string, got a number");
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a", "parameters": ["x"]}));
        assert_eq!(e.field, "parameters");
        assert!(e.message.contains("got an array"));
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a", "parameters": {"K": "v"}}));
        assert_eq!(e.field, "parameters.K");
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a", "parameters": {"K": [1]}}));
        assert_eq!(e.message, "value 0 of parameter \"K\" must be a string, got a number");
    }

    #[test]
    fn parameter_limits_are_the_apis() {
        let base = |params: Value| json!({"provisionedProductId": "pp", "serviceActionId": "a", "parameters": params});
        let keys: Map<String, Value> = (0..201).map(|i| (format!("k{i}"), json!([]))).collect();
        assert!(err(base(Value::Object(keys))).message.contains("201 keys"));
        let keys: Map<String, Value> = (0..200).map(|i| (format!("k{i}"), json!([]))).collect();
        assert!(parse_request(&base(Value::Object(keys))).is_ok());

        assert!(err(base(json!({"": ["v"]})))
            .message
            .contains("must be 1-50 characters"));
        assert!(parse_request(&base(json!({"k".repeat(50): ["v"]}))).is_ok());
        assert!(err(base(json!({"k".repeat(51): ["v"]}))).message.contains("got 51"));

        let many: Vec<String> = (0..26).map(|i| i.to_string()).collect();
        assert!(err(base(json!({"K": many}))).message.contains("26 values"));
        let ok: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        assert!(parse_request(&base(json!({"K": ok}))).is_ok());

        assert!(parse_request(&base(json!({"K": ["v".repeat(512)]}))).is_ok());
        let e = err(base(json!({"K": ["v".repeat(513)]})));
        assert_eq!(e.field, "parameters.K");
        assert!(e.message.contains("513 characters"));
    }

    #[test]
    fn parameter_values_never_appear_in_messages_or_debug() {
        let secret = "hunter2-super-secret";
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a",
            "parameters": {"Password": [secret, 5]}}));
        assert!(!e.message.contains(secret));
        let r = parse_request(&json!({"provisionedProductId": "pp", "serviceActionId": "a",
            "parameters": {"Password": [secret]}}))
        .unwrap();
        let debug = format!("{r:?}");
        assert!(debug.contains("Password") && !debug.contains(secret), "{debug}");
    }

    #[test]
    fn accept_language_and_idempotency_key_are_checked() {
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a", "acceptLanguage": "EN"}));
        assert_eq!(e.field, "acceptLanguage");
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a", "idempotencyKey": ""}));
        assert_eq!(e.field, "idempotencyKey");
        let e = err(json!({"provisionedProductId": "pp", "serviceActionId": "a", "idempotencyKey": 7}));
        assert_eq!(e.field, "idempotencyKey");
    }
}
