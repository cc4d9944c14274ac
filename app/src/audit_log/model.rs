//! Wire types of the Audit trail screen, and the pure helpers its pages share: the filters
//! as they travel in the address, the before/after diff, times and counts in words, and
//! what a broken link of the chain means.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One audit record as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecordView {
    pub id: String,
    /// Its place in the tenant's hash chain.
    pub seq: i64,
    /// `identity`, `api_key`, `super_admin`, `system` or `anonymous`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// The actor's name or email, while the actor exists.
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// "2026-01-02 10:00:03 UTC".
    pub occurred_at: String,
    /// RFC 3339, for `<time datetime>`.
    pub occurred_iso: String,
    /// How long ago ("3 minutes ago"), as of when the page was loaded.
    pub occurred_ago: String,
    /// SHA-256 of the record and the one before it, hex.
    pub hash: String,
}

impl AuditRecordView {
    /// Who acted, in words.
    pub fn actor_name(&self) -> String {
        actor_words(
            &self.actor_type,
            self.actor_id.as_deref(),
            self.actor_label.as_deref(),
        )
    }

    /// What it was done to: "identity 5f0c9e21", or just the kind.
    pub fn target_label(&self) -> String {
        match &self.target_id {
            Some(id) => format!("{} {}", self.target_type, short_id(id)),
            None => self.target_type.clone(),
        }
    }

    /// The console page of the target, for the kinds that have one.
    pub fn target_href(&self) -> Option<String> {
        object_href(&self.target_type, self.target_id.as_deref()?)
    }

    /// The first characters of the hash; the page puts the whole of it in a `title`.
    pub fn short_hash(&self) -> String {
        let cut: String = self.hash.chars().take(12).collect();
        if cut.len() < self.hash.len() {
            format!("{cut}…")
        } else {
            cut
        }
    }
}

/// Who acted, in words, from the actor's kind, id and (while it exists) name; the Events
/// screen says it the same way.
pub fn actor_words(actor_type: &str, actor_id: Option<&str>, label: Option<&str>) -> String {
    let short = || actor_id.map(short_id).unwrap_or_default();
    match (actor_type, label) {
        ("identity", Some(label)) => label.to_owned(),
        ("identity", None) if actor_id.is_some() => format!("a deleted identity ({})", short()),
        ("api_key", _) if actor_id.is_some() => format!("API key {}", short()),
        ("api_key", _) => "an API key".to_owned(),
        ("super_admin", _) => "the super-admin".to_owned(),
        ("anonymous", _) => "someone not signed in".to_owned(),
        _ => "Tenantry".to_owned(),
    }
}

/// The console page of an object of `kind`, for the kinds that have one.
pub fn object_href(kind: &str, id: &str) -> Option<String> {
    let area = match kind {
        "identity" => "identities",
        "memory" => "memories",
        "role" => "roles",
        "group" => "groups",
        "policy" => "policies",
        _ => return None,
    };
    Some(format!("/{area}/{id}"))
}

/// The last 8 characters of an id: enough to tell things apart on a page. Not the first:
/// ids are UUIDv7, whose first characters are the time they were made, alike for everything
/// made in the same minute.
pub fn short_id(id: &str) -> String {
    let n = id.chars().count();
    id.chars().skip(n.saturating_sub(8)).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPageView {
    pub items: Vec<AuditRecordView>,
    pub next_cursor: Option<String>,
}

/// A record with what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDetail {
    pub record: AuditRecordView,
    pub changes: Changes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiffKind {
    Added,
    Removed,
    Changed,
    Same,
}

impl DiffKind {
    pub fn label(self) -> &'static str {
        match self {
            DiffKind::Added => "added",
            DiffKind::Removed => "removed",
            DiffKind::Changed => "changed",
            DiffKind::Same => "unchanged",
        }
    }
}

