//! Compact hourly activity of every long-term (`AKIA…`) access key, for the report's charts.
//!
//! [`ActivityCollector`] sees every event once (any order; in time order is the fast path) and
//! keeps, per key and per UTC hour that has events, a few counters and small sets: events,
//! successful and unauthorized calls, the distinct unauthorized API names, the countries, and the
//! source IPs with their own counts. Hours without events cost nothing. Strings are interned
//! (API names and IPs as `u32` ids), so a key-hour costs about 100 bytes plus 4 bytes per
//! distinct API name, 2 per country and 16 per source IP, with every set capped
//! ([`MAX_NAMES_PER_HOUR`], [`MAX_COUNTRIES_PER_HOUR`], [`MAX_SOURCES_PER_HOUR`]).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use trailhound_model::{AccessKeyKind, Country, Event, HOUR, Str, Timestamp};

/// Error codes counted as unauthorized (the set of rule D4, spec §2).
pub const UNAUTHORIZED_ERROR_CODES: [&str; 4] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
];

/// Most distinct unauthorized API names kept per key-hour.
pub const MAX_NAMES_PER_HOUR: usize = 64;
/// Most distinct countries kept per key-hour.
pub const MAX_COUNTRIES_PER_HOUR: usize = 16;
/// Most distinct source IPs kept per key-hour; events from further IPs are counted together in
/// [`HourActivity::other_sources`].
pub const MAX_SOURCES_PER_HOUR: usize = 8;

/// True when `error_code` is one of [`UNAUTHORIZED_ERROR_CODES`] (exact, case-sensitive).
pub fn is_unauthorized(error_code: &str) -> bool {
    UNAUTHORIZED_ERROR_CODES.contains(&error_code)
}

/// One source IP of one key-hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceHour {
    /// `sourceIPAddress` as written (an address, an AWS service name, anything).
    pub ip: Str,
    /// Country of the address, when it has one.
    pub country: Option<Country>,
    /// Events from this address in the hour.
    pub events: u32,
    /// Of those, unauthorized calls.
    pub unauthorized: u32,
}

/// Events with a source beyond the first [`MAX_SOURCES_PER_HOUR`] distinct ones of an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OtherSources {
    /// Events.
    pub events: u32,
    /// Of those, unauthorized calls.
    pub unauthorized: u32,
}

/// The aggregates of one key over one UTC hour that has events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourActivity {
    /// Start of the hour (hour-aligned UTC, nanoseconds since the epoch).
    #[serde(with = "trailhound_detect::rfc3339")]
    pub hour: Timestamp,
    /// Events.
    pub events: u32,
    /// Successful calls (empty `errorCode`).
    pub successful: u32,
    /// Unauthorized calls ([`UNAUTHORIZED_ERROR_CODES`]).
    pub unauthorized: u32,
    /// Distinct API names of the unauthorized calls, sorted (at most [`MAX_NAMES_PER_HOUR`]).
    pub unauthorized_api_names: Vec<Str>,
    /// Distinct countries of the events, sorted (at most [`MAX_COUNTRIES_PER_HOUR`]).
    pub countries: Vec<Country>,
    /// Distinct source IPs with their counts, most events first (at most
    /// [`MAX_SOURCES_PER_HOUR`]).
    pub sources: Vec<SourceHour>,
    /// Events from further source IPs.
    pub other_sources: OtherSources,
}

/// Everything the report knows about one access key's activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyActivity {
    /// The access key id.
    pub access_key_id: String,
    /// The key's user ARN (the first non-empty one seen).
    pub user_arn: String,
    /// Time of the earliest event.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub first_seen: Timestamp,
    /// Time of the latest event.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub last_seen: Timestamp,
    /// Events in all.
    pub events: u64,
    /// The hours that have events, in time order.
    pub hours: Vec<HourActivity>,
}

