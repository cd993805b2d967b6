//! Trailhound's detections: pure functions of the event stream, no I/O.
//!
//! * [`series`]: Kusto series functions (`series_outliers`, `series_stats_dynamic`, `make-series`
//!   binning, `sliding_window_counts`, `bin`/`bin_at`) with Kusto's exact semantics.
//! * [`rules`]: one module per detection. Each implements [`Detector`] and exports a [`RuleInfo`];
//!   the list [`rules::ALL`] is the only registration.
//!
//! A detector sees every event once, in time order ([`Detector::observe`]), may hand out alerts
//! that became final while it went ([`Detector::drain`]), and hands out the rest at the end
//! ([`Detector::finish`]). Alerts have the fields of the spec's §6 ([`Alert`]).
//!
//! Adding a rule: write `rules/<name>.rs` with a `pub const RULE: RuleInfo` and a type
//! implementing [`Detector`], then add `pub mod <name>;` and one `<name>::RULE,` line to
//! `rules/mod.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trailhound_model::{Event, Timestamp};

pub mod allow;
pub mod correlation;
pub mod evidence;
pub mod history;
pub mod incident;
pub mod lineage;
pub mod rules;
pub mod series;
mod span;
pub mod suppression;
pub mod threads;

pub use span::{Span, SpanError};

/// How bad an alert is. Each severity has a fixed risk score (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Risk score 21.
    Low,
    /// Risk score 47.
    Medium,
    /// Risk score 73.
    High,
    /// Risk score 99.
    Critical,
}

impl Severity {
    /// The risk score that goes with the severity: 21, 47, 73 or 99.
    pub const fn risk_score(self) -> u8 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    /// The lowercase name used in JSON and tables.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One alert, with the fields of the spec's §6 (the alert store adds `status`).
///
/// Times are nanoseconds since the Unix epoch in Rust and RFC 3339 UTC strings in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id from the rule id, the key and the window ([`alert_id`]): re-running a
    /// hunt over the same data gives the same ids.
    pub id: String,
    /// The rule's stable id, e.g. `aws-akia-failed-api-spike`.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// Severity.
    pub severity: Severity,
    /// Risk score (21, 47, 73, 99), from the severity.
    pub risk_score: u8,
    /// The access key the alert is about.
    pub access_key_id: String,
    /// The user ARN of the key.
    pub user_arn: String,
    /// The bin or event time the alert is about.
    #[serde(with = "rfc3339")]
    pub time: Timestamp,
    /// Time of the earliest evidence event.
    #[serde(with = "rfc3339")]
    pub first_seen: Timestamp,
    /// Time of the latest evidence event.
    #[serde(with = "rfc3339")]
    pub last_seen: Timestamp,
    /// Distinct source IP addresses of the evidence, sorted.
    pub source_ips: Vec<String>,
    /// Distinct countries (ISO 3166-1 alpha-2) of the evidence, sorted.
    pub countries: Vec<String>,
    /// Distinct user agents of the evidence, sorted.
    pub user_agents: Vec<String>,
    /// Distinct API names of the evidence, sorted.
    pub event_names: Vec<String>,
    /// Event ids of the evidence, sorted (capped; `count` is exact).
    pub event_ids: Vec<String>,
    /// Number of evidence events.
    pub count: u64,
    /// MITRE ATT&CK technique ids.
    pub mitre: Vec<String>,
    /// What to do, e.g. `aws iam update-access-key --access-key-id … --status Inactive --user-name …`.
    pub remediation: String,
    /// One or two sentences on why the rule fired.
    pub why: String,
    /// Rule-specific details (for D1: the seed's output columns under their KQL names).
    pub details: serde_json::Value,
    /// The long-term (`AKIA`) key at the root of the signing key's lineage: the key itself for
    /// a long-term key, the key that minted a temporary key (through any chain of
    /// `GetSessionToken`/`AssumeRole`/`GetFederationToken` calls seen in the data), else empty
    /// (see [`lineage`]). D5 and incidents group by it.
    #[serde(default)]
    pub root_key: String,
    /// Who stands behind the calls: the root key's user ARN, else the role (session issuer) ARN
    /// of a role session, else the caller's ARN; `aws-service:NAME` for AWS services acting on
    /// their own (see [`lineage`]).
    #[serde(default)]
    pub principal: String,
    /// Alerts folded into this one by suppression ([`suppression`]): 0 when it stands alone.
    #[serde(default)]
    pub suppressed_count: u64,
}

