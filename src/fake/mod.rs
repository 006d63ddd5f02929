//! A fake Kore.ai account, served on `127.0.0.1`, to test offboarding code
//! without a real tenant.
//!
//! [`FakeKore`] runs an HTTP server in the test process that answers
//! `DELETE /api/public/users` the way Kore.ai documents it: it checks the
//! `auth` JWT against a generated client id and secret, applies the rate limit
//! and the "Enforce JTI" rules you turn on, validates the body, removes the
//! users it knows and names the others in `failedUserDetails`. It also plays
//! the failures a real network adds, one request at a time: scripted answers,
//! slow answers, dropped connections, HTML error pages, cut or oversized
//! bodies ([`Fault`]). Every request is logged ([`RecordedRequest`]) so a test
//! can check what was sent.
//!
//! It is made for this crate's tests and for yours: point your own tool at
//! [`FakeKore::url`] with [`FakeKore::client_id`] and
//! [`FakeKore::client_secret`], or take a ready [`ClientBuilder`] from
//! [`FakeKore::client_builder`]. It only ever listens on `127.0.0.1`, on a
//! port the system picks, so tests can run in parallel. Dropping it stops the
//! server and closes its port. Needs the `test-util` feature.
//!
//! ```
//! use koreai_users::RemoveUsers;
//! use koreai_users::fake::FakeKore;
//!
//! let fake = FakeKore::start();
//! fake.add_user("john.doe@example.com", "u-1001");
//! fake.add_user("jane.roe@example.com", "u-1002");
//!
//! let client = fake.client_builder().build()?;
//! let users = RemoveUsers::emails(["john.doe@example.com", "nobody@example.com"]);
//! let report = client.remove_users(&users)?;
//!
//! assert!(!fake.has_email("john.doe@example.com"));
//! assert!(fake.has_email("jane.roe@example.com"));
//! assert_eq!(report.failed().len(), 1);
//! assert_eq!(fake.request_count(), 1);
//! # Ok::<(), koreai_users::Error>(())
//! ```
//!
//! # What is faithful and what is not
//!
//! The answers, messages and codes are those shown by Kore.ai's API guide and
//! by public test suites. Where Kore.ai's behaviour is undocumented, the fake
//! picks one answer and names it on the setting that changes it: the status of
//! a per-user failure answer ([`FakeKore::set_partial_status`]), whether a 429
//! carries `Retry-After` ([`FakeRateLimit::retry_after`]).
//!
//! Known limits:
//! - Only `DELETE /api/public/users` exists, at the root of the URL (no
//!   on-premises path prefix); every other path answers 404, other methods on
//!   it 405.
//! - Plain HTTP only, which the client allows for loopback hosts.
//! - With "Enforce JTI" on, every `jti` is remembered for the life of the
//!   fake, as replay protection needs.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

use crate::{Claims, Client, ClientBuilder, Clock};

mod account;
mod auth;
mod proxy;
mod serve;

use self::auth::Verifier;
use self::proxy::{Connections, Front};
use self::serve::{Shared, State};

/// The status of an answer holding `failedUserDetails`, unless changed: the
/// sibling user-management APIs report per-user failures inside a 200.
pub const DEFAULT_PARTIAL_STATUS: u16 = 200;

/// A user of the fake account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FakeUser {
    /// The email address, as added. Lookups ignore its case.
    pub email: String,
    /// The org user id, as added. Lookups compare it exactly.
    pub org_user_id: String,
}

impl FakeUser {
    /// A user with both identifiers.
    pub fn new(email: impl Into<String>, org_user_id: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            org_user_id: org_user_id.into(),
        }
    }
}

/// Rate limiting as the fake applies it: at most `requests` in any rolling
/// window of `per`, after which it answers 429 with Kore.ai's message.
///
/// Requests answered 429 do not count against the window, so a client that
/// waits the time a `Retry-After` names gets through. The window is read from
/// the fake's clock (see [`FakeKoreBuilder::clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FakeRateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The length of the rolling window.
    pub per: Duration,
    /// Whether a 429 carries a `Retry-After` header, in whole seconds (rounded
    /// up, at least 1), of the time until the window has room again. Kore.ai
    /// does not document one, so test both.
    pub retry_after: bool,
}

