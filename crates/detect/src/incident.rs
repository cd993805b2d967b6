//! Incidents: the open alerts of one root key (or principal), as one thing to triage.
//!
//! The seeds' story is per long-term key: pivot on the access key id and look at everything that
//! happened to it. An incident is that pivot kept in the alert store: every alert whose
//! [`Alert::subject`] (the root key, else the principal) is the incident's, with a severity (its
//! worst alert's) and a risk score ([`risk_score`]) to rank incidents by.
//!
//! Decisions (`docs/decisions.md`, "Incidents"):
//! * An incident is **opened** by an open alert of at least [`Params::min_severity`] (medium by
//!   default); lower alerts join an incident their subject already has, and open none.
//! * **AWS services** acting on their own (principal `aws-service:…`) never open an incident.
//! * An incident that is closed stays closed: a later open alert of the same subject opens a new
//!   incident (its id is derived from the subject and the first alert that opened it).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use trailhound_model::{HOUR, Timestamp, format_rfc3339};

use crate::{Alert, Severity, alert_id, correlation};

/// What opens incidents (`[incidents]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Lowest severity of an alert of Trailhound's own rules (D1–D5) that opens an incident.
    pub min_severity: Severity,
    /// Lowest severity of a Sigma rule's alert that opens an incident: Sigma rules flag single
    /// actions that administrators and applications also take (a security group changed, an
    /// access key created), so by default only their high and critical alerts open one; lower
    /// ones join an incident their key or principal already has.
    pub sigma_min_severity: Severity,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            min_severity: Severity::Medium,
            sigma_min_severity: Severity::High,
        }
    }
}

/// The severity an alert weighs with in an incident's risk score: its own for Trailhound's
/// rules; one level lower for a Sigma rule's (its level rates the action alone, not what the key
/// did), low staying low.
pub fn weight(alert: &Alert) -> Severity {
    if !crate::is_sigma_rule(&alert.rule_id) {
        return alert.severity;
    }
    match alert.severity {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium | Severity::Low => Severity::Low,
    }
}

/// The principal prefix of AWS services acting on their own (see [`crate::lineage`]).
pub const AWS_SERVICE_PREFIX: &str = "aws-service:";

/// True when a subject is an AWS service, whose alerts never make an incident.
pub fn is_aws_service(subject: &str) -> bool {
    subject.starts_with(AWS_SERVICE_PREFIX)
}

/// True when `alert` may open an incident.
pub fn opens_incident(params: &Params, alert: &Alert) -> bool {
    let min = if crate::is_sigma_rule(&alert.rule_id) {
        params.sigma_min_severity
    } else {
        params.min_severity
    };
    alert.severity >= min && !is_aws_service(alert.subject())
}

/// The id of the incident a subject's alert opens.
pub fn incident_id(subject: &str, opening_alert_id: &str) -> String {
    alert_id("incident", &[subject, opening_alert_id])
}

/// What an incident's alerts say, recomputed whenever they change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The root key, else the principal.
    pub subject: String,
    /// The long-term key at the root (empty when none).
    pub root_key: String,
    /// The principal (user or role ARN).
    pub principal: String,
    /// The worst alert's severity.
    pub severity: Severity,
    /// See [`risk_score`].
    pub risk_score: u8,
    /// Earliest first seen of its alerts.
    #[serde(with = "crate::rfc3339")]
    pub first_seen: Timestamp,
    /// Latest last seen of its alerts.
    #[serde(with = "crate::rfc3339")]
    pub last_seen: Timestamp,
    /// Number of alerts.
    pub alert_count: u64,
    /// Alerts plus the alerts suppression folded into them.
    pub alerts_with_suppressed: u64,
    /// Distinct rule ids, sorted.
    pub rule_ids: Vec<String>,
    /// Distinct rule names (titles), worst rule first.
    pub rules: Vec<String>,
    /// Distinct countries of the evidence, sorted.
    pub countries: Vec<String>,
    /// Distinct source addresses of the evidence (at most 50), sorted.
    pub source_ips: Vec<String>,
    /// Distinct keys that signed the calls, sorted.
    pub access_key_ids: Vec<String>,
    /// Distinct user ARNs, sorted.
    pub user_arns: Vec<String>,
    /// True when D5 (the correlation rule) is among its alerts.
    pub correlated: bool,
    /// One line for a person: key, user, countries, span, rules.
    pub story: String,
}

