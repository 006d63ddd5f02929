//! Benchmarks for bulk removal, against the crate's fake Kore.ai server.
//!
//! ```text
//! cargo bench --bench bulk
//! ```
//!
//! (a) 50,000 users in batches of 500 against one user per request, on a fake
//!     that enforces Kore.ai's limits (60 a minute, 1,800 an hour). Both share
//!     a virtual clock, so rate-limit waits pass at once: the "limited time"
//!     column is how long the run would take against Kore.ai, the "wall"
//!     column what the run itself took here.
//! (b) Throughput of `Client::remove_users` against a bare ureq loop sending
//!     the same DELETE with one fixed token, on the same server, in the same
//!     run, taking turns in chunks, as a ratio.
//! (c) Peak memory of a bulk run of 100,000 users, measured in this process
//!     while the fake server runs in a child process.
//!
//! Compare ratios within one run: the machines are shared and noisy.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use koreai_users::fake::{FakeKore, FakeRateLimit};
use koreai_users::{Client, RateLimit, RemoveUsers, VirtualClock};

const BULK_USERS: usize = 50_000;
const THROUGHPUT_CHUNKS: usize = 80;
const THROUGHPUT_CHUNK: usize = 250;
const MEMORY_USERS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-fake") {
        let users = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(0);
        serve_fake(users);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        // `cargo test --benches` asks for a list; there are no tests here.
        return;
    }

    batching();
    throughput();
    memory();
}

fn emails(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user{i}@example.com")).collect()
}

fn account(n: usize) -> impl Iterator<Item = (String, String)> {
    emails(n)
        .into_iter()
        .enumerate()
        .map(|(i, e)| (e, format!("u-{i}")))
}

/// (a) Batches against one user per request, under Kore.ai's limits.
fn batching() {
    println!("(a) {BULK_USERS} users under 60 requests/min and 1,800/h (virtual clock)");
    println!(
        "    {:<22} {:>9} {:>16} {:>16} {:>9} {:>8}",
        "mode", "requests", "limited time", "limits' minimum", "wall", "retries"
    );
    for batch_size in [500, 1] {
        let clock = VirtualClock::new();
        let fake = FakeKore::builder()
            .users(account(BULK_USERS))
            .rate_limit(FakeRateLimit {
                requests: 60,
                per: Duration::from_secs(60),
                retry_after: true,
            })
            .clock(Arc::new(clock.clone()))
            .record_requests(false)
            .start()
            .expect("the fake starts");
        let client = fake
            .client_builder()
            .rate_limits(RateLimit::KORE_DEFAULTS)
            .build()
            .unwrap();

        let started = Instant::now();
        let report = client
            .bulk_remove(RemoveUsers::emails(emails(BULK_USERS)))
            .batch_size(batch_size)
            .run();
        let wall = started.elapsed();

        let summary = report.summary();
        assert_eq!(summary.removed, BULK_USERS, "{summary}");
        let minimum = RateLimit::min_duration(&RateLimit::KORE_DEFAULTS, summary.requests.into());
        let mode = if batch_size == 1 {
            "one user per request".into()
        } else {
            format!("batches of {batch_size}")
        };
        println!(
            "    {:<22} {:>9} {:>16} {:>16} {:>8.2}s {:>8}",
            mode,
            summary.requests,
            human(clock.elapsed()),
            human(minimum),
            wall.as_secs_f64(),
            summary.retries
        );
    }
    println!();
}

