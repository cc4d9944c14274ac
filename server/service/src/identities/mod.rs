//! Identities: the people and agents of a tenant.
//!
//! Invariants kept here: email is unique per tenant ignoring case, external id is unique per
//! tenant, a user always has an email, a tenant always keeps at least one active owner, and
//! nobody disables, deletes or demotes themselves.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::passwords;
use crate::authz::{Permission, Target, perm};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, FieldError, Result, unique_violation};
use crate::events::catalogue::types;
use crate::pagination::{self, Page};
use crate::privacy::keys::{Keyring, TenantKeys};
use crate::resource::{Authorized, Lifecycle, Resource, visible};
use crate::roles;
use crate::validation;
use crate::validation::Choice;

mod changes;
mod create;
pub(crate) mod sealed;

pub use changes::*;
pub use create::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    User,
    Agent,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Agent => "agent",
        }
    }
}

impl crate::validation::Choice for Kind {
    const FIELD: &'static str = "kind";
    const NAMES: &'static [(&'static str, Self)] = &[("user", Kind::User), ("agent", Kind::Agent)];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Disabled,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            "deleted" => Some(Status::Deleted),
            _ => None,
        }
    }
}

/// An identity as callers see it. It has no password hash: that never leaves this module.
/// It is also what identity events carry, and their schema is derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Identity {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub display_name: String,
    pub kind: Kind,
    /// Names of the roles held directly, sorted.
    pub roles: Vec<String>,
    #[schemars(with = "crate::events::catalogue::shapes::Object")]
    pub metadata: Value,
    /// Metadata marked personal (a phone number, an address): stored only sealed under the
    /// person's key, erased with them, never searched and never seen by policy conditions.
    /// Left out of `/v1/me`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::events::catalogue::shapes::Object>")]
    pub personal_metadata: Option<Value>,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::catalogue::shapes::Time")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::catalogue::shapes::Time")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::events::catalogue::shapes::Time>")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl Identity {
    pub(crate) fn snapshot(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What screens call it (see [`label_of`]).
    pub fn label(&self) -> String {
        label_of(
            &self.display_name,
            self.email.as_deref(),
            self.external_id.as_deref(),
            self.id,
        )
    }

    /// Whether the identity holds the owner role directly (see [`roles::is_owner`] for
    /// "directly or through a group", which the owner guards use).
    pub fn is_owner(&self) -> bool {
        self.roles.iter().any(|r| r == roles::OWNER)
    }
}

impl Resource for Identity {
    const MODULE: &'static str = "identities";
    const NOUN: &'static str = "identity";
    const READ: Permission = perm::IDENTITIES_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::IDENTITY_CREATED,
        updated: types::IDENTITY_UPDATED,
        deleted: types::IDENTITY_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    /// An identity owns itself, so a policy can let people edit their own profile; its
    /// metadata is there for rules on it.
    fn target(&self, tenant_id: Uuid) -> Target {
        Target {
            tenant_id,
            kind: Self::MODULE,
            id: Some(self.id),
            owner: Some(self.id),
            metadata: Some(self.metadata.clone()),
        }
    }

    fn snapshot(&self) -> Value {
        Identity::snapshot(self)
    }

