//! Who is the caller: sign-in with a password, the caller loaded for each request from a
//! session or an access token, and the API's tokens.

pub mod callers;
pub mod keys;
pub mod passwords;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;

use sqlx::PgConnection;
use uuid::Uuid;

use self::callers::{CallerCache, Known};
use crate::authz::cache::AuthzCache;
use crate::ctx::{AuthMethod, Caller, Ctx, Plan};
use crate::db::Db;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct LoginInput {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// Checks a password sign-in. Every failure, whatever its cause (unknown tenant, unknown
/// email, wrong password, disabled identity), is the same `InvalidCredentials` and costs one
/// argon2 verification, so neither the answer nor its timing tells them apart.
///
/// The tenant's audit trail records each attempt: `auth.signed_in`, or
/// `auth.sign_in_failed` (outcome `failure`, actor `anonymous`) with why it failed and
/// either the identity tried (its target) or, when the address names nobody, the address, for the tenant's administrators only. Attempts the throttle turns away
/// and attempts at tenants that do not exist are logged, not recorded.
pub async fn login(db: &Db, request: &Ctx, input: LoginInput, via: AuthMethod) -> Result<Caller> {
    let slug = input.tenant.trim().to_lowercase();
    let email = input.email.trim().to_lowercase();
    let mut keys = vec![throttle::Key::account(&slug, &email)];
    if let Some(ip) = request.ip {
        keys.push(throttle::Key::ip(ip));
    }
    let admitted = throttle::attempt(db.pool(), &keys).await?;

    let tenant_id = sqlx::query_scalar!("select id from tenants where slug = $1", slug)
        .fetch_optional(db.pool())
        .await?;
    let found = match tenant_id {
        Some(tenant_id) => {
            let keys = db.tenant_keys(tenant_id).await?;
            let mut tx = db.begin_tenant(tenant_id).await?;
            sqlx::query!(
                "select id, password_hash, status from identities
                 where tenant_id = $1 and (email_index = $3 or lower(email) = $2)
                   and kind = 'user'",
                tenant_id,
                email,
                crate::identities::sealed::email_index(&keys, &email),
            )
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| (tenant_id, r.id, r.password_hash, r.status))
        }
        None => None,
    };
    let stored = found.as_ref().and_then(|f| f.2.clone());
    let verified = passwords::verify(stored, input.password).await;
    let ok = matches!(verified, Ok(true)) && found.as_ref().is_some_and(|f| f.3 == "active");
    admitted.finish(ok).await?;
    let verified = verified?;
    let method = match via {
        AuthMethod::Session => "password (console)",
        AuthMethod::AccessToken | AuthMethod::ApiKey => "password (API token)",
    };
    if !ok {
        tracing::info!(tenant = %slug, known = found.is_some(), "sign-in failed");
        if let Some(tenant_id) = tenant_id {
            let reason = match &found {
                None => "no user with this email",
                Some((_, _, None, _)) => {
                    "the account has no password (it signs in through SSO or has not accepted its invitation)"
                }
                Some(_) if !verified => "wrong password",
                Some(_) => "the account is not active",
            };
            // The address tried is kept only when it names nobody here (to spot guessing);
            // a known person's address is not copied into the trail: the record's target
            // names them.
            let email: String = match &found {
                None => email.chars().take(254).collect(),
                Some(_) => String::new(),
            };
            audit_sign_in(
                db,
                request,
                tenant_id,
                found.as_ref().map(|f| f.1),
                method,
                Err((email.as_str(), reason)),
            )
            .await?;
        }
        return Err(Error::InvalidCredentials);
    }
    let (tenant_id, identity_id, _, _) = found.expect("checked above");
    let caller = load_caller(db, tenant_id, identity_id, via)
        .await?
        .ok_or(Error::InvalidCredentials)?;
    audit_sign_in(db, request, tenant_id, Some(identity_id), method, Ok(())).await?;
    Ok(caller)
}

/// The audit record of one sign-in attempt: `Ok` when it succeeded, else the email tried
/// (empty when there was none) and why it failed.
pub(crate) async fn audit_sign_in(
    db: &Db,
    request: &Ctx,
    tenant_id: Uuid,
    identity_id: Option<Uuid>,
    method: &str,
    result: std::result::Result<(), (&str, &str)>,
) -> Result<()> {
    use crate::audit_log::{Occurrence, Origin, write_occurrence};
    let (origin, occurrence) = match (result, identity_id) {
        (Ok(()), Some(id)) => (
            Origin::identity(request, id),
            Occurrence {
                action: "auth.signed_in",
                target_type: "identity",
                target_id: Some(id),
                outcome: crate::audit_log::Outcome::Success,
                detail: serde_json::json!({ "method": method }),
            },
        ),
        (Ok(()), None) => return Err(Error::Internal("a sign-in without an identity".into())),
        (Err((email, reason)), id) => {
            let mut detail = serde_json::json!({ "method": method, "reason": reason });
            if !email.is_empty() {
                detail["email"] = email.into();
            }
            (
                Origin::anonymous(request),
                Occurrence {
                    action: "auth.sign_in_failed",
                    target_type: "identity",
                    target_id: id,
                    outcome: crate::audit_log::Outcome::Failure,
                    detail,
                },
            )
        }
    };
    write_occurrence(db, tenant_id, &origin, occurrence).await
}

