//! Storing a new memory.

use super::*;

#[component]
pub fn NewMemoryPage() -> impl IntoView {
    let action = ServerAction::<CreateMemory>::new();
    let form = FormState::new(
        "create_memory",
        action.version().into(),
        action.value().into(),
    );
    let query = use_query_map();
    let preset_owner = query.read_untracked().get("owner").unwrap_or_default();
    let status = Resource::new(|| (), |_| memory_status());
    view! {
        <Title text="New memory · Tenantry"/>
        <div class="mb-6"><A href="/memories" attr:class=BACK>"← Memories"</A></div>
        <PageHeader title="New memory" subtitle="Stored with an embedding of its text, so it can be found again by meaning."/>
        <div class=format!("{CARD} max-w-3xl p-6")>
            {move || form.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
            <ActionForm action=action attr:class="space-y-5" attr:aria-label="New memory">
                <MemoryText value=form.value("text", String::new()) error=form.field_error("text")/>
                <div class="grid gap-5 sm:grid-cols-2">
                    <TextField name="tags" label="Tags" placeholder="health, family"
                        help="Comma-separated." value=form.value("tags", String::new()) error=form.field_error("tags")/>
                    <TextField name="source" label="Source" placeholder="chat, crm, import"
                        help="Where it came from (optional)." value=form.value("source", String::new()) error=form.field_error("source")/>
                    <TextField name="importance" label="Importance" placeholder="0.7"
                        help="Between 0 and 1 (optional)." value=form.value("importance", String::new()) error=form.field_error("importance")/>
                    <IdentityPicker name="owner_id" label="Owner" value=form.value("owner_id", preset_owner.clone())
                        error=form.field_error("owner_id") placeholder="Empty: shared by the whole tenant"
                        help="The identity it belongs to: pick one from the list or paste its id."/>
                </div>
                <div class="grid gap-5 sm:grid-cols-2">
                    <Transition fallback=|| ()>
                        {move || {
                            let default = status
                                .get()
                                .and_then(Result::ok)
                                .map(|s| s.default_ttl_label())
                                .unwrap_or_else(|| "none".to_owned());
                            view! {
                                <ExpiryPicker select_name="expiry" seconds_name="ttl_seconds" label="Expires"
                                    first=Some(("default", format!("The tenant's default ({default})")))
                                    selected=form.value("expiry", "default".into())
                                    seconds=form.value("ttl_seconds", String::new())
                                    error=form.field_error("ttl_seconds")/>
                            }
                        }}
                    </Transition>
                </div>
                <TextArea name="metadata" label="Metadata (JSON object)" value=form.value("metadata", "{}".into())
                    error=form.field_error("metadata") rows=3 help="Filterable key-values, e.g. {\"topic\": \"health\"}."/>
                <div class="flex items-center gap-3 pt-2">
                    <button type="submit" class=BTN_PRIMARY disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Storing…" } else { "Store memory" }}
                    </button>
                    <A href="/memories" attr:class=BTN_SECONDARY>"Cancel"</A>
                </div>
            </ActionForm>
        </div>
    }
}

// ---------------------------------------------------------------------------------------
// A memory's page
