//! The SVG charts: per key (denied calls with the Tukey fence, countries and source IPs, alert
//! timeline) and the overview timeline of every alert.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use trailhound_detect::Alert;
use trailhound_detect::series::{IqrZero, series_outliers_tukey};
use trailhound_model::{HOUR, Timestamp};

use crate::escape::Esc;
use crate::svg::{Shape, TimeScale, W, c, fmt_minute, fmt_time, marker, nice_ticks, num};
use crate::{KeyActivity, hourly_unauthorized, tukey_fence};

/// Left margin of the per-key charts (lane labels), shared so their time axes line up.
const LEFT: f64 = 150.0;
/// Right margin of the charts.
const RIGHT: f64 = 24.0;
/// Longest range a key's charts cover (400 days); older activity is left out.
pub(crate) const MAX_RANGE: i64 = 400 * 24 * HOUR;
/// Most lanes of the countries chart (the rest share an "other" lane).
const MAX_GEO_LANES: usize = 10;
/// Most keys in the overview timeline.
pub(crate) const MAX_OVERVIEW_KEYS: usize = 40;

/// The rule code, a short label and the marker shape of a rule id.
pub(crate) fn rule_style(rule_id: &str) -> (&'static str, &str, Shape) {
    match rule_id {
        "aws-akia-failed-api-spike" => ("D1", "Failed-API spike", Shape::Circle),
        "aws-akia-first-seen-source-ip" => ("D2", "First-seen IP", Shape::Square),
        "aws-iam-user-agent-new-ip" => ("D3", "New agent + IP", Shape::Diamond),
        "aws-akia-unauthorized-api-call" => ("D4", "Unauthorized call", Shape::Triangle),
        "aws-akia-correlated-elevated-alerts" => ("D5", "Correlated alerts", Shape::Hexagon),
        other => ("", other, Shape::Circle),
    }
}

/// The label people read for a rule: `D1 Failed-API spike` for the built-in rules, else the
/// rule's title (from its alerts; Sigma ids are UUIDs), cut to `max` characters.
pub(crate) fn rule_label<'a>(
    rule_id: &str,
    mut alerts: impl Iterator<Item = &'a Alert>,
    max: usize,
) -> String {
    let (code, label, _) = rule_style(rule_id);
    if !code.is_empty() {
        return format!("{code} {label}");
    }
    let title = alerts
        .find(|a| a.rule_id == rule_id)
        .map_or(rule_id, |a| a.rule_name.as_str());
    if title.chars().count() > max {
        let mut t: String = title.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        title.to_owned()
    }
}

/// Sort position of a rule: registration order, unknown rules last.
pub(crate) fn rule_order(rule_id: &str) -> usize {
    trailhound_detect::rules()
        .iter()
        .position(|r| r.id == rule_id)
        .unwrap_or(match rule_id {
            "aws-akia-correlated-elevated-alerts" => 50,
            _ => 100,
        })
}

/// The in-page anchor of an alert (ids are hex; anything else is replaced).
pub(crate) fn alert_anchor(id: &str) -> String {
    let clean: String = id
        .chars()
        .take(80)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("a-{clean}")
}

/// Where alert markers and lists of related alerts link to.
#[derive(Clone, Copy)]
pub enum Links<'a> {
    /// In-page anchors (`#a-<id>`), as in the self-contained report.
    InPage,
    /// One page per alert: the function turns an alert id into its URL (escaped by the caller of
    /// the function, here).
    Pages(&'a (dyn Fn(&str) -> String + Sync)),
}

impl Links<'_> {
    /// The link of an alert, not yet escaped for HTML.
    pub(crate) fn alert_href(&self, id: &str) -> String {
        match self {
            Links::InPage => format!("#{}", alert_anchor(id)),
            Links::Pages(f) => f(id),
        }
    }
}

