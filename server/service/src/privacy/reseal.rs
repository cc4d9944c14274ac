//! Sealing the personal values that audit records and events written before field-level
//! encryption hold in plain text (migration 039): the sealing job's last two steps.
//!
//! Each plain value is replaced by the marker a record written today carries
//! ([`personal`]), sealed under the person's key, or by `null` when the person is gone
//! for good (their key went with them). The trail's records are handed to
//! `tenantry_audit_reseal`, which verifies the tenant's chain, accepts nothing but plain
//! values replaced by markers, links the chain again from the first record changed and
//! appends an `audit.resealed` record with the head's hash before and after; a chain that
//! does not verify is left as it is ([`CHAIN_BROKEN`]).

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::envelope::Key;
use super::keys::TenantKeys;
use super::personal::{self, KeyOf, Spot};
use crate::error::{Error, Result};

/// The error code of a reseal refused because the tenant's chain does not verify.
pub const CHAIN_BROKEN: &str = "audit_chain_broken";

/// Audit records one call of `tenantry_audit_reseal` changes at most: each call verifies
/// the whole chain and links it again from its first change, in one transaction.
pub(crate) const AUDIT_BATCH: i64 = 20_000;

/// How many of the tenant's audit records, and of its events, still hold a personal value
/// in plain text (read through migration 039's partial indexes).
pub(crate) async fn plain_copies(conn: &mut PgConnection, tenant: Uuid) -> Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"select
             (select count(*) from audit_log where tenant_id = $1
                and tenantry_copy_holds_plain(target_type, target_id, before, after)) as "audit!",
             (select count(*) from outbox_events where tenant_id = $1
                and tenantry_copy_holds_plain(subject_type, subject_id, null, payload -> 'data')) as "events!""#,
        tenant
    )
    .fetch_one(conn)
    .await?;
    Ok((r.audit, r.events))
}

/// The keys of the people met so far (`None`: gone for good).
#[derive(Default)]
struct Subjects(HashMap<Uuid, Option<Key>>);

impl Subjects {
    /// The key that seals the values of a snapshot of `target_type` about `target_id`, with
    /// its person; `None` when nobody's key would seal it (the values become `null`).
    async fn of(
        &mut self,
        conn: &mut PgConnection,
        keys: &TenantKeys,
        tenant: Uuid,
        target_type: &str,
        target_id: Option<Uuid>,
        snapshot: Option<&Value>,
    ) -> Result<Option<(Uuid, Key)>> {
        let Some((person, kind)) = personal::subject(target_type, target_id, snapshot) else {
            return Ok(None);
        };
        if let Some(known) = self.0.get(&person) {
            return Ok(known.clone().map(|k| (person, k)));
        }
        let key = match kind {
            KeyOf::Identity => {
                crate::identities::sealed::subject_key_if_any(conn, keys, tenant, person).await?
            }
            KeyOf::Invitation => crate::invitations::key_if_any(conn, keys, tenant, person).await?,
        };
        self.0.insert(person, key.clone());
        Ok(key.map(|k| (person, k)))
    }

    /// Seals the plain personal values of the copies (each at its spot; the first names
    /// the person, as when it was written) of a snapshot of `target` (type and id), for the
    /// person a copy written today would name: null for someone gone for good.
    async fn seal_copies(
        &mut self,
        conn: &mut PgConnection,
        keys: &TenantKeys,
        tenant: Uuid,
        (target_type, target_id): (&str, Option<Uuid>),
        copies: &mut [(Spot<'_>, &mut Value)],
    ) -> Result<()> {
        let named = copies.first().map(|(_, v)| &**v);
        let subject = self
            .of(conn, keys, tenant, target_type, target_id, named)
            .await?;
        let subject = subject.as_ref().map(|(p, k)| (*p, k));
        for (spot, value) in copies.iter_mut() {
            personal::seal_plain(keys, subject, *spot, value, personal::fields(target_type));
        }
        Ok(())
    }
}

/// Seals the plain values of up to [`AUDIT_BATCH`] of the tenant's audit records (the
/// oldest first) and links the chain again, in the transaction `conn` (scoped to
/// `tenant`; commit it to keep the change). Returns how many records it changed.
/// Refused with `409 audit_chain_broken` when the chain does not verify.
pub(crate) async fn audit(conn: &mut PgConnection, keys: &TenantKeys, tenant: Uuid) -> Result<i64> {
    let rows = sqlx::query!(
        "select id, target_type, target_id, before, after from audit_log
         where tenant_id = $1 and tenantry_copy_holds_plain(target_type, target_id, before, after)
         order by seq nulls last
         limit $2",
        tenant,
        AUDIT_BATCH
    )
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut subjects = Subjects::default();
    let mut changes = Map::new();
    for r in rows {
        let (mut before, mut after) = (r.before, r.after);
        let spot = |path| Spot {
            tenant,
            table: "audit_log",
            row: r.id,
            path,
        };
        // A record's person is read from `after`, else `before`, as when it was written.
        let mut copies: Vec<(Spot<'_>, &mut Value)> =
            [("after", &mut after), ("before", &mut before)]
                .into_iter()
                .filter_map(|(path, v)| v.as_mut().map(|v| (spot(path), v)))
                .collect();
        subjects
            .seal_copies(
                conn,
                keys,
                tenant,
                (&r.target_type, r.target_id),
                &mut copies,
            )
            .await?;
        changes.insert(
            r.id.to_string(),
            serde_json::json!({ "before": before, "after": after }),
        );
    }
    let done = sqlx::query_scalar!(
        r#"select records as "records!" from tenantry_audit_reseal($1, $2)"#,
        tenant,
        Value::Object(changes)
    )
    .fetch_one(conn)
    .await
    .map_err(chain_refused)?;
    Ok(done)
}

fn chain_refused(e: sqlx::Error) -> Error {
    match e.as_database_error() {
        Some(db) if db.code().as_deref() == Some("TY001") => Error::Conflict {
            code: CHAIN_BROKEN,
            message: "The audit chain does not verify, so the records written before \
                      encryption were left as they are: sealing them would link the chain \
                      again and hide the break. Verify the chain from the Audit screen."
                .into(),
            field: None,
        },
        _ => e.into(),
    }
}

/// Seals the plain values of up to `limit` of the tenant's events, in the transaction
/// `conn` (scoped to `tenant`); returns how many it changed.
pub(crate) async fn events(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    limit: i64,
) -> Result<i64> {
    let rows = sqlx::query!(
        r#"select id, subject_type, subject_id, payload -> 'data' as "data!" from outbox_events
           where tenant_id = $1
             and tenantry_copy_holds_plain(subject_type, subject_id, null, payload -> 'data')
           order by id
           limit $2"#,
        tenant,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut subjects = Subjects::default();
    let mut changes = Map::new();
    for r in rows {
        let mut data = r.data;
        let spot = crate::events::data_spot(tenant, r.id);
        subjects
            .seal_copies(
                conn,
                keys,
                tenant,
                (&r.subject_type, r.subject_id),
                &mut [(spot, &mut data)],
            )
            .await?;
        changes.insert(r.id.to_string(), data);
    }
    Ok(sqlx::query_scalar!(
        r#"select tenantry_events_reseal($1, $2) as "n!""#,
        tenant,
        Value::Object(changes)
    )
    .fetch_one(conn)
    .await?)
}
