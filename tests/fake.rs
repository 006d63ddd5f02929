//! The fake Kore.ai server itself: each documented check, answer and fault.
//!
//! Every test starts its own fake on 127.0.0.1. Requests go through `ureq`
//! (or a raw socket, to see exactly what a dropped connection sends), with
//! tokens signed here with `jsonwebtoken`, so that these tests do not depend
//! on the client they are meant to serve.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use koreai_users::fake::{FakeKore, FakeRateLimit, FakeUser, Fault, Verdict};
use koreai_users::{RemoveUsers, VirtualClock};

const PATH: &str = "/api/public/users";
const JSON: &str = "application/json";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("jti-{}-{n}-{}", std::process::id(), unix_now())
}

/// The claims a well-behaved client sends.
fn claims(fake: &FakeKore) -> Value {
    let now = unix_now();
    json!({
        "appId": fake.client_id(),
        "sub": "offboarding-test",
        "iat": now,
        "exp": now + 300,
        "jti": fresh_jti(),
    })
}

/// Signs claims. A started fake has installed a crypto provider.
fn sign(secret: &str, algorithm: Algorithm, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).unwrap()
}

fn token(fake: &FakeKore) -> String {
    sign(fake.client_secret(), Algorithm::HS256, &claims(fake))
}

fn agent_with_timeout(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Never follow a redirect: nothing may leave 127.0.0.1.
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

fn agent() -> ureq::Agent {
    agent_with_timeout(Duration::from_secs(10))
}

/// An answer as the client saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// `errors[0].msg` and `errors[0].code` of Kore.ai's envelope.
    fn error(&self) -> (String, i64) {
        let json = self.json();
        let detail = &json["errors"][0];
        (
            detail["msg"].as_str().unwrap_or_default().to_owned(),
            detail["code"].as_i64().unwrap_or_default(),
        )
    }
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Answer, ureq::Error> {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = agent.run(request.body(body).unwrap())?;

    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response.body_mut().read_to_string()?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A DELETE to the endpoint with this `auth` header (if any) and a JSON body.
fn delete_with(fake: &FakeKore, auth: Option<&str>, body: &str) -> Answer {
    let url = format!("{}{PATH}", fake.url());
    let mut headers = vec![("content-type", JSON)];
    headers.extend(auth.map(|a| ("auth", a)));
    send(&agent(), "DELETE", &url, &headers, body).unwrap()
}

/// A well-formed, well-signed removal request.
fn delete(fake: &FakeKore, body: &str) -> Answer {
    delete_with(fake, Some(&token(fake)), body)
}

fn emails_body(emails: &[&str]) -> String {
    json!({ "deleteEmailIds": emails }).to_string()
}

/// One HTTP/1.1 exchange on a raw socket: every byte the server sent until
/// it closed. Asks the server to close after answering.
fn raw_exchange(fake: &FakeKore, token: &str, body: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(fake.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "DELETE {PATH} HTTP/1.1\r\nHost: {}\r\nauth: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        fake.addr(),
        body.len()
    )
    .unwrap();

    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server neither answered nor closed: {e}"),
    }
    received
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_unauthorized(answer: &Answer, msg: &str) {
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error(), (msg.to_owned(), 4002), "{answer:?}");
}

fn assert_invalid(answer: &Answer) {
    assert_eq!(answer.status, 412, "{answer:?}");
    let expected = ("Validation errors/ Invalid arguments".to_owned(), 412);
    assert_eq!(answer.error(), expected, "{answer:?}");
}

fn last_verdict(fake: &FakeKore) -> Verdict {
    fake.last_request().unwrap().verdict
}

// ---- start-up and life cycle ------------------------------------------------

/// A fake whose account holds one user, `a@x.io` (org user id `u-a`).
fn fake_with_a() -> FakeKore {
    FakeKore::builder()
        .users([("a@x.io", "u-a")])
        .start()
        .unwrap()
}

#[test]
fn start_gives_a_loopback_url_and_generated_credentials() {
    let fake = FakeKore::start();
    let other = FakeKore::start();

    assert!(
        fake.url().starts_with("http://127.0.0.1:"),
        "{}",
        fake.url()
    );
    assert_ne!(fake.url(), other.url());
    assert!(fake.client_id().starts_with("cs-"));
    assert_ne!(fake.client_id(), other.client_id());
    assert!(fake.client_secret().len() >= 32);
    assert_ne!(fake.client_secret(), other.client_secret());
}

#[test]
fn builder_overrides_the_credentials() {
    let fake = FakeKore::builder()
        .client_id("cs-fixed")
        .client_secret("fixed-secret")
        .start()
        .unwrap();
    assert_eq!(fake.client_id(), "cs-fixed");
    assert_eq!(fake.client_secret(), "fixed-secret");

    let empty = FakeKore::builder().client_secret("").start();
    assert_eq!(empty.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn fake_can_be_shared_by_threads() {
    fn assert_traits<T: Send + Sync>() {}
    assert_traits::<FakeKore>();

    let fake = FakeKore::start();
    std::thread::scope(|scope| {
        for i in 0..4 {
            let fake = &fake;
            scope.spawn(move || fake.add_user(&format!("t{i}@x.io"), &format!("u-{i}")));
        }
    });
    assert_eq!(fake.user_count(), 4);
}

#[test]
fn debug_output_hides_the_secret() {
    let fake = FakeKore::builder()
        .client_secret("very-secret-value")
        .start()
        .unwrap();
    assert!(!format!("{fake:?}").contains("very-secret-value"));
    let builder = FakeKore::builder().client_secret("very-secret-value");
    assert!(!format!("{builder:?}").contains("very-secret-value"));
}

#[test]
fn dropping_the_fake_closes_its_port_and_connections() {
    let fake = FakeKore::start();
    let addr = fake.addr();
    let idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);

    let started = Instant::now();
    drop(fake);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    assert!(TcpStream::connect(addr).is_err(), "the port is still open");
    let mut buf = [0u8; 1];
    assert_eq!(
        (&idle).read(&mut buf).unwrap_or(0),
        0,
        "an idle connection stayed open"
    );
}

#[test]
fn drop_does_not_wait_for_a_delayed_request() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::Delay(Duration::from_secs(30)));
    let url = format!("{}{PATH}", fake.url());
    let token = token(&fake);
    let client = std::thread::spawn(move || {
        let headers = [("content-type", JSON), ("auth", token.as_str())];
        send(
            &agent(),
            "DELETE",
            &url,
            &headers,
            &emails_body(&["a@x.io"]),
        )
    });
    wait_for("the delayed request to arrive", || {
        fake.pending_faults() == 0
    });

    let started = Instant::now();
    drop(fake);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(client.join().unwrap().is_err());
}

