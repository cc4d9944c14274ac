//! Form fields with inline errors, and the glue that makes forms work with and without
//! JavaScript: with it, errors come from the action's value; without it, the server keeps
//! them in the session for one page view (a "flash") and the page shows them after the
//! browser is sent back.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormFlash {
    pub form: String,
    pub error: AppError,
    pub values: BTreeMap<String, String>,
}

/// The failed plain-form submission kept for this page view, provided as context by the
/// page frame (which loads it together with the signed-in user). Cleared when the browser
/// navigates on, so an old flash never shows on a later visit.
#[derive(Clone, Copy)]
pub struct PageFlash(pub RwSignal<Option<FormFlash>>);

pub fn provide_flash(flash: Option<FormFlash>) {
    let signal = RwSignal::new(flash);
    provide_context(PageFlash(signal));
    let location = leptos_router::hooks::use_location();
    let first = location.pathname.get_untracked();
    Effect::new(move |_| {
        if location.pathname.get() != first {
            signal.set(None);
        }
    });
}

/// Counts the actions that finished without error, for data that must reload after a
/// successful save but not while a failed form still holds what the admin typed.
pub fn successes<T, E>(value: Signal<Option<Result<T, E>>>) -> Signal<usize>
where
    T: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    let count = RwSignal::new(0usize);
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            count.update(|n| *n += 1);
        }
    });
    count.into()
}

/// The error and the submitted values a form shows: the latest action result when
/// JavaScript dispatched it, or the flash of a plain form post. An error that arrives in
/// the URL (server_fn's `__err` for plain forms) is ignored: anyone can write a URL, so
/// only the session's flash is trusted to say what went wrong.
#[derive(Clone, Copy)]
pub struct FormState {
    pub error: Signal<Option<AppError>>,
    values: Signal<BTreeMap<String, String>>,
}

impl FormState {
    /// `dispatched` counts the submissions made in the browser (an action's `version`).
    pub fn new<T: Clone + Send + Sync + 'static>(
        form: &'static str,
        dispatched: Signal<usize>,
        result: Signal<Option<Result<T, AppError>>>,
    ) -> FormState {
        let flash = use_context::<PageFlash>().map(|p| p.0);
        let flash_for = move || flash.and_then(|f| f.get()).filter(|f| f.form == form);
        let error = Signal::derive(move || {
            if dispatched.get() > 0 {
                result.get().and_then(Result::err)
            } else {
                flash_for().map(|f| f.error)
            }
        });
        let values = Signal::derive(move || flash_for().map(|f| f.values).unwrap_or_default());
        FormState { error, values }
    }

    pub fn field_error(&self, field: &'static str) -> Signal<Option<String>> {
        let error = self.error;
        Signal::derive(move || error.get().and_then(|e| e.field(field)))
    }

    /// The value to show in a field: what was submitted, else `initial`.
    pub fn value(&self, field: &'static str, initial: String) -> Signal<String> {
        let values = self.values;
        Signal::derive(move || {
            values
                .get()
                .get(field)
                .cloned()
                .unwrap_or_else(|| initial.clone())
        })
    }

    /// The error message not tied to a field, for the banner above the form.
    pub fn banner(&self) -> Signal<Option<String>> {
        let error = self.error;
        Signal::derive(move || {
            error
                .get()
                .filter(|e| e.fields.is_empty())
                .map(|e| e.banner())
        })
    }
}

const INPUT: &str = "block w-full rounded-md border-0 px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600";

fn input_class(invalid: bool) -> String {
    let ring = if invalid {
        "ring-red-400"
    } else {
        "ring-slate-300"
    };
    format!("{INPUT} {ring}")
}

