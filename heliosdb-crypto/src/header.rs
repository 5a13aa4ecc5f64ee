//! The two 4096-byte header slots: encoding, decoding, key unwrapping.

use crate::error::CryptoError;
use crate::key::{KDF_PBKDF2, KDF_RAW, KdfParams, KeySource, MAX_KDF_ITERATIONS, derive_kek};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

pub(crate) const MAGIC: &[u8; 8] = b"HDBNCRYP";
pub(crate) const FORMAT_VERSION: u16 = 1;
pub(crate) const BLOCK_SIZE: u32 = 4096;
pub(crate) const SLOT_LEN: usize = 4096;
pub(crate) const HEADER_AREA: u64 = 2 * SLOT_LEN as u64;
const KEY_CHECK_LABEL: &[u8] = b"heliosdb key check v1";

// Field offsets inside a slot (see the crate docs).
const OFF_VERSION: usize = 8;
const OFF_BLOCK_SIZE: usize = 10;
const OFF_GENERATION: usize = 14;
const OFF_FILE_ID: usize = 22;
const OFF_EPOCH: usize = 38;
const OFF_KDF_ID: usize = 42;
const OFF_KDF_ITERS: usize = 43;
const OFF_SALT: usize = 47;
const OFF_CHECK: usize = 63;
const OFF_WRAP_NONCE: usize = 95;
const OFF_WRAPPED: usize = 107;
const OFF_WRAP_TAG: usize = 139;
const OFF_CRC: usize = 155;
const END_FIELDS: usize = 159;

/// One decoded slot (before the key is checked).
#[derive(Clone)]
pub(crate) struct Slot {
    pub generation: u64,
    pub file_id: [u8; 16],
    pub key_epoch: u32,
    pub kdf_id: u8,
    pub kdf_iterations: u32,
    pub salt: [u8; 16],
    check: [u8; 32],
    wrap_nonce: [u8; 12],
    wrapped: [u8; 48],
    /// Bytes 0..95 of the slot: the AAD of the wrapped key.
    aad: [u8; OFF_WRAP_NONCE],
}

/// What a slot's bytes turned out to be.
pub(crate) enum SlotParse {
    NoMagic,
    BadVersion(u16),
    Corrupt(String),
    Ok(Box<Slot>),
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

fn slot_crc(b: &[u8]) -> u32 {
    let head = b.get(..OFF_CRC).unwrap_or(&[]);
    let tail = b.get(END_FIELDS..).unwrap_or(&[]);
    crc32c::crc32c_append(crc32c::crc32c(head), tail)
}

pub(crate) fn parse_slot(b: &[u8]) -> SlotParse {
    if b.len() < SLOT_LEN || &b[..8] != MAGIC {
        return SlotParse::NoMagic;
    }
    let version = u16::from_le_bytes(arr(b, OFF_VERSION));
    if version != FORMAT_VERSION {
        return SlotParse::BadVersion(version);
    }
    let crc = u32::from_le_bytes(arr(b, OFF_CRC));
    if crc != slot_crc(&b[..SLOT_LEN]) {
        return SlotParse::Corrupt("header slot checksum mismatch (torn or modified)".into());
    }
    let block_size = u32::from_le_bytes(arr(b, OFF_BLOCK_SIZE));
    if block_size != BLOCK_SIZE {
        return SlotParse::Corrupt(format!("block size {block_size}, expected {BLOCK_SIZE}"));
    }
    let kdf_id = b[OFF_KDF_ID];
    let kdf_iterations = u32::from_le_bytes(arr(b, OFF_KDF_ITERS));
    match kdf_id {
        KDF_RAW => {}
        KDF_PBKDF2 if (1..=MAX_KDF_ITERATIONS).contains(&kdf_iterations) => {}
        KDF_PBKDF2 => {
            return SlotParse::Corrupt(format!(
                "KDF iteration count {kdf_iterations} out of range"
            ));
        }
        other => return SlotParse::Corrupt(format!("unknown KDF id {other}")),
    }
    SlotParse::Ok(Box::new(Slot {
        generation: u64::from_le_bytes(arr(b, OFF_GENERATION)),
        file_id: arr(b, OFF_FILE_ID),
        key_epoch: u32::from_le_bytes(arr(b, OFF_EPOCH)),
        kdf_id,
        kdf_iterations,
        salt: arr(b, OFF_SALT),
        check: arr(b, OFF_CHECK),
        wrap_nonce: arr(b, OFF_WRAP_NONCE),
        wrapped: arr(b, OFF_WRAPPED),
        aad: arr(b, 0),
    }))
}

fn key_check(kek: &[u8; 32]) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, kek);
    let tag = hmac::sign(&k, KEY_CHECK_LABEL);
    arr(tag.as_ref(), 0)
}

