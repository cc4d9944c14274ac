//! The console's error: what a server function returns on failure. It carries the stable
//! code and the field errors of the service error, never its internal detail.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrorView {
    pub field: String,
    pub message: String,
}

/// The kinds of failure a screen treats in a way of its own, read from the error's stable
/// code (the service's `Error::code`); every other code is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Forbidden,
    Unauthenticated,
    Internal,
    Unavailable,
    Other,
}

impl ErrorKind {
    fn of(code: &str) -> ErrorKind {
        match code {
            "not_found" => ErrorKind::NotFound,
            "forbidden" => ErrorKind::Forbidden,
            "unauthenticated" => ErrorKind::Unauthenticated,
            "internal" => ErrorKind::Internal,
            "unavailable" => ErrorKind::Unavailable,
            _ => ErrorKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldErrorView>,
    pub request_id: Option<String>,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        AppError {
            code: code.into(),
            message: message.into(),
            fields: vec![],
            request_id: None,
        }
    }

    /// The message for one field, if it was invalid.
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.field == name)
            .map(|f| f.message.clone())
    }

    /// What kind of failure this is, for screens that answer some kinds in a way of their
    /// own (a "not found" card, a hidden section).
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::of(&self.code)
    }

    pub fn is_unauthenticated(&self) -> bool {
        self.kind() == ErrorKind::Unauthenticated
    }

    /// The banner text: the message, plus the request id for errors worth reporting.
    pub fn banner(&self) -> String {
        match &self.request_id {
            Some(id) if matches!(self.kind(), ErrorKind::Internal | ErrorKind::Unavailable) => {
                format!("{} (request id {id})", self.message)
            }
            _ => self.message.clone(),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let message = match &value {
            ServerFnErrorErr::Request(_) => {
                "The server could not be reached. Check your connection and try again.".to_owned()
            }
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::Deserialization(e) => {
                format!("The form could not be read: {e}")
            }
            _ => "Something went wrong.".to_owned(),
        };
        AppError::new("request_failed", message)
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use http::StatusCode;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    impl From<service::Error> for AppError {
        fn from(e: service::Error) -> Self {
            match &e {
                service::Error::Internal(detail) => {
                    tracing::error!(detail = %detail, "internal error")
                }
                service::Error::Unavailable(detail) => {
                    tracing::warn!(detail = %detail, "dependency unavailable")
                }
                _ => {}
            }
            let mut fields: Vec<FieldErrorView> = e
                .field_errors()
                .iter()
                .map(|f| FieldErrorView {
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect();
            if let service::Error::Conflict {
                field: Some(field),
                message,
                ..
            } = &e
            {
                fields.push(FieldErrorView {
                    field: (*field).to_owned(),
                    message: message.clone(),
                });
            }
            // A plain form post is answered with a redirect back to the form (leptos_axum
            // does that when no status is set); anything else gets the error's own status.
            if !crate::server::is_plain_form()
                && let Some(res) = use_context::<ResponseOptions>()
            {
                res.set_status(
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
            AppError {
                code: e.code().to_owned(),
                message: e.public_message(),
                fields,
                request_id: crate::server::request_id(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_read_from_the_stable_codes() {
        assert_eq!(AppError::new("not_found", "x").kind(), ErrorKind::NotFound);
        assert_eq!(AppError::new("forbidden", "x").kind(), ErrorKind::Forbidden);
        assert_eq!(AppError::new("email_taken", "x").kind(), ErrorKind::Other);
        assert!(AppError::new("unauthenticated", "x").is_unauthenticated());
        let mut broke = AppError::new("internal", "Broke");
        broke.request_id = Some("r1".into());
        assert_eq!(broke.banner(), "Broke (request id r1)");
        let mut refused = AppError::new("forbidden", "No");
        refused.request_id = Some("r1".into());
        assert_eq!(refused.banner(), "No", "a refusal is not worth reporting");
    }
}
