//! The catalogue of event types: every event the outbox can hold, what it is about, and the
//! JSON Schema (draft 2020-12) of its payload. Programs read it at `GET /v1/events/types`;
//! webhook subscriptions match their patterns against these names.
//!
//! A payload is `{ "id": <the subject's id, or null>, "data": ... }`, where `data` is the
//! subject after the change (or before it, when nothing is left after it). The shapes below
//! are the ones the service writes: in test builds (`event-checks`), `events::emit` refuses
//! an event whose type is not here or whose payload does not match its schema, so every
//! change any test makes checks the catalogue.

use serde::Serialize;
use serde_json::{Value, json};

/// The name of an event type of the catalogue (`identity.created`). Only the catalogue makes
/// one (the constants of [`types`]), so every event the code writes is one it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event(&'static str);

impl Event {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Writes the catalogue once: the constants code names event types with, and the entries
/// the schemas are built from.
macro_rules! catalogue {
    ($($konst:ident = ($name:literal, $subject:literal, $description:literal, $schema:expr $(,)?)),* $(,)?) => {
        /// Every event type, by constant: `types::IDENTITY_CREATED` is `identity.created`.
        pub mod types {
            use super::Event;
            $(pub const $konst: Event = Event($name);)*
        }

        fn entries() -> Vec<(&'static str, &'static str, &'static str, Schema)> {
            vec![$(($name, $subject, $description, $schema)),*]
        }
    };
}

/// One event type of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct EventType {
    /// `area.verb`, e.g. `identity.created`.
    pub name: &'static str,
    /// What `id` points at: `identity`, `memory`, ...
    pub subject_type: &'static str,
    pub description: &'static str,
    /// The JSON Schema of the payload.
    pub schema: Value,
}

pub(crate) mod shapes;
use shapes::*;

use crate::identities::Identity;
use crate::tenants::Tenant;

/// The payload's schema for an event whose `data` has `data`'s shape.
fn payload(name: &str, subject: Schema, data: Schema) -> Schema {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": name,
        "type": "object",
        "properties": { "id": subject, "data": data },
        "required": ["id", "data"],
        "additionalProperties": false,
    })
}