impl FakeRateLimit {
    /// `requests` per rolling `per`, with `Retry-After` on every 429.
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests,
            per,
            retry_after: true,
        }
    }

    /// The same limit, with or without `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: bool) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// A scripted misbehaviour for one request.
///
/// Faults queue up with [`FakeKore::push_fault`]; each request to the
/// endpoint takes the oldest one, if any, before any other check. Requests to
/// other paths or with other methods take none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answers this instead of processing the request: nothing is checked
    /// and nothing is removed. Without a `Content-Type` among `headers`, a
    /// non-empty body is sent as `application/json`.
    Respond {
        /// The status.
        status: u16,
        /// The body, sent as is.
        body: String,
        /// Extra headers, e.g. `Retry-After` or `Location`.
        headers: Vec<(String, String)>,
    },
    /// Waits this long on the server side, then handles the request as usual:
    /// for client timeouts. Other requests are served meanwhile; the users
    /// are removed after the wait even if the client gave up.
    Delay(Duration),
    /// Closes the connection without any answer and without processing: the
    /// client reads an end of stream where it expected a status line, and the
    /// account is unchanged.
    DropBeforeProcessing,
    /// Processes the request (users are removed), then closes the connection
    /// without any answer.
    DropAfterProcessing,
    /// Processes the request, then answers an HTML error page with this
    /// status, as a proxy or load balancer in front of Kore.ai would.
    Html {
        /// The status.
        status: u16,
    },
    /// Processes the request, then answers this status with an empty body.
    EmptyBody {
        /// The status.
        status: u16,
    },
    /// Processes the request, then answers 200 with the first half of the
    /// JSON body it would have sent.
    TruncatedJson,
    /// Processes the request, then answers 200 with the JSON body it would
    /// have sent, padded with an extra string field to exactly `bytes` bytes
    /// (or the unpadded body, if that is already longer).
    Oversized {
        /// The size of the body.
        bytes: usize,
    },
}

impl Fault {
    /// Answers `status` with Kore.ai's error envelope,
    /// `{"errors":[{"msg":<reason phrase>,"code":<status>}]}`, and nothing
    /// processed.
    pub fn status(status: u16) -> Self {
        Fault::Respond {
            status,
            body: serve::envelope(serve::reason_phrase(status), status),
            headers: Vec::new(),
        }
    }

    /// Answers 429 with Kore.ai's rate-limit message, and with a
    /// `Retry-After` header when `retry_after` is given: whole seconds when
    /// the duration is whole (`"2"`), else a decimal (`"0.5"`).
    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        let headers = retry_after
            .map(|wait| {
                let value = if wait.subsec_nanos() == 0 {
                    wait.as_secs().to_string()
                } else {
                    wait.as_secs_f64().to_string()
                };
                vec![("Retry-After".to_owned(), value)]
            })
            .unwrap_or_default();
        Fault::Respond {
            status: 429,
            body: serve::envelope(serve::RATE_LIMIT_MESSAGE, 429),
            headers,
        }
    }

    /// Answers `302 Found` with a `Location` header and an empty body, as a
    /// login page or a moved host would.
    pub fn redirect(location: impl Into<String>) -> Self {
        Fault::Respond {
            status: 302,
            body: String::new(),
            headers: vec![("Location".to_owned(), location.into())],
        }
    }
}

/// What the fake did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Checked and processed: every user removed, or some reported in
    /// `failedUserDetails`.
    Processed,
    /// Refused by a check (route, token, scope, content type, body); the
    /// text says why, for test failure messages.
    Rejected(String),
    /// Refused with 429 by the rate-limit emulation.
    RateLimited,
    /// Answered by a scripted [`Fault`] (other than a dropped connection).
    Fault,
    /// The connection was closed without an answer.
    Dropped,
}