impl Summary {
    /// Who the incident is about, for people: `ROOT_KEY · ACCOUNT:user/NAME`, or the principal.
    pub fn who(&self) -> String {
        if self.root_key.is_empty() {
            short_arn(&self.subject).to_owned()
        } else {
            format!("{} · {}", self.root_key, short_arn(&self.principal))
        }
    }
}

/// The incident's risk score, 0–100 (`docs/decisions.md`, "Incidents"): the risk score (21, 47,
/// 73, 99) of the worst alert as [`weight`]s it (a Sigma alert one level below its own), plus 5 for each distinct rule beyond the first (at most 15), plus 10
/// when one of Trailhound's key-compromise detections D1–D4 fired (they look at the key's
/// behaviour — new addresses, new agents, denied calls — where most Sigma rules flag actions that
/// administrators also take), plus 10 when the correlation rule D5 fired, plus 5 for each country
/// beyond the first (at most 10), plus 5 when the alerts span more than an hour; at most 100.
pub fn risk_score(
    worst: Severity,
    rules: usize,
    key_rule: bool,
    correlated: bool,
    countries: usize,
    span: Timestamp,
) -> u8 {
    let mut r = u32::from(worst.risk_score());
    r += (5 * rules.saturating_sub(1) as u32).min(15);
    r += if key_rule { 10 } else { 0 };
    r += if correlated { 10 } else { 0 };
    r += (5 * countries.saturating_sub(1) as u32).min(10);
    r += if span > HOUR { 5 } else { 0 };
    r.min(100) as u8
}

