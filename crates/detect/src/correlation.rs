//! D5 — Long-term key correlated with elevated alerts (seed 004, Elastic higher-order rule
//! "AWS IAM Long-Term Access Key Correlated with Elevated Detection Alerts",
//! 98cfaa44-83f0-4aba-90c4-363fb9d51a75).
//!
//! A higher-order rule: it reads alerts, not events. Given the alert store's *open* alerts (the
//! caller filters by status; acknowledging or closing an alert takes it out of the input), for
//! each group key — the access key id by default, the source IP as an option — it pairs the open
//! D2 alerts (`aws-akia-first-seen-source-ip`) with the open alerts of other rules whose risk
//! score is at least `min_risk_score` (47: medium, high, critical) and whose time lies within
//! `window` (24 h) of a D2 alert's time. Alerts of higher-order rules ([`HIGHER_ORDER_RULES`],
//! this rule among them) never count as siblings. One high (73) alert per group key and D2
//! cluster lists the siblings in `details.siblings`.
//!
//! Decisions:
//! * **One alert per key and window.** The D2 alerts of a group are taken in time order and
//!   clustered greedily: a cluster starts at its earliest D2 alert (the *anchor*) and takes every
//!   later D2 alert within `window` of the anchor; the next one starts a new cluster. A cluster
//!   counts the siblings within `window` of any of its D2 alerts (that is, in
//!   `[anchor − window, last D2 + window]`). Anchoring on the earliest alert, rather than chaining
//!   alerts each within `window` of the previous one, bounds a cluster to `window` (a key that
//!   shows up from a new address every few hours does not grow one endless alert) and keeps the
//!   id stable as later D2 alerts arrive.
//! * **Id:** [`alert_id`] of the rule id, the grouping (`access_key_id` / `source_ip`), the group
//!   key and the anchor's time. Re-running over the same open alerts gives the same ids; if a
//!   person closes the anchor, the next open D2 alert of the cluster becomes the anchor of a new
//!   alert.
//! * **Sibling time** is the sibling alert's `time` (the event time, or the start of its bin or
//!   hour), inclusive at both ends.
//! * **Evidence** (`source_ips`, `countries`, `user_agents`, `event_names`, `event_ids`,
//!   `first_seen`, `last_seen`) is the union over the cluster's D2 alerts and the siblings;
//!   `count` counts the distinct listed event ids plus, for alerts whose id list was capped, the
//!   events not listed (so an event behind both a D2 and a D3 alert counts once).
//! * **By source IP**, an alert joins the group of every address in its `source_ips`; the alert's
//!   `access_key_id`/`user_arn` are the anchor's, and `details.access_key_ids` lists every key
//!   involved, with one remediation command per key.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::json;
use trailhound_model::format_rfc3339;

use crate::evidence::MAX_EVENT_IDS;
use crate::{Alert, ConfigError, Severity, Span, alert_id, remediation};

/// The rule's stable id.
pub const RULE_ID: &str = "aws-akia-correlated-elevated-alerts";
/// The rule's name.
pub const RULE_NAME: &str = "Long-term key correlated with elevated alerts";
/// The rule's severity (risk score 73).
pub const SEVERITY: Severity = Severity::High;
/// MITRE ATT&CK techniques.
pub const MITRE: &[&str] = &["T1078.004", "T1552"];
/// The rule whose alerts anchor a correlation: D2, first seen from a source IP.
pub const FIRST_SEEN_RULE_ID: &str = crate::rules::first_seen_source_ip::RULE.id;
/// Rules that read alerts rather than events. Their alerts never count as siblings, so that
/// higher-order alerts do not feed each other.
pub const HIGHER_ORDER_RULES: &[&str] = &[RULE_ID];

/// True when `rule_id` is a higher-order rule ([`HIGHER_ORDER_RULES`]).
pub fn is_higher_order(rule_id: &str) -> bool {
    HIGHER_ORDER_RULES.contains(&rule_id)
}

/// What alerts are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The access key id (the default: what the Elastic rule's description intends).
    #[default]
    AccessKeyId,
    /// Each source IP address of the alerts (what Elastic's published query does).
    SourceIp,
}

impl GroupBy {
    /// The name used in the parameters and in `details.group_by`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GroupBy::AccessKeyId => "access_key_id",
            GroupBy::SourceIp => "source_ip",
        }
    }
}

