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
    /// What to call them: display name, else email.
    #[serde(default)]
    pub label: String,
    /// Role names, held directly or through groups.
    pub roles: Vec<String>,
    /// `module:action` permissions the admin holds on whole modules.
    pub permissions: Vec<String>,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub plan: String,
    /// The other tenants this browser is signed in to: (tenant id, name).
    #[serde(default)]
    pub other_tenants: Vec<(String, String)>,
}

/// One tenant this browser signed in to (kept in the session, server side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub tenant_id: String,
    pub identity_id: String,
    pub tenant_name: String,
    /// When this sign-in was made (RFC 3339; absent in sessions older than this field):
    /// switching back to its tenant checks that no revocation came after it.
    #[serde(default)]
    pub signed_in_at: Option<String>,
}

impl UserView {
    /// Whether the admin holds `permission` (e.g. `identities:create`). The server decides
    /// every call; this only hides what would be refused.
    pub fn can(&self, permission: super::perm::Perm) -> bool {
        self.permissions.iter().any(|p| p == permission.key())
    }

    pub fn roles_label(&self) -> String {
        self.roles.join(", ")
    }
}

#[cfg(feature = "ssr")]
impl UserView {
    pub fn from_ctx(ctx: &service::Ctx) -> Option<UserView> {
        let c = ctx.caller().ok()?;
        Some(UserView {
            identity_id: c.identity_id.to_string(),
            email: c.email.clone().unwrap_or_default(),
            display_name: c.display_name.clone(),
            label: c.label(),
            roles: c.role_names(),
            permissions: ctx
                .allowed_permissions()
                .into_iter()
                .map(|p| p.to_key())
                .collect(),
            tenant_slug: c.tenant_slug.clone(),
            tenant_name: c.tenant_name.clone(),
            plan: c.plan.as_str().into(),
            other_tenants: Vec::new(),
        })
    }
}
