//! Pages of the Memories screen: search and the newest memories (with the status strip),
//! a memory's page, the new and edit forms, and the Trash.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::api::{
    CreateMemory, DeleteMemory, EmptyMemoryTrash, RestoreMemory, SetMemoryDefaultTtl, UpdateMemory,
    get_memory, list_memories, memory_status, search_memories,
};
use super::forms::{MemoryQuery, SearchQuery};
use super::model::{Found, HitView, MODES, MemoryView, StatusView, TTL_CHOICES, segments};
use crate::auth::can;
use crate::components::forms::{FormState, IdentityPicker, TextArea, TextField, successes};
use crate::components::poll::tick_while;
use crate::components::ui::{
    BTN_DANGER, BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, EmptyState, ErrorBanner, LINK,
    Loading, NotFound, PageHeader, Pill, StatusBadge, SuccessBanner, confirm_first,
};
use crate::components::url::{id_param, query_string};
use crate::identities::api::identity_choices;
use crate::identities::model::IdentityChoice;

mod detail;
mod new;
mod trash;

pub use detail::{EditMemoryPage, MemoryPage};
pub use new::NewMemoryPage;
pub use trash::TrashPage;

const SELECT: &str = "mt-1 block w-full rounded-md border-0 py-2 pl-3 pr-8 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-inset focus:ring-indigo-600";
const TEXTAREA: &str = "mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600";
const BACK: &str = "text-sm font-medium text-slate-600 hover:text-slate-900";

/// A score as the results show it: the hybrid (fused rank) scores are small numbers.
fn score(value: f32, precise: bool) -> String {
    if precise {
        format!("{value:.4}")
    } else {
        format!("{value:.3}")
    }
}

// ---------------------------------------------------------------------------------------
// The memories page: search, or the newest memories

