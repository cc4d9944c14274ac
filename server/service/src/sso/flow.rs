//! The sign-in flow: the authorization code flow with PKCE (S256), state and nonce.
//!
//! [`begin`] picks the provider, makes the secrets of one attempt ([`Pending`], which the
//! door keeps in the browser's session, so a response can only finish the attempt that
//! the same browser started) and the provider's authorization URL. [`finish`] checks the
//! response (state, RFC 9207 `iss`), exchanges the code, verifies the ID token (signature,
//! issuer, audience, expiry, nonce) and decides who signs in:
//!
//! 1. a subject linked before signs in as its identity, whatever its email says now;
//! 2. otherwise the email must be verified by the provider and in an allowed domain; an
//!    invitation being accepted creates its identity (the invited address only); an
//!    identity with that email is linked; or, with just-in-time provisioning, a new one
//!    is created with the provider's default role;
//! 3. anything else is refused with a page that says why.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim};
use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::oidc::{Metadata, describe};
use super::{Kind, Loaded, load_one, secret_context};
use crate::crypto::constant_time_eq;
use crate::ctx::{AuthMethod, Caller, Ctx, Principal};
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::{shapes, types};
use crate::privacy::envelope::Place;
use crate::{identities, invitations, roles};

/// The callback URL under this server's public URL: where providers send the browser back,
/// and what admins register at each provider.
pub fn callback_url(public_url: &str) -> String {
    format!("{}/auth/oidc/callback", public_url.trim_end_matches('/'))
}

/// How long a browser has between leaving for the provider and coming back.
pub const ATTEMPT_SECS: i64 = 600;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One sign-in attempt's secrets, kept server-side in the browser's session between the
/// redirect to the provider and the callback.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub tenant_id: Uuid,
    /// For the way back to the tenant's sign-in page.
    pub tenant_slug: String,
    pub provider_id: Uuid,
    pub issuer: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go once signed in (a local path, checked by the door).
    pub next: Option<String>,
    /// Keep the tenants this browser is already signed in to (tenant switching).
    pub add_tenant: bool,
    /// An invitation token being accepted through SSO.
    pub invitation: Option<String>,
    pub started_at: i64,
}

/// What the person asked for on the page that sent them.
#[derive(Clone, Debug, Default)]
pub struct Start {
    pub next: Option<String>,
    pub add_tenant: bool,
    pub invitation: Option<String>,
}

#[derive(Debug)]
pub struct Begun {
    /// The provider's authorization endpoint with every parameter; send the browser there.
    pub authorize_url: String,
    pub pending: Pending,
}

fn refused(code: &'static str, message: impl Into<String>) -> Error {
    Error::Refused {
        code,
        message: message.into(),
    }
}

/// The tenant holding provider `id` and its slug (a global lookup; everything else is read
/// under RLS).
async fn tenant_of(db: &Db, id: Uuid) -> Result<(Uuid, String)> {
    let row = sqlx::query!(
        "select p.tenant_id, t.slug from sso_provider_tenants p join tenants t on t.id = p.tenant_id
         where p.id = $1",
        id
    )
    .fetch_optional(db.pool())
    .await?
    .ok_or(Error::NotFound {
        resource: "identity provider",
    })?;
    Ok((row.tenant_id, row.slug))
}

/// The enabled provider `provider_id`, with its tenant's id and slug.
async fn load_enabled(db: &Db, provider_id: Uuid) -> Result<(Uuid, String, Loaded)> {
    let (tenant_id, tenant_slug) = tenant_of(db, provider_id).await?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let loaded = load_one(&mut tx, tenant_id, provider_id).await?;
    drop(tx);
    if !loaded.provider.enabled {
        return Err(refused(
            "sso_provider_disabled",
            format!(
                "Sign-in with {} is turned off for this tenant. Sign in with your password, or ask an administrator.",
                loaded.provider.name
            ),
        ));
    }
    Ok((tenant_id, tenant_slug, loaded))
}

