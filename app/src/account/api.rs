//! Server functions of the Account page.

use leptos::prelude::*;

use super::model::AccountView;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, object_id, unless_forbidden};

#[server(endpoint = "account/get")]
pub async fn get_account() -> Result<AccountView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    // Listing needs sessions:read; without it the page still shows the profile.
    let sessions = unless_forbidden(service::sessions::list(&ctx, &db, None).await)?;
    Ok(AccountView::new(
        ctx.caller()?,
        sessions.unwrap_or_default(),
    ))
}

#[server(endpoint = "account/profile")]
pub async fn save_profile(display_name: String) -> Result<(), AppError> {
    let db = db()?;
    let submitted = [("display_name", display_name.as_str())];
    let result = async {
        let ctx = ctx().await?;
        let display_name = Some(display_name.clone());
        let profile = service::account::ProfileInput { display_name };
        service::account::update_profile(&ctx, &db, profile).await?;
        Ok("/account?saved=1".to_owned())
    };
    crate::server::finish_form("save_profile", &submitted, result.await).await
}

/// `current_password` and `new_password`; neither is ever sent back to the form.
#[server(endpoint = "account/password")]
pub async fn change_password(
    #[server(flatten)] form: super::model::PasswordForm,
) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let done = service::account::change_password(&ctx, &db, form.into()).await?;
        Ok(format!("/account?password=1&ended={}", done.sessions_ended))
    };
    crate::server::finish_form("change_password", &[], result.await).await
}

#[server(endpoint = "account/revoke_session")]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::sessions::revoke(&ctx, &db, object_id(&id, "session")?).await?;
        Ok("/account?revoked=1".to_owned())
    };
    crate::server::finish_form("sessions", &[], result.await).await
}

#[server(endpoint = "account/revoke_others")]
pub async fn revoke_other_sessions() -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let n = service::sessions::revoke_all(&ctx, &db, None).await?;
        Ok(format!("/account?revoked={n}"))
    };
    crate::server::finish_form("sessions", &[], result.await).await
}
