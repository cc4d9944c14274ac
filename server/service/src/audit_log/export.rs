//! Exports of the audit trail: one file format, written here for both doors (the console's
//! download and `GET /v1/audit/export`), read a chunk of records at a time.

use serde::Serialize;
use uuid::Uuid;

use super::{AuditQuery, AuditRecord, Outcome};
use crate::ctx::Ctx;
use crate::db::Change;
use crate::error::Result;
use crate::events::catalogue::{shapes, types};
use crate::validation::Choice;

/// The file an export writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// RFC 4180, one record a row under a header, formulas neutralised.
    #[default]
    Csv,
    /// One JSON object a line, each as `GET /v1/audit/{id}` answers it.
    #[serde(rename = "jsonl")]
    JsonLines,
}

impl Choice for ExportFormat {
    const FIELD: &'static str = "format";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("csv", ExportFormat::Csv),
        ("jsonl", ExportFormat::JsonLines),
    ];
}

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "seq,id,occurred_at,actor_type,actor_id,actor_label,action,\
target_type,target_id,outcome,request_id,ip,user_agent,before,after,hash\r\n";

impl ExportFormat {
    /// Its name as the `format` parameter takes it.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::JsonLines => "jsonl",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::JsonLines => "application/x-ndjson",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "audit.csv",
            ExportFormat::JsonLines => "audit.jsonl",
        }
    }

    /// What the file starts with, before any record.
    pub fn header(self) -> &'static str {
        match self {
            ExportFormat::Csv => CSV_HEADER,
            ExportFormat::JsonLines => "",
        }
    }

    /// Appends `records` to `out` as the file's lines.
    pub fn write(self, out: &mut String, records: &[AuditRecord]) {
        out.reserve(records.len() * 320);
        for r in records {
            match self {
                ExportFormat::Csv => csv_row(out, r),
                ExportFormat::JsonLines => {
                    out.push_str(&serde_json::to_string(&Exported::of(r)).unwrap_or_default());
                    out.push('\n');
                }
            }
        }
    }
}

/// One record as an export writes it: the fields and order of `GET /v1/audit/{id}`.
#[derive(Serialize)]
struct Exported<'a> {
    id: Uuid,
    seq: i64,
    actor_type: &'a str,
    actor_id: Option<Uuid>,
    actor_label: Option<&'a str>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<Uuid>,
    outcome: Outcome,
    before: Option<&'a serde_json::Value>,
    after: Option<&'a serde_json::Value>,
    request_id: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    occurred_at: String,
    hash: String,
}

