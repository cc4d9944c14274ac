//! Single sign-on providers on the Settings screen: the list, each provider's form, and
//! the form that adds one.

use leptos::prelude::*;

use super::api::{CreateSsoProvider, DeleteSsoProvider, UpdateSsoProvider};
use super::model::{ProviderView, SsoSettingsView};
use crate::auth::can;
use crate::components::forms::{FormState, TextField};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, CopyButton, ErrorBanner, LINK, Pill,
    StatusBadge, confirm_first,
};

const SELECT: &str = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-inset focus:ring-indigo-600";

/// The providers of the tenant, each with its form, and the form that adds one.
#[component]
pub fn SettingsBody(
    view: SsoSettingsView,
    editing: String,
    create: ServerAction<CreateSsoProvider>,
    update: ServerAction<UpdateSsoProvider>,
    delete: ServerAction<DeleteSsoProvider>,
) -> impl IntoView {
    let edited = view.providers.iter().find(|p| p.id == editing).cloned();
    let roles = view.roles.clone();
    let (may_update, may_create) = (
        can(crate::auth::perm::SETTINGS_UPDATE),
        can(crate::auth::perm::SETTINGS_CREATE),
    );
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-6 lg:col-span-2">
                <RedirectUri uri=view.redirect_uri/>
                <section class=format!("{CARD} overflow-hidden") aria-labelledby="providers-heading">
                    <h2 id="providers-heading" class="px-6 pt-5 text-base font-semibold text-slate-900">"Identity providers"</h2>
                    {if view.providers.is_empty() {
                        view! {
                            <p class="px-6 py-8 text-sm text-slate-600">
                                "No identity provider yet. Add one to put a “Sign in with …” button on your sign-in page."
                            </p>
                        }.into_any()
                    } else {
                        view! {
                            <ul class="mt-3 divide-y divide-slate-100" aria-label="Identity providers">
                                {view.providers.into_iter().map(|p| view! { <ProviderRow provider=p delete/> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </section>
            </div>
            {match edited {
                Some(p) if may_update => view! { <EditProvider provider=p roles update/> }.into_any(),
                _ if may_create => view! { <NewProvider roles create/> }.into_any(),
                _ => ().into_any(),
            }}
        </div>
    }
}

#[component]
fn RedirectUri(uri: String) -> impl IntoView {
    let copy = uri.clone();
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="redirect-heading">
            <h2 id="redirect-heading" class="text-base font-semibold text-slate-900">"Redirect URI"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Register this address at your identity provider as the application's redirect (callback) URI, then add the provider here with the client id and secret it gives you."
            </p>
            <div class="mt-3 flex flex-wrap items-center gap-2">
                <label for="redirect-uri" class="sr-only">"Redirect URI"</label>
                <input id="redirect-uri" readonly value=uri
                    class="min-w-0 flex-1 rounded-md border-0 bg-slate-50 px-3 py-2 font-mono text-sm text-slate-900 ring-1 ring-inset ring-slate-300"/>
                <CopyButton text=copy/>
            </div>
        </section>
    }
}

#[component]
fn ProviderRow(provider: ProviderView, delete: ServerAction<DeleteSsoProvider>) -> impl IntoView {
    let p = provider;
    let kind = if p.kind == "google" {
        "Google"
    } else {
        "OpenID Connect"
    };
    let domains = if p.allowed_domains.is_empty() {
        "any verified email".to_owned()
    } else {
        p.allowed_domains.clone()
    };
    let first_sign_in = if p.jit_provisioning {
        format!(
            "creates an account as {}",
            p.default_role.clone().unwrap_or_else(|| "no role".into())
        )
    } else {
        "only people who already have an account or an invitation".to_owned()
    };
    let people = match p.linked_identities {
        0 => "nobody has signed in with it yet".to_owned(),
        1 => "1 person signs in with it".to_owned(),
        n => format!("{n} people sign in with it"),
    };
    let edit_label = format!("Edit {}", p.name);
    let delete_label = format!("Remove {}", p.name);
    let edit_href = format!("/settings?edit={}", p.id);
    view! {
        <li class="px-6 py-4">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <div class="flex flex-wrap items-center gap-2">
                        <span class="font-medium text-slate-900">{p.name.clone()}</span>
                        <Pill text=kind/>
                        <StatusBadge status=if p.enabled { "active" } else { "disabled" }/>
                    </div>
                    <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                        <dt class="text-slate-600">"Issuer"</dt>
                        <dd class="break-all font-mono text-xs leading-5 text-slate-800">{p.issuer.clone()}</dd>
                        <dt class="text-slate-600">"Client id"</dt>
                        <dd class="break-all font-mono text-xs leading-5 text-slate-800">{p.client_id.clone()}</dd>
                        <dt class="text-slate-600">"Domains"</dt>
                        <dd class="text-slate-800">{domains}</dd>
                        <dt class="text-slate-600">"First sign-in"</dt>
                        <dd class="text-slate-800">{first_sign_in}</dd>
                        <dt class="text-slate-600">"Used"</dt>
                        <dd class="text-slate-800">{people}</dd>
                    </dl>
                </div>
                <div class="flex items-center gap-2">
                    {can(crate::auth::perm::SETTINGS_UPDATE).then(|| view! {
                        <a href=edit_href class=BTN_SECONDARY aria-label=edit_label>"Edit"</a>
                    })}
                    {can(crate::auth::perm::SETTINGS_DELETE).then(|| view! {
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=p.id.clone()/>
                            <button type="submit" class=BTN_GHOST_DANGER aria-label=delete_label
                                on:click=confirm_first("Remove this identity provider? Its sign-in button disappears; people keep their accounts.")>
                                "Remove"
                            </button>
                        </ActionForm>
                    })}
                </div>
            </div>
        </li>
    }
}

#[component]
fn Checkbox(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    checked: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    let help_id = format!("{id}-help");
    view! {
        <div class="flex items-start gap-3">
            <input id=id.clone() name=name type="checkbox" value="true" checked=checked
                aria-describedby=help_id.clone()
                class="mt-0.5 h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-600"/>
            <div>
                <label for=id class="text-sm font-medium text-slate-800">{label}</label>
                <p id=help_id class="text-xs text-slate-600">{help}</p>
            </div>
        </div>
    }
}

#[component]
fn RolePicker(
    roles: Vec<String>,
    selected: Signal<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div>
            <label for="field-default_role" class="block text-sm font-medium text-slate-800">"Role for new accounts"</label>
            <select id="field-default_role" name="default_role" class=SELECT>
                <option value="" selected=move || selected.get().is_empty()>"No role"</option>
                {roles.into_iter().map(|r| {
                    let (value, text) = (r.clone(), r.clone());
                    view! { <option value=r selected=move || selected.get() == value>{text}</option> }
                }).collect_view()}
            </select>
            {move || error.get().map(|m| view! { <p class="mt-1 text-sm text-red-700">{m}</p> })}
        </div>
    }
}

#[component]
fn NewProvider(roles: Vec<String>, create: ServerAction<CreateSsoProvider>) -> impl IntoView {
    let form = FormState::new(
        "create_sso_provider",
        create.version().into(),
        create.value().into(),
    );
    let kind = form.value("kind", "oidc".into());
    view! {
        <section class=format!("{CARD} p-6 self-start") aria-labelledby="new-provider-heading">
            <h2 id="new-provider-heading" class="text-base font-semibold text-slate-900">"Add an identity provider"</h2>
            <p class="mt-1 mb-4 text-sm text-slate-600">"The issuer's OpenID configuration is checked when you save."</p>
            {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
            <ActionForm action=create attr:class="space-y-4" attr:aria-label="Add an identity provider">
                <div>
                    <label for="field-kind" class="block text-sm font-medium text-slate-800">"Provider"</label>
                    <select id="field-kind" name="kind" class=SELECT>
                        <option value="oidc" selected=move || kind.get() != "google">"OpenID Connect (Okta, Entra ID, Keycloak, Auth0, …)"</option>
                        <option value="google" selected=move || kind.get() == "google">"Google"</option>
                    </select>
                </div>
                <TextField name="name" label="Button name" placeholder="Okta"
                    help="Shown as “Sign in with …”. Google's is “Google” unless you name it."
                    value=form.value("name", String::new()) error=form.field_error("name")/>
                <TextField name="issuer" label="Issuer URL" placeholder="https://acme.okta.com"
                    help="Leave empty for Google."
                    value=form.value("issuer", String::new()) error=form.field_error("issuer")/>
                <TextField name="client_id" label="Client id" required=true
                    value=form.value("client_id", String::new()) error=form.field_error("client_id")/>
                <TextField name="client_secret" label="Client secret" kind="password" required=true autocomplete="off"
                    help="Stored encrypted; never shown again."
                    error=form.field_error("client_secret")/>
                <TextField name="scopes" label="Scopes"
                    value=form.value("scopes", "openid email profile".into()) error=form.field_error("scopes")/>
                <TextField name="allowed_domains" label="Allowed email domains" placeholder="acme.com"
                    help="Comma-separated. Empty: any address the provider has verified."
                    value=form.value("allowed_domains", String::new()) error=form.field_error("allowed_domains")/>
                <RolePicker roles selected=form.value("default_role", "member".into()) error=form.field_error("default_role")/>
                <Checkbox name="jit_provisioning" label="Create accounts on first sign-in"
                    help="Off: only people with an account or an invitation can sign in." checked=false/>
                <Checkbox name="enabled" label="Enabled" help="Show the button on the sign-in page." checked=true/>
                <button type="submit" class=BTN_PRIMARY disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Checking the issuer…" } else { "Add provider" }}
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn EditProvider(
    provider: ProviderView,
    roles: Vec<String>,
    update: ServerAction<UpdateSsoProvider>,
) -> impl IntoView {
    let form = FormState::new(
        "update_sso_provider",
        update.version().into(),
        update.value().into(),
    );
    let p = provider;
    let google = p.kind == "google";
    let mut roles = roles;
    if let Some(r) = &p.default_role
        && !roles.contains(r)
    {
        roles.push(r.clone());
    }
    view! {
        <section class=format!("{CARD} p-6 self-start") aria-labelledby="edit-provider-heading">
            <h2 id="edit-provider-heading" class="text-base font-semibold text-slate-900">{format!("Edit {}", p.name)}</h2>
            <p class="mt-1 mb-4 text-sm text-slate-600">"Leave the secret empty to keep the stored one."</p>
            {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
            <ActionForm action=update attr:class="space-y-4" attr:aria-label="Edit the identity provider">
                <input type="hidden" name="id" value=p.id.clone()/>
                <TextField name="name" label="Button name" required=true
                    value=form.value("name", p.name.clone()) error=form.field_error("name")/>
                {(!google).then(|| view! {
                    <TextField name="issuer" label="Issuer URL" required=true
                        value=form.value("issuer", p.issuer.clone()) error=form.field_error("issuer")/>
                })}
                <TextField name="client_id" label="Client id" required=true
                    value=form.value("client_id", p.client_id.clone()) error=form.field_error("client_id")/>
                <TextField name="client_secret" label="New client secret" kind="password" autocomplete="off"
                    error=form.field_error("client_secret")/>
                <TextField name="scopes" label="Scopes"
                    value=form.value("scopes", p.scopes.clone()) error=form.field_error("scopes")/>
                <TextField name="allowed_domains" label="Allowed email domains"
                    help="Comma-separated. Empty: any address the provider has verified."
                    value=form.value("allowed_domains", p.allowed_domains.clone()) error=form.field_error("allowed_domains")/>
                <RolePicker roles selected=form.value("default_role", p.default_role.clone().unwrap_or_default()) error=form.field_error("default_role")/>
                <Checkbox name="jit_provisioning" label="Create accounts on first sign-in"
                    help="Off: only people with an account or an invitation can sign in." checked=p.jit_provisioning/>
                <Checkbox name="enabled" label="Enabled" help="Show the button on the sign-in page." checked=p.enabled/>
                <div class="flex items-center gap-3">
                    <button type="submit" class=BTN_PRIMARY disabled=move || update.pending().get()>"Save"</button>
                    <a href="/settings" class=LINK>"Cancel"</a>
                </div>
            </ActionForm>
        </section>
    }
}
