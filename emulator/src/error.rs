//! AWS JSON 1.1 errors and the member validation that produces most of them.

/// An error the way the service reports it: an HTTP status, a `__type` code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid_parameters(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParametersException", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceNotFoundException", message)
    }

    pub(crate) fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidStateException", message)
    }

    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    pub(crate) fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new(400, "UnknownOperationException", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalFailure", message)
    }

    /// The body the SDKs parse: `{"__type": code, "message": …}`.
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.code, "message": self.message })
    }
}

/// Pattern of `Id` members: `[a-zA-Z0-9_\-]*`.
pub(crate) fn is_id_pattern(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Pattern of idempotency tokens: `[a-zA-Z0-9][a-zA-Z0-9_-]*`.
pub(crate) fn is_token_pattern(value: &str) -> bool {
    value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) && is_id_pattern(value)
}

/// Pattern of provisioned product names: `[a-zA-Z0-9][a-zA-Z0-9._-]*`.
pub(crate) fn is_name_pattern(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Validation failures worded like the service's (`Value … at 'Member' failed to satisfy
/// constraint: …`), always naming the member so a caller can tell which input was wrong.
/// Values are echoed only for identifiers, never for action parameters.
pub(crate) fn constraint(member: &str, shown: Option<&str>, constraint: &str) -> ApiError {
    let value = match shown {
        Some(v) => format!("Value '{v}'"),
        None => "Value".to_owned(),
    };
    ApiError::invalid_parameters(format!(
        "1 validation error detected: {value} at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

/// A required member is present.
pub(crate) fn required<'a>(member: &str, value: Option<&'a str>) -> Result<&'a str, ApiError> {
    value.ok_or_else(|| {
        ApiError::invalid_parameters(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// A string member's length in characters is within `min..=max`.
pub(crate) fn length(member: &str, value: &str, min: usize, max: usize, echo: bool) -> Result<(), ApiError> {
    let len = value.chars().count();
    let shown = echo.then_some(value);
    if len < min {
        return Err(constraint(
            member,
            shown,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(constraint(
            member,
            None,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// An identifier member: required-ness is checked by the caller; here length 1–100 and the id pattern.
pub(crate) fn id(member: &str, value: &str) -> Result<(), ApiError> {
    length(member, value, 1, 100, true)?;
    if !is_id_pattern(value) {
        return Err(constraint(
            member,
            Some(value),
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_\\-]*",
        ));
    }
    Ok(())
}

/// `AcceptLanguage`: optional, at most 100 characters.
pub(crate) fn accept_language(value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) => length("AcceptLanguage", v, 0, 100, true),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_api_model() {
        assert!(is_id_pattern("pp-abc_DEF-123"));
        assert!(!is_id_pattern("pp abc"));
        assert!(is_token_pattern("a-b_c"));
        assert!(!is_token_pattern("-abc"));
        assert!(!is_token_pattern(""));
        assert!(is_name_pattern("web.prod-1"));
        assert!(!is_name_pattern(".web"));
    }

    #[test]
    fn too_long_value_is_not_echoed_but_the_member_is_named() {
        let long = "x".repeat(101);
        let err = id("ServiceActionId", &long).expect_err("too long");
        assert_eq!(err.code, "InvalidParametersException");
        assert!(err.message.contains("'ServiceActionId'"), "{}", err.message);
        assert!(!err.message.contains(&long));
    }
}
