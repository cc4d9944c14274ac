//! Tenantry's service layer: every business rule and every SQL statement lives here.
//!
//! Both doors (the console's server functions and the REST handlers) call these functions
//! with a [`Ctx`] saying who is calling; no function here knows about HTTP, Leptos or axum.
//! Every state change goes through [`db::ChangeTx`], which authorizes, scopes the
//! transaction to the caller's tenant for row-level security, and refuses to commit without
//! writing the audit record and the outbox event of the change.

pub mod account;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod authz;
pub mod crypto;
pub mod ctx;
pub mod db;
pub mod decisions;
pub mod error;
pub mod events;
pub mod groups;
pub mod identities;
pub mod invitations;
pub mod limits;
pub mod mail;
pub mod memories;
pub mod pagination;
pub mod policies;
pub mod privacy;
pub mod resource;
pub mod roles;
pub mod sessions;
pub mod sso;
pub mod tenants;
pub mod validation;
pub mod webhooks;

pub use ctx::{Ctx, Principal};
pub use db::Db;
pub use error::{Error, FieldError, Result};

/// `t` as RFC 3339 text, the form every time in a payload or a snapshot takes.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
