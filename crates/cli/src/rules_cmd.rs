//! `trailhound rules list|lint`: the Sigma rules Trailhound loads.
//!
//! `list` shows the loaded rules (the shipped SigmaHQ CloudTrail rules and the configured
//! folders): id, level, title, author, file. `lint [FOLDER...]` checks rule files (by default the
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
    /// List the Sigma rules a hunt would run.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
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
            if format == Format::Jsonl {
                for r in &set.rules {
                    let v = serde_json::json!({
                        "id": r.id,
                        "rule_id": r.alert_rule_id(),
                        "title": r.title,
                        "level": r.level,
                        "severity": r.level.severity(),
                        "author": r.author,
                        "status": r.status,
                        "file": r.file,
                        "tags": r.tags,
                        "references": r.references,
                        "fields": r.fields,
                    });
                    serde_json::to_writer(&mut out, &v)?;
                    out.write_all(b"\n")?;
                }
            } else {
                write_table(&mut out, &set)?;
            }
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
            out.flush()?;
            if !set.errors.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The `rules list` table: id, level, title, author, file (long titles and authors cut).
fn write_table(out: &mut dyn Write, set: &RuleSet) -> std::io::Result<()> {
    if set.rules.is_empty() {
        return writeln!(out, "no Sigma rules loaded");
    }
    let cut = |s: &str, n: usize| -> String {
        if s.chars().count() <= n {
            s.to_owned()
        } else {
            let mut t: String = s.chars().take(n - 1).collect();
            t.push('…');
            t
        }
    };
    writeln!(
        out,
        "{:<36} {:<13} {:<60} {:<32} FILE",
        "ID", "LEVEL", "TITLE", "AUTHOR"
    )?;
    for r in &set.rules {
        writeln!(
            out,
            "{:<36} {:<13} {:<60} {:<32} {}",
            r.id,
            r.level.as_str(),
            cut(&r.title, 60),
            cut(&r.author, 32),
            r.file
        )?;
    }
    writeln!(
        out,
        "{} rule{}",
        set.rules.len(),
        if set.rules.len() == 1 { "" } else { "s" }
    )
}
