//! `trailhound timeline PATH... --key AKIA…|--principal ARN`: the investigation pivot.
//!
//! Every event of a long-term key and of the sessions it minted (followed through
//! [`trailhound_detect::lineage`], so the `ASIA` keys an attacker switched to are in it), or of a
//! principal, in time order: time, API, source IP, country, user agent, error code and the key
//! that signed it; then a summary by hour, source IP, country, user agent and API. As a table,
//! JSON Lines, CSV or a self-contained HTML page.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use trailhound_geo::{GeoCache, GeoIp};
use trailhound_model::{Event, HOUR, Timestamp, format_rfc3339, parse_rfc3339};
use trailhound_report::Esc;
use trailhound_source::{Message, ReadOptions, discover, read};

use crate::triage::{Triage, with_lineage_fields};

/// Arguments of `trailhound timeline`.
#[derive(Args)]
pub struct TimelineArgs {
    /// CloudTrail files and folders (read recursively).
    #[arg(required = true)]
    paths: Vec<String>,
    /// The long-term key: its own events and those of every session it minted.
    #[arg(long, value_name = "AKIA…", required_unless_present = "principal")]
    key: Option<String>,
    /// A principal (user or role ARN, as in an incident) instead of a key.
    #[arg(long, value_name = "ARN", conflicts_with = "key")]
    principal: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: TimelineFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A MaxMind-format country database instead of the embedded one.
    #[arg(long, value_name = "FILE.mmdb")]
    geoip: Option<PathBuf>,
}

/// Output formats of `timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineFormat {
    /// A table for people, then the summary.
    Table,
    /// One JSON object per event.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
    /// A self-contained HTML page with the summary and an hourly chart.
    Html,
}

/// One event of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `eventTime`.
    pub time: String,
    /// `eventID`.
    pub event_id: String,
    /// `eventSource`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// Country of the address, if known.
    pub country: String,
    /// `userAgent`.
    pub user_agent: String,
    /// `errorCode` (empty: it succeeded).
    pub error_code: String,
    /// The key that signed the call.
    pub access_key_id: String,
    /// `awsRegion`.
    pub aws_region: String,
}

