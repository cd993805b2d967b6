//! Collecting the evidence of an alert from its events, and turning it into an [`Alert`].

use std::collections::HashSet;

use trailhound_model::{Event, Timestamp};

use crate::{Alert, RuleInfo, alert_id, remediation};

/// At most this many event ids are listed in an alert; `count` stays exact.
pub const MAX_EVENT_IDS: usize = 1000;

/// A set of distinct values, listed sorted in the alert. Hashed while events are added (one
/// look-up per event rather than a tree walk of string comparisons; broad rules add most
/// events of a run); values come from the logs, so the hasher keeps a random seed.
type Values = HashSet<String, ahash::RandomState>;

/// The events behind an alert, summarised: times, distinct values, ids and a count.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    source_ips: Values,
    countries: Values,
    user_agents: Values,
    event_names: Values,
    event_ids: Values,
    count: u64,
}

impl Evidence {
    /// Adds one event.
    pub fn add(&mut self, e: &Event) {
        self.first_seen = Some(self.first_seen.map_or(e.time, |t| t.min(e.time)));
        self.last_seen = Some(self.last_seen.map_or(e.time, |t| t.max(e.time)));
        insert_nonempty(&mut self.source_ips, &e.source_ip);
        if let Some(c) = e.country {
            insert_nonempty(&mut self.countries, c.as_str());
        }
        insert_nonempty(&mut self.user_agents, &e.user_agent);
        insert_nonempty(&mut self.event_names, &e.event_name);
        if self.event_ids.len() < MAX_EVENT_IDS {
            insert_nonempty(&mut self.event_ids, &e.event_id);
        }
        self.count += 1;
    }

    /// Evidence summarised elsewhere (the DataFusion engine aggregates it in SQL): the times of
    /// the earliest and latest events, the distinct values (empty ones are dropped), the event
    /// ids in stream order (the first [`MAX_EVENT_IDS`] distinct non-empty ones are kept, as
    /// [`add`](Evidence::add) keeps them) and the number of events.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        first_seen: Timestamp,
        last_seen: Timestamp,
        source_ips: impl IntoIterator<Item = String>,
        countries: impl IntoIterator<Item = String>,
        user_agents: impl IntoIterator<Item = String>,
        event_names: impl IntoIterator<Item = String>,
        event_ids_in_order: impl IntoIterator<Item = String>,
        count: u64,
    ) -> Self {
        let set = |values: &mut dyn Iterator<Item = String>| -> Values {
            values.filter(|v| !v.is_empty()).collect()
        };
        let mut event_ids = Values::default();
        for id in event_ids_in_order {
            if event_ids.len() >= MAX_EVENT_IDS {
                break;
            }
            if !id.is_empty() {
                event_ids.insert(id);
            }
        }
        Evidence {
            first_seen: Some(first_seen),
            last_seen: Some(last_seen),
            source_ips: set(&mut source_ips.into_iter()),
            countries: set(&mut countries.into_iter()),
            user_agents: set(&mut user_agents.into_iter()),
            event_names: set(&mut event_names.into_iter()),
            event_ids,
            count,
        }
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
            source_ips: sorted(self.source_ips),
            countries: sorted(self.countries),
            user_agents: sorted(self.user_agents),
            event_names: sorted(self.event_names),
            event_ids: sorted(self.event_ids),
            count: self.count,
            mitre: rule.mitre.iter().map(|m| (*m).to_owned()).collect(),
            remediation: remediation(access_key_id, user_arn),
            why,
            details,
            root_key: String::new(),
            principal: String::new(),
            suppressed_count: 0,
        }
    }
}

impl Evidence {
    /// Writes the evidence into `alert` (first and last seen, the distinct values, the event ids
    /// and the count), for alerts of rules that are loaded at run time rather than registered as
    /// a [`RuleInfo`] (Sigma rules). Times fall back to `alert.time` when no event was added.
    pub fn write_to(self, alert: &mut Alert) {
        alert.first_seen = self.first_seen.unwrap_or(alert.time);
        alert.last_seen = self.last_seen.unwrap_or(alert.time);
        alert.source_ips = sorted(self.source_ips);
        alert.countries = sorted(self.countries);
        alert.user_agents = sorted(self.user_agents);
        alert.event_names = sorted(self.event_names);
        alert.event_ids = sorted(self.event_ids);
        alert.count = self.count;
    }
}

/// The values of a set, sorted.
fn sorted(set: Values) -> Vec<String> {
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort_unstable();
    v
}

fn insert_nonempty(set: &mut Values, value: &str) {
    if !value.is_empty() && !set.contains(value) {
        set.insert(value.to_owned());
    }
}
