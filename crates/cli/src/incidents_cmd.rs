//! `trailhound incidents list|show ID|ack ID|close ID|reopen ID`: incidents (the open alerts of
//! one root key or principal) from the command line.
//!
//! `list` ranks them by risk, highest first; acknowledging or closing an incident does the same to
//! its alerts (see `trailhound_store::incidents`). Ids may be abbreviated to a unique prefix.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use trailhound_model::format_rfc3339;
use trailhound_store::incidents::{self, IncidentFilter};
use trailhound_store::{AlertStore, Status, StoredIncident};

use crate::alerts_cmd::{ChangeArgs, default_actor, parse_status, store_path};
use crate::output::{Format, paint};

/// Arguments of `trailhound incidents`.
#[derive(Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    command: IncidentsCommand,
    /// The alert store: an SQLite file, or a PostgreSQL URL. Default as for `alerts`.
    #[arg(long, value_name = "FILE.db|URL", global = true)]
    store: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", global = true)]
    format: Format,
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// List incidents, highest risk first (open and acknowledged unless --status or --all).
    List {
        /// Only this status.
        #[arg(long, value_parser = parse_status, value_name = "open|acknowledged|closed")]
        status: Option<Status>,
        /// Every status.
        #[arg(long, conflicts_with = "status")]
        all: bool,
        /// At most this many.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Show one incident: its story, its alerts and the remediation.
    Show {
        /// The incident id (or a unique prefix).
        id: String,
    },
    /// Acknowledge an incident and its open alerts.
    Ack(ChangeArgs),
    /// Close an incident and every alert of it not yet closed.
    Close(ChangeArgs),
    /// Reopen an acknowledged or closed incident (its alerts keep their statuses).
    Reopen(ChangeArgs),
}

/// Runs `incidents`.
pub fn run(args: IncidentsArgs) -> Result<()> {
    let spec = store_path(args.store.as_ref())?;
    let mut store = trailhound_store::open_existing_store(&spec).with_context(|| {
        format!(
            "opening the alert store {}",
            trailhound_store::describe_store(&spec)
        )
    })?;
    let stdout = std::io::stdout();
    let color = stdout.is_terminal();
    let mut out = stdout.lock();
    match args.command {
        IncidentsCommand::List { status, all, limit } => {
            let statuses = match (status, all) {
                (Some(s), _) => vec![s],
                (None, true) => Vec::new(),
                (None, false) => vec![Status::Open, Status::Acknowledged],
            };
            let list = store.incidents(&IncidentFilter {
                statuses,
                limit,
                ..IncidentFilter::default()
            })?;
            if args.format == Format::Jsonl {
                for i in &list {
                    serde_json::to_writer(&mut out, i)?;
                    out.write_all(b"\n")?;
                }
            } else {
                write_list(&mut out, &list, color)?;
            }
        }
        IncidentsCommand::Show { id } => {
            let inc = incidents::get_incident(&*store, &id)?;
            let alerts = incidents::incident_alerts(&*store, &inc.id)?;
            if args.format == Format::Jsonl {
                let mut v = serde_json::to_value(&inc)?;
                v["alerts"] = serde_json::to_value(&alerts)?;
                serde_json::to_writer(&mut out, &v)?;
                out.write_all(b"\n")?;
            } else {
                write_show(&mut out, &inc, &alerts)?;
            }
        }
        IncidentsCommand::Ack(c) => {
            change(&mut *store, &mut out, args.format, c, Status::Acknowledged)?
        }
        IncidentsCommand::Close(c) => {
            change(&mut *store, &mut out, args.format, c, Status::Closed)?
        }
        IncidentsCommand::Reopen(c) => change(&mut *store, &mut out, args.format, c, Status::Open)?,
    }
    out.flush()?;
    Ok(())
}

