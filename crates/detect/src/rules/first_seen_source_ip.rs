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
//! such as `ec2.amazonaws.com` are not, as ECS `source.ip` would not be); the first `warm_up`
//! (default: the history window) of the stream only builds history.

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
    history: History<(Str, Str)>,
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

/// True when `s` is an IPv4 or IPv6 address.
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

impl Detector for FirstSeenSourceIp {
    fn id(&self) -> &'static str {
        RULE.id
    }

    fn observe(&mut self, e: &Event) {
        let warming_up = self.warm_up.observe(e.time);
        if e.key_kind() != AccessKeyKind::LongTerm || !e.succeeded() || !is_ip(&e.source_ip) {
            return;
        }
        let pair = (e.user.access_key_id.clone(), e.source_ip.clone());
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
}
