//! The OpenID Connect protocol side of SSO: the HTTP client every provider call goes
//! through, and each issuer's discovery document and signing keys, cached for a few minutes.
//!
//! Both belong to one server instance ([`crate::Db::sso`]), not to the process: a pooled
//! connection lives on the runtime that opened it, so a client shared by two runtimes (two
//! servers in one process, as the tests run them) can hand one server's request to a
//! connection whose runtime is busy or gone, and the request hangs or fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// How this server talks to identity providers.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long one request to a provider may take (discovery, keys, token, userinfo),
    /// connection included.
    pub timeout: Duration,
    /// How far the provider's clock may be from ours: an ID token is accepted until `exp`
    /// plus this, and refused when issued (`iat`) more than this in the future.
    pub clock_skew: Duration,
    /// Let provider URLs (the issuer and every endpoint its discovery document names)
    /// reach private, loopback and link-local addresses (tests and local use).
    pub allow_private: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(10),
            clock_skew: Duration::from_secs(60),
            allow_private: false,
        }
    }
}

/// The HTTP client of every call to a provider, behind the same guard as webhooks: a URL
/// naming a private, loopback, link-local or metadata address is refused before any
/// connection (the discovery document names the other endpoints, so a tenant's provider
/// could otherwise point the server anywhere), and names are resolved by the guarded
/// resolver, so one resolving there later is refused at connect time too.
#[derive(Debug, Clone)]
pub struct Guarded {
    client: reqwest::Client,
    allow_private: bool,
}

/// The words a refusal is logged and shown with.
pub const REFUSED: &str =
    "the address is private, loopback or link-local, which the server may not reach";

impl<'c> openidconnect::AsyncHttpClient<'c> for Guarded {
    type Error = openidconnect::HttpClientError<reqwest::Error>;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = std::result::Result<openidconnect::HttpResponse, Self::Error>,
                > + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let url = request.uri().to_string();
            if crate::webhooks::guard::check_url(&url, self.allow_private).is_err() {
                return Err(openidconnect::HttpClientError::Other(REFUSED.into()));
            }
            self.client.call(request).await
        })
    }
}

/// What a tenant admin is told when discovery fails: what went wrong in the server's own
/// words, never the body or the error text of whatever answered (the URL may reach
/// something inside a network).
pub fn public_reason(
    e: &openidconnect::DiscoveryError<openidconnect::HttpClientError<reqwest::Error>>,
) -> String {
    use openidconnect::{DiscoveryError, HttpClientError};
    match e {
        DiscoveryError::Request(HttpClientError::Other(why)) if why == REFUSED => REFUSED.into(),
        DiscoveryError::Request(HttpClientError::Reqwest(r)) if r.is_timeout() => {
            "no answer in time".into()
        }
        DiscoveryError::Request(_) => "the server could not be reached".into(),
        DiscoveryError::Response(status, _, _) => format!("it answered HTTP {}", status.as_u16()),
        DiscoveryError::Parse(_) => "the answer is not an OpenID configuration".into(),
        DiscoveryError::Validation(_) => {
            "the configuration names another issuer than this URL".into()
        }
        DiscoveryError::UrlParse(_) => "the URL is not valid".into(),
        DiscoveryError::Other(_) => "the configuration could not be read".into(),
        _ => "the configuration could not be read".into(),
    }
}

/// One server's provider client and discovery cache.
#[derive(Debug)]
pub struct Oidc {
    client: Guarded,
    pub settings: Settings,
    cache: Cache,
}

impl Oidc {
    /// The client never follows redirects (a provider could otherwise point the server at
    /// internal addresses) and gives up after `settings.timeout`, so a dead provider fails
    /// a sign-in quickly instead of holding the request.
    pub fn new(settings: Settings) -> Oidc {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .timeout(settings.timeout)
            .user_agent(concat!("tenantry/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private {
            builder = builder.dns_resolver(Arc::new(crate::webhooks::guard::GuardedResolver));
        }
        let client = Guarded {
            client: builder.build().expect("a TLS client with default settings"),
            allow_private: settings.allow_private,
        };
        Oidc {
            client,
            settings,
            cache: Cache::default(),
        }
    }

    pub fn http(&self) -> &Guarded {
        &self.client
    }

    /// The issuer's discovery document and keys: from the cache unless `fresh` or stale.
    /// The error is a sentence for an admin (what failed and why), without secrets.
    pub async fn discover(
        &self,
        issuer: &str,
        fresh: bool,
    ) -> std::result::Result<Arc<Metadata>, String> {
        if !fresh
            && let Some((at, meta)) = self.cache.lock().expect("cache lock").get(issuer)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(meta.clone());
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("not a URL: {e}"))?;
        let meta = Metadata::discover_async(url, &self.client)
            .await
            .map_err(|e| {
                tracing::info!(issuer, error = %describe(&e), "OIDC discovery failed");
                public_reason(&e)
            })?;
        let meta = Arc::new(meta);
        self.cache
            .lock()
            .expect("cache lock")
            .insert(issuer.to_owned(), (Instant::now(), meta.clone()));
        Ok(meta)
    }

    /// The time an ID token's `exp` is compared with: now, less the allowed skew.
    pub fn expiry_clock(&self) -> impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync + use<> {
        let skew = chrono::Duration::from_std(self.settings.clock_skew).unwrap_or_default();
        move || chrono::Utc::now() - skew
    }

    /// Refuses an ID token issued (`iat`) further in the future than the allowed skew.
    pub fn issue_time_check(
        &self,
    ) -> impl Fn(chrono::DateTime<chrono::Utc>) -> std::result::Result<(), String> + Send + Sync + use<>
    {
        let skew = chrono::Duration::from_std(self.settings.clock_skew).unwrap_or_default();
        move |iat| {
            let latest = chrono::Utc::now() + skew;
            if iat > latest {
                Err(format!(
                    "ID token issued at {iat}, in the future by more than the allowed clock skew of {} s",
                    skew.num_seconds()
                ))
            } else {
                Ok(())
            }
        }
    }
}

type Cache = Mutex<HashMap<String, (Instant, Arc<Metadata>)>>;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_skew(secs: u64) -> Oidc {
        Oidc::new(Settings {
            timeout: Duration::from_secs(10),
            clock_skew: Duration::from_secs(secs),
            allow_private: false,
        })
    }

    #[test]
    fn an_expired_id_token_passes_only_within_the_allowed_skew() {
        // The verifier refuses a token when its clock reads at or past `exp`.
        let oidc = with_skew(60);
        let clock = oidc.expiry_clock();
        let now = chrono::Utc::now();
        assert!(
            clock() < now - chrono::Duration::seconds(30),
            "30 s late: accepted"
        );
        assert!(
            clock() >= now - chrono::Duration::seconds(90),
            "90 s late: refused"
        );
        let strict = with_skew(0).expiry_clock();
        assert!(strict() >= now, "no skew: expired is expired");
    }

    #[test]
    fn an_id_token_from_the_future_passes_only_within_the_allowed_skew() {
        let check = with_skew(60).issue_time_check();
        let now = chrono::Utc::now();
        assert!(check(now - chrono::Duration::hours(1)).is_ok());
        assert!(check(now + chrono::Duration::seconds(30)).is_ok());
        let refused = check(now + chrono::Duration::seconds(90)).unwrap_err();
        assert!(refused.contains("60 s"), "{refused}");
        assert!(with_skew(0).issue_time_check()(now + chrono::Duration::seconds(5)).is_err());
    }
}
