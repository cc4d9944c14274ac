//! Server functions of the API keys screen.

use leptos::prelude::*;

use super::model::{ApiKeysView, NewKey};
use crate::error::AppError;

#[cfg(feature = "ssr")]
fn when(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn day(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    t.format(&f).unwrap_or_default()
}

#[cfg(feature = "ssr")]
impl From<service::api_keys::ApiKey> for super::model::ApiKeyView {
    fn from(k: service::api_keys::ApiKey) -> Self {
        super::model::ApiKeyView {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            identity_name: k.identity_name,
            status: k.status.as_str().to_owned(),
            created: day(k.created_at),
            expires: k.expires_at.map(day),
            last_used: k.last_used_at.map(when),
        }
    }
}

#[server(endpoint = "api_keys/list")]
pub async fn list_api_keys(all: bool) -> Result<ApiKeysView, AppError> {
    let ctx = crate::server::ctx().await?;
    let query = service::api_keys::ListQuery {
        all,
        identity_id: None,
    };
    let keys = service::api_keys::list(&ctx, &crate::server::db()?, query).await?;
    Ok(ApiKeysView {
        keys: keys.into_iter().map(Into::into).collect(),
        all,
    })
}

/// Makes a key for the signed-in identity and returns its secret, once. (Without
/// JavaScript the browser is sent back to the list: the secret is never kept in the session
/// to show it later, so such a key must be revoked and made again.)
#[server(endpoint = "api_keys/create")]
pub async fn create_api_key(
    name: String,
    scopes: String,
    expires_in_days: String,
) -> Result<NewKey, AppError> {
    let submitted = [
        ("name", name.as_str()),
        ("scopes", scopes.as_str()),
        ("expires_in_days", expires_in_days.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let days = match expires_in_days.trim() {
            "" | "0" => None,
            d => Some(d.parse::<u32>().map_err(|_| {
                AppError::from(service::Error::validation(
                    "expires_in_days",
                    "invalid_value",
                    "Choose an expiry from the list.",
                ))
            })?),
        };
        let created = service::api_keys::create(
            &ctx,
            &crate::server::db()?,
            service::api_keys::NewApiKey {
                name: name.clone(),
                scopes: super::model::split_scopes(&scopes),
                expires_in_days: days,
                identity_id: None,
            },
        )
        .await?;
        Ok(NewKey {
            name: created.key.name,
            secret: created.secret,
        })
    }
    .await;
    match result {
        Ok(key) => {
            if crate::server::is_plain_form() {
                leptos_axum::redirect("/api-keys?created_without_js=1");
            }
            Ok(key)
        }
        Err(e) => {
            crate::server::flash_failure("create_api_key", &e, &submitted).await;
            Err(e)
        }
    }
}

#[server(endpoint = "api_keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| service::Error::NotFound {
            resource: "API key",
        })?;
        service::api_keys::revoke(&ctx, &crate::server::db()?, id).await?;
        Ok("/api-keys?revoked=1".to_owned())
    }
    .await;
    crate::server::finish_form("revoke_api_key", &[], result).await
}