impl KeyActivity {
    /// Unauthorized calls in all.
    pub fn unauthorized(&self) -> u64 {
        self.hours.iter().map(|h| u64::from(h.unauthorized)).sum()
    }
}

/// Interns strings as dense `u32` ids.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Str, u32>,
    names: Vec<Str>,
}

impl Interner {
    fn id(&mut self, s: &Str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(s.clone(), id);
        self.names.push(s.clone());
        id
    }

    fn name(&self, id: u32) -> Str {
        self.names.get(id as usize).cloned().unwrap_or_default()
    }
}

/// One source IP of a key-hour, interned (16 bytes).
#[derive(Debug, Clone, Copy)]
struct Src {
    ip: u32,
    country: Option<Country>,
    events: u32,
    unauthorized: u32,
}

#[derive(Debug)]
struct HourAgg {
    hour: Timestamp,
    events: u32,
    successful: u32,
    unauthorized: u32,
    names: Vec<u32>,
    countries: Vec<Country>,
    sources: Vec<Src>,
    other: OtherSources,
}

impl HourAgg {
    fn new(hour: Timestamp) -> Self {
        HourAgg {
            hour,
            events: 0,
            successful: 0,
            unauthorized: 0,
            names: Vec::new(),
            countries: Vec::new(),
            sources: Vec::new(),
            other: OtherSources::default(),
        }
    }
}

#[derive(Debug)]
struct KeyAgg {
    arn: Str,
    first: Timestamp,
    last: Timestamp,
    events: u64,
    /// Sorted by hour.
    hours: Vec<HourAgg>,
}

/// Collects [`KeyActivity`] for every `AKIA…` key of an event stream.
#[derive(Debug, Default)]
pub struct ActivityCollector {
    keys: HashMap<Str, KeyAgg>,
    names: Interner,
    ips: Interner,
}

