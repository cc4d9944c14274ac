//! The Settings screen: the tenant's settings: single sign-on (its providers and forms
//! live in `crate::sso`), data retention (`super::retention`) and encryption
//! (`super::encryption`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::forms::successes;
use crate::components::ui::{CARD, ErrorBanner, Loading, PageHeader, SuccessBanner};
use crate::sso::api::{CreateSsoProvider, DeleteSsoProvider, UpdateSsoProvider, sso_settings};
use crate::sso::pages::SettingsBody;

use super::encryption::{EncryptionCard, StartKeyJob, encryption_settings};
use super::retention::{RetentionCard, SaveRetention, retention_settings};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let create = ServerAction::<CreateSsoProvider>::new();
    let update = ServerAction::<UpdateSsoProvider>::new();
    let delete = ServerAction::<DeleteSsoProvider>::new();
    let created = successes(create.value().into());
    let saved = successes(update.value().into());
    let data = Resource::new(
        move || (created.get(), saved.get(), delete.version().get()),
        |_| sso_settings(),
    );
    let save_retention = ServerAction::<SaveRetention>::new();
    // Read again after a save that took, not after one refused: that would make the form
    // anew under the hands of someone correcting it.
    let retention_saved = successes(save_retention.value().into());
    let retention = Resource::new(move || retention_saved.get(), |_| retention_settings());
    let start_key_job = ServerAction::<StartKeyJob>::new();
    let key_job_started = successes(start_key_job.value().into());
    let encryption_tick = RwSignal::new(0usize);
    let encryption = Resource::new(
        move || (key_job_started.get(), encryption_tick.get()),
        |_| encryption_settings(),
    );
    // Read again every second while a key job runs, to show its progress.
    crate::components::poll::tick_while(
        move || matches!(encryption.get(), Some(Ok(Some(e))) if e.job.as_ref().is_some_and(|j| j.is_open())),
        std::time::Duration::from_secs(1),
        encryption_tick,
    );
    let query = use_query_map();
    let editing = query.read_untracked().get("edit").unwrap_or_default();
    let notice = move || {
        let q = query.read();
        if q.get("added").is_some() {
            Some("Identity provider added. Its button is on your tenant's sign-in page.")
        } else if q.get("saved").is_some() {
            Some("Identity provider saved.")
        } else if q.get("deleted").is_some() {
            Some("Identity provider removed. People who used it keep their accounts.")
        } else if q.get("retention_saved").is_some() {
            Some("Retention saved. It applies within the hour.")
        } else {
            None
        }
    };
    view! {
        <Title text="Settings · Tenantry"/>
        <PageHeader title="Settings" subtitle="Single sign-on (let people sign in with their company's account: Google or any OpenID Connect provider), how long your data is kept, and how it is encrypted."/>
        {move || notice().map(|m| view! { <div class="mb-4"><SuccessBanner message=m/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(view) => view! { <SettingsBody view editing=editing.clone() create update delete/> }.into_any(),
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || retention.get().map(|r| match r {
                Err(e) => view! { <div class="mt-6"><ErrorBanner message=e.banner()/></div> }.into_any(),
                Ok(None) => ().into_any(),
                Ok(Some(view)) => view! { <RetentionCard view save=save_retention/> }.into_any(),
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || encryption.get().map(|r| match r {
                Err(e) => view! { <div class="mt-6"><ErrorBanner message=e.banner()/></div> }.into_any(),
                Ok(None) => ().into_any(),
                Ok(Some(view)) => view! { <EncryptionCard view start=start_key_job/> }.into_any(),
            })}
        </Transition>
    }
}