fn gcm_key(k: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    let unbound = UnboundKey::new(&AES_256_GCM, k).map_err(|_| CryptoError::InvalidKey {
        why: "AES-256-GCM rejected the key length".into(),
    })?;
    Ok(LessSafeKey::new(unbound))
}

pub(crate) fn aead_key(k: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    gcm_key(k)
}

/// Fills `buf` from the system CSPRNG.
pub(crate) fn random_fill(rng: &SystemRandom, buf: &mut [u8]) -> Result<(), CryptoError> {
    rng.fill(buf).map_err(|_| {
        CryptoError::Io(std::io::Error::other(
            "the system random number generator failed",
        ))
    })
}

impl Slot {
    /// Checks the key against this slot and unwraps the data key.
    pub(crate) fn unwrap_dek(&self, key: &KeySource) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let kek = derive_kek(key, self.kdf_id, self.kdf_iterations, &self.salt)?;
        // Constant-time comparison through ring's HMAC verification.
        let k = hmac::Key::new(hmac::HMAC_SHA256, &kek[..]);
        if hmac::verify(&k, KEY_CHECK_LABEL, &self.check).is_err() {
            return Err(CryptoError::WrongKey);
        }
        let aead = gcm_key(&kek)?;
        let mut buf = Zeroizing::new(self.wrapped);
        let opened = aead
            .open_in_place(
                Nonce::assume_unique_for_key(self.wrap_nonce),
                Aad::from(&self.aad[..]),
                &mut buf[..],
            )
            .map_err(|_| CryptoError::HeaderCorrupt {
                why: "the key is right but the wrapped data key does not authenticate".into(),
            })?;
        let mut dek = Zeroizing::new([0u8; 32]);
        if opened.len() != 32 {
            return Err(CryptoError::HeaderCorrupt {
                why: "wrapped data key has the wrong length".into(),
            });
        }
        dek.copy_from_slice(opened);
        Ok(dek)
    }
}

/// Everything needed to write a new slot.
pub(crate) struct NewSlot<'a> {
    pub generation: u64,
    pub file_id: [u8; 16],
    pub key_epoch: u32,
    pub key: &'a KeySource,
    pub kdf: KdfParams,
    pub dek: &'a [u8; 32],
}

