//! The single authorization choke point. Every service function asks
//! `ctx.authorize(action, resource)` before it reads or changes anything.
//!
//! Today the decision is a fixed role → permission table plus two rules that protect
//! owners; the access-control issue swaps the body of [`Ctx::authorize`] for roles and
//! policies without touching its callers.

pub mod catalog;
pub mod engine;
pub mod logic;

use uuid::Uuid;

use crate::ctx::{Ctx, Principal, Role};
use crate::error::{Error, Result};

/// A permission, written `resource:action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    TenantsRead,
    TenantsCreate,
    TenantsList,
    IdentitiesRead,
    IdentitiesCreate,
    IdentitiesUpdate,
    IdentitiesDelete,
    SigningKeysRotate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TenantsRead => "tenants:read",
            Action::TenantsCreate => "tenants:create",
            Action::TenantsList => "tenants:list",
            Action::IdentitiesRead => "identities:read",
            Action::IdentitiesCreate => "identities:create",
            Action::IdentitiesUpdate => "identities:update",
            Action::IdentitiesDelete => "identities:delete",
            Action::SigningKeysRotate => "signing_keys:rotate",
        }
    }
}

/// What an action is about. Attributes that rules look at travel with it.
#[derive(Debug, Clone, Copy)]
pub enum Resource {
    /// The platform itself (tenant management, signing keys).
    Platform,
    /// A tenant as a whole, or a collection inside it.
    Tenant(Uuid),
    /// One identity, with the role it holds now.
    Identity {
        tenant_id: Uuid,
        id: Uuid,
        role: Role,
    },
}

/// The permissions each fixed role grants inside its own tenant.
pub fn role_grants(role: Role, action: Action) -> bool {
    use Action::*;
    match action {
        TenantsRead | IdentitiesRead => true,
        IdentitiesCreate | IdentitiesUpdate | IdentitiesDelete => {
            matches!(role, Role::Owner | Role::Admin)
        }
        TenantsCreate | TenantsList | SigningKeysRotate => false,
    }
}

impl Ctx {
    pub fn authorize(&self, action: Action, resource: Resource) -> Result<()> {
        let forbidden = || {
            Err(Error::Forbidden {
                action: action.as_str().to_owned(),
            })
        };
        match &self.principal {
            Principal::Anonymous => Err(Error::Unauthenticated),
            Principal::System => Ok(()),
            Principal::SuperAdmin => match (action, resource) {
                (Action::TenantsCreate | Action::TenantsList, Resource::Platform) => Ok(()),
                _ => forbidden(),
            },
            Principal::Member(caller) => {
                let tenant = match resource {
                    Resource::Platform => return forbidden(),
                    Resource::Tenant(t) | Resource::Identity { tenant_id: t, .. } => t,
                };
                // Another tenant's object does not exist for this caller.
                if tenant != caller.tenant_id {
                    return Err(Error::NotFound {
                        resource: "resource",
                    });
                }
                if !role_grants(caller.role, action) {
                    return forbidden();
                }
                // Only an owner may change or remove an owner.
                if let Resource::Identity {
                    role: Role::Owner, ..
                } = resource
                    && action != Action::IdentitiesRead
                    && caller.role != Role::Owner
                {
                    return forbidden();
                }
                Ok(())
            }
        }
    }

    /// Granting a role is itself guarded: nobody hands out more than they hold.
    pub fn authorize_role_grant(&self, role: Role) -> Result<()> {
        match &self.principal {
            Principal::System => Ok(()),
            Principal::Member(caller) if role != Role::Owner || caller.role == Role::Owner => {
                Ok(())
            }
            Principal::Anonymous => Err(Error::Unauthenticated),
            _ => Err(Error::Forbidden {
                action: format!("grant the {} role", role.as_str()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::{AuthMethod, Caller, Plan};

    fn member(tenant: Uuid, role: Role) -> Ctx {
        Ctx::new(
            Principal::Member(Caller {
                tenant_id: tenant,
                tenant_slug: "t".into(),
                tenant_name: "T".into(),
                plan: Plan::Free,
                identity_id: Uuid::now_v7(),
                email: None,
                display_name: String::new(),
                role,
                via: AuthMethod::Session,
            }),
            "req",
        )
    }

    #[test]
    fn role_table() {
        let t = Uuid::now_v7();
        for role in Role::ALL {
            let ctx = member(t, role);
            assert!(
                ctx.authorize(Action::IdentitiesRead, Resource::Tenant(t))
                    .is_ok()
            );
            let may_write = ctx
                .authorize(Action::IdentitiesCreate, Resource::Tenant(t))
                .is_ok();
            assert_eq!(
                may_write,
                matches!(role, Role::Owner | Role::Admin),
                "{role:?}"
            );
        }
    }

    #[test]
    fn other_tenant_is_not_found_not_forbidden() {
        let ctx = member(Uuid::now_v7(), Role::Owner);
        let err = ctx
            .authorize(Action::IdentitiesRead, Resource::Tenant(Uuid::now_v7()))
            .unwrap_err();
        assert_eq!(err.status(), 404);
    }

    #[test]
    fn only_owners_touch_owners() {
        let t = Uuid::now_v7();
        let owner_target = Resource::Identity {
            tenant_id: t,
            id: Uuid::now_v7(),
            role: Role::Owner,
        };
        assert_eq!(
            member(t, Role::Admin)
                .authorize(Action::IdentitiesUpdate, owner_target)
                .unwrap_err()
                .status(),
            403
        );
        assert!(
            member(t, Role::Admin)
                .authorize(Action::IdentitiesRead, owner_target)
                .is_ok()
        );
        assert!(
            member(t, Role::Owner)
                .authorize(Action::IdentitiesDelete, owner_target)
                .is_ok()
        );
        assert!(
            member(t, Role::Admin)
                .authorize_role_grant(Role::Owner)
                .is_err()
        );
        assert!(
            member(t, Role::Admin)
                .authorize_role_grant(Role::Admin)
                .is_ok()
        );
    }

    #[test]
    fn super_admin_manages_tenants_only() {
        let ctx = Ctx::new(Principal::SuperAdmin, "req");
        assert!(
            ctx.authorize(Action::TenantsCreate, Resource::Platform)
                .is_ok()
        );
        assert_eq!(
            ctx.authorize(Action::IdentitiesRead, Resource::Tenant(Uuid::now_v7()))
                .unwrap_err()
                .status(),
            403
        );
        let anon = Ctx::new(Principal::Anonymous, "req");
        assert_eq!(
            anon.authorize(Action::TenantsList, Resource::Platform)
                .unwrap_err()
                .status(),
            401
        );
    }
}
