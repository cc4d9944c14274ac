//! Pages of the Audit trail screen: the timeline (filters, verification, export) and one
//! record with its diff and place in the chain.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::api::{ExportAudit, get_audit_record, list_audit, verify_audit_chain};
use super::model::{
    AuditDetail, AuditFilter, AuditRecordView, Changes, DiffKind, DiffRow, ExportFormat, OUTCOMES,
    TARGET_TYPES, VerificationView, count, short_id, thousands,
};
use crate::auth::can;
use crate::components::forms::{FormState, IdentityPicker, SelectField, TextField};
use crate::components::ui::{
    BTN_PRIMARY, BTN_SECONDARY, CARD, DataTable, EmptyState, ErrorBanner, LINK, Loading, NotFound,
    PageHeader,
};
use crate::components::url::{id_param, query_string};
use crate::error::AppError;

mod export;
mod record;

use export::ExportBar;
pub use record::AuditRecordPage;

const INPUT: &str = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600";
const BACK: &str = "text-sm font-medium text-slate-600 hover:text-slate-900";

/// The trail's address with `filter` (and a page `cursor`).
fn trail_href(filter: &AuditFilter, cursor: Option<String>) -> String {
    let mut pairs = filter.pairs();
    pairs.push(("cursor", cursor));
    format!("/audit{}", query_string(&pairs))
}

/// The export of what `filter` takes: a plain link without JavaScript.
fn export_href(filter: &AuditFilter, format: ExportFormat) -> String {
    let mut pairs = vec![("format", Some(format.param().to_owned()))];
    pairs.extend(filter.pairs());
    format!("{}{}", ExportAudit::url(), query_string(&pairs))
}

/// The action as a monospace pill, coloured by the outcome: success neutral, failure
/// amber, denied red.
fn action_class(outcome: &str) -> String {
    let tone = match outcome {
        "failure" => "bg-amber-50 text-amber-900 ring-amber-600/40 hover:bg-amber-100",
        "denied" => "bg-red-50 text-red-800 ring-red-600/30 hover:bg-red-100",
        _ => "bg-slate-100 text-slate-800 ring-slate-300 hover:bg-slate-200",
    };
    format!(
        "inline-flex items-center rounded-md px-2 py-0.5 font-mono text-xs font-medium ring-1 ring-inset focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 {tone}"
    )
}

#[component]
fn OutcomeBadge(#[prop(into)] outcome: String) -> impl IntoView {
    let (class, dot) = match outcome.as_str() {
        "failure" => (
            "bg-amber-50 text-amber-900 ring-amber-600/30",
            "bg-amber-500",
        ),
        "denied" => ("bg-red-50 text-red-800 ring-red-600/30", "bg-red-500"),
        _ => (
            "bg-slate-100 text-slate-700 ring-slate-500/30",
            "bg-emerald-500",
        ),
    };
    view! {
        <span class=format!("inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {class}")>
            <span class=format!("h-1.5 w-1.5 rounded-full {dot}") aria-hidden="true"></span>
            {outcome}
        </span>
    }
}

