use serde::{Deserialize, Serialize};

use crate::components::forms::FormFlash;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub roles: Vec<String>,
    pub status: String,
    pub inviter: Option<String>,
    pub sent: String,
    pub sent_count: i32,
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    pub to: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub queued: String,
    /// For mail only written to the log (no SMTP server): the link it carries.
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationsView {
    pub invitations: Vec<InvitationView>,
    /// Role names the form offers.
    pub roles: Vec<String>,
    pub outbox: Vec<MailView>,
}

/// What the accept page knows about its link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitePreview {
    /// `pending`, `accepted`, `expired`, `revoked`, or `invalid` for a link that opens nothing.
    pub status: String,
    pub tenant_name: String,
    pub tenant: String,
    pub email: String,
    pub inviter: Option<String>,
    pub roles: Vec<String>,
    pub expires: String,
    pub flash: Option<FormFlash>,
    /// The tenant's single sign-on choices, for a pending invitation (fetched with the
    /// preview, so the page makes no resource inside its Suspense).
    pub sso: Vec<crate::sso::model::SignInOptionView>,
}

/// Expiry choices of the invite form: (days, label).
pub const EXPIRY: [(&str, &str); 4] = [
    ("7", "In 7 days"),
    ("3", "In 3 days"),
    ("14", "In 14 days"),
    ("30", "In 30 days"),
];

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::format::minute;

    impl InvitationsView {
        /// The screen; `roles` is `None` for an admin who may not read roles.
        pub fn new(
            invitations: Vec<service::invitations::Invitation>,
            roles: Option<Vec<service::roles::Role>>,
            outbox: Vec<service::mail::OutboxEntry>,
        ) -> Self {
            let invitation = |i: service::invitations::Invitation| InvitationView {
                id: i.id.to_string(),
                email: i.email,
                roles: i.roles,
                status: i.status.as_str().to_owned(),
                inviter: i.inviter_name,
                sent: minute(i.last_sent_at),
                sent_count: i.sent_count,
                expires: minute(i.expires_at),
            };
            let mail = |m: service::mail::OutboxEntry| MailView {
                to: m.to,
                subject: m.subject,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
                queued: minute(m.created_at),
                link: m.link_path,
            };
            InvitationsView {
                invitations: invitations.into_iter().map(invitation).collect(),
                roles: roles
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.name)
                    .collect(),
                outbox: outbox.into_iter().map(mail).collect(),
            }
        }
    }

    impl InvitePreview {
        pub fn new(p: service::invitations::Preview, flash: Option<FormFlash>) -> Self {
            InvitePreview {
                status: p.status.as_str().to_owned(),
                tenant_name: p.tenant_name,
                tenant: p.tenant_slug,
                email: p.email,
                inviter: p.inviter_name,
                roles: p.roles,
                expires: minute(p.expires_at),
                flash,
                sso: Vec::new(),
            }
        }

        /// A link that opens nothing (unknown or malformed token).
        pub fn invalid(flash: Option<FormFlash>) -> Self {
            InvitePreview {
                status: "invalid".into(),
                tenant_name: String::new(),
                tenant: String::new(),
                email: String::new(),
                inviter: None,
                roles: Vec::new(),
                expires: String::new(),
                flash,
                sso: Vec::new(),
            }
        }
    }
}
