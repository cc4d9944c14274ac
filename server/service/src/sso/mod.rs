//! Single sign-on through OpenID Connect: each tenant's identity providers (a Google preset
//! or any issuer found by discovery), and the sign-in flow in [`flow`].
//!
//! A provider's client secret is sealed with the master key, bound to the provider's row,
//! and never leaves this module: [`Provider`] has no field for it.

pub mod flow;
pub mod oidc;

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::{Permission, perm};
use crate::ctx::Ctx;
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::resource::{Lifecycle, Resource, visible};
use crate::{roles, validation};

mod checks;

use checks::*;

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Google Workspace and Gmail accounts: the issuer is fixed.
    Google,
    /// Any OpenID Connect issuer (Okta, Entra ID, Keycloak, Auth0, ...), found by discovery.
    Oidc,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Google => "google",
            Kind::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "google" => Some(Kind::Google),
            "oidc" => Some(Kind::Oidc),
            _ => None,
        }
    }
}

/// A provider as admins see it: never the client secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provider {
    pub id: Uuid,
    pub kind: Kind,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Email domains allowed to sign in; empty: any verified address.
    pub allowed_domains: Vec<String>,
    /// The role given to people provisioned on their first sign-in.
    pub default_role: Option<String>,
    pub jit_provisioning: bool,
    pub enabled: bool,
    /// Identities that have signed in through this provider.
    pub linked_identities: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Identity providers are part of a tenant's settings.
impl Resource for Provider {
    const MODULE: &'static str = "settings";
    const NOUN: &'static str = "identity provider";
    const AUDIT_TYPE: &'static str = "sso_provider";
    const READ: Permission = perm::SETTINGS_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::SSO_PROVIDER_CREATED,
        updated: types::SSO_PROVIDER_UPDATED,
        deleted: types::SSO_PROVIDER_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    fn snapshot(&self) -> serde_json::Value {
        shapes::to_value(shapes::SsoProviderData {
            id: self.id,
            kind: self.kind,
            name: &self.name,
            issuer: &self.issuer,
            client_id: &self.client_id,
            scopes: &self.scopes,
            allowed_domains: &self.allowed_domains,
            default_role: self.default_role.as_deref(),
            jit_provisioning: self.jit_provisioning,
            enabled: self.enabled,
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        _keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "sso_providers", tenant_id, id).await? {
            return Ok(None);
        }
        Ok(load(conn, tenant_id, Some(id))
            .await?
            .pop()
            .map(|l| l.provider))
    }
}

impl Provider {
    /// Whether `email`'s domain may sign in through this provider.
    pub fn allows_email(&self, email: &str) -> bool {
        if self.allowed_domains.is_empty() {
            return true;
        }
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_ascii_lowercase();
        self.allowed_domains.contains(&domain)
    }
}

/// What the sign-in page shows for a provider: enough to draw its button.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignInOption {
    pub id: Uuid,
    pub name: String,
    pub kind: Kind,
}

struct Row {
    id: Uuid,
    kind: String,
    name: String,
    issuer: String,
    client_id: String,
    scopes: Vec<String>,
    allowed_domains: Vec<String>,
    default_role: Option<String>,
    default_role_id: Option<Uuid>,
    jit_provisioning: bool,
    enabled: bool,
    linked_identities: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    client_secret: Vec<u8>,
}

/// A provider with what the sign-in flow needs beyond what admins see.
pub(crate) struct Loaded {
    pub provider: Provider,
    pub default_role_id: Option<Uuid>,
    pub sealed_secret: Vec<u8>,
}

