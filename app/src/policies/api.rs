//! Server functions of the Policies screen.
// A form's server function takes one argument per field of the form.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use super::model::{PolicyDetail, PolicyView, SimulationView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
fn uuid(raw: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| service::Error::NotFound { resource: "policy" }.into())
}

#[server(endpoint = "policies/list")]
pub async fn list_policies() -> Result<Vec<PolicyView>, AppError> {
    let ctx = crate::server::ctx().await?;
    let list = service::policies::list(&ctx, &crate::server::db()?).await?;
    Ok(list.into_iter().map(Into::into).collect())
}

/// A policy with its history; `id` empty: a blank editor.
#[server(endpoint = "policies/get")]
pub async fn get_policy(id: String) -> Result<PolicyDetail, AppError> {
    use service::authz::catalog;
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let (policy, versions) = if id.is_empty() {
        (None, Vec::new())
    } else {
        let id = uuid(&id)?;
        let versions = service::policies::versions(&ctx, &db, id).await?;
        let policy = match service::policies::get(&ctx, &db, id).await {
            Ok(p) => Some(p.into()),
            // A deleted policy still has its history (and can be restored from it).
            Err(service::Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        (policy, super::model::versions(versions))
    };
    Ok(PolicyDetail {
        policy,
        versions,
        modules: catalog::MODULES.iter().map(|m| (*m).into()).collect(),
        actions: catalog::ACTIONS.iter().map(|a| (*a).into()).collect(),
    })
}

/// Creates (no `id`) or changes a policy. `condition` empty: none.
#[server(endpoint = "policies/save")]
pub async fn save_policy(
    id: Option<String>,
    name: String,
    description: String,
    effect: String,
    priority: String,
    resource_pattern: String,
    action_pattern: String,
    condition: String,
    enabled: Option<String>,
) -> Result<(), AppError> {
    let submitted = [
        ("name", name.as_str()),
        ("description", description.as_str()),
        ("effect", effect.as_str()),
        ("priority", priority.as_str()),
        ("resource_pattern", resource_pattern.as_str()),
        ("action_pattern", action_pattern.as_str()),
        ("condition", condition.as_str()),
        ("enabled", enabled.as_deref().unwrap_or("")),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let db = crate::server::db()?;
        let priority: i32 = priority.trim().parse().map_err(|_| {
            AppError::from(service::Error::validation(
                "priority",
                "invalid_number",
                "The priority is a whole number, e.g. 10 or -5.",
            ))
        })?;
        let condition = match condition.trim() {
            "" => None,
            text => Some(
                serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
                    AppError::from(service::Error::validation(
                        "condition",
                        "invalid_json",
                        format!("The condition is not valid JSON: {e}"),
                    ))
                })?,
            ),
        };
        let input = service::policies::PolicyInput {
            name: Some(name.clone()),
            description: Some(description.clone()),
            effect: Some(effect.clone()),
            priority: Some(priority),
            resource_pattern: Some(resource_pattern.clone()),
            action_pattern: Some(action_pattern.clone()),
            condition: Some(condition),
            enabled: Some(enabled.is_some()),
        };
        let policy = match id.as_deref().filter(|i| !i.is_empty()) {
            None => service::policies::create(&ctx, &db, input).await?,
            Some(id) => service::policies::update(&ctx, &db, uuid(id)?, input).await?,
        };
        Ok(format!("/policies/{}?saved=1", policy.id))
    }
    .await;
    crate::server::finish_form("save_policy", &submitted, result).await
}

#[server(endpoint = "policies/delete")]
pub async fn delete_policy(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        service::policies::delete(&ctx, &crate::server::db()?, uuid(&id)?).await?;
        Ok("/policies?deleted=1".to_owned())
    }
    .await;
    crate::server::finish_form("policy_actions", &[], result).await
}

#[server(endpoint = "policies/restore")]
pub async fn restore_policy(id: String, version: i32) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let policy =
            service::policies::restore(&ctx, &crate::server::db()?, uuid(&id)?, version).await?;
        Ok(format!("/policies/{}?restored={version}", policy.id))
    }
    .await;
    crate::server::finish_form("policy_actions", &[], result).await
}

/// The simulator: decides for the identity with `principal` (an email) and explains.
#[server(endpoint = "policies/simulate")]
pub async fn simulate(
    principal: String,
    action: String,
    resource_owner: String,
    resource_id: String,
    ip: String,
) -> Result<SimulationView, AppError> {
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let by_email = |field: &'static str, email: String| {
        let (ctx, db) = (ctx.clone(), db.clone());
        async move {
            match service::identities::find_by_email(&ctx, &db, &email).await {
                Ok(i) => Ok(i.id),
                Err(service::Error::NotFound { .. }) => {
                    Err(AppError::from(service::Error::validation(
                        field,
                        "unknown_identity",
                        "No identity has this email.",
                    )))
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    let principal_id = by_email("principal", principal).await?;
    let owner = match resource_owner.trim() {
        "" => None,
        email => Some(by_email("resource_owner", email.to_owned()).await?),
    };
    let resource_id = match resource_id.trim() {
        "" => None,
        raw => Some(uuid::Uuid::parse_str(raw).map_err(|_| {
            AppError::from(service::Error::validation(
                "resource_id",
                "invalid_id",
                "A resource id is a UUID.",
            ))
        })?),
    };
    let ip = match ip.trim() {
        "" => None,
        raw => Some(raw.parse().map_err(|_| {
            AppError::from(service::Error::validation(
                "ip",
                "invalid_ip",
                "Enter an IPv4 or IPv6 address.",
            ))
        })?),
    };
    let result = service::decisions::check(
        &ctx,
        &db,
        service::decisions::CheckRequest {
            principal: Some(principal_id),
            action,
            resource_id,
            resource_owner: owner,
            resource_metadata: None,
            ip,
            time: None,
        },
    )
    .await?;
    Ok(SimulationView {
        allowed: result.allowed,
        explanation: result.explanation,
        trace: result
            .trace
            .into_iter()
            .map(|s| super::model::StepView {
                kind: format!("{:?}", s.kind).to_lowercase(),
                name: s.name,
                effect: s.effect.as_str().into(),
                priority: s.priority,
                outcome: s.outcome,
            })
            .collect(),
        input: serde_json::to_string_pretty(&result.input).unwrap_or_default(),
    })
}
