//! Authentication and roles, when the server is shared ([`AuthSettings`]; `trailhound serve`
//! turns it on whenever it listens beyond loopback).
//!
//! A request is somebody's when it carries
//! * `Authorization: Bearer thk_…`, an API token of an active user (stored hashed:
//!   [`trailhound_store::access`]); or
//! * the session cookie that `POST /api/login` (the login page) sets for such a token:
//!   `HttpOnly`, `SameSite=Strict`, `Secure` over TLS, 12 hours; or
//! * when it comes from one of the configured proxy addresses, the proxy's authenticated-user
//!   header (an OIDC/SSO front end), naming an active user. The header is ignored from any other
//!   address.
//!
//! Anything else gets `401` (the API as JSON, pages as the login page). Roles: `read` sees
//! everything, `triage` may also change statuses, `admin` may also read the audit log; a role
//! too low gets `403`. A client address that keeps failing is slowed down: from the fourth
//! failure within 15 minutes, each further attempt waits 0.25 s, doubling, up to 8 s, before it
//! is answered. The login page, the assets and the OpenAPI document are public.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use trailhound_store::access::{self, Identity, Role};
use utoipa::ToSchema;

use crate::Shared;
use crate::api::{ApiError, ErrorBody};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "trailhound_session";
/// How long a session lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Failures within this period count towards slowing an address down.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures allowed before attempts are slowed down.
const FREE_FAILURES: u32 = 3;
/// The longest wait imposed on an attempt.
const MAX_DELAY: Duration = Duration::from_secs(8);

/// How the server authenticates requests when it is shared.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Reverse proxies whose user header is trusted (exact addresses).
    pub trusted_proxies: Vec<IpAddr>,
    /// The header a trusted proxy names the authenticated user in.
    pub proxy_user_header: HeaderName,
    /// Cookies only over HTTPS (the server terminates TLS).
    pub secure_cookies: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            proxy_user_header: HeaderName::from_static("x-forwarded-user"),
            secure_cookies: false,
        }
    }
}

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Authentication is off (a loopback server for one person).
    Open,
    /// An API token in `Authorization: Bearer`.
    Bearer,
    /// The session cookie of the login page.
    Session,
    /// A trusted proxy's user header.
    Proxy,
}

/// Who made a request, as handlers see it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user, when authentication is on.
    pub identity: Option<Identity>,
    /// How.
    pub via: Via,
}

impl Caller {
    /// Who a status change is recorded as: the authenticated user, else `by` from the body.
    pub fn actor(&self, by: Option<&str>) -> Result<String, ApiError> {
        if let Some(i) = &self.identity {
            return Ok(i.user.clone());
        }
        let by = by.unwrap_or("").trim();
        if by.is_empty() {
            return Err(ApiError::bad_request(
                trailhound_store::StoreError::NoActor.to_string(),
            ));
        }
        Ok(by.to_owned())
    }
}

struct Session {
    identity: Identity,
    expires: Instant,
}

/// Sessions and failed attempts, in memory (a restart signs everybody out).
#[derive(Default)]
pub(crate) struct AuthState {
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthState {
    /// How long an attempt from `ip` waits before it is answered.
    fn delay(&self, ip: Option<IpAddr>) -> Duration {
        let Some(ip) = ip else {
            return Duration::ZERO;
        };
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match f.get(&ip) {
            Some((_, last)) if last.elapsed() > FAILURE_WINDOW => {
                f.remove(&ip);
                Duration::ZERO
            }
            Some((n, _)) if *n > FREE_FAILURES => {
                let doublings = (*n - FREE_FAILURES - 1).min(5);
                (Duration::from_millis(250) * 2u32.pow(doublings)).min(MAX_DELAY)
            }
            _ => Duration::ZERO,
        }
    }

    fn failed(&self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: forget the oldest addresses when too many are tracked.
            if f.len() > 10_000 {
                f.retain(|_, (_, last)| last.elapsed() < FAILURE_WINDOW);
            }
            let e = f.entry(ip).or_insert((0, Instant::now()));
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    fn succeeded(&self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&ip);
        }
    }

    fn session(&self, id: &str) -> Option<Identity> {
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match s.get(id) {
            Some(session) if session.expires > Instant::now() => Some(session.identity.clone()),
            Some(_) => {
                s.remove(id);
                None
            }
            None => None,
        }
    }

