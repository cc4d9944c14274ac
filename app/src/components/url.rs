//! Links the console builds: query strings, and the `:id` of the current route.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// A query string from pairs, skipping empty values: `?q=which%20foods%3F`, or nothing.
pub fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The current route's `:id` parameter (empty when absent).
pub fn id_param() -> impl Fn() -> String + Copy {
    let params = use_params_map();
    move || params.read().get("id").unwrap_or_default()
}

/// Reads a list that a form posts as `name[0]=a&name[1]=b` (checkboxes): as a sequence, as
/// a map from index to value (how a flattened form sees it), or as one value. Map entries
/// are ordered by their index.
pub fn indexed_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Posted {
        List(Vec<String>),
        Indexed(std::collections::BTreeMap<String, String>),
        One(String),
    }
    Ok(match serde::Deserialize::deserialize(deserializer)? {
        Posted::List(list) => list,
        Posted::Indexed(map) => {
            let mut entries: Vec<(String, String)> = map.into_iter().collect();
            entries.sort_by_key(|(k, _)| (k.parse::<u64>().unwrap_or(u64::MAX), k.clone()));
            entries.into_iter().map(|(_, v)| v).collect()
        }
        Posted::One(value) => vec![value],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_skip_empty_values() {
        assert_eq!(
            query_string(&[
                ("q", Some("which foods?".into())),
                ("mode", Some(String::new())),
                ("owner", None)
            ]),
            "?q=which%20foods%3F"
        );
        assert_eq!(query_string(&[("q", None)]), "");
    }
}
