//! Mail the product sends, through an outbox: a service function queues a message in the
//! same transaction as the change it belongs to, and the sender (a worker of the server)
//! delivers it, retrying with backoff, so a failed send never loses it. What a message needs
//! is sealed with the master key at rest (an invitation carries a link that is a credential)
//! and rendered when sent, with the server's public address.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::error::{Error, Result};

/// Sealing context: a sealed payload cannot be opened as anything else.
const SEAL_CONTEXT: &[u8] = b"tenantry mail outbox v1";
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

/// Queues a message in the caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    master: &MasterKey,
    tenant_id: Uuid,
    subject_id: Option<Uuid>,
    to: &str,
    payload: &Payload,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let json = serde_json::to_vec(payload).map_err(|e| Error::internal("mail payload", e))?;
    let sealed = master.seal(&json, SEAL_CONTEXT);
    let subject = render(payload, "").subject;
    sqlx::query!(
        "insert into mail_outbox (id, tenant_id, kind, subject_id, to_address, subject, body_sealed)
         values ($1, $2, $3, $4, $5, $6, $7)",
        id,
        tenant_id,
        payload.kind(),
        subject_id,
        to,
        subject,
        sealed
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("select pg_notify('tenantry_mail', '')")
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// Opens a sealed payload.
pub fn open(master: &MasterKey, sealed: &[u8]) -> Result<Payload> {
    let json = master.open(sealed, SEAL_CONTEXT)?;
    serde_json::from_slice(&json).map_err(|e| Error::internal("mail payload", e))
}

/// Seals queued mail not yet sent again under the master key that seals now
/// (`tenantry keys rotate-master`); returns how many messages changed.
pub(crate) async fn reseal(db: &crate::Db, master: &MasterKey) -> Result<usize> {
    let mut tx = db.pool().begin().await?;
    let rows = sqlx::query!(
        "select id, body_sealed from mail_outbox where sent_at is null and failed_at is null
         for update skip locked"
    )
    .fetch_all(&mut *tx)
    .await?;
    let (ids, sealed) = master
        .reseal_rows(rows.into_iter().map(|r| (r.id, r.body_sealed)), |_| {
            SEAL_CONTEXT.to_vec()
        })?;
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
        r#"select id, kind, subject_id, to_address, subject, body_sealed, attempts, last_error,
                  created_at, sent_at, sent_via, failed_at
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
            // Only invitation links, and only to those who may invite: a password reset
            // link is its owner's alone.
            let link_path = (status == "logged" && r.kind == "invitation" && may_invite)
                .then(|| open(master, &r.body_sealed).ok())
                .flatten()
                .map(|p| p.path().to_owned());
            OutboxEntry {
                id: r.id,
                kind: r.kind,
                subject_id: r.subject_id,
                to: r.to_address,
                subject: r.subject,
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
        "select id, to_address, body_sealed, attempts from mail_outbox
         where sent_at is null and failed_at is null and next_attempt_at <= now()
         order by next_attempt_at limit $1 for update skip locked",
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Due {
            id: r.id,
            to: r.to_address,
            payload: open(master, &r.body_sealed),
            attempts: r.attempts,
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
