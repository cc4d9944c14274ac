//! Server functions of the single sign-on settings and the sign-in buttons.

use leptos::prelude::*;

use super::forms::ProviderForm;
use super::model::{SignInOptionView, SsoSettingsView};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, object_id};

#[cfg(feature = "ssr")]
impl From<service::sso::Provider> for super::model::ProviderView {
    fn from(p: service::sso::Provider) -> Self {
        super::model::ProviderView {
            id: p.id.to_string(),
            kind: p.kind.as_str().to_owned(),
            name: p.name,
            issuer: p.issuer,
            client_id: p.client_id,
            scopes: p.scopes.join(" "),
            allowed_domains: p.allowed_domains.join(", "),
            default_role: p.default_role,
            jit_provisioning: p.jit_provisioning,
            enabled: p.enabled,
            linked_identities: p.linked_identities,
            created: crate::format::day(p.created_at),
        }
    }
}

#[cfg(feature = "ssr")]
impl SsoSettingsView {
    fn new(
        providers: Vec<service::sso::Provider>,
        redirect_uri: String,
        roles: Vec<String>,
    ) -> Self {
        let providers = providers.into_iter().map(Into::into).collect();
        SsoSettingsView {
            providers,
            redirect_uri,
            roles,
        }
    }
}

#[server(endpoint = "sso/settings")]
pub async fn sso_settings() -> Result<SsoSettingsView, AppError> {
    // The render's context is read before the first await: a fetch left over from an
    // abandoned render finds none after it (its owner is gone).
    let (public_url, db) = (crate::server::public_url()?, db()?);
    let ctx = ctx().await?;
    let providers = service::sso::list(&ctx, &db).await?;
    let roles = service::sso::default_role_choices(&ctx, &db).await?;
    let redirect_uri = service::sso::flow::callback_url(&public_url);
    Ok(SsoSettingsView::new(providers, redirect_uri, roles))
}

#[server(endpoint = "sso/create")]
pub async fn create_sso_provider(#[server(flatten)] form: ProviderForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let provider = service::sso::create(&ctx, &db, form.clone().into()).await?;
        Ok(format!("/settings?added={}", provider.id))
    };
    crate::server::finish("create_sso_provider", &form, result.await).await
}

#[server(endpoint = "sso/update")]
pub async fn update_sso_provider(#[server(flatten)] form: ProviderForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&form.id, "identity provider")?;
        service::sso::update(&ctx, &db, id, form.clone().into()).await?;
        Ok(format!("/settings?saved={id}"))
    };
    crate::server::finish("update_sso_provider", &form, result.await).await
}

#[server(endpoint = "sso/delete")]
pub async fn delete_sso_provider(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::sso::delete(&ctx, &db, object_id(&id, "identity provider")?).await?;
        Ok("/settings?deleted=1".to_owned())
    };
    crate::server::finish_form("sso_providers", &[], result.await).await
}

/// The "Sign in with …" buttons of tenant `tenant` (public, like its sign-in page).
#[server(endpoint = "sso/options")]
pub async fn sso_sign_in_options(tenant: String) -> Result<Vec<SignInOptionView>, AppError> {
    let options = service::sso::sign_in_options(&crate::server::db()?, &tenant).await?;
    Ok(options.into_iter().map(SignInOptionView::from).collect())
}
