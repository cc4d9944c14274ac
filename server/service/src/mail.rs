//! Mail the product sends, through an outbox: a service function queues a message in the
//! same transaction as the change it belongs to, and the sender (a worker of the server)
//! delivers it, retrying with backoff, so a failed send never loses it. What a message needs
//! (its recipient included) is sealed with the master key at rest, bound to its tenant and
//! row (an invitation carries a link that is a credential, and the address and the subject
//! are personal data), and rendered when sent or shown, with the server's public address.
//! The recipient's blind index lets erasure find a person's mail. Rows of format 1 (queued
//! before this) keep their address and subject in plain text until they are cleaned up.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::privacy::keys::TenantKeys;

/// Sealing context of format 1 (a payload alone, the recipient beside it in plain text).
const SEAL_CONTEXT: &[u8] = b"tenantry mail outbox v1";
/// Sealing context of format 2 (the recipient and the payload), followed by the tenant's
/// and the message's ids: a sealed body cannot be opened as anything else, nor in another
/// row.
const SEAL_CONTEXT_V2: &[u8] = b"tenantry mail outbox v2";
/// The format new messages are written in.
const FORMAT: i16 = 2;

fn context(format: i16, tenant: Option<Uuid>, id: Uuid) -> Vec<u8> {
    if format == 1 {
        return SEAL_CONTEXT.to_vec();
    }
    let mut c = SEAL_CONTEXT_V2.to_vec();
    c.push(0);
    c.extend_from_slice(tenant.unwrap_or_default().as_bytes());
    c.extend_from_slice(id.as_bytes());
    c
}

/// What a body of format 2 holds.
#[derive(Debug, Serialize, Deserialize)]
struct Letter {
    to: String,
    payload: Payload,
}

/// A stored message's recipient and payload, opened.
fn open_row(
    master: &MasterKey,
    (format, tenant, id): (i16, Option<Uuid>, Uuid),
    to_address: Option<String>,
    sealed: &[u8],
) -> Result<(String, Payload)> {
    let json = master.open(sealed, &context(format, tenant, id))?;
    match (format, to_address) {
        (1, Some(to)) => Ok((
            to,
            serde_json::from_slice(&json).map_err(|e| Error::internal("mail payload", e))?,
        )),
        _ => {
            let letter: Letter =
                serde_json::from_slice(&json).map_err(|e| Error::internal("mail payload", e))?;
            Ok((letter.to, letter.payload))
        }
    }
}
/// After this many failed attempts a message is given up (and shown as failed).
pub const MAX_ATTEMPTS: i32 = 8;

/// What a queued message says, before rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    Invitation {
        tenant_name: String,
        inviter: String,
        message: String,
        /// The path of the accept page, token included: `/invite/iv1.…`.
        path: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    PasswordReset {
        tenant_name: String,
        /// The path of the reset page, token included: `/reset-password/pr1.…`.
        path: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// To the old address, when an account's email changes: no link, only the news.
    EmailChanged {
        tenant_name: String,
        /// The new address, partly hidden (`a•••@example.com`); none when it was removed.
        new_email: Option<String>,
    },
}

