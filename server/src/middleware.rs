//! The request pipeline in front of every handler, outermost first:
//! request id → access log and metrics → session → caller → CSRF check (server functions).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use service::ctx::{AuthMethod, REQUEST_ID, RequestId};
use service::sessions::{IDENTITY_KEY, TENANT_KEY};
use service::{Ctx, Principal};
use tower_sessions::Session;
use tracing::Instrument;
use uuid::Uuid;

use crate::rest::problem::{ApiError, rejection};
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Accepts a short, plain `X-Request-Id` (at most 64 letters, digits and `-_.:`) or makes
/// one: a client's id lands in every log line and error body, so nothing else gets in.
fn request_id_from(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string())
}

/// Pages whose address carries a one-time token (an invitation's or a reset link's, an
/// export's download link): the access log keeps the page and drops the token.
const TOKEN_PAGES: [&str; 3] = [
    "/invite/",
    "/reset-password/",
    "/v1/privacy/exports/download/",
];

/// `path` as the access log may keep it: a one-time token in it is replaced by `…`.
pub fn loggable_path(path: &str) -> String {
    for page in TOKEN_PAGES {
        if let Some(rest) = path.strip_prefix(page)
            && !rest.is_empty()
        {
            return format!("{page}…");
        }
    }
    path.to_owned()
}

/// Gives the request its id, runs it inside a span carrying the id, echoes the id, logs one
/// access line, and records the request's metrics by route.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = request_id_from(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = loggable_path(req.uri().path());
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let mut res = REQUEST_ID
        .scope(RequestId(id.clone()), next.run(req))
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = res.status().as_u16();
    span.in_scope(|| {
        if path.starts_with("/pkg/") || path == "/healthz" || path == "/metrics" {
            tracing::debug!(%method, %path, status, ms = elapsed.as_secs_f64() * 1e3, "request");
        } else {
            tracing::info!(%method, %path, status, ms = elapsed.as_secs_f64() * 1e3, "request");
        }
    });
    res
}

/// Counts requests and their latency by route template (never the raw path, whose ids would
/// explode the number of series).
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

fn client_ip(req: &Request, config: &crate::config::ServeArgs) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    Some(client_from(
        peer?,
        forwarded,
        config.trust_proxy,
        &config.trusted_proxies,
    ))
}

/// The client behind `peer`. Each proxy appends the address it got the request from, so the
/// entries are read from the right: past the proxies named in `trusted` (when `peer` is one),
/// the first other address is the client; what lies further left is the client's own word.
/// With only `trust_proxy`, the last entry is the client's, whoever `peer` is.
fn client_from(
    peer: IpAddr,
    forwarded: Option<&str>,
    trust_proxy: bool,
    trusted: &[crate::config::Cidr],
) -> IpAddr {
    let hops = || {
        forwarded
            .unwrap_or_default()
            .rsplit(',')
            .map_while(|h| h.trim().parse::<IpAddr>().ok())
    };
    let is_proxy = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if is_proxy(peer) {
        let mut last = None;
        for hop in hops() {
            if !is_proxy(hop) {
                return hop;
            }
            last = Some(hop);
        }
        // Every hop is a proxy of ours: the farthest one is the client as far as we know.
        return last.unwrap_or(peer);
    }
    if trust_proxy && let Some(hop) = hops().next() {
        return hop;
    }
    peer
}

/// Works out who is calling and puts a `Ctx` in the request's extensions.
///
/// `/v1` (the JSON API) trusts only the `Authorization` header, so cookies never act there
/// and it needs no CSRF defence; everything else (pages, server functions) trusts only the
/// session cookie.
pub async fn resolve_caller(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let ip = client_ip(&req, &state.config);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect());
    let path = req.uri().path();
    let api = path.starts_with("/v1/");
    // Static files and probes never need to know who is calling: skip the lookups.
    let anonymous_only = path.starts_with("/pkg/")
        || matches!(path, "/favicon.ico" | "/healthz" | "/readyz" | "/metrics");
    let mut session_key = None;
    let principal = if anonymous_only {
        Ok(Principal::Anonymous)
    } else if api {
        bearer_principal(&state, req.headers(), ip).await
    } else {
        match req.extensions().get::<Session>().cloned() {
            Some(session) => {
                let principal = session_principal(&state, &session).await;
                if let (Ok(Principal::Member(_)), Some(id)) = (&principal, session.id()) {
                    let key = service::sessions::key_of(&id);
                    if let Err(e) = service::sessions::touch(&state.db, &key).await {
                        tracing::warn!(error = %e, "could not mark the session as seen");
                    }
                    session_key = Some(key);
                }
                principal
            }
            None => Ok(Principal::Anonymous),
        }
    };
    let principal = match principal {
        Ok(p) => p,
        Err(e) => return ApiError(e).into_response(),
    };
    let ctx = Ctx::new(principal, request_id)
        .with_client(ip, user_agent)
        .with_session(session_key)
        .with_audit(state.db.clone());
    req.extensions_mut().insert(ctx);
    next.run(req).await
}

async fn bearer_principal(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> service::Result<Principal> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    // An API key, in either header: a bad one is refused at once (401), whatever the route.
    if let Some(key) = bearer
        .filter(|t| t.starts_with(service::api_keys::PREFIX))
        .or(api_key)
    {
        let caller = service::api_keys::authenticate(&state.db, key, ip).await?;
        return Ok(Principal::Member(Box::new(caller)));
    }
    let Some(token) = bearer else {
        return Ok(Principal::Anonymous);
    };
    if let Some(expected) = &state.admin_token_hash
        && service::crypto::constant_time_eq(&service::crypto::sha256(token.as_bytes()), expected)
    {
        return Ok(Principal::SuperAdmin);
    }
    let claims = match state.tokens.verify_access(token).await {
        Ok(c) => c,
        Err(service::Error::Unauthenticated) => return Ok(Principal::Anonymous),
        Err(e) => return Err(e),
    };
    let caller =
        service::auth::load_caller(&state.db, claims.tid, claims.sub, AuthMethod::AccessToken)
            .await?;
    Ok(caller
        .map(|c| Principal::Member(Box::new(c)))
        .unwrap_or(Principal::Anonymous))
}

