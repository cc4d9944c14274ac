//! How the console writes times: one place for every screen, always in UTC (the console
//! says so rather than guessing the admin's zone).

use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

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
}
