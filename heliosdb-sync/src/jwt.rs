//! JWT bearer tokens, for apps that already have an identity provider: HS256 (a shared
//! secret) or EdDSA (an Ed25519 public key), mapped to the same rights as biscuit tokens.
//!
//! The claims HeliosDB reads:
//!
//! | claim | meaning |
//! | --- | --- |
//! | `exp` | required: expiry, seconds since the Unix epoch |
//! | `nbf` | optional: not valid before |
//! | `iss`, `aud` | checked when [`JwtConfig`] names them |
//! | `heliosdb_read`, `heliosdb_write` | arrays of table names (`"*"`: every table) |
//! | `device` (else `sub`) | the client or device id |
//!
//! Only the two configured algorithms are accepted; `none` and every other `alg` are
//! refused, and a token's `alg` must match a key the server has.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::auth::{AuthError, Grant};

/// The largest JWT accepted, in bytes.
pub const JWT_BYTES_MAX: usize = 16 * 1024;

/// Which JWTs a server accepts.
#[derive(Clone, Default)]
pub struct JwtConfig {
    /// The HS256 shared secret, if HS256 tokens are accepted.
    pub hs256_secret: Option<Vec<u8>>,
    /// The raw 32-byte Ed25519 public key, if EdDSA tokens are accepted.
    pub ed25519_public_key: Option<Vec<u8>>,
    /// The `iss` tokens must carry, if any.
    pub issuer: Option<String>,
    /// The `aud` tokens must carry (as a string or in an array), if any.
    pub audience: Option<String>,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("hs256", &self.hs256_secret.is_some())
            .field("eddsa", &self.ed25519_public_key.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Whether `token` looks like a JWT (three dot-separated parts) rather than a biscuit.
pub fn is_jwt(token: &str) -> bool {
    token.trim().split('.').count() == 3
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<u64>,
    nbf: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
    sub: Option<String>,
    device: Option<String>,
    #[serde(default)]
    heliosdb_read: Vec<String>,
    #[serde(default)]
    heliosdb_write: Vec<String>,
}

fn part(encoded: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| AuthError::Garbled(format!("the JWT's {what} is not base64url: {e}")))
}

/// Verifies a JWT against `config` at time `now`.
pub fn verify_jwt(config: &JwtConfig, token: &str, now: SystemTime) -> Result<Grant, AuthError> {
    let token = token.trim();
    if token.len() > JWT_BYTES_MAX {
        return Err(AuthError::Garbled(format!(
            "a JWT of {} bytes, over the {JWT_BYTES_MAX}-byte limit",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Garbled("a JWT has three parts".into()));
    };
    let header: Header = serde_json::from_slice(&part(h, "header")?)
        .map_err(|e| AuthError::Garbled(format!("the JWT header: {e}")))?;
    let signature = part(sig, "signature")?;
    let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
    let verified = match header.alg.as_str() {
        "HS256" => {
            let secret = config.hs256_secret.as_ref().ok_or_else(|| {
                AuthError::Denied("this server does not accept HS256 JWTs".into())
            })?;
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::verify(&key, signed, &signature).is_ok()
        }
        "EdDSA" => {
            let public = config.ed25519_public_key.as_ref().ok_or_else(|| {
                AuthError::Denied("this server does not accept EdDSA JWTs".into())
            })?;
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
                .verify(signed, &signature)
                .is_ok()
        }
        other => {
            return Err(AuthError::Denied(format!(
                "JWT algorithm {other:?} is not accepted (HS256 or EdDSA only)"
            )));
        }
    };
    if !verified {
        return Err(AuthError::Tampered);
    }
    let claims: Claims = serde_json::from_slice(&part(p, "payload")?)
        .map_err(|e| AuthError::Garbled(format!("the JWT claims: {e}")))?;
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    let expires = at(claims.exp.ok_or(AuthError::NoExpiry)?);
    if now >= expires {
        return Err(AuthError::Expired {
            expired_at: expires,
            now,
        });
    }
    if let Some(nbf) = claims.nbf
        && now < at(nbf)
    {
        return Err(AuthError::Denied("the JWT is not valid yet (nbf)".into()));
    }
    if let Some(issuer) = &config.issuer
        && claims.iss.as_deref() != Some(issuer.as_str())
    {
        return Err(AuthError::Denied(format!(
            "the JWT's issuer is {:?}, not {issuer:?}",
            claims.iss
        )));
    }
    if let Some(audience) = &config.audience {
        let ok = match &claims.aud {
            Some(Audience::One(a)) => a == audience,
            Some(Audience::Many(list)) => list.contains(audience),
            None => false,
        };
        if !ok {
            return Err(AuthError::Denied(format!(
                "the JWT is not for audience {audience:?}"
            )));
        }
    }
    Ok(Grant::from_lists(
        claims.heliosdb_read,
        claims.heliosdb_write,
        expires,
        claims.device.or(claims.sub),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn hs256(secret: &[u8], header: &str, claims: &str) -> String {
        let signed = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, signed.as_bytes());
        format!("{signed}.{}", b64(tag.as_ref()))
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    const CLAIMS: &str =
        r#"{"exp":1800003600,"sub":"phone-1","heliosdb_read":["*"],"heliosdb_write":["notes"]}"#;

    #[test]
    fn hs256_maps_claims_to_rights() {
        let config = JwtConfig {
            hs256_secret: Some(b"s3cret".to_vec()),
            ..JwtConfig::default()
        };
        let token = hs256(b"s3cret", r#"{"alg":"HS256","typ":"JWT"}"#, CLAIMS);
        assert!(is_jwt(&token));
        let grant = verify_jwt(&config, &token, now()).unwrap();
        assert!(grant.can_read("anything") && grant.can_write("notes"));
        assert!(!grant.can_write("secret"));
        assert_eq!(grant.device.as_deref(), Some("phone-1"));
        // Expired, wrong secret, tampered payload, alg none, unconfigured alg.
        let late = UNIX_EPOCH + Duration::from_secs(1_800_003_600);
        assert!(matches!(
            verify_jwt(&config, &token, late),
            Err(AuthError::Expired { .. })
        ));
        let other = hs256(b"other", r#"{"alg":"HS256"}"#, CLAIMS);
        assert!(matches!(
            verify_jwt(&config, &other, now()),
            Err(AuthError::Tampered)
        ));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(CLAIMS.replace("notes", "secret").as_bytes());
        parts[1] = &forged;
        assert!(matches!(
            verify_jwt(&config, &parts.join("."), now()),
            Err(AuthError::Tampered)
        ));
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(CLAIMS.as_bytes()));
        assert!(matches!(
            verify_jwt(&config, &none, now()),
            Err(AuthError::Denied(_))
        ));
        let eddsa = hs256(b"s3cret", r#"{"alg":"EdDSA"}"#, CLAIMS);
        assert!(matches!(
            verify_jwt(&config, &eddsa, now()),
            Err(AuthError::Denied(_))
        ));
        assert!(matches!(
            verify_jwt(&config, "a.b", now()),
            Err(AuthError::Garbled(_))
        ));
        let no_exp = hs256(
            b"s3cret",
            r#"{"alg":"HS256"}"#,
            r#"{"heliosdb_read":["*"]}"#,
        );
        assert!(matches!(
            verify_jwt(&config, &no_exp, now()),
            Err(AuthError::NoExpiry)
        ));
    }

    #[test]
    fn eddsa_and_audience() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let config = JwtConfig {
            ed25519_public_key: Some(pair.public_key().as_ref().to_vec()),
            audience: Some("heliosdb".into()),
            ..JwtConfig::default()
        };
        let sign = |claims: &str| {
            let signed = format!("{}.{}", b64(br#"{"alg":"EdDSA"}"#), b64(claims.as_bytes()));
            format!("{signed}.{}", b64(pair.sign(signed.as_bytes()).as_ref()))
        };
        let with_aud = r#"{"exp":1800003600,"aud":["x","heliosdb"],"heliosdb_read":["notes"]}"#;
        let grant = verify_jwt(&config, &sign(with_aud), now()).unwrap();
        assert!(grant.can_read("notes") && !grant.can_read("secret") && !grant.can_write("notes"));
        let without = r#"{"exp":1800003600,"heliosdb_read":["notes"]}"#;
        assert!(matches!(
            verify_jwt(&config, &sign(without), now()),
            Err(AuthError::Denied(_))
        ));
    }
}
