//! Helpers shared by the integration tests: one call starts the fake
//! server, one builds a client for it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use koreai_users::fake::{FakeKore, Fault, RecordedRequest};
use koreai_users::{Claims, Client, ClientBuilder, VirtualClock};

/// The users every test account starts with.
pub const USERS: [(&str, &str); 4] = [
    ("john.doe@example.com", "u-john"),
    ("jane.roe@example.com", "u-jane"),
    ("max.mustermann@example.com", "u-max"),
    ("erika@example.com", "u-erika"),
];

/// A fake account holding [`USERS`], and its virtual clock.
pub fn fake() -> (FakeKore, VirtualClock) {
    fake_with_users(USERS)
}

/// A fake account holding `users` (email, org user id), and its virtual
/// clock, which the fake's rate-limit windows and [`builder`] share.
pub fn fake_with_users<I, E, O>(users: I) -> (FakeKore, VirtualClock)
where
    I: IntoIterator<Item = (E, O)>,
    E: AsRef<str>,
    O: AsRef<str>,
{
    let clock = VirtualClock::new();
    let fake = FakeKore::builder()
        .users(users)
        .clock(Arc::new(clock.clone()))
        .start()
        .expect("the fake server starts");
    (fake, clock)
}

/// A builder for the fake, on its virtual clock, without client-side
/// pacing, with short timeouts.
pub fn builder(fake: &FakeKore) -> ClientBuilder {
    fake.client_builder()
        .no_rate_limit()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
}

/// A client for the fake; see [`builder`].
pub fn client(fake: &FakeKore) -> Client {
    builder(fake).build().expect("the client builds")
}

/// Verifies the `auth` header of a recorded request with the fake's secret.
pub fn verified_claims(fake: &FakeKore, request: &RecordedRequest) -> Claims {
    let token = request.header("auth").expect("an auth header");
    let key = DecodingKey::from_secret(fake.client_secret().as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .expect("the token verifies with the client secret")
        .claims
}

/// Kore.ai's answer to a body it refuses: 412 with its error envelope.
pub fn validation_fault() -> Fault {
    let body = r#"{"errors":[{"msg":"Validation errors/ Invalid arguments","code":412}]}"#;
    Fault::Respond {
        status: 412,
        body: body.into(),
        headers: vec![],
    }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A small deterministic random generator (xorshift64*), so that failing
/// schedules can be replayed from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