async fn load(conn: &mut PgConnection, tenant_id: Uuid, only: Option<Uuid>) -> Result<Vec<Loaded>> {
    let rows = sqlx::query_as!(
        Row,
        r#"select p.id, p.kind, p.name, p.issuer, p.client_id, p.scopes, p.allowed_domains,
                  r.name as "default_role?", p.default_role_id, p.jit_provisioning, p.enabled,
                  (select count(*) from sso_links l
                   where l.tenant_id = p.tenant_id and l.provider_id = p.id) as "linked_identities!",
                  p.created_at, p.updated_at, p.client_secret
           from sso_providers p
           left join roles r on r.tenant_id = p.tenant_id and r.id = p.default_role_id
           where p.tenant_id = $1 and ($2::uuid is null or p.id = $2)
           order by lower(p.name), p.id"#,
        tenant_id,
        only
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Loaded {
                provider: Provider {
                    id: r.id,
                    kind: Kind::parse(&r.kind)
                        .ok_or_else(|| Error::Internal(format!("unknown SSO kind {}", r.kind)))?,
                    name: r.name,
                    issuer: r.issuer,
                    client_id: r.client_id,
                    scopes: r.scopes,
                    allowed_domains: r.allowed_domains,
                    default_role: r.default_role,
                    jit_provisioning: r.jit_provisioning,
                    enabled: r.enabled,
                    linked_identities: r.linked_identities,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                },
                default_role_id: r.default_role_id,
                sealed_secret: r.client_secret,
            })
        })
        .collect()
}

pub(crate) async fn load_one(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> Result<Loaded> {
    load(conn, tenant_id, Some(id))
        .await?
        .pop()
        .ok_or(Error::NotFound {
            resource: "identity provider",
        })
}

/// The associated data that binds a sealed client secret to its provider's row.
pub(crate) fn secret_context(tenant_id: Uuid, id: Uuid) -> Vec<u8> {
    let mut context = b"sso_provider:".to_vec();
    context.extend_from_slice(tenant_id.as_bytes());
    context.extend_from_slice(id.as_bytes());
    context
}

/// Seals a tenant's SSO client secrets again under the master key that seals now
/// (`tenantry keys rotate-master`); returns how many providers changed.
pub(crate) async fn reseal_secrets(
    db: &Db,
    master: &crate::crypto::MasterKey,
    tenant_id: Uuid,
) -> Result<usize> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    let rows = sqlx::query!(
        "select id, client_secret from sso_providers where tenant_id = $1 for update",
        tenant_id
    )
    .fetch_all(&mut *tx)
    .await?;
    let (ids, sealed) = master
        .reseal_rows(rows.into_iter().map(|r| (r.id, r.client_secret)), |id| {
            secret_context(tenant_id, *id)
        })?;
    sqlx::query!(
        "update sso_providers p set client_secret = v.sealed
         from unnest($2::uuid[], $3::bytea[]) as v (id, sealed)
         where p.tenant_id = $1 and p.id = v.id",
        tenant_id,
        &ids,
        &sealed
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.len())
}

pub async fn list(ctx: &Ctx, db: &Db) -> Result<Vec<Provider>> {
    let mut tx = db.read(ctx, perm::SETTINGS_READ).await?;
    let tenant_id = tx.tenant_id;
    Ok(load(tx.conn(), tenant_id, None)
        .await?
        .into_iter()
        .map(|l| l.provider)
        .filter(|p| visible(ctx, tenant_id, p))
        .collect())
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Provider> {
    let mut tx = db.read_object(ctx, perm::SETTINGS_READ).await?;
    Ok(tx
        .lookup::<Provider>(ctx, id, perm::SETTINGS_READ)
        .await?
        .into_inner())
}

/// The enabled providers of the tenant `slug`, for its sign-in page. Anyone may ask: a
/// tenant's sign-in buttons are as public as its sign-in page. An unknown tenant has none.
pub async fn sign_in_options(db: &Db, slug: &str) -> Result<Vec<SignInOption>> {
    let slug = slug.trim().to_lowercase();
    if slug.is_empty() {
        return Ok(Vec::new());
    }
    let Some(tenant_id) = sqlx::query_scalar!("select id from tenants where slug = $1", slug)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(Vec::new());
    };
    let mut tx = db.begin_tenant(tenant_id).await?;
    let rows = sqlx::query!(
        "select id, name, kind from sso_providers
         where tenant_id = $1 and enabled order by lower(name), id",
        tenant_id
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(SignInOption {
                id: r.id,
                name: r.name,
                kind: Kind::parse(&r.kind)?,
            })
        })
        .collect())
}

