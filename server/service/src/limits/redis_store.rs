//! The optional Redis (or Valkey) store of the buckets (`TENANTRY_REDIS_URL`): the same GCRA
//! as [`super::gcra`] and `tenantry_rate_take`, run by one Lua script per ask on the Redis
//! server's clock, for every bucket of the ask at once.
//!
//! A bucket is a hash `tenantry:{rl}:<key>` holding its TAT, cost and burst, which expires
//! when the bucket is full again (so Redis keeps only buckets that hold something). The
//! `{rl}` hash tag puts every bucket in one slot, so the script runs on a Redis Cluster too
//! (on one of its nodes).

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::error::{Error, Result};

/// The connection to Redis, made again after any failure. It is always made on the runtime
/// that created the store (the API's), so that its driver never lives on a console runtime.
pub struct Store {
    client: redis::Client,
    runtime: tokio::runtime::Handle,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("redis_store::Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A connection: the one kept, or a new one (within [`ASK_TIMEOUT`]).
    async fn conn(&self) -> Result<MultiplexedConnection> {
        let mut kept = self.conn.lock().await;
        if let Some(c) = kept.as_ref() {
            return Ok(c.clone());
        }
        let client = self.client.clone();
        let made = self
            .runtime
            .spawn(async move { client.get_multiplexed_async_connection().await });
        let c = tokio::time::timeout(ASK_TIMEOUT, made)
            .await
            .map_err(|_| Error::Unavailable("rate limit store (Redis): no connection".into()))?
            .map_err(|e| Error::internal("redis connect task", e))?
            .map_err(failed)?;
        *kept = Some(c.clone());
        Ok(c)
    }

    /// Drops the kept connection after a failure: the next ask connects again.
    async fn reset(&self) {
        *self.conn.lock().await = None;
    }

    /// Runs `f` on a connection within [`ASK_TIMEOUT`]; any failure drops the connection.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.conn().await?;
        let answer = match tokio::time::timeout(ASK_TIMEOUT, f(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => failed(e),
            Err(_) => Error::Unavailable("rate limit store (Redis): no answer".into()),
        };
        self.reset().await;
        Err(answer)
    }
}

/// How long one ask may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// The prefix of every bucket's key.
pub const PREFIX: &str = "tenantry:{rl}:";

/// `KEYS`: the buckets. `ARGV[1]`: the time in microseconds since the epoch, or empty for the
/// server's clock (tests pass one to compare with the reference); then three numbers per
/// bucket: its cost in microseconds, its burst, and how many requests are wanted. Returns four
/// numbers per bucket: granted, remaining, retry after (µs), full in (µs).
const TAKE: &str = r#"
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local out = {}
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[3 * i - 1])
  local burst = tonumber(ARGV[3 * i])
  local want = tonumber(ARGV[3 * i + 1])
  if cost < 1 or burst < 1 or want < 1 then
    return redis.error_reply('cost, burst and want must be positive')
  end
  local tat = tonumber(redis.call('HGET', key, 'tat') or '0')
  local base = math.max(tat, now)
  local held = math.floor((now + burst * cost - base) / cost)
  held = math.min(math.max(held, 0), burst)
  local k = math.min(held, want)
  local new_tat = tat
  if k > 0 then
    new_tat = base + k * cost
  end
  if new_tat > now then
    -- Written as integers: Lua would write a number this large in exponent notation.
    redis.call('HSET', key, 'tat', string.format('%d', new_tat), 'cost', string.format('%d', cost),
               'burst', string.format('%d', burst))
    redis.call('PEXPIREAT', key, string.format('%d', math.ceil(new_tat / 1000)))
  end
  local retry = 0
  if held - k <= 0 then
    retry = math.max(new_tat - (burst - 1) * cost - now, 0)
  end
  out[#out + 1] = k
  out[#out + 1] = held - k
  out[#out + 1] = retry
  out[#out + 1] = math.max(new_tat - now, 0)
end
return out
"#;

/// What one bucket gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub granted: i64,
    pub remaining: i64,
    pub retry_after_us: i64,
    pub full_in_us: i64,
}

fn failed(e: redis::RedisError) -> Error {
    Error::Unavailable(format!("rate limit store (Redis): {e}"))
}

/// Connects to `url` (on the current runtime, which should be the API's); fails when Redis
/// cannot be reached within five seconds.
pub async fn connect(url: &str) -> Result<Store> {
    let client = redis::Client::open(url).map_err(failed)?;
    let conn = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| Error::Unavailable("rate limit store (Redis): no answer in 5 s".into()))?
    .map_err(failed)?;
    Ok(Store {
        client,
        runtime: tokio::runtime::Handle::current(),
        conn: tokio::sync::Mutex::new(Some(conn)),
    })
}

/// Takes from each bucket (`key`, cost µs, burst, want) at once; `now_us` is for tests.
pub async fn take(
    store: &Store,
    buckets: &[(String, i64, i32, i32)],
    now_us: Option<i64>,
) -> Result<Vec<Taken>> {
    let script = redis::Script::new(TAKE);
    let mut invocation = script.prepare_invoke();
    for (key, ..) in buckets {
        invocation.key(format!("{PREFIX}{key}"));
    }
    invocation.arg(now_us.map(|n| n.to_string()).unwrap_or_default());
    for (_, cost, burst, want) in buckets {
        invocation.arg(*cost).arg(*burst).arg(*want);
    }
    // A Redis that does not answer is a store that is down (sign-in fails closed), not a
    // request that waits.
    let flat: Vec<i64> = store
        .with(|mut conn| async move { invocation.invoke_async(&mut conn).await })
        .await?;
    if flat.len() != buckets.len() * 4 {
        return Err(Error::Internal(format!(
            "the Redis rate script answered {} numbers for {} buckets",
            flat.len(),
            buckets.len()
        )));
    }
    Ok(flat
        .chunks_exact(4)
        .map(|c| Taken {
            granted: c[0],
            remaining: c[1],
            retry_after_us: c[2],
            full_in_us: c[3],
        })
        .collect())
}

/// A bucket that holds no request now: its key (without the prefix), cost, burst, and the
/// microseconds until it holds one again.
pub type Empty = (String, i64, i32, i64);

/// The buckets that hold no request now, looking at up to `scan` keys, at most `limit` of
/// them, the longest-refused first.
pub async fn empty(store: &Store, scan: usize, limit: usize) -> Result<Vec<Empty>> {
    let found = empty_on(store.conn().await?, scan, limit).await;
    if found.is_err() {
        store.reset().await;
    }
    found
}

async fn empty_on(
    mut conn: MultiplexedConnection,
    scan: usize,
    limit: usize,
) -> Result<Vec<Empty>> {
    let (secs, micros): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut conn)
        .await
        .map_err(failed)?;
    let now = secs * 1_000_000 + micros;
    let mut found = Vec::new();
    let mut cursor: u64 = 0;
    let mut seen = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{PREFIX}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        seen += keys.len();
        // One round trip for the page's buckets (none for an empty page).
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("HMGET")
                .arg(key)
                .arg("tat")
                .arg("cost")
                .arg("burst");
        }
        let figures: Vec<(Option<i64>, Option<i64>, Option<i32>)> = if keys.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut conn).await.map_err(failed)?
        };
        for (key, figures) in keys.iter().zip(figures) {
            if let (Some(tat), Some(cost), Some(burst)) = figures
                && tat > now + i64::from(burst - 1) * cost
            {
                let retry = tat - i64::from(burst - 1) * cost - now;
                found.push((key[PREFIX.len()..].to_owned(), cost, burst, retry));
            }
        }
        cursor = next;
        if cursor == 0 || seen >= scan {
            break;
        }
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.3));
    found.truncate(limit);
    Ok(found)
}
