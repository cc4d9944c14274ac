use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub device: String,
    pub ip: Option<String>,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub display_name: String,
    pub email: Option<String>,
    pub sessions: Vec<SessionView>,
}

/// The password change form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

#[cfg(feature = "ssr")]
impl From<PasswordForm> for service::account::PasswordChange {
    fn from(f: PasswordForm) -> Self {
        service::account::PasswordChange {
            current_password: f.current_password,
            new_password: f.new_password,
        }
    }
}

#[cfg(feature = "ssr")]
impl AccountView {
    pub fn new(
        caller: &service::ctx::Caller,
        sessions: Vec<service::sessions::SessionInfo>,
    ) -> Self {
        let session = |s: service::sessions::SessionInfo| SessionView {
            id: s.id.to_string(),
            device: s.device,
            ip: s.ip,
            created: crate::format::minute(s.created_at),
            last_seen: crate::format::minute(s.last_seen_at),
            current: s.current,
        };
        AccountView {
            display_name: caller.display_name.clone(),
            email: caller.email.clone(),
            sessions: sessions.into_iter().map(session).collect(),
        }
    }
}
