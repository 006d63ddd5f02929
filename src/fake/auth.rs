//! Checking the `auth` JWT as Kore.ai does, with the messages it answers.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::Claims;
use crate::crypto;

/// No token, a bad signature, or another app's id.
pub(super) const INVALID_CREDENTIALS: &str = "Invalid SDK credentials";
/// The header does not hold a JWT at all.
pub(super) const INVALID_TOKEN: &str = "Invalid JWT token";
/// The token's `exp` has passed.
pub(super) const JWT_EXPIRED: &str = "error verifying the jwt: jwt expired";
/// The token has no usable `exp`.
pub(super) const EXP_MISSING: &str = "error verifying the jwt: exp is required";
/// "Enforce JTI": no `jti`.
pub(super) const JTI_MISSING: &str = "error verifying the jwt: jti is required";
/// "Enforce JTI": a lifetime over one hour.
pub(super) const LIFETIME_TOO_LONG: &str =
    "error verifying the jwt: exp must be at most 1 hour after iat";
/// "Enforce JTI": a `jti` seen before.
pub(super) const JTI_REPLAYED: &str = "error verifying the jwt: jti has already been used";

/// The longest token lifetime "Enforce JTI" accepts, in seconds.
const MAX_JTI_LIFETIME: u64 = 3_600;

/// Why a token is refused: Kore.ai's message, and a note for the log.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) msg: &'static str,
    pub(super) why: String,
}

fn refuse<T>(msg: &'static str, why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        msg,
        why: why.into(),
    })
}

/// A token whose signature, app id and expiry passed.
#[derive(Debug)]
pub(super) struct Token {
    claims: Value,
    exp: u64,
}

impl Token {
    pub(super) fn jti(&self) -> Option<&str> {
        self.claims.get("jti").and_then(Value::as_str)
    }

    /// Checks the lifetime rule of "Enforce JTI".
    pub(super) fn check_lifetime(&self) -> Result<(), Refusal> {
        let lifetime = match seconds(self.claims.get("iat")) {
            Some(iat) => self.exp.saturating_sub(iat),
            None => self.exp.saturating_sub(unix_now()),
        };
        if lifetime > MAX_JTI_LIFETIME {
            return refuse(
                LIFETIME_TOO_LONG,
                format!("token lifetime {lifetime} s is over {MAX_JTI_LIFETIME} s"),
            );
        }
        Ok(())
    }
}

/// The outcome of checking an `auth` header.
#[derive(Debug)]
pub(super) struct Checked {
    /// The claims, when the signature verified and they were asked for.
    pub(super) claims: Option<Claims>,
    pub(super) token: Result<Token, Refusal>,
}

/// Verifies tokens for one app. The key and the rules are built once.
pub(super) struct Verifier {
    app_id: String,
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub(super) fn new(app_id: &str, secret: &str) -> io::Result<Self> {
        crypto::ensure_provider();
        let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the fake's client secret is empty",
            )
        })?;

        // Only the signature and the algorithm are left to jsonwebtoken: the
        // claims are checked below, with Kore.ai's messages and no leeway.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;

        Ok(Self {
            app_id: app_id.to_owned(),
            key,
            validation,
        })
    }

    /// Checks a header value; `keep_claims` asks for the claims, for the log.
    pub(super) fn check(&self, header: Option<&str>, keep_claims: bool) -> Checked {
        let Some(header) = header else {
            return Checked {
                claims: None,
                token: refuse(INVALID_CREDENTIALS, "no auth header"),
            };
        };
        if jsonwebtoken::decode_header(header).is_err() {
            return Checked {
                claims: None,
                token: refuse(INVALID_TOKEN, "the auth header does not hold a JWT"),
            };
        }

        let claims = match jsonwebtoken::decode::<Value>(header, &self.key, &self.validation) {
            Ok(data) => data.claims,
            Err(e) => {
                let token = match e.kind() {
                    ErrorKind::InvalidSignature => refuse(
                        INVALID_CREDENTIALS,
                        "the signature does not verify with the client secret",
                    ),
                    ErrorKind::InvalidAlgorithm => {
                        refuse(INVALID_CREDENTIALS, "the algorithm is not HS256 or HS512")
                    }
                    _ => refuse(INVALID_TOKEN, format!("the claims do not decode: {e}")),
                };
                return Checked {
                    claims: None,
                    token,
                };
            }
        };

        let kept = if keep_claims {
            Claims::deserialize(&claims).ok()
        } else {
            None
        };
        Checked {
            claims: kept,
            token: self.check_claims(claims),
        }
    }

    fn check_claims(&self, claims: Value) -> Result<Token, Refusal> {
        let app_id = claims.get("appId");
        if app_id.and_then(Value::as_str) != Some(self.app_id.as_str()) {
            let shown = app_id.map_or_else(|| "none".to_owned(), Value::to_string);
            return refuse(
                INVALID_CREDENTIALS,
                format!("appId {shown} is not the client id"),
            );
        }

        let Some(exp) = seconds(claims.get("exp")) else {
            return refuse(EXP_MISSING, "no numeric exp claim");
        };
        let now = unix_now();
        if exp <= now {
            return refuse(JWT_EXPIRED, format!("exp {exp} is not after now ({now})"));
        }
        Ok(Token { claims, exp })
    }
}