async fn metadata(db: &Db, loaded: &Loaded, fresh: bool) -> Result<std::sync::Arc<Metadata>> {
    db.sso()
        .discover(&loaded.provider.issuer, fresh)
        .await
        .map_err(|why| {
            tracing::warn!(issuer = %loaded.provider.issuer, error = %why, "OIDC discovery failed");
            refused(
                "sso_provider_unreachable",
                format!(
                    "{} could not be reached to sign you in. Try again in a moment, or sign in with your password.",
                    loaded.provider.name
                ),
            )
        })
}

fn client_for(
    db: &Db,
    tenant_id: Uuid,
    loaded: &Loaded,
    meta: &Metadata,
    redirect_uri: &str,
) -> Result<Client> {
    let secret = db.master_key()?.open(
        &loaded.sealed_secret,
        &secret_context(tenant_id, loaded.provider.id),
    )?;
    let secret = String::from_utf8(secret)
        .map_err(|_| Error::Internal("a client secret is not UTF-8".into()))?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| Error::internal("the SSO redirect URL", e))?;
    Ok(CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(loaded.provider.client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(redirect))
}

/// The ID token verifier of `client`, with this server's clock tolerance.
fn verifier<'a>(db: &Db, client: &'a Client) -> openidconnect::core::CoreIdTokenVerifier<'a> {
    client
        .id_token_verifier()
        .set_time_fn(db.sso().expiry_clock())
        .set_issue_time_verifier_fn(db.sso().issue_time_check())
}

