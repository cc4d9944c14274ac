//! Server-side helpers for server functions: the caller's `Ctx`, the database, and the
//! no-JavaScript form flow. Compiled only with `ssr`.

use axum::Extension;
use http::request::Parts;
use leptos::prelude::*;
use service::ctx::RequestId;
use service::{Ctx, Db};
use tower_sessions::Session;

use crate::error::AppError;

/// The caller, as resolved by the server's pipeline. Anonymous callers get 401 here, so a
/// server function that starts with `ctx().await?` is closed to them.
pub async fn ctx() -> Result<Ctx, AppError> {
    let ctx = any_ctx().await?;
    if ctx.principal == service::Principal::Anonymous {
        return Err(service::Error::Unauthenticated.into());
    }
    Ok(ctx)
}

/// The caller, possibly anonymous (sign-in).
pub async fn any_ctx() -> Result<Ctx, AppError> {
    let Extension(ctx) = leptos_axum::extract::<Extension<Ctx>>()
        .await
        .map_err(|e| AppError::from(service::Error::internal("request context", e)))?;
    Ok(ctx)
}

/// An object's id from a URL or a form; anything that is not an id is an object that is
/// not there (`resource` names it in the 404).
pub fn object_id(raw: &str, resource: &'static str) -> service::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw.trim()).map_err(|_| service::Error::NotFound { resource })
}

/// The service's input from a submitted form. A form that does not read is explained only
/// to a caller holding some right to change `module`; anyone else gets 403, as a
/// well-formed form would get them (the REST door answers the same).
pub fn input<T>(
    ctx: &Ctx,
    module: &str,
    form: impl TryInto<T, Error = service::Error>,
) -> Result<T, AppError> {
    form.try_into()
        .map_err(|e| ctx.may_touch(module, false).err().unwrap_or(e).into())
}

/// The service's query from a list's filters, as [`input`] for a form: filters that do not
/// read are explained only to a caller who may read `module`.
pub fn query<T>(
    ctx: &Ctx,
    module: &str,
    filters: impl TryInto<T, Error = service::Error>,
) -> Result<T, AppError> {
    filters
        .try_into()
        .map_err(|e| ctx.may_touch(module, true).err().unwrap_or(e).into())
}