/// Parameters (`[rules.aws-akia-correlated-elevated-alerts]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// A sibling counts when its time is within this of a D2 alert's time (either side).
    pub window: Span,
    /// Group alerts by access key id (default) or by source IP.
    pub group_by: GroupBy,
    /// Lowest risk score of a sibling (47: medium and above).
    pub min_risk_score: u8,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            window: Span::hours(24),
            group_by: GroupBy::AccessKeyId,
            min_risk_score: Severity::Medium.risk_score(),
        }
    }
}

impl Params {
    /// Parameters from a JSON object (`None`: the defaults); unknown fields are errors.
    pub fn from_json(v: Option<&serde_json::Value>) -> Result<Self, ConfigError> {
        match v {
            Some(v) => serde_json::from_value(v.clone()).map_err(|source| ConfigError::Params {
                rule: RULE_ID,
                source,
            }),
            None => Ok(Self::default()),
        }
    }
}

/// Runs D5 over open alerts (the caller passes only alerts whose status is open). Returns the
/// correlated alerts ordered by time then id; the same input, in any order, gives the same output.
pub fn correlate(params: &Params, open_alerts: &[Alert]) -> Vec<Alert> {
    // Distinct by id, in a fixed order, whatever the input order.
    let mut alerts: Vec<&Alert> = open_alerts.iter().collect();
    alerts.sort_by(|a, b| a.report_order().cmp(&b.report_order()));
    alerts.dedup_by(|a, b| a.id == b.id);

    #[derive(Default)]
    struct Group<'a> {
        first_seen: Vec<&'a Alert>,
        candidates: Vec<&'a Alert>,
    }
    let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    for a in alerts {
        let d2 = a.rule_id == FIRST_SEEN_RULE_ID;
        let candidate =
            !d2 && !is_higher_order(&a.rule_id) && a.risk_score >= params.min_risk_score;
        if !d2 && !candidate {
            continue;
        }
        for key in group_keys(params.group_by, a) {
            let g = groups.entry(key).or_default();
            if d2 {
                g.first_seen.push(a);
            } else {
                g.candidates.push(a);
            }
        }
    }

    let w = params.window.nanos();
    let mut out = Vec::new();
    for (key, g) in &groups {
        if g.candidates.is_empty() {
            continue;
        }
        let mut i = 0;
        while i < g.first_seen.len() {
            let anchor = g.first_seen[i];
            let end = g.first_seen[i..]
                .iter()
                .position(|d| d.time > anchor.time.saturating_add(w))
                .map_or(g.first_seen.len(), |n| i + n);
            let cluster = &g.first_seen[i..end];
            i = end;
            let last = cluster.last().expect("a cluster has its anchor");
            let (from, to) = (anchor.time.saturating_sub(w), last.time.saturating_add(w));
            let siblings: Vec<&Alert> = g
                .candidates
                .iter()
                .copied()
                .filter(|s| (from..=to).contains(&s.time))
                .collect();
            if !siblings.is_empty() {
                out.push(correlated(params, key, cluster, &siblings));
            }
        }
    }
    out.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
    out
}

/// The group keys of an alert: its root key (the long-term key behind a temporary one, see
/// [`crate::lineage`]) else its access key id, or each of its source IPs.
fn group_keys(by: GroupBy, a: &Alert) -> Vec<&str> {
    match by {
        GroupBy::AccessKeyId if !a.root_key.is_empty() => vec![&a.root_key],
        GroupBy::AccessKeyId if !a.access_key_id.is_empty() => vec![&a.access_key_id],
        GroupBy::AccessKeyId => Vec::new(),
        GroupBy::SourceIp => a
            .source_ips
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    }
}

