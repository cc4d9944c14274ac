//! Small presentational pieces: buttons, badges, banners, headers, empty states.

use leptos::prelude::*;

pub const BTN_PRIMARY: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:opacity-60";
pub const BTN_SECONDARY: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-white px-4 py-2 text-sm font-semibold text-slate-800 shadow-sm ring-1 ring-inset ring-slate-300 hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600";
pub const BTN_DANGER: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-red-700 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-red-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-700 disabled:opacity-60";
pub const BTN_GHOST_DANGER: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-white px-4 py-2 text-sm font-semibold text-red-700 shadow-sm ring-1 ring-inset ring-red-300 hover:bg-red-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-700";
pub const CARD: &str = "rounded-lg bg-white shadow-sm ring-1 ring-slate-200";
pub const LINK: &str =
    "font-medium text-indigo-700 hover:text-indigo-900 underline-offset-2 hover:underline";

/// A coloured pill for an identity's status.
#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let class = match status.as_str() {
        "active" | "accepted" | "sent" | "delivered" => {
            "bg-emerald-50 text-emerald-800 ring-emerald-600/30"
        }
        "pending" | "queued" | "logged" | "retrying" => "bg-sky-50 text-sky-800 ring-sky-600/30",
        "disabled" | "expired" | "paused" => "bg-amber-50 text-amber-900 ring-amber-600/30",
        "revoked" | "failed" | "failing" => "bg-red-50 text-red-800 ring-red-600/30",
        _ => "bg-slate-100 text-slate-700 ring-slate-500/30",
    };
    let dot = match status.as_str() {
        "active" | "accepted" | "sent" | "delivered" => "bg-emerald-500",
        "pending" | "queued" | "logged" | "retrying" => "bg-sky-500",
        "disabled" | "expired" | "paused" => "bg-amber-500",
        "revoked" | "failed" | "failing" => "bg-red-500",
        _ => "bg-slate-400",
    };
    view! {
        <span class=format!("inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {class}")>
            <span class=format!("h-1.5 w-1.5 rounded-full {dot}") aria-hidden="true"></span>
            {status}
        </span>
    }
}

/// A neutral pill for a role, kind or plan.
#[component]
pub fn Pill(#[prop(into)] text: String) -> impl IntoView {
    view! {
        <span class="inline-flex items-center rounded-md bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-700 ring-1 ring-inset ring-slate-300">
            {text}
        </span>
    }
}

#[component]
pub fn ErrorBanner(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <div role="alert" class="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800">
            {message}
        </div>
    }
}

#[component]
pub fn SuccessBanner(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <div role="status" class="rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-800">
            {message}
        </div>
    }
}

/// The title row of a page, with optional actions on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(into, optional)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="mb-6 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
                {subtitle.map(|s| view! { <p class="mt-1 text-sm text-slate-600">{s}</p> })}
            </div>
            <div class="flex items-center gap-2">{children.map(|c| c())}</div>
        </div>
    }
}

/// A skeleton shown while a page's data loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="space-y-3" aria-busy="true" aria-live="polite">
            <span class="sr-only">"Loading…"</span>
            <div class="h-4 w-1/3 animate-pulse rounded bg-slate-200"></div>
            <div class="h-4 w-2/3 animate-pulse rounded bg-slate-200"></div>
            <div class="h-4 w-1/2 animate-pulse rounded bg-slate-200"></div>
        </div>
    }
}

/// The class of a list's column header.
pub const TH: &str = "px-4 py-3 text-left font-semibold text-slate-700";

/// A list as a table in a card: a caption for screen readers, one header a column (an empty
/// name is the actions column, named for screen readers only) and the rows as children.
#[component]
pub fn DataTable(
    #[prop(into)] caption: String,
    columns: &'static [&'static str],
    #[prop(optional)] testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    let header = |name: &'static str| {
        if name.is_empty() {
            view! { <th scope="col" class=TH><span class="sr-only">"Actions"</span></th> }
                .into_any()
        } else {
            view! { <th scope="col" class=TH>{name}</th> }.into_any()
        }
    };
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid=testid>
                <caption class="sr-only">{caption}</caption>
                <thead class="bg-slate-50">
                    <tr>{columns.iter().map(|c| header(c)).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100 bg-white">{children()}</tbody>
            </table>
        </div>
    }
}

