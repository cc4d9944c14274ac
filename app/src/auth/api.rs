//! Server functions for signing in and out.

use leptos::prelude::*;

use super::model::{PageState, UserView};
use crate::error::AppError;

/// The signed-in admin, or `None` for an anonymous visitor.
#[server(endpoint = "auth/me")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    let ctx = crate::server::any_ctx().await?;
    let Some(mut user) = UserView::from_ctx(&ctx) else {
        return Ok(None);
    };
    let session = crate::server::session().await?;
    let signins: Vec<super::model::SignIn> = session
        .get(crate::server::SIGNINS_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let current = ctx.caller()?.tenant_id.to_string();
    user.other_tenants = signins
        .into_iter()
        .filter(|s| s.tenant_id != current)
        .map(|s| (s.tenant_id, s.tenant_name))
        .collect();
    Ok(Some(user))
}

/// Switches the console to another tenant this browser signed in to. The identity there
/// must still be active; a tenant not signed in to is "not found".
#[server(endpoint = "auth/switch_tenant")]
pub async fn switch_tenant(tenant: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let session = crate::server::session().await?;
        let internal = |e: tower_sessions::session::Error| {
            AppError::from(service::Error::internal("session", e))
        };
        let signins: Vec<super::model::SignIn> = session
            .get(crate::server::SIGNINS_KEY)
            .await
            .map_err(internal)?
            .unwrap_or_default();
        let not_found = || AppError::from(service::Error::NotFound { resource: "tenant" });
        let target = signins
            .iter()
            .find(|s| s.tenant_id == tenant.trim())
            .ok_or_else(not_found)?;
        let (tenant_id, identity_id) = (
            uuid::Uuid::parse_str(&target.tenant_id).map_err(|_| not_found())?,
            uuid::Uuid::parse_str(&target.identity_id).map_err(|_| not_found())?,
        );
        let db = crate::server::db()?;
        // The sign-in must still stand: nothing ended that identity's sessions since.
        let signed_in_at = target.signed_in_at.as_deref().and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        });
        if !service::sessions::sign_in_stands(&db, tenant_id, identity_id, signed_in_at).await? {
            let rest: Vec<_> = signins
                .iter()
                .filter(|s| s.tenant_id != target.tenant_id)
                .cloned()
                .collect();
            session
                .insert(crate::server::SIGNINS_KEY, rest)
                .await
                .map_err(internal)?;
            return Err(AppError::from(service::Error::Unauthenticated));
        }
        let caller = service::auth::load_caller(
            &db,
            tenant_id,
            identity_id,
            service::ctx::AuthMethod::Session,
        )
        .await?
        .ok_or_else(|| AppError::from(service::Error::Unauthenticated))?;
        crate::server::act_as(&session, &caller).await?;
        tracing::info!(from = %ctx.caller()?.tenant_slug, to = %caller.tenant_slug, "tenant switched");
        Ok("/identities".to_owned())
    }
    .await;
    crate::server::finish_form("switch_tenant", &[], result).await
}

/// What every page frame needs first: who is signed in, and the failed plain-form
/// submission (if any) to show on this page view.
#[server(endpoint = "console/state")]
pub async fn console_state() -> Result<PageState, AppError> {
    let user = current_user().await?;
    Ok(PageState {
        user,
        flash: crate::server::take_flash().await,
    })
}

/// Password sign-in. On success the session id is rotated (no fixation) and the browser
/// goes to `next` (a local path) or the identities screen.
#[server(endpoint = "auth/login")]
pub async fn login(
    tenant: String,
    email: String,
    password: String,
    next: Option<String>,
    add: Option<String>,
) -> Result<(), AppError> {
    use service::auth::{LoginInput, login};
    use service::ctx::AuthMethod;

    let ctx = crate::server::any_ctx().await?;
    let db = crate::server::db()?;
    let input = LoginInput {
        tenant: tenant.clone(),
        email: email.clone(),
        password,
    };
    let caller = match login(&db, &ctx, input, AuthMethod::Session).await {
        Ok(c) => c,
        Err(e) => {
            let err = AppError::from(e);
            crate::server::flash_failure("login", &err, &[("tenant", &tenant), ("email", &email)])
                .await;
            return Err(err);
        }
    };
    let adding = add.as_deref().is_some_and(|a| !a.is_empty());
    crate::server::start_session_keeping(&ctx, &caller, adding).await?;
    tracing::info!(tenant = %caller.tenant_slug, identity = %caller.identity_id, "console sign-in");
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Only local paths: an open redirect would let a link on another site send a freshly
/// signed-in admin anywhere. Control characters and backslashes are refused outright
/// (browsers drop tabs and newlines from URLs, turning `/\t/evil` into `//evil`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/login")
                && n.len() <= 512
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/identities".to_owned(),
    }
}

#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    let session = crate::server::session().await?;
    session
        .flush()
        .await
        .map_err(|e| AppError::from(service::Error::internal("session", e)))?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_be_local() {
        assert_eq!(safe_next(Some("/identities/abc")), "/identities/abc");
        for bad in [
            None,
            Some("https://evil.example"),
            Some("//evil.example"),
            Some("/\\evil"),
            Some("/\t/evil.example"),
            Some("/\n/evil.example"),
            Some("/ /x"),
            Some("/login"),
        ] {
            assert_eq!(safe_next(bad), "/identities");
        }
    }
}

/// Asks for a password reset link; the answer never says whether the account exists.
#[server(endpoint = "auth/forgot")]
pub async fn forgot_password(tenant: String, email: String) -> Result<(), AppError> {
    let submitted = [("tenant", tenant.as_str()), ("email", email.as_str())];
    let result = async {
        let ctx = crate::server::any_ctx().await?;
        service::account::request_password_reset(&ctx, &crate::server::db()?, &tenant, &email)
            .await?;
        Ok(format!(
            "/forgot-password?sent=1&tenant={}",
            tenant.trim().to_lowercase()
        ))
    }
    .await;
    crate::server::finish_form("forgot_password", &submitted, result).await
}

/// Sets a new password with a reset link, then sends the browser to sign in.
#[server(endpoint = "auth/reset")]
pub async fn reset_password(token: String, new_password: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::any_ctx().await?;
        service::account::reset_password(&ctx, &crate::server::db()?, &token, &new_password)
            .await?;
        Ok("/login?reset=1".to_owned())
    }
    .await;
    crate::server::finish_form("reset_password", &[], result).await
}
