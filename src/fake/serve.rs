//! Serving requests: faults, rate limit, token, body, removal, answer.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::{self, Chain, Cursor, Read, Repeat, Take, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use tiny_http::{Header, Method, Request, Response, StatusCode};

use super::account::Account;
use super::auth::{self, Checked, Refusal, Token, Verifier};
use super::proxy::Connections;
use super::{FakeRateLimit, Fault, RecordedRequest, Verdict};
use crate::{Claims, Clock, IdKind, REMOVE_USERS_PATH};

/// Kore.ai's answer when every user was removed.
const SUCCESS_BODY: &[u8] = br#"{"msg":"Users are removed Successfully"}"#;

/// Kore.ai's rate-limit message.
pub(super) const RATE_LIMIT_MESSAGE: &str =
    "Rate limit for this API has been reached. Please try again after some time.";

/// The scope message, answered with 401 to a valid token.
const SCOPE_MESSAGE: &str = "Permission denied. Scope is incorrect!";

/// The body validation message, answered with 412.
const VALIDATION_MESSAGE: &str = "Validation errors/ Invalid arguments";

/// The code Kore.ai puts in authentication errors.
const AUTH_CODE: u16 = 4002;

/// The `reason` of a user that does not exist, as the API guide shows it.
const NOT_FOUND_REASON: &str = concat!(
    r#"{"statusCode":400,"status":400,"customCode":400,"#,
    r#""errors":[{"msg":"User not found","code":400}],"#,
    r#""message":"User not found","name":"BadRequest"}"#,
);

/// The largest request body read. Larger ones are answered 413 unread.
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

const JSON: &str = "application/json; charset=utf-8";

/// State shared by the serving threads and the [`FakeKore`](super::FakeKore)
/// handle.
pub(super) struct Shared {
    state: Mutex<State>,
    connections: Arc<Connections>,
    verifier: Verifier,
    clock: Option<Arc<dyn Clock>>,
    record: bool,
    pub(super) stop: Stop,
}

/// The account and the settings, changed by tests while the fake serves.
#[derive(Debug)]
pub(super) struct State {
    pub(super) account: Account,
    pub(super) enforce_jti: bool,
    pub(super) scope_revoked: bool,
    pub(super) partial_status: u16,
    pub(super) rate_limit: Option<FakeRateLimit>,
    pub(super) faults: VecDeque<Fault>,
    pub(super) log: Vec<RecordedRequest>,
    pub(super) count: usize,
    /// When each request the rate limit let through arrived, oldest first.
    window: VecDeque<Instant>,
    seen_jtis: HashSet<String>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            account: Account::default(),
            enforce_jti: false,
            scope_revoked: false,
            partial_status: super::DEFAULT_PARTIAL_STATUS,
            rate_limit: None,
            faults: VecDeque::new(),
            log: Vec::new(),
            count: 0,
            window: VecDeque::new(),
            seen_jtis: HashSet::new(),
        }
    }
}

impl State {
    pub(super) fn set_rate_limit(&mut self, limit: Option<FakeRateLimit>) {
        self.rate_limit = limit;
        self.window.clear();
    }

    /// Lets a request through the rolling window, or tells how long until
    /// the window has room.
    fn admit(&mut self, limit: FakeRateLimit, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.window.front() {
            if now.saturating_duration_since(oldest) < limit.per {
                break;
            }
            self.window.pop_front();
        }
        if self.window.len() < limit.requests as usize {
            self.window.push_back(now);
            return Ok(());
        }
        let frees_at = self
            .window
            .front()
            .map_or(now, |&oldest| oldest + limit.per);
        Err(frees_at.saturating_duration_since(now))
    }

