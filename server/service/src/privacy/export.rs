//! Export of everything held about a person (GDPR Art. 15 and 20; docs/data-protection.md,
//! "Export").
//!
//! Asking for one ([`start`]) authorizes `privacy:export` on the identity, stores the
//! export as queued with the hash of a one-time link's secret, and hands the link out once.
//! A job of this instance then gathers the person's profile, roles and groups, sessions
//! and devices, API keys (never their secrets), SSO links, memories, the audit records
//! where they are actor or target, and the events about them or made by them into one
//! JSON document ([`Document`], whose JSON Schema is [`schema`]), reporting its progress
//! as it goes, and stores it sealed under the person's key. The link downloads it once,
//! until it expires ([`LINK_HOURS`]); the document is deleted as it is handed over.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::perm;
use crate::crypto::{constant_time_eq, random_bytes, sha256};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::shapes::{Object, Time};
use crate::events::catalogue::{shapes, types};
use crate::identities::{self, Identity};
use crate::privacy::envelope::Place;
use crate::resource::Resource;

/// The document's `format`.
pub const FORMAT: &str = "tenantry.export/v1";
/// How long a link works after it is handed out.
pub const LINK_HOURS: i64 = 24;
/// A job that has not finished after this long was interrupted (its server stopped).
const STALE_MINUTES: i64 = 15;

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Ready,
    Downloaded,
    Failed,
    Expired,
}

/// An export as its requesters see it (never its document or its link).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub requested_by: Option<Uuid>,
    pub status: Status,
    /// 0-100.
    pub progress: i32,
    /// What the job is gathering (or gathered last).
    pub step: String,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub downloaded_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An export just asked for, and its link: the only time the link is shown.
#[derive(Debug, Clone)]
pub struct Started {
    pub export: Export,
    /// `/v1/privacy/exports/download/ex1.…`: downloads the document once, without
    /// signing in, until [`Export::expires_at`].
    pub link: String,
}

struct Row {
    id: Uuid,
    identity_id: Uuid,
    requested_by: Option<Uuid>,
    status: String,
    progress: i32,
    step: String,
    size_bytes: Option<i64>,
    error: Option<String>,
    created_at: OffsetDateTime,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    downloaded_at: Option<OffsetDateTime>,
    expires_at: OffsetDateTime,
}

impl From<Row> for Export {
    fn from(r: Row) -> Export {
        let now = OffsetDateTime::now_utc();
        let stale = now - time::Duration::minutes(STALE_MINUTES);
        let status = match r.status.as_str() {
            "queued" | "running" if r.started_at.unwrap_or(r.created_at) < stale => Status::Failed,
            "queued" => Status::Queued,
            "running" => Status::Running,
            "ready" if r.expires_at <= now => Status::Expired,
            "ready" => Status::Ready,
            "downloaded" => Status::Downloaded,
            _ => Status::Failed,
        };
        let error = match (status, r.status.as_str()) {
            (Status::Failed, "queued" | "running") => {
                Some("The export was interrupted (its server stopped); ask for it again.".into())
            }
            _ => r.error,
        };
        Export {
            id: r.id,
            identity_id: r.identity_id,
            requested_by: r.requested_by,
            status,
            progress: r.progress,
            step: r.step,
            size_bytes: r.size_bytes,
            error,
            created_at: r.created_at,
            finished_at: r.finished_at,
            downloaded_at: r.downloaded_at,
            expires_at: r.expires_at,
        }
    }
}