    async fn fetch(
        conn: &mut PgConnection,
        keyring: &Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "identities", tenant_id, id).await? {
            return Ok(None);
        }
        match fetch(conn, keyring, tenant_id, id).await {
            Ok(identity) => Ok(Some(identity)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One round trip: `tenantry_identity_get` sets the tenant and reads in one statement
    /// (migrations 021 and 028), with no transaction of its own; a sealed row is then
    /// opened with the tenant's keys, which this instance holds after its first use.
    async fn fetch_alone(db: &Db, tenant_id: Uuid, id: Uuid) -> Result<Option<Self>> {
        let Some(row) = read_row(db.pool(), tenant_id, id).await? else {
            return Ok(None);
        };
        let keys = match row.is_sealed() {
            true => Some(db.tenant_keys(tenant_id).await?),
            false => None,
        };
        row.open(keys.as_deref()).map(Some)
    }
}

/// An identity's row as read, its personal fields still as stored (see [`sealed::Stored`]).
struct Row {
    tenant_id: Uuid,
    id: Uuid,
    external_id: Option<String>,
    email: Option<String>,
    display_name: String,
    email_sealed: Option<Vec<u8>>,
    display_name_sealed: Option<Vec<u8>>,
    personal_metadata_sealed: Option<Vec<u8>>,
    subject_key: Option<Vec<u8>>,
    kind: String,
    roles: Vec<String>,
    metadata: Value,
    status: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

impl Row {
    fn is_sealed(&self) -> bool {
        self.display_name_sealed.is_some() || self.personal_metadata_sealed.is_some()
    }

    /// The identity, its sealed fields opened with `keys` (needed only when sealed).
    fn open(self, keys: Option<&TenantKeys>) -> Result<Identity> {
        let r = self;
        let stored = sealed::Stored {
            email: r.email,
            display_name: r.display_name,
            email_sealed: r.email_sealed,
            display_name_sealed: r.display_name_sealed,
            personal_metadata_sealed: r.personal_metadata_sealed,
            subject_key: r.subject_key,
        };
        let bad = |what: &str, v: &str| {
            Error::Internal(format!("identity {}: unknown {what} {v:?}", r.id))
        };
        let kind = Kind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?;
        let status = Status::parse(&r.status).ok_or_else(|| bad("status", &r.status))?;
        let (email, display_name, personal) = stored.open(keys, r.tenant_id, r.id)?;
        Ok(Identity {
            kind,
            roles: r.roles,
            status,
            id: r.id,
            tenant_id: r.tenant_id,
            external_id: r.external_id,
            email,
            display_name,
            metadata: r.metadata,
            personal_metadata: Some(personal),
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}

/// Which identities a list shows. The default hides deleted ones (they are in the trash).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    Present,
    Active,
    Disabled,
    Deleted,
    All,
}

impl crate::validation::Choice for StatusFilter {
    const FIELD: &'static str = "status";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("present", StatusFilter::Present),
        ("active", StatusFilter::Active),
        ("disabled", StatusFilter::Disabled),
        ("deleted", StatusFilter::Deleted),
        ("all", StatusFilter::All),
    ];
}

impl StatusFilter {
    fn as_sql(self) -> &'static str {
        match self {
            StatusFilter::Present => "present",
            StatusFilter::Active => "active",
            StatusFilter::Disabled => "disabled",
            StatusFilter::Deleted => "deleted",
            StatusFilter::All => "all",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Substring of email, display name or external id, case-insensitive.
    pub q: Option<String>,
    pub status: StatusFilter,
    pub kind: Option<Kind>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// `%text%` for LIKE, with the pattern characters in `text` escaped.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn list(ctx: &Ctx, db: &Db, query: ListQuery) -> Result<Page<Identity>> {
    let limit = pagination::limit(query.limit)?;
    let after = query
        .cursor
        .as_deref()
        .map(pagination::decode_cursor)
        .transpose()?;
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let mut tx = db.read(ctx, perm::IDENTITIES_READ).await?;
    let tenant_id = tx.tenant_id;
    let keys = tx.keys().await?;
    // Sealed names and addresses are found by their keyed grams, plain ones (rows not
    // sealed yet, external ids) by the trigram index; each candidate is checked once open.
    let search = q.as_deref().map(|q| Search {
        pattern: contains_pattern(q),
        grams: sealed::query_grams(&keys, q),
    });
    // Rows a rule on the object hides, and candidates that do not hold the query, are
    // skipped, and the page filled from further on.
    let mut page = pagination::Filtered::new(limit, after);
    while let Some((after, take)) = page.next_batch() {
        let rows = list_batch(tx.conn(), tenant_id, &query, search.as_ref(), after, take).await?;
        let rows = rows
            .into_iter()
            .map(|r| r.open(Some(&keys)))
            .collect::<Result<Vec<_>>>()?;
        page.take(
            rows,
            |i| i.id,
            |i| visible(ctx, tenant_id, i) && q.as_deref().is_none_or(|q| sealed::holds(i, q)),
        );
    }
    Ok(page.finish(|i| i.id))
}

/// A substring search as the list's query sends it.
struct Search {
    pattern: String,
    grams: Vec<i32>,
}

async fn list_batch(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    query: &ListQuery,
    search: Option<&Search>,
    after: Option<Uuid>,
    take: i64,
) -> Result<Vec<Row>> {
    Ok(sqlx::query_as!(
        Row,
        r#"select i.tenant_id, i.id, i.external_id, i.email, i.display_name,
                  i.email_sealed, i.display_name_sealed, i.personal_metadata_sealed,
                  (select sk.wrapped from subject_keys sk
                   where sk.tenant_id = i.tenant_id and sk.identity_id = i.id) as "subject_key?",
                  i.kind,
                  array(select r.name from identity_roles ir
                        join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                        where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                        order by r.name) as "roles!",
                  i.metadata, i.status as "status!", i.created_at, i.updated_at, i.deleted_at
           from identities i
           where i.tenant_id = $1
             and ($2::text is null or i.search_text like $2 or i.name_grams @> $7::int4[])
             and (case $3::text when 'present' then i.status <> 'deleted'
                                when 'all' then true
                                else i.status = $3 end)
             and ($4::text is null or i.kind = $4)
             and ($5::uuid is null or i.id < $5)
           order by i.id desc
           limit $6"#,
        tenant_id,
        search.map(|s| s.pattern.as_str()),
        query.status.as_sql(),
        query.kind.map(Kind::as_str),
        after,
        take,
        search.map(|s| s.grams.as_slice()),
    )
    .fetch_all(conn)
    .await?)
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Identity> {
    db.get::<Identity>(ctx, id).await
}

/// The labels ([`Identity::label`]) of those of `ids` the caller may see, read at once (a
/// list shows its owners' names without a read per row). Identities it may not see, or that
/// are gone, are left out.
pub async fn labels(ctx: &Ctx, db: &Db, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
    let tenant_id = ctx.tenant_id()?;
    let module = Target::collection(tenant_id, Identity::MODULE);
    if ids.is_empty()
        || ctx
            .authorize_quietly(perm::IDENTITIES_READ, module)
            .is_err()
    {
        return Ok(HashMap::new());
    }
    let mut tx = db.read(ctx, perm::IDENTITIES_READ).await?;
    let rows = sqlx::query_as!(
        Row,
        r#"select i.tenant_id, i.id, i.external_id, i.email, i.display_name,
                  i.email_sealed, i.display_name_sealed, i.personal_metadata_sealed,
                  (select sk.wrapped from subject_keys sk
                   where sk.tenant_id = i.tenant_id and sk.identity_id = i.id) as "subject_key?",
                  i.kind,
                  array(select r.name from identity_roles ir
                        join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                        where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                        order by r.name) as "roles!",
                  i.metadata, i.status as "status!", i.created_at, i.updated_at, i.deleted_at
           from identities i
           where i.tenant_id = $1 and i.id = any($2)"#,
        tenant_id,
        ids
    )
    .fetch_all(tx.conn())
    .await?;
    let keys = match rows.iter().any(Row::is_sealed) {
        true => Some(tx.keys().await?),
        false => None,
    };
    let mut labels = HashMap::with_capacity(rows.len());
    for row in rows {
        let identity = row.open(keys.as_deref())?;
        if visible(ctx, tenant_id, &identity) {
            labels.insert(identity.id, identity.label());
        }
    }
    Ok(labels)
}

pub(crate) async fn fetch(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Identity> {
    let row = read_row(&mut *conn, tenant_id, id)
        .await?
        .ok_or(Error::NotFound {
            resource: "identity",
        })?;
    let keys = match row.is_sealed() {
        true => Some(keyring.tenant_in(conn, tenant_id).await?),
        false => None,
    };
    row.open(keys.as_deref())
}

/// One identity with its role names, as stored. The row's shape lives once, in
/// `tenantry_identity_get` (migrations 021 and 028), which both a transaction (whose tenant
/// it keeps) and a lone statement on the pool (which it scopes to the tenant) read through.
async fn read_row<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Row>> {
    Ok(sqlx::query_as!(
        Row,
        r#"select tenant_id as "tenant_id!", id as "id!", external_id, email,
                  display_name as "display_name!", email_sealed, display_name_sealed,
                  personal_metadata_sealed, subject_key, kind as "kind!", roles as "roles!",
                  metadata as "metadata!", status as "status!",
                  created_at as "created_at!", updated_at as "updated_at!", deleted_at
           from tenantry_identity_get($1, $2)"#,
        tenant_id,
        id
    )
    .fetch_optional(executor)
    .await?)
}

/// The caller's own identity: everyone may read themselves, whatever their permissions (or
/// their API key's scopes).
pub fn me(ctx: &Ctx) -> Result<Identity> {
    let c = ctx.caller()?;
    // As the request resolved its caller: from this instance's memory of callers, which
    // forgets an identity at every change of its row, roles or groups (see
    // `auth::callers`), or read for this request. Only active identities are callers.
    let mut roles: Vec<String> = c
        .roles
        .iter()
        .filter_map(|r| c.authz.role_name(*r).map(str::to_owned))
        .collect();
    roles.sort();
    Ok(Identity {
        id: c.identity_id,
        tenant_id: c.tenant_id,
        external_id: c.external_id.clone(),
        email: c.email.clone(),
        display_name: c.display_name.clone(),
        kind: Kind::parse(&c.kind)
            .ok_or_else(|| Error::Internal(format!("identity {}: unknown kind", c.identity_id)))?,
        roles,
        metadata: c.metadata.clone(),
        personal_metadata: None,
        status: Status::Active,
        created_at: c.created_at,
        updated_at: c.updated_at,
        deleted_at: None,
    })
}

/// The id of the identity a person names by email in a form (a group's new member, the
/// simulator's principal); an email nobody has is a field error on `field`, not a 404.
pub async fn id_by_email(ctx: &Ctx, db: &Db, field: &str, email: &str) -> Result<Uuid> {
    match find_by_email(ctx, db, email.trim()).await {
        Ok(identity) => Ok(identity.id),
        Err(Error::NotFound { .. }) => Err(Error::validation(
            field,
            "unknown_identity",
            "No identity has this email.",
        )),
        Err(e) => Err(e),
    }
}

/// What screens and mails call an identity: its display name, else its email, else its
/// external id, else its id. The one place that says so (the console's views carry the
/// label made here).
pub fn label_of(
    display_name: &str,
    email: Option<&str>,
    external_id: Option<&str>,
    id: Uuid,
) -> String {
    let given = |s: &&str| !s.trim().is_empty();
    Some(display_name)
        .filter(given)
        .or(email.filter(given))
        .or(external_id.filter(given))
        .map_or_else(|| id.to_string(), str::to_owned)
}

/// The identity with this email (case-insensitive) in the caller's tenant.
pub async fn find_by_email(ctx: &Ctx, db: &Db, email: &str) -> Result<Identity> {
    let mut tx = db.read(ctx, perm::IDENTITIES_READ).await?;
    let tenant_id = tx.tenant_id;
    let keys = tx.keys().await?;
    let id = sealed::id_by_email(tx.conn(), &keys, tenant_id, email)
        .await?
        .ok_or(Error::NotFound {
            resource: "identity with this email",
        })?;
    Ok(tx
        .lookup::<Identity>(ctx, id, perm::IDENTITIES_READ)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound {
                resource: "identity with this email",
            },
            other => other,
        })?
        .into_inner())
}

/// Locks the identity's row for the rest of the transaction and returns it.
pub(crate) async fn fetch_for_update(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Identity> {
    let found = sqlx::query_scalar!(
        "select id from identities where tenant_id = $1 and id = $2 for update",
        tenant_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if found.is_none() {
        return Err(Error::NotFound {
            resource: "identity",
        });
    }
    fetch(conn, keyring, tenant_id, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_called_by_its_name_else_its_email_else_its_external_id_else_its_id() {
        let id = Uuid::nil();
        assert_eq!(label_of("Ada", Some("ada@x.test"), Some("e-1"), id), "Ada");
        assert_eq!(
            label_of(" ", Some("ada@x.test"), Some("e-1"), id),
            "ada@x.test"
        );
        assert_eq!(label_of("", None, Some("e-1"), id), "e-1");
        assert_eq!(label_of("", Some(""), None, id), id.to_string());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Ada"), "%ada%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn new_identity_validation_collects_every_error() {
        let err = validate_new(NewIdentity {
            email: Some("nope".into()),
            display_name: Some("x".repeat(201)),
            metadata: Some(serde_json::json!([1])),
            password: Some("short".into()),
            ..Default::default()
        })
        .err()
        .unwrap();
        let fields: Vec<_> = err
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["email", "display_name", "metadata", "password"]);
    }

    #[test]
    fn users_need_email_agents_need_a_name() {
        let user = validate_new(NewIdentity::default()).err().unwrap();
        assert_eq!(user.field_errors()[0].field, "email");
        let agent = validate_new(NewIdentity {
            kind: Some(Kind::Agent),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert_eq!(agent.field_errors()[0].field, "display_name");
        let ok = validate_new(NewIdentity {
            kind: Some(Kind::Agent),
            display_name: Some("indexer".into()),
            ..Default::default()
        })
        .ok()
        .unwrap();
        assert_eq!(
            (ok.kind, ok.roles, ok.email),
            (Kind::Agent, vec!["member".to_owned()], None)
        );
    }
}
