//! The shapes of the catalogue's payloads. What an event says about its subject (an
//! identity, a group, a policy, ...) is one of the `...Data` types below, or the subject's own
//! type where it is written whole: the service serialises that type when it writes the event,
//! and the catalogue derives the JSON Schema from the same type (`derived`), so the two
//! cannot drift apart. The small shapes particular to one event are built from the helpers
//! at the end.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::engine::Effect;

/// A field's schema.
pub(super) type Schema = Value;

/// The schema of `T`'s serialised form: inlined (no `$defs`), and strict like every payload
/// of the catalogue: each object lists all its fields as required (a null stands for
/// "none") and allows no other field.
pub(super) fn derived<T: JsonSchema>() -> Schema {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.root_schema_for::<T>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("$schema");
        root.remove("title");
    }
    strict(&mut schema);
    schema
}

fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                let names: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
                map.insert("required".into(), Value::Array(names));
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// A point in time, written as RFC 3339.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Time(pub OffsetDateTime);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::rfc3339(self.0))
    }
}

impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// A JSON object of the caller's own fields (metadata).
pub(crate) type Object = serde_json::Map<String, Value>;

/// A group as its events carry it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct GroupData<'a> {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    /// Names of the roles granted to the group itself.
    pub roles: &'a [String],
}

/// A role as its events carry it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RoleData<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    /// `owner`, `admin`, `member` or `viewer` for the system roles.
    pub system: Option<&'a str>,
    /// Permission (`module:action`) to its effect.
    pub permissions: BTreeMap<String, Effect>,
}

/// A policy as its events carry it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PolicyData<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub effect: Effect,
    pub priority: i32,
    pub resource_pattern: &'a str,
    pub action_pattern: &'a str,
    /// The JSONLogic condition, if any.
    pub condition: Option<&'a Value>,
    pub enabled: bool,
}

/// What an erasure removed (the person is named by the event's subject id only).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ErasedData {
    pub id: Uuid,
    pub removed: crate::privacy::erase::Removed,
}

/// An export of a person's data (`identity.export_*`).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ExportData {
    pub export_id: Uuid,
}

/// An export that a worker finished: its document's size, waiting for its one download.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ExportReadyData {
    pub export_id: Uuid,
    pub size_bytes: i64,
}

/// An export that was given up, and why: `error` (making it failed) or `interrupted` (its
/// worker went away each of the times it was taken).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ExportFailedData {
    pub export_id: Uuid,
    pub reason: &'static str,
}

/// A key job (`privacy::keyjobs`): asked for, or ended (`done` or `failed`, with the rows
/// it sealed or wrapped again).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct KeyJobData {
    pub job_id: Uuid,
    pub kind: crate::privacy::keyjobs::Kind,
    pub status: crate::privacy::keyjobs::Status,
    pub rows: i64,
    /// A rotation: the data key's version that seals from then on.
    pub data_key_version: Option<i32>,
}

/// An invitation as its events carry it (never its token).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct InvitationData<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub roles: &'a [String],
    pub group_ids: &'a [Uuid],
    pub status: crate::invitations::Status,
    pub expires_at: Time,
    #[schemars(range(min = 0))]
    pub sent_count: i32,
}

/// An API key as its events carry it (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ApiKeyData<'a> {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub name: &'a str,
    /// The key's public prefix, which identifies it in lists and logs.
    pub prefix: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<Time>,
    pub revoked_at: Option<Time>,
    /// The key's own rate limit, when it has one.
    pub rate_limit: Option<crate::limits::plans::Rate>,
}

/// A memory as its events carry it: its text's length, not the text.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct MemoryData<'a> {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub tags: &'a [String],
    pub source: &'a str,
    pub importance: Option<f32>,
    pub text_chars: usize,
    pub embedding_model: &'a str,
    pub expires_at: Option<Time>,
    /// Whether it is in the trash.
    pub deleted: bool,
}

/// A single-sign-on provider as its events carry it (never its client secret).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SsoProviderData<'a> {
    pub id: Uuid,
    pub kind: crate::sso::Kind,
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub allowed_domains: &'a [String],
    pub default_role: Option<&'a str>,
    pub jit_provisioning: bool,
    pub enabled: bool,
}

