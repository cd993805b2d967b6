//! Collecting the evidence of an alert from its events, and turning it into an [`Alert`].

use std::collections::BTreeSet;

use trailhound_model::{Event, Timestamp};

use crate::{Alert, RuleInfo, alert_id, remediation};

/// At most this many event ids are listed in an alert; `count` stays exact.
pub const MAX_EVENT_IDS: usize = 1000;

/// The events behind an alert, summarised: times, distinct values, ids and a count.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    source_ips: BTreeSet<String>,
    countries: BTreeSet<String>,
    user_agents: BTreeSet<String>,
    event_names: BTreeSet<String>,
    event_ids: BTreeSet<String>,
    count: u64,
}

impl Evidence {
    /// Adds one event.
    pub fn add(&mut self, e: &Event) {
        self.first_seen = Some(self.first_seen.map_or(e.time, |t| t.min(e.time)));
        self.last_seen = Some(self.last_seen.map_or(e.time, |t| t.max(e.time)));
        insert_nonempty(&mut self.source_ips, &e.source_ip);
        if let Some(c) = e.country {
            self.countries.insert(c.to_string());
        }
        insert_nonempty(&mut self.user_agents, &e.user_agent);
        insert_nonempty(&mut self.event_names, &e.event_name);
        if self.event_ids.len() < MAX_EVENT_IDS {
            insert_nonempty(&mut self.event_ids, &e.event_id);
        }
        self.count += 1;
    }

    /// Number of events added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Builds the alert. `id_parts` (with the rule id) make the deterministic alert id.
    #[allow(clippy::too_many_arguments)]
    pub fn into_alert(
        self,
        rule: &RuleInfo,
        access_key_id: &str,
        user_arn: &str,
        time: Timestamp,
        id_parts: &[&str],
        why: String,
        details: serde_json::Value,
    ) -> Alert {
        let vec = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
        Alert {
            id: alert_id(rule.id, id_parts),
            rule_id: rule.id.to_owned(),
            rule_name: rule.name.to_owned(),
            severity: rule.severity,
            risk_score: rule.severity.risk_score(),
            access_key_id: access_key_id.to_owned(),
            user_arn: user_arn.to_owned(),
            time,
            first_seen: self.first_seen.unwrap_or(time),
            last_seen: self.last_seen.unwrap_or(time),
            source_ips: vec(self.source_ips),
            countries: vec(self.countries),
            user_agents: vec(self.user_agents),
            event_names: vec(self.event_names),
            event_ids: vec(self.event_ids),
            count: self.count,
            mitre: rule.mitre.iter().map(|m| (*m).to_owned()).collect(),
            remediation: remediation(access_key_id, user_arn),
            why,
            details,
        }
    }
}

impl Evidence {
    /// Writes the evidence into `alert` (first and last seen, the distinct values, the event ids
    /// and the count), for alerts of rules that are loaded at run time rather than registered as
    /// a [`RuleInfo`] (Sigma rules). Times fall back to `alert.time` when no event was added.
    pub fn write_to(self, alert: &mut Alert) {
        let vec = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
        alert.first_seen = self.first_seen.unwrap_or(alert.time);
        alert.last_seen = self.last_seen.unwrap_or(alert.time);
        alert.source_ips = vec(self.source_ips);
        alert.countries = vec(self.countries);
        alert.user_agents = vec(self.user_agents);
        alert.event_names = vec(self.event_names);
        alert.event_ids = vec(self.event_ids);
        alert.count = self.count;
    }
}

fn insert_nonempty(set: &mut BTreeSet<String>, value: &str) {
    if !value.is_empty() && !set.contains(value) {
        set.insert(value.to_owned());
    }
}