/// One access key's alerts and activity, as the report shows them.
pub(crate) struct KeyGroup<'a> {
    /// Position of the key's section (anchors `key-N`).
    pub index: usize,
    /// The access key id.
    pub key: &'a str,
    /// The key's alerts, by time.
    pub alerts: Vec<&'a (Alert, String)>,
    /// The key's activity, when collected.
    pub activity: Option<&'a KeyActivity>,
    /// Where alert markers link to.
    pub links: Links<'a>,
    /// An alert whose window the charts magnify and whose marker stands out (the alert page of
    /// a web UI); `None`: the stretch of highest risk ([`focus_of`]).
    pub focus_alert: Option<&'a str>,
}

impl KeyGroup<'_> {
    /// The time range of the key's charts: its activity and alerts, whole hours, one hour of
    /// margin each side, at most [`MAX_RANGE`] (ending at the last thing shown).
    pub fn range(&self) -> (Timestamp, Timestamp) {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        if let Some(a) = self.activity {
            lo = lo.min(a.first_seen);
            hi = hi.max(a.last_seen);
        }
        for (a, _) in &self.alerts {
            lo = lo.min(a.time).min(a.first_seen);
            hi = hi.max(a.time).max(a.last_seen);
        }
        if lo > hi {
            return (0, HOUR);
        }
        let hi = hi.div_euclid(HOUR) * HOUR + 2 * HOUR;
        let lo = (lo.div_euclid(HOUR) * HOUR - HOUR).max(hi - MAX_RANGE);
        // At least six hours, so that a single event does not fill the chart.
        let pad = (6 * HOUR - (hi - lo)).max(0) / HOUR / 2 * HOUR;
        (lo - pad, hi + pad)
    }

    /// The window the key's charts magnify (see [`focus_of`]): around the focus alert when there
    /// is one, else the stretch of highest risk.
    pub fn focus(&self) -> Option<(Timestamp, Timestamp)> {
        let chosen = self
            .focus_alert
            .and_then(|id| self.alerts.iter().find(|(a, _)| a.id == id));
        match chosen {
            Some((a, _)) => focus_of(std::iter::once(a)),
            None => focus_of(self.alerts.iter().map(|(a, _)| a)),
        }
    }

    /// The time scale of the key's charts: its range, with its focus magnified.
    pub fn scale(&self) -> TimeScale {
        let (t0, t1) = self.range();
        TimeScale::focused(t0, t1, LEFT, W - RIGHT, self.focus())
    }
}

/// The window worth magnifying in a set of alerts: the hours around the 24-hour stretch of alerts
/// with the highest total risk score (the earliest of equals), six hours either side, at least 18
/// hours.
pub(crate) fn focus_of<'a>(
    alerts: impl Iterator<Item = &'a Alert>,
) -> Option<(Timestamp, Timestamp)> {
    let mut alerts: Vec<&Alert> = alerts.collect();
    alerts.sort_by_key(|a| a.time);
    let mut best: Option<(usize, usize, u64)> = None;
    let mut i = 0;
    let mut sum = 0u64;
    for j in 0..alerts.len() {
        sum += u64::from(alerts[j].risk_score);
        while alerts[j].time - alerts[i].time > 24 * HOUR {
            sum -= u64::from(alerts[i].risk_score);
            i += 1;
        }
        if best.is_none_or(|(_, _, w)| sum > w) {
            best = Some((i, j, sum));
        }
    }
    let (i, j, _) = best?;
    let lo = alerts[i..=j]
        .iter()
        .map(|a| a.time.min(a.first_seen))
        .min()?;
    let hi = alerts[i..=j]
        .iter()
        .map(|a| a.time.max(a.last_seen))
        .max()?;
    let mut f0 = lo.div_euclid(HOUR) * HOUR - 6 * HOUR;
    let mut f1 = hi.div_euclid(HOUR) * HOUR + 7 * HOUR;
    let short = (18 * HOUR - (f1 - f0)).max(0) / HOUR;
    f0 -= short / 2 * HOUR;
    f1 += (short - short / 2) * HOUR;
    Some((f0, f1))
}

