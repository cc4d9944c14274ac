//! The transactions a service call works in: [`ReadTx`] (a read of the caller's tenant) and
//! [`ChangeTx`] (a change, with its audit records and events), and their object lookups.

use std::sync::Arc;

use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{Db, module_flag};
use crate::audit_log;
use crate::auth::callers::CallerCache;
use crate::authz::Permission;
use crate::authz::cache::{self, AuthzCache};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::events;
use crate::events::catalogue::Event;
use crate::privacy::envelope::Key;
use crate::privacy::keys::{Keyring, TenantKeys};
use crate::privacy::personal;
use crate::resource::{self, Authorized, Resource};

pub struct ReadTx {
    pub(super) tx: Transaction<'static, Postgres>,
    pub tenant_id: Uuid,
    /// Set when opened for one object: the permission, and whether the caller holds it on
    /// the whole module.
    pub(super) module_allowed: Option<(Permission, bool)>,
    pub(super) keyring: Arc<Keyring>,
}

impl ReadTx {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// The tenant's keys of field-level encryption, read in this transaction when this
    /// instance does not hold them (see [`Keyring::tenant_in`]).
    pub async fn keys(&mut self) -> Result<Arc<TenantKeys>> {
        self.keyring.tenant_in(&mut self.tx, self.tenant_id).await
    }

    /// The connection and the keyring, for reads that open sealed fields.
    pub(crate) fn parts(&mut self) -> (&mut PgConnection, &Keyring) {
        (&mut *self.tx, &*self.keyring)
    }
}

/// One state change as the audit trail and the event stream see it.
#[derive(Debug, Clone)]
pub struct Change {
    /// `area.verb`, e.g. `identity.created`; also the event type.
    pub action: Event,
    pub target_type: &'static str,
    pub target_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub struct ChangeTx<'c> {
    pub(super) tx: Transaction<'static, Postgres>,
    pub(super) ctx: &'c Ctx,
    pub tenant_id: Uuid,
    /// Set when opened for one object: the permission, and whether the caller holds it on
    /// the whole module.
    pub(super) module_allowed: Option<(Permission, bool)>,
    /// The audit records of this transaction, written just before it commits and sealed
    /// into the tenant's chain just after.
    pub(super) pending: Vec<audit_log::Pending>,
    pub(super) authz: Arc<AuthzCache>,
    pub(super) authz_changed: bool,
    pub(super) callers: Arc<CallerCache>,
    pub(super) sealer: Arc<audit_log::SealQueue>,
    pub(super) limiter: Arc<crate::limits::Limiter>,
    pub(super) keyring: Arc<Keyring>,
    /// Data subjects' keys this transaction used or made.
    pub(super) subjects: std::collections::HashMap<Uuid, Key>,
}

impl<'c> ChangeTx<'c> {
    /// Continues a tenant transaction that began before the caller was known.
    pub(crate) fn wrap(
        tx: Transaction<'static, Postgres>,
        ctx: &'c Ctx,
        tenant_id: Uuid,
        db: &Db,
    ) -> Self {
        ChangeTx {
            tx,
            ctx,
            tenant_id,
            module_allowed: None,
            pending: Vec::new(),
            authz: db.authz.clone(),
            authz_changed: false,
            callers: db.callers.clone(),
            sealer: db.sealer.clone(),
            limiter: db.limiter.clone(),
            keyring: db.keyring.clone(),
            subjects: Default::default(),
        }
    }

    pub fn ctx(&self) -> &Ctx {
        self.ctx
    }