/// One request as the fake received it, and what it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The method, e.g. `"DELETE"`.
    pub method: String,
    /// The path and query as sent, e.g. `"/api/public/users"`.
    pub path: String,
    /// Every header, in order, with lowercased names.
    pub headers: Vec<(String, String)>,
    /// The body (invalid UTF-8 replaced).
    pub body: String,
    /// The claims of the `auth` token, when its signature verified with the
    /// client secret (whatever the other checks said) and they have this
    /// crate's shape (`appId` and `sub` strings).
    pub claims: Option<Claims>,
    /// The status answered; 0 when the connection was dropped.
    pub status: u16,
    /// What the fake did.
    pub verdict: Verdict,
}

impl RecordedRequest {
    /// The first header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Configures a [`FakeKore`]. Made by [`FakeKore::builder`].
#[must_use = "a builder does nothing until start() is called"]
pub struct FakeKoreBuilder {
    users: Vec<FakeUser>,
    enforce_jti: bool,
    partial_status: u16,
    rate_limit: Option<FakeRateLimit>,
    clock: Option<Arc<dyn Clock>>,
    record_requests: bool,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl fmt::Debug for FakeKoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeKoreBuilder")
            .field("users", &self.users.len())
            .field("enforce_jti", &self.enforce_jti)
            .field("partial_status", &self.partial_status)
            .field("rate_limit", &self.rate_limit)
            .field("clock", &self.clock)
            .field("record_requests", &self.record_requests)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Default for FakeKoreBuilder {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            enforce_jti: false,
            partial_status: DEFAULT_PARTIAL_STATUS,
            rate_limit: None,
            clock: None,
            record_requests: true,
            client_id: None,
            client_secret: None,
        }
    }
}

impl FakeKoreBuilder {
    /// Users the account starts with, as `(email, org_user_id)` pairs; see
    /// [`FakeKore::add_user`]. Default none.
    pub fn users<I, E, O>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = (E, O)>,
        E: AsRef<str>,
        O: AsRef<str>,
    {
        let users = users
            .into_iter()
            .map(|(e, o)| FakeUser::new(e.as_ref(), o.as_ref()));
        self.users.extend(users);
        self
    }

    /// Starts with "Enforce JTI" on; see [`FakeKore::set_enforce_jti`].
    /// Default off, as for a new app.
    pub fn enforce_jti(mut self, on: bool) -> Self {
        self.enforce_jti = on;
        self
    }

    /// The status of answers holding `failedUserDetails`; see
    /// [`FakeKore::set_partial_status`]. Default
    /// [`DEFAULT_PARTIAL_STATUS`] (200).
    pub fn partial_status(mut self, status: u16) -> Self {
        self.partial_status = status;
        self
    }

