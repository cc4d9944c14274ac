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

/// A field's schema.
type Schema = Value;

fn string() -> Schema {
    json!({ "type": "string" })
}
fn uuid() -> Schema {
    json!({ "type": "string", "format": "uuid" })
}
fn time() -> Schema {
    json!({ "type": "string", "format": "date-time" })
}
fn boolean() -> Schema {
    json!({ "type": "boolean" })
}
fn integer() -> Schema {
    json!({ "type": "integer", "minimum": 0 })
}
fn strings() -> Schema {
    json!({ "type": "array", "items": { "type": "string" } })
}
fn uuids() -> Schema {
    json!({ "type": "array", "items": uuid() })
}
fn one_of(values: &[&str]) -> Schema {
    json!({ "type": "string", "enum": values })
}
fn nullable(s: Schema) -> Schema {
    json!({ "anyOf": [s, { "type": "null" }] })
}
fn any() -> Schema {
    json!({})
}

/// An object with exactly these fields, all present (a null stands for "none").
fn object(fields: &[(&str, Schema)]) -> Schema {
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    let properties: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(n, s)| ((*n).to_owned(), s.clone()))
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": names,
        "additionalProperties": false,
    })
}

fn identity() -> Schema {
    object(&[
        ("id", uuid()),
        ("tenant_id", uuid()),
        ("external_id", nullable(string())),
        ("email", nullable(string())),
        ("display_name", string()),
        ("kind", one_of(&["user", "agent"])),
        ("roles", strings()),
        ("metadata", json!({ "type": "object" })),
        ("status", one_of(&["active", "disabled", "deleted"])),
        ("created_at", time()),
        ("updated_at", time()),
        ("deleted_at", nullable(time())),
    ])
}

fn group() -> Schema {
    object(&[
        ("id", uuid()),
        ("parent_id", nullable(uuid())),
        ("name", string()),
        ("kind", string()),
        ("description", string()),
        ("roles", strings()),
    ])
}

fn role() -> Schema {
    object(&[
        ("id", uuid()),
        ("name", string()),
        ("description", string()),
        ("system", nullable(string())),
        (
            "permissions",
            json!({
                "type": "object",
                "description": "Permission (`module:action`) to its effect.",
                "additionalProperties": one_of(&["allow", "deny"]),
            }),
        ),
    ])
}

fn policy() -> Schema {
    object(&[
        ("id", uuid()),
        ("name", string()),
        ("description", string()),
        ("effect", one_of(&["allow", "deny"])),
        ("priority", json!({ "type": "integer" })),
        ("resource_pattern", string()),
        ("action_pattern", string()),
        ("condition", any()),
        ("enabled", boolean()),
    ])
}

fn invitation() -> Schema {
    object(&[
        ("id", uuid()),
        ("email", string()),
        ("roles", strings()),
        ("group_ids", uuids()),
        (
            "status",
            one_of(&["pending", "accepted", "expired", "revoked"]),
        ),
        ("expires_at", time()),
        ("sent_count", integer()),
    ])
}

fn api_key() -> Schema {
    object(&[
        ("id", uuid()),
        ("identity_id", uuid()),
        ("name", string()),
        ("prefix", string()),
        ("scopes", strings()),
        ("expires_at", nullable(time())),
        ("revoked_at", nullable(time())),
    ])
}

fn memory() -> Schema {
    object(&[
        ("id", uuid()),
        ("owner_id", nullable(uuid())),
        ("tags", strings()),
        ("source", string()),
        ("importance", nullable(json!({ "type": "number" }))),
        ("text_chars", integer()),
        ("embedding_model", string()),
        ("expires_at", nullable(time())),
        ("deleted", boolean()),
    ])
}

fn sso_provider() -> Schema {
    object(&[
        ("id", uuid()),
        ("kind", one_of(&["google", "oidc"])),
        ("name", string()),
        ("issuer", string()),
        ("client_id", string()),
        ("scopes", strings()),
        ("allowed_domains", strings()),
        ("default_role", nullable(string())),
        ("jit_provisioning", boolean()),
        ("enabled", boolean()),
    ])
}

fn tenant() -> Schema {
    object(&[
        ("id", uuid()),
        ("slug", string()),
        ("name", string()),
        ("plan", one_of(&["free", "pro", "enterprise"])),
        ("created_at", time()),
    ])
}

fn token_family() -> Schema {
    object(&[("family_id", uuid())])
}

fn sessions_ended() -> Schema {
    object(&[
        ("sessions_ended", integer()),
        ("refresh_tokens_revoked", integer()),
    ])
}

fn memory_batch() -> Schema {
    object(&[
        ("count", integer()),
        (
            "ids",
            json!({ "type": "array", "items": uuid(), "minItems": 1 }),
        ),
    ])
}

