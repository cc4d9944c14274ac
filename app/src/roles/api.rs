//! Server functions of the Roles screen.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::model::RolesPage;
use crate::error::AppError;

#[server(endpoint = "roles/list")]
pub async fn list_roles() -> Result<RolesPage, AppError> {
    let ctx = crate::server::ctx().await?;
    let roles = service::roles::list(&ctx, &crate::server::db()?).await?;
    Ok(RolesPage {
        roles: roles.into_iter().map(Into::into).collect(),
        catalogue: super::model::catalogue(),
    })
}

#[cfg(feature = "ssr")]
fn effects(
    permissions: Option<BTreeMap<String, String>>,
) -> Result<Vec<(String, service::authz::engine::Effect)>, AppError> {
    use service::authz::engine::Effect;
    permissions
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(p, e)| match Effect::parse(&e) {
            Some(effect) => Ok((p, effect)),
            None => Err(service::Error::validation(
                "permissions",
                "invalid_effect",
                format!("{p}: choose allow or deny"),
            )
            .into()),
        })
        .collect()
}

/// Creates a role (no `id`) or changes one; the matrix posts `permissions[module:action]`.
#[server(endpoint = "roles/save")]
pub async fn save_role(
    id: Option<String>,
    name: String,
    description: String,
    permissions: Option<BTreeMap<String, String>>,
) -> Result<(), AppError> {
    let submitted = [
        ("name", name.as_str()),
        ("description", description.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let db = crate::server::db()?;
        let permissions = effects(permissions)?;
        let role = match id.as_deref().filter(|i| !i.is_empty()) {
            None => {
                service::roles::create(
                    &ctx,
                    &db,
                    service::roles::RoleInput {
                        name: name.clone(),
                        description: description.clone(),
                        permissions,
                    },
                )
                .await?
            }
            Some(id) => {
                let id = uuid::Uuid::parse_str(id)
                    .map_err(|_| AppError::from(service::Error::NotFound { resource: "role" }))?;
                let patch = service::roles::RolePatch {
                    name: Some(name.clone()),
                    description: Some(description.clone()),
                    permissions: Some(permissions),
                };
                service::roles::update(&ctx, &db, id, patch).await?
            }
        };
        Ok(format!("/roles/{}?saved=1", role.id))
    }
    .await;
    crate::server::finish_form("save_role", &submitted, result).await
}

#[server(endpoint = "roles/delete")]
pub async fn delete_role(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| AppError::from(service::Error::NotFound { resource: "role" }))?;
        service::roles::delete(&ctx, &crate::server::db()?, id).await?;
        Ok("/roles?deleted=1".to_owned())
    }
    .await;
    crate::server::finish_form("save_role", &[], result).await
}
