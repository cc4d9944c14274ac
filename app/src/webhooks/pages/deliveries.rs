//! A webhook's delivery log and one delivery's attempts, with retry.

use super::*;

#[component]
pub(super) fn DeliveryLog(
    detail: crate::webhooks::model::WebhookDetailView,
    status: Memo<Option<String>>,
    retry: ServerAction<RetryDelivery>,
) -> impl IntoView {
    let wid = detail.webhook.id.clone();
    let enabled = detail.webhook.enabled;
    let may_retry = can(crate::auth::perm::WEBHOOKS_UPDATE);
    let filters = {
        let wid = wid.clone();
        move || {
            let current = status.get().unwrap_or_default();
            STATUS_FILTERS.iter().map(|(value, label)| {
                let active = current == *value;
                let href = webhook_href(&wid, Some((*value).to_owned()).filter(|v| !v.is_empty()), None, None);
                let class = if active {
                    "rounded-md bg-indigo-50 px-3 py-1.5 text-sm font-semibold text-indigo-800 ring-1 ring-inset ring-indigo-200"
                } else {
                    "rounded-md px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-100"
                };
                view! { <A href=href attr:class=class attr:aria-current=active.then_some("page")>{*label}</A> }
            }).collect_view()
        }
    };
    let next = detail
        .next_cursor
        .clone()
        .map(|c| webhook_href(&wid, status.get_untracked(), Some(c), None));
    let empty = detail.deliveries.is_empty();
    view! {
        <section class=format!("{CARD} overflow-hidden") aria-labelledby="deliveries-heading">
            <div class="flex flex-wrap items-center justify-between gap-3 px-6 pt-5">
                <h2 id="deliveries-heading" class="text-base font-semibold text-slate-900">"Deliveries"</h2>
                <nav class="flex flex-wrap gap-1" aria-label="Filter deliveries">{filters}</nav>
            </div>
            {if empty {
                view! { <p class="px-6 py-8 text-sm text-slate-600">"No deliveries here yet. Each event the webhook subscribes to makes one; a test message makes one too."</p> }.into_any()
            } else {
                view! {
                    <div class="overflow-x-auto" tabindex="0" role="region" aria-label="Deliveries">
                        <table class="mt-3 min-w-full divide-y divide-slate-200 text-sm" data-testid="deliveries">
                            <caption class="sr-only">"Deliveries, newest first"</caption>
                            <thead class="bg-slate-50">
                                <tr>
                                    <th scope="col" class=format!("{TH} pl-6")>"Event"</th>
                                    <th scope="col" class=TH>"Status"</th>
                                    <th scope="col" class=TH>"Attempts"</th>
                                    <th scope="col" class=TH>"Last outcome"</th>
                                    <th scope="col" class=TH>"Event time"</th>
                                    <th scope="col" class=format!("{TH} pr-6")><span class="sr-only">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100">
                                {detail.deliveries.into_iter().map(|d| delivery_row(d, &wid, enabled && may_retry, retry)).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {next.map(|href| view! { <div class="px-6 py-3 text-right"><A href=href attr:class=LINK>"Older deliveries →"</A></div> })}
        </section>
    }
}

pub(super) fn delivery_row(
    d: DeliveryView,
    wid: &str,
    may_retry: bool,
    retry: ServerAction<RetryDelivery>,
) -> impl IntoView + use<> {
    let open = webhook_href(wid, None, None, Some(d.id.clone()));
    let retryable = may_retry && matches!(d.status.as_str(), "failed" | "succeeded");
    let again = d.status == "succeeded";
    let label = format!(
        "{} delivery {}",
        if again { "Send again" } else { "Retry" },
        short_id(&d.id)
    );
    let status = match d.status.as_str() {
        "succeeded" => "delivered",
        "pending" if d.attempts > 0 => "retrying",
        other => other,
    }
    .to_owned();
    view! {
        <tr>
            <td class="py-3 pl-6 pr-3 align-top">
                <div class="font-medium text-slate-900">{d.event_type.clone()}</div>
                <div class="whitespace-nowrap font-mono text-xs text-slate-600" title=d.id.clone()>{format!("webhook-id …{}", short_id(&d.id))}</div>
            </td>
            <td class="px-4 py-3 align-top">
                <StatusBadge status=status/>
                {d.next_attempt.clone().map(|t| view! { <div class="mt-1 text-xs text-slate-600">{format!("next {t}")}</div> })}
            </td>
            <td class="px-4 py-3 align-top text-slate-700">{d.attempts}</td>
            <td class="max-w-xs px-4 py-3 align-top text-slate-700"><span class="line-clamp-2">{d.outcome.clone().unwrap_or_else(|| "—".into())}</span></td>
            <td class="whitespace-nowrap px-4 py-3 align-top text-slate-700">{d.event_at.clone()}</td>
            <td class="whitespace-nowrap py-3 pl-3 pr-6 text-right align-top">
                <div class="flex justify-end gap-2">
                    <A href=open attr:class=BTN_SECONDARY>"Attempts"</A>
                    {retryable.then(|| view! {
                        <ActionForm action=retry>
                            <input type="hidden" name="id" value=d.id.clone()/>
                            <button type="submit" class=BTN_SECONDARY aria-label=label>{if again { "Send again" } else { "Retry" }}</button>
                        </ActionForm>
                    })}
                </div>
            </td>
        </tr>
    }
}

/// The attempts of one delivery, opened from the log.
#[component]
pub(super) fn AttemptLog(
    open: OpenDelivery,
    webhook: String,
    retry: ServerAction<RetryDelivery>,
    enabled: bool,
) -> impl IntoView {
    let d = open.delivery;
    let close = webhook_href(&webhook, None, None, None);
    let retryable = enabled
        && can(crate::auth::perm::WEBHOOKS_UPDATE)
        && matches!(d.status.as_str(), "failed" | "succeeded");
    view! {
        <section class=format!("{CARD} mb-6 p-6") aria-labelledby="attempts-heading" data-testid="attempt-log">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <h2 id="attempts-heading" class="text-base font-semibold text-slate-900">{format!("Attempts of {}", d.event_type)}</h2>
                    <p class="mt-1 font-mono text-xs text-slate-600">{format!("webhook-id {} · event {}", d.id, d.event_id)}</p>
                </div>
                <div class="flex gap-2">
                    {retryable.then(|| view! {
                        <ActionForm action=retry>
                            <input type="hidden" name="id" value=d.id.clone()/>
                            <button type="submit" class=BTN_PRIMARY>{if d.status == "succeeded" { "Send again" } else { "Retry now" }}</button>
                        </ActionForm>
                    })}
                    <A href=close attr:class=BTN_SECONDARY>"Close"</A>
                </div>
            </div>
            {if open.attempts.is_empty() {
                view! { <p class="mt-3 text-sm text-slate-600">"No attempt yet: it is waiting for the delivery worker."</p> }.into_any()
            } else {
                view! {
                    <ol class="mt-4 space-y-3">
                        {open.attempts.into_iter().map(|a| {
                            let outcome = match (a.status_code, &a.error) {
                                (Some(code), _) => format!("HTTP {code}"),
                                (None, Some(e)) => e.clone(),
                                (None, None) => "no answer".into(),
                            };
                            let border = if a.succeeded { "border-emerald-300" } else { "border-red-300" };
                            view! {
                                <li class=format!("rounded-md border-l-4 {border} bg-slate-50 px-4 py-3 text-sm")>
                                    <div class="flex flex-wrap items-center justify-between gap-2">
                                        <span class="font-medium text-slate-900">{format!("Attempt {} · {outcome}", a.attempt)}</span>
                                        <span class="text-xs text-slate-600">{format!("{} · {} ms", a.at, a.latency_ms)}</span>
                                    </div>
                                    {a.response_snippet.map(|s| view! {
                                        <pre class="mt-2 max-h-32 overflow-auto whitespace-pre-wrap break-all rounded bg-white p-2 font-mono text-xs text-slate-800 ring-1 ring-slate-200">{s}</pre>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}
