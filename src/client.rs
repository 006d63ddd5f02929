//! The client, its builder, and one removal request with its retries.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use log::{debug, trace, warn};
use ring::rand::SystemRandom;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::clock::{Clock, SystemClock};
use crate::error::{
    AuthProblem, DecodeError, ErrorDetail, ErrorResponse, mentions_rate_limit, snippet,
};
use crate::limit::{Limiter, RateLimit};
use crate::report::{RemoveReport, RemoveUsersResponse};
use crate::request::{self, IdKind, RemoveUsers};
use crate::retry::{backoff, parse_retry_after};
use crate::token::{Algorithm, Minter, Secret, TokenSource};
use crate::{Error, Result};

/// The path of the endpoint, below the host and its optional prefix.
pub const REMOVE_USERS_PATH: &str = "/api/public/users";

/// The most users [`Client::remove_users`] sends in one request. Larger
/// lists go through [`Client::bulk_remove`], which splits them.
pub const MAX_BATCH_SIZE: usize = 1_000;

/// Default per-attempt timeout: the whole exchange, body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default connect timeout (DNS, TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default number of retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// Default lifetime of a minted token: short, as "Enforce JTI" wants.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The longest token lifetime "Enforce JTI" accepts.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3_600);

/// Default `sub` claim.
pub const DEFAULT_SUBJECT: &str = "koreai-users";

/// Default cap of one retry wait, whether backoff or `Retry-After`.
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Cap of all retry waits of one request together.
pub const MAX_TOTAL_RETRY_WAIT: Duration = Duration::from_secs(180);

/// The largest answer body read; larger ones are a decode error.
pub const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// The `User-Agent` sent, before the optional suffix.
const USER_AGENT: &str = concat!("koreai-users/", env!("CARGO_PKG_VERSION"));