/// The correlated alert of one cluster of D2 alerts (time-ordered, anchor first) and its
/// siblings (time-ordered).
fn correlated(params: &Params, key: &str, cluster: &[&Alert], siblings: &[&Alert]) -> Alert {
    let anchor = cluster[0];
    let all = || cluster.iter().chain(siblings).copied();
    let union = |f: fn(&Alert) -> &Vec<String>| -> Vec<String> {
        all()
            .flat_map(|a| f(a).iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let listed: BTreeSet<&str> = all()
        .flat_map(|a| a.event_ids.iter().map(String::as_str))
        .collect();
    let unlisted: u64 = all()
        .map(|a| a.count.saturating_sub(a.event_ids.len() as u64))
        .sum();
    let count = listed.len() as u64 + unlisted;
    let event_ids: Vec<String> = listed
        .iter()
        .take(MAX_EVENT_IDS)
        .map(|s| (*s).to_owned())
        .collect();

    // One remediation per access key, with the first ARN seen for it.
    let mut keys: BTreeMap<&str, &str> = BTreeMap::new();
    // Temporary keys are contained through the key that minted them (their root key).
    for a in all() {
        if trailhound_model::AccessKeyKind::of(&a.access_key_id)
            == trailhound_model::AccessKeyKind::LongTerm
        {
            keys.entry(&a.access_key_id).or_insert(&a.user_arn);
        } else if !a.root_key.is_empty() {
            keys.entry(&a.root_key).or_insert(&a.principal);
        }
    }
    let remediation = if keys.is_empty() {
        remediation(&anchor.access_key_id, &anchor.user_arn)
    } else {
        keys.iter()
            .map(|(k, arn)| remediation(k, arn))
            .collect::<Vec<_>>()
            .join("; ")
    };

    let sibling_json: Vec<serde_json::Value> = siblings
        .iter()
        .map(|s| {
            json!({
                "rule_id": s.rule_id,
                "rule_name": s.rule_name,
                "id": s.id,
                "severity": s.severity,
                "risk_score": s.risk_score,
                "time": format_rfc3339(s.time),
                "access_key_id": s.access_key_id,
            })
        })
        .collect();
    let first_seen_json: Vec<serde_json::Value> = cluster
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "time": format_rfc3339(d.time),
                "access_key_id": d.access_key_id,
                "source_ips": d.source_ips,
                "risk_score": d.risk_score,
            })
        })
        .collect();
    let rule_ids: BTreeSet<&str> = siblings.iter().map(|s| s.rule_id.as_str()).collect();
    let rule_names: BTreeSet<&str> = siblings.iter().map(|s| s.rule_name.as_str()).collect();

    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for s in siblings {
        *by_rule.entry(&s.rule_name).or_default() += 1;
    }
    let listing: Vec<String> = by_rule
        .iter()
        .map(|(name, n)| {
            if *n == 1 {
                (*name).to_owned()
            } else {
                format!("{name} ×{n}")
            }
        })
        .collect();
    let new_ips: BTreeSet<&str> = cluster
        .iter()
        .flat_map(|d| d.source_ips.iter().map(String::as_str))
        .collect();
    let subject = match params.group_by {
        GroupBy::AccessKeyId => format!("Access key {key}"),
        GroupBy::SourceIp => format!("Source IP {key}"),
    };
    let why = format!(
        "{subject} has {} open \"first seen from a source IP\" alert{} (from {} at {}) and {} other open alert{} with risk score ≥ {} within ±{} of it: {}.",
        cluster.len(),
        if cluster.len() == 1 { "" } else { "s" },
        new_ips.into_iter().collect::<Vec<_>>().join(", "),
        format_rfc3339(anchor.time),
        siblings.len(),
        if siblings.len() == 1 { "" } else { "s" },
        params.min_risk_score,
        params.window,
        listing.join(", "),
    );
    let details = json!({
        "group_by": params.group_by.as_str(),
        "group_key": key,
        "window": params.window.to_string(),
        "min_risk_score": params.min_risk_score,
        "first_seen_alerts": first_seen_json,
        "siblings": sibling_json,
        "sibling_rule_ids": rule_ids,
        "sibling_rule_names": rule_names,
        "access_key_ids": keys.keys().collect::<Vec<_>>(),
    });
    let anchor_time = format_rfc3339(anchor.time);
    Alert {
        id: alert_id(RULE_ID, &[params.group_by.as_str(), key, &anchor_time]),
        rule_id: RULE_ID.to_owned(),
        rule_name: RULE_NAME.to_owned(),
        severity: SEVERITY,
        risk_score: SEVERITY.risk_score(),
        access_key_id: anchor.access_key_id.clone(),
        user_arn: anchor.user_arn.clone(),
        time: anchor.time,
        first_seen: all().map(|a| a.first_seen).min().unwrap_or(anchor.time),
        last_seen: all().map(|a| a.last_seen).max().unwrap_or(anchor.time),
        source_ips: union(|a| &a.source_ips),
        countries: union(|a| &a.countries),
        user_agents: union(|a| &a.user_agents),
        event_names: union(|a| &a.event_names),
        event_ids,
        count,
        mitre: MITRE.iter().map(|m| (*m).to_owned()).collect(),
        remediation,
        why,
        details,
        root_key: anchor.root_key.clone(),
        principal: anchor.principal.clone(),
        suppressed_count: 0,
    }
}
