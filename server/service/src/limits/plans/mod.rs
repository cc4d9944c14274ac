//! Plans and a tenant's departures from its plan: the figures every limit comes from.
//!
//! A plan (a row of `plans`) gives a tenant three request rates (the tenant's as a whole,
//! and each person's and each agent's) and five quotas (how many identities, memories,
//! webhooks, policies and API keys it may hold; none means no limit). The operator edits
//! plans and a tenant's overrides (`tenant_limits`); what a tenant gets is its plan with its
//! overrides laid over it ([`TenantLimits`]), which every instance caches per tenant and
//! forgets when told on [`CHANNEL`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::gcra::Limit;
use super::quotas::Quota;
use crate::authz::PlatformAction;
use crate::ctx::{Ctx, Plan};
use crate::db::Db;
use crate::error::{Error, FieldError, Result, unique_violation};

mod tenant;

pub use tenant::*;

/// The PostgreSQL notification channel of limits: a tenant's id when its plan or overrides
/// changed, `*` when a plan did.
pub const CHANNEL: &str = "tenantry_limits";

/// Highest rate (requests a second) and burst a plan or override may set.
const MAX_RATE: f64 = 1_000_000.0;
const MAX_BURST: u32 = 1_000_000;

/// A rate and burst, as plans and overrides write them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests a second the bucket refills by.
    pub rate: f64,
    /// Requests the bucket holds when full.
    pub burst: u32,
}

impl From<Rate> for Limit {
    fn from(r: Rate) -> Limit {
        Limit {
            rate: r.rate,
            burst: r.burst,
        }
    }
}

impl From<Limit> for Rate {
    fn from(l: Limit) -> Rate {
        Rate {
            rate: l.rate,
            burst: l.burst,
        }
    }
}

/// The three request rates of a plan.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// All of the tenant's requests together.
    pub tenant: Rate,
    /// Each person's requests.
    pub user: Rate,
    /// Each agent's requests.
    pub agent: Rate,
}

/// How many of each kind a tenant may hold; `None` (null) is no limit.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    pub identities: Option<i64>,
    pub memories: Option<i64>,
    pub webhooks: Option<i64>,
    pub policies: Option<i64>,
    pub api_keys: Option<i64>,
}

impl Quotas {
    pub fn get(&self, q: Quota) -> Option<i64> {
        match q {
            Quota::Identities => self.identities,
            Quota::Memories => self.memories,
            Quota::Webhooks => self.webhooks,
            Quota::Policies => self.policies,
            Quota::ApiKeys => self.api_keys,
        }
    }

    fn set(&mut self, q: Quota, v: Option<i64>) {
        match q {
            Quota::Identities => self.identities = v,
            Quota::Memories => self.memories = v,
            Quota::Webhooks => self.webhooks = v,
            Quota::Policies => self.policies = v,
            Quota::ApiKeys => self.api_keys = v,
        }
    }
}

/// A plan as the operator writes it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    #[serde(default)]
    pub description: String,
    pub rates: Rates,
    #[serde(default)]
    pub quotas: Quotas,
}

/// A plan as stored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSpec {
    pub name: Plan,
    pub description: String,
    pub rates: Rates,
    pub quotas: Quotas,
    /// How many tenants are on it.
    pub tenants: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A rate's override: either figure, or both.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<RateOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<RateOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<RateOverride>,
}

/// A tenant's departures from its plan. A figure that is absent is the plan's; a quota
/// present as null has no limit for this tenant.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default)]
    pub rates: RateOverrides,
    #[serde(default)]
    pub quotas: BTreeMap<Quota, Option<i64>>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.rates == RateOverrides::default() && self.quotas.is_empty()
    }

    /// The figures overridden: `rates.user.rate`, `quotas.identities`.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, r) in [
            ("tenant", self.rates.tenant),
            ("user", self.rates.user),
            ("agent", self.rates.agent),
        ] {
            let r = r.unwrap_or_default();
            if r.rate.is_some() {
                out.push(format!("rates.{name}.rate"));
            }
            if r.burst.is_some() {
                out.push(format!("rates.{name}.burst"));
            }
        }
        out.extend(self.quotas.keys().map(|q| format!("quotas.{}", q.as_str())));
        out
    }
}

impl TenantLimits {
    /// What `tenant.limits_changed` carries of it.
    fn snapshot(&self) -> serde_json::Value {
        crate::events::catalogue::shapes::to_value(
            crate::events::catalogue::shapes::TenantLimitsData {
                plan: self.plan.as_str(),
                rates: self.rates,
                quotas: self.quotas,
                overridden: self.overrides.names(),
            },
        )
    }
}

/// What a tenant gets: its plan with its overrides over it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TenantLimits {
    pub tenant_id: Uuid,
    pub plan: Plan,
    pub rates: Rates,
    pub quotas: Quotas,
    pub overrides: Overrides,
}

fn apply(rate: Rate, o: Option<RateOverride>) -> Rate {
    let o = o.unwrap_or_default();
    Rate {
        rate: o.rate.unwrap_or(rate.rate),
        burst: o.burst.unwrap_or(rate.burst),
    }
}

