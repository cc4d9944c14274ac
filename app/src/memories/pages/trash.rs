//! The Trash: deleted memories, restored or deleted for good.

use super::*;

#[component]
pub fn TrashPage() -> impl IntoView {
    let restore = ServerAction::<RestoreMemory>::new();
    let purge = ServerAction::<DeleteMemory>::new();
    let empty = ServerAction::<EmptyMemoryTrash>::new();
    let query = use_query_map();
    let cursor = move || query.read().get("cursor").filter(|v| !v.is_empty());
    let data = Resource::new(
        move || {
            (
                cursor(),
                restore.version().get(),
                purge.version().get(),
                empty.version().get(),
            )
        },
        |(cursor, ..)| {
            let state = Some("deleted".to_owned());
            list_memories(MemoryQuery {
                state,
                cursor,
                ..Default::default()
            })
        },
    );
    let status = Resource::new(|| (), |_| memory_status());
    let actions = FormState::new(
        "memory_actions",
        Signal::derive(move || {
            restore.version().get() + purge.version().get() + empty.version().get()
        }),
        Signal::derive(move || {
            restore
                .value()
                .get()
                .or_else(|| purge.value().get())
                .or_else(|| empty.value().get())
        }),
    );
    let notice = move || {
        let q = query.read();
        match q.get("done").as_deref() {
            Some("restored") => {
                Some("Memory restored: it is back among the live memories.".to_owned())
            }
            Some("purged") => Some("Memory deleted permanently.".to_owned()),
            Some("emptied") => Some(match q.get("count").as_deref() {
                Some("1") => "Trash emptied: 1 memory deleted permanently.".to_owned(),
                Some(n) => format!("Trash emptied: {n} memories deleted permanently."),
                None => "Trash emptied.".to_owned(),
            }),
            _ => None,
        }
    };
    let may_delete = can(crate::auth::perm::MEMORIES_DELETE);
    view! {
        <Title text="Trash · Memories · Tenantry"/>
        <PageHeader title="Memories" subtitle="What people and agents keep in mind, found again by meaning or by words."/>
        <Tabs/>
        {move || notice().map(|m| view! { <div class="mb-4"><SuccessBanner message=m/></div> })}
        {move || actions.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        <Transition fallback=|| ()>
            {move || status.get().and_then(Result::ok).map(|s| view! {
                <p class="mb-4 text-sm text-slate-600">
                    {format!("Memories in the Trash are removed for good {} days after they were deleted. Until then you can restore them.", s.trash_days)}
                </p>
            })}
        </Transition>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|result| match result {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(page) if page.items.is_empty() && cursor().is_none() => view! {
                    <EmptyState title="The Trash is empty" text="Memories moved to the Trash wait here until they are restored or removed."/>
                }.into_any(),
                Ok(page) => {
                    let next_href = page.next_cursor.clone().map(|c| format!("/memories/trash{}", query_string(&[("cursor", Some(c))])));
                    view! {
                        {may_delete.then(|| view! {
                            <div class="mb-3 flex justify-end">
                                <ActionForm action=empty attr:aria-label="Empty the Trash">
                                    <button type="submit" class=BTN_GHOST_DANGER disabled=move || empty.pending().get()
                                        on:click=confirm_first("Empty the Trash? Every memory in it is deleted permanently. This cannot be undone.")>
                                        "Empty Trash"
                                    </button>
                                </ActionForm>
                            </div>
                        })}
                        <ul aria-label="Trash" class="space-y-3">
                            {page.items.into_iter().map(|m| view! { <TrashRow memory=m restore purge may_delete/> }).collect_view()}
                        </ul>
                        <nav class="mt-4 flex items-center justify-between" aria-label="Pagination">
                            <div>{cursor().is_some().then(|| view! { <A href="/memories/trash" attr:class=BTN_SECONDARY>"← Latest"</A> })}</div>
                            <div>{next_href.map(|h| view! { <A href=h attr:class=BTN_SECONDARY>"Older →"</A> })}</div>
                        </nav>
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

#[component]
pub(super) fn TrashRow(
    memory: MemoryView,
    restore: ServerAction<RestoreMemory>,
    purge: ServerAction<DeleteMemory>,
    may_delete: bool,
) -> impl IntoView {
    let m = memory;
    let snippet = m.snippet(40);
    let (restore_label, purge_label) = (
        format!("Restore \u{201c}{snippet}\u{201d}"),
        format!("Delete \u{201c}{snippet}\u{201d} permanently"),
    );
    let (id_restore, id_purge) = (m.id.clone(), m.id.clone());
    let href = format!("/memories/{}", m.id);
    let deleted = m.deleted_at.clone().unwrap_or_default();
    let text = m.text.clone();
    view! {
        <li class=format!("{CARD} p-4")>
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div class="min-w-0 flex-1">
                    <A href=href attr:class="block whitespace-pre-wrap break-words text-sm text-slate-900 hover:text-indigo-700">{text}</A>
                    <p class="mt-1 text-xs text-slate-600">{format!("Moved to the Trash {deleted}")}</p>
                    <Facts memory=m.clone()/>
                </div>
                {may_delete.then(|| view! {
                    <div class="flex shrink-0 items-center gap-2">
                        <ActionForm action=restore>
                            <input type="hidden" name="id" value=id_restore.clone()/>
                            <input type="hidden" name="from" value="trash"/>
                            <button type="submit" class=BTN_SECONDARY aria-label=restore_label.clone()>"Restore"</button>
                        </ActionForm>
                        <ActionForm action=purge>
                            <input type="hidden" name="id" value=id_purge.clone()/>
                            <input type="hidden" name="mode" value="purge"/>
                            <input type="hidden" name="from" value="trash"/>
                            <button type="submit" class=BTN_GHOST_DANGER aria-label=purge_label.clone()
                                on:click=confirm_first("Delete this memory permanently? This cannot be undone.")>
                                "Delete permanently"
                            </button>
                        </ActionForm>
                    </div>
                })}
            </div>
        </li>
    }
}