/// Starts a sign-in with provider `provider_id`; `redirect_uri` is this server's callback
/// (`<public URL>/auth/oidc/callback`), registered at the provider.
pub async fn begin(db: &Db, provider_id: Uuid, redirect_uri: &str, start: Start) -> Result<Begun> {
    let (tenant_id, tenant_slug, loaded) = load_enabled(db, provider_id).await?;
    if let Some(token) = &start.invitation {
        let (invited_tenant, _, _) = invitations::parse_token(token).ok_or(Error::NotFound {
            resource: "invitation",
        })?;
        if invited_tenant != tenant_id {
            return Err(Error::NotFound {
                resource: "invitation",
            });
        }
    }
    let meta = metadata(db, &loaded, false).await?;
    let client = client_for(db, tenant_id, &loaded, &meta, redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in loaded.provider.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if loaded.provider.kind == Kind::Google {
        // Google's account chooser, narrowed to the one Workspace domain when there is one.
        request = request.add_extra_param("prompt", "select_account");
        if let [domain] = loaded.provider.allowed_domains.as_slice() {
            request = request.add_extra_param("hd", domain.clone());
        }
    }
    let (url, state, nonce) = request.url();
    Ok(Begun {
        authorize_url: url.to_string(),
        pending: Pending {
            tenant_id,
            tenant_slug,
            provider_id,
            issuer: loaded.provider.issuer.clone(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next: start.next,
            add_tenant: start.add_tenant,
            invitation: start.invitation,
            started_at: OffsetDateTime::now_utc().unix_timestamp(),
        },
    })
}

/// The query of the provider's redirect to the callback.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Who the provider says signed in, after every check.
#[derive(Debug, Clone)]
struct Verified {
    subject: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
}

/// Finishes the attempt `pending` with the provider's response; the caller signed in.
/// The tenant's audit trail records the outcome (`auth.signed_in`, or
/// `auth.sign_in_failed` with the refusal's code and message).
pub async fn finish(
    request: &Ctx,
    db: &Db,
    pending: &Pending,
    redirect_uri: &str,
    callback: Callback,
) -> Result<Caller> {
    let method = format!("sso ({})", pending.issuer);
    match finish_attempt(request, db, pending, redirect_uri, callback).await {
        Ok(caller) => {
            crate::auth::audit_sign_in(
                db,
                request,
                caller.tenant_id,
                Some(caller.identity_id),
                &method,
                Ok(()),
            )
            .await?;
            Ok(caller)
        }
        Err(e) => {
            if let Error::Refused { code, message } = &e {
                // The page shows the person the address they came with; the trail keeps it
                // masked (it may name someone who has no account here).
                let reason = format!("{code}: {}", crate::mail::mask_addresses(message));
                let recorded = crate::auth::audit_sign_in(
                    db,
                    request,
                    pending.tenant_id,
                    None,
                    &method,
                    Err(("", reason.as_str())),
                )
                .await;
                if let Err(audit) = recorded {
                    tracing::error!(error = %audit, "recording a failed SSO sign-in failed");
                }
            }
            Err(e)
        }
    }
}

async fn finish_attempt(
    request: &Ctx,
    db: &Db,
    pending: &Pending,
    redirect_uri: &str,
    callback: Callback,
) -> Result<Caller> {
    let age = OffsetDateTime::now_utc().unix_timestamp() - pending.started_at;
    if !(0..=ATTEMPT_SECS).contains(&age) {
        return Err(refused(
            "sso_expired",
            "The sign-in took too long. Start again.",
        ));
    }
    let presented = callback.state.as_deref().unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), pending.state.as_bytes()) {
        return Err(refused(
            "sso_state_mismatch",
            "This sign-in response does not belong to the sign-in this browser started. Start again from the sign-in page.",
        ));
    }
    if let Some(error) = &callback.error {
        let detail: String = callback
            .error_description
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let error: String = error
            .chars()
            .filter(char::is_ascii_graphic)
            .take(60)
            .collect();
        return Err(refused(
            "sso_provider_error",
            if detail.is_empty() {
                format!("The identity provider did not sign you in ({error}).")
            } else {
                format!("The identity provider did not sign you in ({error}: {detail}).")
            },
        ));
    }
    let (tenant_id, _, loaded) = load_enabled(db, pending.provider_id).await?;
    if tenant_id != pending.tenant_id || loaded.provider.issuer != pending.issuer {
        return Err(refused(
            "sso_provider_changed",
            "The identity provider was changed while you were signing in. Start again.",
        ));
    }
    let meta = metadata(db, &loaded, false).await?;
    // RFC 9207: the response names its issuer, which must be the one we sent the browser
    // to; a provider that says it always sends `iss` must not leave it out.
    match &callback.iss {
        Some(iss) if iss != &pending.issuer => {
            return Err(refused(
                "sso_issuer_mismatch",
                "This sign-in response came from a different identity provider than the one you chose.",
            ));
        }
        None if meta
            .additional_metadata()
            .authorization_response_iss_parameter_supported =>
        {
            return Err(refused(
                "sso_issuer_mismatch",
                "The identity provider's response did not say who sent it.",
            ));
        }
        _ => {}
    }
    let code = callback.code.filter(|c| !c.is_empty()).ok_or_else(|| {
        refused(
            "sso_no_code",
            "The identity provider sent no authorization code.",
        )
    })?;
    let verified = exchange(db, tenant_id, &loaded, meta, redirect_uri, pending, code).await?;
    resolve(request, db, tenant_id, &loaded, pending, verified).await
}

