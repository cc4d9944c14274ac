//! The permission catalogue: every `module:action` string the product knows, defined once.
//! The console's role matrix, validation of role and policy input, and the system roles all
//! read this list.

use serde::Serialize;

/// The product's modules, in the order the console shows them.
pub const MODULES: [&str; 12] = [
    "identities",
    "groups",
    "roles",
    "policies",
    "invitations",
    "api_keys",
    "sessions",
    "memories",
    "webhooks",
    "audit",
    "settings",
    "privacy",
];

/// The actions of every module but `privacy`. `manage` is the administrative action of a
/// module (assigning roles, revoking another identity's sessions, rotating a webhook secret).
pub const ACTIONS: [&str; 5] = ["read", "create", "update", "delete", "manage"];

/// The actions of `privacy`, a person's data as a whole: `read` their exports, `export`
/// everything held about them, `erase` them (crypto-shredding).
pub const PRIVACY_ACTIONS: [&str; 3] = ["read", "export", "erase"];

/// Every action some module has, in the console's column order.
pub const ALL_ACTIONS: [&str; 7] = [
    "read", "create", "update", "delete", "manage", "export", "erase",
];

/// The actions `module` has.
pub fn actions_of(module: &str) -> &'static [&'static str] {
    match module {
        "privacy" => &PRIVACY_ACTIONS,
        _ => &ACTIONS,
    }
}

/// One human sentence per module, for the console.
pub fn module_description(module: &str) -> &'static str {
    match module {
        "identities" => "People and agents of the tenant",
        "groups" => "Companies, subsidiaries, departments and their members",
        "roles" => "Roles and the permissions they grant or deny",
        "policies" => "Allow and deny rules with conditions",
        "invitations" => "Inviting people by email",
        "api_keys" => "Keys for programs",
        "sessions" => "Console sessions and API refresh tokens",
        "memories" => "Semantic memories of identities",
        "webhooks" => "Event subscriptions and deliveries",
        "audit" => "The audit trail",
        "settings" => "Tenant settings and single sign-on",
        "privacy" => "A person's data as a whole: export it, erase it",
        _ => "",
    }
}

/// A permission: one module and one action, both from the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Permission {
    pub module: &'static str,
    pub action: &'static str,
}

impl Permission {
    /// Parses `module:action` against the catalogue.
    pub fn parse(s: &str) -> Option<Permission> {
        let (m, a) = s.split_once(':')?;
        let module = MODULES.iter().find(|x| **x == m)?;
        Some(Permission {
            module,
            action: actions_of(module).iter().find(|x| **x == a)?,
        })
    }

    /// Position in [`all`], used as a dense index by the engine.
    pub fn index(self) -> usize {
        let mut offset = 0;
        for module in MODULES {
            let actions = actions_of(module);
            if module == self.module {
                let a = actions
                    .iter()
                    .position(|x| *x == self.action)
                    .expect("catalogue action");
                return offset + a;
            }
            offset += actions.len();
        }
        panic!("not a catalogue module: {}", self.module)
    }

    pub fn to_key(self) -> String {
        format!("{}:{}", self.module, self.action)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.module, self.action)
    }
}

/// `privacy` is the one module with actions of its own.
pub const PERMISSION_COUNT: usize = (MODULES.len() - 1) * ACTIONS.len() + PRIVACY_ACTIONS.len();

/// Every permission, modules outer, actions inner.
pub fn all() -> impl Iterator<Item = Permission> {
    MODULES.iter().flat_map(|m| {
        actions_of(m).iter().map(move |a| Permission {
            module: m,
            action: a,
        })
    })
}

/// The four system roles every tenant has, with what they grant. They cannot be deleted;
/// owners always keep `roles:*` and `policies:*` whatever else says (see the engine).
pub const SYSTEM_ROLES: [(&str, &str); 4] = [
    (
        "owner",
        "Everything, including roles, policies and settings",
    ),
    (
        "admin",
        "Manages people, groups, keys and data; reads roles, policies and settings",
    ),
    (
        "member",
        "Works with memories and their own keys; reads the directory",
    ),
    ("viewer", "Reads the directory, memories and configuration"),
];

/// Whether the system role `role` grants `p`.
pub fn system_role_grants(role: &str, p: Permission) -> bool {
    match role {
        "owner" => true,
        "admin" => match p.module {
            "roles" | "policies" => p.action == "read",
            "settings" => p.action == "read",
            // Erasing a person is the owners' (or a role made for it).
            "privacy" => p.action != "erase",
            _ => true,
        },
        "member" => match p.module {
            "identities" | "groups" | "roles" | "invitations" => p.action == "read",
            "memories" => p.action != "manage",
            "api_keys" => matches!(p.action, "read" | "create" | "update" | "delete"),
            "sessions" => matches!(p.action, "read" | "create" | "delete"),
            _ => false,
        },
        "viewer" => {
            p.action == "read" && !matches!(p.module, "audit" | "sessions" | "api_keys" | "privacy")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_index_cover_the_catalogue() {
        let all: Vec<Permission> = all().collect();
        assert_eq!(all.len(), PERMISSION_COUNT);
        for (i, p) in all.iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Permission::parse(&p.to_key()), Some(*p));
        }
        for bad in [
            "identities",
            "identities:",
            ":read",
            "nope:read",
            "identities:fly",
            "identities:read:x",
            "identities:erase",
            "privacy:create",
        ] {
            assert_eq!(Permission::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn system_roles_nest() {
        // viewer ⊆ admin, member ⊆ admin, admin ⊆ owner.
        for p in all() {
            for (lesser, greater) in [("viewer", "admin"), ("member", "admin"), ("admin", "owner")]
            {
                assert!(
                    !system_role_grants(lesser, p) || system_role_grants(greater, p),
                    "{lesser} has {p} but {greater} does not"
                );
            }
        }
        assert!(!system_role_grants(
            "admin",
            Permission::parse("roles:update").unwrap()
        ));
        assert!(system_role_grants(
            "admin",
            Permission::parse("identities:delete").unwrap()
        ));
        assert!(!system_role_grants(
            "viewer",
            Permission::parse("identities:create").unwrap()
        ));
        let erase = Permission::parse("privacy:erase").unwrap();
        assert!(system_role_grants("owner", erase) && !system_role_grants("admin", erase));
    }
}
