//! Server functions of the Roles screen.

use leptos::prelude::*;

use super::forms::RoleForm;
use super::model::RolesPage;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{input, object_id};

#[server(endpoint = "roles/list")]
pub async fn list_roles() -> Result<RolesPage, AppError> {
    let (db, ctx) = (crate::server::db()?, crate::server::ctx().await?);
    let roles = service::roles::list(&ctx, &db).await?;
    Ok(RolesPage {
        roles: roles.into_iter().map(Into::into).collect(),
        catalogue: super::model::catalogue(),
    })
}

/// Creates a role (no `id`) or changes one.
#[server(endpoint = "roles/save")]
pub async fn save_role(#[server(flatten)] form: RoleForm) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let role = match form.id.trim() {
            "" => service::roles::create(&ctx, &db, input(&ctx, "roles", form.clone())?).await?,
            id => {
                let id = object_id(id, "role")?;
                service::roles::update(&ctx, &db, id, input(&ctx, "roles", form.clone())?).await?
            }
        };
        Ok(format!("/roles/{}?saved=1", role.id))
    };
    crate::server::finish("save_role", &form, result.await).await
}

#[server(endpoint = "roles/delete")]
pub async fn delete_role(id: String) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let id = object_id(&id, "role")?;
        service::roles::delete(&ctx, &db, id).await?;
        Ok("/roles?deleted=1".to_owned())
    };
    crate::server::finish_form("save_role", &[], result.await).await
}
