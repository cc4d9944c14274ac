//! `/v1/authz/check`: the policy decision point, one check or many, each explained. Rules
//! live in `service::decisions`.

use std::net::IpAddr;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::decisions::{self, CheckRequest, CheckResult};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json};
use crate::rest::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckResource {
    pub id: Option<Uuid>,
    /// The identity that owns the resource.
    pub owner: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckContext {
    #[schema(value_type = Option<String>, example = "203.0.113.7")]
    pub ip: Option<IpAddr>,
    /// RFC 3339; default now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub time: Option<OffsetDateTime>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckItem {
    /// The identity asking; default: the caller. Asking about another takes `policies:read`.
    pub principal: Option<Uuid>,
    /// `module:action`.
    #[schema(example = "memories:read")]
    pub action: String,
    pub resource: Option<CheckResource>,
    pub context: Option<CheckContext>,
}

/// One check, or many in `checks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CheckBody {
    Many { checks: Vec<CheckItem> },
    One(CheckItem),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionBody {
    pub allowed: bool,
    /// `owner_guard`, `role`, `policy` or `no_rule_allowed`, with its details.
    #[schema(value_type = Object)]
    pub reason: Value,
    pub explanation: String,
    #[schema(value_type = Vec<Object>)]
    pub trace: Value,
    /// The document conditions saw.
    #[schema(value_type = Object)]
    pub input: Value,
}

impl From<CheckResult> for DecisionBody {
    fn from(r: CheckResult) -> Self {
        DecisionBody {
            allowed: r.allowed,
            reason: serde_json::to_value(&r.reason).unwrap_or_default(),
            explanation: r.explanation,
            trace: serde_json::to_value(&r.trace).unwrap_or_default(),
            input: r.input,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CheckResponse {
    /// For a `checks` list: one result each, a decision or a problem.
    Many {
        results: Vec<Value>,
    },
    One(Box<DecisionBody>),
}

fn to_request(item: CheckItem) -> CheckRequest {
    let resource = item.resource;
    let context = item.context;
    CheckRequest {
        principal: item.principal,
        action: item.action,
        resource_id: resource.as_ref().and_then(|r| r.id),
        resource_owner: resource.as_ref().and_then(|r| r.owner),
        resource_metadata: resource.and_then(|r| r.metadata),
        ip: context.as_ref().and_then(|c| c.ip),
        time: context.and_then(|c| c.time),
    }
}

/// Decide whether a principal may do an action to a resource, with the explanation: for
/// programs that use Tenantry as their policy decision point.
#[utoipa::path(post, path = "/authz/check", tag = "policies", request_body = CheckBody,
    responses((status = 200, body = CheckResponse), (status = 404, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn check(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CheckBody>,
) -> ApiResult<axum::Json<CheckResponse>> {
    match body {
        CheckBody::One(item) => {
            let result = decisions::check(&ctx, &state.db, to_request(item)).await?;
            Ok(axum::Json(CheckResponse::One(Box::new(result.into()))))
        }
        CheckBody::Many { checks } => {
            let results = decisions::check_many(
                &ctx,
                &state.db,
                checks.into_iter().map(to_request).collect(),
            )
            .await?;
            let results = results
                .into_iter()
                .map(|r| match r {
                    Ok(d) => serde_json::to_value(DecisionBody::from(d)).unwrap_or_default(),
                    Err(e) => serde_json::to_value(ApiError(e).problem()).unwrap_or_default(),
                })
                .collect();
            Ok(axum::Json(CheckResponse::Many { results }))
        }
    }
}
