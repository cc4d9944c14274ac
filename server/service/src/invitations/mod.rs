//! Invitations: a tenant asks a person, by email, to join with roles and groups.
//!
//! The invitee's link carries `iv1.<base64url(tenant id, invitation id, 32-byte secret)>`;
//! only SHA-256 of the secret is stored, compared in constant time. A token works once and
//! until its expiry; a resend replaces it, so the old link dies; revoking kills it. The mail
//! goes out through the outbox (see [`crate::mail`]) in the transaction that creates or
//! resends the invitation, so it is never lost and never sent for a change that rolled back.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::{passwords, throttle};
use crate::authz::{Permission, Target, perm};
use crate::crypto::{constant_time_eq, random_bytes, sha256};
use crate::ctx::{AuthMethod, Caller, Ctx, Principal};
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::mail::{self, Payload};
use crate::privacy::envelope::Key;
use crate::privacy::keys::TenantKeys;
use crate::resource::{Lifecycle, Resource, visible};
use crate::{identities, roles, validation};

mod redeem;

pub use redeem::*;

pub const DEFAULT_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }
}

impl crate::validation::Choice for Status {
    const FIELD: &'static str = "status";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("pending", Status::Pending),
        ("accepted", Status::Accepted),
        ("expired", Status::Expired),
        ("revoked", Status::Revoked),
    ];
}

