//! One memory: its page, deleting it, editing it.

use super::*;

#[component]
pub(super) fn NotFoundCard() -> impl IntoView {
    view! {
        <NotFound what="Memory" text="It may have expired or been deleted permanently, or the link is wrong." back="/memories" back_label="Back to memories"/>
    }
}

#[component]
pub fn MemoryPage() -> impl IntoView {
    let id = id_param();
    let query = use_query_map();
    let confirm = move || query.read().get("confirm").is_some_and(|c| c == "purge");
    let delete = ServerAction::<DeleteMemory>::new();
    let restore = ServerAction::<RestoreMemory>::new();
    let data = Resource::new(
        move || (id(), restore.version().get()),
        |(id, _)| get_memory(id),
    );
    let actions = FormState::new(
        "memory_actions",
        Signal::derive(move || delete.version().get() + restore.version().get()),
        Signal::derive(move || delete.value().get().or_else(|| restore.value().get())),
    );
    let notice = move || {
        let q = query.read();
        if q.get("created").is_some() {
            Some("Memory stored.")
        } else if q.get("saved").is_some() {
            Some("Memory saved.")
        } else if q.get("restored").is_some() {
            Some("Memory restored from the Trash.")
        } else {
            None
        }
    };
    let duplicate = move || query.read().get("duplicate").is_some();
    view! {
        <Title text="Memory · Tenantry"/>
        <div class="mb-6"><A href="/memories" attr:class=BACK>"← Memories"</A></div>
        {move || notice().map(|m| view! { <div class="mb-4"><SuccessBanner message=m/></div> })}
        {move || duplicate().then(|| view! {
            <div role="status" class="mb-4 rounded-md border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-950">
                <p class="font-semibold">"This memory already exists."</p>
                <p class="mt-1">"Its owner already keeps this exact text, so nothing new was stored. Here is the memory kept."</p>
            </div>
        })}
        {move || actions.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|result| match result {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! { <NotFoundCard/> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(m) => {
                    let doomed = m.id.clone();
                    view! {
                        <MemoryDetail memory=m delete restore/>
                        {move || confirm().then(|| view! { <ConfirmPurge id=doomed.clone() action=delete/> })}
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

#[component]
pub(super) fn MemoryDetail(
    memory: MemoryView,
    delete: ServerAction<DeleteMemory>,
    restore: ServerAction<RestoreMemory>,
) -> impl IntoView {
    let m = memory;
    let deleted = m.deleted_at.is_some();
    let (can_update, can_delete) = (
        can(crate::auth::perm::MEMORIES_UPDATE),
        can(crate::auth::perm::MEMORIES_DELETE),
    );
    let base = format!("/memories/{}", m.id);
    let action_id = m.id.clone();
    let row = |label: &'static str, value: String| {
        view! {
            <div class="py-3 sm:grid sm:grid-cols-3 sm:gap-4">
                <dt class="text-sm font-medium text-slate-600">{label}</dt>
                <dd class="mt-1 break-all text-sm text-slate-900 sm:col-span-2 sm:mt-0">{value}</dd>
            </div>
        }
    };
    let owner = match (m.owner_id.clone(), m.owner.clone()) {
        (Some(id), Some(label)) => {
            view! { <A href=format!("/identities/{id}") attr:class=LINK>{label}</A> }.into_any()
        }
        _ => view! { <span>"Nobody: shared by the whole tenant"</span> }.into_any(),
    };
    let subtitle = match &m.owner {
        Some(o) => format!("Kept for {o} · stored {}", m.created_at),
        None => format!("Shared by the tenant · stored {}", m.created_at),
    };
    view! {
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Memory"</h1>
            {deleted.then(|| view! { <StatusBadge status="in the Trash"/> })}
            {m.tags.iter().map(|t| view! { <Pill text=t.clone()/> }).collect_view()}
        </div>
        <p class="-mt-2 mb-4 text-sm text-slate-600">{subtitle}</p>
        {deleted.then(|| view! {
            <div class="mb-4 rounded-md border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-950" role="status">
                {format!("In the Trash since {}. Search skips it unless the Trash is included; restore it to change it.", m.deleted_at.clone().unwrap_or_default())}
            </div>
        })}
        {(can_update || can_delete).then(|| view! {
            <div class="mb-6 flex flex-wrap gap-2" role="group" aria-label="Actions">
                {if deleted {
                    view! {
                        {can_delete.then(|| view! {
                            <ActionForm action=restore>
                                <input type="hidden" name="id" value=action_id.clone()/>
                                <button type="submit" class=BTN_SECONDARY>"Restore"</button>
                            </ActionForm>
                            <A href=format!("{base}?confirm=purge") attr:class=BTN_GHOST_DANGER>"Delete permanently…"</A>
                        })}
                    }.into_any()
                } else {
                    view! {
                        {can_update.then(|| view! {
                            <A href=format!("{base}/edit") attr:class=BTN_SECONDARY>"Edit"</A>
                        })}
                        {can_delete.then(|| view! {
                            <ActionForm action=delete>
                                <input type="hidden" name="id" value=action_id.clone()/>
                                <input type="hidden" name="mode" value="trash"/>
                                <button type="submit" class=BTN_SECONDARY>"Move to Trash"</button>
                            </ActionForm>
                            <A href=format!("{base}?confirm=purge") attr:class=BTN_GHOST_DANGER>"Delete permanently…"</A>
                        })}
                    }.into_any()
                }}
            </div>
        })}
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-6 lg:col-span-2">
                <section class=format!("{CARD} p-6") aria-labelledby="text-heading">
                    <h2 id="text-heading" class="text-base font-semibold text-slate-900">"Text"</h2>
                    <p class="mt-3 whitespace-pre-wrap break-words text-base leading-relaxed text-slate-900" data-testid="memory-text">{m.text.clone()}</p>
                </section>
                <section class=format!("{CARD} p-6") aria-labelledby="metadata-heading">
                    <h2 id="metadata-heading" class="text-base font-semibold text-slate-900">"Metadata"</h2>
                    <pre class="mt-3 overflow-x-auto rounded-md bg-slate-900 p-4 text-xs text-slate-100">{m.metadata.clone()}</pre>
                </section>
            </div>
            <section class=format!("{CARD} p-6 self-start") aria-labelledby="details-heading">
                <h2 id="details-heading" class="text-base font-semibold text-slate-900">"Details"</h2>
                <dl class="mt-2 divide-y divide-slate-100">
                    <div class="py-3 sm:grid sm:grid-cols-3 sm:gap-4">
                        <dt class="text-sm font-medium text-slate-600">"Owner"</dt>
                        <dd class="mt-1 break-all text-sm text-slate-900 sm:col-span-2 sm:mt-0">{owner}</dd>
                    </div>
                    {row("Source", if m.source.is_empty() { "—".into() } else { m.source.clone() })}
                    {row("Importance", m.importance.map(|i| i.to_string()).unwrap_or_else(|| "—".into()))}
                    {row("Expires", m.expiry_label())}
                    {row("Model", m.embedding_model.clone())}
                    {row("Dimension", m.embedding_dim.to_string())}
                    {row("Created", m.created_at.clone())}
                    {row("Updated", m.updated_at.clone())}
                    {m.deleted_at.clone().map(|d| row("In the Trash since", d))}
                    {row("Id", m.id.clone())}
                </dl>
            </section>
        </div>
    }
}

#[component]
pub(super) fn ConfirmPurge(id: String, action: ServerAction<DeleteMemory>) -> impl IntoView {
    let cancel = format!("/memories/{id}");
    view! {
        <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4">
            <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-text" class="w-full max-w-md rounded-lg bg-white p-6 shadow-xl">
                <h2 id="confirm-title" class="text-lg font-semibold text-slate-900">"Delete this memory permanently?"</h2>
                <p id="confirm-text" class="mt-2 text-sm text-slate-700">"Its text, metadata and embedding are removed for good; the audit trail keeps only its id. This cannot be undone."</p>
                <div class="mt-6 flex justify-end gap-3">
                    <A href=cancel attr:class=BTN_SECONDARY>"Cancel"</A>
                    <ActionForm action=action>
                        <input type="hidden" name="id" value=id.clone()/>
                        <input type="hidden" name="mode" value="purge"/>
                        <button type="submit" class=BTN_DANGER disabled=move || action.pending().get()>"Delete permanently"</button>
                    </ActionForm>
                </div>
            </div>
        </div>
    }
}

// ---------------------------------------------------------------------------------------
// Edit

#[component]
pub fn EditMemoryPage() -> impl IntoView {
    let id = id_param();
    let data = Resource::new(id, get_memory);
    view! {
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|result| match result {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! { <NotFoundCard/> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(m) => view! { <EditForm memory=m/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
pub(super) fn EditForm(memory: MemoryView) -> impl IntoView {
    let action = ServerAction::<UpdateMemory>::new();
    let form = FormState::new(
        "update_memory",
        action.version().into(),
        action.value().into(),
    );
    let m = memory;
    let back = format!("/memories/{}", m.id);
    let keep = format!(
        "Keep: {}",
        if m.expires_at.is_some() {
            format!("expires {}", m.expiry_label())
        } else {
            "never expires".to_owned()
        }
    );
    view! {
        <Title text="Edit memory · Tenantry"/>
        <div class="mb-6"><A href=back.clone() attr:class=BACK>"← Memory"</A></div>
        <PageHeader title="Edit memory" subtitle="A new text is embedded again."/>
        {m.deleted_at.is_some().then(|| view! {
            <div class="mb-4"><ErrorBanner message="This memory is in the Trash: restore it before changing it."/></div>
        })}
        <div class=format!("{CARD} max-w-3xl p-6")>
            {move || form.banner().get().map(|msg| view! { <div class="mb-4"><ErrorBanner message=msg/></div> })}
            <ActionForm action=action attr:class="space-y-5" attr:aria-label="Edit memory">
                <input type="hidden" name="id" value=m.id.clone()/>
                <MemoryText value=form.value("text", m.text.clone()) error=form.field_error("text")/>
                <div class="grid gap-5 sm:grid-cols-2">
                    <TextField name="tags" label="Tags" help="Comma-separated; empty removes them all."
                        value=form.value("tags", m.tags.join(", ")) error=form.field_error("tags")/>
                    <TextField name="source" label="Source"
                        value=form.value("source", m.source.clone()) error=form.field_error("source")/>
                    <TextField name="importance" label="Importance" help="Between 0 and 1; empty for none."
                        value=form.value("importance", m.importance.map(|i| i.to_string()).unwrap_or_default()) error=form.field_error("importance")/>
                </div>
                <div class="grid gap-5 sm:grid-cols-2">
                    <ExpiryPicker select_name="expiry" seconds_name="ttl_seconds" label="Expires"
                        first=Some(("keep", keep))
                        selected=form.value("expiry", "keep".into())
                        seconds=form.value("ttl_seconds", String::new())
                        error=form.field_error("ttl_seconds")/>
                </div>
                <TextArea name="metadata" label="Metadata (JSON object)" value=form.value("metadata", m.metadata.clone())
                    error=form.field_error("metadata") rows=5/>
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

// ---------------------------------------------------------------------------------------
// The Trash
