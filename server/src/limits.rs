//! Rate limits at the door (see `service::limits` for the buckets and how instances share
//! them): which requests spend from which buckets, the `RateLimit-Policy` and `RateLimit`
//! headers (draft-ietf-httpapi-ratelimit-headers, serialised as structured fields), and the
//! 429 answer.
//!
//! A signed-in member's API request and console server-function call spend from the
//! tenant's bucket and the member's own (its plan's rate for people or for agents), and
//! from its API key's when the key has a rate of its own; a
//! request before sign-in (sign-in, tokens, password reset, invitations, SSO) spends from
//! its address's. The super-admin's requests, pages, assets and probes spend nothing.
//!
//! When the limit store cannot be reached, sign-in and token issue are refused (503):
//! they are what a password-guessing flood would use. Everything else is served unlimited
//! until the store is back, and the log says so.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use service::limits::{self, Bucket, Decision, Report};
use service::{Ctx, Principal};
use sfv::{Integer, KeyRef, ListSerializer, key_ref, string_ref};

use crate::rest::problem::{ApiError, ProblemLimit, problem_response, rejection};
use crate::state::AppState;

/// Whether a request to `path` spends from a bucket at all.
fn limited(path: &str) -> bool {
    (path.starts_with("/v1/") && path != "/v1/openapi.json")
        || path.starts_with("/api/")
        || path.starts_with("/auth/sso/")
        || path == "/auth/oidc/callback"
}

/// Sign-in and token issue: refused when the limit store is unreachable.
fn fails_closed(method: &Method, path: &str) -> bool {
    matches!(
        (method, path),
        (
            &Method::POST,
            "/v1/auth/token" | "/v1/auth/refresh" | "/api/auth/login"
        )
    ) || path.starts_with("/auth/sso/")
        || path == "/auth/oidc/callback"
}

pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let db = &state.db;
    let path = req.uri().path();
    if !db.limiter().enabled || !limited(path) {
        return next.run(req).await;
    }
    let closed = fails_closed(req.method(), path);
    let buckets: Vec<Bucket> = match req.extensions().get::<Ctx>().map(|c| (&c.principal, c.ip)) {
        Some((Principal::Member(caller), _)) => match limits::buckets_of(db, caller).await {
            Ok(b) => b,
            Err(e) => return unavailable(closed, e, req, next).await,
        },
        Some((Principal::Anonymous, Some(ip))) => vec![limits::address_bucket(db, ip)],
        _ => return next.run(req).await,
    };
    match limits::spend(db, &buckets).await {
        Ok(Decision::Allowed(report)) => {
            let mut res = next.run(req).await;
            if let Some(report) = report {
                set_headers(res.headers_mut(), &report);
            }
            res
        }
        Ok(Decision::Refused(report)) => {
            metrics::counter!("rate_limit_refused_total", "policy" => report.policy).increment(1);
            too_many(&report)
        }
        Err(e) => unavailable(closed, e, req, next).await,
    }
}