impl ActivityCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sees one event; events of other than long-term (`AKIA…`) keys are ignored.
    pub fn observe(&mut self, e: &Event) {
        if e.key_kind() != AccessKeyKind::LongTerm {
            return;
        }
        self.observe_as(e, &e.user.access_key_id);
    }

    /// Counts `e` in the activity of the long-term key `key`: an event signed by a session key
    /// that `key` minted (key lineage) belongs to the key's charts.
    pub fn observe_as(&mut self, e: &Event, key: &str) {
        let hour = e.time.div_euclid(HOUR) * HOUR;
        let unauthorized = is_unauthorized(&e.error_code);
        let name = unauthorized.then(|| self.names.id(&e.event_name));
        let ip = (!e.source_ip.is_empty()).then(|| self.ips.id(&e.source_ip));
        let key = match self.keys.get_mut(key) {
            Some(k) => k,
            None => self.keys.entry(key.into()).or_insert(KeyAgg {
                arn: Str::default(),
                first: e.time,
                last: e.time,
                events: 0,
                hours: Vec::new(),
            }),
        };
        if key.arn.is_empty() && !e.user.arn.is_empty() {
            key.arn = e.user.arn.clone();
        }
        key.first = key.first.min(e.time);
        key.last = key.last.max(e.time);
        key.events += 1;
        // Events come in time order: the hour is almost always the last one.
        let at = match key.hours.last() {
            Some(h) if h.hour == hour => key.hours.len() - 1,
            Some(h) if h.hour < hour => {
                key.hours.push(HourAgg::new(hour));
                key.hours.len() - 1
            }
            None => {
                key.hours.push(HourAgg::new(hour));
                0
            }
            Some(_) => match key.hours.binary_search_by_key(&hour, |h| h.hour) {
                Ok(i) => i,
                Err(i) => {
                    key.hours.insert(i, HourAgg::new(hour));
                    i
                }
            },
        };
        let h = &mut key.hours[at];
        h.events = h.events.saturating_add(1);
        if e.succeeded() {
            h.successful = h.successful.saturating_add(1);
        }
        if unauthorized {
            h.unauthorized = h.unauthorized.saturating_add(1);
        }
        if let Some(n) = name
            && !h.names.contains(&n)
            && h.names.len() < MAX_NAMES_PER_HOUR
        {
            h.names.push(n);
        }
        if let Some(c) = e.country
            && !h.countries.contains(&c)
            && h.countries.len() < MAX_COUNTRIES_PER_HOUR
        {
            h.countries.push(c);
        }
        let denied = u32::from(unauthorized);
        let src = ip.and_then(|ip| match h.sources.iter().position(|s| s.ip == ip) {
            Some(i) => Some(i),
            None if h.sources.len() < MAX_SOURCES_PER_HOUR => {
                h.sources.push(Src {
                    ip,
                    country: e.country,
                    events: 0,
                    unauthorized: 0,
                });
                Some(h.sources.len() - 1)
            }
            None => None,
        });
        match src {
            Some(i) => {
                let s = &mut h.sources[i];
                s.events = s.events.saturating_add(1);
                s.unauthorized = s.unauthorized.saturating_add(denied);
            }
            None => {
                h.other.events = h.other.events.saturating_add(1);
                h.other.unauthorized = h.other.unauthorized.saturating_add(denied);
            }
        }
    }

    /// Number of keys seen so far.
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Number of key-hours held (a measure of the memory used).
    pub fn key_hours(&self) -> usize {
        self.keys.values().map(|k| k.hours.len()).sum()
    }

    /// Ends the stream: the activity of every key, by key id.
    pub fn finish(self) -> BTreeMap<String, KeyActivity> {
        let ActivityCollector { keys, names, ips } = self;
        keys.into_iter()
            .map(|(id, k)| {
                let hours = k
                    .hours
                    .into_iter()
                    .map(|h| {
                        let mut api: Vec<Str> = h.names.iter().map(|&n| names.name(n)).collect();
                        api.sort();
                        let mut countries = h.countries;
                        countries.sort();
                        let mut sources: Vec<SourceHour> = h
                            .sources
                            .iter()
                            .map(|s| SourceHour {
                                ip: ips.name(s.ip),
                                country: s.country,
                                events: s.events,
                                unauthorized: s.unauthorized,
                            })
                            .collect();
                        sources.sort_by(|a, b| b.events.cmp(&a.events).then(a.ip.cmp(&b.ip)));
                        HourActivity {
                            hour: h.hour,
                            events: h.events,
                            successful: h.successful,
                            unauthorized: h.unauthorized,
                            unauthorized_api_names: api,
                            countries,
                            sources,
                            other_sources: h.other,
                        }
                    })
                    .collect();
                let activity = KeyActivity {
                    access_key_id: id.to_string(),
                    user_arn: k.arn.to_string(),
                    first_seen: k.first,
                    last_seen: k.last,
                    events: k.events,
                    hours,
                };
                (id.to_string(), activity)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_model::UserIdentity;

    fn ev(t: Timestamp, key: &str, name: &str, code: &str, ip: &str, country: &str) -> Event {
        Event {
            time: t,
            event_name: name.into(),
            error_code: code.into(),
            source_ip: ip.into(),
            country: Country::new(country),
            user: UserIdentity {
                access_key_id: key.into(),
                arn: if key.is_empty() {
                    "".into()
                } else {
                    "arn:aws:iam::1:user/alice".into()
                },
                ..UserIdentity::default()
            },
            ..Event::default()
        }
    }

    #[test]
    fn aggregates_per_key_and_hour() {
        let k = "AKIAEXAMPLE";
        let t0 = 1_700_000_000 * 1_000_000_000 / HOUR * HOUR;
        let events = [
            ev(t0 + 5, k, "ListUsers", "", "203.0.113.1", "US"),
            ev(t0 + 10, k, "ListUsers", "AccessDenied", "203.0.113.1", "US"),
            ev(
                t0 + 20,
                k,
                "GetSecretValue",
                "AccessDeniedException",
                "198.51.100.7",
                "DE",
            ),
            ev(
                t0 + 30,
                k,
                "ListUsers",
                "AccessDenied",
                "198.51.100.7",
                "DE",
            ),
            ev(t0 + 40, k, "PutObject", "NoSuchBucket", "10.0.0.1", ""),
            // Two hours later: an empty hour in between costs nothing.
            ev(
                t0 + 2 * HOUR + 1,
                k,
                "RunInstances",
                "Client.UnauthorizedOperation",
                "203.0.113.1",
                "US",
            ),
            // Late event for the first hour.
            ev(t0 + 50, k, "DescribeInstances", "", "203.0.113.1", "US"),
            // Not long-term keys: ignored.
            ev(t0, "ASIATEMP", "ListUsers", "AccessDenied", "1.1.1.1", "AU"),
            ev(t0, "", "ListUsers", "AccessDenied", "1.1.1.1", "AU"),
        ];
        let mut c = ActivityCollector::new();
        for e in &events {
            c.observe(e);
        }
        assert_eq!(c.keys(), 1);
        assert_eq!(c.key_hours(), 2);
        let all = c.finish();
        let a = &all[k];
        assert_eq!(a.user_arn, "arn:aws:iam::1:user/alice");
        assert_eq!(a.events, 7);
        assert_eq!(a.first_seen, t0 + 5);
        assert_eq!(a.last_seen, t0 + 2 * HOUR + 1);
        assert_eq!(a.unauthorized(), 4);
        let h = &a.hours[0];
        assert_eq!(h.hour, t0);
        assert_eq!((h.events, h.successful, h.unauthorized), (6, 2, 3));
        assert_eq!(h.unauthorized_api_names, ["GetSecretValue", "ListUsers"]);
        assert_eq!(
            h.countries,
            [Country::new("DE").unwrap(), Country::new("US").unwrap()]
        );
        assert_eq!(
            h.sources,
            [
                SourceHour {
                    ip: "203.0.113.1".into(),
                    country: Country::new("US"),
                    events: 3,
                    unauthorized: 1
                },
                SourceHour {
                    ip: "198.51.100.7".into(),
                    country: Country::new("DE"),
                    events: 2,
                    unauthorized: 2
                },
                SourceHour {
                    ip: "10.0.0.1".into(),
                    country: None,
                    events: 1,
                    unauthorized: 0
                },
            ]
        );
        let h = &a.hours[1];
        assert_eq!(h.hour, t0 + 2 * HOUR);
        assert_eq!((h.events, h.successful, h.unauthorized), (1, 0, 1));
        assert_eq!(h.unauthorized_api_names, ["RunInstances"]);
    }

    #[test]
    fn sets_are_capped() {
        let mut c = ActivityCollector::new();
        for i in 0..(MAX_SOURCES_PER_HOUR + 5) {
            c.observe(&ev(
                i as i64,
                "AKIAX",
                &format!("Api{i}"),
                "AccessDenied",
                &format!("192.0.2.{i}"),
                "",
            ));
        }
        let all = c.finish();
        let h = &all["AKIAX"].hours[0];
        assert_eq!(h.sources.len(), MAX_SOURCES_PER_HOUR);
        assert_eq!(h.other_sources.events, 5);
        assert_eq!(h.other_sources.unauthorized, 5);
        assert_eq!(h.unauthorized as usize, MAX_SOURCES_PER_HOUR + 5);
        assert_eq!(h.unauthorized_api_names.len(), MAX_SOURCES_PER_HOUR + 5);
    }

    #[test]
    fn hour_aggregate_stays_small() {
        // The per-hour struct itself (without its small heap sets) stays near 100 bytes.
        assert!(std::mem::size_of::<HourAgg>() <= 112);
        assert_eq!(std::mem::size_of::<Src>(), 16);
    }
}
