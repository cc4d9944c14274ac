//! Server functions of the Groups screen: each turns its form into a service call and the
//! result into wire types; forms are read in `forms`.

use leptos::prelude::*;

use super::forms::GroupForm;
use super::model::{GroupDetail, GroupsView};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, finish_form, object_id};

#[server(endpoint = "groups/list")]
pub async fn list_groups() -> Result<GroupsView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let groups = service::groups::list(&ctx, &db).await?;
    let groups = groups.into_iter().map(Into::into).collect();
    Ok(GroupsView {
        groups,
        kinds: super::model::kinds(),
    })
}

#[server(endpoint = "groups/get")]
pub async fn get_group(id: String) -> Result<GroupDetail, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let id = object_id(&id, "group")?;
    let group = service::groups::get(&ctx, &db, id).await?;
    let members = service::groups::members(&ctx, &db, id).await?;
    let all_groups = service::groups::list(&ctx, &db).await?;
    let roles = crate::server::unless_forbidden(service::roles::list(&ctx, &db).await)?;
    Ok(GroupDetail::new(group, members, all_groups, roles))
}

/// Creates a group (no `id`) or changes one.
#[server(endpoint = "groups/save")]
pub async fn save_group(#[server(flatten)] form: GroupForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let group = crate::server::input(&ctx, "groups", form.clone())?;
        let group = match form.id.trim() {
            "" => service::groups::create(&ctx, &db, group).await?,
            id => service::groups::update(&ctx, &db, object_id(id, "group")?, group).await?,
        };
        Ok(format!("/groups/{}?saved=1", group.id))
    };
    crate::server::finish("save_group", &form, result.await).await
}

#[server(endpoint = "groups/delete")]
pub async fn delete_group(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::groups::delete(&ctx, &db, object_id(&id, "group")?).await?;
        Ok("/groups?deleted=1".to_owned())
    };
    finish_form("group_actions", &[], result.await).await
}

/// Adds the identity with this email to the group.
#[server(endpoint = "groups/add_member")]
pub async fn add_group_member(id: String, email: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let group = object_id(&id, "group")?;
        // The group first: another tenant's group is "not found" before anything else.
        service::groups::get(&ctx, &db, group).await?;
        let member = service::identities::id_by_email(&ctx, &db, "email", &email).await?;
        service::groups::add_members(&ctx, &db, group, vec![member]).await?;
        Ok(format!("/groups/{group}"))
    };
    finish_form("group_member", &[("email", email.as_str())], result.await).await
}

#[server(endpoint = "groups/remove_member")]
pub async fn remove_group_member(id: String, identity_id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let group = object_id(&id, "group")?;
        let member = object_id(&identity_id, "membership")?;
        service::groups::remove_member(&ctx, &db, group, member).await?;
        Ok(format!("/groups/{group}"))
    };
    finish_form("group_actions", &[], result.await).await
}

/// Replaces the roles granted to the group (checkboxes `roles[i]`).
#[server(endpoint = "groups/set_roles")]
pub async fn set_group_roles(id: String, roles: Option<Vec<String>>) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let group = object_id(&id, "group")?;
        service::groups::set_roles(&ctx, &db, group, roles.unwrap_or_default()).await?;
        Ok(format!("/groups/{group}"))
    };
    finish_form("group_actions", &[], result.await).await
}
