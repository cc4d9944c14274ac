//! New identities: checked, authorized, hashed last; and the ones invitations, SSO and new
//! tenants bring.

use super::*;
use crate::limits::Quota;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewIdentity {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub kind: Option<Kind>,
    /// Role names; default `member`.
    pub roles: Option<Vec<String>>,
    pub metadata: Option<Value>,
    /// Metadata marked personal: sealed under the person's key (see [`Identity`]).
    pub personal_metadata: Option<Value>,
    /// An initial password for console sign-in; most identities get one through an invitation.
    pub password: Option<String>,
}

pub(super) struct ValidNew {
    pub(super) email: Option<String>,
    pub(super) display_name: String,
    pub(super) external_id: Option<String>,
    pub(super) kind: Kind,
    pub(super) roles: Vec<String>,
    pub(super) metadata: Value,
    pub(super) personal_metadata: Value,
    pub(super) password: Option<String>,
}

pub(super) fn validate_new(input: NewIdentity) -> Result<ValidNew> {
    let mut errors = Vec::new();
    let kind = input.kind.unwrap_or(Kind::User);
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(raw) => validation::email("email", raw, &mut errors),
        None if kind == Kind::User => {
            errors.push(FieldError::new(
                "email",
                "required",
                "A user needs an email address.",
            ));
            None
        }
        None => None,
    };
    let display_name = validation::text(
        "display_name",
        input.display_name.as_deref().unwrap_or(""),
        200,
        false,
        &mut errors,
    )
    .unwrap_or_default();
    if kind == Kind::Agent
        && display_name.is_empty()
        && errors.iter().all(|e| e.field != "display_name")
    {
        errors.push(FieldError::new(
            "display_name",
            "required",
            "An agent needs a name.",
        ));
    }
    let external_id = input
        .external_id
        .as_deref()
        .and_then(|raw| validation::text("external_id", raw, 255, false, &mut errors))
        .filter(|s| !s.is_empty());
    let metadata = input
        .metadata
        .unwrap_or_else(|| Value::Object(Default::default()));
    validation::metadata("metadata", &metadata, &mut errors);
    let personal_metadata = input
        .personal_metadata
        .unwrap_or_else(|| Value::Object(Default::default()));
    validation::metadata("personal_metadata", &personal_metadata, &mut errors);
    if let Some(pw) = input.password.as_deref().filter(|p| !p.is_empty()) {
        validation::password("password", pw, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let roles = match input.roles {
        Some(r) => r
            .into_iter()
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect(),
        None => vec!["member".to_owned()],
    };
    Ok(ValidNew {
        email,
        display_name,
        external_id,
        kind,
        roles,
        metadata,
        personal_metadata,
        password: input.password.filter(|p| !p.is_empty()),
    })
}

/// Another identity of the tenant has this address already.
pub(super) fn email_taken() -> Error {
    Error::Conflict {
        code: "email_taken",
        message:
            "An identity with this email already exists in this tenant (it may be in the trash)."
                .into(),
        field: Some("email"),
    }
}

pub(super) fn conflict_from(err: sqlx::Error) -> Error {
    match unique_violation(&err) {
        Some("identities_email_key" | "identities_email_index_key") => email_taken(),
        Some("identities_external_id_key") => Error::Conflict {
            code: "external_id_taken",
            message: "An identity with this external id already exists in this tenant.".into(),
            field: Some("external_id"),
        },
        _ => err.into(),
    }
}

/// Creates an identity. The order is the pipeline's: the caller's right to create (403),
/// then the input (422), then the roles it may hand out (403), and only then the costly
/// part, hashing a password.
pub async fn create(ctx: &Ctx, db: &Db, input: NewIdentity) -> Result<Identity> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        perm::IDENTITIES_CREATE,
        Target::collection(tenant_id, Identity::MODULE),
    )?;
    let valid = validate_new(input)?;
    let roles = {
        let mut tx = db.begin_tenant(tenant_id).await?;
        roles::by_names(&mut tx, tenant_id, &valid.roles, "roles").await?
    };
    if !roles.is_empty() {
        ctx.authorize(perm::ROLES_MANAGE, Target::collection(tenant_id, "roles"))?;
    }
    roles::authorize_grants(ctx, &roles)?;
    let password_hash = match &valid.password {
        Some(pw) => Some(passwords::hash(pw.clone()).await?),
        None => None,
    };
    let mut tx = db.change(ctx, perm::IDENTITIES_CREATE).await?;
    // Read again inside the change, where a role deleted meanwhile is an error.
    let roles = roles::by_names(tx.conn(), tenant_id, &valid.roles, "roles").await?;
    roles::authorize_grants(ctx, &roles)?;
    tx.within_quota(Quota::Identities, 1).await?;
    let identity = insert(&mut tx, &valid, password_hash, &roles).await?;
    tx.created(&identity).await?;
    tx.commit().await?;
    Ok(identity)
}