    /// The "Enforce JTI" rules; remembers the `jti` of a token that passes.
    fn check_jti(&mut self, token: &Token) -> Result<(), Refusal> {
        let Some(jti) = token.jti() else {
            return Err(Refusal {
                msg: auth::JTI_MISSING,
                why: "no jti claim".into(),
            });
        };
        token.check_lifetime()?;
        if !self.seen_jtis.insert(jti.to_owned()) {
            return Err(Refusal {
                msg: auth::JTI_REPLAYED,
                why: format!("jti {jti:?} was seen before"),
            });
        }
        Ok(())
    }

    /// Removes the users and builds the answer.
    fn remove(&mut self, kind: IdKind, ids: &[Id<'_>]) -> Decision {
        let mut failed = Vec::new();
        for Id(id) in ids {
            let removed = match kind {
                IdKind::Email => self.account.remove_email(id),
                IdKind::OrgUserId => self.account.remove_org_user_id(id),
            };
            if !removed {
                failed.push(id.as_ref());
            }
        }

        if failed.is_empty() {
            return Decision::new(200, Cow::Borrowed(SUCCESS_BODY), Verdict::Processed);
        }
        let body = failed_body(kind, &failed);
        Decision::new(self.partial_status, Cow::Owned(body), Verdict::Processed)
    }
}

/// Lets sleeping requests wake early when the fake stops.
#[derive(Debug, Default)]
pub(super) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    pub(super) fn trigger(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Sleeps for `duration`; false if the fake stopped meanwhile. Waiting
    /// on the condition variable holds no lock.
    fn sleep(&self, duration: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, duration, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !*stopped
    }
}

impl Shared {
    pub(super) fn new(
        state: State,
        verifier: Verifier,
        connections: Arc<Connections>,
        clock: Option<Arc<dyn Clock>>,
        record: bool,
    ) -> Self {
        Self {
            state: Mutex::new(state),
            connections,
            verifier,
            clock,
            record,
            stop: Stop::default(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> Instant {
        match &self.clock {
            Some(clock) => clock.now(),
            None => Instant::now(),
        }
    }

    /// Checks a request in Kore.ai's order, past the faults, and processes it.
    fn decide(&self, incoming: &Incoming, token: &Checked) -> Decision {
        // Everything that needs no shared state is done before locking.
        let now = self.now();
        let content_type = incoming.header("Content-Type");
        let parsed = parse_body(&incoming.body);
        let mut state = self.lock();

        if let Some(limit) = state.rate_limit
            && let Err(wait) = state.admit(limit, now)
        {
            let mut decision = Decision::new(
                429,
                Cow::Owned(envelope(RATE_LIMIT_MESSAGE, 429).into_bytes()),
                Verdict::RateLimited,
            );
            if limit.retry_after {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                decision.retry_after = Some(secs.max(1));
            }
            return decision;
        }

        let token = match &token.token {
            Ok(token) => token,
            Err(refusal) => return unauthorized(refusal.msg, refusal.why.clone()),
        };
        if state.enforce_jti
            && let Err(refusal) = state.check_jti(token)
        {
            return unauthorized(refusal.msg, refusal.why);
        }
        if state.scope_revoked {
            return unauthorized(
                SCOPE_MESSAGE,
                "the app lacks the User Management scope".into(),
            );
        }

        if !content_type.is_some_and(is_json) {
            let why = format!("content type {content_type:?} is not application/json");
            return invalid(why);
        }
        match parsed {
            Ok((kind, ids)) => state.remove(kind, &ids),
            Err(why) => invalid(why),
        }
    }

    /// Logs a request. Done before answering, so that a client holding its
    /// answer finds the request in the log.
    fn record(&self, incoming: &Incoming, claims: Option<Claims>, status: u16, verdict: Verdict) {
        let entry = self.record.then(|| {
            let request = &incoming.request;
            RecordedRequest {
                method: request.method().as_str().to_owned(),
                path: request.url().to_owned(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| {
                        let name = h.field.as_str().as_str().to_ascii_lowercase();
                        (name, h.value.as_str().to_owned())
                    })
                    .collect(),
                body: String::from_utf8_lossy(&incoming.body).into_owned(),
                claims,
                status,
                verdict,
            }
        });

        let mut state = self.lock();
        state.count += 1;
        if let Some(entry) = entry {
            state.log.push(entry);
        }
    }

    /// The claims for the log of a request that skips the checks.
    fn claims_for_log(&self, incoming: &Incoming) -> Option<Claims> {
        if !self.record {
            return None;
        }
        self.verifier.check(incoming.header("auth"), true).claims
    }
}

/// Serves until the server is unblocked, then waits for delayed requests.
pub(super) fn serve(server: &tiny_http::Server, shared: &Arc<Shared>) {
    let mut delayed: Vec<JoinHandle<()>> = Vec::new();
    while let Ok(request) = server.recv() {
        if let Some(thread) = handle(shared, request) {
            delayed.push(thread);
        }
        delayed.retain(|t| !t.is_finished());
    }
    for thread in delayed {
        let _ = thread.join();
    }
}

/// A request and its body.
struct Incoming {
    request: Request,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &'static str) -> Option<&str> {
        self.request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    }
}

/// Handles one request; returns the thread of a delayed one.
fn handle(shared: &Arc<Shared>, mut request: Request) -> Option<JoinHandle<()>> {
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0).min(MAX_REQUEST_BODY));
    let read = request
        .as_reader()
        .take(MAX_REQUEST_BODY as u64 + 1)
        .read_to_end(&mut body);
    if read.is_err() {
        // The client is gone mid-body: there is no one to answer.
        drop(request.into_writer());
        return None;
    }
    let incoming = Incoming { request, body };

