//! What the Webhooks screens' forms post and their delivery log asks for (flat text fields,
//! taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// A webhook: `id` empty for a new one; `event_types` separated by commas or spaces, each
/// exact or a wildcard (`identity.*`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookForm {
    pub id: String,
    pub name: String,
    pub url: String,
    pub event_types: String,
    pub description: String,
}

/// A page of a webhook's delivery log: `status` filters it, `cursor` pages, `delivery` opens
/// one delivery's attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub delivery: Option<String>,
}

/// A range of stored events to send again: UTC, `YYYY-MM-DDTHH:MM` as a datetime field sends
/// them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplayForm {
    pub id: String,
    pub from: String,
    pub to: String,
}

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use service::Error;
    use service::webhooks::{DeliveryQuery, Input};
    use time::OffsetDateTime;

    use super::*;

    impl TryFrom<WebhookForm> for Input {
        type Error = Error;
        fn try_from(f: WebhookForm) -> service::Result<Input> {
            Ok(Input {
                event_types: Some(crate::webhooks::model::split_types(&f.event_types)),
                name: Some(f.name),
                description: Some(f.description),
                url: Some(f.url),
                enabled: None,
            })
        }
    }

    impl TryFrom<DeliveryFilter> for DeliveryQuery {
        type Error = Error;
        fn try_from(f: DeliveryFilter) -> service::Result<DeliveryQuery> {
            Ok(DeliveryQuery {
                status: f.status.filter(|s| !s.trim().is_empty()),
                limit: Some(25),
                cursor: f.cursor.filter(|c| !c.trim().is_empty()),
            })
        }
    }

    /// The delivery the log opens, if any.
    pub fn open_delivery(f: &DeliveryFilter) -> service::Result<Option<uuid::Uuid>> {
        match f
            .delivery
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            None => Ok(None),
            Some(d) => crate::server::object_id(d, "delivery").map(Some),
        }
    }

    /// How long the old secret keeps signing after a rotation, in hours.
    pub fn overlap(hours: &str) -> service::Result<time::Duration> {
        let hours: i64 = hours.trim().parse().map_err(|_| {
            Error::validation(
                "overlap_hours",
                "invalid_value",
                "Choose how long the old secret keeps signing.",
            )
        })?;
        Ok(time::Duration::hours(hours))
    }

    /// [`ReplayForm`]'s range, read.
    pub struct Range {
        pub from: OffsetDateTime,
        pub to: OffsetDateTime,
    }

    impl TryFrom<ReplayForm> for Range {
        type Error = Error;
        fn try_from(f: ReplayForm) -> service::Result<Range> {
            let at = |field: &str, raw: &str| {
                let format =
                    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
                // A datetime field sends minutes, some browsers seconds too.
                let raw = raw.trim();
                time::PrimitiveDateTime::parse(raw.get(..16).unwrap_or(raw), &format)
                    .map(|t| t.assume_utc())
                    .map_err(|_| {
                        Error::validation(field, "invalid_value", "Enter a date and time.")
                    })
            };
            Ok(Range {
                from: at("from", &f.from)?,
                to: at("to", &f.to)?,
            })
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn a_replay_range_takes_what_datetime_fields_send() {
        let form = ReplayForm {
            id: String::new(),
            from: "2026-12-01T08:30".into(),
            to: "2026-12-01T09:30:15".into(),
        };
        let range = Range::try_from(form).unwrap();
        assert_eq!(range.from, time::macros::datetime!(2026-12-01 08:30 UTC));
        assert_eq!(range.to, time::macros::datetime!(2026-12-01 09:30 UTC));
        let bad = ReplayForm {
            to: "yesterday".into(),
            ..Default::default()
        };
        let Err(service::Error::Validation(errors)) = Range::try_from(bad) else {
            panic!("a range that is not one is refused");
        };
        assert_eq!(errors[0].field, "from");
    }
}
