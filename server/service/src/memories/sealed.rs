//! A memory's text sealed (docs/data-protection.md, step 3).
//!
//! * The text is an envelope under its owner's key (the subject key, so erasing the owner
//!   makes it unreadable even before the row is deleted), or under the tenant's data key
//!   for a memory without an owner; the envelope's place is `memories.text` of its row.
//! * The keyword index (`search`) is derived data kept beside it: the lexemes PostgreSQL's
//!   `english` configuration makes of the text, each replaced by a keyed hash
//!   ([`keyed_lexeme`]), with their positions, so a search ranks as before. A query is
//!   parsed by the same configuration and its lexemes replaced the same way
//!   ([`Query::prepare`]); neither the text nor its words are stored in the clear.
//! * The dedupe hash is keyed ([`content_hash`]), so it confirms no guess of a text.
//! * Rows written before sealing keep `text` in the clear (and a plain `search`, kept by a
//!   trigger) and are read as they are; every search also matches them.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Memory;
use crate::error::{Error, Result};
use crate::privacy::envelope::{Key, Place};
use crate::privacy::keys::{Keyring, TenantKeys};

/// The blind index domain of keyword lexemes.
const LEXEMES: &str = "memories.search";
/// The blind index domain of the dedupe hash.
const TEXTS: &str = "memories.text";

/// The columns of [`Row`] on the alias `m`, for queries built at run time: the memory's,
/// its sealed text and its owner's wrapped key.
pub(crate) const COLUMNS: &str = "m.id, m.owner_id, m.text, m.text_sealed, \
    (select k.wrapped from subject_keys k where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key, \
    m.metadata, m.tags, m.source, m.importance, m.embedding_model, m.embedding_dim, \
    m.created_at, m.updated_at, m.expires_at, m.deleted_at";

fn place(tenant: Uuid, id: Uuid) -> Place<'static> {
    Place {
        tenant,
        table: "memories",
        column: "text",
        row: id,
    }
}

/// A memory as its row stores it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Row {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub text: Option<String>,
    pub text_sealed: Option<Vec<u8>>,
    /// The owner's key, wrapped by the tenant's data key.
    pub owner_key: Option<Vec<u8>>,
    pub metadata: serde_json::Value,
    pub tags: Vec<String>,
    pub source: String,
    pub importance: Option<f32>,
    pub embedding_model: String,
    pub embedding_dim: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
}

/// A memory's text as its row stores it, not opened yet.
#[derive(Debug)]
pub(crate) struct Unopened {
    text: Option<String>,
    text_sealed: Option<Vec<u8>>,
    owner_key: Option<Vec<u8>>,
}

impl Unopened {
    /// The text of memory `id` (owned by `owner`), opened with `keys` when sealed (`keys`
    /// may be `None` only for a row that is not).
    pub(crate) fn open(
        self,
        keys: Option<&TenantKeys>,
        tenant: Uuid,
        id: Uuid,
        owner: Option<Uuid>,
    ) -> Result<String> {
        let sealed = match (self.text_sealed, self.text) {
            (None, Some(text)) => return Ok(text),
            (Some(sealed), _) => sealed,
            (None, None) => return Err(Error::Internal(format!("memory {id} has no text"))),
        };
        let keys = keys.ok_or_else(|| {
            Error::Internal(format!("memory {id} is sealed and was read without keys"))
        })?;
        match (owner, self.owner_key) {
            (None, _) => String::from_utf8(keys.open(place(tenant, id), &sealed)?)
                .map_err(|_| Error::Internal("a sealed memory is not UTF-8".into())),
            (Some(owner), Some(wrapped)) => {
                let key = keys.unwrap_subject_key(owner, &wrapped)?;
                keys.open_for_subject(&key, place(tenant, id), &sealed)
            }
            (Some(_), None) => Err(Error::Internal(format!(
                "memory {id} is sealed but its owner has no key"
            ))),
        }
    }
}

