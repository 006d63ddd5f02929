//! `Client::bulk_remove` against the fake server: planning, batching,
//! pacing, reconciling unknown outcomes, stopping, and the report.

mod common;

use std::time::Duration;

use koreai_users::fake::{FakeKore, FakeRateLimit, Fault, Verdict};
use koreai_users::{
    BulkReport, Client, Outcome, RateLimit, Rejection, RemoveUsers, StopCause, VirtualClock,
    WaitCause,
};

use common::{builder, client, fake_with_users};

fn emails(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("user{i}@example.com")).collect()
}

/// Removes `user0@example.com` .. `user{n-1}@example.com` in batches.
fn remove_in_batches(client: &Client, n: usize, batch_size: usize) -> BulkReport {
    client
        .bulk_remove(RemoveUsers::emails(emails(0..n)))
        .batch_size(batch_size)
        .run()
}

/// A client for the fake that paces itself under `limit`.
fn paced(fake: &FakeKore, limit: RateLimit) -> Client {
    builder(fake).rate_limits([limit]).build().unwrap()
}

/// A fake holding `user0@example.com` .. `user{n-1}@example.com`.
fn fake_with(n: usize) -> (FakeKore, VirtualClock) {
    fake_with_users(
        emails(0..n)
            .into_iter()
            .enumerate()
            .map(|(i, e)| (e, format!("u-{i}"))),
    )
}

#[test]
fn plan_counts_batches_and_rate_limit_time_and_sends_nothing() {
    let (fake, _clock) = fake_with(0);
    let client = builder(&fake)
        .rate_limits(RateLimit::KORE_DEFAULTS)
        .build()
        .unwrap();
    let mut input = emails(0..50_000);
    input.extend(["USER1@example.com".into(), "bad".into(), "   ".into()]);

    let plan = client
        .bulk_remove(RemoveUsers::emails(&input))
        .batch_size(500)
        .plan();

    assert_eq!(plan.input, 50_003);
    assert_eq!(
        (plan.to_send, plan.duplicates, plan.rejected),
        (50_000, 1, 2)
    );
    assert_eq!(plan.unique, 50_002);
    let rejected: Vec<(&str, Rejection)> = plan
        .rejected_entries
        .iter()
        .map(|e| (e.id.as_str(), e.why))
        .collect();
    assert_eq!(
        rejected,
        [("bad", Rejection::NotAnEmail), ("", Rejection::Blank)]
    );
    assert_eq!(plan.batches, 100);
    assert_eq!(plan.min_duration, Duration::from_secs(60));
    assert!(plan.to_string().contains("100 requests"), "{plan}");
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn every_user_is_accounted_for_once_in_input_order() {
    let (fake, _clock) = fake_with(10);
    let client = client(&fake);
    let mut input = emails(0..10);
    input.extend([
        "ghost@example.com".into(),
        " User3@Example.com ".into(),
        "not-an-email".into(),
        "".into(),
    ]);

    let report = client
        .bulk_remove(RemoveUsers::emails(&input))
        .batch_size(3)
        .run();

    let summary = report.summary();
    assert_eq!(
        (summary.removed, summary.failed, summary.rejected),
        (10, 1, 2)
    );
    assert_eq!(
        (summary.total, summary.duplicates, summary.batches),
        (13, 1, 4)
    );
    assert_eq!(summary.requests, 4);
    let ids: Vec<&str> = report.entries().iter().map(|e| e.id()).collect();
    assert_eq!(&ids[..2], ["user0@example.com", "user1@example.com"]);
    assert_eq!(&ids[10..], ["ghost@example.com", "not-an-email", ""]);
    let failed = report.with_outcome(Outcome::Failed).next().unwrap();
    assert_eq!(failed.detail(), "User not found");
    assert_eq!(failed.reason().unwrap().status_code, Some(400));
    assert!(fake.users().is_empty());
    let largest = fake
        .requests()
        .iter()
        .map(|r| {
            r.json().unwrap()["deleteEmailIds"]
                .as_array()
                .unwrap()
                .len()
        })
        .max();
    assert_eq!(largest, Some(3));
}

#[test]
fn the_report_serialises_to_the_documented_json() {
    let (fake, _clock) = fake_with(2);
    let client = client(&fake);

    let report = client
        .bulk_remove(RemoveUsers::emails([
            "user0@example.com",
            "ghost@example.com",
            "x",
        ]))
        .run();

    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["id"], "user0@example.com");
    assert_eq!(entries[0]["outcome"], "removed");
    assert_eq!(entries[1]["outcome"], "failed");
    assert_eq!(entries[1]["detail"], "User not found");
    assert_eq!(entries[1]["reason"]["name"], "BadRequest");
    assert_eq!(entries[2]["outcome"], "rejected");
    let summary = &json["summary"];
    assert_eq!(
        (summary["removed"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(summary["kind"], "email");
    assert!(summary["elapsed_ms"].is_u64() && summary["stopped"].is_null());
}

#[test]
fn a_paced_run_meets_no_429_from_a_server_with_the_same_limits() {
    let (fake, clock) = fake_with(100);
    fake.set_rate_limit(Some(FakeRateLimit {
        requests: 3,
        per: Duration::from_secs(60),
        retry_after: true,
    }));
    let client = paced(&fake, RateLimit::new(3, Duration::from_secs(60)));
    let mut waits = vec![];

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..100)))
        .batch_size(10)
        .on_progress(|p| waits.extend(p.wait()))
        .run();

    assert!(report.all_removed(), "{}", report.summary());
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.verdict != Verdict::RateLimited)
    );
    assert_eq!(fake.request_count(), 10);
    // 10 requests at 3 a minute: three full windows of waiting.
    assert_eq!(clock.elapsed(), Duration::from_secs(180));
    assert!(waits.iter().all(|w| w.cause == WaitCause::Pacing));
    assert_eq!(report.summary().waited, Duration::from_secs(180));
}