impl Alert {
    /// The order in which a detector's `finish` reports alerts: time, then rule, then id.
    pub fn report_order(&self) -> (Timestamp, &str, &str) {
        (self.time, &self.rule_id, &self.id)
    }

    /// What alerts of one attacker share: the root key, else the principal, else the key.
    pub fn subject(&self) -> &str {
        [&self.root_key, &self.principal, &self.access_key_id]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", |s| s.as_str())
    }
}

/// A period in which a rule could not raise alerts: its history was still building (the warm-up
/// of the new-terms rules D2 and D3, at the start of the data and after a gap longer than their
/// history window). Shown in the run summary, the report and the web UI, so that "no alert" is
/// not mistaken for "nothing happened".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindPeriod {
    /// The rule.
    pub rule_id: String,
    /// Its title.
    pub rule_name: String,
    /// From the first event of the period.
    #[serde(with = "rfc3339")]
    pub from: Timestamp,
    /// To the last event of the period.
    #[serde(with = "rfc3339")]
    pub until: Timestamp,
    /// Why the rule was blind.
    pub reason: String,
    /// The option that would change it.
    pub option: String,
}

impl BlindPeriod {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "{} raised no alert from {} to {}: {}. Option: {}",
            self.rule_name,
            trailhound_model::format_rfc3339(self.from),
            trailhound_model::format_rfc3339(self.until),
            self.reason,
            self.option
        )
    }
}

/// A detection over the event stream.
///
/// The caller feeds every event once, in time order (a few late events are tolerated as each rule
/// documents), then calls [`finish`](Detector::finish) once.
pub trait Detector: Send {
    /// The rule's stable id (spec §6), e.g. `aws-akia-failed-api-spike`.
    fn id(&self) -> &'static str;
    /// Sees one event.
    fn observe(&mut self, event: &Event);
    /// Alerts that became final since the last call (for continuous mode); empty by default.
    fn drain(&mut self) -> Vec<Alert> {
        Vec::new()
    }
    /// Ends the stream and returns every alert not yet handed out by [`drain`](Detector::drain).
    fn finish(&mut self) -> Vec<Alert>;
    /// The periods of the stream so far in which the rule could not raise alerts; none by
    /// default.
    fn blind(&self) -> Vec<BlindPeriod> {
        Vec::new()
    }
    /// For an engine of many rules (Sigma): per rule id, the number of events its detection
    /// matched so far, before any aggregation, grouping or suppression (what a per-event engine
    /// such as Suzaku reports as detections). Empty by default.
    fn matched_events(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// For a detector whose alerts may be taken as they become final ([`drain`]) during a
    /// hunt: how far before the last event it saw an alert's time may lie when `drain` hands
    /// it on. Its drained alerts and those of [`finish`](Detector::finish), sorted by time, rule
    /// id and id, are then exactly what `finish` alone would give, and a hunt folds them as they
    /// come (suppression). `None` (the default): a hunt takes its alerts at the end.
    ///
    /// [`drain`]: Detector::drain
    fn drain_delay(&self) -> Option<Timestamp> {
        None
    }
}

/// A rule's static description and constructor: the unit of registration in [`rules::ALL`].
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// Stable id, e.g. `aws-akia-failed-api-spike`.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// Severity of its alerts.
    pub severity: Severity,
    /// MITRE ATT&CK technique ids.
    pub mitre: &'static [&'static str],
    /// Builds the detector from its parameters (`None`: the defaults). Parameters are a JSON
    /// object deserialized into the rule's params struct, which rejects unknown fields.
    pub build: BuildFn,
}

/// A rule's constructor: parameters (`None`: defaults) to a boxed detector.
pub type BuildFn = fn(Option<&serde_json::Value>) -> Result<Box<dyn Detector>, ConfigError>;

/// Why the detection configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration names a rule that does not exist.
    #[error("unknown rule id {0:?}")]
    UnknownRule(String),
    /// The parameters do not deserialize (unknown field, wrong type, bad duration...).
    #[error("parameters of {rule}: {source}")]
    Params {
        /// The rule id.
        rule: &'static str,
        /// The deserialization error.
        source: serde_json::Error,
    },
    /// The parameters deserialize but make no sense (e.g. a zero bin).
    #[error("parameters of {rule}: {why}")]
    Invalid {
        /// The rule id.
        rule: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// Information on every rule, in registration order.
pub fn rules() -> &'static [RuleInfo] {
    rules::ALL
}

