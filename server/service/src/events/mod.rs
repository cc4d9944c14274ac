//! Domain events: written to the outbox in the change's transaction, so an event exists
//! exactly when its change committed. Delivery (webhooks) reads the outbox later.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::Change;
use crate::error::Result;

pub(crate) async fn emit(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    change: &Change,
    audit_id: Uuid,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let data = change.after.as_ref().or(change.before.as_ref());
    let payload = json!({ "id": change.target_id, "data": data });
    sqlx::query!(
        "insert into outbox_events (tenant_id, id, event_type, subject_type, subject_id, payload, audit_id)
         values ($1, $2, $3, $4, $5, $6, $7)",
        tenant_id,
        id,
        change.action,
        change.target_type,
        change.target_id,
        payload,
        audit_id
    )
    .execute(conn)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event_type: String,
    pub subject_type: String,
    pub subject_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub audit_id: Option<Uuid>,
}

/// The events about one subject, oldest first.
pub async fn for_subject(
    ctx: &crate::Ctx,
    db: &crate::Db,
    subject_id: Uuid,
) -> Result<Vec<OutboxEvent>> {
    let mut tx = db.read(ctx, crate::authz::perm::AUDIT_READ).await?;
    let rows = sqlx::query_as!(
        OutboxEvent,
        "select id, event_type, subject_type, subject_id, payload, audit_id
         from outbox_events where tenant_id = $1 and subject_id = $2 order by id",
        tx.tenant_id,
        subject_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows)
}
