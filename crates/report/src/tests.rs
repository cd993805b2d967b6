use std::collections::BTreeMap;

use serde_json::json;
use trailhound_detect::{Alert, Severity, alert_id, remediation};
use trailhound_model::{Country, HOUR, Timestamp};

use crate::charts::{KeyGroup, unauthorized_chart};
use crate::*;

const T0: Timestamp = 1_714_521_600 * 1_000_000_000; // 2024-05-01T00:00:00Z
const XSS_SCRIPT: &str = "<script>window.__xss=1</script>";
const XSS_IMG: &str = r#"<img src=x onerror="window.__xss=1">"#;

fn alert(rule_id: &str, sev: Severity, key: &str, t: Timestamp) -> Alert {
    let arn = format!("arn:aws:iam::123456789012:user/{}", key.to_lowercase());
    Alert {
        id: alert_id(rule_id, &[key, &t.to_string()]),
        rule_id: rule_id.to_owned(),
        rule_name: format!("Rule {rule_id}"),
        severity: sev,
        risk_score: sev.risk_score(),
        access_key_id: key.to_owned(),
        user_arn: arn.clone(),
        time: t,
        first_seen: t,
        last_seen: t + 10 * 60 * 1_000_000_000,
        source_ips: vec!["203.0.113.9".into()],
        countries: vec!["DE".into()],
        user_agents: vec!["aws-cli/2.15.0".into()],
        event_names: vec!["ListUsers".into()],
        event_ids: vec!["e1".into()],
        count: 3,
        mitre: vec!["T1078.004".into()],
        remediation: remediation(key, &arn),
        why: "because".into(),
        details: json!({}),
    }
}

fn hour(t: Timestamp, events: u32, unauthorized: u32, country: &str, ip: &str) -> HourActivity {
    HourActivity {
        hour: t,
        events,
        successful: events - unauthorized,
        unauthorized,
        unauthorized_api_names: if unauthorized > 0 {
            vec!["ListUsers".into()]
        } else {
            vec![]
        },
        countries: Country::new(country).into_iter().collect(),
        sources: vec![SourceHour {
            ip: ip.into(),
            country: Country::new(country),
            events,
            unauthorized,
        }],
        other_sources: OtherSources::default(),
    }
}

/// Unauthorized calls per hour `[1, 0, 2, 1, 0, 1, 12, 1]` (the 0 hours without events): sorted
/// `[0, 0, 1, 1, 1, 1, 2, 12]`, Q1 = 0.75, Q3 = 1.25, IQR = 0.5, fence = 2.
fn known_activity(key: &str) -> KeyActivity {
    let values = [1u32, 0, 2, 1, 0, 1, 12, 1];
    let hours = values
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != 1 && i != 4)
        .map(|(i, &v)| {
            let country = if i == 6 { "RU" } else { "US" };
            hour(T0 + i as i64 * HOUR, v + 5, v, country, "198.51.100.4")
        })
        .collect();
    KeyActivity {
        access_key_id: key.into(),
        user_arn: "arn:aws:iam::123456789012:user/alice".into(),
        first_seen: T0 + 60_000_000_000,
        last_seen: T0 + 7 * HOUR + 60_000_000_000,
        events: 60,
        hours,
    }
}

#[test]
fn fence_of_a_known_series() {
    let xs = [1.0, 0.0, 2.0, 1.0, 0.0, 1.0, 12.0, 1.0];
    let f = tukey_fence(&xs).unwrap();
    assert_eq!(f.q1, 0.75);
    assert_eq!(f.q3, 1.25);
    assert_eq!(f.iqr, 0.5);
    assert_eq!(f.upper, 2.0);
    assert_eq!(tukey_fence(&[]), None);
    // All zeros but one: IQR 0, fence 0.
    let f = tukey_fence(&[0.0, 0.0, 0.0, 5.0]).unwrap();
    assert_eq!((f.q3, f.upper), (1.25, 3.125));
    let f = tukey_fence(&[0.0; 10]).unwrap();
    assert_eq!(f.upper, 0.0);
}

#[test]
fn hourly_series_fills_empty_hours() {
    let a = known_activity("AKIAKNOWN");
    let s = hourly_unauthorized(&a);
    let v: Vec<u32> = s.iter().map(|&(_, v)| v).collect();
    assert_eq!(v, [1, 0, 2, 1, 0, 1, 12, 1]);
    assert_eq!(s[0].0, T0);
    assert_eq!(s[7].0, T0 + 7 * HOUR);
}

