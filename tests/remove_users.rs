//! `Client::remove_users` against the fake server: wire format, claims,
//! reports, every error variant and every retry path.

mod common;

use std::time::Duration;

use koreai_users::fake::{Fault, Verdict};
use koreai_users::{Algorithm, AuthProblem, Client, Error, RateLimit, RemoveUsers};

use common::{builder, client, closed_port, fake, verified_claims};

/// Scripts `faults` on a fresh fake, removes one user through them, checks
/// the removal succeeded, and returns the fake and the client's waits.
fn sleeps_before_success(
    faults: impl IntoIterator<Item = Fault>,
) -> (koreai_users::fake::FakeKore, Vec<Duration>) {
    let (fake, clock) = fake();
    for fault in faults {
        fake.push_fault(fault);
    }
    let client = client(&fake);

    let report = remove(&client, "john.doe@example.com").unwrap();

    assert!(report.is_complete());
    (fake, clock.sleeps())
}

/// Removes one user, by email.
fn remove(client: &Client, email: &str) -> koreai_users::Result<koreai_users::RemoveReport> {
    client.remove_users(&RemoveUsers::emails([email]))
}

const RATE_LIMIT_MSG: &str =
    "Rate limit for this API has been reached. Please try again after some time.";

#[test]
fn request_has_the_documented_method_path_headers_claims_and_body() {
    let (fake, _clock) = fake();
    let client = client(&fake);

    let report = client
        .remove_users(&RemoveUsers::emails([
            " john.doe@example.com ",
            "JANE.ROE@example.com",
        ]))
        .unwrap();

    assert!(report.is_complete());
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.path, "/api/public/users");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("koreai-users/")
    );
    assert!(request.header("authorization").is_none());
    assert_eq!(
        request.json().unwrap(),
        serde_json::json!({"deleteEmailIds": ["john.doe@example.com", "JANE.ROE@example.com"]})
    );

    let claims = verified_claims(&fake, request);
    assert_eq!(claims.app_id, fake.client_id());
    assert_eq!(claims.sub, "koreai-users");
    let (iat, exp) = (claims.iat.unwrap(), claims.exp.unwrap());
    assert_eq!(exp - iat, 300);
    assert!(claims.jti.is_some_and(|jti| jti.len() >= 16));
    assert_eq!(
        request.claims.as_ref(),
        Some(&verified_claims(&fake, request))
    );
}

#[test]
fn removes_users_by_email_and_by_org_user_id() {
    let (fake, _clock) = fake();
    let client = client(&fake);

    let by_email = remove(&client, "john.doe@example.com").unwrap();
    let by_id = client
        .remove_users(&RemoveUsers::org_user_ids(["u-jane", "u-max"]))
        .unwrap();

    assert_eq!(by_email.removed(), ["john.doe@example.com"]);
    assert_eq!(by_id.removed(), ["u-jane", "u-max"]);
    assert_eq!(by_email.message(), Some("Users are removed Successfully"));
    assert!(!fake.has_email("john.doe@example.com"));
    assert!(!fake.has_org_user_id("u-jane") && !fake.has_org_user_id("u-max"));
    assert!(fake.has_email("erika@example.com"));
    let body = fake.requests()[1].json().unwrap();
    assert_eq!(body, serde_json::json!({"orgUserIds": ["u-jane", "u-max"]}));
}

#[test]
fn unknown_users_are_reported_as_failed_under_either_partial_status() {
    for status in [200, 400] {
        let (fake, _clock) = fake();
        fake.set_partial_status(status);
        let client = client(&fake);

        let report = client
            .remove_users(&RemoveUsers::emails([
                "ghost@example.com",
                "john.doe@example.com",
            ]))
            .unwrap();

        assert_eq!(report.status(), status);
        assert_eq!(report.removed(), ["john.doe@example.com"]);
        assert_eq!(report.failed().len(), 1);
        assert_eq!(report.failed()[0].id(), Some("ghost@example.com"));
        assert_eq!(report.failed()[0].message(), Some("User not found"));
        assert!(!report.is_complete());
        assert!(matches!(report.into_result(), Err(Error::Incomplete(_))));
    }
}

