//! Sign-in throttling shared by every server instance (the counters live in PostgreSQL).
//!
//! Per account (tenant + email): 5 failures within 15 minutes lock it for 30 s, doubling
//! with each further failure up to 15 minutes. Per client IP: 50 failures within 15
//! minutes, then the same back-off. A success clears the account's counter.

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

/// Fails with 429 and the longest remaining lock if any key is locked.
pub async fn check(pool: &PgPool, keys: &[Key]) -> Result<()> {
    let names: Vec<String> = keys.iter().map(|k| k.key.clone()).collect();
    let remaining = sqlx::query_scalar!(
        r#"select ceil(extract(epoch from max(locked_until) - now()))::bigint
           from login_throttle where key = any($1) and locked_until > now()"#,
        &names
    )
    .fetch_one(pool)
    .await?;
    match remaining {
        Some(secs) if secs > 0 => Err(Error::RateLimited {
            retry_after_secs: secs as u64,
        }),
        _ => Ok(()),
    }
}

pub async fn record_failure(pool: &PgPool, keys: &[Key]) -> Result<()> {
    for key in keys {
        let failures = sqlx::query_scalar!(
            r#"insert into login_throttle as t (key, failures, window_start)
               values ($1, 1, now())
               on conflict (key) do update set
                   failures = case when t.window_start < now() - make_interval(secs => $2)
                                   then 1 else t.failures + 1 end,
                   window_start = case when t.window_start < now() - make_interval(secs => $2)
                                       then now() else t.window_start end
               returning failures"#,
            key.key,
            WINDOW_SECS as f64
        )
        .fetch_one(pool)
        .await?;
        if failures >= key.threshold {
            let lock = lock_secs(failures - key.threshold);
            sqlx::query!(
                "update login_throttle set locked_until = now() + make_interval(secs => $2) where key = $1",
                key.key,
                lock as f64
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

pub async fn reset(pool: &PgPool, key: &Key) -> Result<()> {
    sqlx::query!("delete from login_throttle where key = $1", key.key)
        .execute(pool)
        .await?;
    Ok(())
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
