use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    pub id: String,
    /// `google` or `oidc`.
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// Space-separated, as the form edits them.
    pub scopes: String,
    /// Comma-separated, as the form edits them.
    pub allowed_domains: String,
    pub default_role: Option<String>,
    pub jit_provisioning: bool,
    pub enabled: bool,
    pub linked_identities: i64,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettingsView {
    pub providers: Vec<ProviderView>,
    /// The callback URL to register at each provider.
    pub redirect_uri: String,
    /// Roles that may be given to people provisioned at their first sign-in.
    pub roles: Vec<String>,
}

/// A "Sign in with …" button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptionView {
    pub id: String,
    pub name: String,
    pub kind: String,
}

#[cfg(feature = "ssr")]
impl From<service::sso::SignInOption> for SignInOptionView {
    fn from(o: service::sso::SignInOption) -> Self {
        SignInOptionView {
            id: o.id.to_string(),
            name: o.name,
            kind: o.kind.as_str().to_owned(),
        }
    }
}

impl SignInOptionView {
    /// Where the button goes: the start of the sign-in at the provider.
    pub fn href(&self, query: &[(&str, &str)]) -> String {
        let query: Vec<String> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        if query.is_empty() {
            format!("/auth/sso/login/{}", self.id)
        } else {
            format!("/auth/sso/login/{}?{}", self.id, query.join("&"))
        }
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_links_carry_encoded_parameters() {
        let o = SignInOptionView {
            id: "abc".into(),
            name: "Okta".into(),
            kind: "oidc".into(),
        };
        assert_eq!(o.href(&[]), "/auth/sso/login/abc");
        assert_eq!(
            o.href(&[("next", "/roles?x=1&y"), ("add", "")]),
            "/auth/sso/login/abc?next=/roles%3Fx%3D1%26y"
        );
    }
}
