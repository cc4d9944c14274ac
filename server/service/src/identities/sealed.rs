//! An identity's personal fields at rest (docs/data-protection.md, "Identities"): its email
//! and display name sealed under its data subject's key, found by the address's blind
//! index and searched by the keyed grams of both. Rows the sealing job has not reached yet
//! hold them in plain text; every read takes either form.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Identity;
use crate::error::{Error, Result};
use crate::privacy::envelope::{Key, Place};
use crate::privacy::keys::{Keyring, TenantKeys};

const TABLE: &str = "identities";
/// The blind index's domain of email addresses.
const EMAIL: &str = "identities.email";
/// The search grams' domain of names and addresses.
const NAME: &str = "identities.name";

fn place(tenant: Uuid, column: &'static str, id: Uuid) -> Place<'static> {
    Place {
        tenant,
        table: TABLE,
        column,
        row: id,
    }
}

/// An address as its blind index and the plain rows' unique index see it.
pub(crate) fn normalized_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The blind index of `email` (after [`normalized_email`]).
pub(crate) fn email_index(keys: &TenantKeys, email: &str) -> Vec<u8> {
    keys.blind_index(EMAIL, &normalized_email(email))
}

/// The grams a substring search for `query` looks for (see [`crate::privacy::envelope::query_grams`]).
pub(crate) fn query_grams(keys: &TenantKeys, query: &str) -> Vec<i32> {
    keys.query_grams(NAME, query)
}

/// Whether `identity` holds `query` (lowercase) in its email, display name or external id:
/// the check a search's candidates pass once opened (grams of two texts may collide).
pub(crate) fn holds(identity: &Identity, query: &str) -> bool {
    let has = |s: &str| s.to_lowercase().contains(query);
    identity.email.as_deref().is_some_and(has)
        || has(&identity.display_name)
        || identity.external_id.as_deref().is_some_and(has)
}

/// The personal fields as one row stores them, and its subject's wrapped key.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    pub(crate) email: Option<String>,
    pub(crate) display_name: String,
    pub(crate) email_sealed: Option<Vec<u8>>,
    pub(crate) display_name_sealed: Option<Vec<u8>>,
    /// Metadata marked personal: only ever sealed (`None`: the person has none).
    pub(crate) personal_metadata_sealed: Option<Vec<u8>>,
    pub(crate) subject_key: Option<Vec<u8>>,
}

impl Stored {
    /// Whether the fields are sealed (a row written before sealing is not).
    pub(crate) fn is_sealed(&self) -> bool {
        self.display_name_sealed.is_some() || self.personal_metadata_sealed.is_some()
    }

