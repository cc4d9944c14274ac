//! API keys: long-lived secrets with which programs act for an identity of a tenant.
//!
//! A key reads `tnr_<key id: 32 hex digits>_<secret: 43 URL-safe characters>`. The `tnr_`
//! prefix and fixed shape let secret scanners find leaked keys; the id finds the row; only
//! SHA-256 of the secret is stored (256 random bits need no slow hash) and it is compared in
//! constant time. A key may do what one of its scopes matches *and* what its identity may
//! do, so it never outgrows its identity; revoking or expiring it takes effect on the next
//! request on every instance because each request reads the key's row.

use crate::limits::plans::Rate;
use std::net::IpAddr;

use serde::Serialize;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::authz::catalog::{self, ALL_ACTIONS, MODULES};
use crate::authz::{Permission, Target, perm};
use crate::crypto;
use crate::ctx::{AuthMethod, Caller, Ctx, KeyGrant, scope_matches};
use crate::db::{Change, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::resource::{Lifecycle, Resource, visible};
use crate::validation;

mod presented;
pub use presented::authenticate;

pub const PREFIX: &str = "tnr_";
/// The longest lifetime a key can be given at creation.
pub const MAX_DAYS: u32 = 3650;
/// `last_used_at` is written at most this often per key, so a busy key costs no write per
/// request.
const LAST_USED_GRAIN_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Expired,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }
}

/// A key as its holders and admins see it: never the secret, never its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub identity_id: Uuid,
    /// The display name of the identity the key acts for.
    pub identity_name: String,
    pub name: String,
    /// The start of the key, enough to recognise it: `tnr_1a2b3c4d`.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The key's own rate limit, on top of its identity's (none: only its identity's).
    pub rate_limit: Option<Rate>,
}

impl Resource for ApiKey {
    const MODULE: &'static str = "api_keys";
    const NOUN: &'static str = "API key";
    const AUDIT_TYPE: &'static str = "api_key";
    const READ: Permission = perm::API_KEYS_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::API_KEY_CREATED,
        updated: types::API_KEY_UPDATED,
        deleted: types::API_KEY_REVOKED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    /// A key is owned by the identity it acts for.
    fn target(&self, tenant_id: Uuid) -> Target {
        Target {
            owner: Some(self.identity_id),
            ..Target::object(tenant_id, Self::MODULE, self.id)
        }
    }

