//! The Settings screen's "Encryption" card: the tenant's data key, what is still stored in
//! plain text, and the key jobs that seal it or rotate the key, with their progress (rules
//! in `service::privacy::keyjobs`).

use leptos::form::ActionForm;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::{can, perm};
use crate::components::forms::FormState;
use crate::components::ui::{BTN_PRIMARY, BTN_SECONDARY, CARD, ErrorBanner};
use crate::error::AppError;

/// A key job as the card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyJobView {
    /// "Sealing stored data" or "Data key rotation".
    pub title: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub percent: i32,
    pub done: i64,
    pub total: i64,
    pub step: String,
    pub error: Option<String>,
    pub finished: Option<String>,
    /// Who asked: "the server" or "an owner".
    pub by_server: bool,
}

impl KeyJobView {
    pub fn is_open(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }
}

/// The tenant's encryption as the card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptionView {
    pub data_key_version: Option<i32>,
    pub data_key_since: Option<String>,
    pub older_versions: Vec<i32>,
    pub subject_keys: i64,
    pub plain_total: i64,
    /// "3 identities, 1 memory" (empty when nothing is plain).
    pub plain_summary: String,
    pub job: Option<KeyJobView>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use service::privacy::keyjobs::{Encryption, KeyJob, Kind, Plain, Status};

    pub(super) fn plain_summary(p: &Plain) -> String {
        let plural =
            |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        [
            (p.identities, "identity", "identities"),
            (p.invitations, "invitation", "invitations"),
            (p.memories, "memory", "memories"),
            (p.sso_links, "SSO link", "SSO links"),
            (p.audit_records, "audit record", "audit records"),
            (p.events, "event", "events"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| plural(n, one, many))
        .collect::<Vec<_>>()
        .join(", ")
    }

    impl From<KeyJob> for KeyJobView {
        fn from(j: KeyJob) -> Self {
            KeyJobView {
                title: match j.kind {
                    Kind::Seal => "Sealing stored data",
                    Kind::Rotate => "Data key rotation",
                }
                .to_owned(),
                status: match j.status {
                    Status::Queued => "queued",
                    Status::Running => "running",
                    Status::Done => "done",
                    Status::Failed => "failed",
                }
                .to_owned(),
                percent: j.percent,
                done: j.done,
                total: j.total,
                step: j.step,
                error: j.error,
                finished: j.finished_at.map(crate::format::minute),
                by_server: j.requested_by.is_none(),
            }
        }
    }

    impl From<Encryption> for EncryptionView {
        fn from(e: Encryption) -> Self {
            EncryptionView {
                data_key_version: e.data_key_version,
                data_key_since: e.data_key_created_at.map(crate::format::minute),
                older_versions: e.older_versions,
                subject_keys: e.subject_keys,
                plain_total: e.plain.total(),
                plain_summary: plain_summary(&e.plain),
                job: e.job.map(KeyJobView::from),
            }
        }
    }
}

/// The tenant's encryption; `None` for a caller who may not read the settings.
#[server(endpoint = "settings/encryption")]
pub async fn encryption_settings() -> Result<Option<EncryptionView>, AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let e = crate::server::unless_forbidden(service::privacy::keyjobs::get(&ctx, &db).await)?;
    Ok(e.map(EncryptionView::from))
}

/// Starts a key job: `seal` or `rotate`.
#[server(endpoint = "settings/encryption/start")]
pub async fn start_key_job(kind: String) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let result = service::privacy::keyjobs::start_named(&ctx, &db, &kind)
        .await
        .map(|_| ());
    crate::server::finish_action("key_job", result, "/settings", "/settings").await
}