// ---- authentication ---------------------------------------------------------

#[test]
fn token_signed_with_another_secret_is_invalid_sdk_credentials() {
    let fake = fake_with_a();
    let forged = sign("another-secret", Algorithm::HS256, &claims(&fake));

    let answer = delete_with(&fake, Some(&forged), &emails_body(&["a@x.io"]));

    assert_unauthorized(&answer, "Invalid SDK credentials");
    assert!(fake.has_email("a@x.io"));
    let logged = fake.last_request().unwrap();
    assert!(logged.claims.is_none(), "unverified claims were logged");
    assert!(matches!(logged.verdict, Verdict::Rejected(why) if why.contains("signature")));
}

#[test]
fn wrong_app_id_is_invalid_sdk_credentials() {
    let fake = FakeKore::start();
    let mut claims = claims(&fake);
    claims["appId"] = json!("cs-someone-else");
    let token = sign(fake.client_secret(), Algorithm::HS256, &claims);

    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));

    assert_unauthorized(&answer, "Invalid SDK credentials");
    let logged = fake.last_request().unwrap();
    assert_eq!(logged.claims.unwrap().app_id, "cs-someone-else");
}

#[test]
fn other_spellings_of_app_id_are_refused() {
    let fake = FakeKore::start();
    let mut claims = claims(&fake);
    let id = claims["appId"].take();
    claims.as_object_mut().unwrap().remove("appId");
    claims["app_id"] = id;
    let token = sign(fake.client_secret(), Algorithm::HS256, &claims);

    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
    assert_unauthorized(&answer, "Invalid SDK credentials");
}

#[test]
fn value_that_is_not_a_jwt_is_invalid_jwt_token() {
    let fake = FakeKore::start();
    for value in ["not-a-jwt", "a.b.c", &format!("Bearer {}", token(&fake))] {
        let answer = delete_with(&fake, Some(value), &emails_body(&["a@x.io"]));
        assert_unauthorized(&answer, "Invalid JWT token");
    }
}

#[test]
fn missing_auth_header_is_invalid_sdk_credentials() {
    let fake = FakeKore::start();
    let answer = delete_with(&fake, None, &emails_body(&["a@x.io"]));
    assert_unauthorized(&answer, "Invalid SDK credentials");
}

#[test]
fn authorization_bearer_is_not_the_auth_header() {
    let fake = FakeKore::start();
    let url = format!("{}{PATH}", fake.url());
    let bearer = format!("Bearer {}", token(&fake));
    let headers = [("content-type", JSON), ("authorization", bearer.as_str())];

    let answer = send(
        &agent(),
        "DELETE",
        &url,
        &headers,
        &emails_body(&["a@x.io"]),
    )
    .unwrap();
    assert_unauthorized(&answer, "Invalid SDK credentials");
}