#[test]
fn a_429_from_another_tool_is_honoured_and_announced() {
    let (fake, clock) = fake_with(20);
    fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(7))));
    let client = client(&fake);
    let mut waits = vec![];

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..20)))
        .batch_size(10)
        .on_progress(|p| waits.extend(p.wait()))
        .run();

    assert!(report.all_removed());
    assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
    assert_eq!(waits.len(), 1);
    assert_eq!(
        (waits[0].duration, waits[0].cause),
        (Duration::from_secs(7), WaitCause::RateLimited)
    );
    assert_eq!(report.summary().retries, 1);
}

#[test]
fn an_answer_lost_after_processing_is_reconciled_as_most_likely_removed() {
    let (fake, _clock) = fake_with(6);
    fake.push_fault(Fault::DropAfterProcessing);
    let client = client(&fake);

    let report = remove_in_batches(&client, 6, 3);

    assert!(report.all_removed(), "{}", report.summary());
    let first = &report.entries()[0];
    assert!(
        first.detail().contains("most likely removed"),
        "{}",
        first.detail()
    );
    assert_eq!(report.entries()[3].detail(), "removed");
    assert_eq!(report.summary().requests, 3);
    assert!(fake.users().is_empty());
}

#[test]
fn an_answer_lost_before_processing_is_resent_and_removed() {
    let (fake, _clock) = fake_with(3);
    fake.push_fault(Fault::DropBeforeProcessing);
    let client = client(&fake);

    let report = client.bulk_remove(RemoveUsers::emails(emails(0..3))).run();

    assert!(report.all_removed());
    assert!(report.entries()[0].detail().contains("sent again"));
    assert!(fake.users().is_empty());
}

