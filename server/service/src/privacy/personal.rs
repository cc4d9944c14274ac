//! Personal values inside JSON that is kept: audit records' `before`/`after` and events'
//! payloads. Each such value is replaced by a marker that holds it sealed under the
//! person's key,
//!
//! ```text
//! {"$sealed": "<envelope, base64url without padding>", "$for": "<identity id>"}
//! ```
//!
//! so destroying that key erases every copy, while the record itself, and the audit
//! chain's hash over it, stay as they were. Readers open the markers they can and show
//! `null` for those whose key is gone. The envelope's place is the record's table, the
//! field's path (`after.email`) and the record's id.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::envelope::{Key, Place};
use super::keys::{Keyring, TenantKeys};
use crate::error::Result;

const SEALED: &str = "$sealed";
const FOR: &str = "$for";

/// The fields of a snapshot of `target_type` that hold personal data, sealed under the
/// key of [`subject`]. Migration 039's `tenantry_personal_fields` keeps the same list
/// (`key_jobs.rs` checks each field of it is found and sealed).
pub fn fields(target_type: &str) -> &'static [&'static str] {
    match target_type {
        "identity" => &["email", "display_name", "personal_metadata"],
        "invitation" => &["email", "message"],
        "api_key" => &["name"],
        _ => &[],
    }
}

/// Which kind of key a subject has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOf {
    /// An identity's (`subject_keys`).
    Identity,
    /// An invitation's own, in its row: the person invited, who may never become an
    /// identity.
    Invitation,
}

/// Whose personal data a snapshot of `target_type` (of object `target_id`) holds: the
/// identity or invitation itself, or the identity an API key belongs to.
pub fn subject(
    target_type: &str,
    target_id: Option<Uuid>,
    snapshot: Option<&Value>,
) -> Option<(Uuid, KeyOf)> {
    match target_type {
        "identity" => target_id.map(|id| (id, KeyOf::Identity)),
        "invitation" => target_id.map(|id| (id, KeyOf::Invitation)),
        "api_key" => snapshot
            .and_then(|s| s.get("identity_id"))
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(|id| (id, KeyOf::Identity)),
        _ => None,
    }
}

/// Where a sealed value lives: `table` (`audit_log`, `outbox_events`), the row's id, and
/// the path of the object holding it (`before`, `after`, `data`).
#[derive(Clone, Copy, Debug)]
pub struct Spot<'a> {
    pub tenant: Uuid,
    pub table: &'a str,
    pub row: Uuid,
    pub path: &'a str,
}

impl Spot<'_> {
    fn column(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }
}

/// The person a snapshot's personal fields belong to, and their key; `None` for a person
/// whose key is gone (an identity deleted for good), whose fields are then left out.
pub type Subject<'a> = Option<(Uuid, &'a Key)>;

/// Replaces `fields` of the object `value` by markers sealed for `subject`, or by `null`
/// when the subject has no key. Anything not an object, and fields it lacks, are left.
pub fn seal(
    keys: &TenantKeys,
    subject: Subject<'_>,
    spot: Spot<'_>,
    value: &mut Value,
    fields: &[&str],
) {
    seal_fields(keys, subject, spot, value, fields, false);
}

/// As [`seal`], for a snapshot written before sealing (`privacy::reseal`): values that
/// are markers already are left as they are.
pub fn seal_plain(
    keys: &TenantKeys,
    subject: Subject<'_>,
    spot: Spot<'_>,
    value: &mut Value,
    fields: &[&str],
) {
    seal_fields(keys, subject, spot, value, fields, true);
}

fn seal_fields(
    keys: &TenantKeys,
    subject: Subject<'_>,
    spot: Spot<'_>,
    value: &mut Value,
    fields: &[&str],
    skip_markers: bool,
) {
    let Value::Object(object) = value else {
        return;
    };
    for field in fields {
        let Some(v) = object.get_mut(*field) else {
            continue;
        };
        if v.is_null() || (skip_markers && marker(v).is_some()) {
            continue;
        }
        *v = match subject {
            Some((person, key)) => {
                let plain = serde_json::to_vec(v).unwrap_or_default();
                let column = spot.column(field);
                let sealed = keys.seal_for_subject(key, place(spot, &column), &plain);
                let mut marker = Map::new();
                marker.insert(SEALED.into(), Value::String(URL_SAFE_NO_PAD.encode(sealed)));
                marker.insert(FOR.into(), Value::String(person.to_string()));
                Value::Object(marker)
            }
            None => Value::Null,
        };
    }
}

/// What a change seals in the audit record and the event it writes: `fields` of the
/// snapshots, for `subject`.
pub struct Sealer<'a> {
    pub keys: &'a TenantKeys,
    pub subject: Subject<'a>,
    pub fields: &'static [&'static str],
}

impl Sealer<'_> {
    /// Seals the fields of `value`, which lives at `spot`.
    pub fn seal(&self, spot: Spot<'_>, value: &mut Value) {
        seal(self.keys, self.subject, spot, value, self.fields);
    }
}

