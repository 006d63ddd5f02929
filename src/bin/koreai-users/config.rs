//! Where to connect, how to authenticate and how fast to go: flags and
//! environment turned into a `ClientBuilder`.

use std::env::VarError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use koreai_users::{ClientBuilder, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, RateLimit, env};

use crate::{Exit, Failure};

/// The app's credentials: every command needs them.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub struct AuthArgs {
    /// The app's client id
    #[arg(long, value_name = "ID", env = env::CLIENT_ID, hide_env_values = true)]
    client_id: Option<String>,

    /// Read the client secret from this file instead of KORE_CLIENT_SECRET
    /// (white space around it, such as the trailing newline, is ignored)
    #[arg(long, value_name = "PATH")]
    client_secret_file: Option<PathBuf>,
}

/// Where requests go and how: host, retries, timeout and pacing.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectArgs {
    /// Environment URL, e.g. https://platform.kore.ai
    #[arg(long, value_name = "URL", env = env::HOST, hide_env_values = true)]
    host: Option<String>,

    /// Retries after the first attempt, on rate limiting, 503 and failures to
    /// connect; 0 turns retries off
    ///
    /// A server that asks for a wait of over 60 s is not waited for: the run
    /// stops at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RETRIES)]
    max_retries: u32,

    /// The time one attempt may take, in seconds (fractions allowed)
    #[arg(long, value_name = "SECS", default_value_t = Secs(DEFAULT_TIMEOUT))]
    timeout: Secs,

    // Clap shows a default only for values of its own; this one is the
    // library's, so the help text states it, where clap would.
    #[arg(long, value_name = "N/SECS|none", help = RATE_LIMIT_HELP,
          long_help = RATE_LIMIT_LONG_HELP)]
    rate_limit: Vec<Pacing>,
}

const RATE_LIMIT_HELP: &str = "Client-side pacing: at most N requests in any SECS seconds; \
    repeatable; `none` turns it off [default: 60/60 and 1800/3600]";

const RATE_LIMIT_LONG_HELP: &str = "\
Client-side pacing: at most N requests in any SECS seconds. Repeat for several windows; \
`none` turns pacing off (the server's rate limiting is still honoured).

[default: 60/60 and 1800/3600, Kore.ai's documented per-account limits]";

/// A builder with every setting at its default but the `User-Agent`, which
/// names the tool in the server's logs.
pub fn builder() -> ClientBuilder {
    ClientBuilder::default().user_agent("cli")
}

impl ConnectArgs {
    /// Applies the host and the sending settings to a builder.
    pub fn apply(&self, builder: ClientBuilder) -> Result<ClientBuilder, Failure> {
        let host = non_blank(self.host.clone())
            .ok_or_else(|| Failure::usage(format!("no host: set {} or pass --host", env::HOST)))?;
        let builder = builder
            .host(host.trim())
            .max_retries(self.max_retries)
            .timeout(self.timeout.0);
        if self.rate_limit.is_empty() {
            return Ok(builder);
        }

        let limits: Vec<RateLimit> = self
            .rate_limit
            .iter()
            .filter_map(|pacing| match pacing {
                Pacing::Off => None,
                Pacing::Limit(limit) => Some(*limit),
            })
            .collect();
        if !limits.is_empty() && limits.len() < self.rate_limit.len() {
            return Err(Failure::usage(
                "--rate-limit none cannot be combined with other rate limits",
            ));
        }
        Ok(builder.rate_limits(limits))
    }
}

/// Which credentials a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The client id and secret, or a ready token.
    Any,
    /// The client id and secret: minting a token needs them.
    Credentials,
}