// `NAME = (name, subject type, description, data schema)`; the subject's id is never null
// unless `SUBJECT_MAY_BE_NULL` lists the name. Each entry also makes the constant
// `types::NAME`, the only way code names an event type: a misspelled one does not compile.
catalogue! {
    TENANT_CREATED = (
        "tenant.created",
        "tenant",
        "A tenant was created.",
        derived::<Tenant>(),
    ),
    TENANT_UPDATED = (
        "tenant.updated",
        "tenant",
        "A tenant setting changed (the new values).",
        derived::<TenantSettingsData>(),
    ),
    TENANT_RETENTION_CHANGED = (
        "tenant.retention_changed",
        "tenant",
        "The tenant's retention periods changed (days; null keeps the data).",
        derived::<crate::privacy::retention::Settings>(),
    ),
    TENANT_RETENTION_APPLIED = (
        "tenant.retention_applied",
        "tenant",
        "Retention removed what the tenant keeps no longer (how much, by kind).",
        derived::<crate::privacy::retention::Removed>(),
    ),
    TENANT_KEY_JOB_STARTED = (
        "tenant.key_job_started",
        "tenant",
        "An owner asked for a key job: sealing what is stored in plain text, or rotating the data key.",
        derived::<KeyJobData>(),
    ),
    TENANT_KEY_JOB_FINISHED = (
        "tenant.key_job_finished",
        "tenant",
        "A key job ended (done or failed), with the rows it sealed or wrapped again.",
        derived::<KeyJobData>(),
    ),
    TENANT_LIMITS_CHANGED = (
        "tenant.limits_changed",
        "tenant",
        "The operator changed the tenant's plan or its limits (the limits in force after).",
        derived::<TenantLimitsData>(),
    ),
    IDENTITY_CREATED = (
        "identity.created",
        "identity",
        "An identity was created (by an admin, an invitation's acceptance or a first SSO sign-in).",
        derived::<Identity>(),
    ),
    IDENTITY_UPDATED = (
        "identity.updated",
        "identity",
        "An identity's profile, metadata or roles changed.",
        derived::<Identity>(),
    ),
    IDENTITY_DISABLED = (
        "identity.disabled",
        "identity",
        "An identity was disabled; its sessions and tokens ended.",
        derived::<Identity>(),
    ),
    IDENTITY_ENABLED = (
        "identity.enabled",
        "identity",
        "A disabled identity was enabled again.",
        derived::<Identity>(),
    ),
    IDENTITY_DELETED = (
        "identity.deleted",
        "identity",
        "An identity was moved to the trash.",
        derived::<Identity>(),
    ),
    IDENTITY_RESTORED = (
        "identity.restored",
        "identity",
        "An identity came back from the trash.",
        derived::<Identity>(),
    ),
    IDENTITY_PURGED = (
        "identity.purged",
        "identity",
        "An identity was removed for good (its last state).",
        derived::<Identity>(),
    ),
    IDENTITY_ERASED = (
        "identity.erased",
        "identity",
        "A person was erased: their key destroyed, what was derived from their data deleted (how much, by kind).",
        derived::<ErasedData>(),
    ),
    IDENTITY_EXPORT_REQUESTED = (
        "identity.export_requested",
        "identity",
        "An export of everything held about a person was asked for.",
        derived::<ExportData>(),
    ),
    IDENTITY_EXPORT_READY = (
        "identity.export_ready",
        "identity",
        "An export's document was made and sealed; its link can be used once.",
        derived::<ExportReadyData>(),
    ),
    IDENTITY_EXPORT_FAILED = (
        "identity.export_failed",
        "identity",
        "An export was given up: making it failed, or it was interrupted each time it was taken.",
        derived::<ExportFailedData>(),
    ),
    IDENTITY_EXPORT_DOWNLOADED = (
        "identity.export_downloaded",
        "identity",
        "An export's one-time link was used; the document was deleted as it was handed over.",
        derived::<ExportData>(),
    ),
    IDENTITY_ROLES_CHANGED = (
        "identity.roles_changed",
        "identity",
        "The roles an identity holds directly changed.",
        derived::<RolesData>(),
    ),
    IDENTITY_PASSWORD_CHANGED = (
        "identity.password_changed",
        "identity",
        "An identity changed its own password; its other sessions ended.",
        derived::<SessionsEndedData>(),
    ),
    IDENTITY_PASSWORD_RESET = (
        "identity.password_reset",
        "identity",
        "A password was reset with an emailed link; every session ended.",
        derived::<SessionsEndedData>(),
    ),
    IDENTITY_PASSWORD_RESET_REQUESTED = (
        "identity.password_reset_requested",
        "identity",
        "A password reset link was sent.",
        derived::<()>(),
    ),
    IDENTITY_SSO_LINKED = (
        "identity.sso_linked",
        "identity",
        "An identity was linked to an account at an SSO provider.",
        derived::<SsoLinkData>(),
    ),
    AUTH_TOKEN_ISSUED = (
        "auth.token_issued",
        "identity",
        "An API token pair was issued (a new refresh-token family).",
        derived::<TokenFamilyData>(),
    ),
    AUTH_TOKEN_REFRESHED = (
        "auth.token_refreshed",
        "identity",
        "A refresh token was exchanged for a new pair.",
        derived::<TokenFamilyData>(),
    ),
    AUTH_REFRESH_TOKEN_REUSED = (
        "auth.refresh_token_reused",
        "identity",
        "A used refresh token was presented again: its family was revoked.",
        derived::<TokenFamilyData>(),
    ),
    AUTH_TOKEN_FAMILY_REVOKED = (
        "auth.token_family_revoked",
        "identity",
        "A refresh-token family was revoked.",
        derived::<TokenFamilyData>(),
    ),
    AUTH_LOGGED_OUT = (
        "auth.logged_out",
        "identity",
        "An API sign-out revoked a refresh-token family.",
        derived::<TokenFamilyData>(),
    ),
    SESSION_REVOKED = (
        "session.revoked",
        "session",
        "A console session was ended.",
        derived::<IdentityRefData>(),
    ),
    SESSION_REVOKED_ALL = (
        "session.revoked_all",
        "identity",
        "Every session of an identity was ended (but the caller's own, when it was theirs).",
        derived::<SessionsRevokedData>(),
    ),
    GROUP_CREATED = (
        "group.created",
        "group",
        "A group was created.",
        derived::<GroupData>(),
    ),
    GROUP_UPDATED = (
        "group.updated",
        "group",
        "A group's name, kind or description changed.",
        derived::<GroupData>(),
    ),
    GROUP_MOVED = (
        "group.moved",
        "group",
        "A group moved under another parent.",
        derived::<GroupData>(),
    ),
    GROUP_DELETED = (
        "group.deleted",
        "group",
        "A group was deleted; its children (their ids) moved up to its parent.",
        derived::<GroupDeletedData>(),
    ),
    GROUP_MEMBERS_ADDED = (
        "group.members_added",
        "group",
        "Identities joined a group.",
        derived::<MembersData>(),
    ),
    GROUP_MEMBER_REMOVED = (
        "group.member_removed",
        "group",
        "An identity left a group.",
        derived::<IdentityRefData>(),
    ),
    GROUP_ROLES_CHANGED = (
        "group.roles_changed",
        "group",
        "The roles a group grants changed.",
        derived::<RolesData>(),
    ),
    ROLE_CREATED = (
        "role.created",
        "role",
        "A role was created.",
        derived::<RoleData>(),
    ),
    ROLE_UPDATED = (
        "role.updated",
        "role",
        "A role's name, description or permissions changed.",
        derived::<RoleData>(),
    ),
    ROLE_DELETED = (
        "role.deleted",
        "role",
        "A role was deleted.",
        derived::<RoleData>(),
    ),
    POLICY_CREATED = (
        "policy.created",
        "policy",
        "A policy was created.",
        derived::<PolicyData>(),
    ),
    POLICY_UPDATED = (
        "policy.updated",
        "policy",
        "A policy changed (a new version).",
        derived::<PolicyData>(),
    ),
    POLICY_RESTORED = (
        "policy.restored",
        "policy",
        "A policy went back to an earlier version, or was created again from one.",
        derived::<PolicyData>(),
    ),
    POLICY_DELETED = (
        "policy.deleted",
        "policy",
        "A policy was deleted.",
        derived::<PolicyData>(),
    ),
    INVITATION_CREATED = (
        "invitation.created",
        "invitation",
        "An invitation was sent.",
        derived::<InvitationData>(),
    ),
    INVITATION_RESENT = (
        "invitation.resent",
        "invitation",
        "An invitation was sent again.",
        derived::<InvitationData>(),
    ),
    INVITATION_REVOKED = (
        "invitation.revoked",
        "invitation",
        "An invitation was revoked.",
        derived::<InvitationData>(),
    ),
    INVITATION_ACCEPTED = (
        "invitation.accepted",
        "invitation",
        "An invitation was accepted: the identity it became.",
        derived::<IdentityRefData>(),
    ),
    API_KEY_CREATED = (
        "api_key.created",
        "api_key",
        "An API key was created.",
        derived::<ApiKeyData>(),
    ),
    API_KEY_UPDATED = (
        "api_key.updated",
        "api_key",
        "An API key's name, scopes or expiry changed.",
        derived::<ApiKeyData>(),
    ),
    API_KEY_REVOKED = (
        "api_key.revoked",
        "api_key",
        "An API key was revoked.",
        derived::<ApiKeyData>(),
    ),
    SSO_PROVIDER_CREATED = (
        "sso_provider.created",
        "sso_provider",
        "An SSO provider was added.",
        derived::<SsoProviderData>(),
    ),
    SSO_PROVIDER_UPDATED = (
        "sso_provider.updated",
        "sso_provider",
        "An SSO provider's settings changed.",
        derived::<SsoProviderData>(),
    ),
    SSO_PROVIDER_DELETED = (
        "sso_provider.deleted",
        "sso_provider",
        "An SSO provider was removed.",
        derived::<SsoProviderData>(),
    ),
    MEMORY_CREATED = (
        "memory.created",
        "memory",
        "A memory was stored.",
        derived::<MemoryData>(),
    ),
    MEMORY_UPDATED = (
        "memory.updated",
        "memory",
        "A memory changed (a new text is embedded again).",
        derived::<MemoryData>(),
    ),
    MEMORY_DELETED = (
        "memory.deleted",
        "memory",
        "A memory was moved to the trash.",
        derived::<MemoryData>(),
    ),
    MEMORY_RESTORED = (
        "memory.restored",
        "memory",
        "A memory came back from the trash.",
        derived::<MemoryData>(),
    ),
    MEMORY_PURGED = (
        "memory.purged",
        "memory",
        "Memories were removed for good: one (its id, no data) or a batch emptied from the trash (their ids).",
        derived::<Option<MemoryBatchData>>(),
    ),
    MEMORY_EXPIRED = (
        "memory.expired",
        "memory",
        "A batch of memories past their expiry was removed.",
        derived::<MemoryBatchData>(),
    ),
    MEMORY_REEMBEDDED = (
        "memory.reembedded",
        "memory",
        "A batch of memories was embedded again with another model.",
        derived::<ReembeddedData>(),
    ),
    WEBHOOK_CREATED = (
        "webhook.created",
        "webhook",
        "A webhook subscription was created.",
        derived::<WebhookData>(),
    ),
    WEBHOOK_UPDATED = (
        "webhook.updated",
        "webhook",
        "A webhook's name, URL, event types or state changed.",
        derived::<WebhookData>(),
    ),
    WEBHOOK_DELETED = (
        "webhook.deleted",
        "webhook",
        "A webhook was deleted, with its delivery log.",
        derived::<WebhookData>(),
    ),
    WEBHOOK_SECRET_ROTATED = (
        "webhook.secret_rotated",
        "webhook",
        "A webhook's signing secret was replaced; the previous one signs too until the time given.",
        derived::<SecretRotatedData>(),
    ),
    WEBHOOK_DISABLED = (
        "webhook.disabled",
        "webhook",
        "The server disabled a webhook whose every attempt failed for as long as deliveries are retried.",
        derived::<WebhookData>(),
    ),
    WEBHOOK_REPLAYED = (
        "webhook.replayed",
        "webhook",
        "The events of a time range were queued again for a webhook.",
        derived::<ReplayedData>(),
    ),
    WEBHOOK_DELIVERY_RETRIED = (
        "webhook.delivery_retried",
        "webhook",
        "One delivery was queued for another attempt.",
        derived::<DeliveryRetriedData>(),
    ),
    WEBHOOK_TEST = (
        "webhook.test",
        "webhook",
        "A test message sent from the console or POST /v1/webhooks/{id}/test; only ever sent to that webhook, never stored as an event.",
        derived::<TestMessageData>(),
    ),
    AUDIT_EXPORTED = (
        "audit.exported",
        "audit",
        "Audit records were exported (the filters used).",
        derived::<AuditExportedData>(),
    ),
}

