use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleView {
    pub name: String,
    pub description: String,
    /// The actions this module has (most have the first five columns; privacy has its own).
    pub actions: Vec<String>,
}

/// The permission catalogue, for the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueView {
    pub modules: Vec<ModuleView>,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `owner`, `admin`, `member`, `viewer` for system roles.
    pub system: Option<String>,
    /// `(module:action, allow|deny)`.
    pub permissions: Vec<(String, String)>,
    pub identity_count: i64,
}

impl RoleView {
    /// `allow`, `deny` or empty for one cell of the matrix.
    pub fn effect(&self, permission: &str) -> String {
        self.permissions
            .iter()
            .find(|(p, _)| p == permission)
            .map(|(_, e)| e.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesPage {
    pub roles: Vec<RoleView>,
    pub catalogue: CatalogueView,
}

#[cfg(feature = "ssr")]
impl From<service::roles::Role> for RoleView {
    fn from(r: service::roles::Role) -> Self {
        RoleView {
            permissions: r
                .permissions
                .iter()
                .map(|g| (g.permission.to_key(), g.effect.as_str().to_owned()))
                .collect(),
            id: r.id.to_string(),
            name: r.name,
            description: r.description,
            system: r.system,
            identity_count: r.identity_count,
        }
    }
}

#[cfg(feature = "ssr")]
pub fn catalogue() -> CatalogueView {
    use service::authz::catalog;
    CatalogueView {
        modules: catalog::MODULES
            .iter()
            .map(|m| ModuleView {
                name: (*m).into(),
                description: catalog::module_description(m).into(),
                actions: catalog::actions_of(m).iter().map(|a| (*a).into()).collect(),
            })
            .collect(),
        actions: catalog::ALL_ACTIONS.iter().map(|a| (*a).into()).collect(),
    }
}
