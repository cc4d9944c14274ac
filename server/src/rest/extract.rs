//! Extractors for REST handlers. A handler's signature says who may call it: `Member`
//! needs a signed-in tenant member, `Caller` takes anyone (its `Ctx` may be anonymous).
//! Body, query and path rejections become problem+json like every other error.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use service::{Ctx, Principal};

use super::problem::{ApiError, rejection};

/// Any caller; the `Ctx` says who (possibly nobody).
pub struct Caller(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ApiError(service::Error::Internal(
                    "no caller context on the request".into(),
                ))
                .into_response()
            })
    }
}

/// A caller that presented valid credentials (401 otherwise).
pub struct Authenticated(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(ctx) = Caller::from_request_parts(parts, state).await?;
        if ctx.principal == Principal::Anonymous {
            return Err(ApiError(service::Error::Unauthenticated).into_response());
        }
        Ok(Authenticated(ctx))
    }
}

/// A JSON body. Text the database could not store (a NUL character anywhere, in a value or
/// a key) is refused here with 422 naming the field.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = json_content_type(req.headers());
        let (method, path) = (req.method().clone(), full_path(req.uri(), req.extensions()));
        let ctx = req.extensions().get::<Ctx>().cloned();
        let refused = |e: Response| refused_before_input(&method, &path, ctx.as_ref()).unwrap_or(e);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| refused(e.into_response()))?;
        if !json {
            return Err(refused(json_rejection(
                JsonRejection::MissingJsonContentType(Default::default()),
            )));
        }
        parse(&bytes).map(Json).map_err(refused)
    }
}

/// The answer to a request whose input cannot be read, when its caller may not do what the
/// route does at all: 403, as a well-formed request would get, so a caller without the right
/// learns nothing from the input's errors (a viewer gets 403, never 422). The route's module
/// comes from its path; a caller holding any right to change that module (or to read it,
/// for a read) gets the input's own error.
fn refused_before_input(method: &Method, path: &str, ctx: Option<&Ctx>) -> Option<Response> {
    let (module, read) = module_of(method, path)?;
    let refused = ctx?.may_touch(module, read).err()?;
    Some(ApiError(refused).into_response())
}

/// The request's path as the client sent it (a nested router sees only its own part).
fn full_path(uri: &axum::http::Uri, extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(uri.path(), |o| o.0.path())
        .to_owned()
}

/// The permission module a `/v1` route acts on, and whether it only reads; `None` for
/// routes any signed-in caller (or anyone) may call.
fn module_of(method: &Method, path: &str) -> Option<(&'static str, bool)> {
    let rest = path.strip_prefix("/v1/")?;
    let first = rest.split('/').next()?;
    // Searching memories and verifying the audit chain are reads sent as POST.
    let read = matches!(*method, Method::GET | Method::HEAD)
        || path.ends_with("/search")
        || path.ends_with("/audit/verify");
    let module = match first {
        "api-keys" if path.ends_with("/test") => return None,
        "api-keys" => "api_keys",
        "sso" if path.contains("/login/") => return None,
        "sso" => "settings",
        "invitations" if path.ends_with("/accept") || path.ends_with("/validate") => return None,
        "identities" | "groups" if path.ends_with("/roles") && !read => "roles",
        other => service::authz::catalog::MODULES
            .iter()
            .find(|m| **m == other)?,
    };
    Some((module, read))
}

/// An optional body: absent (no `content-type`) is `None`; present, it must parse.
impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !req.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Json<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == "application"
                && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        })
}

#[allow(
    clippy::result_large_err,
    reason = "the rejection is the response itself, as every extractor here answers"
)]
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    if crate::nul::may_hold_nul_json(bytes)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(field) = crate::nul::in_json(&value)
    {
        return Err(ApiError(crate::nul::error(&field)).into_response());
    }
    axum::Json::<T>::from_bytes(bytes)
        .map(|axum::Json(v)| v)
        .map_err(json_rejection)
}

fn json_rejection(e: JsonRejection) -> Response {
    match e {
        JsonRejection::JsonDataError(e) => rejection(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "The JSON body does not match the expected shape: {}",
                e.body_text()
            ),
        ),
        JsonRejection::MissingJsonContentType(_) => rejection(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.".into(),
        ),
        other => rejection(StatusCode::BAD_REQUEST, "malformed_body", other.body_text()),
    }
}

pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let refused = |parts: &Parts, e: Response| {
            let path = full_path(&parts.uri, &parts.extensions);
            refused_before_input(&parts.method, &path, parts.extensions.get::<Ctx>()).unwrap_or(e)
        };
        if let Some(field) = parts
            .uri
            .query()
            .and_then(|q| crate::nul::in_form(q.as_bytes()))
        {
            let e = ApiError(crate::nul::error(&field)).into_response();
            return Err(refused(parts, e));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => {
                let e = rejection(StatusCode::BAD_REQUEST, "invalid_query", e.body_text());
                Err(refused(parts, e))
            }
        }
    }
}

pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            // A malformed id names nothing that exists (and a caller without the right is
            // told so first, as for an id that does exist).
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                let e = ApiError(service::Error::NotFound {
                    resource: "resource",
                })
                .into_response();
                let path = full_path(&parts.uri, &parts.extensions);
                Err(
                    refused_before_input(&parts.method, &path, parts.extensions.get::<Ctx>())
                        .unwrap_or(e),
                )
            }
            Err(e) => Err(rejection(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                e.body_text(),
            )),
        }
    }
}
