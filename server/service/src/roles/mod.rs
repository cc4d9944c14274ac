//! Roles: the four system roles every tenant has (their permissions come from the code's
//! catalogue and cannot be edited) and the tenant's custom roles, each a map from
//! permission to allow or deny. Roles are held by identities directly or through groups.
//!
//! Rules kept here: system roles cannot be renamed, edited or deleted; nobody grants a role
//! that allows more than they may do themselves; only an owner grants or removes the owner
//! role; a tenant keeps at least one active owner.

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::catalog::{self, Permission};
use crate::authz::engine::Effect;
use crate::authz::perm;
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, FieldError, Result, unique_violation};
use crate::events::catalogue::{shapes, types};
use crate::resource::{Lifecycle, Resource, hidden, visible};
use crate::validation;

mod held;

pub(crate) use held::*;

pub const OWNER: &str = "owner";
/// The role a new identity gets when nothing else is said.
pub const MEMBER: &str = "member";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// `owner`, `admin`, `member` or `viewer` for system roles.
    pub system: Option<String>,
    /// Every permission the role allows or denies, in catalogue order.
    pub permissions: Vec<Grant>,
    /// Identities holding the role directly (0 where not counted, see `load_roles`).
    pub identity_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub permission: Permission,
    pub effect: Effect,
}

impl Resource for Role {
    const MODULE: &'static str = "roles";
    const NOUN: &'static str = "role";
    const READ: Permission = perm::ROLES_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::ROLE_CREATED,
        updated: types::ROLE_UPDATED,
        deleted: types::ROLE_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    fn snapshot(&self) -> serde_json::Value {
        shapes::to_value(shapes::RoleData {
            id: self.id,
            name: &self.name,
            description: &self.description,
            system: self.system.as_deref(),
            permissions: self
                .permissions
                .iter()
                .map(|g| (g.permission.to_key(), g.effect))
                .collect(),
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        _keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "roles", tenant_id, id).await? {
            return Ok(None);
        }
        by_id(conn, tenant_id, id).await
    }
}

impl Role {
    pub fn allows(&self) -> Vec<Permission> {
        self.permissions
            .iter()
            .filter(|g| g.effect == Effect::Allow)
            .map(|g| g.permission)
            .collect()
    }

