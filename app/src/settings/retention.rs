//! The Settings screen's "Data retention" card: how long the tenant keeps people it
//! disabled, its Trash and idle sign-ins (rules in `service::privacy::retention`).

use leptos::form::ActionForm;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::{can, perm};
use crate::components::forms::{FormState, TextField};
use crate::components::ui::{BTN_PRIMARY, CARD, ErrorBanner};
use crate::error::AppError;

/// One run that removed something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub at: String,
    pub summary: String,
}

/// The tenant's retention as the card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionView {
    pub disabled_identities_days: Option<i32>,
    pub trash_days: Option<i32>,
    pub idle_sessions_days: Option<i32>,
    pub audit_records_days: i32,
    pub last_run: Option<String>,
    pub next_run: Option<String>,
    pub runs: Vec<RunView>,
}

/// The retention form: each field a number of days, empty to keep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetentionForm {
    pub disabled_identities_days: String,
    pub trash_days: String,
    pub idle_sessions_days: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use service::privacy::retention::{Removed, Retention, Settings};

    fn days(field: &str, raw: &str) -> service::Result<Option<i32>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse::<i32>().map(Some).map_err(|_| {
            service::Error::validation(
                field,
                "invalid_value",
                "Give a whole number of days, or leave it empty to keep them.",
            )
        })
    }

    impl TryFrom<RetentionForm> for Settings {
        type Error = service::Error;
        fn try_from(f: RetentionForm) -> service::Result<Settings> {
            Ok(Settings {
                disabled_identities_days: days(
                    "disabled_identities_days",
                    &f.disabled_identities_days,
                )?,
                trash_days: days("trash_days", &f.trash_days)?,
                idle_sessions_days: days("idle_sessions_days", &f.idle_sessions_days)?,
            })
        }
    }

    /// "2 people disabled too long erased, 3 memories removed from the Trash".
    pub(super) fn summary(r: &Removed) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let parts: Vec<String> = [
            (
                r.disabled_identities,
                "person disabled too long erased",
                "people disabled too long erased",
            ),
            (
                r.deleted_identities,
                "person erased from the Trash",
                "people erased from the Trash",
            ),
            (
                r.deleted_memories,
                "memory removed from the Trash",
                "memories removed from the Trash",
            ),
            (
                r.sessions,
                "idle console session ended",
                "idle console sessions ended",
            ),
            (
                r.api_sign_ins,
                "idle API sign-in removed",
                "idle API sign-ins removed",
            ),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| plural(n, one, many))
        .collect();
        parts.join(", ")
    }

    impl From<Retention> for RetentionView {
        fn from(r: Retention) -> Self {
            use crate::format::minute;
            RetentionView {
                disabled_identities_days: r.settings.disabled_identities_days,
                trash_days: r.settings.trash_days,
                idle_sessions_days: r.settings.idle_sessions_days,
                audit_records_days: r.audit_records_days,
                last_run: r.last_run_at.map(minute),
                next_run: r.next_run_at.map(minute),
                runs: r
                    .runs
                    .iter()
                    .map(|run| RunView {
                        at: minute(run.ran_at),
                        summary: summary(&run.removed),
                    })
                    .collect(),
            }
        }
    }
}

/// The tenant's retention; `None` for a caller who may not read the settings.
#[server(endpoint = "settings/retention")]
pub async fn retention_settings() -> Result<Option<RetentionView>, AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let r = crate::server::unless_forbidden(service::privacy::retention::get(&ctx, &db).await)?;
    Ok(r.map(RetentionView::from))
}

/// Saves the tenant's retention periods.
#[server(endpoint = "settings/retention/save")]
pub async fn save_retention(#[server(flatten)] form: RetentionForm) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let settings: service::privacy::retention::Settings =
            crate::server::input(&ctx, "settings", form.clone())?;
        service::privacy::retention::set(&ctx, &db, settings).await?;
        Ok("/settings?retention_saved=1".to_owned())
    };
    crate::server::finish("retention", &form, result.await).await
}

fn days_text(days: Option<i32>) -> String {
    days.map(|d| d.to_string()).unwrap_or_default()
}

/// What a period means, in words.
fn kept(days: Option<i32>, what: &str) -> String {
    match days {
        None => format!("{what}: kept until someone removes them."),
        Some(1) => format!("{what}: removed after 1 day."),
        Some(d) => format!("{what}: removed after {d} days."),
    }
}