fn svg_open(out: &mut String, testid: &str, h: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" data-testid="{testid}" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        c(W),
        c(h),
        Esc(label)
    );
}

fn no_data(out: &mut String, y: f64, text: &str) {
    let _ = write!(
        out,
        r#"<text class="empty" x="{}" y="{}" text-anchor="middle">{}</text>"#,
        c((LEFT + W - RIGHT) / 2.0),
        c(y),
        Esc(text)
    );
}

fn list_short<S: AsRef<str>>(items: &[S], n: usize) -> String {
    let mut s = items
        .iter()
        .take(n)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > n {
        let _ = write!(s, " +{} more", items.len() - n);
    }
    s
}

/// What the denied-calls chart found (for its caption and tests).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnauthorizedSummary {
    pub fence: Option<crate::TukeyFence>,
    pub bars: usize,
    pub outliers: usize,
    pub peak: Option<(Timestamp, u32)>,
    pub clipped: bool,
}

/// Chart (a): denied calls per hour as bars, the Tukey upper fence, outlier bins in their own
/// colour and the bins of D1 alerts highlighted.
pub(crate) fn unauthorized_chart(g: &KeyGroup, s: &TimeScale) -> (String, UnauthorizedSummary) {
    const TOP: f64 = 24.0;
    const AXIS: f64 = 178.0;
    const H: f64 = 216.0;
    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-unauthorized",
        H,
        &format!("Unauthorized calls per hour of {}", g.key),
    );
    let mut summary = UnauthorizedSummary {
        fence: None,
        bars: 0,
        outliers: 0,
        peak: None,
        clipped: false,
    };
    let series: Vec<(Timestamp, u32)> = g
        .activity
        .map(hourly_unauthorized)
        .unwrap_or_default()
        .into_iter()
        .filter(|&(t, _)| t >= s.t0)
        .collect();
    summary.clipped = g
        .activity
        .is_some_and(|a| a.first_seen.div_euclid(HOUR) * HOUR < s.t0);
    let xs: Vec<f64> = series.iter().map(|&(_, v)| f64::from(v)).collect();
    let fence = tukey_fence(&xs);
    summary.fence = fence;
    let max = xs.iter().copied().fold(0.0, f64::max);
    let (step, top) = nice_ticks(max.max(fence.map_or(0.0, |f| f.upper)), 4, 1.0);
    let y = |v: f64| AXIS - v / top * (AXIS - TOP);
    // The focus and D1 alert bins behind everything.
    s.focus_band(&mut out, TOP - 6.0, AXIS);
    for (a, _) in g
        .alerts
        .iter()
        .filter(|(a, _)| a.rule_id == "aws-akia-failed-api-spike")
    {
        let z = a.details.get("ZScore").map(json_num).unwrap_or_default();
        let o = a
            .details
            .get("TotalUnauthorizedEventsOutliers")
            .map(json_num)
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<rect class="d1-bin" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
            c(s.x(a.time)),
            c(TOP - 6.0),
            c(s.w(a.time, HOUR).max(3.0)),
            c(AXIS - TOP + 6.0),
            Esc(&format!(
                "D1 alert: bin starting {}, z-score {z}, outlier score {o}",
                fmt_minute(a.time)
            ))
        );
    }
    s.axis(&mut out, TOP, AXIS);
    // Value axis.
    out.push_str(r#"<g class="axis y-axis">"#);
    let mut v = 0.0;
    while v <= top + 1e-9 {
        let yy = c(y(v));
        let _ = write!(
            out,
            r#"<line class="grid" x1="{}" y1="{yy}" x2="{}" y2="{yy}"/><text x="{}" y="{}" text-anchor="end">{}</text>"#,
            c(s.x0),
            c(s.x1),
            c(s.x0 - 8.0),
            c(y(v) + 4.0),
            num(v)
        );
        v += step;
    }
    let _ = write!(
        out,
        r#"<text class="unit" x="{}" y="{}" text-anchor="end">calls / hour</text>"#,
        c(s.x0 - 8.0),
        c(TOP - 12.0)
    );
    out.push_str("</g>");
    if series.is_empty() {
        no_data(
            &mut out,
            (TOP + AXIS) / 2.0,
            "No activity recorded for this key",
        );
    } else if max == 0.0 {
        no_data(
            &mut out,
            (TOP + AXIS) / 2.0,
            "No unauthorized calls by this key",
        );
    }
    // Bars.
    let scores = series_outliers_tukey(&xs, None, IqrZero::Ieee);
    let names: HashMap<Timestamp, &Vec<trailhound_model::Str>> = g
        .activity
        .map(|a| {
            a.hours
                .iter()
                .map(|h| (h.hour, &h.unauthorized_api_names))
                .collect()
        })
        .unwrap_or_default();
    let mut marks = String::new();
    out.push_str(r#"<g class="bars">"#);
    for (i, &(t, n)) in series.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if summary.peak.is_none_or(|(_, p)| n > p) {
            summary.peak = Some((t, n));
        }
        let outlier = fence.is_some_and(|f| f64::from(n) > f.upper);
        summary.bars += 1;
        summary.outliers += usize::from(outlier);
        let apis = names.get(&t).map(|v| list_short(v, 8)).unwrap_or_default();
        let mut title = format!(
            "{}: {n} unauthorized call{} ({apis})",
            fmt_minute(t),
            if n == 1 { "" } else { "s" }
        );
        if outlier {
            let _ = write!(title, "; above the fence, Tukey score {}", num(scores[i]));
        }
        let wt = s.w(t, HOUR);
        let bw = (wt * 0.8).clamp(1.6, 36.0);
        let x = s.x(t) + (wt - bw) / 2.0;
        let yy = y(f64::from(n));
        if outlier {
            let cx = x + bw / 2.0;
            let _ = write!(
                marks,
                r#"<path class="outlier-mark" d="M{},{} L{},{} L{},{}Z"/>"#,
                c(cx - 4.5),
                c(yy - 10.0),
                c(cx + 4.5),
                c(yy - 10.0),
                c(cx),
                c(yy - 3.0)
            );
        }
        let _ = write!(
            out,
            r#"<rect class="bar{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
            if outlier { " outlier" } else { "" },
            c(x),
            c(yy),
            c(bw),
            c((AXIS - yy).max(1.0)),
            Esc(&title)
        );
    }
    out.push_str("</g>");
    out.push_str(&marks);
    if let Some(f) = fence {
        let yy = c(y(f.upper));
        let _ = write!(
            out,
            r#"<g class="fence-g"><line class="fence" x1="{}" y1="{yy}" x2="{}" y2="{yy}"><title>Tukey upper fence Q3 + 1.5·IQR = {} (Q1 {}, Q3 {})</title></line><text class="fence-label" x="{}" y="{}" text-anchor="end">fence {}</text></g>"#,
            c(s.x0),
            c(s.x1),
            num(f.upper),
            num(f.q1),
            num(f.q3),
            c(s.x1 - 2.0),
            c(y(f.upper) - 5.0),
            num(f.upper)
        );
    }
    out.push_str("</svg>");
    (out, summary)
}

