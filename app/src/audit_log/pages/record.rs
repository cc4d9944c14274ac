//! One audit record: who did what, when, from where, and the change it made.

use super::*;

#[component]
pub fn AuditRecordPage() -> impl IntoView {
    let id = id_param();
    let data = Resource::new(id, get_audit_record);
    view! {
        <Title text="Audit record · Tenantry"/>
        <div class="mb-6"><A href="/audit" attr:class=BACK>"← Audit trail"</A></div>
        <Transition fallback=|| view! { <div class=format!("{CARD} p-6")><Loading/></div> }>
            {move || data.get().map(|result| match result {
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => view! {
                    <NotFound what="Audit record" text="The link may be wrong, or the record is older than this tenant keeps records." back="/audit" back_label="Back to the audit trail"/>
                }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.banner()/> }.into_any(),
                Ok(detail) => view! { <RecordDetail detail/> }.into_any(),
            })}
        </Transition>
    }
}

/// A label and its value in a details list.
#[component]
pub(super) fn Field(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="py-3 sm:grid sm:grid-cols-3 sm:gap-4">
            <dt class="text-sm font-medium text-slate-600">{label}</dt>
            <dd class="mt-1 break-all text-sm text-slate-900 sm:col-span-2 sm:mt-0">{children()}</dd>
        </div>
    }
}

#[component]
pub(super) fn RecordDetail(detail: AuditDetail) -> impl IntoView {
    let r = detail.record;
    let none = || view! { <span class="text-slate-600">"—"</span> };
    let actor_name = r.actor_name();
    let shown = actor_name.clone();
    let actor = match (r.actor_type.as_str(), r.actor_id.clone()) {
        ("identity", Some(id)) if r.actor_label.is_some() => view! {
            <A href=format!("/identities/{id}") attr:class=LINK>{shown}</A>
        }
        .into_any(),
        _ => view! { <span>{shown}</span> }.into_any(),
    };
    let actor_trail = r.actor_id.clone().map(|id| {
        let href = trail_href(&AuditFilter::default().with("actor", Some(id)), None);
        view! { <A href=href attr:class=format!("ml-2 text-xs {LINK}")>"Everything they did"</A> }
    });
    let target_history = r.target_id.clone().map(|id| {
        let f = AuditFilter::default()
            .with("target_type", Some(r.target_type.clone()))
            .with("target_id", Some(id));
        view! { <A href=trail_href(&f, None) attr:class=format!("ml-2 text-xs {LINK}")>"History"</A> }
    });
    let target_open = r.target_href().map(|href| {
        view! { <A href=href attr:class=format!("ml-2 text-xs {LINK}")>{format!("Open {}", r.target_type.replace('_', " "))}</A> }
    });
    let request = r.request_id.clone().map(|id| {
        let href = trail_href(
            &AuditFilter::default().with("request_id", Some(id.clone())),
            None,
        );
        view! {
            <span class="font-mono text-xs">{id}</span>
            <A href=href attr:class=format!("ml-2 text-xs {LINK}")>"Everything this request did"</A>
        }
    });
    let subtitle = format!("By {} · {} ({})", actor_name, r.occurred_at, r.occurred_ago);
    let record_id = r.id.clone();
    let hash = r.hash.clone();
    let short_hash = r.short_hash();
    view! {
        <Title text=format!("Record #{} · Audit trail · Tenantry", r.seq)/>
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{format!("Record #{}", thousands(r.seq))}</h1>
            <span class=action_class(&r.outcome)>{r.action.clone()}</span>
            <OutcomeBadge outcome=r.outcome.clone()/>
        </div>
        <p class="-mt-2 mb-6 text-sm text-slate-600">{subtitle}</p>
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2">
                <ChangesCard changes=detail.changes/>
            </div>
            <div class="space-y-6">
                <section class=format!("{CARD} p-6") aria-labelledby="record-heading">
                    <h2 id="record-heading" class="text-base font-semibold text-slate-900">"Details"</h2>
                    <dl class="mt-2 divide-y divide-slate-100">
                        <Field label="Action"><span class="font-mono text-xs">{r.action.clone()}</span></Field>
                        <Field label="Outcome">{r.outcome.clone()}</Field>
                        <Field label="Actor">{actor}{actor_trail}</Field>
                        <Field label="Target">
                            <span>{r.target_type.replace('_', " ")}</span>
                            {r.target_id.clone().map(|id| view! { <div class="font-mono text-xs">{id}</div> })}
                            {target_open}
                            {target_history}
                        </Field>
                        <Field label="Request id">{request.map(IntoAny::into_any).unwrap_or_else(|| none().into_any())}</Field>
                        <Field label="IP address">{r.ip.clone().map(|ip| view! { <span>{ip}</span> }.into_any()).unwrap_or_else(|| none().into_any())}</Field>
                        <Field label="User agent">{r.user_agent.clone().map(|ua| view! { <span>{ua}</span> }.into_any()).unwrap_or_else(|| none().into_any())}</Field>
                        <Field label="When"><time datetime=r.occurred_iso.clone()>{r.occurred_at.clone()}</time></Field>
                        <Field label="Record id"><span class="font-mono text-xs">{record_id}</span></Field>
                    </dl>
                </section>
                <section class=format!("{CARD} p-6") aria-labelledby="chain-heading">
                    <h2 id="chain-heading" class="text-base font-semibold text-slate-900">"Chain"</h2>
                    <p class="mt-1 text-sm text-slate-600">"A record's hash covers its content and the hash of the record before it, so no record can change or go missing unnoticed."</p>
                    <dl class="mt-2 divide-y divide-slate-100">
                        <Field label="Position">{format!("#{}", thousands(r.seq))}</Field>
                        <Field label="Hash">
                            <code class="font-mono text-xs" title=hash data-testid="record-hash">{short_hash}</code>
                        </Field>
                    </dl>
                    <A href="/audit?verify=1" attr:class=format!("mt-3 inline-block text-sm {LINK}")>"Verify the chain →"</A>
                </section>
            </div>
        </div>
    }
}

