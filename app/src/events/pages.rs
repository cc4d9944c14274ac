//! The Events page: the stream newest first, filters in the address, and a live view that
//! asks again every few seconds while it shows the newest page.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::api::{event_type_names, list_events};
use super::model::{EventFilter, EventView, type_choices};
use crate::audit_log::model::short_id;
use crate::components::forms::IdentityPicker;
use crate::components::poll::tick_while;
use crate::components::ui::{
    BTN_PRIMARY, BTN_SECONDARY, CARD, EmptyState, ErrorBanner, LINK, Loading, PageHeader, TH,
};
use crate::components::url::query_string;

const INPUT: &str = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600";
/// How often the live view asks for new events.
const EVERY: Duration = Duration::from_secs(5);

fn events_href(filter: &EventFilter, cursor: Option<String>) -> String {
    let mut pairs = filter.pairs();
    pairs.push(("cursor", cursor));
    format!("/events{}", query_string(&pairs))
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| EventFilter::read(|k| query.read().get(k)));
    let cursor = Memo::new(move |_| query.read().get("cursor").filter(|c| !c.trim().is_empty()));
    let paused = RwSignal::new(false);
    let tick = RwSignal::new(0usize);
    let page = Resource::new(
        move || (filter.get(), cursor.get(), tick.get()),
        |(f, cursor, _)| list_events(f, cursor),
    );
    // Live while on the newest page and not paused (in the browser only: effects do not
    // run on the server).
    let live = move || !paused.get() && cursor.get().is_none();
    tick_while(live, EVERY, tick);
    // The newest event when the list was first read for these filters: later ones are new.
    // Rows are keyed by id, so a refresh adds rows and leaves the others (and any data an
    // admin opened) as they are.
    let baseline: StoredValue<Option<(String, String)>> = StoredValue::new(None);
    let items = move || {
        let Some(Ok(p)) = page.get() else {
            return Vec::new();
        };
        let current = baseline.with_value(|b| b.as_ref().is_some_and(|(key, _)| *key == p.key));
        if !current {
            let newest = p.items.first().map(|e| e.id.clone()).unwrap_or_default();
            baseline.set_value(Some((p.key.clone(), newest)));
        }
        p.items
    };
    let is_new = move |e: &EventView| {
        cursor.get_untracked().is_none()
            && baseline.with_value(|b| b.as_ref().is_some_and(|(_, newest)| e.id > *newest))
    };
    view! {
        <Title text="Events · Tenantry"/>
        <PageHeader title="Events" subtitle="Every change in this tenant as a typed event, newest first: what webhooks deliver and programs read at /v1/events.">
            <A href="/audit" attr:class=BTN_SECONDARY>"Audit trail"</A>
        </PageHeader>
        <FilterBar filter/>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            // Every read of `page` sits inside this Transition: a page's resources are read
            // only within a Suspense boundary (docs/architecture.md, "Two kinds of runtimes").
            <div class="mb-3 flex flex-wrap items-center justify-between gap-3 text-sm text-slate-700" data-testid="live-status">
                {move || {
                    let read_at = page.get().and_then(Result::ok).map(|p| p.read_at).unwrap_or_default();
                    if cursor.get().is_some() {
                        view! {
                            <p>"Older events: live updates pause here. "
                                <A href=move || events_href(&filter.get(), None) attr:class=LINK>"Back to the newest"</A>
                            </p>
                        }.into_any()
                    } else if paused.get() {
                        view! {
                            <p class="flex items-center gap-2">
                                <span class="h-2 w-2 rounded-full bg-slate-400" aria-hidden="true"></span>
                                {format!("Paused · last read {read_at}")}
                            </p>
                        }.into_any()
                    } else {
                        view! {
                            <p class="flex items-center gap-2" role="status">
                                <span class="relative flex h-2 w-2" aria-hidden="true">
                                    <span class="absolute inline-flex h-full w-full animate-ping rounded-full bg-emerald-400 opacity-75"></span>
                                    <span class="relative inline-flex h-2 w-2 rounded-full bg-emerald-500"></span>
                                </span>
                                {format!("Live · checks every {} seconds · last read {read_at}", EVERY.as_secs())}
                            </p>
                        }.into_any()
                    }
                }}
                {move || cursor.get().is_none().then(|| view! {
                    <button type="button" class=BTN_SECONDARY on:click=move |_| paused.update(|p| *p = !*p)>
                        {move || if paused.get() { "Resume live updates" } else { "Pause" }}
                    </button>
                })}
            </div>
            {move || page.get().and_then(|result| match result {
                Err(e) => Some(view! { <ErrorBanner message=e.banner()/> }.into_any()),
                Ok(p) if p.items.is_empty() => {
                    let (title, text) = if filter.with(EventFilter::is_empty) {
                        ("No events yet", "Every change made in this tenant, through the console or the API, appears here within seconds.")
                    } else {
                        ("No events match", "Try a wildcard such as identity.*, or clear the filters.")
                    };
                    Some(view! { <EmptyState title=title text=text/> }.into_any())
                }
                Ok(_) => None,
            })}
            <div
                class=move || if matches!(page.get(), Some(Ok(ref p)) if !p.items.is_empty()) { format!("{CARD} overflow-x-auto") } else { "hidden".to_owned() }
            >
                <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="events-table">
                    <caption class="sr-only">"Events, newest first"</caption>
                    <thead class="bg-slate-50">
                        <tr>
                            <th scope="col" class=TH>"When"</th>
                            <th scope="col" class=TH>"Type"</th>
                            <th scope="col" class=TH>"Subject"</th>
                            <th scope="col" class=TH>"By"</th>
                            <th scope="col" class=TH>"Data"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 bg-white">
                        <For each=items key=|e| e.id.clone() let(e)>
                            {
                                let new = is_new(&e);
                                view! { <EventRow event=e is_new=new/> }
                            }
                        </For>
                    </tbody>
                </table>
            </div>
            <nav class="mt-4 flex items-center justify-end" aria-label="Pagination">
                {move || page.get().and_then(Result::ok).and_then(|p| p.next_cursor).map(|c| {
                    let href = events_href(&filter.get_untracked(), Some(c));
                    view! { <A href=href attr:class=BTN_SECONDARY>"Older →"</A> }
                })}
            </nav>
        </Transition>
    }
}

