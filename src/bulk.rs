//! Bulk removal: plan, pace, reconcile, and account for every user.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;
use serde::Serialize;

use crate::Error;
use crate::client::{Client, MAX_BATCH_SIZE, SendStats, WaitCause};
use crate::limit::RateLimit;
use crate::report::{FailureReason, RemoveReport};
use crate::request::{Checked, IdKind, Rejection, RemoveUsers};

/// Default number of users per request in a bulk removal.
pub const DEFAULT_BULK_BATCH_SIZE: usize = 500;

/// How often a batch that met rate limiting past the client's own retries
/// is tried again, each time after the wait the server asked for (at most
/// the client's `max_retry_wait`). None when the client's `max_retries` is 0.
const RATE_LIMITED_ROUNDS: u32 = 3;

/// The progress callback.
type OnProgress<'a> = Box<dyn FnMut(&Progress) + 'a>;

/// A bulk removal being configured. Made by [`Client::bulk_remove`].
///
/// ```no_run
/// use koreai_users::{Client, RemoveUsers};
///
/// let client = Client::from_env()?;
/// let lines = std::fs::read_to_string("leavers.txt").unwrap_or_default();
/// let report = client
///     .bulk_remove(RemoveUsers::emails(lines.lines()))
///     .batch_size(500)
///     .on_progress(|p| eprintln!("{}/{}", p.done(), p.total()))
///     .run();
/// println!("{}", report.summary());
/// # Ok::<(), koreai_users::Error>(())
/// ```
#[must_use = "nothing is sent until run() is called"]
pub struct BulkRemove<'a> {
    client: &'a Client,
    users: RemoveUsers,
    batch_size: usize,
    deadline: Option<Duration>,
    on_progress: Option<OnProgress<'a>>,
}

impl fmt::Debug for BulkRemove<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkRemove")
            .field("kind", &self.users.kind())
            .field("users", &self.users.len())
            .field("batch_size", &self.batch_size)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a bulk removal of any number of users; see [`BulkRemove`].
    ///
    /// Unlike [`remove_users`](Self::remove_users), bad entries do not stop
    /// the run: they are reported as rejected and the rest is sent, in
    /// batches, paced under the client's rate limits.
    pub fn bulk_remove(&self, users: RemoveUsers) -> BulkRemove<'_> {
        BulkRemove {
            client: self,
            users,
            batch_size: DEFAULT_BULK_BATCH_SIZE,
            deadline: None,
            on_progress: None,
        }
    }
}

impl<'a> BulkRemove<'a> {
    /// Users per request: `1..=`[`MAX_BATCH_SIZE`]. Default
    /// [`DEFAULT_BULK_BATCH_SIZE`] (500): throughput is bounded by requests,
    /// not bytes. A size out of range sends nothing: every user is reported
    /// as not attempted, saying why.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// Stops sending when the next request could not start before this much
    /// time has passed since [`run`](Self::run) began, and makes no wait
    /// (pacing aside, which the next request's check covers) that would end
    /// past it; users not yet sent are not attempted. Default none.
    pub fn deadline(mut self, within: Duration) -> Self {
        self.deadline = Some(within);
        self
    }

