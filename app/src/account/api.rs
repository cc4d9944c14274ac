//! Server functions of the Account page.

use leptos::prelude::*;

use super::model::AccountView;
use crate::error::AppError;

#[server(endpoint = "account/get")]
pub async fn get_account() -> Result<AccountView, AppError> {
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let caller = ctx.caller()?;
    // Listing needs sessions:read; without it the page still shows the profile.
    let sessions = match service::sessions::list(&ctx, &db, None).await {
        Ok(s) => s,
        Err(service::Error::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(AccountView {
        display_name: caller.display_name.clone(),
        email: caller.email.clone(),
        sessions: sessions
            .into_iter()
            .map(|s| super::model::SessionView {
                id: s.id.to_string(),
                device: s.device,
                ip: s.ip,
                created: crate::format::minute(s.created_at),
                last_seen: crate::format::minute(s.last_seen_at),
                current: s.current,
            })
            .collect(),
    })
}

#[server(endpoint = "account/profile")]
pub async fn save_profile(display_name: String) -> Result<(), AppError> {
    let submitted = [("display_name", display_name.as_str())];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let input = service::account::ProfileInput {
            display_name: Some(display_name.clone()),
        };
        service::account::update_profile(&ctx, &crate::server::db()?, input).await?;
        Ok("/account?saved=1".to_owned())
    }
    .await;
    crate::server::finish_form("save_profile", &submitted, result).await
}

#[server(endpoint = "account/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let input = service::account::PasswordChange {
            current_password,
            new_password,
        };
        let done = service::account::change_password(&ctx, &crate::server::db()?, input).await?;
        Ok(format!("/account?password=1&ended={}", done.sessions_ended))
    }
    .await;
    // Passwords are never sent back to the form.
    crate::server::finish_form("change_password", &[], result).await
}

#[server(endpoint = "account/revoke_session")]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| service::Error::NotFound {
            resource: "session",
        })?;
        service::sessions::revoke(&ctx, &crate::server::db()?, id).await?;
        Ok("/account?revoked=1".to_owned())
    }
    .await;
    crate::server::finish_form("sessions", &[], result).await
}

#[server(endpoint = "account/revoke_others")]
pub async fn revoke_other_sessions() -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let n = service::sessions::revoke_all(&ctx, &crate::server::db()?, None).await?;
        Ok(format!("/account?revoked={n}"))
    }
    .await;
    crate::server::finish_form("sessions", &[], result).await
}
