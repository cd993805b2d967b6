//! Pieces of the report for other front ends (the web UI of `trailhound serve`): the charts of
//! one access key, the evidence of one alert, badges, the remediation box, and the style sheet
//! they need. They are the report's own code, so a page built from them looks and escapes like
//! the report: every string from a log or an alert goes through [`crate::escape`].

use std::collections::HashMap;

use trailhound_detect::{Alert, Severity};
use trailhound_model::Timestamp;

pub use crate::charts::Links;
use crate::charts::{KeyGroup, rule_order, rule_style, sibling_map};
use crate::render;
use crate::svg::{fmt_minute, fmt_time};
use crate::{KeyActivity, svg};

/// The report's style sheet: everything the pieces below need.
pub const STYLESHEET: &str = render::STYLE;

/// The report's optional script (copy buttons of the remediation box, expand all evidence).
pub const SCRIPT: &str = render::SCRIPT;

/// What [`key_charts`] draws.
pub struct KeyCharts<'a> {
    /// The access key.
    pub key: &'a str,
    /// Alerts with their status; those of other keys are left out of the charts, but D5
    /// siblings among them are still linked.
    pub alerts: &'a [(Alert, String)],
    /// The key's hourly activity: from an [`crate::ActivityCollector`], or rebuilt from the
    /// alerts with [`crate::activity_from_alerts`].
    pub activity: Option<&'a KeyActivity>,
    /// Where alert markers link to.
    pub links: Links<'a>,
    /// An alert whose window is magnified and whose marker stands out (`None`: the 24 hours of
    /// highest risk, as in the report).
    pub focus_alert: Option<&'a str>,
    /// Plain text added to the first chart's caption (e.g. where the data came from).
    pub note: Option<&'a str>,
}

/// The report's three charts of one key on a shared time axis (unauthorized calls per hour with
/// the Tukey fence and outliers, countries and source IPs over time, the alert timeline), with
/// their legends and captions: a `<div class="charts">`.
pub fn key_charts(c: &KeyCharts) -> String {
    let mut alerts: Vec<&(Alert, String)> = c
        .alerts
        .iter()
        .filter(|(a, _)| a.access_key_id == c.key)
        .collect();
    sort_by_time(&mut alerts);
    let g = KeyGroup {
        index: 0,
        key: c.key,
        alerts,
        activity: c.activity,
        links: c.links,
        focus_alert: c.focus_alert,
    };
    let siblings = sibling_map(c.alerts);
    let mut out = String::with_capacity(32 * 1024);
    render::charts_block(&mut out, &g, &siblings, c.note);
    out
}

/// The evidence of one alert as in the report: a definition list (window, API names, source
/// IPs, countries, user agents, event ids, MITRE, ARN, ids, and the correlated alerts found in
/// `related`), then its rule-specific details (D1's KQL columns and rows, other rules' details).
pub fn alert_evidence(alert: &Alert, related: &[(Alert, String)], links: Links) -> String {
    let mut all: Vec<(Alert, String)> = Vec::with_capacity(related.len() + 1);
    all.push((alert.clone(), String::new()));
    all.extend(related.iter().filter(|(a, _)| a.id != alert.id).cloned());
    let siblings = sibling_map(&all);
    let by_id: HashMap<&str, &(Alert, String)> = all.iter().map(|a| (a.0.id.as_str(), a)).collect();
    let mut out = String::with_capacity(8 * 1024);
    render::evidence(&mut out, alert, &siblings, &by_id, links);
    out
}

/// Sorts alerts as the report does within a key: by time, then rule, then id.
pub fn sort_by_time(alerts: &mut [&(Alert, String)]) {
    alerts.sort_by(|(a, _), (b, _)| {
        (a.time, rule_order(&a.rule_id), &a.id).cmp(&(b.time, rule_order(&b.rule_id), &b.id))
    });
}

