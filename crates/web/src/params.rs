//! Query parameters as the OpenAPI document describes them: each typed parameter has a pattern,
//! and the server accepts a value exactly when it matches (an empty value means "not given", as
//! an HTML form sends it). Schemathesis checks the two against each other in CI.
//!
//! Times (`since`, `until`) are the exception: the server reads every RFC 3339 time, date and
//! duration; the pattern describes the usual forms (days up to 28, so that every value it
//! allows is a real date).

use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use regex::Regex;
use serde::de::DeserializeOwned;

use crate::api::ApiError;

/// `Query<T>` whose refusal (a repeated parameter, …) is a JSON 400 like every other API error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// `limit`: 0 to 500, no sign, no leading zero.
pub const LIMIT: &str = "^(|500|[1-4][0-9]{2}|[1-9][0-9]|[0-9])$";
/// `offset`: 0 to 999,999,999,999,999, no sign, no leading zero.
pub const OFFSET: &str = "^(|0|[1-9][0-9]{0,14})$";
/// A severity, in lower case.
pub const SEVERITY: &str = "^(|low|medium|high|critical)$";
/// An alert status (`ack` is short for `acknowledged`).
pub const STATUS: &str = "^(|open|acknowledged|ack|closed)$";
/// An incident status filter: a status or `all`.
pub const INCIDENT_STATUS: &str = "^(|open|acknowledged|ack|closed|all)$";
/// A time: RFC 3339 in UTC, a date (midnight UTC), or a duration before now.
pub const TIME: &str = "^(|(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)?|([1-9][0-9]{0,3}(d|h|m|s|ms|us|ns)){1,3})$";

/// Every pattern above, compiled once (read by every request without a lock).
const ALL: [&str; 6] = [LIMIT, OFFSET, SEVERITY, STATUS, INCIDENT_STATUS, TIME];

fn matches(pattern: &'static str, value: &str) -> bool {
    static COMPILED: OnceLock<Vec<Regex>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        ALL.iter()
            .map(|p| Regex::new(p).expect("a valid pattern"))
            .collect()
    });
    let i = ALL
        .iter()
        .position(|p| *p == pattern)
        .expect("one of the patterns of this module");
    compiled[i].is_match(value)
}

/// The value of a parameter that must match `pattern`: `None` when absent or empty; 400 naming
/// the parameter when it does not match.
pub fn checked<'a>(
    name: &str,
    value: &'a Option<String>,
    pattern: &'static str,
    what: &str,
) -> Result<Option<&'a str>, ApiError> {
    let Some(v) = value.as_deref() else {
        return Ok(None);
    };
    if !matches(pattern, v) {
        return Err(ApiError::bad_request(format!("{name} {v:?} is not {what}")));
    }
    Ok(Some(v).filter(|v| !v.is_empty()))
}

/// `limit` ([`LIMIT`]), `default` when not given.
pub fn limit(value: &Option<String>, default: u64) -> Result<u64, ApiError> {
    Ok(number("limit", value, LIMIT, "0 to 500")?.unwrap_or(default))
}

/// `offset` ([`OFFSET`]), 0 when not given.
pub fn offset(value: &Option<String>) -> Result<u64, ApiError> {
    Ok(number("offset", value, OFFSET, "a whole number below 10^15")?.unwrap_or(0))
}

/// A whole-number parameter (`LIMIT` or `OFFSET`).
fn number(
    name: &str,
    value: &Option<String>,
    pattern: &'static str,
    what: &str,
) -> Result<Option<u64>, ApiError> {
    checked(name, value, pattern, what)?
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("{name} {s:?} is not {what}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_accept_exactly_the_documented_values() {
        let ok = |p, v: &str| matches(p, v);
        for v in ["", "0", "7", "50", "499", "500"] {
            assert!(ok(LIMIT, v), "{v}");
        }
        for v in ["501", "050", "-1", "+5", " 5", "5000", "1e2"] {
            assert!(!ok(LIMIT, v), "{v}");
        }
        assert!(ok(OFFSET, "999999999999999") && !ok(OFFSET, "1000000000000000"));
        for v in [
            "",
            "2026-01-12",
            "2026-01-12T10:00:00Z",
            "2026-01-12T10:00:00.5Z",
            "7d",
            "1h30m",
        ] {
            assert!(ok(TIME, v), "{v}");
            let now = 1_800_000_000_000_000_000;
            if !v.is_empty() {
                assert!(crate::api::parse_time(v, now).is_ok(), "{v}");
            }
        }
        for v in ["yesterday", "2026-13-01", "0d", "2026-01-12T25:00:00Z"] {
            assert!(!ok(TIME, v), "{v}");
        }
        assert!(ok(SEVERITY, "high") && !ok(SEVERITY, "HIGH"));
        assert!(ok(INCIDENT_STATUS, "all") && !ok(STATUS, "all"));
        assert_eq!(
            checked("limit", &Some("9999".into()), LIMIT, "0 to 500")
                .unwrap_err()
                .message,
            "limit \"9999\" is not 0 to 500"
        );
    }
}
