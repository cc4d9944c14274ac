//! The API keys page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::api::{CreateApiKey, RevokeApiKey, list_api_keys};
use super::model::{ApiKeyView, EXPIRY};
use crate::auth::can;
use crate::components::forms::{FormState, SelectField, TextField, successes};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner, LINK, Loading, PageHeader,
    Pill, SecretReveal, StatusBadge, SuccessBanner,
};

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let form = FormState::new(
        "create_api_key",
        create.version().into(),
        create.value().into(),
    );
    let created = successes(create.value().into());
    let query = use_query_map();
    let all = move || query.read().get("all").is_some_and(|v| v == "1");
    let data = Resource::new(
        move || (all(), created.get(), revoke.version().get()),
        |(all, ..)| list_api_keys(all),
    );
    let fresh = move || create.value().get().and_then(Result::ok);
    view! {
        <Title text="API keys · Tenantry"/>
        <PageHeader title="API keys" subtitle="Keys let programs call the API as you, limited to the scopes you choose. Send one as Authorization: Bearer or X-API-Key.">
            {can(crate::auth::perm::API_KEYS_MANAGE).then(|| view! {
                {move || if all() {
                    view! { <A href="/api-keys" attr:class=BTN_SECONDARY>"Show my keys"</A> }.into_any()
                } else {
                    view! { <A href="/api-keys?all=1" attr:class=BTN_SECONDARY>"Show every key in the tenant"</A> }.into_any()
                }}
            })}
        </PageHeader>
        {move || fresh().map(|k| view! {
            <SecretReveal
                title=format!("Copy the key \u{201c}{}\u{201d} now", k.name)
                text="This is the only time it is shown. Tenantry keeps only a hash of it: if it is lost, revoke it and make another."
                label="New API key"
                secret=k.secret/>
        })}
        {move || query.read().get("revoked").map(|_| view! { <div class="mb-4"><SuccessBanner message="Key revoked: requests with it now get 401."/></div> })}
        {move || query.read().get("created_without_js").map(|_| view! { <div class="mb-4"><ErrorBanner message="The key was created, but its secret can only be shown while the page's script runs. Revoke it and create another."/></div> })}
        <div class="grid gap-6 lg:grid-cols-3">
            <section class=format!("{CARD} lg:col-span-2 overflow-hidden") aria-labelledby="keys-heading">
                <h2 id="keys-heading" class="px-6 pt-5 text-base font-semibold text-slate-900">
                    {move || if all() { "Every key in the tenant" } else { "Your keys" }}
                </h2>
                <Transition fallback=|| view! { <div class="p-6"><Loading/></div> }>
                    {move || data.get().map(|r| match r {
                        Err(e) => view! { <div class="p-6"><ErrorBanner message=e.banner()/></div> }.into_any(),
                        Ok(page) if page.keys.is_empty() => view! {
                            <p class="px-6 py-8 text-sm text-slate-600">"No keys yet. Create one for each program, with only the scopes it needs."</p>
                        }.into_any(),
                        Ok(page) => view! { <KeyTable keys=page.keys all=page.all revoke/> }.into_any(),
                    })}
                </Transition>
            </section>
            {can(crate::auth::perm::API_KEYS_CREATE).then(|| view! {
                <section class=format!("{CARD} p-6") aria-labelledby="new-key-heading">
                    <h2 id="new-key-heading" class="mb-3 text-base font-semibold text-slate-900">"New key"</h2>
                    {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                    <ActionForm action=create attr:class="space-y-4" attr:aria-label="New key">
                        <TextField name="name" label="Name" required=true placeholder="nightly export"
                            value=form.value("name", String::new()) error=form.field_error("name")/>
                        <TextField name="scopes" label="Scopes" required=true
                            help="module:action, separated by spaces or commas; * stands for any. Example: memories:read identities:read"
                            value=form.value("scopes", "memories:read".into()) error=form.field_error("scopes")/>
                        <SelectField name="expires_in_days" label="Expires" options=EXPIRY.to_vec()
                            value=form.value("expires_in_days", "90".into()) error=form.field_error("expires_in_days")/>
                        <fieldset class="space-y-3">
                            <legend class="text-sm font-medium text-slate-900">"Rate limit of its own (optional)"</legend>
                            <p class="text-xs text-slate-600">"On top of your own and the tenant's limits. Leave empty for none."</p>
                            <div class="grid grid-cols-2 gap-3">
                                <TextField name="rate" label="Requests a second" kind="number" step="any" placeholder="5"
                                    value=form.value("rate", String::new()) error=form.field_error("rate_limit.rate")/>
                                <TextField name="burst" label="At once" kind="number" step="1" placeholder="10"
                                    value=form.value("burst", String::new()) error=form.field_error("rate_limit.burst")/>
                            </div>
                        </fieldset>
                        <p class="text-xs text-slate-600">"A key can never do more than you can, whatever its scopes."</p>
                        <button type="submit" class=BTN_PRIMARY>"Create key"</button>
                    </ActionForm>
                </section>
            })}
        </div>
    }
}

