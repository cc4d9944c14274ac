//! API credentials: short-lived JWT access tokens (EdDSA, with `kid`) and opaque refresh
//! tokens that rotate on every use. Presenting a refresh token that was already rotated
//! means it leaked: the whole family is revoked (RFC 9700, section 4.14.2).
//!
//! A refresh token reads `rt1.` + base64url(tenant id ‖ token id ‖ 32 random bytes); the
//! database keeps only the SHA-256 of the random part.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hashlink::LruCache;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::keys::KeyRing;
use crate::crypto::{constant_time_eq, random_bytes, sha256};
use crate::ctx::{AuthMethod, Caller, Ctx, Principal};
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::{shapes, types};

pub const ISSUER: &str = "tenantry";
pub const AUDIENCE: &str = "tenantry-api";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The identity.
    pub sub: Uuid,
    /// The tenant.
    pub tid: Uuid,
    /// Names of the roles the identity holds (directly or through groups).
    pub roles: Vec<String>,
    pub plan: String,
    pub scope: String,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

/// How many verified access tokens one instance remembers.
const VERIFIED_CAPACITY: usize = 50_000;
/// Seconds an access token is still accepted after its `exp` (clock skew between instances).
const LEEWAY_SECS: i64 = 30;

#[derive(Clone)]
pub struct Tokens {
    pub keys: KeyRing,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// Access tokens whose signature, issuer and audience this instance has checked, by
    /// their exact text: presenting the same bytes again costs a lookup, not a signature
    /// check. Only the expiry is checked again.
    verified: Arc<Mutex<LruCache<String, Arc<Claims>>>>,
}

impl Tokens {
    pub fn new(keys: KeyRing, access_ttl_secs: i64, refresh_ttl_secs: i64) -> Tokens {
        Tokens {
            keys,
            access_ttl_secs,
            refresh_ttl_secs,
            verified: Arc::new(Mutex::new(LruCache::new(VERIFIED_CAPACITY))),
        }
    }

