//! A key's hourly activity rebuilt from its alerts, for front ends that have the alert store but
//! not the events (the web UI): the data the charts need, as far as the alerts' evidence tells.
//!
//! * **Unauthorized calls per hour** come from the alerts of rule D4
//!   (`aws-akia-unauthorized-api-call`), which groups *every* unauthorized call of a long-term
//!   key per key and hour (the same four error codes as the report's chart) and counts them: an
//!   hour without a D4 alert had no unauthorized call (unless an allow-list hid it). The API
//!   names are those of the D4 alert.
//! * **Events of an hour** are the evidence events of the alerts whose evidence starts in that
//!   hour (`first_seen`): the distinct event ids listed, plus the events beyond a capped id list.
//!   They are the events behind alerts, not every call the key made.
//! * **Countries and source IPs**: an alert with one address pairs it with its country (or with
//!   none, when the alert has no country); so does an alert with no country for each of its
//!   addresses. An address of an alert that lists several addresses and countries takes the
//!   country other alerts paired it with; when none did, it is counted in `other_sources`, and
//!   its alert's countries still get their lanes. An address listed by a multi-address alert
//!   counts at least one event (and one unauthorized call, for D4): a lower bound.
//!
//! Higher-order alerts (D5) are left out: their evidence is the union of other alerts'.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use trailhound_detect::Alert;
use trailhound_detect::correlation::is_higher_order;
use trailhound_detect::rules::unauthorized_api_call;
use trailhound_model::{Country, HOUR, Str, Timestamp};

use crate::activity::{MAX_COUNTRIES_PER_HOUR, MAX_NAMES_PER_HOUR, MAX_SOURCES_PER_HOUR};
use crate::{HourActivity, KeyActivity, OtherSources, SourceHour};

#[derive(Default)]
struct SourceAcc<'a> {
    country: Option<Country>,
    ids: BTreeSet<&'a str>,
    beyond_ids: u64,
    at_least: u64,
    unauthorized: u64,
    unauthorized_at_least: u64,
}

#[derive(Default)]
struct HourAcc<'a> {
    ids: BTreeSet<&'a str>,
    beyond_ids: u64,
    unauthorized: u64,
    names: BTreeSet<&'a str>,
    countries: BTreeSet<Country>,
    sources: BTreeMap<&'a str, SourceAcc<'a>>,
    other: OtherSources,
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The activity of `key` as its alerts tell it (see the module documentation for what each
/// number means); `None` when no alert of the key (other than higher-order ones) is given.
/// `successful` holds the evidence events that were not unauthorized calls.
pub fn activity_from_alerts<'a>(
    key: &str,
    alerts: impl IntoIterator<Item = &'a Alert>,
) -> Option<KeyActivity> {
    let d4 = unauthorized_api_call::RULE.id;
    let mut alerts: Vec<&Alert> = alerts
        .into_iter()
        .filter(|a| a.access_key_id == key && !is_higher_order(&a.rule_id))
        .collect();
    if alerts.is_empty() {
        return None;
    }
    alerts.sort_by(|a, b| (a.first_seen, &a.id).cmp(&(b.first_seen, &b.id)));
    // Addresses whose country an alert tells for sure.
    let mut paired: HashMap<&str, Option<Country>> = HashMap::new();
    for a in &alerts {
        let sure = match (a.source_ips.len(), a.countries.as_slice()) {
            (1, [c]) => Some(Country::new(c)),
            (_, []) => Some(None),
            _ => None,
        };
        if let Some(country) = sure {
            for ip in &a.source_ips {
                let e = paired.entry(ip.as_str()).or_insert(country);
                if e.is_none() {
                    *e = country;
                }
            }
        }
    }
    let mut hours: BTreeMap<Timestamp, HourAcc> = BTreeMap::new();
    for a in &alerts {
        let h = hours
            .entry(a.first_seen.div_euclid(HOUR) * HOUR)
            .or_default();
        let beyond = a.count.saturating_sub(a.event_ids.len() as u64);
        h.ids.extend(a.event_ids.iter().map(String::as_str));
        h.beyond_ids += beyond;
        let is_d4 = a.rule_id == d4;
        if is_d4 {
            h.unauthorized += a.count;
            h.names.extend(a.event_names.iter().map(String::as_str));
        }
        h.countries
            .extend(a.countries.iter().filter_map(|c| Country::new(c)));
        let single = a.source_ips.len() == 1;
        for ip in &a.source_ips {
            let Some(&country) = paired.get(ip.as_str()) else {
                h.other.events = h.other.events.saturating_add(1);
                h.other.unauthorized = h.other.unauthorized.saturating_add(u32::from(is_d4));
                continue;
            };
            let s = h.sources.entry(ip.as_str()).or_default();
            s.country = s.country.or(country);
            if single {
                s.ids.extend(a.event_ids.iter().map(String::as_str));
                s.beyond_ids += beyond;
                if is_d4 {
                    s.unauthorized += a.count;
                }
            } else {
                s.at_least = s.at_least.max(1);
                if is_d4 {
                    s.unauthorized_at_least = s.unauthorized_at_least.max(1);
                }
            }
        }
    }
    let hours: Vec<HourActivity> = hours
        .into_iter()
        .map(|(hour, h)| hour_activity(hour, h))
        .collect();
    let user_arn = alerts
        .iter()
        .map(|a| a.user_arn.as_str())
        .find(|a| !a.is_empty())
        .unwrap_or_default()
        .to_owned();
    Some(KeyActivity {
        access_key_id: key.to_owned(),
        user_arn,
        first_seen: alerts.iter().map(|a| a.first_seen).min().unwrap_or(0),
        last_seen: alerts.iter().map(|a| a.last_seen).max().unwrap_or(0),
        events: hours.iter().map(|h| u64::from(h.events)).sum(),
        hours,
    })
}

fn hour_activity(hour: Timestamp, h: HourAcc) -> HourActivity {
    let unauthorized = clamp(h.unauthorized);
    let events = clamp(h.ids.len() as u64 + h.beyond_ids).max(unauthorized);
    let mut sources: Vec<SourceHour> = h
        .sources
        .into_iter()
        .map(|(ip, s)| {
            let events = (s.ids.len() as u64 + s.beyond_ids).max(s.at_least);
            let unauthorized = s.unauthorized.max(s.unauthorized_at_least).min(events);
            SourceHour {
                ip: Str::from(ip),
                country: s.country,
                events: clamp(events),
                unauthorized: clamp(unauthorized),
            }
        })
        .collect();
    sources.sort_by(|a, b| b.events.cmp(&a.events).then(a.ip.cmp(&b.ip)));
    let mut other = h.other;
    for s in sources.drain(sources.len().min(MAX_SOURCES_PER_HOUR)..) {
        other.events = other.events.saturating_add(s.events);
        other.unauthorized = other.unauthorized.saturating_add(s.unauthorized);
    }
    HourActivity {
        hour,
        events,
        successful: events - unauthorized,
        unauthorized,
        unauthorized_api_names: h
            .names
            .into_iter()
            .take(MAX_NAMES_PER_HOUR)
            .map(Str::from)
            .collect(),
        countries: h
            .countries
            .into_iter()
            .take(MAX_COUNTRIES_PER_HOUR)
            .collect(),
        sources,
        other_sources: other,
    }
}
