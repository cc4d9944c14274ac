//! Wire types of the Events screen and the filters as they travel in the address.

use serde::{Deserialize, Serialize};

use crate::audit_log::model::{actor_words, object_href, short_id};

/// One event as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub id: String,
    /// `identity.created`, ...
    pub event_type: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    /// The payload's `data`, pretty-printed JSON (empty when there is none).
    pub data: String,
    pub audit_id: Option<String>,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    /// "2026-01-02 10:00:03 UTC".
    pub occurred_at: String,
    /// RFC 3339, for `<time datetime>`.
    pub occurred_iso: String,
    /// "3 minutes ago", as of when the list was read.
    pub occurred_ago: String,
}

impl EventView {
    /// Who caused it, in words (as the audit trail says it).
    pub fn actor_name(&self) -> String {
        actor_words(
            self.actor_type.as_deref().unwrap_or("system"),
            self.actor_id.as_deref(),
            self.actor_label.as_deref(),
        )
    }

    /// "identity 5f0c9e21", or just the kind.
    pub fn subject_label(&self) -> String {
        match &self.subject_id {
            Some(id) => format!("{} {}", self.subject_type.replace('_', " "), short_id(id)),
            None => self.subject_type.replace('_', " "),
        }
    }

    /// The console page of the subject, for the kinds that have one.
    pub fn subject_href(&self) -> Option<String> {
        object_href(&self.subject_type, self.subject_id.as_deref()?)
    }

    /// The colour of the type's pill: removals red, creations green, the rest neutral.
    pub fn tone(&self) -> &'static str {
        let verb = self
            .event_type
            .split_once('.')
            .map(|(_, v)| v)
            .unwrap_or_default();
        match verb {
            "created" | "restored" | "accepted" | "members_added" | "enabled" => {
                "bg-emerald-50 text-emerald-800 ring-emerald-600/30"
            }
            "deleted"
            | "purged"
            | "revoked"
            | "revoked_all"
            | "expired"
            | "disabled"
            | "refresh_token_reused"
            | "token_family_revoked"
            | "member_removed" => "bg-red-50 text-red-800 ring-red-600/30",
            _ => "bg-slate-100 text-slate-800 ring-slate-300",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPageView {
    pub items: Vec<EventView>,
    pub next_cursor: Option<String>,
    /// When the list was read, "10:00:03 UTC".
    pub read_at: String,
    /// The filters and page it answers, so the page can tell a refresh from another list.
    pub key: String,
}

/// The filters of the list, as they travel in the address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Types, comma-separated; each exact or a wildcard (`identity.*`).
    pub types: Option<String>,
    /// An identity's id: events about it or made by it.
    pub identity: Option<String>,
}

impl EventFilter {
    pub fn read(get: impl Fn(&str) -> Option<String>) -> EventFilter {
        let value = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        EventFilter {
            types: value("type"),
            identity: value("identity"),
        }
    }

    pub fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("type", self.types.clone()),
            ("identity", self.identity.clone()),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_none() && self.identity.is_none()
    }
}

/// The choices of the type filter: each area's wildcard, then every type.
pub fn type_choices(names: &[String]) -> Vec<String> {
    let mut areas: Vec<String> = names
        .iter()
        .filter_map(|n| n.split_once('.').map(|(a, _)| format!("{a}.*")))
        .collect();
    areas.dedup();
    areas.into_iter().chain(names.iter().cloned()).collect()
}

#[cfg(feature = "ssr")]
impl TryFrom<EventFilter> for service::events::EventQuery {
    type Error = service::Error;
    fn try_from(f: EventFilter) -> service::Result<Self> {
        let identity_id = match f
            .identity
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            None => None,
            Some(raw) => Some(uuid::Uuid::parse_str(raw).map_err(|_| {
                service::Error::validation(
                    "identity",
                    "invalid_value",
                    "Pick an identity from the list, or paste its id.",
                )
            })?),
        };
        Ok(service::events::EventQuery {
            types: f.types.into_iter().collect(),
            identity_id,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, subject_type: &str) -> EventView {
        EventView {
            id: "0193a1b2-0000-7000-8000-000000000001".into(),
            event_type: event_type.into(),
            subject_type: subject_type.into(),
            subject_id: Some("0193a1b2-ffff-7000-8000-0000a1b20002".into()),
            data: String::new(),
            audit_id: None,
            actor_type: Some("api_key".into()),
            actor_id: Some("0193c3d4-0000-7000-8000-0000c3d40003".into()),
            actor_label: None,
            occurred_at: String::new(),
            occurred_iso: String::new(),
            occurred_ago: String::new(),
        }
    }

    #[test]
    fn subjects_and_actors_read_as_words() {
        let e = event("api_key.revoked", "api_key");
        assert_eq!(e.subject_label(), "api key a1b20002");
        assert_eq!(e.subject_href(), None);
        assert_eq!(e.actor_name(), "API key c3d40003");
        assert!(e.tone().contains("red"));
        let m = event("memory.created", "memory");
        assert_eq!(
            m.subject_href().as_deref(),
            Some("/memories/0193a1b2-ffff-7000-8000-0000a1b20002")
        );
        assert!(m.tone().contains("emerald"));
        assert!(event("role.updated", "role").tone().contains("slate"));
    }

    #[test]
    fn type_choices_put_each_area_first_once() {
        let names = ["group.created", "group.deleted", "identity.created"].map(String::from);
        assert_eq!(
            type_choices(&names),
            [
                "group.*",
                "identity.*",
                "group.created",
                "group.deleted",
                "identity.created"
            ]
        );
    }

    #[test]
    fn filters_come_from_the_address_trimmed() {
        let f = EventFilter::read(|k| match k {
            "type" => Some(" identity.* ".into()),
            "identity" => Some("".into()),
            _ => None,
        });
        assert_eq!(f.types.as_deref(), Some("identity.*"));
        assert_eq!(f.identity, None);
        assert!(!f.is_empty());
        assert!(EventFilter::default().is_empty());
    }
}
