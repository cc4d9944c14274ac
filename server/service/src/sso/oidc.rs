//! The OpenID Connect protocol side of SSO: one HTTP client for every provider, and each
//! issuer's discovery document and signing keys, cached for a few minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, IssuerUrl, ProviderMetadata, reqwest};
use serde::{Deserialize, Serialize};

/// How long a discovery document and its keys are trusted before they are fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

/// What the core metadata lacks: whether the provider puts `iss` in its authorization
/// responses (RFC 9207), in which case a response without it is refused.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Extra {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for Extra {}

pub type Metadata = ProviderMetadata<
    Extra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The client every provider call goes through. It never follows redirects (a provider
/// could otherwise point the server at internal addresses) and gives up after 10 s, so a
/// dead provider fails a sign-in quickly instead of holding the request.
pub fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("tenantry/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS client with default settings")
    })
}

type Cache = Mutex<HashMap<String, (Instant, Arc<Metadata>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The issuer's discovery document and keys: from the cache unless `fresh` or stale. The
/// error is a sentence for an admin (what failed and why), without secrets.
pub async fn discover(issuer: &str, fresh: bool) -> std::result::Result<Arc<Metadata>, String> {
    if !fresh
        && let Some((at, meta)) = cache().lock().expect("cache lock").get(issuer)
        && at.elapsed() < DISCOVERY_TTL
    {
        return Ok(meta.clone());
    }
    let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("not a URL: {e}"))?;
    let meta = Metadata::discover_async(url, http())
        .await
        .map_err(|e| describe(&e))?;
    let meta = Arc::new(meta);
    cache()
        .lock()
        .expect("cache lock")
        .insert(issuer.to_owned(), (Instant::now(), meta.clone()));
    Ok(meta)
}

/// An error and its causes in one line.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
