//! The page: head (inline CSS, Content-Security-Policy), header with the run summary, overview,
//! one section per access key, footer, optional inline script.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use trailhound_detect::incident::{self, Summary};
use trailhound_detect::{Alert, Severity};

use crate::charts::{
    KeyGroup, Links, MAX_OVERVIEW_KEYS, alert_anchor, alert_chart, geo_chart, overview_timeline,
    rule_order, rule_style, sibling_map, unauthorized_chart,
};
use crate::escape::{Esc, escape_into};
use crate::svg::{Shape, fmt_minute, fmt_time, num, shape_path};
use crate::{ReportInput, TUKEY_K};

/// The report's style sheet (allowed by the CSP by its hash).
pub(crate) const STYLE: &str = include_str!("report.css");
/// The report's optional script (allowed by the CSP by its hash).
pub(crate) const SCRIPT: &str = include_str!("report.js");

/// Event ids listed per alert before "and N more".
const MAX_EVENT_IDS_SHOWN: usize = 10;
/// Values of one evidence list (addresses, agents, APIs) shown before "and N more".
const MAX_VALUES_SHOWN: usize = 12;
/// Incidents (and other keys with alerts) ranked in the first table before "and N more".
const MAX_RANKED: usize = 100;
/// Keys and principals that get a section with charts and alerts, in rank order.
const MAX_SECTIONS: usize = 25;
/// Alerts listed in one section before "and N more".
const MAX_SECTION_ALERTS: usize = 60;