    if let Some(decision) = route(&incoming) {
        let claims = shared.claims_for_log(&incoming);
        let verdict = decision.verdict.clone();
        finish(shared, incoming, claims, verdict, Reply::from(decision));
        return None;
    }

    let fault = shared.lock().faults.pop_front();
    let after = match fault {
        None => None,
        Some(Fault::Respond {
            status,
            body,
            headers,
        }) => {
            let claims = shared.claims_for_log(&incoming);
            let reply = Reply::custom(status, body, &headers);
            finish(shared, incoming, claims, Verdict::Fault, reply);
            return None;
        }
        Some(Fault::DropBeforeProcessing) => {
            let claims = shared.claims_for_log(&incoming);
            finish(shared, incoming, claims, Verdict::Dropped, Reply::HangUp);
            return None;
        }
        Some(Fault::Delay(wait)) => return delay(shared, incoming, wait),
        Some(Fault::DropAfterProcessing) => Some(After::Drop),
        Some(Fault::Html { status }) => Some(After::Html(status)),
        Some(Fault::EmptyBody { status }) => Some(After::Empty(status)),
        Some(Fault::TruncatedJson) => Some(After::Truncated),
        Some(Fault::Oversized { bytes }) => Some(After::Oversized(bytes)),
    };
    process(shared, incoming, after);
    None
}

/// Handles a delayed request on its own thread, so that others are served
/// meanwhile.
fn delay(shared: &Arc<Shared>, incoming: Incoming, wait: Duration) -> Option<JoinHandle<()>> {
    let moved = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("fake-kore-delay".into())
        .spawn(move || {
            if moved.stop.sleep(wait) {
                process(&moved, incoming, None);
            } else {
                // Stopping: leave without a word rather than with a 500.
                drop(incoming.request.into_writer());
            }
        });
    // A thread that cannot start drops its request, and tiny_http answers 500.
    spawned.ok()
}

/// Checks and processes a request, then answers, or lets a post-processing
/// fault answer.
fn process(shared: &Shared, incoming: Incoming, after: Option<After>) {
    let checked = shared
        .verifier
        .check(incoming.header("auth"), shared.record);
    let decision = shared.decide(&incoming, &checked);
    let (verdict, reply) = match after {
        None => (decision.verdict.clone(), Reply::from(decision)),
        Some(After::Drop) => (Verdict::Dropped, Reply::HangUp),
        Some(after) => (Verdict::Fault, after.disguise(decision)),
    };
    finish(shared, incoming, checked.claims, verdict, reply);
}

/// Logs, then answers or hangs up.
fn finish(
    shared: &Shared,
    incoming: Incoming,
    claims: Option<Claims>,
    verdict: Verdict,
    reply: Reply,
) {
    shared.record(&incoming, claims, reply.status(), verdict);

    let request = incoming.request;
    match reply {
        Reply::HangUp => {
            if let Some(&peer) = request.remote_addr() {
                shared.connections.hang_up(peer);
            }
            // Taking the writer away keeps tiny_http from answering 500.
            drop(request.into_writer());
        }
        Reply::Answer {
            status,
            headers,
            body,
            length,
        } => send(request, status, headers, body, length),
    }
}

/// Sends an answer in a single write.
///
/// `Request::respond` writes the head, then the body in 8 KiB pieces, on a
/// socket tiny_http leaves with Nagle's algorithm on: a mid-sized answer then
/// waits for a delayed acknowledgement, tens of milliseconds. So tiny_http
/// formats the answer into a buffer, and the buffer goes out in one piece.
fn send(request: Request, status: u16, headers: Vec<Header>, body: Payload, length: usize) {
    let response = Response::new(StatusCode(status), headers, body, Some(length), None)
        .with_chunked_threshold(usize::MAX);
    let head_only = *request.method() == Method::Head;
    let mut bytes = Vec::with_capacity(length + 512);
    let printed = response.raw_print(
        &mut bytes,
        request.http_version().clone(),
        request.headers(),
        head_only,
        None,
    );
    if printed.is_err() {
        // Formatting into memory does not fail; if it did, tiny_http's 500
        // on dropping the request is the honest answer.
        return;
    }

    let mut writer = request.into_writer();
    // A client that went away is no concern of the fake.
    let _ = writer.write_all(&bytes).and_then(|()| writer.flush());
}

/// 404 for other paths, 405 for other methods on the endpoint.
fn route(incoming: &Incoming) -> Option<Decision> {
    let request = &incoming.request;
    if request.url() != REMOVE_USERS_PATH {
        let why = format!("no route for path {:?}", request.url());
        return Some(Decision::error(
            404,
            "Not Found",
            404,
            Verdict::Rejected(why),
        ));
    }
    if *request.method() != Method::Delete {
        let why = format!("method {} is not allowed", request.method());
        return Some(Decision::error(
            405,
            "Method Not Allowed",
            405,
            Verdict::Rejected(why),
        ));
    }
    if incoming.body.len() > MAX_REQUEST_BODY {
        let why = format!("body over {MAX_REQUEST_BODY} bytes");
        return Some(Decision::error(
            413,
            "Payload Too Large",
            413,
            Verdict::Rejected(why),
        ));
    }
    None
}

/// An answer of the endpoint, before any post-processing fault.
#[derive(Debug)]
struct Decision {
    status: u16,
    body: Cow<'static, [u8]>,
    retry_after: Option<u64>,
    verdict: Verdict,
}

impl Decision {
    fn new(status: u16, body: Cow<'static, [u8]>, verdict: Verdict) -> Self {
        Self {
            status,
            body,
            retry_after: None,
            verdict,
        }
    }

