//! Pages of the Identities screen.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::api::{
    CreateIdentity, DeleteIdentity, RestoreIdentity, RevokeIdentityKeys, SetIdentityRoles,
    SetIdentityStatus, UpdateIdentity, get_identity, list_identities,
};
use super::forms::IdentityQuery;
use super::model::{IdentityDetail, IdentityView};
use super::privacy::{ConfirmErase, PersonalDataCard};
use crate::auth::can;
use crate::components::forms::{FormState, SelectField, TextArea, TextField};
use crate::components::ui::{
    BTN_DANGER, BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, DataTable, EmptyState,
    ErrorBanner, LINK, Loading, NotFound, PageHeader, Pill, StatusBadge, SuccessBanner,
};
use crate::components::url::{id_param, query_string};
use crate::error::AppError;
use crate::memories::model::MemoryView;

const ROLES: [(&str, &str); 4] = [
    ("member", "Member"),
    ("viewer", "Viewer"),
    ("admin", "Admin"),
    ("owner", "Owner"),
];
const KINDS: [(&str, &str); 2] = [
    ("user", "User (a person)"),
    ("agent", "Agent (a program or AI)"),
];
const STATUS_FILTERS: [(&str, &str); 5] = [
    ("", "Active and disabled"),
    ("active", "Active"),
    ("disabled", "Disabled"),
    ("deleted", "In the trash"),
    ("all", "All"),
];

