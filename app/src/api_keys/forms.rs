//! What the API keys screen's form posts (flat text fields, taken with `#[server(flatten)]`).

use serde::{Deserialize, Serialize};

/// A new key for the signed-in identity: `scopes` separated by spaces or commas (none: the
/// identity's own rights); `expires_in_days` empty or `0` for never; `rate` (requests a
/// second) empty for no limit of the key's own, `burst` empty for one second's worth.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeyForm {
    pub name: String,
    pub scopes: String,
    pub expires_in_days: String,
    pub rate: String,
    pub burst: String,
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
        let rate_limit = rate_limit(&f.rate, &f.burst)?;
        Ok(service::api_keys::NewApiKey {
            scopes: super::model::split_scopes(&f.scopes),
            name: f.name,
            expires_in_days,
            identity_id: None,
            rate_limit,
        })
    }
}

/// The key's own rate from the form's two fields (field errors are named as the service
/// names them, `rate_limit.rate` and `rate_limit.burst`).
#[cfg(feature = "ssr")]
fn rate_limit(rate: &str, burst: &str) -> service::Result<Option<service::limits::plans::Rate>> {
    let (rate, burst) = (rate.trim(), burst.trim());
    if rate.is_empty() {
        if !burst.is_empty() {
            return Err(service::Error::validation(
                "rate_limit.rate",
                "required",
                "Give a rate for the burst to apply to, or leave both empty.",
            ));
        }
        return Ok(None);
    }
    let rate: f64 = rate.parse().map_err(|_| {
        service::Error::validation(
            "rate_limit.rate",
            "invalid_value",
            "Write the rate as a number of requests a second, e.g. 5 or 0.5.",
        )
    })?;
    let burst = match burst {
        "" => (rate.ceil() as u32).max(1),
        b => b.parse().map_err(|_| {
            service::Error::validation(
                "rate_limit.burst",
                "invalid_value",
                "Write the burst as a whole number of requests.",
            )
        })?,
    };
    Ok(Some(service::limits::plans::Rate { rate, burst }))
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn a_rate_alone_gets_a_seconds_burst_and_a_burst_alone_is_refused() {
        assert_eq!(rate_limit("", "").unwrap(), None);
        let r = rate_limit(" 2.5 ", "").unwrap().unwrap();
        assert_eq!((r.rate, r.burst), (2.5, 3));
        let r = rate_limit("5", "20").unwrap().unwrap();
        assert_eq!((r.rate, r.burst), (5.0, 20));
        let e = rate_limit("", "20").unwrap_err();
        assert_eq!(e.field_errors()[0].field, "rate_limit.rate");
        let e = rate_limit("fast", "").unwrap_err();
        assert_eq!(e.field_errors()[0].field, "rate_limit.rate");
        let e = rate_limit("5", "-1").unwrap_err();
        assert_eq!(e.field_errors()[0].field, "rate_limit.burst");
    }
}
