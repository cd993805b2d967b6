//! D2 — Long-term access key first seen from a source IP (Elastic new-terms rule
//! "AWS Long-Term Access Key First Seen from Source IP", 9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f).
//!
//! A successful event (`errorCode` empty) with an `AKIA` key and a source IP address, where the
//! pair (access key id, source IP) did not occur in the previous `history_window` (default 10 d).
//! One alert per new pair, at its first event.
//!
//! Decisions (see docs/detections.md): as in Elastic's new-terms rules, the history holds only
//! events that match the rule's query (successful AKIA calls from an IP); "within the window" is
//! inclusive (`t - last_seen <= window`); `sourceIPAddress` must be an IP address (service names
//! such as `ec2.amazonaws.com` are not, as ECS `source.ip` would not be) and is compared in
//! canonical form (as an ECS `ip` field would be); the first `warm_up` (default: the history
//! window) of the stream only builds history.

use serde_json::json;
use trailhound_model::{AccessKeyKind, Event, Str, format_rfc3339};

use crate::evidence::Evidence;
use crate::history::{History, NewTermsParams, WarmUp};
use crate::{Alert, ConfigError, Detector, RuleInfo, Severity, parse_params};

/// The rule's registration.
pub const RULE: RuleInfo = RuleInfo {
    id: "aws-akia-first-seen-source-ip",
    name: "Long-term access key first seen from a source IP",
    severity: Severity::Medium,
    mitre: &["T1552", "T1078.004"],
    build,
};

/// Parameters (`[rules.<id>]` in the config): the history window and the warm-up.
pub type Params = NewTermsParams;

fn build(params: Option<&serde_json::Value>) -> Result<Box<dyn Detector>, ConfigError> {
    Ok(Box::new(FirstSeenSourceIp::new(parse_params(
        RULE.id, params,
    )?)))
}

/// The detector.
pub struct FirstSeenSourceIp {
    params: Params,
    history: History<(Str, std::net::IpAddr)>,
    warm_up: WarmUp,
    alerts: Vec<Alert>,
}

impl FirstSeenSourceIp {
    /// A detector with the given parameters.
    pub fn new(params: Params) -> Self {
        Self {
            history: History::new(params.history_window.nanos()),
            warm_up: params.warm_up(),
            params,
            alerts: Vec::new(),
        }
    }
}

/// The alert for a new (key, source IP) pair at its first event `e`.
pub fn alert(params: &Params, e: &Event) -> Alert {
    let mut ev = Evidence::default();
    ev.add(e);
    let time = format_rfc3339(e.time);
    let why = format!(
        "Access key {} made a successful {} call from {}{}, an address it had not used in the previous {}.",
        e.user.access_key_id,
        e.event_name,
        e.source_ip,
        e.country.map(|c| format!(" ({c})")).unwrap_or_default(),
        params.history_window,
    );
    let details = json!({
        "new_source_ip": e.source_ip.as_str(),
        "history_window": params.history_window.to_string(),
        "event_source": e.event_source.as_str(),
    });
    ev.into_alert(
        &RULE,
        &e.user.access_key_id,
        &e.user.arn,
        e.time,
        &[&e.user.access_key_id, &e.source_ip, &time],
        why,
        details,
    )
}

/// `s` as an address in canonical form, so that one address written two ways is one address
/// (`2001:DB8:0:0:0:0:0:1` and `2001:db8::1`; `::ffff:192.0.2.1` and `192.0.2.1`); `None` when
/// `s` is not an IP address.
pub(crate) fn canonical_ip(s: &str) -> Option<std::net::IpAddr> {
    s.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

impl Detector for FirstSeenSourceIp {
    fn id(&self) -> &'static str {
        RULE.id
    }

    fn observe(&mut self, e: &Event) {
        let warming_up = self.warm_up.observe(e.time);
        if e.key_kind() != AccessKeyKind::LongTerm || !e.succeeded() {
            return;
        }
        let Some(ip) = canonical_ip(&e.source_ip) else {
            return;
        };
        let pair = (e.user.access_key_id.clone(), ip);
        let new = !self.history.known(&pair, e.time);
        self.history.see(pair, e.time);
        if !new || warming_up {
            return;
        }
        self.alerts.push(alert(&self.params, e));
    }

    fn drain(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.alerts)
    }

    fn finish(&mut self) -> Vec<Alert> {
        self.drain()
    }

    fn blind(&self) -> Vec<crate::BlindPeriod> {
        self.warm_up.blind_periods(&RULE, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::user_agent_new_ip::UserAgentNewIp;
    use trailhound_model::DAY;

    fn ev(t: i64, ip: &str, agent: &str) -> Event {
        let mut e = Event {
            time: t,
            source_ip: ip.into(),
            user_agent: agent.into(),
            event_name: "ListUsers".into(),
            ..Event::default()
        };
        e.user.access_key_id = "AKIAAAAAAAAAAAAAAAAA".into();
        e
    }

    /// One address written two ways is one address for D2 and D3; a service name is none.
    #[test]
    fn addresses_are_compared_in_canonical_form() {
        let mut d2 = FirstSeenSourceIp::new(Params::default());
        let mut d3 = UserAgentNewIp::new(Params::default());
        let events = [
            ev(0, "198.51.100.1", "cli/0"),
            // In the warm-up (which only builds history).
            ev(5 * DAY, "2001:db8::1", "cli/1"),
            ev(5 * DAY, "192.0.2.1", "cli/1"),
            // After the warm-up: the same addresses, written otherwise, with new agents.
            ev(10 * DAY + 1, "2001:DB8:0:0:0:0:0:1", "cli/2"),
            ev(10 * DAY + 2, "::ffff:192.0.2.1", "cli/3"),
            ev(10 * DAY + 3, "ec2.amazonaws.com", "cli/4"),
            // A really new address.
            ev(10 * DAY + 4, "2001:db8::2", "cli/5"),
        ];
        for e in &events {
            d2.observe(e);
            d3.observe(e);
        }
        let a2 = d2.finish();
        let a3 = d3.finish();
        assert_eq!(a2.len(), 1, "{a2:#?}");
        assert_eq!(a2[0].source_ips, ["2001:db8::2"]);
        assert_eq!(a3.len(), 1, "{a3:#?}");
        assert_eq!(a3[0].source_ips, ["2001:db8::2"]);
    }
}
