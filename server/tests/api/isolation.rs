//! Every route and every server function in one table, each tried anonymously, as another
//! tenant's owner and as a viewer. A route or server function missing from the table fails
//! the test, so nothing new ships unchecked.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use service::authz::engine::Effect;

use crate::helpers::{ADMIN_TOKEN, TestApp};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    /// Anyone; the route itself decides (sign-in, JWKS).
    Public,
    /// A tenant member with read permission.
    Read,
    /// A tenant member with write permission (owner, admin).
    Write,
    /// The super-admin only.
    SuperAdmin,
}

struct Route {
    method: &'static str,
    /// `{id}` is an identity of the target tenant, `{role}` one of its custom roles.
    path: &'static str,
    access: Access,
    /// Addresses one object of the target tenant (so another tenant gets 404).
    object: bool,
    body: Option<fn() -> Value>,
}

const fn route(method: &'static str, path: &'static str, access: Access, object: bool) -> Route {
    Route {
        method,
        path,
        access,
        object,
        body: None,
    }
}

fn routes() -> Vec<Route> {
    vec![
        Route {
            body: Some(
                || json!({"tenant": "acme", "email": "x@acme.test", "password": "wrong password"}),
            ),
            ..route("POST", "/v1/auth/token", Access::Public, false)
        },
        Route {
            body: Some(|| json!({"refresh_token": "rt1.bogus"})),
            ..route("POST", "/v1/auth/refresh", Access::Public, false)
        },
        route("GET", "/.well-known/jwks.json", Access::Public, false),
        Route {
            body: Some(|| json!({"tenant": "acme", "email": "nobody@acme.test"})),
            ..route("POST", "/v1/auth/password-reset", Access::Public, false)
        },
        Route {
            body: Some(|| json!({"token": "pr1.bogus", "new_password": "a long enough password"})),
            ..route(
                "POST",
                "/v1/auth/password-reset/confirm",
                Access::Public,
                false,
            )
        },
        route("GET", "/v1/identities", Access::Read, false),
        Route {
            body: Some(|| json!({"email": format!("{}@example.com", uuid::Uuid::now_v7())})),
            ..route("POST", "/v1/identities", Access::Write, false)
        },
        route("GET", "/v1/identities/{id}", Access::Read, true),
        Route {
            body: Some(|| json!({"display_name": "Renamed"})),
            ..route("PATCH", "/v1/identities/{id}", Access::Write, true)
        },
        route("DELETE", "/v1/identities/{id}", Access::Write, true),
        route("POST", "/v1/identities/{id}/restore", Access::Write, true),
        route("POST", "/v1/identities/{id}/export", Access::Write, true),
        route("GET", "/v1/privacy/exports/{export}", Access::Write, true),
        route(
            "GET",
            "/v1/privacy/exports/download/{token}",
            Access::Public,
            false,
        ),
        route(
            "GET",
            "/v1/privacy/export-schema.json",
            Access::Public,
            false,
        ),
        route("GET", "/v1/me", Access::Read, false),
        route("GET", "/v1/permissions", Access::Read, false),
        route("GET", "/v1/roles", Access::Read, false),
        Route {
            body: Some(
                || json!({"name": format!("r{}", uuid::Uuid::now_v7().simple()), "permissions": {"memories:read": "allow"}}),
            ),
            ..route("POST", "/v1/roles", Access::Write, false)
        },
        route("GET", "/v1/roles/{role}", Access::Read, true),
        Route {
            body: Some(|| json!({"description": "changed"})),
            ..route("PATCH", "/v1/roles/{role}", Access::Write, true)
        },
        route("GET", "/v1/roles/{role}/permissions", Access::Read, true),
        Route {
            body: Some(
                || json!({"permissions": {"memories:read": "allow", "memories:update": "allow"}}),
            ),
            ..route("PUT", "/v1/roles/{role}/permissions", Access::Write, true)
        },
        route("GET", "/v1/identities/{id}/roles", Access::Read, true),
        Route {
            body: Some(|| json!({"roles": ["member"]})),
            ..route("PUT", "/v1/identities/{id}/roles", Access::Write, true)
        },
        route("GET", "/v1/groups", Access::Read, false),
        Route {
            body: Some(|| json!({"name": "Table team", "kind": "team"})),
            ..route("POST", "/v1/groups", Access::Write, false)
        },
        route("GET", "/v1/groups/tree", Access::Read, false),
        route("GET", "/v1/groups/{group}", Access::Read, true),
        Route {
            body: Some(|| json!({"description": "changed"})),
            ..route("PATCH", "/v1/groups/{group}", Access::Write, true)
        },
        route("GET", "/v1/groups/{group}/members", Access::Read, true),
        Route {
            body: Some(|| json!({"identity_ids": ["{member}"]})),
            ..route("POST", "/v1/groups/{group}/members", Access::Write, true)
        },
        route("GET", "/v1/groups/{group}/roles", Access::Read, true),
        Route {
            body: Some(|| json!({"roles": ["viewer"]})),
            ..route("PUT", "/v1/groups/{group}/roles", Access::Write, true)
        },
        route(
            "DELETE",
            "/v1/groups/{group}/members/{member}",
            Access::Write,
            true,
        ),
        route("GET", "/v1/policies", Access::Read, false),
        Route {
            body: Some(
                || json!({"name": format!("p{}", uuid::Uuid::now_v7().simple()), "effect": "allow", "priority": 1, "resource_pattern": "settings", "action_pattern": "manage"}),
            ),
            ..route("POST", "/v1/policies", Access::Write, false)
        },
        Route {
            body: Some(
                || json!({"items": [{"op": "create", "name": format!("b{}", uuid::Uuid::now_v7().simple()), "effect": "deny", "priority": 1, "resource_pattern": "settings", "action_pattern": "manage"}]}),
            ),
            ..route("POST", "/v1/policies/bulk", Access::Write, false)
        },
        route("GET", "/v1/policies/{policy}", Access::Read, true),
        Route {
            body: Some(|| json!({"priority": 7})),
            ..route("PATCH", "/v1/policies/{policy}", Access::Write, true)
        },
        route("GET", "/v1/policies/{policy}/versions", Access::Read, true),
        route(
            "POST",
            "/v1/policies/{policy}/versions/1/restore",
            Access::Write,
            true,
        ),
        Route {
            body: Some(|| json!({"action": "identities:read"})),
            ..route("POST", "/v1/authz/check", Access::Read, false)
        },
        route("GET", "/v1/invitations", Access::Read, false),
        Route {
            body: Some(
                || json!({"email": format!("inv-{}@example.com", uuid::Uuid::now_v7().simple()), "roles": ["viewer"]}),
            ),
            ..route("POST", "/v1/invitations", Access::Write, false)
        },
        route("GET", "/v1/invitations/{invitation}", Access::Read, true),
        route(
            "POST",
            "/v1/invitations/{invitation}/resend",
            Access::Write,
            true,
        ),
        Route {
            body: Some(|| json!({"token": "iv1.bogus"})),
            ..route("POST", "/v1/invitations/validate", Access::Public, false)
        },
        Route {
            body: Some(
                || json!({"token": "iv1.bogus", "display_name": "X", "password": "a long enough password"}),
            ),
            ..route("POST", "/v1/invitations/accept", Access::Public, false)
        },
        route("GET", "/v1/api-keys", Access::Write, false),
        Route {
            body: Some(|| json!({"name": "table key", "scopes": ["identities:read"]})),
            ..route("POST", "/v1/api-keys", Access::Write, false)
        },
        route("POST", "/v1/api-keys/test", Access::Read, false),
        route("GET", "/v1/api-keys/{key}", Access::Write, true),
        Route {
            body: Some(|| json!({"name": "renamed key"})),
            ..route("PATCH", "/v1/api-keys/{key}", Access::Write, true)
        },
        Route {
            body: Some(|| json!({"display_name": "Renamed me"})),
            ..route("PATCH", "/v1/me", Access::Read, false)
        },
        route("GET", "/v1/sessions", Access::Write, false),
        route("DELETE", "/v1/sessions/{session}", Access::Write, true),
        route("DELETE", "/v1/sessions", Access::Write, false),
        Route {
            body: Some(|| json!({"refresh_token": "rt1.bogus"})),
            ..route("POST", "/v1/auth/logout", Access::Public, false)
        },
        route("GET", "/v1/admin/tenants", Access::SuperAdmin, false),
        Route {
            body: Some(
                || json!({"slug": format!("t{}", uuid::Uuid::now_v7().simple()), "name": "T", "owner_email": "o@t.test"}),
            ),
            ..route("POST", "/v1/admin/tenants", Access::SuperAdmin, false)
        },
        route("GET", "/v1/limits", Access::Read, false),
        route("GET", "/v1/retention", Access::Read, false),
        Route {
            body: Some(|| json!({"trash_days": null})),
            ..route("PUT", "/v1/retention", Access::Write, false)
        },
        route("GET", "/v1/encryption", Access::Read, false),
        Route {
            body: Some(|| json!({"kind": "seal"})),
            ..route("POST", "/v1/encryption/jobs", Access::Write, false)
        },
        route("GET", "/v1/encryption/jobs/{keyjob}", Access::Read, true),
        route("GET", "/v1/admin/plans", Access::SuperAdmin, false),
        Route {
            body: Some(
                || json!({"description": "made by the table", "rates": {"tenant": {"rate": 10, "burst": 20}, "user": {"rate": 1, "burst": 2}, "agent": {"rate": 1, "burst": 2}}, "quotas": {"identities": 10}}),
            ),
            ..route("PUT", "/v1/admin/plans/{plan}", Access::SuperAdmin, false)
        },
        route("GET", "/v1/admin/plans/{plan}", Access::SuperAdmin, false),
        route(
            "DELETE",
            "/v1/admin/plans/{plan}",
            Access::SuperAdmin,
            false,
        ),
        route(
            "GET",
            "/v1/admin/tenants/{tenant}/limits",
            Access::SuperAdmin,
            false,
        ),
        Route {
            body: Some(
                || json!({"plan": "pro", "overrides": {"rates": {"tenant": {"rate": 100000}}}}),
            ),
            ..route(
                "PUT",
                "/v1/admin/tenants/{tenant}/limits",
                Access::SuperAdmin,
                false,
            )
        },
        route(
            "DELETE",
            "/v1/admin/tenants/{tenant}/limits",
            Access::SuperAdmin,
            false,
        ),
        route("GET", "/v1/admin/rate-limits", Access::SuperAdmin, false),
        route("GET", "/v1/sso/providers", Access::Read, false),
        Route {
            body: Some(
                || json!({"name": format!("IdP {}", uuid::Uuid::now_v7().simple()), "issuer": "{issuer}", "client_id": "table-client", "client_secret": "table-secret"}),
            ),
            ..route("POST", "/v1/sso/providers", Access::Write, false)
        },
        route("GET", "/v1/sso/providers/{provider}", Access::Read, true),
        Route {
            body: Some(|| json!({"name": "Table IdP renamed"})),
            ..route("PATCH", "/v1/sso/providers/{provider}", Access::Write, true)
        },
        route("GET", "/auth/sso/login/{provider}", Access::Public, false),
        route("GET", "/v1/memories", Access::Read, false),
        Route {
            body: Some(|| json!({"text": format!("Table memory {}", uuid::Uuid::now_v7())})),
            ..route("POST", "/v1/memories", Access::Write, false)
        },
        Route {
            body: Some(|| json!({"query": "table memory"})),
            ..route("POST", "/v1/memories/search", Access::Read, false)
        },
        Route {
            body: Some(
                || json!({"items": [{"text": format!("Table bulk {}", uuid::Uuid::now_v7())}]}),
            ),
            ..route("POST", "/v1/memories/bulk", Access::Write, false)
        },
        route("GET", "/v1/memories/status", Access::Read, false),
        route("GET", "/v1/audit", Access::Write, false),
        route("GET", "/v1/audit/export", Access::Write, false),
        route("GET", "/v1/audit/{audit}", Access::Write, true),
        route("GET", "/v1/events", Access::Write, false),
        route("GET", "/v1/events/stats", Access::Write, false),
        // The catalogue is the same for everyone: any member may read it.
        route("GET", "/v1/events/types", Access::Read, false),
        route("GET", "/v1/events/{event}", Access::Write, true),
        route("GET", "/v1/identities/{id}/events", Access::Write, true),
        Route {
            body: Some(|| json!({})),
            ..route("POST", "/v1/audit/verify", Access::Write, false)
        },
        route("GET", "/v1/webhooks", Access::Read, false),
        Route {
            body: Some(
                || json!({"name": format!("Hook {}", uuid::Uuid::now_v7().simple()), "url": "{receiver}", "event_types": ["identity.*"]}),
            ),
            ..route("POST", "/v1/webhooks", Access::Write, false)
        },
        route("GET", "/v1/webhooks/stats", Access::Read, false),
        route("GET", "/v1/webhooks/{webhook}", Access::Read, true),
        Route {
            body: Some(|| json!({"description": "Changed by the table"})),
            ..route("PATCH", "/v1/webhooks/{webhook}", Access::Write, true)
        },
        route(
            "GET",
            "/v1/webhooks/{webhook}/deliveries",
            Access::Read,
            true,
        ),
        route(
            "GET",
            "/v1/webhooks/deliveries/{delivery}",
            Access::Read,
            true,
        ),
        route(
            "POST",
            "/v1/webhooks/deliveries/{delivery}/retry",
            Access::Write,
            true,
        ),
        route("POST", "/v1/webhooks/{webhook}/test", Access::Write, true),
        Route {
            body: Some(|| json!({"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"})),
            ..route("POST", "/v1/webhooks/{webhook}/replay", Access::Write, true)
        },
        Route {
            body: Some(|| json!({"overlap_seconds": 60})),
            ..route(
                "POST",
                "/v1/webhooks/{webhook}/rotate-secret",
                Access::Write,
                true,
            )
        },
        Route {
            body: Some(|| json!({"default_ttl_seconds": null})),
            ..route("PUT", "/v1/memories/settings", Access::Write, false)
        },
        route("GET", "/v1/memories/{memory}", Access::Read, true),
        Route {
            body: Some(|| json!({"tags": ["table"]})),
            ..route("PATCH", "/v1/memories/{memory}", Access::Write, true)
        },
        route("POST", "/v1/memories/{memory}/restore", Access::Write, true),
        Route {
            body: Some(|| json!({"filter": {"tags": ["no-such-tag"]}})),
            ..route("DELETE", "/v1/memories/bulk", Access::Write, false)
        },
        // Last: they remove what the rows above use.
        route("DELETE", "/v1/memories/{memory}", Access::Write, true),
        route("DELETE", "/v1/webhooks/{webhook}", Access::Write, true),
        route(
            "DELETE",
            "/v1/sso/providers/{provider}",
            Access::Write,
            true,
        ),
        route("DELETE", "/v1/roles/{role}", Access::Write, true),
        route("DELETE", "/v1/policies/{policy}", Access::Write, true),
        route("DELETE", "/v1/groups/{group}", Access::Write, true),
        route("DELETE", "/v1/api-keys/{key}", Access::Write, true),
        route(
            "DELETE",
            "/v1/invitations/{invitation}",
            Access::Write,
            true,
        ),
        // Changes the caller's password (viewer's, then owner's): the tokens above stay valid.
        Route {
            body: Some(
                || json!({"current_password": crate::helpers::PASSWORD, "new_password": "a new password for the table"}),
            ),
            ..route("POST", "/v1/me/password", Access::Read, false)
        },
        // Last: the permitted caller erases the target.
        route("POST", "/v1/identities/{id}/erase", Access::Write, true),
    ]
}

