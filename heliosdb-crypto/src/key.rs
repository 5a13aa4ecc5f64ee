//! Key sources and key derivation.

use crate::error::CryptoError;
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Fewest PBKDF2 iterations accepted when a passphrase protects a file.
pub const MIN_KDF_ITERATIONS: u32 = 10_000;
/// Most PBKDF2 iterations accepted, when creating and when reading a header (a hostile
/// header cannot make an open spin for hours).
pub const MAX_KDF_ITERATIONS: u32 = 100_000_000;
/// Default PBKDF2-HMAC-SHA256 iterations (OWASP 2023 recommendation).
pub const DEFAULT_KDF_ITERATIONS: u32 = 600_000;

/// Where the key-encryption key comes from.
///
/// Its `Debug` output never shows the key or passphrase.
#[derive(Clone)]
pub enum KeySource {
    /// A 256-bit key used directly as the key-encryption key (no KDF).
    Raw(Zeroizing<[u8; 32]>),
    /// A passphrase stretched with PBKDF2-HMAC-SHA256.
    Passphrase(Zeroizing<String>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Raw(_) => f.write_str("KeySource::Raw(<redacted>)"),
            KeySource::Passphrase(_) => f.write_str("KeySource::Passphrase(<redacted>)"),
        }
    }
}

const HEX_KEY_WHY: &str = "a raw key must be exactly 64 hexadecimal digits (32 bytes)";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses exactly 64 hex digits (after trimming whitespace).
fn parse_hex_key(s: &str) -> Option<Zeroizing<[u8; 32]>> {
    let t = s.trim().as_bytes();
    if t.len() != 64 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (i, pair) in t.chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0])?;
        let lo = hex_val(pair[1])?;
        key[i] = (hi << 4) | lo;
    }
    Some(key)
}

impl KeySource {
    /// A raw 256-bit key.
    pub fn raw(key: [u8; 32]) -> KeySource {
        KeySource::Raw(Zeroizing::new(key))
    }

    /// A raw key written as 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<KeySource, CryptoError> {
        parse_hex_key(hex)
            .map(KeySource::Raw)
            .ok_or_else(|| CryptoError::InvalidKey {
                why: HEX_KEY_WHY.to_string(),
            })
    }

    /// A passphrase (stretched with PBKDF2). An empty passphrase is rejected when used.
    pub fn passphrase(p: impl Into<String>) -> KeySource {
        KeySource::Passphrase(Zeroizing::new(p.into()))
    }

    /// Reads the environment variable `var`: 64 hex digits are a raw key, anything else is
    /// a passphrase. A missing or empty variable is [`CryptoError::KeyUnavailable`].
    pub fn from_env(var: &str) -> Result<KeySource, CryptoError> {
        match std::env::var_os(var) {
            None => Err(CryptoError::KeyUnavailable {
                why: format!("environment variable {var} is not set"),
            }),
            Some(v) if v.is_empty() => Err(CryptoError::KeyUnavailable {
                why: format!("environment variable {var} is empty"),
            }),
            Some(v) => {
                let v = Zeroizing::new(v.into_string().map_err(|_| CryptoError::InvalidKey {
                    why: format!("environment variable {var} is not valid UTF-8"),
                })?);
                Ok(match parse_hex_key(&v) {
                    Some(k) => KeySource::Raw(k),
                    None => KeySource::Passphrase(Zeroizing::new(v.to_string())),
                })
            }
        }
    }

    /// Reads a key file: exactly 32 raw bytes, or 64 hex digits (whitespace allowed around).
    pub fn from_file(path: impl AsRef<Path>) -> Result<KeySource, CryptoError> {
        let path = path.as_ref();
        let bytes =
            Zeroizing::new(
                std::fs::read(path).map_err(|e| CryptoError::KeyUnavailable {
                    why: format!("cannot read key file {}: {}", path.display(), e.kind()),
                })?,
            );
        if bytes.len() == 32 {
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(&bytes);
            return Ok(KeySource::Raw(key));
        }
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(parse_hex_key)
            .map(KeySource::Raw)
            .ok_or_else(|| CryptoError::InvalidKey {
                why: format!(
                    "key file {} must hold exactly 32 raw bytes or 64 hexadecimal digits",
                    path.display()
                ),
            })
    }

    /// The KDF id a new header gets for this source.
    pub(crate) fn kdf_id(&self) -> u8 {
        match self {
            KeySource::Raw(_) => KDF_RAW,
            KeySource::Passphrase(_) => KDF_PBKDF2,
        }
    }

    /// Rejects an empty passphrase.
    pub(crate) fn check_usable(&self) -> Result<(), CryptoError> {
        match self {
            KeySource::Passphrase(p) if p.is_empty() => Err(CryptoError::InvalidKey {
                why: "the passphrase is empty".to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// Parameters of the passphrase KDF, used when a file is created or rekeyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// PBKDF2-HMAC-SHA256 iterations ([`MIN_KDF_ITERATIONS`]..=[`MAX_KDF_ITERATIONS`]).
    pub iterations: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            iterations: DEFAULT_KDF_ITERATIONS,
        }
    }
}

impl KdfParams {
    pub(crate) fn validate(&self) -> Result<(), CryptoError> {
        if self.iterations < MIN_KDF_ITERATIONS || self.iterations > MAX_KDF_ITERATIONS {
            return Err(CryptoError::InvalidKey {
                why: format!(
                    "KDF iterations must be between {MIN_KDF_ITERATIONS} and \
                     {MAX_KDF_ITERATIONS}, got {}",
                    self.iterations
                ),
            });
        }
        Ok(())
    }
}

/// KDF id 0: the raw key is the key-encryption key.
pub(crate) const KDF_RAW: u8 = 0;
/// KDF id 1: PBKDF2-HMAC-SHA256.
pub(crate) const KDF_PBKDF2: u8 = 1;

/// Derives the key-encryption key for a header's KDF parameters. A source of the other
/// kind than the header's KDF is the wrong key.
pub(crate) fn derive_kek(
    key: &KeySource,
    kdf_id: u8,
    iterations: u32,
    salt: &[u8; 16],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    key.check_usable()?;
    match (key, kdf_id) {
        (KeySource::Raw(k), KDF_RAW) => Ok(k.clone()),
        (KeySource::Passphrase(p), KDF_PBKDF2) => {
            let iters = NonZeroU32::new(iterations).ok_or_else(|| CryptoError::HeaderCorrupt {
                why: "KDF iteration count is zero".to_string(),
            })?;
            let mut out = Zeroizing::new([0u8; 32]);
            ring::pbkdf2::derive(
                ring::pbkdf2::PBKDF2_HMAC_SHA256,
                iters,
                salt,
                p.as_bytes(),
                &mut out[..],
            );
            Ok(out)
        }
        (_, KDF_RAW | KDF_PBKDF2) => Err(CryptoError::WrongKey),
        (_, other) => Err(CryptoError::HeaderCorrupt {
            why: format!("unknown KDF id {other}"),
        }),
    }
}

/// Measures one passphrase derivation with these parameters (for benchmarks and for
/// choosing an iteration count).
pub fn kdf_time(kdf: KdfParams) -> Duration {
    let iters = NonZeroU32::new(kdf.iterations).unwrap_or(NonZeroU32::MIN);
    let mut out = Zeroizing::new([0u8; 32]);
    let start = Instant::now();
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iters,
        &[0x5a; 16],
        b"heliosdb kdf timing passphrase",
        &mut out[..],
    );
    start.elapsed()
}