/// Configures a [`Client`]. Made by [`Client::builder`].
///
/// Only [`host`](Self::host) and one of [`credentials`](Self::credentials)
/// or [`jwt`](Self::jwt) are required; every other setting has a default,
/// named in its doc. [`build`](Self::build) checks them all.
#[derive(Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ClientBuilder {
    host: Option<String>,
    client_id: Option<String>,
    secret: Option<Secret>,
    jwt: Option<Secret>,
    algorithm: Algorithm,
    subject: String,
    token_lifetime: Duration,
    timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    max_retry_wait: Duration,
    user_agent: Option<String>,
    allow_insecure_http: bool,
    rate_limits: Vec<RateLimit>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("host", &self.host)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("jwt", &self.jwt.as_ref().map(|_| "[redacted]"))
            .field("algorithm", &self.algorithm)
            .field("subject", &self.subject)
            .field("token_lifetime", &self.token_lifetime)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("user_agent", &self.user_agent)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("rate_limits", &self.rate_limits)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            host: None,
            client_id: None,
            secret: None,
            jwt: None,
            algorithm: Algorithm::default(),
            subject: DEFAULT_SUBJECT.to_owned(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            user_agent: None,
            allow_insecure_http: false,
            rate_limits: RateLimit::KORE_DEFAULTS.to_vec(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Environment variables read by [`ClientBuilder::from_env`].
pub mod env {
    /// The environment URL, e.g. `https://platform.kore.ai`.
    pub const HOST: &str = "KORE_HOST";
    /// The app's client id.
    pub const CLIENT_ID: &str = "KORE_CLIENT_ID";
    /// The app's client secret.
    pub const CLIENT_SECRET: &str = "KORE_CLIENT_SECRET";
    /// A ready token, used instead of the id and secret.
    pub const JWT: &str = "KORE_JWT";
}

impl ClientBuilder {
    /// The environment URL: `https://platform.kore.ai`, a regional host such
    /// as `https://de-platform.kore.ai`, or an on-premises host, with an
    /// optional path prefix (`https://kore.example.com/prefix`).
    ///
    /// Must be `https://`, except loopback hosts (`localhost`, `127.0.0.0/8`,
    /// `::1`); see [`allow_insecure_http`](Self::allow_insecure_http). No
    /// default: there is no single Kore.ai host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The app's client id and client secret, from the Admin Console. The
    /// client then mints a fresh JWT for every request.
    pub fn credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self.secret = Some(Secret::new(secret));
        self
    }

    /// A ready JWT, sent as is with every request, instead of
    /// [`credentials`](Self::credentials). It cannot be refreshed, so apps
    /// with "Enforce JTI" accept it once only.
    pub fn jwt(mut self, token: impl Into<String>) -> Self {
        self.jwt = Some(Secret::new(token));
        self
    }

    /// The signing algorithm. Default [`Algorithm::Hs256`], the one the
    /// API guide shows.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The `sub` claim. Default `"koreai-users"`: Kore.ai accepts any string.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// How long a minted token is valid. Default 5 minutes; at most 1 hour,
    /// the limit of apps with "Enforce JTI". A token is minted per attempt,
    /// so it only has to outlive one request.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// The time one attempt may take, from connecting to reading the whole
    /// answer. Default 30 s. Pacing and retry waits do not count.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time to connect (DNS, TCP, TLS). Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries after the first attempt, for rate limiting (429), 503 and
    /// failures to connect. Default 3; 0 turns retries off.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The longest single retry wait. Default 60 s. A server asking for a
    /// longer wait (`Retry-After`) gets an [`Error::RateLimited`] at once,
    /// carrying that wait, rather than a blocked thread.
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.max_retry_wait = wait;
        self
    }

    /// Text appended to the `User-Agent` (`koreai-users/VERSION`), to name
    /// your tool in the server's logs. Default none.
    pub fn user_agent(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent = Some(suffix.into());
        self
    }

    /// Allows `http://` to a host that is not loopback. Default `false`:
    /// the token would cross the network in clear text. When allowed, a
    /// warning is logged.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The client-side rate limits every request waits for, shared by all
    /// clones of the client. Default [`RateLimit::KORE_DEFAULTS`] (60 a
    /// minute, 1,800 an hour): the documented per-account limits. Lower
    /// them when other tools use the same account.
    pub fn rate_limits(mut self, limits: impl IntoIterator<Item = RateLimit>) -> Self {
        self.rate_limits = limits.into_iter().collect();
        self
    }

    /// Turns client-side pacing off; the server's 429s are still honoured.
    pub fn no_rate_limit(self) -> Self {
        self.rate_limits(None)
    }

    /// The clock behind every wait. Default the system clock. A test can
    /// give a `VirtualClock` so that waits pass at once.
    #[cfg(feature = "test-util")]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A builder from the environment: [`env::HOST`] (`KORE_HOST`), and
    /// either [`env::JWT`] (`KORE_JWT`) or both [`env::CLIENT_ID`] and
    /// [`env::CLIENT_SECRET`]. Other settings stay at their defaults and can
    /// still be changed.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the variable that is missing or not UTF-8.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let missing = |name: &str| Error::Config(format!("environment variable {name} is not set"));

        let host = get(env::HOST).ok_or_else(|| missing(env::HOST))?;
        let builder = Self::default().host(host);
        if let Some(token) = get(env::JWT) {
            return Ok(builder.jwt(token.trim()));
        }

        let client_id = get(env::CLIENT_ID).ok_or_else(|| {
            Error::Config(format!(
                "environment variable {} is not set (nor {})",
                env::CLIENT_ID,
                env::JWT
            ))
        })?;
        let secret = get(env::CLIENT_SECRET).ok_or_else(|| missing(env::CLIENT_SECRET))?;
        Ok(builder.credentials(client_id.trim(), secret.trim()))
    }

    /// A freshly minted token from the [`credentials`](Self::credentials),
    /// or the ready [`jwt`](Self::jwt), without a host or a client: for
    /// tools that print a token for `curl -H "auth: ..."`. It is a secret.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when neither credentials nor a jwt are set, or the
    /// id, secret or lifetime is invalid; [`Error::Token`] if signing fails.
    pub fn mint_token(&self) -> Result<String> {
        Ok(self.token_source()?.token()?.expose().to_owned())
    }

    /// Checks the token settings and makes the token source.
    fn token_source(&self) -> Result<TokenSource> {
        let config = |msg: &str| Err(Error::Config(msg.to_owned()));
        match (&self.client_id, &self.secret, &self.jwt) {
            (Some(_), _, Some(_)) => config("both credentials and a ready jwt are set; choose one"),
            (Some(id), Some(secret), None) => {
                if id.trim().is_empty() || !is_header_safe(id) {
                    return config("the client id is blank or holds control characters");
                }
                if secret.expose().is_empty() {
                    return config("the client secret is empty");
                }
                if self.token_lifetime.as_secs() == 0 || self.token_lifetime > MAX_TOKEN_LIFETIME {
                    return Err(Error::Config(format!(
                        "token lifetime {:?} is outside 1 s ..= 1 h",
                        self.token_lifetime
                    )));
                }
                let minter = Minter::new(
                    id,
                    secret,
                    &self.subject,
                    self.algorithm,
                    self.token_lifetime,
                )?;
                Ok(TokenSource::Mint(Box::new(minter)))
            }
            (None, _, Some(jwt)) => {
                let token = jwt.expose();
                if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return config("the jwt is empty or holds white space");
                }
                Ok(TokenSource::Fixed(jwt.clone()))
            }
            _ => config("no credentials: call credentials() or jwt()"),
        }
    }

    /// Checks every setting and builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the host is missing or not allowed, no
    /// credentials or token (or both) are given, or a duration, limit or
    /// header value is out of range.
    pub fn build(self) -> Result<Client> {
        let config = |msg: String| Err(Error::Config(msg));
        let Some(host) = &self.host else {
            return config("no host set: call host() or set KORE_HOST".into());
        };
        let endpoint = endpoint(host, self.allow_insecure_http)?;

        let token = self.token_source()?;

        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return config("timeouts must be greater than zero".into());
        }
        if self
            .rate_limits
            .iter()
            .any(|l| l.requests() == 0 || l.per().is_zero())
        {
            return config("a rate limit needs at least one request per non-zero window".into());
        }

        let user_agent = match &self.user_agent {
            Some(suffix) if !is_header_safe(suffix) => {
                return config("the user agent suffix holds control characters".into());
            }
            Some(suffix) if !suffix.trim().is_empty() => format!("{USER_AGENT} {}", suffix.trim()),
            _ => USER_AGENT.to_owned(),
        };

        let agent_config = ureq::Agent::config_builder()
            // Read 4xx/5xx bodies: they hold Kore.ai's reasons.
            .http_status_as_error(false)
            // Never follow: ureq would carry our `auth` header to the new host.
            .max_redirects(0)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout))
            .user_agent(user_agent)
            .build();

        let agent =
            ureq::Agent::with_parts(agent_config, DefaultConnector::new(), LiteralFirstResolver);
        let inner = Inner {
            agent,
            endpoint,
            token,
            max_retries: self.max_retries,
            max_retry_wait: self.max_retry_wait,
            limiter: Limiter::new(self.rate_limits),
            clock: self.clock,
            rng: SystemRandom::new(),
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }
}