    fn error(status: u16, msg: &str, code: u16, verdict: Verdict) -> Self {
        Self::new(
            status,
            Cow::Owned(envelope(msg, code).into_bytes()),
            verdict,
        )
    }
}

fn unauthorized(msg: &str, why: String) -> Decision {
    Decision::error(401, msg, AUTH_CODE, Verdict::Rejected(why))
}

fn invalid(why: String) -> Decision {
    Decision::error(412, VALIDATION_MESSAGE, 412, Verdict::Rejected(why))
}

/// A fault that lets the request be processed, then spoils the answer.
#[derive(Debug, Clone, Copy)]
enum After {
    Drop,
    Html(u16),
    Empty(u16),
    Truncated,
    Oversized(usize),
}

impl After {
    fn disguise(self, decision: Decision) -> Reply {
        match self {
            After::Drop => Reply::HangUp,
            After::Html(status) => {
                let reason = reason_phrase(status);
                let page = format!(
                    "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>\
                     <body><h1>{status} {reason}</h1><hr><p>gateway</p></body></html>\n"
                );
                Reply::bytes(
                    status,
                    Some("text/html; charset=utf-8"),
                    page.into_bytes().into(),
                )
            }
            After::Empty(status) => Reply::bytes(status, None, Cow::Borrowed(b"")),
            After::Truncated => {
                let half = decision.body.len() / 2;
                let body = match decision.body {
                    Cow::Borrowed(body) => Cow::Borrowed(&body[..half]),
                    Cow::Owned(mut body) => {
                        body.truncate(half);
                        Cow::Owned(body)
                    }
                };
                Reply::bytes(200, Some(JSON), body)
            }
            After::Oversized(bytes) => Reply::padded(&decision.body, bytes),
        }
    }
}

/// What goes back to the client.
enum Reply {
    /// Close the connection without a byte.
    HangUp,
    /// An HTTP answer.
    Answer {
        status: u16,
        headers: Vec<Header>,
        body: Payload,
        length: usize,
    },
}

impl From<Decision> for Reply {
    fn from(decision: Decision) -> Self {
        let mut reply = Reply::bytes(decision.status, Some(JSON), decision.body);
        if let (Reply::Answer { headers, .. }, Some(secs)) = (&mut reply, decision.retry_after) {
            headers.extend(header("Retry-After", &secs.to_string()));
        }
        reply
    }
}

impl Reply {
    fn bytes(status: u16, content_type: Option<&str>, body: Cow<'static, [u8]>) -> Self {
        let headers = content_type
            .and_then(|value| header("Content-Type", value))
            .into_iter()
            .collect();
        Reply::Answer {
            status,
            headers,
            length: body.len(),
            body: Payload::Bytes(Cursor::new(body)),
        }
    }