/// Builds one detector per registered rule. `params` maps rule ids to their parameter objects;
/// rules not named get their defaults, and an unknown rule id is an error.
pub fn build_detectors(
    params: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Box<dyn Detector>>, ConfigError> {
    if let Some(unknown) = params
        .keys()
        .find(|k| !rules::ALL.iter().any(|r| r.id == *k))
    {
        return Err(ConfigError::UnknownRule(unknown.clone()));
    }
    rules::ALL
        .iter()
        .map(|r| (r.build)(params.get(r.id)))
        .collect()
}

/// Deserializes a rule's parameters (`None`: the defaults); the rule's params type should reject
/// unknown fields.
pub fn parse_params<P: serde::de::DeserializeOwned + Default>(
    rule: &'static str,
    params: Option<&serde_json::Value>,
) -> Result<P, ConfigError> {
    match params {
        Some(v) => P::deserialize(v).map_err(|source| ConfigError::Params { rule, source }),
        None => Ok(P::default()),
    }
}

/// The prefix of the rule id of a Sigma rule's alerts: `sigma-<the rule's own id>` (the Sigma
/// crate makes them; suppression and incidents treat them apart from Trailhound's own rules).
pub const SIGMA_RULE_ID_PREFIX: &str = "sigma-";

/// True for the rule id of a Sigma rule's alerts ([`SIGMA_RULE_ID_PREFIX`]).
pub fn is_sigma_rule(rule_id: &str) -> bool {
    rule_id.starts_with(SIGMA_RULE_ID_PREFIX)
}

/// A deterministic alert id: 32 hex digits of two FNV-1a 64-bit hashes over the rule id and the
/// parts (each followed by a 0 byte). Stable across runs, platforms and Rust versions.
pub fn alert_id(rule_id: &str, parts: &[&str]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in std::iter::once(rule_id).chain(parts.iter().copied()) {
        for &byte in part.as_bytes().iter().chain(std::iter::once(&0u8)) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = b.rotate_left(5);
        }
    }
    format!("{a:016x}{b:016x}")
}