    /// Called after every batch and before every wait.
    pub fn on_progress(mut self, callback: impl FnMut(&Progress) + 'a) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    /// What [`run`](Self::run) would do, without sending anything.
    pub fn plan(&self) -> BulkPlan {
        let prepared = prepare(&self.users);
        let valid = prepared.valid.len();
        let problem = self.batch_size_problem();
        let batches = if problem.is_some() {
            0
        } else {
            valid.div_ceil(self.batch_size)
        };
        let limits = self.client.rate_limits().to_vec();
        BulkPlan {
            kind: self.users.kind(),
            input: self.users.len(),
            unique: prepared.entries.len(),
            duplicates: prepared.duplicates,
            rejected: prepared.entries.len() - valid,
            rejected_entries: prepared
                .entries
                .iter()
                .filter_map(|e| {
                    Some(RejectedEntry {
                        id: e.id.clone(),
                        why: e.rejection?,
                    })
                })
                .collect(),
            to_send: valid,
            batch_size: self.batch_size,
            batches,
            min_duration: RateLimit::min_duration(&limits, batches as u64),
            rate_limits: limits,
            problem,
        }
    }

    fn batch_size_problem(&self) -> Option<String> {
        (!(1..=MAX_BATCH_SIZE).contains(&self.batch_size)).then(|| {
            format!(
                "batch size {} is outside 1..={MAX_BATCH_SIZE}",
                self.batch_size
            )
        })
    }

    /// Runs the removal and accounts for every user.
    ///
    /// Never fails as a whole: every distinct input identifier comes back
    /// once in the [`BulkReport`], with one [`Outcome`].
    pub fn run(self) -> BulkReport {
        let problem = self.batch_size_problem();
        let BulkRemove {
            client,
            users,
            batch_size,
            deadline,
            on_progress,
        } = self;
        let clock_start = client.clock().now();
        let deadline = deadline.map(|d| clock_start + d);
        let kind = users.kind();
        let prepared = prepare(&users);
        drop(users);

        let mut run = Run {
            client,
            kind,
            entries: prepared.entries,
            stats: SendStats::default(),
            summary: Summary {
                duplicates: prepared.duplicates,
                ..Summary::default()
            },
            on_progress,
            deadline,
            batches_done: 0,
            batches_total: 0,
        };

        if let Some(problem) = problem {
            run.stop(
                &prepared.valid,
                Stop::new(StopCause::InvalidBatchSize, problem),
            );
        } else {
            let batches: Vec<&[usize]> = prepared.valid.chunks(batch_size).collect();
            run.batches_total = batches.len();
            for (n, batch) in batches.iter().enumerate() {
                if let Some(reason) = run.batch(batch) {
                    let rest: Vec<usize> = batches[n..].concat();
                    run.stop(&rest, reason);
                    break;
                }
                run.batches_done += 1;
                run.progress();
            }
        }

        run.finish(clock_start)
    }
}

/// Entries in input order and the entry indices of the valid ones.
struct Prepared {
    entries: Vec<BulkEntry>,
    valid: Vec<usize>,
    duplicates: usize,
}

fn prepare(users: &RemoveUsers) -> Prepared {
    let mut seen_rejected = std::collections::HashSet::new();
    let mut entries = Vec::with_capacity(users.len());
    let mut valid = Vec::with_capacity(users.len());
    let mut duplicates = 0;
    let pending: Arc<str> = Arc::from("not sent yet");

    for (_, raw, checked) in users.entries() {
        match checked {
            Checked::New(id) => {
                valid.push(entries.len());
                entries.push(BulkEntry::new(id, Outcome::NotAttempted, pending.clone()));
            }
            Checked::Invalid(why) if seen_rejected.insert(raw.trim()) => {
                let detail = Arc::from(why.to_string());
                let mut entry = BulkEntry::new(raw.trim().to_owned(), Outcome::Rejected, detail);
                entry.rejection = Some(why);
                entries.push(entry);
            }
            Checked::Repeat | Checked::Invalid(_) => duplicates += 1,
        }
    }
    Prepared {
        entries,
        valid,
        duplicates,
    }
}

/// The state of one bulk run.
struct Run<'a, 'c> {
    client: &'c Client,
    kind: IdKind,
    entries: Vec<BulkEntry>,
    stats: SendStats,
    summary: Summary,
    on_progress: Option<OnProgress<'a>>,
    /// No request starts, and no wait ends, after this.
    deadline: Option<Instant>,
    batches_done: usize,
    batches_total: usize,
}

impl Run<'_, '_> {
    /// Sends one batch and records its outcome; `Some(reason)` stops the run
    /// before this batch's users were processed.
    fn batch(&mut self, batch: &[usize]) -> Option<Stop> {
        let ids: Vec<String> = batch.iter().map(|&i| self.entries[i].id.clone()).collect();
        let mut rounds = 0;
        loop {
            if let Some(reason) = self.deadline_passes() {
                return Some(reason);
            }
            let result = self.send(&ids);

            match result {
                Ok(report) => {
                    self.apply(batch, &report, None);
                    return None;
                }
                Err(error) if error.is_outcome_unknown() => {
                    return self.reconcile(batch, &ids, &error);
                }
                Err(Error::RateLimited { retry_after, .. })
                    if rounds < RATE_LIMITED_ROUNDS && self.client.max_retries() > 0 =>
                {
                    rounds += 1;
                    let cap = self.client.max_retry_wait();
                    let wait = retry_after.unwrap_or(cap);
                    if wait > cap {
                        return Some(Stop::new(
                            StopCause::RateLimited,
                            format!(
                                "rate limited; the server asks for a wait of {}, longer than \
                                 the {} allowed",
                                HumanDuration(wait),
                                HumanDuration(cap)
                            ),
                        ));
                    }
                    let now = self.client.clock().now();
                    if self.deadline.is_some_and(|d| now + wait >= d) {
                        return Some(Stop::new(
                            StopCause::Deadline,
                            format!(
                                "rate limited; waiting {} would pass the deadline",
                                HumanDuration(wait)
                            ),
                        ));
                    }
                    self.wait(wait, WaitCause::RateLimited);
                }
                // A missing endpoint or method is the same for every batch.
                Err(error @ Error::Api(_)) if matches!(error.status(), Some(404 | 405)) => {
                    return Some(Stop::from_error(&error));
                }
                Err(Error::Api(response)) if (400..500).contains(&response.status) => {
                    let detail: Arc<str> = Arc::from(format!("request refused: {response}"));
                    for &i in batch {
                        self.entries[i].set(Outcome::Failed, detail.clone());
                    }
                    return None;
                }
                Err(error) => return Some(Stop::from_error(&error)),
            }
        }
    }