/// A part of a page the caller may not be allowed to read: `None` when refused (the rest
/// of the page still shows), any other failure is the page's.
pub fn unless_forbidden<T>(result: Result<T, service::Error>) -> Result<Option<T>, AppError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(service::Error::Forbidden { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The URL people reach this server at (`TENANTRY_PUBLIC_URL`), provided by the server.
#[derive(Clone, Debug)]
pub struct PublicUrl(pub String);

pub fn public_url() -> Result<String, AppError> {
    use_context::<PublicUrl>()
        .map(|u| u.0)
        .ok_or_else(|| service::Error::Internal("no public URL in context".into()).into())
}

pub fn db() -> Result<Db, AppError> {
    use_context::<Db>()
        .ok_or_else(|| service::Error::Internal("no database in context".into()).into())
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| service::Error::internal("session", e).into())
}

pub fn request_id() -> Option<String> {
    service::ctx::current_request_id().or_else(|| {
        use_context::<Parts>().and_then(|p| p.extensions.get::<RequestId>().map(|r| r.0.clone()))
    })
}

/// Whether this request is a plain HTML form post (JavaScript not running yet).
pub fn is_plain_form() -> bool {
    use_context::<Parts>().is_some_and(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

const FLASH_KEY: &str = "form_flash";

/// Ends a form's server function: on success the browser goes to the returned path; on
/// failure the error (and, for a plain form post, the submitted values) goes back to the form.
pub async fn finish_form(
    form: &str,
    submitted: &[(&str, &str)],
    result: Result<String, AppError>,
) -> Result<(), AppError> {
    match result {
        Ok(next) => {
            leptos_axum::redirect(&next);
            Ok(())
        }
        Err(e) => {
            flash_failure(form, &e, submitted).await;
            Err(e)
        }
    }
}

/// Ends a form's server function that took a typed form: as [`finish_form`], keeping the
/// form's text fields (never one whose name says password or secret) for a plain post.
pub async fn finish<F: serde::Serialize>(
    name: &str,
    form: &F,
    result: Result<String, AppError>,
) -> Result<(), AppError> {
    let kept = kept_values(form);
    let pairs: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    finish_form(name, &pairs, result).await
}

/// Ends a form's server function whose answer the running page shows (a secret, shown
/// once): the answer goes back to the page; a plain form post, with no script to show it,
/// is sent to `plain_next(&answer)`, which says so. A failure goes back to the form as in
/// [`finish`].
pub async fn finish_with<F: serde::Serialize, T>(
    name: &str,
    form: &F,
    result: Result<T, AppError>,
    plain_next: impl FnOnce(&T) -> String,
) -> Result<T, AppError> {
    match result {
        Ok(answer) => {
            if is_plain_form() {
                leptos_axum::redirect(&plain_next(&answer));
            }
            Ok(answer)
        }
        Err(e) => {
            let kept = kept_values(form);
            let pairs: Vec<(&str, &str)> =
                kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            flash_failure(name, &e, &pairs).await;
            Err(e)
        }
    }
}

/// The text fields of a submitted form that may be shown again: secrets are left out by
/// their name (`password`, `new_password`, `client_secret`, ...).
pub fn kept_values<F: serde::Serialize>(form: &F) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(form) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(name, _)| !name.contains("password") && !name.contains("secret"))
        .filter_map(|(name, value)| match value {
            serde_json::Value::String(s) => Some((name, s)),
            _ => None,
        })
        .collect()
}

/// Ends an action on an object (a button, a confirmation): on success the browser goes to
/// `next`; a failure is flashed under `form` and a plain post goes `back` to the object's
/// page, not to the confirmation dialog it came from.
pub async fn finish_action(
    form: &str,
    result: Result<(), service::Error>,
    next: &str,
    back: &str,
) -> Result<(), AppError> {
    match result {
        Ok(()) => {
            leptos_axum::redirect(next);
            Ok(())
        }
        Err(e) => {
            let e = AppError::from(e);
            flash_failure(form, &e, &[]).await;
            if is_plain_form() {
                leptos_axum::redirect(back);
            }
            Err(e)
        }
    }
}

/// For a plain form post that failed: keeps the error and the submitted (non-secret) values
/// in the session, so the page the browser is sent back to can show them. With JavaScript
/// the action's value carries them instead.
pub async fn flash_failure(form: &str, error: &AppError, values: &[(&str, &str)]) {
    if !is_plain_form() {
        return;
    }
    if let (Ok(session), Ok(db)) = (session().await, db()) {
        keep_flash(&session, &db, form, error, values).await;
    }
    // Back to the form, without the error server_fn would otherwise put in the URL.
    if let Some(back) = referer_path() {
        leptos_axum::redirect(&back);
    }
}

/// Keeps `error` and the submitted (non-secret) `values` in the session for the next view
/// of the page holding `form`, which shows them in its banner and fields.
pub async fn keep_flash(
    session: &Session,
    db: &Db,
    form: &str,
    error: &AppError,
    values: &[(&str, &str)],
) {
    let flash = crate::components::forms::FormFlash {
        form: form.to_owned(),
        error: error.clone(),
        values: values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    // Sealed: the values typed into a failed form (an address, a name) are personal data,
    // and the session sits in the database until the next page view takes it.
    let sealed = match seal_flash(db, &flash) {
        Ok(sealed) => sealed,
        Err(e) => {
            tracing::warn!(error = %e, "could not seal the form error for the session");
            return;
        }
    };
    if let Err(e) = session.insert(FLASH_KEY, sealed).await {
        tracing::warn!(error = %e, "could not keep the form error in the session");
    }
}

/// The context a flash is sealed under by the master key.
const FLASH_CONTEXT: &[u8] = b"tenantry console form flash v1";

fn seal_flash(db: &Db, flash: &crate::components::forms::FormFlash) -> Result<Vec<u8>, AppError> {
    let json = serde_json::to_vec(flash)
        .map_err(|e| AppError::from(service::Error::internal("a form flash", e)))?;
    Ok(db.master_key()?.seal(&json, FLASH_CONTEXT))
}

fn open_flash(sealed: &[u8]) -> Option<crate::components::forms::FormFlash> {
    let db = db().ok()?;
    let json = db.master_key().ok()?.open(sealed, FLASH_CONTEXT).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The path and query of the page that posted the form, minus server_fn's error parameters.
fn referer_path() -> Option<String> {
    let parts = use_context::<Parts>()?;
    let referer = parts.headers.get(http::header::REFERER)?.to_str().ok()?;
    let uri: http::Uri = referer.parse().ok()?;
    let query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("__path=") && !p.starts_with("__err="))
        .collect();
    let path = uri.path();
    Some(if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    })
}

/// Takes the flash kept for this page view. Reading alone does not mark the session
/// changed, so most page views do not write it back.
pub async fn take_flash() -> Option<crate::components::forms::FormFlash> {
    let session = session().await.ok()?;
    // Taken whatever it holds: a flash kept in the clear before flashes were sealed is
    // removed too, unread.
    let kept: serde_json::Value = session.get(FLASH_KEY).await.ok().flatten()?;
    let _ = session.remove_value(FLASH_KEY).await;
    let sealed: Vec<u8> = serde_json::from_value(kept).ok()?;
    open_flash(&sealed)
}

/// Signs `caller` in to the console: a new session id (no fixation) holding who they are and
/// where they signed in from (shown in their sessions list).
pub async fn start_session(ctx: &Ctx, caller: &service::ctx::Caller) -> Result<(), AppError> {
    start_session_keeping(ctx, caller, false).await
}

/// The session key listing every tenant this browser signed in to.
pub const SIGNINS_KEY: &str = "signins";

/// Like [`start_session`]; with `keep_others`, the tenants this browser is already signed
/// in to stay available to switch to (the person asked to add a tenant). Otherwise they are
/// forgotten: someone else signing in on a shared browser never inherits them.
pub async fn start_session_keeping(
    ctx: &Ctx,
    caller: &service::ctx::Caller,
    keep_others: bool,
) -> Result<(), AppError> {
    sign_in_session(&session().await?, ctx, caller, keep_others).await
}

fn session_failed(e: tower_sessions::session::Error) -> AppError {
    service::Error::internal("session", e).into()
}

/// The tenants this browser signed in to, newest last.
pub async fn signins(session: &Session) -> Result<Vec<crate::auth::model::SignIn>, AppError> {
    let signins = session.get(SIGNINS_KEY).await.map_err(session_failed)?;
    Ok(signins.unwrap_or_default())
}

/// The caller this browser signed in as in `tenant` (its id), for switching to it. A tenant
/// not signed in to is "not found"; a sign-in that no longer stands (the identity's
/// sessions were ended since, or it is no longer active) is forgotten and refused.
pub async fn standing_signin(
    session: &Session,
    db: &Db,
    tenant: &str,
) -> Result<service::ctx::Caller, AppError> {
    use service::ctx::AuthMethod;
    let mut signins = signins(session).await?;
    let not_found = || AppError::from(service::Error::NotFound { resource: "tenant" });
    let at = signins
        .iter()
        .position(|s| s.tenant_id == tenant.trim())
        .ok_or_else(not_found)?;
    let target = &signins[at];
    let tenant_id = uuid::Uuid::parse_str(&target.tenant_id).map_err(|_| not_found())?;
    let identity_id = uuid::Uuid::parse_str(&target.identity_id).map_err(|_| not_found())?;
    let signed_in_at = target.signed_in_at.as_deref().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    let caller =
        if service::sessions::sign_in_stands(db, tenant_id, identity_id, signed_in_at).await? {
            service::auth::load_caller(db, tenant_id, identity_id, AuthMethod::Session).await?
        } else {
            None
        };
    if caller.is_none() {
        signins.remove(at);
        session
            .insert(SIGNINS_KEY, signins)
            .await
            .map_err(session_failed)?;
    }
    caller.ok_or_else(|| service::Error::Unauthenticated.into())
}

/// Makes `session` act for `caller` under a new session id (no fixation).
pub async fn act_as(session: &Session, caller: &service::ctx::Caller) -> Result<(), AppError> {
    use service::sessions::{IDENTITY_KEY, TENANT_KEY};
    let internal =
        |e: tower_sessions::session::Error| AppError::from(service::Error::internal("session", e));
    session.cycle_id().await.map_err(internal)?;
    session
        .insert(TENANT_KEY, caller.tenant_id)
        .await
        .map_err(internal)?;
    session
        .insert(IDENTITY_KEY, caller.identity_id)
        .await
        .map_err(internal)
}

/// Signs `caller` in on `session` (see [`start_session_keeping`]); also used by the SSO
/// callback, which is an axum handler rather than a server function.
pub async fn sign_in_session(
    session: &Session,
    ctx: &Ctx,
    caller: &service::ctx::Caller,
    keep_others: bool,
) -> Result<(), AppError> {
    use crate::auth::model::SignIn;
    use service::sessions::{IP_KEY, USER_AGENT_KEY};
    let internal =
        |e: tower_sessions::session::Error| AppError::from(service::Error::internal("session", e));
    let mut signins: Vec<SignIn> = if keep_others && ctx.caller().is_ok() {
        session
            .get(SIGNINS_KEY)
            .await
            .map_err(internal)?
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    signins.retain(|s| s.tenant_id != caller.tenant_id.to_string());
    signins.push(SignIn {
        tenant_id: caller.tenant_id.to_string(),
        identity_id: caller.identity_id.to_string(),
        tenant_name: caller.tenant_name.clone(),
        signed_in_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .ok(),
    });
    act_as(session, caller).await?;
    session
        .insert(SIGNINS_KEY, signins)
        .await
        .map_err(internal)?;
    if let Some(ip) = ctx.ip {
        session
            .insert(IP_KEY, ip.to_string())
            .await
            .map_err(internal)?;
    }
    if let Some(ua) = &ctx.user_agent {
        session.insert(USER_AGENT_KEY, ua).await.map_err(internal)?;
    }
    Ok(())
}
