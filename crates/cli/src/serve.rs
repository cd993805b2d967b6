//! `trailhound serve`: the web UI and JSON API over the alert store (`trailhound-web`).
//!
//! Listens on 127.0.0.1:8080 by default, for one person, without authentication. Beyond loopback
//! (or with `--auth`, or a `--trusted-proxy`) authentication is on: API tokens of the store's
//! users (`trailhound users add NAME --role read|triage|admin`), the login page's session, or a
//! trusted reverse proxy's user header; the server refuses to start when nobody could sign in.
//! `--tls-cert`/`--tls-key` serve HTTPS (rustls). The server's anti-forgery token (needed by
//! state-changing requests from pages, carried by them) is printed at start with the address.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use trailhound_store::access;
use trailhound_web::{AuthSettings, DynStore, Settings, new_token, router, serve, serve_tls};

/// Arguments of `trailhound serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The alert store: an SQLite file or a postgres:// URL. Default: $TRAILHOUND_STORE, else
    /// $XDG_DATA_HOME/trailhound/alerts.db, else ~/.local/share/trailhound/alerts.db.
    #[arg(long, value_name = "FILE.db|URL")]
    store: Option<PathBuf>,
    /// Address and port to listen on (port 0: a free port, printed at start). Beyond loopback,
    /// authentication is on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Require authentication on a loopback address too (for a reverse proxy on the same host).
    #[arg(long)]
    auth: bool,
    /// A reverse proxy whose authenticated-user header is trusted (repeatable; exact address).
    /// Requests from it are the user named in --proxy-user-header, who must be a user of the
    /// store. Turns authentication on.
    #[arg(long, value_name = "IP")]
    trusted_proxy: Vec<IpAddr>,
    /// The header a trusted proxy names the user in.
    #[arg(long, value_name = "NAME", default_value = "X-Forwarded-User")]
    proxy_user_header: String,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections to the store (requests that read or write it at the same time).
    #[arg(long, value_name = "N", default_value_t = 4)]
    connections: usize,
}

/// Whether the server authenticates: beyond loopback always, else when asked.
fn auth_on(args: &ServeArgs) -> bool {
    !args.listen.ip().is_loopback() || args.auth || !args.trusted_proxy.is_empty()
}

/// Refuses to start an authenticated server nobody could sign in to.
fn check_sign_in(addr: SocketAddr, users: &[access::User], proxies: bool) -> Result<()> {
    let tokens = users.iter().any(|u| u.tokens > 0);
    if tokens || (proxies && !users.is_empty()) {
        return Ok(());
    }
    bail!(
        "refusing to listen on {addr} without authentication: the store has no user with an \
         active API token. Add one with `trailhound users add NAME --role admin --store …`, or \
         put the server behind an authenticating proxy (--trusted-proxy, with its users added)"
    );
}

/// Runs `serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> Result<()> {
    let spec = crate::alerts_cmd::store_path(args.store.as_ref())?;
    let name = trailhound_store::describe_store(&spec);
    let stores = (0..args.connections.max(1))
        .map(|_| trailhound_store::open_existing_store(&spec))
        .collect::<Result<Vec<DynStore>, _>>()
        .with_context(|| format!("opening the alert store {name}"))?;
    let auth = if auth_on(&args) {
        let users = access::users(&*stores[0])?;
        check_sign_in(args.listen, &users, !args.trusted_proxy.is_empty())?;
        Some(AuthSettings {
            trusted_proxies: args.trusted_proxy.clone(),
            proxy_user_header: args
                .proxy_user_header
                .parse()
                .context("--proxy-user-header is not a header name")?,
            secure_cookies: args.tls_cert.is_some(),
        })
    } else {
        None
    };
    let settings = Settings {
        token: new_token(),
        // Behind a non-loopback address the Host is whatever name people use to reach it.
        loopback_hosts_only: args.listen.ip().is_loopback(),
        auth,
        https: args.tls_cert.is_some(),
    };
    let token = settings.token.clone();
    let authenticated = settings.auth.is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            _ => None,
        };
        if let Some((c, k)) = &tls {
            trailhound_web::tls_config(c, k).await?;
        }
        let listener = std::net::TcpListener::bind(args.listen)
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!("trailhound: serving the alert store {name} on {scheme}://{addr}/");
        if authenticated {
            eprintln!(
                "trailhound: authentication on: API tokens (`trailhound users`), the sign-in page{}",
                if args.trusted_proxy.is_empty() {
                    String::new()
                } else {
                    format!(", and {} from {:?}", args.proxy_user_header, args.trusted_proxy)
                }
            );
            if tls.is_none() && !addr.ip().is_loopback() {
                eprintln!(
                    "trailhound: warning: tokens and sessions cross the network in clear; use \
                     --tls-cert/--tls-key, or a proxy that terminates TLS"
                );
            }
        }
        eprintln!(
            "trailhound: token for state-changing API requests (X-Trailhound-Token): {token}"
        );
        let app = router(stores, settings);
        match tls {
            Some((c, k)) => serve_tls(listener, app, shutdown(), &c, &k).await?,
            None => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(listener, app, shutdown()).await?;
            }
        }
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
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(a: &[&str]) -> ServeArgs {
        Cli::parse_from(std::iter::once("serve").chain(a.iter().copied())).serve
    }

    #[test]
    fn authentication_is_on_beyond_loopback_or_when_asked() {
        assert!(!auth_on(&args(&["--listen", "127.0.0.1:8080"])));
        assert!(!auth_on(&args(&["--listen", "[::1]:8080"])));
        assert!(auth_on(&args(&["--listen", "0.0.0.0:8080"])));
        assert!(auth_on(&args(&["--listen", "[::]:8080"])));
        assert!(auth_on(&args(&["--listen", "192.168.1.10:8080"])));
        assert!(auth_on(&args(&["--auth"])));
        assert!(auth_on(&args(&["--trusted-proxy", "127.0.0.1"])));
    }

    #[test]
    fn nobody_able_to_sign_in_refuses_the_start() {
        let addr: SocketAddr = "0.0.0.0:80".parse().unwrap();
        let user = |tokens| access::User {
            name: "a".into(),
            role: access::Role::Read,
            created_at: 0,
            tokens,
        };
        let e = check_sign_in(addr, &[], false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("refusing to listen on 0.0.0.0:80 without authentication")
        );
        assert!(check_sign_in(addr, &[user(0)], false).is_err());
        assert!(check_sign_in(addr, &[], true).is_err());
        assert!(check_sign_in(addr, &[user(1)], false).is_ok());
        assert!(check_sign_in(addr, &[user(0)], true).is_ok());
    }
}