    /// Sends a batch whose first answer was lost again: users now reported
    /// as not found were most likely removed by the first attempt.
    fn reconcile(&mut self, batch: &[usize], ids: &[String], first: &Error) -> Option<Stop> {
        debug!(
            "outcome of a batch of {} unknown ({first}); sending it again",
            ids.len()
        );
        let mut last = first.to_string();
        for _ in 0..self.client.max_retries().max(1) {
            if let Some(stop) = self.deadline_passes() {
                let detail = format!("the outcome is unknown ({last}) and {}", stop.reason);
                self.set_all(batch, Outcome::Unknown, Arc::from(detail));
                return Some(stop);
            }
            self.summary.resends += 1;
            match self.send(ids) {
                Ok(report) => {
                    self.apply(batch, &report, Some(&last));
                    return None;
                }
                Err(error) if error.is_outcome_unknown() || error.is_retryable() => {
                    last = error.to_string();
                }
                Err(error) => {
                    let detail = format!(
                        "the first attempt's outcome is unknown ({first}) and sending again \
                         failed: {error}"
                    );
                    self.set_all(batch, Outcome::Unknown, Arc::from(detail));
                    return error.is_unauthorized().then(|| Stop::from_error(&error));
                }
            }
        }
        let detail = format!("the outcome is unknown: {last}");
        self.set_all(batch, Outcome::Unknown, Arc::from(detail));
        None
    }

    /// Sends through the client, announcing each of its waits before it
    /// starts.
    fn send(&mut self, ids: &[String]) -> Result<RemoveReport, Error> {
        let at = self.snapshot();
        let summary = &mut self.summary;
        let on_progress = &mut self.on_progress;
        let mut on_wait = |duration: Duration, cause: WaitCause| {
            note_wait(summary, on_progress, at.as_ref(), Wait { duration, cause });
        };
        self.client
            .send(self.kind, ids, &mut on_wait, &mut self.stats, self.deadline)
    }

    /// Waits, announcing it first.
    fn wait(&mut self, duration: Duration, cause: WaitCause) {
        let at = self.snapshot();
        let wait = Wait { duration, cause };
        note_wait(&mut self.summary, &mut self.on_progress, at.as_ref(), wait);
        self.client.clock().sleep(duration);
    }

    fn deadline_passes(&self) -> Option<Stop> {
        let deadline = self.deadline?;
        let next = self.client.next_send_time();
        (next >= deadline).then(|| {
            Stop::new(
                StopCause::Deadline,
                "the deadline would pass before the next request",
            )
        })
    }

