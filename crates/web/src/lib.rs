//! Trailhound's web UI and JSON API over the alert store (`trailhound serve`).
//!
//! [`router`] builds an axum [`Router`] over a few connections to one store:
//!
//! * the JSON API under `/api/`: the alert list with filters (`rule`, `severity`, `status`,
//!   `key`, `since`, `until`, `limit`, `offset`), one alert with its status history, status
//!   changes (`POST /api/alerts/{id}/ack|close|reopen` with `by` and `reason`), a per-key
//!   summary, and `/api/openapi.json`, the OpenAPI description generated from the handlers'
//!   types ([`api::ApiDoc`]);
//! * HTML pages: the alert list (`/`), an alert (`/alerts/{id}`) and an access key
//!   (`/keys/{key}`), built from `trailhound-report`'s pieces (the same charts, evidence,
//!   badges and style sheet as the report, every string from a log escaped);
//! * the pages' style sheets and scripts under `/static/`, embedded in the binary.
//!
//! **Security.** There is no authentication: the server is meant for 127.0.0.1. Every response
//! carries a strict Content-Security-Policy (scripts and styles only from the server itself,
//! nothing inline). With [`Settings::loopback_hosts_only`], requests whose `Host` is not a
//! loopback name are refused (DNS rebinding). State-changing requests must be POST with a JSON
//! body and the per-server token ([`Settings::token`], in the pages' `trailhound-token` meta
//! element) in the [`TOKEN_HEADER`] header, and are refused when the browser says they come from
//! another origin (`Origin`, `Sec-Fetch-Site`); see [`guard`].
//!
//! **Store access.** The store is synchronous (SQLite); each request borrows one of the
//! connections given to [`router`] from a small pool and uses it on tokio's blocking threads.

#![warn(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use trailhound_store::AlertStore;

pub mod api;
pub mod audit;
pub mod auth;
pub mod guard;
pub mod incidents;
mod pages;
pub mod params;

pub use auth::AuthSettings;
pub use guard::TOKEN_HEADER;

/// A connection to an alert store, usable from the blocking threads.
pub type DynStore = Box<dyn AlertStore + Send>;

/// The Content-Security-Policy of every response: scripts, styles and requests only to the
/// server itself, nothing inline, no frames, forms only to the server.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Most alerts one list request returns.
pub const MAX_LIMIT: u64 = 500;

/// How the server protects itself.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The token state-changing requests must carry in [`TOKEN_HEADER`]; the pages carry it.
    pub token: String,
    /// Refuse requests whose `Host` is not a loopback name (`localhost`, `*.localhost`,
    /// `127.0.0.0/8`, `[::1]`): a page on another site that rebinds its DNS name to 127.0.0.1
    /// can then read nothing. On unless the server listens on a non-loopback address.
    pub loopback_hosts_only: bool,
    /// Authentication and roles ([`auth`]); `None`: everybody who reaches the server may do
    /// everything (a loopback server for one person).
    pub auth: Option<AuthSettings>,
    /// The server terminates TLS: the pages' origin is `https://`.
    pub https: bool,
}

impl Settings {
    /// A fresh random token, loopback hosts only, no authentication, plain HTTP.
    pub fn new() -> Self {
        Self {
            token: new_token(),
            loopback_hosts_only: true,
            auth: None,
            https: false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new()
    }
}

/// 32 random bytes from the operating system's generator, as 64 hex digits.
pub fn new_token() -> String {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What every handler sees: the pool of store connections and the settings.
pub(crate) struct AppState {
    pool: deadpool::unmanaged::Pool<DynStore>,
    settings: Settings,
    /// Sessions and failed sign-in attempts.
    pub(crate) auth: auth::AuthState,
}

/// Shared state of the handlers.
pub(crate) type Shared = Arc<AppState>;

impl AppState {
    /// Runs `f` with a store connection from the pool on a blocking thread.
    pub(crate) async fn with_store<T, E>(
        &self,
        f: impl FnOnce(&mut dyn AlertStore) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<api::ApiError> + Send + 'static,
    {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| E::from(api::ApiError::internal(format!("store pool: {e}"))))?;
        tokio::task::spawn_blocking(move || f(&mut **conn))
            .await
            .map_err(|e| E::from(api::ApiError::internal(format!("store task: {e}"))))?
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// The whole application: API, pages and assets over `stores` (connections to one store; one
/// request uses one connection at a time, so their number bounds the concurrent store work),
/// behind the request guard and with the security headers on every response.
///
/// # Panics
///
/// When `stores` is empty.
pub fn router(stores: Vec<DynStore>, settings: Settings) -> Router {
    assert!(
        !stores.is_empty(),
        "the web server needs a store connection"
    );
    let state: Shared = Arc::new(AppState {
        pool: deadpool::unmanaged::Pool::from(stores),
        settings,
        auth: auth::AuthState::default(),
    });
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    // Outermost first: the Host check, then authentication (the guard of state changes needs to
    // know how the caller authenticated), then routing, then the state-change guard on the POST
    // routes (`guard::post_guarded`).
    let mut app = api::routes()
        .merge(pages::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::host_guard,
        ));
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    app.with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes (then finishes the requests under way).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves `app` over TLS (rustls, the ring provider) on `listener` with the certificate chain
/// and private key of two PEM files, until `shutdown` completes (then gives the requests under
/// way 10 seconds).
pub async fn serve_tls(
    listener: std::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<()> {
    let config = tls_config(cert, key).await?;
    let handle = axum_server::Handle::new();
    let stop = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::tls_rustls::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

/// The TLS configuration of two PEM files (checked at start, so that a bad file is an error
/// before the server listens).
pub async fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<axum_server::tls_rustls::RustlsConfig> {
    // The process-wide provider; an error only says one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "TLS certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                ),
            )
        })
}
