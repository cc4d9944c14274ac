//! argon2id password hashing with OWASP's recommended parameters (19 MiB, t=2, p=1), always
//! on the blocking pool: a hash costs tens of milliseconds of CPU that must not stall the
//! async executor.
//!
//! Every hash and verification of the process takes a turn under one bound: as many at once
//! as the machine has cores, and a short queue behind them. A request that finds the queue
//! full, or waits too long in it, is answered 429 with `Retry-After` instead of piling more
//! work on a saturated machine (a flood of requests that hash cannot starve everything else
//! of CPU, nor grow memory by 19 MiB per waiting hash).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal("argon2 hash", e))
}

/// A hash of a random password, checked when the account does not exist so that a
/// failed sign-in costs the same whether or not the email is known.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking(&crate::crypto::random_token::<16>()).expect("hashing a random password works")
});

/// Hashes running at once: one per core.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// How many may wait for a turn, per running hash.
const QUEUE_PER_WORKER: usize = 16;
/// The longest a hash waits for its turn before the request is answered 429.
const MAX_WAIT: Duration = Duration::from_secs(3);

/// A bound on CPU-heavy work: `permits` at once, at most `queue` waiting, none waiting
/// longer than `max_wait`.
struct Bound {
    permits: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
    max_wait: Duration,
}

impl Bound {
    fn new(workers: usize, queue: usize, max_wait: Duration) -> Bound {
        Bound {
            permits: Semaphore::new(workers),
            waiting: AtomicUsize::new(0),
            queue,
            max_wait,
        }
    }

    /// Runs `work` on the blocking pool in its turn.
    async fn run<T: Send + 'static>(
        &'static self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let busy = || Error::RateLimited {
            retry_after_secs: 1,
        };
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!("password hashing is saturated: a request was turned away (429)");
            return Err(busy());
        }
        // Leaves the queue when dropped: the turn came, it took too long, or the request
        // went away.
        let waiting = scopeguard(&self.waiting);
        let permit = tokio::time::timeout(self.max_wait, self.permits.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|e| Error::internal("hashing permits", e))?;
        drop(waiting);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| Error::internal("argon2 task", e))?
    }
}

/// Decrements `counter` when dropped.
fn scopeguard(counter: &AtomicUsize) -> impl Drop + '_ {
    struct Guard<'a>(&'a AtomicUsize);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    Guard(counter)
}

/// The process's one bound on password hashing.
static HASHING: LazyLock<Bound> =
    LazyLock::new(|| Bound::new(workers(), workers() * QUEUE_PER_WORKER, MAX_WAIT));

async fn in_turn<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    HASHING.run(work).await
}

pub async fn hash(password: String) -> Result<String> {
    in_turn(move || hash_blocking(&password)).await
}

/// Checks `password` against `stored`; with no stored hash it checks a dummy one and
/// returns false, taking the same time.
pub async fn verify(stored: Option<String>, password: String) -> Result<bool> {
    in_turn(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed =
            PasswordHash::new(&hash).map_err(|e| Error::internal("stored password hash", e))?;
        let ok = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
}

/// Computes the dummy hash ahead of the first sign-in, so that sign-in is not slower once.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_bound_a_hash_is_refused_with_429_not_queued() {
        // A bound of its own (the process's is shared with other tests): one at a time,
        // three may wait, none longer than 10 s.
        static BOUND: LazyLock<Bound> = LazyLock::new(|| Bound::new(1, 3, Duration::from_secs(10)));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                tokio::spawn(BOUND.run(move || hash_blocking(&format!("password number {i}"))))
            })
            .collect();
        let (mut done, mut refused) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => done += 1,
                Err(Error::RateLimited { retry_after_secs }) => {
                    assert_eq!(retry_after_secs, 1);
                    refused += 1;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        // At most the running one and the three waiting get through; the rest are told
        // to come back, at once.
        assert!((1..=4).contains(&done), "{done} done");
        assert_eq!(done + refused, 12);
        assert_eq!(
            BOUND.waiting.load(Ordering::Relaxed),
            0,
            "the queue empties"
        );
    }

    #[tokio::test]
    async fn a_turn_not_given_in_time_is_a_429() {
        static BOUND: LazyLock<Bound> =
            LazyLock::new(|| Bound::new(1, 10, Duration::from_millis(50)));
        let _held = BOUND.permits.acquire().await.unwrap();
        let err = BOUND.run(|| Ok(())).await.unwrap_err();
        assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
        assert_eq!(BOUND.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify(Some(h.clone()), "correct horse battery".into())
                .await
                .unwrap()
        );
        assert!(!verify(Some(h), "wrong horse battery".into()).await.unwrap());
        assert!(!verify(None, "anything at all".into()).await.unwrap());
    }
}