fn json_num(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One dot of the countries chart: a lane over one or more hours.
#[derive(Default)]
struct Cell {
    first: Timestamp,
    last: Timestamp,
    events: u32,
    unauthorized: u32,
    /// Source IP → (events, unauthorized).
    ips: BTreeMap<String, (u32, u32)>,
    notes: Vec<String>,
}

/// Chart (b): one lane per country (and one for addresses without a country), a dot per hour
/// the key was used from there, sized by events and coloured by the share of denied calls; the
/// tooltip lists the source IPs.
pub(crate) fn geo_chart(g: &KeyGroup, s: &TimeScale) -> (String, usize) {
    const TOP: f64 = 8.0;
    const LANE: f64 = 24.0;
    let hours: Vec<_> = g
        .activity
        .map(|a| a.hours.iter().filter(|h| h.hour >= s.t0).collect())
        .unwrap_or_default();
    // Lanes: events per country, in order of first appearance.
    let mut lanes: Vec<(Option<String>, u64)> = Vec::new();
    let lane_of = |lanes: &mut Vec<(Option<String>, u64)>, k: &Option<String>, n: u32| match lanes
        .iter_mut()
        .find(|(c, _)| c == k)
    {
        Some(l) => l.1 += u64::from(n),
        None => lanes.push((k.clone(), u64::from(n))),
    };
    for h in &hours {
        for src in &h.sources {
            lane_of(&mut lanes, &src.country.map(|c| c.to_string()), src.events);
        }
        for c in &h.countries {
            lane_of(&mut lanes, &Some(c.to_string()), 0);
        }
    }
    // Countries first (by first appearance), "no country" last; beyond the cap, the smallest
    // countries share an "other" lane.
    let none_total = lanes.iter().find(|l| l.0.is_none()).map(|l| l.1);
    let mut countries: Vec<(Option<String>, u64)> =
        lanes.into_iter().filter(|l| l.0.is_some()).collect();
    let mut other: Vec<String> = Vec::new();
    let cap = MAX_GEO_LANES - usize::from(none_total.is_some());
    if countries.len() > cap {
        let mut by_size: Vec<usize> = (0..countries.len()).collect();
        by_size.sort_by(|&a, &b| countries[b].1.cmp(&countries[a].1).then(a.cmp(&b)));
        let keep: Vec<usize> = by_size[..cap - 1].to_vec();
        other = by_size[cap - 1..]
            .iter()
            .filter_map(|&i| countries[i].0.clone())
            .collect();
        countries = (0..countries.len())
            .filter(|i| keep.contains(i))
            .map(|i| countries[i].clone())
            .collect();
    }
    let mut labels: Vec<(String, &'static str)> = countries
        .iter()
        .map(|(c, _)| (c.clone().unwrap_or_default(), ""))
        .collect();
    if !other.is_empty() {
        labels.push(("other".to_owned(), "muted"));
    }
    if none_total.is_some() {
        labels.push(("no country".to_owned(), "muted"));
    }
    let lane_index = |country: &Option<String>| -> usize {
        match country {
            None => labels.len() - 1,
            Some(c) => countries
                .iter()
                .position(|(k, _)| k.as_deref() == Some(c.as_str()))
                .unwrap_or(countries.len()),
        }
    };
    let n_lanes = labels.len().max(1);
    let axis = TOP + LANE * n_lanes as f64;
    let h = axis + 36.0;
    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-geo",
        h,
        &format!("Countries and source IPs over time of {}", g.key),
    );
    for (i, (label, class)) in labels.iter().enumerate() {
        let y0 = TOP + LANE * i as f64;
        let _ = write!(
            out,
            r#"<rect class="lane{}" x="{}" y="{}" width="{}" height="{}"/><text class="lane-label {class}" x="{}" y="{}" text-anchor="end">{}</text>"#,
            if i % 2 == 1 { " alt" } else { "" },
            c(s.x0),
            c(y0),
            c(s.x1 - s.x0),
            c(LANE),
            c(s.x0 - 10.0),
            c(y0 + LANE / 2.0 + 4.0),
            Esc(label)
        );
    }
    s.focus_band(&mut out, TOP, axis);
    s.axis(&mut out, TOP, axis);
    if hours.is_empty() {
        no_data(
            &mut out,
            TOP + LANE / 2.0 + 4.0,
            "No activity recorded for this key",
        );
    }
    // Cells per (lane, slot): one hour where hours are wide (the focus), several hours merged
    // where they are narrower than a dot.
    const SLOT: f64 = 8.0;
    let mut cells: BTreeMap<(usize, i64), Cell> = BTreeMap::new();
    for h in &hours {
        let slot = ((s.x(h.hour) + s.w(h.hour, HOUR) / 2.0) / SLOT).floor() as i64;
        let mut add = |lane: usize, ip: Option<String>, events: u32, denied: u32, note: String| {
            let cell = cells.entry((lane, slot)).or_insert_with(|| Cell {
                first: h.hour,
                last: h.hour,
                ..Cell::default()
            });
            cell.first = cell.first.min(h.hour);
            cell.last = cell.last.max(h.hour);
            cell.events += events;
            cell.unauthorized += denied;
            if let Some(ip) = ip {
                let e = cell.ips.entry(ip).or_default();
                e.0 += events;
                e.1 += denied;
            } else if !note.is_empty() && !cell.notes.contains(&note) {
                cell.notes.push(note);
            }
        };
        for src in &h.sources {
            let country = src.country.map(|c| c.to_string());
            let label = match &country {
                Some(c) if other.contains(c) => format!("{} ({c})", src.ip),
                _ => src.ip.to_string(),
            };
            add(
                lane_index(&country),
                Some(label),
                src.events,
                src.unauthorized,
                String::new(),
            );
        }
        for country in &h.countries {
            let lane = lane_index(&Some(country.to_string()));
            if !h.sources.iter().any(|src| src.country == Some(*country)) {
                add(
                    lane,
                    None,
                    0,
                    0,
                    format!("{country}: further addresses, not listed"),
                );
            }
        }
    }
    let max_events = cells.values().map(|c| c.events).max().unwrap_or(1).max(1);
    let mut dots = 0;
    out.push_str(r#"<g class="dots">"#);
    for (&(lane, _), cell) in &cells {
        let r = 2.5 + 4.5 * (f64::from(cell.events) / f64::from(max_events)).sqrt();
        let class = if cell.unauthorized == 0 {
            "dot ok"
        } else if cell.unauthorized * 2 < cell.events {
            "dot mixed"
        } else {
            "dot denied"
        };
        let when = if cell.first == cell.last {
            fmt_minute(cell.first)
        } else {
            format!(
                "{} – {}",
                fmt_minute(cell.first),
                fmt_minute(cell.last + HOUR)
            )
        };
        let mut title = format!(
            "{when} — {}: {} call{}, {} unauthorized",
            labels.get(lane).map_or("", |l| l.0.as_str()),
            cell.events,
            if cell.events == 1 { "" } else { "s" },
            cell.unauthorized
        );
        let mut ips: Vec<(&String, &(u32, u32))> = cell.ips.iter().collect();
        ips.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        for (ip, (n, d)) in ips.iter().take(12) {
            let _ = write!(
                title,
                "\n{ip}: {n} call{}, {d} unauthorized",
                if *n == 1 { "" } else { "s" }
            );
        }
        if ips.len() > 12 {
            let _ = write!(title, "\n+{} more addresses", ips.len() - 12);
        }
        for n in &cell.notes {
            let _ = write!(title, "\n{n}");
        }
        let cx = (s.x(cell.first) + s.x(cell.last + HOUR)) / 2.0;
        out.push_str(&marker(
            Shape::Circle,
            cx,
            TOP + LANE * (lane as f64) + LANE / 2.0,
            r,
            class,
            &title,
        ));
        dots += 1;
    }
    out.push_str("</g></svg>");
    (out, dots)
}

/// Alert ids referenced by each alert's details (D5 lists its siblings): alert id → ids of
/// other known alerts found anywhere in its details.
pub(crate) fn sibling_map(alerts: &[(Alert, String)]) -> HashMap<&str, Vec<&str>> {
    let ids: HashMap<&str, ()> = alerts.iter().map(|(a, _)| (a.id.as_str(), ())).collect();
    let mut map = HashMap::new();
    for (a, _) in alerts {
        let mut found = Vec::new();
        collect_ids(&a.details, &ids, &mut found);
        found.retain(|id| *id != a.id);
        found.sort();
        found.dedup();
        if !found.is_empty() {
            map.insert(a.id.as_str(), found);
        }
    }
    map
}

fn collect_ids<'a>(v: &serde_json::Value, ids: &HashMap<&'a str, ()>, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some((k, _)) = ids.get_key_value(s.as_str()) {
                out.push(k);
            }
        }
        serde_json::Value::Array(xs) => xs.iter().for_each(|x| collect_ids(x, ids, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_ids(x, ids, out)),
        _ => {}
    }
}

