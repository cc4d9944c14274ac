//! Wire types of the Memories screen, and the small pure helpers its pages share (marking
//! the matched words, splitting tags, reading an expiry choice).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryView {
    pub id: String,
    pub owner_id: Option<String>,
    /// The owner's name as the console shows it (a short id when it cannot be read).
    pub owner: Option<String>,
    pub text: String,
    /// Pretty-printed JSON object.
    pub metadata: String,
    pub tags: Vec<String>,
    pub source: String,
    pub importance: Option<f32>,
    pub embedding_model: String,
    pub embedding_dim: i32,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    /// How far away the expiry is ("in 3 hours"), as of when the page was loaded.
    pub expires_in: Option<String>,
    /// Set while the memory is in the Trash.
    pub deleted_at: Option<String>,
}

impl MemoryView {
    /// The first `chars` characters of the text, on one line.
    pub fn snippet(&self, chars: usize) -> String {
        let flat: String = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.chars().count() <= chars {
            flat
        } else {
            let cut: String = flat.chars().take(chars).collect();
            format!("{}…", cut.trim_end())
        }
    }

    /// When it expires, as a sentence part: "never", or "2026-01-02 10:00 UTC (in 3 days)".
    pub fn expiry_label(&self) -> String {
        match (&self.expires_at, &self.expires_in) {
            (None, _) => "never".to_owned(),
            (Some(at), Some(rel)) => format!("{at} ({rel})"),
            (Some(at), None) => at.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryPageView {
    pub items: Vec<MemoryView>,
    pub next_cursor: Option<String>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitView {
    pub memory: MemoryView,
    /// The mode's score; higher is better.
    pub score: f32,
    pub semantic_score: Option<f32>,
    pub keyword_score: Option<f32>,
    /// `[start, end)` character ranges of the text where the query's words occur.
    pub highlights: Vec<(usize, usize)>,
}

/// What the memories page shows: search results (a query was typed) or the newest memories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Found {
    Hits(Vec<HitView>),
    Page(MemoryPageView),
}

/// The embedding model, how many memories it embedded, and the tenant's memory settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    pub model: String,
    pub total: i64,
    /// How many of `total` the model in use embedded; fewer means re-embedding is under way.
    pub current: i64,
    pub default_ttl_seconds: Option<i32>,
    pub trash_days: i32,
}

impl StatusView {
    pub fn reembedding(&self) -> bool {
        self.current < self.total
    }

    /// Progress of the re-embedding, 0-100.
    pub fn percent(&self) -> i64 {
        if self.total <= 0 {
            100
        } else {
            (self.current.clamp(0, self.total) * 100) / self.total
        }
    }

    /// The default lifetime of a new memory: "never" or "30 days".
    pub fn default_ttl_label(&self) -> String {
        match self.default_ttl_seconds {
            None => "never".to_owned(),
            Some(s) => ttl_label(i64::from(s)),
        }
    }
}

/// Search modes: (value, label); hybrid is the default.
pub const MODES: [(&str, &str); 3] = [
    ("hybrid", "Hybrid (meaning + words)"),
    ("semantic", "Semantic (meaning)"),
    ("keyword", "Keyword (words)"),
];

/// Expiry choices of the forms: (value, label). The forms put "default" (new memory) or
/// "keep" (edit) in front.
pub const TTL_CHOICES: [(&str, &str); 5] = [
    ("never", "Never"),
    ("3600", "In 1 hour"),
    ("86400", "In 1 day"),
    ("2592000", "In 30 days"),
    ("custom", "Custom (seconds)"),
];

/// An expiry choice as read from a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The tenant's default (new memories).
    Default,
    /// Unchanged (edits).
    Keep,
    Never,
    Seconds(i64),
}

/// Reads the expiry select (`choice`) and the custom seconds field (`custom`).
pub fn parse_expiry(choice: &str, custom: &str) -> Result<Expiry, &'static str> {
    let positive = |s: &str| s.trim().parse::<i64>().ok().filter(|n| *n > 0);
    match choice.trim() {
        "" | "default" => Ok(Expiry::Default),
        "keep" => Ok(Expiry::Keep),
        "never" => Ok(Expiry::Never),
        "custom" => positive(custom)
            .map(Expiry::Seconds)
            .ok_or("Type the lifetime in seconds: a whole number above 0."),
        other => positive(other)
            .map(Expiry::Seconds)
            .ok_or("Choose an expiry from the list."),
    }
}

/// A lifetime in words: "1 hour", "30 days", "90 seconds".
pub fn ttl_label(seconds: i64) -> String {
    let unit = |n: i64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    if seconds > 0 && seconds % 86_400 == 0 {
        unit(seconds / 86_400, "day", "days")
    } else if seconds > 0 && seconds % 3_600 == 0 {
        unit(seconds / 3_600, "hour", "hours")
    } else if seconds > 0 && seconds % 60 == 0 {
        unit(seconds / 60, "minute", "minutes")
    } else {
        unit(seconds, "second", "seconds")
    }
}