/// The roles a provider may give people at their first sign-in: every role of the tenant
/// but the owner role (see [`check_role`]). Empty for a caller who may not read roles.
pub async fn default_role_choices(ctx: &Ctx, db: &Db) -> Result<Vec<String>> {
    match roles::list(ctx, db).await {
        Ok(roles) => Ok(roles
            .into_iter()
            .filter(|r| r.system.as_deref() != Some(roles::OWNER))
            .map(|r| r.name)
            .collect()),
        Err(Error::Forbidden { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A new provider, or (with `None` meaning "keep") a change to one.
#[derive(Debug, Clone, Default)]
pub struct ProviderInput {
    /// `google` or `oidc` (the default); fixed once created.
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Required for `oidc`; `google` always uses Google's issuer.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Required on create; on update `None` or empty keeps the stored one.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_domains: Option<Vec<String>>,
    /// A role name; `Some("")` clears it.
    pub default_role: Option<String>,
    pub jit_provisioning: Option<bool>,
    pub enabled: Option<bool>,
}

pub async fn create(ctx: &Ctx, db: &Db, input: ProviderInput) -> Result<Provider> {
    let tenant_id = ctx.tenant_id()?;
    // Authorized before the discovery request too (and again by `db.change`): nobody
    // without the permission makes this server fetch a URL.
    ctx.authorize(
        perm::SETTINGS_CREATE,
        crate::authz::Target::collection(tenant_id, "settings"),
    )?;
    let mut errors = Vec::new();
    let kind = Kind::parse(input.kind.as_deref().map(str::trim).unwrap_or("oidc"));
    if kind.is_none() {
        errors.push(FieldError::new(
            "kind",
            "invalid_kind",
            "Choose google or oidc.",
        ));
    }
    let name = match (kind, input.name.as_deref().map(str::trim)) {
        (Some(Kind::Google), None | Some("")) => Some("Google".to_owned()),
        (_, name) => validation::text("name", name.unwrap_or(""), 100, true, &mut errors),
    };
    let issuer = match kind {
        Some(Kind::Google) => Some(GOOGLE_ISSUER.to_owned()),
        _ => check_issuer(input.issuer.as_deref().unwrap_or(""), &mut errors),
    };
    let client_id = validation::text(
        "client_id",
        input.client_id.as_deref().unwrap_or(""),
        500,
        true,
        &mut errors,
    );
    let secret = input
        .client_secret
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_owned();
    if secret.is_empty() {
        errors.push(FieldError::new(
            "client_secret",
            "required",
            "Enter the client secret the identity provider gave you.",
        ));
    } else if secret.len() > 2000 {
        errors.push(FieldError::new(
            "client_secret",
            "too_long",
            "Use at most 2000 characters.",
        ));
    }
    let default_scopes: Vec<String> = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let scopes = check_scopes(
        input.scopes.as_ref().unwrap_or(&default_scopes),
        &mut errors,
    );
    let domains = check_domains(
        input.allowed_domains.as_deref().unwrap_or_default(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (kind, name, issuer, client_id, scopes, domains) = (
        kind.expect("checked"),
        name.expect("checked"),
        issuer.expect("checked"),
        client_id.expect("checked"),
        scopes.expect("checked"),
        domains.expect("checked"),
    );
    check_discovery(db, &issuer).await?;

    let master = db.master_key()?.clone();
    let mut tx = db.change(ctx, perm::SETTINGS_CREATE).await?;
    let default_role_id = check_role(
        ctx,
        tx.conn(),
        tenant_id,
        input.default_role.as_deref().unwrap_or(roles::MEMBER),
    )
    .await?;
    let id = Uuid::now_v7();
    let sealed = master.seal(secret.as_bytes(), &secret_context(tenant_id, id));
    sqlx::query!(
        "insert into sso_providers (tenant_id, id, kind, name, issuer, client_id, client_secret,
                                    scopes, allowed_domains, default_role_id, jit_provisioning, enabled)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        tenant_id,
        id,
        kind.as_str(),
        name,
        issuer,
        client_id,
        sealed,
        &scopes,
        &domains,
        default_role_id,
        input.jit_provisioning.unwrap_or(false),
        input.enabled.unwrap_or(true)
    )
    .execute(tx.conn())
    .await
    .map_err(name_taken)?;
    sqlx::query!(
        "insert into sso_provider_tenants (id, tenant_id) values ($1, $2)",
        id,
        tenant_id
    )
    .execute(tx.conn())
    .await?;
    let provider = tx.reread::<Provider>(id).await?;
    tx.created(&provider).await?;
    tx.commit().await?;
    Ok(provider)
}

fn name_taken(e: sqlx::Error) -> Error {
    match crate::error::unique_violation(&e) {
        Some("sso_providers_name_key") => Error::Conflict {
            code: "name_taken",
            message: "Another identity provider already has this name.".into(),
            field: Some("name"),
        },
        _ => e.into(),
    }
}

pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, patch: ProviderInput) -> Result<Provider> {
    let tenant_id = ctx.tenant_id()?;
    // Authorized on this provider and read first (outside the change) to learn whether the
    // issuer moves: discovery is a network call and must not run inside a transaction,
    // nor for a caller who may not change the provider.
    let seen = db
        .authorized::<Provider>(ctx, id, perm::SETTINGS_UPDATE)
        .await?
        .into_inner();
    let mut errors = Vec::new();
    if let Some(k) = &patch.kind
        && Kind::parse(k.trim()) != Some(seen.kind)
    {
        errors.push(FieldError::new(
            "kind",
            "immutable",
            "The kind of a provider cannot change; add a new provider instead.",
        ));
    }
    let name = patch
        .name
        .as_deref()
        .and_then(|n| validation::text("name", n, 100, true, &mut errors));
    let issuer = match (&patch.issuer, seen.kind) {
        (Some(i), Kind::Oidc) => check_issuer(i, &mut errors),
        (Some(i), Kind::Google) if i.trim() != GOOGLE_ISSUER => {
            errors.push(FieldError::new(
                "issuer",
                "immutable",
                "Google's issuer is fixed.",
            ));
            None
        }
        _ => None,
    };
    let client_id = patch
        .client_id
        .as_deref()
        .and_then(|c| validation::text("client_id", c, 500, true, &mut errors));
    let secret = patch
        .client_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if secret.as_ref().is_some_and(|s| s.len() > 2000) {
        errors.push(FieldError::new(
            "client_secret",
            "too_long",
            "Use at most 2000 characters.",
        ));
    }
    let scopes = patch
        .scopes
        .as_deref()
        .and_then(|s| check_scopes(s, &mut errors));
    let domains = patch
        .allowed_domains
        .as_deref()
        .and_then(|d| check_domains(d, &mut errors));
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if let Some(issuer) = &issuer
        && *issuer != seen.issuer
    {
        check_discovery(db, issuer).await?;
    }

    let master = db.master_key()?.clone();
    let mut tx = db.change_object(ctx, perm::SETTINGS_UPDATE).await?;
    // The audit trail's "before" is the row as this change found it, locked.
    let before = tx.lookup::<Provider>(id, perm::SETTINGS_UPDATE).await?;
    let default_role_id = match &patch.default_role {
        Some(name) => check_role(ctx, tx.conn(), tenant_id, name).await?,
        None => load_one(tx.conn(), tenant_id, id).await?.default_role_id,
    };
    let sealed = secret.map(|s| master.seal(s.as_bytes(), &secret_context(tenant_id, id)));
    sqlx::query!(
        "update sso_providers set
            name = coalesce($3, name), issuer = coalesce($4, issuer),
            client_id = coalesce($5, client_id), client_secret = coalesce($6, client_secret),
            scopes = coalesce($7, scopes), allowed_domains = coalesce($8, allowed_domains),
            default_role_id = $9, jit_provisioning = coalesce($10, jit_provisioning),
            enabled = coalesce($11, enabled), updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        name,
        issuer,
        client_id,
        sealed,
        scopes.as_deref(),
        domains.as_deref(),
        default_role_id,
        patch.jit_provisioning,
        patch.enabled
    )
    .execute(tx.conn())
    .await
    .map_err(name_taken)?;
    let after = tx.reread::<Provider>(id).await?;
    let mut after_snapshot = after.snapshot();
    if patch
        .client_secret
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
    {
        // The audit trail says the secret changed, never what it is.
        after_snapshot["client_secret_changed"] = serde_json::Value::Bool(true);
    }
    tx.changed(types::SSO_PROVIDER_UPDATED, &before, after_snapshot)
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a provider and its links; the identities stay (with their passwords, if any).
pub async fn delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::SETTINGS_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Provider>(id, perm::SETTINGS_DELETE).await?;
    sqlx::query!(
        "delete from sso_providers where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .execute(tx.conn())
    .await?;
    tx.deleted(&before).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_must_be_https_except_on_loopback() {
        let check = |s: &str| {
            let mut e = Vec::new();
            check_issuer(s, &mut e)
        };
        assert_eq!(
            check("https://login.example.com"),
            Some("https://login.example.com".into())
        );
        assert_eq!(
            check(" http://127.0.0.1:4000 "),
            Some("http://127.0.0.1:4000".into())
        );
        assert!(check("http://localhost:8080/realms/x").is_some());
        assert_eq!(check("http://login.example.com"), None);
        assert_eq!(check("https://login.example.com/?x=1"), None);
        assert_eq!(check("https://user@login.example.com"), None);
        assert_eq!(check("login.example.com"), None);
        assert_eq!(check(""), None);
    }

    #[test]
    fn scopes_always_hold_openid_and_need_email() {
        let mut e = Vec::new();
        assert_eq!(
            check_scopes(&["email profile".into(), "email".into()], &mut e),
            Some(vec!["openid".into(), "email".into(), "profile".into()])
        );
        assert!(check_scopes(&["profile".into()], &mut e).is_none());
        assert_eq!(e[0].code, "email_required");
        let mut e = Vec::new();
        assert!(check_scopes(&["email".into(), "bad scope\"".into()], &mut e).is_none());
    }

    #[test]
    fn domains_are_normalized_and_checked() {
        let mut e = Vec::new();
        assert_eq!(
            check_domains(&["@Corp.Example, sub.corp.example".into()], &mut e),
            Some(vec!["corp.example".into(), "sub.corp.example".into()])
        );
        assert!(check_domains(&["not a domain!".into()], &mut e).is_none());
        let provider = Provider {
            id: Uuid::nil(),
            kind: Kind::Oidc,
            name: "x".into(),
            issuer: "https://x.example".into(),
            client_id: "c".into(),
            scopes: vec![],
            allowed_domains: vec!["corp.example".into()],
            default_role: None,
            jit_provisioning: false,
            enabled: true,
            linked_identities: 0,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(provider.allows_email("ada@CORP.example"));
        assert!(!provider.allows_email("ada@corp.example.evil.test"));
        assert!(!provider.allows_email("ada@sub.corp.example"));
        assert!(!provider.allows_email("no-at-sign"));
    }
}