/// ureq's default resolver, except that a host given as an IP address is
/// used as is.
///
/// With a timeout set, ureq resolves every request on a thread of its own,
/// so that a slow lookup can be abandoned; for an address there is nothing
/// to look up, and the thread cost a third of a loopback request's time.
#[derive(Debug)]
struct LiteralFirstResolver;

impl Resolver for LiteralFirstResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(addr) = literal_addr(uri) else {
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        let mut addrs = self.empty();
        addrs.push(addr);
        Ok(addrs)
    }
}

/// The socket address of a URI whose host is an IP address.
fn literal_addr(uri: &ureq::http::Uri) -> Option<SocketAddr> {
    let host = uri.host()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

/// A header value must not hold control characters.
fn is_header_safe(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// Checks a host and returns the endpoint URL.
fn endpoint(host: &str, allow_insecure_http: bool) -> Result<String> {
    let bad = |why: &str| Err(Error::Config(format!("host {host:?} {why}")));
    let trimmed = host.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return bad("must start with https://");
    };
    if rest.contains(['?', '#']) {
        return bad("must not have a query or fragment");
    }
    let (authority, prefix) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return bad("must not hold user info");
    }
    let name = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if name.is_empty() {
        return bad("has no host name");
    }

    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if is_loopback(name) => {}
        "http" if allow_insecure_http => {
            warn!("sending the auth token over plain http to {name}: allow_insecure_http is on");
        }
        "http" => return bad("uses http; only https is allowed (or http to a loopback host)"),
        _ => return bad("must start with https://"),
    }

    let url = format!("{scheme}://{authority}{prefix}{REMOVE_USERS_PATH}");
    if ureq::http::Uri::try_from(url.as_str()).is_err() || url.contains(char::is_whitespace) {
        return bad("is not a valid URL");
    }
    Ok(url)
}