/// A claim in seconds: a non-negative number, fractions cut.
fn seconds(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
        crypto::ensure_provider();
        let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
        encode(&Header::new(alg), claims, &key).unwrap()
    }

    fn verifier() -> Verifier {
        Verifier::new("cs-app", "s3cret").unwrap()
    }

    fn msg(checked: Checked) -> &'static str {
        checked.token.unwrap_err().msg
    }

    #[test]
    fn accepts_hs256_and_hs512_and_keeps_the_claims() {
        let now = unix_now();
        let claims = json!({"appId": "cs-app", "sub": "s", "iat": now, "exp": now + 60});
        for alg in [Algorithm::HS256, Algorithm::HS512] {
            let checked = verifier().check(Some(&sign(alg, "s3cret", &claims)), true);
            assert!(checked.token.is_ok());
            assert_eq!(checked.claims.unwrap().app_id, "cs-app");
        }
    }

    #[test]
    fn refuses_with_kore_messages() {
        let now = unix_now();
        let good = json!({"appId": "cs-app", "sub": "s", "exp": now + 60});
        let v = verifier();

        assert_eq!(msg(v.check(None, false)), INVALID_CREDENTIALS);
        assert_eq!(msg(v.check(Some("not a jwt"), false)), INVALID_TOKEN);
        let other_secret = sign(Algorithm::HS256, "other", &good);
        assert_eq!(
            msg(v.check(Some(&other_secret), false)),
            INVALID_CREDENTIALS
        );
        let hs384 = sign(Algorithm::HS384, "s3cret", &good);
        assert_eq!(msg(v.check(Some(&hs384), false)), INVALID_CREDENTIALS);
        let wrong_app = sign(
            Algorithm::HS256,
            "s3cret",
            &json!({"appId": "x", "exp": now + 60}),
        );
        assert_eq!(msg(v.check(Some(&wrong_app), false)), INVALID_CREDENTIALS);
        let expired = sign(
            Algorithm::HS256,
            "s3cret",
            &json!({"appId": "cs-app", "exp": now}),
        );
        assert_eq!(msg(v.check(Some(&expired), false)), JWT_EXPIRED);
        let no_exp = sign(Algorithm::HS256, "s3cret", &json!({"appId": "cs-app"}));
        assert_eq!(msg(v.check(Some(&no_exp), false)), EXP_MISSING);
    }

    #[test]
    fn lifetime_counts_from_iat_or_from_now() {
        let now = unix_now();
        let token = |claims: Value| Token {
            exp: seconds(claims.get("exp")).unwrap(),
            claims,
        };
        assert!(
            token(json!({"iat": now, "exp": now + 3_600}))
                .check_lifetime()
                .is_ok()
        );
        assert!(
            token(json!({"iat": now, "exp": now + 3_601}))
                .check_lifetime()
                .is_err()
        );
        assert!(token(json!({"exp": now + 7_200})).check_lifetime().is_err());
        assert!(
            token(json!({"exp": now as f64 + 600.5}))
                .check_lifetime()
                .is_ok()
        );
    }
}
