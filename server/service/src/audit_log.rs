//! The audit trail: one record per change, written inside the change's transaction.
//! Reading, verifying and exporting it come with the audit issue.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::ctx::Ctx;
use crate::db::Change;
use crate::error::Result;

pub(crate) async fn write(
    conn: &mut PgConnection,
    ctx: &Ctx,
    tenant_id: Uuid,
    change: &Change,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let (actor_type, actor_id) = ctx.actor();
    let ip = ctx.ip.map(|ip| ip.to_string());
    sqlx::query!(
        "insert into audit_log
            (tenant_id, id, actor_type, actor_id, action, target_type, target_id,
             before, after, request_id, ip, user_agent)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::inet, $12)",
        tenant_id,
        id,
        actor_type,
        actor_id,
        change.action,
        change.target_type,
        change.target_id,
        change.before,
        change.after,
        ctx.request_id,
        ip,
        ctx.user_agent.as_deref(),
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// One audit record as stored; used by tests now and by the audit screens later.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    pub id: Uuid,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    /// The actor's display name or email, while the actor still exists.
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: time::OffsetDateTime,
}

/// The audit records about one target, newest first.
pub async fn for_target(
    ctx: &Ctx,
    db: &crate::Db,
    target_type: &str,
    target_id: Uuid,
) -> Result<Vec<AuditRecord>> {
    let mut tx = db.read(ctx, crate::authz::perm::AUDIT_READ).await?;
    let rows = sqlx::query!(
        "select a.id, a.actor_type, a.actor_id,
                coalesce(nullif(i.display_name, ''), i.email) as actor_label,
                a.action, a.target_type, a.target_id, a.before, a.after,
                a.request_id, host(a.ip) as ip, a.user_agent, a.occurred_at
         from audit_log a
         left join identities i on i.tenant_id = a.tenant_id and i.id = a.actor_id
         where a.tenant_id = $1 and a.target_type = $2 and a.target_id = $3
         order by a.id desc",
        tx.tenant_id,
        target_type,
        target_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRecord {
            id: r.id,
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            actor_label: r.actor_label,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            before: r.before,
            after: r.after,
            request_id: r.request_id,
            ip: r.ip,
            user_agent: r.user_agent,
            occurred_at: r.occurred_at,
        })
        .collect())
}
