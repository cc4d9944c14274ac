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
}

/// Expiry choices of the invite form: (days, label).
pub const EXPIRY: [(&str, &str); 4] = [
    ("7", "In 7 days"),
    ("3", "In 3 days"),
    ("14", "In 14 days"),
    ("30", "In 30 days"),
];
