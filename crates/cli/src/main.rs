//! `trailhound`: finds compromised AWS access keys in CloudTrail logs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: decoding allocates many short strings on several threads, where glibc's allocator
/// spends a fifth of the run.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod alerts_cmd;
/// The configuration file (its own crate, so that it can be fuzzed).
use trailhound_config as config;
mod delivery;
mod generate;
mod hunt;
mod incidents_cmd;
mod lake_cmd;
mod output;
mod respond;
mod rules_cmd;
mod serve;
mod stats;
mod timeline_cmd;
mod triage;
mod users_cmd;
mod watch;

/// Finds compromised AWS access keys in CloudTrail logs.
#[derive(Parser)]
#[command(name = "trailhound", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay every detection over CloudTrail files, folders (recursively) and S3 prefixes.
    Hunt(hunt::HuntArgs),
    /// List, show, acknowledge and close stored alerts.
    Alerts(alerts_cmd::AlertsArgs),
    /// Incidents (the open alerts of one root key or principal): list ranked by risk, show,
    /// acknowledge, close.
    Incidents(incidents_cmd::IncidentsArgs),
    /// Every event of a key and of the sessions it minted (or of a principal), in time order.
    Timeline(timeline_cmd::TimelineArgs),
    /// Write deterministic synthetic CloudTrail (S3 layout) with planted attacks and a manifest.
    Generate(generate::GenerateArgs),
    /// Follow folders as CloudTrail delivers files: detect, store, notify; resumable after a crash.
    Watch(watch::WatchArgs),
    /// List and lint the Sigma rules (shipped SigmaHQ CloudTrail rules and your folders).
    Rules(rules_cmd::RulesArgs),
    /// Serve the web UI and JSON API over the alert store (127.0.0.1:8080 by default).
    Serve(serve::ServeArgs),
    /// Users of the web UI and API: add with a role (read, triage, admin), tokens, revoke, remove.
    Users(users_cmd::UsersArgs),
    /// The audit log: who changed which alert, incident, user or token, and when.
    Audit(users_cmd::AuditArgs),
    /// Contain the key of an alert or incident through the IAM API: deactivate it, revoke the
    /// sessions it minted (--dry-run prints the commands); recorded on the alerts.
    Respond(respond::RespondArgs),
    /// Write CloudTrail as a Parquet lake partitioned by date (feature `lake`).
    #[cfg(feature = "lake")]
    Convert(lake_cmd::ConvertArgs),
    /// Run a Ballista scheduler for `hunt --cluster` (feature `lake`).
    #[cfg(feature = "lake")]
    Scheduler(lake_cmd::SchedulerArgs),
    /// Run a Ballista executor with Trailhound's format and functions (feature `lake`).
    #[cfg(feature = "lake")]
    Executor(lake_cmd::ExecutorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(args) => hunt::run(args),
        Command::Alerts(args) => alerts_cmd::run(args),
        Command::Incidents(args) => incidents_cmd::run(args),
        Command::Timeline(args) => timeline_cmd::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Users(args) => users_cmd::run(args),
        Command::Audit(args) => users_cmd::audit(args),
        Command::Respond(args) => respond::run(args),
        #[cfg(feature = "lake")]
        Command::Convert(args) => lake_cmd::convert(args),
        #[cfg(feature = "lake")]
        Command::Scheduler(args) => lake_cmd::scheduler(args),
        #[cfg(feature = "lake")]
        Command::Executor(args) => lake_cmd::executor(args),
        Command::Rules(args) => match rules_cmd::run(args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<hunt::StrictFailure>().is_some() => {
            eprintln!("trailhound: {e:#}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("trailhound: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Paths given on the command line, for commands that read CloudTrail.
pub(crate) fn input_paths(paths: &[String]) -> Vec<PathBuf> {
    paths.iter().map(PathBuf::from).collect()
}