/// The permission a route checks first: an identity holding every permission but this one
/// gets 403. `None` for routes any member (or anyone) may call.
fn permission_of(method: &str, path: &str) -> Option<&'static str> {
    let module = path.strip_prefix("/v1/")?.split('/').next()?;
    let is_object = path.matches('{').count() > 0;
    Some(match (method, module) {
        (_, "admin" | "auth" | "me" | "permissions" | "authz") => return None,
        ("POST", "api-keys") if path.ends_with("/test") => return None,
        ("GET", "sso") if path.contains("/login/") => return None,
        ("POST", "invitations") if path.ends_with("/validate") || path.ends_with("/accept") => {
            return None;
        }
        ("POST", "invitations") if path.ends_with("/resend") => "invitations:update",
        (_, "identities") if path.ends_with("/roles") => {
            if method == "GET" {
                "roles:read"
            } else {
                "roles:manage"
            }
        }
        ("POST", "identities") if path.ends_with("/restore") => "identities:update",
        ("POST", "identities") if path.ends_with("/erase") => "privacy:erase",
        ("POST", "identities") if path.ends_with("/export") => "privacy:export",
        ("GET", "privacy") if path.contains("/download/") || path.ends_with(".json") => {
            return None;
        }
        (_, "groups") if path.contains("/members") && method != "GET" => "groups:manage",
        (_, "groups") if path.ends_with("/roles") => {
            if method == "GET" {
                "groups:read"
            } else {
                "roles:manage"
            }
        }
        ("POST", "policies") if path.ends_with("/restore") => "policies:update",
        ("PUT", "roles") => "roles:update",
        ("POST", "policies") if path.ends_with("/bulk") => "policies:create",
        ("POST", "memories") if path.ends_with("/search") => "memories:read",
        ("POST", "memories") if path.ends_with("/restore") => "memories:delete",
        ("PUT", "memories") => "settings:update",
        ("POST", "audit") => "audit:read",
        ("GET", "events") if path.ends_with("/types") => return None,
        ("GET", "limits" | "retention") => "settings:read",
        ("PUT", "retention") => "settings:update",
        ("GET", "encryption") => "settings:read",
        ("POST", "encryption") => "settings:update",
        ("POST", "webhooks") if path.ends_with("/rotate-secret") => "webhooks:manage",
        ("POST", "webhooks") if is_object => "webhooks:update",
        ("GET", m) => return Some(read(m)),
        ("POST", m) if !is_object => return Some(create(m)),
        ("PATCH", m) => return Some(update(m)),
        ("DELETE", m) => return Some(delete(m)),
        _ => panic!("no permission known for {method} {path}: add it to permission_of"),
    })
}

