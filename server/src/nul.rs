//! Text PostgreSQL cannot store never reaches it: a NUL character (U+0000) anywhere in a
//! request (a body field, a metadata key or value, a query parameter) is refused at the door
//! with 422 naming the field. The REST extractors check after authentication (a caller
//! without credentials still gets 401 first); the console's server functions and the
//! browser routes under `/auth` are checked by [`refuse_nul`] before their arguments are
//! read. The database's own refusal of such text is the second wall (a 422 as well).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The largest console request body checked here (server functions are small).
const MAX_CHECKED: usize = 4 * 1024 * 1024;

/// The error naming `field`.
pub fn error(field: &str) -> service::Error {
    service::Error::Validation(vec![service::FieldError::new(
        field,
        "nul_character",
        "Text cannot contain the NUL character (U+0000).",
    )])
}

/// The first place in `value` (a key or a string) holding a NUL, as a path: `metadata.a`,
/// `items[2].text`.
pub fn in_json(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) if s.contains('\0') => Some(path.to_owned()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.replace('\0', "\u{FFFD}")
                } else {
                    format!("{path}.{}", k.replace('\0', "\u{FFFD}"))
                };
                if k.contains('\0') {
                    Some(here)
                } else {
                    walk(v, &here)
                }
            }),
            _ => None,
        }
    }
    walk(value, "").map(|p| if p.is_empty() { "body".into() } else { p })
}

/// Whether raw JSON may hold a NUL (the only way to write one is the `\u0000` escape).
pub fn may_hold_nul_json(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"\\u0000")
}

/// The first field of form-encoded `text` (a query string or a form body) whose name or
/// value holds a NUL.
pub fn in_form(text: &[u8]) -> Option<String> {
    if !text.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")) && !text.contains(&0) {
        return None;
    }
    form_urlencoded::parse(text).find_map(|(k, v)| {
        (k.contains('\0') || v.contains('\0')).then(|| k.replace('\0', "\u{FFFD}"))
    })
}

/// Checks the query and body of console server-function calls (`/api/...`) and the query
/// of the browser routes under `/auth`.
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let server_fn = path.starts_with("/api/");
    if !server_fn && !path.starts_with("/auth/") {
        return next.run(req).await;
    }
    if let Some(field) = req.uri().query().and_then(|q| in_form(q.as_bytes())) {
        return refused(server_fn, &field);
    }
    if !server_fn || req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_CHECKED).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        }
    };
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let field = if json {
        may_hold_nul_json(&bytes)
            .then(|| serde_json::from_slice::<Value>(&bytes).ok())
            .flatten()
            .and_then(|v| in_json(&v))
    } else {
        in_form(&bytes)
    };
    if let Some(field) = field {
        return refused(true, &field);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn refused(server_fn: bool, field: &str) -> Response {
    let e = error(field);
    if server_fn {
        // In the shape the console's server functions decode their errors from.
        let body = app::error::AppError::from(e);
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response()
    } else {
        crate::rest::problem::ApiError(e).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_is_found_and_named_wherever_it_hides() {
        assert_eq!(in_json(&json!({"name": "ok"})), None);
        assert_eq!(
            in_json(&json!({"name": "a\u{0}b"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            in_json(&json!({"metadata": {"tags": ["x", "y\u{0}"]}})).as_deref(),
            Some("metadata.tags[1]")
        );
        assert_eq!(
            in_json(&json!({"metadata": {"bad\u{0}key": 1}})).as_deref(),
            Some("metadata.bad\u{FFFD}key")
        );
        assert_eq!(in_json(&json!("\u{0}")).as_deref(), Some("body"));
        assert_eq!(in_form(b"q=fine&status=active"), None);
        assert_eq!(in_form(b"q=a%00b").as_deref(), Some("q"));
        assert_eq!(in_form(b"a%00b=1").as_deref(), Some("a\u{FFFD}b"));
        assert!(may_hold_nul_json(br#"{"a":"\u0000"}"#));
        assert!(!may_hold_nul_json(br#"{"a":"\u0001"}"#));
    }
}