    /// A scripted answer; its headers were checked by [`check_fault`].
    fn custom(status: u16, body: String, extra: &[(String, String)]) -> Self {
        let has_type = extra
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        let content_type = (!has_type && !body.is_empty()).then_some(JSON);
        let mut reply = Reply::bytes(status, content_type, Cow::Owned(body.into_bytes()));
        if let Reply::Answer { headers, .. } = &mut reply {
            headers.extend(extra.iter().filter_map(|(n, v)| header(n, v)));
        }
        reply
    }

    /// `body`, a JSON object, with a `padding` string that brings it to
    /// `size` bytes. The padding is generated as it is sent.
    fn padded(body: &[u8], size: usize) -> Self {
        let (open, close) = match body.strip_suffix(b"}") {
            Some(open) if open.len() > 1 => (open, &b",\"padding\":\""[..]),
            Some(open) => (open, &b"\"padding\":\""[..]),
            None => (&b"{"[..], &b"\"padding\":\""[..]),
        };
        let mut prefix = Vec::with_capacity(open.len() + close.len());
        prefix.extend_from_slice(open);
        prefix.extend_from_slice(close);
        let suffix: &'static [u8] = b"\"}";
        let pad = size.saturating_sub(prefix.len() + suffix.len());

        let length = prefix.len() + pad + suffix.len();
        let body = Cursor::new(prefix)
            .chain(io::repeat(b'x').take(pad as u64))
            .chain(Cursor::new(suffix));
        Reply::Answer {
            status: 200,
            headers: header("Content-Type", JSON).into_iter().collect(),
            body: Payload::Padded(body),
            length,
        }
    }

