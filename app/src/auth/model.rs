use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageState {
    pub user: Option<UserView>,
    pub flash: Option<crate::components::forms::FormFlash>,
}

/// The signed-in admin as the console shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub identity_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub plan: String,
}

impl UserView {
    /// Whether the role may change identities. The server decides; this only hides buttons.
    pub fn can_manage_identities(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
    }

    pub fn label(&self) -> String {
        if self.display_name.is_empty() {
            self.email.clone()
        } else {
            self.display_name.clone()
        }
    }
}

#[cfg(feature = "ssr")]
impl From<&service::ctx::Caller> for UserView {
    fn from(c: &service::ctx::Caller) -> Self {
        UserView {
            identity_id: c.identity_id.to_string(),
            email: c.email.clone().unwrap_or_default(),
            display_name: c.display_name.clone(),
            role: c.role.as_str().into(),
            tenant_slug: c.tenant_slug.clone(),
            tenant_name: c.tenant_name.clone(),
            plan: c.plan.as_str().into(),
        }
    }
}