async fn session_principal(state: &AppState, session: &Session) -> service::Result<Principal> {
    let internal = |e: tower_sessions::session::Error| service::Error::internal("session store", e);
    let tenant: Option<Uuid> = session.get(TENANT_KEY).await.map_err(internal)?;
    let identity: Option<Uuid> = session.get(IDENTITY_KEY).await.map_err(internal)?;
    let (Some(tenant), Some(identity)) = (tenant, identity) else {
        return Ok(Principal::Anonymous);
    };
    match service::auth::load_caller(&state.db, tenant, identity, AuthMethod::Session).await? {
        Some(caller) => Ok(Principal::Member(Box::new(caller))),
        None => {
            // Disabled or deleted since signing in: the session dies now.
            session.flush().await.map_err(internal)?;
            Ok(Principal::Anonymous)
        }
    }
}

/// Server functions act with the session cookie, so a cross-site page must not be able to
/// call them: a state-changing request whose `Origin` (or `Sec-Fetch-Site`) says it comes
/// from another site is refused. SameSite=Lax on the cookie is the second wall.
pub async fn csrf_guard(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let guarded = path.starts_with("/api/")
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if guarded && !same_origin(req.headers()) {
        tracing::warn!(path, "cross-origin server function call refused");
        return rejection(
            StatusCode::FORBIDDEN,
            "cross_origin_request",
            "Cross-origin requests to the console's server functions are not allowed.".into(),
        );
    }
    next.run(req).await
}

pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or("");
        return Some(origin_host) == host;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        // Neither header: not a browser, so no ambient cookie was sent on a user's behalf.
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn origin_checks() {
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "a.test"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "a.test"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "a.test"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(same_origin(&headers(&[("host", "a.test")])));
    }

    #[test]
    fn one_time_tokens_never_reach_the_access_log() {
        assert_eq!(loggable_path("/invite/iv1.secret-token"), "/invite/…");
        assert_eq!(
            loggable_path("/reset-password/pr1.secret"),
            "/reset-password/…"
        );
        assert_eq!(
            loggable_path("/v1/privacy/exports/download/ex1.secret"),
            "/v1/privacy/exports/download/…"
        );
        assert_eq!(loggable_path("/identities/123"), "/identities/123");
        assert_eq!(loggable_path("/invite/"), "/invite/");
    }

    #[test]
    fn request_ids_are_accepted_only_when_sane() {
        assert_eq!(
            request_id_from(&headers(&[("x-request-id", "abc-123")])),
            "abc-123"
        );
        let long = "a".repeat(65);
        assert_ne!(request_id_from(&headers(&[("x-request-id", &long)])), long);
        assert_ne!(request_id_from(&headers(&[("x-request-id", "a b")])), "a b");
        for sneaky in ["a\"b", "<script>", "a{b}", "x;y", "a\\b"] {
            assert_ne!(
                request_id_from(&headers(&[("x-request-id", sneaky)])),
                sneaky
            );
        }
        assert_eq!(
            request_id_from(&headers(&[("x-request-id", "trace-01:abc_9.z")])),
            "trace-01:abc_9.z"
        );
    }
}

#[cfg(test)]
mod client_tests {
    use super::client_from;
    use crate::config::Cidr;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_right_most_address_that_is_not_a_trusted_proxy() {
        let trusted = [
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("2001:db8::/32").unwrap(),
        ];
        let from = |peer: &str, xff: Option<&str>| client_from(ip(peer), xff, false, &trusted);
        // Through two proxies of ours: the client as the outer one saw it.
        assert_eq!(
            from("10.0.0.2", Some("198.51.100.7, 10.0.0.1")),
            ip("198.51.100.7")
        );
        // Whatever the client wrote in front is ignored.
        assert_eq!(
            from("10.0.0.2", Some("1.2.3.4, 198.51.100.7, 10.0.0.1")),
            ip("198.51.100.7")
        );
        // A request that did not come through a proxy of ours: its header is the caller's word.
        assert_eq!(from("203.0.113.9", Some("1.2.3.4")), ip("203.0.113.9"));
        // Only proxies in the header: the farthest.
        assert_eq!(from("10.0.0.2", Some("10.9.9.9, 10.0.0.1")), ip("10.9.9.9"));
        // No header, or garbage at the right end: the proxy itself.
        assert_eq!(from("10.0.0.2", None), ip("10.0.0.2"));
        assert_eq!(from("10.0.0.2", Some("1.2.3.4, nonsense")), ip("10.0.0.2"));
        assert_eq!(
            from("2001:db8::5", Some("2001:db8:1::1, 2a00::1")),
            ip("2a00::1")
        );
        // The single-proxy switch takes the last entry from anyone.
        assert_eq!(
            client_from(ip("203.0.113.9"), Some("1.2.3.4, 5.6.7.8"), true, &[]),
            ip("5.6.7.8")
        );
        assert_eq!(
            client_from(ip("203.0.113.9"), None, true, &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let c = |s: &str| Cidr::parse(s).unwrap();
        assert!(c("10.0.0.0/8").contains(ip("10.255.0.1")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(c("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(c("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!c("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!c("0.0.0.0/0").contains(ip("::1")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!c("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(c("::/0").contains(ip("2a00::1")));
        for bad in ["10.0.0.0/33", "::/129", "nonsense", "10.0.0.0/x", ""] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