// ---------------------------------------------------------------------------------------
// The trail

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| AuditFilter::read(|k| query.read().get(k)));
    let cursor = move || query.read().get("cursor").filter(|c| !c.trim().is_empty());
    let verify = move || query.read().get("verify").is_some_and(|v| v == "1");
    let page = Resource::new(
        move || (filter.get(), cursor()),
        |(f, cursor)| list_audit(f, cursor),
    );
    let verification = Resource::new(verify, |v| async move {
        if v {
            Some(verify_audit_chain(None, None).await)
        } else {
            None
        }
    });
    // An export refused before it began, when a plain link (no JavaScript) asked for it.
    let export_error = FormState::new(
        "audit_export",
        Signal::derive(|| 0usize),
        Signal::derive(|| None::<Result<(), AppError>>),
    );
    let readable = can(crate::auth::perm::AUDIT_READ);
    view! {
        <Title text="Audit trail · Tenantry"/>
        <PageHeader title="Audit trail" subtitle="Every change in this tenant: who did what to what, with the before and after. Each record is chained to the one before it by a hash, so an edit or a removal shows when the chain is verified.">
            {readable.then(|| view! { <VerifyButton filter/> })}
        </PageHeader>
        {move || verify().then(|| view! { <Verification data=verification/> })}
        {move || export_error.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        <FilterBar filter/>
        {readable.then(|| view! { <ExportBar filter/> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || page.get().map(|result| match result {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(page) => {
                    let f = filter.get_untracked();
                    let older = page.next_cursor.clone().map(|c| trail_href(&f, Some(c)));
                    let newest = cursor().is_some().then(|| trail_href(&f, None));
                    view! {
                        <AuditTable items=page.items filter=f/>
                        <nav class="mt-4 flex items-center justify-between" aria-label="Pagination">
                            <div>{newest.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"← Newest"</A> })}</div>
                            <div>{older.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"Older →"</A> })}</div>
                        </nav>
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

/// Checks the whole chain: a GET form to `?verify=1` (the filters stay), so the result
/// comes from the server each time and never from words someone put in a link.
#[component]
fn VerifyButton(filter: Memo<AuditFilter>) -> impl IntoView {
    view! {
        <Form method="GET" action="" attr:aria-label="Verify the chain">
            {move || filter
                .get()
                .pairs()
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| view! { <input type="hidden" name=k value=v/> }))
                .collect_view()}
            <input type="hidden" name="verify" value="1"/>
            <button type="submit" class=BTN_SECONDARY>"Verify chain"</button>
        </Form>
    }
}

#[component]
fn Verification(data: Resource<Option<Result<VerificationView, AppError>>>) -> impl IntoView {
    view! {
        <div class="mb-4">
            <Suspense fallback=|| view! {
                <p role="status" class="rounded-md border border-slate-200 bg-white px-4 py-3 text-sm text-slate-700">"Verifying the chain…"</p>
            }>
                {move || data.get().flatten().map(|result| match result {
                    Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                    Ok(v) => view! { <VerificationBanner result=v/> }.into_any(),
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn VerificationBanner(result: VerificationView) -> impl IntoView {
    let summary = result.summary();
    match result.broken.clone() {
        None => view! {
            <div role="status" data-testid="chain-status" class="rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-800">
                <p class="font-semibold">{summary}</p>
                <p class="mt-1">"Every record's hash matches its content and points at the record before it."</p>
            </div>
        }
        .into_any(),
        Some(b) => {
            let before = match result.checked {
                0 => String::new(),
                1 => "The record before it checks out.".to_owned(),
                n => format!("The {} records before it check out.", thousands(n)),
            };
            view! {
                <div role="alert" data-testid="chain-status" class="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800">
                    <p class="font-semibold">{summary}</p>
                    <p class="mt-1">
                        {before} " "
                        {match b.id {
                            Some(id) => view! {
                                <A href=format!("/audit/{id}") attr:class=LINK>{format!("Open record #{}", b.seq)}</A>
                            }.into_any(),
                            None => view! { <span>"The record itself is gone."</span> }.into_any(),
                        }}
                    </p>
                </div>
            }
            .into_any()
        }
    }
}

/// The filters, in the address: a GET form, so they work before the page is interactive and
/// a link or a reload shows the same records.
#[component]
fn FilterBar(filter: Memo<AuditFilter>) -> impl IntoView {
    let value = move |key: &'static str| {
        Signal::derive(move || filter.with(|f| f.get(key)).unwrap_or_default())
    };
    let actor = value("actor");
    let target_type = value("target_type");
    view! {
        <Form method="GET" action="" attr:class=format!("{CARD} mb-4 p-4") attr:role="search" attr:aria-label="Filter the audit trail">
            <div class="grid items-start gap-4 sm:grid-cols-2 lg:grid-cols-4">
                <TextField name="action" label="Action" placeholder="identity.*" value=value("action")
                    help="Exact, or a prefix ending in *: identity.* finds every identity change."/>
                <IdentityPicker name="actor" label="Actor" value=actor placeholder="Anyone"
                    help="Who acted: pick an identity, or paste an id."/>
                <SelectField name="outcome" label="Outcome" options=OUTCOMES.to_vec() value=value("outcome")/>
                <TextField name="request_id" label="Request id" value=value("request_id")
                    help="Everything one request did."/>
                <div>
                    <label for="field-target_type" class="block text-sm font-medium text-slate-800">"Target type"</label>
                    <select id="field-target_type" name="target_type" class=INPUT>
                        <option value="" selected=move || target_type.get().is_empty()>"Any kind"</option>
                        {move || {
                            let current = target_type.get();
                            let mut kinds: Vec<String> = TARGET_TYPES.iter().map(|t| (*t).to_owned()).collect();
                            // A kind from a link that the list does not hold yet.
                            if !current.is_empty() && !kinds.contains(&current) {
                                kinds.push(current.clone());
                            }
                            kinds
                                .into_iter()
                                .map(|k| {
                                    let selected = k == current;
                                    view! { <option value=k.clone() selected=selected>{k.replace('_', " ")}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </div>
                <TextField name="target_id" label="Target id" value=value("target_id")
                    help="The id of the changed object."/>
                <TextField name="from" label="From" kind="date" value=value("from")
                    help="A day (UTC), included."/>
                <TextField name="to" label="To" kind="date" value=value("to")
                    help="A day (UTC), included."/>
            </div>
            <div class="mt-4 flex items-center gap-4">
                <button type="submit" class=BTN_PRIMARY>"Filter"</button>
                {move || (!filter.with(AuditFilter::is_empty)).then(|| view! {
                    <A href="/audit" attr:class=format!("text-sm {LINK}")>"Clear filters"</A>
                })}
            </div>
        </Form>
    }
}

#[component]
fn AuditTable(items: Vec<AuditRecordView>, filter: AuditFilter) -> impl IntoView {
    if items.is_empty() {
        let (title, text) = if filter.is_empty() {
            (
                "No records yet",
                "Changes made in this tenant, through the console or the API, appear here as they happen.",
            )
        } else {
            (
                "No records match",
                "Try other filters, a prefix such as identity.*, or a wider range of days.",
            )
        };
        return view! { <EmptyState title=title text=text/> }.into_any();
    }
    view! {
        <DataTable caption="Audit records, newest first" columns=&["When", "Actor", "Action", "Target", "Outcome", "Request"] testid="audit-table">
                    {items.into_iter().map(|r| view! { <AuditRow record=r filter=filter.clone()/> }).collect_view()}
        </DataTable>
    }
    .into_any()
}

/// One record: its action opens it; its actor, target and request narrow the list to them.
#[component]
fn AuditRow(record: AuditRecordView, filter: AuditFilter) -> impl IntoView {
    let r = record;
    let narrow = |f: AuditFilter| trail_href(&f, None);
    let actor_name = r.actor_name();
    let actor = match r.actor_id.clone() {
        Some(id) => {
            let title = format!("Only what {actor_name} did");
            view! {
                <A href=narrow(filter.with("actor", Some(id))) attr:class=LINK attr:title=title>{actor_name}</A>
            }
            .into_any()
        }
        None => view! { <span class="text-slate-700">{actor_name}</span> }.into_any(),
    };
    let kind = (r.actor_type == "api_key").then_some("API key");
    let target_label = r.target_label();
    let target = match r.target_id.clone() {
        Some(id) => {
            let href = narrow(
                filter
                    .with("target_type", Some(r.target_type.clone()))
                    .with("target_id", Some(id.clone())),
            );
            view! { <A href=href attr:class=LINK attr:title=format!("History of {} {id}", r.target_type)>{target_label}</A> }.into_any()
        }
        None => view! { <span class="text-slate-700">{target_label}</span> }.into_any(),
    };
    let request = match r.request_id.clone() {
        Some(id) => {
            let href = narrow(filter.with("request_id", Some(id.clone())));
            let title = format!("Everything request {id} did");
            let short = short_id(&id);
            view! {
                <A href=href attr:class="font-mono text-xs text-slate-700 hover:text-indigo-700 hover:underline" attr:title=title>{short}</A>
            }
            .into_any()
        }
        None => view! { <span class="text-slate-600">"—"</span> }.into_any(),
    };
    view! {
        <tr class="hover:bg-slate-50">
            <td class="whitespace-nowrap px-4 py-3 align-top text-slate-700">
                <time datetime=r.occurred_iso.clone() title=r.occurred_at.clone()>{r.occurred_ago.clone()}</time>
                <div class="text-xs text-slate-600">{format!("#{}", thousands(r.seq))}</div>
            </td>
            <td class="px-4 py-3 align-top">
                {actor}
                {kind.map(|k| view! { <div class="text-xs text-slate-600">{k}</div> })}
            </td>
            <td class="px-4 py-3 align-top">
                <A href=format!("/audit/{}", r.id) attr:class=action_class(&r.outcome)>{r.action.clone()}</A>
            </td>
            <td class="whitespace-nowrap px-4 py-3 align-top">{target}</td>
            <td class="px-4 py-3 align-top"><OutcomeBadge outcome=r.outcome.clone()/></td>
            <td class="px-4 py-3 align-top">{request}</td>
        </tr>
    }
}
