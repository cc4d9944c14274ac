//! Server functions of the Audit trail screen: each turns its arguments into a service call
//! and the result into wire types. No rule and no SQL here; `service::audit_log` checks
//! `audit:read` on every call.
// The list and the export take the filters flattened, so that the export is a plain URL
// (`/api/audit/export?format=csv&action=identity.*`) a link can point at.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, StreamingText, TextStream};

use super::model::{AuditDetail, AuditPageView, VerificationView};
use crate::error::AppError;

use super::model::AuditFilter;
#[cfg(feature = "ssr")]
use super::model::AuditRecordView;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, object_id};

/// Records per page of the timeline.
#[cfg(feature = "ssr")]
const PAGE_SIZE: u32 = 50;

#[cfg(feature = "ssr")]
fn view_of(r: service::audit_log::AuditRecord, now: time::OffsetDateTime) -> AuditRecordView {
    let at = r.occurred_at.to_offset(time::UtcOffset::UTC);
    let hash = r.hash_hex();
    AuditRecordView {
        id: r.id.to_string(),
        seq: r.seq,
        actor_type: r.actor_type,
        actor_id: r.actor_id.map(|a| a.to_string()),
        actor_label: r.actor_label,
        action: r.action,
        target_type: r.target_type,
        target_id: r.target_id.map(|t| t.to_string()),
        outcome: r.outcome.as_str().to_owned(),
        request_id: r.request_id,
        ip: r.ip,
        user_agent: r.user_agent,
        occurred_at: crate::format::second(at),
        occurred_iso: crate::format::rfc3339(at),
        occurred_ago: super::model::ago((now - at).whole_seconds()),
        hash,
    }
}

#[cfg(feature = "ssr")]
impl From<service::audit_log::Verification> for VerificationView {
    fn from(v: service::audit_log::Verification) -> Self {
        use service::audit_log::Broken;
        VerificationView {
            from_seq: v.from_seq,
            to_seq: v.to_seq,
            checked: v.checked,
            broken: v.broken.map(|b| super::model::BrokenView {
                seq: b.seq,
                id: b.id.map(|i| i.to_string()),
                reason: match b.reason {
                    Broken::HashMismatch => "hash_mismatch",
                    Broken::LinkBroken => "link_broken",
                    Broken::Missing => "missing",
                    Broken::Truncated => "truncated",
                }
                .to_owned(),
            }),
            head_seq: v.head_seq,
            unsealed: v.unsealed,
        }
    }
}

#[cfg(feature = "ssr")]
fn page_view(page: service::pagination::Page<service::audit_log::AuditRecord>) -> AuditPageView {
    let now = time::OffsetDateTime::now_utc();
    let items = page.items.into_iter().map(|r| view_of(r, now)).collect();
    AuditPageView {
        items,
        next_cursor: page.next_cursor,
    }
}

/// The records the filters take, newest first, a page at a time (`cursor` from the
/// previous page's `next_cursor`).
#[server(endpoint = "audit/list")]
pub async fn list_audit(
    #[server(flatten)] filter: AuditFilter,
    cursor: Option<String>,
) -> Result<AuditPageView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let query = service::audit_log::AuditQuery {
        limit: Some(PAGE_SIZE),
        cursor: cursor.filter(|c| !c.trim().is_empty()),
        ..crate::server::query(&ctx, "audit", filter)?
    };
    let page = service::audit_log::list(&ctx, &db, &query).await?;
    Ok(page_view(page))
}

/// One record, with its before and after compared field by field.
#[server(endpoint = "audit/get")]
pub async fn get_audit_record(id: String) -> Result<AuditDetail, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let r = service::audit_log::get(&ctx, &db, object_id(&id, "audit record")?).await?;
    let changes = super::model::changes(r.before.as_ref(), r.after.as_ref());
    let record = view_of(r, time::OffsetDateTime::now_utc());
    Ok(AuditDetail { record, changes })
}

/// Checks the hash chain from `from_seq` to `to_seq` (default: all of it) and reports the
/// first broken link.
#[server(endpoint = "audit/verify")]
pub async fn verify_audit_chain(
    from_seq: Option<i64>,
    to_seq: Option<i64>,
) -> Result<VerificationView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let v = service::audit_log::verify(&ctx, &db, from_seq, to_seq).await?;
    Ok(v.into())
}

/// The records the filters take, oldest first, as CSV or JSON Lines (`format`: `csv`, the
/// default, or `jsonl`; the same columns and fields as `GET /v1/audit/export`), streamed a
/// chunk of records at a time. The export is itself audited (`audit.exported`).
///
/// A GET on purpose: without JavaScript the export buttons are plain links to it, with the
/// console's session cookie (`/v1` takes bearer credentials only).
#[server(endpoint = "audit/export", input = GetUrl, output = StreamingText)]
pub async fn export_audit(
    format: Option<String>,
    #[server(flatten)] filter: AuditFilter,
) -> Result<TextStream<AppError>, AppError> {
    let db = db()?;
    match start_export(format, filter, &db).await {
        Ok(export) => Ok(export_file::answer(export, db)),
        Err(e) => {
            // A plain link: back to the page, which shows the error.
            crate::server::flash_failure("audit_export", &e, &[]).await;
            Err(e)
        }
    }
}

/// Authorizes, audits and begins the export the link asks for.
#[cfg(feature = "ssr")]
async fn start_export(
    format: Option<String>,
    filter: AuditFilter,
    db: &service::Db,
) -> Result<service::audit_log::Export, AppError> {
    use service::{audit_log::ExportFormat, validation::Choice};
    let ctx = ctx().await?;
    let format = ExportFormat::read_or_default(format.as_deref())?;
    let query = crate::server::query(&ctx, "audit", filter)?;
    Ok(service::audit_log::export(&ctx, db, query, format).await?)
}

/// The export's file: its response headers, then the text the service writes.
#[cfg(feature = "ssr")]
mod export_file {
    use leptos::prelude::use_context;
    use leptos::server_fn::codec::TextStream;
    use service::audit_log::{Export, ExportFormat};

    use crate::error::AppError;

    /// The answer: headers that make it a file to save, and its text, a chunk of records at
    /// a time; a failure midway ends the body with an error, so the download fails rather
    /// than looking complete.
    pub fn answer(export: Export, db: service::Db) -> TextStream<AppError> {
        answer_with_file(export.format());
        TextStream::new(futures_util::stream::unfold(
            Some((export, db)),
            |state| async move {
                let (mut export, db) = state?;
                match export.next_text(&db).await {
                    Ok(Some(text)) => Some((Ok(text), Some((export, db)))),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::error!(error = %e, "audit export failed midway");
                        let e = AppError::new("internal", "The export failed midway.");
                        Some((Err(e), None))
                    }
                }
            },
        ))
    }

    /// Makes the answer a file to save. A plain link asks for HTML, and server_fn answers
    /// such a request with a redirect back to the page it came from (which would drop the
    /// file): the status set here wins, and the `Location` it leaves has no effect on a 200.
    fn answer_with_file(format: ExportFormat) {
        use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
        use http::{HeaderValue, StatusCode};
        let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        res.set_status(StatusCode::OK);
        res.insert_header(CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
        let disposition = format!("attachment; filename=\"{}\"", format.file_name());
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            res.insert_header(CONTENT_DISPOSITION, v);
        }
        res.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
