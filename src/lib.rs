//! koreai-users (crate docs written below)
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod client;
mod clock;
mod crypto;
mod error;
mod limit;
mod report;
mod request;
mod retry;
mod token;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_SUBJECT, DEFAULT_TIMEOUT, DEFAULT_TOKEN_LIFETIME, MAX_BATCH_SIZE, MAX_BODY_BYTES,
    MAX_TOKEN_LIFETIME, MAX_TOTAL_RETRY_WAIT, REMOVE_USERS_PATH, WaitCause, env,
};
pub use clock::Clock;
pub use error::{
    AuthProblem, DecodeError, Error, ErrorDetail, ErrorResponse, InvalidRequest, Result,
};
pub use limit::RateLimit;
pub use report::{FailedUser, FailureReason, RemoveReport, RemoveUsersResponse};
pub use request::{IdKind, Rejection, RemoveUsers};
pub use token::{Algorithm, Claims};