#[component]
pub fn MemoriesPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").filter(|v| !v.trim().is_empty());
    let mode = move || {
        query
            .read()
            .get("mode")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "hybrid".to_owned())
    };
    let tags = move || query.read().get("tags").filter(|v| !v.is_empty());
    let owner = move || query.read().get("owner").filter(|v| !v.is_empty());
    let trash = move || query.read().get("trash").is_some_and(|v| v == "1");
    let cursor = move || query.read().get("cursor").filter(|v| !v.is_empty());
    let done = move || query.read().get("done");
    let found = Resource::new(
        move || (q(), mode(), tags(), owner(), trash(), cursor()),
        |(q, mode, tags, owner, trash, cursor)| async move {
            match q {
                Some(q) => search_memories(SearchQuery {
                    q,
                    mode: Some(mode),
                    owner,
                    tags,
                    trash: trash.then(|| "1".to_owned()),
                })
                .await
                .map(Found::Hits),
                None => {
                    let state = if trash { "all" } else { "live" };
                    let state = Some(state.to_owned());
                    list_memories(MemoryQuery {
                        state,
                        owner,
                        tags,
                        cursor,
                    })
                    .await
                    .map(Found::Page)
                }
            }
        },
    );
    let owners = Resource::new(|| (), |_| identity_choices());
    let filtered = move || tags().is_some() || owner().is_some() || trash();
    view! {
        <Title text="Memories · Tenantry"/>
        <PageHeader title="Memories" subtitle="What people and agents keep in mind, found again by meaning or by words.">
            {can(crate::auth::perm::MEMORIES_CREATE).then(|| view! {
                <A href=move || format!("/memories/new{}", query_string(&[("owner", owner())])) attr:class=BTN_PRIMARY>"New memory"</A>
            })}
        </PageHeader>
        <StatusStrip/>
        <Tabs/>
        {move || match done().as_deref() {
            Some("trashed") => Some(view! {
                <div class="mb-4 rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-800" role="status">
                    "Memory moved to the Trash. "
                    <A href="/memories/trash" attr:class=LINK>"Open the Trash"</A>
                    " to restore it."
                </div>
            }.into_any()),
            Some("purged") => Some(view! { <div class="mb-4"><SuccessBanner message="Memory deleted permanently."/></div> }.into_any()),
            _ => None,
        }}
        {move || query.read().get("ttl_saved").map(|_| view! { <div class="mb-4"><SuccessBanner message="Default expiry saved. It applies to memories stored from now on."/></div> })}
        <Form method="GET" action="" attr:class=format!("{CARD} mb-6 space-y-4 p-4") attr:role="search" attr:aria-label="Search memories">
            <div class="flex flex-wrap items-end gap-3">
                <div class="min-w-64 flex-1">
                    <label for="search-q" class="block text-sm font-medium text-slate-800">"Search memories"</label>
                    <input
                        id="search-q"
                        type="search"
                        name="q"
                        placeholder="Ask in plain words, e.g. which foods can she not eat?"
                        prop:value=move || q().unwrap_or_default()
                        value=move || q().unwrap_or_default()
                        class="mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600"
                    />
                </div>
                <div>
                    <label for="search-mode" class="block text-sm font-medium text-slate-800">"Mode"</label>
                    <select id="search-mode" name="mode" class=SELECT>
                        {MODES
                            .into_iter()
                            .map(|(v, label)| view! { <option value=v selected=move || mode() == v>{label}</option> })
                            .collect_view()}
                    </select>
                </div>
                <button type="submit" class=BTN_PRIMARY>"Search"</button>
            </div>
            <div class="flex flex-wrap items-end gap-3">
                <div class="min-w-48">
                    <label for="search-tags" class="block text-sm font-medium text-slate-800">"Tags"</label>
                    <input
                        id="search-tags"
                        type="text"
                        name="tags"
                        placeholder="health, family"
                        aria-describedby="search-tags-help"
                        prop:value=move || tags().unwrap_or_default()
                        value=move || tags().unwrap_or_default()
                        class="mt-1 block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600"
                    />
                    <p id="search-tags-help" class="mt-1 text-xs text-slate-600">"Comma-separated; memories carrying all of them."</p>
                </div>
                <div class="min-w-48">
                    <label for="search-owner" class="block text-sm font-medium text-slate-800">"Owner"</label>
                    <Transition fallback=|| ()>
                        {move || owners.get().map(|r| {
                            let mut choices = r.unwrap_or_default();
                            // An owner from a link (an identity's page) that the list does not hold.
                            if let Some(current) = owner()
                                && !choices.iter().any(|c| c.id == current)
                            {
                                choices.push(IdentityChoice { label: format!("identity {current}"), id: current });
                            }
                            view! {
                                <select id="search-owner" name="owner" class=SELECT>
                                    <option value="" selected=move || owner().is_none()>"Anyone"</option>
                                    {choices
                                        .into_iter()
                                        .map(|c| {
                                            let id = c.id.clone();
                                            view! { <option value=c.id selected=move || owner().as_deref() == Some(id.as_str())>{c.label}</option> }
                                        })
                                        .collect_view()}
                                </select>
                            }
                        })}
                    </Transition>
                    <p class="mt-1 text-xs text-slate-600">"Whose memories."</p>
                </div>
                <div class="flex items-center gap-2 pb-6">
                    <input id="search-trash" type="checkbox" name="trash" value="1"
                        prop:checked=trash checked=trash()
                        class="h-4 w-4 rounded border-slate-400 text-indigo-600 focus:ring-indigo-600"/>
                    <label for="search-trash" class="text-sm text-slate-800">"Include the Trash"</label>
                </div>
                {move || (q().is_some() || filtered()).then(|| view! {
                    <div class="pb-6"><A href="/memories" attr:class=LINK>"Clear"</A></div>
                })}
            </div>
        </Form>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || found.get().map(|result| match result {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(Found::Hits(hits)) => view! {
                    <HitList hits=hits query=q().unwrap_or_default() mode=mode()/>
                }.into_any(),
                Ok(Found::Page(page)) => {
                    let filters = move |cursor: Option<String>| {
                        format!("/memories{}", query_string(&[
                            ("tags", tags()),
                            ("owner", owner()),
                            ("trash", trash().then(|| "1".to_owned())),
                            ("cursor", cursor),
                        ]))
                    };
                    let next_href = page.next_cursor.clone().map(|c| filters(Some(c)));
                    let first_href = cursor().is_some().then(|| filters(None));
                    view! {
                        <MemoryList items=page.items filtered=filtered()/>
                        <nav class="mt-4 flex items-center justify-between" aria-label="Pagination">
                            <div>{first_href.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"← Newest"</A> })}</div>
                            <div>{next_href.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"Older memories →"</A> })}</div>
                        </nav>
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

/// "All memories" and "Trash".
#[component]
fn Tabs() -> impl IntoView {
    let tab = "border-b-2 border-transparent px-1 pb-2 text-sm font-medium text-slate-600 hover:border-slate-300 hover:text-slate-900 aria-[current=page]:border-indigo-600 aria-[current=page]:text-indigo-700";
    view! {
        <nav aria-label="Memory views" class="mb-4 flex gap-6 border-b border-slate-200">
            <A href="/memories" exact=true attr:class=tab>"All memories"</A>
            <A href="/memories/trash" exact=true attr:class=tab>"Trash"</A>
        </nav>
    }
}

/// The matched words of `text`, in `<mark>`; every piece is a text node, never HTML.
fn highlighted(text: &str, highlights: &[(usize, usize)]) -> impl IntoView + use<> {
    segments(text, highlights)
        .into_iter()
        .map(|(piece, marked)| {
            if marked {
                view! { <mark class="rounded-sm bg-amber-200 px-0.5 text-slate-900">{piece}</mark> }
                    .into_any()
            } else {
                view! { <span>{piece}</span> }.into_any()
            }
        })
        .collect_view()
}

/// Tags, owner, source and dates of a memory, on one line under its text.
#[component]
fn Facts(memory: MemoryView) -> impl IntoView {
    let m = memory;
    let owner = match (m.owner_id.clone(), m.owner.clone()) {
        (Some(id), Some(label)) => view! {
            <span>"Owner " <A href=format!("/identities/{id}") attr:class=LINK>{label}</A></span>
        }
        .into_any(),
        _ => view! { <span>"Shared by the tenant"</span> }.into_any(),
    };
    view! {
        <div class="mt-2 flex flex-wrap items-center gap-x-4 gap-y-1 text-xs text-slate-600">
            {(!m.tags.is_empty()).then(|| view! {
                <span class="flex flex-wrap gap-1">
                    {m.tags.iter().map(|t| view! { <Pill text=t.clone()/> }).collect_view()}
                </span>
            })}
            {owner}
            {(!m.source.is_empty()).then(|| view! { <span>{format!("Source {}", m.source)}</span> })}
            {m.importance.map(|i| view! { <span>{format!("Importance {i}")}</span> })}
            <span>{format!("Created {}", m.created_at)}</span>
            <span>{format!("Expires {}", m.expiry_label())}</span>
            {m.deleted_at.clone().map(|_| view! { <StatusBadge status="in the Trash"/> })}
        </div>
    }
}

#[component]
fn HitList(hits: Vec<HitView>, query: String, mode: String) -> impl IntoView {
    if hits.is_empty() {
        let text = if mode == "keyword" {
            "No memory holds these words. Try the semantic or hybrid mode to search by meaning."
        } else {
            "No memory is close enough. Try other words, or fewer filters."
        };
        return view! { <EmptyState title="Nothing found" text=text/> }.into_any();
    }
    let precise = mode == "hybrid";
    let count = hits.len();
    view! {
        <p class="mb-2 text-sm text-slate-600">
            {format!("{count} {} for \u{201c}{query}\u{201d}, best first", if count == 1 { "result" } else { "results" })}
        </p>
        <ol aria-label="Search results" class="space-y-3">
            {hits.into_iter().enumerate().map(|(rank, h)| {
                let href = format!("/memories/{}", h.memory.id);
                let label = format!("Open memory {}", rank + 1);
                view! {
                    <li class=format!("{CARD} p-4")>
                        <div class="flex items-start gap-4">
                            <span class="mt-0.5 w-6 shrink-0 text-sm font-semibold text-slate-500" aria-hidden="true">{format!("{}.", rank + 1)}</span>
                            <div class="min-w-0 flex-1">
                                <p class="whitespace-pre-wrap break-words text-sm text-slate-900">{highlighted(&h.memory.text, &h.highlights)}</p>
                                <Facts memory=h.memory.clone()/>
                            </div>
                            <div class="shrink-0 text-right">
                                <div class="text-xs text-slate-600">"Score"</div>
                                <div class="text-base font-semibold tabular-nums text-slate-900">{score(h.score, precise)}</div>
                                <div class="mt-1 flex flex-wrap justify-end gap-1">
                                    {h.semantic_score.map(|s| view! { <Pill text=format!("semantic {}", score(s, false))/> })}
                                    {h.keyword_score.map(|s| view! { <Pill text=format!("keyword {}", score(s, false))/> })}
                                </div>
                                <A href=href attr:class=format!("mt-2 inline-block text-sm {LINK}") attr:aria-label=label>"Open"</A>
                            </div>
                        </div>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn MemoryList(items: Vec<MemoryView>, filtered: bool) -> impl IntoView {
    if items.is_empty() {
        let (title, text) = if filtered {
            (
                "No memories match",
                "Try other tags, another owner, or no filter.",
            )
        } else {
            (
                "No memories yet",
                "Store the first one here, or let agents store theirs through the API (POST /v1/memories).",
            )
        };
        return view! { <EmptyState title=title text=text/> }.into_any();
    }
    view! {
        <ul aria-label="Memories" class="space-y-3">
            {items.into_iter().map(|m| {
                let href = format!("/memories/{}", m.id);
                let text = m.text.clone();
                view! {
                    <li class=format!("{CARD} p-4")>
                        <A href=href attr:class="block whitespace-pre-wrap break-words text-sm text-slate-900 hover:text-indigo-700">{text}</A>
                        <Facts memory=m/>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

// ---------------------------------------------------------------------------------------
// The status strip: model, count, re-embedding progress, default expiry

#[component]
fn StatusStrip() -> impl IntoView {
    let save = ServerAction::<SetMemoryDefaultTtl>::new();
    let saved = successes(save.value().into());
    let tick = RwSignal::new(0usize);
    // Polled while re-embedding; the default-expiry form reads its own copy, so a poll
    // never closes or resets the form while the admin uses it.
    let status = Resource::new(move || (tick.get(), saved.get()), |_| memory_status());
    let settings = Resource::new(move || saved.get(), |_| memory_status());
    // While the memories are re-embedded, ask again every few seconds.
    tick_while(
        move || matches!(status.get(), Some(Ok(s)) if s.reembedding()),
        Duration::from_secs(3),
        tick,
    );
    let form = FormState::new("memory_ttl", save.version().into(), save.value().into());
    view! {
        <section aria-label="Memory status" class=format!("{CARD} mb-6 px-4 py-3")>
            <div class="flex flex-wrap items-center gap-x-6 gap-y-2 text-sm text-slate-700">
                <Transition fallback=|| ()>
                    {move || status.get().map(|r| match r {
                        Err(e) => view! { <span class="text-red-700">{e.banner()}</span> }.into_any(),
                        Ok(s) => view! { <StatusLine status=s/> }.into_any(),
                    })}
                </Transition>
                {can(crate::auth::perm::SETTINGS_UPDATE).then(|| view! {
                    <Transition fallback=|| ()>
                        {move || settings.get().and_then(Result::ok).map(|s| view! { <DefaultTtlForm status=s save form/> })}
                    </Transition>
                })}
            </div>
            <Transition fallback=|| ()>
                {move || status.get().and_then(Result::ok).filter(StatusView::reembedding).map(|s| view! { <Progress status=s/> })}
            </Transition>
        </section>
    }
}

/// The model, how many memories, and the default expiry.
#[component]
fn StatusLine(status: StatusView) -> impl IntoView {
    let s = status;
    let count = match s.total {
        1 => "1 memory".to_owned(),
        n => format!("{n} memories"),
    };
    view! {
        <span>"Model " <span class="font-mono text-slate-900">{s.model.clone()}</span></span>
        <span>{count}</span>
        <span>{format!("New memories expire: {}", s.default_ttl_label())}</span>
    }
}

/// "Re-embedding with <model>: current / total", with a bar.
#[component]
fn Progress(status: StatusView) -> impl IntoView {
    let s = status;
    let text = format!("Re-embedding with {}: {} / {}", s.model, s.current, s.total);
    view! {
        <div class="mt-3">
            <p class="text-sm text-slate-700">{text}</p>
            <div class="mt-1 h-2 w-full overflow-hidden rounded-full bg-slate-200"
                role="progressbar" aria-label="Re-embedding progress"
                aria-valuemin="0" aria-valuemax=s.total.to_string() aria-valuenow=s.current.to_string()>
                <div class="h-2 rounded-full bg-indigo-600" style=format!("width: {}%", s.percent())></div>
            </div>
            <p class="mt-1 text-xs text-slate-600">"Search keeps working meanwhile; memories not re-embedded yet are found by their words."</p>
        </div>
    }
}

/// Changing the tenant's default expiry of new memories (`settings:update`).
#[component]
fn DefaultTtlForm(
    status: StatusView,
    save: ServerAction<SetMemoryDefaultTtl>,
    form: FormState,
) -> impl IntoView {
    let current = match status.default_ttl_seconds {
        None => "never".to_owned(),
        Some(secs) => match TTL_CHOICES.iter().find(|(v, _)| *v == secs.to_string()) {
            Some((v, _)) => (*v).to_owned(),
            None => "custom".to_owned(),
        },
    };
    let custom = status
        .default_ttl_seconds
        .filter(|_| current == "custom")
        .map(|v| v.to_string())
        .unwrap_or_default();
    view! {
        <details class="group" open=move || form.error.get().is_some()>
            <summary class=format!("cursor-pointer {LINK}")>"Change the default expiry"</summary>
            <div class="mt-3">
                {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                <ActionForm action=save attr:class="flex flex-wrap items-end gap-3" attr:aria-label="Default expiry">
                    <ExpiryPicker select_name="default_expiry" seconds_name="default_ttl_seconds"
                        label="Default expiry of new memories" first=None
                        selected=form.value("default_expiry", current)
                        seconds=form.value("default_ttl_seconds", custom)
                        error=form.field_error("default_ttl_seconds")/>
                    <button type="submit" class=BTN_SECONDARY disabled=move || save.pending().get()>"Save default"</button>
                </ActionForm>
            </div>
        </details>
    }
}

/// The expiry select and the custom seconds field beside it.
#[component]
fn ExpiryPicker(
    select_name: &'static str,
    seconds_name: &'static str,
    #[prop(into)] label: String,
    first: Option<(&'static str, String)>,
    #[prop(into)] selected: Signal<String>,
    #[prop(into)] seconds: Signal<String>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let select_id = format!("field-{select_name}");
    let mut options: Vec<(String, String)> =
        first.into_iter().map(|(v, l)| (v.to_owned(), l)).collect();
    options.extend(
        TTL_CHOICES
            .iter()
            .map(|(v, l)| ((*v).to_owned(), (*l).to_owned())),
    );
    view! {
        <div>
            <label for=select_id.clone() class="block text-sm font-medium text-slate-800">{label}</label>
            <select id=select_id name=select_name class=SELECT>
                {options
                    .into_iter()
                    .map(|(v, text)| {
                        let value = v.clone();
                        view! { <option value=v selected=move || selected.get() == value>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </div>
        <div>
            <TextField name=seconds_name label="Custom lifetime (seconds)" kind="number"
                value=seconds error=error placeholder="604800" help="Used when Custom is chosen."/>
        </div>
    }
}

// ---------------------------------------------------------------------------------------
// New memory

/// The memory's text: a roomy textarea in the body font.
#[component]
fn MemoryText(
    #[prop(into)] value: Signal<String>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div>
            <label for="field-text" class="block text-sm font-medium text-slate-800">"Text"</label>
            <textarea
                id="field-text"
                name="text"
                rows=5
                required=true
                placeholder="Maria is allergic to peanuts and shellfish."
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=move || if error.get().is_some() { "field-text-help field-text-error" } else { "field-text-help" }
                prop:value=move || value.get()
                class=move || format!("{TEXTAREA} {}", if error.get().is_some() { "ring-red-400" } else { "ring-slate-300" })
            >
                {move || value.get()}
            </textarea>
            <p id="field-text-help" class="mt-1 text-xs text-slate-600">"One fact or note, in plain words. The same text for the same owner is stored once."</p>
            {move || error.get().map(|m| view! { <p id="field-text-error" class="mt-1 text-sm text-red-700">{m}</p> })}
        </div>
    }
}