    /// Starts with rate limiting on; see [`FakeKore::set_rate_limit`].
    /// Default none: the real limits (60 a minute, 1,800 an hour) would only
    /// slow tests down.
    pub fn rate_limit(mut self, limit: FakeRateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// The clock of the rate-limit windows, and of the clients made by
    /// [`FakeKore::client_builder`]. Give both sides the same
    /// [`VirtualClock`](crate::VirtualClock) and rate-limit waits pass at
    /// once. Default the system clock. Token expiry is always checked
    /// against the real time, as the JWT carries real timestamps.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Whether to keep the request log ([`FakeKore::requests`]). Default
    /// `true`; benchmarks turn it off so that the log does not grow.
    /// [`FakeKore::request_count`] counts either way.
    pub fn record_requests(mut self, on: bool) -> Self {
        self.record_requests = on;
        self
    }

    /// The app's client id. Default a random `cs-` id, like Kore.ai's.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The app's client secret, which signs the JWT. Default a random one.
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Binds `127.0.0.1` on a free port and starts serving.
    ///
    /// Also makes sure `jsonwebtoken` has a crypto provider (this crate's
    /// HMAC one, unless the process installed another), so a test may sign
    /// its own tokens with `jsonwebtoken::encode` once a fake is started.
    ///
    /// # Errors
    ///
    /// An I/O error when a socket cannot be bound, a thread cannot be
    /// started or the system random generator fails, and
    /// [`io::ErrorKind::InvalidInput`] for an empty client id or secret.
    pub fn start(self) -> io::Result<FakeKore> {
        let client_id = match self.client_id {
            Some(id) => id,
            None => random_client_id()?,
        };
        let client_secret = match self.client_secret {
            Some(secret) => secret,
            None => random_hex(32)?,
        };
        if client_id.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the fake's client id is empty",
            ));
        }
        let verifier = Verifier::new(&client_id, &client_secret)?;

        let server = tiny_http::Server::http("127.0.0.1:0").map_err(io::Error::other)?;
        let backend = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("tiny_http is not listening on TCP"))?;
        let server = Arc::new(server);

        let mut state = State::default();
        for user in &self.users {
            state.account.add(&user.email, &user.org_user_id);
        }
        state.enforce_jti = self.enforce_jti;
        state.partial_status = self.partial_status;
        state.set_rate_limit(self.rate_limit);
        let connections = Arc::new(Connections::default());
        let shared = Arc::new(Shared::new(
            state,
            verifier,
            Arc::clone(&connections),
            self.clock.clone(),
            self.record_requests,
        ));

        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let front = Front::start(listener, backend, connections)?;
        let serve_thread = {
            let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
            thread::Builder::new()
                .name("fake-kore-serve".into())
                .spawn(move || serve::serve(&server, &shared))?
        };

        Ok(FakeKore {
            addr: front.addr(),
            client_id,
            client_secret,
            clock: self.clock,
            shared,
            server,
            front: Some(front),
            serve_thread: Some(serve_thread),
        })
    }
}

