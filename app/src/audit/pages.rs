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
    BTN_PRIMARY, BTN_SECONDARY, CARD, EmptyState, ErrorBanner, LINK, Loading, NotFound, PageHeader,
};
use crate::components::url::{id_param, query_string};
use crate::error::AppError;

const INPUT: &str = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600";
const BACK: &str = "text-sm font-medium text-slate-600 hover:text-slate-900";
const TH: &str = "px-4 py-3 text-left font-semibold text-slate-700";

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
        |(f, cursor)| {
            list_audit(
                f.actor,
                f.action,
                f.target_type,
                f.target_id,
                f.outcome,
                f.request_id,
                f.from,
                f.to,
                cursor,
            )
        },
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
    let readable = can("audit:read");
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
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="audit-table">
                <caption class="sr-only">"Audit records, newest first"</caption>
                <thead class="bg-slate-50">
                    <tr>
                        <th scope="col" class=TH>"When"</th>
                        <th scope="col" class=TH>"Actor"</th>
                        <th scope="col" class=TH>"Action"</th>
                        <th scope="col" class=TH>"Target"</th>
                        <th scope="col" class=TH>"Outcome"</th>
                        <th scope="col" class=TH>"Request"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 bg-white">
                    {items.into_iter().map(|r| view! { <AuditRow record=r filter=filter.clone()/> }).collect_view()}
                </tbody>
            </table>
        </div>
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

// ---------------------------------------------------------------------------------------
// Export

// Only the browser moves past `Idle`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
enum ExportState {
    Idle,
    Running { format: ExportFormat, records: i64 },
    Done { format: ExportFormat, records: i64 },
    Failed(String),
}

impl ExportState {
    fn running(&self) -> bool {
        matches!(self, ExportState::Running { .. })
    }

    /// The status line: its text, and whether it reports a failure.
    fn message(&self) -> Option<(String, bool)> {
        match self {
            ExportState::Idle => None,
            ExportState::Running { format, records } => Some((
                format!(
                    "Exporting {}: {}…",
                    format.label(),
                    count(*records, "record", "records")
                ),
                false,
            )),
            ExportState::Done { format, records } => Some((
                format!(
                    "Export finished: {} in {}.",
                    count(*records, "record", "records"),
                    format.file_name()
                ),
                false,
            )),
            ExportState::Failed(message) => Some((message.clone(), true)),
        }
    }
}

/// CSV and JSON Lines buttons for the current filters. They are links to the export, so
/// they work without JavaScript; once the page is interactive a click reads the export
/// here instead, counting the records as they arrive, and then saves the file.
#[component]
fn ExportBar(filter: Memo<AuditFilter>) -> impl IntoView {
    let state = RwSignal::new(ExportState::Idle);
    let button = move |format: ExportFormat| {
        view! {
            <a
                href=move || filter.with(|f| export_href(f, format))
                download=format.file_name()
                rel="external"
                class=BTN_SECONDARY
                aria-disabled=move || state.with(ExportState::running).then_some("true")
                on:click=move |ev| {
                    let url = filter.with_untracked(|f| export_href(f, format));
                    start_export(ev, url, format, state);
                }
            >
                {format!("Export {}", format.label())}
            </a>
        }
    };
    view! {
        <div class="mb-4">
            <div class="flex flex-wrap items-center justify-end gap-3" role="group" aria-label="Export">
                <span class="text-sm text-slate-600">"Export the records these filters take, oldest first:"</span>
                {button(ExportFormat::Csv)}
                {button(ExportFormat::JsonLines)}
            </div>
            <p role="status" aria-live="polite" data-testid="export-status"
                class=move || match state.with(ExportState::message) {
                    Some((_, true)) => "mt-2 text-right text-sm text-red-700",
                    _ => "mt-2 text-right text-sm text-slate-700",
                }>
                {move || state.with(ExportState::message).map(|(text, _)| text)}
            </p>
        </div>
    }
}

