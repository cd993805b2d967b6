//! `trailhound users …` and `trailhound audit`: who may use the web UI and API (users with a
//! role and their API tokens, kept in the alert store as hashes), and what everybody changed.
//!
//! A token is printed once, when it is made; the store keeps only its SHA-256. Changes made here
//! are recorded in the audit log as `cli:$USER`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use trailhound_model::format_rfc3339;
use trailhound_store::AlertStore;
use trailhound_store::access::{self, Role};

use crate::alerts_cmd::{default_actor, store_path};
use crate::output::Format;

/// Arguments of `trailhound users`.
#[derive(Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
    /// The alert store: an SQLite file, or a PostgreSQL URL (created if missing). Default as
    /// for `alerts`.
    #[arg(long, value_name = "FILE.db|URL", global = true)]
    store: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user (or change a user's role) and print a new API token for them.
    Add {
        /// The name recorded with every change the user makes.
        name: String,
        /// read: see everything; triage: also acknowledge, close and reopen; admin: also read
        /// the audit log.
        #[arg(long, value_parser = parse_role, value_name = "read|triage|admin")]
        role: Role,
    },
    /// Print a further API token for a user.
    Token {
        /// The user.
        name: String,
    },
    /// List the active users.
    List,
    /// List every token (id, user, when made, last used, revoked), never their secrets.
    Tokens,
    /// Revoke a token by its id.
    Revoke {
        /// The token id (`trailhound users tokens`).
        id: String,
    },
    /// Remove a user and revoke all their tokens (their past changes stay in the audit log).
    Remove {
        /// The user.
        name: String,
    },
}

/// Arguments of `trailhound audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// The alert store. Default as for `alerts`.
    #[arg(long, value_name = "FILE.db|URL")]
    store: Option<PathBuf>,
    /// At most this many lines, newest first.
    #[arg(long, default_value_t = 100, value_name = "N")]
    limit: u64,
    /// Output format (table or jsonl).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: trailhound_store::StoreError| e.to_string())
}

fn open(store: Option<&PathBuf>, create: bool) -> Result<Box<dyn AlertStore + Send>> {
    let spec = store_path(store)?;
    let opened = if create {
        trailhound_store::open_store(&spec)
    } else {
        trailhound_store::open_existing_store(&spec)
    };
    opened.with_context(|| {
        format!(
            "opening the alert store {}",
            trailhound_store::describe_store(&spec)
        )
    })
}

/// Runs `users`.
pub fn run(args: UsersArgs) -> Result<()> {
    let creates = matches!(args.command, UsersCommand::Add { .. });
    let mut store = open(args.store.as_ref(), creates)?;
    let st = &mut *store;
    let actor = format!("cli:{}", default_actor());
    let mut out = std::io::stdout().lock();
    match args.command {
        UsersCommand::Add { name, role } => {
            access::put_user(st, &name, role, &actor)?;
            let (id, secret) = access::create_token(st, &name, &actor)?;
            writeln!(out, "user {name} ({}), token {id}:", role.as_str())?;
            writeln!(out, "{secret}")?;
            eprintln!("trailhound: the token is shown only now; the store keeps its hash");
        }
        UsersCommand::Token { name } => {
            let (id, secret) = access::create_token(st, &name, &actor)
                .with_context(|| format!("no active user {name:?}"))?;
            writeln!(out, "token {id} for {name}:")?;
            writeln!(out, "{secret}")?;
        }
        UsersCommand::List => {
            writeln!(out, "{:<24} {:<7} {:>6}  ADDED", "USER", "ROLE", "TOKENS")?;
            for u in access::users(st)? {
                writeln!(
                    out,
                    "{:<24} {:<7} {:>6}  {}",
                    u.name,
                    u.role.as_str(),
                    u.tokens,
                    format_rfc3339(u.created_at)
                )?;
            }
        }
        UsersCommand::Tokens => {
            writeln!(
                out,
                "{:<12} {:<24} {:<20} {:<20} REVOKED",
                "ID", "USER", "CREATED", "LAST USED"
            )?;
            let short =
                |t: Option<i64>| t.map_or("-".to_owned(), |t| format_rfc3339(t)[..19].to_owned());
            for t in access::tokens(st)? {
                writeln!(
                    out,
                    "{:<12} {:<24} {:<20} {:<20} {}",
                    t.id,
                    t.user,
                    short(Some(t.created_at)),
                    short(t.last_used_at),
                    short(t.revoked_at)
                )?;
            }
        }
        UsersCommand::Revoke { id } => {
            access::revoke_token(st, &id, &actor)
                .with_context(|| format!("no active token {id:?}"))?;
            writeln!(out, "token {id} revoked")?;
        }
        UsersCommand::Remove { name } => {
            access::remove_user(st, &name, &actor)
                .with_context(|| format!("no active user {name:?}"))?;
            writeln!(out, "user {name} removed, their tokens revoked")?;
        }
    }
    Ok(())
}

/// Runs `audit`.
pub fn audit(args: AuditArgs) -> Result<()> {
    let store = open(args.store.as_ref(), false)?;
    let log = access::audit(&*store, args.limit, 0)?;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Jsonl {
        for e in &log {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<24} {:<22} {:<34} DETAIL",
        "WHEN", "WHO", "WHAT", "ON"
    )?;
    for e in &log {
        writeln!(
            out,
            "{:<20} {:<24} {:<22} {:<34} {}",
            &format_rfc3339(e.at)[..19],
            e.actor,
            e.action,
            e.target,
            e.detail.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}