    fn status(&self) -> u16 {
        match self {
            Reply::HangUp => 0,
            Reply::Answer { status, .. } => *status,
        }
    }
}

/// A body's opening, its padding, and its closing.
type PaddedBody = Chain<Chain<Cursor<Vec<u8>>, Take<Repeat>>, Cursor<&'static [u8]>>;

/// An answer body: bytes at hand, or a padded body made as it is read.
enum Payload {
    Bytes(Cursor<Cow<'static, [u8]>>),
    Padded(PaddedBody),
}

impl Read for Payload {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Payload::Bytes(bytes) => bytes.read(buf),
            Payload::Padded(padded) => padded.read(buf),
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Payload::Bytes(_) => "Bytes",
            Payload::Padded(_) => "Padded",
        })
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

/// Kore.ai's error envelope: `{"errors":[{"msg":..,"code":..}]}`.
pub(super) fn envelope(msg: &str, code: u16) -> String {
    #[derive(Serialize)]
    struct Envelope<'a> {
        errors: [Detail<'a>; 1],
    }
    #[derive(Serialize)]
    struct Detail<'a> {
        msg: &'a str,
        code: u16,
    }

    let envelope = Envelope {
        errors: [Detail { msg, code }],
    };
    // Serialising strings and numbers cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// The standard reason phrase of a status, or `"Error"`.
pub(super) fn reason_phrase(status: u16) -> &'static str {
    match StatusCode(status).default_reason_phrase() {
        "Unknown" => "Error",
        phrase => phrase,
    }
}

/// `{"failedUserDetails":[...]}` naming each user as sent, under `emailId` or
/// `orgUserId` after the kind of the request.
fn failed_body(kind: IdKind, failed: &[&str]) -> Vec<u8> {
    let key: &[u8] = match kind {
        IdKind::Email => br#"{"emailId":"#,
        IdKind::OrgUserId => br#"{"orgUserId":"#,
    };
    let per_user = key.len() + NOT_FOUND_REASON.len() + 16;
    let mut body =
        Vec::with_capacity(32 + failed.iter().map(|id| id.len() + per_user).sum::<usize>());

    body.extend_from_slice(br#"{"failedUserDetails":["#);
    for (i, id) in failed.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(key);
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, id);
        body.extend_from_slice(br#","reason":"#);
        body.extend_from_slice(NOT_FOUND_REASON.as_bytes());
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    body
}

/// Whether a `Content-Type` names JSON, parameters such as `charset` allowed.
fn is_json(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default();
    media_type.trim().eq_ignore_ascii_case("application/json")
}

/// One identifier of a request body, borrowed from it unless escaped.
#[derive(Debug)]
struct Id<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Cow<'de, str>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }

        deserializer.deserialize_str(IdVisitor).map(Id)
    }
}

/// The request body. Unknown keys are ignored; a key that is present must
/// hold a list of strings (`null` included is refused).
#[derive(Deserialize)]
struct RemoveBody<'a> {
    #[serde(
        rename = "deleteEmailIds",
        default,
        borrow,
        deserialize_with = "present"
    )]
    emails: Option<Vec<Id<'a>>>,
    #[serde(rename = "orgUserIds", default, borrow, deserialize_with = "present")]
    org_user_ids: Option<Vec<Id<'a>>>,
}

fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Validates a body: a JSON object with exactly one non-empty list of
/// strings under `deleteEmailIds` or `orgUserIds`.
fn parse_body(body: &[u8]) -> Result<(IdKind, Vec<Id<'_>>), String> {
    let parsed: RemoveBody<'_> =
        serde_json::from_slice(body).map_err(|e| format!("body is not a valid request: {e}"))?;
    let (kind, ids) = match (parsed.emails, parsed.org_user_ids) {
        (Some(_), Some(_)) => return Err("body holds both deleteEmailIds and orgUserIds".into()),
        (None, None) => return Err("body holds neither deleteEmailIds nor orgUserIds".into()),
        (Some(ids), None) => (IdKind::Email, ids),
        (None, Some(ids)) => (IdKind::OrgUserId, ids),
    };
    if ids.is_empty() {
        return Err(format!("{} is empty", kind.wire_key()));
    }
    Ok((kind, ids))
}