#[test]
fn unknown_org_user_ids_are_reported_by_their_id() {
    let (fake, _clock) = fake();
    let client = client(&fake);

    let report = client
        .remove_users(&RemoveUsers::org_user_ids(["u-ghost", "u-erika"]))
        .unwrap();

    assert_eq!(report.removed(), ["u-erika"]);
    assert_eq!(report.failed()[0].id(), Some("u-ghost"));
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let (fake, _clock) = fake();
    let client = client(&fake);

    let empty = client
        .remove_users(&RemoveUsers::emails(Vec::<String>::new()))
        .unwrap_err();
    let bad = client
        .remove_users(&RemoveUsers::emails([
            "ok@example.com",
            "  ",
            "not-an-email",
        ]))
        .unwrap_err();
    let too_many = (0..1_001).map(|i| format!("u{i}@example.com"));
    let large = client
        .remove_users(&RemoveUsers::emails(too_many))
        .unwrap_err();

    assert!(matches!(&empty, Error::InvalidRequest(r) if r.problem.is_some()));
    let Error::InvalidRequest(request) = &bad else {
        panic!("{bad:?}")
    };
    let positions: Vec<usize> = request.entries.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(positions, [1, 2]);
    assert!(bad.to_string().contains("\"not-an-email\""), "{bad}");
    assert!(matches!(large, Error::InvalidRequest(_)));
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn rate_limited_request_is_retried_after_retry_after() {
    let retry_after = Fault::rate_limited(Some(Duration::from_secs(2)));
    let (fake, slept) = sleeps_before_success([retry_after]);

    assert_eq!(slept, [Duration::from_secs(2)]);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let jtis: Vec<_> = requests
        .iter()
        .map(|r| verified_claims(&fake, r).jti)
        .collect();
    assert_ne!(jtis[0], jtis[1], "every retry carries a fresh jti");
}

#[test]
fn fractional_retry_after_is_honoured() {
    let retry_after = Fault::rate_limited(Some(Duration::from_millis(500)));
    let (_fake, slept) = sleeps_before_success([retry_after]);

    assert_eq!(slept, [Duration::from_millis(500)]);
}

#[test]
fn http_date_retry_after_is_honoured() {
    let in_a_while = std::time::SystemTime::now() + Duration::from_secs(20);
    let retry_after = Fault::Respond {
        status: 429,
        body: String::new(),
        headers: vec![("Retry-After".into(), http_date(in_a_while))],
    };
    let (_fake, slept) = sleeps_before_success([retry_after]);

    assert_eq!(slept.len(), 1);
    assert!(
        slept[0] > Duration::from_secs(17) && slept[0] <= Duration::from_secs(20),
        "{slept:?}"
    );
}

#[test]
fn rate_limit_without_header_backs_off_with_jitter() {
    let (_fake, slept) =
        sleeps_before_success([Fault::rate_limited(None), Fault::rate_limited(None)]);

    assert_eq!(slept.len(), 2);
    assert!(slept[0] >= Duration::from_millis(250) && slept[0] <= Duration::from_millis(500));
    assert!(slept[1] >= Duration::from_millis(500) && slept[1] <= Duration::from_millis(1000));
}

#[test]
fn rate_limit_message_in_the_body_counts_as_rate_limiting() {
    let msg = "You've exceeded the per-minute rate limit. \
               Please wait for sometime before retrying.";
    let body = serde_json::json!({"errors": [{"msg": msg, "code": 400}]});
    let rate_limited = Fault::Respond {
        status: 400,
        body: body.to_string(),
        headers: vec![],
    };
    let (_fake, slept) = sleeps_before_success([rate_limited]);

    assert_eq!(slept.len(), 1);
}

#[test]
fn exhausted_retries_give_rate_limited_with_the_last_retry_after() {
    let (fake, clock) = fake();
    for _ in 0..3 {
        fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(1))));
    }
    let client = builder(&fake).max_retries(2).build().unwrap();

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    let Error::RateLimited {
        attempts,
        retry_after,
        response,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*attempts, *retry_after), (3, Some(Duration::from_secs(1))));
    assert_eq!(response.message(), Some(RATE_LIMIT_MSG));
    assert!(err.is_retryable() && !err.is_outcome_unknown());
    assert_eq!(err.status(), Some(429));
    assert_eq!(clock.sleeps().len(), 2);
    assert!(fake.has_email("john.doe@example.com"));
}

#[test]
fn a_retry_after_beyond_the_cap_is_not_waited_for() {
    let (fake, clock) = fake();
    fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(3_600))));
    let client = client(&fake);

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    assert!(matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 3_600));
    assert!(clock.sleeps().is_empty());
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn service_unavailable_is_retried() {
    let (fake, slept) = sleeps_before_success([Fault::status(503)]);

    assert_eq!(slept.len(), 1);
    assert_eq!(fake.request_count(), 2);
}