/// Runs the export in the browser (see [`ExportBar`]). Without JavaScript this never runs
/// and the link does the work.
fn start_export(
    ev: leptos::ev::MouseEvent,
    url: String,
    format: ExportFormat,
    state: RwSignal<ExportState>,
) {
    #[cfg(feature = "hydrate")]
    {
        ev.prevent_default();
        if state.with_untracked(ExportState::running) {
            return;
        }
        state.set(ExportState::Running { format, records: 0 });
        leptos::task::spawn_local(async move {
            let end = match download(&url, format, state).await {
                Ok(records) => ExportState::Done { format, records },
                Err(message) => ExportState::Failed(message),
            };
            // The page may be gone by now.
            let _ = state.try_set(end);
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, url, format, state);
}

/// Fetches the export, reads it chunk by chunk counting its lines, and hands the result to
/// the browser as a download. Returns how many records it held.
#[cfg(feature = "hydrate")]
async fn download(
    url: &str,
    format: ExportFormat,
    state: RwSignal<ExportState>,
) -> Result<i64, String> {
    use js_sys::{Array, Reflect, Uint8Array};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    const UNREACHABLE: &str =
        "The server could not be reached. Check your connection and try again.";
    const MIDWAY: &str = "The export failed midway. Try again.";
    let window = web_sys::window().ok_or(UNREACHABLE)?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .ok()
        .and_then(|r| r.dyn_into().ok())
        .ok_or(UNREACHABLE)?;
    if !response.ok() {
        // The server's error, as a server function sends it.
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string()),
            Err(_) => None,
        };
        return Err(text
            .and_then(|t| serde_json::from_str::<AppError>(&t).ok())
            .map(|e| e.banner())
            .unwrap_or_else(|| format!("The export failed (HTTP {}).", response.status())));
    }
    let body = response.body().ok_or(MIDWAY)?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let parts = Array::new();
    let mut lines: i64 = 0;
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|_| MIDWAY)?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or(MIDWAY)?;
        lines += bytes.to_vec().iter().filter(|b| **b == b'\n').count() as i64;
        parts.push(&bytes);
        let _ = state.try_set(ExportState::Running {
            format,
            records: format.records(lines),
        });
    }
    save(&window, &parts, format).map_err(|_| "The browser did not save the file.".to_owned())?;
    Ok(format.records(lines))
}

/// Offers `parts` as a file: a Blob, an object URL and a temporary `<a download>`.
#[cfg(feature = "hydrate")]
fn save(
    window: &web_sys::Window,
    parts: &js_sys::Array,
    format: ExportFormat,
) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(format.media_type());
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &options)?;
    let href = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = window.document().ok_or(wasm_bindgen::JsValue::NULL)?;
    let anchor: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    anchor.set_href(&href);
    anchor.set_download(format.file_name());
    if let Some(body) = document.body() {
        body.append_child(&anchor)?;
    }
    anchor.click();
    anchor.remove();
    // Revoking the URL at once can cancel the download in some browsers.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&href);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One record

#[component]
pub fn AuditRecordPage() -> impl IntoView {
    let id = id_param();
    let data = Resource::new(id, get_audit_record);
    view! {
        <Title text="Audit record · Tenantry"/>
        <div class="mb-6"><A href="/audit" attr:class=BACK>"← Audit trail"</A></div>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|result| match result {
                Err(e) if e.code == "not_found" => view! {
                    <NotFound what="Audit record" text="The link may be wrong, or the record is older than this tenant keeps records." back="/audit" back_label="Back to the audit trail"/>
                }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(detail) => view! { <RecordDetail detail/> }.into_any(),
            })}
        </Transition>
    }
}

/// A label and its value in a details list.
#[component]
fn Field(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="py-3 sm:grid sm:grid-cols-3 sm:gap-4">
            <dt class="text-sm font-medium text-slate-600">{label}</dt>
            <dd class="mt-1 break-all text-sm text-slate-900 sm:col-span-2 sm:mt-0">{children()}</dd>
        </div>
    }
}