/// A card saying a list has nothing to show, and what to do about it.
#[component]
pub fn EmptyState(
    #[prop(into)] title: String,
    #[prop(into, optional)] text: Option<String>,
) -> impl IntoView {
    view! {
        <div class=format!("{CARD} px-6 py-12 text-center")>
            <h2 class="text-base font-semibold text-slate-900">{title}</h2>
            {text.map(|t| view! { <p class="mt-1 text-sm text-slate-600">{t}</p> })}
        </div>
    }
}

/// The page shown for an object that does not exist (or belongs to another tenant):
/// `what` is its kind ("Memory"), `back` the list to return to and `back_label` its name.
#[component]
pub fn NotFound(
    what: &'static str,
    #[prop(into, optional)] text: Option<String>,
    back: &'static str,
    back_label: &'static str,
) -> impl IntoView {
    use leptos_meta::Title;
    view! {
        <Title text=format!("{what} not found · Tenantry")/>
        <div class=format!("{CARD} px-6 py-12 text-center")>
            <h1 class="text-lg font-semibold text-slate-900">{format!("{what} not found")}</h1>
            {text.map(|t| view! { <p class="mt-1 text-sm text-slate-600">{t}</p> })}
            <leptos_router::components::A href=back attr:class=format!("mt-4 {BTN_SECONDARY}")>{back_label}</leptos_router::components::A>
        </div>
    }
}

/// A secret shown the one time it leaves the server (an API key, a webhook's signing
/// secret), with a copy button and the warning that matters.
#[component]
pub fn SecretReveal(
    #[prop(into)] title: String,
    #[prop(into)] text: String,
    /// The field's accessible name ("New API key").
    #[prop(into)]
    label: String,
    #[prop(into)] secret: String,
) -> impl IntoView {
    let copy = secret.clone();
    view! {
        <section role="status" aria-labelledby="reveal-heading" class="mb-6 rounded-lg border border-amber-300 bg-amber-50 p-5">
            <h2 id="reveal-heading" class="text-base font-semibold text-amber-950">{title}</h2>
            <p class="mt-1 text-sm text-amber-900">{text}</p>
            <div class="mt-3 flex flex-wrap items-center gap-2">
                <label for="revealed-secret" class="sr-only">{label}</label>
                <input id="revealed-secret" readonly value=secret
                    class="min-w-0 flex-1 rounded-md border-0 bg-white px-3 py-2 font-mono text-sm text-slate-900 ring-1 ring-inset ring-amber-300"/>
                <CopyButton text=copy/>
            </div>
        </section>
    }
}

/// A "Copy" button that puts `text` on the clipboard. Its handler runs in the hydrated
/// page (the Content-Security-Policy allows no inline script), so the field beside it
/// stays selectable to copy by hand without JavaScript.
#[component]
pub fn CopyButton(#[prop(into)] text: String) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    view! {
        <button type="button" class=BTN_SECONDARY on:click=move |_| {
            copy_to_clipboard(&text);
            set_copied.set(true);
        }>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    use wasm_bindgen::JsCast;
    let call = || -> Option<()> {
        let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
        let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok()?;
        let write = js_sys::Reflect::get(&clipboard, &"writeText".into())
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?;
        write.call1(&clipboard, &text.into()).ok().map(|_| ())
    };
    let _ = call();
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}

/// A click handler for a submit button that asks `question` first (the browser's confirm
/// dialog) and cancels the submission unless the person agrees.
pub fn confirm_first(question: &'static str) -> impl FnMut(leptos::ev::MouseEvent) + 'static {
    move |ev: leptos::ev::MouseEvent| {
        if !window().confirm_with_message(question).unwrap_or(false) {
            ev.prevent_default();
        }
    }
}