/// A marker's tooltip.
fn alert_title(a: &Alert, status: &str, with_key: bool) -> String {
    let mut t = format!(
        "{} — {} ({})\n{} · {} event{} · {status}",
        fmt_time(a.time),
        a.rule_name,
        a.severity.as_str(),
        if a.source_ips.is_empty() {
            "no source IP".to_owned()
        } else {
            list_short(&a.source_ips, 3)
        },
        a.count,
        if a.count == 1 { "" } else { "s" }
    );
    if with_key {
        t = format!("{}\n{t}", a.access_key_id);
    }
    t
}

/// Chart (c): the key's alerts, one lane per rule, severity-coloured markers, evidence windows
/// as bars, and correlation (D5) links to sibling alerts.
pub(crate) fn alert_chart(
    g: &KeyGroup,
    s: &TimeScale,
    siblings: &HashMap<&str, Vec<&str>>,
) -> (String, usize) {
    const TOP: f64 = 8.0;
    const LANE: f64 = 28.0;
    let mut rules: Vec<&str> = g.alerts.iter().map(|(a, _)| a.rule_id.as_str()).collect();
    rules.sort_by_key(|r| (rule_order(r), *r));
    rules.dedup();
    let n = rules.len().max(1);
    let axis = TOP + LANE * n as f64;
    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-alerts",
        axis + 36.0,
        &format!("Alert timeline of {}", g.key),
    );
    for (i, r) in rules.iter().enumerate() {
        let y0 = TOP + LANE * i as f64;
        let label = rule_label(r, g.alerts.iter().map(|(a, _)| a), 18);
        let _ = write!(
            out,
            r#"<rect class="lane{}" x="{}" y="{}" width="{}" height="{}"/><text class="lane-label" x="{}" y="{}" text-anchor="end">{}</text>"#,
            if i % 2 == 1 { " alt" } else { "" },
            c(s.x0),
            c(y0),
            c(s.x1 - s.x0),
            c(LANE),
            c(s.x0 - 10.0),
            c(y0 + LANE / 2.0 + 4.0),
            Esc(&label)
        );
    }
    s.focus_band(&mut out, TOP, axis);
    s.axis(&mut out, TOP, axis);
    let pos: HashMap<&str, (f64, f64)> = g
        .alerts
        .iter()
        .map(|(a, _)| {
            let lane = rules.iter().position(|r| *r == a.rule_id).unwrap_or(0);
            (
                a.id.as_str(),
                (s.x(a.time), TOP + LANE * lane as f64 + LANE / 2.0),
            )
        })
        .collect();
    // Evidence windows.
    for (a, _) in &g.alerts {
        let (_, y) = pos[a.id.as_str()];
        if a.last_seen > a.first_seen {
            let _ = write!(
                out,
                r#"<line class="window sev-{}" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                a.severity.as_str(),
                c(s.x(a.first_seen)),
                c(y),
                c(s.x(a.last_seen)),
                c(y)
            );
        }
    }
    // Correlation links.
    for (a, _) in &g.alerts {
        let Some(sibs) = siblings.get(a.id.as_str()) else {
            continue;
        };
        let (x1, y1) = pos[a.id.as_str()];
        for sib in sibs {
            if let Some(&(x2, y2)) = pos.get(sib) {
                let mx = (x1 + x2) / 2.0;
                let my = (y1 + y2) / 2.0 - 10.0;
                let _ = write!(
                    out,
                    r#"<path class="corr-link" d="M{},{} Q{},{} {},{}"/>"#,
                    c(x1),
                    c(y1),
                    c(mx),
                    c(my),
                    c(x2),
                    c(y2)
                );
            }
        }
    }
    let mut markers = 0;
    for (a, status) in &g.alerts {
        let (x, y) = pos[a.id.as_str()];
        let (_, _, shape) = rule_style(&a.rule_id);
        let current = if g.focus_alert == Some(a.id.as_str()) {
            " current"
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<a href="{}">{}</a>"#,
            Esc(&g.links.alert_href(&a.id)),
            marker(
                shape,
                x,
                y,
                6.5,
                &format!("marker sev-{}{current}", a.severity.as_str()),
                &alert_title(a, status, false)
            )
        );
        markers += 1;
    }
    out.push_str("</svg>");
    (out, markers)
}

