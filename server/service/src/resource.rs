//! Objects checked by their type. A [`Resource`] says what kind of object it is, how to read
//! it, what the access-control engine sees of it (its id, owner and metadata) and what the
//! audit trail records of it. The transactions look an object up *and* authorize the action
//! on that very object in one step ([`crate::db::ChangeTx::lookup`],
//! [`crate::db::ReadTx::lookup`]); what they hand back is an [`Authorized`] value, and the
//! functions that change an object take that value, so a change that skipped the object's
//! check does not compile.
//!
//! The answers, in order: no permission for the action on the module at all is 403 (before
//! anything is read, so existence does not leak); an object that does not exist, or that
//! the caller may not read (a policy on its id, owner or metadata), is 404; an object the
//! caller may read but not change this way is 403.

use std::future::Future;
use std::ops::Deref;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::authz::{Permission, Target};
use crate::ctx::Ctx;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::events::catalogue::Event;
use crate::privacy::keys::Keyring;

/// The audit and event names of an object's plain lifecycle.
#[derive(Debug, Clone, Copy)]
pub struct Lifecycle {
    pub created: Event,
    pub updated: Event,
    pub deleted: Event,
}

pub trait Resource: Sized + Send {
    /// The permission module, also the engine's `resource.type` (`webhooks`).
    const MODULE: &'static str;
    /// The noun of audit records and "not found" answers (`webhook`).
    const NOUN: &'static str;
    /// The `target_type` of its audit records (`webhook`, `api_key`).
    const AUDIT_TYPE: &'static str = Self::NOUN;
    /// Seeing one of these: a caller without it on an object is told the object is not there.
    const READ: Permission;
    /// What creating, changing and deleting one is called in the trail and the stream.
    const EVENTS: Lifecycle;

    fn id(&self) -> Uuid;

    /// What a policy sees of the object. The default has no owner and no metadata.
    fn target(&self, tenant_id: Uuid) -> Target {
        Target::object(tenant_id, Self::MODULE, self.id())
    }

    /// The permission acting on this object with `permission` takes from the caller: the
    /// same, unless the kind is stricter about others' objects (another identity's API key
    /// takes `api_keys:manage`).
    fn required(&self, _ctx: &Ctx, permission: Permission) -> Permission {
        permission
    }

    /// The object as the audit trail records it (before and after a change).
    fn snapshot(&self) -> Value;

    /// Reads the object (locking its row until the transaction ends when `lock`); a kind
    /// with sealed fields opens them with the tenant's keys from `keyring`.
    fn fetch(
        conn: &mut PgConnection,
        keyring: &Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> impl Future<Output = Result<Option<Self>>> + Send;

    /// Reads the object with nothing else to do in the same transaction
    /// ([`crate::db::Db::get`]). A kind with a database function that sets the tenant and
    /// reads in one statement answers in one round trip; the default opens a transaction
    /// scoped to the tenant and reads in it.
    fn fetch_alone(
        db: &Db,
        tenant_id: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        async move {
            let mut tx = db.begin_tenant(tenant_id).await?;
            Self::fetch(&mut tx, db.keyring(), tenant_id, id, false).await
        }
    }
}

/// Locks row `id` of `table` in `tenant_id` until the transaction ends; false when there is
/// no such row. For [`Resource::fetch`] with `lock`, before it reads the object.
pub(crate) async fn lock_row(
    conn: &mut PgConnection,
    table: &'static str,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool> {
    let sql = format!("select 1 from {table} where tenant_id = $1 and id = $2 for update");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .is_some())
}

/// An object the caller was allowed to act on with one permission. Only a lookup makes one.
#[derive(Debug, Clone)]
pub struct Authorized<R> {
    inner: R,
    permission: Permission,
}

impl<R> Authorized<R> {
    /// The permission this value was checked for.
    pub fn permission(&self) -> Permission {
        self.permission
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R> Deref for Authorized<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.inner
    }
}

/// Whether the caller may see `object` (the same decision `GET /{id}` makes): what lists
/// and searches keep.
pub fn visible<R: Resource>(ctx: &Ctx, tenant_id: Uuid, object: &R) -> bool {
    ctx.authorize_quietly(object.required(ctx, R::READ), object.target(tenant_id))
        .is_ok()
}

/// Whether `object` is hidden from a caller who may read its module: a rule on its id,
/// owner or metadata keeps them from it, so it is answered as not there. Callers who may
/// not read the module at all are judged on what they ask to do instead.
pub(crate) fn hidden<R: Resource>(ctx: &Ctx, tenant_id: Uuid, object: &R) -> bool {
    ctx.authorize_quietly(R::READ, Target::collection(tenant_id, R::MODULE))
        .is_ok()
        && !visible(ctx, tenant_id, object)
}

/// Authorizes `permission` on `object`, found in `tenant_id`: 404 when the caller may not
/// see it, 403 when they may see it but not do this.
pub(crate) fn authorize<R: Resource>(
    ctx: &Ctx,
    tenant_id: Uuid,
    object: R,
    permission: Permission,
) -> Result<Authorized<R>> {
    let target = object.target(tenant_id);
    let not_found = || Error::NotFound { resource: R::NOUN };
    let required = object.required(ctx, permission);
    if permission == R::READ {
        ctx.authorize(required, target).map_err(|e| match e {
            Error::Forbidden { .. } => not_found(),
            other => other,
        })?;
    } else {
        // Callers who may read the module but not this object do not learn it exists;
        // callers who may not read the module at all (a key scoped to one action) are
        // judged on the action alone.
        if hidden(ctx, tenant_id, &object) {
            return Err(not_found());
        }
        ctx.authorize(required, target)?;
    }
    Ok(Authorized {
        inner: object,
        permission,
    })
}

/// Looks `id` up in `tenant_id` and authorizes `permission` on it. `module_allowed` says
/// whether the caller holds `permission` on the module as a whole: without it, only an
/// object a rule on it allows may be acted on, and every other answer (absent, hidden,
/// refused) is the same 403, so existence does not leak to those who may not act.
pub(crate) async fn lookup<R: Resource>(
    ctx: &Ctx,
    (conn, keyring): (&mut PgConnection, &Keyring),
    tenant_id: Uuid,
    id: Uuid,
    permission: Permission,
    lock: bool,
    module_allowed: bool,
) -> Result<Authorized<R>> {
    let found = R::fetch(conn, keyring, tenant_id, id, lock).await?;
    decide(ctx, tenant_id, found, permission, module_allowed)
}

/// The answer to a lookup of an object that was `found` (or not): see [`lookup`].
pub(crate) fn decide<R: Resource>(
    ctx: &Ctx,
    tenant_id: Uuid,
    found: Option<R>,
    permission: Permission,
    module_allowed: bool,
) -> Result<Authorized<R>> {
    if !module_allowed {
        let refused = || match ctx.authorize(permission, Target::collection(tenant_id, R::MODULE)) {
            Err(e) => e,
            Ok(()) => Error::Forbidden {
                action: permission.to_key(),
            },
        };
        let Some(object) = found else {
            return Err(refused());
        };
        return match authorize(ctx, tenant_id, object, permission) {
            Err(Error::NotFound { .. }) => Err(refused()),
            other => other,
        };
    }
    let object = found.ok_or(Error::NotFound { resource: R::NOUN })?;
    authorize(ctx, tenant_id, object, permission)
}