#[test]
fn server_errors_are_not_retried_and_the_outcome_is_unknown() {
    for status in [500, 502, 504] {
        let (fake, clock) = fake();
        fake.push_fault(Fault::status(status));
        let client = client(&fake);

        let err = remove(&client, "john.doe@example.com").unwrap_err();

        assert!(
            matches!(&err, Error::Api(r) if r.status == status),
            "{err:?}"
        );
        assert!(err.is_outcome_unknown() && !err.is_retryable());
        assert!(err.to_string().contains("outcome is unknown"), "{err}");
        assert_eq!(fake.request_count(), 1);
        assert!(clock.sleeps().is_empty());
    }
}

#[test]
fn validation_errors_carry_kores_envelope() {
    let (fake, _clock) = fake();
    fake.push_fault(common::validation_fault());
    let client = client(&fake);

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    let Error::Api(response) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(response.status, 412);
    assert_eq!(
        response.message(),
        Some("Validation errors/ Invalid arguments")
    );
    assert_eq!(response.code(), Some(412));
    assert!(response.body_snippet.contains("Validation"));
    assert_eq!(err.status(), Some(412));
}

#[test]
fn wrong_secret_is_unauthorized_with_invalid_credentials() {
    let (fake, _clock) = fake();
    let client = fake
        .client_builder()
        .credentials(fake.client_id(), "not-the-secret")
        .no_rate_limit()
        .build()
        .unwrap();

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    let Error::Unauthorized { problem, response } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*problem, AuthProblem::InvalidCredentials);
    assert_eq!((response.status, response.code()), (401, Some(4002)));
    assert!(!err.is_retryable());
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn a_revoked_scope_is_told_apart_from_bad_credentials() {
    let (fake, _clock) = fake();
    fake.set_scope_revoked(true);
    let client = client(&fake);

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unauthorized {
                problem: AuthProblem::Scope,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("scope"), "{err}");
}

#[test]
fn a_ready_jwt_is_sent_as_is() {
    let (fake, _clock) = fake();
    let minted = client(&fake).mint_token().unwrap();
    let client = builder(&fake).jwt(&minted).build();
    // `fake.client_builder()` set credentials: a ready jwt as well is refused.
    assert!(matches!(client, Err(Error::Config(_))));

    let client = Client::builder()
        .host(fake.url())
        .jwt(&minted)
        .no_rate_limit()
        .build()
        .unwrap();
    assert!(
        remove(&client, "john.doe@example.com")
            .unwrap()
            .is_complete()
    );

    assert_eq!(fake.requests()[0].header("auth"), Some(minted.as_str()));
}

#[test]
fn hs512_tokens_are_accepted() {
    let (fake, _clock) = fake();
    let client = builder(&fake).algorithm(Algorithm::Hs512).build().unwrap();

    assert!(
        remove(&client, "john.doe@example.com")
            .unwrap()
            .is_complete()
    );

    let token = fake.requests()[0].header("auth").unwrap().to_owned();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS512);
}

#[test]
fn enforced_jti_is_satisfied_by_fresh_short_lived_tokens() {
    let (fake, _clock) = fake();
    fake.set_enforce_jti(true);
    let client = client(&fake);

    for email in ["john.doe@example.com", "jane.roe@example.com"] {
        assert!(remove(&client, email).unwrap().is_complete());
    }

    assert!(
        fake.requests()
            .iter()
            .all(|r| r.verdict == Verdict::Processed)
    );
}

#[test]
fn redirects_are_not_followed() {
    let (fake, _clock) = fake();
    let (elsewhere, _elsewhere_clock) = common::fake();
    fake.push_fault(Fault::redirect(format!(
        "{}/api/public/users",
        elsewhere.url()
    )));
    let client = client(&fake);

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    let Error::Api(response) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(response.status, 302);
    assert!(
        response
            .location
            .as_deref()
            .unwrap()
            .starts_with(&elsewhere.url())
    );
    assert!(err.to_string().contains("not followed"), "{err}");
    assert_eq!(elsewhere.request_count(), 0, "the auth header never left");
}

#[test]
fn a_dropped_connection_after_processing_is_an_unknown_outcome() {
    let (fake, clock) = fake();
    fake.push_fault(Fault::DropAfterProcessing);
    let client = client(&fake);

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    assert!(
        matches!(err, Error::Transport { sent: true, .. }),
        "{err:?}"
    );
    assert!(err.is_outcome_unknown());
    assert!(std::error::Error::source(&err).is_some());
    assert!(
        !fake.has_email("john.doe@example.com"),
        "the fake did remove the user"
    );
    assert_eq!(fake.request_count(), 1, "not retried");
    assert!(clock.sleeps().is_empty());
}

