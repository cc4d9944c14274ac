//! Sign-in throttling shared by every server instance (the counters live in PostgreSQL).
//!
//! Per account (tenant + email): 5 failures within 15 minutes lock it for 30 s, doubling
//! with each further failure up to 15 minutes. Per client IP: 50 failures within 15
//! minutes, then the same back-off. Attempts being checked count against the limit too, so
//! parallel guesses cannot outrun it; a success clears the account's counter.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::error::{Error, Result};

const WINDOW_SECS: i64 = 15 * 60;
const MAX_LOCK_SECS: i64 = 15 * 60;

#[derive(Debug, Clone)]
pub struct Key {
    key: String,
    threshold: i32,
}

impl Key {
    pub fn account(tenant_slug: &str, email: &str) -> Key {
        Key {
            key: format!("acct:{tenant_slug}:{email}"),
            threshold: 5,
        }
    }

    pub fn ip(ip: IpAddr) -> Key {
        Key {
            key: format!("ip:{ip}"),
            threshold: 50,
        }
    }
}

/// Registers a sign-in attempt against every key before the password is checked. It is
/// refused (429) while a key is locked, or when the failures so far plus the attempts
/// being checked right now would pass the key's limit: a burst of parallel guesses cannot
/// all slip through while the first ones are still being verified. Every attempt that
/// gets through must be finished with [`finish`].
pub async fn attempt(pool: &PgPool, keys: &[Key]) -> Result<()> {
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
    Ok(())
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

/// Ends an attempt admitted by [`attempt`]. A failure counts against every key and locks a
/// key that reaches its limit (30 s, doubling with each further failure, at most 15
/// minutes); a success clears the account's counter.
pub async fn finish(pool: &PgPool, account: &Key, others: &[Key], succeeded: bool) -> Result<()> {
    if succeeded {
        sqlx::query!("delete from login_throttle where key = $1", account.key)
            .execute(pool)
            .await?;
        let others: Vec<&Key> = others.iter().collect();
        return release(pool, &others).await;
    }
    for key in std::iter::once(account).chain(others) {
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
pub async fn delete_stale(pool: &PgPool) -> Result<u64> {
    let done = sqlx::query!(
        "delete from login_throttle
         where window_start < now() - make_interval(secs => $1)
           and (locked_until is null or locked_until < now())",
        WINDOW_SECS as f64
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_and_caps() {
        assert_eq!(lock_secs(0), 30);
        assert_eq!(lock_secs(1), 60);
        assert_eq!(lock_secs(4), 480);
        assert_eq!(lock_secs(5), 900);
        assert_eq!(lock_secs(50), 900);
    }
}
