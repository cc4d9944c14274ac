//! The single authorization choke point. Every service function asks
//! `ctx.authorize(permission, target)` before it reads or changes anything inside a tenant;
//! tenant management asks `ctx.authorize_platform(action)`.
//!
//! Inside a tenant the answer comes from the tenant's compiled roles, groups and policies
//! ([`engine::Compiled::decide`]); another tenant's object is always "not found".

pub mod cache;
pub mod catalog;
pub mod engine;
pub mod logic;

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

pub use catalog::Permission;

use crate::ctx::{Caller, Ctx, Principal};
use crate::error::{Error, Result};
use engine::{Context, Decision, Reason, Request, Subject, Target as EngineTarget};

/// `module:action` constants for the permissions the service layer checks.
pub mod perm {
    use super::Permission;

    const fn p(module: &'static str, action: &'static str) -> Permission {
        Permission { module, action }
    }

    pub const IDENTITIES_READ: Permission = p("identities", "read");
    pub const IDENTITIES_CREATE: Permission = p("identities", "create");
    pub const IDENTITIES_UPDATE: Permission = p("identities", "update");
    pub const IDENTITIES_DELETE: Permission = p("identities", "delete");
    pub const ROLES_READ: Permission = p("roles", "read");
    pub const ROLES_CREATE: Permission = p("roles", "create");
    pub const ROLES_UPDATE: Permission = p("roles", "update");
    pub const ROLES_DELETE: Permission = p("roles", "delete");
    /// Assigning roles to identities and groups.
    pub const ROLES_MANAGE: Permission = p("roles", "manage");
    pub const GROUPS_READ: Permission = p("groups", "read");
    pub const GROUPS_CREATE: Permission = p("groups", "create");
    pub const GROUPS_UPDATE: Permission = p("groups", "update");
    pub const GROUPS_DELETE: Permission = p("groups", "delete");
    /// Adding and removing members.
    pub const GROUPS_MANAGE: Permission = p("groups", "manage");
    pub const POLICIES_READ: Permission = p("policies", "read");
    pub const POLICIES_CREATE: Permission = p("policies", "create");
    pub const POLICIES_UPDATE: Permission = p("policies", "update");
    pub const POLICIES_DELETE: Permission = p("policies", "delete");
    pub const API_KEYS_READ: Permission = p("api_keys", "read");
    pub const API_KEYS_CREATE: Permission = p("api_keys", "create");
    pub const API_KEYS_UPDATE: Permission = p("api_keys", "update");
    pub const API_KEYS_DELETE: Permission = p("api_keys", "delete");
    /// Other identities' keys.
    pub const API_KEYS_MANAGE: Permission = p("api_keys", "manage");
    pub const INVITATIONS_READ: Permission = p("invitations", "read");
    pub const INVITATIONS_CREATE: Permission = p("invitations", "create");
    /// Resending.
    pub const INVITATIONS_UPDATE: Permission = p("invitations", "update");
    /// Revoking.
    pub const INVITATIONS_DELETE: Permission = p("invitations", "delete");
    pub const SESSIONS_READ: Permission = p("sessions", "read");
    pub const SESSIONS_DELETE: Permission = p("sessions", "delete");
    /// Other identities' sessions.
    pub const SESSIONS_MANAGE: Permission = p("sessions", "manage");
    pub const MEMORIES_READ: Permission = p("memories", "read");
    /// "memories:write" in the memories issue: creating and updating are separate grants.
    pub const MEMORIES_CREATE: Permission = p("memories", "create");
    pub const MEMORIES_UPDATE: Permission = p("memories", "update");
    pub const MEMORIES_DELETE: Permission = p("memories", "delete");
    pub const WEBHOOKS_READ: Permission = p("webhooks", "read");
    pub const WEBHOOKS_CREATE: Permission = p("webhooks", "create");
    pub const WEBHOOKS_UPDATE: Permission = p("webhooks", "update");
    pub const WEBHOOKS_DELETE: Permission = p("webhooks", "delete");
    /// Rotating a webhook's signing secret.
    pub const WEBHOOKS_MANAGE: Permission = p("webhooks", "manage");
    pub const AUDIT_READ: Permission = p("audit", "read");
    pub const SETTINGS_READ: Permission = p("settings", "read");
    pub const SETTINGS_CREATE: Permission = p("settings", "create");
    pub const SETTINGS_UPDATE: Permission = p("settings", "update");
    pub const SETTINGS_DELETE: Permission = p("settings", "delete");
    /// Reading a person's exports (their status and the link).
    pub const PRIVACY_READ: Permission = p("privacy", "read");
    /// Exporting everything held about a person.
    pub const PRIVACY_EXPORT: Permission = p("privacy", "export");
    /// Erasing a person.
    pub const PRIVACY_ERASE: Permission = p("privacy", "erase");
}

