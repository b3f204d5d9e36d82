//! The control API under `/_emulator/`: faults, rate limits, counters, call times, product
//! status, reset. See the crate docs for the routes.

use std::time::Instant;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::Fault;
use crate::ratelimit::check_rate;
use crate::server::{json_response, HttpResponse};
use crate::shared::Shared;

fn control_error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    json_response(status, &json!({ "error": message.into() }))
}

fn control_ok() -> HttpResponse {
    json_response(StatusCode::OK, &json!({ "ok": true }))
}

fn to_json(value: Result<Value, serde_json::Error>) -> HttpResponse {
    match value {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => control_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The value of `name` in a query string (no percent-decoding: operation names need none).
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

pub(crate) fn route(shared: &Shared, method: &Method, path: &str, query: &str, body: &[u8]) -> HttpResponse {
    let path = path.trim_end_matches('/');
    match (method, path) {
        (&Method::GET, "health") => control_ok(),
        (&Method::GET, "counters") => to_json(serde_json::to_value(shared.counters())),
        (&Method::POST, "reset") => {
            shared.reset();
            control_ok()
        }
        (_, "faults") => faults(shared, method, body),
        (_, "rate-limits") => rate_limits(shared, method, query, body),
        (&Method::GET, "call-times") => call_times(shared, query),
        (&Method::POST, _) => match path
            .strip_prefix("provisioned-products/")
            .and_then(|rest| rest.strip_suffix("/status"))
        {
            Some(pp_id) => set_status(shared, pp_id, body),
            None => not_found(method, path),
        },
        _ => not_found(method, path),
    }
}

fn not_found(method: &Method, path: &str) -> HttpResponse {
    control_error(
        StatusCode::NOT_FOUND,
        format!("no control route {method} /_emulator/{path}"),
    )
}

fn faults(shared: &Shared, method: &Method, body: &[u8]) -> HttpResponse {
    match *method {
        Method::GET => to_json(serde_json::to_value(shared.traffic().faults.rules()).map(|v| json!({ "faults": v }))),
        Method::DELETE => {
            shared.traffic().faults.clear();
            control_ok()
        }
        Method::POST => {
            let fault: Fault = match serde_json::from_slice(body) {
                Ok(f) => f,
                Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {e}")),
            };
            if let Err(e) = fault.check() {
                return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {e}"));
            }
            shared.traffic().faults.push(fault);
            control_ok()
        }
        _ => not_found(method, "faults"),
    }
}

fn rate_limits(shared: &Shared, method: &Method, query: &str, body: &[u8]) -> HttpResponse {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct RateLimitBody {
        operation: String,
        per_second: f64,
    }
    match *method {
        Method::GET => {
            to_json(serde_json::to_value(shared.traffic().rate_limits.rates()).map(|v| json!({ "rateLimits": v })))
        }
        Method::DELETE => {
            let mut traffic = shared.traffic();
            match query_param(query, "operation") {
                Some(op) => traffic.rate_limits.remove(op),
                None => traffic.rate_limits.clear(),
            }
            control_ok()
        }
        Method::POST => {
            let parsed: RateLimitBody = match serde_json::from_slice(body) {
                Ok(b) => b,
                Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("invalid rate limit: {e}")),
            };
            if let Err(e) = check_rate(&parsed.operation, parsed.per_second) {
                return control_error(StatusCode::BAD_REQUEST, format!("invalid rate limit: {e}"));
            }
            shared
                .traffic()
                .rate_limits
                .set(&parsed.operation, parsed.per_second, Instant::now());
            control_ok()
        }
        _ => not_found(method, "rate-limits"),
    }
}

fn call_times(shared: &Shared, query: &str) -> HttpResponse {
    let traffic = shared.traffic();
    match query_param(query, "operation") {
        Some(op) => json_response(
            StatusCode::OK,
            &json!({ "operation": op, "times": traffic.call_times(op) }),
        ),
        None => to_json(serde_json::to_value(traffic.all_call_times()).map(|v| json!({ "callTimes": v }))),
    }
}

fn set_status(shared: &Shared, pp_id: &str, body: &[u8]) -> HttpResponse {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct StatusBody {
        status: String,
        status_message: Option<String>,
    }
    let parsed: StatusBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("expected {{\"Status\": …}}: {e}")),
    };
    if shared.state().set_status(pp_id, &parsed.status, parsed.status_message) {
        control_ok()
    } else {
        control_error(StatusCode::NOT_FOUND, format!("no provisioned product {pp_id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_found_by_name() {
        assert_eq!(
            query_param("operation=DescribeRecord", "operation"),
            Some("DescribeRecord")
        );
        assert_eq!(query_param("a=1&operation=X", "operation"), Some("X"));
        assert_eq!(query_param("", "operation"), None);
    }
}