    fn open_session(&self, identity: Identity) -> String {
        let id = crate::new_token();
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        s.retain(|_, v| v.expires > Instant::now());
        s.insert(
            id.clone(),
            Session {
                identity,
                expires: Instant::now() + SESSION_LIFETIME,
            },
        );
        id
    }

    fn close_session(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// Paths anybody may read: the login page and its API, the assets, the OpenAPI document.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/api/login" | "/api/openapi.json") || path.starts_with("/static/")
}

/// The role a request needs.
fn required_role(method: &Method, path: &str) -> Role {
    if path == "/audit" || path.starts_with("/api/audit") {
        Role::Admin
    } else if *method == Method::POST && path != "/api/logout" {
        Role::Triage
    } else {
        Role::Read
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn peer(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// 401: the API as JSON with `WWW-Authenticate`, a page as the login page (which carries the
/// server's anti-forgery `token` for its sign-in request).
fn unauthorized(path: &str, message: &str, token: &str) -> Response {
    let mut r = if path.starts_with("/api/") {
        ApiError::new(StatusCode::UNAUTHORIZED, message).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Html(login_document(message, token)),
        )
            .into_response()
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"trailhound\""),
    );
    r
}

/// The middleware: finds who the request comes from (see the module documentation), refuses
/// what they may not do, and hands the handlers a [`Caller`].
pub(crate) async fn authenticate(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(settings) = state.settings().auth.clone() else {
        req.extensions_mut().insert(Caller {
            identity: None,
            via: Via::Open,
        });
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let ip = peer(&req);
    let proxied = ip
        .filter(|ip| settings.trusted_proxies.contains(ip))
        .and_then(|_| req.headers().get(&settings.proxy_user_header))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let token = bearer(req.headers()).map(str::to_owned);
    let session = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned);
    let found: Result<Option<(Identity, Via)>, ApiError> = if let Some(user) = proxied {
        let name = user.clone();
        state
            .with_store(move |s| {
                Ok::<_, ApiError>(access::role_of(s, &name)?.map(|role| Identity { user, role }))
            })
            .await
            .map(|i| i.map(|i| (i, Via::Proxy)))
    } else if let Some(token) = token {
        tokio::time::sleep(state.auth.delay(ip)).await;
        let found = state
            .with_store(move |s| Ok::<_, ApiError>(access::authenticate(s, &token)?))
            .await;
        match found {
            Ok(Some(i)) => {
                state.auth.succeeded(ip);
                Ok(Some((i, Via::Bearer)))
            }
            Ok(None) => {
                state.auth.failed(ip);
                return unauthorized(
                    &path,
                    "unauthorized: unknown or revoked API token",
                    &state.settings().token,
                );
            }
            Err(e) => Err(e),
        }
    } else {
        Ok(session
            .and_then(|s| state.auth.session(&s))
            .map(|i| (i, Via::Session)))
    };
    let (identity, via) = match found {
        Err(e) => return e.into_response(),
        Ok(Some(found)) => found,
        Ok(None) if is_public(&path) => {
            req.extensions_mut().insert(Caller {
                identity: None,
                via: Via::Open,
            });
            return next.run(req).await;
        }
        Ok(None) => {
            return unauthorized(
                &path,
                "unauthorized: sign in, or send an API token (Authorization: Bearer)",
                &state.settings().token,
            );
        }
    };
    let need = required_role(req.method(), &path);
    if !identity.role.allows(need) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "forbidden: {} has the {} role; this needs {}",
                identity.user,
                identity.role.as_str(),
                need.as_str()
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(Caller {
        identity: Some(identity),
        via,
    });
    next.run(req).await
}

/// The body of `POST /api/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// An API token (`trailhound users add|token`).
    pub token: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The user (absent when authentication is off).
    pub user: Option<String>,
    /// Their role: read, triage or admin (absent when authentication is off).
    pub role: Option<String>,
    /// Whether the server requires authentication.
    pub authentication: bool,
}

/// Signs in with an API token: sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = WhoAmI),
        (status = 400, description = "Not a login request", body = ErrorBody),
        (status = 401, description = "Unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Refused by the request guard", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
    )
)]
pub(crate) async fn login(State(state): State<Shared>, req: Request) -> Result<Response, ApiError> {
    let Some(settings) = state.settings().auth.clone() else {
        return Err(ApiError::bad_request(
            "authentication is off on this server: there is nothing to sign in to",
        ));
    };
    let ip = peer(&req);
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let body: LoginRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("bad login body: {e}")))?;
    tokio::time::sleep(state.auth.delay(ip)).await;
    let token = body.token;
    let found = state
        .with_store(move |s| Ok::<_, ApiError>(access::authenticate(s, &token)?))
        .await?;
    let Some(identity) = found else {
        state.auth.failed(ip);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized: unknown or revoked API token",
        ));
    };
    state.auth.succeeded(ip);
    let who = WhoAmI {
        user: Some(identity.user.clone()),
        role: Some(identity.role.as_str().to_owned()),
        authentication: true,
    };
    let id = state.auth.open_session(identity);
    let cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_LIFETIME.as_secs(),
        if settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut r = Json(who).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(e.to_string()))?,
    );
    Ok(r)
}