#[test]
fn expired_token_is_rejected_as_expired() {
    let fake = FakeKore::start();
    let mut claims = claims(&fake);
    claims["iat"] = json!(unix_now() - 600);
    claims["exp"] = json!(unix_now() - 1);
    let token = sign(fake.client_secret(), Algorithm::HS256, &claims);

    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
    assert_unauthorized(&answer, "error verifying the jwt: jwt expired");
}

#[test]
fn token_without_exp_is_refused() {
    let fake = FakeKore::start();
    let mut claims = claims(&fake);
    claims.as_object_mut().unwrap().remove("exp");
    let token = sign(fake.client_secret(), Algorithm::HS256, &claims);

    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 401);
    assert!(
        answer.error().0.starts_with("error verifying the jwt: "),
        "{answer:?}"
    );
}

#[test]
fn hs512_is_accepted_and_hs384_is_not() {
    let fake = FakeKore::builder()
        .users([("a@x.io", "u-a"), ("b@x.io", "u-b")])
        .start()
        .unwrap();

    let hs512 = sign(fake.client_secret(), Algorithm::HS512, &claims(&fake));
    let answer = delete_with(&fake, Some(&hs512), &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 200, "{answer:?}");

    let hs384 = sign(fake.client_secret(), Algorithm::HS384, &claims(&fake));
    let answer = delete_with(&fake, Some(&hs384), &emails_body(&["b@x.io"]));
    assert_unauthorized(&answer, "Invalid SDK credentials");
}

#[test]
fn enforce_jti_refuses_a_replayed_jti() {
    let fake = FakeKore::builder().enforce_jti(true).start().unwrap();
    let token = token(&fake);

    assert_eq!(
        delete_with(&fake, Some(&token), &emails_body(&["a@x.io"])).status,
        200
    );
    let replay = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));

    assert_eq!(replay.status, 401);
    let (msg, code) = replay.error();
    assert!(msg.starts_with("error verifying the jwt: "), "{msg}");
    assert!(msg.contains("jti"), "{msg}");
    assert_eq!(code, 4002);
}

#[test]
fn enforce_jti_refuses_a_token_without_jti() {
    let fake = FakeKore::start();
    fake.set_enforce_jti(true);
    let mut claims = claims(&fake);
    claims.as_object_mut().unwrap().remove("jti");
    let token = sign(fake.client_secret(), Algorithm::HS256, &claims);

    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 401);
    let msg = answer.error().0;
    assert!(
        msg.starts_with("error verifying the jwt: ") && msg.contains("jti"),
        "{msg}"
    );

    fake.set_enforce_jti(false);
    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 200, "without JTI enforcement: {answer:?}");
}

#[test]
fn enforce_jti_refuses_a_lifetime_over_an_hour() {
    let fake = FakeKore::builder().enforce_jti(true).start().unwrap();
    let now = unix_now();
    let mut long = claims(&fake);
    long["exp"] = json!(now + 3_601);
    let mut long_without_iat = claims(&fake);
    long_without_iat.as_object_mut().unwrap().remove("iat");
    long_without_iat["exp"] = json!(now + 7_200);
    let mut an_hour = claims(&fake);
    an_hour["exp"] = json!(now + 3_600);

    for claims in [long, long_without_iat] {
        let token = sign(fake.client_secret(), Algorithm::HS256, &claims);
        let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
        assert_eq!(answer.status, 401, "{claims}");
        assert!(
            answer.error().0.starts_with("error verifying the jwt: "),
            "{answer:?}"
        );
    }
    let token = sign(fake.client_secret(), Algorithm::HS256, &an_hour);
    let answer = delete_with(&fake, Some(&token), &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn scope_revocation_answers_the_scope_message() {
    let fake = fake_with_a();
    fake.set_scope_revoked(true);

    let answer = delete(&fake, &emails_body(&["a@x.io"]));
    assert_unauthorized(&answer, "Permission denied. Scope is incorrect!");
    assert!(fake.has_email("a@x.io"));

    // A bad token is still a credentials problem, not a scope one.
    let answer = delete_with(&fake, None, &emails_body(&["a@x.io"]));
    assert_unauthorized(&answer, "Invalid SDK credentials");

    fake.set_scope_revoked(false);
    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);
    assert!(!fake.has_email("a@x.io"));
}

// ---- routing and body validation --------------------------------------------

#[test]
fn other_methods_answer_405_and_other_paths_404() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::status(503));
    let token = token(&fake);
    let headers = [("content-type", JSON), ("auth", token.as_str())];
    let endpoint = format!("{}{PATH}", fake.url());
    let body = emails_body(&["a@x.io"]);

    for method in ["GET", "POST", "PUT", "PATCH"] {
        let answer = send(&agent(), method, &endpoint, &headers, &body).unwrap();
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.error(), ("Method Not Allowed".to_owned(), 405));
    }
    for path in [
        "/",
        "/api/public/user",
        "/api/public/users/",
        "/api/public/users?x=1",
    ] {
        let url = format!("{}{path}", fake.url());
        let answer = send(&agent(), "DELETE", &url, &headers, &body).unwrap();
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.error(), ("Not Found".to_owned(), 404));
    }

    assert_eq!(fake.pending_faults(), 1, "a stray request took the fault");
    assert_eq!(fake.request_count(), 8);
}

