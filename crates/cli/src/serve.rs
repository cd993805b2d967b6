//! `trailhound serve`: the web UI and JSON API over the alert store (`trailhound-web`).
//!
//! Listens on 127.0.0.1:8080 by default. There is no authentication, so a non-loopback address
//! is refused unless `--allow-remote` is given. The server's token (needed by state-changing API
//! requests, carried by the pages) is printed at start with the address.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use trailhound_web::{DynStore, Settings, new_token, router, serve};

/// Arguments of `trailhound serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The alert store: an SQLite file or a postgres:// URL. Default: $TRAILHOUND_STORE, else
    /// $XDG_DATA_HOME/trailhound/alerts.db, else ~/.local/share/trailhound/alerts.db.
    #[arg(long, value_name = "FILE.db|URL")]
    store: Option<PathBuf>,
    /// Address and port to listen on (port 0: a free port, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Allow a non-loopback --listen address. There is no authentication: anyone who can reach
    /// the port can read every alert.
    #[arg(long)]
    allow_remote: bool,
    /// Connections to the store (requests that read or write it at the same time).
    #[arg(long, value_name = "N", default_value_t = 4)]
    connections: usize,
}

/// Refuses a non-loopback address without `--allow-remote`.
fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<()> {
    if !addr.ip().is_loopback() && !allow_remote {
        bail!(
            "refusing to listen on {addr}: the web UI has no authentication, so it listens on a \
             loopback address (such as 127.0.0.1:8080) unless --allow-remote is given"
        );
    }
    Ok(())
}

/// Runs `serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> Result<()> {
    check_listen(args.listen, args.allow_remote)?;
    let spec = crate::alerts_cmd::store_path(args.store.as_ref())?;
    let name = trailhound_store::describe_store(&spec);
    let stores = (0..args.connections.max(1))
        .map(|_| trailhound_store::open_existing_store(&spec))
        .collect::<Result<Vec<DynStore>, _>>()
        .with_context(|| format!("opening the alert store {name}"))?;
    let settings = Settings {
        token: new_token(),
        // Behind a non-loopback address the Host is whatever name people use to reach it.
        loopback_hosts_only: args.listen.ip().is_loopback(),
    };
    let token = settings.token.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("trailhound: serving the alert store {name} on http://{addr}/");
        eprintln!(
            "trailhound: token for state-changing API requests (X-Trailhound-Token): {token}"
        );
        serve(listener, router(stores, settings), shutdown()).await?;
        eprintln!("trailhound: stopped");
        anyhow::Ok(())
    })
}

/// Completes on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_allow_remote() {
        let ok = |s: &str, allow: bool| check_listen(s.parse().unwrap(), allow).is_ok();
        assert!(ok("127.0.0.1:8080", false));
        assert!(ok("127.0.0.2:0", false));
        assert!(ok("[::1]:8080", false));
        assert!(!ok("0.0.0.0:8080", false));
        assert!(!ok("[::]:8080", false));
        assert!(!ok("192.168.1.10:8080", false));
        assert!(ok("0.0.0.0:8080", true));
        let e = check_listen("0.0.0.0:80".parse().unwrap(), false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("refusing to listen on 0.0.0.0:80:")
        );
    }
}
