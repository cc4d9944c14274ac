//! The Webhooks pages: the list with a day of delivery figures and a form for a new
//! webhook, and one webhook with its delivery log, test ping, retry, replay, secret
//! rotation and settings.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::api::{
    CreateWebhook, DeleteWebhook, PingWebhook, ReplayWebhook, RetryDelivery, RotateWebhookSecret,
    SetWebhookEnabled, UpdateWebhook, get_webhook, list_webhooks,
};
use super::forms::DeliveryFilter;
use super::model::{
    ChartView, DeliveryView, FiguresView, OVERLAPS, OpenDelivery, STATUS_FILTERS, WebhookView,
};
use crate::audit_log::model::short_id;
use crate::auth::can;
use crate::components::forms::{FormState, SelectField, TextField, successes};
use crate::components::ui::{
    BTN_DANGER, BTN_GHOST_DANGER, BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner, LINK, Loading,
    NotFound, PageHeader, Pill, SecretReveal, StatusBadge, SuccessBanner,
};
use crate::components::url::{id_param, query_string};

mod deliveries;

use deliveries::{AttemptLog, DeliveryLog};

const BACK: &str = "text-sm font-medium text-slate-600 hover:text-slate-900";
const TH: &str = "px-4 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-600";
const SECRET_TEXT: &str = "This is the only time it is shown: Tenantry keeps it encrypted and never displays it again. Receivers verify the webhook-signature header with it (any Standard Webhooks library takes it as it is).";

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let form = FormState::new(
        "create_webhook",
        create.version().into(),
        create.value().into(),
    );
    let created = successes(create.value().into());
    let query = use_query_map();
    let data = Resource::new(move || created.get(), |_| list_webhooks());
    let fresh = move || create.value().get().and_then(Result::ok);
    view! {
        <Title text="Webhooks · Tenantry"/>
        <PageHeader title="Webhooks" subtitle="Every event a webhook subscribes to is posted to its URL, signed per Standard Webhooks, and retried for about a day until it is accepted.">
            <A href="/events" attr:class=BTN_SECONDARY>"Events"</A>
        </PageHeader>
        {move || fresh().map(|s| view! {
            <SecretReveal title=format!("Copy the signing secret of \u{201c}{}\u{201d} now", s.name)
                text=SECRET_TEXT label="Signing secret" secret=s.secret.clone()/>
            <p class="-mt-4 mb-6 text-sm">
                <a href=format!("/webhooks/{}", s.id) class=LINK>"Open the webhook to send it a test message"</a>
            </p>
        })}
        {move || query.read().get("deleted").map(|_| view! { <div class="mb-4"><SuccessBanner message="Webhook deleted, with its delivery log."/></div> })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(v) => {
                    let disabled: Vec<WebhookView> = v.rows.iter()
                        .map(|r| r.webhook.clone())
                        .filter(|w| !w.enabled && w.disabled_reason.is_some())
                        .collect();
                    let empty = v.rows.is_empty();
                    view! {
                        {disabled.into_iter().map(|w| view! { <DisabledBanner webhook=w link=true/> }).collect_view()}
                        <Figures figures=v.totals.clone()/>
                        <section class=format!("{CARD} mb-6 p-6") aria-labelledby="chart-heading">
                            <h2 id="chart-heading" class="text-base font-semibold text-slate-900">{format!("Attempts over {}", v.chart.range)}</h2>
                            <DeliveryChart chart=v.chart.clone()/>
                        </section>
                        <div class="grid gap-6 lg:grid-cols-3">
                            <section class=format!("{CARD} overflow-hidden lg:col-span-2") aria-labelledby="webhooks-heading">
                                <h2 id="webhooks-heading" class="px-6 pt-5 text-base font-semibold text-slate-900">"Subscriptions"</h2>
                                {if empty {
                                    view! { <p class="px-6 py-8 text-sm text-slate-600">"No webhooks yet. Add the URL of a program that should hear about changes, and the event types it cares about."</p> }.into_any()
                                } else {
                                    view! { <WebhookTable rows=v.rows/> }.into_any()
                                }}
                            </section>
                            {can(crate::auth::perm::WEBHOOKS_CREATE).then(|| view! {
                                <section class=format!("{CARD} p-6") aria-labelledby="new-webhook-heading">
                                    <h2 id="new-webhook-heading" class="mb-3 text-base font-semibold text-slate-900">"New webhook"</h2>
                                    {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                                    <ActionForm action=create attr:class="space-y-4" attr:aria-label="New webhook">
                                        <TextField name="name" label="Name" required=true placeholder="CRM sync"
                                            value=form.value("name", String::new()) error=form.field_error("name")/>
                                        <TextField name="url" label="URL" required=true kind="url" placeholder="https://hooks.example.com/tenantry"
                                            value=form.value("url", String::new()) error=form.field_error("url")/>
                                        <TextField name="event_types" label="Event types" required=true
                                            help="Types or wildcards, separated by spaces or commas: identity.* memory.created, or * for all."
                                            value=form.value("event_types", "*".into()) error=form.field_error("event_types")/>
                                        <TextField name="description" label="Description"
                                            value=form.value("description", String::new()) error=form.field_error("description")/>
                                        <button type="submit" class=BTN_PRIMARY>"Create webhook"</button>
                                    </ActionForm>
                                </section>
                            })}
                        </div>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// The notice that the server disabled a webhook, and what to do about it.
#[component]
fn DisabledBanner(webhook: WebhookView, link: bool) -> impl IntoView {
    let href = format!("/webhooks/{}", webhook.id);
    view! {
        <div role="alert" class="mb-4 rounded-md border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-950" data-testid="disabled-banner">
            <p class="font-semibold">{format!("\u{201c}{}\u{201d} was disabled by Tenantry", webhook.name)}
                {webhook.disabled_at.clone().map(|t| format!(" on {t}"))}</p>
            <p class="mt-1">{webhook.disabled_reason.clone().unwrap_or_default()}
                " New events are not sent to it while it is disabled. Fix the endpoint, send it a test message, enable it, then retry its failed deliveries or replay the time it missed."</p>
            {link.then(|| view! { <p class="mt-2"><a href=href class=LINK>"Open the webhook"</a></p> })}
        </div>
    }
}

/// Attempts, success rate, latency and backlog, as four tiles.
#[component]
fn Figures(figures: FiguresView) -> impl IntoView {
    let tile = |label: &'static str, value: String, testid: &'static str| {
        view! {
            <div class=format!("{CARD} px-5 py-4") data-testid=testid>
                <dt class="text-xs font-medium uppercase tracking-wide text-slate-600">{label}</dt>
                <dd class="mt-1 text-2xl font-semibold text-slate-900">{value}</dd>
            </div>
        }
    };
    let dash = || "—".to_owned();
    let latency = match (&figures.p50, &figures.p95) {
        (Some(p50), Some(p95)) => format!("{p50} / {p95}"),
        _ => dash(),
    };
    view! {
        <dl class="mb-6 grid grid-cols-2 gap-4 lg:grid-cols-4">
            {tile("Attempts, 24 h", format!("{} ({} failed)", figures.attempts, figures.failed), "figure-attempts")}
            {tile("Success rate", figures.success_rate.clone().unwrap_or_else(dash), "figure-success")}
            {tile("Latency p50 / p95", latency, "figure-latency")}
            {tile("Waiting to be sent", figures.pending.to_string(), "figure-pending")}
        </dl>
    }
}

/// Succeeded and failed attempts per hour, as stacked bars.
#[component]
fn DeliveryChart(chart: ChartView) -> impl IntoView {
    use crate::components::chart::{Series, Stack, StackedBars};
    let succeeded: i64 = chart.bars.iter().map(|b| b.succeeded).sum();
    let failed: i64 = chart.bars.iter().map(|b| b.failed).sum();
    let summary = format!(
        "{succeeded} attempts succeeded and {failed} failed over {}",
        chart.range
    );
    let bars = chart
        .bars
        .into_iter()
        .map(|b| Stack {
            label: b.label,
            base: b.succeeded,
            top: b.failed,
        })
        .collect();
    view! {
        <StackedBars bars summary testid="delivery-chart"
            quiet="No attempts in this time: nothing was sent."
            base=Series { name: "succeeded", color: "bg-emerald-500", legend: format!("{succeeded} succeeded") }
            top=Series { name: "failed", color: "bg-red-500", legend: format!("{failed} failed") }/>
    }
}

#[component]
fn WebhookTable(rows: Vec<super::model::WebhookRow>) -> impl IntoView {
    view! {
        <div class="overflow-x-auto" tabindex="0" role="region" aria-label="Webhooks">
            <table class="mt-3 min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">"Webhooks, with their last day's figures"</caption>
                <thead class="bg-slate-50">
                    <tr>
                        <th scope="col" class=format!("{TH} pl-6")>"Webhook"</th>
                        <th scope="col" class=TH>"Events"</th>
                        <th scope="col" class=TH>"State"</th>
                        <th scope="col" class=TH>"Last 24 h"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|r| {
                        let w = r.webhook;
                        let f = r.figures;
                        view! {
                            <tr>
                                <td class="max-w-xs py-3 pl-6 pr-3 align-top">
                                    <a href=format!("/webhooks/{}", w.id) class=LINK>{w.name.clone()}</a>
                                    <div class="truncate font-mono text-xs text-slate-600" title=w.url.clone()>{w.url.clone()}</div>
                                </td>
                                <td class="px-4 py-3 align-top">
                                    <div class="flex flex-wrap gap-1">
                                        {w.event_types.iter().map(|t| view! { <Pill text=t.clone()/> }).collect_view()}
                                    </div>
                                </td>
                                <td class="px-4 py-3 align-top"><StatusBadge status=w.state()/></td>
                                <td class="whitespace-nowrap px-4 py-3 align-top text-slate-700">
                                    {match f.success_rate {
                                        Some(rate) => format!("{rate} of {} attempts", f.attempts),
                                        None => "no attempts".into(),
                                    }}
                                    {(f.pending > 0).then(|| view! { <div class="text-xs text-sky-800">{format!("{} waiting", f.pending)}</div> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn webhook_href(
    id: &str,
    status: Option<String>,
    cursor: Option<String>,
    delivery: Option<String>,
) -> String {
    format!(
        "/webhooks/{id}{}",
        query_string(&[
            ("status", status),
            ("cursor", cursor),
            ("delivery", delivery)
        ])
    )
}

#[component]
pub fn WebhookPage() -> impl IntoView {
    let id = id_param();
    let query = use_query_map();
    let status = Memo::new(move |_| query.read().get("status").filter(|s| !s.is_empty()));
    let cursor = Memo::new(move |_| query.read().get("cursor").filter(|s| !s.is_empty()));
    let open = Memo::new(move |_| query.read().get("delivery").filter(|s| !s.is_empty()));
    let ping = ServerAction::<PingWebhook>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let update = ServerAction::<UpdateWebhook>::new();
    let enable = ServerAction::<SetWebhookEnabled>::new();
    let retry = ServerAction::<RetryDelivery>::new();
    let replay = ServerAction::<ReplayWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let settings = FormState::new(
        "update_webhook",
        update.version().into(),
        update.value().into(),
    );
    let replay_form = FormState::new(
        "replay_webhook",
        replay.version().into(),
        replay.value().into(),
    );
    let actions = FormState::new(
        "webhook_actions",
        Signal::derive(move || {
            enable.version().get()
                + retry.version().get()
                + delete.version().get()
                + rotate.version().get()
        }),
        Signal::derive(move || {
            enable
                .value()
                .get()
                .or_else(|| retry.value().get())
                .or_else(|| delete.value().get())
                .or_else(|| rotate.value().get().map(|r| r.map(|_| ())))
        }),
    );
    let changed = Signal::derive(move || {
        ping.version().get()
            + rotate.version().get()
            + update.version().get()
            + enable.version().get()
            + retry.version().get()
            + replay.version().get()
    });
    let data = Resource::new(
        move || (id(), status.get(), cursor.get(), open.get(), changed.get()),
        |(id, status, cursor, delivery, _)| {
            get_webhook(
                id,
                DeliveryFilter {
                    status,
                    cursor,
                    delivery,
                },
            )
        },
    );
    let notice = move || {
        let q = query.read();
        if q.get("saved").is_some() {
            Some("Webhook saved.".to_owned())
        } else if q.get("enabled").is_some() {
            Some("Webhook enabled: its waiting deliveries are on their way.".to_owned())
        } else if q.get("disabled").is_some() {
            Some(
                "Webhook disabled: new events are not sent to it, and waiting deliveries pause."
                    .to_owned(),
            )
        } else if q.get("retried").is_some() {
            Some("Delivery queued for another attempt.".to_owned())
        } else {
            q.get("replayed").map(|n| format!("{n} deliveries queued."))
        }
    };
    let replayed = move || replay.value().get().and_then(Result::ok);
    view! {
        <Title text="Webhook · Tenantry"/>
        <div class="mb-6"><A href="/webhooks" attr:class=BACK>"← Webhooks"</A></div>
        {move || notice().map(|m| view! { <div class="mb-4"><SuccessBanner message=m/></div> })}
        {move || replayed().map(|n| view! { <div class="mb-4"><SuccessBanner message=format!("{n} deliveries queued again, with their original webhook-ids.")/></div> })}
        {move || query.read().get("created_without_js").map(|_| view! { <div class="mb-4"><ErrorBanner message="The secret can only be shown while the page's script runs. Rotate it to get a new one."/></div> })}
        {move || actions.banner().get().map(|m| view! { <div class="mb-4"><ErrorBanner message=m/></div> })}
        {move || rotate.value().get().and_then(Result::ok).map(|s| view! {
            <SecretReveal title="Copy the new signing secret now" text=match s.previous_until.clone() {
                    Some(until) => format!("{SECRET_TEXT} The previous secret also signs each message until {until}, so receivers can switch without missing one."),
                    None => format!("{SECRET_TEXT} The previous secret no longer signs."),
                }
                label="New signing secret" secret=s.secret.clone()/>
        })}
        {move || ping.value().get().map(|r| match r {
            Ok(p) if p.succeeded => view! { <div class="mb-4"><SuccessBanner message=format!("Test message delivered: {}.", p.summary)/></div> }.into_any(),
            Ok(p) => view! {
                <div class="mb-4"><ErrorBanner message=format!("Test message not accepted: {}.{}", p.summary,
                    p.response_snippet.map(|s| format!(" The endpoint answered: {s}")).unwrap_or_default())/></div>
            }.into_any(),
            Err(e) => view! { <div class="mb-4"><ErrorBanner message=e.banner()/></div> }.into_any(),
        })}
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! {
                    <NotFound what="Webhook" text="It may have been deleted, or the link is wrong." back="/webhooks" back_label="Back to webhooks"/>
                }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(v) => view! {
                    <WebhookDetail v ping retry update replay rotate enable delete status
                        settings replay_form/>
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
#[allow(clippy::too_many_arguments)]
fn WebhookDetail(
    v: super::model::WebhookDetailView,
    ping: ServerAction<PingWebhook>,
    retry: ServerAction<RetryDelivery>,
    update: ServerAction<UpdateWebhook>,
    replay: ServerAction<ReplayWebhook>,
    rotate: ServerAction<RotateWebhookSecret>,
    enable: ServerAction<SetWebhookEnabled>,
    delete: ServerAction<DeleteWebhook>,
    status: Memo<Option<String>>,
    settings: FormState,
    replay_form: FormState,
) -> impl IntoView {
    let w = v.webhook.clone();
    let server_disabled = !w.enabled && w.disabled_reason.is_some();
    let (state, ping_id) = (w.state(), w.id.clone());
    view! {
        <PageHeader title=w.name.clone() subtitle=w.url.clone()>
            <StatusBadge status=state/>
            {can(crate::auth::perm::WEBHOOKS_UPDATE).then(|| {
                let id = ping_id;
                view! {
                    <ActionForm action=ping>
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class=BTN_PRIMARY disabled=move || ping.pending().get()>
                            {move || if ping.pending().get() { "Sending…" } else { "Send test message" }}
                        </button>
                    </ActionForm>
                }
            })}
        </PageHeader>
        {server_disabled.then(|| view! { <DisabledBanner webhook=w.clone() link=false/> })}
        {w.previous_secret_until.clone().map(|until| view! {
            <p class="mb-4 text-sm text-slate-700">{format!("Secret rotation in progress: messages carry two signatures until {until}.")}</p>
        })}
        <Figures figures=v.figures.clone()/>
        <section class=format!("{CARD} mb-6 p-6") aria-labelledby="chart-heading">
            <h2 id="chart-heading" class="text-base font-semibold text-slate-900">{format!("Attempts over {}", v.chart.range)}</h2>
            <DeliveryChart chart=v.chart.clone()/>
        </section>
        {v.open.clone().map(|o| view! { <AttemptLog open=o webhook=w.id.clone() retry enabled=w.enabled/> })}
        <DeliveryLog detail=v.clone() status=status retry/>
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            {can(crate::auth::perm::WEBHOOKS_UPDATE).then(|| view! {
                <SettingsCard webhook=w.clone() update settings/>
                <ReplayCard id=w.id.clone() replay form=replay_form/>
            })}
            {can(crate::auth::perm::WEBHOOKS_MANAGE).then(|| view! { <SecretCard id=w.id.clone() rotate/> })}
            {(can(crate::auth::perm::WEBHOOKS_UPDATE) || can(crate::auth::perm::WEBHOOKS_DELETE)).then(|| view! { <StateCard webhook=w.clone() enable delete/> })}
        </div>
    }
}

#[component]
fn SettingsCard(
    webhook: WebhookView,
    update: ServerAction<UpdateWebhook>,
    settings: FormState,
) -> impl IntoView {
    let w = webhook;
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="settings-heading">
            <h2 id="settings-heading" class="mb-3 text-base font-semibold text-slate-900">"Settings"</h2>
            {move || settings.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
            <ActionForm action=update attr:class="space-y-4" attr:aria-label="Webhook settings">
                <input type="hidden" name="id" value=w.id.clone()/>
                <TextField name="name" label="Name" required=true
                    value=settings.value("name", w.name.clone()) error=settings.field_error("name")/>
                <TextField name="url" label="URL" required=true kind="url"
                    value=settings.value("url", w.url.clone()) error=settings.field_error("url")/>
                <TextField name="event_types" label="Event types" required=true
                    help="Types or wildcards, separated by spaces or commas."
                    value=settings.value("event_types", w.event_types.join(" ")) error=settings.field_error("event_types")/>
                <TextField name="description" label="Description"
                    value=settings.value("description", w.description.clone()) error=settings.field_error("description")/>
                <button type="submit" class=BTN_PRIMARY>"Save"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn ReplayCard(id: String, replay: ServerAction<ReplayWebhook>, form: FormState) -> impl IntoView {
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="replay-heading">
            <h2 id="replay-heading" class="text-base font-semibold text-slate-900">"Replay events"</h2>
            <p class="mb-3 mt-1 text-sm text-slate-600">"Send every stored event of a time range that this webhook subscribes to again, for instance after the endpoint lost data. Deliveries keep their webhook-id, so receivers can drop what they already have."</p>
            {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
            <ActionForm action=replay attr:class="space-y-4" attr:aria-label="Replay events">
                <input type="hidden" name="id" value=id/>
                <div class="grid gap-4 sm:grid-cols-2">
                    <TextField name="from" label="From (UTC)" kind="datetime-local" required=true
                        value=form.value("from", String::new()) error=form.field_error("from")/>
                    <TextField name="to" label="To (UTC)" kind="datetime-local" required=true
                        value=form.value("to", String::new()) error=form.field_error("to")/>
                </div>
                <button type="submit" class=BTN_SECONDARY>"Replay"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn SecretCard(id: String, rotate: ServerAction<RotateWebhookSecret>) -> impl IntoView {
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="secret-heading">
            <h2 id="secret-heading" class="text-base font-semibold text-slate-900">"Signing secret"</h2>
            <p class="mb-3 mt-1 text-sm text-slate-600">"Rotate the secret if it may have leaked, or on a schedule. During the overlap each message is signed with both secrets."</p>
            <ActionForm action=rotate attr:class="space-y-4" attr:aria-label="Rotate secret">
                <input type="hidden" name="id" value=id/>
                <SelectField name="overlap_hours" label="The old secret keeps signing for" options=OVERLAPS.to_vec() value=Signal::derive(|| "24".to_owned())/>
                <button type="submit" class=BTN_SECONDARY>"Rotate secret"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn StateCard(
    webhook: WebhookView,
    enable: ServerAction<SetWebhookEnabled>,
    delete: ServerAction<DeleteWebhook>,
) -> impl IntoView {
    let enabled = webhook.enabled;
    let id = webhook.id;
    view! {
        <section class=format!("{CARD} p-6") aria-labelledby="state-heading">
            <h2 id="state-heading" class="text-base font-semibold text-slate-900">"State"</h2>
            <p class="mb-3 mt-1 text-sm text-slate-600">{if enabled {
                "Disabling stops new deliveries; those waiting pause until it is enabled again."
            } else {
                "Enabling resumes the waiting deliveries; events that happened while it was disabled can be replayed."
            }}</p>
            <div class="flex flex-wrap gap-2">
                {can(crate::auth::perm::WEBHOOKS_UPDATE).then(|| {
                    let id = id.clone();
                    view! {
                        <ActionForm action=enable>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="enabled" value={if enabled { "false" } else { "true" }}/>
                            <button type="submit" class={if enabled { BTN_SECONDARY } else { BTN_PRIMARY }}>
                                {if enabled { "Disable webhook" } else { "Enable webhook" }}
                            </button>
                        </ActionForm>
                    }
                })}
                {can(crate::auth::perm::WEBHOOKS_DELETE).then(|| view! { <DeleteButton id=id.clone() delete/> })}
            </div>
        </section>
    }
}

/// Delete with a confirmation step in the address (`?confirm=delete`).
#[component]
fn DeleteButton(id: String, delete: ServerAction<DeleteWebhook>) -> impl IntoView {
    let query = use_query_map();
    let confirming = move || query.read().get("confirm").is_some_and(|c| c == "delete");
    let ask = format!("/webhooks/{id}?confirm=delete");
    let cancel = format!("/webhooks/{id}");
    move || {
        if confirming() {
            let id = id.clone();
            view! {
                <div class="flex flex-wrap items-center gap-2" role="group" aria-label="Confirm deletion">
                    <span class="text-sm text-slate-800">"Delete it with its delivery log?"</span>
                    <ActionForm action=delete>
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class=BTN_DANGER>"Delete for good"</button>
                    </ActionForm>
                    <A href=cancel.clone() attr:class=BTN_SECONDARY>"Keep it"</A>
                </div>
            }.into_any()
        } else {
            view! { <A href=ask.clone() attr:class=BTN_GHOST_DANGER>"Delete webhook"</A> }
                .into_any()
        }
    }
}
