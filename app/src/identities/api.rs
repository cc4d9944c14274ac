//! Server functions of the Identities screen: each turns its arguments into a service call
//! and the result into wire types. No rule and no SQL here.

use leptos::prelude::*;

use super::model::{IdentityChoice, IdentityDetail, IdentityPageView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
fn parse_id(id: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(id).map_err(|_| {
        service::Error::NotFound {
            resource: "identity",
        }
        .into()
    })
}

#[cfg(feature = "ssr")]
fn parse_metadata(raw: &str) -> Result<Option<serde_json::Value>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Some(serde_json::json!({})));
    }
    serde_json::from_str(raw).map(Some).map_err(|e| {
        service::Error::validation(
            "metadata",
            "invalid_json",
            format!("Metadata must be valid JSON: {e}"),
        )
        .into()
    })
}

#[server(endpoint = "identities/list")]
pub async fn list_identities(
    q: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
) -> Result<IdentityPageView, AppError> {
    use service::identities::{ListQuery, StatusFilter};
    let ctx = crate::server::ctx().await?;
    let status = StatusFilter::parse(status.as_deref().unwrap_or("")).ok_or_else(|| {
        AppError::from(service::Error::validation(
            "status",
            "invalid_value",
            "Unknown status filter.",
        ))
    })?;
    let page = service::identities::list(
        &ctx,
        &crate::server::db()?,
        ListQuery {
            q,
            status,
            kind: None,
            limit: Some(25),
            cursor: cursor.filter(|c| !c.is_empty()),
        },
    )
    .await?;
    Ok(IdentityPageView {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
}

#[server(endpoint = "identities/get")]
pub async fn get_identity(id: String) -> Result<IdentityDetail, AppError> {
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let id = parse_id(&id)?;
    let identity = service::identities::get(&ctx, &db, id).await?;
    // The history and the role list are extras: an admin who may read the identity but
    // not the audit trail or the roles still sees the identity.
    let activity = match service::audit_log::for_target(&ctx, &db, "identity", id).await {
        Ok(records) => records.into_iter().take(20).map(Into::into).collect(),
        Err(service::Error::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let all_roles = match service::roles::list(&ctx, &db).await {
        Ok(roles) => roles.into_iter().map(|r| r.name).collect(),
        Err(service::Error::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    // Its keys, for the offer to revoke them: for those the service lets see them.
    let query = service::api_keys::ListQuery {
        all: false,
        identity_id: Some(id),
    };
    let active_keys = match service::api_keys::list(&ctx, &db, query).await {
        Ok(keys) => Some(
            keys.iter()
                .filter(|k| k.status == service::api_keys::Status::Active)
                .count(),
        ),
        Err(service::Error::Forbidden { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let memories = match crate::memories::api::list_memories(
        Some("live".to_owned()),
        Some(id.to_string()),
        None,
        None,
        Some(10),
    )
    .await
    {
        Ok(page) => Some(Ok(page.items)),
        Err(e) if e.kind() == crate::error::ErrorKind::Forbidden => None,
        Err(e) => Some(Err(e)),
    };
    Ok(IdentityDetail {
        identity: identity.into(),
        activity,
        all_roles,
        active_keys,
        memories,
    })
}

/// Revokes every API key that acts for the identity and still works.
#[server(endpoint = "identities/revoke_keys")]
pub async fn revoke_identity_keys(id: String) -> Result<(), AppError> {
    let ctx = crate::server::ctx().await?;
    let result =
        service::api_keys::revoke_all_of(&ctx, &crate::server::db()?, parse_id(&id)?).await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

#[server(endpoint = "identities/create")]
#[allow(clippy::too_many_arguments)]
pub async fn create_identity(
    email: String,
    display_name: String,
    external_id: String,
    kind: String,
    role: String,
    metadata: String,
    password: String,
) -> Result<(), AppError> {
    let submitted = [
        ("email", email.as_str()),
        ("display_name", display_name.as_str()),
        ("external_id", external_id.as_str()),
        ("kind", kind.as_str()),
        ("role", role.as_str()),
        ("metadata", metadata.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let input = service::identities::NewIdentity {
            email: Some(email.clone()),
            display_name: Some(display_name.clone()),
            external_id: Some(external_id.clone()),
            kind: service::identities::Kind::parse(&kind),
            roles: (!role.is_empty()).then(|| vec![role.clone()]),
            metadata: parse_metadata(&metadata)?,
            password: Some(password),
        };
        let identity = service::identities::create(&ctx, &crate::server::db()?, input).await?;
        Ok(format!("/identities/{}", identity.id))
    }
    .await;
    crate::server::finish_form("create_identity", &submitted, result).await
}

#[server(endpoint = "identities/update")]
pub async fn update_identity(
    id: String,
    email: String,
    display_name: String,
    external_id: String,
    metadata: String,
) -> Result<(), AppError> {
    let submitted = [
        ("email", email.as_str()),
        ("display_name", display_name.as_str()),
        ("external_id", external_id.as_str()),
        ("metadata", metadata.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = parse_id(&id)?;
        let external = external_id.trim();
        let patch = service::identities::IdentityPatch {
            email: Some(email.clone()),
            display_name: Some(display_name.clone()),
            external_id: Some((!external.is_empty()).then(|| external.to_owned())),
            metadata: parse_metadata(&metadata)?,
            disabled: None,
        };
        let identity =
            service::identities::update(&ctx, &crate::server::db()?, uuid, patch).await?;
        Ok(format!("/identities/{}", identity.id))
    }
    .await;
    crate::server::finish_form("update_identity", &submitted, result).await
}

/// Replaces the roles the identity holds directly (checkboxes named `roles[i]`; none
/// checked sends no `roles` at all).
#[server(endpoint = "identities/set_roles")]
pub async fn set_identity_roles(id: String, roles: Option<Vec<String>>) -> Result<(), AppError> {
    let ctx = crate::server::ctx().await?;
    let result = service::roles::set_identity_roles(
        &ctx,
        &crate::server::db()?,
        parse_id(&id)?,
        roles.unwrap_or_default(),
    )
    .await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

/// `status` is `active` (enable) or `disabled` (disable).
#[server(endpoint = "identities/set_status")]
pub async fn set_identity_status(id: String, status: String) -> Result<(), AppError> {
    let ctx = crate::server::ctx().await?;
    let disabled = match status.as_str() {
        "disabled" => true,
        "active" => false,
        _ => {
            return Err(
                service::Error::validation("status", "invalid_value", "Unknown status.").into(),
            );
        }
    };
    let result =
        service::identities::set_disabled(&ctx, &crate::server::db()?, parse_id(&id)?, disabled)
            .await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

/// `mode` is `trash` (restorable) or `purge` (gone for good).
#[server(endpoint = "identities/delete")]
pub async fn delete_identity(id: String, mode: String) -> Result<(), AppError> {
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let uuid = parse_id(&id)?;
    let result = match mode.as_str() {
        "purge" => service::identities::hard_delete(&ctx, &db, uuid).await,
        _ => service::identities::soft_delete(&ctx, &db, uuid)
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) if mode == "purge" => {
            leptos_axum::redirect("/identities?status=deleted&done=purged");
            Ok(())
        }
        Ok(()) => {
            leptos_axum::redirect("/identities?done=deleted");
            Ok(())
        }
        Err(e) => finish_action("identity_actions", &id, Err(e)).await,
    }
}

#[server(endpoint = "identities/restore")]
pub async fn restore_identity(id: String) -> Result<(), AppError> {
    let ctx = crate::server::ctx().await?;
    let result = service::identities::restore(&ctx, &crate::server::db()?, parse_id(&id)?).await;
    finish_action("identity_actions", &id, result.map(|_| ())).await
}

/// Sends the browser back to the identity's page; a failure is flashed for plain forms.
#[cfg(feature = "ssr")]
async fn finish_action(
    form: &str,
    id: &str,
    result: Result<(), service::Error>,
) -> Result<(), AppError> {
    match result {
        Ok(()) => {
            leptos_axum::redirect(&format!("/identities/{id}"));
            Ok(())
        }
        Err(e) => {
            let e = AppError::from(e);
            crate::server::flash_failure(form, &e, &[]).await;
            if crate::server::is_plain_form() {
                // Not back to a confirmation dialog: to the identity itself.
                leptos_axum::redirect(&format!("/identities/{id}"));
            }
            Err(e)
        }
    }
}

/// Identities to pick from (the first 200); none for an admin who may not read identities
/// (an id can still be pasted).
#[server(endpoint = "identities/choices")]
pub async fn identity_choices() -> Result<Vec<IdentityChoice>, AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let query = service::identities::ListQuery {
        limit: Some(200),
        ..Default::default()
    };
    match service::identities::list(&ctx, &db, query).await {
        Ok(page) => Ok(page
            .items
            .into_iter()
            .map(|i| {
                let label = match &i.email {
                    Some(email) if !i.display_name.is_empty() => {
                        format!("{} ({email})", i.display_name)
                    }
                    _ => i.label(),
                };
                IdentityChoice {
                    id: i.id.to_string(),
                    label,
                }
            })
            .collect()),
        Err(service::Error::Forbidden { .. }) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}