/// Runs `timeline`.
pub fn run(args: TimelineArgs) -> Result<()> {
    let time = |s: &Option<String>, what: &str| -> Result<Option<Timestamp>> {
        s.as_deref()
            .map(|t| parse_rfc3339(t).map_err(|e| anyhow::anyhow!("--{what} {t:?}: {e:?}")))
            .transpose()
    };
    let since = time(&args.since, "since")?.unwrap_or(Timestamp::MIN);
    let until = time(&args.until, "until")?.unwrap_or(Timestamp::MAX);
    let geo = match &args.geoip {
        Some(p) => GeoIp::open(p)?,
        None => GeoIp::embedded(),
    };
    let found = discover(&crate::input_paths(&args.paths));
    for u in &found.unreadable {
        eprintln!("trailhound: cannot read {}: {}", u.path.display(), u.why);
    }
    if found.files.is_empty() {
        bail!("no CloudTrail files found in {}", args.paths.join(", "));
    }
    let extra = with_lineage_fields(&Default::default());
    let mut triage = Triage::new(
        Arc::clone(&extra),
        Default::default(),
        Default::default(),
        Default::default(),
    );
    let mut cache = GeoCache::new(&geo);
    let mut rows = Vec::new();
    let options = ReadOptions {
        extra,
        ..ReadOptions::default()
    };
    for message in read(found.files, options) {
        if let Message::Events(events) = message {
            for mut e in events {
                triage.observe(&e);
                let mine = match (&args.key, &args.principal) {
                    // The key itself, or a session key it minted (a look-up, no origin built).
                    (Some(k), _) => {
                        e.user.access_key_id == k.as_str()
                            || triage
                                .lineage()
                                .origin(&e.user.access_key_id)
                                .is_some_and(|o| o.root_key == k.as_str())
                    }
                    (None, Some(p)) => triage.lineage().origin_of(&e).principal == p.as_str(),
                    (None, None) => false,
                };
                if mine && e.time >= since && e.time < until {
                    e.country = cache.resolve(&e.source_ip).1;
                    rows.push(row(&e));
                }
            }
        }
    }
    let subject = args
        .key
        .clone()
        .or(args.principal.clone())
        .unwrap_or_default();
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    match args.format {
        TimelineFormat::Jsonl => {
            for r in &rows {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
        }
        TimelineFormat::Csv => write_csv(&mut out, &rows)?,
        TimelineFormat::Table => write_table(&mut out, &subject, &rows)?,
        TimelineFormat::Html => out.write_all(html(&subject, &rows).as_bytes())?,
    }
    out.flush()?;
    eprintln!("timeline of {subject}: {} events", rows.len());
    Ok(())
}

fn row(e: &Event) -> Row {
    Row {
        time: format_rfc3339(e.time),
        event_id: e.event_id.to_string(),
        event_source: e.event_source.to_string(),
        event_name: e.event_name.to_string(),
        source_ip: e.source_ip.to_string(),
        country: e.country.map(|c| c.to_string()).unwrap_or_default(),
        user_agent: e.user_agent.to_string(),
        error_code: e.error_code.to_string(),
        access_key_id: e.user.access_key_id.to_string(),
        aws_region: e.aws_region.to_string(),
    }
}

/// Counts by a value, most frequent first (then by value).
fn tally<'a>(rows: &'a [Row], f: impl Fn(&'a Row) -> &'a str) -> Vec<(&'a str, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *m.entry(f(r)).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// Events per UTC hour, in time order.
fn hourly(rows: &[Row]) -> Vec<(String, usize)> {
    let mut m: BTreeMap<i64, usize> = BTreeMap::new();
    for r in rows {
        if let Ok(t) = parse_rfc3339(&r.time) {
            *m.entry(t.div_euclid(HOUR) * HOUR).or_default() += 1;
        }
    }
    m.into_iter().map(|(h, n)| (format_rfc3339(h), n)).collect()
}

/// The summary sections: (title, rows of (value, count)).
fn summary(rows: &[Row]) -> Vec<(&'static str, Vec<(String, usize)>)> {
    let own = |v: Vec<(&str, usize)>| -> Vec<(String, usize)> {
        v.into_iter()
            .map(|(k, n)| (if k.is_empty() { "(none)" } else { k }.to_owned(), n))
            .collect()
    };
    vec![
        ("by hour", hourly(rows)),
        ("by source IP", own(tally(rows, |r| &r.source_ip))),
        ("by country", own(tally(rows, |r| &r.country))),
        ("by user agent", own(tally(rows, |r| &r.user_agent))),
        ("by API", own(tally(rows, |r| &r.event_name))),
        ("by signing key", own(tally(rows, |r| &r.access_key_id))),
    ]
}

fn write_table(out: &mut dyn Write, subject: &str, rows: &[Row]) -> std::io::Result<()> {
    writeln!(out, "timeline of {subject}: {} events", rows.len())?;
    writeln!(
        out,
        "{:<20} {:<32} {:<16} {:<3} {:<22} {:<24} {:<20} USER AGENT",
        "TIME (UTC)", "API", "SOURCE IP", "CC", "ERROR", "EVENT ID", "KEY"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<20} {:<32} {:<16} {:<3} {:<22} {:<24} {:<20} {}",
            r.time,
            r.event_name,
            r.source_ip,
            r.country,
            r.error_code,
            r.event_id.get(..24).unwrap_or(&r.event_id),
            r.access_key_id,
            r.user_agent
        )?;
    }
    for (title, items) in summary(rows) {
        writeln!(out, "\n{title}")?;
        for (v, n) in items.iter().take(25) {
            writeln!(out, "  {n:>6}  {v}")?;
        }
        if items.len() > 25 {
            writeln!(out, "  … and {} more", items.len() - 25)?;
        }
    }
    Ok(())
}

