//! Tenants: created by the super-admin (REST) or the command line, each with its first owner.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::passwords;
use crate::authz::PlatformAction;
use crate::ctx::{Ctx, Plan};
use crate::db::{Change, Db};
use crate::error::{Error, FieldError, Result, unique_violation};
use crate::events::catalogue::types;
use crate::identities::{self, Identity};
use crate::pagination::{self, Page};
use crate::validation;

/// Also what tenant events carry, and their schema is derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::catalogue::shapes::Time")]
    pub created_at: OffsetDateTime,
}

struct Row {
    id: Uuid,
    slug: String,
    name: String,
    plan: String,
    created_at: OffsetDateTime,
}

impl TryFrom<Row> for Tenant {
    type Error = Error;
    fn try_from(r: Row) -> Result<Tenant> {
        Ok(Tenant {
            plan: Plan::parse(&r.plan)
                .ok_or_else(|| Error::Internal(format!("unknown plan {}", r.plan)))?,
            id: r.id,
            slug: r.slug,
            name: r.name,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    /// A plan's name; `free` when absent.
    pub plan: Option<String>,
    pub owner_email: String,
    /// When absent, a random password is generated and returned once.
    pub owner_password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub owner: Identity,
    /// The generated owner password, present only when none was given. Shown once.
    pub generated_password: Option<String>,
}

fn valid_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

pub(crate) fn unknown_plan(plan: &str) -> FieldError {
    FieldError::new(
        "plan",
        "unknown_plan",
        format!("There is no plan named {plan:?}; GET /v1/admin/plans lists them."),
    )
}

pub async fn create(ctx: &Ctx, db: &Db, input: NewTenant) -> Result<CreatedTenant> {
    ctx.authorize_platform(PlatformAction::TenantsCreate)?;
    let mut errors = Vec::new();
    let slug = input.slug.trim().to_lowercase();
    if !valid_slug(&slug) {
        errors.push(FieldError::new(
            "slug",
            "invalid_slug",
            "Use 1-63 lowercase letters, digits and dashes, not starting or ending with a dash.",
        ));
    }
    let name = validation::text("name", &input.name, 200, true, &mut errors).unwrap_or_default();
    let email =
        validation::email("owner_email", &input.owner_email, &mut errors).unwrap_or_default();
    if let Some(pw) = &input.owner_password {
        validation::password("owner_password", pw, &mut errors);
    }
    let plan = match input.plan.as_deref().map(str::trim) {
        None => Plan::FREE,
        Some(name) => Plan::parse(name).unwrap_or_else(|| {
            errors.push(unknown_plan(name));
            Plan::FREE
        }),
    };
    if errors.is_empty() && !crate::limits::plans::exists(db, &plan).await? {
        errors.push(unknown_plan(plan.as_str()));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (password, generated) = match input.owner_password {
        Some(pw) => (pw, None),
        None => {
            let pw = crate::crypto::random_token::<18>();
            (pw.clone(), Some(pw))
        }
    };
    let hash = passwords::hash(password).await?;
    let tenant_id = Uuid::now_v7();

    let mut tx = db.change_in(ctx, tenant_id).await?;
    let row = sqlx::query_as!(
        Row,
        "insert into tenants (id, slug, name, plan) values ($1, $2, $3, $4)
         returning id, slug, name, plan, created_at",
        tenant_id,
        slug,
        name,
        plan.as_str()
    )
    .fetch_one(tx.conn())
    .await
    .map_err(|e| match unique_violation(&e) {
        Some("tenants_slug_key") => Error::Conflict {
            code: "slug_taken",
            message: format!("A tenant with the slug {slug:?} already exists."),
            field: Some("slug"),
        },
        // The plan was deleted since it was checked.
        _ if crate::error::foreign_key_violation(&e) == Some("tenants_plan_fkey") => {
            Error::Validation(vec![unknown_plan(plan.as_str())])
        }
        _ => e.into(),
    })?;
    let tenant: Tenant = row.try_into()?;
    tx.record(Change {
        action: types::TENANT_CREATED,
        target_type: "tenant",
        target_id: Some(tenant.id),
        before: None,
        after: Some(serde_json::to_value(&tenant).unwrap_or_default()),
    })
    .await?;
    crate::roles::seed_system_roles(&mut tx).await?;
    crate::policies::seed_examples(&mut tx).await?;
    let owner = identities::insert_owner(&mut tx, &email, "Owner", hash).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant.slug, "tenant created");
    Ok(CreatedTenant {
        tenant,
        owner,
        generated_password: generated,
    })
}

pub async fn list(
    ctx: &Ctx,
    db: &Db,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Page<Tenant>> {
    ctx.authorize_platform(PlatformAction::TenantsList)?;
    let limit = pagination::limit(limit)?;
    let after = cursor.map(pagination::decode_cursor).transpose()?;
    let rows = sqlx::query_as!(
        Row,
        "select id, slug, name, plan, created_at from tenants
         where ($1::uuid is null or id < $1) order by id desc limit $2",
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .into_iter()
        .map(Tenant::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(pagination::page(items, limit, |t| t.id))
}

/// The caller's own tenant.
pub async fn current(ctx: &Ctx, db: &Db) -> Result<Tenant> {
    // A member's tenant is part of how the request resolved its caller (kept in memory
    // until the tenant's row changes; see `auth::callers`).
    if let Ok(c) = ctx.caller() {
        return Ok(Tenant {
            id: c.tenant_id,
            slug: c.tenant_slug.clone(),
            name: c.tenant_name.clone(),
            plan: c.plan.clone(),
            created_at: c.tenant_created_at,
        });
    }
    let tenant_id = ctx.tenant_id()?;
    // Every member may see which tenant they are in (name, slug and plan): no permission.
    sqlx::query_as!(
        Row,
        "select id, slug, name, plan, created_at from tenants where id = $1",
        tenant_id
    )
    .fetch_optional(db.pool())
    .await?
    .ok_or(Error::NotFound { resource: "tenant" })?
    .try_into()
}

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_OWNER: &str = "admin@demo.test";

/// Creates the demo tenant on first start. Returns it when it was created now.
pub async fn ensure_demo(db: &Db, password: Option<String>) -> Result<Option<CreatedTenant>> {
    let exists = sqlx::query_scalar!(
        "select exists(select 1 from tenants where slug = $1) as \"e!\"",
        DEMO_SLUG
    )
    .fetch_one(db.pool())
    .await?;
    if exists {
        return Ok(None);
    }
    let created = create(
        &Ctx::system(),
        db,
        NewTenant {
            slug: DEMO_SLUG.into(),
            name: "Demo Inc.".into(),
            plan: Some(Plan::PRO.as_str().to_owned()),
            owner_email: DEMO_OWNER.into(),
            owner_password: password,
        },
    )
    .await;
    match created {
        Ok(c) => Ok(Some(c)),
        // Another instance seeded it at the same moment.
        Err(Error::Conflict {
            code: "slug_taken", ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_slug;

    #[test]
    fn slugs() {
        for ok in ["acme", "a", "acme-2", "0a"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Acme", "a_b", "a b", &"a".repeat(64)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
