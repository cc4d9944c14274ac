//! The Account page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::api::{ChangePassword, RevokeOtherSessions, RevokeSession, SaveProfile, get_account};
use super::model::{AccountView, SessionView};
use crate::components::forms::{FormState, TextField, successes};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner, LINK, Loading, PageHeader,
    Pill, SuccessBanner,
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let profile = ServerAction::<SaveProfile>::new();
    let password = ServerAction::<ChangePassword>::new();
    let revoke = ServerAction::<RevokeSession>::new();
    let others = ServerAction::<RevokeOtherSessions>::new();
    let saved = successes(profile.value().into());
    let data = Resource::new(
        move || {
            (
                saved.get(),
                password.version().get(),
                revoke.version().get(),
                others.version().get(),
            )
        },
        |_| get_account(),
    );
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("saved").is_some() {
            Some("Profile saved.".to_owned())
        } else if q.get("password").is_some() {
            let ended = q.get("ended").unwrap_or_default();
            Some(format!(
                "Password changed. Signed out of {ended} other session(s); API refresh tokens were revoked."
            ))
        } else {
            q.get("revoked").map(|n| match n.as_str() {
                "1" => "Session ended.".to_owned(),
                n => format!("Ended {n} session(s)."),
            })
        }
    };
    view! {
        <Title text="Your account · Tenantry"/>
        <PageHeader title="Your account" subtitle="Your name, your password, and where you are signed in."/>
        {move || notice().map(|m| view! { <div class="mb-4"><SuccessBanner message=m/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(account) => view! { <AccountBody account profile password revoke others/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn AccountBody(
    account: AccountView,
    profile: ServerAction<SaveProfile>,
    password: ServerAction<ChangePassword>,
    revoke: ServerAction<RevokeSession>,
    others: ServerAction<RevokeOtherSessions>,
) -> impl IntoView {
    let profile_form = FormState::new(
        "save_profile",
        profile.version().into(),
        profile.value().into(),
    );
    let password_form = FormState::new(
        "change_password",
        password.version().into(),
        password.value().into(),
    );
    let sessions_form = FormState::new("sessions", revoke.version().into(), revoke.value().into());
    let has_others = account.sessions.iter().any(|s| !s.current);
    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <section class=format!("{CARD} p-6") aria-labelledby="profile-heading">
                <h2 id="profile-heading" class="mb-3 text-base font-semibold text-slate-900">"Profile"</h2>
                {move || profile_form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                <ActionForm action=profile attr:class="space-y-4" attr:aria-label="Profile">
                    <p class="text-sm text-slate-700">
                        "Email: " <span class="font-medium text-slate-900">{account.email.clone().unwrap_or_else(|| "—".into())}</span>
                    </p>
                    <TextField name="display_name" label="Display name" required=true
                        value=profile_form.value("display_name", account.display_name.clone())
                        error=profile_form.field_error("display_name")/>
                    <button type="submit" class=BTN_PRIMARY>"Save profile"</button>
                </ActionForm>
                <p class="mt-4 text-sm text-slate-600">
                    "Programs acting for you use " <A href="/api-keys" attr:class=LINK>"API keys"</A> "."
                </p>
            </section>
            <section class=format!("{CARD} p-6") aria-labelledby="password-heading">
                <h2 id="password-heading" class="mb-3 text-base font-semibold text-slate-900">"Password"</h2>
                {move || password_form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                <ActionForm action=password attr:class="space-y-4" attr:aria-label="Change password">
                    <TextField name="current_password" label="Current password" kind="password" required=true
                        autocomplete="current-password" error=password_form.field_error("current_password")/>
                    <TextField name="new_password" label="New password" kind="password" required=true
                        autocomplete="new-password" help="At least 12 characters."
                        error=password_form.field_error("new_password")/>
                    <p class="text-xs text-slate-600">"Changing it signs you out everywhere else and revokes your API refresh tokens."</p>
                    <button type="submit" class=BTN_PRIMARY>"Change password"</button>
                </ActionForm>
            </section>
            <section class=format!("{CARD} p-6 lg:col-span-2") aria-labelledby="sessions-heading">
                <div class="mb-3 flex flex-wrap items-center justify-between gap-3">
                    <h2 id="sessions-heading" class="text-base font-semibold text-slate-900">"Where you are signed in"</h2>
                    {has_others.then(|| view! {
                        <ActionForm action=others>
                            <button type="submit" class=BTN_SECONDARY>"Sign out everywhere else"</button>
                        </ActionForm>
                    })}
                </div>
                {move || sessions_form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                <ul class="divide-y divide-slate-100" data-testid="sessions">
                    {account.sessions.into_iter().map(|s| view! { <SessionRow session=s revoke/> }).collect_view()}
                </ul>
            </section>
        </div>
    }
}

#[component]
fn SessionRow(session: SessionView, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let label = format!("Sign out {}", session.device);
    view! {
        <li class="flex flex-wrap items-center justify-between gap-3 py-3">
            <div>
                <p class="text-sm font-medium text-slate-900">
                    {session.device.clone()}
                    {session.current.then(|| view! { <span class="ml-2"><Pill text="this browser"/></span> })}
                </p>
                <p class="text-xs text-slate-600">
                    {format!("{} · signed in {} · last seen {}",
                        session.ip.clone().unwrap_or_else(|| "unknown address".into()),
                        session.created, session.last_seen)}
                </p>
            </div>
            {(!session.current).then(|| view! {
                <ActionForm action=revoke>
                    <input type="hidden" name="id" value=session.id.clone()/>
                    <button type="submit" class=BTN_GHOST_DANGER aria-label=label>"Sign out"</button>
                </ActionForm>
            })}
        </li>
    }
}