/// Events whose subject id may be null: batches and tenant-wide records.
const SUBJECT_MAY_BE_NULL: &[&str] = &[
    "memory.purged",
    "memory.expired",
    "memory.reembedded",
    "audit.exported",
];

/// Personal values of an event's data (see [`crate::privacy::personal`]) are `null` once
/// their person is erased: the schema says so.
fn erasable(mut data: Schema, subject_type: &str) -> Schema {
    if let Some(Value::Object(properties)) = data.get_mut("properties") {
        for field in crate::privacy::personal::fields(subject_type) {
            if let Some(schema) = properties.get_mut(*field) {
                *schema = json!({
                    "anyOf": [schema.take(), {"type": "null"}],
                    "description": "Personal data: null once the person is erased.",
                });
            }
        }
    }
    data
}

fn build() -> Vec<EventType> {
    entries()
        .into_iter()
        .map(|(name, subject_type, description, data)| {
            let data = erasable(data, subject_type);
            let id = if SUBJECT_MAY_BE_NULL.contains(&name) {
                derived::<Option<uuid::Uuid>>()
            } else {
                derived::<uuid::Uuid>()
            };
            EventType {
                name,
                subject_type,
                description,
                schema: payload(name, id, data),
            }
        })
        .collect()
}

/// Every event type, sorted by name.
pub fn all() -> &'static [EventType] {
    static ALL: std::sync::OnceLock<Vec<EventType>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut v = build();
        v.sort_by_key(|t| t.name);
        v
    })
}