/// One field of a before/after pair; values as [`show`] writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRow {
    pub field: String,
    pub kind: DiffKind,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What a record says changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Changes {
    /// Both a before and an after: a row per field, sorted by name.
    Diff(Vec<DiffRow>),
    /// Only an after: what was created, or the details of a sign-in or a refusal.
    Details(Vec<(String, String)>),
    /// Only a before: what was removed.
    Removed(Vec<(String, String)>),
    /// Neither.
    Nothing,
}

/// A JSON value for people: strings without their quotes (an empty one as `""`), the rest
/// as JSON, nested values pretty-printed.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "\"\"".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => {
            serde_json::to_string_pretty(value).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// The fields of a value: an object's keys in order, anything else as one field `value`.
fn fields(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(map) => {
            let keys: BTreeSet<&String> = map.keys().collect();
            keys.into_iter()
                .map(|k| (k.clone(), show(&map[k.as_str()])))
                .collect()
        }
        other => vec![("value".to_owned(), show(other))],
    }
}

/// Compares a record's before and after field by field (top-level keys; a nested value
/// that differs anywhere is one changed field). A JSON null counts as absent.
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Changes {
    let before = before.filter(|v| !v.is_null());
    let after = after.filter(|v| !v.is_null());
    match (before, after) {
        (None, None) => Changes::Nothing,
        (None, Some(a)) => Changes::Details(fields(a)),
        (Some(b), None) => Changes::Removed(fields(b)),
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            Changes::Diff(
                keys.into_iter()
                    .map(|k| {
                        let (old, new) = (b.get(k.as_str()), a.get(k.as_str()));
                        let kind = match (old, new) {
                            (None, _) => DiffKind::Added,
                            (_, None) => DiffKind::Removed,
                            (Some(o), Some(n)) if o == n => DiffKind::Same,
                            _ => DiffKind::Changed,
                        };
                        DiffRow {
                            field: k.clone(),
                            kind,
                            before: old.map(show),
                            after: new.map(show),
                        }
                    })
                    .collect(),
            )
        }
        (Some(b), Some(a)) => Changes::Diff(vec![DiffRow {
            field: "value".to_owned(),
            kind: if a == b {
                DiffKind::Same
            } else {
                DiffKind::Changed
            },
            before: Some(show(b)),
            after: Some(show(a)),
        }]),
    }
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationView {
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub checked: i64,
    /// The first link that does not hold; `None`: intact.
    pub broken: Option<BrokenView>,
    /// How many records the chain has had so far.
    pub head_seq: i64,
    /// Records committed too recently to be in the chain yet, so not checked.
    pub unsealed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenView {
    pub seq: i64,
    /// The record at `seq`, when it still exists.
    pub id: Option<String>,
    /// `hash_mismatch`, `link_broken`, `missing` or `truncated`.
    pub reason: String,
}

impl VerificationView {
    /// The banner's sentence: "Chain intact: 1,204 records checked (seq 1–1,204)." or
    /// "Broken at record #17: …".
    pub fn summary(&self) -> String {
        let summary = self.checked_summary();
        match self.unsealed {
            0 => summary,
            n => format!(
                "{summary} {} written a moment ago {} not in the chain yet.",
                count(n, "record", "records"),
                if n == 1 { "is" } else { "are" }
            ),
        }
    }

    fn checked_summary(&self) -> String {
        match &self.broken {
            Some(b) => format!("Broken at record #{}: {}.", b.seq, reason_words(&b.reason)),
            None => match (self.from_seq, self.to_seq) {
                (Some(a), Some(b)) => format!(
                    "Chain intact: {} checked (seq {}–{}).",
                    count(self.checked, "record", "records"),
                    thousands(a),
                    thousands(b)
                ),
                _ => "Chain intact: there are no records to check yet.".to_owned(),
            },
        }
    }
}

/// What a broken link means, in words.
pub fn reason_words(reason: &str) -> &'static str {
    match reason {
        "hash_mismatch" => {
            "its content no longer matches its hash, so the record was changed after it was written"
        }
        "link_broken" => {
            "it does not point at the record before it, so an earlier record was changed or replaced"
        }
        "missing" => "the record is missing, so it was removed from the chain",
        "truncated" => {
            "the chain ends before its last recorded position, so the newest records were removed"
        }
        _ => "the chain does not hold here",
    }
}