    /// Records a report; `after_unknown` holds the first attempt's error
    /// when this is a resend.
    fn apply(&mut self, batch: &[usize], report: &RemoveReport, after_unknown: Option<&str>) {
        let removed: Arc<str> = Arc::from(match after_unknown {
            Some(_) => "removed when sent again after an unknown outcome",
            None => "removed",
        });
        let likely: Option<Arc<str>> = after_unknown.map(|first| {
            Arc::from(format!(
                "not found when sent again after an unknown outcome ({first}): most likely \
                 removed by the first attempt"
            ))
        });
        // Unconfirmed users are all those not reported as failed.
        let (others, others_detail) = if report.unconfirmed().is_empty() {
            (Outcome::Removed, removed)
        } else {
            let detail = "the server reported failures that name no user sent; fate unknown";
            (Outcome::Unknown, Arc::from(detail))
        };

        for &i in batch {
            let entry = &mut self.entries[i];
            let Some(user) = report.failure_for(&entry.id) else {
                entry.set(others, others_detail.clone());
                continue;
            };
            match &likely {
                Some(likely) if user.is_not_found() => entry.set(Outcome::Removed, likely.clone()),
                _ => {
                    let message = user.message().unwrap_or("not removed; no reason given");
                    entry.set(Outcome::Failed, Arc::from(message));
                    entry.reason = user.reason.clone().map(Box::new);
                }
            }
        }
    }

    fn set_all(&mut self, batch: &[usize], outcome: Outcome, detail: Arc<str>) {
        for &i in batch {
            self.entries[i].set(outcome, detail.clone());
        }
    }

    /// Marks users as not attempted, with why, and records the stop.
    fn stop(&mut self, rest: &[usize], stop: Stop) {
        debug!("bulk removal stopped: {}", stop.reason);
        let detail: Arc<str> = Arc::from(format!("not sent: {}", stop.reason));
        for &i in rest {
            if self.entries[i].outcome == Outcome::NotAttempted {
                self.entries[i].detail = detail.clone();
            }
        }
        self.summary.stopped = Some(stop);
    }

    /// Where the run stands, when a callback wants to know.
    fn snapshot(&self) -> Option<Progress> {
        self.on_progress.as_ref()?;
        Some(Progress {
            total: self.entries.len(),
            batches_done: self.batches_done,
            batches_total: self.batches_total,
            counts: Counts::of(&self.entries),
            wait: None,
        })
    }

    /// Tells the callback, if any, where the run stands.
    fn progress(&mut self) {
        if let (Some(at), Some(callback)) = (self.snapshot(), self.on_progress.as_mut()) {
            callback(&at);
        }
    }

    fn finish(self, clock_start: Instant) -> BulkReport {
        let counts = Counts::of(&self.entries);
        let summary = BulkSummary {
            kind: self.kind,
            total: self.entries.len(),
            removed: counts.removed,
            failed: counts.failed,
            rejected: counts.rejected,
            not_attempted: counts.not_attempted,
            unknown: counts.unknown,
            duplicates: self.summary.duplicates,
            batches: self.batches_done,
            requests: self.stats.requests,
            retries: self.stats.retries + self.summary.resends,
            waits: self.summary.waits,
            waited: self.summary.waited,
            elapsed: self
                .client
                .clock()
                .now()
                .saturating_duration_since(clock_start),
            stop_cause: self.summary.stopped.as_ref().map(|s| s.cause),
            stopped: self.summary.stopped.map(|s| s.reason),
        };
        BulkReport {
            entries: self.entries,
            summary,
        }
    }
}

/// Running totals that do not live in the entries.
#[derive(Default)]
struct Summary {
    duplicates: usize,
    resends: u32,
    waits: u32,
    waited: Duration,
    stopped: Option<Stop>,
}

/// Counts a wait and announces it to the callback, if any, before it starts.
fn note_wait(
    summary: &mut Summary,
    on_progress: &mut Option<OnProgress<'_>>,
    at: Option<&Progress>,
    wait: Wait,
) {
    summary.waits += 1;
    summary.waited += wait.duration;
    if let (Some(callback), Some(at)) = (on_progress.as_mut(), at) {
        callback(&Progress {
            wait: Some(wait),
            ..at.clone()
        });
    }
}

/// Why a run stopped early, in words and as a cause.
struct Stop {
    cause: StopCause,
    reason: String,
}

impl Stop {
    fn new(cause: StopCause, reason: impl Into<String>) -> Self {
        Self {
            cause,
            reason: reason.into(),
        }
    }

