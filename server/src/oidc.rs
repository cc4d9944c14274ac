//! `/auth/oidc/callback`: where identity providers send the browser back. The attempt's
//! secrets wait in the browser's session (put there by `GET /v1/sso/login/{id}`), so only
//! the browser that started a sign-in can finish it, and only once.

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Redirect, Response};
use service::Ctx;
use service::sso::flow::{self, Callback, Pending};
use tower_sessions::Session;

use crate::state::AppState;

const PENDING_KEY: &str = "sso_pending";

/// The callback URL to register at every provider.
pub fn redirect_uri(state: &AppState) -> String {
    flow::callback_url(&state.config.public_url())
}

pub async fn keep_pending(session: &Session, pending: &Pending) -> service::Result<()> {
    session
        .insert(PENDING_KEY, pending)
        .await
        .map_err(|e| service::Error::internal("keep the sign-in attempt", e))
}

/// Sends the browser back to `path` with `error` shown on that page (the console's form
/// flash: the login page's banner, or the invitation page's).
pub async fn back_with(
    session: &Session,
    path: &str,
    error: service::Error,
    tenant_slug: Option<&str>,
) -> Response {
    let form = if path.starts_with("/invite/") {
        "accept_invitation"
    } else {
        "login"
    };
    let values: Vec<(&str, &str)> = tenant_slug.map(|t| ("tenant", t)).into_iter().collect();
    if matches!(error, service::Error::Refused { .. }) {
        tracing::info!(code = error.code(), "SSO sign-in refused");
    }
    app::server::keep_flash(session, form, &app::error::AppError::from(error), &values).await;
    Redirect::to(path).into_response()
}

pub async fn callback(
    Extension(ctx): Extension<Ctx>,
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(callback): axum::extract::Query<Callback>,
) -> Response {
    let pending: Option<Pending> = session.remove(PENDING_KEY).await.ok().flatten();
    let Some(pending) = pending else {
        let error = service::Error::Refused {
            code: "sso_no_attempt",
            message: "No sign-in was started in this browser, or it has already finished. Start again from the sign-in page.".into(),
        };
        return back_with(&session, "/login", error, None).await;
    };
    let back = match &pending.invitation {
        Some(token) => format!("/invite/{token}"),
        None => format!("/login?tenant={}", pending.tenant_slug),
    };
    let result = flow::finish(&ctx, &state.db, &pending, &redirect_uri(&state), callback).await;
    match result {
        Ok(caller) => {
            if let Err(e) =
                app::server::sign_in_session(&session, &ctx, &caller, pending.add_tenant).await
            {
                tracing::error!(error = %e, "could not start the console session");
                let error = service::Error::Internal("start the console session".into());
                return back_with(&session, &back, error, Some(&pending.tenant_slug)).await;
            }
            tracing::info!(
                tenant = %caller.tenant_slug,
                identity = %caller.identity_id,
                provider = %pending.provider_id,
                "console sign-in through SSO"
            );
            Redirect::to(&app::auth::api::safe_next(pending.next.as_deref())).into_response()
        }
        Err(e) => back_with(&session, &back, e, Some(&pending.tenant_slug)).await,
    }
}
