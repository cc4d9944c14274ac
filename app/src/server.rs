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

/// For a plain form post that failed: keeps the error and the submitted (non-secret) values
/// in the session, so the page the browser is sent back to can show them. With JavaScript
/// the action's value carries them instead.
pub async fn flash_failure(form: &str, error: &AppError, values: &[(&str, &str)]) {
    if !is_plain_form() {
        return;
    }
    if let Ok(session) = session().await {
        let flash = crate::components::forms::FormFlash {
            form: form.to_owned(),
            error: error.clone(),
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        if let Err(e) = session.insert(FLASH_KEY, flash).await {
            tracing::warn!(error = %e, "could not keep the form error in the session");
        }
    }
    // Back to the form, without the error server_fn would otherwise put in the URL.
    if let Some(back) = referer_path() {
        leptos_axum::redirect(&back);
    }
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
    let flash: crate::components::forms::FormFlash = session.get(FLASH_KEY).await.ok().flatten()?;
    let _ = session.remove_value(FLASH_KEY).await;
    Some(flash)
}

/// Signs `caller` in to the console: a new session id (no fixation) holding who they are and
/// where they signed in from (shown in their sessions list).
pub async fn start_session(ctx: &Ctx, caller: &service::ctx::Caller) -> Result<(), AppError> {
    use service::sessions::{IDENTITY_KEY, IP_KEY, TENANT_KEY, USER_AGENT_KEY};
    let session = session().await?;
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
