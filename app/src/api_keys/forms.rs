//! What the API keys screen's form posts (flat text fields, taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// A new key for the signed-in identity: `scopes` separated by spaces or commas (none: the
/// identity's own rights); `expires_in_days` empty or `0` for never.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeyForm {
    pub name: String,
    pub scopes: String,
    pub expires_in_days: String,
}

#[cfg(feature = "ssr")]
impl TryFrom<ApiKeyForm> for service::api_keys::NewApiKey {
    type Error = service::Error;
    fn try_from(f: ApiKeyForm) -> service::Result<Self> {
        let expires_in_days = match f.expires_in_days.trim() {
            "" | "0" => None,
            d => Some(d.parse::<u32>().map_err(|_| {
                service::Error::validation(
                    "expires_in_days",
                    "invalid_value",
                    "Choose an expiry from the list.",
                )
            })?),
        };
        Ok(service::api_keys::NewApiKey {
            scopes: super::model::split_scopes(&f.scopes),
            name: f.name,
            expires_in_days,
            identity_id: None,
        })
    }
}