/// A number with thousands separators: 12400 → "12,400".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 record", "12,400 records".
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// How long ago a moment `seconds` in the past was: "just now", "3 minutes ago", "2 days ago".
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    let unit = |n: i64, name: &str| {
        if n == 1 {
            format!("1 {name} ago")
        } else {
            format!("{n} {name}s ago")
        }
    };
    match s {
        0..=44 => "just now".to_owned(),
        45..=3_599 => unit((s / 60).max(1), "minute"),
        3_600..=86_399 => unit(s / 3_600, "hour"),
        86_400..=2_591_999 => unit(s / 86_400, "day"),
        2_592_000..=31_535_999 => unit(s / 2_592_000, "month"),
        _ => unit(s / 31_536_000, "year"),
    }
}

/// Outcomes of the filter: (value, label); empty is any.
pub const OUTCOMES: [(&str, &str); 4] = [
    ("", "Any outcome"),
    ("success", "Success"),
    ("failure", "Failure"),
    ("denied", "Denied"),
];

/// The kinds of target the service records, for the filter.
pub const TARGET_TYPES: [&str; 11] = [
    "api_key",
    "audit",
    "group",
    "identity",
    "invitation",
    "memory",
    "policy",
    "role",
    "session",
    "sso_provider",
    "tenant",
];

/// The filters of the trail as they travel in the address (and to the server functions):
/// each one empty or absent when not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<String>,
    pub request_id: Option<String>,
    /// A day, `YYYY-MM-DD` (UTC), included.
    pub from: Option<String>,
    /// A day, `YYYY-MM-DD` (UTC), included.
    pub to: Option<String>,
}

impl AuditFilter {
    pub const KEYS: [&'static str; 8] = [
        "actor",
        "action",
        "target_type",
        "target_id",
        "outcome",
        "request_id",
        "from",
        "to",
    ];

    /// Reads the filters with `get` (the query map), trimmed, skipping empty ones.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> AuditFilter {
        let value = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        AuditFilter {
            actor: value("actor"),
            action: value("action"),
            target_type: value("target_type"),
            target_id: value("target_id"),
            outcome: value("outcome"),
            request_id: value("request_id"),
            from: value("from"),
            to: value("to"),
        }
    }

    /// (key, value) pairs in [`Self::KEYS`] order, for query strings.
    pub fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let values = [
            &self.actor,
            &self.action,
            &self.target_type,
            &self.target_id,
            &self.outcome,
            &self.request_id,
            &self.from,
            &self.to,
        ];
        Self::KEYS
            .into_iter()
            .zip(values)
            .map(|(k, v)| (k, v.clone()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().iter().all(|(_, v)| v.is_none())
    }

    /// One filter's value, by its key.
    pub fn get(&self, key: &str) -> Option<String> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v)
    }

    /// The same filters with one of them changed (a link that narrows the list).
    pub fn with(&self, key: &str, value: Option<String>) -> AuditFilter {
        let mut f = self.clone();
        let slot = match key {
            "actor" => &mut f.actor,
            "action" => &mut f.action,
            "target_type" => &mut f.target_type,
            "target_id" => &mut f.target_id,
            "outcome" => &mut f.outcome,
            "request_id" => &mut f.request_id,
            "from" => &mut f.from,
            "to" => &mut f.to,
            _ => return f,
        };
        *slot = value;
        f
    }
}

#[cfg(feature = "ssr")]
mod query {
    use super::AuditFilter;

    fn invalid(field: &str, message: &str) -> service::Error {
        service::Error::validation(field, "invalid_value", message)
    }

