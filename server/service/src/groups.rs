//! Groups: a tree inside a tenant (companies, subsidiaries, divisions, departments, teams)
//! with members. Roles granted to a group reach its members and the members of every group
//! below it.
//!
//! The tree stays a tree: a group cannot move under itself or one of its descendants
//! (moves in a tenant take turns on an advisory lock, so two concurrent moves cannot make a
//! cycle together), and deleting a group moves its children up to its parent.

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::{Permission, perm};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::resource::{Authorized, Lifecycle, Resource, visible};
use crate::roles;
use crate::validation;

pub const KINDS: [&str; 6] = [
    "company",
    "subsidiary",
    "division",
    "department",
    "team",
    "other",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub kind: String,
    pub description: String,
    /// Names of the roles granted to the group itself.
    pub roles: Vec<String>,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Group {
    /// What the group's events say about it.
    pub(crate) fn data(&self) -> shapes::GroupData<'_> {
        shapes::GroupData {
            id: self.id,
            parent_id: self.parent_id,
            name: &self.name,
            kind: &self.kind,
            description: &self.description,
            roles: &self.roles,
        }
    }
}

impl Resource for Group {
    const MODULE: &'static str = "groups";
    const NOUN: &'static str = "group";
    const READ: Permission = perm::GROUPS_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::GROUP_CREATED,
        updated: types::GROUP_UPDATED,
        deleted: types::GROUP_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    fn snapshot(&self) -> serde_json::Value {
        shapes::to_value(self.data())
    }

    async fn fetch(
        conn: &mut PgConnection,
        _keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "groups", tenant_id, id).await? {
            return Ok(None);
        }
        Ok(load(conn, tenant_id, Some(id)).await?.pop())
    }
}

/// A group with the groups below it.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    #[serde(flatten)]
    pub group: Group,
    pub children: Vec<Node>,
}

async fn load(conn: &mut PgConnection, tenant_id: Uuid, only: Option<Uuid>) -> Result<Vec<Group>> {
    Ok(sqlx::query_as!(
        Group,
        r#"select g.id, g.parent_id, g.name, g.kind, g.description,
                  array(select r.name from group_roles gr
                        join roles r on r.tenant_id = gr.tenant_id and r.id = gr.role_id
                        where gr.tenant_id = g.tenant_id and gr.group_id = g.id order by r.name) as "roles!",
                  (select count(*) from group_members gm
                   where gm.tenant_id = g.tenant_id and gm.group_id = g.id) as "member_count!",
                  g.created_at, g.updated_at
           from groups g
           where g.tenant_id = $1 and ($2::uuid is null or g.id = $2)
           order by g.name, g.id"#,
        tenant_id,
        only
    )
    .fetch_all(conn)
    .await?)
}

/// The groups the caller may see. A group whose parent is hidden from the caller shows as
/// a root (its parent's id is not shown either).
pub async fn list(ctx: &Ctx, db: &Db) -> Result<Vec<Group>> {
    let mut tx = db.read(ctx, perm::GROUPS_READ).await?;
    let tenant_id = tx.tenant_id;
    let mut shown: Vec<Group> = load(tx.conn(), tenant_id, None)
        .await?
        .into_iter()
        .filter(|g| visible(ctx, tenant_id, g))
        .collect();
    let ids: std::collections::HashSet<Uuid> = shown.iter().map(|g| g.id).collect();
    for g in &mut shown {
        if g.parent_id.is_some_and(|p| !ids.contains(&p)) {
            g.parent_id = None;
        }
    }
    Ok(shown)
}

/// Every group as a forest, roots first, children by name.
pub async fn tree(ctx: &Ctx, db: &Db) -> Result<Vec<Node>> {
    let groups = list(ctx, db).await?;
    Ok(build_tree(groups))
}

