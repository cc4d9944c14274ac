//! Self-service: what signed-in people change about themselves (their profile and their
//! password), with no permission beyond being themselves. An API key acts for a person but
//! is not them, so it cannot do either.

use crate::auth::{passwords, throttle};
use crate::ctx::{Caller, Ctx};
use crate::db::{Change, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::identities::{self, Identity};
use crate::validation;

fn person(ctx: &Ctx) -> Result<&Caller> {
    let caller = ctx.caller()?;
    if caller.api_key.is_some() {
        return Err(Error::Forbidden {
            action: "change your account with an API key; sign in as yourself".into(),
        });
    }
    Ok(caller)
}

#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub display_name: Option<String>,
}

/// Changes the caller's own profile.
pub async fn update_profile(ctx: &Ctx, db: &Db, input: ProfileInput) -> Result<Identity> {
    let caller = person(ctx)?;
    let mut errors = Vec::new();
    let display_name = input
        .display_name
        .as_deref()
        .and_then(|d| validation::text("display_name", d, 200, true, &mut errors));
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut tx = db.change_in(ctx, caller.tenant_id).await?;
    let before = {
        let (conn, keyring) = tx.parts();
        identities::fetch(conn, keyring, caller.tenant_id, caller.identity_id).await?
    };
    let Some(display_name) = display_name.filter(|d| *d != before.display_name) else {
        return Ok(before);
    };
    let keys = tx.keys().await?;
    let subject = identities::sealed::store(
        tx.conn(),
        &keys,
        caller.tenant_id,
        caller.identity_id,
        before.email.as_deref(),
        &display_name,
    )
    .await?;
    tx.remember_subject(caller.identity_id, subject);
    let after = {
        let (conn, keyring) = tx.parts();
        identities::fetch(conn, keyring, caller.tenant_id, caller.identity_id).await?
    };
    tx.record(Change {
        action: types::IDENTITY_UPDATED,
        target_type: "identity",
        target_id: Some(caller.identity_id),
        before: Some(before.snapshot()),
        after: Some(after.snapshot()),
    })
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// What a password change ended besides the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PasswordChanged {
    pub sessions_ended: u64,
    pub refresh_tokens_revoked: u64,
}

