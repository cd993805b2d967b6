//! D4 — Unauthorized API call with an IAM access key (high).
//!
//! `AKIA` key events whose `errorCode` is in the unauthorized set (`AccessDenied`,
//! `AccessDeniedException`, `UnauthorizedOperation`, `Client.UnauthorizedOperation`), grouped per
//! key per hour (hour-aligned, UTC): one alert per group listing the calls, with a count.
//!
//! A group is final once the stream is past its hour by `grace` (default 1 h, for events that
//! arrive slightly out of order); [`Detector::drain`] hands out final groups.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use trailhound_model::{AccessKeyKind, Event, HOUR, Str, Timestamp, format_rfc3339};

use crate::evidence::Evidence;
use crate::{Alert, ConfigError, Detector, RuleInfo, Severity, Span, parse_params};

/// The rule's registration.
pub const RULE: RuleInfo = RuleInfo {
    id: "aws-akia-unauthorized-api-call",
    name: "Unauthorized API call with an IAM access key",
    severity: Severity::High,
    mitre: &["T1078", "T1552"],
    build,
};

/// Parameters (`[rules.aws-akia-unauthorized-api-call]` in the config).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Error codes that mean "not authorized" (exact, case-sensitive).
    pub error_codes: Vec<String>,
    /// How long after its hour a group still accepts late events before it is final.
    pub grace: Span,
}

impl Default for Params {
    fn default() -> Self {
        let codes = [
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "Client.UnauthorizedOperation",
        ];
        Self {
            error_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            grace: Span::hours(1),
        }
    }
}

fn build(params: Option<&serde_json::Value>) -> Result<Box<dyn Detector>, ConfigError> {
    Ok(Box::new(UnauthorizedApiCall::new(parse_params(
        RULE.id, params,
    )?)))
}

struct Group {
    user_arn: Str,
    evidence: Evidence,
    error_codes: BTreeMap<String, u64>,
}

/// The detector.
pub struct UnauthorizedApiCall {
    params: Params,
    /// Open groups by (hour start, access key id).
    groups: BTreeMap<(Timestamp, Str), Group>,
    ready: Vec<Alert>,
}

impl UnauthorizedApiCall {
    /// A detector with the given parameters.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            groups: BTreeMap::new(),
            ready: Vec::new(),
        }
    }

    fn close_until(&mut self, limit: Timestamp) {
        while let Some(entry) = self.groups.first_entry() {
            if entry.key().0 >= limit {
                break;
            }
            let ((hour, key), g) = entry.remove_entry();
            self.ready
                .push(alert(hour, &key, &g.user_arn, g.evidence, g.error_codes));
        }
    }
}

/// The alert for the unauthorized calls of key `key` (user `user_arn`) in the hour from `hour`:
/// their evidence and the count of each error code.
pub fn alert(
    hour: Timestamp,
    key: &str,
    user_arn: &str,
    evidence: Evidence,
    error_codes: BTreeMap<String, u64>,
) -> Alert {
    let n = evidence.count();
    let codes: Vec<String> = error_codes
        .iter()
        .map(|(c, k)| format!("{c} ×{k}"))
        .collect();
    let why = format!(
        "Access key {key} made {n} API call{} refused as unauthorized in the hour from {} ({}).",
        if n == 1 { "" } else { "s" },
        format_rfc3339(hour),
        codes.join(", "),
    );
    let details = json!({ "error_codes": error_codes, "hour": format_rfc3339(hour) });
    evidence.into_alert(
        &RULE,
        key,
        user_arn,
        hour,
        &[key, &format_rfc3339(hour)],
        why,
        details,
    )
}

impl Detector for UnauthorizedApiCall {
    fn id(&self) -> &'static str {
        RULE.id
    }

    fn observe(&mut self, e: &Event) {
        self.close_until(e.time.div_euclid(HOUR) * HOUR - self.params.grace.nanos());
        if e.key_kind() != AccessKeyKind::LongTerm
            || !self.params.error_codes.iter().any(|c| *c == e.error_code)
        {
            return;
        }
        let hour = e.time.div_euclid(HOUR) * HOUR;
        let g = self
            .groups
            .entry((hour, e.user.access_key_id.clone()))
            .or_insert_with(|| Group {
                user_arn: e.user.arn.clone(),
                evidence: Evidence::default(),
                error_codes: BTreeMap::new(),
            });
        g.evidence.add(e);
        *g.error_codes.entry(e.error_code.to_string()).or_default() += 1;
    }

    fn drain(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.ready)
    }

    fn finish(&mut self) -> Vec<Alert> {
        self.close_until(Timestamp::MAX);
        self.drain()
    }
}