impl TenantLimits {
    fn of(tenant_id: Uuid, plan: Plan, rates: Rates, quotas: Quotas, overrides: Overrides) -> Self {
        let mut q = quotas;
        for (quota, v) in &overrides.quotas {
            q.set(*quota, *v);
        }
        TenantLimits {
            tenant_id,
            plan,
            rates: Rates {
                tenant: apply(rates.tenant, overrides.rates.tenant),
                user: apply(rates.user, overrides.rates.user),
                agent: apply(rates.agent, overrides.rates.agent),
            },
            quotas: q,
            overrides,
        }
    }
}

// ---- validation

pub(crate) fn check_rate(
    field: &str,
    rate: Option<f64>,
    burst: Option<u32>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(r) = rate
        && !(r.is_finite() && r > 0.0 && r <= MAX_RATE)
    {
        errors.push(FieldError::new(
            &format!("{field}.rate"),
            "out_of_range",
            format!("A rate is more than 0 and at most {MAX_RATE} requests a second."),
        ));
    }
    if let Some(b) = burst
        && !(1..=MAX_BURST).contains(&b)
    {
        errors.push(FieldError::new(
            &format!("{field}.burst"),
            "out_of_range",
            format!("A burst is between 1 and {MAX_BURST} requests."),
        ));
    }
}

/// The most a quota may be (the database's checks, said once).
fn quota_max(q: Quota) -> i64 {
    match q {
        Quota::Identities => 100_000_000,
        Quota::Memories => 1_000_000_000,
        Quota::Webhooks => 100_000,
        Quota::Policies | Quota::ApiKeys => 1_000_000,
    }
}

fn quota_min(q: Quota) -> i64 {
    // A tenant always has its owner.
    if q == Quota::Identities { 1 } else { 0 }
}

fn check_quota(q: Quota, v: Option<i64>, errors: &mut Vec<FieldError>) {
    if let Some(v) = v
        && !(quota_min(q)..=quota_max(q)).contains(&v)
    {
        errors.push(FieldError::new(
            &format!("quotas.{}", q.as_str()),
            "out_of_range",
            format!(
                "The {} quota is between {} and {}, or null for no limit.",
                q.as_str(),
                quota_min(q),
                quota_max(q)
            ),
        ));
    }
}

