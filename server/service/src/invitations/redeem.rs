//! Redeeming an invitation's link: what the accept page shows, and accepting it (by
//! password or through SSO), cheap checks first.

use super::*;

/// What the accept page shows about a token, whatever its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub status: Status,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub email: String,
    pub inviter_name: Option<String>,
    pub roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The invitation a token opens, locked for the rest of `tx` when `lock`.
pub(super) async fn open_token(
    tx: &mut PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant_id: Uuid,
    id: Uuid,
    secret: &[u8; 32],
) -> Result<Invitation> {
    let hash = sqlx::query_scalar!(
        "select token_hash from invitations where tenant_id = $1 and id = $2 for update",
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    // The same work either way, and the same answer: unknown and forged look alike.
    let presented = sha256(secret);
    match hash {
        Some(h) if constant_time_eq(&h, &presented) => fetch(tx, keyring, tenant_id, id).await,
        _ => Err(Error::NotFound {
            resource: "invitation",
        }),
    }
}

/// Checks a token without using it (anyone holding the link may).
pub async fn validate(db: &Db, token: &str) -> Result<Preview> {
    let _slot = db.anonymous_slot().await?;
    let (tenant_id, id, secret) = parse_token(token).ok_or(Error::NotFound {
        resource: "invitation",
    })?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let invitation = open_token(&mut tx, db.keyring(), tenant_id, id, &secret).await?;
    let tenant = sqlx::query!("select slug, name from tenants where id = $1", tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(Preview {
        status: invitation.status,
        tenant_slug: tenant.slug,
        tenant_name: tenant.name,
        email: invitation.email,
        inviter_name: invitation.inviter_name,
        roles: invitation.roles,
        expires_at: invitation.expires_at,
    })
}

#[derive(Debug, Clone)]
pub struct Acceptance {
    pub token: String,
    pub display_name: String,
    pub password: String,
}

/// Accepts an invitation: creates the identity with the invited roles and groups and its
/// password, uses up the token, and returns the new member, signed in by the door that
/// called (a console session, or a token pair). `request` carries the client's address
/// for the audit trail.
///
/// Cheap checks come first: the client's throttle, then the token (a bogus or spent one
/// costs a lookup, never a hash), then the input, and the password is hashed last.
pub async fn accept(request: &Ctx, db: &Db, input: Acceptance) -> Result<Caller> {
    let _slot = db.anonymous_slot().await?;
    let keys: Vec<throttle::Key> = request.ip.map(throttle::Key::ip).into_iter().collect();
    let admitted = throttle::attempt(db.pool(), &keys).await?;
    if let Err(e) = check_usable(db, &input.token).await {
        admitted.finish(false).await?;
        return Err(e);
    }
    admitted.finish(true).await?;
    let mut errors = Vec::new();
    let display_name =
        validation::text("display_name", &input.display_name, 200, true, &mut errors);
    validation::password("password", &input.password, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let password_hash = passwords::hash(input.password).await?;
    let ctx = Ctx {
        principal: Principal::System,
        ..request.clone()
    };
    let (tx, identity) = accept_in(
        &ctx,
        db,
        &input.token,
        display_name.as_deref().unwrap_or_default(),
        Some(password_hash),
        None,
    )
    .await?;
    let tenant_id = tx.tenant_id;
    tx.commit().await?;
    crate::auth::load_caller(db, tenant_id, identity.id, AuthMethod::Session)
        .await?
        .ok_or_else(|| Error::Internal("the invited identity is not active".into()))
}

/// Fails unless `token` opens a pending invitation (read only: accepting checks again).
pub(super) async fn check_usable(db: &Db, token: &str) -> Result<()> {
    let (tenant_id, id, secret) = parse_token(token).ok_or(Error::NotFound {
        resource: "invitation",
    })?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let invitation = open_token(&mut tx, db.keyring(), tenant_id, id, &secret).await?;
    usable(&invitation)
}

/// Only a pending invitation can be accepted; the others say why not.
pub(super) fn usable(invitation: &Invitation) -> Result<()> {
    let closed = |code: &'static str, message: &str| Error::Conflict {
        code,
        message: message.into(),
        field: None,
    };
    match invitation.status {
        Status::Pending => Ok(()),
        Status::Accepted => Err(closed(
            "invitation_used",
            "This invitation was already accepted. Sign in instead.",
        )),
        Status::Expired => Err(closed(
            "invitation_expired",
            "This invitation has expired. Ask for a new one.",
        )),
        Status::Revoked => Err(closed(
            "invitation_revoked",
            "This invitation was withdrawn.",
        )),
    }
}

/// Uses up an invitation inside a transaction the caller commits: the identity with the
/// invited roles and groups, and the token marked accepted. `verified_email`, for a
/// sign-in through SSO, must be the invited address.
pub(crate) async fn accept_in<'c>(
    ctx: &'c Ctx,
    db: &Db,
    token: &str,
    display_name: &str,
    password_hash: Option<String>,
    verified_email: Option<&str>,
) -> Result<(ChangeTx<'c>, identities::Identity)> {
    let (tenant_id, id, secret) = parse_token(token).ok_or(Error::NotFound {
        resource: "invitation",
    })?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let invitation = open_token(&mut tx, db.keyring(), tenant_id, id, &secret).await?;
    usable(&invitation)?;
    if let Some(email) = verified_email
        && !email.eq_ignore_ascii_case(&invitation.email)
    {
        return Err(Error::Refused {
            code: "sso_invitation_email_mismatch",
            message: format!(
                "This invitation is for {}, but the identity provider signed you in as {email}.",
                invitation.email
            ),
        });
    }
    let mut tx = ChangeTx::wrap(tx, ctx, tenant_id, db);
    // Roles deleted since the invitation was sent are skipped, not refused.
    let granted = roles::existing(tx.conn(), tenant_id, &invitation.roles).await?;
    let identity = identities::insert_joining(
        &mut tx,
        &invitation.email,
        display_name,
        password_hash,
        &granted,
    )
    .await?;
    sqlx::query!(
        "insert into group_members (tenant_id, group_id, identity_id)
         select $1, g.id, $2 from groups g where g.tenant_id = $1 and g.id = any($3)
         on conflict do nothing",
        tenant_id,
        identity.id,
        &invitation.group_ids
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "update invitations set accepted_at = now(), accepted_by = $3 where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        identity.id
    )
    .execute(tx.conn())
    .await?;
    tx.record(Change {
        action: types::INVITATION_ACCEPTED,
        target_type: "invitation",
        target_id: Some(id),
        before: Some(invitation.snapshot()),
        after: Some(shapes::to_value(shapes::IdentityRefData {
            identity_id: identity.id,
        })),
    })
    .await?;
    Ok((tx, identity))
}