/// The type named `name`.
pub fn find(name: &str) -> Option<&'static EventType> {
    all().iter().find(|t| t.name == name)
}

/// Whether `pattern` (exact, `area.*` or `*`) names at least one type of the catalogue.
pub fn matches_any(pattern: &str) -> bool {
    all().iter().any(|t| super::type_matches(pattern, t.name))
}

/// Test builds: the payload `emit` is about to write must match its type's schema.
#[cfg(feature = "event-checks")]
pub(crate) fn check(name: &str, subject_type: &str, payload: &Value) -> Result<(), String> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static VALIDATORS: OnceLock<HashMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        all()
            .iter()
            .map(|t| {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&t.schema)
                    .unwrap_or_else(|e| panic!("the schema of {} is invalid: {e}", t.name));
                (t.name, v)
            })
            .collect()
    });
    let Some(t) = find(name) else {
        return Err(format!("event type {name} is not in the catalogue"));
    };
    if t.subject_type != subject_type {
        return Err(format!(
            "{name} is about a {}, not a {subject_type}",
            t.subject_type
        ));
    }
    let errors: Vec<String> = validators[name]
        .iter_errors(payload)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{name} payload does not match the catalogue: {}; payload {payload}",
            errors.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let names: Vec<&str> = all().iter().map(|t| t.name).collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique, "a name appears twice");
        for n in names {
            let (area, verb) = n.split_once('.').expect("area.verb");
            assert!(!area.is_empty() && !verb.is_empty(), "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'),
                "{n}"
            );
        }
    }

    #[test]
    fn patterns_match_catalogue_names() {
        assert!(matches_any("identity.*"));
        assert!(matches_any("memory.created"));
        assert!(matches_any("*"));
        assert!(!matches_any("identity.exploded"));
        assert!(!matches_any("nothing.*"));
    }

    /// Every schema stands alone (no `$ref` into a `$defs` the payload wrapper would lose),
    /// and every object in it names all its fields as required and allows no other.
    #[test]
    fn schemas_are_self_contained_and_strict() {
        fn walk(name: &str, schema: &Value) {
            match schema {
                Value::Object(map) => {
                    assert!(!map.contains_key("$ref"), "{name}: a reference in {schema}");
                    if let Some(Value::Object(properties)) = map.get("properties") {
                        let mut fields: Vec<&str> = properties.keys().map(String::as_str).collect();
                        let mut required: Vec<&str> = map["required"]
                            .as_array()
                            .unwrap_or_else(|| panic!("{name}: no required list"))
                            .iter()
                            .filter_map(Value::as_str)
                            .collect();
                        fields.sort_unstable();
                        required.sort_unstable();
                        assert_eq!(fields, required, "{name}");
                        assert_eq!(map["additionalProperties"], false, "{name}");
                    }
                    map.values().for_each(|v| walk(name, v));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(name, v)),
                _ => {}
            }
        }
        for t in all() {
            walk(t.name, &t.schema);
        }
    }

    /// The derived schemas keep what the hand-written ones said: formats, choices, bounds.
    #[test]
    fn derived_shapes_keep_formats_choices_and_bounds() {
        // A choice is an `enum`, or a `oneOf` of documented values (`const`) and `enum`s;
        // the values, sorted.
        fn choices(schema: &Value) -> Vec<&str> {
            let mut found: Vec<&str> = schema["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for one in schema["oneOf"].as_array().into_iter().flatten() {
                found.extend(one["const"].as_str());
                found.extend(choices(one));
            }
            found.sort_unstable();
            found
        }
        let data = |name: &str| find(name).unwrap().schema["properties"]["data"].clone();
        let identity = data("identity.created");
        assert_eq!(identity["properties"]["id"]["format"], "uuid");
        assert_eq!(identity["properties"]["created_at"]["format"], "date-time");
        assert_eq!(choices(&identity["properties"]["kind"]), ["agent", "user"]);
        assert_eq!(identity["properties"]["metadata"]["type"], "object");
        let permissions = &data("role.created")["properties"]["permissions"];
        assert_eq!(
            choices(&permissions["additionalProperties"]),
            ["allow", "deny"]
        );
        assert_eq!(data("memory.expired")["properties"]["ids"]["minItems"], 1);
        // Plans are the operator's data: any name.
        assert_eq!(
            data("tenant.created")["properties"]["plan"]["type"],
            "string"
        );
        assert_eq!(
            choices(&data("audit.exported")["properties"]["format"]),
            ["csv", "jsonl"]
        );
        assert_eq!(
            choices(&data("webhook.delivery_retried")["properties"]["previous_status"]),
            ["failed", "paused", "pending", "succeeded"]
        );
        assert_eq!(data("identity.password_reset_requested")["type"], "null");
        let subject = |name: &str| find(name).unwrap().schema["properties"]["id"].clone();
        assert_eq!(subject("identity.created")["format"], "uuid");
        assert!(
            subject("memory.purged")["type"]
                .as_array()
                .unwrap()
                .contains(&json!("null"))
        );
    }

    #[cfg(feature = "event-checks")]
    #[test]
    fn a_payload_of_the_wrong_shape_is_refused() {
        let id = uuid::Uuid::now_v7();
        let good = json!({ "id": id, "data": { "identity_id": id } });
        assert_eq!(check("session.revoked", "session", &good), Ok(()));
        let extra = json!({ "id": id, "data": { "identity_id": id, "secret": "x" } });
        assert!(check("session.revoked", "session", &extra).is_err());
        let not_uuid = json!({ "id": id, "data": { "identity_id": "ada" } });
        assert!(check("session.revoked", "session", &not_uuid).is_err());
        assert!(check("session.revoked", "identity", &good).is_err());
        assert!(check("session.exploded", "session", &good).is_err());
    }
}
