//! The Limits screen's server function: `service::limits::usage::mine` (which checks
//! `settings:read`) turned into what the screen shows.

use leptos::prelude::*;

use super::model::LimitsView;
use crate::error::AppError;

#[cfg(feature = "ssr")]
fn rate(name: &str, what: &str, r: service::limits::plans::Rate) -> super::model::RateView {
    super::model::RateView {
        name: name.to_owned(),
        limit: format!(
            "{} a second, {} at once",
            crate::format::number(r.rate),
            crate::format::count(i64::from(r.burst))
        ),
        what: what.to_owned(),
    }
}

#[cfg(feature = "ssr")]
fn view_of(m: service::limits::usage::Mine) -> LimitsView {
    use service::limits::Quota;
    LimitsView {
        plan: m.plan.as_str().to_owned(),
        enforced: m.enforced,
        rates: vec![
            rate(
                "Tenant",
                "All of the tenant's requests together",
                m.rates.tenant,
            ),
            rate(
                "Each person",
                "One person's requests, however they sign in",
                m.rates.user,
            ),
            rate(
                "Each agent",
                "One agent's requests, with any of its keys",
                m.rates.agent,
            ),
            rate(
                "Each address before sign-in",
                "Sign-in, password reset, invitations and SSO from one address",
                m.anonymous,
            ),
        ],
        quotas: m
            .quotas
            .into_iter()
            .map(|u| {
                let (label, href) = match u.quota {
                    Quota::Identities => ("Identities", "/identities"),
                    Quota::Memories => ("Memories", "/memories"),
                    Quota::Webhooks => ("Webhooks", "/webhooks"),
                    Quota::Policies => ("Policies", "/policies"),
                    Quota::ApiKeys => ("API keys", "/api-keys?all=1"),
                };
                super::model::QuotaView {
                    label: label.to_owned(),
                    used: u.used,
                    limit: u.limit,
                    href: href.to_owned(),
                }
            })
            .collect(),
        hours: m
            .last_24h
            .into_iter()
            .map(|h| super::model::HourView {
                label: crate::format::hour(h.hour),
                served: h.served,
                refused: h.refused,
            })
            .collect(),
    }
}

/// The tenant's plan, rates, quotas with their use, and the last day's requests.
#[server(endpoint = "limits/mine")]
pub async fn my_limits() -> Result<LimitsView, AppError> {
    let (db, ctx) = (crate::server::db()?, crate::server::ctx().await?);
    Ok(view_of(service::limits::usage::mine(&ctx, &db).await?))
}
