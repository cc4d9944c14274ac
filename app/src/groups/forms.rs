//! What the group editor posts (flat text fields, taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// A group: `id` empty for a new one; `parent_id` empty for a root group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupForm {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub parent_id: String,
}

#[cfg(feature = "ssr")]
impl TryFrom<GroupForm> for service::groups::GroupInput {
    type Error = service::Error;
    fn try_from(f: GroupForm) -> service::Result<Self> {
        let parent = match f.parent_id.trim() {
            "" => None,
            p => Some(uuid::Uuid::parse_str(p).map_err(|_| {
                service::Error::validation(
                    "parent_id",
                    "unknown_group",
                    "Choose a parent from the list.",
                )
            })?),
        };
        Ok(service::groups::GroupInput {
            name: Some(f.name),
            kind: Some(f.kind),
            description: Some(f.description),
            parent_id: Some(parent),
        })
    }
}
