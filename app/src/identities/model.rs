//! Wire types of the Identities screen. Built from the service's types on the server; an
//! identity's password hash never reaches them (the service type has none).

use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityView {
    pub id: String,
    /// What to call it: display name, else email, else external id (`Identity::label`).
    pub label: String,
    pub email: Option<String>,
    pub display_name: String,
    pub external_id: Option<String>,
    pub kind: String,
    /// Role names held directly.
    pub roles: Vec<String>,
    pub status: String,
    /// Pretty-printed JSON object.
    pub metadata: String,
    /// Metadata marked personal, pretty-printed (`{}` when none).
    pub personal_metadata: String,
    pub created_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityPageView {
    pub items: Vec<IdentityView>,
    pub next_cursor: Option<String>,
}

/// One line of an identity's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    pub action: String,
    pub actor: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityDetail {
    pub identity: IdentityView,
    /// Empty unless the admin may read the audit trail.
    pub activity: Vec<ActivityView>,
    /// Every role of the tenant, for the roles form; empty unless the admin may read roles.
    pub all_roles: Vec<String>,
    /// How many API keys act for this identity and still work; `None` unless the admin
    /// may revoke them.
    pub active_keys: Option<usize>,
    /// Its newest memories; `None` unless the admin may read memories. Read with the rest,
    /// so the page hydrates from one resource.
    pub memories: Option<Result<Vec<crate::memories::model::MemoryView>, AppError>>,
}

/// An export just asked for: where to follow it, and its one-time link (shown this once,
/// never put in an address the console keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStartedView {
    pub id: String,
    pub link: String,
}

/// How an export is coming along.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportView {
    /// `queued`, `running`, `ready`, `downloaded`, `failed` or `expired`.
    pub status: String,
    pub progress: i32,
    pub step: String,
    pub size: Option<String>,
    pub error: Option<String>,
    pub expires_at: String,
}

#[cfg(feature = "ssr")]
impl From<service::privacy::export::Export> for ExportView {
    fn from(e: service::privacy::export::Export) -> Self {
        let status = serde_json::to_value(e.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        ExportView {
            status,
            progress: e.progress,
            step: e.step,
            size: e.size_bytes.map(|n| match n {
                n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1 << 20) as f64),
                n if n >= 1 << 10 => format!("{:.1} KB", n as f64 / (1 << 10) as f64),
                n => format!("{n} bytes"),
            }),
            error: e.error,
            expires_at: crate::format::minute(e.expires_at),
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::format::minute as when;

    impl From<service::identities::Identity> for IdentityView {
        fn from(i: service::identities::Identity) -> Self {
            IdentityView {
                label: i.label(),
                id: i.id.to_string(),
                email: i.email,
                display_name: i.display_name,
                external_id: i.external_id,
                kind: i.kind.as_str().into(),
                roles: i.roles,
                status: i.status.as_str().into(),
                metadata: serde_json::to_string_pretty(&i.metadata).unwrap_or_else(|_| "{}".into()),
                personal_metadata: i
                    .personal_metadata
                    .as_ref()
                    .and_then(|p| serde_json::to_string_pretty(p).ok())
                    .unwrap_or_else(|| "{}".into()),
                created_at: when(i.created_at),
                updated_at: when(i.updated_at),
                deleted_at: i.deleted_at.map(when),
            }
        }
    }

    impl From<service::pagination::Page<service::identities::Identity>> for IdentityPageView {
        fn from(page: service::pagination::Page<service::identities::Identity>) -> Self {
            IdentityPageView {
                items: page.items.into_iter().map(Into::into).collect(),
                next_cursor: page.next_cursor,
            }
        }
    }

    impl From<service::identities::Identity> for IdentityChoice {
        /// "Name (email)" when it has both, else its label.
        fn from(i: service::identities::Identity) -> Self {
            let label = match &i.email {
                Some(email) if !i.display_name.is_empty() => {
                    format!("{} ({email})", i.display_name)
                }
                _ => i.label(),
            };
            IdentityChoice {
                id: i.id.to_string(),
                label,
            }
        }
    }

    impl IdentityDetail {
        /// The page from what the caller may read: `None` for a part they may not.
        pub fn new(
            identity: service::identities::Identity,
            activity: Option<Vec<service::audit_log::AuditRecord>>,
            roles: Option<Vec<service::roles::Role>>,
            keys: Option<Vec<service::api_keys::ApiKey>>,
            memories: Option<Result<Vec<crate::memories::model::MemoryView>, AppError>>,
        ) -> Self {
            let active = |keys: Vec<service::api_keys::ApiKey>| {
                keys.iter()
                    .filter(|k| k.status == service::api_keys::Status::Active)
                    .count()
            };
            IdentityDetail {
                identity: identity.into(),
                activity: activity
                    .unwrap_or_default()
                    .into_iter()
                    .take(20)
                    .map(Into::into)
                    .collect(),
                all_roles: roles
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.name)
                    .collect(),
                active_keys: keys.map(active),
                memories,
            }
        }
    }

    impl From<service::audit_log::AuditRecord> for ActivityView {
        fn from(r: service::audit_log::AuditRecord) -> Self {
            let actor = match (r.actor_type.as_str(), r.actor_label, r.actor_id) {
                ("identity", Some(label), _) => label,
                ("identity", None, Some(id)) => {
                    format!("a deleted identity ({})", &id.to_string()[..8])
                }
                ("super_admin", ..) => "the super-admin".into(),
                _ => "Tenantry".into(),
            };
            ActivityView {
                action: r.action,
                actor,
                at: when(r.occurred_at),
            }
        }
    }
}

/// An identity offered by the pickers (memory owners, the audit trail's actor, the
/// events' identity): its id and how people recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityChoice {
    pub id: String,
    pub label: String,
}