/// The record's before and after: a diff when it has both, else the one side it has.
#[component]
pub(super) fn ChangesCard(changes: Changes) -> impl IntoView {
    let card = |title: &'static str, text: String, body: AnyView| {
        view! {
            <section class=format!("{CARD} p-6") aria-labelledby="changes-heading">
                <h2 id="changes-heading" class="text-base font-semibold text-slate-900">{title}</h2>
                <p class="mt-1 text-sm text-slate-600">{text}</p>
                {body}
            </section>
        }
    };
    match changes {
        Changes::Diff(rows) => {
            let (changed, same): (Vec<DiffRow>, Vec<DiffRow>) =
                rows.into_iter().partition(|r| r.kind != DiffKind::Same);
            let text = if changed.is_empty() {
                "Nothing differs between before and after.".to_owned()
            } else {
                format!(
                    "{} changed; removed values in red, new values in green.",
                    count(changed.len() as i64, "field", "fields")
                )
            };
            let unchanged = (!same.is_empty()).then(|| {
                let summary = count(same.len() as i64, "unchanged field", "unchanged fields");
                let fields: Vec<(String, String)> = same
                    .into_iter()
                    .map(|r| (r.field, r.after.unwrap_or_default()))
                    .collect();
                view! {
                    <details class="mt-4">
                        <summary class=format!("cursor-pointer text-sm {LINK}")>{summary}</summary>
                        <FieldTable fields caption="Unchanged fields" testid="audit-unchanged"/>
                    </details>
                }
            });
            let body = view! {
                {(!changed.is_empty()).then(|| view! { <DiffTable rows=changed/> })}
                {unchanged}
            }
            .into_any();
            card("Before and after", text, body).into_any()
        }
        Changes::Details(fields) => card(
            "Recorded values",
            "What was recorded: the new object, or the details of a sign-in or a refusal.".to_owned(),
            view! { <FieldTable fields caption="Recorded details" testid="audit-details"/> }.into_any(),
        )
        .into_any(),
        Changes::Removed(fields) => card(
            "Before",
            "What it was before the change; nothing remains after it.".to_owned(),
            view! { <FieldTable fields caption="Values before the change" testid="audit-details"/> }.into_any(),
        )
        .into_any(),
        Changes::Nothing => card(
            "Changes",
            "This record holds no before or after.".to_owned(),
            ().into_any(),
        )
        .into_any(),
    }
}

/// Changed fields with their old value (red) and new value (green).
#[component]
pub(super) fn DiffTable(rows: Vec<DiffRow>) -> impl IntoView {
    let cell = "px-3 py-2 align-top";
    let missing = || view! { <span class="text-slate-600">"—"</span> }.into_any();
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="audit-diff">
                <caption class="sr-only">"Changed fields, before and after"</caption>
                <thead>
                    <tr>
                        <th scope="col" class="px-3 py-2 text-left font-semibold text-slate-700">"Field"</th>
                        <th scope="col" class="px-3 py-2 text-left font-semibold text-slate-700">"Before"</th>
                        <th scope="col" class="px-3 py-2 text-left font-semibold text-slate-700">"After"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|r| {
                        let (field, key) = (r.field.clone(), r.field);
                        let before = r.before.map(|v| view! {
                            <del class="block whitespace-pre-wrap break-words rounded bg-red-50 px-2 py-1 font-mono text-xs text-red-900 no-underline ring-1 ring-inset ring-red-200">{v}</del>
                        }.into_any()).unwrap_or_else(missing);
                        let after = r.after.map(|v| view! {
                            <ins class="block whitespace-pre-wrap break-words rounded bg-emerald-50 px-2 py-1 font-mono text-xs text-emerald-900 no-underline ring-1 ring-inset ring-emerald-200">{v}</ins>
                        }.into_any()).unwrap_or_else(missing);
                        view! {
                            <tr data-field=key>
                                <th scope="row" class="px-3 py-2 text-left align-top">
                                    <span class="font-mono text-xs font-medium text-slate-900">{field}</span>
                                    <span class="block text-xs font-normal text-slate-600">{r.kind.label()}</span>
                                </th>
                                <td class=cell>{before}</td>
                                <td class=cell>{after}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Fields and their values, for records with only one side.
#[component]
pub(super) fn FieldTable(
    fields: Vec<(String, String)>,
    caption: &'static str,
    testid: &'static str,
) -> impl IntoView {
    if fields.is_empty() {
        return view! { <p class="mt-4 text-sm text-slate-600">"No fields."</p> }.into_any();
    }
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-100 text-sm" data-testid=testid>
                <caption class="sr-only">{caption}</caption>
                <tbody class="divide-y divide-slate-100">
                    {fields.into_iter().map(|(field, value)| {
                        let key = field.clone();
                        view! {
                        <tr data-field=key>
                            <th scope="row" class="w-1/3 px-3 py-2 text-left align-top font-mono text-xs font-medium text-slate-700">{field}</th>
                            <td class="px-3 py-2 align-top">
                                <span class="block whitespace-pre-wrap break-words font-mono text-xs text-slate-900">{value}</span>
                            </td>
                        </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