#[test]
fn a_slow_answer_times_out_with_an_unknown_outcome() {
    let (fake, _clock) = fake();
    fake.push_fault(Fault::Delay(Duration::from_millis(600)));
    let client = builder(&fake)
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    assert!(matches!(err, Error::Timeout { sent: true, .. }), "{err:?}");
    assert!(err.is_outcome_unknown());
}

#[test]
fn a_refused_connection_is_retried_then_reported_as_not_sent() {
    let clock = koreai_users::VirtualClock::new();
    let client = Client::builder()
        .host(format!("http://127.0.0.1:{}", closed_port()))
        .credentials("cs-id", "secret")
        .no_rate_limit()
        .max_retries(2)
        .clock(std::sync::Arc::new(clock.clone()))
        .build()
        .unwrap();

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    assert!(
        matches!(err, Error::Transport { sent: false, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.is_outcome_unknown());
    assert_eq!(clock.sleeps().len(), 2);
}

#[test]
fn bodies_that_are_not_the_expected_json_are_decode_errors() {
    let faults = [
        (Fault::Html { status: 200 }, "not a JSON object"),
        (Fault::EmptyBody { status: 200 }, "empty"),
        (Fault::TruncatedJson, "not a JSON object"),
        (
            Fault::Oversized {
                bytes: 9 * 1024 * 1024,
            },
            "larger than",
        ),
    ];
    for (fault, reason) in faults {
        let (fake, _clock) = fake();
        fake.push_fault(fault);
        let client = client(&fake);

        let err = remove(&client, "john.doe@example.com").unwrap_err();

        let Error::Decode(decode) = &err else {
            panic!("{err:?}")
        };
        assert!(decode.reason.contains(reason), "{err}");
        assert!(decode.body_snippet.len() <= 512);
        assert!(
            err.is_outcome_unknown(),
            "a 200 was answered: it may have been processed"
        );
    }
}

#[test]
fn an_html_error_page_is_an_api_error_with_a_snippet() {
    let (fake, _clock) = fake();
    fake.push_fault(Fault::Html { status: 404 });
    let client = client(&fake);

    let err = remove(&client, "john.doe@example.com").unwrap_err();

    let Error::Api(response) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(response.status, 404);
    assert!(response.errors.is_empty());
    assert!(response.body_snippet.contains('<'));
}

#[test]
fn pacing_is_shared_by_every_clone() {
    let (fake, clock) = fake();
    let client = builder(&fake)
        .rate_limits([RateLimit::new(2, Duration::from_secs(10))])
        .build()
        .unwrap();
    let clone = client.clone();

    assert!(
        remove(&client, "john.doe@example.com")
            .unwrap()
            .is_complete()
    );
    assert!(
        remove(&clone, "jane.roe@example.com")
            .unwrap()
            .is_complete()
    );
    assert!(clock.sleeps().is_empty());
    assert!(remove(&client, "erika@example.com").unwrap().is_complete());

    assert_eq!(clock.sleeps(), [Duration::from_secs(10)]);
}

#[test]
fn no_secret_or_token_in_any_debug_or_display() {
    let (fake, _clock) = fake();
    let secret = fake.client_secret().to_owned();
    let builder = builder(&fake);
    let client = builder.clone().build().unwrap();
    let token = client.mint_token().unwrap();

    let mut errors = vec![];
    for fault in [
        Fault::status(500),
        Fault::status(412),
        Fault::rate_limited(Some(Duration::from_secs(9_999))),
        Fault::DropAfterProcessing,
        Fault::Html { status: 200 },
        Fault::redirect("https://elsewhere.invalid/x"),
    ] {
        fake.push_fault(fault);
        errors.push(remove(&client, "john.doe@example.com"));
    }
    fake.set_scope_revoked(true);
    errors.push(remove(&client, "jane.roe@example.com"));
    errors.push(remove(&client, "  "));
    errors.push(
        Client::builder()
            .host("http://example.com")
            .credentials("id", &secret)
            .build()
            .map(|_| unreachable!()),
    );

    let mut shown = vec![format!("{builder:?}"), format!("{client:?}")];
    for result in &errors {
        let err = result.as_ref().unwrap_err();
        shown.push(format!("{err:?}"));
        shown.push(err.to_string());
    }
    for text in shown {
        assert!(!text.contains(&secret), "secret leaked: {text}");
        assert!(!text.contains(&token), "token leaked: {text}");
        assert!(!text.contains(&token[..20]), "token leaked: {text}");
    }
}

/// An IMF-fixdate, as `Retry-After` may carry it.
fn http_date(at: std::time::SystemTime) -> String {
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3_600, secs % 3_600 / 60, secs % 60);
    // Civil date from days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {name} {year} {h:02}:{m:02}:{s:02} GMT")
}
