//! `trailhound alerts list|show ID|ack ID|close ID|reopen ID`: the alert store from the command
//! line.
//!
//! IDs may be abbreviated to any unique prefix (the table shows the first 16 digits). Status
//! changes record who (`--by`, default `$USER`), when and why (`--reason`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use trailhound_detect::{Severity, Span};
use trailhound_model::{Timestamp, format_rfc3339, parse_rfc3339};
use trailhound_store::outbox;
use trailhound_store::{AlertFilter, AlertStore, Status, StatusChange, StoredAlert};

use crate::output::{Format, paint};

/// Arguments of `trailhound alerts`.
#[derive(Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    command: AlertsCommand,
    /// The alert store: an SQLite file, or a PostgreSQL URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]). Default: $TRAILHOUND_STORE, else
    /// $XDG_DATA_HOME/trailhound/alerts.db, else ~/.local/share/trailhound/alerts.db.
    #[arg(long, value_name = "FILE.db|URL", global = true)]
    store: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", global = true)]
    format: Format,
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// List alerts, oldest first (every status unless --status is given).
    List(ListArgs),
    /// Show one alert: evidence, status, audit fields and status history.
    Show {
        /// The alert id (or a unique prefix of it).
        id: String,
    },
    /// Acknowledge an alert: somebody is on it. It no longer counts for correlation (D5).
    Ack(ChangeArgs),
    /// Close an alert. Re-running a hunt never reopens it.
    Close(ChangeArgs),
    /// Reopen an acknowledged or closed alert.
    Reopen(ChangeArgs),
    /// What the delivery outbox holds, per target: delivered, pending, undeliverable.
    Deliveries,
    /// Import stored alerts into AWS Security Hub as findings (ASFF), each once: an alert
    /// already exported is sent again only when it changed since (status or evidence), so that
    /// its finding follows it.
    Export(ExportArgs),
}

/// Arguments of `alerts export`.
#[derive(Args)]
struct ExportArgs {
    /// Import into AWS Security Hub (the only destination so far; required).
    #[arg(long, required = true)]
    securityhub: bool,
    /// The Security Hub region (default: the AWS configuration's).
    #[arg(long, value_name = "REGION")]
    securityhub_region: Option<String>,
    /// Which alerts (as for `alerts list`).
    #[command(flatten)]
    filter: ListArgs,
}

/// Filters of `alerts list`.
#[derive(Args)]
struct ListArgs {
    /// Only this rule id (e.g. aws-akia-unauthorized-api-call).
    #[arg(long, value_name = "RULE_ID")]
    rule: Option<String>,
    /// Only this severity.
    #[arg(long, value_parser = parse_severity, value_name = "low|medium|high|critical")]
    severity: Option<Severity>,
    /// Only this status.
    #[arg(long, value_parser = parse_status, value_name = "open|acknowledged|closed")]
    status: Option<Status>,
    /// Only this access key id.
    #[arg(long, value_name = "ACCESS_KEY_ID")]
    key: Option<String>,
    /// Only alerts at or after this time: RFC 3339, a date (YYYY-MM-DD, UTC) or a duration ago
    /// (e.g. 7d).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    since: Option<Timestamp>,
    /// Only alerts before this time (same forms as --since).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    until: Option<Timestamp>,
    /// At most this many alerts.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Skip this many alerts first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    offset: u64,
}

/// Arguments of a status change (of an alert, or of an incident and its alerts).
#[derive(Args)]
pub(crate) struct ChangeArgs {
    /// The id (or a unique prefix of it).
    pub(crate) id: String,
    /// Why (recorded in the audit trail).
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
    /// Who (default: $USER, else "unknown").
    #[arg(long, value_name = "WHO")]
    pub(crate) by: Option<String>,
}