/// How far away a moment `seconds` from now is: "in 3 hours", "in 2 days".
pub fn relative(seconds: i64) -> String {
    if seconds <= 0 {
        return "now".to_owned();
    }
    let (n, one, many) = if seconds >= 2 * 86_400 {
        (seconds / 86_400, "day", "days")
    } else if seconds >= 2 * 3_600 {
        (seconds / 3_600, "hour", "hours")
    } else if seconds >= 2 * 60 {
        (seconds / 60, "minute", "minutes")
    } else {
        (seconds, "second", "seconds")
    };
    if n == 1 {
        format!("in 1 {one}")
    } else {
        format!("in {n} {many}")
    }
}

/// The tags typed in a field: comma-separated (a tag may hold spaces), trimmed.
pub fn split_tags(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits `text` into runs of (piece, marked) by `[start, end)` character ranges. The
/// ranges may overlap, come in any order or reach past the end.
pub fn segments(text: &str, highlights: &[(usize, usize)]) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut marked = vec![false; n];
    for &(start, end) in highlights {
        let (start, end) = (start.min(n), end.min(n));
        for m in marked.iter_mut().take(end).skip(start) {
            *m = true;
        }
    }
    let mut out: Vec<(String, bool)> = Vec::new();
    for (c, m) in chars.into_iter().zip(marked) {
        match out.last_mut() {
            Some((piece, flag)) if *flag == m => piece.push(c),
            _ => out.push((c.to_string(), m)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_split_the_text_by_characters() {
        let s = segments("Maria is allergic to peanuts", &[(9, 17), (21, 28)]);
        assert_eq!(
            s,
            vec![
                ("Maria is ".to_owned(), false),
                ("allergic".to_owned(), true),
                (" to ".to_owned(), false),
                ("peanuts".to_owned(), true),
            ]
        );
        // Characters, not bytes; overlapping, unsorted and out-of-range ranges.
        let s = segments("Zoë eats crème brûlée", &[(15, 99), (0, 3), (1, 2)]);
        assert_eq!(
            s,
            vec![
                ("Zoë".to_owned(), true),
                (" eats crème ".to_owned(), false),
                ("brûlée".to_owned(), true),
            ]
        );
        assert_eq!(segments("plain", &[]), vec![("plain".to_owned(), false)]);
        assert!(segments("", &[(0, 4)]).is_empty());
    }

    #[test]
    fn expiry_choices_are_read() {
        assert_eq!(parse_expiry("", ""), Ok(Expiry::Default));
        assert_eq!(parse_expiry("keep", "12"), Ok(Expiry::Keep));
        assert_eq!(parse_expiry("never", ""), Ok(Expiry::Never));
        assert_eq!(parse_expiry("3600", ""), Ok(Expiry::Seconds(3600)));
        assert_eq!(parse_expiry("custom", " 90 "), Ok(Expiry::Seconds(90)));
        assert!(parse_expiry("custom", "0").is_err());
        assert!(parse_expiry("custom", "soon").is_err());
        assert!(parse_expiry("tomorrow", "").is_err());
    }

    #[test]
    fn lifetimes_read_as_words() {
        assert_eq!(ttl_label(3600), "1 hour");
        assert_eq!(ttl_label(2_592_000), "30 days");
        assert_eq!(ttl_label(90), "90 seconds");
        assert_eq!(ttl_label(120), "2 minutes");
        assert_eq!(relative(3 * 3600 + 5), "in 3 hours");
        assert_eq!(relative(86_400 + 10), "in 24 hours");
        assert_eq!(relative(5 * 86_400), "in 5 days");
    }

    #[test]
    fn tags_split_on_commas_only() {
        assert_eq!(
            split_tags(" health, family history ,,"),
            vec!["health", "family history"]
        );
        assert!(split_tags(" , ").is_empty());
    }

    #[test]
    fn snippets_are_one_line() {
        let m = MemoryView {
            id: "x".into(),
            owner_id: None,
            owner: None,
            text: "Line one\nline   two is longer".into(),
            metadata: "{}".into(),
            tags: vec![],
            source: String::new(),
            importance: None,
            embedding_model: "m".into(),
            embedding_dim: 384,
            created_at: String::new(),
            updated_at: String::new(),
            expires_at: None,
            expires_in: None,
            deleted_at: None,
        };
        assert_eq!(m.snippet(100), "Line one line two is longer");
        assert_eq!(m.snippet(8), "Line one…");
        assert_eq!(m.expiry_label(), "never");
    }
}
