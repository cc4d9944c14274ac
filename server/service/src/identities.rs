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
use crate::resource::{Authorized, Lifecycle, Resource, visible};
use crate::roles;
use crate::validation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "user" => Some(Kind::User),
            "agent" => Some(Kind::Agent),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub display_name: String,
    pub kind: Kind,
    /// Names of the roles held directly, sorted.
    pub roles: Vec<String>,
    pub metadata: Value,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl Identity {
    pub(crate) fn snapshot(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What screens call it: its display name, else its email, else its external id, else
    /// its id.
    pub fn label(&self) -> String {
        if !self.display_name.is_empty() {
            return self.display_name.clone();
        }
        self.email
            .clone()
            .or_else(|| self.external_id.clone())
            .unwrap_or_else(|| self.id.to_string())
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
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock {
            let found = sqlx::query_scalar!(
                "select id from identities where tenant_id = $1 and id = $2 for update",
                tenant_id,
                id
            )
            .fetch_optional(&mut *conn)
            .await?;
            if found.is_none() {
                return Ok(None);
            }
        }
        match fetch(conn, tenant_id, id).await {
            Ok(identity) => Ok(Some(identity)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

struct Row {
    tenant_id: Uuid,
    id: Uuid,
    external_id: Option<String>,
    email: Option<String>,
    display_name: String,
    kind: String,
    roles: Vec<String>,
    metadata: Value,
    status: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

impl TryFrom<Row> for Identity {
    type Error = Error;

    fn try_from(r: Row) -> Result<Identity> {
        let bad = |what: &str, v: &str| {
            Error::Internal(format!("identity {}: unknown {what} {v:?}", r.id))
        };
        Ok(Identity {
            kind: Kind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            roles: r.roles,
            status: Status::parse(&r.status).ok_or_else(|| bad("status", &r.status))?,
            id: r.id,
            tenant_id: r.tenant_id,
            external_id: r.external_id,
            email: r.email,
            display_name: r.display_name,
            metadata: r.metadata,
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

impl StatusFilter {
    pub fn parse(s: &str) -> Option<StatusFilter> {
        Some(match s {
            "" | "present" => StatusFilter::Present,
            "active" => StatusFilter::Active,
            "disabled" => StatusFilter::Disabled,
            "deleted" => StatusFilter::Deleted,
            "all" => StatusFilter::All,
            _ => return None,
        })
    }

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
    let pattern = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(contains_pattern);
    let mut tx = db.read(ctx, perm::IDENTITIES_READ).await?;
    let tenant_id = tx.tenant_id;
    // Rows a rule on the object hides are skipped, and the page filled from further on.
    let mut page = pagination::Filtered::new(limit, after);
    while let Some((after, take)) = page.next_batch() {
        let rows = list_batch(
            tx.conn(),
            tenant_id,
            &query,
            pattern.as_deref(),
            after,
            take,
        )
        .await?;
        let rows = rows
            .into_iter()
            .map(Identity::try_from)
            .collect::<Result<Vec<_>>>()?;
        page.take(rows, |i| i.id, |i| visible(ctx, tenant_id, i));
    }
    Ok(page.finish(|i| i.id))
}

async fn list_batch(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    query: &ListQuery,
    pattern: Option<&str>,
    after: Option<Uuid>,
    take: i64,
) -> Result<Vec<Row>> {
    Ok(sqlx::query_as!(
        Row,
        r#"select i.tenant_id, i.id, i.external_id, i.email, i.display_name, i.kind,
                  array(select r.name from identity_roles ir
                        join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                        where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                        order by r.name) as "roles!",
                  i.metadata, i.status as "status!", i.created_at, i.updated_at, i.deleted_at
           from identities i
           where i.tenant_id = $1
             and ($2::text is null or i.search_text like $2)
             and (case $3::text when 'present' then i.status <> 'deleted'
                                when 'all' then true
                                else i.status = $3 end)
             and ($4::text is null or i.kind = $4)
             and ($5::uuid is null or i.id < $5)
           order by i.id desc
           limit $6"#,
        tenant_id,
        pattern,
        query.status.as_sql(),
        query.kind.map(Kind::as_str),
        after,
        take,
    )
    .fetch_all(conn)
    .await?)
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Identity> {
    let mut tx = db.read_object(ctx, perm::IDENTITIES_READ).await?;
    Ok(tx
        .lookup::<Identity>(ctx, id, perm::IDENTITIES_READ)
        .await?
        .into_inner())
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
        r#"select i.tenant_id, i.id, i.external_id, i.email, i.display_name, i.kind,
                  array(select r.name from identity_roles ir
                        join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                        where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                        order by r.name) as "roles!",
                  i.metadata, i.status as "status!", i.created_at, i.updated_at, i.deleted_at
           from identities i where i.tenant_id = $1 and i.id = any($2)"#,
        tenant_id,
        ids
    )
    .fetch_all(tx.conn())
    .await?;
    let mut labels = HashMap::with_capacity(rows.len());
    for row in rows {
        let identity = Identity::try_from(row)?;
        if visible(ctx, tenant_id, &identity) {
            labels.insert(identity.id, identity.label());
        }
    }
    Ok(labels)
}

pub(crate) async fn fetch(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> Result<Identity> {
    sqlx::query_as!(
        Row,
        r#"select i.tenant_id, i.id, i.external_id, i.email, i.display_name, i.kind,
                  array(select r.name from identity_roles ir
                        join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                        where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                        order by r.name) as "roles!",
                  i.metadata, i.status as "status!", i.created_at, i.updated_at, i.deleted_at
           from identities i where i.tenant_id = $1 and i.id = $2"#,
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(Error::NotFound {
        resource: "identity",
    })?
    .try_into()
}

/// The identity with this email (case-insensitive) in the caller's tenant.
/// The caller's own identity: everyone may read themselves, whatever their permissions (or
/// their API key's scopes).
pub async fn me(ctx: &Ctx, db: &Db) -> Result<Identity> {
    let caller = ctx.caller()?;
    let mut tx = db.begin_tenant(caller.tenant_id).await?;
    fetch(&mut tx, caller.tenant_id, caller.identity_id).await
}

pub async fn find_by_email(ctx: &Ctx, db: &Db, email: &str) -> Result<Identity> {
    let mut tx = db.read(ctx, perm::IDENTITIES_READ).await?;
    let tenant_id = tx.tenant_id;
    let id = sqlx::query_scalar!(
        "select id from identities where tenant_id = $1 and lower(email) = lower($2)",
        tenant_id,
        email.trim()
    )
    .fetch_optional(tx.conn())
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
    fetch(conn, tenant_id, id).await
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewIdentity {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub kind: Option<Kind>,
    /// Role names; default `member`.
    pub roles: Option<Vec<String>>,
    pub metadata: Option<Value>,
    /// An initial password for console sign-in; most identities get one through an invitation.
    pub password: Option<String>,
}

struct ValidNew {
    email: Option<String>,
    display_name: String,
    external_id: Option<String>,
    kind: Kind,
    roles: Vec<String>,
    metadata: Value,
    password: Option<String>,
}

fn validate_new(input: NewIdentity) -> Result<ValidNew> {
    let mut errors = Vec::new();
    let kind = input.kind.unwrap_or(Kind::User);
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(raw) => validation::email("email", raw, &mut errors),
        None if kind == Kind::User => {
            errors.push(FieldError::new(
                "email",
                "required",
                "A user needs an email address.",
            ));
            None
        }
        None => None,
    };
    let display_name = validation::text(
        "display_name",
        input.display_name.as_deref().unwrap_or(""),
        200,
        false,
        &mut errors,
    )
    .unwrap_or_default();
    if kind == Kind::Agent
        && display_name.is_empty()
        && errors.iter().all(|e| e.field != "display_name")
    {
        errors.push(FieldError::new(
            "display_name",
            "required",
            "An agent needs a name.",
        ));
    }
    let external_id = input
        .external_id
        .as_deref()
        .and_then(|raw| validation::text("external_id", raw, 255, false, &mut errors))
        .filter(|s| !s.is_empty());
    let metadata = input
        .metadata
        .unwrap_or_else(|| Value::Object(Default::default()));
    validation::metadata("metadata", &metadata, &mut errors);
    if let Some(pw) = input.password.as_deref().filter(|p| !p.is_empty()) {
        validation::password("password", pw, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let roles = match input.roles {
        Some(r) => r
            .into_iter()
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect(),
        None => vec!["member".to_owned()],
    };
    Ok(ValidNew {
        email,
        display_name,
        external_id,
        kind,
        roles,
        metadata,
        password: input.password.filter(|p| !p.is_empty()),
    })
}

fn conflict_from(err: sqlx::Error) -> Error {
    match unique_violation(&err) {
        Some("identities_email_key") => Error::Conflict {
            code: "email_taken",
            message: "An identity with this email already exists in this tenant (it may be in the trash).".into(),
            field: Some("email"),
        },
        Some("identities_external_id_key") => Error::Conflict {
            code: "external_id_taken",
            message: "An identity with this external id already exists in this tenant.".into(),
            field: Some("external_id"),
        },
        _ => err.into(),
    }
}

/// Creates an identity. The order is the pipeline's: the caller's right to create (403),
/// then the input (422), then the roles it may hand out (403), and only then the costly
/// part, hashing a password.
pub async fn create(ctx: &Ctx, db: &Db, input: NewIdentity) -> Result<Identity> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        perm::IDENTITIES_CREATE,
        Target::collection(tenant_id, Identity::MODULE),
    )?;
    let valid = validate_new(input)?;
    let roles = {
        let mut tx = db.begin_tenant(tenant_id).await?;
        roles::by_names(&mut tx, tenant_id, &valid.roles, "roles").await?
    };
    if !roles.is_empty() {
        ctx.authorize(perm::ROLES_MANAGE, Target::collection(tenant_id, "roles"))?;
    }
    roles::authorize_grants(ctx, &roles)?;
    let password_hash = match &valid.password {
        Some(pw) => Some(passwords::hash(pw.clone()).await?),
        None => None,
    };
    let mut tx = db.change(ctx, perm::IDENTITIES_CREATE).await?;
    // Read again inside the change, where a role deleted meanwhile is an error.
    let roles = roles::by_names(tx.conn(), tenant_id, &valid.roles, "roles").await?;
    roles::authorize_grants(ctx, &roles)?;
    let identity = insert(&mut tx, &valid, password_hash, &roles).await?;
    tx.created(&identity).await?;
    tx.commit().await?;
    Ok(identity)
}

async fn insert(
    tx: &mut ChangeTx<'_>,
    v: &ValidNew,
    password_hash: Option<String>,
    roles: &[roles::Role],
) -> Result<Identity> {
    let tenant_id = tx.tenant_id;
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into identities
            (tenant_id, id, external_id, email, display_name, kind, metadata, password_hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        tenant_id,
        id,
        v.external_id,
        v.email,
        v.display_name,
        v.kind.as_str(),
        v.metadata,
        password_hash,
    )
    .execute(tx.conn())
    .await
    .map_err(conflict_from)?;
    roles::grant_initial(tx, id, roles).await?;
    fetch(tx.conn(), tenant_id, id).await
}

/// Creates a person who came in by invitation or by a first sign-in through SSO, with
/// the given roles and (for invitations) a password, inside the caller's transaction.
pub(crate) async fn insert_joining(
    tx: &mut ChangeTx<'_>,
    email: &str,
    display_name: &str,
    password_hash: Option<String>,
    roles: &[roles::Role],
) -> Result<Identity> {
    let valid = ValidNew {
        email: Some(email.to_owned()),
        display_name: display_name.to_owned(),
        external_id: None,
        kind: Kind::User,
        roles: roles.iter().map(|r| r.name.clone()).collect(),
        metadata: Value::Object(Default::default()),
        password: None,
    };
    let identity = insert(tx, &valid, password_hash, roles).await?;
    tx.created(&identity).await?;
    Ok(identity)
}

/// Creates the first owner of a freshly created tenant inside the tenant's own transaction.
pub(crate) async fn insert_owner(
    tx: &mut ChangeTx<'_>,
    email: &str,
    display_name: &str,
    password_hash: String,
) -> Result<Identity> {
    let tenant_id = tx.tenant_id;
    let owner = roles::by_names(tx.conn(), tenant_id, &[roles::OWNER.to_owned()], "roles").await?;
    let valid = ValidNew {
        email: Some(email.to_owned()),
        display_name: display_name.to_owned(),
        external_id: None,
        kind: Kind::User,
        roles: vec![roles::OWNER.to_owned()],
        metadata: Value::Object(Default::default()),
        password: None,
    };
    let identity = insert(tx, &valid, Some(password_hash), &owner).await?;
    tx.created(&identity).await?;
    Ok(identity)
}

/// A partial update; `None` leaves a field as it is. `external_id: Some(None)` clears it.
/// Roles change through [`roles::set_identity_roles`].
#[derive(Debug, Clone, Default)]
pub struct IdentityPatch {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub metadata: Option<Value>,
    /// `Some(true)` disables, `Some(false)` enables.
    pub disabled: Option<bool>,
}

impl IdentityPatch {
    fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.display_name.is_none()
            && self.external_id.is_none()
            && self.metadata.is_none()
            && self.disabled.is_none()
    }

    fn only_status(&self) -> bool {
        self.disabled.is_some()
            && self.email.is_none()
            && self.display_name.is_none()
            && self.external_id.is_none()
            && self.metadata.is_none()
    }
}

/// Only an owner changes or removes an owner, whether the target holds the role directly
/// or through a group.
async fn guard_owner(
    ctx: &Ctx,
    tx: &mut ChangeTx<'_>,
    target: &Authorized<Identity>,
    what: &str,
) -> Result<()> {
    let Ok(caller) = ctx.caller() else {
        return Ok(()); // the system
    };
    if caller.is_owner() {
        return Ok(());
    }
    let tenant_id = tx.tenant_id;
    if roles::is_owner(tx.conn(), tenant_id, target.id).await? {
        return Err(Error::Forbidden {
            action: format!("{what} an owner"),
        });
    }
    Ok(())
}

pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, patch: IdentityPatch) -> Result<Identity> {
    if patch.is_empty() {
        return Err(Error::BadRequest("nothing to update".into()));
    }
    let mut tx = db.change_object(ctx, perm::IDENTITIES_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_UPDATE).await?;
    guard_owner(ctx, &mut tx, &before, "change").await?;
    if before.status == Status::Deleted {
        return Err(Error::Conflict {
            code: "identity_deleted",
            message: "This identity is in the trash; restore it first.".into(),
            field: None,
        });
    }

    let mut errors = Vec::new();
    let email = match patch.email.as_deref().map(str::trim) {
        None => before.email.clone(),
        Some("") if before.kind == Kind::User => {
            errors.push(FieldError::new(
                "email",
                "required",
                "A user needs an email address.",
            ));
            None
        }
        Some("") => None,
        Some(raw) => validation::email("email", raw, &mut errors),
    };
    let display_name = match patch.display_name.as_deref() {
        None => before.display_name.clone(),
        Some(raw) => {
            validation::text("display_name", raw, 200, false, &mut errors).unwrap_or_default()
        }
    };
    if before.kind == Kind::Agent
        && display_name.is_empty()
        && errors.iter().all(|e| e.field != "display_name")
    {
        errors.push(FieldError::new(
            "display_name",
            "required",
            "An agent needs a name.",
        ));
    }
    let external_id = match &patch.external_id {
        None => before.external_id.clone(),
        Some(None) => None,
        Some(Some(raw)) => {
            validation::text("external_id", raw, 255, false, &mut errors).filter(|s| !s.is_empty())
        }
    };
    let metadata = patch
        .metadata
        .clone()
        .unwrap_or_else(|| before.metadata.clone());
    validation::metadata("metadata", &metadata, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }

    let disabled = patch.disabled.unwrap_or(before.status == Status::Disabled);
    if disabled && before.status != Status::Disabled {
        refuse_self(ctx, id, "disable")?;
    }
    let email_changes = email != before.email;
    if email_changes {
        // Whoever controls the address controls the account (a reset link goes there):
        // changing it takes the rights over everything the identity holds.
        let held = roles::held_by(tx.conn(), tenant_id, id).await?;
        roles::authorize_grants(ctx, &held)?;
    }
    let unchanged = email == before.email
        && display_name == before.display_name
        && external_id == before.external_id
        && metadata == before.metadata
        && disabled == (before.status == Status::Disabled);
    if unchanged {
        // Nothing to change: no write, no audit record, no event.
        return Ok(before.into_inner());
    }

    sqlx::query!(
        "update identities
         set email = $3, display_name = $4, external_id = $5, metadata = $6, disabled = $7,
             updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        email,
        display_name,
        external_id,
        metadata,
        disabled,
    )
    .execute(tx.conn())
    .await
    .map_err(conflict_from)?;
    if disabled && before.status != Status::Disabled {
        // Signed out everywhere: sessions end and refresh tokens die with the change.
        crate::sessions::end_sessions_of(tx.conn(), tenant_id, id, None).await?;
        roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    }
    if email_changes {
        email_changed(&mut tx, db, &before, email.as_deref()).await?;
    }
    let after = tx.reread::<Identity>(id).await?;
    let action = match (patch.only_status(), after.status) {
        (true, Status::Disabled) => types::IDENTITY_DISABLED,
        (true, _) => types::IDENTITY_ENABLED,
        (false, _) => types::IDENTITY_UPDATED,
    };
    tx.changed(action, &before, after.snapshot()).await?;
    tx.commit().await?;
    Ok(after)
}

/// What an email change takes with it, inside the change: every reset link not yet used
/// is voided (it was sent to the old address), pending invitations to the old address are
/// withdrawn, and the old address is told (a takeover must not go unnoticed).
async fn email_changed(
    tx: &mut ChangeTx<'_>,
    db: &Db,
    before: &Authorized<Identity>,
    new_email: Option<&str>,
) -> Result<()> {
    let tenant_id = tx.tenant_id;
    sqlx::query!(
        "update password_resets set used_at = now()
         where tenant_id = $1 and identity_id = $2 and used_at is null",
        tenant_id,
        before.id
    )
    .execute(tx.conn())
    .await?;
    let Some(old) = before.email.as_deref() else {
        return Ok(());
    };
    sqlx::query!(
        "update invitations set revoked_at = now()
         where tenant_id = $1 and lower(email) = lower($2)
           and accepted_at is null and revoked_at is null",
        tenant_id,
        old
    )
    .execute(tx.conn())
    .await?;
    let tenant_name = sqlx::query_scalar!("select name from tenants where id = $1", tenant_id)
        .fetch_one(tx.conn())
        .await?;
    let payload = crate::mail::Payload::EmailChanged {
        tenant_name,
        new_email: new_email.map(crate::mail::mask_address),
    };
    crate::mail::enqueue(
        tx.conn(),
        db.master_key()?,
        tenant_id,
        Some(before.id),
        old,
        &payload,
    )
    .await?;
    Ok(())
}

fn is_self(ctx: &Ctx, id: Uuid) -> bool {
    matches!(ctx.caller(), Ok(c) if c.identity_id == id)
}

fn refuse_self(ctx: &Ctx, id: Uuid, what: &str) -> Result<()> {
    if is_self(ctx, id) {
        Err(Error::Conflict {
            code: "cannot_target_self",
            message: format!("You cannot {what} your own account."),
            field: None,
        })
    } else {
        Ok(())
    }
}

/// Disables (`true`) or re-enables (`false`) an identity. A disabled identity cannot sign in,
/// and its sessions and tokens stop working on their next request.
pub async fn set_disabled(ctx: &Ctx, db: &Db, id: Uuid, disabled: bool) -> Result<Identity> {
    let patch = IdentityPatch {
        disabled: Some(disabled),
        ..Default::default()
    };
    update(ctx, db, id, patch).await
}

/// Moves an identity to the trash; it can be restored until it is deleted for good.
pub async fn soft_delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Identity> {
    let mut tx = db.change_object(ctx, perm::IDENTITIES_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_DELETE).await?;
    guard_owner(ctx, &mut tx, &before, "delete").await?;
    if before.status == Status::Deleted {
        return Ok(before.into_inner());
    }
    refuse_self(ctx, id, "delete")?;
    sqlx::query!(
        "update identities set deleted_at = now(), updated_at = now() where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    crate::sessions::end_sessions_of(tx.conn(), tenant_id, id, None).await?;
    roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    let after = tx.reread::<Identity>(id).await?;
    tx.changed(types::IDENTITY_DELETED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn restore(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Identity> {
    let mut tx = db.change_object(ctx, perm::IDENTITIES_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_UPDATE).await?;
    guard_owner(ctx, &mut tx, &before, "restore").await?;
    if before.status != Status::Deleted {
        return Err(Error::Conflict {
            code: "not_deleted",
            message: "This identity is not in the trash.".into(),
            field: None,
        });
    }
    sqlx::query!(
        "update identities set deleted_at = null, updated_at = now() where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<Identity>(id).await?;
    tx.changed(types::IDENTITY_RESTORED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes an identity for good. The audit record keeps what it was.
pub async fn hard_delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::IDENTITIES_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Identity>(id, perm::IDENTITIES_DELETE).await?;
    guard_owner(ctx, &mut tx, &before, "delete").await?;
    refuse_self(ctx, id, "delete")?;
    sqlx::query!(
        "delete from identities where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    roles::ensure_an_owner_remains(tx.conn(), tenant_id).await?;
    tx.record(Change {
        action: types::IDENTITY_PURGED,
        target_type: Identity::NOUN,
        target_id: Some(id),
        before: Some(before.snapshot()),
        after: None,
    })
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

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
