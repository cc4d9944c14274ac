//! Server functions of the API keys screen.

use leptos::prelude::*;

use super::forms::ApiKeyForm;
use super::model::{ApiKeysView, NewKey};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::object_id;

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
            created: crate::format::day(k.created_at),
            expires: k.expires_at.map(crate::format::day),
            last_used: k.last_used_at.map(crate::format::minute),
            rate_limit: k.rate_limit.map(|r| {
                format!(
                    "{} a second, {} at once",
                    crate::format::number(r.rate),
                    r.burst
                )
            }),
        }
    }
}

#[server(endpoint = "api_keys/list")]
pub async fn list_api_keys(all: bool) -> Result<ApiKeysView, AppError> {
    let (db, ctx) = (crate::server::db()?, crate::server::ctx().await?);
    let query = service::api_keys::ListQuery {
        all,
        identity_id: None,
    };
    let keys = service::api_keys::list(&ctx, &db, query).await?;
    let keys = keys.into_iter().map(Into::into).collect();
    Ok(ApiKeysView { keys, all })
}

/// Makes a key for the signed-in identity and returns its secret, once. (Without
/// JavaScript the browser is sent back to the list: the secret is never kept in the session
/// to show it later, so such a key must be revoked and made again.)
#[server(endpoint = "api_keys/create")]
pub async fn create_api_key(#[server(flatten)] form: ApiKeyForm) -> Result<NewKey, AppError> {
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let new = crate::server::input(&ctx, "api_keys", form.clone())?;
        let created = service::api_keys::create(&ctx, &db, new).await?;
        Ok(NewKey {
            name: created.key.name,
            secret: created.secret,
        })
    };
    let plain_next = |_: &NewKey| "/api-keys?created_without_js=1".to_owned();
    crate::server::finish_with("create_api_key", &form, result.await, plain_next).await
}

#[server(endpoint = "api_keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        service::api_keys::revoke(&ctx, &db, object_id(&id, "API key")?).await?;
        Ok("/api-keys?revoked=1".to_owned())
    };
    crate::server::finish_form("revoke_api_key", &[], result.await).await
}