/// Signs out: ends the session and clears its cookie. The body is an empty JSON object.
#[utoipa::path(
    post,
    path = "/api/logout",
    tag = "session",
    request_body(content = Object, content_type = "application/json", description = "`{}`"),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Refused by the request guard", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is not a JSON object", body = ErrorBody),
    ),
    security(("bearer" = []), ("session" = [], "token" = []))
)]
pub(crate) async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, JsonRejection>,
) -> Response {
    if let Err(e) = body {
        return ApiError::from(e).into_response();
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.auth.close_session(id);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "trailhound_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

/// Who the request comes from.
#[utoipa::path(
    get,
    path = "/api/whoami",
    tag = "session",
    responses(
        (status = 200, description = "The signed-in user", body = WhoAmI),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
    security(("bearer" = []), ("session" = []))
)]
pub(crate) async fn whoami(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Json<WhoAmI> {
    Json(WhoAmI {
        user: caller.identity.as_ref().map(|i| i.user.clone()),
        role: caller.identity.as_ref().map(|i| i.role.as_str().to_owned()),
        authentication: state.settings().auth.is_some(),
    })
}

/// The login page.
pub(crate) async fn login_page(State(state): State<Shared>) -> Html<String> {
    Html(login_document("", &state.settings().token))
}

fn login_document(message: &str, token: &str) -> String {
    let note = if message.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="login-note" data-testid="login-note">{}</p>"#,
            trailhound_report::Esc(message)
        )
    };
    let main = format!(
        r#"<section class="wrap"><form class="login-form" id="login-form" data-testid="login-form">{note}<label>API token<input id="login-token" name="token" type="password" autocomplete="off" placeholder="thk_…" required></label><button type="submit" data-testid="login-button">Sign in</button><p class="status-error" id="login-error" data-testid="login-error" role="alert" hidden></p></form><p class="sub">An administrator makes tokens with <code>trailhound users add NAME --role read|triage|admin</code>.</p></section>"#
    );
    crate::pages::document(
        &crate::pages::Page {
            title: "Sign in",
            token: Some(token),
            kicker: "Trailhound",
            heading: "Sign in",
            sub: "This server is shared: sign in with your API token.",
        },
        &main,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_needed_by_path_and_method() {
        assert_eq!(required_role(&Method::GET, "/api/alerts"), Role::Read);
        assert_eq!(
            required_role(&Method::POST, "/api/alerts/x/close"),
            Role::Triage
        );
        assert_eq!(required_role(&Method::POST, "/api/logout"), Role::Read);
        assert_eq!(required_role(&Method::GET, "/api/audit"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/audit"), Role::Admin);
        assert!(is_public("/login") && is_public("/static/web.js") && !is_public("/alerts"));
    }

    #[test]
    fn failures_slow_an_address_down() {
        let s = AuthState::default();
        let ip: Option<IpAddr> = Some("203.0.113.9".parse().unwrap());
        for _ in 0..FREE_FAILURES {
            s.failed(ip);
            assert_eq!(s.delay(ip), Duration::ZERO);
        }
        let mut last = Duration::ZERO;
        for _ in 0..10 {
            s.failed(ip);
            let d = s.delay(ip);
            assert!(d > last || d == MAX_DELAY, "{d:?} after {last:?}");
            last = d;
        }
        assert_eq!(last, MAX_DELAY);
        // Another address is not slowed; a success forgets the failures.
        assert_eq!(
            s.delay(Some("203.0.113.10".parse().unwrap())),
            Duration::ZERO
        );
        s.succeeded(ip);
        assert_eq!(s.delay(ip), Duration::ZERO);
    }

    #[test]
    fn bearer_and_cookie_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer thk_1"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; trailhound_session=abc"),
        );
        assert_eq!(bearer(&h), Some("thk_1"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
