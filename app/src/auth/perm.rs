//! The permission catalogue as the console knows it: one constant per permission, so a
//! misspelt permission does not compile. The server's catalogue
//! (`service::authz::catalog`) is the source; a test checks that these agree with it,
//! key for key and in its order.

/// A permission of the catalogue, `module:action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm(&'static str);

impl Perm {
    /// Its key, as the server names it (`webhooks:update`).
    pub const fn key(self) -> &'static str {
        self.0
    }
}

macro_rules! catalogue {
    ($($name:ident = $key:literal,)*) => {
        $(pub const $name: Perm = Perm($key);)*
        /// Every permission, in the catalogue's order (modules outer, actions inner).
        pub const ALL: &[Perm] = &[$($name),*];
    };
}

catalogue! {
    IDENTITIES_READ = "identities:read",
    IDENTITIES_CREATE = "identities:create",
    IDENTITIES_UPDATE = "identities:update",
    IDENTITIES_DELETE = "identities:delete",
    IDENTITIES_MANAGE = "identities:manage",
    GROUPS_READ = "groups:read",
    GROUPS_CREATE = "groups:create",
    GROUPS_UPDATE = "groups:update",
    GROUPS_DELETE = "groups:delete",
    GROUPS_MANAGE = "groups:manage",
    ROLES_READ = "roles:read",
    ROLES_CREATE = "roles:create",
    ROLES_UPDATE = "roles:update",
    ROLES_DELETE = "roles:delete",
    ROLES_MANAGE = "roles:manage",
    POLICIES_READ = "policies:read",
    POLICIES_CREATE = "policies:create",
    POLICIES_UPDATE = "policies:update",
    POLICIES_DELETE = "policies:delete",
    POLICIES_MANAGE = "policies:manage",
    INVITATIONS_READ = "invitations:read",
    INVITATIONS_CREATE = "invitations:create",
    INVITATIONS_UPDATE = "invitations:update",
    INVITATIONS_DELETE = "invitations:delete",
    INVITATIONS_MANAGE = "invitations:manage",
    API_KEYS_READ = "api_keys:read",
    API_KEYS_CREATE = "api_keys:create",
    API_KEYS_UPDATE = "api_keys:update",
    API_KEYS_DELETE = "api_keys:delete",
    API_KEYS_MANAGE = "api_keys:manage",
    SESSIONS_READ = "sessions:read",
    SESSIONS_CREATE = "sessions:create",
    SESSIONS_UPDATE = "sessions:update",
    SESSIONS_DELETE = "sessions:delete",
    SESSIONS_MANAGE = "sessions:manage",
    MEMORIES_READ = "memories:read",
    MEMORIES_CREATE = "memories:create",
    MEMORIES_UPDATE = "memories:update",
    MEMORIES_DELETE = "memories:delete",
    MEMORIES_MANAGE = "memories:manage",
    WEBHOOKS_READ = "webhooks:read",
    WEBHOOKS_CREATE = "webhooks:create",
    WEBHOOKS_UPDATE = "webhooks:update",
    WEBHOOKS_DELETE = "webhooks:delete",
    WEBHOOKS_MANAGE = "webhooks:manage",
    AUDIT_READ = "audit:read",
    AUDIT_CREATE = "audit:create",
    AUDIT_UPDATE = "audit:update",
    AUDIT_DELETE = "audit:delete",
    AUDIT_MANAGE = "audit:manage",
    SETTINGS_READ = "settings:read",
    SETTINGS_CREATE = "settings:create",
    SETTINGS_UPDATE = "settings:update",
    SETTINGS_DELETE = "settings:delete",
    SETTINGS_MANAGE = "settings:manage",
    PRIVACY_READ = "privacy:read",
    PRIVACY_EXPORT = "privacy:export",
    PRIVACY_ERASE = "privacy:erase",
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_console_knows_the_servers_catalogue_key_for_key() {
        let server: Vec<String> = service::authz::catalog::all().map(|p| p.to_key()).collect();
        let console: Vec<&str> = super::ALL.iter().map(|p| p.key()).collect();
        assert_eq!(console, server);
    }
}
