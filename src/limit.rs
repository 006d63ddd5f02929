//! Client-side pacing under Kore.ai's per-account rate limits.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A limit of `requests` per rolling window of length `per`.
///
/// Kore.ai limits admin APIs per account to 60 requests a minute and 1,800
/// an hour ([`RateLimit::KORE_DEFAULTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    requests: u32,
    per: Duration,
}

impl RateLimit {
    /// The documented admin API limits: 60 a minute and 1,800 an hour.
    pub const KORE_DEFAULTS: [RateLimit; 2] = [
        RateLimit {
            requests: 60,
            per: Duration::from_secs(60),
        },
        RateLimit {
            requests: 1_800,
            per: Duration::from_secs(3_600),
        },
    ];

    /// `requests` per rolling window of `per`. Checked by
    /// [`ClientBuilder::build`](crate::ClientBuilder::build): both must be
    /// non-zero.
    pub const fn new(requests: u32, per: Duration) -> Self {
        Self { requests, per }
    }

    /// `requests` per minute.
    pub const fn per_minute(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }

    /// `requests` per hour.
    pub const fn per_hour(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(3_600))
    }

    /// How many requests a window allows.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The length of the window.
    pub fn per(&self) -> Duration {
        self.per
    }

    /// The least time `count` requests need under these limits, from the
    /// first request to the last, as a limiter would space them.
    pub fn min_duration(limits: &[RateLimit], count: u64) -> Duration {
        let valid: Vec<RateLimit> = limits
            .iter()
            .copied()
            .filter(|l| l.requests > 0 && !l.per.is_zero())
            .collect();
        if count == 0 || valid.is_empty() {
            return Duration::ZERO;
        }

        let limiter = Limiter::new(valid);
        let start = Instant::now();
        let mut last = start;
        for _ in 0..count {
            last = limiter.reserve(last);
        }
        last - start
    }
}

/// Reserves send times so that no window is exceeded. Shared by every clone
/// of a client, and safe across threads: each caller reserves a slot under
/// the lock and sleeps outside it.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Vec<RateLimit>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per limit, the send times still inside its window, oldest first.
    sent: Vec<VecDeque<Instant>>,
    /// No request before this (a server's `Retry-After`).
    blocked_until: Option<Instant>,
}

impl Limiter {
    pub(crate) fn new(limits: Vec<RateLimit>) -> Self {
        let sent = limits.iter().map(|_| VecDeque::new()).collect();
        Self {
            limits,
            state: Mutex::new(State {
                sent,
                blocked_until: None,
            }),
        }
    }

    pub(crate) fn limits(&self) -> &[RateLimit] {
        &self.limits
    }

    /// Reserves the earliest send time at or after `now`; the caller waits
    /// until then.
    pub(crate) fn reserve(&self, now: Instant) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let at = self.earliest(&mut state, now);
        for log in &mut state.sent {
            log.push_back(at);
        }
        at
    }

    /// The earliest time a request could be sent, without reserving it.
    pub(crate) fn next_free(&self, now: Instant) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.earliest(&mut state, now)
    }

    fn earliest(&self, state: &mut State, now: Instant) -> Instant {
        let mut at = state.blocked_until.map_or(now, |blocked| blocked.max(now));

        // Keep each log sorted: never reserve before the last reservation.
        for log in &state.sent {
            if let Some(&last) = log.back() {
                at = at.max(last);
            }
        }

        // Forget sends that no window starting now can hold. Only `now`
        // may prune: `at` may lie in the future, and a peek must not change
        // what a later reservation sees.
        for (limit, log) in self.limits.iter().zip(&mut state.sent) {
            while log.front().is_some_and(|&t| t + limit.per <= now) {
                log.pop_front();
            }
        }

        // Moving `at` for one window can only free room in the others, so a
        // pass without a move settles it; one pass per window bounds it.
        for _ in 0..=self.limits.len() {
            let mut moved = false;
            for (limit, log) in self.limits.iter().zip(&state.sent) {
                let first_inside = log.partition_point(|&t| t + limit.per <= at);
                let allowed = limit.requests as usize;
                if log.len() - first_inside >= allowed {
                    let free_at = log[log.len() - allowed] + limit.per;
                    if free_at > at {
                        at = free_at;
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        at
    }

    /// Holds every request until `until`, as a server's `Retry-After` asks.
    pub(crate) fn block_until(&self, until: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_within_the_limit_go_at_once() {
        let limiter = Limiter::new(vec![RateLimit::new(3, Duration::from_secs(10))]);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.next_free(now), now);
            assert_eq!(limiter.reserve(now), now);
        }
        assert_eq!(limiter.next_free(now), now + Duration::from_secs(10));
        // Peeking again changes nothing.
        assert_eq!(limiter.next_free(now), now + Duration::from_secs(10));
        assert_eq!(limiter.reserve(now), now + Duration::from_secs(10));
    }

    #[test]
    fn every_window_is_respected() {
        let limits = vec![
            RateLimit::new(2, Duration::from_secs(1)),
            RateLimit::new(3, Duration::from_secs(60)),
        ];
        let limiter = Limiter::new(limits.clone());
        let start = Instant::now();
        let times: Vec<Instant> = (0..7).map(|_| limiter.reserve(start)).collect();
        let offsets: Vec<u64> = times.iter().map(|t| (*t - start).as_secs()).collect();
        assert_eq!(offsets, [0, 0, 1, 60, 60, 61, 120]);
        for limit in &limits {
            for (i, t) in times.iter().enumerate() {
                let in_window = times[i..].iter().filter(|u| **u < *t + limit.per).count();
                assert!(in_window <= limit.requests as usize);
            }
        }
        assert_eq!(
            RateLimit::min_duration(&limits, 7),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn a_peek_does_not_free_a_slot() {
        let limiter = Limiter::new(vec![RateLimit::new(1, Duration::from_secs(60))]);
        let now = Instant::now();
        assert_eq!(limiter.reserve(now), now);
        assert_eq!(limiter.next_free(now), now + Duration::from_secs(60));
        assert_eq!(limiter.reserve(now), now + Duration::from_secs(60));
    }

    #[test]
    fn block_until_delays_the_next_request() {
        let limiter = Limiter::new(vec![]);
        let now = Instant::now();
        limiter.block_until(now + Duration::from_secs(5));
        assert_eq!(limiter.reserve(now), now + Duration::from_secs(5));
    }

    #[test]
    fn min_duration_matches_the_documented_example() {
        // 100 requests: the minute window needs one more minute.
        let d = RateLimit::min_duration(&RateLimit::KORE_DEFAULTS, 100);
        assert_eq!(d, Duration::from_secs(60));
        // 50,000 one by one: 27 full hours at 1,800 an hour, then the last
        // 1,400 at 60 a minute.
        let d = RateLimit::min_duration(&RateLimit::KORE_DEFAULTS, 50_000);
        assert_eq!(d, Duration::from_secs(27 * 3_600 + 23 * 60));
        assert_eq!(RateLimit::min_duration(&[], 1_000), Duration::ZERO);
    }
}