/// Writes a new identity, its email and display name sealed under a key of its own (stored
/// beside it in the same statement).
pub(super) async fn insert(
    tx: &mut ChangeTx<'_>,
    v: &ValidNew,
    password_hash: Option<String>,
    roles: &[roles::Role],
) -> Result<Identity> {
    let tenant_id = tx.tenant_id;
    let id = Uuid::now_v7();
    let keys = tx.keys().await?;
    let (subject, wrapped) = keys.new_subject_key(id);
    let s = sealed::seal(
        &keys,
        &subject,
        tenant_id,
        id,
        v.email.as_deref(),
        &v.display_name,
    );
    let personal = sealed::seal_personal(&keys, &subject, tenant_id, id, &v.personal_metadata);
    // A row the sealing job has not reached holds its address in plain text, where the
    // blind index's unique index does not see it.
    let written = sqlx::query!(
        "with i as (
             insert into identities
                 (tenant_id, id, external_id, email_sealed, display_name_sealed, email_index,
                  name_grams, kind, metadata, password_hash, personal_metadata_sealed)
             select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13
             where $11::text is null or not exists (
                 select 1 from identities o where o.tenant_id = $1 and lower(o.email) = $11)
             returning tenant_id, id)
         insert into subject_keys (tenant_id, identity_id, wrapped)
         select tenant_id, id, $12 from i",
        tenant_id,
        id,
        v.external_id,
        s.email,
        s.display_name,
        s.email_index,
        &s.name_grams,
        v.kind.as_str(),
        v.metadata,
        password_hash,
        s.email_lower,
        wrapped,
        personal,
    )
    .execute(tx.conn())
    .await
    .map_err(conflict_from)?;
    if written.rows_affected() == 0 {
        return Err(email_taken());
    }
    tx.remember_subject(id, subject);
    roles::grant_initial(tx, id, roles).await?;
    let (conn, keyring) = tx.parts();
    fetch(conn, keyring, tenant_id, id).await
}

/// Creates a person who came in by invitation or by a first sign-in through SSO, with
/// the given roles and (for invitations) a password, inside the caller's transaction.
pub(crate) async fn insert_joining(
    tx: &mut ChangeTx<'_>,
    email: &str,
    display_name: &str,
    password_hash: Option<String>,
    roles: &[roles::Role],
) -> Result<Identity> {
    let valid = ValidNew {
        email: Some(email.to_owned()),
        display_name: display_name.to_owned(),
        external_id: None,
        kind: Kind::User,
        roles: roles.iter().map(|r| r.name.clone()).collect(),
        metadata: Value::Object(Default::default()),
        personal_metadata: Value::Object(Default::default()),
        password: None,
    };
    tx.within_quota(Quota::Identities, 1).await?;
    let identity = insert(tx, &valid, password_hash, roles).await?;
    tx.created(&identity).await?;
    Ok(identity)
}

/// Creates the first owner of a freshly created tenant inside the tenant's own transaction.
pub(crate) async fn insert_owner(
    tx: &mut ChangeTx<'_>,
    email: &str,
    display_name: &str,
    password_hash: String,
) -> Result<Identity> {
    let tenant_id = tx.tenant_id;
    let owner = roles::by_names(tx.conn(), tenant_id, &[roles::OWNER.to_owned()], "roles").await?;
    let valid = ValidNew {
        email: Some(email.to_owned()),
        display_name: display_name.to_owned(),
        external_id: None,
        kind: Kind::User,
        roles: vec![roles::OWNER.to_owned()],
        metadata: Value::Object(Default::default()),
        personal_metadata: Value::Object(Default::default()),
        password: None,
    };
    let identity = insert(tx, &valid, Some(password_hash), &owner).await?;
    tx.created(&identity).await?;
    Ok(identity)
}
