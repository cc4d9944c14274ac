//! The export's document: its shape (from which its JSON Schema is generated) and the
//! gathering of everything held about one person into it.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{FORMAT, Job, Stop};
use crate::events::catalogue::shapes::{Object, Time};
use crate::identities::{self, Identity};

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

pub(super) async fn gather(job: &Job, person: Uuid) -> Result<Document, Stop> {
    let tenant_id = job.tenant_id;
    let mut tx = job.db.read_in(tenant_id).await?;
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
    job.progress(15, "groups").await?;
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
    job.progress(25, "sessions and devices").await?;
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
    job.progress(35, "API keys and SSO links").await?;
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
    let links = sqlx::query!(
        "select provider_id, subject, email, email_sealed, created_at, last_login_at
         from sso_links where tenant_id = $1 and identity_id = $2 order by created_at",
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?;
    let mut sso_links = Vec::with_capacity(links.len());
    if !links.is_empty() {
        let (conn, keyring) = tx.parts();
        let keys = keyring.tenant_in(&mut *conn, tenant_id).await?;
        let key = identities::sealed::subject_key(conn, &keys, tenant_id, person).await?;
        for r in links {
            let email = match r.email_sealed {
                Some(sealed) => Some(keys.open_for_subject(
                    &key,
                    crate::sso::flow::link_place(tenant_id, r.provider_id, &r.subject),
                    &sealed,
                )?),
                None => r.email,
            };
            sso_links.push(SsoLinkEntry {
                provider_id: r.provider_id,
                subject: r.subject,
                email,
                linked_at: Time(r.created_at),
                last_login_at: Time(r.last_login_at),
            });
        }
    }
    job.progress(50, "memories").await?;
    let memories = sqlx::query_as!(
        crate::memories::Row,
        r#"select id, owner_id, text, text_sealed,
                  (select k.wrapped from subject_keys k
                   where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                  metadata, tags, source, importance, embedding_model,
                  embedding_dim, created_at, updated_at, expires_at, deleted_at
           from memories m where tenant_id = $1 and owner_id = $2 order by id"#,
        tenant_id,
        person
    )
    .fetch_all(tx.conn())
    .await?;
    let memories = {
        let (conn, keyring) = tx.parts();
        crate::memories::sealed::open_all(conn, keyring, tenant_id, memories).await?
    }
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
    job.progress(65, "audit records").await?;
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
    job.progress(85, "events").await?;
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
