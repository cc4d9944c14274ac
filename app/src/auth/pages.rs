//! The sign-in page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use leptos_router::components::Redirect;

use super::api::{Login, console_state};
use super::model::PageState;
use crate::components::forms::{FormState, TextField, provide_flash};
use crate::components::ui::{BTN_PRIMARY, ErrorBanner};

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
                <p class="mt-6 text-center text-xs text-slate-600">
                    "Programs sign in with " <code class="font-mono">"POST /v1/auth/token"</code> "."
                </p>
            </div>
        </main>
    }
}