fn is_loopback(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A blocking client for the Kore.ai user-management API.
///
/// Cheap to clone: clones share one connection pool and one rate limiter.
/// `Send + Sync`, so one client can serve many threads.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    endpoint: String,
    token: TokenSource,
    max_retries: u32,
    max_retry_wait: Duration,
    limiter: Limiter,
    clock: Arc<dyn Clock>,
    rng: SystemRandom,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("token", &self.inner.token)
            .field("max_retries", &self.inner.max_retries)
            .field("rate_limits", &self.inner.limiter.limits())
            .finish_non_exhaustive()
    }
}

/// A wait the client made before a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitCause {
    /// Client-side pacing under the configured rate limits.
    Pacing,
    /// The server rate limited a request (429 or a rate-limit message).
    RateLimited,
    /// The server was unavailable (503).
    Unavailable,
    /// The connection could not be made.
    ConnectFailed,
}

impl fmt::Display for WaitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitCause::Pacing => "pacing under the rate limits",
            WaitCause::RateLimited => "rate limited by the server",
            WaitCause::Unavailable => "server unavailable",
            WaitCause::ConnectFailed => "could not connect",
        })
    }
}

/// What one call of [`Client::send`] went through, for bulk accounting.
#[derive(Debug, Default)]
pub(crate) struct SendStats {
    pub(crate) requests: u32,
    pub(crate) retries: u32,
}