/// (b) The SDK's request rate against a bare ureq loop. Each request removes
/// one existing user, so both sides see the documented success answer. The
/// two sides take turns in short chunks, each going first in every other
/// chunk, so that noise from the rest of the machine falls on both alike.
fn throughput() {
    let total = THROUGHPUT_CHUNKS * THROUGHPUT_CHUNK;
    let fake = FakeKore::builder()
        .users(account(2 * total))
        .record_requests(false)
        .start()
        .expect("the fake starts");
    let client = fake.client_builder().no_rate_limit().build().unwrap();
    let token = client.mint_token().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let url = client.endpoint().to_owned();

    // Each side's requests, made up front: the loops time only the calls.
    let bare_bodies: Vec<String> = (0..total)
        .map(|i| format!(r#"{{"deleteEmailIds":["user{i}@example.com"]}}"#))
        .collect();
    let sdk_requests: Vec<RemoveUsers> = (total..2 * total)
        .map(|i| RemoveUsers::emails([format!("user{i}@example.com")]))
        .collect();

    let bare = |bodies: &[String]| {
        let started = Instant::now();
        for body in bodies {
            let mut response = agent
                .delete(&url)
                .header("auth", &token)
                .header("content-type", "application/json")
                .force_send_body()
                .send(body.as_bytes())
                .unwrap();
            let text = response.body_mut().read_to_string().unwrap();
            assert!(text.contains("removed Successfully"), "{text}");
        }
        started.elapsed()
    };
    let sdk = |requests: &[RemoveUsers]| {
        let started = Instant::now();
        for request in requests {
            let report = client.remove_users(request).unwrap();
            assert!(report.is_complete());
        }
        started.elapsed()
    };

    let (mut bare_time, mut sdk_time) = (Duration::ZERO, Duration::ZERO);
    let chunks = bare_bodies
        .chunks(THROUGHPUT_CHUNK)
        .zip(sdk_requests.chunks(THROUGHPUT_CHUNK));
    for (n, (bodies, requests)) in chunks.enumerate() {
        if n % 2 == 0 {
            bare_time += bare(bodies);
            sdk_time += sdk(requests);
        } else {
            sdk_time += sdk(requests);
            bare_time += bare(bodies);
        }
    }

    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    println!("(b) {total} single-user DELETEs a side, in {THROUGHPUT_CHUNKS} alternating chunks");
    println!(
        "    bare ureq loop, fixed token   {:>8.0} requests/s",
        rate(bare_time)
    );
    println!(
        "    Client::remove_users          {:>8.0} requests/s",
        rate(sdk_time)
    );
    println!(
        "    ratio SDK / bare              {:>8.2}  (target >= 0.90)",
        rate(sdk_time) / rate(bare_time)
    );
    println!();
}

/// (c) Peak memory of a 100,000-user bulk run, server in a child process.
fn memory() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--serve-fake", &MEMORY_USERS.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut parts = line.split_whitespace();
    let (url, id, secret) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );

    let before = peak_rss_kib();
    let input = emails(MEMORY_USERS);
    let client = Client::builder()
        .host(url)
        .credentials(id, secret)
        .no_rate_limit()
        .build()
        .unwrap();
    let report = client
        .bulk_remove(RemoveUsers::emails(input))
        .batch_size(1_000)
        .run();
    let json_len = report.to_json().len();
    let after = peak_rss_kib();
    assert_eq!(
        report.summary().removed,
        MEMORY_USERS,
        "{}",
        report.summary()
    );
    drop(child.stdin.take());
    child.wait().unwrap();

    println!(
        "(c) bulk run of {MEMORY_USERS} users (input, report and its JSON of {} MiB)",
        json_len >> 20
    );
    println!("    peak RSS before the run        {:>8} KiB", before);
    println!("    peak RSS after the run         {:>8} KiB", after);
    println!(
        "    growth                         {:>8} KiB",
        after.saturating_sub(before)
    );
}

/// The child process of (c): a fake with `users` users, until stdin closes.
fn serve_fake(users: usize) {
    let fake = FakeKore::builder()
        .users(account(users))
        .record_requests(false)
        .start()
        .expect("the fake starts");
    println!(
        "{} {} {}",
        fake.url(),
        fake.client_id(),
        fake.client_secret()
    );
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// The process's peak resident set (VmHWM), in KiB; 0 where /proc is absent.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3_600 {
        format!("{} h {:02} min", s / 3_600, s % 3_600 / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