    /// The change touches roles, groups or policies: every instance recompiles the tenant
    /// once it commits.
    pub async fn authz_changed(&mut self) -> Result<()> {
        if !self.authz_changed {
            cache::notify_changed(&mut self.tx, self.tenant_id).await?;
            self.authz_changed = true;
        }
        Ok(())
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// The tenant's keys of field-level encryption, read in this transaction when this
    /// instance does not hold them (see [`Keyring::tenant_in`]).
    pub async fn keys(&mut self) -> Result<Arc<TenantKeys>> {
        self.keyring.tenant_in(&mut self.tx, self.tenant_id).await
    }

    /// The connection and the keyring, for reads that open sealed fields.
    pub(crate) fn parts(&mut self) -> (&mut PgConnection, &Keyring) {
        (&mut *self.tx, &*self.keyring)
    }

    /// Refuses the change when adding `adding` of `quota` takes the tenant past its plan's
    /// quota (see [`crate::limits::quotas`]).
    pub async fn within_quota(&mut self, quota: crate::limits::Quota, adding: i64) -> Result<()> {
        crate::limits::quotas::check(&self.limiter, &mut self.tx, self.tenant_id, quota, adding)
            .await
    }

    /// Writes the outbox event of `change` in this transaction, and its audit record when
    /// the transaction commits.
    ///
    /// Personal values in the snapshots (an identity's email and name) are sealed under the
    /// person's key in both (see [`crate::privacy::personal`]), so erasing the person
    /// erases these copies too.
    pub async fn record(&mut self, mut change: Change) -> Result<()> {
        let audit_id = Uuid::now_v7();
        let fields = personal::fields(change.target_type);
        let snapshot = change.after.as_ref().or(change.before.as_ref());
        let person = personal::subject(change.target_type, change.target_id, snapshot);
        let Some((person, key_of)) = person else {
            events::emit(&mut self.tx, self.tenant_id, &change, audit_id, None).await?;
            self.pending.push(audit_log::Pending {
                id: audit_id,
                change,
            });
            return Ok(());
        };
        let keys = self.keys().await?;
        let key = self.subject_key(&keys, key_of, person).await?;
        let sealer = personal::Sealer {
            keys: &keys,
            subject: key.as_ref().map(|k| (person, k)),
            fields,
        };
        events::emit(
            &mut self.tx,
            self.tenant_id,
            &change,
            audit_id,
            Some(&sealer),
        )
        .await?;
        for (path, value) in [("before", &mut change.before), ("after", &mut change.after)] {
            if let Some(value) = value {
                let spot = personal::Spot {
                    tenant: self.tenant_id,
                    table: "audit_log",
                    row: audit_id,
                    path,
                };
                sealer.seal(spot, value);
            }
        }
        self.pending.push(audit_log::Pending {
            id: audit_id,
            change,
        });
        Ok(())
    }

    /// The key of `person` (an identity, or an invitation's invitee), for sealing copies of
    /// their data; `None` once they are gone for good. Kept for the rest of the transaction.
    async fn subject_key(
        &mut self,
        keys: &TenantKeys,
        kind: personal::KeyOf,
        person: Uuid,
    ) -> Result<Option<Key>> {
        if let Some(key) = self.subjects.get(&person) {
            return Ok(Some(key.clone()));
        }
        let tenant_id = self.tenant_id;
        let key = match kind {
            personal::KeyOf::Invitation => {
                crate::invitations::key_if_any(&mut self.tx, keys, tenant_id, person).await?
            }
            personal::KeyOf::Identity => {
                crate::identities::sealed::subject_key_if_any(&mut self.tx, keys, tenant_id, person)
                    .await?
            }
        };
        if let Some(key) = &key {
            self.subjects.insert(person, key.clone());
        }
        Ok(key)
    }

    /// Notes `person`'s key (an identity's, an invitation's), made in this transaction,
    /// for [`ChangeTx::record`].
    pub(crate) fn remember_subject(&mut self, person: Uuid, key: Key) {
        self.subjects.insert(person, key);
    }

    pub async fn commit(mut self) -> Result<()> {
        if self.pending.is_empty() {
            // A change that is not audited is a bug: refuse rather than commit silently.
            return Err(Error::Internal(
                "a change was about to commit without an audit record".into(),
            ));
        }
        let callers_changed =
            audit_log::write(&mut self.tx, self.ctx, self.tenant_id, &self.pending).await?;
        self.tx.commit().await?;
        self.sealer.note(self.tenant_id);
        // The notifications reach this instance too; acting now makes the change visible
        // to this caller's very next request.
        if self.authz_changed {
            self.authz.evict(self.tenant_id);
        }
        if let Some(noted) = callers_changed {
            self.callers.forget_noted(self.tenant_id, &noted);
        }
        Ok(())
    }
}

impl ReadTx {
    /// Reads object `id` and authorizes `permission` on it: 404 when it is not there or
    /// the caller may not see it, 403 when they may see it but not do this.
    pub async fn lookup<R: Resource>(
        &mut self,
        ctx: &Ctx,
        id: Uuid,
        permission: Permission,
    ) -> Result<Authorized<R>> {
        let module_allowed = module_flag(ctx, self.tenant_id, self.module_allowed, permission)?;
        resource::lookup(
            ctx,
            (&mut *self.tx, &*self.keyring),
            self.tenant_id,
            id,
            permission,
            false,
            module_allowed,
        )
        .await
    }
}

impl<'c> ChangeTx<'c> {
    /// Locks object `id` for the rest of the transaction and authorizes `permission` on
    /// it: 404 when it is not there or the caller may not see it, 403 when they may see it
    /// but not do this.
    pub async fn lookup<R: Resource>(
        &mut self,
        id: Uuid,
        permission: Permission,
    ) -> Result<Authorized<R>> {
        let module_allowed =
            module_flag(self.ctx, self.tenant_id, self.module_allowed, permission)?;
        resource::lookup(
            self.ctx,
            (&mut *self.tx, &*self.keyring),
            self.tenant_id,
            id,
            permission,
            true,
            module_allowed,
        )
        .await
    }

    /// Reads object `id` again after changing it (no new authorization: the change was).
    pub async fn reread<R: Resource>(&mut self, id: Uuid) -> Result<R> {
        R::fetch(&mut self.tx, &self.keyring, self.tenant_id, id, false)
            .await?
            .ok_or(Error::NotFound { resource: R::NOUN })
    }

    /// Records the creation of `created`.
    pub async fn created<R: Resource>(&mut self, created: &R) -> Result<()> {
        self.record(Change {
            action: R::EVENTS.created,
            target_type: R::AUDIT_TYPE,
            target_id: Some(created.id()),
            before: None,
            after: Some(created.snapshot()),
        })
        .await
    }

    /// Records a change of `before` (as authorized) into `after`.
    pub async fn updated<R: Resource>(&mut self, before: &Authorized<R>, after: &R) -> Result<()> {
        self.changed(R::EVENTS.updated, before, after.snapshot())
            .await
    }

    /// Records the deletion of `before`.
    pub async fn deleted<R: Resource>(&mut self, before: &Authorized<R>) -> Result<()> {
        self.record(Change {
            action: R::EVENTS.deleted,
            target_type: R::AUDIT_TYPE,
            target_id: Some(before.id()),
            before: Some(before.snapshot()),
            after: None,
        })
        .await
    }

    /// Records another kind of change of `before` (`event`), with what it left.
    pub async fn changed<R: Resource>(
        &mut self,
        event: Event,
        before: &Authorized<R>,
        after: serde_json::Value,
    ) -> Result<()> {
        self.record(Change {
            action: event,
            target_type: R::AUDIT_TYPE,
            target_id: Some(before.id()),
            before: Some(before.snapshot()),
            after: Some(after),
        })
        .await
    }
}