    fn parse_uuid(
        field: &str,
        raw: Option<&str>,
        message: &str,
    ) -> service::Result<Option<uuid::Uuid>> {
        match raw.map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(None),
            Some(r) => uuid::Uuid::parse_str(r)
                .map(Some)
                .map_err(|_| invalid(field, message)),
        }
    }

    /// A day of the filter, `YYYY-MM-DD` (what `<input type="date">` sends).
    fn parse_day(field: &str, raw: Option<&str>) -> service::Result<Option<time::Date>> {
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
    impl TryFrom<AuditFilter> for service::audit_log::AuditQuery {
        type Error = service::Error;
        fn try_from(f: AuditFilter) -> service::Result<Self> {
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
    }
}

/// The two export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    JsonLines,
}

impl ExportFormat {
    /// The `format` parameter of the export.
    pub fn param(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::JsonLines => "jsonl",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::JsonLines => "JSON Lines",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "audit.csv",
            ExportFormat::JsonLines => "audit.jsonl",
        }
    }

    /// The saved file's type (the browser builds the file from the streamed text).
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::JsonLines => "application/x-ndjson",
        }
    }

    /// How many records `lines` complete lines hold: a CSV export starts with its header.
    pub fn records(self, lines: i64) -> i64 {
        match self {
            ExportFormat::Csv => (lines - 1).max(0),
            ExportFormat::JsonLines => lines.max(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> AuditRecordView {
        AuditRecordView {
            id: "0193a1b2-0000-7000-8000-000000000001".into(),
            seq: 7,
            actor_type: "identity".into(),
            actor_id: Some("0193ffee-0000-7000-8000-000000000002".into()),
            actor_label: Some("Ada".into()),
            action: "identity.updated".into(),
            target_type: "identity".into(),
            target_id: Some("0193cccc-0000-7000-8000-000000000003".into()),
            outcome: "success".into(),
            request_id: None,
            ip: None,
            user_agent: None,
            occurred_at: String::new(),
            occurred_iso: String::new(),
            occurred_ago: String::new(),
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn objects_are_compared_field_by_field() {
        let before = json!({"name": "Ada", "email": "a@x.test", "meta": {"team": "x"}, "gone": 1});
        let after =
            json!({"name": "Ada King", "email": "a@x.test", "meta": {"team": "y"}, "new": ""});
        let Changes::Diff(rows) = changes(Some(&before), Some(&after)) else {
            panic!("a diff");
        };
        let kinds: Vec<(&str, DiffKind)> =
            rows.iter().map(|r| (r.field.as_str(), r.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("email", DiffKind::Same),
                ("gone", DiffKind::Removed),
                ("meta", DiffKind::Changed),
                ("name", DiffKind::Changed),
                ("new", DiffKind::Added),
            ]
        );
        let name = &rows[3];
        assert_eq!(name.before.as_deref(), Some("Ada"));
        assert_eq!(name.after.as_deref(), Some("Ada King"));
        assert_eq!(rows[4].after.as_deref(), Some("\"\""));
        assert!(rows[2].after.as_deref().unwrap().contains('\n'));
        assert_eq!(rows[1].after, None);
    }

    #[test]
    fn one_sided_records_list_their_fields() {
        let detail = json!({"reason": "no role grants it", "permission": "audit:read"});
        assert_eq!(
            changes(None, Some(&detail)),
            Changes::Details(vec![
                ("permission".into(), "audit:read".into()),
                ("reason".into(), "no role grants it".into()),
            ])
        );
        assert_eq!(
            changes(Some(&json!({"a": null})), Some(&Value::Null)),
            Changes::Removed(vec![("a".into(), "null".into())])
        );
        assert_eq!(changes(None, None), Changes::Nothing);
        assert_eq!(
            changes(Some(&json!(1)), Some(&json!([2]))),
            Changes::Diff(vec![DiffRow {
                field: "value".into(),
                kind: DiffKind::Changed,
                before: Some("1".into()),
                after: Some("[\n  2\n]".into()),
            }])
        );
    }

    #[test]
    fn verification_reads_as_a_sentence() {
        let mut v = VerificationView {
            from_seq: Some(1),
            to_seq: Some(12_400),
            checked: 12_400,
            broken: None,
            head_seq: 12_400,
            unsealed: 0,
        };
        assert_eq!(
            v.summary(),
            "Chain intact: 12,400 records checked (seq 1–12,400)."
        );
        v.broken = Some(BrokenView {
            seq: 17,
            id: None,
            reason: "missing".into(),
        });
        assert!(
            v.summary()
                .starts_with("Broken at record #17: the record is missing")
        );
        let empty = VerificationView {
            from_seq: None,
            to_seq: None,
            checked: 0,
            broken: None,
            head_seq: 0,
            unsealed: 0,
        };
        assert!(empty.summary().starts_with("Chain intact"));
        let waiting = VerificationView {
            unsealed: 2,
            ..empty
        };
        assert_eq!(
            waiting.summary(),
            "Chain intact: there are no records to check yet. \
             2 records written a moment ago are not in the chain yet."
        );
    }

    #[test]
    fn numbers_and_times_read_as_words() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_400), "-12,400");
        assert_eq!(count(1, "record", "records"), "1 record");
        assert_eq!(count(0, "record", "records"), "0 records");
        assert_eq!(ago(-5), "just now");
        assert_eq!(ago(30), "just now");
        assert_eq!(ago(50), "1 minute ago");
        assert_eq!(ago(3 * 60 + 5), "3 minutes ago");
        assert_eq!(ago(2 * 3_600), "2 hours ago");
        assert_eq!(ago(86_400), "1 day ago");
        assert_eq!(ago(40 * 86_400), "1 month ago");
        assert_eq!(ago(800 * 86_400), "2 years ago");
    }

    #[test]
    fn filters_travel_in_the_address() {
        let q = [
            ("action", " identity.* "),
            ("outcome", ""),
            ("to", "2026-01-31"),
        ];
        let f = AuditFilter::read(|k| {
            q.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        });
        assert_eq!(f.action.as_deref(), Some("identity.*"));
        assert_eq!(f.outcome, None);
        assert!(!f.is_empty());
        assert_eq!(
            crate::components::url::query_string(&f.pairs()),
            "?action=identity.%2A&to=2026-01-31"
        );
        let narrowed = f.with("request_id", Some("r-1".into()));
        assert_eq!(narrowed.request_id.as_deref(), Some("r-1"));
        assert_eq!(narrowed.get("request_id").as_deref(), Some("r-1"));
        assert_eq!(narrowed.get("actor"), None);
        assert!(AuditFilter::default().is_empty());
    }

    #[test]
    fn records_describe_their_actor_and_target() {
        let mut r = record();
        assert_eq!(r.actor_name(), "Ada");
        assert_eq!(r.target_label(), "identity 00000003");
        assert_eq!(
            r.target_href().as_deref(),
            Some("/identities/0193cccc-0000-7000-8000-000000000003")
        );
        assert_eq!(r.short_hash(), "abababababab…");
        r.actor_label = None;
        assert_eq!(r.actor_name(), "a deleted identity (00000002)");
        r.actor_type = "system".into();
        r.actor_id = None;
        assert_eq!(r.actor_name(), "Tenantry");
        r.target_type = "tenant".into();
        assert_eq!(r.target_href(), None);
    }

    #[test]
    fn exports_count_records_by_lines() {
        assert_eq!(ExportFormat::Csv.records(1), 0);
        assert_eq!(ExportFormat::Csv.records(0), 0);
        assert_eq!(ExportFormat::Csv.records(13), 12);
        assert_eq!(ExportFormat::JsonLines.records(12), 12);
    }
}
