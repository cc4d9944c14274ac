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
    let adding = use_query_map().read_untracked().get("add").is_some();
    // Loaded with the page (not by the form, which may render more than once).
    let tenant = use_query_map()
        .read_untracked()
        .get("tenant")
        .unwrap_or_default();
    let sso = Resource::new_blocking(move || tenant.clone(), crate::sso::api::sso_sign_in_options);
    view! {
        <Title text="Sign in · Tenantry"/>
        <Suspense fallback=|| ()>
            {move || state.get().map(|result| match result {
                // Already signed in: straight to the console, unless adding another tenant.
                Ok(PageState { user: Some(_), .. }) if !adding => view! { <Redirect path="/identities"/> }.into_any(),
                other => {
                    provide_flash(other.ok().and_then(|s| s.flash));
                    view! { <LoginForm sso/> }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
fn LoginForm(sso: SsoOptions) -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let form = FormState::new("login", action.version().into(), action.value().into());
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let tenant_default = move || query.read().get("tenant").unwrap_or_default();
    let reset = query.read_untracked().get("reset").is_some();
    let add = query.read_untracked().get("add").unwrap_or_default();
    let heading = if add.is_empty() {
        "Sign in to Tenantry"
    } else {
        "Sign in to another tenant"
    };
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
                    <h1 class="mt-4 text-2xl font-semibold tracking-tight text-slate-900">{heading}</h1>
                    <p class="mt-1 text-sm text-slate-600">"Use your organisation's tenant, email and password."</p>
                </div>
                <div class="rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
                    {reset.then(|| view! { <div class="mb-4"><SuccessBanner message="Your password was changed. Sign in with the new one."/></div> })}
                    {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
                        <ActionForm action=action attr:class="space-y-4" attr:aria-label="Sign in">
                            <input type="hidden" name="next" value=next/>
                            <input type="hidden" name="add" value=add/>
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
                    <SingleSignOn options=sso/>
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

/// The tenant's "Sign in with …" buttons when the page names a tenant (`?tenant=acme`), or
/// a small form that asks for the tenant to find them. Works without JavaScript.
type SsoOptions =
    Resource<Result<Vec<crate::sso::model::SignInOptionView>, crate::error::AppError>>;

#[component]
fn SingleSignOn(options: SsoOptions) -> impl IntoView {
    let query = use_query_map().read_untracked();
    let tenant = query.get("tenant").unwrap_or_default();
    let asked = query.get("sso").is_some();
    let next = query.get("next").unwrap_or_default();
    let add = query.get("add").unwrap_or_default();
    let divider = view! {
        <div class="my-5 flex items-center gap-3 text-xs text-slate-500" aria-hidden="true">
            <div class="h-px flex-1 bg-slate-200"></div>"or"<div class="h-px flex-1 bg-slate-200"></div>
        </div>
    };
    let ask = {
        let (next, add) = (next.clone(), add.clone());
        move || {
            let (next, add) = (next.clone(), add.clone());
            view! {
                <form method="get" action="/login" class="flex items-end gap-2" aria-label="Single sign-on">
                    <input type="hidden" name="sso" value="1"/>
                    {(!next.is_empty()).then(|| view! { <input type="hidden" name="next" value=next.clone()/> })}
                    {(!add.is_empty()).then(|| view! { <input type="hidden" name="add" value=add.clone()/> })}
                    <div class="flex-1">
                        <label for="sso-tenant" class="block text-sm font-medium text-slate-800">"Company sign-in (SSO)"</label>
                        <input id="sso-tenant" name="tenant" required placeholder="your tenant"
                            class="mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600"/>
                    </div>
                    <button type="submit" class=crate::components::ui::BTN_SECONDARY>"Continue"</button>
                </form>
            }
        }
    };
    view! {
        {divider}
        <Suspense fallback=|| ()>
            {move || options.get().map(|r| {
                let options = r.unwrap_or_default();
                if tenant.is_empty() {
                    ask().into_any()
                } else if options.is_empty() && asked {
                    view! {
                        <p class="text-center text-sm text-slate-600">
                            {format!("\u{201c}{tenant}\u{201d} has no single sign-on. Sign in with your email and password.")}
                        </p>
                    }.into_any()
                } else if options.is_empty() {
                    ask().into_any()
                } else {
                    view! {
                        <div class="space-y-2">
                            {options.into_iter().map(|o| {
                                let href = o.href(&[("next", &next), ("add", &add)]);
                                view! {
                                    <a href=href rel="external" class=format!("{} w-full", crate::components::ui::BTN_SECONDARY)>
                                        {format!("Sign in with {}", o.name)}
                                    </a>
                                }
                            }).collect_view()}
                        </div>
                    }.into_any()
                }
            })}
        </Suspense>
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