#[test]
fn body_with_both_keys_is_invalid() {
    let fake = fake_with_a();
    let body = json!({"deleteEmailIds": ["a@x.io"], "orgUserIds": ["u-a"]});
    assert_invalid(&delete(&fake, &body.to_string()));
    assert!(fake.has_email("a@x.io"));
}

#[test]
fn empty_list_is_invalid() {
    let fake = FakeKore::start();
    assert_invalid(&delete(&fake, r#"{"deleteEmailIds":[]}"#));
    assert_invalid(&delete(&fake, r#"{"orgUserIds":[]}"#));
}

#[test]
fn non_string_entry_is_invalid() {
    let fake = fake_with_a();
    assert_invalid(&delete(&fake, r#"{"deleteEmailIds":["a@x.io", 42]}"#));
    assert_invalid(&delete(&fake, r#"{"orgUserIds":[null]}"#));
    assert!(fake.has_email("a@x.io"), "a refused request removed a user");
}

#[test]
fn other_malformed_bodies_are_invalid() {
    let fake = FakeKore::start();
    for body in [
        "",
        "not json",
        r#"["a@x.io"]"#,
        r#"{}"#,
        r#"{"emailIds":["a@x.io"]}"#,
        r#"{"deleteEmailIds":"a@x.io"}"#,
        r#"{"deleteEmailIds":null}"#,
    ] {
        assert_invalid(&delete(&fake, body));
    }
}

#[test]
fn wrong_content_type_is_invalid() {
    let fake = fake_with_a();
    let url = format!("{}{PATH}", fake.url());
    let body = emails_body(&["a@x.io"]);

    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let token = token(&fake);
        let mut headers = vec![("auth", token.as_str())];
        headers.extend(content_type.map(|c| ("content-type", c)));
        let answer = send(&agent(), "DELETE", &url, &headers, &body).unwrap();
        assert_invalid(&answer);
    }
    assert!(fake.has_email("a@x.io"));

    let token = token(&fake);
    let headers = [
        ("auth", token.as_str()),
        ("content-type", "application/json; charset=utf-8"),
    ];
    let answer = send(&agent(), "DELETE", &url, &headers, &body).unwrap();
    assert_eq!(answer.status, 200, "a charset parameter was refused");
}

// ---- processing -------------------------------------------------------------

#[test]
fn removes_known_users_and_reports_unknown_emails() {
    let fake = FakeKore::builder()
        .users([("a@x.io", "u-a"), ("b@x.io", "u-b"), ("c@x.io", "u-c")])
        .start()
        .unwrap();

    let answer = delete(&fake, &emails_body(&["a@x.io", "ghost@x.io", "c@x.io"]));

    assert_eq!(answer.status, 200);
    let expected = json!({"failedUserDetails": [{
        "emailId": "ghost@x.io",
        "reason": {
            "statusCode": 400,
            "status": 400,
            "customCode": 400,
            "errors": [{"msg": "User not found", "code": 400}],
            "message": "User not found",
            "name": "BadRequest",
        },
    }]});
    assert_eq!(answer.json(), expected);
    assert_eq!(fake.users(), [FakeUser::new("b@x.io", "u-b")]);
    assert_eq!(last_verdict(&fake), Verdict::Processed);
}

#[test]
fn all_known_users_answer_the_success_message() {
    let fake = FakeKore::start();
    fake.add_users([("a@x.io", "u-a"), ("b@x.io", "u-b")]);

    let answer = delete(&fake, &emails_body(&["a@x.io", "b@x.io"]));

    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({"msg": "Users are removed Successfully"})
    );
    assert!(answer.header("content-type").unwrap().starts_with(JSON));
    assert!(fake.users().is_empty());
}

#[test]
fn emails_match_in_any_case_and_are_reported_as_sent() {
    let fake = FakeKore::builder()
        .users([("John.Doe@Example.com", "u-1")])
        .start()
        .unwrap();

    let answer = delete(&fake, &emails_body(&["john.doe@EXAMPLE.com", "Ghost@X.io"]));

    assert!(!fake.has_email("john.doe@example.com"));
    assert_eq!(
        answer.json()["failedUserDetails"][0]["emailId"],
        "Ghost@X.io"
    );
}

#[test]
fn reports_unknown_org_user_ids_under_org_user_id_with_status_400() {
    let fake = FakeKore::builder()
        .users([("a@x.io", "u-a"), ("b@x.io", "u-b")])
        .partial_status(400)
        .start()
        .unwrap();

    let body = json!({"orgUserIds": ["u-a", "u-ghost", "U-B"]}).to_string();
    let answer = delete(&fake, &body);

    assert_eq!(answer.status, 400);
    let failed = answer.json()["failedUserDetails"].clone();
    let names: Vec<_> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["orgUserId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["u-ghost", "U-B"], "org user ids must match exactly");
    assert!(failed[0].get("emailId").is_none());
    assert!(
        !fake.has_org_user_id("u-a"),
        "a user removed in a partial request came back"
    );
    assert!(fake.has_org_user_id("u-b"));
}

#[test]
fn partial_status_can_change_while_serving() {
    let fake = FakeKore::start();
    assert_eq!(delete(&fake, &emails_body(&["ghost@x.io"])).status, 200);
    fake.set_partial_status(400);
    let answer = delete(&fake, &emails_body(&["ghost@x.io"]));
    assert_eq!(answer.status, 400);
    assert!(answer.json()["failedUserDetails"].is_array());
    fake.set_partial_status(207);
    assert_eq!(delete(&fake, &emails_body(&["ghost@x.io"])).status, 207);
}

#[test]
fn a_hundred_thousand_users_stay_cheap() {
    let fake = FakeKore::start();
    let started = Instant::now();
    fake.add_users((0..100_000).map(|i| (format!("user{i}@x.io"), format!("u-{i}"))));

    let emails: Vec<String> = (0..1_000).map(|i| format!("USER{}@x.io", i * 97)).collect();
    let answer = delete(&fake, &json!({ "deleteEmailIds": emails }).to_string());
    let ids: Vec<String> = (0..1_000).map(|i| format!("u-{}", i * 89 + 1)).collect();
    let answer2 = delete(&fake, &json!({ "orgUserIds": ids }).to_string());

    assert_eq!(answer.json()["msg"], "Users are removed Successfully");
    assert_eq!(answer2.status, 200);
    assert!(!fake.has_email("user97@x.io"));
    assert!(!fake.has_org_user_id("u-90"));
    assert!(fake.has_org_user_id("u-2"));
    let removed_by_both = (0..1_000).filter(|i| (i * 89 + 1) % 97 == 0).count();
    assert_eq!(fake.user_count(), 100_000 - 2_000 + removed_by_both);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

// ---- rate limiting ----------------------------------------------------------

#[test]
fn rate_limit_answers_429_without_retry_after() {
    let limit = FakeRateLimit::new(2, Duration::from_secs(60)).with_retry_after(false);
    let fake = FakeKore::builder().rate_limit(limit).start().unwrap();

    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);
    // A bad token still counts: the limit comes before authentication.
    assert_eq!(
        delete_with(&fake, None, &emails_body(&["a@x.io"])).status,
        401
    );
    let answer = delete(&fake, &emails_body(&["a@x.io"]));

    assert_eq!(answer.status, 429);
    let message = "Rate limit for this API has been reached. Please try again after some time.";
    assert_eq!(answer.error(), (message.to_owned(), 429));
    assert!(answer.header("retry-after").is_none());
    assert_eq!(last_verdict(&fake), Verdict::RateLimited);

    fake.set_rate_limit(None);
    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);
}

#[test]
fn rate_limit_retry_after_tells_when_the_window_frees() {
    let clock = VirtualClock::new();
    let fake = FakeKore::builder()
        .rate_limit(FakeRateLimit::new(2, Duration::from_secs(60)))
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();

    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);
    clock.advance(Duration::from_millis(10_500));
    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);
    clock.advance(Duration::from_secs(10));

    let answer = delete(&fake, &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 429);
    // The first request leaves the window 60 s after it came, 39.5 s from now.
    assert_eq!(answer.header("retry-after"), Some("40"));

    clock.advance(Duration::from_millis(39_400));
    assert_eq!(
        delete(&fake, &emails_body(&["a@x.io"])).header("retry-after"),
        Some("1")
    );
    clock.advance(Duration::from_millis(100));
    assert_eq!(delete(&fake, &emails_body(&["a@x.io"])).status, 200);
}

#[test]
fn client_waits_out_the_rate_limit_on_a_shared_virtual_clock() {
    let clock = VirtualClock::new();
    let fake = FakeKore::builder()
        .users([("a@x.io", "u-a"), ("b@x.io", "u-b")])
        .rate_limit(FakeRateLimit::new(1, Duration::from_secs(30)))
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();
    let client = fake.client_builder().no_rate_limit().build().unwrap();

    let first = client
        .remove_users(&RemoveUsers::emails(["a@x.io"]))
        .unwrap();
    assert!(first.is_complete());
    let report = client
        .remove_users(&RemoveUsers::emails(["b@x.io"]))
        .unwrap();

    assert!(report.is_complete());
    assert!(fake.users().is_empty());
    let verdicts: Vec<_> = fake.requests().into_iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Processed, Verdict::RateLimited, Verdict::Processed]
    );
    assert!(
        clock.elapsed() >= Duration::from_secs(30),
        "{:?}",
        clock.elapsed()
    );
}

// ---- faults -----------------------------------------------------------------

#[test]
fn respond_fault_answers_as_scripted_and_removes_nothing() {
    let fake = fake_with_a();
    fake.push_fault(Fault::Respond {
        status: 418,
        body: "short and stout".into(),
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("X-Teapot".into(), "yes".into()),
        ],
    });

    // Not even the token is checked.
    let answer = delete_with(&fake, None, &emails_body(&["a@x.io"]));

    assert_eq!(
        (answer.status, answer.body.as_str()),
        (418, "short and stout")
    );
    assert_eq!(answer.header("content-type"), Some("text/plain"));
    assert_eq!(answer.header("x-teapot"), Some("yes"));
    assert!(fake.has_email("a@x.io"));
    assert_eq!(last_verdict(&fake), Verdict::Fault);
}

#[test]
fn status_fault_uses_the_kore_envelope() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::status(503));
    fake.push_fault(Fault::status(599));

    let answer = delete(&fake, &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 503);
    assert_eq!(answer.error(), ("Service Unavailable".to_owned(), 503));
    assert!(answer.header("content-type").unwrap().starts_with(JSON));

    let answer = delete(&fake, &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 599);
    assert_eq!(answer.error().1, 599);
}