fn change(
    store: &mut dyn AlertStore,
    out: &mut dyn Write,
    format: Format,
    c: ChangeArgs,
    to: Status,
) -> Result<()> {
    let by = c.by.unwrap_or_else(default_actor);
    let inc = incidents::set_incident_status(store, &c.id, to, &by, c.reason.as_deref())?;
    if format == Format::Jsonl {
        serde_json::to_writer(&mut *out, &inc)?;
        out.write_all(b"\n")?;
    } else {
        writeln!(
            out,
            "incident {} {} ({}) by {}{}",
            inc.id,
            inc.status,
            inc.summary.subject,
            by.trim(),
            inc.status_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// The ranked table: rank, id prefix, risk, severity, status, subject, alerts, countries, span,
/// rules.
fn write_list(out: &mut dyn Write, list: &[StoredIncident], color: bool) -> std::io::Result<()> {
    if list.is_empty() {
        return writeln!(out, "no incidents");
    }
    writeln!(
        out,
        "{:>3} {:<16} {:>4} {:<8} {:<12} {:<44} {:>6} {:<10} {:<20} RULES",
        "#",
        "ID",
        "RISK",
        "SEVERITY",
        "STATUS",
        "KEY OR PRINCIPAL",
        "ALERTS",
        "COUNTRIES",
        "LAST SEEN (UTC)"
    )?;
    for (n, i) in list.iter().enumerate() {
        let s = &i.summary;
        let sev = format!("{:<8}", s.severity.as_str());
        let sev = if color { paint(s.severity, &sev) } else { sev };
        let subject = if s.root_key.is_empty() {
            trailhound_detect::incident::short_arn(&s.subject).to_owned()
        } else {
            format!(
                "{} {}",
                s.root_key,
                trailhound_detect::incident::short_arn(&s.principal)
            )
        };
        writeln!(
            out,
            "{:>3} {:<16} {:>4} {sev} {:<12} {:<44} {:>6} {:<10} {:<20} {}",
            n + 1,
            i.id.get(..16).unwrap_or(&i.id),
            s.risk_score,
            i.status.as_str(),
            cut(&subject, 44),
            s.alert_count,
            cut(&s.countries.join(","), 10),
            format_rfc3339(s.last_seen),
            trailhound_detect::incident::list_cut(&s.rules, 3),
        )?;
    }
    writeln!(
        out,
        "{} incident{}",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    )
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// `incidents show` for people.
fn write_show(
    out: &mut dyn Write,
    inc: &StoredIncident,
    alerts: &[trailhound_store::StoredAlert],
) -> Result<()> {
    let s = &inc.summary;
    writeln!(out, "incident   {}", inc.id)?;
    writeln!(out, "story      {}", s.story)?;
    writeln!(
        out,
        "risk       {} ({}); status {}",
        s.risk_score,
        s.severity.as_str(),
        inc.status
    )?;
    if !s.root_key.is_empty() {
        writeln!(out, "root key   {}", s.root_key)?;
    }
    writeln!(out, "principal  {}", s.principal)?;
    writeln!(out, "keys       {}", s.access_key_ids.join(", "))?;
    writeln!(out, "countries  {}", s.countries.join(", "))?;
    writeln!(
        out,
        "seen       {} to {}",
        format_rfc3339(s.first_seen),
        format_rfc3339(s.last_seen)
    )?;
    if let Some(by) = &inc.status_by {
        writeln!(
            out,
            "changed    by {by}{}",
            inc.status_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "alerts     {} ({} with suppressed)",
        s.alert_count, s.alerts_with_suppressed
    )?;
    for a in alerts {
        let a2 = &a.alert;
        writeln!(
            out,
            "  {} {:<20} {:<8} {:<12} {}{}",
            a2.id.get(..16).unwrap_or(&a2.id),
            format_rfc3339(a2.time),
            a2.severity.as_str(),
            a.status.as_str(),
            a2.rule_name,
            if a2.suppressed_count > 0 {
                format!(" (+{} suppressed)", a2.suppressed_count)
            } else {
                String::new()
            }
        )?;
    }
    let commands = trailhound_detect::incident::containment(
        &s.root_key,
        &s.principal,
        alerts.iter().map(|a| &a.alert),
    );
    if !commands.is_empty() {
        writeln!(out, "contain")?;
        for c in commands {
            writeln!(out, "  {c}")?;
        }
    }
    writeln!(
        out,
        "timeline   trailhound timeline PATH... {}",
        if s.root_key.is_empty() {
            format!("--principal {}", s.principal)
        } else {
            format!("--key {}", s.root_key)
        }
    )?;
    Ok(())
}
