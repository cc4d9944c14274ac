//! The Limits screen.

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::my_limits;
use super::model::{HourView, LimitsView, QuotaView};
use crate::components::ui::{CARD, ErrorBanner, LINK, Loading, PageHeader, TH};

#[component]
pub fn LimitsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| my_limits());
    view! {
        <Title text="Limits · Tenantry"/>
        <PageHeader title="Limits" subtitle="What your plan allows: how many of each thing the tenant may hold, and how fast it may call. The operator of this Tenantry sets them; ask them to change your plan."/>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(v) => view! { <LimitsBody v/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn LimitsBody(v: LimitsView) -> AnyView {
    let LimitsView {
        plan,
        enforced,
        rates,
        quotas,
        hours,
    } = v;
    view! {
        <p class="mb-4 text-sm text-slate-700">
            "Plan: " <span class="font-semibold text-slate-900" data-testid="plan">{plan}</span>
        </p>
        {(!enforced).then(|| view! {
            <p class="mb-4 rounded-md bg-amber-50 px-4 py-3 text-sm text-amber-900 ring-1 ring-amber-200">
                "Rate limits are switched off on this deployment: the rates below are not applied. Quotas are."
            </p>
        })}
        <div class="grid gap-6 lg:grid-cols-2">
            <section class=format!("{CARD} p-6") aria-labelledby="quotas-heading">
                <h2 id="quotas-heading" class="text-base font-semibold text-slate-900">"What the tenant holds"</h2>
                <p class="mt-1 text-sm text-slate-600">"Creating past a limit is refused until something is deleted."</p>
                <ul class="mt-4 space-y-4">
                    {quotas.into_iter().map(|q| view! { <QuotaBar q/> }).collect_view()}
                </ul>
            </section>
            <section class=format!("{CARD} p-6") aria-labelledby="rates-heading">
                <h2 id="rates-heading" class="text-base font-semibold text-slate-900">"How fast it may call"</h2>
                <p class="mt-1 text-sm text-slate-600">"A request is served when every limit it falls under has room; otherwise it gets 429 and when to try again."</p>
                <dl class="mt-4 divide-y divide-slate-100">
                    {rates.into_iter().map(|r| view! {
                        <div class="py-3">
                            <dt class="text-sm font-medium text-slate-900">{r.name}</dt>
                            <dd class="text-sm text-slate-700">{r.limit}</dd>
                            <dd class="text-xs text-slate-600">{r.what}</dd>
                        </div>
                    }).collect_view()}
                </dl>
            </section>
        </div>
        <section class=format!("{CARD} mt-6 p-6") aria-labelledby="requests-heading">
            <h2 id="requests-heading" class="text-base font-semibold text-slate-900">"Requests over the last 24 hours"</h2>
            <RequestChart hours/>
        </section>
    }
    .into_any()
}

#[component]
fn QuotaBar(q: QuotaView) -> AnyView {
    let percent = q.percent();
    let color = if q.limit.is_none() {
        "bg-slate-300"
    } else if percent >= 90.0 {
        "bg-red-600"
    } else if percent >= 75.0 {
        "bg-amber-500"
    } else {
        "bg-indigo-600"
    };
    let figure = q.figure();
    let label = format!("{}: {figure}", q.label);
    view! {
        <li>
            <div class="flex items-baseline justify-between text-sm">
                <a href=q.href class=LINK>{q.label.clone()}</a>
                <span class="text-slate-700" data-testid=format!("quota-{}", q.label)>{figure}</span>
            </div>
            <div class="mt-1 h-2 w-full overflow-hidden rounded-full bg-slate-100"
                role="progressbar" aria-label=label aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=format!("{percent:.0}")>
                <div class=format!("h-2 rounded-full {color}") style=format!("width: {percent:.1}%")></div>
            </div>
        </li>
    }
    .into_any()
}

/// Served and refused requests per hour, as stacked bars, with the same figures as a table.
#[component]
fn RequestChart(hours: Vec<HourView>) -> AnyView {
    use crate::components::chart::{Series, Stack, StackedBars};
    let served: i64 = hours.iter().map(|h| h.served).sum();
    let refused: i64 = hours.iter().map(|h| h.refused).sum();
    let summary = format!(
        "{} requests served and {} refused by a rate limit over the last 24 hours",
        crate::format::count(served),
        crate::format::count(refused)
    );
    let bars = hours
        .iter()
        .map(|h| Stack {
            label: format!("{} UTC", h.label),
            base: h.served,
            top: h.refused,
        })
        .collect();
    view! {
        <StackedBars bars summary=summary.clone() testid="requests-chart" top_testid="refused-total"
            quiet="No API requests in this time."
            base=Series { name: "served", color: "bg-indigo-500", legend: format!("{} served", crate::format::count(served)) }
            top=Series { name: "refused", color: "bg-red-500", legend: format!("{} refused (429)", crate::format::count(refused)) }/>
        <HourTable rows=hours summary/>
    }
    .into_any()
}

/// The chart's figures as a table, newest hour first.
#[component]
fn HourTable(rows: Vec<HourView>, summary: String) -> AnyView {
    view! {
            <details class="mt-3 text-sm">
                <summary class="cursor-pointer text-slate-700">"The figures as a table"</summary>
                <div class="mt-2 max-h-64 overflow-y-auto" tabindex="0" role="region" aria-label="Requests per hour">
                    <table class="min-w-full divide-y divide-slate-200 text-sm">
                        <caption class="sr-only">{summary}</caption>
                        <thead class="bg-slate-50">
                            <tr>
                                <th scope="col" class=TH>"Hour (UTC)"</th>
                                <th scope="col" class=TH>"Served"</th>
                                <th scope="col" class=TH>"Refused"</th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {rows.into_iter().rev().map(|h| view! {
                                <tr>
                                    <td class="px-4 py-1.5 text-slate-700">{h.label}</td>
                                    <td class="px-4 py-1.5 text-slate-700">{crate::format::count(h.served)}</td>
                                    <td class="px-4 py-1.5 text-slate-700">{crate::format::count(h.refused)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
    }
    .into_any()
}