#[test]
fn rate_limited_fault_sends_retry_after_as_given() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::rate_limited(Some(Duration::from_millis(500))));
    fake.push_fault(Fault::rate_limited(Some(Duration::from_secs(2))));
    fake.push_fault(Fault::rate_limited(None));

    let answers: Vec<_> = (0..3)
        .map(|_| delete(&fake, &emails_body(&["a@x.io"])))
        .collect();

    let retry_after: Vec<_> = answers.iter().map(|a| a.header("retry-after")).collect();
    assert_eq!(retry_after, [Some("0.5"), Some("2"), None]);
    for answer in &answers {
        assert_eq!(answer.status, 429);
        assert!(
            answer
                .error()
                .0
                .starts_with("Rate limit for this API has been reached")
        );
    }
}

#[test]
fn redirect_fault_sends_location() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::redirect("http://127.0.0.1:9/login"));

    let answer = delete(&fake, &emails_body(&["a@x.io"]));

    assert_eq!(answer.status, 302);
    assert_eq!(answer.header("location"), Some("http://127.0.0.1:9/login"));
    assert!(answer.body.is_empty());
}

#[test]
fn faults_are_taken_in_order_one_per_request() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::status(500));
    fake.push_fault(Fault::status(502));
    assert_eq!(fake.pending_faults(), 2);

    let statuses: Vec<_> = (0..3)
        .map(|_| delete(&fake, &emails_body(&["a@x.io"])).status)
        .collect();

    assert_eq!(statuses, [500, 502, 200]);
    assert_eq!(fake.pending_faults(), 0);
}

