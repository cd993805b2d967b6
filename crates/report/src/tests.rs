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
        root_key: String::new(),
        principal: String::new(),
        suppressed_count: 0,
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
        links: charts::Links::InPage,
        focus_alert: None,
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

/// An alert of `rule_id` with its evidence spelled out.
#[allow(clippy::too_many_arguments)]
fn evidence_alert(
    rule_id: &str,
    key: &str,
    first_seen: Timestamp,
    last_seen: Timestamp,
    ips: &[&str],
    countries: &[&str],
    ids: &[&str],
    count: u64,
) -> Alert {
    let mut a = alert(rule_id, Severity::Medium, key, first_seen);
    a.id = alert_id(rule_id, &[key, &first_seen.to_string()]);
    a.first_seen = first_seen;
    a.last_seen = last_seen;
    a.source_ips = ips.iter().map(|s| (*s).to_owned()).collect();
    a.countries = countries.iter().map(|s| (*s).to_owned()).collect();
    a.event_ids = ids.iter().map(|s| (*s).to_owned()).collect();
    a.count = count;
    a.event_names = Vec::new();
    a
}

const D2: &str = "aws-akia-first-seen-source-ip";
const D3: &str = "aws-iam-user-agent-new-ip";
const D4: &str = "aws-akia-unauthorized-api-call";
const D5: &str = "aws-akia-correlated-elevated-alerts";
const MINUTE: i64 = 60_000_000_000;

/// Two hours of a key's alerts: D2 and a two-address D4 in the first, D3, a two-address D4 and
/// a D2 from a private address in the third; a D5 and another key's alert that must be left out.
fn key_alerts() -> Vec<Alert> {
    let k = "AKIAFROMALERTS";
    let t = T0;
    let mut d4 = evidence_alert(
        D4,
        k,
        t + 20 * MINUTE,
        t + 50 * MINUTE,
        &["203.0.113.5", "198.51.100.7"],
        &["DE", "US"],
        &["e2", "e3", "e4"],
        5,
    );
    d4.time = t;
    d4.event_names = vec!["ListUsers".into(), "GetSecretValue".into()];
    let mut d4b = evidence_alert(
        D4,
        k,
        t + 2 * HOUR + MINUTE,
        t + 2 * HOUR + 40 * MINUTE,
        &["192.0.2.9", "10.0.0.1"],
        &["FR"],
        &["e20", "e21"],
        2,
    );
    d4b.time = t + 2 * HOUR;
    d4b.event_names = vec!["RunInstances".into()];
    vec![
        evidence_alert(
            D2,
            k,
            t + 10 * MINUTE,
            t + 10 * MINUTE,
            &["203.0.113.5"],
            &["US"],
            &["e1"],
            1,
        ),
        d4,
        evidence_alert(
            D3,
            k,
            t + 2 * HOUR + 5 * MINUTE,
            t + 2 * HOUR + 5 * MINUTE,
            &["198.51.100.7"],
            &["DE"],
            &["e9"],
            1,
        ),
        d4b,
        evidence_alert(
            D2,
            k,
            t + 2 * HOUR + 30 * MINUTE,
            t + 2 * HOUR + 30 * MINUTE,
            &["10.0.0.1"],
            &[],
            &["e10"],
            1,
        ),
        evidence_alert(
            D5,
            k,
            t,
            t + 3 * HOUR,
            &["203.0.113.5", "9.9.9.9"],
            &["AU"],
            &["e1", "x"],
            99,
        ),
        evidence_alert(D4, "AKIAOTHER", t, t, &["9.9.9.9"], &["AU"], &["o1"], 7),
    ]
}

fn src(ip: &str, country: &str, events: u32, unauthorized: u32) -> SourceHour {
    SourceHour {
        ip: ip.into(),
        country: Country::new(country),
        events,
        unauthorized,
    }
}

