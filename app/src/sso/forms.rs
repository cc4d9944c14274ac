//! What the identity provider forms post (flat text fields, taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// A provider: `id` empty and `kind` given for a new one; the issuer is not sent for Google
/// (Tenantry knows it). Scopes and domains go as typed: the service splits and checks lists.
/// Unticked boxes are absent; the secret is kept unless a new one is typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderForm {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: String,
    pub allowed_domains: String,
    pub default_role: String,
    pub jit_provisioning: Option<String>,
    pub enabled: Option<String>,
}

#[cfg(feature = "ssr")]
impl From<ProviderForm> for service::sso::ProviderInput {
    fn from(f: ProviderForm) -> Self {
        let checked = |v: Option<String>| v.is_some_and(|v| !v.is_empty() && v != "false");
        let kind = Some(f.kind.trim().to_owned()).filter(|k| !k.is_empty());
        service::sso::ProviderInput {
            issuer: f.issuer.filter(|_| kind.as_deref() != Some("google")),
            kind,
            name: Some(f.name),
            client_id: Some(f.client_id),
            client_secret: Some(f.client_secret),
            scopes: Some(vec![f.scopes]),
            allowed_domains: Some(vec![f.allowed_domains]),
            default_role: Some(f.default_role),
            jit_provisioning: Some(checked(f.jit_provisioning)),
            enabled: Some(checked(f.enabled)),
        }
    }
}
