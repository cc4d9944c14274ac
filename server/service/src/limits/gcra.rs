//! The generic cell rate algorithm (GCRA): a bucket of `burst` requests refilled at `rate`
//! a second, kept as one number, the theoretical arrival time (TAT) of the next request.
//!
//! With `T` the time one request costs (1/rate) and `B` the burst, a bucket whose TAT is `tat`
//! holds `(now + B·T − max(tat, now)) / T` requests at `now` (rounded down). Taking `k` moves
//! the TAT to `max(tat, now) + k·T`. A bucket never holds more than `B`, and over any span of
//! `d` seconds it gives at most `B + d·rate`. Times are microseconds. The same arithmetic
//! runs in PostgreSQL (`tenantry_rate_take`, migration 23) and in Redis; this module is its
//! reference and the one the tests check.

/// A limit: `rate` requests a second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: u32,
}

impl Limit {
    /// Microseconds one request costs (at least 1).
    pub fn cost_us(&self) -> i64 {
        ((1_000_000.0 / self.rate).round() as i64).max(1)
    }

    /// Seconds the bucket takes to fill from empty: the window of the `RateLimit-Policy`
    /// header (at least 1).
    pub fn window_secs(&self) -> u64 {
        ((f64::from(self.burst) / self.rate).ceil() as u64).max(1)
    }
}

/// What taking from a bucket did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Requests granted (0: refused).
    pub granted: u32,
    /// Requests the bucket still holds after the grant.
    pub remaining: u32,
    /// The bucket's TAT after the grant.
    pub tat: i64,
    /// Microseconds until one request is available again (0 when one is).
    pub retry_after_us: i64,
    /// Microseconds until the bucket is full.
    pub full_in_us: i64,
}

/// Requests the bucket holds at `now`.
pub fn available(limit: Limit, tat: i64, now: i64) -> u32 {
    let t = limit.cost_us();
    let held = (now + i64::from(limit.burst) * t - tat.max(now)) / t;
    held.clamp(0, i64::from(limit.burst)) as u32
}

/// Takes up to `want` requests (fewer when fewer are held) from the bucket whose TAT is `tat`.
pub fn take(limit: Limit, tat: i64, now: i64, want: u32) -> Taken {
    let t = limit.cost_us();
    let held = available(limit, tat, now);
    let granted = held.min(want);
    let tat = if granted == 0 {
        tat
    } else {
        tat.max(now) + i64::from(granted) * t
    };
    let remaining = held - granted;
    // One request is held again once now + B·T − tat reaches T.
    let retry_after_us = if remaining > 0 {
        0
    } else {
        (tat - i64::from(limit.burst - 1) * t - now).max(0)
    };
    Taken {
        granted,
        remaining,
        tat,
        retry_after_us,
        full_in_us: (tat - now).max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000;

    fn limit(rate: f64, burst: u32) -> Limit {
        Limit { rate, burst }
    }

    #[test]
    fn a_full_bucket_gives_its_burst_at_once_then_refuses() {
        let l = limit(10.0, 5);
        let now = 100 * SEC;
        let mut tat = 0;
        for i in 0..5 {
            let t = take(l, tat, now, 1);
            assert_eq!(t.granted, 1, "request {i}");
            assert_eq!(t.remaining, 4 - i);
            tat = t.tat;
        }
        let refused = take(l, tat, now, 1);
        assert_eq!(refused.granted, 0);
        assert_eq!(refused.tat, tat, "a refusal spends nothing");
        // One request costs 100 ms; the next is held 100 ms from now.
        assert_eq!(refused.retry_after_us, SEC / 10);
        assert_eq!(refused.full_in_us, SEC / 2);
    }

    #[test]
    fn the_bucket_refills_at_the_rate_and_never_holds_more_than_the_burst() {
        let l = limit(10.0, 5);
        let now = 100 * SEC;
        let empty = take(l, 0, now, 5).tat;
        assert_eq!(available(l, empty, now), 0);
        assert_eq!(available(l, empty, now + SEC / 10 - 1), 0);
        assert_eq!(available(l, empty, now + SEC / 10), 1);
        assert_eq!(available(l, empty, now + 3 * SEC / 10), 3);
        assert_eq!(available(l, empty, now + 60 * SEC), 5);
        // An old TAT (a bucket idle for long) is a full bucket, no more.
        assert_eq!(available(l, 0, now), 5);
    }

    #[test]
    fn a_grant_is_cut_to_what_the_bucket_holds() {
        let l = limit(100.0, 10);
        let now = 5 * SEC;
        let t = take(l, 0, now, 25);
        assert_eq!(t.granted, 10);
        assert_eq!(t.remaining, 0);
        assert_eq!(take(l, t.tat, now, 25).granted, 0);
    }

    #[test]
    fn steady_traffic_at_the_rate_is_never_refused() {
        let l = limit(50.0, 1);
        let mut tat = 0;
        let start = 10 * SEC;
        for i in 0..1_000 {
            let now = start + i * (SEC / 50);
            let t = take(l, tat, now, 1);
            assert_eq!(t.granted, 1, "request {i}");
            tat = t.tat;
        }
    }

    /// Whatever the arrivals, any span of d seconds sees at most burst + d·rate grants.
    #[test]
    fn no_span_gets_more_than_the_burst_plus_the_rate() {
        let l = limit(20.0, 8);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut now = SEC;
        let mut tat = 0;
        let mut grants = Vec::new();
        for _ in 0..20_000 {
            now += (next() % 40_000) as i64;
            let want = 1 + (next() % 3) as u32;
            let t = take(l, tat, now, want);
            tat = t.tat;
            for _ in 0..t.granted {
                grants.push(now);
            }
        }
        for (i, &from) in grants.iter().enumerate() {
            for span in [SEC / 10, SEC, 5 * SEC] {
                let within = grants[i..].iter().take_while(|&&g| g < from + span).count();
                let bound = 8 + (span as f64 / SEC as f64 * 20.0).ceil() as usize;
                assert!(
                    within <= bound,
                    "{within} grants within {span} µs of {from}"
                );
            }
        }
    }

    /// A clock that goes back (another instance's, a step of NTP) never gives more.
    #[test]
    fn a_clock_going_back_gives_nothing_extra() {
        let l = limit(10.0, 3);
        let now = 100 * SEC;
        let tat = take(l, 0, now, 3).tat;
        for back in [1, SEC / 10, SEC, 60 * SEC] {
            assert_eq!(take(l, tat, now - back, 1).granted, 0, "{back} µs back");
        }
        // And one request is held again 100 ms after the TAT's owner emptied it.
        assert_eq!(take(l, tat, now + SEC / 10, 1).granted, 1);
    }

    #[test]
    fn the_window_and_cost_round_sensibly() {
        assert_eq!(limit(10.0, 20).window_secs(), 2);
        assert_eq!(limit(0.5, 1).window_secs(), 2);
        assert_eq!(limit(1000.0, 10).window_secs(), 1);
        assert_eq!(limit(3.0, 1).cost_us(), 333_333);
        assert_eq!(limit(5_000_000.0, 1).cost_us(), 1);
    }
}
