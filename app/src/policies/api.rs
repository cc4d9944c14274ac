//! Server functions of the Policies screen: each turns its form into a service call and the
//! result into wire types; forms are read in `forms`.

use leptos::prelude::*;

use super::forms::{PolicyForm, SimulationForm};
use super::model::{PolicyDetail, PolicyView, SimulationView};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, input, object_id};

#[server(endpoint = "policies/list")]
pub async fn list_policies() -> Result<Vec<PolicyView>, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let list = service::policies::list(&ctx, &db).await?;
    Ok(list.into_iter().map(Into::into).collect())
}

/// A policy with its history; `id` empty: a blank editor.
#[server(endpoint = "policies/get")]
pub async fn get_policy(id: String) -> Result<PolicyDetail, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    if id.is_empty() {
        return Ok(PolicyDetail::new(None, Vec::new()));
    }
    let id = object_id(&id, "policy")?;
    let versions = service::policies::versions(&ctx, &db, id).await?;
    // A deleted policy still has its history (and can be restored from it).
    let policy = match service::policies::get(&ctx, &db, id).await {
        Err(service::Error::NotFound { .. }) => None,
        other => Some(other?),
    };
    Ok(PolicyDetail::new(policy, versions))
}

/// Creates (no `id`) or changes a policy.
#[server(endpoint = "policies/save")]
pub async fn save_policy(#[server(flatten)] form: PolicyForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let policy = input(&ctx, "policies", form.clone())?;
        let policy = match form.id.trim() {
            "" => service::policies::create(&ctx, &db, policy).await?,
            id => service::policies::update(&ctx, &db, object_id(id, "policy")?, policy).await?,
        };
        Ok(format!("/policies/{}?saved=1", policy.id))
    };
    crate::server::finish("save_policy", &form, result.await).await
}

#[server(endpoint = "policies/delete")]
pub async fn delete_policy(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::policies::delete(&ctx, &db, object_id(&id, "policy")?).await?;
        Ok("/policies?deleted=1".to_owned())
    };
    crate::server::finish_form("policy_actions", &[], result.await).await
}

#[server(endpoint = "policies/restore")]
pub async fn restore_policy(id: String, version: i32) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&id, "policy")?;
        let policy = service::policies::restore(&ctx, &db, id, version).await?;
        Ok(format!("/policies/{}?restored={version}", policy.id))
    };
    crate::server::finish_form("policy_actions", &[], result.await).await
}

/// The simulator: decides for the identity with `principal` (an email) and explains.
#[server(endpoint = "policies/simulate")]
pub async fn simulate(#[server(flatten)] form: SimulationForm) -> Result<SimulationView, AppError> {
    use service::identities::id_by_email;
    let (db, ctx) = (db()?, ctx().await?);
    let mut request: service::decisions::CheckRequest =
        crate::server::query(&ctx, "policies", form.clone())?;
    request.principal = Some(id_by_email(&ctx, &db, "principal", &form.principal).await?);
    request.resource_owner = match form.resource_owner.trim() {
        "" => None,
        email => Some(id_by_email(&ctx, &db, "resource_owner", email).await?),
    };
    Ok(service::decisions::check(&ctx, &db, request).await?.into())
}
