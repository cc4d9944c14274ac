use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub identity_name: String,
    pub status: String,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    /// The key's own rate limit, e.g. `5 a second, 20 at once`.
    pub rate_limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeysView {
    pub keys: Vec<ApiKeyView>,
    /// Every key of the tenant rather than the caller's own.
    pub all: bool,
}

/// A key just made: the only time its secret leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    pub name: String,
    pub secret: String,
}

/// Expiry choices of the create form: (days, label); 0 means never.
pub const EXPIRY: [(&str, &str); 6] = [
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("7", "In 7 days"),
    ("365", "In a year"),
    ("1", "Tomorrow"),
    ("0", "Never"),
];

/// Splits what was typed in the scopes field (commas, spaces or new lines).
pub fn split_scopes(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_commas_and_spaces() {
        assert_eq!(
            split_scopes(" memories:read, identities:read\n*:read "),
            vec!["memories:read", "identities:read", "*:read"]
        );
        assert!(split_scopes(" , ").is_empty());
    }
}
