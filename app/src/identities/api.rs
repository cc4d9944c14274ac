//! Server functions of the Identities screen: each turns its form into a service call and
//! the result into wire types. No rule and no SQL here; forms are read in `forms`.

use leptos::prelude::*;

use super::forms::{EditIdentityForm, IdentityQuery, NewIdentityForm};
use super::model::{
    ExportStartedView, ExportView, IdentityChoice, IdentityDetail, IdentityPageView,
};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, input, object_id, unless_forbidden};

#[server(endpoint = "identities/list")]
pub async fn list_identities(
    #[server(flatten)] query: IdentityQuery,
) -> Result<IdentityPageView, AppError> {
    let ctx = ctx().await?;
    let query = crate::server::query(&ctx, "identities", query)?;
    let page = service::identities::list(&ctx, &db()?, query).await?;
    Ok(page.into())
}

#[server(endpoint = "identities/get")]
pub async fn get_identity(id: String) -> Result<IdentityDetail, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    identity_page(&ctx, &db, object_id(&id, "identity")?).await
}

/// An identity with what the caller may see around it. The extras (history, roles, keys,
/// memories) are left out for an admin who may read the identity but not them.
#[cfg(feature = "ssr")]
async fn identity_page(
    ctx: &service::Ctx,
    db: &service::Db,
    id: uuid::Uuid,
) -> Result<IdentityDetail, AppError> {
    let identity = service::identities::get(ctx, db, id).await?;
    let history = service::audit_log::for_target(ctx, db, "identity", id);
    let activity = unless_forbidden(history.await)?;
    let roles = unless_forbidden(service::roles::list(ctx, db).await)?;
    let keys = service::api_keys::ListQuery {
        all: false,
        identity_id: Some(id),
    };
    let keys = unless_forbidden(service::api_keys::list(ctx, db, keys).await)?;
    let memories = crate::memories::api::memories_of(ctx, db, id).await;
    Ok(IdentityDetail::new(
        identity, activity, roles, keys, memories,
    ))
}

/// Revokes every API key that acts for the identity and still works.
#[server(endpoint = "identities/revoke_keys")]
pub async fn revoke_identity_keys(id: String) -> Result<(), AppError> {
    let ctx = ctx().await?;
    let uuid = object_id(&id, "identity")?;
    let result = service::api_keys::revoke_all_of(&ctx, &db()?, uuid).await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

#[server(endpoint = "identities/create")]
pub async fn create_identity(#[server(flatten)] form: NewIdentityForm) -> Result<(), AppError> {
    let result = async {
        let ctx = ctx().await?;
        let new = input(&ctx, "identities", form.clone())?;
        let identity = service::identities::create(&ctx, &db()?, new).await?;
        Ok(format!("/identities/{}", identity.id))
    };
    crate::server::finish("create_identity", &form, result.await).await
}

#[server(endpoint = "identities/update")]
pub async fn update_identity(#[server(flatten)] form: EditIdentityForm) -> Result<(), AppError> {
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&form.id, "identity")?;
        let patch = input(&ctx, "identities", form.clone())?;
        let identity = service::identities::update(&ctx, &db()?, id, patch).await?;
        Ok(format!("/identities/{}", identity.id))
    };
    crate::server::finish("update_identity", &form, result.await).await
}

/// Replaces the roles the identity holds directly (checkboxes named `roles[i]`; none
/// checked sends no `roles` at all).
#[server(endpoint = "identities/set_roles")]
pub async fn set_identity_roles(id: String, roles: Option<Vec<String>>) -> Result<(), AppError> {
    let ctx = ctx().await?;
    let uuid = object_id(&id, "identity")?;
    let roles = roles.unwrap_or_default();
    let result = service::roles::set_identity_roles(&ctx, &db()?, uuid, roles).await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

/// `status` is `active` (enable) or `disabled` (disable).
#[server(endpoint = "identities/set_status")]
pub async fn set_identity_status(id: String, status: String) -> Result<(), AppError> {
    let ctx = ctx().await?;
    let uuid = object_id(&id, "identity")?;
    let disabled = input(&ctx, "identities", super::forms::Switch(status))?;
    let result = service::identities::set_disabled(&ctx, &db()?, uuid, disabled).await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

/// `mode` is `trash` (restorable) or `purge` (gone for good).
#[server(endpoint = "identities/delete")]
pub async fn delete_identity(id: String, mode: String) -> Result<(), AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let uuid = object_id(&id, "identity")?;
    let (result, next) = if mode == "purge" {
        let result = service::identities::hard_delete(&ctx, &db, uuid).await;
        (result, "/identities?status=deleted&done=purged")
    } else {
        let result = service::identities::soft_delete(&ctx, &db, uuid).await;
        (result.map(|_| ()), "/identities?done=deleted")
    };
    let page = format!("/identities/{id}");
    crate::server::finish_action("identity_actions", result, next, &page).await
}

#[server(endpoint = "identities/restore")]
pub async fn restore_identity(id: String) -> Result<(), AppError> {
    let ctx = ctx().await?;
    let uuid = object_id(&id, "identity")?;
    let result = service::identities::restore(&ctx, &db()?, uuid).await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

/// Erases the identity (see `service::privacy::erase`); `confirm` is its email as typed.
#[server(endpoint = "identities/erase")]
pub async fn erase_identity(id: String, confirm: String) -> Result<(), AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let uuid = object_id(&id, "identity")?;
    let result = service::privacy::erase::erase(&ctx, &db, uuid, Some(&confirm)).await;
    let back = format!("/identities/{id}?confirm=erase");
    crate::server::finish_action(
        "erase_identity",
        result.map(|_| ()),
        "/identities?done=erased",
        &back,
    )
    .await
}

/// Starts an export of everything held about the identity; the page follows its progress.
#[server(endpoint = "identities/export")]
pub async fn export_identity(id: String) -> Result<ExportStartedView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let uuid = object_id(&id, "identity")?;
    let started = service::privacy::export::start(&ctx, &db, uuid).await?;
    Ok(ExportStartedView {
        id: started.export.id.to_string(),
        link: started.link,
    })
}

/// How an export is coming along.
#[server(endpoint = "identities/export_status")]
pub async fn export_status(id: String) -> Result<ExportView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let uuid = object_id(&id, "export")?;
    Ok(service::privacy::export::get(&ctx, &db, uuid).await?.into())
}

/// Back to the identity's page, also after a failure.
#[cfg(feature = "ssr")]
async fn finish_action(
    form: &str,
    id: &str,
    result: Result<(), service::Error>,
) -> Result<(), AppError> {
    let page = format!("/identities/{id}");
    crate::server::finish_action(form, result, &page, &page).await
}

/// Identities to pick from (the first 200); none for an admin who may not read identities
/// (an id can still be pasted).
#[server(endpoint = "identities/choices")]
pub async fn identity_choices() -> Result<Vec<IdentityChoice>, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let query = service::identities::ListQuery {
        limit: Some(200),
        ..Default::default()
    };
    let page = unless_forbidden(service::identities::list(&ctx, &db, query).await)?;
    Ok(page.map_or_else(Vec::new, |p| p.items.into_iter().map(Into::into).collect()))
}