fn validate_plan(input: &PlanInput) -> Result<()> {
    let mut errors = Vec::new();
    for (field, r) in [
        ("rates.tenant", input.rates.tenant),
        ("rates.user", input.rates.user),
        ("rates.agent", input.rates.agent),
    ] {
        check_rate(field, Some(r.rate), Some(r.burst), &mut errors);
    }
    for q in Quota::ALL {
        check_quota(q, input.quotas.get(q), &mut errors);
    }
    if input.description.chars().count() > 500 {
        errors.push(FieldError::new(
            "description",
            "too_long",
            "A description is at most 500 characters.",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

fn validate_overrides(o: &Overrides) -> Result<()> {
    let mut errors = Vec::new();
    for (field, r) in [
        ("rates.tenant", o.rates.tenant),
        ("rates.user", o.rates.user),
        ("rates.agent", o.rates.agent),
    ] {
        if let Some(r) = r {
            check_rate(field, r.rate, r.burst, &mut errors);
        }
    }
    for (q, v) in &o.quotas {
        check_quota(*q, *v, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

fn plan_name(name: &str) -> Result<Plan> {
    Plan::parse(name).ok_or_else(|| {
        Error::validation(
            "name",
            "invalid_plan_name",
            "A plan's name is 1-32 lowercase letters, digits and dashes, starting with a letter.",
        )
    })
}

// ---- plans

struct PlanRow {
    name: String,
    description: String,
    tenant_rate: f64,
    tenant_burst: i32,
    user_rate: f64,
    user_burst: i32,
    agent_rate: f64,
    agent_burst: i32,
    max_identities: Option<i32>,
    max_memories: Option<i32>,
    max_webhooks: Option<i32>,
    max_policies: Option<i32>,
    max_api_keys: Option<i32>,
    tenants: i64,
    updated_at: OffsetDateTime,
}

fn rate(rate: f64, burst: i32) -> Rate {
    Rate {
        rate,
        burst: burst.max(1) as u32,
    }
}

impl PlanRow {
    fn rates(&self) -> Rates {
        Rates {
            tenant: rate(self.tenant_rate, self.tenant_burst),
            user: rate(self.user_rate, self.user_burst),
            agent: rate(self.agent_rate, self.agent_burst),
        }
    }

    fn quotas(&self) -> Quotas {
        Quotas {
            identities: self.max_identities.map(i64::from),
            memories: self.max_memories.map(i64::from),
            webhooks: self.max_webhooks.map(i64::from),
            policies: self.max_policies.map(i64::from),
            api_keys: self.max_api_keys.map(i64::from),
        }
    }

    fn spec(self) -> Result<PlanSpec> {
        Ok(PlanSpec {
            rates: self.rates(),
            quotas: self.quotas(),
            name: Plan::parse(&self.name)
                .ok_or_else(|| Error::Internal(format!("malformed plan name {}", self.name)))?,
            description: self.description,
            tenants: self.tenants,
            updated_at: self.updated_at,
        })
    }
}

/// Whether a plan of that name exists.
pub async fn exists(db: &Db, plan: &Plan) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from plans where name = $1) as "e!""#,
        plan.as_str()
    )
    .fetch_one(db.pool())
    .await?)
}

/// Every plan, by name (the super-admin).
pub async fn list(ctx: &Ctx, db: &Db) -> Result<Vec<PlanSpec>> {
    ctx.authorize_platform(PlatformAction::PlansRead)?;
    read(db, None).await
}

/// One plan (the super-admin).
pub async fn get(ctx: &Ctx, db: &Db, name: &str) -> Result<PlanSpec> {
    ctx.authorize_platform(PlatformAction::PlansRead)?;
    let Some(name) = Plan::parse(name) else {
        return Err(Error::NotFound { resource: "plan" });
    };
    read(db, Some(&name))
        .await?
        .pop()
        .ok_or(Error::NotFound { resource: "plan" })
}

/// The plans (or the one named), each with how many tenants are on it.
async fn read(db: &Db, only: Option<&Plan>) -> Result<Vec<PlanSpec>> {
    let rows = sqlx::query_as!(
        PlanRow,
        r#"select p.name, p.description, p.tenant_rate, p.tenant_burst, p.user_rate,
                  p.user_burst, p.agent_rate, p.agent_burst, p.max_identities, p.max_memories,
                  p.max_webhooks, p.max_policies, p.max_api_keys, p.updated_at,
                  (select count(*) from tenants t where t.plan = p.name) as "tenants!"
           from plans p where ($1::text is null or p.name = $1)
           order by p.name"#,
        only.map(Plan::as_str)
    )
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(PlanRow::spec).collect()
}

fn to_i32(v: Option<i64>) -> Option<i32> {
    v.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

/// Creates or replaces a plan (the super-admin). Every instance applies it within moments
/// (the change is announced on [`CHANNEL`]). `true` when it was created.
pub async fn put(ctx: &Ctx, db: &Db, name: &str, input: PlanInput) -> Result<(PlanSpec, bool)> {
    ctx.authorize_platform(PlatformAction::PlansManage)?;
    let name = plan_name(name)?;
    validate_plan(&input)?;
    let r = input.rates;
    let q = input.quotas;
    let created = sqlx::query_scalar!(
        r#"insert into plans (name, description, tenant_rate, tenant_burst, user_rate, user_burst,
                              agent_rate, agent_burst, max_identities, max_memories,
                              max_webhooks, max_policies, max_api_keys)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           on conflict (name) do update set
               description = excluded.description,
               tenant_rate = excluded.tenant_rate, tenant_burst = excluded.tenant_burst,
               user_rate = excluded.user_rate, user_burst = excluded.user_burst,
               agent_rate = excluded.agent_rate, agent_burst = excluded.agent_burst,
               max_identities = excluded.max_identities, max_memories = excluded.max_memories,
               max_webhooks = excluded.max_webhooks, max_policies = excluded.max_policies,
               max_api_keys = excluded.max_api_keys, updated_at = now()
           returning (xmax = 0) as "created!""#,
        name.as_str(),
        input.description.trim(),
        r.tenant.rate,
        r.tenant.burst as i32,
        r.user.rate,
        r.user.burst as i32,
        r.agent.rate,
        r.agent.burst as i32,
        to_i32(q.identities),
        to_i32(q.memories),
        to_i32(q.webhooks),
        to_i32(q.policies),
        to_i32(q.api_keys),
    )
    .fetch_one(db.pool())
    .await?;
    db.limiter().forget_tenants();
    tracing::info!(plan = %name, created, actor = ?ctx.actor().0, "plan written");
    let spec = read(db, Some(&name))
        .await?
        .pop()
        .ok_or(Error::NotFound { resource: "plan" })?;
    Ok((spec, created))
}

/// Deletes a plan no tenant is on (the super-admin).
pub async fn delete(ctx: &Ctx, db: &Db, name: &str) -> Result<()> {
    ctx.authorize_platform(PlatformAction::PlansManage)?;
    let Some(name) = Plan::parse(name) else {
        return Err(Error::NotFound { resource: "plan" });
    };
    let done = sqlx::query!("delete from plans where name = $1", name.as_str())
        .execute(db.pool())
        .await
        .map_err(|e| {
            if crate::error::foreign_key_violation(&e).is_some() {
                Error::Conflict {
                    code: "plan_in_use",
                    message: format!(
                        "Tenants are on the plan {:?}; move them to another plan first.",
                        name.as_str()
                    ),
                    field: None,
                }
            } else {
                e.into()
            }
        })?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound { resource: "plan" });
    }
    db.limiter().forget_tenants();
    tracing::info!(plan = %name, "plan deleted");
    Ok(())
}