impl Row {
    fn is_sealed(&self) -> bool {
        self.text_sealed.is_some()
    }

    /// The memory with an empty text, and what opens the text: for a search, which reads
    /// more candidates than it keeps and opens only the hits it keeps.
    pub(crate) fn split(self) -> (Memory, Unopened) {
        let unopened = Unopened {
            text: self.text,
            text_sealed: self.text_sealed,
            owner_key: self.owner_key,
        };
        let memory = Memory {
            id: self.id,
            owner_id: self.owner_id,
            text: String::new(),
            metadata: self.metadata,
            tags: self.tags,
            source: self.source,
            importance: self.importance,
            embedding_model: self.embedding_model,
            embedding_dim: self.embedding_dim,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            deleted_at: self.deleted_at,
        };
        (memory, unopened)
    }

    /// The memory, its text opened with `keys` when sealed (`keys` may be `None` only for
    /// a row that is not).
    pub(crate) fn open(self, keys: Option<&TenantKeys>, tenant: Uuid) -> Result<Memory> {
        let (mut memory, unopened) = self.split();
        memory.text = unopened.open(keys, tenant, memory.id, memory.owner_id)?;
        Ok(memory)
    }
}

/// Opens `rows` of `tenant`, reading the tenant's keys (in `conn`) only when one is sealed.
pub(crate) async fn open_all(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant: Uuid,
    rows: Vec<Row>,
) -> Result<Vec<Memory>> {
    let keys = if rows.iter().any(Row::is_sealed) {
        Some(keyring.tenant_in(conn, tenant).await?)
    } else {
        None
    };
    rows.into_iter()
        .map(|r| r.open(keys.as_deref(), tenant))
        .collect()
}

/// Opens one row (see [`open_all`]).
pub(crate) async fn open_one(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant: Uuid,
    row: Row,
) -> Result<Memory> {
    let keys = if row.is_sealed() {
        Some(keyring.tenant_in(conn, tenant).await?)
    } else {
        None
    };
    row.open(keys.as_deref(), tenant)
}