/// The store: `--store` (a file or a PostgreSQL URL), else the default file
/// ([`trailhound_store::default_path`]; `$TRAILHOUND_STORE` may be a URL too).
pub fn store_path(given: Option<&PathBuf>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p.clone()),
        None => trailhound_store::default_path().ok_or_else(|| {
            anyhow!("no alert store location: pass --store FILE.db or set TRAILHOUND_STORE")
        }),
    }
}

/// Runs `alerts`.
pub fn run(args: AlertsArgs) -> Result<()> {
    let spec = store_path(args.store.as_ref())?;
    let mut store = trailhound_store::open_existing_store(&spec).with_context(|| {
        format!(
            "opening the alert store {}",
            trailhound_store::describe_store(&spec)
        )
    })?;
    let mut out = std::io::stdout().lock();
    match args.command {
        AlertsCommand::List(l) => {
            let filter = l.filter();
            let alerts = store.list(&filter)?;
            if matches!(args.format, Format::Ocsf | Format::Ecs) {
                let pairs: Vec<(trailhound_detect::Alert, String)> = alerts
                    .into_iter()
                    .map(|a| (a.alert, a.status.as_str().to_owned()))
                    .collect();
                crate::output::write_findings(&mut out, &pairs, args.format)?;
            } else if args.format == Format::Jsonl {
                for a in &alerts {
                    serde_json::to_writer(&mut out, a)?;
                    out.write_all(b"\n")?;
                }
            } else {
                write_list(&mut out, &alerts, std::io::stdout().is_terminal())?;
            }
        }
        AlertsCommand::Show { id } => {
            let id = store.resolve_id(&id)?;
            let alert = store
                .get(&id)?
                .ok_or_else(|| anyhow!("alert {id} vanished"))?;
            let history = store.history(&id)?;
            let responses = outbox::responses(&*store, &id)?;
            if args.format == Format::Jsonl {
                let mut v = serde_json::to_value(&alert)?;
                v["history"] = serde_json::to_value(&history)?;
                v["responses"] = serde_json::to_value(&responses)?;
                serde_json::to_writer(&mut out, &v)?;
                out.write_all(b"\n")?;
            } else {
                write_show(&mut out, &alert, &history)?;
                for r in &responses {
                    writeln!(
                        out,
                        "  {} {} {} {} by {}{}",
                        format_rfc3339(r.at),
                        r.action,
                        r.target,
                        if r.dry_run {
                            "(dry run: printed only)"
                        } else {
                            &r.outcome
                        },
                        r.actor,
                        r.detail
                            .as_deref()
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    )?;
                }
            }
        }
        AlertsCommand::Deliveries => {
            let summary = outbox::summary(&*store)?;
            if args.format == Format::Jsonl {
                for t in &summary {
                    serde_json::to_writer(&mut out, t)?;
                    out.write_all(b"\n")?;
                }
            } else if summary.is_empty() {
                writeln!(
                    out,
                    "no deliveries (watch --webhook or --securityhub queues them)"
                )?;
            } else {
                writeln!(
                    out,
                    "{:<40} {:>9} {:>8} {:>13} {:>8}  last error",
                    "target", "delivered", "pending", "undeliverable", "requests"
                )?;
                for t in &summary {
                    writeln!(
                        out,
                        "{:<40} {:>9} {:>8} {:>13} {:>8}  {}",
                        t.target,
                        t.delivered,
                        t.pending,
                        t.expired,
                        t.attempts,
                        t.last_error.as_deref().unwrap_or("-")
                    )?;
                }
            }
        }
        AlertsCommand::Export(e) => export(store, &spec, &mut out, &e)?,
        AlertsCommand::Ack(c) => {
            change(&mut *store, &mut out, args.format, c, Status::Acknowledged)?
        }
        AlertsCommand::Close(c) => change(&mut *store, &mut out, args.format, c, Status::Closed)?,
        AlertsCommand::Reopen(c) => change(&mut *store, &mut out, args.format, c, Status::Open)?,
    }
    out.flush()?;
    Ok(())
}