/// `ada@example.com` as `a•••@example.com`: enough to recognise, not to harvest.
pub(crate) fn mask_address(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

/// `text` with every address in it masked as [`mask_address`] masks one (what the trail
/// keeps of a message that quoted one).
pub(crate) fn mask_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if !word.contains('@') {
                return word.to_owned();
            }
            let address = word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
            format!("{}{}", mask_address(address), &word[address.len()..])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Invitation { .. } => "invitation",
            Payload::PasswordReset { .. } => "password_reset",
            Payload::EmailChanged { .. } => "email_changed",
        }
    }

    /// The link the message carries, relative to the server (none for a notice).
    pub fn path(&self) -> &str {
        match self {
            Payload::Invitation { path, .. } | Payload::PasswordReset { path, .. } => path,
            Payload::EmailChanged { .. } => "",
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

/// Renders `payload` with the server's public address (`https://id.example.com`).
pub fn render(payload: &Payload, base_url: &str) -> Rendered {
    let base = base_url.trim_end_matches('/');
    let when = |t: &OffsetDateTime| {
        t.format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
    };
    match payload {
        Payload::PasswordReset {
            tenant_name,
            path,
            expires_at,
        } => Rendered {
            subject: format!("Reset your {tenant_name} password on Tenantry"),
            text: format!(
                "Hello,\n\nSomeone asked to reset the password of your {tenant_name} account on Tenantry.\nIf it was you, choose a new password here:\n\n  {base}{path}\n\nThe link works once and until {}. If it was not you, ignore this message: your password stays as it is.\n",
                when(expires_at)
            ),
        },
        Payload::EmailChanged {
            tenant_name,
            new_email,
        } => Rendered {
            subject: format!("The email of your {tenant_name} account on Tenantry changed"),
            text: format!(
                "Hello,\n\nThe email address of your {tenant_name} account on Tenantry was changed{}. Password reset links sent to this address no longer work.\n\nIf you did not ask for this, contact an administrator of {tenant_name} at once: someone may be taking over your account.\n",
                match new_email {
                    Some(e) => format!(" to {e}"),
                    None => " (it has none now)".into(),
                }
            ),
        },
        Payload::Invitation {
            tenant_name,
            inviter,
            message,
            path,
            expires_at,
        } => {
            let expiry = when(expires_at);
            let note = if message.trim().is_empty() {
                String::new()
            } else {
                format!(
                    "\n{inviter} wrote:\n\n  {}\n",
                    message.trim().replace('\n', "\n  ")
                )
            };
            Rendered {
                subject: format!("{inviter} invited you to {tenant_name} on Tenantry"),
                text: format!(
                    "Hello,\n\n{inviter} invited you to join {tenant_name} on Tenantry.\n{note}\nAccept the invitation here:\n\n  {base}{path}\n\nThe link works once and until {expiry}. If you did not expect this \
                     invitation, ignore this message.\n"
                ),
            }
        }
    }
}

/// Queues a message in the caller's transaction: the recipient and the payload sealed
/// together, the recipient's blind index beside them (for erasure).
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    (master, keys): (&MasterKey, &TenantKeys),
    tenant_id: Uuid,
    subject_id: Option<Uuid>,
    to: &str,
    payload: &Payload,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let letter = Letter {
        to: to.to_owned(),
        payload: payload.clone(),
    };
    let json = serde_json::to_vec(&letter).map_err(|e| Error::internal("mail payload", e))?;
    let sealed = master.seal(&json, &context(FORMAT, Some(tenant_id), id));
    sqlx::query!(
        "insert into mail_outbox (id, tenant_id, kind, subject_id, format, to_index, body_sealed)
         values ($1, $2, $3, $4, $5, $6, $7)",
        id,
        tenant_id,
        payload.kind(),
        subject_id,
        FORMAT,
        crate::identities::sealed::email_index(keys, to),
        sealed
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("select pg_notify('tenantry_mail', '')")
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// Opens a payload sealed in format 1 (tests of what was queued before format 2).
#[cfg(test)]
fn open(master: &MasterKey, sealed: &[u8]) -> Result<Payload> {
    let json = master.open(sealed, SEAL_CONTEXT)?;
    serde_json::from_slice(&json).map_err(|e| Error::internal("mail payload", e))
}

/// Deletes the tenant's mail to the address whose blind index is `index` (or, queued before
/// format 2, to `lower_address`), and what is about `subject_id`; how many messages.
pub(crate) async fn delete_to(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    (index, lower_address): (&[u8], &str),
    subject_id: Uuid,
) -> Result<u64> {
    Ok(sqlx::query!(
        "delete from mail_outbox
         where tenant_id = $1 and (to_index = $2 or lower(to_address) = $3 or subject_id = $4)",
        tenant_id,
        index,
        lower_address,
        subject_id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Seals queued mail not yet sent again under the master key that seals now
/// (`tenantry keys rotate-master`); returns how many messages changed.
pub(crate) async fn reseal(db: &crate::Db, master: &MasterKey) -> Result<usize> {
    let mut tx = db.pool().begin().await?;
    let rows = sqlx::query!(
        "select id, tenant_id, format, body_sealed from mail_outbox
         where sent_at is null and failed_at is null
         for update skip locked"
    )
    .fetch_all(&mut *tx)
    .await?;
    let (rows, sealed) = master.reseal_rows(
        rows.into_iter()
            .map(|r| ((r.id, r.tenant_id, r.format), r.body_sealed)),
        |(id, tenant, format)| context(*format, *tenant, *id),
    )?;
    let ids: Vec<Uuid> = rows.into_iter().map(|(id, _, _)| id).collect();
    sqlx::query!(
        "update mail_outbox m set body_sealed = v.sealed
         from unnest($1::uuid[], $2::bytea[]) as v (id, sealed) where m.id = v.id",
        &ids,
        &sealed
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.len())
}

/// One message as the console's outbox view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub kind: String,
    pub subject_id: Option<Uuid>,
    pub to: String,
    pub subject: String,
    /// `queued`, `sent` (accepted by the SMTP server), `logged` (no SMTP server: written
    /// to the log), or `failed` (given up after [`MAX_ATTEMPTS`]).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
    /// The link the message carries, for messages that were only logged (a local
    /// installation without SMTP): the person who set it up can still follow it.
    pub link_path: Option<String>,
}

/// The tenant's latest messages (needs `invitations:read`, as invitations are what is sent).
pub async fn outbox(ctx: &crate::Ctx, db: &crate::Db, limit: i64) -> Result<Vec<OutboxEntry>> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        crate::authz::perm::INVITATIONS_READ,
        crate::authz::Target::collection(tenant_id, "invitations"),
    )?;
    let rows = sqlx::query!(
        r#"select id, tenant_id, format, kind, subject_id, to_address, subject, body_sealed,
                  attempts, last_error, created_at, sent_at, sent_via, failed_at
           from mail_outbox where tenant_id = $1
           order by created_at desc limit $2"#,
        tenant_id,
        limit.clamp(1, 200)
    )
    .fetch_all(db.pool())
    .await?;
    let master = db.master_key()?;
    let may_invite = ctx
        .authorize_quietly(
            crate::authz::perm::INVITATIONS_CREATE,
            crate::authz::Target::collection(tenant_id, "invitations"),
        )
        .is_ok();
    Ok(rows
        .into_iter()
        .map(|r| {
            let status = match (r.sent_via.as_deref(), r.failed_at) {
                (Some("smtp"), _) => "sent",
                (Some(_), _) => "logged",
                (None, Some(_)) => "failed",
                (None, None) => "queued",
            };
            let opened = open_row(
                master,
                (r.format, r.tenant_id, r.id),
                r.to_address.clone(),
                &r.body_sealed,
            );
            let (to, subject) = match (&opened, r.to_address, r.subject) {
                (_, Some(to), Some(subject)) => (to, subject),
                (Ok((to, payload)), _, _) => (to.clone(), render(payload, "").subject),
                (Err(_), _, _) => ("(cannot be opened)".to_owned(), String::new()),
            };
            // Only invitation links, and only to those who may invite: a password reset
            // link is its owner's alone.
            let link_path = (status == "logged" && r.kind == "invitation" && may_invite)
                .then(|| opened.ok())
                .flatten()
                .map(|(_, p)| p.path().to_owned());
            OutboxEntry {
                id: r.id,
                kind: r.kind,
                subject_id: r.subject_id,
                to,
                subject,
                status: status.into(),
                attempts: r.attempts,
                last_error: r.last_error,
                created_at: r.created_at,
                sent_at: r.sent_at,
                link_path,
            }
        })
        .collect())
}

/// A message the sender claimed.
pub struct Due {
    pub id: Uuid,
    pub to: String,
    pub payload: Result<Payload>,
    pub attempts: i32,
}

/// Messages a sender claimed: locked (and invisible to other senders, `SKIP LOCKED`) until
/// the batch is committed with what became of each, or dropped (then they are due again).
pub struct Batch {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    pub due: Vec<Due>,
}

impl Batch {
    /// Claims up to `limit` due messages; opened with the server's master key.
    pub async fn claim(db: &crate::Db, limit: i64) -> Result<Batch> {
        let master = db.master_key()?;
        let mut tx = db.pool().begin().await?;
        let due = claim_due(&mut tx, master, limit).await?;
        Ok(Batch { tx, due })
    }

    /// Records a delivery (`via` is `smtp` or `log`).
    pub async fn sent(&mut self, id: Uuid, via: &str) -> Result<()> {
        mark_sent(&mut self.tx, id, via).await
    }

    /// Records a failed attempt (see [`MAX_ATTEMPTS`]).
    pub async fn failed(&mut self, id: Uuid, attempts: i32, error: &str) -> Result<()> {
        mark_failed(&mut self.tx, id, attempts, error).await
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

async fn claim_due(tx: &mut PgConnection, master: &MasterKey, limit: i64) -> Result<Vec<Due>> {
    let rows = sqlx::query!(
        "select id, tenant_id, format, to_address, body_sealed, attempts from mail_outbox
         where sent_at is null and failed_at is null and next_attempt_at <= now()
         order by next_attempt_at limit $1 for update skip locked",
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let opened = open_row(
                master,
                (r.format, r.tenant_id, r.id),
                r.to_address.clone(),
                &r.body_sealed,
            );
            let (to, payload) = match opened {
                Ok((to, payload)) => (to, Ok(payload)),
                Err(e) => (r.to_address.unwrap_or_default(), Err(e)),
            };
            Due {
                id: r.id,
                to,
                payload,
                attempts: r.attempts,
            }
        })
        .collect())
}

async fn mark_sent(tx: &mut PgConnection, id: Uuid, via: &str) -> Result<()> {
    sqlx::query!(
        "update mail_outbox set sent_at = now(), sent_via = $2, attempts = attempts + 1,
                last_error = null where id = $1",
        id,
        via
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried after 2^attempts seconds (at most an hour), given up
/// after [`MAX_ATTEMPTS`].
async fn mark_failed(tx: &mut PgConnection, id: Uuid, attempts: i32, error: &str) -> Result<()> {
    let next = attempts + 1;
    let delay = 2f64.powi(next.min(12)).min(3600.0);
    let error: String = error.chars().take(500).collect();
    sqlx::query!(
        "update mail_outbox set attempts = $2::int4, last_error = $3,
                next_attempt_at = now() + make_interval(secs => $4),
                failed_at = case when $2::int4 >= $5::int4 then now() end
         where id = $1",
        id,
        next,
        error,
        delay,
        MAX_ATTEMPTS
    )
    .execute(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_render_with_the_public_address() {
        let p = Payload::Invitation {
            tenant_name: "Acme".into(),
            inviter: "Ada".into(),
            message: "Welcome aboard!".into(),
            path: "/invite/iv1.abc".into(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let r = render(&p, "https://id.example.com/");
        assert_eq!(r.subject, "Ada invited you to Acme on Tenantry");
        assert!(
            r.text.contains("https://id.example.com/invite/iv1.abc"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Welcome aboard!"));
        assert!(r.text.contains("1970-01-01 00:00 UTC"));
    }

    #[test]
    fn addresses_in_a_message_are_masked() {
        assert_eq!(
            mask_addresses("There is no account for ada@example.com. Ask, bo@x.org!"),
            "There is no account for a•••@example.com. Ask, b•••@x.org!"
        );
        assert_eq!(mask_addresses("no address here"), "no address here");
    }

    #[test]
    fn a_letter_opens_only_in_its_own_row_and_tenant() {
        let (master, _) = MasterKey::generate();
        let (tenant, id) = (Uuid::now_v7(), Uuid::now_v7());
        let p = Payload::PasswordReset {
            tenant_name: "Acme".into(),
            path: "/reset-password/pr1.x".into(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let letter = Letter {
            to: "ada@example.com".into(),
            payload: p.clone(),
        };
        let sealed = master.seal(
            &serde_json::to_vec(&letter).unwrap(),
            &context(FORMAT, Some(tenant), id),
        );
        assert!(!String::from_utf8_lossy(&sealed).contains("ada@"));
        let (to, payload) = open_row(&master, (FORMAT, Some(tenant), id), None, &sealed).unwrap();
        assert_eq!((to.as_str(), payload), ("ada@example.com", p));
        assert!(
            open_row(
                &master,
                (FORMAT, Some(tenant), Uuid::now_v7()),
                None,
                &sealed
            )
            .is_err()
        );
        assert!(open_row(&master, (FORMAT, Some(Uuid::now_v7()), id), None, &sealed).is_err());
        assert!(open_row(&master, (1, Some(tenant), id), Some("x@y".into()), &sealed).is_err());
    }

    #[test]
    fn payloads_are_sealed_to_the_outbox() {
        let (master, _) = MasterKey::generate();
        let p = Payload::Invitation {
            tenant_name: "Acme".into(),
            inviter: "Ada".into(),
            message: String::new(),
            path: "/invite/x".into(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let sealed = master.seal(&serde_json::to_vec(&p).unwrap(), SEAL_CONTEXT);
        assert!(!String::from_utf8_lossy(&sealed).contains("/invite/x"));
        assert_eq!(open(&master, &sealed).unwrap(), p);
        assert!(master.open(&sealed, b"another context").is_err());
    }
}
