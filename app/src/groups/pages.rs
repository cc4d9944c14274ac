//! Pages of the Groups screen.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{
    AddGroupMember, DeleteGroup, RemoveGroupMember, SaveGroup, SetGroupRoles, get_group,
    list_groups,
};
use super::model::{GroupDetail, GroupView, subtree};
use crate::auth::can;
use crate::components::forms::{FormState, SelectField, TextField, successes};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner, LINK, Loading, NotFound,
    PageHeader, Pill, SuccessBanner,
};

fn kind_options(kinds: &[String]) -> Vec<(&'static str, &'static str)> {
    kinds.iter().filter_map(|k| service_kind(k)).collect()
}

/// The fixed kind list as static strings for the select.
fn service_kind(k: &str) -> Option<(&'static str, &'static str)> {
    Some(match k {
        "company" => ("company", "Company"),
        "subsidiary" => ("subsidiary", "Subsidiary"),
        "division" => ("division", "Division"),
        "department" => ("department", "Department"),
        "team" => ("team", "Team"),
        "other" => ("other", "Other"),
        _ => return None,
    })
}

/// Nested lists, children under their parent, names in order.
fn tree(groups: &[GroupView], parent: Option<&str>, depth: usize) -> AnyView {
    let children: Vec<GroupView> = groups
        .iter()
        .filter(|g| g.parent_id.as_deref() == parent)
        .cloned()
        .collect();
    if children.is_empty() {
        return ().into_any();
    }
    let class = if depth == 0 {
        "space-y-1"
    } else {
        "ml-6 mt-1 space-y-1 border-l border-slate-200 pl-4"
    };
    view! {
        <ul class=class>
            {children.into_iter().map(|g| {
                let below = tree(groups, Some(&g.id), depth + 1);
                let roles = (!g.roles.is_empty()).then(|| format!("· roles: {}", g.roles.join(", ")));
                view! {
                    <li>
                        <div class="flex flex-wrap items-center gap-2 py-1">
                            <A href=format!("/groups/{}", g.id) attr:class=LINK>{g.name.clone()}</A>
                            <Pill text=g.kind.clone()/>
                            <span class="text-xs text-slate-600">{format!("{} members", g.member_count)}</span>
                            {roles.map(|r| view! { <span class="text-xs text-slate-600">{r}</span> })}
                        </div>
                        {below}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
pub fn GroupsPage() -> impl IntoView {
    let save = ServerAction::<SaveGroup>::new();
    let form = FormState::new("save_group", save.version().into(), save.value().into());
    let data = Resource::new(move || save.version().get(), |_| list_groups());
    let query = use_query_map();
    view! {
        <Title text="Groups · Tenantry"/>
        <PageHeader title="Groups" subtitle="Companies, subsidiaries, departments and teams. A role given to a group reaches everyone in it and in the groups below it."/>
        {move || query.read().get("deleted").map(|_| view! { <div class="mb-4"><SuccessBanner message="Group deleted; its subgroups moved up."/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(page) => {
                    let options: Vec<(String, String)> = page.groups.iter().map(|g| (g.id.clone(), g.name.clone())).collect();
                    view! {
                        <div class="grid gap-6 lg:grid-cols-3">
                            <section class=format!("{CARD} p-6 lg:col-span-2") aria-labelledby="tree-heading">
                                <h2 id="tree-heading" class="mb-3 text-base font-semibold text-slate-900">"Tree"</h2>
                                {if page.groups.is_empty() {
                                    view! { <p class="text-sm text-slate-600">"No groups yet. Start with your company."</p> }.into_any()
                                } else {
                                    tree(&page.groups, None, 0)
                                }}
                            </section>
                            {can(crate::auth::perm::GROUPS_CREATE).then(|| view! {
                                <section class=format!("{CARD} p-6") aria-labelledby="new-group-heading">
                                    <h2 id="new-group-heading" class="mb-3 text-base font-semibold text-slate-900">"New group"</h2>
                                    {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                                    <ActionForm action=save attr:class="space-y-4" attr:aria-label="New group">
                                        <TextField name="name" label="Name" required=true value=form.value("name", String::new()) error=form.field_error("name")/>
                                        <SelectField name="kind" label="Kind" options=kind_options(&page.kinds) value=form.value("kind", "team".into()) error=form.field_error("kind")/>
                                        <input type="hidden" name="description" value=""/>
                                        <ParentPicker options=options.clone() selected=String::new() error=form.field_error("parent_id")/>
                                        <button type="submit" class=BTN_PRIMARY>"Create group"</button>
                                    </ActionForm>
                                </section>
                            })}
                        </div>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// The drag-free move: a select of every group the group may go under, or none (a root).
#[component]
fn ParentPicker(
    options: Vec<(String, String)>,
    selected: String,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div>
            <label for="field-parent_id" class="block text-sm font-medium text-slate-800">"Parent group"</label>
            <select id="field-parent_id" name="parent_id"
                class="mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600">
                <option value="" selected=selected.is_empty()>"— none (a top-level group) —"</option>
                {options.into_iter().map(|(id, name)| {
                    let is = id == selected;
                    view! { <option value=id selected=is>{name}</option> }
                }).collect_view()}
            </select>
            {move || error.get().map(|m| view! { <p class="mt-1 text-sm text-red-700">{m}</p> })}
        </div>
    }
}

#[component]
pub fn GroupPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let save = ServerAction::<SaveGroup>::new();
    let add = ServerAction::<AddGroupMember>::new();
    let remove = ServerAction::<RemoveGroupMember>::new();
    let roles = ServerAction::<SetGroupRoles>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    // Reload after changes that succeeded; a failed form keeps what was typed.
    let (saved, added) = (
        successes(save.value().into()),
        successes(add.value().into()),
    );
    let data = Resource::new(
        move || {
            (
                id(),
                saved.get(),
                added.get(),
                remove.version().get(),
                roles.version().get(),
            )
        },
        |(id, ..)| get_group(id),
    );
    view! {
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! {
                    <NotFound what="Group" back="/groups" back_label="Back to groups"/>
                }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(detail) => view! { <GroupDetailView detail=detail save add remove roles delete/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn GroupDetailView(
    detail: GroupDetail,
    save: ServerAction<SaveGroup>,
    add: ServerAction<AddGroupMember>,
    remove: ServerAction<RemoveGroupMember>,
    roles: ServerAction<SetGroupRoles>,
    delete: ServerAction<DeleteGroup>,
) -> impl IntoView {
    let g = detail.group.clone();
    let gid = g.id.clone();
    let (id_add, id_edit, id_roles, id_delete) =
        (gid.clone(), gid.clone(), gid.clone(), gid.clone());
    let members = detail.members.clone();
    let member_count = members.len();
    let edit = FormState::new("save_group", save.version().into(), save.value().into());
    let member_form = FormState::new("group_member", add.version().into(), add.value().into());
    let actions = FormState::new(
        "group_actions",
        Signal::derive(move || {
            remove.version().get() + roles.version().get() + delete.version().get()
        }),
        Signal::derive(move || {
            remove
                .value()
                .get()
                .or_else(|| roles.value().get())
                .or_else(|| delete.value().get())
        }),
    );
    let query = use_query_map();
    let excluded = subtree(&detail.all_groups, &g.id);
    let parents: Vec<(String, String)> = detail
        .all_groups
        .iter()
        .filter(|o| !excluded.contains(&o.id))
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect();
    let parent_name = g
        .parent_id
        .as_ref()
        .and_then(|p| detail.all_groups.iter().find(|o| &o.id == p))
        .map(|o| o.name.clone());
    let confirm = move || query.read().get("confirm").is_some_and(|c| c == "delete");
    let (doomed_id, doomed_name) = (detail.group.id.clone(), detail.group.name.clone());
    view! {
        <Title text=format!("{} · Groups · Tenantry", g.name)/>
        <div class="mb-6"><A href="/groups" attr:class="text-sm font-medium text-slate-600 hover:text-slate-900">"← Groups"</A></div>
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{g.name.clone()}</h1>
            <Pill text=g.kind.clone()/>
            <span class="text-sm text-slate-600">{match parent_name { Some(p) => format!("in {p}"), None => "top-level group".into() }}</span>
        </div>
        {move || query.read().get("saved").map(|_| view! { <div class="mb-4"><SuccessBanner message="Group saved."/></div> })}
        {move || actions.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-6 lg:col-span-2">
                <section class=format!("{CARD} p-6") aria-labelledby="members-heading">
                    <h2 id="members-heading" class="text-base font-semibold text-slate-900">{format!("Members ({member_count})")}</h2>
                    {if members.is_empty() {
                        view! { <p class="mt-2 text-sm text-slate-600">"Nobody is in this group yet."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="mt-3 divide-y divide-slate-100">
                                {members.into_iter().map(|m| { let gid = gid.clone(); let remove_label = format!("Remove {}", m.label); view! {
                                    <li class="flex items-center justify-between py-2">
                                        <div>
                                            <A href=format!("/identities/{}", m.identity_id) attr:class=LINK>{m.label.clone()}</A>
                                            <span class="ml-2 text-xs text-slate-600">{m.kind.clone()}</span>
                                        </div>
                                        {can(crate::auth::perm::GROUPS_MANAGE).then(|| view! {
                                            <ActionForm action=remove attr:aria-label=remove_label>
                                                <input type="hidden" name="id" value=gid.clone()/>
                                                <input type="hidden" name="identity_id" value=m.identity_id.clone()/>
                                                <button type="submit" class="text-sm font-medium text-red-700 hover:underline">"Remove"</button>
                                            </ActionForm>
                                        })}
                                    </li>
                                }}).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    {can(crate::auth::perm::GROUPS_MANAGE).then(|| view! {
                        <ActionForm action=add attr:class="mt-4 flex flex-wrap items-end gap-3" attr:aria-label="Add a member">
                            <input type="hidden" name="id" value=id_add.clone()/>
                            <div class="min-w-64 flex-1">
                                <TextField name="email" label="Add a member by email" kind="email" value=member_form.value("email", String::new()) error=member_form.field_error("email")/>
                            </div>
                            <button type="submit" class=BTN_SECONDARY>"Add member"</button>
                        </ActionForm>
                    })}
                </section>
                {can(crate::auth::perm::GROUPS_UPDATE).then(|| view! {
                    <section class=format!("{CARD} p-6") aria-labelledby="edit-heading">
                        <h2 id="edit-heading" class="mb-3 text-base font-semibold text-slate-900">"Name, kind and place"</h2>
                        {move || edit.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                        <ActionForm action=save attr:class="grid gap-4 sm:grid-cols-2" attr:aria-label="Edit group">
                            <input type="hidden" name="id" value=id_edit.clone()/>
                            <TextField name="name" label="Name" required=true value=edit.value("name", g.name.clone()) error=edit.field_error("name")/>
                            <SelectField name="kind" label="Kind" options=kind_options(&detail.kinds) value=edit.value("kind", g.kind.clone()) error=edit.field_error("kind")/>
                            <TextField name="description" label="Description" value=edit.value("description", g.description.clone()) error=edit.field_error("description")/>
                            <ParentPicker options=parents.clone() selected=g.parent_id.clone().unwrap_or_default() error=edit.field_error("parent_id")/>
                            <div class="sm:col-span-2"><button type="submit" class=BTN_PRIMARY>"Save group"</button></div>
                        </ActionForm>
                    </section>
                })}
            </div>
            <div class="space-y-6">
                <section class=format!("{CARD} p-6") aria-labelledby="group-roles-heading">
                    <h2 id="group-roles-heading" class="text-base font-semibold text-slate-900">"Roles"</h2>
                    <p class="mt-1 text-xs text-slate-600">"Held by every member of this group and of the groups below it."</p>
                    {if can(crate::auth::perm::ROLES_MANAGE) && !detail.all_roles.is_empty() {
                        view! {
                            <ActionForm action=roles attr:class="mt-3 space-y-3" attr:aria-label="Group roles">
                                <input type="hidden" name="id" value=id_roles.clone()/>
                                <fieldset>
                                    <legend class="sr-only">"Roles of the group"</legend>
                                    {detail.all_roles.iter().enumerate().map(|(n, name)| {
                                        let field = format!("grole-{name}");
                                        view! {
                                            <div class="flex items-center gap-2 py-0.5">
                                                <input id=field.clone() type="checkbox" name=format!("roles[{n}]") value=name.clone() checked=g.roles.contains(name)
                                                    class="h-4 w-4 rounded border-slate-400 text-indigo-600 focus:ring-indigo-600"/>
                                                <label for=field class="text-sm text-slate-800">{name.clone()}</label>
                                            </div>
                                        }
                                    }).collect_view()}
                                </fieldset>
                                <button type="submit" class=BTN_SECONDARY>"Save roles"</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! { <p class="mt-2 text-sm text-slate-700">{if g.roles.is_empty() { "None".to_owned() } else { g.roles.join(", ") }}</p> }.into_any()
                    }}
                </section>
                {can(crate::auth::perm::GROUPS_DELETE).then(|| view! {
                    <section class=format!("{CARD} p-6")>
                        <A href=format!("/groups/{id_delete}?confirm=delete") attr:class=BTN_GHOST_DANGER>"Delete group…"</A>
                    </section>
                })}
            </div>
        </div>
        {move || confirm().then(|| {
            let (doomed_id, doomed_name) = (doomed_id.clone(), doomed_name.clone());
            view! {
            <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4">
                <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" class="w-full max-w-md rounded-lg bg-white p-6 shadow-xl">
                    <h2 id="confirm-title" class="text-lg font-semibold text-slate-900">{format!("Delete {doomed_name}?")}</h2>
                    <p class="mt-2 text-sm text-slate-700">"Its members leave it and lose the roles it gave them. Its subgroups move up to its parent."</p>
                    <div class="mt-6 flex justify-end gap-3">
                        <A href=format!("/groups/{doomed_id}") attr:class=BTN_SECONDARY>"Cancel"</A>
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=doomed_id.clone()/>
                            <button type="submit" class="inline-flex items-center rounded-md bg-red-700 px-4 py-2 text-sm font-semibold text-white hover:bg-red-800">"Delete"</button>
                        </ActionForm>
                    </div>
                </div>
            </div>
            }
        })}
    }
}