async fn load(conn: &mut sqlx::PgConnection, tenant_id: Uuid, id: Uuid) -> Result<Option<Export>> {
    Ok(sqlx::query_as!(
        Row,
        "select id, identity_id, requested_by, status, progress, step, size_bytes, error,
                created_at, started_at, finished_at, downloaded_at, expires_at
         from privacy_exports where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(Export::from))
}

fn format_token(tenant: Uuid, id: Uuid, secret: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(64);
    raw.extend_from_slice(tenant.as_bytes());
    raw.extend_from_slice(id.as_bytes());
    raw.extend_from_slice(secret);
    format!("ex1.{}", URL_SAFE_NO_PAD.encode(raw))
}

fn parse_token(token: &str) -> Option<(Uuid, Uuid, [u8; 32])> {
    let raw = URL_SAFE_NO_PAD.decode(token.strip_prefix("ex1.")?).ok()?;
    if raw.len() != 64 {
        return None;
    }
    let tenant = Uuid::from_slice(&raw[..16]).ok()?;
    let id = Uuid::from_slice(&raw[16..32]).ok()?;
    Some((tenant, id, raw[32..].try_into().ok()?))
}

/// The path of the download link of `token`.
pub fn download_path(token: &str) -> String {
    format!("/v1/privacy/exports/download/{token}")
}

/// Asks for an export of identity `id`: needs `privacy:export` on it (owners and admins
/// hold it). The job starts at once on this instance.
pub async fn start(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Started> {
    let mut tx = db.change_object(ctx, perm::PRIVACY_EXPORT).await?;
    let tenant_id = tx.tenant_id;
    tx.lookup::<Identity>(id, perm::PRIVACY_EXPORT).await?;
    let export_id = Uuid::now_v7();
    let secret = random_bytes::<32>();
    let token = format_token(tenant_id, export_id, &secret);
    let requested_by = ctx.caller().ok().map(|c| c.identity_id);
    sqlx::query!(
        "insert into privacy_exports (tenant_id, id, identity_id, requested_by, token_hash,
                                      expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))",
        tenant_id,
        export_id,
        id,
        requested_by,
        &sha256(&secret)[..],
        LINK_HOURS as i32,
    )
    .execute(tx.conn())
    .await?;
    let export = load(tx.conn(), tenant_id, export_id)
        .await?
        .ok_or_else(|| Error::Internal("an export vanished as it was made".into()))?;
    tx.record(Change {
        action: types::IDENTITY_EXPORT_REQUESTED,
        target_type: Identity::NOUN,
        target_id: Some(id),
        before: None,
        after: Some(shapes::to_value(shapes::ExportData { export_id })),
    })
    .await?;
    tx.commit().await?;
    let job = db.clone();
    tokio::spawn(async move { run(job, tenant_id, export_id).await });
    Ok(Started {
        export,
        link: download_path(&token),
    })
}

/// One export of the caller's tenant: needs `privacy:read`.
pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Export> {
    let mut tx = db.read(ctx, perm::PRIVACY_READ).await?;
    let tenant_id = tx.tenant_id;
    load(tx.conn(), tenant_id, id)
        .await?
        .ok_or(Error::NotFound { resource: "export" })
}

