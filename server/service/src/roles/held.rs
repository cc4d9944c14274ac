//! Who holds what: the roles an identity holds directly and through groups, owners counted
//! through groups too, and the rule that nobody grants more than they hold.

use super::*;

/// Fails unless the tenant still has an active owner (holding the role directly or
/// through a group): called after a change that may have taken the last one away (a role
/// removed, a member leaving a group, a group moved or deleted, an owner disabled). Such
/// changes take turns on a per-tenant lock here, so two concurrent ones cannot each leave
/// the other's owner as the last and both pass.
pub(crate) async fn ensure_an_owner_remains(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtext('owners:' || $1::text))",
        tenant_id.to_string()
    )
    .execute(&mut *conn)
    .await?;
    if active_owners(conn, tenant_id, None).await? > 0 {
        Ok(())
    } else {
        Err(Error::Conflict {
            code: "last_owner",
            message: "A tenant must keep at least one active owner; make someone else owner first."
                .into(),
            field: None,
        })
    }
}

/// How many active identities hold the owner role, directly or through a group (of the
/// group itself or of one above it); with `only`, whether that identity does (0 or 1).
pub(super) async fn active_owners(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    only: Option<Uuid>,
) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"with recursive owning (id) as (
               select gr.group_id from group_roles gr
               join roles r on r.tenant_id = gr.tenant_id and r.id = gr.role_id
               where gr.tenant_id = $1 and r.system_key = 'owner'
               union
               select g.id from groups g join owning o on g.parent_id = o.id where g.tenant_id = $1
           )
           select count(*) as "n!" from identities i
           where i.tenant_id = $1 and ($2::uuid is null or i.id = $2)
             and ($2::uuid is not null or i.status = 'active')
             and (exists (select 1 from identity_roles ir
                          join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                          where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                            and r.system_key = 'owner')
                  or exists (select 1 from group_members gm
                             where gm.tenant_id = i.tenant_id and gm.identity_id = i.id
                               and gm.group_id in (select id from owning)))"#,
        tenant_id,
        only
    )
    .fetch_one(conn)
    .await?)
}

/// Whether `identity_id` holds the owner role, directly or through a group: an owner for
/// every owner guard (only an owner changes an owner's email, disables or deletes one).
pub(crate) async fn is_owner(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    identity_id: Uuid,
) -> Result<bool> {
    Ok(active_owners(conn, tenant_id, Some(identity_id)).await? > 0)
}

/// The roles a member of group `group_id` holds through it: the group's own and those of
/// every group above it.
pub(crate) async fn of_group_tree(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    group_id: Uuid,
) -> Result<Vec<Role>> {
    let names = sqlx::query_scalar!(
        r#"with recursive up (id, parent_id) as (
               select id, parent_id from groups where tenant_id = $1 and id = $2
               union
               select g.id, g.parent_id from groups g join up on g.id = up.parent_id
               where g.tenant_id = $1
           )
           select distinct r.name as "name!" from group_roles gr
           join roles r on r.tenant_id = gr.tenant_id and r.id = gr.role_id
           where gr.tenant_id = $1 and gr.group_id in (select id from up)"#,
        tenant_id,
        group_id
    )
    .fetch_all(&mut *conn)
    .await?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    load_roles(conn, tenant_id, None, Some(&names)).await
}

/// Every role `identity_id` holds: directly, and through each group it is a member of
/// (that group's roles and those of the groups above it).
pub(crate) async fn held_by(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    identity_id: Uuid,
) -> Result<Vec<Role>> {
    let names = sqlx::query_scalar!(
        r#"with recursive up (id, parent_id) as (
               select g.id, g.parent_id from groups g
               join group_members gm on gm.tenant_id = g.tenant_id and gm.group_id = g.id
               where g.tenant_id = $1 and gm.identity_id = $2
               union
               select g.id, g.parent_id from groups g join up on g.id = up.parent_id
               where g.tenant_id = $1
           )
           select r.name as "name!" from roles r
           where r.tenant_id = $1
             and (r.id in (select role_id from identity_roles
                           where tenant_id = $1 and identity_id = $2)
                  or r.id in (select role_id from group_roles
                              where tenant_id = $1 and group_id in (select id from up)))"#,
        tenant_id,
        identity_id
    )
    .fetch_all(&mut *conn)
    .await?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    load_roles(conn, tenant_id, None, Some(&names)).await
}

/// Whether the caller may hand out (or take away) every role in `roles`: nobody grants
/// more than they hold, and only an owner grants owner, whichever way the role travels
/// (directly, through a group, a subgroup, a move, an invitation).
pub(crate) fn authorize_grants(ctx: &Ctx, roles: &[Role]) -> Result<()> {
    roles
        .iter()
        .try_for_each(|r| ctx.authorize_role_grant(r.is_owner(), &r.allows()))
}