async fn exchange(
    db: &Db,
    tenant_id: Uuid,
    loaded: &Loaded,
    meta: std::sync::Arc<Metadata>,
    redirect_uri: &str,
    pending: &Pending,
    code: String,
) -> Result<Verified> {
    let name = &loaded.provider.name;
    let client = client_for(db, tenant_id, loaded, &meta, redirect_uri)?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Error::internal("token endpoint", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(db.sso().http())
        .await
        .map_err(|e| {
            let why = match &e {
                RequestTokenError::ServerResponse(r) => format!("{r}"),
                other => describe(other),
            };
            tracing::warn!(provider = %loaded.provider.id, error = %why, "SSO code exchange failed");
            refused(
                "sso_exchange_failed",
                format!("{name} did not accept this sign-in. Start again."),
            )
        })?;
    let id_token = token.id_token().ok_or_else(|| {
        refused(
            "sso_token_invalid",
            format!("{name} sent no ID token. Check that the openid scope is allowed."),
        )
    })?;
    let nonce = Nonce::new(pending.nonce.clone());
    let mut claims = id_token.claims(&verifier(db, &client), &nonce).cloned();
    if matches!(
        claims,
        Err(ClaimsVerificationError::SignatureVerification(_))
    ) {
        // The provider may have rotated its keys since they were cached: fetch them once.
        let fresh = db
            .sso()
            .discover(&loaded.provider.issuer, true)
            .await
            .map_err(|_| {
                refused(
                    "sso_provider_unreachable",
                    format!("{name} could not be reached."),
                )
            })?;
        let client = client_for(db, tenant_id, loaded, &fresh, redirect_uri)?;
        claims = id_token.claims(&verifier(db, &client), &nonce).cloned();
    }
    let claims = claims.map_err(|e| {
        tracing::warn!(provider = %loaded.provider.id, error = %e, "SSO ID token refused");
        match e {
            ClaimsVerificationError::InvalidNonce(_) => refused(
                "sso_nonce_mismatch",
                "The identity provider's answer was made for another sign-in attempt (nonce mismatch). Start again.",
            ),
            ClaimsVerificationError::Expired(_) => refused(
                "sso_token_invalid",
                "The identity provider's ID token has expired. Check this server's clock and start again.",
            ),
            other => refused(
                "sso_token_invalid",
                format!("The identity provider's ID token did not verify: {other}."),
            ),
        }
    })?;
    let mut verified = Verified {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_lowercase()),
        email_verified: claims.email_verified() == Some(true),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
    };
    if verified.email.is_none() {
        // Some providers keep the email for the userinfo endpoint.
        if let Ok(request) = client.user_info(
            AccessToken::new(token.access_token().secret().clone()),
            Some(SubjectIdentifier::new(verified.subject.clone())),
        ) {
            let info: std::result::Result<
                UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim>,
                _,
            > = request.request_async(db.sso().http()).await;
            match info {
                Ok(info) => {
                    verified.email = info.email().map(|e| e.as_str().to_lowercase());
                    verified.email_verified = info.email_verified() == Some(true);
                    if verified.name.is_none() {
                        verified.name = info
                            .name()
                            .and_then(|n| n.get(None))
                            .map(|n| n.as_str().to_owned());
                    }
                }
                Err(e) => {
                    tracing::warn!(provider = %loaded.provider.id, error = %describe(&e), "SSO userinfo failed")
                }
            }
        }
    }
    Ok(verified)
}