/// The remediation command for an access key: deactivate it. The user name is the last path
/// segment of an IAM user ARN (`arn:aws:iam::123456789012:user/path/Bob` → `Bob`); for other ARNs
/// (root) the command is given without `--user-name` (it then acts on the caller's own keys).
pub fn remediation(access_key_id: &str, user_arn: &str) -> String {
    let user = user_arn
        .split_once(":user/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
        .filter(|u| !u.is_empty());
    let key = shell_word(access_key_id);
    match user {
        Some(u) => format!(
            "aws iam update-access-key --access-key-id {key} --status Inactive --user-name {}",
            shell_word(u)
        ),
        None => format!("aws iam update-access-key --access-key-id {key} --status Inactive"),
    }
}

/// `s` as one POSIX shell word. Key ids and IAM user names (`[A-Za-z0-9+=,.@_-]`) pass as they
/// are; anything else came from a forged or broken log and is single-quoted, so that pasting the
/// command can never run something else.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Serde helpers: a [`Timestamp`] as an RFC 3339 UTC string.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use trailhound_model::{Timestamp, format_rfc3339, parse_rfc3339};

    /// Serializes a timestamp as RFC 3339 UTC.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*t))
    }

    /// Deserializes an RFC 3339 string into a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).map_err(|e| serde::de::Error::custom(format!("{e:?}: {s:?}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A bare alert on `key` (for the lineage and suppression tests).
    pub(crate) fn alert_on(key: &str, arn: &str) -> Alert {
        Alert {
            id: alert_id("t", &[key]),
            rule_id: "t".into(),
            rule_name: "Test".into(),
            severity: Severity::Medium,
            risk_score: 47,
            access_key_id: key.into(),
            user_arn: arn.into(),
            time: 0,
            first_seen: 0,
            last_seen: 0,
            source_ips: vec![],
            countries: vec![],
            user_agents: vec![],
            event_names: vec![],
            event_ids: vec![],
            count: 1,
            mitre: vec![],
            remediation: remediation(key, arn),
            why: String::new(),
            details: serde_json::json!({}),
            root_key: String::new(),
            principal: String::new(),
            suppressed_count: 0,
        }
    }

    #[test]
    fn severities_and_scores() {
        assert_eq!(Severity::Low.risk_score(), 21);
        assert_eq!(Severity::Medium.risk_score(), 47);
        assert_eq!(Severity::High.risk_score(), 73);
        assert_eq!(Severity::Critical.risk_score(), 99);
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), "\"high\"");
        assert_eq!(Severity::Critical.as_str(), "critical");
    }

    #[test]
    fn alert_ids_are_stable_and_distinct() {
        let a = alert_id("r", &["AKIA1", "2024"]);
        assert_eq!(a.len(), 32);
        assert_eq!(a, alert_id("r", &["AKIA1", "2024"]));
        assert_ne!(a, alert_id("r", &["AKIA12", "024"]));
        assert_ne!(a, alert_id("s", &["AKIA1", "2024"]));
        // Pinned so that a change of the hash (which would duplicate stored alerts) is noticed.
        assert_eq!(alert_id("x", &[]), alert_id("x", &[]));
        assert_eq!(&alert_id("", &[])[..16], "af63bd4c8601b7df");
    }

    #[test]
    fn remediation_commands() {
        assert_eq!(
            remediation("AKIAEXAMPLE", "arn:aws:iam::123456789012:user/division/Bob"),
            "aws iam update-access-key --access-key-id AKIAEXAMPLE --status Inactive --user-name Bob"
        );
        assert_eq!(
            remediation("AKIAEXAMPLE", "arn:aws:iam::123456789012:user/x;rm -rf ~'"),
            r"aws iam update-access-key --access-key-id AKIAEXAMPLE --status Inactive --user-name 'x;rm -rf ~'\'''"
        );
        assert_eq!(
            remediation("AKIAEXAMPLE", "arn:aws:iam::123456789012:root"),
            "aws iam update-access-key --access-key-id AKIAEXAMPLE --status Inactive"
        );
    }

    #[test]
    fn registry_builds_defaults_and_rejects_unknown() {
        let ds = build_detectors(&BTreeMap::new()).unwrap();
        assert_eq!(ds.len(), rules::ALL.len());
        assert_eq!(ds[0].id(), "aws-akia-failed-api-spike");
        let mut bad = BTreeMap::new();
        bad.insert("no-such-rule".to_owned(), serde_json::json!({}));
        assert!(matches!(
            build_detectors(&bad),
            Err(ConfigError::UnknownRule(_))
        ));
        let mut bad = BTreeMap::new();
        bad.insert(
            "aws-akia-failed-api-spike".to_owned(),
            serde_json::json!({"lookbak": "14d"}),
        );
        assert!(matches!(
            build_detectors(&bad),
            Err(ConfigError::Params { .. })
        ));
        let mut ok = BTreeMap::new();
        ok.insert(
            "aws-akia-failed-api-spike".to_owned(),
            serde_json::json!({"lookback": "7d", "iqr_zero": "zero"}),
        );
        assert_eq!(build_detectors(&ok).unwrap().len(), rules::ALL.len());
        let ids: Vec<&str> = rules().iter().map(|r| r.id).collect();
        assert!(ids.contains(&"aws-akia-failed-api-spike"));
    }

    #[test]
    fn alert_time_fields_are_rfc3339() {
        let a = Alert {
            id: "x".into(),
            rule_id: "r".into(),
            rule_name: "n".into(),
            severity: Severity::High,
            risk_score: 73,
            access_key_id: "AKIA".into(),
            user_arn: "arn".into(),
            time: 1_688_991_331_000_000_000,
            first_seen: 0,
            last_seen: 0,
            source_ips: vec![],
            countries: vec![],
            user_agents: vec![],
            event_names: vec![],
            event_ids: vec![],
            count: 0,
            mitre: vec![],
            remediation: String::new(),
            why: String::new(),
            details: serde_json::Value::Null,
            root_key: String::new(),
            principal: String::new(),
            suppressed_count: 0,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["time"], "2023-07-10T12:15:31Z");
        assert_eq!(v["first_seen"], "1970-01-01T00:00:00Z");
        let back: Alert = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