    /// The email, display name and metadata marked personal (`{}` when none), opened with
    /// `keys` when sealed (`keys` may be `None` only for a row that is not).
    pub(crate) fn open(
        self,
        keys: Option<&TenantKeys>,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<(Option<String>, String, Value)> {
        if !self.is_sealed() {
            return Ok((self.email, self.display_name, empty_object()));
        }
        let keys = keys.ok_or_else(|| {
            Error::Internal(format!("identity {id} is sealed and was read without keys"))
        })?;
        let wrapped = self
            .subject_key
            .ok_or_else(|| Error::Internal(format!("identity {id} is sealed but has no key")))?;
        let subject = keys.unwrap_subject_key(id, &wrapped)?;
        let (email, display_name) = match self.display_name_sealed {
            Some(name) => (
                self.email_sealed
                    .map(|e| keys.open_for_subject(&subject, place(tenant, "email", id), &e))
                    .transpose()?,
                keys.open_for_subject(&subject, place(tenant, "display_name", id), &name)?,
            ),
            None => (self.email, self.display_name),
        };
        let personal = match self.personal_metadata_sealed {
            Some(sealed) => {
                let json = keys.open_bytes_for_subject(
                    &subject,
                    place(tenant, "personal_metadata", id),
                    &sealed,
                )?;
                serde_json::from_slice(&json)
                    .map_err(|e| Error::internal("personal metadata", e))?
            }
            None => empty_object(),
        };
        Ok((email, display_name, personal))
    }
}

/// The tenant's keys when any of `rows` is sealed, read in the open transaction `conn`.
pub(crate) async fn keys_for<'a>(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant: Uuid,
    mut rows: impl Iterator<Item = &'a Stored>,
) -> Result<Option<std::sync::Arc<TenantKeys>>> {
    if rows.any(Stored::is_sealed) {
        Ok(Some(keyring.tenant_in(conn, tenant).await?))
    } else {
        Ok(None)
    }
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Metadata marked personal as a row stores it: sealed under the subject's key, or `None`
/// for an empty object.
pub(crate) fn seal_personal(
    keys: &TenantKeys,
    subject: &Key,
    tenant: Uuid,
    id: Uuid,
    personal: &Value,
) -> Option<Vec<u8>> {
    let empty = personal.as_object().is_none_or(|o| o.is_empty());
    (!empty).then(|| {
        keys.seal_for_subject(
            subject,
            place(tenant, "personal_metadata", id),
            personal.to_string().as_bytes(),
        )
    })
}

/// What a row stores of an identity's email and display name.
pub(crate) struct Sealed {
    pub(crate) email: Option<Vec<u8>>,
    pub(crate) display_name: Vec<u8>,
    pub(crate) email_index: Option<Vec<u8>>,
    pub(crate) name_grams: Vec<i32>,
    /// The plain row's form of the address, to refuse one a row not yet sealed holds.
    pub(crate) email_lower: Option<String>,
}

/// Seals identity `id`'s email and display name under its subject's key.
pub(crate) fn seal(
    keys: &TenantKeys,
    subject: &Key,
    tenant: Uuid,
    id: Uuid,
    email: Option<&str>,
    display_name: &str,
) -> Sealed {
    let mut grams = keys.grams(NAME, display_name);
    if let Some(email) = email {
        grams.extend(keys.grams(NAME, email));
        grams.sort_unstable();
        grams.dedup();
    }
    Sealed {
        email: email
            .map(|e| keys.seal_for_subject(subject, place(tenant, "email", id), e.as_bytes())),
        display_name: keys.seal_for_subject(
            subject,
            place(tenant, "display_name", id),
            display_name.as_bytes(),
        ),
        email_index: email.map(|e| email_index(keys, e)),
        name_grams: grams,
        email_lower: email.map(normalized_email),
    }
}

/// Stores identity `id`'s new email and display name, sealed (a row written before sealing
/// loses its plain copy), and marks the row updated. Refused when another identity has
/// the address: a sealed one by the unique blind index, one not sealed yet by the check.
/// Returns the identity's key (for the change's sealed copies).
pub(crate) async fn store(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    id: Uuid,
    email: Option<&str>,
    display_name: &str,
) -> Result<Key> {
    let subject = subject_key(&mut *conn, keys, tenant, id).await?;
    let s = seal(keys, &subject, tenant, id, email, display_name);
    let written = sqlx::query!(
        "update identities
         set email = null, display_name = '', email_sealed = $3, display_name_sealed = $4,
             email_index = $5, name_grams = $6, updated_at = now()
         where tenant_id = $1 and id = $2
           and ($7::text is null or not exists (
               select 1 from identities o
               where o.tenant_id = $1 and o.id <> $2 and lower(o.email) = $7))",
        tenant,
        id,
        s.email,
        s.display_name,
        s.email_index,
        &s.name_grams,
        s.email_lower,
    )
    .execute(conn)
    .await
    .map_err(super::create::conflict_from)?;
    match written.rows_affected() {
        0 => Err(super::create::email_taken()),
        _ => Ok(subject),
    }
}

/// Identity `id`'s key, for sealing copies of its personal data (audit records, events):
/// as [`subject_key`], but `None` once the identity is gone for good (its key went with it).
pub(crate) async fn subject_key_if_any(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Key>> {
    let found = sqlx::query!(
        r#"select (select wrapped from subject_keys where tenant_id = $1 and identity_id = $2)
                      as wrapped,
                  exists(select 1 from identities where tenant_id = $1 and id = $2) as "exists!""#,
        tenant,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    match (found.wrapped, found.exists) {
        (Some(wrapped), _) => keys.unwrap_subject_key(id, &wrapped).map(Some),
        (None, true) => subject_key(conn, keys, tenant, id).await.map(Some),
        (None, false) => Ok(None),
    }
}

/// Identity `id`'s key: unwrapped from its row, or made and stored when it has none (an
/// identity written before sealing).
pub(crate) async fn subject_key(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    id: Uuid,
) -> Result<Key> {
    let wrapped = sqlx::query_scalar!(
        "select wrapped from subject_keys where tenant_id = $1 and identity_id = $2",
        tenant,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(wrapped) = wrapped {
        return keys.unwrap_subject_key(id, &wrapped);
    }
    let (key, wrapped) = keys.new_subject_key(id);
    // Another transaction (the sealing job, a request) may make it meanwhile: theirs wins.
    let stored = sqlx::query_scalar!(
        "insert into subject_keys (tenant_id, identity_id, wrapped) values ($1, $2, $3)
         on conflict (tenant_id, identity_id) do update set wrapped = subject_keys.wrapped
         returning wrapped",
        tenant,
        id,
        wrapped
    )
    .fetch_one(&mut *conn)
    .await?;
    if stored == wrapped {
        Ok(key)
    } else {
        keys.unwrap_subject_key(id, &stored)
    }
}

/// The id of the identity whose address is `email` (ignoring case), sealed or not.
pub(crate) async fn id_by_email(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    email: &str,
) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "select id from identities
         where tenant_id = $1 and (email_index = $2 or lower(email) = $3)
         limit 1",
        tenant,
        email_index(keys, email),
        normalized_email(email),
    )
    .fetch_optional(conn)
    .await?)
}

/// An identity as lists of other things show it.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) email: Option<String>,
    pub(crate) display_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) kind: String,
}