    fn from_error(error: &Error) -> Self {
        let cause = match error {
            Error::Unauthorized { .. } => StopCause::Unauthorized,
            Error::RateLimited { .. } => StopCause::RateLimited,
            Error::Timeout { .. } | Error::Transport { .. } => StopCause::Transport,
            Error::Api(_) | Error::Decode(_) => StopCause::Server,
            _ => StopCause::Other,
        };
        let reason = match cause {
            StopCause::Unauthorized => format!("authentication failed: {error}"),
            _ => error.to_string(),
        };
        Self { cause, reason }
    }
}

/// Why a bulk run stopped before sending every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StopCause {
    /// Kore.ai refused the credentials, the token or the scope.
    Unauthorized,
    /// Still rate limited after the retries, or asked to wait too long.
    RateLimited,
    /// The server could not be reached, or the connection failed.
    Transport,
    /// The server kept failing (503 after the retries, or another error
    /// that says nothing was processed).
    Server,
    /// The configured deadline would have passed.
    Deadline,
    /// The batch size is out of range: nothing was sent.
    InvalidBatchSize,
    /// Anything else, such as a token that could not be signed.
    Other,
}

/// What a bulk run would do: the result of [`BulkRemove::plan`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BulkPlan {
    /// The kind of identifier.
    pub kind: IdKind,
    /// Entries given, duplicates included.
    pub input: usize,
    /// Distinct entries, rejected ones included: the report's length.
    pub unique: usize,
    /// Entries dropped as repeats of an earlier one.
    pub duplicates: usize,
    /// Distinct entries that will not be sent because they are invalid.
    pub rejected: usize,
    /// Those entries, in input order, with why.
    pub rejected_entries: Vec<RejectedEntry>,
    /// Users that will be sent.
    pub to_send: usize,
    /// Users per request.
    pub batch_size: usize,
    /// Requests needed, retries aside.
    pub batches: usize,
    /// The least time the configured rate limits allow for those requests.
    #[serde(serialize_with = "as_millis", rename = "min_duration_ms")]
    pub min_duration: Duration,
    /// The client's rate limits.
    #[serde(skip)]
    pub rate_limits: Vec<RateLimit>,
    /// Why nothing would be sent (a batch size out of range), if so.
    pub problem: Option<String>,
}

impl fmt::Display for BulkPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(problem) = &self.problem {
            return write!(f, "nothing would be sent: {problem}");
        }
        let kind = match self.kind {
            IdKind::Email => ("email", "emails"),
            IdKind::OrgUserId => ("org user id", "org user ids"),
        };
        write!(
            f,
            "{} to remove in {} of up to {} ({} rejected, {} dropped); ",
            Count(self.to_send, kind.0, kind.1),
            Count(self.batches, "request", "requests"),
            self.batch_size,
            self.rejected,
            Count(self.duplicates, "duplicate", "duplicates"),
        )?;
        if self.min_duration.is_zero() {
            f.write_str("the rate limits let it go at once")
        } else {
            write!(
                f,
                "the rate limits need at least {}",
                HumanDuration(self.min_duration)
            )
        }
    }
}

/// An entry a bulk run will not send, and why: part of a [`BulkPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RejectedEntry {
    /// The entry as given, trimmed.
    pub id: String,
    /// Why it is refused.
    pub why: Rejection,
}

/// What happened to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Removed from the account (or, after an unknown outcome, most likely
    /// removed: the detail says which).
    Removed,
    /// Kore.ai did not remove the user; the detail holds its reason.
    Failed,
    /// Invalid input, never sent.
    Rejected,
    /// Not sent: the run stopped first; the detail says why.
    NotAttempted,
    /// Sent, but whether the user was removed cannot be told.
    Unknown,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Removed => "removed",
            Outcome::Failed => "failed",
            Outcome::Rejected => "rejected",
            Outcome::NotAttempted => "not attempted",
            Outcome::Unknown => "unknown",
        })
    }
}

