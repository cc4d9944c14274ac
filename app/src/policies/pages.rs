//! Pages of the Policies screen.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{DeletePolicy, RestorePolicy, SavePolicy, Simulate, get_policy, list_policies};
use super::model::{PolicyDetail, PolicyView, SimulationView, VersionView};
use crate::auth::can;
use crate::auth::model::UserView;
use crate::components::forms::{FormState, TextArea, TextField, successes};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, DataTable, EmptyState, ErrorBanner, LINK,
    Loading, NotFound, PageHeader, Pill, SuccessBanner,
};

#[component]
fn EffectBadge(#[prop(into)] effect: String) -> impl IntoView {
    let class = if effect == "deny" {
        "bg-red-50 text-red-800 ring-red-600/30"
    } else {
        "bg-emerald-50 text-emerald-800 ring-emerald-600/30"
    };
    view! { <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {class}")>{effect}</span> }
}

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_policies());
    let query = use_query_map();
    view! {
        <Title text="Policies · Tenantry"/>
        <PageHeader title="Policies" subtitle="Rules above or below the roles. The highest priority decides; at equal priority deny beats allow; nothing that allows means deny.">
            <A href="/policies/simulator" attr:class=BTN_SECONDARY>"Simulator"</A>
            {can(crate::auth::perm::POLICIES_CREATE).then(|| view! { <A href="/policies/new" attr:class=BTN_PRIMARY>"New policy"</A> })}
        </PageHeader>
        {move || query.read().get("deleted").map(|_| view! { <div class="mb-4"><SuccessBanner message="Policy deleted. Its history stays; you can restore it from there."/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(list) if list.is_empty() => view! {
                    <EmptyState title="No policies yet" text="Roles decide alone until you add one. Policies at priority above 0 override roles; below 0 they only fill gaps."/>
                }.into_any(),
                Ok(list) => view! { <PoliciesTable list=list/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn PoliciesTable(list: Vec<PolicyView>) -> impl IntoView {
    view! {
        <DataTable caption="Policies, in the order they are considered" columns=&["Priority", "Policy", "Effect", "Applies to", "Condition", "State"] testid="policies-table">
                    {list.into_iter().map(|p| view! {
                        <tr class="hover:bg-slate-50">
                            <td class="px-4 py-3 font-mono text-slate-800">{p.priority}</td>
                            <td class="px-4 py-3">
                                <A href=format!("/policies/{}", p.id) attr:class=LINK>{p.name.clone()}</A>
                                <div class="text-xs text-slate-600">{format!("version {}", p.version)}</div>
                            </td>
                            <td class="px-4 py-3"><EffectBadge effect=p.effect.clone()/></td>
                            <td class="px-4 py-3 font-mono text-xs text-slate-800">{format!("{}:{}", p.resource_pattern, p.action_pattern)}</td>
                            <td class="px-4 py-3 text-slate-700">{if p.condition.is_empty() { "always" } else { "when its condition holds" }}</td>
                            <td class="px-4 py-3">{if p.enabled { view! { <Pill text="enabled"/> }.into_any() } else { view! { <span class="text-xs text-slate-600">"disabled"</span> }.into_any() }}</td>
                        </tr>
                    }).collect_view()}
        </DataTable>
    }
}

/// `/policies/new` and `/policies/:id`.
#[component]
pub fn PolicyPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let restore = ServerAction::<RestorePolicy>::new();
    let save = ServerAction::<SavePolicy>::new();
    // Saving redirects to this same page: a successful save makes the page reload its data
    // (a failed one keeps the form as typed).
    let saved = successes(save.value().into());
    let data = Resource::new(
        move || (id(), restore.version().get(), saved.get()),
        |(id, ..)| get_policy(id),
    );
    view! {
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! {
                    <NotFound what="Policy" back="/policies" back_label="Back to policies"/>
                }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(detail) => view! { <PolicyEditor detail=detail restore=restore save=save id=id()/> }.into_any(),
            })}
        </Transition>
    }
}

fn options(values: &[String]) -> impl IntoView + use<> {
    let values = values.to_vec();
    view! {
        <option value="*">"* (any)"</option>
        {values.into_iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()}
    }
}

#[component]
fn PolicyEditor(
    detail: PolicyDetail,
    restore: ServerAction<RestorePolicy>,
    save: ServerAction<SavePolicy>,
    id: String,
) -> impl IntoView {
    let delete = ServerAction::<DeletePolicy>::new();
    let form = FormState::new("save_policy", save.version().into(), save.value().into());
    let actions = FormState::new(
        "policy_actions",
        Signal::derive(move || delete.version().get() + restore.version().get()),
        Signal::derive(move || delete.value().get().or_else(|| restore.value().get())),
    );
    let query = use_query_map();
    let deleted = detail.policy.is_none() && !id.is_empty();
    let p = detail.policy.clone().unwrap_or(PolicyView {
        id: String::new(),
        name: String::new(),
        description: String::new(),
        effect: "deny".into(),
        priority: 10,
        resource_pattern: "*".into(),
        action_pattern: "*".into(),
        condition: String::new(),
        enabled: true,
        version: 0,
        updated_at: String::new(),
    });
    let editable = !deleted
        && if p.id.is_empty() {
            can(crate::auth::perm::POLICIES_CREATE)
        } else {
            can(crate::auth::perm::POLICIES_UPDATE)
        };
    let title = if p.id.is_empty() && !deleted {
        "New policy".to_owned()
    } else if deleted {
        "Deleted policy".to_owned()
    } else {
        p.name.clone()
    };
    let effect = form.value("effect", p.effect.clone());
    let resource = form.value("resource_pattern", p.resource_pattern.clone());
    let action = form.value("action_pattern", p.action_pattern.clone());
    let enabled = form.value(
        "enabled",
        if p.enabled {
            "on".into()
        } else {
            String::new()
        },
    );
    let select_class = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600";
    let (policy_id, can_delete) = (
        p.id.clone(),
        !p.id.is_empty() && can(crate::auth::perm::POLICIES_DELETE),
    );
    let subtitle = if deleted {
        "This policy was deleted. Restore a version below to bring it back.".to_owned()
    } else if p.version > 0 {
        format!("Version {} · changed {}", p.version, p.updated_at)
    } else {
        "A rule the engine weighs against roles and other policies.".to_owned()
    };
    view! {
        <Title text=format!("{title} · Policies · Tenantry")/>
        <div class="mb-6"><A href="/policies" attr:class="text-sm font-medium text-slate-600 hover:text-slate-900">"← Policies"</A></div>
        <PageHeader title=title.clone() subtitle=subtitle/>
        {move || query.read().get("saved").map(|_| view! { <div class="mb-4"><SuccessBanner message="Policy saved as a new version."/></div> })}
        {move || query.read().get("restored").map(|v| view! { <div class="mb-4"><SuccessBanner message=format!("Version {v} is current again (as a new version).")/></div> })}
        {move || actions.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        <div class="grid gap-6 lg:grid-cols-3">
            <section class=format!("{CARD} p-6 lg:col-span-2") aria-labelledby="policy-form-heading">
                <h2 id="policy-form-heading" class="sr-only">"Policy"</h2>
                {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
                <ActionForm action=save attr:class="grid gap-5 sm:grid-cols-2" attr:aria-label="Policy">
                    <input type="hidden" name="id" value=p.id.clone()/>
                    <div class="sm:col-span-2"><TextField name="name" label="Name" required=true value=form.value("name", p.name.clone()) error=form.field_error("name")/></div>
                    <div class="sm:col-span-2"><TextField name="description" label="Description" value=form.value("description", p.description.clone()) error=form.field_error("description")/></div>
                    <div>
                        <label for="field-effect" class="block text-sm font-medium text-slate-800">"Effect"</label>
                        <select id="field-effect" name="effect" class=select_class prop:value=move || effect.get()>
                            <option value="allow" selected=move || effect.get() == "allow">"allow"</option>
                            <option value="deny" selected=move || effect.get() == "deny">"deny"</option>
                        </select>
                    </div>
                    <TextField name="priority" label="Priority" kind="number" required=true value=form.value("priority", p.priority.to_string()) error=form.field_error("priority") help="Roles decide at 0: above overrides them, below fills gaps."/>
                    <div>
                        <label for="field-resource_pattern" class="block text-sm font-medium text-slate-800">"Resource"</label>
                        <select id="field-resource_pattern" name="resource_pattern" class=select_class prop:value=move || resource.get()>
                            {options(&detail.modules)}
                        </select>
                        {move || form.field_error("resource_pattern").get().map(|m| view! { <p class="mt-1 text-sm text-red-700">{m}</p> })}
                    </div>
                    <div>
                        <label for="field-action_pattern" class="block text-sm font-medium text-slate-800">"Action"</label>
                        <select id="field-action_pattern" name="action_pattern" class=select_class prop:value=move || action.get()>
                            {options(&detail.actions)}
                        </select>
                        {move || form.field_error("action_pattern").get().map(|m| view! { <p class="mt-1 text-sm text-red-700">{m}</p> })}
                    </div>
                    <div class="sm:col-span-2">
                        <TextArea name="condition" label="Condition (JSON Logic, optional)" value=form.value("condition", p.condition.clone()) error=form.field_error("condition") rows=8
                            help="Over {principal, resource, action, context}, e.g. {\"==\": [{\"var\": \"resource.owner\"}, {\"var\": \"principal.id\"}]}. Empty: always applies."/>
                    </div>
                    <div class="flex items-center gap-2 sm:col-span-2">
                        <input id="field-enabled" type="checkbox" name="enabled" value="on" prop:checked=move || !enabled.get().is_empty() checked=!enabled.get_untracked().is_empty()
                            class="h-4 w-4 rounded border-slate-400 text-indigo-600 focus:ring-indigo-600"/>
                        <label for="field-enabled" class="text-sm text-slate-800">"Enabled"</label>
                    </div>
                    {editable.then(|| view! {
                        <div class="flex items-center gap-3 sm:col-span-2">
                            <button type="submit" class=BTN_PRIMARY disabled=move || save.pending().get()>"Save policy"</button>
                            <A href="/policies" attr:class=BTN_SECONDARY>"Cancel"</A>
                        </div>
                    })}
                </ActionForm>
                {can_delete.then(|| view! {
                    <ActionForm action=delete attr:class="mt-6 border-t border-slate-200 pt-4" attr:aria-label="Delete policy">
                        <input type="hidden" name="id" value=policy_id.clone()/>
                        <button type="submit" class=BTN_GHOST_DANGER>"Delete policy"</button>
                    </ActionForm>
                })}
            </section>
            <History versions=detail.versions.clone() id=id.clone() restore=restore/>
        </div>
    }
}

#[component]
fn History(
    versions: Vec<VersionView>,
    id: String,
    restore: ServerAction<RestorePolicy>,
) -> impl IntoView {
    let restorable = can(crate::auth::perm::POLICIES_UPDATE);
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="history-heading">
            <h2 id="history-heading" class="text-base font-semibold text-slate-900">"History"</h2>
            {versions.is_empty().then(|| view! { <p class="mt-2 text-sm text-slate-600">"Saved versions appear here."</p> })}
            <ol class="mt-3 space-y-4">
                {versions.into_iter().enumerate().map(|(i, v)| {
                    let current = i == 0 && v.change != "deleted";
                    let id = id.clone();
                    view! {
                        <li class="border-l-2 border-indigo-200 pl-3" data-testid=format!("version-{}", v.version)>
                            <div class="flex items-center justify-between gap-2">
                                <p class="text-sm font-medium text-slate-900">{format!("Version {} · {}", v.version, v.change)}</p>
                                {(restorable && !current && v.change != "deleted").then(|| view! {
                                    <ActionForm action=restore attr:aria-label=format!("Restore version {}", v.version)>
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <input type="hidden" name="version" value=v.version.to_string()/>
                                        <button type="submit" class="text-xs font-medium text-indigo-700 hover:underline">"Restore"</button>
                                    </ActionForm>
                                })}
                            </div>
                            <p class="text-xs text-slate-600">{format!("{} · by {}", v.at, v.by)}</p>
                            {(!v.diff.is_empty()).then(|| view! {
                                <details class="mt-1">
                                    <summary class="cursor-pointer text-xs text-slate-700">{format!("{} field(s) changed", v.diff.len())}</summary>
                                    <dl class="mt-1 space-y-1 text-xs">
                                        {v.diff.into_iter().map(|(field, before, after)| view! {
                                            <div>
                                                <dt class="font-medium text-slate-800">{field}</dt>
                                                <dd class="grid gap-1">
                                                    {(!before.is_empty()).then(|| view! { <pre class="whitespace-pre-wrap rounded bg-red-50 px-2 py-1 text-red-900">{format!("- {before}")}</pre> })}
                                                    <pre class="whitespace-pre-wrap rounded bg-emerald-50 px-2 py-1 text-emerald-900">{format!("+ {after}")}</pre>
                                                </dd>
                                            </div>
                                        }).collect_view()}
                                    </dl>
                                </details>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
pub fn SimulatorPage() -> impl IntoView {
    let simulate = ServerAction::<Simulate>::new();
    let user = use_context::<UserView>();
    let me = user.map(|u| u.email).unwrap_or_default();
    let error = Signal::derive(move || simulate.value().get().and_then(Result::err));
    let field =
        move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let select_class = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600";
    view! {
        <Title text="Policy simulator · Tenantry"/>
        <div class="mb-6"><A href="/policies" attr:class="text-sm font-medium text-slate-600 hover:text-slate-900">"← Policies"</A></div>
        <PageHeader title="Policy simulator" subtitle="Ask the engine what it would decide, and see every rule it weighed."/>
        <div class="grid gap-6 lg:grid-cols-3">
            <section class=format!("{CARD} p-6") aria-labelledby="sim-heading">
                <h2 id="sim-heading" class="mb-3 text-base font-semibold text-slate-900">"Request"</h2>
                <ActionForm action=simulate attr:class="space-y-4" attr:aria-label="Simulate a decision">
                    <TextField name="principal" label="Who (email)" kind="email" required=true value=me error=field("principal")/>
                    <div>
                        <label for="field-action" class="block text-sm font-medium text-slate-800">"Action"</label>
                        <select id="field-action" name="action" class=select_class>
                            {crate::auth::perm::ALL.iter().map(|p| view! { <option value=p.key()>{p.key()}</option> }).collect_view()}
                        </select>
                    </div>
                    <TextField name="resource_owner" label="Resource owner (email, optional)" kind="email" error=field("resource_owner")/>
                    <TextField name="resource_id" label="Resource id (optional)" error=field("resource_id")/>
                    <TextField name="ip" label="Client IP (optional)" error=field("ip")/>
                    <button type="submit" class=BTN_PRIMARY disabled=move || simulate.pending().get()>"Decide"</button>
                </ActionForm>
            </section>
            <div class="lg:col-span-2">
                {move || match simulate.value().get() {
                    None => view! { <div class=format!("{CARD} p-6 text-sm text-slate-600")>"The decision and its trace appear here."</div> }.into_any(),
                    Some(Err(e)) if e.fields.is_empty() => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                    Some(Err(_)) => view! { <ErrorBanner message="Check the fields of the request."/> }.into_any(),
                    Some(Ok(result)) => view! { <SimulationResult result=result/> }.into_any(),
                }}
            </div>
        </div>
    }
}

#[component]
fn SimulationResult(result: SimulationView) -> impl IntoView {
    let (class, word) = if result.allowed {
        (
            "border-emerald-300 bg-emerald-50 text-emerald-900",
            "Allowed",
        )
    } else {
        ("border-red-300 bg-red-50 text-red-900", "Denied")
    };
    view! {
        <div class="space-y-6">
            <div role="status" class=format!("rounded-lg border px-6 py-4 {class}") data-testid="decision">
                <p class="text-lg font-semibold">{word}</p>
                <p class="text-sm">{result.explanation.clone()}</p>
            </div>
            <section class=format!("{CARD} overflow-x-auto") aria-labelledby="trace-heading">
                <h2 id="trace-heading" class="px-6 pt-4 text-base font-semibold text-slate-900">"Trace"</h2>
                <table class="mt-2 min-w-full divide-y divide-slate-200 text-sm" data-testid="trace">
                    <thead class="bg-slate-50">
                        <tr>
                            <th scope="col" class="px-4 py-2 text-left font-semibold text-slate-700">"Rule"</th>
                            <th scope="col" class="px-4 py-2 text-left font-semibold text-slate-700">"Kind"</th>
                            <th scope="col" class="px-4 py-2 text-left font-semibold text-slate-700">"Effect"</th>
                            <th scope="col" class="px-4 py-2 text-left font-semibold text-slate-700">"Priority"</th>
                            <th scope="col" class="px-4 py-2 text-left font-semibold text-slate-700">"Outcome"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {if result.trace.is_empty() {
                            view! { <tr><td colspan="5" class="px-4 py-3 text-slate-600">"No role or policy mentions this action."</td></tr> }.into_any()
                        } else {
                            result.trace.into_iter().map(|s| view! {
                                <tr>
                                    <td class="px-4 py-2 text-slate-900">{s.name}</td>
                                    <td class="px-4 py-2 text-slate-700">{s.kind}</td>
                                    <td class="px-4 py-2"><EffectBadge effect=s.effect/></td>
                                    <td class="px-4 py-2 font-mono text-slate-700">{s.priority.map(|p| p.to_string()).unwrap_or_else(|| "—".into())}</td>
                                    <td class="px-4 py-2 text-slate-700">{s.outcome}</td>
                                </tr>
                            }).collect_view().into_any()
                        }}
                    </tbody>
                </table>
            </section>
            <details class=format!("{CARD} p-6")>
                <summary class="cursor-pointer text-sm font-medium text-slate-800">"What the conditions saw"</summary>
                <pre class="mt-3 overflow-x-auto rounded-md bg-slate-900 p-4 text-xs text-slate-100">{result.input}</pre>
            </details>
        </div>
    }
}
