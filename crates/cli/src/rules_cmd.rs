//! `trailhound rules list|lint`: the rules Trailhound runs.
//!
//! `list` shows every rule of every kind a hunt runs: the built-in detections (D1–D4 and the
//! correlation rule D5), the Sigma rules (the shipped SigmaHQ CloudTrail rules and the configured
//! folders), new-terms rules and Sigma correlation rules: id, kind, severity, title, source.
//! `lint [FOLDER...]` checks rule files (by default the
//! shipped rules and the configured folders; with folders, only those) and prints one
//! `file: reason` line per refused file; it exits with status 1 when any file was refused.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use trailhound_sigma::RuleSet;

use crate::config::Config;
use crate::output::Format;

/// Arguments of `trailhound rules`.
#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
    /// Configuration file (its `[sigma]` section: builtin, folders, min_level).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// List every rule a hunt would run: built-in, Sigma, new terms, Sigma correlations.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show one rule: its definition, and what it matched on the last hunt into the store.
    Show {
        /// The rule id (built-in, Sigma, new terms or correlation; `sigma-` prefix optional).
        id: String,
        /// The alert store to read the last hunt from (default as for `alerts`).
        #[arg(long, value_name = "FILE.db|URL")]
        store: Option<PathBuf>,
    },
    /// Check Sigma rule files; prints `file: reason` for each refused file, exit status 1 if any.
    Lint {
        /// Folders to check instead of the shipped rules and the configured folders.
        folders: Vec<PathBuf>,
    },
}

