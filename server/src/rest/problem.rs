//! RFC 9457 problem details: the one error body of the REST API. Every error carries a
//! stable `code`, the request id, and for validation the field errors; a 5xx carries only
//! its request id (the detail goes to the log).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use service::FieldError;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `not_found`, `email_taken`, `validation_failed`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
    /// Seconds to wait, on 429.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// On 429 from a rate limit: the limit that refused (as in `RateLimit-Policy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<ProblemLimit>,
    /// On 409 `quota_exceeded`: the quota, its limit and the tenant's current use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<ProblemQuota>,
}

/// A plan quota, as a `quota_exceeded` problem names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemQuota {
    /// `identities`, `memories`, `webhooks`, `policies` or `api_keys`.
    pub name: String,
    /// How many the tenant may hold.
    pub limit: i64,
    /// How many it holds now.
    pub used: i64,
}

/// A rate limit, as a 429's problem names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemLimit {
    /// `tenant`, `user`, `agent`, `api_key` or `ip`.
    pub policy: String,
    /// Requests a second the bucket refills by.
    pub rate_per_second: f64,
    /// Requests the bucket holds when full.
    pub burst: u32,
}

/// A service error on its way out of a REST handler.
#[derive(Debug)]
pub struct ApiError(pub service::Error);

impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn problem(&self) -> Problem {
        let e = &self.0;
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let server_side = status.is_server_error();
        Problem {
            type_: format!(
                "https://tenantry.dev/problems/{}",
                e.code().replace('_', "-")
            ),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: Some(e.public_message()),
            code: e.code().to_owned(),
            request_id: service::ctx::current_request_id(),
            errors: if server_side {
                vec![]
            } else {
                e.field_errors().to_vec()
            },
            retry_after: match e {
                service::Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
                _ => None,
            },
            limit: None,
            quota: match e {
                service::Error::QuotaExceeded { quota, limit, used } => Some(ProblemQuota {
                    name: quota.as_str().to_owned(),
                    limit: *limit,
                    used: *used,
                }),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self.0 {
            service::Error::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
            service::Error::Unavailable(detail) => {
                tracing::warn!(detail = %detail, "dependency unavailable")
            }
            _ => {}
        }
        problem_response(self.problem())
    }
}

pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = problem.retry_after;
    let unauthenticated = status == StatusCode::UNAUTHORIZED;
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(secs) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if unauthenticated {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tenantry\""),
        );
    }
    res
}

/// A problem for a request the framework rejected before any handler ran (bad JSON, bad
/// path parameter).
pub fn rejection(status: StatusCode, code: &str, detail: String) -> Response {
    problem_response(Problem {
        type_: format!("https://tenantry.dev/problems/{}", code.replace('_', "-")),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: Some(detail),
        code: code.to_owned(),
        request_id: service::ctx::current_request_id(),
        errors: vec![],
        retry_after: None,
        limit: None,
        quota: None,
    })
}