/// The key a memory of `owner` is sealed under: the owner's (made when it has none yet),
/// or `None` for the tenant's data key.
pub(crate) async fn owner_key(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    owner: Option<Uuid>,
) -> Result<Option<Key>> {
    match owner {
        Some(owner) => crate::identities::sealed::subject_key(conn, keys, tenant, owner)
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// Memory `id`'s text sealed under `key` (see [`owner_key`]).
pub(crate) fn seal(
    keys: &TenantKeys,
    key: Option<&Key>,
    tenant: Uuid,
    id: Uuid,
    text: &str,
) -> Vec<u8> {
    match key {
        Some(key) => keys.seal_for_subject(key, place(tenant, id), text.as_bytes()),
        None => keys.seal(place(tenant, id), text.as_bytes()),
    }
}

/// Memory `id`'s text sealed under the tenant's data key, sealed again under the version
/// that seals now (a rotation; see `privacy::keyjobs`).
pub(crate) fn reseal(keys: &TenantKeys, tenant: Uuid, id: Uuid, sealed: &[u8]) -> Result<Vec<u8>> {
    keys.reseal(place(tenant, id), sealed)
}

/// Seals up to `limit` memories that still hold their text in plain text (written before
/// field-level encryption): the text under its owner's key, a keyed keyword index and
/// dedupe hash in place of the plain ones, the embedding kept. Rows another transaction
/// holds are skipped; returns how many it sealed. Not a change of the memory.
pub(crate) async fn seal_plain(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant: Uuid,
    limit: i64,
) -> Result<u64> {
    let rows = sqlx::query!(
        r#"select id, owner_id, text as "text!" from memories
           where tenant_id = $1 and text is not null
           order by id limit $2 for update skip locked"#,
        tenant,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let searches = search_vectors(&mut *conn, keys, &texts).await?;
    for (r, search) in rows.iter().zip(searches) {
        let key = owner_key(&mut *conn, keys, tenant, r.owner_id).await?;
        let sealed = seal(keys, key.as_ref(), tenant, r.id, &r.text);
        sqlx::query!(
            "update memories
             set text = null, text_sealed = $3, search = $4::text::tsvector, content_hash = $5
             where tenant_id = $1 and id = $2",
            tenant,
            r.id,
            sealed,
            search,
            content_hash(keys, &r.text)
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len() as u64)
}

/// The dedupe hash of a sealed memory's (checked, trimmed) text: keyed, so equal texts of
/// one tenant match and nobody holding only the database can test a guess.
pub(crate) fn content_hash(keys: &TenantKeys, text: &str) -> Vec<u8> {
    keys.blind_index(TEXTS, text)
}

/// A lexeme's keyed form: the first 8 bytes of its blind index, in hex.
fn keyed_lexeme(keys: &TenantKeys, lexeme: &str) -> String {
    let mac = keys.blind_index(LEXEMES, lexeme);
    mac[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The keyed keyword index of each of `texts` (a `tsvector` in its text form), from the
/// lexemes and positions PostgreSQL's `english` configuration gives them (one statement
/// for all).
pub(crate) async fn search_vectors(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    texts: &[&str],
) -> Result<Vec<String>> {
    let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
    let rows = sqlx::query!(
        r#"select x.ord as "ord!", l.lexeme as "lexeme!", l.positions::int4[] as "positions!"
           from unnest($1::text[]) with ordinality as x(t, ord),
                unnest(to_tsvector('english', x.t)) as l"#,
        &texts
    )
    .fetch_all(conn)
    .await?;
    let mut out = vec![String::new(); texts.len()];
    for r in rows {
        let i = usize::try_from(r.ord - 1).map_err(|e| Error::internal("lexeme order", e))?;
        let v = out
            .get_mut(i)
            .ok_or_else(|| Error::Internal("a lexeme of no text".into()))?;
        let positions: Vec<String> = r.positions.iter().map(i32::to_string).collect();
        if !v.is_empty() {
            v.push(' ');
        }
        v.push('\'');
        v.push_str(&keyed_lexeme(keys, &r.lexeme));
        v.push_str("':");
        v.push_str(&positions.join(","));
    }
    Ok(out)
}

/// Queries kept by [`QueryWords`].
const QUERY_WORDS: usize = 10_000;

/// Recent searches' words ([`Query`]) by tenant, mode and query text (whitespace runs read
/// as one space), so a repeated search asks PostgreSQL nothing before its ranking query.
/// What is kept never changes: a tenant's blind key is never rotated, and the parse is
/// PostgreSQL's fixed `english` configuration.
pub struct QueryWords {
    kept: std::sync::Mutex<hashlink::LruCache<(Uuid, bool, String), std::sync::Arc<Query>>>,
}

impl Default for QueryWords {
    fn default() -> Self {
        QueryWords {
            kept: std::sync::Mutex::new(hashlink::LruCache::new(QUERY_WORDS)),
        }
    }
}

impl std::fmt::Debug for QueryWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryWords").finish_non_exhaustive()
    }
}

impl QueryWords {
    /// The words of `query` for `tenant` (see [`Query::prepare`]), kept or parsed now.
    pub(crate) async fn get(
        &self,
        conn: &mut PgConnection,
        keys: &TenantKeys,
        tenant: Uuid,
        query: &str,
        any_word: bool,
    ) -> Result<std::sync::Arc<Query>> {
        let key = (
            tenant,
            any_word,
            query.split_whitespace().collect::<Vec<_>>().join(" "),
        );
        if let Some(q) = self.lock().get(&key) {
            return Ok(q.clone());
        }
        let q = std::sync::Arc::new(Query::prepare(conn, keys, &key.2, any_word).await?);
        self.lock().insert(key, q.clone());
        Ok(q)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, hashlink::LruCache<(Uuid, bool, String), std::sync::Arc<Query>>>
    {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A search's words, ready for both kinds of rows.
pub(crate) struct Query {
    /// The query in web-search syntax (keyword mode) or any of its words (hybrid), as a
    /// `tsquery` whose lexemes are keyed: what matches sealed rows.
    pub keyed: String,
    /// The same, in the clear, for rows not sealed yet.
    pub plain: String,
    /// The query's words as full-text search stems them, for marking them in hits.
    pub words: Vec<String>,
}

impl Query {
    /// Parses `query` with PostgreSQL's `english` configuration and keys its lexemes.
    pub(crate) async fn prepare(
        conn: &mut PgConnection,
        keys: &TenantKeys,
        query: &str,
        any_word: bool,
    ) -> Result<Query> {
        let row = sqlx::query!(
            r#"select case when $2 then replace(plainto_tsquery('english', $1)::text, ' & ', ' | ')
                           else websearch_to_tsquery('english', $1)::text end as "tq!",
                      tsvector_to_array(to_tsvector('english', $1)) as "words!""#,
            query,
            any_word
        )
        .fetch_one(conn)
        .await?;
        Ok(Query {
            keyed: rewrite_lexemes(&row.tq, |l| keyed_lexeme(keys, l)),
            plain: row.tq,
            words: row.words,
        })
    }
}

/// `tsquery` text with each quoted lexeme replaced by `f` of it (operators, phrase
/// distances, prefixes and weights kept). Lexemes are quoted as PostgreSQL prints them:
/// `'` and `\` doubled.
fn rewrite_lexemes(tsquery: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(tsquery.len() * 2);
    let mut chars = tsquery.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            out.push(c);
            continue;
        }
        let mut lexeme = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    lexeme.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(next) = chars.next() {
                        lexeme.push(next);
                    }
                }
                c => lexeme.push(c),
            }
        }
        out.push('\'');
        out.push_str(&f(&lexeme));
        out.push('\'');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_keeps_its_operators_and_loses_its_words() {
        let upper = |l: &str| l.to_uppercase().replace('\'', "q");
        assert_eq!(
            rewrite_lexemes("'deploy' & !'prod' | 'roll' <-> 'back':*", upper),
            "'DEPLOY' & !'PROD' | 'ROLL' <-> 'BACK':*"
        );
        assert_eq!(
            rewrite_lexemes("'o''neil' <2> 'a\\\\b'", upper),
            "'OqNEIL' <2> 'A\\B'"
        );
        assert_eq!(rewrite_lexemes("", upper), "");
    }

    #[test]
    fn sealed_text_opens_in_its_row_only() {
        let tenant = Uuid::now_v7();
        let keys = TenantKeys::for_tests(tenant);
        let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = seal(&keys, None, tenant, id, "the canary sings");
        assert_eq!(
            keys.open(place(tenant, id), &sealed).unwrap(),
            b"the canary sings"
        );
        assert!(keys.open(place(tenant, other), &sealed).is_err());
        let (key, _) = keys.new_subject_key(Uuid::now_v7());
        let sealed = seal(&keys, Some(&key), tenant, id, "mine");
        assert_eq!(
            keys.open_for_subject(&key, place(tenant, id), &sealed)
                .unwrap(),
            "mine"
        );
        assert!(keys.open(place(tenant, id), &sealed).is_err());
        // Equal words and texts match; the keyed forms do not hold them.
        assert_eq!(keyed_lexeme(&keys, "canari"), keyed_lexeme(&keys, "canari"));
        assert_ne!(keyed_lexeme(&keys, "canari"), keyed_lexeme(&keys, "sing"));
        assert_eq!(keyed_lexeme(&keys, "canari").len(), 16);
        assert_eq!(content_hash(&keys, "a"), content_hash(&keys, "a"));
        let elsewhere = TenantKeys::for_tests(tenant);
        assert_ne!(content_hash(&keys, "a"), content_hash(&elsewhere, "a"));
    }
}