/// The caller behind a session or an access token, if the identity is still active: from
/// this instance's memory when it has met them since their last change (see [`callers`]),
/// else read (one transaction).
pub async fn load_caller(
    db: &Db,
    tenant_id: Uuid,
    identity_id: Uuid,
    via: AuthMethod,
) -> Result<Option<Caller>> {
    if let Some(caller) = known_caller(db.callers(), db.authz(), tenant_id, identity_id, via) {
        return Ok(Some(caller));
    }
    let ticket = db.callers().ticket();
    let mut tx = db.begin_tenant(tenant_id).await?;
    let Some(known) = read_caller(&mut tx, db.keyring(), tenant_id, identity_id).await? else {
        return Ok(None);
    };
    let authz = db.authz().get(&mut tx, tenant_id).await?;
    let known = Arc::new(known);
    db.callers()
        .keep_caller(ticket, tenant_id, identity_id, known.clone());
    Ok(Some(caller_of(
        Known::clone(&known),
        tenant_id,
        identity_id,
        via,
        authz,
    )))
}

/// The caller from memory alone: `None` unless both the caller and their tenant's
/// compiled access control are kept.
pub fn known_caller(
    callers: &CallerCache,
    authz: &AuthzCache,
    tenant_id: Uuid,
    identity_id: Uuid,
    via: AuthMethod,
) -> Option<Caller> {
    let known = callers.caller(tenant_id, identity_id)?;
    let authz = authz.peek(tenant_id)?;
    Some(caller_of(
        Known::clone(&known),
        tenant_id,
        identity_id,
        via,
        authz,
    ))
}

/// The caller read in an open transaction, never from memory: sign-ins and token
/// refreshes, which must see what their own transaction sees.
pub(crate) async fn load_caller_in(
    conn: &mut PgConnection,
    db: &Db,
    tenant_id: Uuid,
    identity_id: Uuid,
    via: AuthMethod,
) -> Result<Option<Caller>> {
    let Some(known) = read_caller(conn, db.keyring(), tenant_id, identity_id).await? else {
        return Ok(None);
    };
    let authz = db.authz().get(conn, tenant_id).await?;
    Ok(Some(caller_of(known, tenant_id, identity_id, via, authz)))
}

fn caller_of(
    known: Known,
    tenant_id: Uuid,
    identity_id: Uuid,
    via: AuthMethod,
    authz: Arc<crate::authz::engine::Compiled>,
) -> Caller {
    Caller {
        tenant_id,
        tenant_slug: known.tenant_slug,
        tenant_name: known.tenant_name,
        plan: known.plan,
        identity_id,
        email: known.email,
        display_name: known.display_name,
        kind: known.kind,
        metadata: known.metadata,
        roles: known.roles,
        groups: known.groups,
        external_id: known.external_id,
        created_at: known.created_at,
        updated_at: known.updated_at,
        tenant_created_at: known.tenant_created_at,
        via,
        api_key: None,
        authz,
    }
}

/// The caller as stored, if the identity is active.
async fn read_caller(
    conn: &mut PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant_id: Uuid,
    identity_id: Uuid,
) -> Result<Option<Known>> {
    let row = sqlx::query!(
        r#"select t.slug, t.name, t.plan, t.created_at as tenant_created_at,
                  i.email, i.display_name, i.email_sealed, i.display_name_sealed,
                  (select sk.wrapped from subject_keys sk
                   where sk.tenant_id = i.tenant_id and sk.identity_id = i.id) as "subject_key?",
                  i.kind, i.metadata, i.external_id,
                  i.created_at, i.updated_at,
                  array(select ir.role_id from identity_roles ir
                        where ir.tenant_id = i.tenant_id and ir.identity_id = i.id) as "roles!",
                  array(select gm.group_id from group_members gm
                        where gm.tenant_id = i.tenant_id and gm.identity_id = i.id) as "groups!"
           from identities i join tenants t on t.id = i.tenant_id
           where i.tenant_id = $1 and i.id = $2 and i.status = 'active'"#,
        tenant_id,
        identity_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let stored = crate::identities::sealed::Stored {
        email: r.email,
        display_name: r.display_name,
        email_sealed: r.email_sealed,
        display_name_sealed: r.display_name_sealed,
        // Not needed to act as the caller, and not kept in memory with it.
        personal_metadata_sealed: None,
        subject_key: r.subject_key,
    };
    let keys = match stored.is_sealed() {
        true => Some(keyring.tenant_in(conn, tenant_id).await?),
        false => None,
    };
    let (email, display_name, _) = stored.open(keys.as_deref(), tenant_id, identity_id)?;
    Ok(Some(Known {
        tenant_slug: r.slug,
        tenant_name: r.name,
        plan: Plan::parse(&r.plan)
            .ok_or_else(|| Error::Internal(format!("unknown plan {}", r.plan)))?,
        email,
        display_name,
        kind: r.kind,
        metadata: r.metadata,
        roles: r.roles,
        groups: r.groups,
        external_id: r.external_id,
        created_at: r.created_at,
        updated_at: r.updated_at,
        tenant_created_at: r.tenant_created_at,
    }))
}