#[test]
fn delay_fault_outlasts_a_client_timeout_then_processes() {
    let fake = fake_with_a();
    fake.push_fault(Fault::Delay(Duration::from_millis(600)));
    let url = format!("{}{PATH}", fake.url());
    let token = token(&fake);
    let headers = [("content-type", JSON), ("auth", token.as_str())];

    let slow = agent_with_timeout(Duration::from_millis(150));
    let result = send(&slow, "DELETE", &url, &headers, &emails_body(&["a@x.io"]));
    assert!(matches!(result, Err(ureq::Error::Timeout(_))), "{result:?}");

    // Other requests are served while the delayed one sleeps.
    let started = Instant::now();
    let other = delete(&fake, &emails_body(&["ghost@x.io"]));
    assert_eq!(other.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert!(
        fake.has_email("a@x.io"),
        "removed before the delay was over"
    );

    wait_for("the delayed request", || fake.request_count() == 2);
    assert!(!fake.has_email("a@x.io"));
    assert_eq!(fake.requests()[1].verdict, Verdict::Processed);
}

/// Scripts a drop on a fake holding `a@x.io`, sends a raw request to remove
/// that user, checks the connection closed before any byte of an answer, and
/// returns the fake.
fn dropped_exchange(fault: Fault) -> FakeKore {
    let fake = fake_with_a();
    fake.push_fault(fault);

    let received = raw_exchange(&fake, &token(&fake), &emails_body(&["a@x.io"]));

    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );
    let logged = fake.last_request().unwrap();
    assert_eq!((logged.status, logged.verdict), (0, Verdict::Dropped));
    fake
}