/// Decides who signs in (see the module comment) and signs them in.
async fn resolve(
    request: &Ctx,
    db: &Db,
    tenant_id: Uuid,
    loaded: &Loaded,
    pending: &Pending,
    who: Verified,
) -> Result<Caller> {
    let provider = &loaded.provider;
    if let Some(email) = &who.email
        && !provider.allows_email(email)
    {
        return Err(refused(
            "sso_domain_not_allowed",
            format!(
                "Only addresses at {} can sign in with {}; you signed in as {email}.",
                provider.allowed_domains.join(", "),
                provider.name
            ),
        ));
    }
    if who.email.is_none() && !provider.allowed_domains.is_empty() {
        return Err(refused(
            "sso_domain_not_allowed",
            format!(
                "{} did not say which email address you signed in with.",
                provider.name
            ),
        ));
    }
    let system = Ctx {
        principal: Principal::System,
        ..request.clone()
    };

    // 1. A subject seen before.
    let mut tx = db.begin_tenant(tenant_id).await?;
    let linked = sqlx::query!(
        "select l.identity_id, i.status from sso_links l
         join identities i on i.tenant_id = l.tenant_id and i.id = l.identity_id
         where l.tenant_id = $1 and l.provider_id = $2 and l.subject = $3 for update of l",
        tenant_id,
        provider.id,
        who.subject
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(link) = linked {
        if pending.invitation.is_some() {
            return Err(refused(
                "sso_already_member",
                "You already belong to this tenant through this identity provider. Sign in instead of accepting the invitation.",
            ));
        }
        if link.status != "active" {
            return Err(disabled());
        }
        let sealed = match &who.email {
            Some(email) => {
                let keys = db.keyring().tenant_in(&mut tx, tenant_id).await?;
                Some(
                    seal_link_email(
                        &mut tx,
                        &keys,
                        tenant_id,
                        (provider.id, &who.subject),
                        link.identity_id,
                        email,
                    )
                    .await?,
                )
            }
            None => None,
        };
        sqlx::query!(
            "update sso_links
             set last_login_at = now(),
                 email = case when $4::bytea is null then email end,
                 email_sealed = coalesce($4, email_sealed)
             where tenant_id = $1 and provider_id = $2 and subject = $3",
            tenant_id,
            provider.id,
            who.subject,
            sealed
        )
        .execute(&mut *tx)
        .await?;
        let caller = signed_in(&mut tx, db, tenant_id, link.identity_id).await?;
        tx.commit().await?;
        return Ok(caller);
    }

    // 2. A first sign-in: a verified email decides.
    let email = match (&who.email, who.email_verified) {
        (Some(email), true) => email.clone(),
        (Some(email), false) => {
            return Err(refused(
                "sso_email_unverified",
                format!(
                    "{} has not verified {email}. Verify the address with the identity provider, then sign in again.",
                    provider.name
                ),
            ));
        }
        (None, _) => {
            return Err(refused(
                "sso_email_missing",
                format!(
                    "{} did not share your email address. Allow the email scope and try again.",
                    provider.name
                ),
            ));
        }
    };
    let display_name = who
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());

    if let Some(token) = &pending.invitation {
        // The invitation's own transaction (it locks the invitation) replaces this one.
        drop(tx);
        let (mut tx, identity) =
            invitations::accept_in(&system, db, token, &display_name, None, Some(&email)).await?;
        link(&mut tx, provider.id, &who.subject, identity.id, &email).await?;
        let caller = signed_in(tx.conn(), db, tenant_id, identity.id).await?;
        tx.commit().await?;
        return Ok(caller);
    }

    let mut tx = ChangeTx::wrap(tx, &system, tenant_id, db);
    let keys = tx.keys().await?;
    let existing = sqlx::query!(
        "select id, status from identities
         where tenant_id = $1 and (email_index = $3 or lower(email) = $2) and kind = 'user'
         for update",
        tenant_id,
        email,
        identities::sealed::email_index(&keys, &email),
    )
    .fetch_optional(tx.conn())
    .await?;
    let identity_id = match existing {
        Some(found) if found.status != "active" => return Err(disabled()),
        Some(found) => found.id,
        None if provider.jit_provisioning => {
            let role = match loaded.default_role_id {
                Some(role_id) => roles::by_id(tx.conn(), tenant_id, role_id)
                    .await?
                    .into_iter()
                    .collect(),
                None => Vec::new(),
            };
            identities::insert_joining(&mut tx, &email, &display_name, None, &role)
                .await?
                .id
        }
        None => {
            return Err(refused(
                "sso_no_account",
                format!(
                    "There is no account for {email} in this tenant. Ask an administrator for an invitation."
                ),
            ));
        }
    };
    link(&mut tx, provider.id, &who.subject, identity_id, &email).await?;
    let caller = signed_in(tx.conn(), db, tenant_id, identity_id).await?;
    tx.commit().await?;
    Ok(caller)
}

