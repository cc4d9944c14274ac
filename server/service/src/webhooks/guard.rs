//! The guard against server-side request forgery: a webhook may not point the server at
//! itself, its private network, link-local addresses or a cloud metadata service, unless
//! the operator allows private addresses (`TENANTRY_WEBHOOKS_ALLOW_PRIVATE`, for tests and
//! local use). Checked twice: when a URL is saved (a clear error for the admin), and on
//! every connection (the resolver below), since a name can resolve elsewhere later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether the server must not connect to `ip`.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return forbidden_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // unique local fc00::/7 (includes AWS's metadata fd00:ec2::254)
                || (s[0] & 0xfe00) == 0xfc00
                // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfe80
                // site-local fec0::/10 (deprecated, still routed privately)
                || (s[0] & 0xffc0) == 0xfec0
                // IPv4-compatible ::a.b.c.d (deprecated)
                || (s[..6] == [0; 6] && v6 != Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: the metadata service of most clouds
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240 // reserved
}

/// Why a URL cannot be a webhook endpoint: a stable code (`invalid_url`, `unresolvable`,
/// `refused`) and words for the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlProblem {
    pub code: &'static str,
    pub message: String,
}

impl UrlProblem {
    fn invalid(message: &str) -> Self {
        UrlProblem {
            code: "invalid_url",
            message: message.into(),
        }
    }

    fn refused() -> Self {
        UrlProblem {
            code: "refused",
            message: "This URL points at a private, loopback or link-local address, which webhooks may not reach.".into(),
        }
    }
}

impl std::fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks a URL without looking its host up.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, UrlProblem> {
    let url = Url::parse(raw.trim()).map_err(|_| {
        UrlProblem::invalid("Enter a full URL such as https://hooks.example.com/tenantry.")
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(UrlProblem::invalid(
            "The URL must start with https:// (or http://).",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::invalid(
            "Leave credentials out of the URL: receivers check the webhook-signature header instead.",
        ));
    }
    let Some(host) = url.host() else {
        return Err(UrlProblem::invalid("The URL names no host."));
    };
    if !allow_private {
        let literal = match host {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal") {
                    return Err(UrlProblem::refused());
                }
                None
            }
        };
        if literal.is_some_and(forbidden) {
            return Err(UrlProblem::refused());
        }
    }
    Ok(url)
}

/// Resolves the URL's host now and refuses it when every address it has is forbidden.
pub async fn check_resolves(url: &Url, allow_private: bool) -> Result<(), UrlProblem> {
    if allow_private {
        return Ok(());
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(()); // an address, checked by `check_url`
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| UrlProblem {
            code: "unresolvable",
            message: format!("{host} does not resolve to an address."),
        })?
        .collect();
    if addrs.is_empty() || addrs.iter().all(|a| forbidden(a.ip())) {
        return Err(UrlProblem::refused());
    }
    Ok(())
}

/// A DNS resolver that drops forbidden addresses, and fails when none is left: the
/// delivery client connects only where a webhook may go, whatever the name resolves to
/// at that moment.
#[derive(Debug, Default)]
pub struct GuardedResolver;

#[derive(Debug)]
struct RefusedAddress(String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves only to private, loopback or link-local addresses",
            self.0
        )
    }
}

impl std::error::Error for RefusedAddress {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = all.filter(|a| !forbidden(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedAddress(host)) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip} must be forbidden");
        }
        for ip in [
            "93.184.215.14",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_are_checked_before_they_are_saved() {
        assert!(check_url("https://hooks.example.com/x?token=1", false).is_ok());
        assert!(check_url("http://hooks.example.com", false).is_ok());
        for bad in [
            "ftp://hooks.example.com",
            "hooks.example.com/x",
            "https://user:pw@hooks.example.com",
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:3000",
            "http://api.localhost",
            "http://metadata.google.internal/computeMetadata/v1",
            "http://2130706433/", // 127.0.0.1 written as a number
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} must be refused");
        }
        for (url, code) in [
            ("ftp://hooks.example.com", "invalid_url"),
            ("http://127.0.0.1:8080/hook", "refused"),
            ("http://localhost:3000", "refused"),
        ] {
            assert_eq!(check_url(url, false).unwrap_err().code, code, "{url}");
        }
        // Allowed for tests and local use.
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(check_url("http://localhost:3000", true).is_ok());
    }
}
