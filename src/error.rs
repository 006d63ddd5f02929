//! The crate's error type and the mirror of Kore.ai's error body.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::report::RemoveReport;
use crate::request::Rejection;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, in variants a caller can match on.
///
/// Messages are lowercase and never contain the client secret or a token.
/// Causes from ureq, serde_json or jsonwebtoken are reachable through
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The builder or the environment holds a bad or missing setting.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The request was refused before anything was sent; names each bad entry.
    #[error("{0}")]
    InvalidRequest(Box<InvalidRequest>),

    /// The JWT could not be signed.
    #[error("could not sign the auth token")]
    Token(#[source] Box<jsonwebtoken::errors::Error>),

    /// Kore.ai refused the credentials or the token (401 or 403).
    ///
    /// [`AuthProblem`] tells a wrong scope apart from bad credentials.
    #[error("not authorized ({problem}): {response}")]
    Unauthorized {
        /// What Kore.ai's message points at.
        problem: AuthProblem,
        /// The status and Kore.ai's error body.
        response: Box<ErrorResponse>,
    },

    /// Still rate limited after every allowed retry; nothing was processed.
    #[error("rate limited after {attempts} attempts: {response}")]
    RateLimited {
        /// How many requests were sent.
        attempts: u32,
        /// The wait the server asked for last (from `Retry-After`), if any.
        retry_after: Option<Duration>,
        /// The status and Kore.ai's error body of the last answer.
        response: Box<ErrorResponse>,
    },

    /// Any other answer that is not a success or a per-user report, a
    /// redirect included. See [`Error::is_outcome_unknown`] for 5xx answers.
    #[error("{0}")]
    Api(Box<ErrorResponse>),

    /// An attempt ran out of time.
    #[error("{}", if *.sent {
        "timed out after the request was sent; the outcome is unknown"
    } else {
        "timed out before the request was sent"
    })]
    Timeout {
        /// Whether the request may have reached the server.
        sent: bool,
        /// ureq's error.
        #[source]
        source: Box<ureq::Error>,
    },

    /// The connection failed: DNS, connect, TLS, or a reset.
    #[error("{}", if *.sent {
        "the connection failed after the request was sent; the outcome is unknown"
    } else {
        "could not reach the server"
    })]
    Transport {
        /// Whether the request may have reached the server.
        sent: bool,
        /// ureq's error.
        #[source]
        source: Box<ureq::Error>,
    },

    /// The answer could not be read as the expected JSON.
    #[error("{0}")]
    Decode(Box<DecodeError>),

    /// Returned by [`RemoveReport::into_result`] when not every user was
    /// removed; the report is inside.
    #[error(
        "not every user was removed: {} failed, {} unconfirmed",
        .0.failed().len(),
        .0.unconfirmed().len()
    )]
    Incomplete(Box<RemoveReport>),
}

impl Error {
    /// The HTTP status of the answer behind this error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { response, .. } | Error::RateLimited { response, .. } => {
                Some(response.status)
            }
            Error::Api(response) => Some(response.status),
            Error::Decode(decode) => Some(decode.status),
            Error::Incomplete(report) => Some(report.status()),
            _ => None,
        }
    }

    /// Whether sending the same request later may succeed: rate limiting,
    /// 503, and failures that happened before the request was sent.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } => true,
            Error::Api(response) => response.status == 503,
            Error::Timeout { sent, .. } | Error::Transport { sent, .. } => !sent,
            _ => false,
        }
    }

    /// Whether the server may have processed the request although no answer
    /// says so: a 5xx other than 503, a timeout or a dropped connection after
    /// sending, or an unreadable success body. Users in such a request may
    /// or may not have been removed; [`Client::bulk_remove`] reconciles them.
    ///
    /// [`Client::bulk_remove`]: crate::Client::bulk_remove
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Api(response) => response.status >= 500 && response.status != 503,
            Error::Timeout { sent, .. } | Error::Transport { sent, .. } => *sent,
            Error::Decode(decode) => (200..300).contains(&decode.status),
            _ => false,
        }
    }

    /// Whether Kore.ai refused the credentials, the token or the scope.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    /// The error body of the answer, if there was one.
    pub fn response(&self) -> Option<&ErrorResponse> {
        match self {
            Error::Unauthorized { response, .. } | Error::RateLimited { response, .. } => {
                Some(response)
            }
            Error::Api(response) => Some(response),
            _ => None,
        }
    }
}

/// A request refused before sending, with every offending entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidRequest {
    /// The problem with the request as a whole, when it is not about entries
    /// (an empty list, a list over the size limit).
    pub problem: Option<String>,
    /// Each bad entry: its position in the input, the input, and why.
    pub entries: Vec<(usize, String, Rejection)>,
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request refused before sending: ")?;
        if let Some(problem) = &self.problem {
            return f.write_str(problem);
        }
        write!(f, "{} invalid entries", self.entries.len())?;
        for (i, (index, input, why)) in self.entries.iter().enumerate() {
            if i == MAX_NAMED_ENTRIES {
                write!(f, ", and {} more", self.entries.len() - i)?;
                break;
            }
            let sep = if i == 0 { ": " } else { ", " };
            write!(f, "{sep}#{index} {input:?} ({why})")?;
        }
        Ok(())
    }
}

/// How many bad entries an [`InvalidRequest`] message names; all are in
/// [`InvalidRequest::entries`].
const MAX_NAMED_ENTRIES: usize = 10;

/// What a 401 or 403 from Kore.ai points at, read from its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthProblem {
    /// "Invalid SDK credentials": wrong client id or secret, or no token.
    InvalidCredentials,
    /// "Invalid JWT token": the header does not hold a JWT.
    InvalidToken,
    /// "Permission denied. Scope is incorrect!": the app lacks the
    /// User Management scope.
    Scope,
    /// "error verifying the jwt: ...": expired, replayed `jti`, or a JTI rule.
    TokenRejected,
    /// Anything else.
    Other,
}