/// Runs export `id`'s job; a failure is recorded on the export (and logged).
pub async fn run(db: Db, tenant_id: Uuid, id: Uuid) {
    if let Err(e) = build(&db, tenant_id, id).await {
        tracing::warn!(export = %id, error = %e, "a data export failed");
        let failed = async {
            let mut tx = db.begin_tenant(tenant_id).await?;
            sqlx::query!(
                "update privacy_exports
                 set status = 'failed', error = 'The export could not be made; ask for it again.',
                     finished_at = now()
                 where tenant_id = $1 and id = $2",
                tenant_id,
                id
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(e) = failed.await {
            tracing::warn!(export = %id, error = %e, "a failed data export could not be marked");
        }
    }
}

/// Records how far the job got, in a transaction of its own (so the requester sees it).
async fn progress(db: &Db, tenant_id: Uuid, id: Uuid, percent: i32, step: &str) -> Result<()> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    sqlx::query!(
        "update privacy_exports
         set status = 'running', progress = $3, step = $4, started_at = coalesce(started_at, now())
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        percent,
        step
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

fn place(tenant: Uuid, id: Uuid) -> Place<'static> {
    Place {
        tenant,
        table: "privacy_exports",
        column: "document",
        row: id,
    }
}

async fn build(db: &Db, tenant_id: Uuid, id: Uuid) -> Result<()> {
    let person = {
        let mut tx = db.begin_tenant(tenant_id).await?;
        sqlx::query_scalar!(
            "select identity_id from privacy_exports where tenant_id = $1 and id = $2",
            tenant_id,
            id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound { resource: "export" })?
    };
    progress(db, tenant_id, id, 5, "profile").await?;
    let document = gather(db, tenant_id, id, person).await?;
    let json =
        serde_json::to_vec(&document).map_err(|e| Error::internal("serialise an export", e))?;
    progress(db, tenant_id, id, 95, "sealing").await?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let keys = db.keyring().tenant_in(&mut tx, tenant_id).await?;
    let key = identities::sealed::subject_key(&mut tx, &keys, tenant_id, person).await?;
    let sealed = keys.seal_for_subject(&key, place(tenant_id, id), &json);
    sqlx::query!(
        "update privacy_exports
         set status = 'ready', progress = 100, step = 'ready', document = $3, size_bytes = $4,
             finished_at = now()
         where tenant_id = $1 and id = $2 and status = 'running'",
        tenant_id,
        id,
        sealed,
        json.len() as i64
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The document: everything held about one person.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "Tenantry data export",
    description = "Everything a Tenantry tenant holds about one person (GDPR Art. 15 and 20)."
)]
pub(crate) struct Document {
    /// Always `tenantry.export/v1`.
    pub format: String,
    pub generated_at: Time,
    pub tenant: TenantRef,
    /// The profile.
    pub identity: Identity,
    /// The groups the person is a member of (the roles they grant are in `roles` below
    /// only when held directly).
    pub groups: Vec<GroupRef>,
    /// Console sessions: the devices and addresses they came from.
    pub sessions: Vec<SessionEntry>,
    /// API sign-ins (refresh-token families).
    pub api_sign_ins: Vec<TokenFamilyEntry>,
    /// API keys: what they are, never their secrets.
    pub api_keys: Vec<ApiKeyEntry>,
    /// Accounts at single-sign-on providers linked to the person.
    pub sso_links: Vec<SsoLinkEntry>,
    pub memories: Vec<MemoryEntry>,
    /// Audit records where the person is the actor or the target, oldest first.
    pub audit_records: Vec<AuditEntry>,
    /// Events about the person or made by them, oldest first.
    pub events: Vec<EventEntry>,
    /// Consents the person gave. Tenantry records none of its own; a tenant that keeps
    /// consents in the profile's metadata finds them in `identity.metadata`.
    pub consents: Vec<Object>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TenantRef {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct GroupRef {
    pub id: Uuid,
    pub name: String,
    pub added_at: Time,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SessionEntry {
    pub id: Uuid,
    pub created_at: Time,
    pub last_seen_at: Time,
    pub expires_at: Time,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TokenFamilyEntry {
    pub family_id: Uuid,
    pub first_issued_at: Time,
    pub last_issued_at: Time,
    pub revoked: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ApiKeyEntry {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Time,
    pub expires_at: Option<Time>,
    pub last_used_at: Option<Time>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<Time>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SsoLinkEntry {
    pub provider_id: Uuid,
    /// The provider's id for the person.
    pub subject: String,
    pub email: Option<String>,
    pub linked_at: Time,
    pub last_login_at: Time,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct MemoryEntry {
    pub id: Uuid,
    pub text: String,
    pub tags: Vec<String>,
    pub metadata: Object,
    pub source: String,
    pub importance: Option<f32>,
    pub created_at: Time,
    pub updated_at: Time,
    pub expires_at: Option<Time>,
    /// Set while it is in the trash.
    pub deleted_at: Option<Time>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AuditEntry {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: Time,
    pub action: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EventEntry {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: Time,
    pub subject_type: String,
    pub subject_id: Option<Uuid>,
    pub data: Value,
}

/// The JSON Schema (draft 2020-12) of [`Document`], as published at
/// `/v1/privacy/export-schema.json`.
pub fn schema() -> Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Document>()
        .to_value();
    if let Some(root) = schema.as_object_mut() {
        root.insert(
            "$id".into(),
            Value::String("https://tenantry.dev/schemas/export/v1.json".into()),
        );
    }
    schema
}

async fn gather(db: &Db, tenant_id: Uuid, id: Uuid, person: Uuid) -> Result<Document> {
    let mut tx = db.read_in(tenant_id).await?;
    let identity = {
        let (conn, keyring) = tx.parts();
        identities::fetch(conn, keyring, tenant_id, person).await?
    };
    let tenant = sqlx::query_as!(
        TenantRef,
        "select id, slug, name from tenants where id = $1",
        tenant_id
    )
    .fetch_one(tx.conn())
    .await?;
    progress(db, tenant_id, id, 15, "groups").await?;
    let groups = sqlx::query!(
        "select g.id, g.name, gm.added_at from group_members gm
         join groups g on g.tenant_id = gm.tenant_id and g.id = gm.group_id
         where gm.tenant_id = $1 and gm.identity_id = $2 order by g.name, g.id",
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| GroupRef {
        id: r.id,
        name: r.name,
        added_at: Time(r.added_at),
    })
    .collect();
    progress(db, tenant_id, id, 25, "sessions and devices").await?;
    let sessions = sqlx::query!(
        r#"select public_id, created_at, last_seen_at, expires_at, host(ip) as ip, user_agent
           from sessions where tenant_id = $1 and identity_id = $2 order by created_at"#,
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| SessionEntry {
        id: r.public_id,
        created_at: Time(r.created_at),
        last_seen_at: Time(r.last_seen_at),
        expires_at: Time(r.expires_at),
        ip: r.ip,
        user_agent: r.user_agent,
    })
    .collect();
    let api_sign_ins = sqlx::query!(
        r#"select family_id, min(created_at) as "first!", max(created_at) as "last!",
                  bool_or(revoked_at is not null) as "revoked!"
           from refresh_tokens where tenant_id = $1 and identity_id = $2
           group by family_id order by 2"#,
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| TokenFamilyEntry {
        family_id: r.family_id,
        first_issued_at: Time(r.first),
        last_issued_at: Time(r.last),
        revoked: r.revoked,
    })
    .collect();
    progress(db, tenant_id, id, 35, "API keys and SSO links").await?;
    let api_keys = sqlx::query!(
        r#"select id, name, scopes, created_at, expires_at, last_used_at,
                  host(last_used_ip) as last_used_ip, revoked_at
           from api_keys where tenant_id = $1 and identity_id = $2 order by created_at"#,
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| ApiKeyEntry {
        id: r.id,
        name: r.name,
        scopes: r.scopes,
        created_at: Time(r.created_at),
        expires_at: r.expires_at.map(Time),
        last_used_at: r.last_used_at.map(Time),
        last_used_ip: r.last_used_ip,
        revoked_at: r.revoked_at.map(Time),
    })
    .collect();
    let sso_links = sqlx::query!(
        "select provider_id, subject, email, created_at, last_login_at
         from sso_links where tenant_id = $1 and identity_id = $2 order by created_at",
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| SsoLinkEntry {
        provider_id: r.provider_id,
        subject: r.subject,
        email: r.email,
        linked_at: Time(r.created_at),
        last_login_at: Time(r.last_login_at),
    })
    .collect();
    progress(db, tenant_id, id, 50, "memories").await?;
    let memories = sqlx::query!(
        "select id, text, tags, metadata, source, importance, created_at, updated_at,
                expires_at, deleted_at
         from memories where tenant_id = $1 and owner_id = $2 order by id",
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| MemoryEntry {
        id: r.id,
        text: r.text,
        tags: r.tags,
        metadata: match r.metadata {
            Value::Object(m) => m,
            _ => Object::new(),
        },
        source: r.source,
        importance: r.importance,
        created_at: Time(r.created_at),
        updated_at: Time(r.updated_at),
        expires_at: r.expires_at.map(Time),
        deleted_at: r.deleted_at.map(Time),
    })
    .collect();
    progress(db, tenant_id, id, 65, "audit records").await?;
    let audit_records = crate::audit_log::about(&mut tx, person)
        .await?
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            seq: r.seq,
            occurred_at: Time(r.occurred_at),
            action: r.action,
            outcome: r.outcome.as_str().to_owned(),
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            target_type: r.target_type,
            target_id: r.target_id,
            before: r.before,
            after: r.after,
            request_id: r.request_id,
            ip: r.ip,
            user_agent: r.user_agent,
        })
        .collect();
    progress(db, tenant_id, id, 85, "events").await?;
    let events = crate::events::about(&mut tx, person)
        .await?
        .into_iter()
        .map(|e| EventEntry {
            id: e.id,
            event_type: e.event_type,
            occurred_at: Time(e.occurred_at),
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            data: e.payload.get("data").cloned().unwrap_or(Value::Null),
        })
        .collect();
    Ok(Document {
        format: FORMAT.into(),
        generated_at: Time(OffsetDateTime::now_utc()),
        tenant,
        identity,
        groups,
        sessions,
        api_sign_ins,
        api_keys,
        sso_links,
        memories,
        audit_records,
        events,
        consents: Vec::new(),
    })
}

/// The document behind a download link: once, until the link expires; the document is
/// deleted as it is handed over. Anyone holding the link may use it (no sign-in); a link
/// that is unknown, forged, used or expired is told apart only as "gone" or "not ready".
pub async fn download(request: &Ctx, db: &Db, token: &str) -> Result<(Uuid, Vec<u8>)> {
    let _slot = db.anonymous_slot().await?;
    let (tenant_id, id, secret) =
        parse_token(token).ok_or(Error::NotFound { resource: "export" })?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let row = sqlx::query!(
        r#"select identity_id, token_hash, status, document, expires_at < now() as "expired!"
           from privacy_exports where tenant_id = $1 and id = $2 for update"#,
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let presented = sha256(&secret);
    let Some(row) = row.filter(|r| constant_time_eq(&r.token_hash, &presented)) else {
        return Err(Error::NotFound { resource: "export" });
    };
    match (row.status.as_str(), row.expired, row.document) {
        (_, true, _) | ("downloaded" | "failed", _, _) => Err(Error::Conflict {
            code: "export_gone",
            message: "This link was used already or has expired; ask for a new export.".into(),
            field: None,
        }),
        ("ready", false, Some(sealed)) => {
            let keyring = db.keyring();
            let keys = keyring.tenant_in(&mut tx, tenant_id).await?;
            let key =
                identities::sealed::subject_key(&mut tx, &keys, tenant_id, row.identity_id).await?;
            let json = keys.open_bytes_for_subject(&key, place(tenant_id, id), &sealed)?;
            sqlx::query!(
                "update privacy_exports
                 set status = 'downloaded', document = null, downloaded_at = now()
                 where tenant_id = $1 and id = $2",
                tenant_id,
                id
            )
            .execute(&mut *tx)
            .await?;
            let system = Ctx {
                principal: crate::Principal::System,
                ..request.clone()
            };
            let mut tx = ChangeTx::wrap(tx, &system, tenant_id, db);
            tx.record(Change {
                action: types::IDENTITY_EXPORT_DOWNLOADED,
                target_type: Identity::NOUN,
                target_id: Some(row.identity_id),
                before: None,
                after: Some(shapes::to_value(shapes::ExportData { export_id: id })),
            })
            .await?;
            tx.commit().await?;
            Ok((id, json))
        }
        _ => Err(Error::Conflict {
            code: "export_not_ready",
            message: "The export is still being made; try again in a moment.".into(),
            field: None,
        }),
    }
}
