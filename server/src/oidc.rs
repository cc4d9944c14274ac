//! `/auth/oidc/callback`: where identity providers send the browser back. The attempt's
//! secrets wait in the browser's session (put there by `GET /auth/sso/login/{id}`), so only
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
    db: &service::Db,
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
    app::server::keep_flash(
        session,
        db,
        form,
        &app::error::AppError::from(error),
        &values,
    )
    .await;
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
        return back_with(&state.db, &session, "/login", error, None).await;
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
                return back_with(
                    &state.db,
                    &session,
                    &back,
                    error,
                    Some(&pending.tenant_slug),
                )
                .await;
            }
            tracing::info!(
                tenant = %caller.tenant_slug,
                identity = %caller.identity_id,
                provider = %pending.provider_id,
                "console sign-in through SSO"
            );
            Redirect::to(&app::auth::api::safe_next(pending.next.as_deref())).into_response()
        }
        Err(e) => back_with(&state.db, &session, &back, e, Some(&pending.tenant_slug)).await,
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginParams {
    /// A local path to open once signed in.
    pub next: Option<String>,
    /// `1`: keep the tenants this browser is signed in to (switch between them later).
    pub add: Option<String>,
    /// An invitation token to accept with this sign-in.
    pub invitation: Option<String>,
}

/// Whether a navigation came from this site (or was typed): `Sec-Fetch-Site` says so in
/// every current browser; without it, a `Referer` of another host says it did not.
fn same_site_navigation(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok());
    match headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
    {
        Some(referer) => {
            let origin = match referer.port() {
                Some(p) => format!("{}:{p}", referer.host_str().unwrap_or_default()),
                None => referer.host_str().unwrap_or_default().to_owned(),
            };
            host == Some(origin.as_str())
        }
        None => true,
    }
}

/// `GET /auth/sso/login/{id}`: starts signing in through an identity provider (a browser
/// navigation): redirects to the provider's authorization endpoint (code flow, PKCE S256,
/// state, nonce); the provider sends the browser back to `/auth/oidc/callback`. Problems
/// send the browser back to the sign-in page with a message.
///
/// It writes the browser's session, so another site may not start it (login CSRF: a page
/// elsewhere sending a visitor through a sign-in of the attacker's choosing): a cross-site
/// navigation is sent back to the sign-in page instead.
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    headers: axum::http::HeaderMap,
    crate::rest::extract::Path(id): crate::rest::extract::Path<uuid::Uuid>,
    crate::rest::extract::Query(params): crate::rest::extract::Query<LoginParams>,
) -> Response {
    if !same_site_navigation(&headers) {
        tracing::warn!(provider = %id, "SSO sign-in started from another site: refused");
        return Redirect::to("/login").into_response();
    }
    let start = flow::Start {
        next: params.next,
        add_tenant: params
            .add
            .as_deref()
            .is_some_and(|a| !a.is_empty() && a != "0"),
        invitation: params.invitation.filter(|t| !t.is_empty()),
    };
    let back = match &start.invitation {
        Some(token) => format!("/invite/{token}"),
        None => "/login".to_owned(),
    };
    match flow::begin(&state.db, id, &redirect_uri(&state), start).await {
        Ok(begun) => match keep_pending(&session, &begun.pending).await {
            Ok(()) => Redirect::to(&begun.authorize_url).into_response(),
            Err(e) => back_with(&state.db, &session, &back, e, None).await,
        },
        Err(e) => back_with(&state.db, &session, &back, e, None).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> axum::http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (axum::http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn only_this_site_starts_a_sign_in() {
        assert!(same_site_navigation(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(same_site_navigation(&headers(&[(
            "sec-fetch-site",
            "none"
        )])));
        assert!(!same_site_navigation(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(!same_site_navigation(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(same_site_navigation(&headers(&[
            ("host", "id.example.com"),
            ("referer", "https://id.example.com/login")
        ])));
        assert!(!same_site_navigation(&headers(&[
            ("host", "id.example.com"),
            ("referer", "https://evil.example/page")
        ])));
        assert!(same_site_navigation(&headers(&[(
            "host",
            "id.example.com"
        )])));
    }
}
