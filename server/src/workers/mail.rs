//! The mail sender: delivers the outbox (`service::mail`) over SMTP, or, with no SMTP server
//! configured, writes each mail to the log so a local installation can still follow its
//! links (the console's outbox view shows them too). Woken by `NOTIFY tenantry_mail` when a
//! mail is queued and every few seconds for retries; any number of instances may run it
//! (rows are claimed with `FOR UPDATE SKIP LOCKED`).

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use service::Db;
use tokio::task::JoinHandle;

/// How the server sends mail.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    /// Without SMTP, whether a mail's text (and so its one-time link) goes to the log; off
    /// unless the operator opts in (`TENANTRY_MAIL_LOG_BODIES`).
    log_bodies: bool,
    from: Mailbox,
    /// The server's public address, for links (`https://id.example.com`).
    pub base_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("smtp", &self.transport.is_some())
            .field("from", &self.from.to_string())
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl Mailer {
    /// `smtp_url`: `smtp://host:port` (plain, for a relay on the same host or network),
    /// `smtp+starttls://host:port` or `smtps://host:port`, each with optional
    /// `user:password@`. `None`: mails go to the log.
    pub fn new(smtp_url: Option<&str>, from: &str, base_url: &str) -> anyhow::Result<Mailer> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("TENANTRY_MAIL_FROM is not a mailbox: {e}"))?;
        let transport = match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(raw) => Some(transport(raw)?),
        };
        Ok(Mailer {
            transport,
            log_bodies: false,
            from,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The same sender, writing whole mails (links included) to the log when there is no
    /// SMTP server: for a local installation whose operator asked for it.
    pub fn logging_bodies(mut self, yes: bool) -> Mailer {
        self.log_bodies = yes;
        self
    }

    pub fn smtp_configured(&self) -> bool {
        self.transport.is_some()
    }
}

fn transport(raw: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("TENANTRY_SMTP_URL must look like smtp://host:port"))?;
    let (userinfo, hostport) = match rest.trim_end_matches('/').rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest.trim_end_matches('/')),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow::anyhow!("TENANTRY_SMTP_URL has a bad port"))?,
            ),
        ),
        None => (hostport, None),
    };
    if host.is_empty() {
        anyhow::bail!("TENANTRY_SMTP_URL names no host");
    }
    let mut builder = match scheme {
        "smtp" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        "smtp+starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
        "smtps" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        other => {
            anyhow::bail!("TENANTRY_SMTP_URL: unknown scheme {other} (smtp, smtp+starttls, smtps)")
        }
    };
    if let Some(port) = port {
        builder = builder.port(port);
    }
    if let Some(userinfo) = userinfo {
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        builder = builder.credentials(Credentials::new(user.to_owned(), password.to_owned()));
    }
    Ok(builder.timeout(Some(Duration::from_secs(20))).build())
}

/// Sends what is due; returns how many mails went out (or to the log).
pub async fn deliver_due(db: &Db, mailer: &Mailer) -> service::Result<usize> {
    let mut sent = 0;
    loop {
        let mut batch = service::mail::Batch::claim(db, 10).await?;
        if batch.due.is_empty() {
            return Ok(sent);
        }
        for mail in std::mem::take(&mut batch.due) {
            let outcome = match &mail.payload {
                Err(e) => Err(format!("cannot open the queued mail: {e}")),
                Ok(payload) => {
                    let rendered = service::mail::render(payload, &mailer.base_url);
                    send(mailer, &mail.to, &rendered).await
                }
            };
            match outcome {
                Ok(via) => {
                    batch.sent(mail.id, via).await?;
                    sent += 1;
                }
                Err(error) => {
                    tracing::warn!(mail = %mail.id, attempt = mail.attempts + 1, %error, "mail not sent; will retry");
                    batch.failed(mail.id, mail.attempts, &error).await?;
                }
            }
        }
        batch.commit().await?;
    }
}

async fn send(
    mailer: &Mailer,
    to: &str,
    mail: &service::mail::Rendered,
) -> Result<&'static str, String> {
    let Some(transport) = &mailer.transport else {
        if mailer.log_bodies {
            tracing::info!(
                to,
                subject = %mail.subject,
                "no TENANTRY_SMTP_URL: mail written to the log instead of sent\n{}",
                mail.text
            );
        } else {
            // Its one-time link is a credential: the log gets who and what, not the text.
            tracing::info!(
                to,
                subject = %mail.subject,
                "no TENANTRY_SMTP_URL: mail not sent (its text stays out of the log; invitation links show in the console's outbox, TENANTRY_MAIL_LOG_BODIES=true logs whole mails)"
            );
        }
        return Ok("log");
    };
    let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let message = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text.clone())
        .map_err(|e| format!("cannot build the mail: {e}"))?;
    transport
        .send(message)
        .await
        .map(|_| "smtp")
        .map_err(|e| format!("SMTP: {e}"))
}

/// Runs the sender until the server stops: woken when a mail is queued, and every 3 s for
/// retries that fall due.
pub fn spawn_mailer(db: Db, mailer: Mailer) -> JoinHandle<()> {
    super::spawn_woken(db, "tenantry_mail", Duration::from_secs(3), move |db| {
        let mailer = mailer.clone();
        async move {
            if let Err(e) = deliver_due(&db, &mailer).await {
                tracing::warn!(error = %e, "mail delivery failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_understood_or_refused() {
        let from = "Tenantry <no-reply@example.com>";
        assert!(
            !Mailer::new(None, from, "http://x")
                .unwrap()
                .smtp_configured()
        );
        assert!(
            Mailer::new(Some("smtp://127.0.0.1:2525"), from, "http://x")
                .unwrap()
                .smtp_configured()
        );
        assert!(
            Mailer::new(
                Some("smtp://user:secret@mail.example.com:587"),
                from,
                "http://x"
            )
            .is_ok()
        );
        assert!(Mailer::new(Some("smtps://mail.example.com"), from, "http://x").is_ok());
        assert!(Mailer::new(Some("ftp://mail.example.com"), from, "http://x").is_err());
        assert!(Mailer::new(Some("smtp://mail.example.com:port"), from, "http://x").is_err());
        assert!(Mailer::new(Some("mail.example.com"), from, "http://x").is_err());
        assert!(Mailer::new(None, "not a mailbox", "http://x").is_err());
        assert_eq!(
            Mailer::new(None, from, "http://x/").unwrap().base_url,
            "http://x"
        );
    }
}
