//! Server functions of the Groups screen.

use leptos::prelude::*;

use super::model::{GroupDetail, GroupsView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
fn uuid(raw: &str, what: &'static str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| service::Error::NotFound { resource: what }.into())
}

#[cfg(feature = "ssr")]
fn kinds() -> Vec<String> {
    service::groups::KINDS
        .iter()
        .map(|k| (*k).to_owned())
        .collect()
}

#[server(endpoint = "groups/list")]
pub async fn list_groups() -> Result<GroupsView, AppError> {
    let ctx = crate::server::ctx().await?;
    let groups = service::groups::list(&ctx, &crate::server::db()?).await?;
    Ok(GroupsView {
        groups: groups.into_iter().map(Into::into).collect(),
        kinds: kinds(),
    })
}

#[server(endpoint = "groups/get")]
pub async fn get_group(id: String) -> Result<GroupDetail, AppError> {
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let id = uuid(&id, "group")?;
    let group = service::groups::get(&ctx, &db, id).await?;
    let members = service::groups::members(&ctx, &db, id).await?;
    let all_groups = service::groups::list(&ctx, &db).await?;
    let all_roles = match service::roles::list(&ctx, &db).await {
        Ok(r) => r.into_iter().map(|r| r.name).collect(),
        Err(service::Error::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(GroupDetail {
        group: group.into(),
        members: members.into_iter().map(Into::into).collect(),
        all_groups: all_groups.into_iter().map(Into::into).collect(),
        all_roles,
        kinds: kinds(),
    })
}

/// Creates a group (no `id`) or changes one. `parent_id` empty: a root group.
#[server(endpoint = "groups/save")]
pub async fn save_group(
    id: Option<String>,
    name: String,
    kind: String,
    description: String,
    parent_id: String,
) -> Result<(), AppError> {
    let submitted = [
        ("name", name.as_str()),
        ("kind", kind.as_str()),
        ("description", description.as_str()),
        ("parent_id", parent_id.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let db = crate::server::db()?;
        let parent = match parent_id.trim() {
            "" => None,
            p => Some(uuid::Uuid::parse_str(p).map_err(|_| {
                AppError::from(service::Error::validation(
                    "parent_id",
                    "unknown_group",
                    "Choose a parent from the list.",
                ))
            })?),
        };
        let input = service::groups::GroupInput {
            name: Some(name.clone()),
            kind: Some(kind.clone()),
            description: Some(description.clone()),
            parent_id: Some(parent),
        };
        let group = match id.as_deref().filter(|i| !i.is_empty()) {
            None => service::groups::create(&ctx, &db, input).await?,
            Some(id) => service::groups::update(&ctx, &db, uuid(id, "group")?, input).await?,
        };
        Ok(format!("/groups/{}?saved=1", group.id))
    }
    .await;
    crate::server::finish_form("save_group", &submitted, result).await
}

#[server(endpoint = "groups/delete")]
pub async fn delete_group(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        service::groups::delete(&ctx, &crate::server::db()?, uuid(&id, "group")?).await?;
        Ok("/groups?deleted=1".to_owned())
    }
    .await;
    crate::server::finish_form("group_actions", &[], result).await
}

/// Adds the identity with this email to the group.
#[server(endpoint = "groups/add_member")]
pub async fn add_group_member(id: String, email: String) -> Result<(), AppError> {
    let submitted = [("email", email.as_str())];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let db = crate::server::db()?;
        let group = uuid(&id, "group")?;
        // The group first: another tenant's group is "not found" before anything else.
        service::groups::get(&ctx, &db, group).await?;
        let identity = match service::identities::find_by_email(&ctx, &db, &email).await {
            Err(service::Error::NotFound { .. }) => {
                return Err(service::Error::validation(
                    "email",
                    "unknown_identity",
                    "No identity has this email.",
                )
                .into());
            }
            other => other?,
        };
        service::groups::add_members(&ctx, &db, group, vec![identity.id]).await?;
        Ok(format!("/groups/{group}"))
    }
    .await;
    crate::server::finish_form("group_member", &submitted, result).await
}

#[server(endpoint = "groups/remove_member")]
pub async fn remove_group_member(id: String, identity_id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let group = uuid(&id, "group")?;
        service::groups::remove_member(
            &ctx,
            &crate::server::db()?,
            group,
            uuid(&identity_id, "membership")?,
        )
        .await?;
        Ok(format!("/groups/{group}"))
    }
    .await;
    crate::server::finish_form("group_actions", &[], result).await
}

/// Replaces the roles granted to the group (checkboxes `roles[i]`).
#[server(endpoint = "groups/set_roles")]
pub async fn set_group_roles(id: String, roles: Option<Vec<String>>) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let group = uuid(&id, "group")?;
        service::groups::set_roles(
            &ctx,
            &crate::server::db()?,
            group,
            roles.unwrap_or_default(),
        )
        .await?;
        Ok(format!("/groups/{group}"))
    }
    .await;
    crate::server::finish_form("group_actions", &[], result).await
}
