//! Server functions of the Audit trail screen: each turns its arguments into a service call
//! and the result into wire types. No rule and no SQL here; `service::audit_log` checks
//! `audit:read` on every call.
// The list and the export take the eight filters as arguments, so that the export is a
// plain URL (`/api/audit/export?format=csv&action=identity.*`) a link can point at; the
// wasm-side function the macro generates cannot carry an item attribute.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, StreamingText, TextStream};

use super::model::{AuditDetail, AuditPageView, VerificationView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
use super::model::{AuditFilter, AuditRecordView, ExportFormat};

/// Records per page of the timeline.
#[cfg(feature = "ssr")]
const PAGE_SIZE: u32 = 50;

#[cfg(feature = "ssr")]
fn invalid(field: &str, message: &str) -> AppError {
    service::Error::validation(field, "invalid_value", message).into()
}

#[cfg(feature = "ssr")]
fn parse_uuid(
    field: &str,
    raw: Option<&str>,
    message: &str,
) -> Result<Option<uuid::Uuid>, AppError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => uuid::Uuid::parse_str(r)
            .map(Some)
            .map_err(|_| invalid(field, message)),
    }
}

/// A day of the filter, `YYYY-MM-DD` (what `<input type="date">` sends).
#[cfg(feature = "ssr")]
fn parse_day(field: &str, raw: Option<&str>) -> Result<Option<time::Date>, AppError> {
    use time::macros::format_description;
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => time::Date::parse(r, format_description!("[year]-[month]-[day]"))
            .map(Some)
            .map_err(|_| invalid(field, "Use a date like 2026-01-31.")),
    }
}

/// The service's query for the filters. Days are UTC and both ends are included: `to`
/// becomes the midnight after it.
#[cfg(feature = "ssr")]
fn query_of(f: &AuditFilter) -> Result<service::audit_log::AuditQuery, AppError> {
    let from = parse_day("from", f.from.as_deref())?;
    let to = parse_day("to", f.to.as_deref())?;
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(invalid("to", "The last day comes before the first."));
    }
    Ok(service::audit_log::AuditQuery {
        actor_id: parse_uuid(
            "actor",
            f.actor.as_deref(),
            "Pick an identity from the list, or paste an actor's id.",
        )?,
        action: f.action.clone(),
        target_type: f.target_type.clone(),
        target_id: parse_uuid(
            "target_id",
            f.target_id.as_deref(),
            "A target id looks like 0193a1b2-…: copy it from a record.",
        )?,
        outcome: f.outcome.clone(),
        request_id: f.request_id.clone(),
        from: from.map(|d| d.midnight().assume_utc()),
        to: to
            .and_then(|d| d.next_day())
            .map(|d| d.midnight().assume_utc()),
        limit: None,
        cursor: None,
    })
}

#[cfg(feature = "ssr")]
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "ssr")]
fn view_of(r: service::audit_log::AuditRecord, now: time::OffsetDateTime) -> AuditRecordView {
    let at = r.occurred_at.to_offset(time::UtcOffset::UTC);
    AuditRecordView {
        id: r.id.to_string(),
        seq: r.seq,
        actor_type: r.actor_type,
        actor_id: r.actor_id.map(|a| a.to_string()),
        actor_label: r.actor_label,
        action: r.action,
        target_type: r.target_type,
        target_id: r.target_id.map(|t| t.to_string()),
        outcome: r.outcome,
        request_id: r.request_id,
        ip: r.ip,
        user_agent: r.user_agent,
        occurred_at: crate::format::second(at),
        occurred_iso: crate::format::rfc3339(at),
        occurred_ago: super::model::ago((now - at).whole_seconds()),
        hash: hex(&r.hash),
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
        }
    }
}

