//! Allow-lists: access keys, source addresses (IPs or CIDR blocks) and countries whose events the
//! detections ignore.
//!
//! The allow-list is applied to events before any detection sees them, so an allow-listed event
//! neither raises an alert nor counts in any rule's statistics or history. That is the predictable
//! behaviour for a known scanner or a CI runner's address, and it is written in the docs.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use trailhound_model::{Country, Event};

/// The `[allow]` table of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowListConfig {
    /// Access key ids to ignore.
    pub access_keys: Vec<String>,
    /// Source addresses to ignore: single IPs (`198.51.100.7`) or CIDR blocks (`203.0.113.0/24`).
    pub source_ips: Vec<String>,
    /// Countries (ISO 3166-1 alpha-2) to ignore.
    pub countries: Vec<String>,
}

/// Why an allow-list entry was refused.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    /// Not an IP address or CIDR block.
    #[error("allow.source_ips: {0:?} is not an IP address or CIDR block")]
    Address(String),
    /// Not a two-letter country code.
    #[error("allow.countries: {0:?} is not a two-letter country code")]
    Country(String),
}

/// A compiled allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    keys: HashSet<String>,
    nets: Vec<IpNet>,
    countries: HashSet<Country>,
}

impl AllowList {
    /// Compiles the configuration.
    pub fn new(config: &AllowListConfig) -> Result<Self, AllowListError> {
        let nets = config
            .source_ips
            .iter()
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| AllowListError::Address(s.clone()))
            })
            .collect::<Result<_, _>>()?;
        let countries = config
            .countries
            .iter()
            .map(|c| Country::new(c).ok_or_else(|| AllowListError::Country(c.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            keys: config.access_keys.iter().cloned().collect(),
            nets,
            countries,
        })
    }

    /// True when nothing is allow-listed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.nets.is_empty() && self.countries.is_empty()
    }

    /// True when the event is allow-listed and must be ignored.
    pub fn ignores(&self, e: &Event) -> bool {
        if self.is_empty() {
            return false;
        }
        self.keys.contains(e.user.access_key_id.as_str())
            || e.country.is_some_and(|c| self.countries.contains(&c))
            || (!self.nets.is_empty()
                && e.source_ip
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| self.nets.iter().any(|n| n.contains(&ip))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, ip: &str, country: Option<&str>) -> Event {
        let mut e = Event::default();
        e.user.access_key_id = key.into();
        e.source_ip = ip.into();
        e.country = country.and_then(Country::new);
        e
    }

    #[test]
    fn keys_addresses_blocks_and_countries() {
        let cfg = AllowListConfig {
            access_keys: vec!["AKIASCANNER".into()],
            source_ips: vec![
                "203.0.113.0/24".into(),
                "198.51.100.7".into(),
                "2001:db8::/32".into(),
            ],
            countries: vec!["nz".into()],
        };
        let a = AllowList::new(&cfg).unwrap();
        assert!(a.ignores(&event("AKIASCANNER", "8.8.8.8", None)));
        assert!(a.ignores(&event("AKIAOTHER", "203.0.113.250", None)));
        assert!(!a.ignores(&event("AKIAOTHER", "203.0.114.1", None)));
        assert!(a.ignores(&event("AKIAOTHER", "198.51.100.7", None)));
        assert!(!a.ignores(&event("AKIAOTHER", "198.51.100.8", None)));
        assert!(a.ignores(&event("AKIAOTHER", "2001:db8::5", None)));
        assert!(a.ignores(&event("AKIAOTHER", "1.1.1.1", Some("NZ"))));
        assert!(!a.ignores(&event("AKIAOTHER", "ec2.amazonaws.com", Some("US"))));
        assert!(AllowList::default().is_empty());
    }

    #[test]
    fn bad_entries_are_refused() {
        let bad = AllowListConfig {
            source_ips: vec!["10.0.0.0/33".into()],
            ..Default::default()
        };
        assert!(AllowList::new(&bad).is_err());
        let bad = AllowListConfig {
            countries: vec!["USA".into()],
            ..Default::default()
        };
        assert!(AllowList::new(&bad).is_err());
    }
}