#[component]
pub fn IdentitiesPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q");
    let status = move || query.read().get("status");
    let cursor = move || query.read().get("cursor");
    let done = move || query.read().get("done");
    let page = Resource::new(
        move || (q(), status(), cursor()),
        |(q, status, cursor)| list_identities(IdentityQuery { q, status, cursor }),
    );
    view! {
        <Title text="Identities · Tenantry"/>
        <PageHeader title="Identities" subtitle="People and agents of this tenant.">
            {can(crate::auth::perm::IDENTITIES_CREATE).then(|| view! { <A href="/identities/new" attr:class=BTN_PRIMARY>"New identity"</A> })}
        </PageHeader>
        {move || match done().as_deref() {
            Some("deleted") => Some(view! { <div class="mb-4"><SuccessBanner message="Identity moved to the trash. You can restore it from the trash filter."/></div> }.into_any()),
            Some("purged") => Some(view! { <div class="mb-4"><SuccessBanner message="Identity deleted permanently."/></div> }.into_any()),
            Some("erased") => Some(view! { <div class="mb-4"><SuccessBanner message="The person was erased: their key is destroyed and what was derived from their data is deleted. The audit trail keeps an erasure record."/></div> }.into_any()),
            _ => None,
        }}
        <Form method="GET" action="" attr:class="mb-4 flex flex-wrap items-end gap-3" attr:role="search" attr:aria-label="Search identities">
            <div class="min-w-64 flex-1">
                <label for="search-q" class="block text-sm font-medium text-slate-800">"Search"</label>
                <input
                    id="search-q"
                    type="search"
                    name="q"
                    placeholder="Email, name or external id"
                    prop:value=move || q().unwrap_or_default()
                    value=move || q().unwrap_or_default()
                    class="mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600"
                />
            </div>
            <div>
                <label for="search-status" class="block text-sm font-medium text-slate-800">"Status"</label>
                <select
                    id="search-status"
                    name="status"
                    class="mt-1 block rounded-md border-0 py-2 pl-3 pr-8 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
                >
                    {STATUS_FILTERS
                        .into_iter()
                        .map(|(v, label)| view! { <option value=v selected=move || status().unwrap_or_default() == v>{label}</option> })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class=BTN_SECONDARY>"Search"</button>
        </Form>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || page.get().map(|result| match result {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(page) => {
                    let next_href = page.next_cursor.clone().map(|c| {
                        format!("/identities{}", query_string(&[("q", q()), ("status", status()), ("cursor", Some(c))]))
                    });
                    let first_href = cursor().is_some().then(|| {
                        format!("/identities{}", query_string(&[("q", q()), ("status", status())]))
                    });
                    view! {
                        <IdentityTable items=page.items filtered=q().is_some() || status().is_some()/>
                        <nav class="mt-4 flex items-center justify-between" aria-label="Pagination">
                            <div>{first_href.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"← First page"</A> })}</div>
                            <div>{next_href.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"Next page →"</A> })}</div>
                        </nav>
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn IdentityTable(items: Vec<IdentityView>, filtered: bool) -> impl IntoView {
    if items.is_empty() {
        let (title, text) = if filtered {
            (
                "No identities match",
                "Try another search or status filter.",
            )
        } else {
            (
                "No identities yet",
                "Create the first one, or let programs add them through the API.",
            )
        };
        return view! { <EmptyState title=title text=text/> }.into_any();
    }
    view! {
        <DataTable caption="Identities" columns=&["Name", "Kind", "Roles", "Status", "Created"] testid="identities-table">
                    {items
                        .into_iter()
                        .map(|i| {
                            let href = format!("/identities/{}", i.id);
                            let secondary = if i.display_name.is_empty() { i.external_id.clone() } else { i.email.clone() };
                            let label = i.label.clone();
                            let roles = i.roles.join(", ");
                            let (kind, status, created) = (i.kind, i.status, i.created_at);
                            view! {
                                <tr class="hover:bg-slate-50">
                                    <td class="px-4 py-3">
                                        <A href=href attr:class=LINK>{label}</A>
                                        {secondary.map(|s| view! { <div class="text-xs text-slate-600">{s}</div> })}
                                    </td>
                                    <td class="px-4 py-3 text-slate-700">{kind}</td>
                                    <td class="px-4 py-3 text-slate-700">{roles}</td>
                                    <td class="px-4 py-3"><StatusBadge status=status/></td>
                                    <td class="whitespace-nowrap px-4 py-3 text-slate-600">{created}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
pub fn NewIdentityPage() -> impl IntoView {
    let action = ServerAction::<CreateIdentity>::new();
    let form = FormState::new(
        "create_identity",
        action.version().into(),
        action.value().into(),
    );
    view! {
        <Title text="New identity · Tenantry"/>
        <PageHeader title="New identity" subtitle="A person who signs in to the console or an agent that calls the API."/>
        <div class=format!("{CARD} max-w-2xl p-6")>
                {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
                <ActionForm action=action attr:class="space-y-5" attr:aria-label="New identity">
                    <div class="grid gap-5 sm:grid-cols-2">
                        <SelectField name="kind" label="Kind" options=KINDS.to_vec() value=form.value("kind", "user".into()) error=form.field_error("kind")/>
                        <SelectField name="role" label="Initial role" options=ROLES.to_vec() value=form.value("role", "member".into()) error=form.field_error("roles") help="More roles, custom ones included, on the identity's page."/>
                    </div>
                    <TextField name="email" label="Email" kind="email" value=form.value("email", String::new()) error=form.field_error("email") help="Required for users; unique in this tenant." autocomplete="off"/>
                    <TextField name="display_name" label="Display name" value=form.value("display_name", String::new()) error=form.field_error("display_name") help="Required for agents."/>
                    <TextField name="external_id" label="External id" value=form.value("external_id", String::new()) error=form.field_error("external_id") help="Your system's id for this identity (optional, unique)."/>
                    <TextArea name="metadata" label="Metadata (JSON object)" value=form.value("metadata", "{}".into()) error=form.field_error("metadata") rows=4/>
                    <TextArea name="personal_metadata" label="Personal details (JSON object)" value=form.value("personal_metadata", "{}".into()) error=form.field_error("personal_metadata") rows=3 help="A phone number, an address: stored encrypted under this person's key and erased with them. Not searchable, not used by policies."/>
                    <TextField name="password" label="Initial password" kind="password" error=form.field_error("password") help="Optional: 12 characters or more, to sign in to the console." autocomplete="new-password"/>
                    <div class="flex items-center gap-3 pt-2">
                        <button type="submit" class=BTN_PRIMARY disabled=move || action.pending().get()>
                            {move || if action.pending().get() { "Creating…" } else { "Create identity" }}
                        </button>
                        <A href="/identities" attr:class=BTN_SECONDARY>"Cancel"</A>
                    </div>
                </ActionForm>
        </div>
    }
}

#[component]
pub fn IdentityDetailPage() -> impl IntoView {
    let id = id_param();
    let query = use_query_map();
    let confirm = move || query.read().get("confirm");
    let status_action = ServerAction::<SetIdentityStatus>::new();
    let restore_action = ServerAction::<RestoreIdentity>::new();
    let delete_action = ServerAction::<DeleteIdentity>::new();
    let roles_action = ServerAction::<SetIdentityRoles>::new();
    let keys_action = ServerAction::<RevokeIdentityKeys>::new();
    let detail = Resource::new(
        move || {
            (
                id(),
                status_action.version().get(),
                restore_action.version().get(),
                roles_action.version().get(),
                keys_action.version().get(),
            )
        },
        |(id, ..)| get_identity(id),
    );
    let action_error = Signal::derive(move || {
        [
            status_action.value().get(),
            restore_action.value().get(),
            delete_action.value().get(),
            roles_action.value().get(),
            keys_action.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(|r| r.err())
    });
    let dispatched = Signal::derive(move || {
        status_action.version().get()
            + restore_action.version().get()
            + delete_action.version().get()
            + roles_action.version().get()
            + keys_action.version().get()
    });
    let form = FormState::new(
        "identity_actions",
        dispatched,
        Signal::derive(move || action_error.get().map(Err::<(), AppError>)),
    );
    view! {
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || detail.get().map(|result| match result {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! { <NotFoundCard/> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(detail) => view! {
                    <Title text=format!("{} · Identities · Tenantry", detail.identity.label.clone())/>
                    {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
                    <Detail detail=detail.clone() status_action restore_action roles_action/>
                    {
                        let (identity, keys) = (detail.identity.clone(), detail.active_keys);
                        move || confirm().filter(|c| c == "revoke-keys").and(keys).filter(|n| *n > 0).map(|n| view! {
                            <ConfirmRevokeKeys identity=identity.clone() count=n action=keys_action/>
                        })
                    }
                    {
                        let identity = detail.identity.clone();
                        move || confirm().filter(|c| c == "erase" && can(crate::auth::perm::PRIVACY_ERASE)).map(|_| view! {
                            <ConfirmErase identity=identity.clone()/>
                        })
                    }
                    {move || confirm().filter(|c| c == "delete" || c == "purge").map(|mode| view! {
                        <ConfirmDelete identity=detail.identity.clone() mode=mode action=delete_action/>
                    })}
                }
                .into_any(),
            })}
        </Transition>
    }
}

#[component]
fn NotFoundCard() -> impl IntoView {
    view! {
        <NotFound what="Identity" text="It may have been deleted permanently, or the link is wrong." back="/identities" back_label="Back to identities"/>
    }
}

#[component]
fn Detail(
    detail: IdentityDetail,
    status_action: ServerAction<SetIdentityStatus>,
    restore_action: ServerAction<RestoreIdentity>,
    roles_action: ServerAction<SetIdentityRoles>,
) -> impl IntoView {
    let i = detail.identity;
    let (can_update, can_delete) = (
        can(crate::auth::perm::IDENTITIES_UPDATE),
        can(crate::auth::perm::IDENTITIES_DELETE),
    );
    let manage = can_update || can_delete;
    let deleted = i.status == "deleted";
    let (next_status, toggle_label) = if i.status == "disabled" {
        ("active", "Enable")
    } else {
        ("disabled", "Disable")
    };
    let base = format!("/identities/{}", i.id);
    let action_id = i.id.clone();
    let row = |label: &'static str, value: String| {
        view! {
            <div class="py-3 sm:grid sm:grid-cols-3 sm:gap-4">
                <dt class="text-sm font-medium text-slate-600">{label}</dt>
                <dd class="mt-1 break-all text-sm text-slate-900 sm:col-span-2 sm:mt-0">{value}</dd>
            </div>
        }
    };
    view! {
        <div class="mb-6">
            <A href="/identities" attr:class="text-sm font-medium text-slate-600 hover:text-slate-900">"← Identities"</A>
        </div>
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{i.label.clone()}</h1>
            <StatusBadge status=i.status.clone()/>
            <Pill text=i.kind.clone()/>
        </div>
        {manage.then(|| view! {
            <div class="mb-6 flex flex-wrap gap-2" aria-label="Actions">
                {if deleted {
                    view! {
                        {can_update.then(|| view! {
                            <ActionForm action=restore_action>
                                <input type="hidden" name="id" value=action_id.clone()/>
                                <button type="submit" class=BTN_SECONDARY>"Restore"</button>
                            </ActionForm>
                        })}
                        {can_delete.then(|| view! {
                            <A href=format!("{base}?confirm=purge") attr:class=BTN_GHOST_DANGER>"Delete permanently…"</A>
                        })}
                    }.into_any()
                } else {
                    view! {
                        {can_update.then(|| view! {
                            <A href=format!("{base}/edit") attr:class=BTN_SECONDARY>"Edit"</A>
                            <ActionForm action=status_action>
                                <input type="hidden" name="id" value=action_id.clone()/>
                                <input type="hidden" name="status" value=next_status/>
                                <button type="submit" class=BTN_SECONDARY>{toggle_label}</button>
                            </ActionForm>
                        })}
                        {can_delete.then(|| view! {
                            <A href=format!("{base}?confirm=delete") attr:class=BTN_GHOST_DANGER>"Delete…"</A>
                        })}
                    }.into_any()
                }}
            </div>
        })}
        <div class="grid gap-6 lg:grid-cols-3">
            <section class=format!("{CARD} p-6 lg:col-span-2") aria-labelledby="details-heading">
                <h2 id="details-heading" class="text-base font-semibold text-slate-900">"Details"</h2>
                <dl class="mt-2 divide-y divide-slate-100">
                    {row("Email", i.email.clone().unwrap_or_else(|| "—".into()))}
                    {row("Display name", if i.display_name.is_empty() { "—".into() } else { i.display_name.clone() })}
                    {row("External id", i.external_id.clone().unwrap_or_else(|| "—".into()))}
                    {row("Kind", i.kind.clone())}
                    {row("Id", i.id.clone())}
                    {row("Created", i.created_at.clone())}
                    {row("Updated", i.updated_at.clone())}
                    {i.deleted_at.clone().map(|d| row("Deleted", d))}
                </dl>
                <h3 class="mt-6 text-sm font-semibold text-slate-900">"Metadata"</h3>
                <pre class="mt-2 overflow-x-auto rounded-md bg-slate-900 p-4 text-xs text-slate-100">{i.metadata.clone()}</pre>
                <h3 class="mt-6 text-sm font-semibold text-slate-900">"Personal details"</h3>
                <p class="mt-1 text-xs text-slate-600">"Encrypted under this person's key; erased with them."</p>
                <pre class="mt-2 overflow-x-auto rounded-md bg-slate-900 p-4 text-xs text-slate-100" data-testid="personal-metadata">{i.personal_metadata.clone()}</pre>
            </section>
            <div class="space-y-6">
            <RolesCard id=i.id.clone() held=i.roles.clone() all=detail.all_roles action=roles_action/>
            {detail.active_keys.map(|n| view! { <KeysCard base=base.clone() status=i.status.clone() count=n/> })}
            {detail.memories.map(|memories| view! { <MemoriesCard id=i.id.clone() memories/> })}
            <PersonalDataCard id=i.id.clone() base=base.clone() kind=i.kind.clone()/>
            <section class=format!("{CARD} p-6") aria-labelledby="activity-heading">
                <h2 id="activity-heading" class="text-base font-semibold text-slate-900">"Activity"</h2>
                <ol class="mt-4 space-y-4">
                    {detail.activity.into_iter().map(|a| view! {
                        <li class="border-l-2 border-indigo-200 pl-3">
                            <p class="text-sm font-medium text-slate-900">{describe(&a.action)}</p>
                            <p class="text-xs text-slate-600">{a.at} " · by " {a.actor}</p>
                        </li>
                    }).collect_view()}
                </ol>
            </section>
            </div>
        </div>
    }
}

/// The roles an identity holds: a checkbox per role of the tenant for admins who may
/// assign roles, a plain list for the others.
#[component]
fn RolesCard(
    id: String,
    held: Vec<String>,
    all: Vec<String>,
    action: ServerAction<SetIdentityRoles>,
) -> impl IntoView {
    let editable = can(crate::auth::perm::ROLES_MANAGE) && !all.is_empty();
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="roles-heading">
            <h2 id="roles-heading" class="text-base font-semibold text-slate-900">"Roles"</h2>
            {if editable {
                view! {
                    <ActionForm action=action attr:class="mt-3 space-y-3" attr:aria-label="Roles">
                        <input type="hidden" name="id" value=id.clone()/>
                        <fieldset>
                            <legend class="sr-only">"Roles held directly"</legend>
                            <div class="space-y-2">
                                {all.iter().enumerate().map(|(n, name)| {
                                    let checked = held.contains(name);
                                    let field = format!("role-{name}");
                                    view! {
                                        <div class="flex items-center gap-2">
                                            <input id=field.clone() type="checkbox" name=format!("roles[{n}]") value=name.clone() checked=checked
                                                class="h-4 w-4 rounded border-slate-400 text-indigo-600 focus:ring-indigo-600"/>
                                            <label for=field class="text-sm text-slate-800">{name.clone()}</label>
                                        </div>
                                    }
                                }).collect_view()}
                            </div>
                        </fieldset>
                        <button type="submit" class=BTN_SECONDARY>"Save roles"</button>
                    </ActionForm>
                }.into_any()
            } else if held.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-600">"No roles: this identity can do nothing yet."</p> }.into_any()
            } else {
                view! {
                    <div class="mt-3 flex flex-wrap gap-2">
                        {held.into_iter().map(|r| view! { <Pill text=r/> }).collect_view()}
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// The identity's newest memories, with a link to all of them.
#[component]
fn MemoriesCard(id: String, memories: Result<Vec<MemoryView>, AppError>) -> impl IntoView {
    let all = format!("/memories?owner={id}");
    let new = format!("/memories/new?owner={id}");
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="memories-heading">
            <div class="flex items-center justify-between gap-3">
                <h2 id="memories-heading" class="text-base font-semibold text-slate-900">"Memories"</h2>
                {can(crate::auth::perm::MEMORIES_CREATE).then(|| view! { <A href=new attr:class=LINK>"New memory"</A> })}
            </div>
            {match memories {
                Err(e) => view! { <p class="mt-2 text-sm text-slate-600">{e.banner()}</p> }.into_any(),
                Ok(items) if items.is_empty() => view! {
                    <p class="mt-2 text-sm text-slate-600">"No memories yet."</p>
                }.into_any(),
                Ok(items) => view! {
                    <ul class="mt-3 divide-y divide-slate-100" aria-label="Newest memories">
                        {items.into_iter().map(|m| {
                            let (href, snippet) = (format!("/memories/{}", m.id), m.snippet(90));
                            view! {
                                <li class="py-2">
                                    <A href=href attr:class="text-sm text-slate-900 hover:text-indigo-700 hover:underline">{snippet}</A>
                                    <p class="text-xs text-slate-600">{m.created_at.clone()}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <A href=all attr:class=format!("mt-3 inline-block text-sm {LINK}")>"All memories →"</A>
        </section>
    }
}

/// A sentence for an audit action, e.g. `identity.disabled` → "Disabled".
fn describe(action: &str) -> String {
    match action {
        "identity.created" => "Created".into(),
        "identity.updated" => "Edited".into(),
        "identity.disabled" => "Disabled".into(),
        "identity.enabled" => "Enabled".into(),
        "identity.deleted" => "Moved to the trash".into(),
        "identity.restored" => "Restored from the trash".into(),
        "identity.roles_changed" => "Roles changed".into(),
        "auth.token_issued" => "Signed in to the API".into(),
        "auth.token_refreshed" => "Refreshed an API token".into(),
        "auth.refresh_token_reused" => {
            "A spent refresh token was reused: its sign-in was revoked".into()
        }
        other => other.to_owned(),
    }
}

/// The API keys that act for an identity: they are separate credentials, so the console
/// says what happens to them and offers to revoke them all.
#[component]
fn KeysCard(base: String, status: String, count: usize) -> impl IntoView {
    let text = match (count, status.as_str()) {
        (0, _) => "No API key acts for this identity.".to_owned(),
        (n, "disabled") => format!(
            "{n} API {} act for this identity. They are refused while it is disabled and work again if it is enabled; revoke them if they may be compromised.",
            if n == 1 { "key" } else { "keys" }
        ),
        (n, _) => format!(
            "{n} API {} act for this identity. They keep working after a password reset or a sign-out everywhere; revoke them if they may be compromised.",
            if n == 1 { "key" } else { "keys" }
        ),
    };
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="keys-heading">
            <h2 id="keys-heading" class="text-base font-semibold text-slate-900">"API keys"</h2>
            <p class="mt-2 text-sm text-slate-700" data-testid="identity-keys">{text}</p>
            {(count > 0).then(|| view! {
                <A href=format!("{base}?confirm=revoke-keys") attr:class=format!("{BTN_GHOST_DANGER} mt-3 inline-flex")>
                    {if count == 1 { "Revoke its API key…".to_owned() } else { format!("Revoke its {count} API keys…") }}
                </A>
            })}
        </section>
    }
}

#[component]
fn ConfirmRevokeKeys(
    identity: IdentityView,
    count: usize,
    action: ServerAction<RevokeIdentityKeys>,
) -> impl IntoView {
    let cancel = format!("/identities/{}", identity.id);
    let keys = if count == 1 {
        "its API key".to_owned()
    } else {
        format!("its {count} API keys")
    };
    view! {
        <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4">
            <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-text" class="w-full max-w-md rounded-lg bg-white p-6 shadow-xl">
                <h2 id="confirm-title" class="text-lg font-semibold text-slate-900">{format!("Revoke {keys}?")}</h2>
                <p id="confirm-text" class="mt-2 text-sm text-slate-700">
                    {format!("Every program using {keys} for {} is refused from now on. This cannot be undone: a program needs a new key to work again.", identity.label.clone())}
                </p>
                <div class="mt-6 flex justify-end gap-3">
                    <A href=cancel attr:class=BTN_SECONDARY>"Cancel"</A>
                    <ActionForm action=action>
                        <input type="hidden" name="id" value=identity.id.clone()/>
                        <button type="submit" class=BTN_DANGER disabled=move || action.pending().get()>"Revoke"</button>
                    </ActionForm>
                </div>
            </div>
        </div>
    }
}

#[component]
fn ConfirmDelete(
    identity: IdentityView,
    mode: String,
    action: ServerAction<DeleteIdentity>,
) -> impl IntoView {
    let purge = mode == "purge";
    let cancel = format!("/identities/{}", identity.id);
    let (title, text, button) = if purge {
        (
            format!("Delete {} permanently?", identity.label.clone()),
            "The identity and its credentials are removed for good. The audit trail keeps a record of what it was. This cannot be undone.",
            "Delete permanently",
        )
    } else {
        (
            format!("Delete {}?", identity.label.clone()),
            "The identity moves to the trash: it can no longer sign in, and you can restore it later.",
            "Delete",
        )
    };
    view! {
        <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4">
            <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-text" class="w-full max-w-md rounded-lg bg-white p-6 shadow-xl">
                <h2 id="confirm-title" class="text-lg font-semibold text-slate-900">{title}</h2>
                <p id="confirm-text" class="mt-2 text-sm text-slate-700">{text}</p>
                <div class="mt-6 flex justify-end gap-3">
                    <A href=cancel attr:class=BTN_SECONDARY>"Cancel"</A>
                    <ActionForm action=action>
                        <input type="hidden" name="id" value=identity.id.clone()/>
                        <input type="hidden" name="mode" value=if purge { "purge" } else { "trash" }/>
                        <button type="submit" class=BTN_DANGER disabled=move || action.pending().get()>{button}</button>
                    </ActionForm>
                </div>
            </div>
        </div>
    }
}

#[component]
pub fn EditIdentityPage() -> impl IntoView {
    let id = id_param();
    let detail = Resource::new(id, get_identity);
    view! {
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || detail.get().map(|result| match result {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! { <NotFoundCard/> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(detail) => view! { <EditForm identity=detail.identity/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn EditForm(identity: IdentityView) -> impl IntoView {
    let action = ServerAction::<UpdateIdentity>::new();
    let form = FormState::new(
        "update_identity",
        action.version().into(),
        action.value().into(),
    );
    let i = identity;
    let back = format!("/identities/{}", i.id);
    view! {
        <Title text=format!("Edit {} · Tenantry", i.label.clone())/>
        <div class="mb-6">
            <A href=back.clone() attr:class="text-sm font-medium text-slate-600 hover:text-slate-900">{format!("← {}", i.label.clone())}</A>
        </div>
        <PageHeader title=format!("Edit {}", i.label.clone())/>
        <div class=format!("{CARD} max-w-2xl p-6")>
            {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
            <ActionForm action=action attr:class="space-y-5" attr:aria-label="Edit identity">
                <input type="hidden" name="id" value=i.id.clone()/>
                <TextField name="email" label="Email" kind="email" value=form.value("email", i.email.clone().unwrap_or_default()) error=form.field_error("email") autocomplete="off"/>
                <TextField name="display_name" label="Display name" value=form.value("display_name", i.display_name.clone()) error=form.field_error("display_name")/>
                <TextField name="external_id" label="External id" value=form.value("external_id", i.external_id.clone().unwrap_or_default()) error=form.field_error("external_id") help="Leave empty to clear it."/>
                <TextArea name="metadata" label="Metadata (JSON object)" value=form.value("metadata", i.metadata.clone()) error=form.field_error("metadata") rows=6/>
                <TextArea name="personal_metadata" label="Personal details (JSON object)" value=form.value("personal_metadata", i.personal_metadata.clone()) error=form.field_error("personal_metadata") rows=4 help="Stored encrypted under this person's key and erased with them. Not searchable, not used by policies."/>
                <div class="flex items-center gap-3 pt-2">
                    <button type="submit" class=BTN_PRIMARY disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Saving…" } else { "Save changes" }}
                    </button>
                    <A href=back attr:class=BTN_SECONDARY>"Cancel"</A>
                </div>
            </ActionForm>
        </div>
    }
}
