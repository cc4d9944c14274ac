//! Finding memories: by meaning (cosine similarity of embeddings over an HNSW index), by
//! words (PostgreSQL full text), or both fused by reciprocal rank (hybrid, the default).
//!
//! Correct inside a tenant: `memories` is hash-partitioned by tenant, so a search reads the
//! HNSW graphs of its tenant's partition only, but a partition still holds several tenants,
//! and a filtered scan (`tenant_id = $1` and the caller's filters) would stop after
//! `ef_search` candidates and return too few neighbours for a small tenant beside large
//! ones. Searches therefore run with pgvector's iterative index scan
//! (`hnsw.iterative_scan = relaxed_order`: the scan goes on until enough rows pass the
//! filters; results are re-sorted by distance here), and when the index still yields fewer
//! than `top_k` rows the search is repeated exactly (a scan of the tenant's own rows, cheap
//! precisely because there are few of them).
//! docs/benchmarks.md has recall@10 and latency for a 100,000-memory tenant and for one
//! holding 1% of 1,000,000, before and after partitioning.

use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::sealed::{self, Query};
use super::{COLUMNS, Filter, Memory, Row, Scope, State};
use crate::authz::perm;
use crate::ctx::Ctx;
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::resource::visible;

/// Dimensions that have an HNSW index (see the memories migration).
pub const INDEXED_DIMENSIONS: [usize; 4] = [384, 768, 1024, 1536];
pub const MAX_TOP_K: u32 = 100;
pub const DEFAULT_TOP_K: u32 = 10;
/// Reciprocal-rank fusion's constant (Cormack et al.): a hit at rank r adds 1 / (60 + r).
const RRF_K: f32 = 60.0;
const MAX_QUERY_CHARS: usize = 2_000;
/// The most candidates one search reads while rules on each memory hide some of them.
const MAX_CANDIDATES: i64 = 2_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Hybrid,
    Semantic,
    Keyword,
}

impl crate::validation::Choice for Mode {
    const FIELD: &'static str = "mode";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("hybrid", Mode::Hybrid),
        ("semantic", Mode::Semantic),
        ("keyword", Mode::Keyword),
    ];
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hybrid => "hybrid",
            Mode::Semantic => "semantic",
            Mode::Keyword => "keyword",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    pub query: String,
    pub mode: Mode,
    pub top_k: Option<u32>,
    /// Semantic and hybrid: the least cosine similarity a semantic match needs (hybrid
    /// keeps keyword matches whatever their similarity). Keyword: the least rank (0-1).
    pub min_score: Option<f32>,
    pub filter: Filter,
    /// Search the Trash too.
    pub include_deleted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub memory: Memory,
    /// The mode's score: cosine similarity (semantic), normalized rank (keyword), or the
    /// fused reciprocal-rank score (hybrid). Higher is better.
    pub score: f32,
    pub semantic_score: Option<f32>,
    pub keyword_score: Option<f32>,
    /// Where the query's words occur in the text: `[start, end)` in characters.
    pub highlights: Vec<(usize, usize)>,
}

fn validate(input: &SearchInput) -> Result<(String, u32)> {
    let mut errors = Vec::new();
    let query = input.query.trim().to_owned();
    if query.is_empty() {
        errors.push(FieldError::new(
            "query",
            "required",
            "Type something to search for.",
        ));
    } else if query.chars().count() > MAX_QUERY_CHARS {
        errors.push(FieldError::new(
            "query",
            "too_long",
            format!("A query is at most {MAX_QUERY_CHARS} characters."),
        ));
    }
    let top_k = input.top_k.unwrap_or(DEFAULT_TOP_K);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        errors.push(FieldError::new(
            "top_k",
            "out_of_range",
            format!("top_k is between 1 and {MAX_TOP_K}."),
        ));
    }
    if let Some(s) = input.min_score
        && !(-1.0..=1.0).contains(&s)
    {
        errors.push(FieldError::new(
            "min_score",
            "out_of_range",
            "min_score is between -1 and 1.",
        ));
    }
    input.filter.validate(&mut errors);
    if errors.is_empty() {
        Ok((query, top_k))
    } else {
        Err(Error::Validation(errors))
    }
}