#[test]
fn after_a_lost_answer_only_not_found_counts_as_removed() {
    let (fake, _clock) = fake_with(2);
    fake.push_fault(Fault::DropBeforeProcessing);
    let reason = r#"{"errors":[{"msg":"Cannot remove the account owner","code":400}]}"#;
    let body =
        format!(r#"{{"failedUserDetails":[{{"emailId":"user0@example.com","reason":{reason}}}]}}"#);
    fake.push_fault(Fault::Respond {
        status: 200,
        body,
        headers: vec![],
    });
    let client = client(&fake);

    let report = client.bulk_remove(RemoveUsers::emails(emails(0..2))).run();

    let outcomes: Vec<Outcome> = report.entries().iter().map(|e| e.outcome()).collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Removed]);
    assert_eq!(
        report.entries()[0].detail(),
        "Cannot remove the account owner"
    );
}

#[test]
fn when_no_resend_gets_an_answer_the_users_are_unknown() {
    let (fake, _clock) = fake_with(4);
    for _ in 0..4 {
        fake.push_fault(Fault::status(502));
    }
    let client = builder(&fake).max_retries(3).build().unwrap();

    let report = remove_in_batches(&client, 4, 2);

    let unknown: Vec<&str> = report
        .with_outcome(Outcome::Unknown)
        .map(|e| e.id())
        .collect();
    assert_eq!(unknown, ["user0@example.com", "user1@example.com"]);
    assert!(report.entries()[0].detail().contains("502"));
    assert_eq!(report.with_outcome(Outcome::Removed).count(), 2);
}

#[test]
fn a_lost_answer_that_cannot_be_resent_before_the_deadline_is_unknown() {
    let (fake, _clock) = fake_with(6);
    fake.push_fault(Fault::DropAfterProcessing);
    let client = paced(&fake, RateLimit::new(1, Duration::from_secs(60)));

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..6)))
        .batch_size(3)
        .deadline(Duration::from_secs(30))
        .run();

    let summary = report.summary();
    assert_eq!((summary.unknown, summary.not_attempted), (3, 3));
    assert_eq!(summary.stop_cause, Some(StopCause::Deadline));
    assert!(
        report.entries()[0].detail().contains("deadline"),
        "{}",
        report.entries()[0].detail()
    );
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn an_auth_failure_midway_stops_and_leaves_the_rest_not_attempted() {
    let (fake, _clock) = fake_with(9);
    let client = client(&fake);

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..9)))
        .batch_size(3)
        .on_progress(|p| {
            if p.batches_done() == 1 {
                fake.set_scope_revoked(true);
            }
        })
        .run();

    let summary = report.summary();
    assert_eq!((summary.removed, summary.not_attempted), (3, 6));
    assert!(
        summary
            .stopped
            .as_deref()
            .unwrap()
            .contains("authentication")
    );
    let last = report.entries().last().unwrap();
    assert!(
        last.detail().contains("Scope is incorrect"),
        "{}",
        last.detail()
    );
    assert_eq!(fake.request_count(), 2, "nothing sent after the 401");
    assert_eq!(fake.users().len(), 6);
}

#[test]
fn a_refused_batch_fails_its_users_and_the_run_goes_on() {
    let (fake, _clock) = fake_with(6);
    fake.push_fault(common::validation_fault());
    let client = client(&fake);

    let report = remove_in_batches(&client, 6, 3);

    let summary = report.summary();
    assert_eq!((summary.failed, summary.removed), (3, 3));
    assert!(report.entries()[0].detail().contains("Validation errors"));
    assert!(summary.stopped.is_none());
}

#[test]
fn a_missing_endpoint_stops_the_run_at_once() {
    let (fake, _clock) = fake_with(6);
    fake.push_fault(Fault::status(404));
    let client = client(&fake);

    let report = remove_in_batches(&client, 6, 3);

    let summary = report.summary();
    assert_eq!(
        (summary.not_attempted, summary.stop_cause),
        (6, Some(StopCause::Server))
    );
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn a_deadline_stops_before_a_wait_that_would_pass_it() {
    let (fake, _clock) = fake_with(30);
    let client = paced(&fake, RateLimit::new(1, Duration::from_secs(60)));

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..30)))
        .batch_size(10)
        .deadline(Duration::from_secs(90))
        .run();

    let summary = report.summary();
    assert_eq!((summary.removed, summary.not_attempted), (20, 10));
    assert!(summary.stopped.as_deref().unwrap().contains("deadline"));
    assert_eq!(summary.stop_cause, Some(StopCause::Deadline));
    assert_eq!(fake.request_count(), 2);
}