/// The filters: a GET form, so they work before the page is interactive and a link or a
/// reload shows the same events.
#[component]
fn FilterBar(filter: Memo<EventFilter>) -> impl IntoView {
    let names = Resource::new(|| (), |_| event_type_names());
    let types = move || filter.with(|f| f.types.clone()).unwrap_or_default();
    let identity = move || filter.with(|f| f.identity.clone()).unwrap_or_default();
    view! {
        <Form method="GET" action="" attr:class=format!("{CARD} mb-4 p-4") attr:role="search" attr:aria-label="Filter the events">
            <div class="grid items-start gap-4 sm:grid-cols-2">
                <div>
                    <label for="field-type" class="block text-sm font-medium text-slate-800">"Type"</label>
                    <input id="field-type" name="type" type="text" list="type-choices" autocomplete="off"
                        placeholder="Every type" aria-describedby="field-type-help"
                        prop:value=types value=types class=INPUT/>
                    <Transition fallback=|| ()>
                        {move || names.get().map(|r| view! {
                            <datalist id="type-choices">
                                {type_choices(&r.unwrap_or_default())
                                    .into_iter()
                                    .map(|n| view! { <option value=n></option> })
                                    .collect_view()}
                            </datalist>
                        })}
                    </Transition>
                    <p id="field-type-help" class="mt-1 text-xs text-slate-600">"Exact or a wildcard, several with commas: identity.*, memory.deleted"</p>
                </div>
                <IdentityPicker name="identity" label="Identity" value=Signal::derive(identity) placeholder="Anyone"
                    help="What happened to them, and what they did."/>
            </div>
            <div class="mt-4 flex items-center gap-4">
                <button type="submit" class=BTN_PRIMARY>"Filter"</button>
                {move || (!filter.with(EventFilter::is_empty)).then(|| view! {
                    <A href="/events" attr:class=format!("text-sm {LINK}")>"Clear filters"</A>
                })}
            </div>
        </Form>
    }
}

#[component]
fn EventRow(event: EventView, is_new: bool) -> impl IntoView {
    let e = event;
    let pill = format!(
        "inline-flex items-center rounded-md px-2 py-0.5 font-mono text-xs font-medium ring-1 ring-inset {}",
        e.tone()
    );
    let subject_label = e.subject_label();
    let subject = match e.subject_href() {
        Some(href) => view! { <A href=href attr:class=LINK>{subject_label}</A> }.into_any(),
        None => view! { <span class="text-slate-700">{subject_label}</span> }.into_any(),
    };
    let record = e.audit_id.clone().map(|id| {
        view! { <A href=format!("/audit/{id}") attr:class=format!("whitespace-nowrap text-xs {LINK}") attr:title="The change's audit record, with before and after">"Audit record"</A> }
    });
    let data = (!e.data.is_empty()).then(|| {
        let data = e.data.clone();
        view! {
            <details>
                <summary class=format!("cursor-pointer text-xs {LINK}")>"Show data"</summary>
                <pre tabindex="0" aria-label="The event's data" class="mt-2 max-h-64 max-w-md overflow-auto rounded bg-slate-50 p-2 font-mono text-xs text-slate-800 ring-1 ring-inset ring-slate-200">{data}</pre>
            </details>
        }
    });
    let row_class = if is_new {
        "bg-indigo-50/60 transition-colors"
    } else {
        "hover:bg-slate-50"
    };
    let id_short = short_id(&e.id);
    view! {
        <tr class=row_class data-event-type=e.event_type.clone() data-new=is_new.then_some("true")>
            <td class="whitespace-nowrap px-4 py-3 align-top text-slate-700">
                <time datetime=e.occurred_iso.clone() title=e.occurred_at.clone()>{e.occurred_ago.clone()}</time>
                {is_new.then(|| view! { <span class="ml-2 rounded-full bg-indigo-600 px-1.5 py-0.5 text-[10px] font-semibold uppercase text-white">"new"</span> })}
                <div class="font-mono text-xs text-slate-600" title=format!("Event {}", e.id)>{id_short}</div>
            </td>
            <td class="px-4 py-3 align-top"><span class=pill>{e.event_type.clone()}</span></td>
            <td class="whitespace-nowrap px-4 py-3 align-top">{subject}</td>
            <td class="px-4 py-3 align-top text-slate-700">
                {e.actor_name()}
                <div>{record}</div>
            </td>
            <td class="px-4 py-3 align-top">{data.map(IntoAny::into_any).unwrap_or_else(|| view! { <span class="text-slate-600">"—"</span> }.into_any())}</td>
        </tr>
    }
}