/// The overview: every alert of every key (at most [`MAX_OVERVIEW_KEYS`] keys), one lane per key.
/// Also says whether the scale magnifies a window.
pub(crate) fn overview_timeline(groups: &[KeyGroup]) -> (String, bool) {
    const TOP: f64 = 8.0;
    const LANE: f64 = 28.0;
    const LEFT_O: f64 = 178.0;
    let shown = &groups[..groups.len().min(MAX_OVERVIEW_KEYS)];
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for g in shown {
        for (a, _) in &g.alerts {
            lo = lo.min(a.time);
            hi = hi.max(a.time);
        }
    }
    if lo > hi {
        (lo, hi) = (0, HOUR);
    }
    let pad = ((hi - lo) / 40).max(HOUR);
    let focus = focus_of(shown.iter().flat_map(|g| g.alerts.iter().map(|(a, _)| a)));
    let s = TimeScale::focused(lo - pad, hi + pad, LEFT_O, W - RIGHT, focus);
    let axis = TOP + LANE * shown.len().max(1) as f64;
    let mut out = String::new();
    svg_open(
        &mut out,
        "overview-timeline",
        axis + 36.0,
        "Timeline of all alerts by access key",
    );
    for (i, g) in shown.iter().enumerate() {
        let y0 = TOP + LANE * i as f64;
        let key = if g.key.is_empty() { "(no key)" } else { g.key };
        let _ = write!(
            out,
            r##"<rect class="lane{}" x="{}" y="{}" width="{}" height="{}"/><a href="#key-{}"><text class="lane-label mono" x="{}" y="{}" text-anchor="end">{}</text></a>"##,
            if i % 2 == 1 { " alt" } else { "" },
            c(s.x0),
            c(y0),
            c(s.x1 - s.x0),
            c(LANE),
            g.index,
            c(s.x0 - 10.0),
            c(y0 + LANE / 2.0 + 4.0),
            Esc(key)
        );
    }
    s.focus_band(&mut out, TOP, axis);
    s.axis(&mut out, TOP, axis);
    for (i, g) in shown.iter().enumerate() {
        let y = TOP + LANE * i as f64 + LANE / 2.0;
        // Lower severities first, so that the worst are drawn on top.
        let mut alerts = g.alerts.clone();
        alerts.sort_by_key(|(a, _)| a.severity);
        for (a, status) in alerts {
            let (_, _, shape) = rule_style(&a.rule_id);
            let _ = write!(
                out,
                r##"<a href="#{}">{}</a>"##,
                alert_anchor(&a.id),
                marker(
                    shape,
                    s.x(a.time),
                    // Rules a little apart, so that alerts of one moment stay visible.
                    y + (rule_order(&a.rule_id).min(4) as f64 - 2.0) * 3.0,
                    6.5,
                    &format!("marker sev-{}", a.severity.as_str()),
                    &alert_title(a, status, true)
                )
            );
        }
    }
    out.push_str("</svg>");
    (out, s.focus().is_some())
}
