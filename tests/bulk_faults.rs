//! The proof of bulk removal: over many random fault schedules, the report
//! partitions the input exactly and agrees with the account left behind.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use koreai_users::fake::{FakeKore, FakeRateLimit, Fault};
use koreai_users::{Client, Outcome, RateLimit, RemoveUsers, VirtualClock};

use common::Rng;

/// How many schedules run; each is replayable from its seed.
const SCHEDULES: u64 = 200;

#[test]
fn every_fault_schedule_yields_an_exact_and_truthful_report() {
    let mut seen: HashMap<Outcome, usize> = HashMap::new();
    let (mut reconciled, mut stopped) = (0, 0);
    for seed in 0..SCHEDULES {
        let report = run_schedule(seed);
        for entry in report.entries() {
            *seen.entry(entry.outcome()).or_default() += 1;
            reconciled += usize::from(entry.detail().contains("sent again"));
        }
        stopped += usize::from(report.summary().stopped.is_some());
    }

    // The schedules really exercised every path they are meant to prove.
    for outcome in [
        Outcome::Removed,
        Outcome::Failed,
        Outcome::Rejected,
        Outcome::NotAttempted,
        Outcome::Unknown,
    ] {
        assert!(
            seen.get(&outcome).is_some_and(|n| *n > 0),
            "no {outcome:?} in {seen:?}"
        );
    }
    assert!(
        reconciled > 0 && stopped > 0,
        "reconciled {reconciled}, stopped {stopped}"
    );
}

fn run_schedule(seed: u64) -> koreai_users::BulkReport {
    let mut rng = Rng::new(seed);
    let clock = VirtualClock::new();

    // An account, and an input mixing its users with ghosts, repeats in
    // other casing, and invalid lines.
    let account: Vec<String> = (0..40 + rng.below(100))
        .map(|i| format!("user{i}@example.com"))
        .collect();
    let mut input: Vec<String> = account.iter().filter(|_| rng.chance(80)).cloned().collect();
    for i in 0..rng.below(10) {
        input.push(format!("ghost{i}@example.com"));
    }
    for _ in 0..rng.below(5) {
        let pick = input[rng.below(input.len() as u64) as usize].to_uppercase();
        input.push(pick);
    }
    for bad in ["", "no-at-sign", "two words@example.com"] {
        if rng.chance(50) {
            input.push(bad.to_owned());
        }
    }
    shuffle(&mut input, &mut rng);

    // A server with a rate limit, a partial-answer status, and a queue of
    // faults interleaved with normal answers.
    let server_limit = FakeRateLimit {
        requests: 4,
        per: Duration::from_secs(10),
        retry_after: rng.chance(50),
    };
    let fake = FakeKore::builder()
        .users(
            account
                .iter()
                .enumerate()
                .map(|(i, e)| (e.clone(), format!("u-{i}"))),
        )
        .partial_status(if rng.chance(50) { 200 } else { 400 })
        .rate_limit(server_limit)
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();
    for _ in 0..rng.below(25) {
        fake.push_fault(random_fault(&mut rng));
    }

    // A client that paces under the same limit, or not at all.
    let mut builder = fake.client_builder().max_retries(rng.below(4) as u32);
    builder = if rng.chance(50) {
        builder.rate_limits([RateLimit::new(4, Duration::from_secs(10))])
    } else {
        builder.no_rate_limit()
    };
    let client: Client = builder.build().unwrap();
    let batch_size = 1 + rng.below(25) as usize;

    let mut bulk = client
        .bulk_remove(RemoveUsers::emails(&input))
        .batch_size(batch_size);
    if rng.chance(30) {
        bulk = bulk.deadline(Duration::from_secs(5 + rng.below(60)));
    }

    let mut last_done = 0;
    let report = bulk
        .on_progress(|p| {
            assert!(
                p.done() >= last_done && p.done() <= p.total(),
                "seed {seed}"
            );
            last_done = p.done();
        })
        .run();

    // Every distinct input identifier exactly once.
    let expected: HashSet<String> = input
        .iter()
        .map(|raw| {
            let trimmed = raw.trim();
            if trimmed.contains('@') && !trimmed.contains(' ') {
                trimmed.to_lowercase()
            } else {
                trimmed.to_owned()
            }
        })
        .collect();
    let mut seen: HashMap<String, Outcome> = HashMap::new();
    for entry in report.entries() {
        let key = if entry.outcome() == Outcome::Rejected {
            entry.id().to_owned()
        } else {
            entry.id().to_lowercase()
        };
        assert!(
            seen.insert(key, entry.outcome()).is_none(),
            "seed {seed}: {} twice",
            entry.id()
        );
    }
    assert_eq!(
        seen.keys().cloned().collect::<HashSet<_>>(),
        expected,
        "seed {seed}"
    );
    let summary = report.summary();
    let counted = summary.removed
        + summary.failed
        + summary.rejected
        + summary.not_attempted
        + summary.unknown;
    assert_eq!(counted, summary.total, "seed {seed}");
    assert_eq!(summary.total, report.entries().len(), "seed {seed}");

    // The report agrees with the account left behind.
    let existed: HashSet<String> = account.iter().cloned().collect();
    for entry in report.entries() {
        let id = entry.id().to_lowercase();
        let present = fake.has_email(&id);
        let context = format!(
            "seed {seed}: {} {:?} ({})",
            id,
            entry.outcome(),
            entry.detail()
        );
        match entry.outcome() {
            Outcome::Removed => assert!(!present, "{context}"),
            Outcome::Failed | Outcome::Rejected | Outcome::NotAttempted => {
                if existed.contains(&id) {
                    assert!(present, "{context}");
                }
            }
            Outcome::Unknown => {}
        }
        if entry.outcome() == Outcome::Failed && existed.contains(&id) {
            assert!(!entry.detail().is_empty(), "{context}");
        }
    }
    report
}

fn random_fault(rng: &mut Rng) -> Fault {
    match rng.below(16) {
        0 => Fault::rate_limited(Some(Duration::from_secs(1 + rng.below(5)))),
        1 => Fault::rate_limited(None),
        2 => Fault::status(500),
        3 => Fault::status(502),
        4 => Fault::status(503),
        5 => Fault::status(504),
        6 => Fault::DropBeforeProcessing,
        7 => Fault::DropAfterProcessing,
        8 => Fault::Html { status: 200 },
        9 => Fault::TruncatedJson,
        10 => Fault::EmptyBody { status: 200 },
        11 => Fault::status(412),
        12 if rng.chance(30) => Fault::Respond {
            status: 401,
            body: r#"{"errors":[{"msg":"Invalid SDK credentials","code":4002}]}"#.into(),
            headers: vec![],
        },
        _ => Fault::Delay(Duration::ZERO),
    }
}

fn shuffle(items: &mut [String], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}
