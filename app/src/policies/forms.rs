//! What the Policies screen's forms post, and how each becomes the service's input (flat
//! text fields, taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// The policy editor. `id` empty: a new policy; `condition` empty: none; `enabled` is sent
/// only when the box is ticked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyForm {
    pub id: String,
    pub name: String,
    pub description: String,
    pub effect: String,
    pub priority: String,
    pub resource_pattern: String,
    pub action_pattern: String,
    pub condition: String,
    pub enabled: Option<String>,
}

/// The simulator: who (an email) asks to do `action` to a resource (its owner's email and
/// its id, both optional) from `ip` (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulationForm {
    pub principal: String,
    pub action: String,
    pub resource_owner: String,
    pub resource_id: String,
    pub ip: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use service::Error;
    use service::decisions::CheckRequest;
    use service::policies::PolicyInput;

    use super::*;

    impl TryFrom<PolicyForm> for PolicyInput {
        type Error = Error;
        fn try_from(f: PolicyForm) -> service::Result<PolicyInput> {
            let priority = f.priority.trim().parse().map_err(|_| {
                Error::validation(
                    "priority",
                    "invalid_number",
                    "The priority is a whole number, e.g. 10 or -5.",
                )
            })?;
            let condition = match f.condition.trim() {
                "" => None,
                text => Some(serde_json::from_str(text).map_err(|e| {
                    Error::validation(
                        "condition",
                        "invalid_json",
                        format!("The condition is not valid JSON: {e}"),
                    )
                })?),
            };
            Ok(PolicyInput {
                name: Some(f.name),
                description: Some(f.description),
                effect: Some(f.effect),
                priority: Some(priority),
                resource_pattern: Some(f.resource_pattern),
                action_pattern: Some(f.action_pattern),
                condition: Some(condition),
                enabled: Some(f.enabled.is_some()),
            })
        }
    }

    /// The check without its identities, which the server function looks up by email.
    impl TryFrom<SimulationForm> for CheckRequest {
        type Error = Error;
        fn try_from(f: SimulationForm) -> service::Result<CheckRequest> {
            if f.principal.trim().is_empty() {
                let why = "Enter the email of the identity that asks.";
                return Err(Error::validation("principal", "required", why));
            }
            let resource_id = match f.resource_id.trim() {
                "" => None,
                raw => Some(uuid::Uuid::parse_str(raw).map_err(|_| {
                    Error::validation("resource_id", "invalid_id", "A resource id is a UUID.")
                })?),
            };
            let ip = match f.ip.trim() {
                "" => None,
                raw => Some(raw.parse().map_err(|_| {
                    Error::validation("ip", "invalid_ip", "Enter an IPv4 or IPv6 address.")
                })?),
            };
            Ok(CheckRequest {
                principal: None,
                action: f.action,
                resource_id,
                resource_owner: None,
                resource_metadata: None,
                ip,
                time: None,
            })
        }
    }
}
