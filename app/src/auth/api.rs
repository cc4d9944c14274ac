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
    let current = ctx.caller()?.tenant_id.to_string();
    let signins = crate::server::signins(&crate::server::session().await?).await;
    user.other_tenants = (signins.unwrap_or_default().into_iter())
        .filter(|s| s.tenant_id != current)
        .map(|s| (s.tenant_id, s.tenant_name))
        .collect();
    Ok(Some(user))
}

/// Switches the console to another tenant this browser signed in to. The identity there
/// must still be active; a tenant not signed in to is "not found".
#[server(endpoint = "auth/switch_tenant")]
pub async fn switch_tenant(tenant: String) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let session = crate::server::session().await?;
        let caller = crate::server::standing_signin(&session, &db, &tenant).await?;
        crate::server::act_as(&session, &caller).await?;
        tracing::info!(from = %ctx.caller()?.tenant_slug, to = %caller.tenant_slug, "tenant switched");
        Ok("/identities".to_owned())
    };
    crate::server::finish_form("switch_tenant", &[], result.await).await
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
pub async fn login(#[server(flatten)] form: super::forms::LoginForm) -> Result<(), AppError> {
    use service::ctx::AuthMethod;
    let (db, ctx) = (crate::server::db()?, crate::server::any_ctx().await?);
    let result = async {
        let caller = service::auth::login(&db, &ctx, form.clone().into(), AuthMethod::Session);
        let caller = caller.await?;
        crate::server::start_session_keeping(&ctx, &caller, form.adding()).await?;
        tracing::info!(tenant = %caller.tenant_slug, identity = %caller.identity_id, "console sign-in");
        Ok(safe_next(form.next.as_deref()))
    };
    crate::server::finish("login", &form, result.await).await
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