    fn remembered(&self, token: &str) -> Option<Arc<Claims>> {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    pub fn issue_access(&self, caller: &Caller) -> Result<String> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: caller.identity_id,
            tid: caller.tenant_id,
            roles: caller.role_names(),
            plan: caller.plan.as_str().into(),
            scope: "api".into(),
            jti: Uuid::now_v7(),
            iat: now,
            exp: now + self.access_ttl_secs,
        };
        let (kid, key) = self.keys.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| Error::internal("sign access token", e))
    }

    /// Checks signature, issuer, audience and expiry. Any failure is 401, never a detail.
    pub async fn verify_access(&self, token: &str) -> Result<Arc<Claims>> {
        if let Some(claims) = self.remembered(token) {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            return if claims.exp + LEEWAY_SECS >= now {
                Ok(claims)
            } else {
                Err(Error::Unauthenticated)
            };
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::Unauthenticated)?;
        if header.alg != Algorithm::EdDSA {
            return Err(Error::Unauthenticated);
        }
        let kid = header.kid.ok_or(Error::Unauthenticated)?;
        let key = self
            .keys
            .verifying(&kid)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECS as u64;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| Arc::new(data.claims))
            .map_err(|_| Error::Unauthenticated)?;
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    /// Signs `caller` in for the API: a new token family.
    pub async fn issue_pair(&self, ctx: &Ctx, db: &Db, caller: &Caller) -> Result<TokenPair> {
        let mut tx = db.change_in(ctx, caller.tenant_id).await?;
        let family = Uuid::now_v7();
        let refresh = insert_refresh(&mut tx, caller, family, self.refresh_ttl_secs).await?;
        tx.record(Change {
            action: types::AUTH_TOKEN_ISSUED,
            target_type: "identity",
            target_id: Some(caller.identity_id),
            before: None,
            after: Some(shapes::to_value(shapes::TokenFamilyData {
                family_id: family,
            })),
        })
        .await?;
        tx.commit().await?;
        self.pair(caller, refresh)
    }

    fn pair(&self, caller: &Caller, refresh_token: String) -> Result<TokenPair> {
        Ok(TokenPair {
            access_token: self.issue_access(caller)?,
            token_type: "Bearer",
            expires_in: self.access_ttl_secs,
            refresh_token,
            refresh_expires_in: self.refresh_ttl_secs,
        })
    }

    /// Signs an API client out: the presented refresh token's whole family is revoked, so
    /// neither it nor any token rotated from it works again. An unknown or already revoked
    /// token changes nothing and is not an error (logging out twice is fine).
    pub async fn logout(&self, request: &Ctx, db: &Db, presented: &str) -> Result<()> {
        let Some((tenant_id, token_id, secret)) = parse_refresh(presented) else {
            return Ok(());
        };
        let mut tx = db.begin_tenant(tenant_id).await?;
        let Some(row) = sqlx::query!(
            "select family_id, identity_id, token_hash from refresh_tokens
             where tenant_id = $1 and id = $2 for update",
            tenant_id,
            token_id
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(());
        };
        if !constant_time_eq(&row.token_hash, &sha256(&secret)) {
            return Ok(());
        }
        let ctx = Ctx {
            principal: Principal::System,
            ..request.clone()
        };
        let mut tx = ChangeTx::wrap(tx, &ctx, tenant_id, db);
        let revoked = sqlx::query!(
            "update refresh_tokens set revoked_at = now()
             where tenant_id = $1 and family_id = $2 and revoked_at is null",
            tenant_id,
            row.family_id
        )
        .execute(tx.conn())
        .await?
        .rows_affected();
        if revoked == 0 {
            return Ok(());
        }
        tx.record(Change {
            action: types::AUTH_LOGGED_OUT,
            target_type: "identity",
            target_id: Some(row.identity_id),
            before: None,
            after: Some(shapes::to_value(shapes::TokenFamilyData {
                family_id: row.family_id,
            })),
        })
        .await?;
        tx.commit().await
    }

    /// Rotates a refresh token: the presented one is spent, a new one of the same family
    /// comes back with a fresh access token.
    pub async fn refresh(&self, request: &Ctx, db: &Db, presented: &str) -> Result<TokenPair> {
        let (tenant_id, token_id, secret) =
            parse_refresh(presented).ok_or(Error::Unauthenticated)?;
        let mut tx = db.begin_tenant(tenant_id).await?;
        let row = sqlx::query!(
            r#"select family_id, identity_id, token_hash, expires_at, used_at, revoked_at
               from refresh_tokens where tenant_id = $1 and id = $2 for update"#,
            tenant_id,
            token_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::Unauthenticated)?;
        if !constant_time_eq(&row.token_hash, &sha256(&secret)) || row.revoked_at.is_some() {
            return Err(Error::Unauthenticated);
        }
        let caller = super::load_caller_in(
            &mut tx,
            db,
            tenant_id,
            row.identity_id,
            AuthMethod::AccessToken,
        )
        .await?;
        let ctx = Ctx {
            principal: match &caller {
                Some(c) => Principal::Member(Box::new(c.clone())),
                None => Principal::System,
            },
            ..request.clone()
        };
        let mut tx = ChangeTx::wrap(tx, &ctx, tenant_id, db);
        let reused = row.used_at.is_some();
        if reused || caller.is_none() {
            sqlx::query!(
                "update refresh_tokens set revoked_at = now()
                 where tenant_id = $1 and family_id = $2 and revoked_at is null",
                tenant_id,
                row.family_id
            )
            .execute(tx.conn())
            .await?;
            tx.record(Change {
                action: if reused {
                    types::AUTH_REFRESH_TOKEN_REUSED
                } else {
                    types::AUTH_TOKEN_FAMILY_REVOKED
                },
                target_type: "identity",
                target_id: Some(row.identity_id),
                before: None,
                after: Some(shapes::to_value(shapes::TokenFamilyData {
                    family_id: row.family_id,
                })),
            })
            .await?;
            tx.commit().await?;
            if reused {
                tracing::warn!(tenant = %tenant_id, family = %row.family_id, "refresh token reuse: family revoked");
            }
            return Err(Error::Unauthenticated);
        }
        if row.expires_at <= OffsetDateTime::now_utc() {
            return Err(Error::Unauthenticated);
        }
        let caller = caller.expect("checked above");
        sqlx::query!(
            "update refresh_tokens set used_at = now() where tenant_id = $1 and id = $2",
            tenant_id,
            token_id
        )
        .execute(tx.conn())
        .await?;
        let refresh =
            insert_refresh(&mut tx, &caller, row.family_id, self.refresh_ttl_secs).await?;
        tx.record(Change {
            action: types::AUTH_TOKEN_REFRESHED,
            target_type: "identity",
            target_id: Some(caller.identity_id),
            before: None,
            after: Some(shapes::to_value(shapes::TokenFamilyData {
                family_id: row.family_id,
            })),
        })
        .await?;
        tx.commit().await?;
        self.pair(&caller, refresh)
    }
}

async fn insert_refresh(
    tx: &mut ChangeTx<'_>,
    caller: &Caller,
    family: Uuid,
    ttl_secs: i64,
) -> Result<String> {
    let id = Uuid::now_v7();
    let secret: [u8; 32] = random_bytes();
    let hash = sha256(&secret);
    sqlx::query!(
        "insert into refresh_tokens (tenant_id, id, family_id, identity_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
        caller.tenant_id,
        id,
        family,
        caller.identity_id,
        hash.as_slice(),
        ttl_secs as f64
    )
    .execute(tx.conn())
    .await?;
    Ok(format_refresh(caller.tenant_id, id, &secret))
}

fn format_refresh(tenant_id: Uuid, id: Uuid, secret: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(64);
    raw.extend_from_slice(tenant_id.as_bytes());
    raw.extend_from_slice(id.as_bytes());
    raw.extend_from_slice(secret);
    format!("rt1.{}", URL_SAFE_NO_PAD.encode(raw))
}

fn parse_refresh(token: &str) -> Option<(Uuid, Uuid, [u8; 32])> {
    let raw = URL_SAFE_NO_PAD.decode(token.strip_prefix("rt1.")?).ok()?;
    if raw.len() != 64 {
        return None;
    }
    let tenant = Uuid::from_slice(&raw[..16]).ok()?;
    let id = Uuid::from_slice(&raw[16..32]).ok()?;
    let secret: [u8; 32] = raw[32..].try_into().ok()?;
    Some((tenant, id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_format_roundtrip() {
        let (t, i, s) = (Uuid::now_v7(), Uuid::now_v7(), random_bytes::<32>());
        let token = format_refresh(t, i, &s);
        assert!(token.starts_with("rt1."));
        assert_eq!(parse_refresh(&token), Some((t, i, s)));
        assert_eq!(parse_refresh("rt1.AAAA"), None);
        assert_eq!(parse_refresh(&token[1..]), None);
    }
}
