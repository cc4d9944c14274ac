//! Erasure of a person (GDPR Art. 17; docs/data-protection.md, "Erasure").
//!
//! In one transaction: the identity's row goes, and with it its key (`subject_keys`), so
//! every copy of its personal data sealed under that key (its audit records' and events'
//! snapshots) can no longer be opened anywhere; what was derived from its data or lets it
//! act is deleted outright (memories with their embeddings and keyword index, sessions and
//! the devices they name, refresh tokens, API keys, SSO links, reset links, the
//! invitations that brought it or are addressed to it, mail to its address, memberships);
//! a tombstone (`erasures`) and an `identity.erased` record say that it happened. The audit
//! chain is untouched and still verifies: its records name the person by id only.

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::perm;
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::{shapes, types};
use crate::identities::{self, Identity};
use crate::resource::Resource;

/// How much went with an erased person.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Removed {
    pub memories: u64,
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub api_keys: u64,
    pub sso_links: u64,
    pub invitations: u64,
    pub password_resets: u64,
    pub mail: u64,
    pub group_memberships: u64,
}

/// The tombstone of an erased person.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Erasure {
    pub identity_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    pub erased_by: Option<Uuid>,
    pub removed: Removed,
}

/// Erases identity `id`: needs `privacy:erase` (owners hold it); only an owner erases an
/// owner, nobody erases themselves, and the tenant keeps an owner. `confirm`, when given,
/// must be the identity's email (the console asks for it to be typed).
pub async fn erase(ctx: &Ctx, db: &Db, id: Uuid, confirm: Option<&str>) -> Result<Erasure> {
    let mut tx = db.change_object(ctx, perm::PRIVACY_ERASE).await?;
    let person = tx.lookup::<Identity>(id, perm::PRIVACY_ERASE).await?;
    identities::guard_owner(ctx, &mut tx, &person, "erase").await?;
    identities::refuse_self(ctx, id, "erase")?;
    if let Some(typed) = confirm {
        let expected = person.email.as_deref().unwrap_or(&person.display_name);
        if !typed.trim().eq_ignore_ascii_case(expected.trim()) {
            return Err(Error::validation(
                "confirm",
                "mismatch",
                "Type the identity's email exactly to confirm.",
            ));
        }
    }
    let erasure = erase_in(&mut tx, &person).await?;
    tx.commit().await?;
    Ok(erasure)
}

/// Erases `person` in `tx` (authorized by the caller): what [`erase`] does once it has
/// checked who may. Retention erases through it too, as the server's own work.
pub(crate) async fn erase_in(tx: &mut ChangeTx<'_>, person: &Identity) -> Result<Erasure> {
    let tenant_id = tx.tenant_id;
    let id = person.id;
    let mut removed = Removed::default();
    let (sessions, _) = crate::sessions::end_sessions_of(tx.conn(), tenant_id, id, None).await?;
    removed.sessions = sessions;
    let count = |r: sqlx::postgres::PgQueryResult| r.rows_affected();
    removed.memories = count(
        sqlx::query!(
            "delete from memories where tenant_id = $1 and owner_id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?,
    );
    removed.refresh_tokens = count(
        sqlx::query!(
            "delete from refresh_tokens where tenant_id = $1 and identity_id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?,
    );
    removed.api_keys = count(
        sqlx::query!(
            "delete from api_keys where tenant_id = $1 and identity_id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?,
    );
    removed.sso_links = count(
        sqlx::query!(
            "delete from sso_links where tenant_id = $1 and identity_id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?,
    );
    removed.password_resets = count(
        sqlx::query!(
            "delete from password_resets where tenant_id = $1 and identity_id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?,
    );
    removed.group_memberships = count(
        sqlx::query!(
            "delete from group_members where tenant_id = $1 and identity_id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?,
    );
    if let Some(email) = person.email.as_deref() {
        let keys = tx.keys().await?;
        let index = identities::sealed::email_index(&keys, email);
        let lower = identities::sealed::normalized_email(email);
        removed.invitations = count(
            sqlx::query!(
                "delete from invitations
                 where tenant_id = $1
                   and (accepted_by = $2 or email_index = $3 or lower(email) = $4)",
                tenant_id,
                id,
                index,
                lower
            )
            .execute(tx.conn())
            .await?,
        );
        removed.mail = crate::mail::delete_to(tx.conn(), tenant_id, (&index, &lower), id).await?;
    } else {
        // Mail about them sent to an address they no longer have (an email change's notice).
        removed.mail = crate::mail::delete_to(tx.conn(), tenant_id, (&[], ""), id).await?;
    }
    // The row, and with it the key (`subject_keys` cascades) and what else hangs on it.
    sqlx::query!(
        "delete from identities where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    crate::roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    // What the trail and the events hold of them in plain text (written before field-level
    // encryption, about them or an invitation of theirs) goes with the sealing job, which
    // the workers take at once (or, while a rotation runs, as it ends): with their key gone,
    // those values become null.
    let (audit, events) = super::reseal::plain_copies(tx.conn(), tenant_id).await?;
    if audit + events > 0 {
        super::keyjobs::queue_sealing_in(tx.conn(), tenant_id).await?;
    }
    let erased_by = tx.ctx().caller().ok().map(|c| c.identity_id);
    let erased_at = sqlx::query_scalar!(
        "insert into erasures (tenant_id, identity_id, erased_by, removed)
         values ($1, $2, $3, $4) returning erased_at",
        tenant_id,
        id,
        erased_by,
        json!(removed)
    )
    .fetch_one(tx.conn())
    .await?;
    tx.authz_changed().await?;
    tx.record(Change {
        action: types::IDENTITY_ERASED,
        target_type: Identity::NOUN,
        target_id: Some(id),
        before: None,
        after: Some(shapes::to_value(shapes::ErasedData { id, removed })),
    })
    .await?;
    Ok(Erasure {
        identity_id: id,
        erased_at,
        erased_by,
        removed,
    })
}
