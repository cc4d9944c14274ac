//! Extractors for REST handlers. A handler's signature says who may call it: `Member`
//! needs a signed-in tenant member, `Caller` takes anyone (its `Ctx` may be anonymous).
//! Body, query and path rejections become problem+json like every other error.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
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
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !json {
            return Err(json_rejection(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        parse(&bytes).map(Json)
    }
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
        if let Some(field) = parts
            .uri
            .query()
            .and_then(|q| crate::nul::in_form(q.as_bytes()))
        {
            return Err(ApiError(crate::nul::error(&field)).into_response());
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => Err(rejection(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                e.body_text(),
            )),
            Err(e) => Err(rejection(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                e.body_text(),
            )),
        }
    }
}

pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            // A malformed id names nothing that exists.
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError(service::Error::NotFound {
                    resource: "resource",
                })
                .into_response())
            }
            Err(e) => Err(rejection(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                e.body_text(),
            )),
        }
    }
}
