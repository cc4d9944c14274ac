//! The shapes of the catalogue's payloads: JSON Schema for each kind of subject as the
//! service writes it (its `snapshot`), and the small pieces they are made of.

use serde_json::{Value, json};

/// A field's schema.
pub(super) type Schema = Value;

pub(super) fn string() -> Schema {
    json!({ "type": "string" })
}
pub(super) fn uuid() -> Schema {
    json!({ "type": "string", "format": "uuid" })
}
pub(super) fn time() -> Schema {
    json!({ "type": "string", "format": "date-time" })
}
pub(super) fn boolean() -> Schema {
    json!({ "type": "boolean" })
}
pub(super) fn integer() -> Schema {
    json!({ "type": "integer", "minimum": 0 })
}
pub(super) fn strings() -> Schema {
    json!({ "type": "array", "items": { "type": "string" } })
}
pub(super) fn uuids() -> Schema {
    json!({ "type": "array", "items": uuid() })
}
pub(super) fn one_of(values: &[&str]) -> Schema {
    json!({ "type": "string", "enum": values })
}
pub(super) fn nullable(s: Schema) -> Schema {
    json!({ "anyOf": [s, { "type": "null" }] })
}
pub(super) fn any() -> Schema {
    json!({})
}

/// An object with exactly these fields, all present (a null stands for "none").
pub(super) fn object(fields: &[(&str, Schema)]) -> Schema {
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

pub(super) fn identity() -> Schema {
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

pub(super) fn group() -> Schema {
    object(&[
        ("id", uuid()),
        ("parent_id", nullable(uuid())),
        ("name", string()),
        ("kind", string()),
        ("description", string()),
        ("roles", strings()),
    ])
}

pub(super) fn role() -> Schema {
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

pub(super) fn policy() -> Schema {
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

pub(super) fn invitation() -> Schema {
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

pub(super) fn api_key() -> Schema {
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

pub(super) fn memory() -> Schema {
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

pub(super) fn sso_provider() -> Schema {
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

pub(super) fn tenant() -> Schema {
    object(&[
        ("id", uuid()),
        ("slug", string()),
        ("name", string()),
        ("plan", one_of(&["free", "pro", "enterprise"])),
        ("created_at", time()),
    ])
}

pub(super) fn token_family() -> Schema {
    object(&[("family_id", uuid())])
}

pub(super) fn sessions_ended() -> Schema {
    object(&[
        ("sessions_ended", integer()),
        ("refresh_tokens_revoked", integer()),
    ])
}

pub(super) fn memory_batch() -> Schema {
    object(&[
        ("count", integer()),
        (
            "ids",
            json!({ "type": "array", "items": uuid(), "minItems": 1 }),
        ),
    ])
}

pub(super) fn webhook() -> Schema {
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