fn module_name(m: &str) -> &'static str {
    match m {
        "identities" => "identities",
        "roles" => "roles",
        "groups" => "groups",
        "policies" => "policies",
        "api-keys" => "api_keys",
        "sessions" => "sessions",
        "invitations" => "invitations",
        "sso" => "settings",
        "memories" => "memories",
        "audit" | "events" => "audit",
        "webhooks" => "webhooks",
        "privacy" => "privacy",
        other => panic!("unknown module {other}"),
    }
}

fn read(m: &str) -> &'static str {
    Box::leak(format!("{}:read", module_name(m)).into_boxed_str())
}
fn create(m: &str) -> &'static str {
    Box::leak(format!("{}:create", module_name(m)).into_boxed_str())
}
fn update(m: &str) -> &'static str {
    Box::leak(format!("{}:update", module_name(m)).into_boxed_str())
}
fn delete(m: &str) -> &'static str {
    Box::leak(format!("{}:delete", module_name(m)).into_boxed_str())
}

struct ServerFn {
    path: &'static str,
    access: Access,
    object: bool,
    args: &'static [(&'static str, &'static str)],
}

const SERVER_FNS: &[ServerFn] = &[
    ServerFn {
        path: "/api/auth/me",
        access: Access::Public,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/auth/login",
        access: Access::Public,
        object: false,
        args: &[
            ("tenant", "acme"),
            ("email", "x@acme.test"),
            ("password", "wrong password"),
        ],
    },
    ServerFn {
        path: "/api/auth/forgot",
        access: Access::Public,
        object: false,
        args: &[("tenant", "acme"), ("email", "nobody@acme.test")],
    },
    ServerFn {
        path: "/api/auth/reset",
        access: Access::Public,
        object: false,
        args: &[
            ("token", "pr1.bogus"),
            ("new_password", "a long enough password"),
        ],
    },
    ServerFn {
        path: "/api/auth/switch_tenant",
        access: Access::Read,
        object: false,
        args: &[("tenant", "{tenant}")],
    },
    ServerFn {
        path: "/api/auth/logout",
        access: Access::Public,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/console/state",
        access: Access::Public,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/identities/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/identities/get",
        access: Access::Read,
        object: true,
        args: &[("id", "{id}")],
    },
    ServerFn {
        path: "/api/identities/create",
        access: Access::Write,
        object: false,
        args: &[
            ("email", "fn@example.com"),
            ("display_name", ""),
            ("external_id", ""),
            ("kind", "user"),
            ("role", "member"),
            ("metadata", "{}"),
            ("password", ""),
        ],
    },
    ServerFn {
        path: "/api/identities/update",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{id}"),
            ("email", "target@acme.test"),
            ("display_name", "Changed"),
            ("external_id", ""),
            ("role", "member"),
            ("metadata", "{}"),
        ],
    },
    ServerFn {
        path: "/api/identities/set_status",
        access: Access::Write,
        object: true,
        args: &[("id", "{id}"), ("status", "disabled")],
    },
    ServerFn {
        path: "/api/identities/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{id}"), ("mode", "trash")],
    },
    ServerFn {
        path: "/api/identities/restore",
        access: Access::Write,
        object: true,
        args: &[("id", "{id}")],
    },
    ServerFn {
        path: "/api/identities/revoke_keys",
        access: Access::Write,
        object: true,
        args: &[("id", "{id}")],
    },
    ServerFn {
        path: "/api/identities/export",
        access: Access::Write,
        object: true,
        args: &[("id", "{id}")],
    },
    ServerFn {
        path: "/api/identities/export_status",
        access: Access::Write,
        object: true,
        args: &[("id", "{export}")],
    },
    ServerFn {
        path: "/api/identities/set_roles",
        access: Access::Write,
        object: true,
        args: &[("id", "{id}"), ("roles[0]", "member")],
    },
    ServerFn {
        path: "/api/roles/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/roles/save",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{role}"),
            ("name", "table-role"),
            ("description", "changed"),
            ("permissions[memories:read]", "allow"),
        ],
    },
    ServerFn {
        path: "/api/groups/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/groups/get",
        access: Access::Read,
        object: true,
        args: &[("id", "{group}")],
    },
    ServerFn {
        path: "/api/groups/save",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{group}"),
            ("name", "Renamed"),
            ("kind", "team"),
            ("description", ""),
            ("parent_id", ""),
        ],
    },
    ServerFn {
        path: "/api/groups/add_member",
        access: Access::Write,
        object: true,
        args: &[("id", "{group}"), ("email", "owner@acme.test")],
    },
    ServerFn {
        path: "/api/groups/remove_member",
        access: Access::Write,
        object: true,
        args: &[("id", "{group}"), ("identity_id", "{id}")],
    },
    ServerFn {
        path: "/api/groups/set_roles",
        access: Access::Write,
        object: true,
        args: &[("id", "{group}"), ("roles[0]", "viewer")],
    },
    ServerFn {
        path: "/api/policies/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/policies/get",
        access: Access::Read,
        object: true,
        args: &[("id", "{policy}")],
    },
    ServerFn {
        path: "/api/policies/save",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{policy}"),
            ("name", "Table policy"),
            ("description", ""),
            ("effect", "allow"),
            ("priority", "3"),
            ("resource_pattern", "memories"),
            ("action_pattern", "read"),
            ("condition", ""),
            ("enabled", "on"),
        ],
    },
    ServerFn {
        path: "/api/policies/restore",
        access: Access::Write,
        object: true,
        args: &[("id", "{policy}"), ("version", "1")],
    },
    ServerFn {
        path: "/api/policies/simulate",
        access: Access::Read,
        object: false,
        args: &[
            ("principal", "owner@acme.test"),
            ("action", "identities:read"),
            ("resource_owner", ""),
            ("resource_id", ""),
            ("ip", ""),
        ],
    },
    ServerFn {
        path: "/api/account/get",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/account/profile",
        access: Access::Read,
        object: false,
        args: &[("display_name", "Renamed me")],
    },
    ServerFn {
        path: "/api/account/revoke_session",
        access: Access::Write,
        object: true,
        args: &[("id", "{session}")],
    },
    ServerFn {
        path: "/api/account/revoke_others",
        access: Access::Write,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/invitations/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/invitations/create",
        access: Access::Write,
        object: false,
        args: &[
            ("email", "fn-invite@example.com"),
            ("message", ""),
            ("expires_in_days", "7"),
        ],
    },
    ServerFn {
        path: "/api/invitations/resend",
        access: Access::Write,
        object: true,
        args: &[("id", "{invitation}")],
    },
    ServerFn {
        path: "/api/invite/preview",
        access: Access::Public,
        object: false,
        args: &[("token", "iv1.bogus")],
    },
    ServerFn {
        path: "/api/invite/accept",
        access: Access::Public,
        object: false,
        args: &[
            ("token", "iv1.bogus"),
            ("display_name", "Someone"),
            ("password", "a long enough password"),
        ],
    },
    ServerFn {
        path: "/api/api_keys/list",
        access: Access::Write,
        object: false,
        args: &[("all", "false")],
    },
    ServerFn {
        path: "/api/api_keys/create",
        access: Access::Write,
        object: false,
        args: &[
            ("name", "table key"),
            ("scopes", "memories:read"),
            ("expires_in_days", "30"),
        ],
    },
    ServerFn {
        path: "/api/api_keys/revoke",
        access: Access::Write,
        object: true,
        args: &[("id", "{key}")],
    },
    ServerFn {
        path: "/api/sso/options",
        access: Access::Public,
        object: false,
        args: &[("tenant", "acme")],
    },
    ServerFn {
        path: "/api/sso/settings",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/sso/create",
        access: Access::Write,
        object: false,
        args: &[
            ("kind", "oidc"),
            ("name", "Table IdP 2"),
            ("issuer", "{issuer}"),
            ("client_id", "table-client"),
            ("client_secret", "table-secret"),
            ("scopes", "openid email"),
            ("allowed_domains", ""),
            ("default_role", "member"),
        ],
    },
    ServerFn {
        path: "/api/sso/update",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{provider}"),
            ("name", "Table IdP"),
            ("client_id", "table-client"),
            ("client_secret", ""),
            ("scopes", "openid email"),
            ("allowed_domains", ""),
            ("default_role", "member"),
        ],
    },
    ServerFn {
        path: "/api/memories/status",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/memories/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/memories/search",
        access: Access::Read,
        object: false,
        args: &[
            ("q", "table memory"),
            ("mode", "hybrid"),
            ("trash", "false"),
        ],
    },
    ServerFn {
        path: "/api/identities/choices",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/memories/get",
        access: Access::Read,
        object: true,
        args: &[("id", "{memory}")],
    },
    ServerFn {
        path: "/api/memories/create",
        access: Access::Write,
        object: false,
        args: &[
            ("text", "The console table's memory."),
            ("tags", "table"),
            ("source", "console"),
            ("importance", "0.5"),
            ("metadata", "{}"),
            ("expiry", "default"),
            ("ttl_seconds", ""),
            ("owner_id", ""),
        ],
    },
    ServerFn {
        path: "/api/memories/update",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{memory}"),
            ("text", "The table's memory, edited in the console."),
            ("tags", "table"),
            ("source", "console"),
            ("importance", ""),
            ("metadata", "{}"),
            ("expiry", "keep"),
            ("ttl_seconds", ""),
        ],
    },
    // Not in the Trash: the owner gets 409.
    ServerFn {
        path: "/api/memories/restore",
        access: Access::Write,
        object: true,
        args: &[("id", "{memory}")],
    },
    ServerFn {
        path: "/api/memories/set_default_ttl",
        access: Access::Write,
        object: false,
        args: &[("default_expiry", "never"), ("default_ttl_seconds", "")],
    },
    // audit:read is an admin's: a viewer is refused.
    ServerFn {
        path: "/api/audit/list",
        access: Access::Write,
        object: false,
        args: &[("action", "identity.*")],
    },
    ServerFn {
        path: "/api/audit/get",
        access: Access::Write,
        object: true,
        args: &[("id", "{audit}")],
    },
    ServerFn {
        path: "/api/audit/verify",
        access: Access::Write,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/events/list",
        access: Access::Write,
        object: false,
        args: &[("types", "identity.*")],
    },
    // The catalogue's names: any member.
    ServerFn {
        path: "/api/events/types",
        access: Access::Read,
        object: false,
        args: &[],
    },
    // A GET (a plain link downloads it); its arguments go in the query.
    ServerFn {
        path: "/api/audit/export",
        access: Access::Write,
        object: false,
        args: &[("format", "jsonl"), ("action", "identity.*")],
    },
    // The tenant's limits and use: settings:read (viewers have it).
    ServerFn {
        path: "/api/limits/mine",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/settings/retention",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/settings/encryption",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/settings/encryption/start",
        access: Access::Write,
        object: false,
        args: &[("kind", "seal")],
    },
    ServerFn {
        path: "/api/settings/retention/save",
        access: Access::Write,
        object: false,
        args: &[
            ("disabled_identities_days", ""),
            ("trash_days", ""),
            ("idle_sessions_days", ""),
        ],
    },
    ServerFn {
        path: "/api/webhooks/list",
        access: Access::Read,
        object: false,
        args: &[],
    },
    ServerFn {
        path: "/api/webhooks/get",
        access: Access::Read,
        object: true,
        args: &[("id", "{webhook}"), ("delivery", "{delivery}")],
    },
    ServerFn {
        path: "/api/webhooks/create",
        access: Access::Write,
        object: false,
        args: &[
            ("name", "Server fn hook"),
            ("url", "{receiver}"),
            ("event_types", "identity.*"),
            ("description", ""),
        ],
    },
    ServerFn {
        path: "/api/webhooks/update",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{webhook}"),
            ("name", "Table hook"),
            ("url", "{receiver}"),
            ("event_types", "*"),
            ("description", "Changed by the table"),
        ],
    },
    ServerFn {
        path: "/api/webhooks/set_enabled",
        access: Access::Write,
        object: true,
        args: &[("id", "{webhook}"), ("enabled", "true")],
    },
    ServerFn {
        path: "/api/webhooks/ping",
        access: Access::Write,
        object: true,
        args: &[("id", "{webhook}")],
    },
    ServerFn {
        path: "/api/webhooks/retry",
        access: Access::Write,
        object: true,
        args: &[("id", "{delivery}")],
    },
    ServerFn {
        path: "/api/webhooks/replay",
        access: Access::Write,
        object: true,
        args: &[
            ("id", "{webhook}"),
            ("from", "2020-01-01T00:00"),
            ("to", "2100-01-01T00:00"),
        ],
    },
    ServerFn {
        path: "/api/webhooks/rotate",
        access: Access::Write,
        object: true,
        args: &[("id", "{webhook}"), ("overlap_hours", "1")],
    },
    // Last: they remove what the rows above use.
    ServerFn {
        path: "/api/webhooks/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{webhook}")],
    },
    ServerFn {
        path: "/api/sso/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{provider}")],
    },
    ServerFn {
        path: "/api/roles/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{role}")],
    },
    ServerFn {
        path: "/api/policies/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{policy}")],
    },
    ServerFn {
        path: "/api/groups/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{group}")],
    },
    ServerFn {
        path: "/api/invitations/revoke",
        access: Access::Write,
        object: true,
        args: &[("id", "{invitation}")],
    },
    ServerFn {
        path: "/api/memories/delete",
        access: Access::Write,
        object: true,
        args: &[("id", "{memory}"), ("mode", "trash")],
    },
    ServerFn {
        path: "/api/memories/empty_trash",
        access: Access::Write,
        object: false,
        args: &[],
    },
    // Changes the caller's password (viewer's, then owner's); their sessions stay signed in.
    ServerFn {
        path: "/api/account/password",
        access: Access::Read,
        object: false,
        args: &[
            ("current_password", crate::helpers::PASSWORD),
            ("new_password", "a new password for the table"),
        ],
    },
    // Last: the owner's call erases the target.
    ServerFn {
        path: "/api/identities/erase",
        access: Access::Write,
        object: true,
        // The address `/api/identities/update` gave the target.
        args: &[("id", "{id}"), ("confirm", "target@acme.test")],
    },
];