/// One user of a bulk report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkEntry {
    id: String,
    outcome: Outcome,
    #[serde(serialize_with = "arc_str")]
    detail: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Box<FailureReason>>,
    #[serde(skip)]
    rejection: Option<Rejection>,
}

impl BulkEntry {
    fn new(id: String, outcome: Outcome, detail: Arc<str>) -> Self {
        Self {
            id,
            outcome,
            detail,
            reason: None,
            rejection: None,
        }
    }

    fn set(&mut self, outcome: Outcome, detail: Arc<str>) {
        self.outcome = outcome;
        self.detail = detail;
    }

    /// The identifier, trimmed; for a rejected entry, the input trimmed.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What happened.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Why, in words: Kore.ai's message for a failed user.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Kore.ai's full reason, for a failed user that had one.
    pub fn reason(&self) -> Option<&FailureReason> {
        self.reason.as_deref()
    }

    /// Why a rejected entry was refused.
    pub fn rejection(&self) -> Option<Rejection> {
        self.rejection
    }
}

/// A wait announced to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// How long.
    pub duration: Duration,
    /// Why.
    pub cause: WaitCause,
}

impl fmt::Display for Wait {
    /// The length as people read it, and the cause: `1.5 s: rate limited by
    /// the server`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", HumanDuration(self.duration), self.cause)
    }
}

/// Outcome counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Removed users.
    pub removed: usize,
    /// Failed users.
    pub failed: usize,
    /// Rejected entries.
    pub rejected: usize,
    /// Users not attempted (including those not sent yet, during a run).
    pub not_attempted: usize,
    /// Users whose outcome is unknown.
    pub unknown: usize,
}

impl Counts {
    fn of(entries: &[BulkEntry]) -> Self {
        let mut counts = Counts::default();
        for entry in entries {
            match entry.outcome {
                Outcome::Removed => counts.removed += 1,
                Outcome::Failed => counts.failed += 1,
                Outcome::Rejected => counts.rejected += 1,
                Outcome::NotAttempted => counts.not_attempted += 1,
                Outcome::Unknown => counts.unknown += 1,
            }
        }
        counts
    }

    fn done(&self) -> usize {
        self.removed + self.failed + self.rejected + self.unknown
    }
}

/// Where a bulk run stands, given to the progress callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    total: usize,
    batches_done: usize,
    batches_total: usize,
    counts: Counts,
    wait: Option<Wait>,
}

impl Progress {
    /// Users with an outcome so far (rejected ones from the start).
    pub fn done(&self) -> usize {
        self.counts.done()
    }

    /// All distinct users of the run.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Batches sent and answered.
    pub fn batches_done(&self) -> usize {
        self.batches_done
    }

    /// Batches in the run.
    pub fn batches_total(&self) -> usize {
        self.batches_total
    }

    /// Outcomes so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The wait about to start, when this call announces one.
    pub fn wait(&self) -> Option<Wait> {
        self.wait
    }
}

/// Totals of a bulk run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BulkSummary {
    /// The kind of identifier.
    pub kind: IdKind,
    /// Distinct entries: the number of report entries.
    pub total: usize,
    /// Removed users.
    pub removed: usize,
    /// Failed users.
    pub failed: usize,
    /// Rejected entries.
    pub rejected: usize,
    /// Users not attempted.
    pub not_attempted: usize,
    /// Users whose outcome is unknown.
    pub unknown: usize,
    /// Entries dropped as repeats.
    pub duplicates: usize,
    /// Batches answered.
    pub batches: usize,
    /// Requests sent, retries and resends included.
    pub requests: u32,
    /// Retries and resends.
    pub retries: u32,
    /// Waits for pacing, rate limits and retries.
    pub waits: u32,
    /// Their total length.
    #[serde(serialize_with = "as_millis", rename = "waited_ms")]
    pub waited: Duration,
    /// Time from start to end of the run.
    #[serde(serialize_with = "as_millis", rename = "elapsed_ms")]
    pub elapsed: Duration,
    /// Why the run stopped early, if it did, in words.
    pub stopped: Option<String>,
    /// Why the run stopped early, if it did, as a cause to match on.
    pub stop_cause: Option<StopCause>,
}