fn webhook() -> Schema {
    object(&[
        ("id", uuid()),
        ("name", string()),
        ("description", string()),
        ("url", string()),
        ("event_types", strings()),
        ("enabled", boolean()),
        ("disabled_reason", nullable(string())),
    ])
}

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

/// `(name, subject type, description, data schema)`; the subject's id is never null unless
/// `data_only` lists the name.
fn entries() -> Vec<(&'static str, &'static str, &'static str, Schema)> {
    vec![
        (
            "tenant.created",
            "tenant",
            "A tenant was created.",
            tenant(),
        ),
        (
            "tenant.updated",
            "tenant",
            "A tenant setting changed (the new values).",
            object(&[("memory_ttl_seconds", nullable(integer()))]),
        ),
        (
            "identity.created",
            "identity",
            "An identity was created (by an admin, an invitation's acceptance or a first SSO sign-in).",
            identity(),
        ),
        (
            "identity.updated",
            "identity",
            "An identity's profile, metadata or roles changed.",
            identity(),
        ),
        (
            "identity.disabled",
            "identity",
            "An identity was disabled; its sessions and tokens ended.",
            identity(),
        ),
        (
            "identity.enabled",
            "identity",
            "A disabled identity was enabled again.",
            identity(),
        ),
        (
            "identity.deleted",
            "identity",
            "An identity was moved to the trash.",
            identity(),
        ),
        (
            "identity.restored",
            "identity",
            "An identity came back from the trash.",
            identity(),
        ),
        (
            "identity.purged",
            "identity",
            "An identity was removed for good (its last state).",
            identity(),
        ),
        (
            "identity.roles_changed",
            "identity",
            "The roles an identity holds directly changed.",
            object(&[("roles", strings())]),
        ),
        (
            "identity.password_changed",
            "identity",
            "An identity changed its own password; its other sessions ended.",
            sessions_ended(),
        ),
        (
            "identity.password_reset",
            "identity",
            "A password was reset with an emailed link; every session ended.",
            sessions_ended(),
        ),
        (
            "identity.password_reset_requested",
            "identity",
            "A password reset link was sent.",
            json!({ "type": "null" }),
        ),
        (
            "identity.sso_linked",
            "identity",
            "An identity was linked to an account at an SSO provider.",
            object(&[
                ("provider_id", uuid()),
                ("subject", string()),
                ("email", nullable(string())),
            ]),
        ),
        (
            "auth.token_issued",
            "identity",
            "An API token pair was issued (a new refresh-token family).",
            token_family(),
        ),
        (
            "auth.token_refreshed",
            "identity",
            "A refresh token was exchanged for a new pair.",
            token_family(),
        ),
        (
            "auth.refresh_token_reused",
            "identity",
            "A used refresh token was presented again: its family was revoked.",
            token_family(),
        ),
        (
            "auth.token_family_revoked",
            "identity",
            "A refresh-token family was revoked.",
            token_family(),
        ),
        (
            "auth.logged_out",
            "identity",
            "An API sign-out revoked a refresh-token family.",
            token_family(),
        ),
        (
            "session.revoked",
            "session",
            "A console session was ended.",
            object(&[("identity_id", uuid())]),
        ),
        (
            "session.revoked_all",
            "identity",
            "Every session of an identity was ended (but the caller's own, when it was theirs).",
            object(&[
                ("sessions_ended", integer()),
                ("refresh_tokens_revoked", integer()),
                ("kept_current", boolean()),
            ]),
        ),
        ("group.created", "group", "A group was created.", group()),
        (
            "group.updated",
            "group",
            "A group's name, kind or description changed.",
            group(),
        ),
        (
            "group.moved",
            "group",
            "A group moved under another parent.",
            group(),
        ),
        (
            "group.deleted",
            "group",
            "A group was deleted; its children (their ids) moved up to its parent.",
            object(&[("group", group()), ("children_moved_up", uuids())]),
        ),
        (
            "group.members_added",
            "group",
            "Identities joined a group.",
            object(&[("identity_ids", uuids())]),
        ),
        (
            "group.member_removed",
            "group",
            "An identity left a group.",
            object(&[("identity_id", uuid())]),
        ),
        (
            "group.roles_changed",
            "group",
            "The roles a group grants changed.",
            object(&[("roles", strings())]),
        ),
        ("role.created", "role", "A role was created.", role()),
        (
            "role.updated",
            "role",
            "A role's name, description or permissions changed.",
            role(),
        ),
        ("role.deleted", "role", "A role was deleted.", role()),
        (
            "policy.created",
            "policy",
            "A policy was created.",
            policy(),
        ),
        (
            "policy.updated",
            "policy",
            "A policy changed (a new version).",
            policy(),
        ),
        (
            "policy.restored",
            "policy",
            "A policy went back to an earlier version, or was created again from one.",
            policy(),
        ),
        (
            "policy.deleted",
            "policy",
            "A policy was deleted.",
            policy(),
        ),
        (
            "invitation.created",
            "invitation",
            "An invitation was sent.",
            invitation(),
        ),
        (
            "invitation.resent",
            "invitation",
            "An invitation was sent again.",
            invitation(),
        ),
        (
            "invitation.revoked",
            "invitation",
            "An invitation was revoked.",
            invitation(),
        ),
        (
            "invitation.accepted",
            "invitation",
            "An invitation was accepted: the identity it became.",
            object(&[("identity_id", uuid())]),
        ),
        (
            "api_key.created",
            "api_key",
            "An API key was created.",
            api_key(),
        ),
        (
            "api_key.updated",
            "api_key",
            "An API key's name, scopes or expiry changed.",
            api_key(),
        ),
        (
            "api_key.revoked",
            "api_key",
            "An API key was revoked.",
            api_key(),
        ),
        (
            "sso_provider.created",
            "sso_provider",
            "An SSO provider was added.",
            sso_provider(),
        ),
        (
            "sso_provider.updated",
            "sso_provider",
            "An SSO provider's settings changed.",
            sso_provider(),
        ),
        (
            "sso_provider.deleted",
            "sso_provider",
            "An SSO provider was removed.",
            sso_provider(),
        ),
        ("memory.created", "memory", "A memory was stored.", memory()),
        (
            "memory.updated",
            "memory",
            "A memory changed (a new text is embedded again).",
            memory(),
        ),
        (
            "memory.deleted",
            "memory",
            "A memory was moved to the trash.",
            memory(),
        ),
        (
            "memory.restored",
            "memory",
            "A memory came back from the trash.",
            memory(),
        ),
        (
            "memory.purged",
            "memory",
            "Memories were removed for good: one (its id, no data) or a batch emptied from the trash (their ids).",
            nullable(memory_batch()),
        ),
        (
            "memory.expired",
            "memory",
            "A batch of memories past their expiry was removed.",
            memory_batch(),
        ),
        (
            "memory.reembedded",
            "memory",
            "A batch of memories was embedded again with another model.",
            object(&[("count", integer()), ("model", string()), ("ids", uuids())]),
        ),
        (
            "webhook.created",
            "webhook",
            "A webhook subscription was created.",
            webhook(),
        ),
        (
            "webhook.updated",
            "webhook",
            "A webhook's name, URL, event types or state changed.",
            webhook(),
        ),
        (
            "webhook.deleted",
            "webhook",
            "A webhook was deleted, with its delivery log.",
            webhook(),
        ),
        (
            "webhook.secret_rotated",
            "webhook",
            "A webhook's signing secret was replaced; the previous one signs too until the time given.",
            object(&[("id", uuid()), ("previous_secret_until", nullable(time()))]),
        ),
        (
            "webhook.disabled",
            "webhook",
            "The server disabled a webhook whose every attempt failed for as long as deliveries are retried.",
            webhook(),
        ),
        (
            "webhook.replayed",
            "webhook",
            "The events of a time range were queued again for a webhook.",
            object(&[("from", time()), ("to", time()), ("queued", integer())]),
        ),
        (
            "webhook.delivery_retried",
            "webhook",
            "One delivery was queued for another attempt.",
            object(&[
                ("delivery_id", uuid()),
                ("event_id", uuid()),
                ("event_type", string()),
                (
                    "previous_status",
                    one_of(&["pending", "succeeded", "failed", "paused"]),
                ),
            ]),
        ),
        (
            "webhook.test",
            "webhook",
            "A test message sent from the console or POST /v1/webhooks/{id}/test; only ever sent to that webhook, never stored as an event.",
            object(&[("message", string())]),
        ),
        (
            "audit.exported",
            "audit",
            "Audit records were exported (the filters used).",
            object(&[
                ("format", one_of(&["csv", "jsonl"])),
                ("from", nullable(time())),
                ("to", nullable(time())),
                ("actor_id", nullable(uuid())),
                ("action", nullable(string())),
                ("target_type", nullable(string())),
                ("target_id", nullable(uuid())),
                ("outcome", nullable(string())),
                ("request_id", nullable(string())),
                ("up_to_seq", nullable(json!({ "type": "integer" }))),
            ]),
        ),
    ]
}

/// Events whose subject id may be null: batches and tenant-wide records.
const SUBJECT_MAY_BE_NULL: &[&str] = &[
    "memory.purged",
    "memory.expired",
    "memory.reembedded",
    "audit.exported",
];

fn build() -> Vec<EventType> {
    entries()
        .into_iter()
        .map(|(name, subject_type, description, data)| {
            let id = if SUBJECT_MAY_BE_NULL.contains(&name) {
                nullable(uuid())
            } else {
                uuid()
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
