//! D3 — IAM user agent from a new IP address (medium).
//!
//! An `AKIA` key event from a source IP not seen for that key within `history_window` (10 d)
//! whose user agent was also not seen for that key within the window. Successful and failed calls
//! both count, as events and as history. One alert per such event; the IP and the user agent then
//! become known, so a session from a new place with a new tool raises one alert.
//!
//! Decisions (see docs/detections.md): `sourceIPAddress` must be an IP address; an empty user
//! agent is a value like any other; the first `warm_up` (default: the history window) of the
//! stream only builds history; the window is inclusive.

use serde_json::json;
use trailhound_model::{AccessKeyKind, Event, Str, format_rfc3339};

use crate::evidence::Evidence;
use crate::history::{History, NewTermsParams, WarmUp};
use crate::rules::first_seen_source_ip::canonical_ip;
use crate::{Alert, ConfigError, Detector, RuleInfo, Severity, parse_params};

/// The rule's registration.
pub const RULE: RuleInfo = RuleInfo {
    id: "aws-iam-user-agent-new-ip",
    name: "IAM user agent from a new IP address",
    severity: Severity::Medium,
    mitre: &["T1078", "T1552"],
    build,
};

/// Parameters (`[rules.<id>]` in the config): the history window and the warm-up.
pub type Params = NewTermsParams;

fn build(params: Option<&serde_json::Value>) -> Result<Box<dyn Detector>, ConfigError> {
    Ok(Box::new(UserAgentNewIp::new(parse_params(
        RULE.id, params,
    )?)))
}

/// The detector.
pub struct UserAgentNewIp {
    params: Params,
    ips: History<(Str, std::net::IpAddr)>,
    agents: History<(Str, Str)>,
    warm_up: WarmUp,
    alerts: Vec<Alert>,
}

impl UserAgentNewIp {
    /// A detector with the given parameters.
    pub fn new(params: Params) -> Self {
        let window = params.history_window.nanos();
        Self {
            ips: History::new(window),
            agents: History::new(window),
            warm_up: params.warm_up(),
            params,
            alerts: Vec::new(),
        }
    }
}

/// The alert for an event `e` whose source IP and user agent were both new for its key.
pub fn alert(params: &Params, e: &Event) -> Alert {
    let key = &e.user.access_key_id;
    let mut ev = Evidence::default();
    ev.add(e);
    let time = format_rfc3339(e.time);
    let why = format!(
        "Access key {key} was used from {}{} with the user agent {:?}; neither had been seen for this key in the previous {}.",
        e.source_ip,
        e.country.map(|c| format!(" ({c})")).unwrap_or_default(),
        e.user_agent.as_str(),
        params.history_window,
    );
    let details = json!({
        "new_source_ip": e.source_ip.as_str(),
        "new_user_agent": e.user_agent.as_str(),
        "error_code": e.error_code.as_str(),
        "history_window": params.history_window.to_string(),
    });
    ev.into_alert(
        &RULE,
        key,
        &e.user.arn,
        e.time,
        &[key, &e.source_ip, &e.user_agent, &time],
        why,
        details,
    )
}

impl Detector for UserAgentNewIp {
    fn id(&self) -> &'static str {
        RULE.id
    }

    fn observe(&mut self, e: &Event) {
        let warming_up = self.warm_up.observe(e.time);
        if e.key_kind() != AccessKeyKind::LongTerm {
            return;
        }
        let Some(addr) = canonical_ip(&e.source_ip) else {
            return;
        };
        let key = &e.user.access_key_id;
        let ip = (key.clone(), addr);
        let agent = (key.clone(), e.user_agent.clone());
        let new = !self.ips.known(&ip, e.time) && !self.agents.known(&agent, e.time);
        self.ips.see(ip, e.time);
        self.agents.see(agent, e.time);
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
