//! Throttling of the routes that check a secret (sign-in, a password change, accepting an
//! invitation, confirming a reset), shared by every server instance (the counters live in
//! PostgreSQL).
//!
//! Per account (tenant + email): 5 failures within 15 minutes lock it for 30 s, doubling
//! with each further failure up to 15 minutes. Per client IP (an IPv6 client by its /64, as
//! one host usually holds a whole /64): 50 failures within 15 minutes, then the same
//! back-off. Attempts being checked count against the limit too, so parallel guesses
//! cannot outrun it; a success clears the account's counter. An admitted attempt is an
//! [`Admitted`] guard: a request dropped midway (the client went away) gives its slot back.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::error::{Error, Result};

const WINDOW_SECS: i64 = 15 * 60;
const MAX_LOCK_SECS: i64 = 15 * 60;

#[derive(Debug, Clone)]
pub struct Key {
    key: String,
    threshold: i32,
    /// A success clears the counter (an account's); otherwise it only ends the attempt.
    cleared_by_success: bool,
}

impl Key {
    /// An account: the tenant and the address, hashed (the counters are shared by every
    /// instance in PostgreSQL, which keeps no address in the clear).
    pub fn account(tenant_slug: &str, email: &str) -> Key {
        let digest = crate::crypto::sha256(format!("{tenant_slug}\0{email}").as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Key {
            key: format!("acct:{hex}"),
            threshold: 5,
            cleared_by_success: true,
        }
    }

    /// A client address; IPv6 by its /64.
    pub fn ip(ip: IpAddr) -> Key {
        let key = match crate::limits::client_prefix(ip) {
            IpAddr::V4(v4) => format!("ip:{v4}"),
            IpAddr::V6(prefix) => format!("ip:{prefix}/64"),
        };
        Key {
            key,
            threshold: 50,
            cleared_by_success: false,
        }
    }
}

/// An attempt the throttle let through. [`Admitted::finish`] records how it ended; dropped
/// unfinished (the request went away), it gives its slots back without counting a failure.
#[must_use = "an admitted attempt must be finished"]
pub struct Admitted {
    pool: PgPool,
    keys: Vec<Key>,
    finished: bool,
}

impl Admitted {
    pub async fn finish(mut self, succeeded: bool) -> Result<()> {
        self.finished = true;
        end(&self.pool, &self.keys, succeeded).await
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (pool, keys) = (self.pool.clone(), std::mem::take(&mut self.keys));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let keys: Vec<&Key> = keys.iter().collect();
                if let Err(e) = release(&pool, &keys).await {
                    tracing::warn!(error = %e, "could not give a dropped attempt's throttle slot back");
                }
            });
        }
    }
}

/// Registers a sign-in attempt against every key before the password is checked. It is
/// refused (429) while a key is locked, or when the failures so far plus the attempts
/// being checked right now would pass the key's limit: a burst of parallel guesses cannot
/// all slip through while the first ones are still being verified. Every attempt that
/// gets through is an [`Admitted`] guard.
pub async fn attempt(pool: &PgPool, keys: &[Key]) -> Result<Admitted> {
    let mut admitted: Vec<&Key> = Vec::new();
    let mut retry_after: i64 = 0;
    for key in keys {
        let row = sqlx::query!(
            r#"insert into login_throttle as t (key, inflight, window_start)
               values ($1, 1, now())
               on conflict (key) do update set
                   failures = case when t.window_start < now() - make_interval(secs => $2)
                                        and coalesce(t.locked_until < now(), true)
                                   then 0 else t.failures end,
                   inflight = case when t.window_start < now() - make_interval(secs => $2)
                                   then 1 else t.inflight + 1 end,
                   window_start = case when t.window_start < now() - make_interval(secs => $2)
                                            and coalesce(t.locked_until < now(), true)
                                       then now() else t.window_start end
               returning failures, inflight,
                         ceil(extract(epoch from locked_until - now()))::bigint as remaining"#,
            key.key,
            WINDOW_SECS as f64
        )
        .fetch_one(pool)
        .await?;
        admitted.push(key);
        if let Some(remaining) = row.remaining.filter(|r| *r > 0) {
            retry_after = retry_after.max(remaining);
        } else if row.failures + row.inflight > key.threshold {
            retry_after = retry_after.max(1);
        }
    }
    if retry_after > 0 {
        release(pool, &admitted).await?;
        return Err(Error::RateLimited {
            retry_after_secs: retry_after as u64,
        });
    }
    Ok(Admitted {
        pool: pool.clone(),
        keys: keys.to_vec(),
        finished: false,
    })
}

async fn release(pool: &PgPool, keys: &[&Key]) -> Result<()> {
    for key in keys {
        sqlx::query!(
            "update login_throttle set inflight = greatest(inflight - 1, 0) where key = $1",
            key.key
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Ends an admitted attempt. A failure counts against every key and locks a key that
/// reaches its limit (30 s, doubling with each further failure, at most 15 minutes); a
/// success clears an account's counter and ends the attempt on the others.
async fn end(pool: &PgPool, keys: &[Key], succeeded: bool) -> Result<()> {
    if succeeded {
        for key in keys {
            if key.cleared_by_success {
                sqlx::query!("delete from login_throttle where key = $1", key.key)
                    .execute(pool)
                    .await?;
            } else {
                release(pool, &[key]).await?;
            }
        }
        return Ok(());
    }
    for key in keys {
        let failures = sqlx::query_scalar!(
            "update login_throttle set inflight = greatest(inflight - 1, 0), failures = failures + 1
             where key = $1 returning failures",
            key.key
        )
        .fetch_optional(pool)
        .await?;
        if let Some(failures) = failures.filter(|f| *f >= key.threshold) {
            sqlx::query!(
                "update login_throttle set locked_until = now() + make_interval(secs => $2) where key = $1",
                key.key,
                lock_secs(failures - key.threshold) as f64
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// 30 s for the first failure over the threshold, doubling, at most 15 minutes.
fn lock_secs(over: i32) -> i64 {
    let exp = over.clamp(0, 10) as u32;
    (30_i64 << exp).min(MAX_LOCK_SECS)
}

/// Forgets counters whose window and lock are both over.
pub async fn delete_stale(db: &crate::Db) -> Result<u64> {
    let done = sqlx::query!(
        "delete from login_throttle
         where window_start < now() - make_interval(secs => $1)
           and (locked_until is null or locked_until < now())",
        WINDOW_SECS as f64
    )
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a = Key::ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Key::ip("2001:db8:1:2:bbbb:cccc::9".parse().unwrap());
        let other = Key::ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, other.key);
        assert_eq!(a.key, "ip:2001:db8:1:2::/64");
        assert_eq!(Key::ip("192.0.2.7".parse().unwrap()).key, "ip:192.0.2.7");
        assert_eq!(
            Key::ip("::ffff:192.0.2.7".parse().unwrap()).key,
            "ip:192.0.2.7"
        );
    }

    #[test]
    fn lock_doubles_and_caps() {
        assert_eq!(lock_secs(0), 30);
        assert_eq!(lock_secs(1), 60);
        assert_eq!(lock_secs(4), 480);
        assert_eq!(lock_secs(5), 900);
        assert_eq!(lock_secs(50), 900);
    }
}
