//! `/logout`: ends the console session and goes to the sign-in page. Works as a link or a
//! form post; a request from another site is sent to the sign-in page without signing out
//! (so a foreign page cannot sign an admin out).

use axum::http::HeaderMap;
use axum::response::Redirect;
use tower_sessions::Session;

pub async fn logout(session: Session, headers: HeaderMap) -> Redirect {
    if crate::middleware::same_origin(&headers) {
        if let Err(e) = session.flush().await {
            tracing::warn!(error = %e, "could not end the session");
        }
    } else {
        tracing::warn!("cross-site /logout ignored");
    }
    Redirect::to("/login")
}