impl AuthProblem {
    pub(crate) fn classify(response: &ErrorResponse) -> Self {
        let text = response.message().unwrap_or_default().to_ascii_lowercase();
        if text.contains("scope") || text.contains("permission") {
            AuthProblem::Scope
        } else if text.contains("credentials") {
            AuthProblem::InvalidCredentials
        } else if text.contains("invalid jwt") {
            AuthProblem::InvalidToken
        } else if text.contains("verifying") || text.contains("jti") || text.contains("expired") {
            AuthProblem::TokenRejected
        } else {
            AuthProblem::Other
        }
    }
}

impl fmt::Display for AuthProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthProblem::InvalidCredentials => "invalid credentials",
            AuthProblem::InvalidToken => "invalid token",
            AuthProblem::Scope => "the app lacks the user management scope",
            AuthProblem::TokenRejected => "token rejected",
            AuthProblem::Other => "refused",
        })
    }
}

/// A non-success answer: the HTTP status and Kore.ai's error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// Kore.ai's `errors` array, empty when the body had none.
    pub errors: Vec<ErrorDetail>,
    /// The start of the body, for diagnosis (at most 512 bytes).
    pub body_snippet: String,
    /// The `Location` of a redirect, which is never followed.
    pub location: Option<String>,
    /// The server's `Retry-After`, parsed.
    pub retry_after: Option<Duration>,
}

impl ErrorResponse {
    /// The first error message, if the body had one.
    pub fn message(&self) -> Option<&str> {
        self.errors.iter().find_map(|e| e.msg.as_deref())
    }

    /// The first error code, if the body had one.
    pub fn code(&self) -> Option<i64> {
        self.errors.iter().find_map(|e| e.code)
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http {}", self.status)?;
        if let Some(location) = &self.location {
            write!(f, ", redirect to {location:?} not followed")?;
        }
        match (self.message(), self.code()) {
            (Some(msg), Some(code)) => write!(f, ", {msg:?} (code {code})")?,
            (Some(msg), None) => write!(f, ", {msg:?}")?,
            _ => {}
        }
        if self.status >= 500 && self.status != 503 {
            f.write_str("; the outcome is unknown")?;
        }
        Ok(())
    }
}

/// Whether a message of Kore.ai's `errors` speaks of a rate limit.
pub(crate) fn mentions_rate_limit(errors: &[ErrorDetail]) -> bool {
    errors.iter().any(|e| {
        e.msg
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("rate limit"))
    })
}

/// One entry of Kore.ai's `errors` array: `{"msg": ..., "code": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// The message.
    #[serde(default, deserialize_with = "lenient_string")]
    pub msg: Option<String>,
    /// The HTTP status or a Kore.ai code such as 4002.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub code: Option<i64>,
}

/// An answer that was not the JSON it should have been.
#[derive(Debug, thiserror::Error)]
#[error("could not decode the answer (http {status}): {reason}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The HTTP status.
    pub status: u16,
    /// What was wrong, in words.
    pub reason: String,
    /// The start of the body, for diagnosis (at most 512 bytes).
    pub body_snippet: String,
    /// The JSON error, when there was one.
    #[source]
    pub source: Option<serde_json::Error>,
}

/// The longest body snippet kept in an error.
pub(crate) const SNIPPET_LEN: usize = 512;

/// The start of a body, cut on a character boundary.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET_LEN)]);
    text.trim_end_matches('\u{fffd}').to_owned()
}

/// Accepts a number, a numeric string, or anything else as `None`.
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Accepts a string, or any other JSON value as its text.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 40,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn error_detail_decodes_leniently() {
        let detail: ErrorDetail = serde_json::from_str(r#"{"msg":"x","code":"4002"}"#).unwrap();
        assert_eq!(detail.code, Some(4002));
        let detail: ErrorDetail = serde_json::from_str(r#"{"code":401,"extra":1}"#).unwrap();
        assert_eq!((detail.msg, detail.code), (None, Some(401)));
    }

    #[test]
    fn auth_problems_are_told_apart() {
        let response = |msg: &str| ErrorResponse {
            status: 401,
            errors: vec![ErrorDetail {
                msg: Some(msg.into()),
                code: Some(4002),
            }],
            ..ErrorResponse::default()
        };
        let cases = [
            ("Invalid SDK credentials", AuthProblem::InvalidCredentials),
            ("Invalid JWT token", AuthProblem::InvalidToken),
            ("Permission denied. Scope is incorrect!", AuthProblem::Scope),
            (
                "error verifying the jwt: jwt expired",
                AuthProblem::TokenRejected,
            ),
            ("something new", AuthProblem::Other),
        ];
        for (msg, problem) in cases {
            assert_eq!(AuthProblem::classify(&response(msg)), problem, "{msg}");
        }
    }

    #[test]
    fn rate_limit_is_read_from_a_message() {
        let mut errors = vec![ErrorDetail {
            msg: Some("Invalid SDK credentials".into()),
            code: None,
        }];
        assert!(!mentions_rate_limit(&errors));
        errors.push(ErrorDetail {
            msg: Some("Rate limit for this API has been reached.".into()),
            code: None,
        });
        assert!(mentions_rate_limit(&errors));
    }

    #[test]
    fn snippet_is_bounded_and_cut_on_a_char_boundary() {
        let body = "é".repeat(600);
        let cut = snippet(body.as_bytes());
        assert!(cut.len() <= SNIPPET_LEN);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            Error::Config("missing host".into()),
            Error::Api(Box::new(ErrorResponse {
                status: 502,
                ..ErrorResponse::default()
            })),
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
