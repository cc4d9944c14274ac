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

/// What every field widget shares, so that none drifts from the others: the control's id,
/// the ids that describe it (its help, then its error while there is one, for
/// `aria-describedby`) and whether it is invalid (`aria-invalid`).
#[derive(Clone)]
struct Frame {
    id: String,
    help_id: Option<String>,
    err_id: String,
    error: Signal<Option<String>>,
}

impl Frame {
    fn new(name: &str, has_help: bool, error: Signal<Option<String>>) -> Frame {
        let id = format!("field-{name}");
        Frame {
            help_id: has_help.then(|| format!("{id}-help")),
            err_id: format!("{id}-error"),
            id,
            error,
        }
    }

    fn described_by(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static + use<> {
        let (help_id, err_id, error) = (self.help_id.clone(), self.err_id.clone(), self.error);
        move || {
            let ids: Vec<&str> = help_id
                .iter()
                .map(String::as_str)
                .chain(error.get().is_some().then_some(err_id.as_str()))
                .collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    }

    fn invalid(&self) -> impl Fn() -> Option<&'static str> + Send + Sync + 'static + use<> {
        let error = self.error;
        move || error.get().is_some().then_some("true")
    }

    fn class(&self, extra: &'static str) -> impl Fn() -> String + Send + Sync + 'static + use<> {
        let error = self.error;
        move || format!("{extra} {}", input_class(error.get().is_some()))
    }
}

/// The label above a control, its help and its error below.
#[component]
fn FieldFrame(
    frame: Frame,
    label: String,
    #[prop(optional)] required: bool,
    help: Option<String>,
    children: Children,
) -> impl IntoView {
    view! {
        <div>
            <label for=frame.id.clone() class="block text-sm font-medium text-slate-800">
                {label}
                {required.then(|| view! { <span class="text-red-700" aria-hidden="true">" *"</span> })}
            </label>
            {children()}
            {help.zip(frame.help_id.clone()).map(|(h, id)| view! { <p id=id class="mt-1 text-xs text-slate-600">{h}</p> })}
            <FieldMessage id=frame.err_id.clone() error=frame.error/>
        </div>
    }
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
    /// For `kind="number"`: `any` takes fractions (a number field takes whole numbers
    /// otherwise).
    #[prop(optional)]
    step: Option<&'static str>,
) -> impl IntoView {
    let frame = Frame::new(name, help.is_some(), error);
    view! {
        <FieldFrame frame=frame.clone() label=label required=required help=help>
            <input
                id=frame.id.clone()
                name=name
                type=kind.unwrap_or("text")
                step=step
                prop:value=move || value.get()
                value=move || value.get()
                required=required
                autocomplete=autocomplete
                placeholder=placeholder
                aria-invalid=frame.invalid()
                aria-describedby=frame.described_by()
                class=frame.class("mt-1")
            />
        </FieldFrame>
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
    let frame = Frame::new(name, help.is_some(), error);
    view! {
        <FieldFrame frame=frame.clone() label=label help=help>
            <select
                id=frame.id.clone()
                name=name
                aria-invalid=frame.invalid()
                aria-describedby=frame.described_by()
                class=frame.class("mt-1")
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
        </FieldFrame>
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
    let frame = Frame::new(name, help.is_some(), error);
    view! {
        <FieldFrame frame=frame.clone() label=label help=help>
            <textarea
                id=frame.id.clone()
                name=name
                rows=rows.unwrap_or(4)
                aria-invalid=frame.invalid()
                aria-describedby=frame.described_by()
                prop:value=move || value.get()
                class=frame.class("mt-1 font-mono")
            >
                {move || value.get()}
            </textarea>
        </FieldFrame>
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
    let frame = Frame::new(name, true, error);
    let list = format!("{name}-choices");
    view! {
        <FieldFrame frame=frame.clone() label=label help=Some(help)>
            <input
                id=frame.id.clone()
                name=name
                type="text"
                list=list.clone()
                autocomplete="off"
                placeholder=placeholder
                aria-invalid=frame.invalid()
                aria-describedby=frame.described_by()
                prop:value=move || value.get()
                value=move || value.get()
                class=frame.class("mt-1")
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
        </FieldFrame>
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

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn every_widget_points_at_its_error_and_says_it_is_invalid() {
        let owner = Owner::new();
        owner.set();
        let error = Signal::stored(Some("Enter a name.".to_owned()));
        let empty = || Signal::stored(String::new());
        let rendered = [
            (
                "name",
                view! { <TextField name="name" label="Name" error=error help="Shown to admins"/> }
                    .to_html(),
            ),
            (
                "kind",
                view! { <SelectField name="kind" label="Kind" options=vec![("user", "Person")] value=empty() error=error/> }
                    .to_html(),
            ),
            (
                "metadata",
                view! { <TextArea name="metadata" label="Metadata" value=empty() error=error/> }
                    .to_html(),
            ),
        ];
        for (name, html) in rendered {
            assert!(html.contains(r#"aria-invalid="true""#), "{html}");
            assert!(
                html.contains(&format!(r#"id="field-{name}-error""#)),
                "{html}"
            );
            assert!(html.contains("Enter a name."), "{html}");
            let described = html
                .split(r#"aria-describedby=""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default();
            assert!(
                described
                    .split(' ')
                    .any(|id| id == format!("field-{name}-error")),
                "{name}: {html}"
            );
        }

        // Without an error, nothing claims the field is invalid.
        let fine = view! { <TextField name="email" label="Email"/> }.to_html();
        assert!(!fine.contains("aria-invalid"), "{fine}");
        assert!(!fine.contains("aria-describedby"), "{fine}");
        assert!(!fine.contains("step="), "{fine}");
    }

    #[test]
    fn a_number_field_takes_fractions_only_when_told() {
        let owner = Owner::new();
        owner.set();
        // A browser refuses 0.1 in a number field without `step="any"`.
        let html =
            view! { <TextField name="rate" label="Rate" kind="number" step="any"/> }.to_html();
        assert!(
            html.contains(r#"type="number""#) && html.contains(r#"step="any""#),
            "{html}"
        );
    }
}
