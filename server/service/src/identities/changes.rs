//! Changing an identity: its fields (an email change and what it takes with it), disabling,
//! the trash, deleting for good; with the guards that keep an owner and oneself safe.

use super::*;

/// A partial update; `None` leaves a field as it is. `external_id: Some(None)` clears it.
/// Roles change through [`roles::set_identity_roles`].
#[derive(Debug, Clone, Default)]
pub struct IdentityPatch {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub metadata: Option<Value>,
    /// Replaces the whole object of metadata marked personal.
    pub personal_metadata: Option<Value>,
    /// `Some(true)` disables, `Some(false)` enables.
    pub disabled: Option<bool>,
}

impl IdentityPatch {
    fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.display_name.is_none()
            && self.external_id.is_none()
            && self.metadata.is_none()
            && self.personal_metadata.is_none()
            && self.disabled.is_none()
    }

    fn only_status(&self) -> bool {
        self.disabled.is_some()
            && self.email.is_none()
            && self.display_name.is_none()
            && self.external_id.is_none()
            && self.metadata.is_none()
            && self.personal_metadata.is_none()
    }
}

/// Only an owner changes or removes an owner, whether the target holds the role directly
/// or through a group.
pub(crate) async fn guard_owner(
    ctx: &Ctx,
    tx: &mut ChangeTx<'_>,
    target: &Authorized<Identity>,
    what: &str,
) -> Result<()> {
    let Ok(caller) = ctx.caller() else {
        return Ok(()); // the system
    };
    if caller.is_owner() {
        return Ok(());
    }
    let tenant_id = tx.tenant_id;
    if roles::is_owner(tx.conn(), tenant_id, target.id).await? {
        return Err(Error::Forbidden {
            action: format!("{what} an owner"),
        });
    }
    Ok(())
}

pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, patch: IdentityPatch) -> Result<Identity> {
    if patch.is_empty() {
        return Err(Error::BadRequest("nothing to update".into()));
    }
    let mut tx = db.change_object(ctx, perm::IDENTITIES_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_UPDATE).await?;
    guard_owner(ctx, &mut tx, &before, "change").await?;
    if before.status == Status::Deleted {
        return Err(Error::Conflict {
            code: "identity_deleted",
            message: "This identity is in the trash; restore it first.".into(),
            field: None,
        });
    }

    let mut errors = Vec::new();
    let email = match patch.email.as_deref().map(str::trim) {
        None => before.email.clone(),
        Some("") if before.kind == Kind::User => {
            errors.push(FieldError::new(
                "email",
                "required",
                "A user needs an email address.",
            ));
            None
        }
        Some("") => None,
        Some(raw) => validation::email("email", raw, &mut errors),
    };
    let display_name = match patch.display_name.as_deref() {
        None => before.display_name.clone(),
        Some(raw) => {
            validation::text("display_name", raw, 200, false, &mut errors).unwrap_or_default()
        }
    };
    if before.kind == Kind::Agent
        && display_name.is_empty()
        && errors.iter().all(|e| e.field != "display_name")
    {
        errors.push(FieldError::new(
            "display_name",
            "required",
            "An agent needs a name.",
        ));
    }
    let external_id = match &patch.external_id {
        None => before.external_id.clone(),
        Some(None) => None,
        Some(Some(raw)) => {
            validation::text("external_id", raw, 255, false, &mut errors).filter(|s| !s.is_empty())
        }
    };
    let metadata = patch
        .metadata
        .clone()
        .unwrap_or_else(|| before.metadata.clone());
    validation::metadata("metadata", &metadata, &mut errors);
    let personal = patch.personal_metadata.clone();
    if let Some(p) = &personal {
        validation::metadata("personal_metadata", p, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }

    let disabled = patch.disabled.unwrap_or(before.status == Status::Disabled);
    if disabled && before.status != Status::Disabled {
        refuse_self(ctx, id, "disable")?;
    }
    let email_changes = email != before.email;
    if email_changes {
        // Whoever controls the address controls the account (a reset link goes there):
        // changing it takes the rights over everything the identity holds.
        let held = roles::held_by(tx.conn(), tenant_id, id).await?;
        roles::authorize_grants(ctx, &held)?;
    }
    let unchanged = email == before.email
        && display_name == before.display_name
        && external_id == before.external_id
        && metadata == before.metadata
        && personal
            .as_ref()
            .is_none_or(|p| Some(p) == before.personal_metadata.as_ref())
        && disabled == (before.status == Status::Disabled);
    if unchanged {
        // Nothing to change: no write, no audit record, no event.
        return Ok(before.into_inner());
    }

    let personal_changes = personal
        .as_ref()
        .is_some_and(|p| Some(p) != before.personal_metadata.as_ref());
    if email != before.email || display_name != before.display_name || personal_changes {
        let keys = tx.keys().await?;
        let subject = sealed::store(
            tx.conn(),
            &keys,
            tenant_id,
            id,
            email.as_deref(),
            &display_name,
        )
        .await?;
        if let Some(p) = personal.as_ref().filter(|_| personal_changes) {
            sqlx::query!(
                "update identities set personal_metadata_sealed = $3
                 where tenant_id = $1 and id = $2",
                tenant_id,
                id,
                sealed::seal_personal(&keys, &subject, tenant_id, id, p)
            )
            .execute(tx.conn())
            .await?;
        }
        // The audit record's sealed copies need it too.
        tx.remember_subject(id, subject);
    }
    sqlx::query!(
        "update identities
         set external_id = $3, metadata = $4, disabled = $5, updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        external_id,
        metadata,
        disabled,
    )
    .execute(tx.conn())
    .await
    .map_err(conflict_from)?;
    if disabled && before.status != Status::Disabled {
        // Signed out everywhere: sessions end and refresh tokens die with the change.
        crate::sessions::end_sessions_of(tx.conn(), tenant_id, id, None).await?;
        roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    }
    if email_changes {
        email_changed(&mut tx, db, &before, email.as_deref()).await?;
    }
    let after = tx.reread::<Identity>(id).await?;
    let action = match (patch.only_status(), after.status) {
        (true, Status::Disabled) => types::IDENTITY_DISABLED,
        (true, _) => types::IDENTITY_ENABLED,
        (false, _) => types::IDENTITY_UPDATED,
    };
    tx.changed(action, &before, after.snapshot()).await?;
    tx.commit().await?;
    Ok(after)
}

/// What an email change takes with it, inside the change: every reset link not yet used
/// is voided (it was sent to the old address), pending invitations to the old address are
/// withdrawn, and the old address is told (a takeover must not go unnoticed).
pub(super) async fn email_changed(
    tx: &mut ChangeTx<'_>,
    db: &Db,
    before: &Authorized<Identity>,
    new_email: Option<&str>,
) -> Result<()> {
    let tenant_id = tx.tenant_id;
    sqlx::query!(
        "update password_resets set used_at = now()
         where tenant_id = $1 and identity_id = $2 and used_at is null",
        tenant_id,
        before.id
    )
    .execute(tx.conn())
    .await?;
    let Some(old) = before.email.as_deref() else {
        return Ok(());
    };
    let keys = tx.keys().await?;
    sqlx::query!(
        "update invitations set revoked_at = now()
         where tenant_id = $1 and (email_index = $3 or lower(email) = lower($2))
           and accepted_at is null and revoked_at is null",
        tenant_id,
        old,
        sealed::email_index(&keys, old)
    )
    .execute(tx.conn())
    .await?;
    let tenant_name = sqlx::query_scalar!("select name from tenants where id = $1", tenant_id)
        .fetch_one(tx.conn())
        .await?;
    let payload = crate::mail::Payload::EmailChanged {
        tenant_name,
        new_email: new_email.map(crate::mail::mask_address),
    };
    crate::mail::enqueue(
        tx.conn(),
        (db.master_key()?, &keys),
        tenant_id,
        Some(before.id),
        old,
        &payload,
    )
    .await?;
    Ok(())
}

pub(crate) fn is_self(ctx: &Ctx, id: Uuid) -> bool {
    matches!(ctx.caller(), Ok(c) if c.identity_id == id)
}

pub(crate) fn refuse_self(ctx: &Ctx, id: Uuid, what: &str) -> Result<()> {
    if is_self(ctx, id) {
        Err(Error::Conflict {
            code: "cannot_target_self",
            message: format!("You cannot {what} your own account."),
            field: None,
        })
    } else {
        Ok(())
    }
}

/// Disables (`true`) or re-enables (`false`) an identity. A disabled identity cannot sign in,
/// and its sessions and tokens stop working on their next request.
pub async fn set_disabled(ctx: &Ctx, db: &Db, id: Uuid, disabled: bool) -> Result<Identity> {
    let patch = IdentityPatch {
        disabled: Some(disabled),
        ..Default::default()
    };
    update(ctx, db, id, patch).await
}

/// Moves an identity to the trash; it can be restored until it is deleted for good.
pub async fn soft_delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Identity> {
    let mut tx = db.change_object(ctx, perm::IDENTITIES_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_DELETE).await?;
    guard_owner(ctx, &mut tx, &before, "delete").await?;
    if before.status == Status::Deleted {
        return Ok(before.into_inner());
    }
    refuse_self(ctx, id, "delete")?;
    sqlx::query!(
        "update identities set deleted_at = now(), updated_at = now() where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    crate::sessions::end_sessions_of(tx.conn(), tenant_id, id, None).await?;
    roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    let after = tx.reread::<Identity>(id).await?;
    tx.changed(types::IDENTITY_DELETED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn restore(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Identity> {
    let mut tx = db.change_object(ctx, perm::IDENTITIES_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_UPDATE).await?;
    guard_owner(ctx, &mut tx, &before, "restore").await?;
    if before.status != Status::Deleted {
        return Err(Error::Conflict {
            code: "not_deleted",
            message: "This identity is not in the trash.".into(),
            field: None,
        });
    }
    tx.within_quota(crate::limits::Quota::Identities, 1).await?;
    sqlx::query!(
        "update identities set deleted_at = null, updated_at = now() where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<Identity>(id).await?;
    tx.changed(types::IDENTITY_RESTORED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes an identity for good. The audit record keeps what it was.
pub async fn hard_delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::IDENTITIES_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_DELETE).await?;
    guard_owner(ctx, &mut tx, &before, "delete").await?;
    refuse_self(ctx, id, "delete")?;
    sqlx::query!(
        "delete from identities where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    tx.record(Change {
        action: types::IDENTITY_PURGED,
        target_type: Identity::NOUN,
        target_id: Some(id),
        before: Some(before.snapshot()),
        after: None,
    })
    .await?;
    tx.commit().await
}
