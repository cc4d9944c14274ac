//! Keyset pagination. A cursor is the opaque spelling of the last row's key; the next page
//! starts strictly after it, so pages never skip or repeat rows when others are inserted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub fn limit(requested: Option<u32>) -> Result<u32> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Error::validation(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

pub fn encode_cursor(key: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| Error::BadRequest("invalid cursor".into()))
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says another page exists.
pub fn page<T>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> Uuid) -> Page<T> {
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|last| encode_cursor(key(last)))
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// A page of rows that pass a filter the query could not apply (a rule on each object):
/// rows are read in key order in batches, the hidden ones skipped, until the page is full,
/// the rows run out, or [`SCAN_LIMIT`] rows were read. The cursor always points after the
/// last row read for the page, so the next page continues where this one stopped: pages
/// neither repeat nor skip a row, though one may hold fewer than `limit` rows (even none)
/// while more follow.
pub struct Filtered<T> {
    limit: usize,
    items: Vec<T>,
    after: Option<Uuid>,
    scanned: usize,
    exhausted: bool,
}

/// The most rows one page reads while skipping hidden ones.
pub const SCAN_LIMIT: usize = 2_000;

impl<T> Filtered<T> {
    pub fn new(limit: u32, after: Option<Uuid>) -> Self {
        Filtered {
            limit: limit as usize,
            items: Vec::new(),
            after,
            scanned: 0,
            exhausted: false,
        }
    }

    /// Where the next batch starts (after this key) and how many rows to read; `None`
    /// once the page is complete.
    pub fn next_batch(&self) -> Option<(Option<Uuid>, i64)> {
        if self.exhausted || self.items.len() > self.limit || self.scanned >= SCAN_LIMIT {
            return None;
        }
        // The first batch is the page and one more (which says whether another follows);
        // later ones are larger, as rows are being hidden.
        let want = if self.scanned == 0 {
            self.limit + 1
        } else {
            (self.limit + 1).max(100)
        };
        Some((self.after, want as i64))
    }

    /// Takes a batch read with [`Filtered::next_batch`]'s bounds.
    pub fn take(&mut self, batch: Vec<T>, key: impl Fn(&T) -> Uuid, keep: impl Fn(&T) -> bool) {
        let asked = self.next_batch().map_or(0, |(_, n)| n as usize);
        if batch.len() < asked {
            self.exhausted = true;
        }
        for row in batch {
            self.scanned += 1;
            self.after = Some(key(&row));
            if keep(&row) {
                self.items.push(row);
                if self.items.len() > self.limit {
                    break;
                }
            }
        }
    }

    pub fn finish(mut self, key: impl Fn(&T) -> Uuid) -> Page<T> {
        if self.items.len() > self.limit {
            self.items.truncate(self.limit);
            let next_cursor = self.items.last().map(|last| encode_cursor(key(last)));
            return Page {
                items: self.items,
                next_cursor,
            };
        }
        let next_cursor = if self.exhausted {
            None
        } else {
            // The scan stopped early: the next page starts after the last row read.
            self.after.map(encode_cursor)
        };
        Page {
            items: self.items,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrip_and_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        assert_eq!(decode_cursor("!!").unwrap_err().status(), 400);
        assert_eq!(decode_cursor("AAAA").unwrap_err().status(), 400);
    }

    #[test]
    fn page_uses_the_extra_row_only_as_a_marker() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let p = page(ids.clone(), 2, |id| *id);
        assert_eq!(p.items, ids[..2]);
        assert_eq!(
            decode_cursor(p.next_cursor.as_deref().unwrap()).unwrap(),
            ids[1]
        );
        let last = page(ids[..2].to_vec(), 2, |id| *id);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(200)).unwrap(), 200);
        assert_eq!(limit(Some(0)).unwrap_err().status(), 422);
        assert_eq!(limit(Some(201)).unwrap_err().status(), 422);
    }
}
