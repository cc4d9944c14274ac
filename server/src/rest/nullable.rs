//! PATCH bodies tell "leave it" from "clear it": a field that is absent stays `None`, an
//! explicit `null` becomes `Some(None)`. Use with `#[serde(default, deserialize_with = ..)]`.

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

/// `Some(None)` for an explicit null, `None` when the field is absent.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// [`double_option`] for an RFC 3339 timestamp.
pub fn double_option_time<'de, D>(d: D) -> Result<Option<Option<OffsetDateTime>>, D::Error>
where
    D: Deserializer<'de>,
{
    time::serde::rfc3339::option::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use time::OffsetDateTime;

    #[derive(Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "super::double_option")]
        note: Option<Option<String>>,
        #[serde(default, deserialize_with = "super::double_option_time")]
        at: Option<Option<OffsetDateTime>>,
    }

    #[test]
    fn absent_null_and_value_are_three_different_things() {
        let absent: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.note, None);
        assert_eq!(absent.at, None);
        let cleared: Patch = serde_json::from_str(r#"{"note": null, "at": null}"#).unwrap();
        assert_eq!(cleared.note, Some(None));
        assert_eq!(cleared.at, Some(None));
        let set: Patch =
            serde_json::from_str(r#"{"note": "x", "at": "2026-12-02T10:00:00Z"}"#).unwrap();
        assert_eq!(set.note, Some(Some("x".into())));
        assert_eq!(set.at.unwrap().unwrap().unix_timestamp(), 1_796_205_600);
    }
}
