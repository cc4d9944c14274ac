//! Server functions of the Invitations screen and of the accept page.

use leptos::prelude::*;

use super::forms::{AcceptForm, InvitationForm};
use super::model::{InvitationsView, InvitePreview};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, object_id};

#[server(endpoint = "invitations/list")]
pub async fn list_invitations() -> Result<InvitationsView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let invitations = service::invitations::list(&ctx, &db, Default::default()).await?;
    let roles = crate::server::unless_forbidden(service::roles::list(&ctx, &db).await)?;
    let outbox = service::mail::outbox(&ctx, &db, 20).await?;
    Ok(InvitationsView::new(invitations, roles, outbox))
}

#[server(endpoint = "invitations/create")]
pub async fn create_invitation(#[server(flatten)] form: InvitationForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let invitation = crate::server::input(&ctx, "invitations", form.clone())?;
        service::invitations::create(&ctx, &db, invitation).await?;
        Ok("/invitations?sent=1".to_owned())
    };
    crate::server::finish("create_invitation", &form, result.await).await
}

#[server(endpoint = "invitations/resend")]
pub async fn resend_invitation(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::invitations::resend(&ctx, &db, object_id(&id, "invitation")?).await?;
        Ok("/invitations?resent=1".to_owned())
    }
    .await;
    crate::server::finish_form("invitation_actions", &[], result).await
}

#[server(endpoint = "invitations/revoke")]
pub async fn revoke_invitation(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::invitations::revoke(&ctx, &db, object_id(&id, "invitation")?).await?;
        Ok("/invitations?revoked=1".to_owned())
    }
    .await;
    crate::server::finish_form("invitation_actions", &[], result).await
}

/// What the accept page shows; any visitor holding the link may ask.
#[server(endpoint = "invite/preview")]
pub async fn preview_invitation(token: String) -> Result<InvitePreview, AppError> {
    let db = db()?;
    let flash = crate::server::take_flash().await;
    match service::invitations::validate(&db, &token).await {
        Ok(preview) => {
            let pending = preview.status == service::invitations::Status::Pending;
            let sso = if pending {
                service::sso::sign_in_options(&db, &preview.tenant_slug).await?
            } else {
                Vec::new()
            };
            let mut view = InvitePreview::new(preview, flash);
            view.sso = sso.into_iter().map(Into::into).collect();
            Ok(view)
        }
        Err(service::Error::NotFound { .. }) => Ok(InvitePreview::invalid(flash)),
        Err(e) => Err(e.into()),
    }
}

/// Accepts the invitation and signs the new member in to the console.
#[server(endpoint = "invite/accept")]
pub async fn accept_invitation(#[server(flatten)] form: AcceptForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = crate::server::any_ctx().await?;
        let caller = service::invitations::accept(&ctx, &db, form.clone().into()).await?;
        crate::server::start_session(&ctx, &caller).await?;
        tracing::info!(tenant = %caller.tenant_slug, identity = %caller.identity_id, "invitation accepted");
        Ok("/identities?welcome=1".to_owned())
    };
    crate::server::finish("accept_invitation", &form, result.await).await
}
