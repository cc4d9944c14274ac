//! The `/v1` JSON API. Every route is registered through `OpenApiRouter::routes`, so the
//! OpenAPI document lists every route there is, and the isolation test walks that list.

pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod decisions;
pub mod events;
pub mod groups;
pub mod identities;
pub mod invitations;
pub mod limits;
pub mod me;
pub mod memories;
pub mod policies;
pub mod privacy;
pub mod roles;
pub mod sessions;
pub mod sso;
pub mod tenants;
pub mod webhooks;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tenantry API", description = "Identities, access control and memories for every tenant."),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Access and refresh tokens"),
        (name = "identities", description = "People and agents of a tenant"),
        (name = "roles", description = "Roles, their permissions, and who holds them"),
        (name = "groups", description = "The group tree, memberships and group roles"),
        (name = "policies", description = "Allow and deny policies, their versions, and the decision point"),
        (name = "api_keys", description = "Keys for programs: `Authorization: Bearer tnr_...` or `X-API-Key: tnr_...`"),
        (name = "invitations", description = "Invite people by email; validate and accept invitations"),
        (name = "sessions", description = "Console sessions: list, revoke one or all"),
        (name = "sso", description = "Single sign-on: the tenant's OpenID Connect providers, and signing in through them"),
        (name = "memories", description = "Memories of identities: store, search by meaning or words, expire, delete and restore"),
        (name = "audit", description = "The audit trail: a hash chain per tenant, verified on demand"),
        (name = "events", description = "The event stream: every change as a typed event, by type, identity and time"),
        (name = "webhooks", description = "Webhooks: events posted to your URLs, signed per Standard Webhooks, retried, logged"),
        (name = "limits", description = "Rate limits and plan quotas: the tenant's own, with its use"),
        (name = "privacy", description = "A person's data as a whole: export it (once-only link, published JSON Schema), erase it"),
        (name = "admin", description = "Tenants, plans and limits (super-admin)"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `/v1` routes (relative paths) and their OpenAPI document (with `/v1` server prefix).
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::token))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::password_reset))
        .routes(routes!(auth::password_reset_confirm))
        .routes(routes!(identities::list, identities::create))
        .routes(routes!(
            identities::get,
            identities::update,
            identities::delete
        ))
        .routes(routes!(identities::restore))
        .routes(routes!(identities::erase))
        .routes(routes!(privacy::start))
        .routes(routes!(privacy::get))
        .routes(routes!(privacy::download))
        .routes(routes!(privacy::schema))
        .routes(routes!(privacy::get_retention, privacy::put_retention))
        .routes(routes!(privacy::get_encryption))
        .routes(routes!(privacy::start_key_job))
        .routes(routes!(privacy::get_key_job))
        .routes(routes!(me::me, me::update_me))
        .routes(routes!(me::change_password))
        .routes(routes!(sessions::list, sessions::revoke_all))
        .routes(routes!(sessions::revoke))
        .routes(routes!(sessions::logout))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(limits::mine))
        .routes(routes!(limits::list_plans))
        .routes(routes!(
            limits::get_plan,
            limits::put_plan,
            limits::delete_plan
        ))
        .routes(routes!(
            limits::tenant_limits,
            limits::set_tenant_limits,
            limits::clear_tenant_limits
        ))
        .routes(routes!(limits::overview))
        .routes(routes!(roles::catalogue))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(roles::permissions, roles::set_permissions))
        .routes(routes!(roles::identity_roles, roles::set_identity_roles))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::tree))
        .routes(routes!(groups::get, groups::update, groups::delete))
        .routes(routes!(groups::members, groups::add_members))
        .routes(routes!(groups::remove_member))
        .routes(routes!(groups::roles, groups::set_roles))
        .routes(routes!(policies::list, policies::create))
        .routes(routes!(policies::bulk))
        .routes(routes!(policies::get, policies::update, policies::delete))
        .routes(routes!(policies::versions))
        .routes(routes!(policies::restore))
        .routes(routes!(decisions::check))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::validate))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::get, invitations::revoke))
        .routes(routes!(invitations::resend))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::test))
        .routes(routes!(api_keys::get, api_keys::update, api_keys::revoke))
        .routes(routes!(sso::list, sso::create))
        .routes(routes!(sso::get, sso::update, sso::delete))
        .routes(routes!(memories::list, memories::create))
        .routes(routes!(memories::search))
        .routes(routes!(memories::bulk_create, memories::bulk_delete))
        .routes(routes!(memories::status))
        .routes(routes!(memories::settings))
        .routes(routes!(memories::get, memories::update, memories::delete))
        .routes(routes!(memories::restore))
        .routes(routes!(audit_log::list))
        .routes(routes!(audit_log::verify))
        .routes(routes!(audit_log::export))
        .routes(routes!(audit_log::get))
        .routes(routes!(events::list))
        .routes(routes!(events::types))
        .routes(routes!(events::stats))
        .routes(routes!(events::get))
        .routes(routes!(events::for_identity))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::stats))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::replay))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::delivery))
        .routes(routes!(webhooks::retry))
        .split_for_parts();
    // Paths in the document are absolute, like the routes callers use.
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(p, item)| (format!("/v1{p}"), item))
        .collect();
    (router, doc)
}
