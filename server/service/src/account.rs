//! Self-service: what signed-in people change about themselves (their profile and their
//! password), with no permission beyond being themselves. An API key acts for a person but
//! is not them, so it cannot do either.

use crate::auth::{passwords, throttle};
use crate::ctx::{Caller, Ctx};
use crate::db::{Change, Db};
use crate::error::{Error, FieldError, Result};
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
    let before = identities::fetch(tx.conn(), caller.tenant_id, caller.identity_id).await?;
    let Some(display_name) = display_name.filter(|d| *d != before.display_name) else {
        return Ok(before);
    };
    sqlx::query!(
        "update identities set display_name = $3, updated_at = now() where tenant_id = $1 and id = $2",
        caller.tenant_id,
        caller.identity_id,
        display_name
    )
    .execute(tx.conn())
    .await?;
    let after = identities::fetch(tx.conn(), caller.tenant_id, caller.identity_id).await?;
    tx.record(Change {
        action: "identity.updated",
        target_type: "identity",
        target_id: Some(caller.identity_id),
        before: Some(serde_json::json!({"display_name": before.display_name})),
        after: Some(serde_json::json!({"display_name": after.display_name})),
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
    throttle::attempt(db.pool(), std::slice::from_ref(&account)).await?;
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
    throttle::finish(db.pool(), &account, &[], ok).await?;
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
        action: "identity.password_changed",
        target_type: "identity",
        target_id: Some(caller.identity_id),
        before: None,
        after: Some(serde_json::json!({
            "sessions_ended": sessions_ended,
            "refresh_tokens_revoked": refresh_tokens_revoked,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(PasswordChanged {
        sessions_ended,
        refresh_tokens_revoked,
    })
}