/// A severity badge (`<span class="badge sev-high">high</span>`).
pub fn severity_badge(s: Severity) -> String {
    let mut out = String::new();
    render::sev_badge(&mut out, s);
    out
}

/// A status badge (`open`, `acknowledged`, `closed`; anything else is shown escaped).
pub fn status_badge(status: &str) -> String {
    let mut out = String::new();
    render::status_badge(&mut out, status);
    out
}

/// MITRE ATT&CK technique chips, linked to attack.mitre.org when the id looks like one.
pub fn mitre_chips(ids: &[String]) -> String {
    let mut out = String::new();
    for id in ids {
        render::mitre_chip(&mut out, id);
    }
    out
}

/// The small marker of a rule (its shape in the timelines) in a severity colour.
pub fn rule_icon(rule_id: &str, severity: Severity) -> String {
    let mut out = String::new();
    render::shape_icon(&mut out, rule_style(rule_id).2, severity);
    out
}

/// The short code of a built-in rule (`D1` … `D5`), empty for others.
pub fn rule_code(rule_id: &str) -> &'static str {
    rule_style(rule_id).0
}

/// An incident's line under its key or principal, as the report's and the web UI's incident
/// tables show it: countries, first and last seen, its worst rules (HTML).
pub fn incident_story(s: &trailhound_detect::incident::Summary) -> String {
    format!(
        r#"<div class="story">{} · {} → {} · {}</div>"#,
        crate::Esc(&if s.countries.is_empty() {
            "no country".to_owned()
        } else {
            s.countries.join(" ")
        }),
        crate::Esc(&format_minute(s.first_seen)),
        crate::Esc(&format_minute(s.last_seen)),
        crate::Esc(&trailhound_detect::incident::list_cut(&s.rules, 3)),
    )
}

/// An incident's alert count, with the alerts suppression folded into them (HTML).
pub fn incident_alert_count(s: &trailhound_detect::incident::Summary) -> String {
    let mut out = render::thousands(s.alert_count);
    if s.alerts_with_suppressed > s.alert_count {
        out.push_str(&format!(
            r#" <span class="muted">(+{} suppressed)</span>"#,
            render::thousands(s.alerts_with_suppressed - s.alert_count)
        ));
    }
    out
}

/// The notice of the periods in which rules could not raise alerts (empty when none): each
/// rule, from and to, why, and the option that would change it.
pub fn blind_periods(periods: &[trailhound_detect::BlindPeriod]) -> String {
    use std::fmt::Write as _;
    if periods.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        r#"<section class="card blind" data-testid="blind-periods"><h2>What could not be seen</h2><p class="muted">No alert from these rules in these periods does not mean nothing happened: their history was still building.</p><ul>"#,
    );
    for p in periods {
        let _ = write!(
            out,
            r#"<li><b>{}</b> from {} to {}: {}. <span class="muted">Option: <code>{}</code></span></li>"#,
            crate::Esc(&p.rule_name),
            crate::Esc(&format_minute(p.from)),
            crate::Esc(&format_minute(p.until)),
            crate::Esc(&p.reason),
            crate::Esc(&p.option),
        );
    }
    out.push_str("</ul></section>");
    out
}

/// The remediation box of the report: each command with a copy button (element ids
/// `rem-<id>-<i>`, so `id` must be unique in the page) and a warning under a command holding
/// characters that a real key id or IAM user name cannot.
pub fn remediation(id: &str, commands: &[&str]) -> String {
    let mut out = String::new();
    render::remedy(&mut out, id, commands);
    out
}

/// `2024-05-01 14:03:22 UTC`.
pub fn format_time(t: Timestamp) -> String {
    fmt_time(t)
}

/// `2024-05-01 14:03 UTC`.
pub fn format_minute(t: Timestamp) -> String {
    fmt_minute(t)
}

/// A number for a label: integers without decimals, others with at most two (∞ for infinity).
pub fn format_number(x: f64) -> String {
    svg::num(x)
}