impl Client {
    /// A builder with every default; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment; see
    /// [`ClientBuilder::from_env`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming a missing variable, or any error of
    /// [`ClientBuilder::build`].
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env()?.build()
    }

    /// The full URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// A freshly minted token (or the ready one given to
    /// [`ClientBuilder::jwt`]), for tools that send requests of their own,
    /// such as `curl -H "auth: $TOKEN"`. It is a secret: handle it as one.
    ///
    /// # Errors
    ///
    /// [`Error::Token`] if signing fails.
    pub fn mint_token(&self) -> Result<String> {
        Ok(self.inner.token.token()?.expose().to_owned())
    }

    /// The configured client-side rate limits.
    pub fn rate_limits(&self) -> &[RateLimit] {
        self.inner.limiter.limits()
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    pub(crate) fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }

    pub(crate) fn max_retry_wait(&self) -> Duration {
        self.inner.max_retry_wait
    }

    /// When the rate limiter would let the next request go.
    pub(crate) fn next_send_time(&self) -> Instant {
        self.inner.limiter.next_free(self.clock().now())
    }

    /// Removes users from the account in one request.
    ///
    /// Entries are trimmed, checked and de-duplicated first (emails compare
    /// case-insensitively). The request waits for the client-side rate limit
    /// and is retried on 429, 503 and failures to connect, with a fresh token
    /// each time. A `failedUserDetails` answer is a report, whatever its
    /// status: check [`RemoveReport::is_complete`] or call
    /// [`RemoveReport::into_result`].
    ///
    /// ```no_run
    /// use koreai_users::{Client, RemoveUsers};
    ///
    /// let client = Client::from_env()?;
    /// let report = client.remove_users(&RemoveUsers::emails(["john.doe@example.com"]))?;
    /// for failed in report.failed() {
    ///     eprintln!("{:?}: {:?}", failed.id(), failed.message());
    /// }
    /// # Ok::<(), koreai_users::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidRequest`], before anything is sent, for an empty
    ///   list, more than [`MAX_BATCH_SIZE`] users, or any bad entry (all are
    ///   named).
    /// - [`Error::Unauthorized`] for a 401 or 403: bad credentials, a bad
    ///   token, or a missing scope ([`AuthProblem`]).
    /// - [`Error::RateLimited`] when still rate limited after the retries.
    /// - [`Error::Api`] for any other non-success answer, a redirect included;
    ///   for 500, 502 and 504 the outcome is unknown
    ///   ([`Error::is_outcome_unknown`]) and the call is not retried.
    /// - [`Error::Timeout`] and [`Error::Transport`] when the exchange
    ///   failed; `sent: true` means the outcome is unknown.
    /// - [`Error::Decode`] when the answer is not the expected JSON.
    /// - [`Error::Token`] if signing fails.
    pub fn remove_users(&self, users: &RemoveUsers) -> Result<RemoveReport> {
        let ids = users
            .checked(MAX_BATCH_SIZE)
            .map_err(|e| Error::InvalidRequest(Box::new(e)))?;
        let mut stats = SendStats::default();
        self.send(users.kind(), &ids, &mut |_, _| {}, &mut stats, None)
    }

    /// Sends checked identifiers, with pacing and retries. `on_wait` hears
    /// of every wait before it starts; no retry waits past `deadline`.
    pub(crate) fn send(
        &self,
        kind: IdKind,
        ids: &[String],
        on_wait: &mut dyn FnMut(Duration, WaitCause),
        stats: &mut SendStats,
        deadline: Option<Instant>,
    ) -> Result<RemoveReport> {
        let body = request::body(kind, ids);
        trace!("request body: {}", String::from_utf8_lossy(&body));
        let mut waited = Duration::ZERO;
        let mut wait_cause = WaitCause::Pacing;

        for attempt in 1.. {
            self.pace(on_wait, wait_cause);
            wait_cause = WaitCause::Pacing;
            stats.requests += 1;
            let error = match self.attempt(kind, ids, &body, attempt) {
                Ok(report) => return Ok(report),
                Err(error) => error,
            };

            let Some((wait, cause)) = self.retry_wait(&error, attempt) else {
                return Err(error);
            };
            if waited + wait > MAX_TOTAL_RETRY_WAIT {
                debug!("not retrying: the total retry wait would pass {MAX_TOTAL_RETRY_WAIT:?}");
                return Err(error);
            }
            if deadline.is_some_and(|d| self.clock().now() + wait >= d) {
                debug!("not retrying: the wait would pass the deadline");
                return Err(error);
            }
            waited += wait;
            stats.retries += 1;

            debug!("retry {attempt} in {} ms: {cause}", wait.as_millis());
            if cause == WaitCause::RateLimited {
                // Hold every clone of the client, not just this call; the
                // next `pace` waits for it.
                self.inner.limiter.block_until(self.clock().now() + wait);
                wait_cause = WaitCause::RateLimited;
            } else {
                on_wait(wait, cause);
                self.clock().sleep(wait);
            }
        }
        unreachable!("the retry loop only ends by returning")
    }

    /// Waits for the client-side rate limit, or for a server's
    /// `Retry-After` (`cause` tells which).
    fn pace(&self, on_wait: &mut dyn FnMut(Duration, WaitCause), cause: WaitCause) {
        let now = self.clock().now();
        let at = self.inner.limiter.reserve(now);
        let wait = at.saturating_duration_since(now);
        if !wait.is_zero() {
            debug!("waiting {} ms: {cause}", wait.as_millis());
            on_wait(wait, cause);
            self.clock().sleep(wait);
        }
    }

    /// How long to wait before retrying after `error`, or `None` to give up.
    fn retry_wait(&self, error: &Error, attempt: u32) -> Option<(Duration, WaitCause)> {
        if attempt > self.inner.max_retries {
            return None;
        }
        let cause = match error {
            Error::RateLimited { .. } => WaitCause::RateLimited,
            Error::Api(response) if response.status == 503 => WaitCause::Unavailable,
            Error::Transport { sent: false, .. } | Error::Timeout { sent: false, .. } => {
                WaitCause::ConnectFailed
            }
            _ => return None,
        };

        let cap = self.inner.max_retry_wait;
        let wait = match error.response().and_then(|r| r.retry_after) {
            Some(asked) if asked > cap => {
                debug!("not retrying: the server asks for {asked:?}, more than {cap:?}");
                return None;
            }
            Some(asked) => asked,
            None => backoff(attempt, cap, &self.inner.rng),
        };
        Some((wait, cause))
    }

    /// One request and its answer.
    fn attempt(
        &self,
        kind: IdKind,
        ids: &[String],
        body: &[u8],
        attempt: u32,
    ) -> Result<RemoveReport> {
        let token = self.inner.token.token()?;
        let started = Instant::now();
        debug!(
            "DELETE {REMOVE_USERS_PATH} with {} users, attempt {attempt}",
            ids.len()
        );

        let sent = self
            .inner
            .agent
            .delete(&self.inner.endpoint)
            .header("auth", token.expose())
            .header("content-type", "application/json")
            .force_send_body()
            .send(body);
        let mut response = sent.map_err(|e| transport_error(e, false))?;

        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after =
            header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let location = header("location");

        let read = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec();
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(decode_error(
                    status,
                    format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                    &[],
                    None,
                ));
            }
            Err(e) => return Err(transport_error(e, true)),
        };
        debug!(
            "DELETE {REMOVE_USERS_PATH} answered {status} in {} ms ({} bytes)",
            started.elapsed().as_millis(),
            bytes.len()
        );
        trace!("answer body: {}", String::from_utf8_lossy(&bytes));

        let answer = Answer {
            status,
            bytes,
            retry_after,
            location,
        };
        classify(kind, ids, attempt, answer)
    }
}