/// The card: the data key, what is not sealed yet, the newest job with its progress, and
/// the buttons that start a job (for owners).
#[component]
pub fn EncryptionCard(view: EncryptionView, start: ServerAction<StartKeyJob>) -> impl IntoView {
    let form = FormState::new("key_job", start.version().into(), start.value().into());
    let editable = can(perm::SETTINGS_UPDATE);
    let busy = view.job.as_ref().is_some_and(KeyJobView::is_open);
    let key_line = match (view.data_key_version, &view.data_key_since) {
        (Some(v), Some(since)) => format!("Data key: version {v}, made {since}."),
        _ => "Data key: made the first time your tenant stores personal data.".to_owned(),
    };
    let older = (!view.older_versions.is_empty()).then(|| {
        format!(
            "Older versions still held until a rotation ends: {}.",
            view.older_versions
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let people = match view.subject_keys {
        1 => "1 person has a key of their own.".to_owned(),
        n => format!("{n} people have a key of their own."),
    };
    let plain = if view.plain_total == 0 {
        "Everything is sealed: no personal data is stored in plain text.".to_owned()
    } else {
        format!(
            "Stored before encryption and not sealed yet: {}.",
            view.plain_summary
        )
    };
    let may_seal = view.plain_total > 0;
    view! {
        <section class=format!("{CARD} mt-6 p-6") aria-labelledby="encryption-heading">
            <h2 id="encryption-heading" class="text-base font-semibold text-slate-900">"Encryption"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "People's names and addresses, invitations and memories are stored encrypted under a key per person, which your tenant's data key protects. Rotating the data key makes a new one, protects every person's key with it and removes the old one; the console and the API keep working meanwhile."
            </p>
            <ul class="mt-4 space-y-1 text-sm text-slate-700" aria-label="Encryption state">
                <li data-testid="data-key">{key_line}</li>
                {older.map(|o| view! { <li>{o}</li> })}
                <li>{people}</li>
                <li data-testid="plain-rows">{plain}</li>
            </ul>
            {view.job.clone().map(|job| view! { <JobLine job/> })}
            {editable.then(|| view! {
                <div class="mt-5 border-t border-slate-100 pt-5">
                    {move || form.banner().get().map(|m| view! { <div class="mb-3"><ErrorBanner message=m/></div> })}
                    <div class="flex flex-wrap gap-3">
                        {may_seal.then(|| view! {
                            <ActionForm action=start>
                                <input type="hidden" name="kind" value="seal"/>
                                <button type="submit" class=BTN_PRIMARY disabled=move || busy || start.pending().get()>
                                    "Seal them now"
                                </button>
                            </ActionForm>
                        })}
                        <ActionForm action=start>
                            <input type="hidden" name="kind" value="rotate"/>
                            <button type="submit" class=BTN_SECONDARY disabled=move || busy || start.pending().get()>
                                {move || if start.pending().get() { "Starting…" } else { "Rotate data key" }}
                            </button>
                        </ActionForm>
                    </div>
                    {busy.then(|| view! {
                        <p class="mt-2 text-sm text-slate-600">"A job is running; you can start another once it ends."</p>
                    })}
                </div>
            })}
        </section>
    }
}

/// The newest job: its progress while it runs, its outcome once it ended.
#[component]
fn JobLine(job: KeyJobView) -> impl IntoView {
    let by = if job.by_server {
        " (started by the server)"
    } else {
        ""
    };
    let body = if job.is_open() {
        let doing = match (job.status.as_str(), job.step.is_empty()) {
            ("queued", _) => "waiting for a worker".to_owned(),
            (_, true) => "starting".to_owned(),
            _ => job.step.clone(),
        };
        view! {
            <div class="text-sm text-slate-700">
                {format!("{}{by}: {doing}… {} of {} records ({}%)", job.title, job.done, job.total, job.percent)}
            </div>
            <div class="mt-2 h-2 w-full rounded-full bg-slate-100" role="progressbar"
                aria-label=format!("{} progress", job.title) aria-valuemin="0" aria-valuemax="100" aria-valuenow=job.percent>
                <div class="h-2 rounded-full bg-indigo-600" style=format!("width: {}%", job.percent)></div>
            </div>
        }
        .into_any()
    } else if job.status == "done" {
        view! {
            <p class="text-sm text-slate-700">
                {format!("{}{by}: finished {}, {} records sealed or wrapped again.", job.title, job.finished.clone().unwrap_or_default(), job.done)}
            </p>
        }
        .into_any()
    } else {
        view! {
            <p class="text-sm text-red-700">
                {format!("{}{by} failed: {}", job.title, job.error.clone().unwrap_or_default())}
            </p>
        }
        .into_any()
    };
    view! { <div class="mt-4" aria-live="polite" data-testid="key-job">{body}</div> }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use service::privacy::keyjobs::Plain;

    #[test]
    fn plain_rows_are_said_in_words() {
        let p = Plain {
            identities: 3,
            memories: 1,
            audit_records: 1,
            ..Default::default()
        };
        assert_eq!(
            super::ssr::plain_summary(&p),
            "3 identities, 1 memory, 1 audit record"
        );
        assert_eq!(super::ssr::plain_summary(&Plain::default()), "");
    }
}
