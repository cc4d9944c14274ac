//! What the sign-in form posts (flat text fields, taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// The sign-in form. `next` is where to go afterwards (a local path); `add` is sent when
/// the person adds a tenant to those this browser is signed in to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub tenant: String,
    pub email: String,
    pub password: String,
    pub next: Option<String>,
    pub add: Option<String>,
}

impl LoginForm {
    /// Whether the tenants this browser is signed in to stay available to switch to.
    pub fn adding(&self) -> bool {
        self.add.as_deref().is_some_and(|a| !a.is_empty())
    }
}

#[cfg(feature = "ssr")]
impl From<LoginForm> for service::auth::LoginInput {
    fn from(f: LoginForm) -> Self {
        service::auth::LoginInput {
            tenant: f.tenant,
            email: f.email,
            password: f.password,
        }
    }
}