pub async fn search(ctx: &Ctx, db: &Db, input: SearchInput) -> Result<Vec<Hit>> {
    let tenant_id = ctx.tenant_id()?;
    let scope = Scope::of(ctx, tenant_id, perm::MEMORIES_READ)?;
    let (query, top_k) = validate(&input)?;
    let state = if input.include_deleted {
        State::All
    } else {
        State::Live
    };
    // Embed before taking a connection: the pool is not held while the model works.
    let query_vector = match input.mode {
        Mode::Keyword => None,
        Mode::Semantic | Mode::Hybrid => {
            let embedder = db.embedder();
            let v = db.query_vectors().get(embedder.as_ref(), &query).await?;
            Some((embedder.model().to_owned(), v))
        }
    };
    let mut tx = db.read_in(tenant_id).await?;
    let keys = tx.keys().await?;
    let conn = tx.conn();
    // The candidates' texts, opened only for the hits kept.
    let mut texts = Texts::new();
    // The query's words, parsed as the keyword index was made, keyed for sealed rows.
    let words_of_query = db
        .query_words()
        .get(conn, &keys, tenant_id, &query, input.mode == Mode::Hybrid)
        .await?;
    let pool = match input.mode {
        Mode::Hybrid => (top_k * 3).max(30),
        _ => top_k,
    } as i64;
    // A rule on each memory (its id, owner or metadata) drops the hits the caller may not
    // read before they are ranked or fused; a list that came back short for that is read
    // again, larger, so the top k are the caller's top k.
    let keep = |hits: Vec<(Memory, f32)>| -> Vec<(Memory, f32)> {
        hits.into_iter()
            .filter(|(m, _)| visible(ctx, tenant_id, m))
            .collect()
    };
    let semantic = match &query_vector {
        Some((model, v)) => {
            let mut want = pool;
            let mut hits = loop {
                let read = nearest(
                    conn,
                    &mut texts,
                    tenant_id,
                    scope,
                    &input.filter,
                    state,
                    model,
                    v,
                    want,
                )
                .await?;
                let complete = (read.len() as i64) < want;
                let hits = keep(read);
                if complete || hits.len() as i64 >= pool || want >= MAX_CANDIDATES {
                    break hits;
                }
                want = (want * 4).min(MAX_CANDIDATES);
            };
            hits.truncate(pool as usize);
            if let (Some(min), Mode::Semantic) = (input.min_score, input.mode) {
                hits.retain(|(_, s)| *s >= min);
            }
            hits
        }
        None => Vec::new(),
    };
    let keyword = match input.mode {
        Mode::Semantic => Vec::new(),
        _ => {
            let mut want = pool;
            let mut hits = loop {
                let read = words(
                    conn,
                    &mut texts,
                    tenant_id,
                    scope,
                    &input.filter,
                    state,
                    &words_of_query,
                    want,
                )
                .await?;
                let complete = (read.len() as i64) < want;
                let hits = keep(read);
                if complete || hits.len() as i64 >= pool || want >= MAX_CANDIDATES {
                    break hits;
                }
                want = (want * 4).min(MAX_CANDIDATES);
            };
            hits.truncate(pool as usize);
            if let (Some(min), Mode::Keyword) = (input.min_score, input.mode) {
                hits.retain(|(_, s)| *s >= min);
            }
            hits
        }
    };
    let mut hits: Vec<Hit> = match input.mode {
        Mode::Semantic => semantic
            .into_iter()
            .map(|(memory, s)| Hit {
                memory,
                score: s,
                semantic_score: Some(s),
                keyword_score: None,
                highlights: vec![],
            })
            .collect(),
        Mode::Keyword => keyword
            .into_iter()
            .map(|(memory, s)| Hit {
                memory,
                score: s,
                semantic_score: None,
                keyword_score: Some(s),
                highlights: vec![],
            })
            .collect(),
        Mode::Hybrid => fuse(semantic, keyword, input.min_score),
    };
    hits.truncate(top_k as usize);
    // Where the query's words occur in each hit (as `ts_headline` with `HighlightAll` would
    // mark them, without sending the texts, sealed in the database, back to be parsed).
    for hit in &mut hits {
        let m = &mut hit.memory;
        let unopened = texts
            .remove(&m.id)
            .ok_or_else(|| Error::Internal(format!("memory {} was not read", m.id)))?;
        m.text = unopened.open(Some(&keys), tenant_id, m.id, m.owner_id)?;
        hit.highlights = mark_words(&m.text, &words_of_query.words);
    }
    Ok(hits)
}