/// Runs `rules`.
pub fn run(args: RulesArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let mut out = std::io::stdout().lock();
    match args.command {
        RulesCommand::List { format } => {
            let set = config.sigma_rules()?.unwrap_or_default();
            for e in &set.errors {
                eprintln!("trailhound: sigma rule refused: {e}");
            }
            let rows = rows(&set);
            if format == Format::Jsonl {
                for r in &rows {
                    serde_json::to_writer(&mut out, &r.json())?;
                    out.write_all(b"\n")?;
                }
            } else {
                write_table(&mut out, &rows)?;
            }
        }
        RulesCommand::Show { id, store } => {
            let set = config.sigma_rules()?.unwrap_or_default();
            let rows = rows(&set);
            let bare = id
                .strip_prefix(trailhound_sigma::RULE_ID_PREFIX)
                .unwrap_or(&id);
            let Some(row) = rows.iter().find(|r| r.id == bare || r.id == id) else {
                anyhow::bail!("no rule has the id {id:?} (see `trailhound rules list`)");
            };
            let rule_id = row.rule_id.clone();
            writeln!(out, "{} ({})", row.title, rule_id)?;
            writeln!(out, "kind      {}", row.kind)?;
            writeln!(out, "severity  {}", row.severity)?;
            writeln!(out, "source    {}", row.source)?;
            writeln!(out)?;
            writeln!(out, "{}", definition(row, &config))?;
            last_hunt(&mut out, store.as_ref(), &rule_id)?;
        }
        RulesCommand::Lint { folders } => {
            let set = if folders.is_empty() {
                let mut set = RuleSet::load(config.sigma.builtin, &config.sigma_folders());
                if !config.sigma.enabled {
                    writeln!(
                        out,
                        "note: [sigma] enabled = false; checking the files anyway"
                    )?;
                }
                set.rules.sort_by(|a, b| a.file.cmp(&b.file));
                set
            } else {
                RuleSet::load(false, &folders)
            };
            for e in &set.errors {
                writeln!(out, "{e}")?;
            }
            writeln!(
                out,
                "{} rule{} valid, {} file{} refused",
                set.rules.len(),
                if set.rules.len() == 1 { "" } else { "s" },
                set.errors.len(),
                if set.errors.len() == 1 { "" } else { "s" },
            )?;
            if !set.correlations.is_empty() {
                writeln!(
                    out,
                    "{} correlation rule{} valid",
                    set.correlations.len(),
                    if set.correlations.len() == 1 { "" } else { "s" }
                )?;
            }
            out.flush()?;
            if !set.errors.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A rule's definition as text: its file (a shipped Sigma rule's embedded text), or a built-in
/// rule's parameters.
fn definition(row: &Row, config: &Config) -> String {
    if row.kind.starts_with("built-in") {
        let params = config
            .rules
            .get(&row.id)
            .map(|t| format!("[rules.{}]\n{t}", row.id))
            .unwrap_or_else(|| {
                "parameters: the defaults (config/trailhound.toml lists them)".to_owned()
            });
        return format!(
            "A built-in detection (Rust: {}); docs/detections.md describes its semantics.\n{params}",
            row.source
        );
    }
    let shipped = trailhound_sigma::load::BUILTIN
        .iter()
        .map(|(name, text)| trailhound_sigma::load::with_override(name, text))
        .find(|(name, _)| *name == row.source);
    match shipped {
        Some((_, text)) => text.to_owned(),
        None => std::fs::read_to_string(&row.source)
            .unwrap_or_else(|e| format!("({}: {e})", row.source)),
    }
}

/// What the rule matched on the last hunt into the store, and its latest stored alerts.
fn last_hunt(out: &mut dyn Write, store: Option<&PathBuf>, rule_id: &str) -> Result<()> {
    let spec = crate::alerts_cmd::store_path(store)?;
    let Ok(store) = trailhound_store::open_existing_store(&spec) else {
        writeln!(out, "last hunt: no alert store at {}", spec.display())?;
        return Ok(());
    };
    match trailhound_store::runs::last(&*store, "hunt")? {
        Some((at, summary)) => writeln!(
            out,
            "last hunt {}: {} alert(s) of this rule ({} events read)",
            trailhound_model::format_rfc3339(at),
            summary["alerts_by_rule"][rule_id].as_u64().unwrap_or(0),
            summary["events"].as_u64().unwrap_or(0)
        )?,
        None => writeln!(out, "last hunt: none recorded in {}", store.location())?,
    }
    let stored = store.list(&trailhound_store::AlertFilter {
        rule_id: Some(rule_id.to_owned()),
        ..Default::default()
    })?;
    writeln!(out, "stored alerts of this rule: {}", stored.len())?;
    for a in stored.iter().rev().take(10) {
        let x = &a.alert;
        writeln!(
            out,
            "  {} {} {:<12} {:<20} {} event(s) {}",
            trailhound_model::format_rfc3339(x.time),
            &x.id[..x.id.len().min(16)],
            a.status.as_str(),
            x.access_key_id,
            x.count,
            x.event_ids
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        )?;
    }
    Ok(())
}

/// One line of `rules list`.
struct Row {
    id: String,
    /// The rule id its alerts carry (`sigma-…` for rules loaded from files).
    rule_id: String,
    kind: String,
    severity: &'static str,
    title: String,
    source: String,
    /// What the JSON Lines form adds to the columns.
    more: serde_json::Value,
}

impl Row {
    /// The row as `rules list --format jsonl` prints it: the columns and the rest.
    fn json(&self) -> serde_json::Value {
        let mut v = self.more.clone();
        for (k, x) in [
            ("id", &self.id),
            ("rule_id", &self.rule_id),
            ("kind", &self.kind),
            ("title", &self.title),
            ("source", &self.source),
        ] {
            v[k] = serde_json::json!(x);
        }
        v["severity"] = serde_json::json!(self.severity);
        v
    }
}

/// Every rule a hunt runs, built-in first.
fn rows(set: &RuleSet) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for r in trailhound_detect::rules() {
        rows.push(Row {
            id: r.id.to_owned(),
            rule_id: r.id.to_owned(),
            kind: "built-in".to_owned(),
            severity: r.severity.as_str(),
            title: r.name.to_owned(),
            source: "Trailhound (crates/detect/src/rules)".to_owned(),
            more: serde_json::json!({ "mitre": r.mitre }),
        });
    }
    let d5 = trailhound_detect::correlation::RULE_ID;
    rows.push(Row {
        id: d5.to_owned(),
        rule_id: d5.to_owned(),
        kind: "built-in correlation".to_owned(),
        severity: "high",
        title: trailhound_detect::correlation::RULE_NAME.to_owned(),
        source: "Trailhound (crates/detect/src/correlation.rs)".to_owned(),
        more: serde_json::json!({}),
    });
    for r in &set.rules {
        rows.push(Row {
            id: r.id.clone(),
            rule_id: r.alert_rule_id(),
            kind: r.kind().to_owned(),
            severity: r.level.severity().as_str(),
            title: r.title.clone(),
            source: r.file.clone(),
            more: serde_json::json!({
                "level": r.level,
                "author": r.author,
                "status": r.status,
                "file": r.file,
                "tags": r.tags,
                "references": r.references,
                "fields": r.fields,
                "new_terms": r.new_terms.as_ref().map(|n| serde_json::json!({
                    "fields": n.fields,
                    "history_window": n.history_window.to_string(),
                    "warm_up": n.warm_up.to_string(),
                })),
            }),
        });
    }
    for c in &set.correlations {
        rows.push(Row {
            id: c.id.clone(),
            rule_id: c.alert_rule_id(),
            kind: format!("sigma correlation ({})", c.kind),
            severity: c.level.severity().as_str(),
            title: c.title.clone(),
            source: c.file.clone(),
            more: serde_json::json!({
                "level": c.level,
                "author": c.author,
                "file": c.file,
                "tags": c.tags,
                "rules": c.rules,
                "group_by": c.group_by,
                "timespan": c.timespan.to_string(),
                "condition": c.condition,
                "generate": c.generate,
            }),
        });
    }
    rows
}

/// The `rules list` table: id, kind, severity, title, source (long titles cut; the id and kind
/// columns as wide as their longest value, at least as wide as a SigmaHQ UUID and "built-in
/// correlation").
fn write_table(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    let id_width = rows.iter().map(|r| r.id.len()).max().unwrap_or(0).max(36);
    let kind_width = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0).max(30);
    writeln!(
        out,
        "{:<id_width$} {:<kind_width$} {:<9} {:<60} SOURCE",
        "ID", "KIND", "SEVERITY", "TITLE"
    )?;
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in rows {
        writeln!(
            out,
            "{:<id_width$} {:<kind_width$} {:<9} {} {}",
            r.id,
            r.kind,
            r.severity,
            crate::output::fit(&r.title, 60),
            r.source
        )?;
        *kinds.entry(r.kind.as_str()).or_default() += 1;
    }
    let by_kind: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    writeln!(
        out,
        "{} rule{}: {}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        by_kind.join(", ")
    )
}