#[test]
fn drop_before_processing_closes_without_a_status_and_changes_nothing() {
    let fake = dropped_exchange(Fault::DropBeforeProcessing);

    assert!(fake.has_email("a@x.io"));

    // Without the fault, the same exchange gets an answer.
    let received = raw_exchange(&fake, &token(&fake), &emails_body(&["a@x.io"]));
    assert!(
        received.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(!fake.has_email("a@x.io"));
}

#[test]
fn drop_after_processing_closes_without_a_status_after_removing() {
    let fake = dropped_exchange(Fault::DropAfterProcessing);

    assert!(!fake.has_email("a@x.io"));
}

#[test]
fn keep_alive_client_sees_a_drop_as_an_error_then_recovers() {
    let fake = FakeKore::builder()
        .users([("a@x.io", "u-a"), ("b@x.io", "u-b")])
        .start()
        .unwrap();
    let agent = agent();
    let url = format!("{}{PATH}", fake.url());
    let call = |email: &str| {
        let token = token(&fake);
        let headers = [("content-type", JSON), ("auth", token.as_str())];
        send(&agent, "DELETE", &url, &headers, &emails_body(&[email]))
    };

    // Warm the pool, so that the drop hits a reused connection.
    assert_eq!(call("ghost@x.io").unwrap().status, 200);
    fake.push_fault(Fault::DropAfterProcessing);
    let dropped = call("a@x.io");
    assert!(dropped.is_err(), "{dropped:?}");
    assert!(!fake.has_email("a@x.io"));

    fake.push_fault(Fault::DropBeforeProcessing);
    assert!(call("b@x.io").is_err());
    assert!(fake.has_email("b@x.io"));

    let answer = call("b@x.io").unwrap();
    assert_eq!(answer.status, 200);
    assert!(!fake.has_email("b@x.io"));
}

#[test]
fn crate_client_reports_a_drop_after_processing_as_outcome_unknown() {
    let fake = fake_with_a();
    let client = fake.client_builder().no_rate_limit().build().unwrap();
    fake.push_fault(Fault::DropAfterProcessing);

    let error = client
        .remove_users(&RemoveUsers::emails(["a@x.io"]))
        .unwrap_err();

    assert!(error.is_outcome_unknown(), "{error:?}");
    assert_eq!(error.status(), None);
    assert!(!fake.has_email("a@x.io"));
}

#[test]
fn html_fault_processes_then_answers_a_page() {
    let fake = fake_with_a();
    fake.push_fault(Fault::Html { status: 502 });

    let answer = delete(&fake, &emails_body(&["a@x.io"]));

    assert_eq!(answer.status, 502);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        answer.body.starts_with("<!DOCTYPE html>"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("502 Bad Gateway"));
    assert!(!fake.has_email("a@x.io"));
    assert_eq!(last_verdict(&fake), Verdict::Fault);
}

#[test]
fn empty_body_fault_processes_then_answers_nothing() {
    let fake = fake_with_a();
    fake.push_fault(Fault::EmptyBody { status: 200 });

    let answer = delete(&fake, &emails_body(&["a@x.io"]));

    assert_eq!(answer.status, 200);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("content-length"), Some("0"));
    assert!(!fake.has_email("a@x.io"));
}

#[test]
fn truncated_json_fault_sends_half_the_real_answer() {
    let fake = fake_with_a();
    fake.push_fault(Fault::TruncatedJson);
    fake.set_partial_status(400);

    let answer = delete(&fake, &emails_body(&["a@x.io", "ghost@x.io"]));

    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .starts_with(r#"{"failedUserDetails":[{"emailId":"ghost@x.io""#)
    );
    assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    assert!(!fake.has_email("a@x.io"));
}