/// Reciprocal-rank fusion of the two ranked lists.
fn fuse(
    semantic: Vec<(Memory, f32)>,
    keyword: Vec<(Memory, f32)>,
    min_semantic: Option<f32>,
) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    for (rank, (memory, s)) in semantic.into_iter().enumerate() {
        hits.push(Hit {
            memory,
            score: 1.0 / (RRF_K + rank as f32 + 1.0),
            semantic_score: Some(s),
            keyword_score: None,
            highlights: vec![],
        });
    }
    for (rank, (memory, s)) in keyword.into_iter().enumerate() {
        let add = 1.0 / (RRF_K + rank as f32 + 1.0);
        match hits.iter_mut().find(|h| h.memory.id == memory.id) {
            Some(h) => {
                h.score += add;
                h.keyword_score = Some(s);
            }
            None => hits.push(Hit {
                memory,
                score: add,
                semantic_score: None,
                keyword_score: Some(s),
                highlights: vec![],
            }),
        }
    }
    if let Some(min) = min_semantic {
        hits.retain(|h| h.keyword_score.is_some() || h.semantic_score.is_some_and(|s| s >= min));
    }
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.memory.id.cmp(&a.memory.id))
    });
    hits
}

/// The `limit` nearest memories by cosine similarity, best first.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn nearest(
    conn: &mut PgConnection,
    texts: &mut Texts,
    tenant_id: Uuid,
    scope: Scope,
    filter: &Filter,
    state: State,
    model: &str,
    vector: &[f32],
    limit: i64,
) -> Result<Vec<(Memory, f32)>> {
    let dim = vector.len();
    if INDEXED_DIMENSIONS.contains(&dim) {
        let ef = limit.clamp(40, 1000);
        sqlx::query("select set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', $1, true)")
            .bind(ef.to_string())
            .execute(&mut *conn)
            .await?;
        let hits = scan(
            conn, texts, tenant_id, scope, filter, state, model, vector, limit, true,
        )
        .await?;
        if hits.len() as i64 >= limit {
            return Ok(hits);
        }
    }
    scan(
        conn, texts, tenant_id, scope, filter, state, model, vector, limit, false,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn scan(
    conn: &mut PgConnection,
    texts: &mut Texts,
    tenant_id: Uuid,
    scope: Scope,
    filter: &Filter,
    state: State,
    model: &str,
    vector: &[f32],
    limit: i64,
    indexed: bool,
) -> Result<Vec<(Memory, f32)>> {
    let dim = vector.len();
    // The index is on `embedding::vector(<dim>)`: that expression can use it; the bare
    // column cannot, which makes the exact scan. `order by distance` orders by the same
    // expression as the select list.
    let (column, cast) = if indexed {
        (
            format!("m.embedding::vector({dim})"),
            format!("::vector({dim})"),
        )
    } else {
        ("m.embedding".to_owned(), "::vector".to_owned())
    };
    let mut q = QueryBuilder::<Postgres>::new(format!("select {COLUMNS}, ({column} <=> "));
    q.push_bind(pgvector::Vector::from(vector.to_vec()));
    q.push(format!(
        "{cast}) as distance from memories m where m.tenant_id = "
    ));
    q.push_bind(tenant_id);
    // The dimension is written out, not bound: the partial index's predicate
    // (`embedding_dim = 384`) must be provable from the query text alone, or a prepared
    // statement's generic plan could not use it.
    q.push(format!(" and m.embedding_dim = {dim}"));
    q.push(" and m.embedding_model = ")
        .push_bind(model.to_owned());
    state.push(&mut q);
    filter.push(&mut q, scope);
    q.push(" order by distance limit ").push_bind(limit);
    let rows: Vec<Scored> = q.build_query_as().fetch_all(&mut *conn).await?;
    let mut hits: Vec<(Memory, f32)> = set_aside(texts, rows)
        .into_iter()
        .map(|(m, d)| (m, 1.0 - d as f32))
        .collect();
    // relaxed_order: the index returns rows almost, not exactly, in order.
    hits.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(hits)
}

#[derive(sqlx::FromRow)]
struct Scored {
    #[sqlx(flatten)]
    row: Row,
    distance: f64,
}

/// The texts of the candidates a search read, not opened yet, by memory id.
pub(crate) type Texts = std::collections::HashMap<Uuid, sealed::Unopened>;

/// The memories of `rows` (their texts empty) with their distances; their texts are set
/// aside in `texts`, to be opened for the hits kept.
fn set_aside(texts: &mut Texts, rows: Vec<Scored>) -> Vec<(Memory, f64)> {
    rows.into_iter()
        .map(|r| {
            let (memory, unopened) = r.row.split();
            texts.insert(memory.id, unopened);
            (memory, r.distance)
        })
        .collect()
}

/// Full-text matches, best first; the rank is normalized to 0-1 (`rank / (rank + 1)`).
/// Keyword mode takes the query in web-search syntax (all words, `"a phrase"`, `or`,
/// `-word`); hybrid takes documents with any of its words, stemmed and without stop words,
/// as highlighting marks them, and lets the rank sort them ([`Query::prepare`]). Sealed
/// rows match the keyed query, rows written before sealing the plain one.
#[allow(clippy::too_many_arguments)]
async fn words(
    conn: &mut PgConnection,
    texts: &mut Texts,
    tenant_id: Uuid,
    scope: Scope,
    filter: &Filter,
    state: State,
    query: &Query,
    limit: i64,
) -> Result<Vec<(Memory, f32)>> {
    let mut q = QueryBuilder::<Postgres>::new("with t as (select (");
    q.push_bind(query.keyed.clone())
        .push("::text::tsquery || ")
        .push_bind(query.plain.clone())
        .push("::text::tsquery) as tq)");
    q.push(format!(
        " select {COLUMNS}, ts_rank_cd(m.search, t.tq, 32)::float8 as distance \
         from memories m, t"
    ));
    q.push(" where m.tenant_id = ").push_bind(tenant_id);
    q.push(" and m.search @@ t.tq");
    state.push(&mut q);
    filter.push(&mut q, scope);
    q.push(" order by distance desc, m.id desc limit ")
        .push_bind(limit);
    let rows: Vec<Scored> = q.build_query_as().fetch_all(&mut *conn).await?;
    Ok(set_aside(texts, rows)
        .into_iter()
        .map(|(m, d)| (m, d as f32))
        .collect())
}

/// The words of `text` that full-text search stems to one of `lexemes` (the query's words
/// as `to_tsvector('english', query)` gives them), as ranges in characters: what
/// `ts_headline` with `HighlightAll` marks, without sending each text back to the database
/// to be parsed again. A word is a run of letters and digits, as PostgreSQL's parser reads
/// one; words of letters only go through Snowball's English stemmer (its `english_stem`
/// dictionary), words with digits are only lowercased (its `simple` dictionary). Checked
/// against `ts_headline` itself over a corpus (tests/api/service_memories.rs).
pub fn mark_words(text: &str, lexemes: &[String]) -> Vec<(usize, usize)> {
    thread_local! {
        static ENGLISH: rust_stemmers::Stemmer =
            rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    }
    let mut out = Vec::new();
    if lexemes.is_empty() {
        return out;
    }
    let mut word = String::new();
    let mut start = 0;
    let mut check = |word: &mut String, start: usize, end: usize| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        let stem = if lower.chars().all(char::is_alphabetic) {
            ENGLISH.with(|s| s.stem(&lower).into_owned())
        } else {
            lower
        };
        if lexemes.contains(&stem) {
            out.push((start, end));
        }
        word.clear();
    };
    let mut end = 0;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if word.is_empty() {
                start = end;
            }
            word.push(c);
        } else {
            check(&mut word, start, end);
        }
        end += 1;
    }
    check(&mut word, start, end);
    out
}

