//! Logging: `tracing` to stdout, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, at the level of
//! `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO) — like `lambda_runtime`'s default subscriber,
//! with one difference: the runtime logs every raw event at TRACE, and events carry parameter
//! values (which can be secrets), so that one target is capped at DEBUG whatever the level.

use tracing_subscriber::EnvFilter;

/// Where lambda_runtime logs the raw event payload (at TRACE).
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

/// The filter directives for a configured level (`AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` syntax).
pub(crate) fn directives(level: Option<&str>) -> String {
    let level = match level.map(str::trim) {
        None | Some("") => "info".to_owned(),
        // Lambda's log levels include FATAL, which tracing calls ERROR.
        Some(l) if l.eq_ignore_ascii_case("fatal") => "error".to_owned(),
        Some(l) => l.to_owned(),
    };
    format!("{level},{RAW_EVENT_TARGET}=debug")
}

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let filter = EnvFilter::builder().parse_lossy(directives(level.as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Lambda adds its own timestamps; targets are noise in function logs.
    // No colour codes: Lambda writes stdout to a log, never to a terminal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .without_time();
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_event_target_is_capped_at_debug_at_any_level() {
        for level in [
            None,
            Some("trace"),
            Some("TRACE"),
            Some("debug"),
            Some("sc_action_runner=trace,trace"),
        ] {
            let d = directives(level);
            assert!(d.ends_with(",lambda_runtime::layers::api_response=debug"), "{d}");
            let filter = EnvFilter::builder().parse_lossy(&d);
            assert!(filter.max_level_hint().is_some());
        }
        assert_eq!(directives(None), "info,lambda_runtime::layers::api_response=debug");
        assert_eq!(
            directives(Some("FATAL")),
            "error,lambda_runtime::layers::api_response=debug"
        );
    }
}