fn status_of(
    expires_at: OffsetDateTime,
    accepted_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
) -> Status {
    if revoked_at.is_some() {
        Status::Revoked
    } else if accepted_at.is_some() {
        Status::Accepted
    } else if expires_at <= OffsetDateTime::now_utc() {
        Status::Expired
    } else {
        Status::Pending
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub group_ids: Vec<Uuid>,
    pub message: String,
    pub status: Status,
    pub invited_by: Option<Uuid>,
    pub inviter_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub sent_count: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    pub accepted_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Resource for Invitation {
    const MODULE: &'static str = "invitations";
    const NOUN: &'static str = "invitation";
    const READ: Permission = perm::INVITATIONS_READ;
    /// An invitation is changed only by sending it again.
    const EVENTS: Lifecycle = Lifecycle {
        created: types::INVITATION_CREATED,
        updated: types::INVITATION_RESENT,
        deleted: types::INVITATION_REVOKED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    /// An invitation is owned by whoever sent it.
    fn target(&self, tenant_id: Uuid) -> Target {
        Target {
            owner: self.invited_by,
            ..Target::object(tenant_id, Self::MODULE, self.id)
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        shapes::to_value(shapes::InvitationData {
            id: self.id,
            email: &self.email,
            roles: &self.roles,
            group_ids: &self.group_ids,
            status: self.status,
            expires_at: shapes::Time(self.expires_at),
            sent_count: self.sent_count,
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "invitations", tenant_id, id).await? {
            return Ok(None);
        }
        Ok(load(conn, keyring, tenant_id, Some(id)).await?.pop())
    }
}

struct Row {
    id: Uuid,
    email: Option<String>,
    email_sealed: Option<Vec<u8>>,
    message_sealed: Option<Vec<u8>>,
    key_wrapped: Option<Vec<u8>>,
    roles: Vec<String>,
    group_ids: Vec<Uuid>,
    message: String,
    invited_by: Option<Uuid>,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    sent_count: i32,
    last_sent_at: OffsetDateTime,
    accepted_at: Option<OffsetDateTime>,
    accepted_by: Option<Uuid>,
    revoked_at: Option<OffsetDateTime>,
}

impl Row {
    /// The invitation, its sealed address and message opened with `keys` (needed only
    /// for a sealed row).
    fn open(self, keys: Option<&TenantKeys>, tenant_id: Uuid) -> Result<Invitation> {
        let r = self;
        let (email, message) = match r.key_wrapped {
            None => (r.email.unwrap_or_default(), r.message),
            Some(wrapped) => {
                let keys = keys.ok_or_else(|| {
                    Error::Internal(format!(
                        "invitation {} is sealed and was read without keys",
                        r.id
                    ))
                })?;
                let key = keys.unwrap_subject_key(r.id, &wrapped)?;
                let open = |column: &'static str, sealed: Option<Vec<u8>>| match sealed {
                    Some(sealed) => {
                        keys.open_for_subject(&key, place(tenant_id, column, r.id), &sealed)
                    }
                    None => Ok(String::new()),
                };
                (
                    open("email", r.email_sealed)?,
                    open("message", r.message_sealed)?,
                )
            }
        };
        Ok(Invitation {
            status: status_of(r.expires_at, r.accepted_at, r.revoked_at),
            id: r.id,
            email,
            roles: r.roles,
            group_ids: r.group_ids,
            message,
            invited_by: r.invited_by,
            inviter_name: None,
            created_at: r.created_at,
            expires_at: r.expires_at,
            sent_count: r.sent_count,
            last_sent_at: r.last_sent_at,
            accepted_at: r.accepted_at,
            accepted_by: r.accepted_by,
            revoked_at: r.revoked_at,
        })
    }
}

fn place(tenant: Uuid, column: &'static str, id: Uuid) -> crate::privacy::envelope::Place<'static> {
    crate::privacy::envelope::Place {
        tenant,
        table: "invitations",
        column,
        row: id,
    }
}

/// Seals up to `limit` invitations that still hold their address and message in plain
/// text (written before field-level encryption) under a key of their own (the one a copy
/// of the address in the trail was sealed under, when there is one), skipping rows another
/// transaction holds; returns how many it sealed (see `privacy::keyjobs`).
pub(crate) async fn seal_plain(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant_id: Uuid,
    limit: i64,
) -> Result<u64> {
    let rows = sqlx::query!(
        r#"select id, email as "email!", message, key_wrapped from invitations
           where tenant_id = $1 and email is not null
           order by id limit $2 for update skip locked"#,
        tenant_id,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let (key, wrapped) = match &r.key_wrapped {
            Some(w) => (keys.unwrap_subject_key(r.id, w)?, w.clone()),
            None => keys.new_subject_key(r.id),
        };
        let email_sealed =
            keys.seal_for_subject(&key, place(tenant_id, "email", r.id), r.email.as_bytes());
        let message_sealed = keys.seal_for_subject(
            &key,
            place(tenant_id, "message", r.id),
            r.message.as_bytes(),
        );
        sqlx::query!(
            "update invitations
             set email = null, message = '', email_sealed = $3, message_sealed = $4,
                 email_index = $5, key_wrapped = $6
             where tenant_id = $1 and id = $2",
            tenant_id,
            r.id,
            email_sealed,
            message_sealed,
            identities::sealed::email_index(keys, &r.email),
            wrapped
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len() as u64)
}

/// Invitation `id`'s key, for sealing copies of its address (audit records, events): from
/// its row, made and stored for a row written before sealing, `None` once it is gone.
pub(crate) async fn key_if_any(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Key>> {
    let found = sqlx::query_scalar!(
        "select key_wrapped from invitations where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        None => Ok(None),
        Some(Some(wrapped)) => keys.unwrap_subject_key(id, &wrapped).map(Some),
        Some(None) => {
            let (key, wrapped) = keys.new_subject_key(id);
            // Another transaction (the sealing job, a request) may make it meanwhile: the
            // first one wins, and this one uses it.
            let made = sqlx::query!(
                "update invitations set key_wrapped = $3
                 where tenant_id = $1 and id = $2 and key_wrapped is null",
                tenant_id,
                id,
                wrapped
            )
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if made == 1 {
                return Ok(Some(key));
            }
            let stored = sqlx::query_scalar!(
                "select key_wrapped from invitations where tenant_id = $1 and id = $2",
                tenant_id,
                id
            )
            .fetch_optional(conn)
            .await?
            .flatten();
            stored
                .map(|wrapped| keys.unwrap_subject_key(id, &wrapped))
                .transpose()
        }
    }
}

/// Invitations with their inviters' names (which are sealed: opened here).
async fn load(
    conn: &mut PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant_id: Uuid,
    only: Option<Uuid>,
) -> Result<Vec<Invitation>> {
    let rows = sqlx::query_as!(
        Row,
        r#"select v.id, v.email, v.email_sealed, v.message_sealed, v.key_wrapped, v.roles,
                  v.group_ids, v.message, v.invited_by,
                  v.created_at, v.expires_at, v.sent_count, v.last_sent_at, v.accepted_at,
                  v.accepted_by, v.revoked_at
           from invitations v
           where v.tenant_id = $1 and ($2::uuid is null or v.id = $2)
           order by v.created_at desc, v.id"#,
        tenant_id,
        only
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut inviters: Vec<Uuid> = rows.iter().filter_map(|r| r.invited_by).collect();
    inviters.sort_unstable();
    inviters.dedup();
    let inviters =
        crate::identities::sealed::people_in(&mut *conn, keyring, tenant_id, &inviters).await?;
    let keys = match rows.iter().any(|r| r.key_wrapped.is_some()) {
        true => Some(keyring.tenant_in(conn, tenant_id).await?),
        false => None,
    };
    rows.into_iter()
        .map(|r| {
            let inviter_name = r.invited_by.and_then(|id| {
                let p = inviters.get(&id)?;
                let external = p.external_id.as_deref();
                Some(crate::identities::label_of(
                    &p.display_name,
                    p.email.as_deref(),
                    external,
                    id,
                ))
            });
            Ok(Invitation {
                inviter_name,
                ..r.open(keys.as_deref(), tenant_id)?
            })
        })
        .collect()
}

async fn fetch(
    conn: &mut PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Invitation> {
    load(conn, keyring, tenant_id, Some(id))
        .await?
        .pop()
        .ok_or(Error::NotFound {
            resource: "invitation",
        })
}

fn format_token(tenant: Uuid, id: Uuid, secret: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(64);
    raw.extend_from_slice(tenant.as_bytes());
    raw.extend_from_slice(id.as_bytes());
    raw.extend_from_slice(secret);
    format!("iv1.{}", URL_SAFE_NO_PAD.encode(raw))
}

pub fn parse_token(token: &str) -> Option<(Uuid, Uuid, [u8; 32])> {
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim().strip_prefix("iv1.")?)
        .ok()?;
    if raw.len() != 64 {
        return None;
    }
    Some((
        Uuid::from_slice(&raw[..16]).ok()?,
        Uuid::from_slice(&raw[16..32]).ok()?,
        raw[32..].try_into().ok()?,
    ))
}

/// The path of the accept page for `token`.
pub fn accept_path(token: &str) -> String {
    format!("/invite/{token}")
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Option<Status>,
}

pub async fn list(ctx: &Ctx, db: &Db, query: ListQuery) -> Result<Vec<Invitation>> {
    let mut tx = db.read(ctx, perm::INVITATIONS_READ).await?;
    let tenant_id = tx.tenant_id;
    let (conn, keyring) = tx.parts();
    Ok(load(conn, keyring, tenant_id, None)
        .await?
        .into_iter()
        .filter(|i| query.status.is_none_or(|s| i.status == s) && visible(ctx, tenant_id, i))
        .collect())
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Invitation> {
    let mut tx = db.read_object(ctx, perm::INVITATIONS_READ).await?;
    Ok(tx
        .lookup::<Invitation>(ctx, id, perm::INVITATIONS_READ)
        .await?
        .into_inner())
}

/// An invitation grants its roles and its groups' roles to whoever accepts it: sending one
/// (or sending it again, with a new link) takes the rights to grant all of that.
async fn authorize_grants(
    tx: &mut ChangeTx<'_>,
    granted: &[roles::Role],
    group_ids: &[Uuid],
) -> Result<()> {
    let ctx = tx.ctx();
    roles::authorize_grants(ctx, granted)?;
    let tenant_id = tx.tenant_id;
    if !group_ids.is_empty() {
        ctx.authorize(perm::GROUPS_MANAGE, Target::collection(tenant_id, "groups"))?;
    }
    for group_id in group_ids {
        // Joining a group on acceptance is being granted what it grants: the inviter needs
        // the rights to grant that, as for adding a member.
        let group = tx
            .lookup::<crate::groups::Group>(*group_id, perm::GROUPS_MANAGE)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::validation(
                    "group_ids",
                    "unknown_group",
                    "One of the groups does not exist.",
                ),
                other => other,
            })?;
        let inherited = roles::of_group_tree(tx.conn(), tenant_id, group.id).await?;
        roles::authorize_grants(tx.ctx(), &inherited)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    pub email: String,
    /// Role names; default `member`.
    pub roles: Option<Vec<String>>,
    pub group_ids: Vec<Uuid>,
    pub message: String,
    /// Days until the link expires (1-30, default 7).
    pub expires_in_days: Option<u32>,
}

/// Queues the invitation mail with a fresh token; returns the token's hash to store.
async fn send(
    tx: &mut ChangeTx<'_>,
    db: &Db,
    invitation: (Uuid, &str, &str, OffsetDateTime),
) -> Result<[u8; 32]> {
    let (id, email, message, expires_at) = invitation;
    let tenant_id = tx.tenant_id;
    let secret = random_bytes::<32>();
    let token = format_token(tenant_id, id, &secret);
    let caller = tx.ctx().caller()?;
    let inviter = caller.label();
    let payload = Payload::Invitation {
        tenant_name: caller.tenant_name.clone(),
        inviter,
        message: message.to_owned(),
        path: accept_path(&token),
        expires_at,
    };
    let master = db.master_key()?;
    let keys = tx.keys().await?;
    mail::enqueue(
        tx.conn(),
        (master, &keys),
        tenant_id,
        Some(id),
        email,
        &payload,
    )
    .await?;
    Ok(sha256(&secret))
}

pub async fn create(ctx: &Ctx, db: &Db, input: NewInvitation) -> Result<Invitation> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        perm::INVITATIONS_CREATE,
        Target::collection(tenant_id, "invitations"),
    )?;
    let mut errors = Vec::new();
    let email = validation::email("email", &input.email, &mut errors);
    let message = validation::text("message", &input.message, 2000, false, &mut errors);
    let days = input.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        errors.push(FieldError::new(
            "expires_in_days",
            "out_of_range",
            format!("Choose between 1 and {MAX_DAYS} days."),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (email, message) = (email.expect("checked"), message.unwrap_or_default());
    let names: Vec<String> = input
        .roles
        .unwrap_or_else(|| vec![roles::MEMBER.to_owned()])
        .into_iter()
        .map(|n| n.trim().to_lowercase())
        .filter(|n| !n.is_empty())
        .collect();

    let mut tx = db.change(ctx, perm::INVITATIONS_CREATE).await?;
    let tenant_id = tx.tenant_id;
    // Nobody invites anyone with more than they hold themselves.
    let granted = roles::by_names(tx.conn(), tenant_id, &names, "roles").await?;
    let mut group_ids = input.group_ids.clone();
    group_ids.sort();
    group_ids.dedup();
    authorize_grants(&mut tx, &granted, &group_ids).await?;
    let keys = tx.keys().await?;
    let member =
        crate::identities::sealed::id_by_email(tx.conn(), &keys, tenant_id, &email).await?;
    if member.is_some() {
        return Err(Error::Conflict {
            code: "already_member",
            message: "Someone with this email is already in the tenant (or in its trash).".into(),
            field: Some("email"),
        });
    }
    let email_index = identities::sealed::email_index(&keys, &email);
    let pending = sqlx::query_scalar!(
        "select id from invitations
         where tenant_id = $1 and (email_index = $3 or lower(email) = $2)
           and accepted_at is null and revoked_at is null and expires_at > now()",
        tenant_id,
        email,
        email_index
    )
    .fetch_optional(tx.conn())
    .await?;
    if pending.is_some() {
        return Err(Error::Conflict {
            code: "already_invited",
            message: "This email already has a pending invitation: resend it instead.".into(),
            field: Some("email"),
        });
    }

    let id = Uuid::now_v7();
    let expires_at = OffsetDateTime::now_utc() + Duration::days(i64::from(days));
    let hash = send(&mut tx, db, (id, &email, &message, expires_at)).await?;
    let role_names: Vec<String> = granted.iter().map(|r| r.name.clone()).collect();
    let inviter = ctx.caller()?.identity_id;
    // The address and the message are sealed under a key of the invitation's own.
    let (key, wrapped) = keys.new_subject_key(id);
    let email_sealed = keys.seal_for_subject(&key, place(tenant_id, "email", id), email.as_bytes());
    let message_sealed =
        keys.seal_for_subject(&key, place(tenant_id, "message", id), message.as_bytes());
    sqlx::query!(
        "insert into invitations (tenant_id, id, email_sealed, message_sealed, email_index,
                                  key_wrapped, roles, group_ids, token_hash, invited_by,
                                  expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        tenant_id,
        id,
        email_sealed,
        message_sealed,
        email_index,
        wrapped,
        &role_names,
        &group_ids,
        &hash[..],
        inviter,
        expires_at
    )
    .execute(tx.conn())
    .await?;
    tx.remember_subject(id, key);
    let invitation = tx.reread::<Invitation>(id).await?;
    tx.created(&invitation).await?;
    tx.commit().await?;
    Ok(invitation)
}

/// Sends the invitation again with a new link (the old one stops working) and a fresh
/// expiry. Works for pending and expired invitations.
pub async fn resend(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Invitation> {
    let mut tx = db.change_object(ctx, perm::INVITATIONS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx
        .lookup::<Invitation>(id, perm::INVITATIONS_UPDATE)
        .await?;
    if matches!(before.status, Status::Accepted | Status::Revoked) {
        return Err(Error::Conflict {
            code: "invitation_closed",
            message: format!(
                "This invitation was {}; invite the person again instead.",
                before.status.as_str()
            ),
            field: None,
        });
    }
    let days = (before.expires_at - before.created_at)
        .whole_days()
        .clamp(1, i64::from(MAX_DAYS));
    let expires_at = OffsetDateTime::now_utc() + Duration::days(days);
    // A new link is the invitation's grant handed out again, by this caller. Roles deleted
    // since are skipped, as on acceptance.
    let granted = roles::existing(tx.conn(), tenant_id, &before.roles).await?;
    authorize_grants(&mut tx, &granted, &before.group_ids).await?;
    let hash = send(
        &mut tx,
        db,
        (id, &before.email, &before.message, expires_at),
    )
    .await?;
    sqlx::query!(
        "update invitations set token_hash = $3, expires_at = $4, sent_count = sent_count + 1,
                last_sent_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        &hash[..],
        expires_at
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<Invitation>(id).await?;
    tx.updated(&before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

/// Revokes a pending invitation: its link stops working. Revoking twice is fine; an
/// accepted invitation cannot be revoked (disable the identity instead).
pub async fn revoke(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Invitation> {
    let mut tx = db.change_object(ctx, perm::INVITATIONS_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx
        .lookup::<Invitation>(id, perm::INVITATIONS_DELETE)
        .await?;
    match before.status {
        Status::Revoked => return Ok(before.into_inner()),
        Status::Accepted => {
            return Err(Error::Conflict {
                code: "invitation_accepted",
                message: "This invitation was accepted; disable the identity instead.".into(),
                field: None,
            });
        }
        Status::Pending | Status::Expired => {}
    }
    sqlx::query!(
        "update invitations set revoked_at = now() where tenant_id = $1 and id = $2 and revoked_at is null",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<Invitation>(id).await?;
    tx.changed(types::INVITATION_REVOKED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Choice;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let (t, i, s) = (Uuid::now_v7(), Uuid::now_v7(), random_bytes::<32>());
        let token = format_token(t, i, &s);
        assert!(token.starts_with("iv1."));
        assert_eq!(parse_token(&token), Some((t, i, s)));
        assert_eq!(parse_token(&token[..token.len() - 2]), None);
        assert_eq!(parse_token("iv1.!!!"), None);
        assert_eq!(parse_token(&token.replacen("iv1.", "iv2.", 1)), None);
    }

    #[test]
    fn status_prefers_revoked_then_accepted_then_expiry() {
        let now = OffsetDateTime::now_utc();
        let later = now + Duration::days(1);
        let earlier = now - Duration::days(1);
        assert_eq!(status_of(later, None, None), Status::Pending);
        assert_eq!(status_of(earlier, None, None), Status::Expired);
        assert_eq!(status_of(earlier, Some(now), None), Status::Accepted);
        assert_eq!(status_of(later, Some(now), Some(now)), Status::Revoked);
        assert_eq!(Status::parse("expired"), Some(Status::Expired));
    }
}