impl fmt::Display for BulkSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} removed, {} failed, {} rejected, {} not attempted, {} unknown \
             ({}, {}, waited {}, took {})",
            self.removed,
            self.failed,
            self.rejected,
            self.not_attempted,
            self.unknown,
            Count(self.requests as usize, "request", "requests"),
            Count(self.retries as usize, "retry", "retries"),
            HumanDuration(self.waited),
            HumanDuration(self.elapsed)
        )?;
        if let Some(stopped) = &self.stopped {
            write!(f, "; stopped: {stopped}")?;
        }
        Ok(())
    }
}

/// The account of a bulk run: every distinct input identifier once, with
/// one outcome, and totals.
///
/// Its JSON form (`serde_json::to_string(&report)`):
///
/// ```json
/// {"entries": [{"id": "a@x.io", "outcome": "removed", "detail": "removed"},
///              {"id": "b@x.io", "outcome": "failed", "detail": "User not found",
///               "reason": {"statusCode": 400, "errors": [...], ...}}],
///  "summary": {"kind": "email", "total": 2, "removed": 1, "failed": 1,
///              "rejected": 0, "not_attempted": 0, "unknown": 0,
///              "duplicates": 0, "batches": 1, "requests": 1, "retries": 0,
///              "waits": 0, "waited_ms": 0, "elapsed_ms": 12, "stopped": null,
///              "stop_cause": null}}
/// ```
///
/// `outcome` is one of `removed`, `failed`, `rejected`, `not_attempted`,
/// `unknown`; `reason` appears only for failed users Kore.ai gave one for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use = "a bulk report may list users that were not removed"]
pub struct BulkReport {
    entries: Vec<BulkEntry>,
    summary: BulkSummary,
}

impl BulkReport {
    /// Every distinct input identifier, in input order.
    pub fn entries(&self) -> &[BulkEntry] {
        &self.entries
    }

    /// The entries with one outcome.
    pub fn with_outcome(&self, outcome: Outcome) -> impl Iterator<Item = &BulkEntry> {
        self.entries.iter().filter(move |e| e.outcome == outcome)
    }

    /// The totals.
    pub fn summary(&self) -> &BulkSummary {
        &self.summary
    }

    /// Whether every entry was removed.
    pub fn all_removed(&self) -> bool {
        self.summary.removed == self.summary.total
    }

    /// The JSON form, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn arc_str<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// A number with its noun, singular or plural.
struct Count(usize, &'static str, &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.0 == 1 { self.1 } else { self.2 };
        write!(f, "{} {noun}", self.0)
    }
}

/// A duration as people read it: `40 ms`, `1.5 s`, `3 min 4 s`, `1 h 2 min`.
struct HumanDuration(Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, millis) = (self.0.as_secs(), self.0.as_millis());
        match secs {
            _ if self.0.is_zero() => f.write_str("0 s"),
            0 if millis == 0 => f.write_str("under 1 ms"),
            0 if millis < 100 => write!(f, "{millis} ms"),
            0..60 => write!(f, "{:.1} s", self.0.as_secs_f64()),
            60..3_600 => write!(f, "{} min {} s", secs / 60, secs % 60),
            _ => write!(f, "{} h {} min", secs / 3_600, secs % 3_600 / 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let human = |d: Duration| HumanDuration(d).to_string();
        assert_eq!(human(Duration::ZERO), "0 s");
        assert_eq!(human(Duration::from_micros(900)), "under 1 ms");
        assert_eq!(human(Duration::from_micros(40_900)), "40 ms");
        assert_eq!(human(Duration::from_millis(500)), "0.5 s");
        assert_eq!(human(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(human(Duration::from_secs(3_780)), "1 h 3 min");
    }

    #[test]
    fn a_wait_shows_its_length_and_cause() {
        let wait = Wait {
            duration: Duration::from_millis(1_500),
            cause: WaitCause::RateLimited,
        };
        assert_eq!(wait.to_string(), "1.5 s: rate limited by the server");
    }
}
