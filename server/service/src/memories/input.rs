//! What a memory may be: the checks of new memories and changes.

use super::*;

/// A new memory. Without `ttl_seconds`, `expires_at` or `never_expires`, the tenant's
/// default TTL applies (if it has one).
#[derive(Debug, Clone, Default)]
pub struct NewMemory {
    pub owner_id: Option<Uuid>,
    pub text: String,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    pub importance: Option<f32>,
    pub ttl_seconds: Option<i64>,
    pub expires_at: Option<OffsetDateTime>,
    /// Keep it until deleted, whatever the tenant's default.
    pub never_expires: bool,
}

/// Changes to a memory; `None` keeps a field. A new `text` is embedded again.
#[derive(Debug, Clone, Default)]
pub struct MemoryPatch {
    pub owner_id: Option<Option<Uuid>>,
    pub text: Option<String>,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    pub importance: Option<Option<f32>>,
    /// Expire this long from now.
    pub ttl_seconds: Option<i64>,
    /// `Some(None)` makes the memory permanent.
    pub expires_at: Option<Option<OffsetDateTime>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Valid {
    pub owner_id: Option<Uuid>,
    pub text: String,
    pub hash: Vec<u8>,
    pub metadata: Value,
    pub tags: Vec<String>,
    pub source: String,
    pub importance: Option<f32>,
    /// `None`: no expiry, or the tenant's default when `tenant_default` is set.
    pub expires_at: Option<OffsetDateTime>,
    /// A new memory that named no expiry: the tenant's default TTL applies.
    pub tenant_default: bool,
}

pub(crate) fn content_hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

pub(super) fn check_text(field: &str, text: &str, errors: &mut Vec<FieldError>) -> String {
    let text = text.trim();
    if text.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "A memory needs some text.",
        ));
    } else if text.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("A memory holds at most {MAX_TEXT_CHARS} characters."),
        ));
    } else if text.contains('\0') {
        errors.push(FieldError::new(
            field,
            "invalid_value",
            "The text contains a NUL character.",
        ));
    }
    text.to_owned()
}

pub(crate) fn check_tags(
    field: &str,
    tags: &[String],
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty()
            || tag.chars().count() > MAX_TAG_CHARS
            || tag.chars().any(char::is_control)
        {
            errors.push(FieldError::new(
                field,
                "invalid_tag",
                format!("Each tag is 1-{MAX_TAG_CHARS} printable characters."),
            ));
            return out;
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    if out.len() > MAX_TAGS {
        errors.push(FieldError::new(
            field,
            "too_many",
            format!("A memory has at most {MAX_TAGS} tags."),
        ));
    }
    out
}

pub(crate) fn check_metadata(field: &str, metadata: &Value, errors: &mut Vec<FieldError>) {
    if !metadata.is_object() {
        errors.push(FieldError::new(
            field,
            "invalid_value",
            "Metadata is a JSON object.",
        ));
    } else if metadata.to_string().len() > MAX_METADATA_BYTES {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!(
                "Metadata is at most {} KiB of JSON.",
                MAX_METADATA_BYTES / 1024
            ),
        ));
    }
}

pub(super) fn check_source(field: &str, source: &str, errors: &mut Vec<FieldError>) -> String {
    let source = source.trim();
    if source.chars().count() > 200 {
        errors.push(FieldError::new(
            field,
            "too_long",
            "The source is at most 200 characters.",
        ));
    }
    source.to_owned()
}

pub(super) fn check_importance(field: &str, importance: Option<f32>, errors: &mut Vec<FieldError>) {
    if let Some(i) = importance
        && !(0.0..=1.0).contains(&i)
    {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            "Importance is between 0 and 1.",
        ));
    }
}

pub(super) fn check_expiry(
    prefix: &str,
    ttl_seconds: Option<i64>,
    expires_at: Option<OffsetDateTime>,
    errors: &mut Vec<FieldError>,
) -> Option<OffsetDateTime> {
    let now = OffsetDateTime::now_utc();
    match (ttl_seconds, expires_at) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                &format!("{prefix}ttl_seconds"),
                "conflicting",
                "Give ttl_seconds or expires_at, not both.",
            ));
            None
        }
        (Some(ttl), None) => {
            if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
                errors.push(FieldError::new(
                    &format!("{prefix}ttl_seconds"),
                    "out_of_range",
                    "The TTL is between 1 second and 10 years.",
                ));
                None
            } else {
                Some(now + time::Duration::seconds(ttl))
            }
        }
        (None, Some(at)) => {
            if at <= now {
                errors.push(FieldError::new(
                    &format!("{prefix}expires_at"),
                    "in_the_past",
                    "The expiry must be in the future.",
                ));
            }
            Some(at)
        }
        (None, None) => None,
    }
}

/// Checks a new memory; `prefix` names the item in a bulk request (`items.3.`).
pub(crate) fn validate_new(input: &NewMemory, prefix: &str, errors: &mut Vec<FieldError>) -> Valid {
    let f = |name: &str| format!("{prefix}{name}");
    let text = check_text(&f("text"), &input.text, errors);
    let metadata = input.metadata.clone().unwrap_or_else(|| json!({}));
    check_metadata(&f("metadata"), &metadata, errors);
    let tags = check_tags(
        &f("tags"),
        input.tags.as_deref().unwrap_or_default(),
        errors,
    );
    let source = check_source(
        &f("source"),
        input.source.as_deref().unwrap_or_default(),
        errors,
    );
    check_importance(&f("importance"), input.importance, errors);
    let expires_at = check_expiry(prefix, input.ttl_seconds, input.expires_at, errors);
    let named = input.ttl_seconds.is_some() || input.expires_at.is_some();
    if input.never_expires && named {
        errors.push(FieldError::new(
            &f("never_expires"),
            "conflicting",
            "A memory that never expires has no ttl_seconds or expires_at.",
        ));
    }
    Valid {
        owner_id: input.owner_id,
        hash: content_hash(&text),
        text,
        metadata,
        tags,
        source,
        importance: input.importance,
        expires_at,
        tenant_default: !named && !input.never_expires,
    }
}

pub(super) fn into_result<T>(value: T, errors: Vec<FieldError>) -> Result<T> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(Error::Validation(errors))
    }
}

/// Fails unless every owner named is an identity of the tenant.
pub(super) async fn check_owners_exist(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    owners: &[(usize, Uuid)],
    prefix: impl Fn(usize) -> String,
) -> Result<()> {
    if owners.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = owners.iter().map(|(_, id)| *id).collect();
    let known = sqlx::query_scalar!(
        "select id from identities where tenant_id = $1 and id = any($2)",
        tenant_id,
        &ids
    )
    .fetch_all(conn)
    .await?;
    let known: std::collections::HashSet<Uuid> = known.into_iter().collect();
    let errors: Vec<FieldError> = owners
        .iter()
        .filter(|(_, id)| !known.contains(id))
        .map(|(i, _)| {
            FieldError::new(
                &format!("{}owner_id", prefix(*i)),
                "unknown_identity",
                "The owner is not an identity of this tenant.",
            )
        })
        .collect();
    into_result((), errors)
}
