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

mod shapes;
use shapes::*;

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
        tenant(),
    ),
    TENANT_UPDATED = (
        "tenant.updated",
        "tenant",
        "A tenant setting changed (the new values).",
        object(&[("memory_ttl_seconds", nullable(integer()))]),
    ),
    IDENTITY_CREATED = (
        "identity.created",
        "identity",
        "An identity was created (by an admin, an invitation's acceptance or a first SSO sign-in).",
        identity(),
    ),
    IDENTITY_UPDATED = (
        "identity.updated",
        "identity",
        "An identity's profile, metadata or roles changed.",
        identity(),
    ),
    IDENTITY_DISABLED = (
        "identity.disabled",
        "identity",
        "An identity was disabled; its sessions and tokens ended.",
        identity(),
    ),
    IDENTITY_ENABLED = (
        "identity.enabled",
        "identity",
        "A disabled identity was enabled again.",
        identity(),
    ),
    IDENTITY_DELETED = (
        "identity.deleted",
        "identity",
        "An identity was moved to the trash.",
        identity(),
    ),
    IDENTITY_RESTORED = (
        "identity.restored",
        "identity",
        "An identity came back from the trash.",
        identity(),
    ),
    IDENTITY_PURGED = (
        "identity.purged",
        "identity",
        "An identity was removed for good (its last state).",
        identity(),
    ),
    IDENTITY_ROLES_CHANGED = (
        "identity.roles_changed",
        "identity",
        "The roles an identity holds directly changed.",
        object(&[("roles", strings())]),
    ),
    IDENTITY_PASSWORD_CHANGED = (
        "identity.password_changed",
        "identity",
        "An identity changed its own password; its other sessions ended.",
        sessions_ended(),
    ),
    IDENTITY_PASSWORD_RESET = (
        "identity.password_reset",
        "identity",
        "A password was reset with an emailed link; every session ended.",
        sessions_ended(),
    ),
    IDENTITY_PASSWORD_RESET_REQUESTED = (
        "identity.password_reset_requested",
        "identity",
        "A password reset link was sent.",
        json!({ "type": "null" }),
    ),
    IDENTITY_SSO_LINKED = (
        "identity.sso_linked",
        "identity",
        "An identity was linked to an account at an SSO provider.",
        object(&[
            ("provider_id", uuid()),
            ("subject", string()),
            ("email", nullable(string())),
        ]),
    ),
    AUTH_TOKEN_ISSUED = (
        "auth.token_issued",
        "identity",
        "An API token pair was issued (a new refresh-token family).",
        token_family(),
    ),
    AUTH_TOKEN_REFRESHED = (
        "auth.token_refreshed",
        "identity",
        "A refresh token was exchanged for a new pair.",
        token_family(),
    ),
    AUTH_REFRESH_TOKEN_REUSED = (
        "auth.refresh_token_reused",
        "identity",
        "A used refresh token was presented again: its family was revoked.",
        token_family(),
    ),
    AUTH_TOKEN_FAMILY_REVOKED = (
        "auth.token_family_revoked",
        "identity",
        "A refresh-token family was revoked.",
        token_family(),
    ),
    AUTH_LOGGED_OUT = (
        "auth.logged_out",
        "identity",
        "An API sign-out revoked a refresh-token family.",
        token_family(),
    ),
    SESSION_REVOKED = (
        "session.revoked",
        "session",
        "A console session was ended.",
        object(&[("identity_id", uuid())]),
    ),
    SESSION_REVOKED_ALL = (
        "session.revoked_all",
        "identity",
        "Every session of an identity was ended (but the caller's own, when it was theirs).",
        object(&[
            ("sessions_ended", integer()),
            ("refresh_tokens_revoked", integer()),
            ("kept_current", boolean()),
        ]),
    ),
    GROUP_CREATED = (
        "group.created",
        "group",
        "A group was created.",
        group(),
    ),
    GROUP_UPDATED = (
        "group.updated",
        "group",
        "A group's name, kind or description changed.",
        group(),
    ),
    GROUP_MOVED = (
        "group.moved",
        "group",
        "A group moved under another parent.",
        group(),
    ),
    GROUP_DELETED = (
        "group.deleted",
        "group",
        "A group was deleted; its children (their ids) moved up to its parent.",
        object(&[("group", group()), ("children_moved_up", uuids())]),
    ),
    GROUP_MEMBERS_ADDED = (
        "group.members_added",
        "group",
        "Identities joined a group.",
        object(&[("identity_ids", uuids())]),
    ),
    GROUP_MEMBER_REMOVED = (
        "group.member_removed",
        "group",
        "An identity left a group.",
        object(&[("identity_id", uuid())]),
    ),
    GROUP_ROLES_CHANGED = (
        "group.roles_changed",
        "group",
        "The roles a group grants changed.",
        object(&[("roles", strings())]),
    ),
    ROLE_CREATED = (
        "role.created",
        "role",
        "A role was created.",
        role(),
    ),
    ROLE_UPDATED = (
        "role.updated",
        "role",
        "A role's name, description or permissions changed.",
        role(),
    ),
    ROLE_DELETED = (
        "role.deleted",
        "role",
        "A role was deleted.",
        role(),
    ),
    POLICY_CREATED = (
        "policy.created",
        "policy",
        "A policy was created.",
        policy(),
    ),
    POLICY_UPDATED = (
        "policy.updated",
        "policy",
        "A policy changed (a new version).",
        policy(),
    ),
    POLICY_RESTORED = (
        "policy.restored",
        "policy",
        "A policy went back to an earlier version, or was created again from one.",
        policy(),
    ),
    POLICY_DELETED = (
        "policy.deleted",
        "policy",
        "A policy was deleted.",
        policy(),
    ),
    INVITATION_CREATED = (
        "invitation.created",
        "invitation",
        "An invitation was sent.",
        invitation(),
    ),
    INVITATION_RESENT = (
        "invitation.resent",
        "invitation",
        "An invitation was sent again.",
        invitation(),
    ),
    INVITATION_REVOKED = (
        "invitation.revoked",
        "invitation",
        "An invitation was revoked.",
        invitation(),
    ),
    INVITATION_ACCEPTED = (
        "invitation.accepted",
        "invitation",
        "An invitation was accepted: the identity it became.",
        object(&[("identity_id", uuid())]),
    ),
    API_KEY_CREATED = (
        "api_key.created",
        "api_key",
        "An API key was created.",
        api_key(),
    ),
    API_KEY_UPDATED = (
        "api_key.updated",
        "api_key",
        "An API key's name, scopes or expiry changed.",
        api_key(),
    ),
    API_KEY_REVOKED = (
        "api_key.revoked",
        "api_key",
        "An API key was revoked.",
        api_key(),
    ),
    SSO_PROVIDER_CREATED = (
        "sso_provider.created",
        "sso_provider",
        "An SSO provider was added.",
        sso_provider(),
    ),
    SSO_PROVIDER_UPDATED = (
        "sso_provider.updated",
        "sso_provider",
        "An SSO provider's settings changed.",
        sso_provider(),
    ),
    SSO_PROVIDER_DELETED = (
        "sso_provider.deleted",
        "sso_provider",
        "An SSO provider was removed.",
        sso_provider(),
    ),
    MEMORY_CREATED = (
        "memory.created",
        "memory",
        "A memory was stored.",
        memory(),
    ),
    MEMORY_UPDATED = (
        "memory.updated",
        "memory",
        "A memory changed (a new text is embedded again).",
        memory(),
    ),
    MEMORY_DELETED = (
        "memory.deleted",
        "memory",
        "A memory was moved to the trash.",
        memory(),
    ),
    MEMORY_RESTORED = (
        "memory.restored",
        "memory",
        "A memory came back from the trash.",
        memory(),
    ),
    MEMORY_PURGED = (
        "memory.purged",
        "memory",
        "Memories were removed for good: one (its id, no data) or a batch emptied from the trash (their ids).",
        nullable(memory_batch()),
    ),
    MEMORY_EXPIRED = (
        "memory.expired",
        "memory",
        "A batch of memories past their expiry was removed.",
        memory_batch(),
    ),
    MEMORY_REEMBEDDED = (
        "memory.reembedded",
        "memory",
        "A batch of memories was embedded again with another model.",
        object(&[("count", integer()), ("model", string()), ("ids", uuids())]),
    ),
    WEBHOOK_CREATED = (
        "webhook.created",
        "webhook",
        "A webhook subscription was created.",
        webhook(),
    ),
    WEBHOOK_UPDATED = (
        "webhook.updated",
        "webhook",
        "A webhook's name, URL, event types or state changed.",
        webhook(),
    ),
    WEBHOOK_DELETED = (
        "webhook.deleted",
        "webhook",
        "A webhook was deleted, with its delivery log.",
        webhook(),
    ),
    WEBHOOK_SECRET_ROTATED = (
        "webhook.secret_rotated",
        "webhook",
        "A webhook's signing secret was replaced; the previous one signs too until the time given.",
        object(&[("id", uuid()), ("previous_secret_until", nullable(time()))]),
    ),
    WEBHOOK_DISABLED = (
        "webhook.disabled",
        "webhook",
        "The server disabled a webhook whose every attempt failed for as long as deliveries are retried.",
        webhook(),
    ),
    WEBHOOK_REPLAYED = (
        "webhook.replayed",
        "webhook",
        "The events of a time range were queued again for a webhook.",
        object(&[("from", time()), ("to", time()), ("queued", integer())]),
    ),
    WEBHOOK_DELIVERY_RETRIED = (
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
    WEBHOOK_TEST = (
        "webhook.test",
        "webhook",
        "A test message sent from the console or POST /v1/webhooks/{id}/test; only ever sent to that webhook, never stored as an event.",
        object(&[("message", string())]),
    ),
    AUDIT_EXPORTED = (
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