/// Refuses, before it is queued, a fault the fake could not send.
pub(super) fn check_fault(fault: &Fault) {
    let status = match fault {
        Fault::Respond { status, .. } | Fault::Html { status } | Fault::EmptyBody { status } => {
            *status
        }
        _ => 200,
    };
    assert!(
        (100..=999).contains(&status),
        "fault status {status} is not a three-digit HTTP status"
    );

    if let Fault::Respond { headers, .. } = fault {
        for (name, value) in headers {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            let value_ok = value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
            assert!(
                name_ok && value_ok,
                "fault header {name:?}: {value:?} is not a valid HTTP header"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(body: &str) -> Result<(IdKind, Vec<String>), String> {
        parse_body(body.as_bytes()).map(|(kind, ids)| {
            (
                kind,
                ids.into_iter().map(|Id(id)| id.into_owned()).collect(),
            )
        })
    }

    #[test]
    fn body_must_hold_exactly_one_non_empty_list_of_strings() {
        assert_eq!(
            ids(r#"{"deleteEmailIds":["a@x.io","b\u0040x.io"],"includeMeta":true}"#),
            Ok((IdKind::Email, vec!["a@x.io".into(), "b@x.io".into()]))
        );
        assert_eq!(
            ids(r#"{"orgUserIds":["u-1"]}"#),
            Ok((IdKind::OrgUserId, vec!["u-1".into()]))
        );
        for bad in [
            r#"{"deleteEmailIds":["a@x.io"],"orgUserIds":["u-1"]}"#,
            r#"{"deleteEmailIds":[]}"#,
            r#"{"deleteEmailIds":["a@x.io",1]}"#,
            r#"{"deleteEmailIds":null,"orgUserIds":["u-1"]}"#,
            r#"{"deleteEmailIds":"a@x.io"}"#,
            r#"{"emails":["a@x.io"]}"#,
            r#"["a@x.io"]"#,
            "",
            "{",
        ] {
            assert!(ids(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failed_body_names_users_as_sent() {
        let body = failed_body(IdKind::Email, &["A@x.io", "q\"uote@x.io"]);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let failed = value["failedUserDetails"].as_array().unwrap();
        assert_eq!(failed[0]["emailId"], "A@x.io");
        assert_eq!(failed[1]["emailId"], "q\"uote@x.io");
        assert_eq!(failed[0]["reason"]["errors"][0]["msg"], "User not found");
        assert_eq!(failed[0]["reason"]["name"], "BadRequest");

        let body = failed_body(IdKind::OrgUserId, &["u-9"]);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["failedUserDetails"][0]["orgUserId"], "u-9");
        assert!(value["failedUserDetails"][0].get("emailId").is_none());
    }

    #[test]
    fn rolling_window_admits_then_tells_the_wait() {
        let mut state = State::default();
        let limit = FakeRateLimit::new(2, Duration::from_secs(10));
        let t0 = Instant::now();

        assert!(state.admit(limit, t0).is_ok());
        assert!(state.admit(limit, t0 + Duration::from_secs(4)).is_ok());
        let wait = state.admit(limit, t0 + Duration::from_secs(5)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(5));
        assert!(state.admit(limit, t0 + Duration::from_secs(10)).is_ok());
        let wait = state
            .admit(limit, t0 + Duration::from_secs(11))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(3));
    }

    #[test]
    fn content_type_allows_parameters() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonp"));
    }

    #[test]
    fn envelope_escapes_the_message() {
        assert_eq!(
            envelope("a \"b\"", 412),
            r#"{"errors":[{"msg":"a \"b\"","code":412}]}"#
        );
    }

    #[test]
    #[should_panic(expected = "not a valid HTTP header")]
    fn header_injection_is_refused() {
        check_fault(&Fault::Respond {
            status: 200,
            body: String::new(),
            headers: vec![("X-A".into(), "1\r\nX-B: 2".into())],
        });
    }
}