#[test]
fn unauthorized_chart_draws_bars_outliers_and_fence() {
    let a = known_activity("AKIAKNOWN");
    let al = (
        alert(
            "aws-akia-failed-api-spike",
            Severity::High,
            "AKIAKNOWN",
            T0 + 6 * HOUR,
        ),
        "open".to_owned(),
    );
    let g = KeyGroup {
        index: 0,
        key: "AKIAKNOWN",
        alerts: vec![&al],
        activity: Some(&a),
    };
    let s = g.scale();
    let (svg, sum) = unauthorized_chart(&g, &s);
    // Six hours with unauthorized calls; only 12 is above the fence of 2 (2 itself is not).
    assert_eq!(svg.matches(r#"<rect class="bar"#).count(), 6);
    assert_eq!(svg.matches(r#"<rect class="bar outlier""#).count(), 1);
    assert_eq!(svg.matches(r#"class="outlier-mark""#).count(), 1);
    assert_eq!((sum.bars, sum.outliers), (6, 1));
    assert_eq!(sum.fence.unwrap().upper, 2.0);
    assert_eq!(sum.peak, Some((T0 + 6 * HOUR, 12)));
    assert_eq!(svg.matches(r#"class="fence""#).count(), 1);
    assert!(svg.contains(">fence 2</text>"));
    assert_eq!(svg.matches(r#"<rect class="d1-bin""#).count(), 1);
    assert!(svg.contains(r#"data-testid="chart-unauthorized""#));
}

fn input_with(
    alerts: Vec<(Alert, String)>,
    activity: BTreeMap<String, KeyActivity>,
) -> ReportInput {
    ReportInput {
        title: "Test report".into(),
        generated_at: T0 + 48 * HOUR,
        alerts,
        activity,
        run_summary: Some(json!({
            "files": 12, "events": 34567, "issues_by_kind": {"truncated_gzip": 1},
            "events_with_country": 30000, "countries": 4, "elapsed_seconds": 1.25,
            "events_per_second": 27653.6, "geoip": "DB-IP <embedded>"
        })),
    }
}

#[test]
fn one_section_per_alerted_key_worst_first() {
    let mut activity = BTreeMap::new();
    activity.insert("AKIAKNOWN".to_owned(), known_activity("AKIAKNOWN"));
    // A key with activity but no alert gets no section.
    activity.insert("AKIAQUIET".to_owned(), known_activity("AKIAQUIET"));
    let d2 = alert(
        "aws-akia-first-seen-source-ip",
        Severity::Medium,
        "AKIAKNOWN",
        T0 + 6 * HOUR,
    );
    let mut d5 = alert(
        "aws-akia-correlated-elevated-alerts",
        Severity::High,
        "AKIAKNOWN",
        T0 + 7 * HOUR,
    );
    d5.details = json!({"siblings": [{"id": d2.id, "rule_id": d2.rule_id}]});
    let alerts = vec![
        (
            alert(
                "aws-akia-unauthorized-api-call",
                Severity::High,
                "AKIALOW",
                T0,
            ),
            "closed".to_owned(),
        ),
        (d2, "open".to_owned()),
        (
            alert(
                "aws-akia-failed-api-spike",
                Severity::Critical,
                "AKIAKNOWN",
                T0 + 6 * HOUR,
            ),
            "open".to_owned(),
        ),
        (d5, "acknowledged".to_owned()),
        (
            alert("aws-iam-user-agent-new-ip", Severity::Low, "AKIALOWER", T0),
            "open".to_owned(),
        ),
    ];
    let html = render_html(&input_with(alerts, activity));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches(r#"data-testid="key-section""#).count(), 3);
    let pos = |k: &str| html.find(&format!(r#"data-key="{k}""#)).unwrap();
    assert!(pos("AKIAKNOWN") < pos("AKIALOW"));
    assert!(pos("AKIALOW") < pos("AKIALOWER"));
    assert!(!html.contains(r#"data-key="AKIAQUIET""#));
    // Each section has the three charts.
    for id in ["chart-unauthorized", "chart-geo", "chart-alerts"] {
        assert_eq!(
            html.matches(&format!(r#"data-testid="{id}""#)).count(),
            3,
            "{id}"
        );
    }
    assert_eq!(
        html.matches(r#"data-testid="overview-timeline""#).count(),
        1
    );
    // The correlation is drawn and listed.
    assert_eq!(html.matches(r#"class="corr-link""#).count(), 1);
    assert!(html.contains("Correlated alerts</dt>"));
    // MITRE links, remediation, run summary, attribution.
    assert!(html.contains(r#"href="https://attack.mitre.org/techniques/T1078/004/""#));
    assert!(html.contains("aws iam update-access-key --access-key-id AKIAKNOWN --status Inactive --user-name akiaknown"));
    assert!(html.contains("34,567"));
    assert!(html.contains("DB-IP &lt;embedded&gt;"));
    assert!(html.contains(r#"<a href="https://db-ip.com" rel="noopener noreferrer">DB-IP</a>"#));
    assert!(html.contains("CC BY 4.0"));
}

#[test]
fn log_strings_are_escaped_everywhere() {
    let key = "AKIAXSSEXAMPLE";
    let mut a = alert("aws-iam-user-agent-new-ip", Severity::Medium, key, T0);
    a.user_agents = vec![XSS_SCRIPT.into(), XSS_IMG.into()];
    a.user_arn = r#"arn:aws:iam::1:user/"><svg onload=alert(1)>"#.into();
    a.remediation = remediation(key, &a.user_arn);
    a.why = format!("agent {XSS_SCRIPT} from new IP");
    a.source_ips = vec![XSS_IMG.into()];
    a.event_ids = vec!["'\"><script>alert(2)</script>".into()];
    a.details = json!({"new_user_agent": XSS_SCRIPT, "rows": [{"x": XSS_IMG}]});
    a.rule_name = XSS_SCRIPT.into();
    a.mitre = vec![r#"T1078"><script>alert(3)</script>"#.into()];
    let mut act = known_activity(key);
    act.user_arn = a.user_arn.clone();
    act.hours[0].sources[0].ip = XSS_SCRIPT.into();
    act.hours[0].unauthorized_api_names = vec![XSS_IMG.into()];
    let mut activity = BTreeMap::new();
    activity.insert(key.to_owned(), act);
    let mut input = input_with(vec![(a, "open".into())], activity);
    input.title = format!("Report {XSS_SCRIPT}");
    input.run_summary = Some(json!({"geoip": XSS_IMG, "issues_by_kind": {XSS_SCRIPT: 1}}));
    let html = render_html(&input);
    // Only the report's own script element; no element from a log.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(&format!("<script>{}</script>", render::SCRIPT)));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<svg onload"));
    assert!(!html.contains(r#"onerror=""#));
    assert!(html.contains("&lt;script&gt;window.__xss=1&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;"));
    // The forged command is flagged.
    assert!(html.contains(r#"class="warn""#));
    // Nothing is loaded: no elements that fetch, only the data: icon link, a strict CSP.
    for tag in [
        "<img", "<iframe", "<object", "<embed", "<audio", "<video", "<source",
    ] {
        assert!(!html.contains(tag), "{tag}");
    }
    assert!(!html.contains("src=\""));
    assert_eq!(html.matches("<link ").count(), 1);
    assert!(html.contains(r#"<link rel="icon" href="data:,">"#));
    assert!(html.contains(&escape(&render::csp())));
    assert!(render::csp().starts_with("default-src 'none';"));
}

#[test]
fn empty_report_says_so() {
    let html = render_html(&input_with(Vec::new(), BTreeMap::new()));
    assert!(html.contains("No alerts"));
    assert_eq!(html.matches(r#"data-testid="key-section""#).count(), 0);
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn keys_without_activity_still_get_charts() {
    let a = alert(
        "aws-akia-unauthorized-api-call",
        Severity::High,
        "AKIANOACT",
        T0,
    );
    let html = render_html(&input_with(vec![(a, "open".into())], BTreeMap::new()));
    assert_eq!(html.matches(r#"data-testid="key-section""#).count(), 1);
    assert!(html.contains("No activity recorded for this key"));
    assert_eq!(html.matches(r#"data-testid="chart-alerts""#).count(), 1);
}
