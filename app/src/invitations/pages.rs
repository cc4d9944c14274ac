//! The Invitations screen and the accept page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{
    AcceptInvitation, CreateInvitation, ResendInvitation, RevokeInvitation, list_invitations,
    preview_invitation,
};
use super::model::{EXPIRY, InvitationView, InvitationsView, InvitePreview, MailView};
use crate::auth::can;
use crate::components::forms::{
    FormState, SelectField, TextArea, TextField, provide_flash, successes,
};
use crate::components::ui::{
    BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner, LINK, Loading, PageHeader,
    Pill, StatusBadge, SuccessBanner,
};
use crate::sso::model::SignInOptionView;

#[component]
pub fn InvitationsPage() -> impl IntoView {
    let create = ServerAction::<CreateInvitation>::new();
    let resend = ServerAction::<ResendInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let created = successes(create.value().into());
    let data = Resource::new(
        move || {
            (
                created.get(),
                resend.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_invitations(),
    );
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("sent").is_some() {
            Some("Invitation sent. The mail is on its way (see the outbox below).")
        } else if q.get("resent").is_some() {
            Some("Invitation sent again with a new link; the old link no longer works.")
        } else if q.get("revoked").is_some() {
            Some("Invitation revoked: its link no longer works.")
        } else {
            None
        }
    };
    view! {
        <Title text="Invitations · Tenantry"/>
        <PageHeader title="Invitations" subtitle="Invite people by email with their roles. Each link works once, until it expires."/>
        {move || notice().map(|m| view! { <div class="mb-4"><SuccessBanner message=m/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(view) => view! { <InvitationsBody view create resend revoke/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn InvitationsBody(
    view: InvitationsView,
    create: ServerAction<CreateInvitation>,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    let form = FormState::new(
        "create_invitation",
        create.version().into(),
        create.value().into(),
    );
    let actions = FormState::new(
        "invitation_actions",
        revoke.version().into(),
        revoke.value().into(),
    );
    let roles = view.roles.clone();
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <section class=format!("{CARD} lg:col-span-2 overflow-hidden") aria-labelledby="invitations-heading">
                <h2 id="invitations-heading" class="px-6 pt-5 text-base font-semibold text-slate-900">"Sent invitations"</h2>
                {move || actions.banner().get().map(|m| view! { <div class="px-6 pt-3"><ErrorBanner message=m/></div> })}
                {if view.invitations.is_empty() {
                    view! { <p class="px-6 py-8 text-sm text-slate-600">"No invitations yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="mt-2 divide-y divide-slate-100" data-testid="invitations">
                            {view.invitations.into_iter().map(|i| view! { <InvitationRow invitation=i resend revoke/> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            {can(crate::auth::perm::INVITATIONS_CREATE).then(|| view! {
                <section class=format!("{CARD} p-6") aria-labelledby="invite-heading">
                    <h2 id="invite-heading" class="mb-3 text-base font-semibold text-slate-900">"Invite someone"</h2>
                    {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                    <ActionForm action=create attr:class="space-y-4" attr:aria-label="Invite someone">
                        <TextField name="email" label="Email" kind="email" required=true
                            value=form.value("email", String::new()) error=form.field_error("email")/>
                        <fieldset>
                            <legend class="block text-sm font-medium text-slate-800">"Roles"</legend>
                            <div class="mt-1 grid grid-cols-2 gap-1">
                                {roles.iter().enumerate().map(|(n, name)| {
                                    let field = format!("invite-role-{name}");
                                    let input_id = field.clone();
                                    view! {
                                        <label for=field class="flex items-center gap-2 text-sm text-slate-800">
                                            <input id=input_id type="checkbox" name=format!("roles[{n}]") value=name.clone()
                                                checked=name == "member"
                                                class="h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-600"/>
                                            {name.clone()}
                                        </label>
                                    }
                                }).collect_view()}
                            </div>
                            {move || form.field_error("roles").get().map(|m| view! { <p class="mt-1 text-sm text-red-700">{m}</p> })}
                        </fieldset>
                        <TextArea name="message" label="Message (optional)" rows=3
                            value=form.value("message", String::new()) error=form.field_error("message")/>
                        <SelectField name="expires_in_days" label="Link expires" options=EXPIRY.to_vec()
                            value=form.value("expires_in_days", "7".into()) error=form.field_error("expires_in_days")/>
                        <button type="submit" class=BTN_PRIMARY>"Send invitation"</button>
                    </ActionForm>
                </section>
            })}
            <section class=format!("{CARD} lg:col-span-3 overflow-hidden") aria-labelledby="outbox-heading">
                <h2 id="outbox-heading" class="px-6 pt-5 text-base font-semibold text-slate-900">"Outbox"</h2>
                <p class="px-6 text-sm text-slate-600">"Mail waiting to go out is retried until the SMTP server takes it. Without an SMTP server, mail is written to the server's log; an invitation's link is then shown here to those who may invite; a password reset link is never shown."</p>
                {if view.outbox.is_empty() {
                    view! { <p class="px-6 py-6 text-sm text-slate-600">"Nothing sent yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="mt-2 divide-y divide-slate-100" data-testid="outbox">
                            {view.outbox.into_iter().map(|m| view! { <MailRow mail=m/> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </div>
    }
}

#[component]
fn InvitationRow(
    invitation: InvitationView,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    let open = matches!(invitation.status.as_str(), "pending" | "expired");
    let pending = invitation.status == "pending";
    let email = invitation.email.clone();
    let detail = format!(
        "{}sent {}{} · expires {}",
        invitation
            .inviter
            .as_ref()
            .map(|i| format!("by {i} · "))
            .unwrap_or_default(),
        invitation.sent,
        if invitation.sent_count > 1 {
            format!(" ({} times)", invitation.sent_count)
        } else {
            String::new()
        },
        invitation.expires
    );
    view! {
        <li class="flex flex-wrap items-center justify-between gap-3 px-6 py-3">
            <div class="min-w-0">
                <div class="flex flex-wrap items-center gap-2">
                    <span class="text-sm font-medium text-slate-900">{invitation.email.clone()}</span>
                    <StatusBadge status=invitation.status.clone()/>
                    {invitation.roles.iter().map(|r| view! { <Pill text=r.clone()/> }).collect_view()}
                </div>
                <p class="text-xs text-slate-600">{detail}</p>
            </div>
            <div class="flex gap-2">
                {(open && can(crate::auth::perm::INVITATIONS_UPDATE)).then(|| {
                    let (id, label) = (invitation.id.clone(), format!("Resend to {email}"));
                    view! {
                        <ActionForm action=resend>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class=BTN_SECONDARY aria-label=label>"Resend"</button>
                        </ActionForm>
                    }
                })}
                {(pending && can(crate::auth::perm::INVITATIONS_DELETE)).then(|| {
                    let (id, label) = (invitation.id.clone(), format!("Revoke the invitation of {email}"));
                    view! {
                        <ActionForm action=revoke>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class=BTN_GHOST_DANGER aria-label=label>"Revoke"</button>
                        </ActionForm>
                    }
                })}
            </div>
        </li>
    }
}

#[component]
fn MailRow(mail: MailView) -> impl IntoView {
    let attempts = if mail.attempts > 1 {
        format!(" · {} attempts", mail.attempts)
    } else {
        String::new()
    };
    view! {
        <li class="px-6 py-3">
            <div class="flex flex-wrap items-center gap-2">
                <span class="text-sm font-medium text-slate-900">{mail.to.clone()}</span>
                <StatusBadge status=mail.status.clone()/>
            </div>
            <p class="text-xs text-slate-600">{format!("{} · queued {}{attempts}", mail.subject, mail.queued)}</p>
            {mail.last_error.clone().map(|e| view! { <p class="text-xs text-red-700">{format!("Last error: {e}")}</p> })}
            {mail.link.clone().map(|l| view! {
                <p class="text-xs">
                    <a href=l.clone() class=LINK>"Open the invitation link"</a>
                    " (shown because this server has no SMTP server; the mail went to its log)"
                </p>
            })}
        </li>
    }
}

/// The page an invitation link opens.
#[component]
pub fn AcceptPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let data = Resource::new_blocking(token, preview_invitation);
    view! {
        <main class="flex min-h-screen items-center justify-center bg-slate-100 px-4 py-12">
            <div class="w-full max-w-md">
                <div class="mb-8 text-center">
                    <div class="mx-auto flex h-12 w-12 items-center justify-center rounded-xl bg-indigo-600 text-xl font-bold text-white" aria-hidden="true">"T"</div>
                </div>
                <Suspense fallback=|| view! { <Loading/> }>
                    {move || data.get().map(|r| match r {
                        Err(e) => view! { <Title text="Invitation · Tenantry"/><ErrorBanner message=e.banner()/> }.into_any(),
                        Ok(preview) => {
                            provide_flash(preview.flash.clone());
                            view! { <AcceptBody preview token=token()/> }.into_any()
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
fn AcceptBody(preview: InvitePreview, token: String) -> impl IntoView {
    let (heading, text) = match preview.status.as_str() {
        "pending" => {
            return view! { <AcceptForm preview token/> }.into_any();
        }
        "accepted" => (
            "This invitation was already accepted",
            "It can be used only once. If it was you, sign in with your email and password.",
        ),
        "expired" => (
            "This invitation has expired",
            "Ask the person who invited you to send it again: a new link will reach you by mail.",
        ),
        "revoked" => (
            "This invitation was withdrawn",
            "Whoever sent it took it back. Ask them if you think that is a mistake.",
        ),
        _ => (
            "This invitation link does not work",
            "Check that you opened the whole link from the mail. Links stop working when an invitation is sent again.",
        ),
    };
    let sign_in = (!preview.tenant.is_empty()).then(|| format!("/login?tenant={}", preview.tenant));
    view! {
        <Title text=format!("{heading} · Tenantry")/>
        <div class=format!("{CARD} p-6 text-center")>
            <h1 class="text-xl font-semibold text-slate-900">{heading}</h1>
            <p class="mt-2 text-sm text-slate-600">{text}</p>
            {sign_in.map(|href| view! { <a href=href class=format!("mt-5 {BTN_SECONDARY}")>"Go to sign-in"</a> })}
        </div>
    }
    .into_any()
}

#[component]
fn AcceptForm(preview: InvitePreview, token: String) -> impl IntoView {
    let sso_token = token.clone();
    let accept = ServerAction::<AcceptInvitation>::new();
    let form = FormState::new(
        "accept_invitation",
        accept.version().into(),
        accept.value().into(),
    );
    let inviter = preview
        .inviter
        .clone()
        .unwrap_or_else(|| "Someone".to_owned());
    view! {
        <Title text=format!("Join {} · Tenantry", preview.tenant_name)/>
        <div class=format!("{CARD} p-6")>
            <h1 class="text-xl font-semibold text-slate-900">{format!("Join {}", preview.tenant_name)}</h1>
            <p class="mt-1 text-sm text-slate-600">
                {format!("{inviter} invited {} to {} on Tenantry", preview.email, preview.tenant_name)}
                {(!preview.roles.is_empty()).then(|| format!(" as {}", preview.roles.join(", ")))}
                {format!(". The link works until {}.", preview.expires)}
            </p>
            <div class="mt-4">
                {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                <ActionForm action=accept attr:class="space-y-4" attr:aria-label="Accept the invitation">
                    <input type="hidden" name="token" value=token.clone()/>
                    <TextField name="display_name" label="Your name" required=true autocomplete="name"
                        value=form.value("display_name", String::new()) error=form.field_error("display_name")/>
                    <TextField name="password" label="Choose a password" kind="password" required=true
                        autocomplete="new-password" help="At least 12 characters."
                        error=form.field_error("password")/>
                    <button type="submit" class=format!("{BTN_PRIMARY} w-full") disabled=move || accept.pending().get()>
                        {move || if accept.pending().get() { "Joining…" } else { "Accept and sign in" }}
                    </button>
                </ActionForm>
                <InviteSso options=preview.sso.clone() token=sso_token/>
            </div>
        </div>
    }
}

/// Accepting with the tenant's single sign-on instead of a password (nothing when the
/// tenant has none).
#[component]
fn InviteSso(options: Vec<SignInOptionView>, token: String) -> impl IntoView {
    (!options.is_empty()).then(|| {
        view! {
            <div class="my-5 flex items-center gap-3 text-xs text-slate-500" aria-hidden="true">
                <div class="h-px flex-1 bg-slate-200"></div>"or"<div class="h-px flex-1 bg-slate-200"></div>
            </div>
            <div class="space-y-2">
                {options.into_iter().map(|o| {
                    let href = o.href(&[("invitation", &token)]);
                    view! {
                        <a href=href rel="external" class=format!("{BTN_SECONDARY} w-full")>
                            {format!("Accept with {}", o.name)}
                        </a>
                    }
                }).collect_view()}
            </div>
        }
    })
}
