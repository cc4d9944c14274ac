//! The one error type of the service layer. Each door maps it once: REST to an RFC 9457
//! problem body, the console to its server-function error. The caller's message and the
//! internal detail are kept apart: `Internal` carries text for the log only.

use serde::{Deserialize, Serialize};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid input field, named as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request cannot be understood (bad cursor, malformed token).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// 401 on sign-in: wrong tenant, email or password (never says which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 403: signed in, but the action is not permitted.
    #[error("you are not allowed to {action}")]
    Forbidden { action: String },
    /// 403: a sign-in or acceptance the rules refuse (an unverified email at the identity
    /// provider, a domain not allowed); the message tells the person what to do.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// 404: does not exist, or belongs to another tenant (existence must not leak).
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    /// 409: the change clashes with the current state (duplicate email, last owner).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        field: Option<&'static str>,
    },
    /// 409: creating this would take the tenant past a quota of its plan.
    #[error("the tenant's plan allows {limit} {quota}, and it holds {used}")]
    QuotaExceeded {
        quota: crate::limits::Quota,
        limit: i64,
        used: i64,
    },
    /// 422: the input is well-formed but invalid; one entry per field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 429: too many attempts; retry after this many seconds.
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503: a dependency is down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 503: the embedding provider cannot embed now (down, slow, its circuit open). The
    /// message is for the caller: it never holds a URL or a key.
    #[error("{0}")]
    EmbeddingsUnavailable(String),
    /// 500: a bug or an unexpected failure; the text is for the log, never for the caller.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// The stable, machine-readable code that both doors send to callers.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthenticated => "unauthenticated",
            Error::InvalidCredentials => "invalid_credentials",
            Error::Forbidden { .. } => "forbidden",
            Error::Refused { code, .. } => code,
            Error::NotFound { .. } => "not_found",
            Error::Conflict { code, .. } => code,
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::Validation(_) => "validation_failed",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::EmbeddingsUnavailable(_) => "embeddings_unavailable",
            Error::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthenticated | Error::InvalidCredentials => 401,
            Error::Forbidden { .. } | Error::Refused { .. } => 403,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } | Error::QuotaExceeded { .. } => 409,
            Error::Validation(_) => 422,
            Error::RateLimited { .. } => 429,
            Error::Unavailable(_) | Error::EmbeddingsUnavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The message a caller may see: never SQL, a secret or a stack trace.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "An unexpected error occurred.".to_owned(),
            Error::Unavailable(_) => "The service is temporarily unavailable.".to_owned(),
            Error::Validation(errors) if errors.len() == 1 => errors[0].message.clone(),
            Error::Validation(_) => "Some fields are invalid.".to_owned(),
            other => {
                let mut s = other.to_string();
                if let Some(first) = s.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                s
            }
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Validation(errors) => errors,
            _ => &[],
        }
    }

    pub fn validation(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Error::Internal(format!("{context}: {err}"))
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Error::Unavailable(format!("database: {err}"))
            }
            // Two changes that lock the same rows in opposite order (two owners demoting
            // each other): one of them is told to try again.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40P01" | "40001")) =>
            {
                Error::Conflict {
                    code: "concurrent_change",
                    message:
                        "Another change to the same data happened at the same time; try again."
                            .into(),
                    field: None,
                }
            }
            // Text the database cannot store (a NUL character, in text or in JSON): the
            // doors refuse it first, naming the field; this is the second wall.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                Error::Validation(vec![FieldError::new(
                    "body",
                    "nul_character",
                    "Text cannot contain the NUL character (U+0000).",
                )])
            }
            // A string sqlx refused to send for the same reason.
            sqlx::Error::Encode(e) if e.to_string().contains("nul") => {
                Error::Validation(vec![FieldError::new(
                    "body",
                    "nul_character",
                    "Text cannot contain the NUL character (U+0000).",
                )])
            }
            _ => Error::Internal(format!("database: {err}")),
        }
    }
}

/// The name of the unique constraint or index a database error violated, if any.
pub fn unique_violation(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => db.constraint(),
        _ => None,
    }
}

/// The constraint a foreign key violation names, if `err` is one.
pub fn foreign_key_violation(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => db.constraint(),
        _ => None,
    }
}