/// The card: the periods (a form for those who may change them), the audit records'
/// retention, and what the worker did and does next.
#[component]
pub fn RetentionCard(view: RetentionView, save: ServerAction<SaveRetention>) -> impl IntoView {
    let form = FormState::new("retention", save.version().into(), save.value().into());
    let editable = can(perm::SETTINGS_UPDATE);
    let summary = [
        kept(view.disabled_identities_days, "People disabled"),
        kept(view.trash_days, "Identities and memories in the Trash"),
        kept(view.idle_sessions_days, "Unused sessions and API sign-ins"),
        format!(
            "Audit records: kept {} days (your plan's setting; your operator can change it).",
            view.audit_records_days
        ),
    ];
    let schedule = match (&view.last_run, &view.next_run) {
        (_, None) => "Nothing is set, so nothing is removed.".to_owned(),
        (None, Some(next)) => format!("First run: {next} (then hourly)."),
        (Some(last), Some(next)) => format!("Last run: {last}. Next run: {next}."),
    };
    let (d, t, s) = (
        days_text(view.disabled_identities_days),
        days_text(view.trash_days),
        days_text(view.idle_sessions_days),
    );
    view! {
        <section class=format!("{CARD} mt-6 p-6") aria-labelledby="retention-heading">
            <h2 id="retention-heading" class="text-base font-semibold text-slate-900">"Data retention"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "How long Tenantry keeps what your tenant no longer uses. People removed this way are erased: their personal data can no longer be read anywhere, and the audit trail keeps only that it happened."
            </p>
            <ul class="mt-4 space-y-1 text-sm text-slate-700" aria-label="What is kept">
                {summary.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            </ul>
            <p class="mt-3 text-sm text-slate-600" data-testid="retention-schedule">{schedule}</p>
            {(!view.runs.is_empty()).then(|| view! {
                <div class="mt-4">
                    <h3 class="text-sm font-medium text-slate-800">"Recent runs that removed something"</h3>
                    <ul class="mt-2 divide-y divide-slate-100 text-sm" aria-label="Recent retention runs">
                        {view.runs.iter().map(|r| view! {
                            <li class="flex flex-wrap gap-x-3 py-1.5">
                                <span class="text-slate-500 tabular-nums">{r.at.clone()}</span>
                                <span class="text-slate-800">{r.summary.clone()}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {editable.then(|| view! {
                <div class="mt-5 border-t border-slate-100 pt-5">
                    {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                    <ActionForm action=save attr:class="grid gap-4 sm:grid-cols-3" attr:aria-label="Retention periods">
                        <TextField name="disabled_identities_days" label="Erase people disabled for" kind="number"
                            help="Days. Leave empty to keep them." value=form.value("disabled_identities_days", d.clone())
                            error=form.field_error("disabled_identities_days")/>
                        <TextField name="trash_days" label="Empty the Trash after" kind="number"
                            help="Days, for identities and memories. Empty: keep." value=form.value("trash_days", t.clone())
                            error=form.field_error("trash_days")/>
                        <TextField name="idle_sessions_days" label="End sign-ins unused for" kind="number"
                            help="Days, for console sessions and API sign-ins. Empty: keep." value=form.value("idle_sessions_days", s.clone())
                            error=form.field_error("idle_sessions_days")/>
                        <div class="sm:col-span-3">
                            <button type="submit" class=BTN_PRIMARY disabled=move || save.pending().get()>
                                {move || if save.pending().get() { "Saving…" } else { "Save retention" }}
                            </button>
                        </div>
                    </ActionForm>
                </div>
            })}
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use service::privacy::retention::{Removed, Settings};

    #[test]
    fn a_form_reads_empty_as_keep_and_names_a_bad_field() {
        let form = RetentionForm {
            disabled_identities_days: " 30 ".into(),
            trash_days: String::new(),
            idle_sessions_days: "7".into(),
        };
        assert_eq!(
            Settings::try_from(form).unwrap(),
            Settings {
                disabled_identities_days: Some(30),
                trash_days: None,
                idle_sessions_days: Some(7),
            }
        );
        let bad = RetentionForm {
            trash_days: "a week".into(),
            ..Default::default()
        };
        match Settings::try_from(bad) {
            Err(service::Error::Validation(errors)) => assert_eq!(errors[0].field, "trash_days"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_run_is_said_in_words() {
        let r = Removed {
            disabled_identities: 1,
            deleted_memories: 3,
            ..Default::default()
        };
        assert_eq!(
            ssr::summary(&r),
            "1 person disabled too long erased, 3 memories removed from the Trash"
        );
    }
}