/// A webhook subscription as its events carry it (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WebhookData<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub url: &'a str,
    pub event_types: &'a [String],
    pub enabled: bool,
    /// Why the server disabled it (it kept failing).
    pub disabled_reason: Option<&'a str>,
}

/// `tenant.updated`: the tenant settings that changed.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TenantSettingsData {
    /// How long new memories live by default, in seconds (none: for ever).
    #[schemars(range(min = 0))]
    pub memory_ttl_seconds: Option<i32>,
}

/// A tenant's limits after the operator changed them (`tenant.limits_changed`): its plan,
/// the rates and quotas in force, and which of them depart from the plan
/// (`rates.user.rate`, `quotas.identities`).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TenantLimitsData<'a> {
    pub plan: &'a str,
    pub rates: crate::limits::plans::Rates,
    pub quotas: crate::limits::plans::Quotas,
    pub overridden: Vec<String>,
}

/// The roles held directly (`identity.roles_changed`, `group.roles_changed`).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RolesData<'a> {
    pub roles: Vec<&'a str>,
}

/// What a password change or reset ended.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SessionsEndedData {
    pub sessions_ended: u64,
    pub refresh_tokens_revoked: u64,
}

/// `session.revoked_all`: what a "sign out everywhere" ended.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SessionsRevokedData {
    pub sessions_ended: u64,
    pub refresh_tokens_revoked: u64,
    /// Whether the session that asked was kept.
    pub kept_current: bool,
}

/// `identity.sso_linked`: the provider's account now linked to the identity.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SsoLinkData<'a> {
    pub provider_id: Uuid,
    /// The provider's `sub` for the person.
    pub subject: &'a str,
    pub email: Option<&'a str>,
}

/// A refresh-token family (`auth.*`).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TokenFamilyData {
    pub family_id: Uuid,
}

/// The identity an event concerns besides its subject.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct IdentityRefData {
    pub identity_id: Uuid,
}

/// `group.members_added`: the identities that were not members before.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct MembersData<'a> {
    pub identity_ids: &'a [Uuid],
}

/// `group.deleted`: the group, and its children that moved up to its parent.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct GroupDeletedData<'a> {
    pub group: GroupData<'a>,
    pub children_moved_up: &'a [Uuid],
}

/// A batch of memories (`memory.purged`, `memory.expired`).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct MemoryBatchData<'a> {
    pub count: usize,
    #[schemars(length(min = 1))]
    pub ids: &'a [Uuid],
}

/// `memory.reembedded`: memories whose embedding was made again with `model`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReembeddedData<'a> {
    pub count: usize,
    pub model: &'a str,
    pub ids: &'a [Uuid],
}

/// `webhook.secret_rotated`: until when the previous secret also signs.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SecretRotatedData {
    pub id: Uuid,
    pub previous_secret_until: Option<Time>,
}

/// `webhook.replayed`: the range of events queued again.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReplayedData {
    pub from: Time,
    pub to: Time,
    pub queued: i64,
}

/// `webhook.delivery_retried`: the delivery queued for another attempt.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeliveryRetriedData<'a> {
    pub delivery_id: Uuid,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub previous_status: crate::webhooks::DeliveryStatus,
}

/// `webhook.test`: the message of a test ping.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TestMessageData<'a> {
    pub message: &'a str,
}

/// `audit.exported`: the filters of the export, and the last record it could include.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AuditExportedData<'a> {
    pub format: crate::audit_log::ExportFormat,
    pub from: Option<Time>,
    pub to: Option<Time>,
    pub actor_id: Option<Uuid>,
    pub action: Option<&'a str>,
    pub target_type: Option<&'a str>,
    pub target_id: Option<Uuid>,
    pub outcome: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub up_to_seq: Option<i64>,
}

/// Serialises a payload's data (an infallible conversion for these types).
pub(crate) fn to_value(data: impl Serialize) -> Value {
    serde_json::to_value(data).unwrap_or(Value::Null)
}