/// What a permission is checked against.
#[derive(Debug, Clone)]
pub struct Target {
    pub tenant_id: Uuid,
    /// The module (`identities`, `memories`, ...).
    pub kind: &'static str,
    pub id: Option<Uuid>,
    /// The identity that owns the resource, when it has one.
    pub owner: Option<Uuid>,
    pub metadata: Option<Value>,
}

impl Target {
    /// A module of a tenant as a whole (listing, creating).
    pub fn collection(tenant_id: Uuid, kind: &'static str) -> Target {
        Target {
            tenant_id,
            kind,
            id: None,
            owner: None,
            metadata: None,
        }
    }

    pub fn object(tenant_id: Uuid, kind: &'static str, id: Uuid) -> Target {
        Target {
            tenant_id,
            kind,
            id: Some(id),
            owner: None,
            metadata: None,
        }
    }
}

/// Cross-tenant actions: the super-admin's and the system's only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformAction {
    TenantsCreate,
    TenantsList,
    PlansRead,
    PlansManage,
    LimitsRead,
    LimitsManage,
}

impl PlatformAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformAction::TenantsCreate => "tenants:create",
            PlatformAction::TenantsList => "tenants:list",
            PlatformAction::PlansRead => "plans:read",
            PlatformAction::PlansManage => "plans:manage",
            PlatformAction::LimitsRead => "limits:read",
            PlatformAction::LimitsManage => "limits:manage",
        }
    }
}

/// Builds the engine's request for a caller.
pub fn request_for<'a>(
    caller: &'a Caller,
    ctx: &'a Ctx,
    permission: Permission,
    target: &'a Target,
) -> Request<'a> {
    Request {
        subject: Subject {
            id: caller.identity_id,
            kind: &caller.kind,
            roles: &caller.roles,
            groups: &caller.groups,
            metadata: &caller.metadata,
        },
        permission,
        target: EngineTarget {
            kind: target.kind,
            id: target.id,
            owner: target.owner,
            metadata: target.metadata.as_ref(),
        },
        context: Context {
            time: OffsetDateTime::now_utc(),
            ip: ctx.ip,
            plan: caller.plan.as_str(),
        },
    }
}

impl Ctx {
    /// May the caller do `permission` to `target`? A denial is logged (at info).
    pub fn authorize(&self, permission: Permission, target: Target) -> Result<()> {
        self.decide_access(permission, target, true)
    }

    /// Asked by a door whose input did not read, before it explains why: does the caller
    /// hold any right to change `module` (to read it, when `read`)? Without one the answer
    /// is 403, as a well-formed request would get, so a caller without the right learns
    /// nothing from the input's errors. Callers that are not members are left to the
    /// service (anonymous callers never reach a form; the system may do anything).
    pub fn may_touch(&self, module: &str, read: bool) -> Result<()> {
        let Principal::Member(caller) = &self.principal else {
            return Ok(());
        };
        let actions: &[&str] = if read {
            &["read"]
        } else {
            &["create", "update", "delete", "manage"]
        };
        let held = actions.iter().any(|action| {
            Permission::parse(&format!("{module}:{action}")).is_some_and(|p| {
                let target = Target::collection(caller.tenant_id, p.module);
                self.authorize_quietly(p, target).is_ok()
            })
        });
        if held {
            Ok(())
        } else {
            Err(Error::Forbidden {
                action: format!("{module}:{}", if read { "read" } else { "change" }),
            })
        }
    }

    /// [`Ctx::authorize`] without the log line, for asking whether a wide grant holds
    /// before falling back to a narrower one (a denial there is expected, not news).
    pub fn authorize_quietly(&self, permission: Permission, target: Target) -> Result<()> {
        self.decide_access(permission, target, false)
    }

    fn decide_access(&self, permission: Permission, target: Target, log: bool) -> Result<()> {
        match &self.principal {
            Principal::Anonymous => Err(Error::Unauthenticated),
            Principal::System => Ok(()),
            Principal::SuperAdmin => Err(Error::Forbidden {
                action: permission.to_key(),
            }),
            Principal::Member(caller) => {
                // Another tenant's object does not exist for this caller.
                if target.tenant_id != caller.tenant_id {
                    return Err(Error::NotFound {
                        resource: "resource",
                    });
                }
                if let Some(key) = &caller.api_key
                    && !key.allows(permission)
                {
                    if log {
                        tracing::info!(permission = %permission, key = %key.id, "outside the API key's scopes");
                        self.record_denial(
                            caller,
                            permission,
                            &target,
                            "outside the API key's scopes",
                        );
                    }
                    return Err(Error::Forbidden {
                        action: format!("{permission} with this API key (not in its scopes)"),
                    });
                }
                let decision = caller
                    .authz
                    .decide(&request_for(caller, self, permission, &target), false);
                if decision.allowed {
                    Ok(())
                } else {
                    if log {
                        let reason = decision.reason.describe();
                        tracing::info!(permission = %permission, reason = %reason, "authorization denied");
                        self.record_denial(caller, permission, &target, &reason);
                    }
                    Err(Error::Forbidden {
                        action: permission.to_key(),
                    })
                }
            }
        }
    }