#[test]
fn rate_limiting_past_the_retries_is_waited_out_within_the_caps() {
    let (fake, clock) = fake_with(6);
    for _ in 0..3 {
        fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(30))));
    }
    let client = builder(&fake).max_retries(1).build().unwrap();

    let report = client.bulk_remove(RemoveUsers::emails(emails(0..6))).run();

    assert!(report.all_removed(), "{}", report.summary());
    // One wait by the client's retry, one round by the bulk run, and one
    // more retry inside that round.
    assert_eq!(clock.sleeps(), [Duration::from_secs(30); 3]);
    assert_eq!(fake.request_count(), 4);
}

#[test]
fn no_retry_waits_past_the_deadline() {
    let (fake, clock) = fake_with(3);
    fake.push_fault(Fault::status(503));
    fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(20))));
    let client = client(&fake);

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..3)))
        .deadline(Duration::from_secs(10))
        .run();

    let summary = report.summary();
    assert_eq!(
        (summary.not_attempted, summary.stop_cause),
        (3, Some(StopCause::Deadline))
    );
    assert_eq!(
        fake.request_count(),
        2,
        "one 503, retried once, then a 429 not waited for"
    );
    assert!(
        clock.elapsed() < Duration::from_secs(10),
        "{:?}",
        clock.sleeps()
    );
}

#[test]
fn a_retry_after_beyond_max_retry_wait_stops_the_run() {
    let (fake, clock) = fake_with(6);
    fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(3_600))));
    let client = client(&fake);

    let report = remove_in_batches(&client, 6, 3);

    let summary = report.summary();
    assert_eq!(
        (summary.not_attempted, summary.stop_cause),
        (6, Some(StopCause::RateLimited))
    );
    assert!(
        summary.stopped.as_deref().unwrap().contains("1 h 0 min"),
        "{summary}"
    );
    assert!(clock.sleeps().is_empty());
}

#[test]
fn a_batch_size_out_of_range_sends_nothing_and_says_why() {
    let (fake, _clock) = fake_with(3);
    let client = client(&fake);

    for size in [0, 1_001] {
        let bulk = client
            .bulk_remove(RemoveUsers::emails(emails(0..3)))
            .batch_size(size);
        assert!(bulk.plan().problem.is_some());
        let report = bulk.run();
        assert_eq!(report.summary().not_attempted, 3);
        assert!(report.entries()[0].detail().contains("batch size"));
    }
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn org_user_ids_go_in_batches_too() {
    let (fake, _clock) = fake_with(5);
    let client = client(&fake);
    let ids: Vec<String> = (0..5)
        .map(|i| format!("u-{i}"))
        .chain(["u-ghost".into()])
        .collect();

    let report = client
        .bulk_remove(RemoveUsers::org_user_ids(&ids))
        .batch_size(2)
        .run();

    assert_eq!(report.summary().removed, 5);
    assert_eq!(
        report.with_outcome(Outcome::Failed).next().unwrap().id(),
        "u-ghost"
    );
    assert!(
        fake.requests()[0]
            .json()
            .unwrap()
            .get("orgUserIds")
            .is_some()
    );
}

#[test]
fn progress_reports_users_and_batches_done() {
    let (fake, _clock) = fake_with(10);
    let client = client(&fake);
    let mut seen = vec![];

    let report = client
        .bulk_remove(RemoveUsers::emails(emails(0..10)))
        .batch_size(4)
        .on_progress(|p| seen.push((p.done(), p.total(), p.batches_done(), p.batches_total())))
        .run();

    assert!(report.all_removed());
    assert_eq!(seen, [(4, 10, 1, 3), (8, 10, 2, 3), (10, 10, 3, 3)]);
}