#[test]
fn oversized_fault_sends_exactly_that_many_bytes_of_json() {
    let fake = fake_with_a();
    fake.push_fault(Fault::Oversized { bytes: 1_000_000 });
    fake.push_fault(Fault::Oversized { bytes: 10 });

    let answer = delete(&fake, &emails_body(&["a@x.io"]));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), 1_000_000);
    assert_eq!(answer.header("content-length"), Some("1000000"));
    let json = answer.json();
    assert_eq!(json["msg"], "Users are removed Successfully");
    assert!(json["padding"].as_str().unwrap().len() > 999_000);
    assert!(!fake.has_email("a@x.io"));

    // Too small to pad: the real answer, unpadded but still JSON.
    let answer = delete(&fake, &emails_body(&["ghost@x.io"]));
    assert!(answer.json()["failedUserDetails"].is_array());
}

#[test]
#[should_panic(expected = "not a valid HTTP header")]
fn a_fault_header_that_cannot_be_sent_is_refused_at_once() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::Respond {
        status: 200,
        body: String::new(),
        headers: vec![("Bad Name".into(), "v".into())],
    });
}

// ---- the request log --------------------------------------------------------

#[test]
fn request_log_records_method_path_headers_body_claims_and_verdict() {
    let fake = fake_with_a();
    let claims = claims(&fake);
    let token = sign(fake.client_secret(), Algorithm::HS256, &claims);
    let body = emails_body(&["a@x.io"]);

    delete_with(&fake, Some(&token), &body);
    delete_with(&fake, Some("garbage"), &body);

    let log = fake.requests();
    assert_eq!(log.len(), 2);
    let first = &log[0];
    assert_eq!(first.method, "DELETE");
    assert_eq!(first.path, PATH);
    assert_eq!(first.header("auth"), Some(token.as_str()));
    assert_eq!(first.header("Content-Type"), Some(JSON));
    assert!(
        first
            .headers
            .iter()
            .all(|(n, _)| *n == n.to_ascii_lowercase())
    );
    assert_eq!(first.body, body);
    assert_eq!(first.json().unwrap()["deleteEmailIds"][0], "a@x.io");
    assert_eq!(first.status, 200);
    assert_eq!(first.verdict, Verdict::Processed);
    let logged = first.claims.as_ref().unwrap();
    assert_eq!(logged.app_id, fake.client_id());
    assert_eq!(logged.sub, "offboarding-test");
    assert_eq!(logged.jti.as_deref(), claims["jti"].as_str());
    assert_eq!(logged.exp, claims["exp"].as_u64());

    let second = &log[1];
    assert_eq!(second.status, 401);
    assert!(second.claims.is_none());
    assert!(matches!(&second.verdict, Verdict::Rejected(why) if why.contains("JWT")));
}

#[test]
fn request_log_keeps_claims_of_requests_answered_by_a_fault() {
    let fake = FakeKore::start();
    fake.push_fault(Fault::status(503));
    delete(&fake, &emails_body(&["a@x.io"]));

    let logged = fake.last_request().unwrap();
    assert_eq!((logged.status, logged.verdict), (503, Verdict::Fault));
    assert_eq!(logged.claims.unwrap().app_id, fake.client_id());
}

#[test]
fn log_can_be_turned_off_but_requests_are_counted() {
    let fake = FakeKore::builder().record_requests(false).start().unwrap();
    delete(&fake, &emails_body(&["a@x.io"]));
    delete_with(&fake, None, &emails_body(&["a@x.io"]));

    assert_eq!(fake.request_count(), 2);
    assert!(fake.requests().is_empty());
    assert!(fake.last_request().is_none());
}

#[test]
fn clear_requests_empties_the_log() {
    let fake = FakeKore::start();
    delete(&fake, &emails_body(&["a@x.io"]));
    fake.clear_requests();
    assert_eq!(fake.request_count(), 0);
    assert!(fake.requests().is_empty());
}

// ---- with the crate's client ------------------------------------------------

#[test]
fn client_builder_talks_to_the_fake() {
    let fake = FakeKore::builder()
        .users([("a@x.io", "u-a"), ("b@x.io", "u-b")])
        .enforce_jti(true)
        .start()
        .unwrap();
    let client = fake.client_builder().no_rate_limit().build().unwrap();

    let report = client
        .remove_users(&RemoveUsers::emails(["a@x.io", "ghost@x.io"]))
        .unwrap();
    let by_id = client
        .remove_users(&RemoveUsers::org_user_ids(["u-b"]))
        .unwrap();
    assert!(by_id.is_complete());

    assert_eq!(report.failed().len(), 1);
    assert!(fake.users().is_empty());
    let log = fake.requests();
    assert!(log.iter().all(|r| r.verdict == Verdict::Processed));
    assert_ne!(
        log[0].claims.as_ref().unwrap().jti,
        log[1].claims.as_ref().unwrap().jti
    );
}