impl ListArgs {
    fn filter(&self) -> AlertFilter {
        AlertFilter {
            rule_id: self.rule.clone(),
            severity: self.severity,
            status: self.status,
            access_key_id: self.key.clone(),
            since: self.since,
            until: self.until,
            incident_id: None,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// `alerts export --securityhub`: queues the alerts for Security Hub (an alert queued before is
/// left as it is, so a re-run sends nothing new) and sends what is due.
fn export(
    mut store: Box<dyn AlertStore + Send>,
    spec: &std::path::Path,
    out: &mut dyn Write,
    e: &ExportArgs,
) -> Result<()> {
    use crate::delivery::{Delivery, DeliveryOptions, Target};
    let hub = crate::delivery::securityhub::SecurityHub::open(e.securityhub_region.as_deref())?;
    let target = hub.id().to_owned();
    let ids: Vec<String> = store
        .list(&e.filter.filter())?
        .into_iter()
        .map(|a| a.alert.id)
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let queued = outbox::enqueue(&mut *store, &refs, std::slice::from_ref(&target))?;
    let changed = outbox::requeue_changed(&mut *store, &target)?;
    drop(store);
    let delivery = Delivery::start(
        &spec.as_os_str().to_owned(),
        vec![Box::new(hub) as Box<dyn Target>],
        DeliveryOptions::default(),
    )?;
    let counts = delivery.counts();
    delivery.close(std::time::Duration::from_secs(600));
    let sent = counts.delivered.load(std::sync::atomic::Ordering::Relaxed);
    let failed = counts.failed.load(std::sync::atomic::Ordering::Relaxed);
    writeln!(
        out,
        "Security Hub ({target}): {} alerts selected, {queued} newly queued, {changed} changed since their export, {sent} imported now{}",
        ids.len(),
        if failed > 0 {
            format!("; {failed} failed (kept in the outbox; see `trailhound alerts deliveries`)")
        } else {
            String::new()
        }
    )?;
    Ok(())
}

fn change(
    store: &mut dyn AlertStore,
    out: &mut dyn Write,
    format: Format,
    c: ChangeArgs,
    to: Status,
) -> Result<()> {
    let id = store.resolve_id(&c.id)?;
    let by = c.by.unwrap_or_else(default_actor);
    let a = store.set_status(&id, to, &by, c.reason.as_deref())?;
    if format == Format::Jsonl {
        serde_json::to_writer(&mut *out, &a)?;
        out.write_all(b"\n")?;
    } else {
        writeln!(
            out,
            "{} {} ({}, {}) by {}{}",
            a.alert.id,
            a.status,
            a.alert.rule_name,
            a.alert.access_key_id,
            by.trim(),
            a.status_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// `$USER`, else `"unknown"`.
pub(crate) fn default_actor() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
        .map_err(|_| format!("{s:?} is not low, medium, high or critical"))
}

pub(crate) fn parse_status(s: &str) -> Result<Status, String> {
    s.parse()
        .map_err(|e: trailhound_store::StoreError| e.to_string())
}

/// RFC 3339, a date (midnight UTC), or a duration before now.
fn parse_time(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = parse_rfc3339(&format!("{s}T00:00:00Z")) {
        return Ok(t);
    }
    if let Ok(span) = s.parse::<Span>() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?;
        let now = i64::try_from(now.as_nanos()).map_err(|e| e.to_string())?;
        return Ok(now.saturating_sub(span.nanos()));
    }
    Err(format!(
        "{s:?} is not a time (expected RFC 3339 such as 2026-01-12T10:00:00Z, a date such as 2026-01-12, or a duration ago such as 7d)"
    ))
}

/// The `alerts list` table: id prefix, time, severity, status, key, rule.
fn write_list(out: &mut dyn Write, alerts: &[StoredAlert], color: bool) -> std::io::Result<()> {
    if alerts.is_empty() {
        return writeln!(out, "no alerts");
    }
    writeln!(
        out,
        "{:<16} {:<20} {:<8} {:<12} {:<20} RULE",
        "ID", "TIME (UTC)", "SEVERITY", "STATUS", "ACCESS KEY"
    )?;
    for s in alerts {
        let a = &s.alert;
        let sev = format!("{:<8}", a.severity.as_str());
        let sev = if color { paint(a.severity, &sev) } else { sev };
        writeln!(
            out,
            "{:<16} {:<20} {sev} {:<12} {:<20} {}",
            a.id.get(..16).unwrap_or(&a.id),
            format_rfc3339(a.time),
            s.status.as_str(),
            a.access_key_id,
            a.rule_name,
        )?;
    }
    writeln!(
        out,
        "{} alert{}",
        alerts.len(),
        if alerts.len() == 1 { "" } else { "s" }
    )
}

/// `alerts show` for people.
fn write_show(out: &mut dyn Write, s: &StoredAlert, history: &[StatusChange]) -> Result<()> {
    let a = &s.alert;
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(", ")
        }
    };
    let rows: Vec<(&str, String)> = vec![
        ("id", a.id.clone()),
        ("rule", format!("{} ({})", a.rule_name, a.rule_id)),
        (
            "severity",
            format!("{} ({})", a.severity.as_str(), a.risk_score),
        ),
        ("status", s.status.to_string()),
        (
            "status by",
            s.status_by.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "status at",
            s.status_at
                .map(format_rfc3339)
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "status reason",
            s.status_reason.clone().unwrap_or_else(|| "-".into()),
        ),
        ("access key", a.access_key_id.clone()),
        ("user", a.user_arn.clone()),
        ("time", format_rfc3339(a.time)),
        ("first seen", format_rfc3339(a.first_seen)),
        ("last seen", format_rfc3339(a.last_seen)),
        ("events", a.count.to_string()),
        ("source IPs", list(&a.source_ips)),
        ("countries", list(&a.countries)),
        ("user agents", list(&a.user_agents)),
        ("API calls", list(&a.event_names)),
        ("MITRE", list(&a.mitre)),
        ("why", a.why.clone()),
        ("remediation", a.remediation.clone()),
        ("stored", format_rfc3339(s.created_at)),
        ("updated", format_rfc3339(s.updated_at)),
    ];
    for (k, v) in rows {
        writeln!(out, "{k:<14} {v}")?;
    }
    if let Some(siblings) = a.details.get("siblings").and_then(|v| v.as_array()) {
        writeln!(out, "siblings")?;
        for sib in siblings {
            let f = |k: &str| {
                sib.get(k)
                    .map(|v| v.to_string().trim_matches('"').to_owned())
            };
            writeln!(
                out,
                "  {} {} {} ({}) {}",
                f("time").unwrap_or_default(),
                f("id").unwrap_or_default(),
                f("rule_name").unwrap_or_default(),
                f("risk_score").unwrap_or_default(),
                f("access_key_id").unwrap_or_default(),
            )?;
        }
    }
    writeln!(out, "details        {}", serde_json::to_string(&a.details)?)?;
    if !history.is_empty() {
        writeln!(out, "history")?;
        for h in history {
            writeln!(
                out,
                "  {} {} -> {} by {}{}",
                format_rfc3339(h.at),
                h.from,
                h.to,
                h.by,
                h.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        assert_eq!(
            parse_time("2026-01-12T10:00:00Z").unwrap(),
            parse_rfc3339("2026-01-12T10:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2026-01-12").unwrap(),
            parse_rfc3339("2026-01-12T00:00:00Z").unwrap()
        );
        let ago = parse_time("1d").unwrap();
        assert!(ago > parse_rfc3339("2020-01-01T00:00:00Z").unwrap());
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_severity("HIGH").unwrap(), Severity::High);
        assert!(parse_severity("urgent").is_err());
        assert_eq!(parse_status("closed").unwrap(), Status::Closed);
    }
}
