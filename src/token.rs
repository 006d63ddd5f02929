//! Minting the `auth` JWT: a fresh token, with a fresh `jti`, per request.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::crypto;

/// The signing algorithm of the JWT.
///
/// Kore.ai apps offer HS256 and HS512; the API guide shows HS256, which is
/// the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (the default).
    #[default]
    Hs256,
    /// HMAC with SHA-512.
    Hs512,
}

impl Algorithm {
    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::Hs512 => jsonwebtoken::Algorithm::HS512,
        }
    }
}

/// The claims this crate puts in every token it mints.
///
/// Public so that test kits and servers can decode what the client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The app's client id, spelled `appId` on the wire.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// The subject; Kore.ai accepts any string.
    pub sub: String,
    /// Issued at, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Expiry, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// A random, never repeated token id (apps with "Enforce JTI" need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A string that never prints: `Debug` shows `[redacted]`, and there is no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where the `auth` header comes from.
#[derive(Clone)]
pub(crate) enum TokenSource {
    /// Mint a new token for every request.
    Mint(Box<Minter>),
    /// A token the caller made, sent as is.
    Fixed(Secret),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Mint(minter) => f.debug_tuple("Mint").field(minter).finish(),
            TokenSource::Fixed(_) => f.write_str("Fixed([redacted])"),
        }
    }
}

impl TokenSource {
    pub(crate) fn token(&self) -> Result<Secret, Error> {
        match self {
            TokenSource::Mint(minter) => minter.mint(),
            TokenSource::Fixed(token) => Ok(token.clone()),
        }
    }
}

/// Signs tokens for one app. The key and the encoded header are built once;
/// each token costs one claims encoding and one HMAC.
#[derive(Clone)]
pub(crate) struct Minter {
    app_id: String,
    subject: String,
    lifetime: Duration,
    header: Header,
    /// The header, as JSON in base64url, followed by the `.` separator.
    header_part: String,
    key: EncodingKey,
    rng: SystemRandom,
}

impl fmt::Debug for Minter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minter")
            .field("app_id", &self.app_id)
            .field("subject", &self.subject)
            .field("lifetime", &self.lifetime)
            .field("algorithm", &self.header.alg)
            .finish_non_exhaustive()
    }
}

impl Minter {
    pub(crate) fn new(
        app_id: &str,
        secret: &Secret,
        subject: &str,
        algorithm: Algorithm,
        lifetime: Duration,
    ) -> Result<Self, Error> {
        crypto::ensure_provider();
        let key = EncodingKey::from_secret(secret.expose().as_bytes())
            .map_err(|_| Error::Config("the client secret is empty".into()))?;
        let header = Header::new(algorithm.to_jwt());
        let header_json =
            serde_json::to_vec(&header).map_err(|e| Error::Token(Box::new(e.into())))?;
        let mut header_part = base64url(&header_json);
        header_part.push('.');
        Ok(Self {
            app_id: app_id.to_owned(),
            subject: subject.to_owned(),
            lifetime,
            header,
            header_part,
            key,
            rng: SystemRandom::new(),
        })
    }

    /// A new signed token, valid from now for the configured lifetime.
    pub(crate) fn mint(&self) -> Result<Secret, Error> {
        let now = unix_now();
        let claims = Claims {
            app_id: self.app_id.clone(),
            sub: self.subject.clone(),
            iat: Some(now),
            exp: Some(now + self.lifetime.as_secs()),
            jti: Some(self.random_id()?),
        };

        let claims_json =
            serde_json::to_vec(&claims).map_err(|e| Error::Token(Box::new(e.into())))?;
        let mut token = self.header_part.clone();
        token.push_str(&base64url(&claims_json));

        // jsonwebtoken signs, through the process's crypto provider.
        let signature = jsonwebtoken::crypto::sign(token.as_bytes(), &self.key, self.header.alg)
            .map_err(|e| Error::Token(Box::new(e)))?;
        token.push('.');
        token.push_str(&signature);
        Ok(Secret::new(token))
    }

    fn random_id(&self) -> Result<String, Error> {
        let mut bytes = [0u8; 16];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| Error::Config("the system random number generator failed".into()))?;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = String::with_capacity(2 * bytes.len());
        for byte in bytes {
            id.push(char::from(HEX[usize::from(byte >> 4)]));
            id.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Ok(id)
    }
}

/// Base64url without padding, as JWTs encode their parts.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // A chunk of 1, 2 or 3 bytes gives 2, 3 or 4 characters.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]));
        }
    }
    out
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, decode};

    use super::*;

    fn minter(algorithm: Algorithm) -> Minter {
        let secret = Secret::new("s3cr3t-value");
        Minter::new(
            "cs-app",
            &secret,
            "offboarding",
            algorithm,
            Duration::from_secs(300),
        )
        .unwrap()
    }

    fn verify(token: &str, algorithm: Algorithm) -> Claims {
        let key = DecodingKey::from_secret(b"s3cr3t-value").unwrap();
        let mut validation = Validation::new(algorithm.to_jwt());
        validation.required_spec_claims.clear();
        decode::<Claims>(token, &key, &validation).unwrap().claims
    }

    #[test]
    fn minted_token_verifies_and_carries_the_documented_claims() {
        let token = minter(Algorithm::Hs256).mint().unwrap();
        let claims = verify(token.expose(), Algorithm::Hs256);

        assert_eq!(claims.app_id, "cs-app");
        assert_eq!(claims.sub, "offboarding");
        let (iat, exp) = (claims.iat.unwrap(), claims.exp.unwrap());
        assert!(iat.abs_diff(unix_now()) <= 2);
        assert_eq!(exp - iat, 300);
        assert_eq!(claims.jti.unwrap().len(), 32);
    }

    #[test]
    fn claims_use_the_wire_spelling_app_id() {
        let token = minter(Algorithm::Hs256).mint().unwrap();
        let data =
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token.expose()).unwrap();
        assert_eq!(data.claims["appId"], "cs-app");
        assert!(data.claims.get("app_id").is_none());
        assert_eq!(data.header.alg, jsonwebtoken::Algorithm::HS256);
    }

    #[test]
    fn base64url_matches_the_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, encoded) in cases {
            assert_eq!(base64url(input.as_bytes()), encoded);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn every_token_has_a_fresh_jti() {
        let minter = minter(Algorithm::Hs512);
        let a = verify(minter.mint().unwrap().expose(), Algorithm::Hs512);
        let b = verify(minter.mint().unwrap().expose(), Algorithm::Hs512);
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("s3cr3t-value");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        let source = TokenSource::Fixed(Secret::new("eyJ.token.sig"));
        assert!(!format!("{source:?}").contains("eyJ"));
        let minted = TokenSource::Mint(Box::new(minter(Algorithm::Hs256)));
        assert!(!format!("{minted:?}").contains("s3cr3t"));
    }
}
