//! Server functions of the single sign-on settings and the sign-in buttons.
// A provider's form has ten fields, and a server function takes its form's fields as
// arguments (the wasm-side function the macro generates cannot carry an item attribute).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use super::model::{SignInOptionView, SsoSettingsView};
use crate::error::AppError;

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

#[server(endpoint = "sso/settings")]
pub async fn sso_settings() -> Result<SsoSettingsView, AppError> {
    // Everything from the render's context is taken before the first await: a page render
    // may be redone, and a fetch left over from an abandoned render finds no context after
    // awaiting (its owner is gone), which would resolve it differently from the render the
    // browser hydrates.
    let public_url = crate::server::public_url()?;
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let providers = service::sso::list(&ctx, &db).await?;
    let roles = service::sso::default_role_choices(&ctx, &db).await?;
    Ok(SsoSettingsView {
        providers: providers.into_iter().map(Into::into).collect(),
        redirect_uri: service::sso::flow::callback_url(&public_url),
        roles,
    })
}

/// A provider form's fields as the service takes them; scopes and domains go as typed
/// (the service splits and checks lists), unchecked boxes are absent from the form.
#[cfg(feature = "ssr")]
#[allow(clippy::too_many_arguments)]
fn provider_input(
    name: &str,
    issuer: Option<&str>,
    client_id: &str,
    client_secret: String,
    scopes: &str,
    allowed_domains: &str,
    default_role: &str,
    jit_provisioning: Option<String>,
    enabled: Option<String>,
) -> service::sso::ProviderInput {
    let checked = |v: Option<String>| v.is_some_and(|v| !v.is_empty() && v != "false");
    service::sso::ProviderInput {
        kind: None,
        name: Some(name.to_owned()),
        issuer: issuer.map(str::to_owned),
        client_id: Some(client_id.to_owned()),
        client_secret: Some(client_secret),
        scopes: Some(vec![scopes.to_owned()]),
        allowed_domains: Some(vec![allowed_domains.to_owned()]),
        default_role: Some(default_role.to_owned()),
        jit_provisioning: Some(checked(jit_provisioning)),
        enabled: Some(checked(enabled)),
    }
}

#[server(endpoint = "sso/create")]
pub async fn create_sso_provider(
    kind: String,
    name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    scopes: String,
    allowed_domains: String,
    default_role: String,
    jit_provisioning: Option<String>,
    enabled: Option<String>,
) -> Result<(), AppError> {
    let submitted = [
        ("kind", kind.as_str()),
        ("name", name.as_str()),
        ("issuer", issuer.as_str()),
        ("client_id", client_id.as_str()),
        ("scopes", scopes.as_str()),
        ("allowed_domains", allowed_domains.as_str()),
        ("default_role", default_role.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let input = service::sso::ProviderInput {
            kind: Some(kind.clone()),
            ..provider_input(
                &name,
                (kind != "google").then_some(issuer.as_str()),
                &client_id,
                client_secret,
                &scopes,
                &allowed_domains,
                &default_role,
                jit_provisioning,
                enabled,
            )
        };
        let p = service::sso::create(&ctx, &crate::server::db()?, input).await?;
        Ok(format!("/settings?added={}", p.id))
    }
    .await;
    crate::server::finish_form("create_sso_provider", &submitted, result).await
}

#[server(endpoint = "sso/update")]
pub async fn update_sso_provider(
    id: String,
    name: String,
    issuer: Option<String>,
    client_id: String,
    client_secret: String,
    scopes: String,
    allowed_domains: String,
    default_role: String,
    jit_provisioning: Option<String>,
    enabled: Option<String>,
) -> Result<(), AppError> {
    let submitted = [
        ("id", id.as_str()),
        ("name", name.as_str()),
        ("client_id", client_id.as_str()),
        ("scopes", scopes.as_str()),
        ("allowed_domains", allowed_domains.as_str()),
        ("default_role", default_role.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| {
            AppError::from(service::Error::NotFound {
                resource: "identity provider",
            })
        })?;
        let input = provider_input(
            &name,
            issuer.as_deref(),
            &client_id,
            client_secret,
            &scopes,
            &allowed_domains,
            &default_role,
            jit_provisioning,
            enabled,
        );
        service::sso::update(&ctx, &crate::server::db()?, id, input).await?;
        Ok(format!("/settings?saved={id}"))
    }
    .await;
    crate::server::finish_form("update_sso_provider", &submitted, result).await
}

#[server(endpoint = "sso/delete")]
pub async fn delete_sso_provider(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| {
            AppError::from(service::Error::NotFound {
                resource: "identity provider",
            })
        })?;
        service::sso::delete(&ctx, &crate::server::db()?, id).await?;
        Ok("/settings?deleted=1".to_owned())
    }
    .await;
    crate::server::finish_form("sso_providers", &[], result).await
}

/// The "Sign in with …" buttons of tenant `tenant` (public, like its sign-in page).
#[server(endpoint = "sso/options")]
pub async fn sso_sign_in_options(tenant: String) -> Result<Vec<SignInOptionView>, AppError> {
    let options = service::sso::sign_in_options(&crate::server::db()?, &tenant).await?;
    Ok(options
        .into_iter()
        .map(|o| SignInOptionView {
            id: o.id.to_string(),
            name: o.name,
            kind: o.kind.as_str().to_owned(),
        })
        .collect())
}
