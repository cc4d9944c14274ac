use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub roles: Vec<String>,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub identity_id: String,
    pub label: String,
    pub email: Option<String>,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsView {
    pub groups: Vec<GroupView>,
    pub kinds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group: GroupView,
    pub members: Vec<MemberView>,
    /// Every group, for the parent picker.
    pub all_groups: Vec<GroupView>,
    /// Every role name, for the roles form (empty without roles:read).
    pub all_roles: Vec<String>,
    pub kinds: Vec<String>,
}

/// `id` and every group below it (a group cannot move there).
pub fn subtree(groups: &[GroupView], id: &str) -> Vec<String> {
    let mut out = vec![id.to_owned()];
    let mut i = 0;
    while i < out.len() {
        let current = out[i].clone();
        out.extend(
            groups
                .iter()
                .filter(|g| g.parent_id.as_deref() == Some(&current))
                .map(|g| g.id.clone()),
        );
        i += 1;
    }
    out
}

#[cfg(feature = "ssr")]
impl From<service::groups::Group> for GroupView {
    fn from(g: service::groups::Group) -> Self {
        GroupView {
            id: g.id.to_string(),
            parent_id: g.parent_id.map(|p| p.to_string()),
            name: g.name,
            kind: g.kind,
            description: g.description,
            roles: g.roles,
            member_count: g.member_count,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<service::groups::Member> for MemberView {
    fn from(m: service::groups::Member) -> Self {
        let label = m.label();
        MemberView {
            identity_id: m.identity_id.to_string(),
            label,
            email: m.email,
            kind: m.kind,
        }
    }
}

/// The group kinds the service knows, for the kind picker.
#[cfg(feature = "ssr")]
pub fn kinds() -> Vec<String> {
    service::groups::KINDS
        .iter()
        .map(|k| (*k).to_owned())
        .collect()
}

#[cfg(feature = "ssr")]
impl GroupDetail {
    /// A group's page; `roles` is `None` for an admin who may not read roles.
    pub fn new(
        group: service::groups::Group,
        members: Vec<service::groups::Member>,
        all_groups: Vec<service::groups::Group>,
        roles: Option<Vec<service::roles::Role>>,
    ) -> Self {
        GroupDetail {
            group: group.into(),
            members: members.into_iter().map(Into::into).collect(),
            all_groups: all_groups.into_iter().map(Into::into).collect(),
            all_roles: roles
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.name)
                .collect(),
            kinds: kinds(),
        }
    }
}