/// Builds the 4096 bytes of a slot, deriving a fresh KEK (new salt) from `key`.
pub(crate) fn build_slot(
    rng: &SystemRandom,
    s: &NewSlot<'_>,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    s.key.check_usable()?;
    let kdf_id = s.key.kdf_id();
    let iterations = if kdf_id == KDF_PBKDF2 {
        s.kdf.validate()?;
        s.kdf.iterations
    } else {
        0
    };
    let mut salt = [0u8; 16];
    random_fill(rng, &mut salt)?;
    let kek = derive_kek(s.key, kdf_id, iterations, &salt)?;
    let mut b = Zeroizing::new(vec![0u8; SLOT_LEN]);
    b[..8].copy_from_slice(MAGIC);
    b[OFF_VERSION..OFF_VERSION + 2].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[OFF_BLOCK_SIZE..OFF_BLOCK_SIZE + 4].copy_from_slice(&BLOCK_SIZE.to_le_bytes());
    b[OFF_GENERATION..OFF_GENERATION + 8].copy_from_slice(&s.generation.to_le_bytes());
    b[OFF_FILE_ID..OFF_FILE_ID + 16].copy_from_slice(&s.file_id);
    b[OFF_EPOCH..OFF_EPOCH + 4].copy_from_slice(&s.key_epoch.to_le_bytes());
    b[OFF_KDF_ID] = kdf_id;
    b[OFF_KDF_ITERS..OFF_KDF_ITERS + 4].copy_from_slice(&iterations.to_le_bytes());
    b[OFF_SALT..OFF_SALT + 16].copy_from_slice(&salt);
    b[OFF_CHECK..OFF_CHECK + 32].copy_from_slice(&key_check(&kek));
    let mut nonce = [0u8; NONCE_LEN];
    random_fill(rng, &mut nonce)?;
    b[OFF_WRAP_NONCE..OFF_WRAPPED].copy_from_slice(&nonce);
    let aad: [u8; OFF_WRAP_NONCE] = arr(&b, 0);
    let aead = gcm_key(&kek)?;
    let mut ct = Zeroizing::new(*s.dek);
    let tag = aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad[..]),
            &mut ct[..],
        )
        .map_err(|_| CryptoError::Io(std::io::Error::other("AES-GCM sealing failed")))?;
    b[OFF_WRAPPED..OFF_WRAP_TAG].copy_from_slice(&ct[..]);
    b[OFF_WRAP_TAG..OFF_CRC].copy_from_slice(tag.as_ref());
    let crc = slot_crc(&b);
    b[OFF_CRC..END_FIELDS].copy_from_slice(&crc.to_le_bytes());
    Ok(b)
}

/// The outcome of reading both slots with a key.
pub(crate) struct Opened {
    pub slot: Box<Slot>,
    /// Index (0 or 1) of the slot that was used.
    pub index: usize,
    pub dek: Zeroizing<[u8; 32]>,
}

/// Picks the slot with the highest generation among those whose checksum holds and opens
/// it with `key`. `area` is whatever of the first 8192 bytes the file has.
pub(crate) fn open_header(area: &[u8], key: &KeySource, path: &str) -> Result<Opened, CryptoError> {
    key.check_usable()?;
    let s0 = area
        .get(..SLOT_LEN)
        .map(parse_slot)
        .unwrap_or(SlotParse::NoMagic);
    let s1 = area
        .get(SLOT_LEN..2 * SLOT_LEN)
        .map(parse_slot)
        .unwrap_or(SlotParse::NoMagic);
    let magic0 = area.len() >= 8 && &area[..8] == MAGIC;
    if !magic0 && matches!(s1, SlotParse::NoMagic) {
        return Err(CryptoError::NotEncrypted {
            path: path.to_string(),
        });
    }
    if area.len() < 2 * SLOT_LEN {
        return Err(CryptoError::Truncated {
            why: format!(
                "the file is {} bytes, shorter than its {}-byte header",
                area.len(),
                2 * SLOT_LEN
            ),
        });
    }
    let mut best: Option<(usize, Box<Slot>)> = None;
    let mut reasons = Vec::new();
    let mut version = None;
    for (i, p) in [s0, s1].into_iter().enumerate() {
        match p {
            SlotParse::Ok(s) => {
                if best
                    .as_ref()
                    .is_none_or(|(_, b)| s.generation > b.generation)
                {
                    best = Some((i, s));
                }
            }
            SlotParse::NoMagic => reasons.push(format!("slot {i}: no magic number")),
            SlotParse::BadVersion(v) => {
                version = Some(v);
                reasons.push(format!("slot {i}: format version {v}"));
            }
            SlotParse::Corrupt(why) => reasons.push(format!("slot {i}: {why}")),
        }
    }
    let Some((index, slot)) = best else {
        if let Some(found) = version {
            return Err(CryptoError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        return Err(CryptoError::HeaderCorrupt {
            why: format!("no usable header slot ({})", reasons.join("; ")),
        });
    };
    let dek = slot.unwrap_dek(key)?;
    Ok(Opened { slot, index, dek })
}
