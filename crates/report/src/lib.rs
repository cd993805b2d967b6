//! Trailhound's HTML report: one self-contained file, pure (no I/O; the caller writes the string).
//!
//! * [`ActivityCollector`] sees the event stream once and keeps compact hourly aggregates per
//!   long-term access key ([`KeyActivity`]): the data behind the charts.
//! * [`render_html`] turns alerts (with their status), the activity and the run summary into one
//!   HTML5 document: an overview (counts by severity and rule, a timeline of every alert), then
//!   a section per access key with alerts (worst first): the remediation command, MITRE ATT&CK
//!   techniques, three SVG charts (unauthorized calls per hour with the Tukey fence and
//!   outliers, countries and source IPs over time, the alert timeline with correlations) and the
//!   alerts with their evidence.
//!
//! [`parts`] offers the same charts, evidence and badges one key or alert at a time, for other
//! front ends (the web UI), and [`activity_from_alerts`] rebuilds a key's activity from its stored
//! alerts when the events are not at hand.
//!
//! The document loads nothing: CSS and the SVG charts are inline, the charts need no
//! JavaScript, and a small inline script (copy buttons, expand all, open everything for print)
//! is optional. A Content-Security-Policy allows exactly that style and script (by hash) and
//! nothing else. Every string from a log or an alert goes through [`escape`]: a crafted user
//! agent such as `<script>…</script>` shows as text and never runs.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use trailhound_detect::Alert;
use trailhound_detect::series::percentile_linear;
use trailhound_model::{HOUR, Timestamp};

pub mod activity;
mod charts;
pub mod escape;
mod from_alerts;
pub mod parts;
mod render;
mod svg;

pub use activity::{
    ActivityCollector, HourActivity, KeyActivity, OtherSources, SourceHour,
    UNAUTHORIZED_ERROR_CODES,
};
pub use escape::{Esc, escape, escape_into};
pub use from_alerts::activity_from_alerts;
pub use render::{mitre_name, mitre_url};

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportInput {
    /// The report's title (e.g. "Trailhound hunt: s3://bucket/prefix").
    pub title: String,
    /// When the report was made.
    pub generated_at: Timestamp,
    /// The alerts with their lifecycle status (`open`, `acknowledged`, `closed`).
    pub alerts: Vec<(Alert, String)>,
    /// Hourly activity per access key, from an [`ActivityCollector`]; keys without an entry get
    /// charts from their alerts only.
    pub activity: BTreeMap<String, KeyActivity>,
    /// The run's summary (the JSON of `hunt --stats`: files, events, bad input by kind, …),
    /// shown in the header when present.
    pub run_summary: Option<serde_json::Value>,
}

/// Renders the report: one self-contained HTML5 document.
pub fn render_html(input: &ReportInput) -> String {
    render::page(input)
}

/// The factor of the inter-quartile range in the Tukey fence: `Q3 + 1.5·IQR`.
pub const TUKEY_K: f64 = 1.5;

/// The quartiles and the upper Tukey fence of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TukeyFence {
    /// 25th percentile (linear interpolation, as `series_outliers`).
    pub q1: f64,
    /// 75th percentile.
    pub q3: f64,
    /// `q3 − q1`.
    pub iqr: f64,
    /// `q3 + 1.5·iqr`: values above it are outliers.
    pub upper: f64,
}

/// The Tukey fence of the finite values of `xs`, with the percentiles of
/// [`trailhound_detect::series::percentile_linear`]; `None` when there are none.
pub fn tukey_fence(xs: &[f64]) -> Option<TukeyFence> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q1 = percentile_linear(&v, 25.0);
    let q3 = percentile_linear(&v, 75.0);
    Some(TukeyFence {
        q1,
        q3,
        iqr: q3 - q1,
        upper: q3 + TUKEY_K * (q3 - q1),
    })
}

/// The key's unauthorized calls per hour over its active range, from its first to its last hour
/// with events, with 0 for the hours without (the series of the report's first chart).
pub fn hourly_unauthorized(activity: &KeyActivity) -> Vec<(Timestamp, u32)> {
    let (Some(first), Some(last)) = (activity.hours.first(), activity.hours.last()) else {
        return Vec::new();
    };
    let start = first.hour.max(last.hour - charts::MAX_RANGE);
    let mut out = Vec::with_capacity(((last.hour - start) / HOUR + 1) as usize);
    let mut hours = activity
        .hours
        .iter()
        .skip_while(|h| h.hour < start)
        .peekable();
    let mut t = start;
    while t <= last.hour {
        let n = match hours.peek() {
            Some(h) if h.hour == t => {
                let n = h.unauthorized;
                hours.next();
                n
            }
            _ => 0,
        };
        out.push((t, n));
        t += HOUR;
    }
    out
}

#[cfg(test)]
mod tests;