    /// Puts a denial in the audit trail (`authz.denied`, outcome `denied`), when the
    /// request carries the trail's handle.
    fn record_denial(
        &self,
        caller: &Caller,
        permission: Permission,
        target: &Target,
        reason: &str,
    ) {
        let Some(db) = &self.audit else { return };
        crate::audit_log::record_denial(
            db,
            caller.tenant_id,
            crate::audit_log::Origin::of(self),
            crate::audit_log::Occurrence {
                action: "authz.denied",
                target_type: target.kind,
                target_id: target.id,
                outcome: crate::audit_log::Outcome::Denied,
                detail: serde_json::json!({
                    "permission": permission.to_key(),
                    "owner": target.owner,
                    "reason": reason,
                }),
            },
        );
    }

    /// The same decision, explained (the policy simulator and `/v1/authz/check`).
    pub fn explain(&self, permission: Permission, target: Target) -> Result<Decision> {
        let caller = self.caller()?;
        if target.tenant_id != caller.tenant_id {
            return Err(Error::NotFound {
                resource: "resource",
            });
        }
        if let Some(key) = &caller.api_key
            && !key.allows(permission)
        {
            return Ok(Decision {
                allowed: false,
                reason: Reason::OutsideKeyScopes {
                    key: key.name.clone(),
                },
                trace: Vec::new(),
            });
        }
        Ok(caller
            .authz
            .decide(&request_for(caller, self, permission, &target), true))
    }

    /// The permissions the caller holds on whole modules (no particular object): what the
    /// console uses to hide what the caller may not do. The server still decides each call.
    pub fn allowed_permissions(&self) -> Vec<Permission> {
        let Ok(caller) = self.caller() else {
            return Vec::new();
        };
        catalog::all()
            .filter(|p| caller.api_key.as_ref().is_none_or(|k| k.allows(*p)))
            .filter(|p| {
                let target = Target::collection(caller.tenant_id, p.module);
                caller
                    .authz
                    .decide(&request_for(caller, self, *p, &target), false)
                    .allowed
            })
            .collect()
    }

    /// The first of `perms` the caller does not hold on the whole module (`None` when it
    /// holds them all): nobody hands out more than they have.
    pub fn missing_permission(&self, perms: &[Permission]) -> Option<Permission> {
        match &self.principal {
            Principal::System => None,
            Principal::Member(caller) => perms.iter().copied().find(|p| {
                let target = Target::collection(caller.tenant_id, p.module);
                caller.api_key.as_ref().is_some_and(|k| !k.allows(*p))
                    || !caller
                        .authz
                        .decide(&request_for(caller, self, *p, &target), false)
                        .allowed
            }),
            Principal::Anonymous | Principal::SuperAdmin => perms.first().copied(),
        }
    }

    pub fn authorize_platform(&self, action: PlatformAction) -> Result<()> {
        match &self.principal {
            Principal::System | Principal::SuperAdmin => Ok(()),
            Principal::Anonymous => Err(Error::Unauthenticated),
            Principal::Member(_) => Err(Error::Forbidden {
                action: action.as_str().to_owned(),
            }),
        }
    }

    /// Whether the caller may hand out a role: nobody gives more than they have. The
    /// owner role takes an owner; any other role takes every permission it allows.
    pub fn authorize_role_grant(&self, role_is_owner: bool, allows: &[Permission]) -> Result<()> {
        match &self.principal {
            Principal::System => Ok(()),
            Principal::Anonymous => Err(Error::Unauthenticated),
            Principal::SuperAdmin => Err(Error::Forbidden {
                action: "grant roles".into(),
            }),
            Principal::Member(caller) => {
                if caller.is_owner() {
                    return Ok(());
                }
                let missing = if role_is_owner {
                    Some("the owner role".to_owned())
                } else {
                    allows
                        .iter()
                        .find(|p| {
                            let target = Target::collection(caller.tenant_id, p.module);
                            !caller
                                .authz
                                .decide(&request_for(caller, self, **p, &target), false)
                                .allowed
                        })
                        .map(|p| p.to_key())
                };
                match missing {
                    None => Ok(()),
                    Some(what) => Err(Error::Forbidden {
                        action: format!("grant a role with {what}, which you do not have yourself"),
                    }),
                }
            }
        }
    }
}