/// Changes the caller's password after checking the current one (throttled like sign-in).
/// Every other session of theirs ends and every refresh token dies; the session this
/// request came with stays signed in.
pub async fn change_password(ctx: &Ctx, db: &Db, input: PasswordChange) -> Result<PasswordChanged> {
    let caller = person(ctx)?;
    let mut errors = Vec::new();
    if input.current_password.is_empty() {
        errors.push(FieldError::new(
            "current_password",
            "required",
            "Enter your current password.",
        ));
    }
    validation::password("new_password", &input.new_password, &mut errors);
    if errors.is_empty() && input.new_password == input.current_password {
        errors.push(FieldError::new(
            "new_password",
            "unchanged",
            "Choose a password different from the current one.",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }

    let email = caller.email.clone().unwrap_or_default();
    let account = throttle::Key::account(&caller.tenant_slug, &email);
    let admitted = throttle::attempt(db.pool(), std::slice::from_ref(&account)).await?;
    let stored = {
        let mut tx = db.begin_tenant(caller.tenant_id).await?;
        sqlx::query_scalar!(
            "select password_hash from identities where tenant_id = $1 and id = $2",
            caller.tenant_id,
            caller.identity_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .flatten()
    };
    let verified = passwords::verify(stored, input.current_password).await;
    let ok = matches!(verified, Ok(true));
    admitted.finish(ok).await?;
    verified?;
    if !ok {
        return Err(Error::validation(
            "current_password",
            "wrong_password",
            "That is not your current password.",
        ));
    }

    let hash = passwords::hash(input.new_password).await?;
    let mut tx = db.change_in(ctx, caller.tenant_id).await?;
    sqlx::query!(
        "update identities set password_hash = $3, updated_at = now() where tenant_id = $1 and id = $2",
        caller.tenant_id,
        caller.identity_id,
        hash
    )
    .execute(tx.conn())
    .await?;
    let (sessions_ended, refresh_tokens_revoked) = crate::sessions::end_sessions_of(
        tx.conn(),
        caller.tenant_id,
        caller.identity_id,
        ctx.session_key.as_deref(),
    )
    .await?;
    tx.record(Change {
        action: types::IDENTITY_PASSWORD_CHANGED,
        target_type: "identity",
        target_id: Some(caller.identity_id),
        before: None,
        after: Some(shapes::to_value(shapes::SessionsEndedData {
            sessions_ended,
            refresh_tokens_revoked,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(PasswordChanged {
        sessions_ended,
        refresh_tokens_revoked,
    })
}

// ---------------------------------------------------------------------------------------
// Password reset by email.

/// How long a reset link works.
pub const RESET_MINUTES: i64 = 60;

fn format_reset_token(tenant: uuid::Uuid, id: uuid::Uuid, secret: &[u8; 32]) -> String {
    use base64::Engine;
    let mut raw = Vec::with_capacity(64);
    raw.extend_from_slice(tenant.as_bytes());
    raw.extend_from_slice(id.as_bytes());
    raw.extend_from_slice(secret);
    format!(
        "pr1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn parse_reset_token(token: &str) -> Option<(uuid::Uuid, uuid::Uuid, [u8; 32])> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim().strip_prefix("pr1.")?)
        .ok()?;
    if raw.len() != 64 {
        return None;
    }
    Some((
        uuid::Uuid::from_slice(&raw[..16]).ok()?,
        uuid::Uuid::from_slice(&raw[16..32]).ok()?,
        raw[32..].try_into().ok()?,
    ))
}

/// Mails a reset link to the person with this email in this tenant, if there is one. The
/// answer is the same either way (nobody learns who has an account), and a person gets at
/// most one mail a minute.
pub async fn request_password_reset(
    request: &Ctx,
    db: &Db,
    tenant: &str,
    email: &str,
) -> Result<()> {
    let _slot = db.anonymous_slot().await?;
    let slug = tenant.trim().to_lowercase();
    let email = email.trim().to_lowercase();
    let Some(t) = sqlx::query!("select id, name from tenants where slug = $1", slug)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(());
    };
    let keys = db.tenant_keys(t.id).await?;
    let mut tx = db.begin_tenant(t.id).await?;
    let found = sqlx::query!(
        r#"select i.id,
                  exists(select 1 from password_resets r
                         where r.tenant_id = i.tenant_id and r.identity_id = i.id
                           and r.created_at > now() - interval '1 minute') as "recent!"
           from identities i
           where i.tenant_id = $1 and (i.email_index = $3 or lower(i.email) = $2)
             and i.kind = 'user' and i.status = 'active'"#,
        t.id,
        email,
        identities::sealed::email_index(&keys, &email),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else {
        tracing::info!(tenant = %slug, "password reset asked for an unknown account");
        return Ok(());
    };
    if found.recent {
        return Ok(());
    }
    let ctx = Ctx {
        principal: crate::Principal::System,
        ..request.clone()
    };
    let mut tx = crate::db::ChangeTx::wrap(tx, &ctx, t.id, db);
    let id = uuid::Uuid::now_v7();
    let secret = crate::crypto::random_bytes::<32>();
    let token = format_reset_token(t.id, id, &secret);
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::minutes(RESET_MINUTES);
    sqlx::query!(
        "insert into password_resets (tenant_id, id, identity_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
        t.id,
        id,
        found.id,
        &crate::crypto::sha256(&secret)[..],
        expires_at
    )
    .execute(tx.conn())
    .await?;
    let payload = crate::mail::Payload::PasswordReset {
        tenant_name: t.name,
        path: format!("/reset-password/{token}"),
        expires_at,
    };
    let keys = tx.keys().await?;
    crate::mail::enqueue(
        tx.conn(),
        (db.master_key()?, &keys),
        t.id,
        Some(id),
        &email,
        &payload,
    )
    .await?;
    tx.record(Change {
        action: types::IDENTITY_PASSWORD_RESET_REQUESTED,
        target_type: "identity",
        target_id: Some(found.id),
        before: None,
        after: None,
    })
    .await?;
    tx.commit().await
}

/// Whether reset link `id` with `secret` is unused, unexpired and genuine (read only).
async fn reset_link_works(
    db: &Db,
    tenant_id: uuid::Uuid,
    id: uuid::Uuid,
    secret: &[u8; 32],
) -> Result<bool> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    let row = sqlx::query!(
        "select token_hash, expires_at, used_at from password_resets
         where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let presented = crate::crypto::sha256(secret);
    Ok(match row {
        Some(r) => {
            crate::crypto::constant_time_eq(&r.token_hash, &presented)
                && r.used_at.is_none()
                && r.expires_at > time::OffsetDateTime::now_utc()
        }
        None => false,
    })
}

/// Sets a new password with a reset link: the link is used up (with any other reset link of
/// the same person), and every session and refresh token of theirs ends.
pub async fn reset_password(request: &Ctx, db: &Db, token: &str, new_password: &str) -> Result<()> {
    let invalid = || {
        Error::Conflict {
        code: "reset_link_invalid",
        message: "This reset link does not work any more: it was used, it expired, or a newer one was sent. Ask for a new one.".into(),
        field: None,
    }
    };
    let (tenant_id, id, secret) = parse_reset_token(token).ok_or_else(invalid)?;
    let _slot = db.anonymous_slot().await?;
    // The client's throttle and the link before the hash: a bogus link costs a lookup.
    let keys: Vec<throttle::Key> = request.ip.map(throttle::Key::ip).into_iter().collect();
    let admitted = throttle::attempt(db.pool(), &keys).await?;
    let works = reset_link_works(db, tenant_id, id, &secret).await?;
    admitted.finish(works).await?;
    if !works {
        return Err(invalid());
    }
    let mut errors = Vec::new();
    validation::password("new_password", new_password, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let hash = passwords::hash(new_password.to_owned()).await?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let row = sqlx::query!(
        "select identity_id, token_hash, expires_at, used_at from password_resets
         where tenant_id = $1 and id = $2 for update",
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(invalid)?;
    let presented = crate::crypto::sha256(&secret);
    if !crate::crypto::constant_time_eq(&row.token_hash, &presented)
        || row.used_at.is_some()
        || row.expires_at <= time::OffsetDateTime::now_utc()
    {
        return Err(invalid());
    }
    let ctx = Ctx {
        principal: crate::Principal::System,
        ..request.clone()
    };
    let mut tx = crate::db::ChangeTx::wrap(tx, &ctx, tenant_id, db);
    let changed = sqlx::query!(
        "update identities set password_hash = $3, updated_at = now()
         where tenant_id = $1 and id = $2 and status = 'active'",
        tenant_id,
        row.identity_id,
        hash
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(invalid());
    }
    sqlx::query!(
        "update password_resets set used_at = now()
         where tenant_id = $1 and identity_id = $2 and used_at is null",
        tenant_id,
        row.identity_id
    )
    .execute(tx.conn())
    .await?;
    let (sessions_ended, refresh_tokens_revoked) =
        crate::sessions::end_sessions_of(tx.conn(), tenant_id, row.identity_id, None).await?;
    tx.record(Change {
        action: types::IDENTITY_PASSWORD_RESET,
        target_type: "identity",
        target_id: Some(row.identity_id),
        before: None,
        after: Some(shapes::to_value(shapes::SessionsEndedData {
            sessions_ended,
            refresh_tokens_revoked,
        })),
    })
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_tokens_round_trip() {
        let (t, i) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let s = crate::crypto::random_bytes::<32>();
        let token = format_reset_token(t, i, &s);
        assert!(token.starts_with("pr1."));
        assert_eq!(parse_reset_token(&token), Some((t, i, s)));
        assert_eq!(parse_reset_token("pr1.short"), None);
        assert_eq!(parse_reset_token(&token.replacen("pr1.", "iv1.", 1)), None);
    }
}
