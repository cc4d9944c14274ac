//! The policy decision point: "may this identity do this to that?", answered with the same
//! engine every request uses, and explained. Programs call it through `POST /v1/authz/check`;
//! the console's policy simulator calls it too.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth;
use crate::authz::engine::{Context, Reason, Request, Step, Subject, Target as EngineTarget};
use crate::authz::{Permission, Target, perm};
use crate::ctx::{AuthMethod, Ctx};
use crate::db::Db;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// The identity asking; `None` means the caller.
    pub principal: Option<Uuid>,
    /// `module:action`.
    pub action: String,
    pub resource_id: Option<Uuid>,
    pub resource_owner: Option<Uuid>,
    pub resource_metadata: Option<Value>,
    pub ip: Option<IpAddr>,
    /// When the request happens; default now.
    pub time: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub allowed: bool,
    pub reason: Reason,
    /// One sentence: what decided.
    pub explanation: String,
    /// Every rule considered, in order.
    pub trace: Vec<Step>,
    /// The document the conditions saw.
    pub input: Value,
}

pub async fn check(ctx: &Ctx, db: &Db, req: CheckRequest) -> Result<CheckResult> {
    let caller = ctx.caller()?;
    let permission = Permission::parse(req.action.trim()).ok_or_else(|| {
        Error::validation(
            "action",
            "unknown_permission",
            format!("\"{}\" is not a permission (module:action).", req.action),
        )
    })?;
    let principal_id = req.principal.unwrap_or(caller.identity_id);
    if principal_id != caller.identity_id {
        // Asking about someone else reveals their access: that takes policies:read.
        ctx.authorize(
            perm::POLICIES_READ,
            Target::collection(caller.tenant_id, "policies"),
        )?;
    }
    // Asking about oneself needs no second look-up.
    let loaded;
    let principal = if principal_id == caller.identity_id {
        caller
    } else {
        loaded = auth::load_caller(db, caller.tenant_id, principal_id, AuthMethod::AccessToken)
            .await?
            .ok_or(Error::NotFound {
                resource: "active identity",
            })?;
        &loaded
    };
    let request = Request {
        subject: Subject {
            id: principal.identity_id,
            kind: &principal.kind,
            roles: &principal.roles,
            groups: &principal.groups,
            metadata: &principal.metadata,
        },
        permission,
        target: EngineTarget {
            kind: permission.module,
            id: req.resource_id,
            owner: req.resource_owner,
            metadata: req.resource_metadata.as_ref(),
        },
        context: Context {
            time: req.time.unwrap_or_else(OffsetDateTime::now_utc),
            ip: req.ip.or(ctx.ip),
            plan: principal.plan.as_str(),
        },
    };
    let compiled = &principal.authz;
    let effective = compiled.effective_roles(&principal.roles, &principal.groups);
    let input = compiled.document(&request, &effective);
    // About oneself through an API key, the key's scopes come first, as they do when the
    // key acts: the answer and the enforcement never disagree.
    if principal_id == caller.identity_id
        && let Some(key) = &caller.api_key
        && !key.allows(permission)
    {
        let reason = Reason::OutsideKeyScopes {
            key: key.name.clone(),
        };
        return Ok(CheckResult {
            allowed: false,
            explanation: reason.describe(),
            reason,
            trace: Vec::new(),
            input,
        });
    }
    let decision = compiled.decide(&request, true);
    // Policy names and the trace of their conditions are for those who may read policies.
    let may_read_policies = ctx
        .authorize_quietly(
            perm::POLICIES_READ,
            Target::collection(caller.tenant_id, "policies"),
        )
        .is_ok();
    let (reason, trace) = if may_read_policies {
        (decision.reason, decision.trace)
    } else {
        (decision.reason.undisclosed(), Vec::new())
    };
    Ok(CheckResult {
        allowed: decision.allowed,
        explanation: reason.describe(),
        reason,
        trace,
        input,
    })
}

/// Several checks; each answers on its own (one bad item does not fail the others).
pub async fn check_many(
    ctx: &Ctx,
    db: &Db,
    reqs: Vec<CheckRequest>,
) -> Result<Vec<Result<CheckResult>>> {
    if reqs.is_empty() || reqs.len() > 100 {
        return Err(Error::validation(
            "checks",
            "out_of_range",
            "Send between 1 and 100 checks.",
        ));
    }
    let mut out = Vec::with_capacity(reqs.len());
    for r in reqs {
        out.push(check(ctx, db, r).await);
    }
    Ok(out)
}