    /// One's own keys take the action's permission; another identity's take
    /// `api_keys:manage`, reading them too.
    fn required(&self, ctx: &Ctx, permission: Permission) -> Permission {
        match ctx.caller() {
            Ok(caller) if caller.identity_id == self.identity_id => permission,
            _ => perm::API_KEYS_MANAGE,
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        shapes::to_value(shapes::ApiKeyData {
            id: self.id,
            identity_id: self.identity_id,
            name: &self.name,
            prefix: &self.prefix,
            scopes: &self.scopes,
            expires_at: self.expires_at.map(shapes::Time),
            revoked_at: self.revoked_at.map(shapes::Time),
            rate_limit: self.rate_limit,
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "api_keys", tenant_id, id).await? {
            return Ok(None);
        }
        Ok(load(conn, keyring, tenant_id, Some(id), None).await?.pop())
    }
}

/// A key just made: the whole key is in `secret`, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub key: ApiKey,
    pub secret: String,
}

fn display_prefix(id: Uuid) -> String {
    format!("{PREFIX}{}", &id.simple().to_string()[..8])
}

fn status_of(
    now: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
) -> Status {
    if revoked_at.is_some() {
        Status::Revoked
    } else if expires_at.is_some_and(|e| e <= now) {
        Status::Expired
    } else {
        Status::Active
    }
}

/// Splits a presented key into its id and secret; `None` for anything not shaped like one.
pub fn parse(presented: &str) -> Option<(Uuid, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    if rest.len() < 34 || !rest.is_char_boundary(32) {
        return None;
    }
    let (id, secret) = rest.split_at(32);
    let secret = secret.strip_prefix('_')?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    if secret.len() != 43
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some((Uuid::parse_str(id).ok()?, secret))
}

fn format_key(id: Uuid, secret: &str) -> String {
    format!("{PREFIX}{}_{secret}", id.simple())
}

/// Checks and normalizes scopes: `module:action`, either side `*`, deduplicated, in
/// catalogue order of their first appearance.
pub fn check_scopes(raw: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    if raw.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            "required",
            "Choose at least one scope, such as memories:read or *:read.",
        ));
        return None;
    }
    if raw.len() > 64 {
        errors.push(FieldError::new(
            "scopes",
            "too_many",
            "Use at most 64 scopes.",
        ));
        return None;
    }
    for s in raw {
        let s = s.trim();
        let ok = match s.split_once(':') {
            Some((m, a)) => {
                (m == "*" || MODULES.contains(&m)) && (a == "*" || ALL_ACTIONS.contains(&a))
            }
            None => false,
        };
        if !ok {
            errors.push(FieldError::new(
                "scopes",
                "invalid_scope",
                format!(
                    "\"{s}\" is not a scope: write module:action with a module of {} and an action of {} (either may be *).",
                    MODULES.join(", "),
                    ALL_ACTIONS.join(", ")
                ),
            ));
            return None;
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Some(out)
}

/// The permissions a set of scopes covers.
pub fn permissions_of(scopes: &[String]) -> Vec<Permission> {
    catalog::all()
        .filter(|p| scopes.iter().any(|s| scope_matches(s, p.module, p.action)))
        .collect()
}

struct Row {
    id: Uuid,
    identity_id: Uuid,
    identity_name: String,
    name: String,
    scopes: Vec<String>,
    created_at: OffsetDateTime,
    created_by: Option<Uuid>,
    expires_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
    last_used_ip: Option<String>,
    revoked_at: Option<OffsetDateTime>,
    rate: Option<f64>,
    burst: Option<i32>,
}

impl From<Row> for ApiKey {
    fn from(r: Row) -> ApiKey {
        ApiKey {
            id: r.id,
            identity_id: r.identity_id,
            identity_name: r.identity_name,
            prefix: display_prefix(r.id),
            name: r.name,
            scopes: r.scopes,
            status: status_of(OffsetDateTime::now_utc(), r.expires_at, r.revoked_at),
            created_at: r.created_at,
            created_by: r.created_by,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            last_used_ip: r.last_used_ip,
            revoked_at: r.revoked_at,
            rate_limit: r.rate.zip(r.burst).map(|(rate, burst)| Rate {
                rate,
                burst: burst.max(1) as u32,
            }),
        }
    }
}

/// Keys with their identities' names (which are sealed: opened here).
async fn load(
    conn: &mut PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant_id: Uuid,
    only: Option<Uuid>,
    owner: Option<Uuid>,
) -> Result<Vec<ApiKey>> {
    let rows = sqlx::query_as!(
        Row,
        r#"select k.id, k.identity_id, ''::text as "identity_name!", k.name, k.scopes,
                  k.created_at, k.created_by, k.expires_at, k.last_used_at,
                  host(k.last_used_ip) as last_used_ip, k.revoked_at, k.rate, k.burst
           from api_keys k
           join identities i on i.tenant_id = k.tenant_id and i.id = k.identity_id
           where k.tenant_id = $1 and ($2::uuid is null or k.id = $2)
             and ($3::uuid is null or k.identity_id = $3)
           order by k.revoked_at is not null, k.created_at desc, k.id"#,
        tenant_id,
        only,
        owner
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.identity_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let people = crate::identities::sealed::people_in(conn, keyring, tenant_id, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let identity_name = people
                .get(&r.identity_id)
                .map(|p| p.display_name.clone())
                .unwrap_or_default();
            ApiKey {
                identity_name,
                ..ApiKey::from(r)
            }
        })
        .collect())
}

/// [`load`] in a change.
async fn load_in(
    tx: &mut crate::db::ChangeTx<'_>,
    only: Option<Uuid>,
    owner: Option<Uuid>,
) -> Result<Vec<ApiKey>> {
    let tenant_id = tx.tenant_id;
    let (conn, keyring) = tx.parts();
    load(conn, keyring, tenant_id, only, owner).await
}

/// Whether the caller may act on keys of `owner` with `own_permission` (their own) or
/// `api_keys:manage` (anyone's in the tenant).
fn authorize_for(ctx: &Ctx, owner: Uuid, own_permission: Permission) -> Result<()> {
    let caller = ctx.caller()?;
    let target = Target {
        owner: Some(owner),
        ..Target::collection(caller.tenant_id, "api_keys")
    };
    if caller.identity_id == owner {
        ctx.authorize(own_permission, target)
    } else {
        ctx.authorize(perm::API_KEYS_MANAGE, target)
    }
}