#[component]
fn RecordDetail(detail: AuditDetail) -> impl IntoView {
    let r = detail.record;
    let none = || view! { <span class="text-slate-600">"—"</span> };
    let actor_name = r.actor_name();
    let shown = actor_name.clone();
    let actor = match (r.actor_type.as_str(), r.actor_id.clone()) {
        ("identity", Some(id)) if r.actor_label.is_some() => view! {
            <A href=format!("/identities/{id}") attr:class=LINK>{shown}</A>
        }
        .into_any(),
        _ => view! { <span>{shown}</span> }.into_any(),
    };
    let actor_trail = r.actor_id.clone().map(|id| {
        let href = trail_href(&AuditFilter::default().with("actor", Some(id)), None);
        view! { <A href=href attr:class=format!("ml-2 text-xs {LINK}")>"Everything they did"</A> }
    });
    let target_history = r.target_id.clone().map(|id| {
        let f = AuditFilter::default()
            .with("target_type", Some(r.target_type.clone()))
            .with("target_id", Some(id));
        view! { <A href=trail_href(&f, None) attr:class=format!("ml-2 text-xs {LINK}")>"History"</A> }
    });
    let target_open = r.target_href().map(|href| {
        view! { <A href=href attr:class=format!("ml-2 text-xs {LINK}")>{format!("Open {}", r.target_type.replace('_', " "))}</A> }
    });
    let request = r.request_id.clone().map(|id| {
        let href = trail_href(
            &AuditFilter::default().with("request_id", Some(id.clone())),
            None,
        );
        view! {
            <span class="font-mono text-xs">{id}</span>
            <A href=href attr:class=format!("ml-2 text-xs {LINK}")>"Everything this request did"</A>
        }
    });
    let subtitle = format!("By {} · {} ({})", actor_name, r.occurred_at, r.occurred_ago);
    let record_id = r.id.clone();
    let hash = r.hash.clone();
    let short_hash = r.short_hash();
    view! {
        <Title text=format!("Record #{} · Audit trail · Tenantry", r.seq)/>
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{format!("Record #{}", thousands(r.seq))}</h1>
            <span class=action_class(&r.outcome)>{r.action.clone()}</span>
            <OutcomeBadge outcome=r.outcome.clone()/>
        </div>
        <p class="-mt-2 mb-6 text-sm text-slate-600">{subtitle}</p>
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2">
                <ChangesCard changes=detail.changes/>
            </div>
            <div class="space-y-6">
                <section class=format!("{CARD} p-6") aria-labelledby="record-heading">
                    <h2 id="record-heading" class="text-base font-semibold text-slate-900">"Details"</h2>
                    <dl class="mt-2 divide-y divide-slate-100">
                        <Field label="Action"><span class="font-mono text-xs">{r.action.clone()}</span></Field>
                        <Field label="Outcome">{r.outcome.clone()}</Field>
                        <Field label="Actor">{actor}{actor_trail}</Field>
                        <Field label="Target">
                            <span>{r.target_type.replace('_', " ")}</span>
                            {r.target_id.clone().map(|id| view! { <div class="font-mono text-xs">{id}</div> })}
                            {target_open}
                            {target_history}
                        </Field>
                        <Field label="Request id">{request.map(IntoAny::into_any).unwrap_or_else(|| none().into_any())}</Field>
                        <Field label="IP address">{r.ip.clone().map(|ip| view! { <span>{ip}</span> }.into_any()).unwrap_or_else(|| none().into_any())}</Field>
                        <Field label="User agent">{r.user_agent.clone().map(|ua| view! { <span>{ua}</span> }.into_any()).unwrap_or_else(|| none().into_any())}</Field>
                        <Field label="When"><time datetime=r.occurred_iso.clone()>{r.occurred_at.clone()}</time></Field>
                        <Field label="Record id"><span class="font-mono text-xs">{record_id}</span></Field>
                    </dl>
                </section>
                <section class=format!("{CARD} p-6") aria-labelledby="chain-heading">
                    <h2 id="chain-heading" class="text-base font-semibold text-slate-900">"Chain"</h2>
                    <p class="mt-1 text-sm text-slate-600">"A record's hash covers its content and the hash of the record before it, so no record can change or go missing unnoticed."</p>
                    <dl class="mt-2 divide-y divide-slate-100">
                        <Field label="Position">{format!("#{}", thousands(r.seq))}</Field>
                        <Field label="Hash">
                            <code class="font-mono text-xs" title=hash data-testid="record-hash">{short_hash}</code>
                        </Field>
                    </dl>
                    <A href="/audit?verify=1" attr:class=format!("mt-3 inline-block text-sm {LINK}")>"Verify the chain →"</A>
                </section>
            </div>
        </div>
    }
}