/// A webhook of the target tenant subscribed to everything (so its own creation made a
/// delivery), and that delivery, for the webhook routes and server functions.
async fn table_webhook(app: &TestApp, owner: &service::Ctx) -> (uuid::Uuid, uuid::Uuid) {
    let webhook = service::webhooks::create(
        owner,
        &app.db,
        service::webhooks::Input {
            name: Some("Table hook".into()),
            url: Some(crate::helpers::receiver().url("table")),
            event_types: Some(vec!["*".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .subscription;
    let delivery = newest_id(
        app,
        "select id from webhook_deliveries where tenant_id = $1 order by id desc limit 1",
    )
    .await;
    (webhook.id, delivery)
}

/// The first id `sql` (with the target tenant as `$1`) finds, read past row-level security.
async fn newest_id(app: &TestApp, sql: &'static str) -> uuid::Uuid {
    let mut su = <sqlx::PgConnection as sqlx::Connection>::connect(&app.db_url)
        .await
        .unwrap();
    sqlx::query_scalar(sql)
        .bind(app.acme.id)
        .fetch_one(&mut su)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_route_is_in_the_table() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .get("/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    // Browser routes under /auth are in the table, not in the API's document.
    let table: BTreeSet<(String, String)> = routes()
        .iter()
        .filter(|r| !r.path.starts_with("/auth/"))
        .map(|r| (r.method.to_owned(), openapi_path(r.path)))
        .collect();
    let missing: Vec<_> = documented.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the isolation table: {missing:?}"
    );
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "table rows for routes that do not exist: {stale:?}"
    );

    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_owned())
        .collect();
    let listed: BTreeSet<String> = SERVER_FNS.iter().map(|f| f.path.to_owned()).collect();
    let missing: Vec<_> = registered.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "server functions missing from the isolation table: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "table rows for server functions that do not exist: {stale:?}"
    );
}

/// A table path as the OpenAPI document spells it.
fn openapi_path(path: &str) -> String {
    path.replace("{role}", "{id}")
        .replace("{key}", "{id}")
        .replace("{session}", "{id}")
        .replace("{invitation}", "{id}")
        .replace("{group}", "{id}")
        .replace("{policy}", "{id}")
        .replace("{provider}", "{id}")
        .replace("{memory}", "{id}")
        .replace("{audit}", "{id}")
        .replace("{event}", "{id}")
        .replace("{webhook}", "{id}")
        .replace("{delivery}", "{id}")
        .replace("{export}", "{id}")
        .replace("{keyjob}", "{id}")
        .replace("{member}", "{identity_id}")
        .replace("{tenant}", "{id}")
        .replace("{plan}", "{name}")
        .replace("/versions/1/", "/versions/{version}/")
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

#[tokio::test]
async fn routes_answer_401_404_403_as_the_table_says() {
    let app = TestApp::spawn().await;
    let (target, _) = app.member(&app.acme, "member").await;
    let (_, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &viewer_email).await;
    let outsider = app.owner_token(&app.globex).await;
    let owner = app.owner_token(&app.acme).await;
    let role = service::roles::create(
        &crate::helpers::owner_ctx(&app.db, &app.acme).await,
        &app.db,
        service::roles::RoleInput {
            name: "table-role".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let owner_ctx = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let group = service::groups::create(
        &owner_ctx,
        &app.db,
        service::groups::GroupInput {
            name: Some("Table group".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    service::groups::add_members(&owner_ctx, &app.db, group.id, vec![target])
        .await
        .unwrap();
    let policy = service::policies::create(
        &owner_ctx,
        &app.db,
        service::policies::PolicyInput {
            name: Some("Table policy".into()),
            effect: Some("allow".into()),
            resource_pattern: Some("settings".into()),
            action_pattern: Some("manage".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let key = service::api_keys::create(
        &owner_ctx,
        &app.db,
        service::api_keys::NewApiKey {
            name: "table key".into(),
            scopes: vec!["*:read".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let sso_provider = service::sso::create(
        &owner_ctx,
        &app.db,
        service::sso::ProviderInput {
            name: Some("Table IdP".into()),
            issuer: Some(crate::helpers::oidc_provider().issuer()),
            client_id: Some("table-client".into()),
            client_secret: Some("table-secret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let invitation = service::invitations::create(
        &owner_ctx,
        &app.db,
        service::invitations::NewInvitation {
            email: "invited@example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let memory = service::memories::create(
        &owner_ctx,
        &app.db,
        service::memories::NewMemory {
            text: "The table's memory.".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_memory();
    // An export of the target tenant's owner, for the export routes.
    let export = service::privacy::export::start(&owner_ctx, &app.db, app.acme.owner_id)
        .await
        .unwrap()
        .export
        .id;
    // A key job of the target tenant, for the key-job routes.
    let keyjob = service::privacy::keyjobs::start(
        &owner_ctx,
        &app.db,
        service::privacy::keyjobs::Kind::Seal,
    )
    .await
    .unwrap()
    .id;
    // A console session of the owner, for the session routes.
    let _console = app.console_session("acme", "owner@acme.test").await;
    let session: uuid::Uuid =
        sqlx::query_scalar("select public_id from sessions where identity_id = $1")
            .bind(app.acme.owner_id)
            .fetch_one(app.db.pool_for_tests())
            .await
            .unwrap();
    // An audit record of the target tenant, for the audit routes.
    let audit = newest_id(
        &app,
        "select id from audit_log where tenant_id = $1 order by seq desc limit 1",
    )
    .await;

    // An event of the target tenant, for the event routes.
    let event = newest_id(
        &app,
        "select id from outbox_events where tenant_id = $1 order by id desc limit 1",
    )
    .await;

    let (webhook, delivery) = table_webhook(&app, &owner_ctx).await;

    // For each permission a route checks, an identity holding every permission but that one.
    let mut lacking: std::collections::HashMap<&'static str, String> = Default::default();
    for r in routes() {
        let Some(p) = permission_of(r.method, r.path) else {
            continue;
        };
        if lacking.contains_key(p) {
            continue;
        }
        let permissions = service::authz::catalog::all()
            .map(|q| q.to_key())
            .filter(|q| q != p)
            .map(|q| (q, Effect::Allow))
            .collect();
        let name = format!("all-but-{}", p.replace([':', '_'], "-"));
        service::roles::create(
            &owner_ctx,
            &app.db,
            service::roles::RoleInput {
                name: name.clone(),
                permissions,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let (_, email) = app.member(&app.acme, &name).await;
        lacking.insert(p, app.token("acme", &email).await);
    }

    let substitute = |text: &str| {
        text.replace("{id}", &target.to_string())
            .replace("{member}", &target.to_string())
            .replace("{role}", &role.id.to_string())
            .replace("{group}", &group.id.to_string())
            .replace("{policy}", &policy.id.to_string())
            .replace("{key}", &key.key.id.to_string())
            .replace("{session}", &session.to_string())
            .replace("{invitation}", &invitation.id.to_string())
            .replace("{provider}", &sso_provider.id.to_string())
            .replace("{memory}", &memory.id.to_string())
            .replace("{audit}", &audit.to_string())
            .replace("{event}", &event.to_string())
            .replace("{webhook}", &webhook.to_string())
            .replace("{delivery}", &delivery.to_string())
            .replace("{export}", &export.to_string())
            .replace("{keyjob}", &keyjob.to_string())
            .replace("{token}", "ex1.bogus")
            .replace("{receiver}", &crate::helpers::receiver().url("table"))
            .replace("{tenant}", &app.acme.id.to_string())
            .replace("{plan}", "table-plan")
            .replace("{issuer}", &crate::helpers::oidc_provider().issuer())
    };
    for r in routes() {
        let path = substitute(r.path);
        let call = |token: Option<String>| {
            let body = r
                .body
                .map(|b| serde_json::from_str::<Value>(&substitute(&b().to_string())).unwrap());
            let m = method(r.method);
            let path = path.clone();
            let app = &app;
            async move { app.send(m, &path, token.as_deref(), body).await.status() }
        };
        let label = format!("{} {}", r.method, r.path);

        let anonymous = call(None).await;
        match r.access {
            Access::Public => assert_ne!(
                anonymous,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{label} anonymous"
            ),
            _ => assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{label} anonymous"),
        }

        let other_tenant = call(Some(outsider.clone())).await;
        if r.access == Access::SuperAdmin {
            assert_eq!(
                other_tenant,
                StatusCode::FORBIDDEN,
                "{label} as a tenant owner"
            );
        } else if r.object {
            assert_eq!(
                other_tenant,
                StatusCode::NOT_FOUND,
                "{label} as another tenant's owner"
            );
        }

        let as_viewer = call(Some(viewer.clone())).await;
        match r.access {
            Access::Write | Access::SuperAdmin => {
                assert_eq!(as_viewer, StatusCode::FORBIDDEN, "{label} as a viewer")
            }
            Access::Read => assert!(as_viewer.is_success(), "{label} as a viewer: {as_viewer}"),
            Access::Public => {}
        }

        // The permission column: holding everything but the route's permission is not enough.
        if let Some(p) = permission_of(r.method, r.path) {
            let without = call(Some(lacking[p].clone())).await;
            assert_eq!(without, StatusCode::FORBIDDEN, "{label} without {p}");
        }

        // The NUL column: a NUL in any string or key of the input is a 422 naming the
        // field, for anyone the route lets in, never a 500 (17 routes answered 500).
        let entitled = match r.access {
            Access::SuperAdmin => Some(ADMIN_TOKEN.to_owned()),
            Access::Read | Access::Write => Some(owner.clone()),
            Access::Public => None,
        };
        if let Some(b) = r.body {
            let body = serde_json::from_str::<Value>(&substitute(&b().to_string())).unwrap();
            let (body, field) = with_nul(body);
            let res = app
                .send(method(r.method), &path, entitled.as_deref(), Some(body))
                .await;
            assert_eq!(
                res.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{label} with a NUL in {field}"
            );
            let problem = crate::helpers::problem(res).await;
            assert_eq!(problem["errors"][0]["field"], field.as_str(), "{label}");
            assert_eq!(problem["errors"][0]["code"], "nul_character", "{label}");
        }

        // And the permitted caller gets through (the target may be in the trash by now).
        let permitted = match r.access {
            Access::SuperAdmin => call(Some(ADMIN_TOKEN.to_owned())).await,
            Access::Read | Access::Write => call(Some(owner.clone())).await,
            Access::Public => continue,
        };
        assert!(
            permitted.is_success() || permitted == StatusCode::CONFLICT,
            "{label} as a permitted caller: {permitted}"
        );
        // A NUL in a query parameter is never a 500 either (a 422 where the route reads
        // its query).
        let body = r
            .body
            .map(|b| serde_json::from_str::<Value>(&substitute(&b().to_string())).unwrap());
        let sep = if path.contains('?') { '&' } else { '?' };
        let res = app
            .send(
                method(r.method),
                &format!("{path}{sep}q=a%00b"),
                entitled.as_deref(),
                body,
            )
            .await;
        assert_ne!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{label} with a NUL in the query"
        );
    }
}

/// `body` with a NUL put into its first string (or, with none, a key holding one), and the
/// name of that field as an error names it.
fn with_nul(mut body: Value) -> (Value, String) {
    fn first_string(v: &mut Value, path: String) -> Option<String> {
        match v {
            Value::String(s) => {
                s.push('\u{0}');
                Some(if path.is_empty() { "body".into() } else { path })
            }
            Value::Array(items) => items
                .iter_mut()
                .enumerate()
                .find_map(|(i, v)| first_string(v, format!("{path}[{i}]"))),
            Value::Object(map) => map.iter_mut().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                first_string(v, here)
            }),
            _ => None,
        }
    }
    if let Some(field) = first_string(&mut body, String::new()) {
        return (body, field);
    }
    if let Value::Object(map) = &mut body {
        map.insert("bad\u{0}key".into(), json!(1));
    }
    (body, "bad\u{FFFD}key".into())
}

#[tokio::test]
async fn server_functions_answer_401_404_403_as_the_table_says() {
    let app = TestApp::spawn().await;
    let (target, _) = app.member(&app.acme, "member").await;
    let (_, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.console_session("acme", &viewer_email).await;
    let outsider = app.console_session("globex", "owner@globex.test").await;
    let owner = app.console_session("acme", "owner@acme.test").await;
    let anonymous = reqwest::Client::new();
    let owner_ctx = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let role = service::roles::create(
        &owner_ctx,
        &app.db,
        service::roles::RoleInput {
            name: "table-role".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let group = service::groups::create(
        &owner_ctx,
        &app.db,
        service::groups::GroupInput {
            name: Some("Table group".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    service::groups::add_members(&owner_ctx, &app.db, group.id, vec![target])
        .await
        .unwrap();
    let policy = service::policies::create(
        &owner_ctx,
        &app.db,
        service::policies::PolicyInput {
            name: Some("Table policy".into()),
            effect: Some("allow".into()),
            resource_pattern: Some("settings".into()),
            action_pattern: Some("manage".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let key = service::api_keys::create(
        &owner_ctx,
        &app.db,
        service::api_keys::NewApiKey {
            name: "table key".into(),
            scopes: vec!["*:read".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sso_provider = service::sso::create(
        &owner_ctx,
        &app.db,
        service::sso::ProviderInput {
            name: Some("Table IdP".into()),
            issuer: Some(crate::helpers::oidc_provider().issuer()),
            client_id: Some("table-client".into()),
            client_secret: Some("table-secret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let invitation = service::invitations::create(
        &owner_ctx,
        &app.db,
        service::invitations::NewInvitation {
            email: "invited@example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Another console session of the owner, for the row that ends one.
    let _spare = app.console_session("acme", "owner@acme.test").await;
    let spare_session: uuid::Uuid = sqlx::query_scalar(
        "select public_id from sessions where identity_id = $1 order by created_at desc limit 1",
    )
    .bind(app.acme.owner_id)
    .fetch_one(app.db.pool_for_tests())
    .await
    .unwrap();
    let memory = service::memories::create(
        &owner_ctx,
        &app.db,
        service::memories::NewMemory {
            text: "The table's memory.".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_memory();
    let audit = newest_id(
        &app,
        "select id from audit_log where tenant_id = $1 order by seq desc limit 1",
    )
    .await;
    let (webhook, delivery) = table_webhook(&app, &owner_ctx).await;
    let export = service::privacy::export::start(&owner_ctx, &app.db, target)
        .await
        .unwrap()
        .export
        .id;
    let substitute = |text: &str| {
        text.replace("{id}", &target.to_string())
            .replace("{webhook}", &webhook.to_string())
            .replace("{delivery}", &delivery.to_string())
            .replace("{export}", &export.to_string())
            .replace("{receiver}", &crate::helpers::receiver().url("table"))
            .replace("{tenant}", &app.acme.id.to_string())
            .replace("{plan}", "table-plan")
            .replace("{role}", &role.id.to_string())
            .replace("{group}", &group.id.to_string())
            .replace("{policy}", &policy.id.to_string())
            .replace("{key}", &key.key.id.to_string())
            .replace("{session}", &spare_session.to_string())
            .replace("{invitation}", &invitation.id.to_string())
            .replace("{tenant}", &app.acme.id.to_string())
            .replace("{provider}", &sso_provider.id.to_string())
            .replace("{memory}", &memory.id.to_string())
            .replace("{audit}", &audit.to_string())
            .replace("{issuer}", &crate::helpers::oidc_provider().issuer())
    };

    for f in SERVER_FNS {
        let args: Vec<(&str, String)> = f.args.iter().map(|(k, v)| (*k, substitute(v))).collect();
        let call = |client: &reqwest::Client| {
            let request = if f.path == "/api/audit/export" {
                client.get(app.url(f.path)).query(&args)
            } else {
                client.post(app.url(f.path)).form(&args)
            };
            request.header("origin", app.url("")).send()
        };
        // The NUL column: a NUL in an argument is a 422 naming it, never a 500, before
        // the function runs (so for anyone).
        if let Some((name, value)) = args.first() {
            let mut nul_args = args.clone();
            nul_args[0] = (name, format!("{value}\u{0}"));
            let request = if f.path == "/api/audit/export" {
                owner.get(app.url(f.path)).query(&nul_args)
            } else {
                owner.post(app.url(f.path)).form(&nul_args)
            };
            let res = request.header("origin", app.url("")).send().await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{} with a NUL in {name}",
                f.path
            );
            let error: Value = res.json().await.unwrap();
            assert_eq!(error["fields"][0]["field"], *name, "{}", f.path);
        }
        let anon = call(&anonymous).await.unwrap().status();
        match f.access {
            Access::Public => assert_ne!(
                anon,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{} anonymous",
                f.path
            ),
            _ => assert_eq!(anon, StatusCode::UNAUTHORIZED, "{} anonymous", f.path),
        }
        if f.access == Access::Public {
            continue;
        }
        if f.object {
            assert_eq!(
                call(&outsider).await.unwrap().status(),
                StatusCode::NOT_FOUND,
                "{} as another tenant",
                f.path
            );
        }
        let as_viewer = call(&viewer).await.unwrap().status();
        match f.access {
            Access::Write => assert_eq!(as_viewer, StatusCode::FORBIDDEN, "{} as a viewer", f.path),
            _ => assert!(
                as_viewer.is_success(),
                "{} as a viewer: {as_viewer}",
                f.path
            ),
        }
        let permitted = call(&owner).await.unwrap().status();
        assert!(
            permitted.is_success() || permitted == StatusCode::CONFLICT,
            "{} as the owner: {permitted}",
            f.path
        );
    }
}
