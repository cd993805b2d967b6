//! The request guard: every request passes it before a handler runs.
//!
//! 1. **Host** (with [`Settings::loopback_hosts_only`](crate::Settings)): the `Host` (or the
//!    URI's authority) must be a loopback name, so that a site that rebinds its DNS name to
//!    127.0.0.1 gets nothing.
//! 2. **State-changing requests** (POST, the only method that changes anything) must
//!    * not come from another origin by the browser's own account: `Sec-Fetch-Site`, when
//!      present, must be `same-origin`, and `Origin`, when present, must be `http://` plus the
//!      request's `Host`;
//!    * carry the server's token in [`TOKEN_HEADER`] (compared in constant time). A page of
//!      another origin cannot read the token, and cannot send a custom header cross-origin
//!      without a CORS preflight, which this server never answers;
//!    * have a JSON body (`Content-Type: application/json`): an HTML form cannot send one.
//!
//! Refusals are `403 Forbidden` (`415` for a body that is not JSON) with a JSON error body.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::Shared;
use crate::api::ApiError;

/// The header that carries the server's token on state-changing requests.
pub const TOKEN_HEADER: &str = "x-trailhound-token";

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The `Host` is not a loopback name.
    Host,
    /// `Sec-Fetch-Site` says the request comes from another origin.
    CrossSite,
    /// `Origin` is not this server's.
    Origin,
    /// No token, or the wrong one.
    Token,
    /// The body is not declared as JSON.
    NotJson,
}

impl Refusal {
    /// The message of the error body.
    pub const fn message(self) -> &'static str {
        match self {
            Refusal::Host => "refused: the Host header is not a loopback name",
            Refusal::CrossSite => "refused: a cross-site request (Sec-Fetch-Site)",
            Refusal::Origin => "refused: the Origin header is not this server",
            Refusal::Token => "refused: missing or wrong X-Trailhound-Token header",
            Refusal::NotJson => "refused: the body must be JSON (Content-Type: application/json)",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Refusal::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// True for `localhost`, `*.localhost`, `127.0.0.0/8` and `::1` (with or without a port and
/// IPv6 brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => ip,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    if lower == "localhost" || lower.ends_with(".localhost") {
        return true;
    }
    lower
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn host_of(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
}

/// Checks a state-changing request's headers against `token` and `host` (the request's own
/// `Host`).
pub fn check_state_change(
    headers: &HeaderMap,
    host: Option<&str>,
    token: &str,
) -> Result<(), Refusal> {
    check_state_change_from(headers, host, "http", Some(token))
}

/// As [`check_state_change`], for a server whose pages are at `scheme://host`; `token: None`
/// skips the token (a request authenticated by a bearer token, which a browser never attaches on
/// its own, cannot be forged cross-site).
pub fn check_state_change_from(
    headers: &HeaderMap,
    host: Option<&str>,
    scheme: &str,
    token: Option<&str>,
) -> Result<(), Refusal> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Every value of a repeated header must pass.
    if headers
        .get_all("sec-fetch-site")
        .iter()
        .any(|site| site.as_bytes() != b"same-origin")
    {
        return Err(Refusal::CrossSite);
    }
    let this = host.map(|h| format!("{scheme}://{h}"));
    if headers.get_all("origin").iter().any(|origin| {
        !this
            .as_deref()
            .is_some_and(|t| origin.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(t)))
    }) {
        return Err(Refusal::Origin);
    }
    if let Some(token) = token {
        let given = get(TOKEN_HEADER).unwrap_or_default();
        if token.is_empty() || !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return Err(Refusal::Token);
        }
    }
    let json = get("content-type").is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(Refusal::NotJson);
    }
    Ok(())
}

/// The first middleware, on every request: refuses a `Host` that is not a loopback name when the
/// server is for loopback only.
pub(crate) async fn host_guard(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    if state.settings().loopback_hosts_only
        && !host_of(&req).as_deref().is_some_and(is_loopback_host)
    {
        return refuse(Refusal::Host);
    }
    // For the state-change guard, which sits on the POST routes (see [`post_guarded`]).
    req.extensions_mut().insert(state);
    next.run(req).await
}