/// The records the filters take, newest first, a page at a time (`cursor` from the
/// previous page's `next_cursor`).
#[server(endpoint = "audit/list")]
pub async fn list_audit(
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    outcome: Option<String>,
    request_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
) -> Result<AuditPageView, AppError> {
    let filter = AuditFilter {
        actor,
        action,
        target_type,
        target_id,
        outcome,
        request_id,
        from,
        to,
    };
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let query = service::audit_log::AuditQuery {
        limit: Some(PAGE_SIZE),
        cursor: cursor.filter(|c| !c.trim().is_empty()),
        ..query_of(&filter)?
    };
    let page = service::audit_log::list(&ctx, &db, &query).await?;
    let now = time::OffsetDateTime::now_utc();
    Ok(AuditPageView {
        items: page.items.into_iter().map(|r| view_of(r, now)).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One record, with its before and after compared field by field.
#[server(endpoint = "audit/get")]
pub async fn get_audit_record(id: String) -> Result<AuditDetail, AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| {
        AppError::from(service::Error::NotFound {
            resource: "audit record",
        })
    })?;
    let r = service::audit_log::get(&ctx, &db, id).await?;
    let changes = super::model::changes(r.before.as_ref(), r.after.as_ref());
    Ok(AuditDetail {
        record: view_of(r, time::OffsetDateTime::now_utc()),
        changes,
    })
}

/// Checks the hash chain from `from_seq` to `to_seq` (default: all of it) and reports the
/// first broken link.
#[server(endpoint = "audit/verify")]
pub async fn verify_audit_chain(
    from_seq: Option<i64>,
    to_seq: Option<i64>,
) -> Result<VerificationView, AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
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
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    outcome: Option<String>,
    request_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<TextStream<AppError>, AppError> {
    let filter = AuditFilter {
        actor,
        action,
        target_type,
        target_id,
        outcome,
        request_id,
        from,
        to,
    };
    let db = crate::server::db()?;
    let started: Result<(ExportFormat, service::audit_log::Export), AppError> = async {
        let ctx = crate::server::ctx().await?;
        let format = match format.as_deref().map(str::trim).unwrap_or_default() {
            "" | "csv" => ExportFormat::Csv,
            "jsonl" => ExportFormat::JsonLines,
            _ => return Err(invalid("format", "Export as csv or jsonl.")),
        };
        let query = query_of(&filter)?;
        let export = service::audit_log::export(&ctx, &db, query, format.param()).await?;
        Ok((format, export))
    }
    .await;
    match started {
        Ok((format, export)) => {
            export_file::answer_with_file(format);
            Ok(export_file::stream(export, db, format))
        }
        Err(e) => {
            // A plain link: back to the page, which shows the error.
            crate::server::flash_failure("audit_export", &e, &[]).await;
            Err(e)
        }
    }
}

/// The export's file: its response headers and its lines.
#[cfg(feature = "ssr")]
mod export_file {
    use leptos::prelude::use_context;
    use leptos::server_fn::codec::TextStream;
    use service::audit_log::{AuditRecord, Export};

    use super::hex;
    use crate::audit::model::ExportFormat;
    use crate::error::AppError;

    /// The CSV columns, in order (as `GET /v1/audit/export` writes them).
    pub const CSV_HEADER: &str = "seq,id,occurred_at,actor_type,actor_id,actor_label,action,\
target_type,target_id,outcome,request_id,ip,user_agent,before,after,hash\r\n";

    /// Makes the answer a file to save. A plain link asks for HTML, and server_fn answers
    /// such a request with a redirect back to the page it came from (which would drop the
    /// file): the status set here wins, and the `Location` it leaves has no effect on a 200.
    pub fn answer_with_file(format: ExportFormat) {
        use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
        use http::{HeaderValue, StatusCode};
        let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        res.set_status(StatusCode::OK);
        res.insert_header(CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", format.file_name()))
        {
            res.insert_header(CONTENT_DISPOSITION, v);
        }
        res.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    /// The file's text, a chunk of records at a time; a failure midway ends the body with an
    /// error, so the download fails rather than looking complete.
    pub fn stream(export: Export, db: service::Db, format: ExportFormat) -> TextStream<AppError> {
        let header = (format == ExportFormat::Csv).then(|| CSV_HEADER.to_owned());
        TextStream::new(futures_util::stream::unfold(
            Some((export, db, header)),
            move |state| async move {
                let (mut export, db, header) = state?;
                if let Some(header) = header {
                    return Some((Ok(header), Some((export, db, None))));
                }
                match export.next_chunk(&db).await {
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => {
                        let text = text_of(&rows, format);
                        Some((Ok(text), Some((export, db, None))))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "audit export failed midway");
                        let e = AppError::new("internal", "The export failed midway.");
                        Some((Err(e), None))
                    }
                }
            },
        ))
    }

    fn text_of(rows: &[AuditRecord], format: ExportFormat) -> String {
        let mut text = String::with_capacity(rows.len() * 320);
        for r in rows {
            match format {
                ExportFormat::Csv => csv_row(&mut text, r),
                ExportFormat::JsonLines => {
                    text.push_str(&serde_json::to_string(&Line::of(r)).unwrap_or_default());
                    text.push('\n');
                }
            }
        }
        text
    }

    /// One JSON Lines record: the fields of `GET /v1/audit/{id}`.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        id: uuid::Uuid,
        seq: i64,
        actor_type: &'a str,
        actor_id: Option<uuid::Uuid>,
        actor_label: Option<&'a str>,
        action: &'a str,
        target_type: &'a str,
        target_id: Option<uuid::Uuid>,
        outcome: &'a str,
        before: Option<&'a serde_json::Value>,
        after: Option<&'a serde_json::Value>,
        request_id: Option<&'a str>,
        ip: Option<&'a str>,
        user_agent: Option<&'a str>,
        occurred_at: String,
        hash: String,
    }

    impl<'a> Line<'a> {
        fn of(r: &'a AuditRecord) -> Line<'a> {
            Line {
                id: r.id,
                seq: r.seq,
                actor_type: &r.actor_type,
                actor_id: r.actor_id,
                actor_label: r.actor_label.as_deref(),
                action: &r.action,
                target_type: &r.target_type,
                target_id: r.target_id,
                outcome: &r.outcome,
                before: r.before.as_ref(),
                after: r.after.as_ref(),
                request_id: r.request_id.as_deref(),
                ip: r.ip.as_deref(),
                user_agent: r.user_agent.as_deref(),
                occurred_at: crate::format::rfc3339(r.occurred_at),
                hash: hex(&r.hash),
            }
        }
    }

    /// One CSV field, as every export writes it (formulas neutralised).
    fn csv_field(out: &mut String, value: &str) {
        service::audit_log::csv_field(out, value)
    }

    fn csv_row(out: &mut String, r: &AuditRecord) {
        let id = |v: Option<uuid::Uuid>| v.map(|i| i.to_string()).unwrap_or_default();
        let json = |v: Option<&serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
        let fields = [
            r.seq.to_string(),
            r.id.to_string(),
            crate::format::rfc3339(r.occurred_at),
            r.actor_type.clone(),
            id(r.actor_id),
            r.actor_label.clone().unwrap_or_default(),
            r.action.clone(),
            r.target_type.clone(),
            id(r.target_id),
            r.outcome.clone(),
            r.request_id.clone().unwrap_or_default(),
            r.ip.clone().unwrap_or_default(),
            r.user_agent.clone().unwrap_or_default(),
            json(r.before.as_ref()),
            json(r.after.as_ref()),
            hex(&r.hash),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(out, f);
        }
        out.push_str("\r\n");
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn record() -> AuditRecord {
            AuditRecord {
                id: uuid::Uuid::nil(),
                seq: 3,
                actor_type: "identity".into(),
                actor_id: None,
                actor_label: Some("Ada, Countess".into()),
                action: "identity.updated".into(),
                target_type: "identity".into(),
                target_id: None,
                outcome: "success".into(),
                before: Some(serde_json::json!({"name": "say \"hi\""})),
                after: None,
                request_id: Some("r-1".into()),
                ip: None,
                user_agent: None,
                occurred_at: time::macros::datetime!(2026-01-02 10:00:03 UTC),
                hash: vec![0xab, 0x01],
            }
        }

        #[test]
        fn csv_rows_quote_only_what_they_must() {
            let mut out = String::new();
            csv_row(&mut out, &record());
            assert_eq!(
                out,
                "3,00000000-0000-0000-0000-000000000000,2026-01-02T10:00:03Z,identity,,\
                 \"Ada, Countess\",identity.updated,identity,,success,r-1,,,\
                 \"{\"\"name\"\":\"\"say \\\"\"hi\\\"\"\"\"}\",,ab01\r\n"
            );
            assert_eq!(CSV_HEADER.split(',').count(), 16);
        }

        #[test]
        fn json_lines_hold_one_record_each() {
            let text = text_of(&[record(), record()], ExportFormat::JsonLines);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2);
            let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
            assert_eq!(v["seq"], 3);
            assert_eq!(v["occurred_at"], "2026-01-02T10:00:03Z");
            assert_eq!(v["hash"], "ab01");
            assert_eq!(v["after"], serde_json::Value::Null);
        }
    }
}
