//! The sign-in page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use leptos_router::components::Redirect;

use super::api::{ForgotPassword, Login, ResetPassword, console_state};
use super::model::PageState;
use crate::components::forms::{FormState, TextField, provide_flash};
use crate::components::ui::{BTN_PRIMARY, ErrorBanner, LINK, SuccessBanner};

#[component]
pub fn LoginPage() -> impl IntoView {
    let state = Resource::new_blocking(|| (), |_| console_state());
    view! {
        <Title text="Sign in · Tenantry"/>
        <Suspense fallback=|| ()>
            {move || state.get().map(|result| match result {
                // Already signed in: straight to the console.
                Ok(PageState { user: Some(_), .. }) => view! { <Redirect path="/identities"/> }.into_any(),
                other => {
                    provide_flash(other.ok().and_then(|s| s.flash));
                    view! { <LoginForm/> }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
fn LoginForm() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let form = FormState::new("login", action.version().into(), action.value().into());
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let tenant_default = move || query.read().get("tenant").unwrap_or_default();
    let reset = query.read_untracked().get("reset").is_some();
    let forgot_href = format!(
        "/forgot-password?tenant={}",
        query.read_untracked().get("tenant").unwrap_or_default()
    );
    view! {
        <main class="flex min-h-screen items-center justify-center bg-slate-100 px-4 py-12">
            <div class="w-full max-w-sm">
                <div class="mb-8 text-center">
                    <div class="mx-auto flex h-12 w-12 items-center justify-center rounded-xl bg-indigo-600 text-xl font-bold text-white" aria-hidden="true">
                        "T"
                    </div>
                    <h1 class="mt-4 text-2xl font-semibold tracking-tight text-slate-900">"Sign in to Tenantry"</h1>
                    <p class="mt-1 text-sm text-slate-600">"Use your organisation's tenant, email and password."</p>
                </div>
                <div class="rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
                    {reset.then(|| view! { <div class="mb-4"><SuccessBanner message="Your password was changed. Sign in with the new one."/></div> })}
                    {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
                        <ActionForm action=action attr:class="space-y-4" attr:aria-label="Sign in">
                            <input type="hidden" name="next" value=next/>
                            <TextField
                                name="tenant"
                                label="Tenant"
                                required=true
                                autocomplete="organization"
                                placeholder="acme"
                                value=form.value("tenant", tenant_default())
                                error=form.field_error("tenant")
                            />
                            <TextField
                                name="email"
                                label="Email"
                                kind="email"
                                required=true
                                autocomplete="username"
                                value=form.value("email", String::new())
                                error=form.field_error("email")
                            />
                            <TextField
                                name="password"
                                label="Password"
                                kind="password"
                                required=true
                                autocomplete="current-password"
                            />
                            <button type="submit" class=format!("{BTN_PRIMARY} w-full") disabled=move || action.pending().get()>
                                {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                            </button>
                        </ActionForm>
                </div>
                <p class="mt-4 text-center text-sm">
                    <a href=forgot_href class=LINK>"Forgot your password?"</a>
                </p>
                <p class="mt-6 text-center text-xs text-slate-600">
                    "Programs sign in with " <code class="font-mono">"POST /v1/auth/token"</code> "."
                </p>
            </div>
        </main>
    }
}

/// The frame of the pages people see before signing in.
#[component]
fn PublicCard(title: &'static str, subtitle: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Tenantry")/>
        <main class="flex min-h-screen items-center justify-center bg-slate-100 px-4 py-12">
            <div class="w-full max-w-sm">
                <div class="mb-8 text-center">
                    <div class="mx-auto flex h-12 w-12 items-center justify-center rounded-xl bg-indigo-600 text-xl font-bold text-white" aria-hidden="true">"T"</div>
                    <h1 class="mt-4 text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
                    <p class="mt-1 text-sm text-slate-600">{subtitle}</p>
                </div>
                <div class="rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">{children()}</div>
                <p class="mt-6 text-center text-sm"><a href="/login" class=LINK>"Back to sign-in"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let state = Resource::new_blocking(|| (), |_| console_state());
    view! {
        <Suspense fallback=|| ()>
            {move || state.get().map(|result| {
                provide_flash(result.ok().and_then(|s| s.flash));
                view! { <ForgotForm/> }
            })}
        </Suspense>
    }
}

#[component]
fn ForgotForm() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let form = FormState::new(
        "forgot_password",
        action.version().into(),
        action.value().into(),
    );
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    let tenant_default = move || query.read().get("tenant").unwrap_or_default();
    view! {
        <PublicCard title="Reset your password" subtitle="We will mail you a link to choose a new one.">
            {move || sent().then(|| view! { <div class="mb-4"><SuccessBanner message="If an account with this email exists in this tenant, a link is on its way. It works for an hour."/></div> })}
            {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
            <ActionForm action=action attr:class="space-y-4" attr:aria-label="Reset your password">
                <TextField name="tenant" label="Tenant" required=true autocomplete="organization"
                    value=form.value("tenant", tenant_default()) error=form.field_error("tenant")/>
                <TextField name="email" label="Email" kind="email" required=true autocomplete="username"
                    value=form.value("email", String::new()) error=form.field_error("email")/>
                <button type="submit" class=format!("{BTN_PRIMARY} w-full")>"Mail me a link"</button>
            </ActionForm>
        </PublicCard>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let state = Resource::new_blocking(|| (), |_| console_state());
    view! {
        <Suspense fallback=|| ()>
            {move || state.get().map(|result| {
                provide_flash(result.ok().and_then(|s| s.flash));
                view! { <ResetForm/> }
            })}
        </Suspense>
    }
}

#[component]
fn ResetForm() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let form = FormState::new(
        "reset_password",
        action.version().into(),
        action.value().into(),
    );
    let params = leptos_router::hooks::use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    view! {
        <PublicCard title="Choose a new password" subtitle="Signing in everywhere else ends when you save it.">
            {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
            <ActionForm action=action attr:class="space-y-4" attr:aria-label="Choose a new password">
                <input type="hidden" name="token" value=token/>
                <TextField name="new_password" label="New password" kind="password" required=true
                    autocomplete="new-password" help="At least 12 characters."
                    error=form.field_error("new_password")/>
                <button type="submit" class=format!("{BTN_PRIMARY} w-full")>"Save the new password"</button>
            </ActionForm>
        </PublicCard>
    }
}