fn not_with_a_key(ctx: &Ctx, what: &str) -> Result<()> {
    if ctx.caller()?.api_key.is_some() {
        return Err(Error::Forbidden {
            action: format!("{what} with an API key; sign in as a person to do it"),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Every key in the tenant (needs `api_keys:manage`) instead of the caller's own.
    pub all: bool,
    /// The keys of one identity (its own, or anyone's with `api_keys:manage`).
    pub identity_id: Option<Uuid>,
}

pub async fn list(ctx: &Ctx, db: &Db, query: ListQuery) -> Result<Vec<ApiKey>> {
    let caller = ctx.caller()?;
    let owner = match (query.all, query.identity_id) {
        (true, _) => None,
        (false, Some(id)) => Some(id),
        (false, None) => Some(caller.identity_id),
    };
    match owner {
        Some(owner) => authorize_for(ctx, owner, perm::API_KEYS_READ)?,
        None => ctx.authorize(
            perm::API_KEYS_MANAGE,
            Target::collection(caller.tenant_id, "api_keys"),
        )?,
    }
    let mut tx = db.read(ctx, perm::API_KEYS_READ).await?;
    let tenant_id = tx.tenant_id;
    let (conn, keyring) = tx.parts();
    Ok(load(conn, keyring, tenant_id, None, owner)
        .await?
        .into_iter()
        .filter(|k| visible(ctx, tenant_id, k))
        .collect())
}

/// One key, for its holder or an admin; anyone else gets 404 as for a key that does not
/// exist.
pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<ApiKey> {
    // Keys are judged on the module first (reading anyone's takes api_keys:read besides
    // api_keys:manage), then on the key.
    let mut tx = db.read(ctx, perm::API_KEYS_READ).await?;
    Ok(tx
        .lookup::<ApiKey>(ctx, id, perm::API_KEYS_READ)
        .await?
        .into_inner())
}

#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    /// Days until it expires; `None` never expires.
    pub expires_in_days: Option<u32>,
    /// The identity the key acts for: the caller when `None`. Another identity must be an
    /// agent, and needs `api_keys:manage` plus every permission the scopes cover.
    pub identity_id: Option<Uuid>,
    /// A rate limit of the key's own, on top of its identity's.
    pub rate_limit: Option<Rate>,
}

/// Refuses scopes that name a permission the caller does not hold.
fn refuse_scopes_beyond(ctx: &Ctx, scopes: &[String]) -> Result<()> {
    match ctx.missing_permission(&permissions_of(scopes)) {
        None => Ok(()),
        Some(missing) => Err(Error::Forbidden {
            action: format!("give a key the scope {missing}, which you do not have yourself"),
        }),
    }
}

pub async fn create(ctx: &Ctx, db: &Db, input: NewApiKey) -> Result<Created> {
    let caller = ctx.caller()?;
    not_with_a_key(ctx, "create API keys")?;
    let owner = input.identity_id.unwrap_or(caller.identity_id);
    authorize_for(ctx, owner, perm::API_KEYS_CREATE)?;

    let mut errors = Vec::new();
    let name = validation::text("name", &input.name, 100, true, &mut errors);
    let scopes = check_scopes(&input.scopes, &mut errors);
    if let Some(days) = input.expires_in_days
        && !(1..=MAX_DAYS).contains(&days)
    {
        errors.push(FieldError::new(
            "expires_in_days",
            "out_of_range",
            format!("Choose between 1 and {MAX_DAYS} days, or no expiry."),
        ));
    }
    if let Some(r) = input.rate_limit {
        crate::limits::plans::check_rate("rate_limit", Some(r.rate), Some(r.burst), &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (name, scopes) = (name.expect("checked"), scopes.expect("checked"));

    let mut tx = db.change(ctx, perm::API_KEYS_CREATE).await?;
    let tenant_id = tx.tenant_id;
    if owner != caller.identity_id {
        let kind = sqlx::query_scalar!(
            "select kind from identities where tenant_id = $1 and id = $2 and status = 'active'",
            tenant_id,
            owner
        )
        .fetch_optional(tx.conn())
        .await?
        .ok_or(Error::NotFound {
            resource: "identity",
        })?;
        if kind != "agent" {
            return Err(Error::Validation(vec![FieldError::new(
                "identity_id",
                "not_an_agent",
                "Keys can be made for yourself or for an agent identity, not for another person.",
            )]));
        }
        // A key acts as its agent: making one hands out what the agent holds, so it takes
        // the rights to grant every role the agent has (an owner agent takes an owner).
        let held = crate::roles::held_by(tx.conn(), tenant_id, owner).await?;
        crate::roles::authorize_grants(ctx, &held)?;
        // Nor does the key's reach go past its maker's.
        refuse_scopes_beyond(ctx, &scopes)?;
    }
    // A key of one's own only narrows: its scopes filter what its identity may do, so a
    // scope the identity lacks (`*:*`) grants nothing.
    tx.within_quota(crate::limits::Quota::ApiKeys, 1).await?;

    let id = uuid::Builder::from_random_bytes(crypto::random_bytes::<16>()).into_uuid();
    let secret = crypto::random_token::<32>();
    let hash = crypto::sha256(secret.as_bytes());
    let expires_at = input
        .expires_in_days
        .map(|d| OffsetDateTime::now_utc() + Duration::days(i64::from(d)));
    sqlx::query!(
        "insert into api_keys (tenant_id, id, identity_id, name, scopes, secret_hash, created_by,
                               expires_at, rate, burst)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        tenant_id,
        id,
        owner,
        name,
        &scopes,
        &hash[..],
        caller.identity_id,
        expires_at,
        input.rate_limit.map(|r| r.rate),
        input.rate_limit.map(|r| r.burst as i32)
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "insert into api_key_tenants (id, tenant_id) values ($1, $2)",
        id,
        tenant_id
    )
    .execute(tx.conn())
    .await?;
    let key = tx.reread::<ApiKey>(id).await?;
    tx.created(&key).await?;
    tx.commit().await?;
    Ok(Created {
        secret: format_key(id, &secret),
        key,
    })
}

#[derive(Debug, Clone, Default)]
pub struct ApiKeyUpdate {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `Some(None)` removes the key's own rate limit.
    pub rate_limit: Option<Option<Rate>>,
}

pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, input: ApiKeyUpdate) -> Result<ApiKey> {
    not_with_a_key(ctx, "change API keys")?;
    let mut tx = db.change(ctx, perm::API_KEYS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<ApiKey>(id, perm::API_KEYS_UPDATE).await?;
    let mut errors = Vec::new();
    let name = input
        .name
        .as_deref()
        .map(|n| validation::text("name", n, 100, true, &mut errors));
    let scopes = input
        .scopes
        .as_deref()
        .map(|s| check_scopes(s, &mut errors));
    if let Some(Some(r)) = input.rate_limit {
        crate::limits::plans::check_rate("rate_limit", Some(r.rate), Some(r.burst), &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if before.status == Status::Revoked {
        return Err(Error::Conflict {
            code: "key_revoked",
            message: "This key is revoked; create a new one instead.".into(),
            field: None,
        });
    }
    let scopes = scopes.flatten();
    if let Some(scopes) = &scopes
        && before.identity_id != ctx.caller()?.identity_id
    {
        refuse_scopes_beyond(ctx, scopes)?;
    }
    sqlx::query!(
        "update api_keys set name = coalesce($3, name), scopes = coalesce($4, scopes),
                rate = case when $5 then $6 else rate end,
                burst = case when $5 then $7 else burst end
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        name.flatten(),
        scopes.as_deref(),
        input.rate_limit.is_some(),
        input.rate_limit.flatten().map(|r| r.rate),
        input.rate_limit.flatten().map(|r| r.burst as i32)
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<ApiKey>(id).await?;
    tx.updated(&before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

/// Revokes a key: it stops working at once everywhere. Revoking a revoked key changes
/// nothing and succeeds.
pub async fn revoke(ctx: &Ctx, db: &Db, id: Uuid) -> Result<ApiKey> {
    let mut tx = db.change(ctx, perm::API_KEYS_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<ApiKey>(id, perm::API_KEYS_DELETE).await?;
    if before.status == Status::Revoked {
        return Ok(before.into_inner());
    }
    sqlx::query!(
        "update api_keys set revoked_at = now() where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    let after = tx.reread::<ApiKey>(id).await?;
    tx.changed(types::API_KEY_REVOKED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Revokes every key of one identity that still works, all in one step: what the console
/// offers when an identity is disabled or may be compromised (its keys outlive a password
/// reset). Needs the right to revoke that identity's keys (its own, or `api_keys:manage`).
/// Returns the keys revoked.
pub async fn revoke_all_of(ctx: &Ctx, db: &Db, identity_id: Uuid) -> Result<Vec<ApiKey>> {
    authorize_for(ctx, identity_id, perm::API_KEYS_DELETE)?;
    // An identity the caller cannot see (another tenant's, or hidden by a rule) is 404.
    crate::identities::get(ctx, db, identity_id).await?;
    let mut tx = db.change(ctx, perm::API_KEYS_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let active: Vec<ApiKey> = load_in(&mut tx, None, Some(identity_id))
        .await?
        .into_iter()
        .filter(|k| k.status == Status::Active && visible(ctx, tenant_id, k))
        .collect();
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = active.iter().map(|k| k.id).collect();
    sqlx::query!(
        "update api_keys set revoked_at = now()
         where tenant_id = $1 and id = any($2) and revoked_at is null",
        tenant_id,
        &ids
    )
    .execute(tx.conn())
    .await?;
    let mut revoked = Vec::with_capacity(active.len());
    for before in active {
        let after =
            load_in(&mut tx, Some(before.id), None)
                .await?
                .pop()
                .ok_or(Error::NotFound {
                    resource: "API key",
                })?;
        tx.record(Change {
            action: types::API_KEY_REVOKED,
            target_type: "api_key",
            target_id: Some(before.id),
            before: Some(before.snapshot()),
            after: Some(after.snapshot()),
        })
        .await?;
        revoked.push(after);
    }
    tx.commit().await?;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_their_shape() {
        let id = uuid::Builder::from_random_bytes(crypto::random_bytes::<16>()).into_uuid();
        let secret = crypto::random_token::<32>();
        let key = format_key(id, &secret);
        assert!(key.starts_with("tnr_"));
        assert_eq!(parse(&key), Some((id, secret.as_str())));
        assert_eq!(parse(&key[..key.len() - 1]), None);
        assert_eq!(parse(&key.replacen("tnr_", "tnx_", 1)), None);
        assert_eq!(parse(&key.to_uppercase()), None);
        assert_eq!(parse("tnr_"), None);
        assert_eq!(parse("tnr_ééééééééééééééééééééééééééééééééééé"), None);
        assert_eq!(display_prefix(id).len(), 12);
    }

    #[test]
    fn scopes_are_checked_and_matched() {
        let mut errors = Vec::new();
        let ok = check_scopes(
            &[
                "memories:read".into(),
                "*:read".into(),
                "memories:read".into(),
            ],
            &mut errors,
        );
        assert_eq!(ok, Some(vec!["memories:read".into(), "*:read".into()]));
        assert!(errors.is_empty());
        for bad in ["memories", "memory:read", "memories:write", ""] {
            let mut errors = Vec::new();
            assert_eq!(check_scopes(&[bad.into()], &mut errors), None, "{bad}");
            assert_eq!(errors[0].field, "scopes");
        }
        let mut errors = Vec::new();
        assert_eq!(check_scopes(&[], &mut errors), None);
        assert_eq!(errors[0].code, "required");

        let perms = permissions_of(&["memories:*".into(), "*:read".into()]);
        assert!(perms.iter().any(|p| p.to_key() == "memories:delete"));
        assert!(perms.iter().any(|p| p.to_key() == "identities:read"));
        assert!(!perms.iter().any(|p| p.to_key() == "identities:delete"));
    }

    #[test]
    fn status_follows_revocation_then_expiry() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(status_of(now, None, None), Status::Active);
        assert_eq!(
            status_of(now, Some(now + Duration::days(1)), None),
            Status::Active
        );
        assert_eq!(status_of(now, Some(now), None), Status::Expired);
        assert_eq!(
            status_of(now, Some(now - Duration::days(1)), Some(now)),
            Status::Revoked
        );
    }
}
