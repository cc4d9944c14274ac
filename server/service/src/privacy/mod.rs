//! Data protection: field-level encryption's keys and constructions
//! (docs/data-protection.md).
//!
//! * [`columns`]: every column that holds personal data, and how.
//! * [`envelope`]: sealed fields, wrapped keys, blind indexes and search grams.
//! * [`keys`]: the hierarchy (master key → tenant keys → data subjects' keys) and each
//!   instance's [`keys::Keyring`].
//! * [`personal`]: personal values sealed inside kept JSON (audit records, events).
//! * [`erase`]: erasing a person (crypto-shredding); [`export`]: exporting everything held
//!   about them; [`retention`]: what a tenant keeps no longer; [`keyjobs`]: sealing what
//!   is stored in plain text, and rotating a tenant's data key; [`reseal`]: sealing what
//!   audit records and events written before encryption hold in plain text.

pub mod columns;
pub mod envelope;
pub mod erase;
pub mod export;
pub mod keyjobs;
pub mod keys;
mod lease;
pub mod personal;
pub mod reseal;
pub mod retention;

use serde::Serialize;
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::db::Db;
use crate::error::Result;

/// What [`rotate_master`] sealed again under the master key that seals now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resealed {
    pub tenants: usize,
    pub tenant_keys: usize,
    pub signing_keys: usize,
    pub webhook_secrets: usize,
    pub sso_secrets: usize,
    pub queued_mail: usize,
}

/// `tenantry keys rotate-master`: seals everything the master key seals (each tenant's
/// keys, the token signing keys, webhook and SSO secrets, queued mail) again under the first
/// key of `TENANTRY_MASTER_KEY`, so that the older master keys can be removed from it.
/// Nothing sealed under a tenant's or a subject's key is touched. Safe to run again (a value
/// already sealed by the current master key is skipped) and while the server runs.
pub async fn rotate_master(db: &Db, master: &MasterKey) -> Result<Resealed> {
    let mut done = Resealed::default();
    let tenants: Vec<Uuid> = sqlx::query_scalar!("select id from tenants order by id")
        .fetch_all(db.pool())
        .await?;
    for tenant in tenants {
        done.tenants += 1;
        done.tenant_keys += keys::rewrap_tenant(db, master, tenant).await?;
        done.webhook_secrets += crate::webhooks::reseal_secrets(db, master, tenant).await?;
        done.sso_secrets += crate::sso::reseal_secrets(db, master, tenant).await?;
    }
    done.signing_keys = crate::auth::keys::reseal(db, master).await?;
    done.queued_mail = crate::mail::reseal(db, master).await?;
    Ok(done)
}