/// A POST route behind the state-change guard. The guard sits on the route's POST method only,
/// so that a method no route takes is a plain 405 from the router.
pub(crate) fn post_guarded<H, T>(handler: H) -> axum::routing::MethodRouter<Shared>
where
    H: axum::handler::Handler<T, Shared>,
    T: 'static,
{
    axum::routing::post(handler).route_layer(axum::middleware::from_fn(state_change_guard))
}

/// The second, on POST routes only (after routing, so that a method no route takes is a 405):
/// refuses a state change that fails [`check_state_change_from`].
pub(crate) async fn state_change_guard(
    axum::Extension(state): axum::Extension<Shared>,
    req: Request,
    next: Next,
) -> Response {
    if *req.method() == Method::POST {
        let bearer = req
            .extensions()
            .get::<crate::auth::Caller>()
            .is_some_and(|c| c.via == crate::auth::Via::Bearer);
        let settings = state.settings();
        let scheme = if settings.https { "https" } else { "http" };
        let token = (!bearer).then_some(settings.token.as_str());
        if let Err(r) =
            check_state_change_from(req.headers(), host_of(&req).as_deref(), scheme, token)
        {
            return refuse(r);
        }
    }
    next.run(req).await
}

fn refuse(r: Refusal) -> Response {
    ApiError::new(r.status(), r.message()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.:1",
            "app.localhost:3000",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.8.9.10:1",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "",
            "evil.test",
            "evil.test:8080",
            "localhost.evil.test",
            "10.0.0.1:8080",
            "0.0.0.0:8080",
            "[::2]:80",
            "[::1]x",
            "127.0.0.1:80a",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn state_changes_need_token_json_and_same_origin() {
        let host = Some("127.0.0.1:8080");
        let ok = [
            ("x-trailhound-token", "t0ken"),
            ("content-type", "application/json; charset=utf-8"),
        ];
        assert_eq!(check_state_change(&headers(&ok), host, "t0ken"), Ok(()));
        let browser = [
            ("x-trailhound-token", "t0ken"),
            ("content-type", "application/json"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert_eq!(
            check_state_change(&headers(&browser), host, "t0ken"),
            Ok(())
        );
        let cases: [(&[(&str, &str)], Refusal); 7] = [
            (&[("content-type", "application/json")], Refusal::Token),
            (
                &[
                    ("x-trailhound-token", "t0ke"),
                    ("content-type", "application/json"),
                ],
                Refusal::Token,
            ),
            (&[("x-trailhound-token", "t0ken")], Refusal::NotJson),
            (
                &[
                    ("x-trailhound-token", "t0ken"),
                    ("content-type", "text/plain"),
                ],
                Refusal::NotJson,
            ),
            (
                &[
                    ("x-trailhound-token", "t0ken"),
                    ("content-type", "application/json"),
                    ("sec-fetch-site", "cross-site"),
                ],
                Refusal::CrossSite,
            ),
            (
                &[
                    ("x-trailhound-token", "t0ken"),
                    ("content-type", "application/json"),
                    ("sec-fetch-site", "same-site"),
                ],
                Refusal::CrossSite,
            ),
            (
                &[
                    ("x-trailhound-token", "t0ken"),
                    ("content-type", "application/json"),
                    ("origin", "http://localhost:8080"),
                ],
                Refusal::Origin,
            ),
        ];
        for (h, want) in cases {
            let mut map = HeaderMap::new();
            for (k, v) in h {
                map.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            assert_eq!(check_state_change(&map, host, "t0ken"), Err(want), "{h:?}");
        }
        // An empty server token never matches.
        assert_eq!(
            check_state_change(
                &headers(&[
                    ("x-trailhound-token", ""),
                    ("content-type", "application/json")
                ]),
                host,
                ""
            ),
            Err(Refusal::Token)
        );
        // A repeated header: every value must pass.
        let mut twice = headers(&[
            ("x-trailhound-token", "t0ken"),
            ("content-type", "application/json"),
            ("sec-fetch-site", "same-origin"),
        ]);
        twice.append("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert_eq!(
            check_state_change(&twice, host, "t0ken"),
            Err(Refusal::CrossSite)
        );
        // "null" origins (sandboxed frames, file: pages) are not this server.
        assert_eq!(
            check_state_change(
                &headers(&[
                    ("x-trailhound-token", "t0ken"),
                    ("content-type", "application/json"),
                    ("origin", "null")
                ]),
                host,
                "t0ken"
            ),
            Err(Refusal::Origin)
        );
    }
}