impl Person {
    /// Its display name, else its email (what the trail's and the versions' "by" columns
    /// showed), else nothing.
    pub(crate) fn name_or_email(&self) -> String {
        match (self.display_name.is_empty(), &self.email) {
            (false, _) | (true, None) => self.display_name.clone(),
            (true, Some(email)) => email.clone(),
        }
    }
}

/// Names the identities behind `rows` (`who` of a row, when it names one): `name` gets
/// each one's display name, else its email, or `None` when it is gone or has neither. For
/// the "by" columns of records the caller may read already (the trail, events, a policy's
/// versions), which PostgreSQL cannot fill: the names are sealed.
pub(crate) async fn name_each<T>(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant: Uuid,
    rows: &mut [T],
    who: impl Fn(&T) -> Option<Uuid>,
    mut name: impl FnMut(&mut T, Option<String>),
) -> Result<()> {
    let mut ids: Vec<Uuid> = rows.iter().filter_map(&who).collect();
    ids.sort_unstable();
    ids.dedup();
    let people = people_in(conn, keyring, tenant, &ids).await?;
    for row in rows.iter_mut() {
        let label = who(row)
            .and_then(|id| people.get(&id))
            .map(Person::name_or_email)
            .filter(|l| !l.is_empty());
        name(row, label);
    }
    Ok(())
}

/// Each of `ids` that exists, opened, with no authorization: for naming the actors of
/// records the caller may read already (audit records, events, a policy's versions,
/// invitations).
pub(crate) async fn people_in(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Person>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"select i.id, i.external_id, i.email, i.display_name, i.email_sealed,
                  i.display_name_sealed, i.kind,
                  (select sk.wrapped from subject_keys sk
                   where sk.tenant_id = i.tenant_id and sk.identity_id = i.id) as "subject_key?"
           from identities i
           where i.tenant_id = $1 and i.id = any($2)"#,
        tenant,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let stored: Vec<(Uuid, Option<String>, String, Stored)> = rows
        .into_iter()
        .map(|r| {
            let stored = Stored {
                email: r.email,
                display_name: r.display_name,
                email_sealed: r.email_sealed,
                display_name_sealed: r.display_name_sealed,
                personal_metadata_sealed: None,
                subject_key: r.subject_key,
            };
            (r.id, r.external_id, r.kind, stored)
        })
        .collect();
    let keys = keys_for(conn, keyring, tenant, stored.iter().map(|s| &s.3)).await?;
    let mut people = HashMap::with_capacity(stored.len());
    for (id, external_id, kind, stored) in stored {
        let (email, display_name, _) = stored.open(keys.as_deref(), tenant, id)?;
        people.insert(
            id,
            Person {
                email,
                display_name,
                external_id,
                kind,
            },
        );
    }
    Ok(people)
}

/// Seals up to `limit` identities that still hold their address and name in plain text
/// (written before field-level encryption), skipping rows another transaction holds; how
/// many it sealed. Not a change of the identity: `updated_at` stays (see
/// `privacy::keyjobs`).
pub(crate) async fn seal_plain(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    limit: i64,
) -> Result<u64> {
    let rows = sqlx::query!(
        "select id, email, display_name from identities
         where tenant_id = $1 and display_name_sealed is null
         order by id limit $2 for update skip locked",
        tenant,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let subject = subject_key(&mut *conn, keys, tenant, r.id).await?;
        let s = seal(
            keys,
            &subject,
            tenant,
            r.id,
            r.email.as_deref(),
            &r.display_name,
        );
        sqlx::query!(
            "update identities
             set email = null, display_name = '', email_sealed = $3, display_name_sealed = $4,
                 email_index = $5, name_grams = $6
             where tenant_id = $1 and id = $2",
            tenant,
            r.id,
            s.email,
            s.display_name,
            s.email_index,
            &s.name_grams,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len() as u64)
}