fn build_tree(groups: Vec<Group>) -> Vec<Node> {
    fn attach(parent: Option<Uuid>, pool: &mut Vec<Group>) -> Vec<Node> {
        let (mine, rest): (Vec<Group>, Vec<Group>) = std::mem::take(pool)
            .into_iter()
            .partition(|g| g.parent_id == parent);
        *pool = rest;
        mine.into_iter()
            .map(|g| {
                let id = g.id;
                Node {
                    group: g,
                    children: attach(Some(id), pool),
                }
            })
            .collect()
    }
    let mut pool = groups;
    attach(None, &mut pool)
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Group> {
    let mut tx = db.read_object(ctx, perm::GROUPS_READ).await?;
    Ok(tx
        .lookup::<Group>(ctx, id, perm::GROUPS_READ)
        .await?
        .into_inner())
}

#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` makes the group a root.
    pub parent_id: Option<Option<Uuid>>,
}

fn validate(input: &GroupInput, creating: bool) -> Result<()> {
    let mut errors = Vec::new();
    if let Some(name) = &input.name {
        validation::text("name", name, 200, true, &mut errors);
    } else if creating {
        errors.push(FieldError::new("name", "required", "A group needs a name."));
    }
    if let Some(kind) = &input.kind
        && !KINDS.contains(&kind.as_str())
    {
        errors.push(FieldError::new(
            "kind",
            "invalid_value",
            format!("Use one of {}.", KINDS.join(", ")),
        ));
    }
    if let Some(d) = &input.description {
        validation::text("description", d, 500, false, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Serializes moves inside a tenant, so two concurrent moves cannot close a cycle.
async fn lock_tree(conn: &mut PgConnection, tenant_id: Uuid) -> Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtext('groups:' || $1::text))",
        tenant_id.to_string()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails unless `parent` exists and `group` (when moving an existing one) is not `parent`
/// or one of its ancestors.
async fn check_parent(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    group: Option<Uuid>,
    parent: Uuid,
) -> Result<()> {
    let ancestors = sqlx::query_scalar!(
        r#"with recursive up (id, parent_id) as (
               select id, parent_id from groups where tenant_id = $1 and id = $2
               union all
               select g.id, g.parent_id from groups g join up on g.id = up.parent_id
               where g.tenant_id = $1
           ) cycle id set is_cycle using path
           select id as "id!" from up"#,
        tenant_id,
        parent
    )
    .fetch_all(conn)
    .await?;
    if ancestors.is_empty() {
        return Err(Error::validation(
            "parent_id",
            "unknown_group",
            "The parent group does not exist.",
        ));
    }
    if let Some(g) = group
        && ancestors.contains(&g)
    {
        return Err(Error::Conflict {
            code: "group_cycle",
            message: "A group cannot move under itself or one of its own subgroups.".into(),
            field: Some("parent_id"),
        });
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, db: &Db, input: GroupInput) -> Result<Group> {
    let mut tx = db.change(ctx, perm::GROUPS_CREATE).await?;
    let tenant_id = tx.tenant_id;
    let parent = input.parent_id.flatten();
    if let Some(p) = parent {
        // A subgroup's members will hold what the groups above it grant: placing one
        // under a parent is granting that, so it takes the rights to grant it.
        let parent = tx
            .lookup::<Group>(p, perm::GROUPS_READ)
            .await
            .map_err(parent_not_found)?;
        let inherited = roles::of_group_tree(tx.conn(), tenant_id, parent.id).await?;
        roles::authorize_grants(ctx, &inherited)?;
    }
    validate(&input, true)?;
    if let Some(p) = parent {
        check_parent(tx.conn(), tenant_id, None, p).await?;
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into groups (tenant_id, id, parent_id, name, kind, description) values ($1, $2, $3, $4, $5, $6)",
        tenant_id,
        id,
        parent,
        input.name.as_deref().unwrap_or_default().trim(),
        input.kind.as_deref().unwrap_or("team"),
        input.description.as_deref().unwrap_or_default().trim()
    )
    .execute(tx.conn())
    .await?;
    let group = tx.reread::<Group>(id).await?;
    tx.authz_changed().await?;
    tx.created(&group).await?;
    tx.commit().await?;
    Ok(group)
}

/// Renames, re-describes or moves a group.
pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, input: GroupInput) -> Result<Group> {
    let mut tx = db.change_object(ctx, perm::GROUPS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    lock_tree(tx.conn(), tenant_id).await?;
    let before = tx.lookup::<Group>(id, perm::GROUPS_UPDATE).await?;
    let parent = input.parent_id.unwrap_or(before.parent_id);
    let moving = parent != before.parent_id;
    if moving {
        // Everyone in the moved subtree trades what the old parents granted for what the
        // new ones grant: both sides of that trade take the rights to grant them.
        let gained = match parent {
            Some(p) => {
                let new_parent = tx
                    .lookup::<Group>(p, perm::GROUPS_READ)
                    .await
                    .map_err(parent_not_found)?;
                roles::of_group_tree(tx.conn(), tenant_id, new_parent.id).await?
            }
            None => Vec::new(),
        };
        let lost = match before.parent_id {
            Some(old) => roles::of_group_tree(tx.conn(), tenant_id, old).await?,
            None => Vec::new(),
        };
        let traded: Vec<roles::Role> = gained
            .iter()
            .filter(|g| !lost.iter().any(|l| l.id == g.id))
            .chain(lost.iter().filter(|l| !gained.iter().any(|g| g.id == l.id)))
            .cloned()
            .collect();
        roles::authorize_grants(ctx, &traded)?;
    }
    validate(&input, false)?;
    if let Some(p) = parent
        && moving
    {
        check_parent(tx.conn(), tenant_id, Some(id), p).await?;
    }
    sqlx::query!(
        "update groups set parent_id = $3, name = $4, kind = $5, description = $6, updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        parent,
        input.name.as_deref().map(str::trim).unwrap_or(&before.name),
        input.kind.as_deref().unwrap_or(&before.kind),
        input.description.as_deref().map(str::trim).unwrap_or(&before.description)
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<Group>(id).await?;
    if after == *before {
        return Ok(after);
    }
    if moving {
        roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    }
    tx.authz_changed().await?;
    let event = if moving {
        types::GROUP_MOVED
    } else {
        types::GROUP_UPDATED
    };
    tx.changed(event, &before, after.snapshot()).await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a group; its subgroups move up to its parent, its memberships go with it.
pub async fn delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::GROUPS_DELETE).await?;
    let tenant_id = tx.tenant_id;
    lock_tree(tx.conn(), tenant_id).await?;
    let before = tx.lookup::<Group>(id, perm::GROUPS_DELETE).await?;
    // Its members lose what it (and the groups above it) granted them.
    let lost = roles::of_group_tree(tx.conn(), tenant_id, id).await?;
    roles::authorize_grants(ctx, &lost)?;
    let moved = sqlx::query_scalar!(
        "update groups set parent_id = $3, updated_at = now() where tenant_id = $1 and parent_id = $2 returning id",
        tenant_id,
        id,
        before.parent_id
    )
    .fetch_all(tx.conn())
    .await?;
    sqlx::query!(
        "delete from groups where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    tx.authz_changed().await?;
    tx.record(Change {
        action: types::GROUP_DELETED,
        target_type: Group::NOUN,
        target_id: Some(id),
        before: Some(shapes::to_value(shapes::GroupDeletedData {
            group: before.data(),
            children_moved_up: &moved,
        })),
        after: None,
    })
    .await?;
    tx.commit().await
}

/// A parent group the caller may not see is, for them, a parent that does not exist.
fn parent_not_found(e: Error) -> Error {
    match e {
        Error::NotFound { .. } => Error::validation(
            "parent_id",
            "unknown_group",
            "The parent group does not exist.",
        ),
        other => other,
    }
}

/// Whether the caller may put people into `group` or take them out: it takes the rights to
/// grant every role the group and the groups above it grant.
async fn authorize_membership(
    ctx: &Ctx,
    tx: &mut ChangeTx<'_>,
    group: &Authorized<Group>,
) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let granted = roles::of_group_tree(tx.conn(), tenant_id, group.id).await?;
    roles::authorize_grants(ctx, &granted)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub identity_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl Member {
    /// What screens call the member (see [`crate::identities::label_of`]).
    pub fn label(&self) -> String {
        crate::identities::label_of(
            &self.display_name,
            self.email.as_deref(),
            None,
            self.identity_id,
        )
    }
}

pub async fn members(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Vec<Member>> {
    let mut tx = db.read_object(ctx, perm::GROUPS_READ).await?;
    let tenant_id = tx.tenant_id;
    tx.lookup::<Group>(ctx, id, perm::GROUPS_READ).await?;
    let (conn, keyring) = tx.parts();
    members_in(conn, keyring, tenant_id, id).await
}

/// A group's members, sorted by what screens call them (names are sealed: the sort happens
/// here, once they are open).
async fn members_in(
    conn: &mut sqlx::PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Vec<Member>> {
    let rows = sqlx::query!(
        "select gm.identity_id, gm.added_at from group_members gm
         where gm.tenant_id = $1 and gm.group_id = $2",
        tenant_id,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.identity_id).collect();
    let mut people = crate::identities::sealed::people_in(conn, keyring, tenant_id, &ids).await?;
    let mut members: Vec<Member> = rows
        .into_iter()
        .filter_map(|r| {
            let p = people.remove(&r.identity_id)?;
            Some(Member {
                identity_id: r.identity_id,
                email: p.email,
                display_name: p.display_name,
                kind: p.kind,
                added_at: r.added_at,
            })
        })
        .collect();
    let key = |m: &Member| {
        let name = Some(m.display_name.as_str())
            .filter(|n| !n.is_empty())
            .or(m.email.as_deref())
            .unwrap_or("");
        (name.to_lowercase(), m.identity_id)
    };
    members.sort_by_cached_key(key);
    Ok(members)
}

/// Adds identities to a group (already members stay as they are).
pub async fn add_members(
    ctx: &Ctx,
    db: &Db,
    id: Uuid,
    identity_ids: Vec<Uuid>,
) -> Result<Vec<Member>> {
    let mut tx = db.change_object(ctx, perm::GROUPS_MANAGE).await?;
    let tenant_id = tx.tenant_id;
    let group = tx.lookup::<Group>(id, perm::GROUPS_MANAGE).await?;
    // Joining a group is being granted what it grants: the same rule as a direct grant.
    authorize_membership(ctx, &mut tx, &group).await?;
    if identity_ids.is_empty() || identity_ids.len() > 1000 {
        return Err(Error::validation(
            "identity_ids",
            "out_of_range",
            "Give between 1 and 1000 identity ids.",
        ));
    }
    let found = sqlx::query_scalar!(
        "select id from identities where tenant_id = $1 and id = any($2)",
        tenant_id,
        &identity_ids
    )
    .fetch_all(tx.conn())
    .await?;
    if let Some(missing) = identity_ids.iter().find(|i| !found.contains(i)) {
        return Err(Error::validation(
            "identity_ids",
            "unknown_identity",
            format!("There is no identity {missing}."),
        ));
    }
    let added = sqlx::query_scalar!(
        "insert into group_members (tenant_id, group_id, identity_id)
         select $1, $2, i from unnest($3::uuid[]) as i
         on conflict do nothing returning identity_id",
        tenant_id,
        id,
        &identity_ids
    )
    .fetch_all(tx.conn())
    .await?;
    if !added.is_empty() {
        tx.authz_changed().await?;
        tx.record(Change {
            action: types::GROUP_MEMBERS_ADDED,
            target_type: Group::NOUN,
            target_id: Some(id),
            before: None,
            after: Some(shapes::to_value(shapes::MembersData {
                identity_ids: &added,
            })),
        })
        .await?;
        tx.commit().await?;
    }
    members(ctx, db, id).await
}

pub async fn remove_member(ctx: &Ctx, db: &Db, id: Uuid, identity_id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::GROUPS_MANAGE).await?;
    let tenant_id = tx.tenant_id;
    let group = tx.lookup::<Group>(id, perm::GROUPS_MANAGE).await?;
    // Leaving takes away what the group grants: as strong as granting it.
    authorize_membership(ctx, &mut tx, &group).await?;
    let removed = sqlx::query!(
        "delete from group_members where tenant_id = $1 and group_id = $2 and identity_id = $3",
        tenant_id,
        id,
        identity_id
    )
    .execute(tx.conn())
    .await?;
    if removed.rows_affected() == 0 {
        return Err(Error::NotFound {
            resource: "membership",
        });
    }
    roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    tx.authz_changed().await?;
    tx.record(Change {
        action: types::GROUP_MEMBER_REMOVED,
        target_type: Group::NOUN,
        target_id: Some(id),
        before: Some(shapes::to_value(shapes::IdentityRefData { identity_id })),
        after: None,
    })
    .await?;
    tx.commit().await
}

/// Replaces the roles granted to a group (its members and those of its subgroups get them).
pub async fn set_roles(ctx: &Ctx, db: &Db, id: Uuid, names: Vec<String>) -> Result<Group> {
    let mut tx = db.change(ctx, perm::ROLES_MANAGE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Group>(id, perm::GROUPS_READ).await?;
    let wanted = roles::by_names(tx.conn(), tenant_id, &names, "roles").await?;
    // Granting to a group is granting to everyone in it; taking away likewise.
    let all = roles::by_names(tx.conn(), tenant_id, &before.roles, "roles").await?;
    for r in wanted
        .iter()
        .filter(|w| !before.roles.contains(&w.name))
        .chain(all.iter().filter(|h| !names.contains(&h.name)))
    {
        ctx.authorize_role_grant(r.is_owner(), &r.allows())?;
    }
    let ids: Vec<Uuid> = wanted.iter().map(|r| r.id).collect();
    sqlx::query!(
        "delete from group_roles where tenant_id = $1 and group_id = $2 and role_id <> all($3)",
        tenant_id,
        id,
        &ids
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "insert into group_roles (tenant_id, group_id, role_id)
         select $1, $2, r from unnest($3::uuid[]) as r on conflict do nothing",
        tenant_id,
        id,
        &ids
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<Group>(id).await?;
    if after.roles != before.roles {
        roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
        tx.authz_changed().await?;
        tx.record(Change {
            action: types::GROUP_ROLES_CHANGED,
            target_type: "group",
            target_id: Some(id),
            before: Some(shapes::to_value(shapes::RolesData {
                roles: before.roles.iter().map(String::as_str).collect(),
            })),
            after: Some(shapes::to_value(shapes::RolesData {
                roles: after.roles.iter().map(String::as_str).collect(),
            })),
        })
        .await?;
        tx.commit().await?;
    }
    Ok(after)
}

/// The groups an identity is a member of.
pub async fn of_identity(ctx: &Ctx, db: &Db, identity_id: Uuid) -> Result<Vec<Group>> {
    let mut tx = db.read(ctx, perm::GROUPS_READ).await?;
    let tenant_id = tx.tenant_id;
    let ids = sqlx::query_scalar!(
        "select group_id from group_members where tenant_id = $1 and identity_id = $2",
        tenant_id,
        identity_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(load(tx.conn(), tenant_id, None)
        .await?
        .into_iter()
        .filter(|g| ids.contains(&g.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(name: &str, parent: Option<Uuid>) -> Group {
        Group {
            id: Uuid::now_v7(),
            parent_id: parent,
            name: name.into(),
            kind: "team".into(),
            description: String::new(),
            roles: vec![],
            member_count: 0,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn tree_nests_children_under_parents() {
        let root = g("Acme", None);
        let sub = g("Acme EU", Some(root.id));
        let dept = g("Research", Some(sub.id));
        let other = g("Globex", None);
        let forest = build_tree(vec![dept.clone(), root.clone(), other.clone(), sub.clone()]);
        assert_eq!(forest.len(), 2);
        let acme = forest.iter().find(|n| n.group.id == root.id).unwrap();
        assert_eq!(acme.children[0].group.id, sub.id);
        assert_eq!(acme.children[0].children[0].group.id, dept.id);
    }

    #[test]
    fn input_is_checked() {
        assert!(validate(&GroupInput::default(), true).is_err());
        let err = validate(
            &GroupInput {
                name: Some("x".into()),
                kind: Some("tribe".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap_err();
        assert_eq!(err.field_errors()[0].field, "kind");
    }
}
