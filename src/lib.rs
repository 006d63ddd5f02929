//! A blocking client for Kore.ai's user-management Admin API, built for
//! offboarding: remove one user or fifty thousand, safely, and learn what
//! happened to each.
//!
//! The core call is "Remove Users from Account":
//! `DELETE {host}/api/public/users` with a JSON list of email addresses or
//! org user ids, authenticated by a JWT in a header named `auth`. This crate
//! mints that JWT itself from the app's client id and secret, paces requests
//! under Kore.ai's rate limits, retries what is safe to retry, and reports
//! user by user.
//!
//! # Usage
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use koreai_users::{Client, RemoveUsers};
//!
//! let secret = std::env::var("KORE_CLIENT_SECRET").unwrap_or_default();
//! let client = Client::builder()
//!     .host("https://platform.kore.ai")
//!     .credentials("cs-1234-client-id", secret)
//!     .timeout(Duration::from_secs(30))
//!     .build()?;
//!
//! let report = client.remove_users(&RemoveUsers::emails(["john.doe@example.com"]))?;
//! for failed in report.failed() {
//!     eprintln!("not removed: {:?} ({:?})", failed.id(), failed.message());
//! }
//! # Ok::<(), koreai_users::Error>(())
//! ```
//!
//! [`Client::from_env`] reads `KORE_HOST`, `KORE_CLIENT_ID` and
//! `KORE_CLIENT_SECRET` (or `KORE_JWT`) instead.
//!
//! For long lists, [`Client::bulk_remove`] plans batches (500 users a
//! request by default), paces them, reconciles answers that were lost, and
//! returns a [`BulkReport`] that holds every input identifier exactly once
//! with an [`Outcome`]; [`BulkRemove::plan`] is a dry run.
//!
//! # Bulk removal
//!
//! [`Client::bulk_remove`] takes any number of identifiers and:
//! - trims them, drops repeats (emails compare case-insensitively) and
//!   reports invalid ones as `rejected` without sending them;
//! - sends the rest in batches of [`DEFAULT_BULK_BATCH_SIZE`] (500, at most
//!   [`MAX_BATCH_SIZE`]), each waiting for the client's rate limits;
//! - sends a batch again when its answer was lost (500, 502, 504, a dropped
//!   connection or a timeout after sending): users then reported as not
//!   found were most likely removed by the first attempt, and the report
//!   says so; if it cannot learn more, they are `unknown`;
//! - stops on an authentication or scope error, a missing endpoint, rate
//!   limiting it may not wait out, an unreachable server, or its
//!   [`deadline`](BulkRemove::deadline), leaving the users not yet sent as
//!   `not_attempted` with the reason and a [`StopCause`].
//!
//! [`BulkRemove::plan`] tells what a run would do, sending nothing, and
//! [`BulkRemove::on_progress`] hears of every batch and every wait. The
//! [`BulkReport`] serialises to JSON (`{"entries": [{"id", "outcome",
//! "detail"}], "summary": {...}}`).
//!
//! # Authentication
//!
//! Create an app in the Admin Console with the scope User Management > User
//! Management, and give its client id and secret to
//! [`ClientBuilder::credentials`]. Every request, every retry included,
//! carries a freshly signed token (HS256 by default, HS512 with
//! [`ClientBuilder::algorithm`]) with the claims `appId`, `sub`, `iat`, `exp`
//! (5 minutes later, see [`ClientBuilder::token_lifetime`]) and a random
//! `jti`, so apps with "Enforce JTI" accept it. A token minted elsewhere can
//! be given to [`ClientBuilder::jwt`] and is sent as is.
//!
//! **Process-wide effect.** jsonwebtoken 10 and later need a crypto provider
//! installed for the whole process. When a client is built, this crate
//! installs a small HMAC-only provider over `ring` (already compiled for
//! TLS), unless the process already has one; a provider installed earlier,
//! or enabled through jsonwebtoken's own features, is left in place. It
//! signs and verifies HS256, HS384 and HS512 and refuses other algorithms
//! with an error.
//!
//! # Errors
//!
//! Every fallible call returns [`Error`], an enum to match on:
//! [`Config`](Error::Config) and [`InvalidRequest`](Error::InvalidRequest)
//! happen before anything is sent; [`Unauthorized`](Error::Unauthorized)
//! (with an [`AuthProblem`] that tells a missing scope from bad
//! credentials), [`RateLimited`](Error::RateLimited) and
//! [`Api`](Error::Api) carry the status and Kore.ai's `errors` envelope in an
//! [`ErrorResponse`]; [`Timeout`](Error::Timeout),
//! [`Transport`](Error::Transport) and [`Decode`](Error::Decode) say whether
//! the request may have been processed. [`Error::is_outcome_unknown`] is
//! true when users may or may not have been removed, [`Error::is_retryable`]
//! when trying later may help.
//!
//! A `failedUserDetails` answer is not an error but a [`RemoveReport`],
//! whatever its HTTP status: check [`RemoveReport::is_complete`], or call
//! [`RemoveReport::into_result`] to treat any user left behind as an error.
//!
//! # Retries, timeouts and pacing
//!
//! - **Pacing.** Every request of a client and all its clones waits for the
//!   client-side limits, by default Kore.ai's documented 60 requests a minute
//!   and 1,800 an hour per account ([`RateLimit::KORE_DEFAULTS`], see
//!   [`ClientBuilder::rate_limits`]).
//! - **Retried:** 429 and any answer whose message speaks of a rate limit,
//!   503, and failures to connect, up to [`ClientBuilder::max_retries`] times
//!   (default 3). The wait is the server's `Retry-After` (seconds, fractions
//!   or an HTTP date), else exponential backoff from 0.5 s with jitter. One
//!   wait is capped by [`ClientBuilder::max_retry_wait`] (default 60 s; a
//!   longer `Retry-After` ends the call with [`Error::RateLimited`] at once),
//!   all retry waits of one call by
//!   [`MAX_TOTAL_RETRY_WAIT`] (3 minutes; pacing waits aside).
//! - **Not retried:** 500, 502, 504, and a timeout or dropped connection
//!   after the request was sent: the server may have removed the users.
//!   [`Client::remove_users`] returns the error with
//!   [`Error::is_outcome_unknown`] true; [`Client::bulk_remove`] sends the
//!   batch again and reads users reported as not found as most likely
//!   removed by the first attempt.
//! - **Timeouts:** one attempt may take [`ClientBuilder::timeout`] (default
//!   30 s) including connecting ([`ClientBuilder::connect_timeout`], default
//!   10 s); pacing and retry waits do not count.
//! - **Redirects** are never followed (the token would travel with them): a
//!   3xx is an [`Error::Api`] naming the `Location`.
//!
//! # Security
//!
//! Only `https://` hosts are accepted, and `http://` to loopback for local
//! tests; [`ClientBuilder::allow_insecure_http`] lifts that with a logged
//! warning. The secret and tokens never appear in `Debug` output, error
//! messages or logs.
//!
//! # Logging
//!
//! Through the [`log`](https://docs.rs/log) facade:
//! - `debug`: method, path, number of users, attempt, status, elapsed time,
//!   waits with their cause, retries and why not, bulk stops;
//! - `trace`: request and answer bodies (these hold email addresses);
//! - `warn`: a configuration risk (plain http allowed to a remote host).
//!
//! Never `info` or `error`, and never a token, a secret or a header value.
//!
//! # Features
//!
//! - `test-util`: the `fake` module, an in-process fake Kore.ai server to
//!   test offboarding scripts against, and `VirtualClock` with
//!   `ClientBuilder::clock`, so that waits pass at once in tests.
//! - `cli`: the `koreai-users` command-line tool.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88, as jsonwebtoken 12 requires.
//!
//! # Known limitations
//!
//! - Only HMAC-signed tokens (HS256, HS512); RS256 and "Enforce JWE"
//!   (encrypted tokens) are not supported.
//! - The `includeMeta` flag and encrypted answers of newer platform versions
//!   are not supported: their wire format is undocumented.
//! - Only "Remove Users from Account"; the sibling endpoints (create, get,
//!   update users) are not wrapped yet.
//! - Kore.ai does not document how a per-user failure names an org user id;
//!   when the answer names users that were not sent, the others are
//!   reported as [`unconfirmed`](RemoveReport::unconfirmed), never guessed.
//! - Users reported "not found" when a batch with a lost answer is sent
//!   again are reported removed with a detail saying so: they may also never
//!   have existed.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bulk;
mod client;
mod clock;
mod crypto;
mod error;
#[cfg(feature = "test-util")]
pub mod fake;
mod limit;
mod report;
mod request;
mod retry;
mod token;

pub use bulk::{
    BulkEntry, BulkPlan, BulkRemove, BulkReport, BulkSummary, Counts, DEFAULT_BULK_BATCH_SIZE,
    Outcome, Progress, StopCause, Wait,
};
pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_SUBJECT, DEFAULT_TIMEOUT, DEFAULT_TOKEN_LIFETIME, MAX_BATCH_SIZE, MAX_BODY_BYTES,
    MAX_TOKEN_LIFETIME, MAX_TOTAL_RETRY_WAIT, REMOVE_USERS_PATH, WaitCause, env,
};
pub use clock::Clock;
#[cfg(feature = "test-util")]
pub use clock::VirtualClock;
pub use error::{
    AuthProblem, DecodeError, Error, ErrorDetail, ErrorResponse, InvalidRequest, Result,
};
pub use limit::RateLimit;
pub use report::{FailedUser, FailureReason, RemoveReport, RemoveUsersResponse};
pub use request::{IdKind, Rejection, RemoveUsers};
pub use token::{Algorithm, Claims};
