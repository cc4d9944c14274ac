//! How the console writes times (always in UTC: the console says so rather than guessing
//! the admin's zone) and figures: one place for every screen.

use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// `10` for 10.0, `0.5` for 0.5, `2.333` for 7/3: a rate as people write it.
pub fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `12,345`: a count with thousands separated.
pub fn count(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

/// `2026-12-06 14:05 UTC`: when something was made or changed.
pub fn minute(t: OffsetDateTime) -> String {
    utc(t)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// `2026-12-06 14:05:09 UTC`: records and events, where seconds tell them apart.
pub fn second(t: OffsetDateTime) -> String {
    utc(t)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default()
}

/// `2026-12-06`: dates of creation and expiry.
pub fn day(t: OffsetDateTime) -> String {
    utc(t)
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// `14:05:09 UTC`: a moment of today (when a list was read).
pub fn clock(t: OffsetDateTime) -> String {
    utc(t)
        .format(format_description!("[hour]:[minute]:[second] UTC"))
        .unwrap_or_default()
}

/// `14:00`: the hour a chart's bar stands for.
pub fn hour(t: OffsetDateTime) -> String {
    utc(t)
        .format(format_description!("[hour]:00"))
        .unwrap_or_default()
}

/// RFC 3339, for `datetime` attributes and machines.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_format_speaks_utc() {
        let t = datetime!(2026-12-06 15:05:09 +01:00);
        assert_eq!(minute(t), "2026-12-06 14:05 UTC");
        assert_eq!(second(t), "2026-12-06 14:05:09 UTC");
        assert_eq!(day(datetime!(2026-12-07 00:30 +01:00)), "2026-12-06");
        assert_eq!(clock(t), "14:05:09 UTC");
        assert_eq!(hour(t), "14:00");
        assert_eq!(rfc3339(t), "2026-12-06T15:05:09+01:00");
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(number(10.0), "10");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(-45000), "-45,000");
    }
}
