//! The identity page's personal data card: an export with its progress and one-time link,
//! and erasure confirmed by typing the email.

use leptos::prelude::*;
use leptos_router::components::A;

use super::api::{EraseIdentity, ExportIdentity, export_status};
use super::model::IdentityView;
use crate::auth::can;
use crate::components::forms::{FormState, TextField};
use crate::components::ui::{
    BTN_DANGER, BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner, Loading,
};

/// Export and erasure of the person's data (GDPR Art. 15, 17 and 20), for admins who may.
#[component]
pub(super) fn PersonalDataCard(id: String, base: String, kind: String) -> impl IntoView {
    let (may_export, may_erase) = (
        can(crate::auth::perm::PRIVACY_EXPORT),
        can(crate::auth::perm::PRIVACY_ERASE),
    );
    (may_export || may_erase).then(|| {
        let export = ServerAction::<ExportIdentity>::new();
        let whom = if kind == "agent" { "this agent" } else { "this person" };
        view! {
            <section class=format!("{CARD} p-6") aria-labelledby="personal-data-heading">
                <h2 id="personal-data-heading" class="text-base font-semibold text-slate-900">"Personal data"</h2>
                <p class="mt-1 text-sm text-slate-600">{format!("Everything the tenant holds about {whom}: hand it over, or erase it.")}</p>
                {may_export.then(|| view! {
                    <ActionForm action=export attr:class="mt-4">
                        <input type="hidden" name="id" value=id.clone()/>
                        <button type="submit" class=BTN_SECONDARY disabled=move || export.pending().get()>
                            {move || if export.pending().get() { "Starting…" } else { "Export data" }}
                        </button>
                    </ActionForm>
                    {move || export.value().get().map(|result| match result {
                        Ok(started) => view! { <ExportProgress export_id=started.id link=started.link/> }.into_any(),
                        Err(e) => view! { <div class="mt-3"><ErrorBanner message=e.banner()/></div> }.into_any(),
                    })}
                })}
                {may_erase.then(|| view! {
                    <div class="mt-4 border-t border-slate-100 pt-4">
                        <A href=format!("{base}?confirm=erase") attr:class=BTN_GHOST_DANGER>"Erase personal data…"</A>
                    </div>
                })}
            </section>
        }
    })
}

/// An export on its way: its progress, then its one-time download link.
#[component]
fn ExportProgress(export_id: String, link: String) -> impl IntoView {
    let tick = RwSignal::new(0usize);
    let status = Resource::new(
        move || tick.get(),
        move |_| export_status(export_id.clone()),
    );
    crate::components::poll::tick_while(
        move || matches!(status.get(), Some(Ok(s)) if s.status == "queued" || s.status == "running"),
        std::time::Duration::from_millis(700),
        tick,
    );
    view! {
        <div class="mt-3" aria-live="polite">
            <Transition fallback=|| view! { <Loading/> }>
                {move || status.get().map(|r| match r {
                    Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                    Ok(s) if s.status == "ready" => view! {
                        <p class="text-sm text-slate-700">{format!("Ready ({}). The link works once, until {}.", s.size.clone().unwrap_or_default(), s.expires_at)}</p>
                        <a href=link.clone() download class=format!("{BTN_PRIMARY} mt-2")>"Download export"</a>
                    }.into_any(),
                    Ok(s) if s.status == "failed" || s.status == "expired" || s.status == "downloaded" => view! {
                        <p class="text-sm text-slate-700">{s.error.clone().unwrap_or_else(|| format!("This export is {}.", s.status))}</p>
                    }.into_any(),
                    Ok(s) => view! {
                        <div class="text-sm text-slate-700">{format!("Gathering {}… {}%", s.step, s.progress)}</div>
                        <div class="mt-2 h-2 w-full rounded-full bg-slate-100" role="progressbar" aria-label="Export progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=s.progress>
                            <div class="h-2 rounded-full bg-indigo-600" style=format!("width: {}%", s.progress)></div>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </div>
    }
}

/// Erasing asks for the email to be typed: it cannot be undone.
#[component]
pub(super) fn ConfirmErase(identity: IdentityView) -> impl IntoView {
    let action = ServerAction::<EraseIdentity>::new();
    let form = FormState::new(
        "erase_identity",
        action.version().into(),
        action.value().into(),
    );
    let cancel = format!("/identities/{}", identity.id);
    let expected = identity
        .email
        .clone()
        .unwrap_or_else(|| identity.display_name.clone());
    view! {
        <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4">
            <div role="dialog" aria-modal="true" aria-labelledby="erase-title" aria-describedby="erase-text" class="w-full max-w-lg rounded-lg bg-white p-6 shadow-xl">
                <h2 id="erase-title" class="text-lg font-semibold text-slate-900">{format!("Erase {}?", identity.label.clone())}</h2>
                <div id="erase-text" class="mt-2 space-y-2 text-sm text-slate-700">
                    <p>"Their key is destroyed, so their profile and every copy of it in the audit trail and the events can never be read again. Their memories, sessions, API keys, SSO links, invitations and mail are deleted."</p>
                    <p>"The audit trail keeps its records (naming them by id only) and still verifies. This cannot be undone."</p>
                </div>
                {move || form.banner().get().map(|m| view! { <div class="mt-4"><ErrorBanner message=m/></div> })}
                <ActionForm action=action attr:class="mt-4 space-y-4">
                    <input type="hidden" name="id" value=identity.id.clone()/>
                    <TextField name="confirm" label=format!("Type {expected} to confirm") value=form.value("confirm", String::new()) error=form.field_error("confirm") autocomplete="off"/>
                    <div class="flex justify-end gap-3">
                        <A href=cancel attr:class=BTN_SECONDARY>"Cancel"</A>
                        <button type="submit" class=BTN_DANGER disabled=move || action.pending().get()>"Erase permanently"</button>
                    </div>
                </ActionForm>
            </div>
        </div>
    }
}