#[component]
fn KeyTable(keys: Vec<ApiKeyView>, all: bool, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    let may_revoke =
        can(crate::auth::perm::API_KEYS_DELETE) || can(crate::auth::perm::API_KEYS_MANAGE);
    view! {
        <div class="overflow-x-auto" tabindex="0" role="region" aria-label="Keys">
            <table class="mt-3 min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">"API keys"</caption>
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <th scope="col" class="px-6 py-2">"Name"</th>
                        <th scope="col" class="px-3 py-2">"Scopes"</th>
                        <th scope="col" class="px-3 py-2">"Last used (UTC)"</th>
                        <th scope="col" class="px-3 py-2">"Expires"</th>
                        <th scope="col" class="px-3 py-2">"Status"</th>
                        <th scope="col" class="px-6 py-2"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {keys.into_iter().map(|k| {
                        let active = k.status == "active";
                        let label = format!("Revoke {}", k.name);
                        view! {
                            <tr>
                                <td class="px-6 py-3 align-top">
                                    <div class="font-medium text-slate-900">{k.name.clone()}</div>
                                    <div class="font-mono text-xs text-slate-600">{format!("{}…", k.prefix)}</div>
                                    {all.then(|| view! { <div class="text-xs text-slate-600">{format!("for {}", k.identity_name)}</div> })}
                                    <div class="text-xs text-slate-500">{format!("created {}", k.created)}</div>
                                </td>
                                <td class="px-3 py-3 align-top">
                                    <div class="flex flex-wrap gap-1">
                                        {k.scopes.iter().map(|s| view! { <Pill text=s.clone()/> }).collect_view()}
                                    </div>
                                    {k.rate_limit.clone().map(|r| view! { <div class="mt-1 text-xs text-slate-600">{format!("limited to {r}")}</div> })}
                                </td>
                                <td class="whitespace-nowrap px-3 py-3 align-top text-slate-700">{k.last_used.clone().unwrap_or_else(|| "never".into())}</td>
                                <td class="whitespace-nowrap px-3 py-3 align-top text-slate-700">{k.expires.clone().unwrap_or_else(|| "never".into())}</td>
                                <td class="px-3 py-3 align-top"><StatusBadge status=k.status.clone()/></td>
                                <td class="px-6 py-3 text-right align-top">
                                    {(active && may_revoke).then(|| view! {
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="id" value=k.id.clone()/>
                                            <button type="submit" class=BTN_GHOST_DANGER aria-label=label>"Revoke"</button>
                                        </ActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="px-6 py-3 text-xs text-slate-500">
            "Revoked and expired keys stop working at once on every server. "
            <a href="/v1/openapi.json" class=LINK>"API reference (OpenAPI)"</a>
        </p>
    }
}
