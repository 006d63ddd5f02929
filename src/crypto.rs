//! A small HMAC-only [`CryptoProvider`] for `jsonwebtoken`, built on `ring`.
//!
//! jsonwebtoken 10+ compiles without a crypto backend and panics on the first
//! signature unless one is installed. Its own backends pull in either the
//! RustCrypto stack or aws-lc; `ring` is already in our tree through ureq's
//! rustls, so HMAC over `ring` costs no extra crate.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::hmac;

/// HMAC over `ring`: HS256, HS384 and HS512. Other algorithms are refused
/// with `UnsupportedAlgorithm`, never a panic.
static RING_HMAC_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes sure jsonwebtoken has a process-wide provider.
///
/// Installs ours only when the process has none (another crate may have
/// enabled one of jsonwebtoken's own backends, or installed its own): the
/// first provider installed wins, and losing that race is fine.
pub(crate) fn ensure_provider() {
    if CryptoProvider::try_get_default().is_none() {
        // An `Err` means another thread installed one in between: also fine.
        let _ = RING_HMAC_PROVIDER.install_default();
    }
}

fn ring_algorithm(algorithm: Algorithm) -> JwtResult<hmac::Algorithm> {
    match algorithm {
        Algorithm::HS256 => Ok(hmac::HMAC_SHA256),
        Algorithm::HS384 => Ok(hmac::HMAC_SHA384),
        Algorithm::HS512 => Ok(hmac::HMAC_SHA512),
        _ => Err(ErrorKind::UnsupportedAlgorithm.into()),
    }
}

struct RingHmac {
    algorithm: Algorithm,
    key: hmac::Key,
}

impl RingHmac {
    fn new(algorithm: Algorithm, family: AlgorithmFamily, secret: &[u8]) -> JwtResult<Self> {
        if family != AlgorithmFamily::Hmac {
            return Err(ErrorKind::InvalidKeyFormat.into());
        }
        let key = hmac::Key::new(ring_algorithm(algorithm)?, secret);
        Ok(Self { algorithm, key })
    }
}

impl Signer<Vec<u8>> for RingHmac {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        Ok(hmac::sign(&self.key, msg).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for RingHmac {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        // `ring` compares in constant time.
        hmac::verify(&self.key, msg, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for RingHmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl JwtVerifier for RingHmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    let signer = RingHmac::new(*algorithm, key.family(), key.as_bytes())?;
    Ok(Box::new(signer))
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    let verifier = RingHmac::new(*algorithm, key.family(), key.try_get_as_bytes()?)?;
    Ok(Box::new(verifier))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Header, Validation, decode, encode};
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn signs_and_verifies_every_hmac_algorithm() {
        ensure_provider();
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let claims = json!({"sub": "s", "exp": 4_000_000_000u64});
            let key = EncodingKey::from_secret(b"top-secret").unwrap();
            let token = encode(&Header::new(algorithm), &claims, &key).unwrap();

            let good = DecodingKey::from_secret(b"top-secret").unwrap();
            let data = decode::<Value>(&token, &good, &Validation::new(algorithm)).unwrap();
            assert_eq!(data.claims["sub"], "s");

            let bad = DecodingKey::from_secret(b"other-secret").unwrap();
            let err = decode::<Value>(&token, &bad, &Validation::new(algorithm)).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidSignature);
        }
    }

    #[test]
    fn refuses_non_hmac_algorithms_without_panicking() {
        ensure_provider();
        let key = EncodingKey::from_secret(b"k").unwrap();
        let err = encode(&Header::new(Algorithm::RS256), &json!({}), &key).unwrap_err();
        // jsonwebtoken itself sees the HMAC key does not fit RS256 first.
        assert_eq!(err.kind(), &ErrorKind::InvalidAlgorithm);
        assert!(new_signer(&Algorithm::RS256, &key).is_err());
        assert!(ring_algorithm(Algorithm::ES256).is_err());
    }
}
