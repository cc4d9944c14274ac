//! Who is calling: the principal, plus the request facts every audit record carries.
//! Both doors build a `Ctx` from their transport and pass it first to every service call.

use std::net::IpAddr;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::authz::engine::Compiled;

use crate::error::{Error, Result};

/// A plan's name (`free`, `pro`, `enterprise`, or one the operator made): plans are rows
/// of the `plans` table (see [`crate::limits::plans`]); a name is 1-32 lowercase letters,
/// digits and dashes, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "pro"))]
#[serde(transparent)]
pub struct Plan(std::borrow::Cow<'static, str>);

impl Plan {
    pub const FREE: Plan = Plan(std::borrow::Cow::Borrowed("free"));
    pub const PRO: Plan = Plan(std::borrow::Cow::Borrowed("pro"));
    pub const ENTERPRISE: Plan = Plan(std::borrow::Cow::Borrowed("enterprise"));

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A well-formed plan name (whether such a plan exists is the database's to say).
    pub fn parse(s: &str) -> Option<Plan> {
        let b = s.as_bytes();
        let ok = (1..=32).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        ok.then(|| Plan(std::borrow::Cow::Owned(s.to_owned())))
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a tenant member proved who they are on this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Session,
    AccessToken,
    ApiKey,
}

/// What an API key adds to its identity: the key, and the scopes that narrow what it may
/// do (`memories:read`, `memories:*`, `*:read`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyGrant {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    /// The key's own rate limit, when it has one (on top of its identity's).
    #[serde(skip)]
    pub limit: Option<crate::limits::Limit>,
}

impl KeyGrant {
    /// Whether one of the key's scopes matches `permission`.
    pub fn allows(&self, permission: crate::authz::Permission) -> bool {
        self.scopes
            .iter()
            .any(|s| scope_matches(s, permission.module, permission.action))
    }
}

/// Whether a `module:action` pattern (either side may be `*`) matches.
pub fn scope_matches(scope: &str, module: &str, action: &str) -> bool {
    match scope.split_once(':') {
        Some((m, a)) => (m == "*" || m == module) && (a == "*" || a == action),
        None => false,
    }
}

/// A signed-in member of a tenant, as loaded fresh from the database on each request so that
/// a disabled identity or a changed role takes effect at once, together with the tenant's
/// compiled access-control data that decides what the caller may do.
#[derive(Clone)]
pub struct Caller {
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub plan: Plan,
    pub identity_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub kind: String,
    pub metadata: serde_json::Value,
    /// Roles held directly.
    pub roles: Vec<Uuid>,
    /// Groups the caller is a member of.
    pub groups: Vec<Uuid>,
    pub external_id: Option<String>,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
    pub tenant_created_at: time::OffsetDateTime,
    pub via: AuthMethod,
    /// Set when the caller is an API key acting for this identity.
    pub api_key: Option<KeyGrant>,
    pub authz: Arc<Compiled>,
}

impl Caller {
    /// What screens and mails call the caller (see [`crate::identities::label_of`]).
    pub fn label(&self) -> String {
        crate::identities::label_of(
            &self.display_name,
            self.email.as_deref(),
            None,
            self.identity_id,
        )
    }

    /// The names of every role the caller holds, directly or through groups.
    pub fn role_names(&self) -> Vec<String> {
        self.authz
            .effective_roles(&self.roles, &self.groups)
            .into_iter()
            .filter_map(|r| self.authz.role_name(r).map(str::to_owned))
            .collect()
    }

    /// Whether the caller holds the owner role (directly or through a group).
    pub fn is_owner(&self) -> bool {
        self.authz
            .is_owner(&self.authz.effective_roles(&self.roles, &self.groups))
    }
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("tenant", &self.tenant_slug)
            .field("identity_id", &self.identity_id)
            .field("roles", &self.roles)
            .field("via", &self.via)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Caller {
    fn eq(&self, other: &Self) -> bool {
        self.tenant_id == other.tenant_id
            && self.identity_id == other.identity_id
            && self.via == other.via
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    Anonymous,
    /// A member of one tenant.
    Member(Box<Caller>),
    /// The cross-tenant operator (bearer `TENANTRY_ADMIN_TOKEN`): may manage tenants, and
    /// nothing inside them.
    SuperAdmin,
    /// The server itself or its command line (seeding, `tenantry tenant create`).
    System,
}

#[derive(Debug, Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub request_id: String,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The stored key of the console session this request came with (to mark and spare
    /// the current session).
    pub session_key: Option<Vec<u8>>,
    /// Where this request's denied authorizations are recorded: the HTTP layer sets it, so
    /// every denial a member meets is in the audit trail (service tests and the server's
    /// own work leave it unset).
    pub audit: Option<crate::Db>,
}

impl Ctx {
    pub fn new(principal: Principal, request_id: impl Into<String>) -> Self {
        Ctx {
            principal,
            request_id: request_id.into(),
            ip: None,
            user_agent: None,
            session_key: None,
            audit: None,
        }
    }

    /// The context of the server acting on its own (CLI, seeding, background work).
    pub fn system() -> Self {
        Ctx::new(Principal::System, format!("system-{}", Uuid::now_v7()))
    }

    pub fn with_client(mut self, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent;
        self
    }

    pub fn with_session(mut self, session_key: Option<Vec<u8>>) -> Self {
        self.session_key = session_key;
        self
    }

    /// Records this request's denied authorizations in `db`'s audit trail.
    pub fn with_audit(mut self, db: crate::Db) -> Self {
        self.audit = Some(db);
        self
    }

    pub fn caller(&self) -> Result<&Caller> {
        match &self.principal {
            Principal::Member(caller) => Ok(caller),
            Principal::Anonymous => Err(Error::Unauthenticated),
            Principal::SuperAdmin | Principal::System => Err(Error::Forbidden {
                action: "act inside a tenant without being its member".into(),
            }),
        }
    }

    /// The tenant this caller works in; every tenant query is scoped by it.
    pub fn tenant_id(&self) -> Result<Uuid> {
        self.caller().map(|c| c.tenant_id)
    }

    /// The (type, id) pair recorded as the actor of audit records.
    pub fn actor(&self) -> (&'static str, Option<Uuid>) {
        match &self.principal {
            Principal::Member(c) => match &c.api_key {
                Some(key) => ("api_key", Some(key.id)),
                None => ("identity", Some(c.identity_id)),
            },
            Principal::SuperAdmin => ("super_admin", None),
            Principal::System | Principal::Anonymous => ("system", None),
        }
    }
}

/// The id of the request being served: accepted from `X-Request-Id` or generated, echoed in
/// the response, in every log line and in every error body. The HTTP layer puts it in the
/// request's extensions and in this task-local for the request's future.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

tokio::task_local! {
    pub static REQUEST_ID: RequestId;
}

/// The current request's id, when called inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|r| r.0.clone()).ok()
}