impl<'a> Exported<'a> {
    fn of(r: &'a AuditRecord) -> Exported<'a> {
        Exported {
            id: r.id,
            seq: r.seq,
            actor_type: &r.actor_type,
            actor_id: r.actor_id,
            actor_label: r.actor_label.as_deref(),
            action: &r.action,
            target_type: &r.target_type,
            target_id: r.target_id,
            outcome: r.outcome,
            before: r.before.as_ref(),
            after: r.after.as_ref(),
            request_id: r.request_id.as_deref(),
            ip: r.ip.as_deref(),
            user_agent: r.user_agent.as_deref(),
            occurred_at: crate::rfc3339(r.occurred_at),
            hash: r.hash_hex(),
        }
    }
}

fn csv_row(out: &mut String, r: &AuditRecord) {
    let id = |v: Option<Uuid>| v.map(|i| i.to_string()).unwrap_or_default();
    let json = |v: Option<&serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
    let fields = [
        r.seq.to_string(),
        r.id.to_string(),
        crate::rfc3339(r.occurred_at),
        r.actor_type.clone(),
        id(r.actor_id),
        r.actor_label.clone().unwrap_or_default(),
        r.action.clone(),
        r.target_type.clone(),
        id(r.target_id),
        r.outcome.as_str().to_owned(),
        r.request_id.clone().unwrap_or_default(),
        r.ip.clone().unwrap_or_default(),
        r.user_agent.clone().unwrap_or_default(),
        json(r.before.as_ref()),
        json(r.after.as_ref()),
        r.hash_hex(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push_str("\r\n");
}

/// Records read per query while exporting.
pub const EXPORT_CHUNK: u32 = 1_000;

/// An export that was authorized and audited: what it covers, read chunk by chunk with
/// [`Export::next_chunk`] so that no export holds more than a chunk in memory.
#[derive(Debug, Clone)]
pub struct Export {
    format: ExportFormat,
    /// Whether the file's first text (the CSV header) was handed out.
    started: bool,
    tenant_id: Uuid,
    query: AuditQuery,
    /// The chain's head when the export began: records written later are not included.
    upto: i64,
    /// The last record handed out.
    after: i64,
}

/// Begins an export of the records `query` takes (its `limit` and `cursor` are ignored),
/// oldest first, and records it in the audit trail (`audit.exported`, with the format and
/// the filters).
pub async fn export(
    ctx: &Ctx,
    db: &crate::Db,
    query: AuditQuery,
    format: ExportFormat,
) -> Result<Export> {
    let tenant_id = super::authorize_read(ctx)?;
    Outcome::read_opt(query.outcome.as_deref())?;
    // What was committed before the export began is in the chain, and so in the file.
    super::seal(db, tenant_id).await?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let upto = sqlx::query_scalar!(
        "select seq from audit_chain_heads where tenant_id = $1",
        tenant_id
    )
    .fetch_optional(tx.conn())
    .await?
    .unwrap_or(0);
    tx.record(Change {
        action: types::AUDIT_EXPORTED,
        target_type: "audit",
        target_id: None,
        before: None,
        after: Some(shapes::to_value(shapes::AuditExportedData {
            format,
            from: query.from.map(shapes::Time),
            to: query.to.map(shapes::Time),
            actor_id: query.actor_id,
            action: query.action.as_deref(),
            target_type: query.target_type.as_deref(),
            target_id: query.target_id,
            outcome: query.outcome.as_deref(),
            request_id: query.request_id.as_deref(),
            up_to_seq: Some(upto),
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(Export {
        format,
        started: false,
        tenant_id,
        query,
        upto,
        after: 0,
    })
}

impl Export {
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// The file's next text: its header and records, a chunk of records at a time, oldest
    /// first; `None` when the file is complete. Both doors stream exactly this.
    pub async fn next_text(&mut self, db: &crate::Db) -> Result<Option<String>> {
        let mut text = String::new();
        if !self.started {
            self.started = true;
            text.push_str(self.format.header());
        }
        let rows = self.next_chunk(db).await?;
        if rows.is_empty() && text.is_empty() {
            return Ok(None);
        }
        self.format.write(&mut text, &rows);
        Ok(Some(text))
    }

    /// The next records of the export, oldest first; empty when it is complete.
    pub async fn next_chunk(&mut self, db: &crate::Db) -> Result<Vec<AuditRecord>> {
        if self.after >= self.upto {
            return Ok(Vec::new());
        }
        let mut tx = db.read_in(self.tenant_id).await?;
        let mut q = super::select_sealed(self.tenant_id);
        self.query.push_filters(&mut q)?;
        q.push(" and a.seq > ").push_bind(self.after);
        q.push(" and a.seq <= ").push_bind(self.upto);
        q.push(" order by a.seq limit ")
            .push_bind(i64::from(EXPORT_CHUNK));
        let mut rows: Vec<AuditRecord> = q.build_query_as().fetch_all(tx.conn()).await?;
        super::present(&mut tx, &mut rows).await?;
        self.after = match rows.last() {
            Some(last) if rows.len() == EXPORT_CHUNK as usize => last.seq,
            _ => self.upto,
        };
        Ok(rows)
    }
}

/// One CSV field of an export: quoted when it holds a comma, a quote or a line break (RFC
/// 4180), and neutralised when a spreadsheet would run it as a formula (it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return): a leading `'` makes it text. An audit record
/// holds what callers typed (names, emails, metadata), so an export must not become a way
/// to run something on an auditor's machine.
pub fn csv_field(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || value.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            id: Uuid::nil(),
            seq: 3,
            actor_type: "identity".into(),
            actor_id: None,
            actor_label: Some("Ada, Countess".into()),
            action: "identity.updated".into(),
            target_type: "identity".into(),
            target_id: None,
            outcome: Outcome::Success,
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
        ExportFormat::Csv.write(&mut out, &[record()]);
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
        let mut text = String::new();
        ExportFormat::JsonLines.write(&mut text, &[record(), record()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["seq"], 3);
        assert_eq!(v["outcome"], "success");
        assert_eq!(v["occurred_at"], "2026-01-02T10:00:03Z");
        assert_eq!(v["hash"], "ab01");
        assert_eq!(v["after"], serde_json::Value::Null);
    }

    fn field(v: &str) -> String {
        let mut out = String::new();
        csv_field(&mut out, v);
        out
    }

    #[test]
    fn formulas_are_neutralised_and_only_what_must_be_is_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "\"'+1\"");
        assert_eq!(field("-2"), "\"'-2\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("\tcmd"), "\"'\tcmd\"");
        assert_eq!(field("a=b"), "a=b");
    }
}