/// The limit store did not answer: refuse what fails closed, serve the rest.
async fn unavailable(closed: bool, e: service::Error, req: Request, next: Next) -> Response {
    log_unavailable(&e);
    let outcome = if closed { "refused" } else { "served" };
    metrics::counter!("rate_limit_store_unavailable_total", "outcome" => outcome).increment(1);
    if closed {
        let mut res = rejection(
            StatusCode::SERVICE_UNAVAILABLE,
            "limits_unavailable",
            "Sign-in is paused while rate limits cannot be checked; try again shortly.".into(),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return res;
    }
    next.run(req).await
}

/// Says at most every ten seconds that the limit store is unreachable.
fn log_unavailable(e: &service::Error) {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if service::db::due_every(&LAST, 10) {
        tracing::warn!(error = ?e, "rate limits cannot be checked: sign-in and token issue are refused, other requests are served unlimited");
    }
}

const Q: &KeyRef = key_ref("q");
const W: &KeyRef = key_ref("w");
const R: &KeyRef = key_ref("r");
const T: &KeyRef = key_ref("t");

fn int(v: u64) -> Integer {
    Integer::try_from(v.min(999_999_999_999_999)).unwrap_or(Integer::from(0u8))
}

/// `RateLimit-Policy: "user";q=150;w=3` and `RateLimit: "user";r=149;t=1`.
fn header_values(report: &Report) -> (String, String) {
    let name = string_ref(report.policy);
    let mut policy = ListSerializer::new();
    let _ = policy
        .bare_item(name)
        .parameter(Q, int(u64::from(report.limit.burst)))
        .parameter(W, int(report.limit.window_secs()));
    let mut now = ListSerializer::new();
    let _ = now
        .bare_item(name)
        .parameter(R, int(u64::from(report.remaining)))
        .parameter(T, int(report.reset_secs));
    (
        policy.finish().unwrap_or_default(),
        now.finish().unwrap_or_default(),
    )
}

fn set_headers(headers: &mut axum::http::HeaderMap, report: &Report) {
    let (policy, now) = header_values(report);
    if let (Ok(p), Ok(n)) = (HeaderValue::from_str(&policy), HeaderValue::from_str(&now)) {
        headers.insert("ratelimit-policy", p);
        headers.insert("ratelimit", n);
    }
}

/// 429, with `Retry-After`, the headers, and a problem naming the limit.
fn too_many(report: &Report) -> Response {
    let retry_after = report.retry_after_secs.max(1);
    let what = match report.policy {
        "tenant" => "this tenant's requests",
        "user" => "this person's requests",
        "agent" => "this agent's requests",
        "api_key" => "this API key's requests",
        "ip" => "requests from this address before sign-in",
        _ => "these requests",
    };
    // The service's rate-limited problem, with what this limit says of itself.
    let mut problem = ApiError(service::Error::RateLimited {
        retry_after_secs: retry_after,
    })
    .problem();
    problem.detail = Some(format!(
        "Too many requests: {what} are limited to {} a second, {} at once. \
         Try again in {retry_after} s.",
        trim(report.limit.rate),
        report.limit.burst
    ));
    problem.limit = Some(ProblemLimit {
        policy: report.policy.into(),
        rate_per_second: report.limit.rate,
        burst: report.limit.burst,
    });
    let mut res = problem_response(problem);
    set_headers(res.headers_mut(), report);
    res
}

/// `10` for 10.0, `0.5` for 0.5.
fn trim(rate: f64) -> String {
    let s = format!("{rate:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use service::limits::Limit;

    #[test]
    fn headers_are_structured_field_lists() {
        let report = Report {
            key: service::limits::BucketKey::Tenant(uuid::Uuid::nil()),
            policy: "user",
            limit: Limit {
                rate: 50.0,
                burst: 150,
            },
            remaining: 149,
            reset_secs: 1,
            retry_after_secs: 0,
        };
        let (policy, now) = header_values(&report);
        assert_eq!(policy, r#""user";q=150;w=3"#);
        assert_eq!(now, r#""user";r=149;t=1"#);
        let parsed = sfv::Parser::new(&policy).parse::<sfv::List>().unwrap();
        assert_eq!(parsed.len(), 1);
    }

    #[test]
    fn only_api_calls_server_functions_and_sso_spend() {
        assert!(limited("/v1/me"));
        assert!(limited("/api/auth/login"));
        assert!(limited("/auth/sso/login/abc"));
        assert!(limited("/auth/oidc/callback"));
        assert!(!limited("/v1/openapi.json"));
        assert!(!limited("/identities"));
        assert!(!limited("/pkg/tenantry.wasm"));
        assert!(!limited("/healthz"));
        assert!(fails_closed(&Method::POST, "/v1/auth/token"));
        assert!(!fails_closed(&Method::GET, "/v1/me"));
        assert_eq!(trim(10.0), "10");
        assert_eq!(trim(0.5), "0.5");
    }
}