/// A running fake of Kore.ai's remove-users endpoint; see the
/// [module docs](self).
///
/// Every method takes `&self`, so one fake can be shared by the threads of a
/// test. Dropping it stops the server: its threads are joined and its port
/// closed; open connections are closed too.
pub struct FakeKore {
    addr: SocketAddr,
    client_id: String,
    client_secret: String,
    clock: Option<Arc<dyn Clock>>,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    front: Option<Front>,
    serve_thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeKore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeKore")
            .field("url", &self.url())
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl FakeKore {
    /// A fake with every default; see [`FakeKoreBuilder`].
    ///
    /// # Panics
    ///
    /// If it cannot bind `127.0.0.1` or start its threads: a test cannot go
    /// on without it. Use [`FakeKoreBuilder::start`] to get the error instead.
    pub fn start() -> FakeKore {
        match Self::builder().start() {
            Ok(fake) => fake,
            Err(e) => panic!("the fake Kore.ai server could not start on 127.0.0.1: {e}"),
        }
    }

    /// A builder for a fake with other settings.
    pub fn builder() -> FakeKoreBuilder {
        FakeKoreBuilder::default()
    }

    /// The base URL, `http://127.0.0.1:PORT`: the `host` of a client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app's client id, the `appId` claim the fake expects.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The app's client secret, which must sign the JWT.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// A client builder aimed at this fake: its URL and credentials, and its
    /// clock when it was given one. Other settings are the client's
    /// defaults, client-side pacing included; tests usually add
    /// [`no_rate_limit`](ClientBuilder::no_rate_limit).
    pub fn client_builder(&self) -> ClientBuilder {
        let builder = Client::builder()
            .host(self.url())
            .credentials(&self.client_id, &self.client_secret);
        match &self.clock {
            Some(clock) => builder.clock(Arc::clone(clock)),
            None => builder,
        }
    }

    /// Adds a user. A user with the same email address (in any case) or the
    /// same org user id is replaced, as both are unique in an account. An
    /// empty identifier is not indexed: such a user can only be removed by
    /// the other one.
    pub fn add_user(&self, email: &str, org_user_id: &str) {
        self.shared.lock().account.add(email, org_user_id);
    }

    /// Adds users as `(email, org_user_id)` pairs; see
    /// [`add_user`](Self::add_user).
    pub fn add_users<I, E, O>(&self, users: I)
    where
        I: IntoIterator<Item = (E, O)>,
        E: AsRef<str>,
        O: AsRef<str>,
    {
        let mut state = self.shared.lock();
        for (email, org_user_id) in users {
            state.account.add(email.as_ref(), org_user_id.as_ref());
        }
    }

    /// The users of the account now, in the order they were added.
    pub fn users(&self) -> Vec<FakeUser> {
        self.shared.lock().account.users()
    }

    /// How many users the account has.
    pub fn user_count(&self) -> usize {
        self.shared.lock().account.len()
    }

    /// Whether a user has this email address, compared case-insensitively.
    pub fn has_email(&self, email: &str) -> bool {
        self.shared.lock().account.has_email(email)
    }

    /// Whether a user has this org user id, compared exactly.
    pub fn has_org_user_id(&self, org_user_id: &str) -> bool {
        self.shared.lock().account.has_org_user_id(org_user_id)
    }

    /// Turns the app's "Enforce JTI" setting on or off. When on, a token
    /// without a `jti`, a `jti` already seen, or a lifetime over one hour
    /// (`exp - iat`, or `exp` from now without `iat`) is refused with 401
    /// `error verifying the jwt: ...`. Only tokens checked while it is on
    /// are remembered.
    pub fn set_enforce_jti(&self, on: bool) {
        self.shared.lock().enforce_jti = on;
    }

    /// Takes the User Management scope away from the app (or gives it back).
    /// Without it, every request with a valid token is answered 401
    /// `{"errors":[{"msg":"Permission denied. Scope is incorrect!","code":4002}]}`.
    pub fn set_scope_revoked(&self, revoked: bool) {
        self.shared.lock().scope_revoked = revoked;
    }

    /// The status of answers holding `failedUserDetails`. Kore.ai does not
    /// document it: the default is [`DEFAULT_PARTIAL_STATUS`] (200); try
    /// 400 too.
    pub fn set_partial_status(&self, status: u16) {
        self.shared.lock().partial_status = status;
    }

    /// Turns rate limiting on with this limit, or off with `None`. Either way
    /// the window starts afresh.
    pub fn set_rate_limit(&self, limit: Option<FakeRateLimit>) {
        self.shared.lock().set_rate_limit(limit);
    }

    /// Queues a fault for a coming request; faults are taken one per request
    /// to the endpoint, oldest first.
    ///
    /// # Panics
    ///
    /// If a status is not a three-digit number, or a header of
    /// [`Fault::Respond`] is not a valid HTTP header (a name that is not a
    /// token, a value with control characters or non-ASCII text): the
    /// fake could not send it.
    pub fn push_fault(&self, fault: Fault) {
        serve::check_fault(&fault);
        self.shared.lock().faults.push_back(fault);
    }

    /// How many queued faults no request has taken yet.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Every request so far, oldest first; empty when the log is off
    /// ([`FakeKoreBuilder::record_requests`]). A request is logged before it
    /// is answered, so the log is complete once the client has its answer.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// The most recent request, if any was logged.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.lock().log.last().cloned()
    }

    /// How many requests the fake has received and answered (or dropped),
    /// whether or not the log is kept.
    pub fn request_count(&self) -> usize {
        self.shared.lock().count
    }

    /// Empties the request log and the request count.
    pub fn clear_requests(&self) {
        let mut state = self.shared.lock();
        state.log.clear();
        state.count = 0;
    }
}

impl Drop for FakeKore {
    fn drop(&mut self) {
        // Wakes delayed requests first, so that nothing below waits on them.
        self.shared.stop.trigger();
        // Closes the port and every client connection, and joins the relays.
        drop(self.front.take());
        self.server.unblock();
        if let Some(thread) = self.serve_thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client id shaped like Kore.ai's: `cs-` and a UUID.
fn random_client_id() -> io::Result<String> {
    let hex = random_hex(16)?;
    Ok(format!(
        "cs-{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `bytes` random bytes as lowercase hex.
fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| io::Error::other("the system random number generator failed"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