/// An answer as read off the wire.
struct Answer {
    status: u16,
    bytes: Vec<u8>,
    retry_after: Option<Duration>,
    location: Option<String>,
}

impl Answer {
    fn error_response(&self, errors: Vec<ErrorDetail>) -> ErrorResponse {
        ErrorResponse {
            status: self.status,
            errors,
            body_snippet: snippet(&self.bytes),
            location: self.location.clone(),
            retry_after: self.retry_after,
        }
    }
}

/// Maps the answer to attempt number `attempt` to a report or an error.
fn classify(kind: IdKind, ids: &[String], attempt: u32, answer: Answer) -> Result<RemoveReport> {
    let status = answer.status;
    // Lenient: any JSON object decodes; anything else is `None`.
    let body = serde_json::from_slice::<RemoveUsersResponse>(&answer.bytes).ok();

    let errors = body
        .as_ref()
        .and_then(|b| b.errors.as_deref())
        .unwrap_or_default();
    if status == 429 || mentions_rate_limit(errors) {
        return Err(Error::RateLimited {
            attempts: attempt,
            retry_after: answer.retry_after,
            response: Box::new(answer.error_response(errors.to_vec())),
        });
    }

    let success = (200..300).contains(&status);
    let report_status =
        success || ((400..500).contains(&status) && ![401, 403, 429].contains(&status));
    match body {
        Some(body) if report_status && body.failed_user_details.is_some() => {
            Ok(RemoveReport::new(kind, ids, status, body))
        }
        Some(body) if success && (body.msg.is_some() || body.errors.is_none()) => {
            Ok(RemoveReport::new(kind, ids, status, body))
        }
        None if success => {
            let reason = if answer.bytes.is_empty() {
                "the body is empty"
            } else {
                "the body is not a JSON object"
            };
            let source = serde_json::from_slice::<serde_json::Value>(&answer.bytes).err();
            Err(decode_error(
                status,
                reason.to_owned(),
                &answer.bytes,
                source,
            ))
        }
        body => {
            let errors = body.and_then(|b| b.errors).unwrap_or_default();
            let response = answer.error_response(errors);
            if status == 401 || status == 403 {
                let problem = AuthProblem::classify(&response);
                Err(Error::Unauthorized {
                    problem,
                    response: Box::new(response),
                })
            } else {
                Err(Error::Api(Box::new(response)))
            }
        }
    }
}

