//! Request rates per principal (`[limits] principal_rate`, `principal_burst`): a token bucket
//! for each caller, by ARN once authenticated, by source address when anonymous.
//!
//! A bucket holds at most `burst` tokens and gains `rate` a second; a request takes one, and a
//! request that finds none is refused (S3: 503 `SlowDown`; other services: 400
//! `ThrottlingException`), which the SDKs answer by backing off and retrying. The table of
//! buckets is sharded by key so that workers rarely wait on each other, and bounded: a full
//! bucket tells nothing, so buckets that have refilled are dropped first, and past the bound the
//! bucket used longest ago goes.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;

/// Most callers tracked at once, over all shards.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every caller seen recently.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimiter {
    /// A limiter of `rate` requests a second with bursts of `burst`; `None` when `rate` is not
    /// positive (no limit). A `burst` under one is taken as one.
    pub fn new(rate: f64, burst: f64) -> Option<RateLimiter> {
        if !(rate > 0.0 && rate.is_finite()) {
            return None;
        }
        Some(RateLimiter {
            rate,
            burst: if burst.is_finite() {
                burst.max(1.0)
            } else {
                1.0
            },
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    /// Takes a token from `caller`'s bucket at `now`: whether the request may go on.
    pub fn allow(&self, caller: &str, now: Instant) -> bool {
        let shard = self.hasher.hash_one(caller) as usize % SHARDS;
        // A poisoned shard only means another thread panicked while holding it; the buckets
        // are still numbers.
        let mut buckets = match self.shards[shard].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(bucket) = buckets.get_mut(caller) {
            return self.take(bucket, now);
        }
        if buckets.len() >= MAX_TRACKED / SHARDS {
            self.evict(&mut buckets, now);
        }
        let mut bucket = Bucket {
            tokens: self.burst,
            at: now,
        };
        let allowed = self.take(&mut bucket, now);
        buckets.insert(caller.to_owned(), bucket);
        allowed
    }

    fn take(&self, bucket: &mut Bucket, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Makes room in a full shard: the buckets that have refilled, or else the eighth used
    /// longest ago (a batch, so that a flood of new callers costs a scan per many of them, not
    /// per each).
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
        let cap = MAX_TRACKED / SHARDS;
        if buckets.len() >= cap {
            let mut ages: Vec<Instant> = buckets.values().map(|b| b.at).collect();
            let cut = cap / 8;
            let (_, cutoff, _) = ages.select_nth_unstable(cut);
            let cutoff = *cutoff;
            buckets.retain(|_, b| b.at > cutoff);
        }
    }

    /// Callers tracked now.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |b| b.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2.0, 3.0).unwrap();
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow("alice", t0)));
        assert!(!limiter.allow("alice", t0));
        // Another caller has a bucket of its own.
        assert!(limiter.allow("bob", t0));
        // Half a second at two a second: one token.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.allow("alice", t1));
        assert!(!limiter.allow("alice", t1));
        // Never more than the burst, however long the wait.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| limiter.allow("alice", t2)).count(), 3);
    }

    #[test]
    fn off_unless_positive() {
        assert!(RateLimiter::new(0.0, 10.0).is_none());
        assert!(RateLimiter::new(-1.0, 10.0).is_none());
        assert!(RateLimiter::new(f64::NAN, 10.0).is_none());
        let limiter = RateLimiter::new(1.0, 0.0).unwrap();
        let t0 = Instant::now();
        assert!(limiter.allow("x", t0));
        assert!(!limiter.allow("x", t0));
    }

    #[test]
    fn the_table_stays_bounded() {
        let limiter = RateLimiter::new(1.0, 5.0).unwrap();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED + MAX_TRACKED / 4) {
            limiter.allow(&format!("caller-{i}"), t0 + Duration::from_micros(i as u64));
        }
        assert!(limiter.tracked() <= MAX_TRACKED, "{}", limiter.tracked());
        // Refilled buckets go first: a minute later, room is made by dropping them.
        let later = t0 + Duration::from_secs(60);
        limiter.allow("late", later);
        assert!(limiter.tracked() <= MAX_TRACKED);
    }
}