    pub fn is_owner(&self) -> bool {
        self.system.as_deref() == Some(OWNER)
    }
}

fn system_grants(key: &str) -> Vec<Grant> {
    catalog::all()
        .filter(|p| catalog::system_role_grants(key, *p))
        .map(|permission| Grant {
            permission,
            effect: Effect::Allow,
        })
        .collect()
}

/// Creates the four system roles of a new tenant.
pub(crate) async fn seed_system_roles(tx: &mut ChangeTx<'_>) -> Result<()> {
    let tenant_id = tx.tenant_id;
    for (key, description) in catalog::SYSTEM_ROLES {
        sqlx::query!(
            "insert into roles (tenant_id, id, name, description, system_key) values ($1, $2, $3, $4, $3)",
            tenant_id,
            Uuid::now_v7(),
            key,
            description
        )
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

async fn load_roles(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    only: Option<Uuid>,
    names: Option<&[String]>,
) -> Result<Vec<Role>> {
    // Counting holders scans the role's assignments: only screens that show it pay for it.
    let count_holders = names.is_none();
    let rows = sqlx::query!(
        r#"select r.id, r.name, r.description, r.system_key, r.created_at, r.updated_at,
                  case when $4 then (select count(*) from identity_roles ir
                   where ir.tenant_id = r.tenant_id and ir.role_id = r.id) else 0 end as "identity_count!"
           from roles r
           where r.tenant_id = $1 and ($2::uuid is null or r.id = $2)
             and ($3::text[] is null or r.name = any($3))
           order by r.system_key is null, array_position(array['owner','admin','member','viewer'], r.system_key), r.name"#,
        tenant_id,
        only,
        names,
        count_holders
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let grants = sqlx::query!(
        "select role_id, permission, effect from role_permissions
         where tenant_id = $1 and role_id = any($2)",
        tenant_id,
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let permissions = match r.system_key.as_deref() {
                Some(key) => system_grants(key),
                None => {
                    let mut g: Vec<Grant> = grants
                        .iter()
                        .filter(|g| g.role_id == r.id)
                        .filter_map(|g| {
                            Some(Grant {
                                permission: Permission::parse(&g.permission)?,
                                effect: Effect::parse(&g.effect)?,
                            })
                        })
                        .collect();
                    g.sort_by_key(|g| g.permission.index());
                    g
                }
            };
            Role {
                id: r.id,
                name: r.name,
                description: r.description,
                system: r.system_key,
                permissions,
                identity_count: r.identity_count,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// A role's permission map as both doors receive it (`"module:action"` to `"allow"` or
/// `"deny"`), read into effects; the first value that is neither is refused.
pub fn read_effects(
    permissions: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, Effect)>> {
    permissions
        .into_iter()
        .map(|(permission, effect)| match Effect::parse(effect.trim()) {
            Some(e) => Ok((permission, e)),
            None => Err(Error::validation(
                "permissions",
                "invalid_effect",
                format!("\"{permission}\" must be \"allow\" or \"deny\", not \"{effect}\""),
            )),
        })
        .collect()
}

/// Every role the caller may see.
pub async fn list(ctx: &Ctx, db: &Db) -> Result<Vec<Role>> {
    let mut tx = db.read(ctx, perm::ROLES_READ).await?;
    let tenant_id = tx.tenant_id;
    Ok(load_roles(tx.conn(), tenant_id, None, None)
        .await?
        .into_iter()
        .filter(|r| visible(ctx, tenant_id, r))
        .collect())
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Role> {
    let mut tx = db.read_object(ctx, perm::ROLES_READ).await?;
    Ok(tx
        .lookup::<Role>(ctx, id, perm::ROLES_READ)
        .await?
        .into_inner())
}

/// Roles named `names`, in that order; an unknown name is a field error on `field`.
pub(crate) async fn by_names(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    names: &[String],
    field: &str,
) -> Result<Vec<Role>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let all = load_roles(conn, tenant_id, None, Some(names)).await?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match all.iter().find(|r| r.name == *name) {
            Some(r) if !out.iter().any(|o: &Role| o.id == r.id) => out.push(r.clone()),
            Some(_) => {}
            None => {
                return Err(Error::validation(
                    field,
                    "unknown_role",
                    format!("There is no role named \"{name}\"."),
                ));
            }
        }
    }
    Ok(out)
}

/// The roles of `names` that exist, in that order (names of deleted roles are skipped).
pub(crate) async fn existing(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    names: &[String],
) -> Result<Vec<Role>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let all = load_roles(conn, tenant_id, None, Some(names)).await?;
    Ok(names
        .iter()
        .filter_map(|n| all.iter().find(|r| r.name == *n).cloned())
        .collect())
}

/// The role `id`, if it still exists.
pub(crate) async fn by_id(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Role>> {
    Ok(load_roles(conn, tenant_id, Some(id), None).await?.pop())
}

#[derive(Debug, Clone, Default)]
pub struct RoleInput {
    pub name: String,
    pub description: String,
    /// `module:action` → allow or deny; permissions left out are neither.
    pub permissions: Vec<(String, Effect)>,
}

fn validate(input: &RoleInput) -> Result<(String, String, Vec<Grant>)> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_lowercase();
    if !(1..=64).contains(&name.len())
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        || !name.as_bytes()[0].is_ascii_alphanumeric()
    {
        errors.push(FieldError::new(
            "name",
            "invalid_name",
            "Use 1-64 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit.",
        ));
    }
    let description = validation::text("description", &input.description, 500, false, &mut errors)
        .unwrap_or_default();
    let mut grants = Vec::new();
    for (key, effect) in &input.permissions {
        match Permission::parse(key) {
            Some(permission) if !grants.iter().any(|g: &Grant| g.permission == permission) => {
                grants.push(Grant {
                    permission,
                    effect: *effect,
                })
            }
            Some(_) => {}
            None => errors.push(FieldError::new(
                "permissions",
                "unknown_permission",
                format!("\"{key}\" is not a permission; see GET /v1/permissions."),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    grants.sort_by_key(|g| g.permission.index());
    Ok((name, description, grants))
}

/// The permissions `grants` allow.
fn allowing(grants: &[Grant]) -> Vec<Permission> {
    grants
        .iter()
        .filter(|g| g.effect == Effect::Allow)
        .map(|g| g.permission)
        .collect()
}

fn name_conflict(err: sqlx::Error) -> Error {
    match unique_violation(&err) {
        Some("roles_name_key") => Error::Conflict {
            code: "role_name_taken",
            message: "A role with this name already exists.".into(),
            field: Some("name"),
        },
        _ => err.into(),
    }
}

async fn write_grants(tx: &mut ChangeTx<'_>, role_id: Uuid, grants: &[Grant]) -> Result<()> {
    let tenant_id = tx.tenant_id;
    sqlx::query!(
        "delete from role_permissions where tenant_id = $1 and role_id = $2",
        tenant_id,
        role_id
    )
    .execute(tx.conn())
    .await?;
    let keys: Vec<String> = grants.iter().map(|g| g.permission.to_key()).collect();
    let effects: Vec<String> = grants
        .iter()
        .map(|g| g.effect.as_str().to_owned())
        .collect();
    sqlx::query!(
        "insert into role_permissions (tenant_id, role_id, permission, effect)
         select $1, $2, p, e from unnest($3::text[], $4::text[]) as t (p, e)",
        tenant_id,
        role_id,
        &keys,
        &effects
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn create(ctx: &Ctx, db: &Db, input: RoleInput) -> Result<Role> {
    let mut tx = db.change(ctx, perm::ROLES_CREATE).await?;
    let (name, description, grants) = validate(&input)?;
    // Invitations name the roles they grant: a role made to allow more than its maker
    // holds would be granted by an invitation sent before it existed under that name.
    ctx.authorize_role_grant(false, &allowing(&grants))?;
    let tenant_id = tx.tenant_id;
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into roles (tenant_id, id, name, description) values ($1, $2, $3, $4)",
        tenant_id,
        id,
        name,
        description
    )
    .execute(tx.conn())
    .await
    .map_err(name_conflict)?;
    write_grants(&mut tx, id, &grants).await?;
    let role = tx.reread::<Role>(id).await?;
    tx.authz_changed().await?;
    tx.created(&role).await?;
    tx.commit().await?;
    Ok(role)
}

fn refuse_system(role: &Role, what: &str) -> Result<()> {
    if role.system.is_some() {
        Err(Error::Conflict {
            code: "system_role",
            message: format!("System roles cannot be {what}; create a custom role instead."),
            field: None,
        })
    } else {
        Ok(())
    }
}

/// Changes a custom role; `None` keeps a field. `permissions` replaces the whole map.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<(String, Effect)>>,
}

pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, patch: RolePatch) -> Result<Role> {
    let mut tx = db.change_object(ctx, perm::ROLES_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Role>(id, perm::ROLES_UPDATE).await?;
    refuse_system(&before, "edited")?;
    let input = RoleInput {
        name: patch.name.unwrap_or_else(|| before.name.clone()),
        description: patch
            .description
            .unwrap_or_else(|| before.description.clone()),
        permissions: patch.permissions.unwrap_or_else(|| {
            before
                .permissions
                .iter()
                .map(|g| (g.permission.to_key(), g.effect))
                .collect()
        }),
    };
    let (name, description, grants) = validate(&input)?;
    // Widening a role that people hold is granting it anew.
    ctx.authorize_role_grant(false, &allowing(&grants))?;
    sqlx::query!(
        "update roles set name = $3, description = $4, updated_at = now() where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        name,
        description
    )
    .execute(tx.conn())
    .await
    .map_err(name_conflict)?;
    write_grants(&mut tx, id, &grants).await?;
    let after = tx.reread::<Role>(id).await?;
    tx.authz_changed().await?;
    tx.updated(&before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::ROLES_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Role>(id, perm::ROLES_DELETE).await?;
    refuse_system(&before, "deleted")?;
    sqlx::query!(
        "delete from roles where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    tx.authz_changed().await?;
    tx.deleted(&before).await?;
    tx.commit().await
}

/// The roles an identity holds directly.
pub async fn of_identity(ctx: &Ctx, db: &Db, identity_id: Uuid) -> Result<Vec<Role>> {
    let mut tx = db.read(ctx, perm::ROLES_READ).await?;
    let tenant_id = tx.tenant_id;
    let identity = {
        let (conn, keyring) = tx.parts();
        crate::identities::fetch(conn, keyring, tenant_id, identity_id).await?
    };
    if hidden(ctx, tenant_id, &identity) {
        return Err(Error::NotFound {
            resource: "identity",
        });
    }
    let ids = sqlx::query_scalar!(
        "select role_id from identity_roles where tenant_id = $1 and identity_id = $2",
        tenant_id,
        identity_id
    )
    .fetch_all(tx.conn())
    .await?;
    let all = load_roles(tx.conn(), tenant_id, None, None).await?;
    Ok(all.into_iter().filter(|r| ids.contains(&r.id)).collect())
}

/// Replaces the roles an identity holds directly with `names`.
pub async fn set_identity_roles(
    ctx: &Ctx,
    db: &Db,
    identity_id: Uuid,
    names: Vec<String>,
) -> Result<Vec<Role>> {
    let mut tx = db.change(ctx, perm::ROLES_MANAGE).await?;
    let tenant_id = tx.tenant_id;
    let identity = {
        let (conn, keyring) = tx.parts();
        crate::identities::fetch_for_update(conn, keyring, tenant_id, identity_id).await?
    };
    if hidden(ctx, tenant_id, &identity) {
        return Err(Error::NotFound {
            resource: "identity",
        });
    }
    let wanted = by_names(tx.conn(), tenant_id, &names, "roles").await?;
    let current = sqlx::query_scalar!(
        "select role_id from identity_roles where tenant_id = $1 and identity_id = $2",
        tenant_id,
        identity_id
    )
    .fetch_all(tx.conn())
    .await?;
    let all = load_roles(tx.conn(), tenant_id, None, None).await?;
    let held: Vec<&Role> = all.iter().filter(|r| current.contains(&r.id)).collect();
    for added in wanted.iter().filter(|r| !current.contains(&r.id)) {
        ctx.authorize_role_grant(added.is_owner(), &added.allows())?;
    }
    for removed in held.iter().filter(|r| !wanted.iter().any(|w| w.id == r.id)) {
        // Taking a role away is as strong as handing it out.
        ctx.authorize_role_grant(removed.is_owner(), &removed.allows())?;
        if removed.is_owner() && matches!(ctx.caller(), Ok(c) if c.identity_id == identity_id) {
            return Err(Error::Conflict {
                code: "cannot_change_own_role",
                message: "You cannot give up your own owner role; ask another owner.".into(),
                field: Some("roles"),
            });
        }
    }
    let before: Vec<&str> = held.iter().map(|r| r.name.as_str()).collect();
    let ids: Vec<Uuid> = wanted.iter().map(|r| r.id).collect();
    sqlx::query!(
        "delete from identity_roles where tenant_id = $1 and identity_id = $2 and role_id <> all($3)",
        tenant_id,
        identity_id,
        &ids
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "insert into identity_roles (tenant_id, identity_id, role_id)
         select $1, $2, r from unnest($3::uuid[]) as r on conflict do nothing",
        tenant_id,
        identity_id,
        &ids
    )
    .execute(tx.conn())
    .await?;
    if identity.status == crate::identities::Status::Active {
        ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    }
    let after: Vec<&str> = wanted.iter().map(|r| r.name.as_str()).collect();
    if before
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        != after.iter().copied().collect()
    {
        tx.record(Change {
            action: types::IDENTITY_ROLES_CHANGED,
            target_type: "identity",
            target_id: Some(identity_id),
            before: Some(shapes::to_value(shapes::RolesData { roles: before })),
            after: Some(shapes::to_value(shapes::RolesData { roles: after })),
        })
        .await?;
        tx.commit().await?;
    }
    Ok(wanted)
}

/// Grants roles to a brand-new identity inside its creation transaction.
pub(crate) async fn grant_initial(
    tx: &mut ChangeTx<'_>,
    identity_id: Uuid,
    roles: &[Role],
) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let ids: Vec<Uuid> = roles.iter().map(|r| r.id).collect();
    sqlx::query!(
        "insert into identity_roles (tenant_id, identity_id, role_id)
         select $1, $2, r from unnest($3::uuid[]) as r",
        tenant_id,
        identity_id,
        &ids
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_input_is_checked() {
        let ok = validate(&RoleInput {
            name: " Editors ".into(),
            description: "Edit memories".into(),
            permissions: vec![
                ("memories:update".into(), Effect::Allow),
                ("memories:delete".into(), Effect::Deny),
            ],
        })
        .unwrap();
        assert_eq!(ok.0, "editors");
        assert_eq!(ok.2.len(), 2);
        let err = validate(&RoleInput {
            name: "-bad name".into(),
            description: String::new(),
            permissions: vec![("memories:fly".into(), Effect::Allow)],
        })
        .unwrap_err();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["name", "permissions"]);
    }

    #[test]
    fn system_grants_follow_the_catalogue() {
        assert_eq!(system_grants("owner").len(), catalog::PERMISSION_COUNT);
        assert!(
            system_grants("viewer")
                .iter()
                .all(|g| g.permission.action == "read")
        );
    }
}
