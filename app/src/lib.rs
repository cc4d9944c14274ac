//! Tenantry's console: an isomorphic Leptos app. The server renders it (feature `ssr`),
//! the browser hydrates it (feature `hydrate`). Server functions are the console's door to
//! the service layer; they hold no rule and no SQL.

#![recursion_limit = "512"]

pub mod account;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod components;
pub mod error;
pub mod events;
pub mod format;
pub mod groups;
pub mod identities;
pub mod invitations;
pub mod limits;
pub mod memories;
pub mod policies;
pub mod roles;
#[cfg(feature = "ssr")]
pub mod server;
pub mod settings;
pub mod sso;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::path;

use crate::components::layout::ConsoleLayout;

/// The Content-Security-Policy of every page: scripts only from this server and the one
/// inline script of this response (its nonce: the hydration bootstrap and the data it
/// carries), WebAssembly compiled from this server's module, styles from this server's
/// stylesheet (inline `style` attributes, which cannot run code, for bar widths), nothing
/// framed, no plugins, no `<base>`.
#[cfg(feature = "ssr")]
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server. It sets the page's
/// Content-Security-Policy with the nonce of this response.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) =
        http::HeaderValue::from_str(&content_security_policy(&nonce.to_string()))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

/// Every page renders in `SsrMode::Async`: the server resolves the page's data before it
/// sends anything, so the HTML is complete without JavaScript (forms work before
/// hydration) and a page can still answer with a redirect or a status code.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tenantry.css"/>
        <Title text="Tenantry"/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") ssr=SsrMode::Async view=auth::pages::LoginPage/>
                <Route path=path!("/invite/:token") ssr=SsrMode::Async view=invitations::pages::AcceptPage/>
                <Route path=path!("/forgot-password") ssr=SsrMode::Async view=auth::pages::ForgotPasswordPage/>
                <Route path=path!("/reset-password/:token") ssr=SsrMode::Async view=auth::pages::ResetPasswordPage/>
                <ParentRoute path=path!("") ssr=SsrMode::Async view=ConsoleLayout>
                    <Route path=path!("") ssr=SsrMode::Async view=|| view! { <Redirect path="/identities"/> }/>
                    <Route path=path!("identities") ssr=SsrMode::Async view=identities::pages::IdentitiesPage/>
                    <Route path=path!("identities/new") ssr=SsrMode::Async view=identities::pages::NewIdentityPage/>
                    <Route path=path!("identities/:id") ssr=SsrMode::Async view=identities::pages::IdentityDetailPage/>
                    <Route path=path!("identities/:id/edit") ssr=SsrMode::Async view=identities::pages::EditIdentityPage/>
                    <Route path=path!("invitations") ssr=SsrMode::Async view=invitations::pages::InvitationsPage/>
                    <Route path=path!("roles") ssr=SsrMode::Async view=roles::pages::RolesListPage/>
                    <Route path=path!("roles/new") ssr=SsrMode::Async view=roles::pages::RolePage/>
                    <Route path=path!("roles/:id") ssr=SsrMode::Async view=roles::pages::RolePage/>
                    <Route path=path!("groups") ssr=SsrMode::Async view=groups::pages::GroupsPage/>
                    <Route path=path!("groups/:id") ssr=SsrMode::Async view=groups::pages::GroupPage/>
                    <Route path=path!("policies") ssr=SsrMode::Async view=policies::pages::PoliciesPage/>
                    <Route path=path!("policies/new") ssr=SsrMode::Async view=policies::pages::PolicyPage/>
                    <Route path=path!("policies/simulator") ssr=SsrMode::Async view=policies::pages::SimulatorPage/>
                    <Route path=path!("policies/:id") ssr=SsrMode::Async view=policies::pages::PolicyPage/>
                    <Route path=path!("memories") ssr=SsrMode::Async view=memories::pages::MemoriesPage/>
                    <Route path=path!("memories/new") ssr=SsrMode::Async view=memories::pages::NewMemoryPage/>
                    <Route path=path!("memories/trash") ssr=SsrMode::Async view=memories::pages::TrashPage/>
                    <Route path=path!("memories/:id") ssr=SsrMode::Async view=memories::pages::MemoryPage/>
                    <Route path=path!("memories/:id/edit") ssr=SsrMode::Async view=memories::pages::EditMemoryPage/>
                    <Route path=path!("webhooks") ssr=SsrMode::Async view=webhooks::pages::WebhooksPage/>
                    <Route path=path!("webhooks/:id") ssr=SsrMode::Async view=webhooks::pages::WebhookPage/>
                    <Route path=path!("events") ssr=SsrMode::Async view=events::pages::EventsPage/>
                    <Route path=path!("audit") ssr=SsrMode::Async view=audit_log::pages::AuditPage/>
                    <Route path=path!("audit/:id") ssr=SsrMode::Async view=audit_log::pages::AuditRecordPage/>
                    <Route path=path!("api-keys") ssr=SsrMode::Async view=api_keys::pages::ApiKeysPage/>
                    <Route path=path!("account") ssr=SsrMode::Async view=account::pages::AccountPage/>
                    <Route path=path!("limits") ssr=SsrMode::Async view=limits::pages::LimitsPage/>
                    <Route path=path!("settings") ssr=SsrMode::Async view=settings::pages::SettingsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Tenantry"/>
        <main class="flex min-h-screen items-center justify-center bg-slate-100 px-4">
            <div class="text-center">
                <p class="text-sm font-semibold text-indigo-700">"404"</p>
                <h1 class="mt-2 text-2xl font-semibold text-slate-900">"Page not found"</h1>
                <p class="mt-2 text-sm text-slate-600">"The page you asked for does not exist."</p>
                <a href="/identities" class="mt-6 inline-block text-sm font-medium text-indigo-700 hover:underline">"Go to the console"</a>
            </div>
        </main>
    }
}