#[component]
pub fn TextField(
    #[prop(into)] name: &'static str,
    #[prop(into)] label: String,
    #[prop(into, optional)] value: Signal<String>,
    #[prop(into, optional)] error: Signal<Option<String>>,
    #[prop(into, optional)] help: Option<String>,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(into, optional)] placeholder: Option<String>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let help_id = format!("{id}-help");
    let err_id = format!("{id}-error");
    let described = {
        let (help_id, err_id) = (help_id.clone(), err_id.clone());
        let has_help = help.is_some();
        move || {
            let mut ids = vec![];
            if has_help {
                ids.push(help_id.clone());
            }
            if error.get().is_some() {
                ids.push(err_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-800">
                {label}
                {required.then(|| view! { <span class="text-red-700" aria-hidden="true">" *"</span> })}
            </label>
            <div class="mt-1">
                <input
                    id=id
                    name=name
                    type=kind.unwrap_or("text")
                    prop:value=move || value.get()
                    value=move || value.get()
                    required=required
                    autocomplete=autocomplete
                    placeholder=placeholder
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=described
                    class=move || input_class(error.get().is_some())
                />
            </div>
            {help.map(|h| view! { <p id=help_id class="mt-1 text-xs text-slate-600">{h}</p> })}
            <FieldMessage id=err_id error=error/>
        </div>
    }
}

#[component]
pub fn SelectField(
    #[prop(into)] name: &'static str,
    #[prop(into)] label: String,
    options: Vec<(&'static str, &'static str)>,
    #[prop(into)] value: Signal<String>,
    #[prop(into, optional)] error: Signal<Option<String>>,
    #[prop(into, optional)] help: Option<String>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    let help_id = format!("{id}-help");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-800">{label}</label>
            <select
                id=id
                name=name
                aria-describedby=help.as_ref().map(|_| help_id.clone())
                class=move || format!("mt-1 {}", input_class(error.get().is_some()))
            >
                {options
                    .into_iter()
                    .map(|(v, text)| {
                        view! {
                            <option value=v selected=move || value.get() == v>
                                {text}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            {help.map(|h| view! { <p id=help_id class="mt-1 text-xs text-slate-600">{h}</p> })}
            <FieldMessage id=err_id error=error/>
        </div>
    }
}

#[component]
pub fn TextArea(
    #[prop(into)] name: &'static str,
    #[prop(into)] label: String,
    #[prop(into)] value: Signal<String>,
    #[prop(into, optional)] error: Signal<Option<String>>,
    #[prop(into, optional)] help: Option<String>,
    #[prop(optional)] rows: Option<u32>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    let help_id = format!("{id}-help");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-800">{label}</label>
            <textarea
                id=id
                name=name
                rows=rows.unwrap_or(4)
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=help.as_ref().map(|_| help_id.clone())
                prop:value=move || value.get()
                class=move || format!("mt-1 font-mono {}", input_class(error.get().is_some()))
            >
                {move || value.get()}
            </textarea>
            {help.map(|h| view! { <p id=help_id class="mt-1 text-xs text-slate-600">{h}</p> })}
            <FieldMessage id=err_id error=error/>
        </div>
    }
}

/// A text field for an identity's id, offering the tenant's identities as choices (a
/// datalist): pick one by name or email, or paste an id. Submits as `name`.
#[component]
pub fn IdentityPicker(
    name: &'static str,
    #[prop(into)] label: String,
    #[prop(into)] value: Signal<String>,
    #[prop(into)] help: String,
    #[prop(into, optional)] error: Signal<Option<String>>,
    #[prop(into, optional)] placeholder: Option<String>,
) -> impl IntoView {
    let choices = Resource::new(|| (), |_| crate::identities::api::identity_choices());
    let id = format!("field-{name}");
    let list = format!("{name}-choices");
    let help_id = format!("{id}-help");
    let err_id = format!("{id}-error");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-800">{label}</label>
            <input
                id=id
                name=name
                type="text"
                list=list.clone()
                autocomplete="off"
                placeholder=placeholder
                aria-describedby=help_id.clone()
                aria-invalid=move || error.get().is_some().then_some("true")
                prop:value=move || value.get()
                value=move || value.get()
                class=move || format!("mt-1 {}", input_class(error.get().is_some()))
            />
            <Transition fallback=|| ()>
                {move || choices.get().map(|r| view! {
                    <datalist id=list.clone()>
                        {r.unwrap_or_default()
                            .into_iter()
                            .map(|c| view! { <option value=c.id>{c.label}</option> })
                            .collect_view()}
                    </datalist>
                })}
            </Transition>
            <p id=help_id class="mt-1 text-xs text-slate-600">{help}</p>
            <FieldMessage id=err_id error=error/>
        </div>
    }
}

#[component]
fn FieldMessage(id: String, error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|msg| {
            view! { <p id=id.clone() class="mt-1 text-sm text-red-700">{msg}</p> }
        })
    }
}