/// The record's before and after: a diff when it has both, else the one side it has.
#[component]
fn ChangesCard(changes: Changes) -> impl IntoView {
    let card = |title: &'static str, text: String, body: AnyView| {
        view! {
            <section class=format!("{CARD} p-6") aria-labelledby="changes-heading">
                <h2 id="changes-heading" class="text-base font-semibold text-slate-900">{title}</h2>
                <p class="mt-1 text-sm text-slate-600">{text}</p>
                {body}
            </section>
        }
    };
    match changes {
        Changes::Diff(rows) => {
            let (changed, same): (Vec<DiffRow>, Vec<DiffRow>) =
                rows.into_iter().partition(|r| r.kind != DiffKind::Same);
            let text = if changed.is_empty() {
                "Nothing differs between before and after.".to_owned()
            } else {
                format!(
                    "{} changed; removed values in red, new values in green.",
                    count(changed.len() as i64, "field", "fields")
                )
            };
            let unchanged = (!same.is_empty()).then(|| {
                let summary = count(same.len() as i64, "unchanged field", "unchanged fields");
                let fields: Vec<(String, String)> = same
                    .into_iter()
                    .map(|r| (r.field, r.after.unwrap_or_default()))
                    .collect();
                view! {
                    <details class="mt-4">
                        <summary class=format!("cursor-pointer text-sm {LINK}")>{summary}</summary>
                        <FieldTable fields caption="Unchanged fields" testid="audit-unchanged"/>
                    </details>
                }
            });
            let body = view! {
                {(!changed.is_empty()).then(|| view! { <DiffTable rows=changed/> })}
                {unchanged}
            }
            .into_any();
            card("Before and after", text, body).into_any()
        }
        Changes::Details(fields) => card(
            "Recorded values",
            "What was recorded: the new object, or the details of a sign-in or a refusal.".to_owned(),
            view! { <FieldTable fields caption="Recorded details" testid="audit-details"/> }.into_any(),
        )
        .into_any(),
        Changes::Removed(fields) => card(
            "Before",
            "What it was before the change; nothing remains after it.".to_owned(),
            view! { <FieldTable fields caption="Values before the change" testid="audit-details"/> }.into_any(),
        )
        .into_any(),
        Changes::Nothing => card(
            "Changes",
            "This record holds no before or after.".to_owned(),
            ().into_any(),
        )
        .into_any(),
    }
}

/// Changed fields with their old value (red) and new value (green).
#[component]
fn DiffTable(rows: Vec<DiffRow>) -> impl IntoView {
    let cell = "px-3 py-2 align-top";
    let missing = || view! { <span class="text-slate-600">"—"</span> }.into_any();
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="audit-diff">
                <caption class="sr-only">"Changed fields, before and after"</caption>
                <thead>
                    <tr>
                        <th scope="col" class="px-3 py-2 text-left font-semibold text-slate-700">"Field"</th>
                        <th scope="col" class="px-3 py-2 text-left font-semibold text-slate-700">"Before"</th>
                        <th scope="col" class="px-3 py-2 text-left font-semibold text-slate-700">"After"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|r| {
                        let (field, key) = (r.field.clone(), r.field);
                        let before = r.before.map(|v| view! {
                            <del class="block whitespace-pre-wrap break-words rounded bg-red-50 px-2 py-1 font-mono text-xs text-red-900 no-underline ring-1 ring-inset ring-red-200">{v}</del>
                        }.into_any()).unwrap_or_else(missing);
                        let after = r.after.map(|v| view! {
                            <ins class="block whitespace-pre-wrap break-words rounded bg-emerald-50 px-2 py-1 font-mono text-xs text-emerald-900 no-underline ring-1 ring-inset ring-emerald-200">{v}</ins>
                        }.into_any()).unwrap_or_else(missing);
                        view! {
                            <tr data-field=key>
                                <th scope="row" class="px-3 py-2 text-left align-top">
                                    <span class="font-mono text-xs font-medium text-slate-900">{field}</span>
                                    <span class="block text-xs font-normal text-slate-600">{r.kind.label()}</span>
                                </th>
                                <td class=cell>{before}</td>
                                <td class=cell>{after}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Fields and their values, for records with only one side.
#[component]
fn FieldTable(
    fields: Vec<(String, String)>,
    caption: &'static str,
    testid: &'static str,
) -> impl IntoView {
    if fields.is_empty() {
        return view! { <p class="mt-4 text-sm text-slate-600">"No fields."</p> }.into_any();
    }
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-100 text-sm" data-testid=testid>
                <caption class="sr-only">{caption}</caption>
                <tbody class="divide-y divide-slate-100">
                    {fields.into_iter().map(|(field, value)| {
                        let key = field.clone();
                        view! {
                        <tr data-field=key>
                            <th scope="row" class="w-1/3 px-3 py-2 text-left align-top font-mono text-xs font-medium text-slate-700">{field}</th>
                            <td class="px-3 py-2 align-top">
                                <span class="block whitespace-pre-wrap break-words font-mono text-xs text-slate-900">{value}</span>
                            </td>
                        </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