#[test]
fn activity_rebuilt_from_alerts() {
    let alerts = key_alerts();
    let a = activity_from_alerts("AKIAFROMALERTS", &alerts).unwrap();
    assert_eq!(a.access_key_id, "AKIAFROMALERTS");
    assert_eq!(a.user_arn, "arn:aws:iam::123456789012:user/akiafromalerts");
    assert_eq!(a.first_seen, T0 + 10 * MINUTE);
    assert_eq!(a.last_seen, T0 + 2 * HOUR + 40 * MINUTE);
    assert_eq!(a.events, 10);
    assert_eq!(a.hours.len(), 2);
    let h = &a.hours[0];
    assert_eq!(h.hour, T0);
    // e1..e4 plus the two events beyond D4's id list; five of them unauthorized (D4's count).
    assert_eq!((h.events, h.successful, h.unauthorized), (6, 1, 5));
    assert_eq!(h.unauthorized_api_names, ["GetSecretValue", "ListUsers"]);
    assert_eq!(
        h.countries,
        [Country::new("DE").unwrap(), Country::new("US").unwrap()]
    );
    // 203.0.113.5: its D2 event, and at least one unauthorized call of the two-address D4;
    // 198.51.100.7 takes DE from the D3 alert that pairs it.
    assert_eq!(
        h.sources,
        [
            src("198.51.100.7", "DE", 1, 1),
            src("203.0.113.5", "US", 1, 1)
        ]
    );
    assert_eq!(h.other_sources, OtherSources::default());
    let h = &a.hours[1];
    assert_eq!(h.hour, T0 + 2 * HOUR);
    assert_eq!((h.events, h.successful, h.unauthorized), (4, 2, 2));
    assert_eq!(h.unauthorized_api_names, ["RunInstances"]);
    assert_eq!(
        h.countries,
        [Country::new("DE").unwrap(), Country::new("FR").unwrap()]
    );
    // 10.0.0.1 has no country (its own D2 alert has none); 192.0.2.9 is unpaired: counted aside.
    assert_eq!(
        h.sources,
        [src("10.0.0.1", "", 1, 1), src("198.51.100.7", "DE", 1, 0)]
    );
    assert_eq!(
        h.other_sources,
        OtherSources {
            events: 1,
            unauthorized: 1
        }
    );
    // Unauthorized calls per hour for the chart: 5, 0, 2.
    let series: Vec<u32> = hourly_unauthorized(&a).iter().map(|&(_, n)| n).collect();
    assert_eq!(series, [5, 0, 2]);
    assert!(activity_from_alerts("AKIANONE", &alerts).is_none());
    // A key with only a higher-order alert has nothing to draw from.
    assert!(activity_from_alerts("AKIAFROMALERTS", &alerts[5..6]).is_none());
}

#[test]
fn key_charts_for_one_key_link_to_pages() {
    let alerts: Vec<(Alert, String)> = key_alerts()
        .into_iter()
        .map(|a| (a, "open".to_owned()))
        .collect();
    let plain: Vec<Alert> = alerts.iter().map(|(a, _)| a.clone()).collect();
    let activity = activity_from_alerts("AKIAFROMALERTS", &plain).unwrap();
    let link = |id: &str| format!("/alerts/{id}?x=1&y=2");
    let focus = alerts[2].0.id.clone();
    let html = parts::key_charts(&parts::KeyCharts {
        key: "AKIAFROMALERTS",
        alerts: &alerts,
        activity: Some(&activity),
        links: parts::Links::Pages(&link),
        focus_alert: Some(&focus),
        note: Some("Counts from <D4> alerts."),
    });
    for id in ["chart-unauthorized", "chart-geo", "chart-alerts"] {
        assert_eq!(html.matches(&format!(r#"data-testid="{id}""#)).count(), 1);
    }
    // Two hours with unauthorized calls; six alerts of the key (not the other key's).
    assert_eq!(html.matches(r#"<rect class="bar"#).count(), 2);
    assert_eq!(html.matches(r#"<a href="/alerts/"#).count(), 6);
    assert!(html.contains(&format!(r#"<a href="/alerts/{focus}?x=1&amp;y=2">"#)));
    assert_eq!(html.matches(" current\"").count(), 1);
    assert!(html.contains("Counts from &lt;D4&gt; alerts.</figcaption>"));
    assert!(html.contains("a marker opens its alert."));
    assert!(!html.contains("href=\"#a-"));
    // Lanes of the countries chart: DE, US, FR, then "no country".
    assert!(html.contains(">no country</text>"));
}

#[test]
fn evidence_of_one_alert_escapes_and_links_siblings() {
    let mut alerts = key_alerts();
    alerts[0].user_agents = vec![XSS_SCRIPT.into()];
    let d2 = alerts[0].clone();
    let mut d5 = alerts[5].clone();
    d5.details = json!({"siblings": [{"id": d2.id, "rule_id": D2}]});
    let related = vec![(d2.clone(), "closed".to_owned())];
    let link = |id: &str| format!("/alerts/{id}");
    let html = parts::alert_evidence(&d5, &related, parts::Links::Pages(&link));
    assert!(html.starts_with(r#"<dl class="kv">"#));
    assert!(html.contains("Correlated alerts</dt>"));
    assert!(html.contains(&format!(r#"<li><a href="/alerts/{}">"#, d2.id)));
    let html = parts::alert_evidence(&d2, &[], parts::Links::InPage);
    assert!(
        html.contains("<code class=\"item\">&lt;script&gt;window.__xss=1&lt;/script&gt;</code>")
    );
    assert!(!html.contains("<script"));
    assert_eq!(
        parts::severity_badge(Severity::High),
        r#"<span class="badge sev-high">high</span>"#
    );
    assert_eq!(
        parts::status_badge("<b>"),
        r#"<span class="status other">&lt;b&gt;</span>"#
    );
    assert_eq!(parts::rule_code(D4), "D4");
    assert_eq!(parts::format_time(T0), "2024-05-01 00:00:00 UTC");
    let box_ = parts::remediation("x\"1", &["aws iam update-access-key --access-key-id A;B"]);
    assert!(box_.contains(r#"<code id="rem-x&quot;1-0">"#));
    assert!(box_.contains(r#"class="warn""#));
}