const MARK_START: char = '\u{1}';
const MARK_STOP: char = '\u{2}';

/// The marked ranges of `marked`, in characters of `text`; none if stripping the marks
/// does not give `text` back.
pub fn ranges(marked: &str, text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut plain = String::with_capacity(marked.len());
    let mut pos = 0;
    let mut start = None;
    for c in marked.chars() {
        match c {
            MARK_START => start = Some(pos),
            MARK_STOP => {
                if let Some(s) = start.take()
                    && pos > s
                {
                    out.push((s, pos));
                }
            }
            c => {
                plain.push(c);
                pos += 1;
            }
        }
    }
    if plain == text { out } else { Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_marked_by_stem_in_characters() {
        let lexemes = ["deploy".to_owned(), "12".to_owned(), "café".to_owned()];
        // Letters are stemmed ("Deploys", "deployments"); a word with digits is only
        // lowercased, so "12b" is not "12"; offsets count characters, not bytes.
        assert_eq!(
            mark_words("Cafés: Deploys 12 deployments, 12b", &lexemes),
            vec![(0, 5), (7, 14), (15, 17), (18, 29)]
        );
        assert!(mark_words("Deploys", &[]).is_empty());
    }

    #[test]
    fn ranges_are_in_characters_and_checked() {
        let text = "Café au lait, then café again";
        let marked = "\u{1}Café\u{2} au lait, then \u{1}café\u{2} again";
        assert_eq!(ranges(marked, text), vec![(0, 4), (19, 23)]);
        assert!(ranges("\u{1}Cafe\u{2}", "Café").is_empty());
    }
}
