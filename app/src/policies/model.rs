use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub effect: String,
    pub priority: i32,
    pub resource_pattern: String,
    pub action_pattern: String,
    /// Pretty-printed JSON, empty without a condition.
    pub condition: String,
    pub enabled: bool,
    pub version: i32,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    pub version: i32,
    pub change: String,
    pub by: String,
    pub at: String,
    /// `(field, before, after)` against the version before it.
    pub diff: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDetail {
    pub policy: Option<PolicyView>,
    pub versions: Vec<VersionView>,
    pub modules: Vec<String>,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub kind: String,
    pub name: String,
    pub effect: String,
    pub priority: Option<i32>,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationView {
    pub allowed: bool,
    pub explanation: String,
    pub trace: Vec<StepView>,
    /// The document the conditions saw, pretty-printed.
    pub input: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;

    impl From<service::policies::Policy> for PolicyView {
        fn from(p: service::policies::Policy) -> Self {
            PolicyView {
                id: p.id.to_string(),
                name: p.name,
                description: p.description,
                effect: p.effect.as_str().into(),
                priority: p.priority,
                resource_pattern: p.resource_pattern,
                action_pattern: p.action_pattern,
                condition: p
                    .condition
                    .map(|c| serde_json::to_string_pretty(&c).unwrap_or_default())
                    .unwrap_or_default(),
                enabled: p.enabled,
                version: p.version,
                updated_at: crate::format::minute(p.updated_at),
            }
        }
    }

    impl PolicyDetail {
        /// The editor's page: the policy (`None` when new or deleted), its history and the
        /// catalogue the patterns are written against.
        pub fn new(
            policy: Option<service::policies::Policy>,
            history: Vec<service::policies::Version>,
        ) -> Self {
            use service::authz::catalog;
            PolicyDetail {
                policy: policy.map(Into::into),
                versions: versions(history),
                modules: catalog::MODULES.iter().map(|m| (*m).into()).collect(),
                actions: catalog::ALL_ACTIONS.iter().map(|a| (*a).into()).collect(),
            }
        }
    }

    impl From<service::decisions::CheckResult> for SimulationView {
        fn from(result: service::decisions::CheckResult) -> Self {
            SimulationView {
                allowed: result.allowed,
                explanation: result.explanation,
                trace: result
                    .trace
                    .into_iter()
                    .map(|s| StepView {
                        kind: format!("{:?}", s.kind).to_lowercase(),
                        name: s.name,
                        effect: s.effect.as_str().into(),
                        priority: s.priority,
                        outcome: s.outcome,
                    })
                    .collect(),
                input: serde_json::to_string_pretty(&result.input).unwrap_or_default(),
            }
        }
    }

    fn show(v: Option<&serde_json::Value>) -> String {
        match v {
            None | Some(serde_json::Value::Null) => "—".into(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
        }
    }

    /// Versions newest first, each with what changed from the one before it.
    pub fn versions(list: Vec<service::policies::Version>) -> Vec<VersionView> {
        const FIELDS: [&str; 8] = [
            "name",
            "description",
            "effect",
            "priority",
            "resource_pattern",
            "action_pattern",
            "condition",
            "enabled",
        ];
        let mut out = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            let previous = list.get(i + 1).map(|p| &p.snapshot);
            let diff = FIELDS
                .iter()
                .filter_map(|f| {
                    let now = v.snapshot.get(*f);
                    let before = previous.and_then(|p| p.get(*f));
                    (v.change != "deleted" && (previous.is_none() || now != before)).then(|| {
                        (
                            (*f).to_owned(),
                            if previous.is_some() {
                                show(before)
                            } else {
                                String::new()
                            },
                            show(now),
                        )
                    })
                })
                .collect();
            out.push(VersionView {
                version: v.version,
                change: v.change.clone(),
                by: v
                    .changed_by_label
                    .clone()
                    .unwrap_or_else(|| "Tenantry".into()),
                at: crate::format::minute(v.changed_at),
                diff,
            });
        }
        out
    }
}

#[cfg(feature = "ssr")]
pub use ssr::versions;
