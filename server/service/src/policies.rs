//! Policies: allow or deny rules with a priority, a resource and an action pattern, and an
//! optional JSON Logic condition. Every change writes a new version (who, when, what); any
//! version can be read and restored, also after the policy was deleted.
//!
//! A rule is checked when it is saved: patterns against the permission catalogue, the
//! condition by compiling it (unknown operators and variables are refused with the place
//! of the mistake), so a stored policy always compiles.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::catalog::{self, Permission};
use crate::authz::engine::{Effect, check_patterns};
use crate::authz::{logic, perm};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, FieldError, Result, unique_violation};
use crate::events::catalogue::{shapes, types};
use crate::resource::{Authorized, Lifecycle, Resource, visible};
use crate::validation;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub effect: Effect,
    pub priority: i32,
    pub resource_pattern: String,
    pub action_pattern: String,
    pub condition: Option<Value>,
    pub enabled: bool,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Resource for Policy {
    const MODULE: &'static str = "policies";
    const NOUN: &'static str = "policy";
    const READ: Permission = perm::POLICIES_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::POLICY_CREATED,
        updated: types::POLICY_UPDATED,
        deleted: types::POLICY_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    /// What a version keeps: everything a restore needs.
    fn snapshot(&self) -> Value {
        shapes::to_value(shapes::PolicyData {
            id: self.id,
            name: &self.name,
            description: &self.description,
            effect: self.effect,
            priority: self.priority,
            resource_pattern: &self.resource_pattern,
            action_pattern: &self.action_pattern,
            condition: self.condition.as_ref(),
            enabled: self.enabled,
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        _keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "policies", tenant_id, id).await? {
            return Ok(None);
        }
        Ok(load(conn, tenant_id, Some(id)).await?.pop())
    }
}

impl Policy {
    /// The permission pattern, e.g. `memories:*`.
    pub fn pattern(&self) -> String {
        format!("{}:{}", self.resource_pattern, self.action_pattern)
    }
}

struct Row {
    id: Uuid,
    name: String,
    description: String,
    effect: String,
    priority: i32,
    resource_pattern: String,
    action_pattern: String,
    condition: Option<Value>,
    enabled: bool,
    version: i32,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<Row> for Policy {
    fn from(r: Row) -> Policy {
        Policy {
            id: r.id,
            name: r.name,
            description: r.description,
            effect: Effect::parse(&r.effect).unwrap_or(Effect::Deny),
            priority: r.priority,
            resource_pattern: r.resource_pattern,
            action_pattern: r.action_pattern,
            condition: r.condition,
            enabled: r.enabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn load(conn: &mut PgConnection, tenant_id: Uuid, only: Option<Uuid>) -> Result<Vec<Policy>> {
    let rows = sqlx::query_as!(
        Row,
        "select id, name, description, effect, priority, resource_pattern, action_pattern, condition,
                enabled, version, created_at, updated_at
         from policies where tenant_id = $1 and ($2::uuid is null or id = $2)
         order by priority desc, effect = 'allow', lower(name)",
        tenant_id,
        only
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Every policy the caller may see, highest priority first (deny before allow at equal
/// priority).
pub async fn list(ctx: &Ctx, db: &Db) -> Result<Vec<Policy>> {
    let mut tx = db.read(ctx, perm::POLICIES_READ).await?;
    let tenant_id = tx.tenant_id;
    Ok(load(tx.conn(), tenant_id, None)
        .await?
        .into_iter()
        .filter(|p| visible(ctx, tenant_id, p))
        .collect())
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Policy> {
    let mut tx = db.read_object(ctx, perm::POLICIES_READ).await?;
    Ok(tx
        .lookup::<Policy>(ctx, id, perm::POLICIES_READ)
        .await?
        .into_inner())
}

/// The permissions an enabled allow policy with these patterns can give.
fn allowed_by(v: &Valid) -> Vec<Permission> {
    if v.effect != Effect::Allow || !v.enabled {
        return Vec::new();
    }
    catalog::all()
        .filter(|p| {
            (v.resource_pattern == "*" || v.resource_pattern == p.module)
                && (v.action_pattern == "*" || v.action_pattern == p.action)
        })
        .collect()
}

/// An enabled allow policy is a grant to whoever its condition picks: saving one takes
/// every permission it can give, as granting a role does.
fn authorize_grant(ctx: &Ctx, v: &Valid) -> Result<()> {
    ctx.authorize_role_grant(false, &allowed_by(v))
}

/// A policy's fields; `None` keeps the current value on update (a new policy needs name,
/// effect and both patterns). `condition: Some(None)` removes the condition.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub effect: Option<String>,
    pub priority: Option<i32>,
    pub resource_pattern: Option<String>,
    pub action_pattern: Option<String>,
    pub condition: Option<Option<Value>>,
    pub enabled: Option<bool>,
}

struct Valid {
    name: String,
    description: String,
    effect: Effect,
    priority: i32,
    resource_pattern: String,
    action_pattern: String,
    condition: Option<Value>,
    enabled: bool,
}

/// Merges `input` over `base` (absent for a new policy) and checks the result. `prefix`
/// names the item in a bulk request (`items.3.`).
fn validate(input: PolicyInput, base: Option<&Policy>, prefix: &str) -> Result<Valid> {
    let mut errors = Vec::new();
    let field = |f: &str| format!("{prefix}{f}");
    let name = input
        .name
        .or_else(|| base.map(|b| b.name.clone()))
        .unwrap_or_default();
    let name = validation::text(&field("name"), &name, 200, true, &mut errors).unwrap_or_default();
    let description = input
        .description
        .or_else(|| base.map(|b| b.description.clone()))
        .unwrap_or_default();
    let description = validation::text(
        &field("description"),
        &description,
        2000,
        false,
        &mut errors,
    )
    .unwrap_or_default();
    let effect = match input.effect.as_deref() {
        Some(e) => Effect::parse(e).filter(|_| e != "grant"),
        None => base.map(|b| b.effect),
    };
    if effect.is_none() {
        errors.push(FieldError::new(
            &field("effect"),
            "invalid_value",
            "The effect is allow or deny.",
        ));
    }
    let priority = input
        .priority
        .or_else(|| base.map(|b| b.priority))
        .unwrap_or(0);
    if !(-1_000_000..=1_000_000).contains(&priority) {
        errors.push(FieldError::new(
            &field("priority"),
            "out_of_range",
            "Use a priority between -1000000 and 1000000.",
        ));
    }
    let resource_pattern = input
        .resource_pattern
        .or_else(|| base.map(|b| b.resource_pattern.clone()))
        .unwrap_or_default();
    let action_pattern = input
        .action_pattern
        .or_else(|| base.map(|b| b.action_pattern.clone()))
        .unwrap_or_default();
    if let Err(wrong) = check_patterns(resource_pattern.trim(), action_pattern.trim()) {
        for (part, message) in wrong {
            errors.push(FieldError::new(
                &field(part.field()),
                "unknown_pattern",
                message,
            ));
        }
    }
    let condition = match input.condition {
        Some(c) => c,
        None => base.and_then(|b| b.condition.clone()),
    };
    if let Some(rule) = &condition
        && let Err(e) = logic::compile(rule)
    {
        errors.push(FieldError::new(
            &field("condition"),
            "invalid_condition",
            e.to_string(),
        ));
    }
    let enabled = input
        .enabled
        .or_else(|| base.map(|b| b.enabled))
        .unwrap_or(true);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(Valid {
        name,
        description,
        effect: effect.expect("checked above"),
        priority,
        resource_pattern: resource_pattern.trim().to_owned(),
        action_pattern: action_pattern.trim().to_owned(),
        condition,
        enabled,
    })
}

fn name_conflict(err: sqlx::Error) -> Error {
    match unique_violation(&err) {
        Some("policies_name_key") => Error::Conflict {
            code: "policy_name_taken",
            message: "A policy with this name already exists.".into(),
            field: Some("name"),
        },
        _ => err.into(),
    }
}

async fn write_version(tx: &mut ChangeTx<'_>, policy: &Policy, change: &str) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let by = tx.ctx().actor().1;
    sqlx::query!(
        "insert into policy_versions (tenant_id, policy_id, version, change, snapshot, changed_by)
         values ($1, $2, $3, $4, $5, $6)",
        tenant_id,
        policy.id,
        policy.version,
        change,
        policy.snapshot(),
        by
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn insert(tx: &mut ChangeTx<'_>, id: Uuid, v: &Valid, version: i32) -> Result<Policy> {
    let tenant_id = tx.tenant_id;
    sqlx::query!(
        "insert into policies (tenant_id, id, name, description, effect, priority, resource_pattern,
                               action_pattern, condition, enabled, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        tenant_id,
        id,
        v.name,
        v.description,
        v.effect.as_str(),
        v.priority,
        v.resource_pattern,
        v.action_pattern,
        v.condition,
        v.enabled,
        version
    )
    .execute(tx.conn())
    .await
    .map_err(name_conflict)?;
    tx.reread::<Policy>(id).await
}

/// The example policy every tenant starts with: agents read, write and delete the memories
/// they own, and no others unless a role or another policy grants more. The condition
/// compares `resource.owner` with `principal.id`.
pub const AGENTS_OWN_MEMORIES: &str = "Agents keep their own memories";

pub(crate) async fn seed_examples(tx: &mut ChangeTx<'_>) -> Result<()> {
    // The tenant's first policy, written by the system as the tenant is made.
    let v = validate(
        PolicyInput {
            name: Some(AGENTS_OWN_MEMORIES.into()),
            description: Some(
                "An agent may read, write and delete the memories it owns (resource.owner = principal.id)."
                    .into(),
            ),
            effect: Some("allow".into()),
            priority: Some(0),
            resource_pattern: Some("memories".into()),
            action_pattern: Some("*".into()),
            condition: Some(Some(serde_json::json!({"and": [
                {"==": [{"var": "principal.kind"}, "agent"]},
                {"==": [{"var": "resource.owner"}, {"var": "principal.id"}]}
            ]}))),
            enabled: Some(true),
        },
        None,
        "",
    )?;
    insert_new(tx, &v).await?;
    Ok(())
}

async fn create_in(tx: &mut ChangeTx<'_>, input: PolicyInput, prefix: &str) -> Result<Policy> {
    let v = validate(input, None, prefix)?;
    authorize_grant(tx.ctx(), &v)?;
    tx.within_quota(crate::limits::Quota::Policies, 1).await?;
    insert_new(tx, &v).await
}

/// Stores a new, checked and authorized policy.
async fn insert_new(tx: &mut ChangeTx<'_>, v: &Valid) -> Result<Policy> {
    let policy = insert(tx, Uuid::now_v7(), v, 1).await?;
    write_version(tx, &policy, "created").await?;
    tx.created(&policy).await?;
    Ok(policy)
}

async fn update_in(
    tx: &mut ChangeTx<'_>,
    id: Uuid,
    input: PolicyInput,
    prefix: &str,
    change: &str,
) -> Result<Policy> {
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Policy>(id, perm::POLICIES_UPDATE).await?;
    let v = validate(input, Some(&before), prefix)?;
    authorize_grant(tx.ctx(), &v)?;
    sqlx::query!(
        "update policies set name = $3, description = $4, effect = $5, priority = $6,
                resource_pattern = $7, action_pattern = $8, condition = $9, enabled = $10,
                version = version + 1, updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        v.name,
        v.description,
        v.effect.as_str(),
        v.priority,
        v.resource_pattern,
        v.action_pattern,
        v.condition,
        v.enabled
    )
    .execute(tx.conn())
    .await
    .map_err(name_conflict)?;
    let after = tx.reread::<Policy>(id).await?;
    write_version(tx, &after, change).await?;
    if change == "restored" {
        tx.changed(types::POLICY_RESTORED, &before, after.snapshot())
            .await?;
    } else {
        tx.updated(&before, &after).await?;
    }
    Ok(after)
}

async fn delete_in(tx: &mut ChangeTx<'_>, id: Uuid) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let before: Authorized<Policy> = tx.lookup::<Policy>(id, perm::POLICIES_DELETE).await?;
    sqlx::query!(
        "delete from policies where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    let tombstone = Policy {
        version: before.version + 1,
        ..(*before).clone()
    };
    write_version(tx, &tombstone, "deleted").await?;
    tx.deleted(&before).await
}

pub async fn create(ctx: &Ctx, db: &Db, input: PolicyInput) -> Result<Policy> {
    let mut tx = db.change(ctx, perm::POLICIES_CREATE).await?;
    let policy = create_in(&mut tx, input, "").await?;
    tx.authz_changed().await?;
    tx.commit().await?;
    Ok(policy)
}

pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, input: PolicyInput) -> Result<Policy> {
    let mut tx = db.change(ctx, perm::POLICIES_UPDATE).await?;
    let policy = update_in(&mut tx, id, input, "", "updated").await?;
    tx.authz_changed().await?;
    tx.commit().await?;
    Ok(policy)
}

pub async fn delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change(ctx, perm::POLICIES_DELETE).await?;
    delete_in(&mut tx, id).await?;
    tx.authz_changed().await?;
    tx.commit().await
}

/// One operation of a bulk request.
#[derive(Debug, Clone)]
pub enum BulkOp {
    Create(PolicyInput),
    Update(Uuid, PolicyInput),
    Delete(Uuid),
}

/// Applies every operation in one transaction: all of them, or (on the first error) none,
/// with the error naming the item (`items.N.field`).
pub async fn bulk(ctx: &Ctx, db: &Db, ops: Vec<BulkOp>) -> Result<Vec<Option<Policy>>> {
    // A caller who may change no policy at all is refused before the request is read.
    let tenant_id = ctx.tenant_id()?;
    let module = crate::authz::Target::collection(tenant_id, Policy::MODULE);
    let changes = [
        perm::POLICIES_CREATE,
        perm::POLICIES_UPDATE,
        perm::POLICIES_DELETE,
    ];
    if !changes
        .iter()
        .any(|p| ctx.authorize_quietly(*p, module.clone()).is_ok())
    {
        ctx.authorize(perm::POLICIES_UPDATE, module.clone())?;
    }
    if ops.is_empty() || ops.len() > 500 {
        return Err(Error::validation(
            "items",
            "out_of_range",
            "Send between 1 and 500 operations.",
        ));
    }
    // Each operation is authorized as it would be alone: creating on the module, an update
    // or a deletion on its policy.
    if ops.iter().any(|op| matches!(op, BulkOp::Create(_))) {
        ctx.authorize(perm::POLICIES_CREATE, module)?;
    }
    let mut tx = db.change_object(ctx, perm::POLICIES_UPDATE).await?;
    let mut out = Vec::with_capacity(ops.len());
    for (n, op) in ops.into_iter().enumerate() {
        let prefix = format!("items.{n}.");
        let result = match op {
            BulkOp::Create(input) => create_in(&mut tx, input, &prefix).await.map(Some),
            BulkOp::Update(id, input) => update_in(&mut tx, id, input, &prefix, "updated")
                .await
                .map(Some),
            BulkOp::Delete(id) => delete_in(&mut tx, id).await.map(|_| None),
        };
        match result {
            Ok(p) => out.push(p),
            Err(Error::NotFound { .. }) => {
                return Err(Error::validation(
                    &format!("items.{n}.id"),
                    "not_found",
                    "There is no such policy.",
                ));
            }
            Err(Error::Conflict {
                code,
                message,
                field,
            }) => {
                return Err(Error::validation(
                    &format!("items.{n}.{}", field.unwrap_or("id")),
                    code,
                    message,
                ));
            }
            Err(e) => return Err(e),
        }
    }
    tx.authz_changed().await?;
    tx.commit().await?;
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    pub policy_id: Uuid,
    pub version: i32,
    /// `created`, `updated`, `restored` or `deleted`.
    pub change: String,
    pub snapshot: Value,
    pub changed_by: Option<Uuid>,
    /// The changer's display name or email, while they exist.
    pub changed_by_label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// Every version of a policy, newest first (also for a deleted policy).
pub async fn versions(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Vec<Version>> {
    let mut tx = db.read(ctx, perm::POLICIES_READ).await?;
    let tenant_id = tx.tenant_id;
    // A policy's id is all a rule can see of it, so a deleted one is judged as it was.
    authorize_by_id(ctx, tenant_id, id, perm::POLICIES_READ)?;
    let mut rows = sqlx::query_as!(
        Version,
        r#"select v.policy_id, v.version, v.change, v.snapshot, v.changed_by,
                null::text as changed_by_label, v.changed_at
         from policy_versions v
         where v.tenant_id = $1 and v.policy_id = $2
         order by v.version desc"#,
        tenant_id,
        id
    )
    .fetch_all(tx.conn())
    .await?;
    if rows.is_empty() {
        return Err(Error::NotFound { resource: "policy" });
    }
    let (conn, keyring) = tx.parts();
    crate::identities::sealed::name_each(
        conn,
        keyring,
        tenant_id,
        &mut rows,
        |v| v.changed_by,
        |v, label| v.changed_by_label = label,
    )
    .await?;
    Ok(rows)
}

/// Authorizes `permission` on policy `id`, which may no longer exist: 404 for a caller
/// who may not see it, 403 for one who may see it but not do this.
fn authorize_by_id(ctx: &Ctx, tenant_id: Uuid, id: Uuid, permission: Permission) -> Result<()> {
    let target = crate::authz::Target::object(tenant_id, Policy::MODULE, id);
    let not_found = |e| match e {
        Error::Forbidden { .. } => Error::NotFound {
            resource: Policy::NOUN,
        },
        other => other,
    };
    ctx.authorize(perm::POLICIES_READ, target.clone())
        .map_err(not_found)?;
    ctx.authorize(permission, target)
}

fn input_from_snapshot(s: &Value) -> PolicyInput {
    let text = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
    PolicyInput {
        name: text("name"),
        description: text("description"),
        effect: text("effect"),
        priority: s.get("priority").and_then(Value::as_i64).map(|p| p as i32),
        resource_pattern: text("resource_pattern"),
        action_pattern: text("action_pattern"),
        condition: Some(s.get("condition").filter(|c| !c.is_null()).cloned()),
        enabled: s.get("enabled").and_then(Value::as_bool),
    }
}

/// Makes version `version` current again, as a new version. A deleted policy comes back
/// with its id.
pub async fn restore(ctx: &Ctx, db: &Db, id: Uuid, version: i32) -> Result<Policy> {
    let mut tx = db.change(ctx, perm::POLICIES_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    authorize_by_id(ctx, tenant_id, id, perm::POLICIES_UPDATE)?;
    let snapshot = sqlx::query_scalar!(
        "select snapshot from policy_versions where tenant_id = $1 and policy_id = $2 and version = $3",
        tenant_id,
        id,
        version
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound { resource: "policy version" })?;
    let input = input_from_snapshot(&snapshot);
    let exists = sqlx::query_scalar!(
        "select version from policies where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .fetch_optional(tx.conn())
    .await?;
    let policy = match exists {
        Some(_) => update_in(&mut tx, id, input, "", "restored").await?,
        None => {
            let last = sqlx::query_scalar!(
                r#"select max(version) as "v!" from policy_versions where tenant_id = $1 and policy_id = $2"#,
                tenant_id,
                id
            )
            .fetch_one(tx.conn())
            .await?;
            let v = validate(input, None, "")?;
            authorize_grant(ctx, &v)?;
            let policy = insert(&mut tx, id, &v, last + 1).await?;
            write_version(&mut tx, &policy, "restored").await?;
            tx.record(Change {
                action: types::POLICY_RESTORED,
                target_type: "policy",
                target_id: Some(id),
                before: None,
                after: Some(policy.snapshot()),
            })
            .await?;
            policy
        }
    };
    tx.authz_changed().await?;
    tx.commit().await?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn base() -> PolicyInput {
        PolicyInput {
            name: Some("Agents see their own memories".into()),
            effect: Some("allow".into()),
            priority: Some(10),
            resource_pattern: Some("memories".into()),
            action_pattern: Some("read".into()),
            condition: Some(Some(
                json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]}),
            )),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_policy_passes() {
        let v = validate(base(), None, "").unwrap();
        assert_eq!((v.effect, v.priority, v.enabled), (Effect::Allow, 10, true));
    }

    #[test]
    fn every_mistake_is_named() {
        let err = validate(
            PolicyInput {
                name: Some(String::new()),
                effect: Some("grant".into()),
                priority: Some(2_000_000),
                resource_pattern: Some("memory".into()),
                action_pattern: Some("read".into()),
                condition: Some(Some(json!({"==": [{"var": "principle.id"}, 1]}))),
                ..Default::default()
            },
            None,
            "items.2.",
        )
        .err()
        .unwrap();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "items.2.name",
                "items.2.effect",
                "items.2.priority",
                "items.2.resource_pattern",
                "items.2.condition"
            ]
        );
        let condition = &err.field_errors()[4].message;
        assert!(
            condition.contains("/==/0/var") && condition.contains("principle.id"),
            "{condition}"
        );
    }

    #[test]
    fn snapshots_round_trip_into_inputs() {
        let v = validate(base(), None, "").unwrap();
        let p = Policy {
            id: Uuid::now_v7(),
            name: v.name,
            description: v.description,
            effect: v.effect,
            priority: v.priority,
            resource_pattern: v.resource_pattern,
            action_pattern: v.action_pattern,
            condition: v.condition,
            enabled: v.enabled,
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        let again = validate(input_from_snapshot(&p.snapshot()), None, "").unwrap();
        assert_eq!(again.condition, p.condition);
        assert_eq!(again.priority, 10);
    }
}