impl AuthArgs {
    /// Applies the credentials to a builder, from the flags first and the
    /// environment second. Errors name the missing setting.
    pub fn apply(&self, builder: ClientBuilder, need: Need) -> Result<ClientBuilder, Failure> {
        let from_file = match &self.client_secret_file {
            Some(path) => Some(read_secret(path)?),
            None => None,
        };
        if from_file.is_none()
            && need == Need::Any
            && let Some(jwt) = env_var(env::JWT)?
        {
            return Ok(builder.jwt(jwt.trim()));
        }

        let client_id = non_blank(self.client_id.clone()).ok_or_else(|| {
            Failure::usage(format!(
                "no client id: set {} or pass --client-id",
                env::CLIENT_ID
            ))
        })?;
        let secret = match from_file {
            Some(secret) => secret,
            None => env_var(env::CLIENT_SECRET)?.ok_or_else(|| {
                let jwt = match need {
                    Need::Any => format!(" (or set {} to a ready token)", env::JWT),
                    Need::Credentials => String::new(),
                };
                Failure::usage(format!(
                    "no client secret: set {} or pass --client-secret-file{jwt}",
                    env::CLIENT_SECRET
                ))
            })?,
        };
        Ok(builder.credentials(client_id.trim(), secret.trim()))
    }
}

/// Reads the secret file; white space around the secret is dropped, as the
/// library does for `KORE_CLIENT_SECRET`.
fn read_secret(path: &Path) -> Result<String, Failure> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new(Exit::Usage, Box::new(e))
            .context(format!("cannot read the client secret file {shown}"))
    })?;

    let secret = text.trim();
    if secret.is_empty() {
        return Err(Failure::usage(format!(
            "the client secret file {shown} is empty"
        )));
    }
    Ok(secret.to_owned())
}

/// An environment variable, `None` when unset or blank.
fn env_var(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(value) => Ok(non_blank(Some(value))),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "environment variable {name} is not valid UTF-8"
        ))),
    }
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A positive number of seconds, fractions allowed: `30`, `0.5`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs(pub Duration);

impl FromStr for Secs {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let secs: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number of seconds"))?;
        match Duration::try_from_secs_f64(secs) {
            Ok(duration) if !duration.is_zero() => Ok(Secs(duration)),
            _ => Err(format!("{text:?} is not a positive number of seconds")),
        }
    }
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

/// One `--rate-limit` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// `none`: no client-side pacing.
    Off,
    /// `N/SECS`.
    Limit(RateLimit),
}

impl FromStr for Pacing {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(Pacing::Off);
        }
        let usage = || format!("{text:?} is not N/SECS (e.g. 60/60) or none");
        let (requests, per) = text.split_once('/').ok_or_else(usage)?;
        let requests: u32 = requests.trim().parse().map_err(|_| usage())?;
        let Secs(per) = per.parse()?;
        if requests == 0 {
            return Err(format!(
                "{text:?} allows no request; use none to turn pacing off"
            ));
        }
        Ok(Pacing::Limit(RateLimit::new(requests, per)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!("none".parse::<Pacing>(), Ok(Pacing::Off));
        assert_eq!(
            "5/0.5".parse::<Pacing>(),
            Ok(Pacing::Limit(RateLimit::new(5, Duration::from_millis(500))))
        );
        for bad in ["", "5", "0/60", "5/0", "x/60", "5/-1"] {
            assert!(bad.parse::<Pacing>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_help_states_the_librarys_defaults() {
        // The texts of --rate-limit and --max-retries name these values.
        assert_eq!(
            RateLimit::KORE_DEFAULTS,
            [
                RateLimit::new(60, Duration::from_secs(60)),
                RateLimit::new(1_800, Duration::from_secs(3_600)),
            ]
        );
        assert_eq!(
            koreai_users::DEFAULT_MAX_RETRY_WAIT,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn seconds_parse() {
        assert_eq!("2".parse::<Secs>(), Ok(Secs(Duration::from_secs(2))));
        assert_eq!("0.25".parse::<Secs>(), Ok(Secs(Duration::from_millis(250))));
        for bad in ["0", "-1", "inf", "NaN", "soon"] {
            assert!(bad.parse::<Secs>().is_err(), "{bad}");
        }
    }
}
