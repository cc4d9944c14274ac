//! Each tenant's roles, groups and policies, compiled once and kept in memory.
//!
//! A change to any of them runs [`notify_changed`] inside its transaction; PostgreSQL
//! delivers the notification at commit to every server instance listening on
//! [`CHANNEL`] (see the server's authz worker), and each evicts that tenant. A generation
//! counter keeps a compilation that raced with an eviction from being cached. Like the
//! caller cache, it keeps nothing while that listener is not connected
//! ([`AuthzCache::set_online`]): every request then compiles afresh.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sqlx::PgConnection;
use uuid::Uuid;

use super::catalog::{self, Permission};
use super::engine::{Compiled, Effect, GroupSpec, PolicySpec, RoleSpec};
use crate::error::{Error, Result};

/// The PostgreSQL notification channel; the payload is the tenant id.
pub const CHANNEL: &str = "tenantry_authz";

#[derive(Default)]
pub struct AuthzCache {
    tenants: RwLock<HashMap<Uuid, Arc<Compiled>>>,
    generation: AtomicU64,
    online: AtomicBool,
}

impl std::fmt::Debug for AuthzCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.tenants.read().map(|t| t.len()).unwrap_or_default();
        f.debug_struct("AuthzCache").field("tenants", &n).finish()
    }
}

impl AuthzCache {
    /// The tenant's compiled data, loading it through `conn` (a transaction scoped to the
    /// tenant) when it is not cached.
    pub async fn get(&self, conn: &mut PgConnection, tenant_id: Uuid) -> Result<Arc<Compiled>> {
        if let Some(c) = self
            .tenants
            .read()
            .expect("authz cache lock")
            .get(&tenant_id)
        {
            return Ok(c.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let compiled = Arc::new(load(conn, tenant_id).await?);
        // Checked under the lock: `clear` and `evict` bump the generation before taking it.
        let mut tenants = self.tenants.write().expect("authz cache lock");
        if self.online() && self.generation.load(Ordering::Acquire) == generation {
            tenants.insert(tenant_id, compiled.clone());
        }
        Ok(compiled)
    }

    /// The tenant's compiled data if it is cached.
    pub fn peek(&self, tenant_id: Uuid) -> Option<Arc<Compiled>> {
        self.tenants
            .read()
            .expect("authz cache lock")
            .get(&tenant_id)
            .cloned()
    }

    /// Keeps `compiled` for the tenant (benchmarks of the cache-hit path).
    #[cfg(feature = "testing")]
    pub fn remember(&self, tenant_id: Uuid, compiled: Arc<Compiled>) {
        self.tenants
            .write()
            .expect("authz cache lock")
            .insert(tenant_id, compiled);
    }

    pub fn evict(&self, tenant_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tenants
            .write()
            .expect("authz cache lock")
            .remove(&tenant_id);
    }

    /// Whether compilations are kept: only while changes are being heard.
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Called by the listener: `true` once it listens, `false` as soon as it may have missed
    /// a notification. Either way everything kept is dropped.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
        self.clear();
    }

    /// Forgets everything (the notification connection was lost: changes may be missed).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tenants.write().expect("authz cache lock").clear();
    }

    pub fn cached(&self, tenant_id: Uuid) -> bool {
        self.tenants
            .read()
            .expect("authz cache lock")
            .contains_key(&tenant_id)
    }
}

/// Tells every instance (this one included) to recompile the tenant, at commit.
pub async fn notify_changed(conn: &mut PgConnection, tenant_id: Uuid) -> Result<()> {
    sqlx::query!("select pg_notify($1, $2)", CHANNEL, tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads and compiles a tenant's roles, groups and policies.
pub async fn load(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Compiled> {
    let role_rows = sqlx::query!(
        "select id, name, system_key from roles where tenant_id = $1",
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let grants = sqlx::query!(
        "select role_id, permission, effect from role_permissions where tenant_id = $1",
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut owner_role = None;
    let mut roles = Vec::with_capacity(role_rows.len());
    for r in role_rows {
        let permissions: Vec<(Permission, Effect)> = match r.system_key.as_deref() {
            Some(key) => {
                if key == "owner" {
                    owner_role = Some(r.id);
                }
                catalog::all()
                    .filter(|p| catalog::system_role_grants(key, *p))
                    .map(|p| (p, Effect::Allow))
                    .collect()
            }
            None => grants
                .iter()
                .filter(|g| g.role_id == r.id)
                .filter_map(|g| {
                    Some((Permission::parse(&g.permission)?, Effect::parse(&g.effect)?))
                })
                .collect(),
        };
        roles.push(RoleSpec {
            id: r.id,
            name: r.name,
            permissions,
        });
    }
    let groups = sqlx::query!(
        r#"select g.id, g.name, g.parent_id,
                  array(select gr.role_id from group_roles gr
                        where gr.tenant_id = g.tenant_id and gr.group_id = g.id) as "roles!"
           from groups g where g.tenant_id = $1"#,
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|g| GroupSpec {
        id: g.id,
        name: g.name,
        parent: g.parent_id,
        roles: g.roles,
    })
    .collect();
    let policies = sqlx::query!(
        "select id, name, effect, priority, resource_pattern, action_pattern, condition, enabled
         from policies where tenant_id = $1",
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|p| PolicySpec {
        id: p.id,
        name: p.name,
        effect: Effect::parse(&p.effect).unwrap_or(Effect::Deny),
        priority: p.priority,
        resource_pattern: p.resource_pattern,
        action_pattern: p.action_pattern,
        condition: p.condition,
        enabled: p.enabled,
    })
    .collect();
    Compiled::new(roles, owner_role, groups, policies).map_err(|e| {
        Error::Internal(format!(
            "tenant {tenant_id}: stored policy {} does not compile: {}",
            e.policy, e.error
        ))
    })
}
