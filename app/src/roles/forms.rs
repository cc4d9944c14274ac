//! What the role editor posts (flat text fields, taken with `#[server(flatten)]`, and the
//! permission matrix as `permissions[module:action]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A role: `id` empty for a new one; each permission `allow`, `deny` or empty (neither).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: BTreeMap<String, String>,
}

#[cfg(feature = "ssr")]
impl RoleForm {
    /// The matrix's choices, blanks left out.
    fn effects(&self) -> service::Result<Vec<(String, service::authz::engine::Effect)>> {
        let chosen = self
            .permissions
            .iter()
            .filter(|(_, e)| !e.trim().is_empty());
        service::roles::read_effects(chosen.map(|(p, e)| (p.clone(), e.clone())))
    }
}

#[cfg(feature = "ssr")]
impl TryFrom<RoleForm> for service::roles::RoleInput {
    type Error = service::Error;
    fn try_from(f: RoleForm) -> service::Result<Self> {
        Ok(service::roles::RoleInput {
            permissions: f.effects()?,
            name: f.name,
            description: f.description,
        })
    }
}

#[cfg(feature = "ssr")]
impl TryFrom<RoleForm> for service::roles::RolePatch {
    type Error = service::Error;
    fn try_from(f: RoleForm) -> service::Result<Self> {
        Ok(service::roles::RolePatch {
            permissions: Some(f.effects()?),
            name: Some(f.name),
            description: Some(f.description),
        })
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use crate::roles::api::SaveRole;

    #[test]
    fn the_matrix_posts_one_field_per_permission() {
        let posted = "id=&name=Support&description=&permissions[identities%3Aread]=allow\
                      &permissions[identities%3Adelete]=deny&permissions[roles%3Aread]=";
        let args: SaveRole = serde_qs::from_str(posted).unwrap();
        let input = service::roles::RoleInput::try_from(args.form).unwrap();
        assert_eq!(input.name, "Support");
        let effects: Vec<(&str, &str)> = input
            .permissions
            .iter()
            .map(|(p, e)| (p.as_str(), e.as_str()))
            .collect();
        assert_eq!(
            effects,
            [("identities:delete", "deny"), ("identities:read", "allow")]
        );
        let posted = "name=X&permissions[identities%3Aread]=maybe";
        let args: SaveRole = serde_qs::from_str(posted).unwrap();
        let Err(service::Error::Validation(errors)) =
            service::roles::RoleInput::try_from(args.form)
        else {
            panic!("an effect that is none is refused");
        };
        assert_eq!(errors[0].field, "permissions");
    }
}
