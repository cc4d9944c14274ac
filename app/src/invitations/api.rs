//! Server functions of the Invitations screen and of the accept page.

use leptos::prelude::*;

use super::model::{InvitationsView, InvitePreview};
use crate::error::AppError;

#[cfg(feature = "ssr")]
fn uuid(raw: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw.trim()).map_err(|_| {
        service::Error::NotFound {
            resource: "invitation",
        }
        .into()
    })
}

#[server(endpoint = "invitations/list")]
pub async fn list_invitations() -> Result<InvitationsView, AppError> {
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let invitations = service::invitations::list(&ctx, &db, Default::default()).await?;
    let roles = match service::roles::list(&ctx, &db).await {
        Ok(r) => r.into_iter().map(|r| r.name).collect(),
        Err(service::Error::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let outbox = service::mail::outbox(&ctx, &db, 20).await?;
    Ok(InvitationsView {
        invitations: invitations
            .into_iter()
            .map(|i| super::model::InvitationView {
                id: i.id.to_string(),
                email: i.email,
                roles: i.roles,
                status: i.status.as_str().to_owned(),
                inviter: i.inviter_name,
                sent: crate::format::minute(i.last_sent_at),
                sent_count: i.sent_count,
                expires: crate::format::minute(i.expires_at),
            })
            .collect(),
        roles,
        outbox: outbox
            .into_iter()
            .map(|m| super::model::MailView {
                to: m.to,
                subject: m.subject,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
                queued: crate::format::minute(m.created_at),
                link: m.link_path,
            })
            .collect(),
    })
}

#[server(endpoint = "invitations/create")]
pub async fn create_invitation(
    email: String,
    roles: Option<Vec<String>>,
    message: String,
    expires_in_days: String,
) -> Result<(), AppError> {
    let submitted = [
        ("email", email.as_str()),
        ("message", message.as_str()),
        ("expires_in_days", expires_in_days.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let days = expires_in_days.trim().parse::<u32>().map_err(|_| {
            AppError::from(service::Error::validation(
                "expires_in_days",
                "invalid_value",
                "Choose an expiry from the list.",
            ))
        })?;
        let input = service::invitations::NewInvitation {
            email: email.clone(),
            roles: Some(roles.unwrap_or_default()).filter(|r| !r.is_empty()),
            group_ids: Vec::new(),
            message: message.clone(),
            expires_in_days: Some(days),
        };
        service::invitations::create(&ctx, &crate::server::db()?, input).await?;
        Ok("/invitations?sent=1".to_owned())
    }
    .await;
    crate::server::finish_form("create_invitation", &submitted, result).await
}

#[server(endpoint = "invitations/resend")]
pub async fn resend_invitation(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        service::invitations::resend(&ctx, &crate::server::db()?, uuid(&id)?).await?;
        Ok("/invitations?resent=1".to_owned())
    }
    .await;
    crate::server::finish_form("invitation_actions", &[], result).await
}

#[server(endpoint = "invitations/revoke")]
pub async fn revoke_invitation(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        service::invitations::revoke(&ctx, &crate::server::db()?, uuid(&id)?).await?;
        Ok("/invitations?revoked=1".to_owned())
    }
    .await;
    crate::server::finish_form("invitation_actions", &[], result).await
}

/// What the accept page shows; any visitor holding the link may ask.
#[server(endpoint = "invite/preview")]
pub async fn preview_invitation(token: String) -> Result<InvitePreview, AppError> {
    let flash = crate::server::take_flash().await;
    match service::invitations::validate(&crate::server::db()?, &token).await {
        Ok(p) => Ok(InvitePreview {
            status: p.status.as_str().to_owned(),
            tenant_name: p.tenant_name,
            tenant: p.tenant_slug,
            email: p.email,
            inviter: p.inviter_name,
            roles: p.roles,
            expires: crate::format::minute(p.expires_at),
            flash,
        }),
        Err(service::Error::NotFound { .. }) => Ok(InvitePreview {
            status: "invalid".into(),
            tenant_name: String::new(),
            tenant: String::new(),
            email: String::new(),
            inviter: None,
            roles: Vec::new(),
            expires: String::new(),
            flash,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Accepts the invitation and signs the new member in to the console.
#[server(endpoint = "invite/accept")]
pub async fn accept_invitation(
    token: String,
    display_name: String,
    password: String,
) -> Result<(), AppError> {
    let submitted = [("display_name", display_name.as_str())];
    let result = async {
        let ctx = crate::server::any_ctx().await?;
        let input = service::invitations::Acceptance {
            token,
            display_name: display_name.clone(),
            password,
        };
        let caller = service::invitations::accept(&ctx, &crate::server::db()?, input).await?;
        crate::server::start_session(&ctx, &caller).await?;
        tracing::info!(tenant = %caller.tenant_slug, identity = %caller.identity_id, "invitation accepted");
        Ok("/identities?welcome=1".to_owned())
    }
    .await;
    crate::server::finish_form("accept_invitation", &submitted, result).await
}