fn disabled() -> Error {
    refused(
        "sso_account_disabled",
        "Your account in this tenant is disabled or deleted. Ask an administrator to restore it.",
    )
}

async fn link(
    tx: &mut ChangeTx<'_>,
    provider_id: Uuid,
    subject: &str,
    identity_id: Uuid,
    email: &str,
) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let keys = tx.keys().await?;
    let sealed = seal_link_email(
        tx.conn(),
        &keys,
        tenant_id,
        (provider_id, subject),
        identity_id,
        email,
    )
    .await?;
    sqlx::query!(
        "insert into sso_links (tenant_id, provider_id, subject, identity_id, email_sealed)
         values ($1, $2, $3, $4, $5)",
        tenant_id,
        provider_id,
        subject,
        identity_id,
        sealed
    )
    .execute(tx.conn())
    .await?;
    tx.record(Change {
        action: types::IDENTITY_SSO_LINKED,
        target_type: "identity",
        target_id: Some(identity_id),
        before: None,
        after: Some(shapes::to_value(shapes::SsoLinkData {
            provider_id,
            subject,
            email: Some(email),
        })),
    })
    .await
}

/// The caller `identity_id` becomes, read in the sign-in's own transaction.
async fn signed_in(
    conn: &mut sqlx::PgConnection,
    db: &Db,
    tenant_id: Uuid,
    identity_id: Uuid,
) -> Result<Caller> {
    crate::auth::load_caller_in(conn, db, tenant_id, identity_id, AuthMethod::Session)
        .await?
        .ok_or_else(disabled)
}

/// Where a link's email is sealed: the link, named by provider and subject.
pub(crate) fn link_place(tenant: Uuid, provider_id: Uuid, subject: &str) -> Place<'static> {
    Place {
        tenant,
        table: "sso_links",
        column: "email",
        row: link_row(provider_id, subject),
    }
}

/// A link's name as an envelope's row: the first 16 bytes of SHA-256 of its provider and
/// subject.
fn link_row(provider_id: Uuid, subject: &str) -> Uuid {
    let mut named = provider_id.as_bytes().to_vec();
    named.extend_from_slice(subject.as_bytes());
    let digest = crate::crypto::sha256(&named);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// Seals up to `limit` SSO links that still hold the address their provider vouched for in
/// plain text (written before field-level encryption), skipping rows another transaction
/// holds; returns how many it sealed (see `privacy::keyjobs`).
pub(crate) async fn seal_plain(
    conn: &mut sqlx::PgConnection,
    keys: &crate::privacy::keys::TenantKeys,
    tenant: Uuid,
    limit: i64,
) -> Result<u64> {
    let rows = sqlx::query!(
        r#"select provider_id, subject, identity_id, email as "email!" from sso_links
           where tenant_id = $1 and email is not null
           order by provider_id, subject limit $2 for update skip locked"#,
        tenant,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let sealed = seal_link_email(
            &mut *conn,
            keys,
            tenant,
            (r.provider_id, &r.subject),
            r.identity_id,
            &r.email,
        )
        .await?;
        sqlx::query!(
            "update sso_links set email = null, email_sealed = $4
             where tenant_id = $1 and provider_id = $2 and subject = $3",
            tenant,
            r.provider_id,
            r.subject,
            sealed
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len() as u64)
}

/// The address a provider vouched for, sealed under the linked person's key.
async fn seal_link_email(
    conn: &mut sqlx::PgConnection,
    keys: &crate::privacy::keys::TenantKeys,
    tenant: Uuid,
    (provider_id, subject): (Uuid, &str),
    identity_id: Uuid,
    email: &str,
) -> Result<Vec<u8>> {
    let key = crate::identities::sealed::subject_key(conn, keys, tenant, identity_id).await?;
    Ok(keys.seal_for_subject(
        &key,
        link_place(tenant, provider_id, subject),
        email.as_bytes(),
    ))
}
