//! Pages of the Roles screen: the list, and a role's page with its permission matrix.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{DeleteRole, SaveRole, list_roles};
use super::model::{CatalogueView, RoleView, RolesPage};
use crate::auth::can;
use crate::components::forms::{FormState, TextField};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, DataTable, ErrorBanner, LINK, Loading,
    NotFound, PageHeader, Pill, SuccessBanner,
};

#[component]
pub fn RolesListPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_roles());
    let query = use_query_map();
    view! {
        <Title text="Roles · Tenantry"/>
        <PageHeader title="Roles" subtitle="What each role allows or denies. People and groups hold roles.">
            {can(crate::auth::perm::ROLES_CREATE).then(|| view! { <A href="/roles/new" attr:class=BTN_PRIMARY>"New role"</A> })}
        </PageHeader>
        {move || query.read().get("deleted").map(|_| view! { <div class="mb-4"><SuccessBanner message="Role deleted."/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(page) => view! { <RolesTable page=page/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn RolesTable(page: RolesPage) -> impl IntoView {
    view! {
        <DataTable caption="Roles" columns=&["Role", "Allows", "Denies", "Held by"] testid="roles-table">
                    {page.roles.into_iter().map(|r| {
                        let allows = r.permissions.iter().filter(|(_, e)| e == "allow").count();
                        let denies = r.permissions.iter().filter(|(_, e)| e == "deny").count();
                        view! {
                            <tr class="hover:bg-slate-50">
                                <td class="px-4 py-3">
                                    <div class="flex items-center gap-2">
                                        <A href=format!("/roles/{}", r.id) attr:class=LINK>{r.name.clone()}</A>
                                        {r.system.is_some().then(|| view! { <Pill text="system"/> })}
                                    </div>
                                    <div class="text-xs text-slate-600">{r.description.clone()}</div>
                                </td>
                                <td class="px-4 py-3 text-slate-700">{format!("{allows} permissions")}</td>
                                <td class="px-4 py-3 text-slate-700">{if denies == 0 { "—".to_owned() } else { format!("{denies} permissions") }}</td>
                                <td class="px-4 py-3 text-slate-700">{format!("{} identities", r.identity_count)}</td>
                            </tr>
                        }
                    }).collect_view()}
        </DataTable>
    }
}

/// `/roles/new` and `/roles/:id`.
#[component]
pub fn RolePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(|| (), |_| list_roles());
    view! {
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(page) => {
                    let wanted = id();
                    let role = page.roles.iter().find(|r| r.id == wanted).cloned();
                    if wanted.is_empty() || role.is_some() {
                        view! { <RoleEditor role=role catalogue=page.catalogue/> }.into_any()
                    } else {
                        view! {
                            <NotFound what="Role" back="/roles" back_label="Back to roles"/>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn RoleEditor(role: Option<RoleView>, catalogue: CatalogueView) -> impl IntoView {
    let save = ServerAction::<SaveRole>::new();
    let delete = ServerAction::<DeleteRole>::new();
    let form = FormState::new(
        "save_role",
        Signal::derive(move || save.version().get() + delete.version().get()),
        Signal::derive(move || save.value().get().or_else(|| delete.value().get())),
    );
    let query = use_query_map();
    let system = role.as_ref().and_then(|r| r.system.clone());
    let editable = system.is_none()
        && if role.is_some() {
            can(crate::auth::perm::ROLES_UPDATE)
        } else {
            can(crate::auth::perm::ROLES_CREATE)
        };
    let title = match &role {
        None => "New role".to_owned(),
        Some(r) => r.name.clone(),
    };
    let subtitle = match (&system, &role) {
        (Some(_), _) => {
            "A system role: its permissions come with Tenantry and cannot be changed.".to_owned()
        }
        (None, None) => {
            "Choose what the role allows and what it denies; leave the rest empty.".to_owned()
        }
        (None, Some(r)) => format!("Held directly by {} identities.", r.identity_count),
    };
    let id = role.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    let name = role.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    let description = role
        .as_ref()
        .map(|r| r.description.clone())
        .unwrap_or_default();
    let deletable = role.is_some() && system.is_none() && can(crate::auth::perm::ROLES_DELETE);
    let delete_id = id.clone();
    view! {
        <Title text=format!("{title} · Roles · Tenantry")/>
        <div class="mb-6">
            <A href="/roles" attr:class="text-sm font-medium text-slate-600 hover:text-slate-900">"← Roles"</A>
        </div>
        <PageHeader title=title subtitle=subtitle>
            {system.clone().map(|_| view! { <Pill text="system role"/> })}
        </PageHeader>
        {move || query.read().get("saved").map(|_| view! { <div class="mb-4"><SuccessBanner message="Role saved."/></div> })}
        {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        <ActionForm action=save attr:class="space-y-6" attr:aria-label="Role">
            <input type="hidden" name="id" value=id.clone()/>
            {if editable {
                view! {
                    <div class=format!("{CARD} grid gap-5 p-6 sm:grid-cols-2")>
                        <TextField name="name" label="Name" required=true value=form.value("name", name.clone()) error=form.field_error("name") help="Lowercase letters, digits, dots, dashes and underscores."/>
                        <TextField name="description" label="Description" value=form.value("description", description.clone()) error=form.field_error("description")/>
                    </div>
                }.into_any()
            } else {
                view! {
                    <input type="hidden" name="name" value=name.clone()/>
                    <input type="hidden" name="description" value=description.clone()/>
                    {(!description.is_empty()).then(|| view! { <p class="text-sm text-slate-700">{description.clone()}</p> })}
                }.into_any()
            }}
            {move || form.field_error("permissions").get().map(|m| view! { <ErrorBanner message=m/> })}
            <Matrix catalogue=catalogue.clone() role=role.clone() editable=editable/>
            {editable.then(|| view! {
                <div class="flex items-center gap-3">
                    <button type="submit" class=BTN_PRIMARY disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save role" }}
                    </button>
                    <A href="/roles" attr:class=BTN_SECONDARY>"Cancel"</A>
                </div>
            })}
        </ActionForm>
        {deletable.then(|| view! {
            <ActionForm action=delete attr:class="mt-8 border-t border-slate-200 pt-6" attr:aria-label="Delete role">
                <input type="hidden" name="id" value=delete_id.clone()/>
                <p class="mb-3 text-sm text-slate-700">"Deleting the role takes it away from everyone who holds it."</p>
                <button type="submit" class=BTN_GHOST_DANGER>"Delete role"</button>
            </ActionForm>
        })}
    }
}

/// Modules as rows, actions as columns; each cell allows, denies or says nothing.
#[component]
fn Matrix(catalogue: CatalogueView, role: Option<RoleView>, editable: bool) -> impl IntoView {
    let actions = catalogue.actions.clone();
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full text-sm" data-testid="permission-matrix">
                <caption class="px-4 pt-4 text-left text-base font-semibold text-slate-900">"Permissions"</caption>
                <thead>
                    <tr class="border-b border-slate-200">
                        <th scope="col" class="px-4 py-3 text-left font-semibold text-slate-700">"Module"</th>
                        {actions.iter().map(|a| view! { <th scope="col" class="px-2 py-3 text-center font-semibold text-slate-700">{a.clone()}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {catalogue.modules.into_iter().map(|m| {
                        let role = role.clone();
                        view! {
                            <tr>
                                <th scope="row" class="px-4 py-2 text-left font-normal">
                                    <div class="font-medium text-slate-900">{m.name.clone()}</div>
                                    <div class="text-xs text-slate-600">{m.description.clone()}</div>
                                </th>
                                {actions.iter().map(|a| {
                                    if !m.actions.contains(a) {
                                        // Not an action of this module.
                                        return view! {
                                            <td class="px-2 py-2 text-center text-slate-400">
                                                <span aria-hidden="true">"—"</span>
                                                <span class="sr-only">"not an action of this module"</span>
                                            </td>
                                        }.into_any();
                                    }
                                    let key = format!("{}:{a}", m.name);
                                    let current = role.as_ref().map(|r| r.effect(&key)).unwrap_or_default();
                                    view! { <td class="px-2 py-2 text-center"><Cell key=key value=current editable=editable/></td> }.into_any()
                                }).collect_view()}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn cell_class(value: &str) -> &'static str {
    match value {
        "allow" => "bg-emerald-50 text-emerald-800 ring-emerald-600/40",
        "deny" => "bg-red-50 text-red-800 ring-red-600/40",
        _ => "bg-white text-slate-500 ring-slate-300",
    }
}

#[component]
fn Cell(key: String, value: String, editable: bool) -> impl IntoView {
    if !editable {
        let (symbol, label) = match value.as_str() {
            "allow" => ("✓ allow", "allowed"),
            "deny" => ("✕ deny", "denied"),
            _ => ("—", "not set"),
        };
        return view! {
            <span class=format!("inline-block rounded px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", cell_class(&value))
                aria-label=format!("{key}: {label}")>{symbol}</span>
        }
        .into_any();
    }
    let current = RwSignal::new(value);
    let label = key.replace(':', " ");
    view! {
        <select
            name=format!("permissions[{key}]")
            aria-label=label
            on:change=move |ev| current.set(event_target_value(&ev))
            class=move || format!("rounded-md border-0 py-1 pl-2 pr-7 text-xs font-medium ring-1 ring-inset focus:ring-2 focus:ring-indigo-600 {}", cell_class(&current.get()))
        >
            <option value="" selected=move || current.get().is_empty()>"—"</option>
            <option value="allow" selected=move || current.get() == "allow">"allow"</option>
            <option value="deny" selected=move || current.get() == "deny">"deny"</option>
        </select>
    }
    .into_any()
}