/// RFC 4180 quoting: fields holding a comma, quote or line break are quoted.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_csv(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(
        out,
        "time,event_id,event_source,event_name,source_ip,country,user_agent,error_code,access_key_id,aws_region"
    )?;
    for r in rows {
        let fields = [
            &r.time,
            &r.event_id,
            &r.event_source,
            &r.event_name,
            &r.source_ip,
            &r.country,
            &r.user_agent,
            &r.error_code,
            &r.access_key_id,
            &r.aws_region,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// Most event rows the HTML page lists (the summary counts them all).
const HTML_ROWS: usize = 2000;

/// A self-contained page: a bar chart of events per hour, the summary tables, the events.
fn html(subject: &str, rows: &[Row]) -> String {
    let mut s = String::with_capacity(64 * 1024);
    s.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    s.push_str(&format!("<title>Timeline of {}</title>", Esc(subject)));
    s.push_str("<style>body{font:14px system-ui,sans-serif;margin:24px;color:#1d2433}table{border-collapse:collapse;margin:8px 0 20px}td,th{padding:3px 8px;border-bottom:1px solid #e3e6ec;text-align:left;vertical-align:top}th{background:#f3f5f8}.n{text-align:right}.err{color:#b42318}.grid{display:flex;flex-wrap:wrap;gap:24px}code{font-size:12px}</style></head><body>");
    s.push_str(&format!(
        "<h1 data-testid=\"timeline-title\">Timeline of {}</h1><p>{} events, in time order, of the key and of every session it minted (or of the principal).</p>",
        Esc(subject),
        rows.len()
    ));
    // Hourly bars.
    let hours = hourly(rows);
    if let (Some(first), Some(last)) = (hours.first(), hours.last()) {
        let t0 = parse_rfc3339(&first.0).unwrap_or(0);
        let t1 = parse_rfc3339(&last.0).unwrap_or(0);
        let span = ((t1 - t0) / HOUR + 1).clamp(1, 24 * 90) as f64;
        let max = hours.iter().map(|h| h.1).max().unwrap_or(1) as f64;
        let (w, h) = (900.0, 120.0);
        s.push_str(&format!("<svg data-testid=\"timeline-chart\" role=\"img\" aria-label=\"events per hour\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">", h + 20.0, h + 20.0));
        for (hour, n) in &hours {
            let t = parse_rfc3339(hour).unwrap_or(t0);
            let x = ((t - t0) / HOUR) as f64 / span * w;
            let bh = (*n as f64 / max * h).max(1.0);
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#3b6fd4\"><title>{} — {n} events</title></rect>",
                h - bh,
                (w / span).max(1.5),
                Esc(hour)
            ));
        }
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{w}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
            h + 15.0,
            Esc(&first.0),
            h + 15.0,
            Esc(&format_rfc3339(t1 + HOUR))
        ));
    }
    s.push_str("<div class=\"grid\">");
    for (title, items) in summary(rows).into_iter().skip(1) {
        s.push_str(&format!(
            "<div><h2>{}</h2><table><tr><th>value</th><th class=\"n\">events</th></tr>",
            Esc(title)
        ));
        for (v, n) in items.iter().take(20) {
            s.push_str(&format!(
                "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
                Esc(v)
            ));
        }
        if items.len() > 20 {
            s.push_str(&format!(
                "<tr><td colspan=\"2\">… and {} more</td></tr>",
                items.len() - 20
            ));
        }
        s.push_str("</table></div>");
    }
    s.push_str("</div><h2>Events</h2><table data-testid=\"timeline-events\"><tr><th>time (UTC)</th><th>API</th><th>source IP</th><th>country</th><th>user agent</th><th>error</th><th>key</th><th>event id</th></tr>");
    for r in rows.iter().take(HTML_ROWS) {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"err\">{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            Esc(&r.time),
            Esc(&r.event_name),
            Esc(&r.source_ip),
            Esc(&r.country),
            Esc(&r.user_agent),
            Esc(&r.error_code),
            Esc(&r.access_key_id),
            Esc(&r.event_id)
        ));
    }
    if rows.len() > HTML_ROWS {
        s.push_str(&format!(
            "<tr><td colspan=\"8\">… and {} more events (use --format csv for all)</td></tr>",
            rows.len() - HTML_ROWS
        ));
    }
    s.push_str("</table></body></html>\n");
    s
}