fn decode_error(
    status: u16,
    reason: String,
    bytes: &[u8],
    source: Option<serde_json::Error>,
) -> Error {
    Error::Decode(Box::new(DecodeError {
        status,
        reason,
        body_snippet: snippet(bytes),
        source,
    }))
}

/// Maps a ureq error; `reading` is true once the answer has begun.
fn transport_error(error: ureq::Error, reading: bool) -> Error {
    use ureq::Timeout;

    let sent = reading
        || !matches!(
            &error,
            ureq::Error::HostNotFound
                | ureq::Error::ConnectionFailed
                | ureq::Error::BadUri(_)
                | ureq::Error::Tls(_)
                | ureq::Error::Rustls(_)
                | ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect)
        ) && !matches!(&error, ureq::Error::Io(io) if is_connect_failure(io.kind()));

    debug!("transport error (sent: {sent}): {error}");
    match error {
        ureq::Error::Timeout(_) => Error::Timeout {
            sent,
            source: Box::new(error),
        },
        _ => Error::Transport {
            sent,
            source: Box::new(error),
        },
    }
}

fn is_connect_failure(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ClientBuilder {
        Client::builder()
            .host("https://platform.kore.ai")
            .credentials("cs-id", "s3cr3t")
    }

    #[test]
    fn endpoint_keeps_an_on_prem_prefix() {
        let url = |h: &str| endpoint(h, false).unwrap();
        assert_eq!(
            url("https://platform.kore.ai"),
            "https://platform.kore.ai/api/public/users"
        );
        assert_eq!(
            url("https://platform.kore.ai/"),
            "https://platform.kore.ai/api/public/users"
        );
        assert_eq!(
            url("https://kore.example.com:8443/bots/"),
            "https://kore.example.com:8443/bots/api/public/users"
        );
        assert_eq!(
            url("http://127.0.0.1:9000"),
            "http://127.0.0.1:9000/api/public/users"
        );
        assert_eq!(
            url("http://localhost:9000"),
            "http://localhost:9000/api/public/users"
        );
        assert_eq!(
            url("http://[::1]:9000"),
            "http://[::1]:9000/api/public/users"
        );
    }

    #[test]
    fn ip_literal_hosts_skip_the_resolver() {
        let addr = |u: &str| literal_addr(&u.parse().unwrap());
        assert_eq!(
            addr("http://127.0.0.1:9/x"),
            Some("127.0.0.1:9".parse().unwrap())
        );
        assert_eq!(addr("https://[::1]/x"), Some("[::1]:443".parse().unwrap()));
        assert_eq!(addr("https://platform.kore.ai/x"), None);
    }

    #[test]
    fn a_429_or_a_rate_limit_message_is_rate_limiting() {
        let ids = ["a@x.io".to_owned()];
        let answer = |status: u16, body: &str| Answer {
            status,
            bytes: body.as_bytes().to_vec(),
            retry_after: None,
            location: None,
        };
        let limited = r#"{"errors":[{"msg":"Rate limit for this API has been reached."}]}"#;

        let plain = classify(IdKind::Email, &ids, 2, answer(429, ""));
        assert!(matches!(plain, Err(Error::RateLimited { attempts: 2, .. })));
        let by_message = classify(IdKind::Email, &ids, 1, answer(400, limited));
        assert!(matches!(
            by_message,
            Err(Error::RateLimited { attempts: 1, .. })
        ));
        let other = classify(IdKind::Email, &ids, 1, answer(400, r#"{"errors":[]}"#));
        assert!(matches!(other, Err(Error::Api(_))));
    }

    #[test]
    fn bad_hosts_are_config_errors() {
        for host in [
            "platform.kore.ai",
            "ftp://platform.kore.ai",
            "https://",
            "https://platform.kore.ai?x=1",
            "https://platform.kore.ai/#top",
            "https://user:pw@platform.kore.ai",
            "https://plat form.kore.ai",
            "http://platform.kore.ai",
            "http://10.0.0.1",
        ] {
            let err = endpoint(host, false).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{host}: {err}");
        }
        assert!(endpoint("http://kore.internal", true).is_ok());
    }

    #[test]
    fn build_checks_every_setting() {
        assert!(builder().build().is_ok());
        let cases = [
            Client::builder().credentials("id", "s"),
            Client::builder().host("https://h"),
            builder().jwt("a.b.c"),
            builder().credentials(" ", "s"),
            builder().credentials("id", ""),
            builder().token_lifetime(Duration::from_secs(3_601)),
            builder().token_lifetime(Duration::ZERO),
            builder().timeout(Duration::ZERO),
            builder().rate_limits([RateLimit::per_minute(0)]),
            builder().user_agent("bad\nagent"),
            Client::builder().host("https://h").jwt("has space"),
        ];
        for case in cases {
            let shown = format!("{case:?}");
            assert!(matches!(case.build(), Err(Error::Config(_))), "{shown}");
        }
    }

    #[test]
    fn a_token_can_be_minted_without_a_host() {
        let token = Client::builder()
            .credentials("cs-id", "s3cr3t")
            .mint_token()
            .unwrap();
        assert_eq!(token.split('.').count(), 3);
        let ready = Client::builder().jwt("a.b.c").mint_token().unwrap();
        assert_eq!(ready, "a.b.c");
        assert!(matches!(
            Client::builder().mint_token(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn from_env_names_the_missing_variable() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let err = ClientBuilder::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().contains("KORE_HOST"), "{err}");
        let err = ClientBuilder::from_lookup(lookup(&[("KORE_HOST", "https://h")])).unwrap_err();
        assert!(err.to_string().contains("KORE_CLIENT_ID"), "{err}");
        let only_id = &[("KORE_HOST", "https://h"), ("KORE_CLIENT_ID", "id")];
        let err = ClientBuilder::from_lookup(lookup(only_id)).unwrap_err();
        assert!(err.to_string().contains("KORE_CLIENT_SECRET"), "{err}");

        let full = &[
            ("KORE_HOST", "https://h"),
            ("KORE_CLIENT_ID", "id"),
            ("KORE_CLIENT_SECRET", "s"),
        ];
        assert!(
            ClientBuilder::from_lookup(lookup(full))
                .unwrap()
                .build()
                .is_ok()
        );
        let jwt = &[("KORE_HOST", "https://h"), ("KORE_JWT", "a.b.c")];
        assert!(
            ClientBuilder::from_lookup(lookup(jwt))
                .unwrap()
                .build()
                .is_ok()
        );
    }

    #[test]
    fn client_is_clone_send_sync_and_hides_the_secret() {
        fn assert_traits<T: Clone + Send + Sync>() {}
        assert_traits::<Client>();

        let b = builder();
        assert!(!format!("{b:?}").contains("s3cr3t"));
        let client = b.build().unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
        let jwt_client = Client::builder()
            .host("https://h")
            .jwt("eyJhbGc.x.y")
            .build()
            .unwrap();
        assert!(!format!("{jwt_client:?}").contains("eyJhbGc"));
    }
}