/// `sha256-<base64>` of a CSP source.
fn csp_hash(s: &str) -> String {
    format!("sha256-{}", base64(&Sha256::digest(s.as_bytes())))
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The Content-Security-Policy of the report: nothing may load, only the report's own style and
/// script (by hash) apply.
pub(crate) fn csp() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

pub(crate) fn sev_badge(out: &mut String, s: Severity) {
    let _ = write!(out, r#"<span class="badge sev-{0}">{0}</span>"#, s.as_str());
}

pub(crate) fn status_badge(out: &mut String, status: &str) {
    let class = match status {
        "open" => "open",
        "acknowledged" => "ack",
        "closed" => "closed",
        _ => "other",
    };
    let _ = write!(
        out,
        r#"<span class="status {class}">{}</span>"#,
        Esc(status)
    );
}

/// The link of a MITRE ATT&CK technique id (`T1087.004` → `…/techniques/T1087/004/`), when it
/// looks like one.
pub fn mitre_url(id: &str) -> Option<String> {
    let (base, sub) = match id.split_once('.') {
        Some((b, s)) => (b, Some(s)),
        None => (id, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(base.len() == 5 && base.starts_with('T') && digits(&base[1..], 4)) {
        return None;
    }
    match sub {
        None => Some(format!("https://attack.mitre.org/techniques/{base}/")),
        Some(s) if digits(s, 3) => Some(format!("https://attack.mitre.org/techniques/{base}/{s}/")),
        Some(_) => None,
    }
}

/// The name of an ATT&CK technique the shipped rules map to.
pub fn mitre_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "T1003" => "OS Credential Dumping",
        "T1005" => "Data from Local System",
        "T1020" => "Automated Exfiltration",
        "T1021" => "Remote Services",
        "T1021.007" => "Remote Services: Cloud Services",
        "T1059" => "Command and Scripting Interpreter",
        "T1059.001" => "Command and Scripting Interpreter: PowerShell",
        "T1059.003" => "Command and Scripting Interpreter: Windows Command Shell",
        "T1059.004" => "Command and Scripting Interpreter: Unix Shell",
        "T1059.009" => "Command and Scripting Interpreter: Cloud API",
        "T1070" => "Indicator Removal",
        "T1078" => "Valid Accounts",
        "T1078.002" => "Valid Accounts: Domain Accounts",
        "T1078.004" => "Valid Accounts: Cloud Accounts",
        "T1087" => "Account Discovery",
        "T1087.004" => "Account Discovery: Cloud Account",
        "T1098" => "Account Manipulation",
        "T1098.001" => "Account Manipulation: Additional Cloud Credentials",
        "T1098.003" => "Account Manipulation: Additional Cloud Roles",
        "T1110" => "Brute Force",
        "T1136" => "Create Account",
        "T1136.003" => "Create Account: Cloud Account",
        "T1190" => "Exploit Public-Facing Application",
        "T1485" => "Data Destruction",
        "T1486" => "Data Encrypted for Impact",
        "T1490" => "Inhibit System Recovery",
        "T1496" => "Resource Hijacking",
        "T1525" => "Implant Internal Image",
        "T1526" => "Cloud Service Discovery",
        "T1530" => "Data from Cloud Storage",
        "T1531" => "Account Access Removal",
        "T1537" => "Transfer Data to Cloud Account",
        "T1546" => "Event Triggered Execution",
        "T1548" => "Abuse Elevation Control Mechanism",
        "T1550" => "Use Alternate Authentication Material",
        "T1550.001" => "Use Alternate Authentication Material: Application Access Token",
        "T1552" => "Unsecured Credentials",
        "T1552.001" => "Unsecured Credentials: Credentials In Files",
        "T1552.005" => "Unsecured Credentials: Cloud Instance Metadata API",
        "T1555" => "Credentials from Password Stores",
        "T1555.006" => "Credentials from Password Stores: Cloud Secrets Management Stores",
        "T1556" => "Modify Authentication Process",
        "T1562" => "Impair Defenses",
        "T1562.001" => "Impair Defenses: Disable or Modify Tools",
        "T1562.008" => "Impair Defenses: Disable or Modify Cloud Logs",
        "T1565" => "Data Manipulation",
        "T1566" => "Phishing",
        "T1566.002" => "Phishing: Spearphishing Link",
        "T1578" => "Modify Cloud Compute Infrastructure",
        "T1578.005" => "Modify Cloud Compute Infrastructure: Modify Cloud Compute Configurations",
        "T1580" => "Cloud Infrastructure Discovery",
        "T1608" => "Stage Capabilities",
        "T1608.003" => "Stage Capabilities: Install Digital Certificate",
        "T1651" => "Cloud Administration Command",
        _ => return None,
    })
}

pub(crate) fn mitre_chip(out: &mut String, id: &str) {
    let name = mitre_name(id).map(|n| format!(" {n}")).unwrap_or_default();
    match mitre_url(id) {
        Some(url) => {
            let _ = write!(
                out,
                r#"<a class="chip mitre" href="{}" rel="noopener noreferrer" target="_blank"><b>{}</b>{}</a>"#,
                Esc(&url),
                Esc(id),
                Esc(&name)
            );
        }
        None => {
            let _ = write!(out, r#"<span class="chip mitre"><b>{}</b></span>"#, Esc(id));
        }
    }
}

/// True when every character of a remediation command is one an AWS CLI command built from a
/// real key id and IAM user name can hold (IAM names allow `+=,.@_-`).
/// The session-revocation commands' fixed policy document
/// ([`trailhound_detect::lineage::REVOKE_POLICY_ARG`]) is Trailhound's own text, not the log's,
/// and is left out of the check.
pub(crate) fn shell_safe(cmd: &str) -> bool {
    let cmd = cmd.replace(trailhound_detect::lineage::REVOKE_POLICY_ARG, "");
    cmd.chars()
        .all(|c| c.is_ascii_alphanumeric() || " +=,.@_-/:".contains(c))
}

/// Groups the alerts into incidents: by subject (the root key, else the principal; see
/// [`Alert::subject`]), each with its incident summary. Groups that can open an incident come
/// first, highest risk first (then latest activity, then subject); alerts by time within a group.
/// Also returns how many groups open an incident (they come first).
fn group(input: &ReportInput) -> (Vec<(KeyGroup<'_>, Summary)>, usize) {
    let mut by_key: BTreeMap<&str, Vec<&(Alert, String)>> = BTreeMap::new();
    for a in &input.alerts {
        by_key.entry(a.0.subject()).or_default().push(a);
    }
    let params = incident::Params::default();
    let mut groups: Vec<(KeyGroup, Summary, bool)> = by_key
        .into_iter()
        .map(|(key, mut alerts)| {
            alerts.sort_by(|(a, _), (b, _)| {
                (a.time, rule_order(&a.rule_id), &a.id).cmp(&(
                    b.time,
                    rule_order(&b.rule_id),
                    &b.id,
                ))
            });
            let summary = incident::summarize(key, alerts.iter().map(|(a, _)| a));
            let opens = alerts
                .iter()
                .any(|(a, _)| incident::opens_incident(&params, a));
            let g = KeyGroup {
                index: 0,
                key,
                alerts,
                activity: input.activity.get(key),
                links: Links::InPage,
                focus_alert: None,
            };
            (g, summary, opens)
        })
        .collect();
    groups.sort_by(|(a, sa, oa), (b, sb, ob)| {
        (ob, sb.risk_score, sb.last_seen)
            .cmp(&(oa, sa.risk_score, sa.last_seen))
            .then(a.key.cmp(b.key))
    });
    let opening = groups.iter().filter(|(_, _, opens)| *opens).count();
    let ranked = groups
        .into_iter()
        .enumerate()
        .map(|(i, (mut g, s, _))| {
            g.index = i;
            (g, s)
        })
        .collect();
    (ranked, opening)
}

fn max_severity(g: &KeyGroup) -> Severity {
    g.alerts
        .iter()
        .map(|(a, _)| a.severity)
        .max()
        .unwrap_or(Severity::Low)
}

/// The key's user ARN: from its activity, else from its alerts.
fn key_arns(g: &KeyGroup) -> Vec<String> {
    let mut arns: Vec<String> = Vec::new();
    if let Some(a) = g.activity.filter(|a| !a.user_arn.is_empty()) {
        arns.push(a.user_arn.clone());
    }
    for (a, _) in &g.alerts {
        if !a.user_arn.is_empty() && !arns.contains(&a.user_arn) {
            arns.push(a.user_arn.clone());
        }
    }
    arns
}

pub(crate) fn page(input: &ReportInput) -> String {
    let (ranked, opening) = group(input);
    let (groups, summaries): (Vec<KeyGroup>, Vec<Summary>) = ranked.into_iter().unzip();
    let siblings = sibling_map(&input.alerts);
    let by_id: HashMap<&str, &(Alert, String)> =
        input.alerts.iter().map(|a| (a.0.id.as_str(), a)).collect();
    let mut out = String::with_capacity(64 * 1024 + input.alerts.len() * 1024);
    head(&mut out, input);
    out.push_str(r##"<body><a class="skip" href="#incidents">Skip to the incidents</a>"##);
    header(&mut out, input);
    out.push_str(r#"<main>"#);
    incidents(&mut out, &groups, &summaries, opening);
    let blind: Vec<trailhound_detect::BlindPeriod> = input
        .run_summary
        .as_ref()
        .and_then(|r| r.get("blind_periods"))
        .and_then(|b| serde_json::from_value(b.clone()).ok())
        .unwrap_or_default();
    out.push_str(&crate::parts::blind_periods(&blind));
    overview(&mut out, input, &groups);
    rule_summary(&mut out, input);
    for g in groups.iter().take(MAX_SECTIONS) {
        key_section(&mut out, g, &siblings, &by_id);
    }
    if groups.len() > MAX_SECTIONS {
        let _ = write!(
            out,
            r#"<section class="card" data-testid="more-sections"><p class="muted">{} more keys and principals with alerts are ranked in the incident table above; their sections are left out to keep this report small. <code>trailhound incidents show ID</code> and <code>trailhound timeline</code> show any of them.</p></section>"#,
            thousands((groups.len() - MAX_SECTIONS) as u64)
        );
    }
    out.push_str("</main>");
    footer(&mut out, input);
    out.push_str("<script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

fn head(out: &mut String, input: &ReportInput) {
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="Trailhound {}">
<title>{}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style></head>
"#,
        Esc(&csp()),
        env!("CARGO_PKG_VERSION"),
        Esc(&input.title)
    );
}

fn tile(out: &mut String, value: &str, label: &str, class: &str) {
    let _ = write!(
        out,
        r#"<div class="tile {}"><div class="value">{}</div><div class="label">{}</div></div>"#,
        Esc(class),
        Esc(value),
        Esc(label)
    );
}

fn json_u64(v: &serde_json::Value, k: &str) -> Option<u64> {
    v.get(k).and_then(serde_json::Value::as_u64)
}

fn json_f64(v: &serde_json::Value, k: &str) -> Option<f64> {
    v.get(k).and_then(serde_json::Value::as_f64)
}

fn header(out: &mut String, input: &ReportInput) {
    let _ = write!(
        out,
        r#"<header class="page"><div class="wrap"><div class="brand">Trailhound report</div><h1>{}</h1><p class="sub">Generated {} · {} · {}</p>"#,
        Esc(&input.title),
        fmt_time(input.generated_at),
        plural(input.alerts.len(), "alert", "alerts"),
        plural(
            input
                .alerts
                .iter()
                .map(|(a, _)| a.access_key_id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            "access key",
            "access keys"
        )
    );
    if let Some(run) = &input.run_summary {
        run_summary(out, run);
    }
    out.push_str("</div></header>");
}

fn run_summary(out: &mut String, run: &serde_json::Value) {
    let Some(obj) = run.as_object() else {
        return;
    };
    out.push_str(r#"<div class="run" data-testid="run-summary">"#);
    let start = out.len();
    let t = |out: &mut String, value: String, label: &str| tile(out, &value, label, "dark");
    if let Some(n) = json_u64(run, "files") {
        t(out, thousands(n), "files read");
    }
    if let Some(n) = json_u64(run, "events") {
        t(out, thousands(n), "events");
    }
    let bad: Option<u64> = run
        .get("issues_by_kind")
        .and_then(serde_json::Value::as_object)
        .map(|m| m.values().filter_map(serde_json::Value::as_u64).sum());
    if let Some(n) = bad {
        t(out, thousands(n), "bad input items");
    }
    if let (Some(with), Some(all)) = (
        json_u64(run, "events_with_country"),
        json_u64(run, "events"),
    ) && all > 0
    {
        t(
            out,
            format!("{:.0}%", with as f64 * 100.0 / all as f64),
            "events with a country",
        );
    }
    if let Some(n) = json_u64(run, "countries") {
        t(out, thousands(n), "countries");
    }
    if let Some(n) = json_u64(run, "digest_files_skipped").filter(|&n| n > 0) {
        t(out, thousands(n), "digest files skipped");
    }
    if let Some(n) = json_u64(run, "late_events").filter(|&n| n > 0) {
        t(out, thousands(n), "late events");
    }
    if let Some(s) = json_f64(run, "elapsed_seconds") {
        t(out, format!("{s:.1} s"), "elapsed");
    }
    if let Some(s) = json_f64(run, "events_per_second") {
        t(out, thousands(s as u64), "events / s");
    }
    if out.len() == start {
        // Not `hunt --stats`: show its top-level scalars.
        for (k, v) in obj.iter().take(12) {
            if v.is_number() || v.is_string() || v.is_boolean() {
                t(out, json_text(v), k);
            }
        }
    }
    out.push_str("</div>");
    if let Some(kinds) = run
        .get("issues_by_kind")
        .and_then(serde_json::Value::as_object)
        .filter(|m| !m.is_empty())
    {
        out.push_str(r#"<p class="issues">Bad input: "#);
        for (k, v) in kinds {
            let _ = write!(
                out,
                r#"<span class="chip dark">{} <b>{}</b></span>"#,
                Esc(k),
                Esc(&json_text(v))
            );
        }
        out.push_str("</p>");
    }
    if let Some(g) = run.get("geoip").and_then(serde_json::Value::as_str) {
        let _ = write!(out, r#"<p class="issues">GeoIP: {}</p>"#, Esc(g));
    }
}

/// The alerts of one rule, for the overview.
struct RuleCount<'a> {
    name: &'a str,
    severity: Severity,
    alerts: usize,
    keys: std::collections::BTreeSet<&'a str>,
    /// An alert of the rule (its MITRE techniques and Sigma metadata).
    example: &'a Alert,
}

fn overview(out: &mut String, input: &ReportInput, groups: &[KeyGroup]) {
    out.push_str(
        r#"<section class="card overview" id="overview" data-testid="overview"><h2>Overview</h2>"#,
    );
    if input.alerts.is_empty() {
        out.push_str(
            r#"<p class="all-clear">No alerts: no detection fired on this data.</p></section>"#,
        );
        return;
    }
    // Severity and status tiles.
    out.push_str(r#"<div class="tiles">"#);
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let n = input.alerts.iter().filter(|(a, _)| a.severity == s).count();
        tile(
            out,
            &thousands(n as u64),
            s.as_str(),
            &format!("sev-{}{}", s.as_str(), if n == 0 { " zero" } else { "" }),
        );
    }
    let open = input.alerts.iter().filter(|(_, st)| st == "open").count();
    tile(out, &thousands(open as u64), "open", "neutral");
    tile(
        out,
        &thousands(groups.len() as u64),
        "keys with alerts",
        "neutral",
    );
    out.push_str("</div>");
    // Timeline of all alerts.
    out.push_str(r#"<h3>All alerts over time</h3><figure class="chart-fig">"#);
    let (svg, focused) = overview_timeline(groups);
    out.push_str(&svg);
    out.push_str("<figcaption>");
    legend(
        out,
        &input.alerts,
        if focused {
            r#"<span class="item"><i class="swatch focus"></i>magnified hours</span>"#
        } else {
            ""
        },
    );
    if groups.len() > MAX_OVERVIEW_KEYS {
        let _ = write!(
            out,
            r#" <span class="muted">Showing the {MAX_OVERVIEW_KEYS} most severe of {} keys.</span>"#,
            groups.len()
        );
    }
    out.push_str("</figcaption></figure>");
    out.push_str("</section>");
}

/// Built-in rules' descriptions for the rule summary (Sigma rules bring their own).
fn builtin_description(rule_id: &str) -> Option<&'static str> {
    Some(match rule_id {
        "aws-akia-failed-api-spike" => {
            "D1 (Microsoft Sentinel, exact Kusto semantics): a long-term key used from more than one country within 8 hours, whose hourly count of unauthorized critical API calls is a Tukey outlier with a z-score above 2."
        }
        "aws-akia-first-seen-source-ip" => {
            "D2 (Elastic new terms): a long-term key's first successful call from a source address not seen for it in the history window (10 days)."
        }
        "aws-iam-user-agent-new-ip" => {
            "D3 (Elastic): a long-term key used from an address not seen for it in the history window, with a user agent not seen for it either."
        }
        "aws-akia-unauthorized-api-call" => {
            "D4 (Elastic): calls by a long-term key refused as unauthorized, one alert per key and hour."
        }
        "aws-akia-correlated-elevated-alerts" => {
            "D5 (Elastic higher-order rule): a first-seen alert (D2) and another open alert of medium or higher severity on the same root key within 24 hours."
        }
        _ => return None,
    })
}

/// The ranked incidents (the first `opening` groups), then the keys and principals whose alerts
/// open none: one row each, with its one-line story, linking to its section.
fn incidents(out: &mut String, groups: &[KeyGroup], summaries: &[Summary], opening: usize) {
    let _ = write!(
        out,
        r#"<section class="card" id="incidents" data-testid="incidents"><h2>Incidents, highest risk first</h2><p class="muted">The alerts of one long-term key (with every session it minted) or one principal are one incident. {} incident{}; {} other key{} or principal{} with alerts that open none (low ones, or Sigma ones below high). Risk: the worst alert's score (a Sigma alert's one level lower), more for several rules, Trailhound's key-compromise rules, the correlation rule, several countries and a span over an hour (docs/decisions.md).</p>"#,
        thousands(opening as u64),
        if opening == 1 { "" } else { "s" },
        thousands((groups.len() - opening) as u64),
        if groups.len() - opening == 1 { "" } else { "s" },
        if groups.len() - opening == 1 { "" } else { "s" },
    );
    if groups.is_empty() {
        out.push_str(
            r#"<p class="all-clear">No alerts: no detection fired on this data.</p></section>"#,
        );
        return;
    }
    out.push_str(r#"<div class="table-wrap"><table class="keys incidents-table"><thead><tr><th class="num">#</th><th class="num">Risk</th><th>Severity</th><th>Key or principal, and what happened</th><th class="num">Alerts</th></tr></thead><tbody>"#);
    for (g, sum) in groups.iter().zip(summaries).take(MAX_RANKED) {
        if g.index == opening && opening > 0 {
            out.push_str(r#"<tr class="divider" data-testid="no-incident-divider"><td colspan="5">No incident opened: low alerts, or Sigma alerts below high, only (they join an incident if their key or principal gets one)</td></tr>"#);
        }
        let who = sum.who();
        let link = if g.index < MAX_SECTIONS {
            format!(
                r##"<a class="mono" href="#key-{}">{}</a>"##,
                g.index,
                Esc(&who)
            )
        } else {
            format!(r#"<span class="mono">{}</span>"#, Esc(&who))
        };
        let _ = write!(
            out,
            r#"<tr data-testid="incident-row" data-rank="{}" data-subject="{}" data-risk="{}"><td class="num">{}</td><td class="num"><b>{}</b></td><td>"#,
            g.index + 1,
            Esc(&sum.subject),
            sum.risk_score,
            g.index + 1,
            sum.risk_score
        );
        sev_badge(out, sum.severity);
        let _ = write!(
            out,
            r#"</td><td>{link}{}</td><td class="num">{}</td></tr>"#,
            crate::parts::incident_story(sum),
            crate::parts::incident_alert_count(sum),
        );
    }
    out.push_str("</tbody></table></div>");
    if groups.len() > MAX_RANKED {
        let _ = write!(
            out,
            r#"<p class="muted">… and {} more below rank {MAX_RANKED} (see <code>trailhound incidents list</code>).</p>"#,
            thousands((groups.len() - MAX_RANKED) as u64)
        );
    }
    out.push_str("</section>");
}

/// Each rule that fired, once: its name, severity, description, MITRE ATT&CK techniques and
/// references, and how many alerts and keys it raised (so that alerts need not repeat them).
fn rule_summary(out: &mut String, input: &ReportInput) {
    if input.alerts.is_empty() {
        return;
    }
    let mut rules: BTreeMap<(usize, &str), RuleCount> = BTreeMap::new();
    for (a, _) in &input.alerts {
        let e = rules
            .entry((rule_order(&a.rule_id), a.rule_id.as_str()))
            .or_insert(RuleCount {
                name: a.rule_name.as_str(),
                severity: a.severity,
                alerts: 0,
                keys: Default::default(),
                example: a,
            });
        e.severity = e.severity.max(a.severity);
        e.alerts += 1 + a.suppressed_count as usize;
        e.keys.insert(a.subject());
    }
    out.push_str(r#"<section class="card" id="rules" data-testid="rule-summary"><h2>Rules that fired</h2><div class="table-wrap"><table class="rules"><thead><tr><th></th><th>Rule</th><th>Severity</th><th class="num">Alerts</th><th class="num">Keys</th></tr></thead><tbody>"#);
    for ((_, id), r) in &rules {
        let (code, _, shape) = rule_style(id);
        out.push_str(r#"<tr data-testid="rule-row"><td>"#);
        shape_icon(out, shape, r.severity);
        let _ = write!(
            out,
            r#"</td><td><b>{}{}</b> <span class="mono muted small">{}</span>"#,
            if code.is_empty() {
                String::new()
            } else {
                format!("{code} · ")
            },
            Esc(r.name),
            Esc(id)
        );
        let sigma = &r.example.details["sigma"];
        let description = sigma["description"]
            .as_str()
            .map(str::trim)
            .or_else(|| builtin_description(id));
        if let Some(d) = description {
            let _ = write!(out, r#"<div class="why">{}</div>"#, Esc(d));
        }
        if !r.example.mitre.is_empty() {
            out.push_str(r#"<div>"#);
            for m in &r.example.mitre {
                mitre_chip(out, m);
            }
            out.push_str("</div>");
        }
        if let Some(refs) = sigma["references"].as_array().filter(|v| !v.is_empty()) {
            out.push_str(r#"<div class="small">"#);
            for (i, u) in refs.iter().filter_map(|v| v.as_str()).take(3).enumerate() {
                if u.starts_with("https://") {
                    let _ = write!(
                        out,
                        r#"{}<a href="{}" rel="noopener noreferrer">{}</a>"#,
                        if i > 0 { " · " } else { "" },
                        Esc(u),
                        Esc(u)
                    );
                }
            }
            if let Some(author) = sigma["author"].as_str() {
                let _ = write!(
                    out,
                    r#" <span class="muted">Sigma rule by {} (DRL 1.1)</span>"#,
                    Esc(author)
                );
            }
            out.push_str("</div>");
        }
        out.push_str("</td><td>");
        sev_badge(out, r.severity);
        let _ = write!(
            out,
            r#"</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            thousands(r.alerts as u64),
            thousands(r.keys.len() as u64)
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// A small inline SVG of a rule's marker shape in a severity colour.
pub(crate) fn shape_icon(out: &mut String, shape: Shape, sev: Severity) {
    let _ = write!(
        out,
        r#"<svg class="icon" viewBox="0 0 16 16" aria-hidden="true">"#
    );
    let class = format!("marker sev-{}", sev.as_str());
    match shape {
        Shape::Circle => {
            let _ = write!(out, r#"<circle class="{class}" cx="8" cy="8" r="5.5"/>"#);
        }
        _ => {
            let _ = write!(
                out,
                r#"<path class="{class}" d="{}"/>"#,
                shape_path(shape, 8.0, 8.0, 5.0)
            );
        }
    }
    out.push_str("</svg>");
}

/// Legend of the alert timelines: the shapes of the rules present and the severity colours.
pub(crate) fn legend(out: &mut String, alerts: &[(Alert, String)], extra: &str) {
    let mut rules: Vec<&str> = alerts.iter().map(|(a, _)| a.rule_id.as_str()).collect();
    rules.sort_by_key(|r| (rule_order(r), *r));
    rules.dedup();
    out.push_str(r#"<span class="legend">"#);
    for r in rules {
        let (_, _, shape) = rule_style(r);
        out.push_str(r#"<span class="item">"#);
        shape_icon(out, shape, Severity::Low);
        let _ = write!(
            out,
            "{}</span>",
            Esc(&crate::charts::rule_label(
                r,
                alerts.iter().map(|(a, _)| a),
                60
            ))
        );
    }
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let _ = write!(
            out,
            r#"<span class="item"><i class="swatch sev-{0}"></i>{0}</span>"#,
            s.as_str()
        );
    }
    out.push_str(extra);
    out.push_str("</span>");
}

fn key_section(
    out: &mut String,
    g: &KeyGroup,
    siblings: &HashMap<&str, Vec<&str>>,
    by_id: &HashMap<&str, &(Alert, String)>,
) {
    let sev = max_severity(g);
    let key = if g.key.is_empty() { "(no key)" } else { g.key };
    let _ = write!(
        out,
        r#"<section class="card key sev-border-{}" id="key-{}" data-testid="key-section" data-key="{}"><header class="key-head"><div class="key-title">"#,
        sev.as_str(),
        g.index,
        Esc(g.key)
    );
    sev_badge(out, sev);
    let _ = write!(out, r#"<h2 class="mono">{}</h2></div>"#, Esc(key));
    let arns = key_arns(g);
    let _ = write!(
        out,
        r#"<div class="arn">{}</div>"#,
        if arns.is_empty() {
            "no user ARN".to_owned()
        } else {
            crate::escape(&arns.join(" · "))
        }
    );
    // Facts.
    out.push_str(r#"<dl class="facts">"#);
    let fact = |out: &mut String, k: &str, v: &str| {
        let _ = write!(out, "<div><dt>{}</dt><dd>{}</dd></div>", Esc(k), Esc(v));
    };
    fact(out, "Alerts", &g.alerts.len().to_string());
    if let Some(a) = g.activity {
        fact(out, "Events", &thousands(a.events));
        fact(out, "Unauthorized", &thousands(a.unauthorized()));
        fact(
            out,
            "Active",
            &format!("{} → {}", fmt_minute(a.first_seen), fmt_minute(a.last_seen)),
        );
        let mut countries: Vec<&str> = a
            .hours
            .iter()
            .flat_map(|h| h.countries.iter().map(|c| c.as_str()))
            .collect();
        countries.sort();
        countries.dedup();
        let mut ips: Vec<&str> = a
            .hours
            .iter()
            .flat_map(|h| h.sources.iter().map(|s| s.ip.as_str()))
            .collect();
        ips.sort();
        ips.dedup();
        fact(
            out,
            "Countries",
            &if countries.is_empty() {
                "none".to_owned()
            } else {
                countries.join(" ")
            },
        );
        fact(out, "Source IPs", &thousands(ips.len() as u64));
    }
    out.push_str("</dl></header>");
    // Remediation: the AWS CLI commands of the alerts (a key that minted sessions also gets
    // their revocation), else deactivating the key.
    let root = g
        .alerts
        .iter()
        .map(|(a, _)| a.root_key.as_str())
        .find(|k| !k.is_empty())
        .unwrap_or("");
    let mut remedies = incident::containment(
        root,
        arns.first().map_or("", String::as_str),
        g.alerts.iter().map(|(a, _)| a),
    );
    if remedies.is_empty()
        && trailhound_model::AccessKeyKind::of(g.key) == trailhound_model::AccessKeyKind::LongTerm
    {
        remedies.push(trailhound_detect::remediation(
            g.key,
            arns.first().map_or("", String::as_str),
        ));
    }
    let remedies: Vec<&str> = remedies.iter().map(String::as_str).collect();
    if !remedies.is_empty() {
        remedy(out, &g.index.to_string(), &remedies);
    }
    let _ = write!(
        out,
        r#"<p class="small muted" data-testid="timeline-hint">Every event of {}: <code>trailhound timeline PATH... {} {}</code></p>"#,
        if root.is_empty() {
            "this principal"
        } else {
            "this key and the sessions it minted"
        },
        if root.is_empty() {
            "--principal"
        } else {
            "--key"
        },
        Esc(if root.is_empty() { g.key } else { root })
    );
    // MITRE.
    let mut mitre: Vec<&str> = g
        .alerts
        .iter()
        .flat_map(|(a, _)| a.mitre.iter().map(String::as_str))
        .collect();
    mitre.sort();
    mitre.dedup();
    if !mitre.is_empty() {
        out.push_str(r#"<div class="mitre-list"><span class="mini-label">MITRE ATT&amp;CK</span>"#);
        for m in mitre {
            mitre_chip(out, m);
        }
        out.push_str("</div>");
    }
    charts_block(out, g, siblings, None);
    // Alerts table.
    let _ = write!(
        out,
        r#"<details class="alerts" open><summary>Alerts ({})</summary><div class="table-wrap"><table class="alerts-table"><colgroup><col class="c-time"><col><col class="c-sev"><col class="c-status"><col class="c-count"><col class="c-from"></colgroup><thead><tr><th>Time (UTC)</th><th>Rule and why</th><th>Severity</th><th>Status</th><th class="num">Events</th><th>From</th></tr></thead><tbody>"#,
        g.alerts.len()
    );
    // The worst and latest alerts first when there are more than fit.
    let mut shown: Vec<&&(Alert, String)> = g.alerts.iter().collect();
    if shown.len() > MAX_SECTION_ALERTS {
        shown.sort_by_key(|(a, _)| std::cmp::Reverse((a.severity, a.time)));
        shown.truncate(MAX_SECTION_ALERTS);
        shown.sort_by(|(a, _), (b, _)| {
            (a.time, rule_order(&a.rule_id)).cmp(&(b.time, rule_order(&b.rule_id)))
        });
    }
    for (a, status) in &shown {
        alert_rows(out, a, status, siblings, by_id);
    }
    out.push_str("</tbody></table></div>");
    if g.alerts.len() > MAX_SECTION_ALERTS {
        let _ = write!(
            out,
            r#"<p class="muted">The {MAX_SECTION_ALERTS} most severe and latest of {} alerts are listed; <code>trailhound alerts list --key …</code> lists all.</p>"#,
            thousands(g.alerts.len() as u64)
        );
    }
    out.push_str("</details></section>");
}

/// The remediation box: each command with a copy button (ids `rem-<id>-<i>`), and a warning
/// under a command that holds characters a real key id or IAM user name cannot.
pub(crate) fn remedy(out: &mut String, id: &str, commands: &[&str]) {
    out.push_str(r#"<div class="remedy"><div class="remedy-label">Contain: deactivate the key, then rotate it and review what it did</div>"#);
    for (i, r) in commands.iter().enumerate() {
        let _ = write!(
            out,
            r#"<div class="cmd"><pre><code id="rem-{0}-{i}">{1}</code></pre><button type="button" class="copy" data-copy="rem-{0}-{i}" hidden>Copy</button></div>"#,
            Esc(id),
            Esc(r),
        );
        if !shell_safe(r) {
            out.push_str(r#"<p class="warn">This command holds characters that AWS key ids and IAM user names cannot contain: the log may be forged. Check it before running it.</p>"#);
        }
    }
    out.push_str("</div>");
}

/// The three charts of a key on a shared time axis (denied calls per hour with the Tukey fence,
/// countries and source IPs, the alert timeline), each in a figure with its legend and caption.
/// `note` (plain text) is added to the first caption, e.g. to say where the data came from.
pub(crate) fn charts_block(
    out: &mut String,
    g: &KeyGroup,
    siblings: &HashMap<&str, Vec<&str>>,
    note: Option<&str>,
) {
    let s = g.scale();
    out.push_str(r#"<div class="charts">"#);
    if let (Some((f0, f1)), Some(zoom)) = (s.focus(), s.zoom()) {
        let _ = write!(
            out,
            r#"<p class="zoom-note"><i class="swatch focus"></i>The shaded hours, {} → {}, around the key's alerts are drawn {}× wider than the rest of its activity.</p>"#,
            fmt_minute(f0),
            fmt_minute(f1),
            num(zoom.round())
        );
    }
    let (svg_a, sum) = unauthorized_chart(g, &s);
    out.push_str(r#"<figure class="chart-fig"><h3>Unauthorized calls per hour</h3>"#);
    out.push_str(&svg_a);
    out.push_str(r#"<figcaption><span class="legend"><span class="item"><i class="swatch bar"></i>unauthorized calls</span><span class="item"><i class="swatch outlier"></i>outlier hour (above the fence)</span><span class="item"><i class="swatch fence"></i>Tukey fence Q3 + 1.5·IQR</span>"#);
    if g.alerts
        .iter()
        .any(|(a, _)| a.rule_id == "aws-akia-failed-api-spike")
    {
        out.push_str(r#"<span class="item"><i class="swatch d1"></i>D1 alert bin</span>"#);
    }
    out.push_str("</span> ");
    match sum.fence {
        Some(f) => {
            let _ = write!(
                out,
                "Over the key's active hours: Q1 {}, Q3 {}, IQR {}, fence {} (= Q3 + {}·IQR); {} with unauthorized calls, {} above the fence",
                num(f.q1),
                num(f.q3),
                num(f.iqr),
                num(f.upper),
                num(TUKEY_K),
                plural(sum.bars, "hour", "hours"),
                thousands(sum.outliers as u64)
            );
            if let Some((t, n)) = sum.peak {
                let _ = write!(out, "; peak {n} at {}", fmt_minute(t));
            }
            out.push('.');
            if f.iqr == 0.0 && sum.bars > 0 {
                out.push_str(" With an IQR of 0 (most hours have no unauthorized calls) every hour above Q3 stands out, as in the rule's Tukey score.");
            }
            if sum.clipped {
                out.push_str(" Older activity is not shown.");
            }
        }
        None => out.push_str("No hourly activity was collected for this key."),
    }
    if let Some(note) = note {
        out.push(' ');
        escape_into(out, note);
    }
    out.push_str("</figcaption></figure>");
    let (svg_b, _) = geo_chart(g, &s);
    out.push_str(r#"<figure class="chart-fig"><h3>Countries and source IPs over time</h3>"#);
    out.push_str(&svg_b);
    out.push_str(r#"<figcaption><span class="legend"><span class="item"><i class="swatch dot-ok"></i>only successful or other calls</span><span class="item"><i class="swatch dot-mixed"></i>some unauthorized</span><span class="item"><i class="swatch dot-denied"></i>mostly unauthorized</span></span> One dot per hour and country, sized by the number of calls; hover a dot for its source IPs.</figcaption></figure>"#);
    let (svg_c, _) = alert_chart(g, &s, siblings);
    out.push_str(r#"<figure class="chart-fig"><h3>Alert timeline</h3>"#);
    out.push_str(&svg_c);
    out.push_str("<figcaption>");
    let local: Vec<(Alert, String)> = g.alerts.iter().map(|a| (*a).clone()).collect();
    let corr = g
        .alerts
        .iter()
        .any(|(a, _)| siblings.contains_key(a.id.as_str()));
    legend(
        out,
        &local,
        if corr {
            r#"<span class="item"><i class="swatch corr"></i>correlation</span>"#
        } else {
            ""
        },
    );
    out.push_str(match g.links {
        Links::InPage => {
            " Faint bars show each alert's evidence window; a marker links to its row.</figcaption></figure></div>"
        }
        Links::Pages(_) => {
            " Faint bars show each alert's evidence window; a marker opens its alert.</figcaption></figure></div>"
        }
    });
}

fn alert_rows(
    out: &mut String,
    a: &Alert,
    status: &str,
    siblings: &HashMap<&str, Vec<&str>>,
    by_id: &HashMap<&str, &(Alert, String)>,
) {
    let (code, _, shape) = rule_style(&a.rule_id);
    let time = fmt_time(a.time);
    let _ = write!(
        out,
        r#"<tr class="alert-row" id="{}" data-testid="alert-row"><td class="when"><span class="date">{}</span> <span class="clock">{}</span></td><td><div class="rule">"#,
        alert_anchor(&a.id),
        time.get(..10).unwrap_or(&time),
        time.get(11..).unwrap_or("")
    );
    shape_icon(out, shape, a.severity);
    let _ = write!(
        out,
        r#"<b>{}{}</b></div><div class="why">{}</div></td><td>"#,
        if code.is_empty() {
            String::new()
        } else {
            format!("{code} · ")
        },
        Esc(&a.rule_name),
        Esc(&a.why)
    );
    sev_badge(out, a.severity);
    let _ = write!(
        out,
        r#"<div class="muted small">risk {}</div></td><td>"#,
        a.risk_score
    );
    status_badge(out, status);
    let _ = write!(
        out,
        r#"</td><td class="num">{}</td><td>"#,
        thousands(a.count)
    );
    for ip in a.source_ips.iter().take(5) {
        let _ = write!(out, r#"<div class="mono">{}</div>"#, Esc(ip));
    }
    if a.source_ips.len() > 5 {
        let _ = write!(
            out,
            r#"<div class="muted">+{} more</div>"#,
            a.source_ips.len() - 5
        );
    }
    if !a.countries.is_empty() {
        let _ = write!(
            out,
            r#"<div class="muted">{}</div>"#,
            Esc(&a.countries.join(" "))
        );
    }
    out.push_str("</td></tr>");
    out.push_str(r#"<tr class="evidence-row"><td colspan="6"><details class="evidence"><summary>Evidence and details</summary>"#);
    evidence(out, a, siblings, by_id, Links::InPage);
    out.push_str("</details></td></tr>");
}

/// An alert's evidence as a definition list (window, API names, source IPs, countries, user
/// agents, event ids, MITRE, ARN, ids, correlated alerts), then its rule-specific details.
pub(crate) fn evidence(
    out: &mut String,
    a: &Alert,
    siblings: &HashMap<&str, Vec<&str>>,
    by_id: &HashMap<&str, &(Alert, String)>,
    links: Links,
) {
    out.push_str(r#"<dl class="kv">"#);
    let kv = |out: &mut String, k: &str, v: &str| {
        let _ = write!(out, "<dt>{}</dt><dd>{v}</dd>", Esc(k));
    };
    kv(
        out,
        "Window",
        &format!(
            "{} → {}",
            Esc(&fmt_time(a.first_seen)),
            Esc(&fmt_time(a.last_seen))
        ),
    );
    kv(out, "API names", &cut_list(chips, &a.event_names));
    kv(out, "Source IPs", &cut_list(codes, &a.source_ips));
    kv(out, "Countries", &chips(&a.countries));
    kv(out, "User agents", &cut_list(codes, &a.user_agents));
    if a.suppressed_count > 0 {
        kv(
            out,
            "Suppressed",
            &format!(
                "{} more alerts of this rule folded into this one ({})",
                thousands(a.suppressed_count),
                Esc(a.details["suppression"]["window"].as_str().unwrap_or(""))
            ),
        );
    }
    if !a.root_key.is_empty() && a.root_key != a.access_key_id {
        kv(
            out,
            "Root key",
            &format!(
                "<code>{}</code> (minted this session key)",
                Esc(&a.root_key)
            ),
        );
    }
    let mut ids = codes(&a.event_ids[..a.event_ids.len().min(MAX_EVENT_IDS_SHOWN)]);
    if a.event_ids.len() > MAX_EVENT_IDS_SHOWN {
        let _ = write!(
            ids,
            r#"<span class="muted">and {} more</span>"#,
            a.event_ids.len() - MAX_EVENT_IDS_SHOWN
        );
    }
    kv(out, "Event ids", &ids);
    kv(
        out,
        "User ARN",
        &format!("<code>{}</code>", Esc(&a.user_arn)),
    );
    kv(out, "Alert id", &format!("<code>{}</code>", Esc(&a.id)));
    kv(out, "Rule id", &format!("<code>{}</code>", Esc(&a.rule_id)));
    if let Some(sibs) = siblings.get(a.id.as_str()) {
        let mut s = String::from(r#"<ul class="siblings">"#);
        let mut sibs: Vec<&(Alert, String)> = sibs
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        sibs.sort_by(|x, y| {
            (x.0.time, rule_order(&x.0.rule_id)).cmp(&(y.0.time, rule_order(&y.0.rule_id)))
        });
        for (b, st) in sibs {
            let _ = write!(
                s,
                r#"<li><a href="{}">{} · {} ({}, risk {}) · {}</a> <span class="muted">{}</span></li>"#,
                Esc(&links.alert_href(&b.id)),
                Esc(&fmt_time(b.time)),
                Esc(&b.rule_name),
                b.severity.as_str(),
                b.risk_score,
                Esc(&b.access_key_id),
                Esc(st)
            );
        }
        s.push_str("</ul>");
        kv(out, "Correlated alerts", &s);
    }
    out.push_str("</dl>");
    details(out, a, siblings.get(a.id.as_str()));
}

/// `render` of the first [`MAX_VALUES_SHOWN`] items, then "and N more".
fn cut_list(render: fn(&[String]) -> String, items: &[String]) -> String {
    let mut s = render(&items[..items.len().min(MAX_VALUES_SHOWN)]);
    if items.len() > MAX_VALUES_SHOWN {
        let _ = write!(
            s,
            r#"<span class="muted">and {} more</span>"#,
            items.len() - MAX_VALUES_SHOWN
        );
    }
    s
}

fn chips(items: &[String]) -> String {
    if items.is_empty() {
        return r#"<span class="muted">none</span>"#.to_owned();
    }
    let mut s = String::new();
    for i in items {
        let _ = write!(s, r#"<span class="chip small">{}</span>"#, Esc(i));
    }
    s
}

fn codes(items: &[String]) -> String {
    if items.is_empty() {
        return r#"<span class="muted">none</span>"#.to_owned();
    }
    let mut s = String::new();
    for i in items {
        let _ = write!(s, r#"<code class="item">{}</code>"#, Esc(i));
    }
    s
}

/// A JSON value as display text: strings as they are, numbers short, arrays of scalars joined.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), num),
        serde_json::Value::Null => "null".to_owned(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Array(xs) if xs.iter().all(|x| !x.is_array() && !x.is_object()) => {
            xs.iter().map(json_text).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// D1's projected KQL columns, in the seed's order.
const D1_COLUMNS: [&str; 11] = [
    "TimeGenerated",
    "UserIdentityARNandKeyID",
    "DistinctSuccessfulEventSet",
    "DistinctUnauthorizedEventSet",
    "DistinctUnauthorizedEventSetCount",
    "DistinctSuccessfulEventSetCount",
    "TotalUnauthorizedEventsOutliers",
    "AverageUnauthorized",
    "StandardDeviationUnauthorized",
    "VarianceUnauthorized",
    "ZScore",
];

/// Columns of D1's `Rows` shown per row.
const D1_ROW_COLUMNS: [&str; 6] = [
    "TimeGenerated1",
    "UnauthorizedEventCount",
    "DistinctUnauthorizedEventSetCount",
    "DistinctSuccessfulEventSetCount",
    "DistinctUnauthorizedEventSet",
    "Cutoff",
];

/// The rule-specific details: D1's KQL columns and rows, anything else as key/value pairs
/// (lists of alerts already shown as correlated alerts are left out).
fn details(out: &mut String, a: &Alert, siblings: Option<&Vec<&str>>) {
    let Some(obj) = a.details.as_object().filter(|o| !o.is_empty()) else {
        return;
    };
    let d1 = obj.contains_key("ZScore");
    let mut keys: Vec<&String> = obj.keys().collect();
    if d1 {
        keys.sort_by_key(|k| {
            (
                D1_COLUMNS.iter().position(|c| c == k).unwrap_or(usize::MAX),
                k.as_str(),
            )
        });
    }
    let is_sibling_list = |rows: &[serde_json::Value]| {
        siblings.is_some_and(|sibs| {
            rows.iter().all(|r| {
                r.get("id")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|id| sibs.contains(&id) || id == a.id)
            })
        })
    };
    let mut kv = String::new();
    let mut tables = Vec::new();
    // The rule's own metadata is in the rule summary, once; lineage and suppression are shown
    // above as facts.
    const SHOWN_ELSEWHERE: [&str; 3] = ["sigma", "max_event_ids", "suppression"];
    for k in keys
        .into_iter()
        .filter(|k| !SHOWN_ELSEWHERE.contains(&k.as_str()))
    {
        let v = &obj[k];
        if let Some(rows) = v
            .as_array()
            .filter(|xs| !xs.is_empty() && xs.iter().all(serde_json::Value::is_object))
        {
            if !is_sibling_list(rows) {
                tables.push((k, rows));
            }
            continue;
        }
        let text = json_detail(v);
        let _ = write!(
            kv,
            r#"<dt class="mono">{}</dt><dd>{}</dd>"#,
            Esc(k),
            if text.is_empty() {
                r#"<span class="muted">(empty)</span>"#.to_owned()
            } else {
                crate::escape(&text)
            }
        );
    }
    if !kv.is_empty() {
        let _ = write!(
            out,
            r#"<h4>{}</h4><dl class="kv kql">{kv}</dl>"#,
            if d1 {
                "Query output (KQL columns)"
            } else {
                "Rule details"
            }
        );
    }
    for (k, rows) in tables {
        let mut cols: Vec<&str> = Vec::new();
        if k == "Rows" && d1 {
            cols.extend(D1_ROW_COLUMNS.iter().filter(|c| rows[0].get(**c).is_some()));
        }
        if cols.is_empty() {
            for r in rows {
                for key in r.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !cols.contains(&key.as_str()) && cols.len() < 10 {
                        cols.push(key);
                    }
                }
            }
        }
        let _ = write!(
            out,
            r#"<h4>{} ({})</h4><div class="table-wrap"><table class="sub"><thead><tr>"#,
            Esc(k),
            rows.len()
        );
        for col in &cols {
            let _ = write!(out, r#"<th class="mono">{}</th>"#, Esc(col));
        }
        out.push_str("</tr></thead><tbody>");
        for r in rows.iter().take(200) {
            out.push_str("<tr>");
            for col in &cols {
                out.push_str("<td>");
                if let Some(v) = r.get(*col) {
                    escape_into(out, &json_detail(v));
                }
                out.push_str("</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    }
}

/// [`json_text`] with more digits for small reals (KQL statistics such as a mean of 0.0119).
fn json_detail(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() != 0.0 && x.abs() < 100.0 => {
                let s = format!("{x:.4}");
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
            _ => json_text(v),
        },
        serde_json::Value::Array(xs) if xs.iter().all(|x| !x.is_array() && !x.is_object()) => {
            xs.iter().map(json_detail).collect::<Vec<_>>().join(", ")
        }
        _ => json_text(v),
    }
}

fn footer(out: &mut String, input: &ReportInput) {
    let _ = write!(
        out,
        r#"<footer class="page-foot"><div class="wrap"><p>Generated by <b>Trailhound {}</b> on {}. Self-contained: this file loads nothing from the network.</p><p>IP Geolocation by <a href="https://db-ip.com" rel="noopener noreferrer">DB-IP</a>, licensed under <a href="https://creativecommons.org/licenses/by/4.0/" rel="noopener noreferrer">CC BY 4.0</a>. Technique ids link to <a href="https://attack.mitre.org/" rel="noopener noreferrer">MITRE ATT&amp;CK®</a>.</p><p class="no-print js-only"><button type="button" id="expand-all" hidden>Expand all evidence</button></p></div></footer>"#,
        env!("CARGO_PKG_VERSION"),
        fmt_time(input.generated_at)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // SHA-256 of "abc" (FIPS 180-2 example) in base64.
        assert_eq!(
            csp_hash("abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn mitre_links() {
        assert_eq!(
            mitre_url("T1087.004").as_deref(),
            Some("https://attack.mitre.org/techniques/T1087/004/")
        );
        assert_eq!(
            mitre_url("T1580").as_deref(),
            Some("https://attack.mitre.org/techniques/T1580/")
        );
        assert_eq!(mitre_url("T15800"), None);
        assert_eq!(mitre_url("javascript:alert(1)"), None);
        assert_eq!(mitre_url("T1087.04"), None);
    }

    #[test]
    fn shell_safety() {
        assert!(shell_safe(
            "aws iam update-access-key --access-key-id AKIAX --status Inactive --user-name bob.smith+ops@x"
        ));
        assert!(!shell_safe("aws iam … --user-name $(rm -rf ~)"));
        assert!(!shell_safe("--user-name a;b"));
        // Trailhound's own revocation policy passes; a user name with a substitution does not.
        let sessions = trailhound_detect::lineage::remediation_with_sessions(
            "AKIAX",
            "arn:aws:iam::1:user/bob",
            &[],
        );
        assert!(sessions.lines().count() == 2 && sessions.lines().all(shell_safe));
        let forged = trailhound_detect::lineage::remediation_with_sessions(
            "AKIAX",
            "arn:aws:iam::1:user/$(id)",
            &[],
        );
        assert!(!forged.lines().nth(1).is_some_and(shell_safe));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