fn place<'a>(spot: Spot<'a>, column: &'a str) -> Place<'a> {
    Place {
        tenant: spot.tenant,
        table: spot.table,
        column,
        row: spot.row,
    }
}

fn marker(v: &Value) -> Option<(&str, Uuid)> {
    let Value::Object(m) = v else { return None };
    if m.len() != 2 {
        return None;
    }
    let sealed = m.get(SEALED)?.as_str()?;
    let person = Uuid::parse_str(m.get(FOR)?.as_str()?).ok()?;
    Some((sealed, person))
}

/// The people whose sealed values are among the top-level fields of `value`.
pub fn people(value: &Value, into: &mut Vec<Uuid>) {
    if let Value::Object(object) = value {
        into.extend(object.values().filter_map(marker).map(|(_, p)| p));
    }
}

/// Opens the markers among the top-level fields of `value` with `subjects`' keys; a marker
/// whose person has no key (erased) or that fails to open becomes `null`.
pub fn open(keys: &TenantKeys, subjects: &HashMap<Uuid, Key>, spot: Spot<'_>, value: &mut Value) {
    let Value::Object(object) = value else {
        return;
    };
    for (field, v) in object.iter_mut() {
        let Some((sealed, person)) = marker(v) else {
            continue;
        };
        let column = spot.column(field);
        let opened = URL_SAFE_NO_PAD
            .decode(sealed)
            .ok()
            .zip(subjects.get(&person))
            .and_then(|(bytes, key)| {
                keys.open_bytes_for_subject(key, place(spot, &column), &bytes)
                    .ok()
            })
            .and_then(|plain| serde_json::from_slice(&plain).ok());
        *v = opened.unwrap_or(Value::Null);
    }
}

/// Opens every marker in `values` (each with where it lives), reading the keys of the
/// people they name in the open transaction `conn` (scoped to `tenant`).
pub async fn open_all(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant: Uuid,
    values: &mut [(Spot<'_>, &mut Value)],
) -> Result<()> {
    let mut found = Vec::new();
    for (_, v) in values.iter() {
        people(v, &mut found);
    }
    if found.is_empty() {
        return Ok(());
    }
    found.sort_unstable();
    found.dedup();
    let keys = keyring.tenant_in(&mut *conn, tenant).await?;
    let subjects = subject_keys(conn, &keys, tenant, &found).await?;
    for (spot, v) in values.iter_mut() {
        open(&keys, &subjects, *spot, v);
    }
    Ok(())
}

/// The keys of those of `people` (identities, invitations) who still have one, unwrapped.
pub async fn subject_keys(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    people: &[Uuid],
) -> Result<HashMap<Uuid, Key>> {
    if people.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"select identity_id as "id!", wrapped as "wrapped!" from subject_keys
           where tenant_id = $1 and identity_id = any($2)
           union all
           select id, key_wrapped from invitations
           where tenant_id = $1 and id = any($2) and key_wrapped is not null"#,
        tenant,
        people
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.id, keys.unwrap_subject_key(r.id, &r.wrapped)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_open_in_their_own_spot_and_become_null_without_their_key() {
        let tenant = Uuid::from_u128(1);
        let keys = TenantKeys::for_tests(tenant);
        let person = Uuid::from_u128(2);
        let (key, _) = keys.new_subject_key(person);
        let spot = Spot {
            tenant,
            table: "audit_log",
            row: Uuid::from_u128(3),
            path: "after",
        };
        let original = serde_json::json!({"id": person, "email": "canary@example.com",
                                          "display_name": "Ada", "roles": ["admin"]});
        let mut sealed = original.clone();
        seal(
            &keys,
            Some((person, &key)),
            spot,
            &mut sealed,
            fields("identity"),
        );
        assert_eq!(sealed["roles"], original["roles"]);
        assert!(!sealed.to_string().contains("canary"));
        let mut found = Vec::new();
        people(&sealed, &mut found);
        assert_eq!(found, [person, person]);

        let with_key = HashMap::from([(person, key.clone())]);
        let mut opened = sealed.clone();
        open(&keys, &with_key, spot, &mut opened);
        assert_eq!(opened, original);

        // Elsewhere (another record), or once the key is gone: null.
        let mut moved = sealed.clone();
        open(
            &keys,
            &with_key,
            Spot {
                row: Uuid::from_u128(4),
                ..spot
            },
            &mut moved,
        );
        assert_eq!(moved["email"], Value::Null);
        let mut erased = sealed.clone();
        open(&keys, &HashMap::new(), spot, &mut erased);
        assert_eq!(
            (&erased["email"], &erased["display_name"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(erased["roles"], original["roles"]);

        // No key to seal with: the fields are left out.
        let mut gone = original.clone();
        seal(&keys, None, spot, &mut gone, fields("identity"));
        assert_eq!(gone["email"], Value::Null);
    }
}
