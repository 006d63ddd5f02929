//! Time: reading it and waiting for it, replaceable in tests.

use std::fmt;
use std::time::{Duration, Instant};

/// The time source and sleeper behind every wait the client makes: pacing,
/// retries, and the bulk deadline.
///
/// The client uses the system clock. Tests and simulations can give the
/// builder another one (with the `test-util` feature, see
/// `ClientBuilder::clock`), such as the test kit's `VirtualClock`, so that a
/// run that would wait minutes finishes in milliseconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Blocks the calling thread for `duration`, or pretends to.
    fn sleep(&self, duration: Duration);
}

/// The real clock: `Instant::now` and `std::thread::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

#[cfg(feature = "test-util")]
pub use virtual_clock::VirtualClock;

#[cfg(feature = "test-util")]
mod virtual_clock {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use super::Clock;

    /// A clock whose `sleep` returns at once and moves virtual time forward.
    ///
    /// Clones share the same time. Give one to the client (and to the fake
    /// server, so both agree on rate-limit windows) and a run that would wait
    /// an hour finishes at once; [`sleeps`](Self::sleeps) tells what it
    /// waited.
    #[derive(Debug, Clone)]
    pub struct VirtualClock {
        start: Instant,
        state: Arc<Mutex<State>>,
    }

    #[derive(Debug, Default)]
    struct State {
        elapsed: Duration,
        sleeps: Vec<Duration>,
    }

    impl Default for VirtualClock {
        fn default() -> Self {
            Self::new()
        }
    }

    impl VirtualClock {
        /// A clock that starts now.
        pub fn new() -> Self {
            Self {
                start: Instant::now(),
                state: Arc::default(),
            }
        }

        /// Moves time forward without recording a sleep.
        pub fn advance(&self, duration: Duration) {
            self.lock().elapsed += duration;
        }

        /// Virtual time passed since the clock was made.
        pub fn elapsed(&self) -> Duration {
            self.lock().elapsed
        }

        /// Every sleep so far, in order.
        pub fn sleeps(&self) -> Vec<Duration> {
            self.lock().sleeps.clone()
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    impl Clock for VirtualClock {
        fn now(&self) -> Instant {
            self.start + self.lock().elapsed
        }

        fn sleep(&self, duration: Duration) {
            let mut state = self.lock();
            state.elapsed += duration;
            state.sleeps.push(duration);
        }
    }
}