/// Summarises an incident's alerts (at least one).
pub fn summarize<'a>(subject: &str, alerts: impl IntoIterator<Item = &'a Alert>) -> Summary {
    let alerts: Vec<&Alert> = alerts.into_iter().collect();
    let set = |f: &dyn Fn(&Alert) -> Vec<String>| -> Vec<String> {
        alerts
            .iter()
            .flat_map(|a| f(a))
            .filter(|s| !s.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let worst = alerts
        .iter()
        .map(|a| a.severity)
        .max()
        .unwrap_or(Severity::Low);
    let weighed = alerts
        .iter()
        .map(|a| weight(a))
        .max()
        .unwrap_or(Severity::Low);
    let first_seen = alerts.iter().map(|a| a.first_seen).min().unwrap_or(0);
    let last_seen = alerts.iter().map(|a| a.last_seen).max().unwrap_or(0);
    let rule_ids = set(&|a| vec![a.rule_id.clone()]);
    let mut by_rule: Vec<(Severity, &str)> = alerts
        .iter()
        .map(|a| (a.severity, a.rule_name.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    by_rule.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
    let mut rules: Vec<String> = Vec::new();
    for (_, name) in by_rule {
        if !rules.iter().any(|r| r == name) {
            rules.push(name.to_owned());
        }
    }
    let countries = set(&|a| a.countries.clone());
    let mut source_ips = set(&|a| a.source_ips.clone());
    source_ips.truncate(50);
    let correlated = alerts
        .iter()
        .any(|a| correlation::is_higher_order(&a.rule_id));
    let first = alerts.first().copied();
    let root_key = first.map_or(String::new(), |a| a.root_key.clone());
    let principal = first.map_or(String::new(), |a| a.principal.clone());
    let user_arns = set(&|a| vec![a.user_arn.clone()]);
    let access_key_ids = set(&|a| vec![a.access_key_id.clone()]);
    let who = if principal.is_empty() {
        user_arns.first().cloned().unwrap_or_default()
    } else {
        principal.clone()
    };
    let story = format!(
        "{}{} — {}; {} to {}; {}",
        if root_key.is_empty() {
            String::new()
        } else {
            format!("{root_key} ")
        },
        short_arn(&who),
        if countries.is_empty() {
            "no country".to_owned()
        } else {
            countries.join(", ")
        },
        format_rfc3339(first_seen),
        format_rfc3339(last_seen),
        list_cut(&rules, 4),
    );
    Summary {
        subject: subject.to_owned(),
        root_key,
        principal,
        severity: worst,
        risk_score: risk_score(
            weighed,
            rule_ids.len(),
            rule_ids
                .iter()
                .any(|r| crate::rules::ALL.iter().any(|k| k.id == r)),
            correlated,
            countries.len(),
            last_seen - first_seen,
        ),
        first_seen,
        last_seen,
        alert_count: alerts.len() as u64,
        alerts_with_suppressed: alerts.iter().map(|a| 1 + a.suppressed_count).sum(),
        rule_ids,
        rules,
        countries,
        source_ips,
        access_key_ids,
        user_arns,
        correlated,
        story,
    }
}

/// `arn:aws:iam::123:user/bob` → `123:user/bob` (the partition and service say little to a
/// person; the account tells two roles of the same name apart).
pub fn short_arn(arn: &str) -> &str {
    ["arn:aws:iam::", "arn:aws:sts::"]
        .iter()
        .find_map(|p| arn.strip_prefix(p))
        .unwrap_or(arn)
}

/// The containment commands of an incident's alerts: every AWS CLI command their remediations
/// give (one a line; a Sigma alert's advice holds its command after a colon), in first-seen
/// order without repeats; else, for a root key, deactivating it.
pub fn containment<'a>(
    root_key: &str,
    principal: &str,
    alerts: impl IntoIterator<Item = &'a Alert>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in alerts {
        for line in a.remediation.lines() {
            if let Some(i) = line.find("aws iam ") {
                let cmd = line[i..].to_owned();
                if !out.contains(&cmd) {
                    out.push(cmd);
                }
            }
        }
    }
    if out.is_empty() && !root_key.is_empty() {
        out.push(crate::remediation(root_key, principal));
    }
    out
}

/// The first `n` items joined, with "and K more" for the rest.
pub fn list_cut(items: &[String], n: usize) -> String {
    let shown = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        format!("{shown} and {} more", items.len() - n)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::alert_on;

    #[test]
    fn risk_score_adds_rules_correlation_countries_and_span() {
        assert_eq!(risk_score(Severity::Medium, 1, false, false, 1, 0), 47);
        assert_eq!(
            risk_score(Severity::Medium, 3, false, false, 2, 2 * HOUR),
            47 + 10 + 5 + 5
        );
        assert_eq!(risk_score(Severity::Medium, 1, true, false, 1, 0), 57);
        assert_eq!(risk_score(Severity::High, 9, true, true, 9, 2 * HOUR), 100);
        assert_eq!(risk_score(Severity::Low, 1, false, false, 0, 0), 21);
    }

    #[test]
    fn summary_of_a_key_with_a_session() {
        let mut d2 = alert_on("AKIAROOT", "arn:aws:iam::1:user/bob");
        d2.rule_id = crate::rules::first_seen_source_ip::RULE.id.into();
        d2.rule_name = "First seen".into();
        d2.countries = vec!["DE".into()];
        d2.root_key = "AKIAROOT".into();
        d2.principal = "arn:aws:iam::1:user/bob".into();
        let mut s = alert_on("ASIAX", "arn:aws:iam::1:user/bob");
        s.rule_id = "sigma-x".into();
        s.rule_name = "Sigma X".into();
        s.severity = Severity::High;
        s.countries = vec!["RU".into()];
        s.root_key = "AKIAROOT".into();
        s.first_seen = 3 * HOUR;
        s.last_seen = 3 * HOUR;
        s.suppressed_count = 4;
        let sum = summarize("AKIAROOT", [&d2, &s]);
        assert_eq!(sum.severity, Severity::High);
        // The high Sigma alert weighs as medium: 47, two rules, D2, two countries, 3 h.
        assert_eq!(sum.risk_score, 47 + 5 + 10 + 5 + 5);
        assert_eq!(sum.rules, ["Sigma X", "First seen"]);
        assert_eq!(sum.access_key_ids, ["AKIAROOT", "ASIAX"]);
        assert_eq!(sum.alerts_with_suppressed, 6);
        assert_eq!(
            sum.story,
            "AKIAROOT 1:user/bob — DE, RU; 1970-01-01T00:00:00Z to 1970-01-01T03:00:00Z; Sigma X, First seen"
        );
        let p = Params::default();
        let mut medium = s.clone();
        medium.severity = Severity::Medium;
        // A high Sigma alert opens an incident, a medium one does not; a medium D2 does.
        assert!(opens_incident(&p, &s) && !opens_incident(&p, &medium));
        assert!(opens_incident(&p, &d2));
        let mut low = d2.clone();
        low.severity = Severity::Low;
        assert!(!opens_incident(&p, &low));
        let mut svc = s.clone();
        svc.root_key.clear();
        svc.principal = "aws-service:lambda.amazonaws.com".into();
        assert!(!opens_incident(&p, &svc));
    }
}
