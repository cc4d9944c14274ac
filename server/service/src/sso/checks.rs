//! What a provider's settings must be: the issuer (and its discovery document), scopes,
//! allowed domains and the default role.

use super::*;

/// An issuer URL as OpenID Connect requires it: https (plain http only on this machine, for
/// local providers), no query or fragment. Kept exactly as typed otherwise, since the
/// discovery document must repeat it character for character.
pub(super) fn check_issuer(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = raw.trim();
    let bad = |errors: &mut Vec<FieldError>, message: &str| {
        errors.push(FieldError::new("issuer", "invalid_issuer", message));
        None
    };
    if value.is_empty() {
        return bad(
            errors,
            "Enter the issuer URL, like https://login.example.com.",
        );
    }
    if value.len() > 500 {
        return bad(errors, "Use at most 500 characters.");
    }
    let Ok(url) = openidconnect::url::Url::parse(value) else {
        return bad(
            errors,
            "This is not a URL; enter the issuer like https://login.example.com.",
        );
    };
    let loopback = matches!(
        url.host(),
        Some(openidconnect::url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(
        url.host(),
        Some(openidconnect::url::Host::Ipv6(ip)) if ip.is_loopback()
    ) || url.host_str() == Some("localhost");
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return bad(
                errors,
                "The issuer must use https (plain http is accepted only for a provider on this machine).",
            );
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return bad(
            errors,
            "The issuer URL cannot have a query, a fragment or a user name.",
        );
    }
    Some(value.to_owned())
}

pub(super) fn check_scopes(raw: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let mut out = vec!["openid".to_owned()];
    for s in raw.iter().flat_map(|s| s.split_whitespace()) {
        let ok = !s.is_empty()
            && s.len() <= 100
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b));
        if !ok {
            errors.push(FieldError::new(
                "scopes",
                "invalid_scope",
                format!("\"{s}\" is not a valid scope name."),
            ));
            return None;
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    if out.len() > 20 {
        errors.push(FieldError::new(
            "scopes",
            "too_many",
            "Use at most 20 scopes.",
        ));
        return None;
    }
    if !out.iter().any(|s| s == "email") {
        errors.push(FieldError::new(
            "scopes",
            "email_required",
            "Include the email scope: sign-in matches people by their verified email.",
        ));
        return None;
    }
    Some(out)
}

pub(super) fn check_domains(raw: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for d in raw.iter().flat_map(|d| d.split([',', ' ', '\n'])) {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() {
            continue;
        }
        let ok = d.len() <= 253
            && d.contains('.')
            && !d.starts_with(['.', '-'])
            && !d.ends_with(['.', '-'])
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !ok {
            errors.push(FieldError::new(
                "allowed_domains",
                "invalid_domain",
                format!("\"{d}\" is not a domain name like example.com."),
            ));
            return None;
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.len() > 50 {
        errors.push(FieldError::new(
            "allowed_domains",
            "too_many",
            "Use at most 50 domains.",
        ));
        return None;
    }
    Some(out)
}

/// The role new people signing in get: never the owner role, and only a role the caller
/// could grant (a provider whose issuer the caller controls would otherwise hand it to
/// anyone they like).
pub(super) async fn check_role(
    ctx: &Ctx,
    conn: &mut PgConnection,
    tenant_id: Uuid,
    name: &str,
) -> Result<Option<Uuid>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    let role = roles::by_names(conn, tenant_id, &[name.to_owned()], "default_role")
        .await?
        .pop()
        .ok_or_else(|| Error::Internal("by_names returned nothing".into()))?;
    if role.system.as_deref() == Some(roles::OWNER) {
        return Err(Error::validation(
            "default_role",
            "owner_not_allowed",
            "People signing in for the first time cannot become owners; choose another role.",
        ));
    }
    roles::authorize_grants(ctx, std::slice::from_ref(&role))?;
    Ok(Some(role.id))
}

/// Fetches the issuer's discovery document, so a typo is caught on save rather than at the
/// first sign-in.
pub(super) async fn check_discovery(db: &Db, issuer: &str) -> Result<()> {
    db.sso().discover(issuer, true).await.map(|_| ()).map_err(|why| {
        Error::validation(
            "issuer",
            "discovery_failed",
            format!(
                "Could not read the OpenID configuration at {}/.well-known/openid-configuration: {why}",
                issuer.trim_end_matches('/')
            ),
        )
    })
}
