//! heliosdb-crypto: transparent encryption at rest for HeliosDB Nano.
//!
//! [`EncryptedFile`] is a [`redb::StorageBackend`] that encrypts and authenticates every
//! byte redb stores, with AES-256-GCM (ring). A stolen file reveals no values, keys, table
//! or column names, and no sizes beyond the file's own length.
//!
//! ```no_run
//! use heliosdb_crypto::{EncryptedFile, KeySource};
//! let key = KeySource::from_env("HELIOSDB_KEY")?;
//! let db = redb::Builder::new().create_with_backend(EncryptedFile::open("app.db", &key)?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Keys
//!
//! A random 256-bit **data key** (DEK) encrypts the blocks. It is stored only wrapped
//! (AES-256-GCM) under a **key-encryption key** (KEK): either a raw 256-bit key
//! ([`KeySource::raw`], [`KeySource::from_hex`], [`KeySource::from_file`]) used directly,
//! or PBKDF2-HMAC-SHA256 of a passphrase ([`KeySource::passphrase`]; [`KdfParams`], default
//! 600 000 iterations, at least 10 000). [`rekey`] rewraps the DEK (milliseconds, any size);
//! [`reencrypt`] replaces the DEK and re-seals every block. DEK, KEK and passphrase buffers
//! are [`zeroize::Zeroizing`]; `Debug` output and error messages never contain key bytes or
//! passphrases. ring's expanded AES key schedule inside `LessSafeKey` is not zeroized by
//! ring when dropped.
//!
//! # On-disk format, version 1
//!
//! All integers are little-endian. `B` = 4096 (plaintext block size = redb's page size),
//! `S` = 4128 (one block slot: B + 32 bytes of overhead).
//!
//! ```text
//! physical offset        contents
//! 0                      header slot 0 (4096 bytes)
//! 4096                   header slot 1 (4096 bytes)
//! 8192                   block slot 0: logical block 0, copy A
//! 8192 + S               block slot 1: logical block 0, copy B
//! 8192 + (i + 1) * S     block slot i + 1: logical block i, for i >= 1
//! ```
//!
//! ## Header slot (4096 bytes, plaintext)
//!
//! ```text
//! offset  size  field
//! 0       8     magic b"HDBNCRYP"
//! 8       2     format version u16 = 1
//! 10      4     block size u32 = 4096
//! 14      8     generation u64 (the valid slot with the higher one wins; tie: slot 0)
//! 22      16    file id (random at creation, fixed for the file's life; in every block's AAD)
//! 38      4     key epoch u32 (data-key id: 0 at creation, +1 per reencrypt; in the AAD)
//! 42      1     kdf id u8: 0 = raw key is the KEK, 1 = PBKDF2-HMAC-SHA256(passphrase)
//! 43      4     kdf iterations u32 (0 for kdf 0; 1..=100 000 000 accepted when reading)
//! 47      16    salt
//! 63      32    key check value = HMAC-SHA256(KEK, "heliosdb key check v1")
//! 95      12    wrap nonce (random)
//! 107     32    wrapped DEK: AES-256-GCM(KEK, DEK), AAD = slot bytes 0..95
//! 139     16    GCM tag of the wrapped DEK
//! 155     4     CRC32C u32 of slot bytes 0..155 followed by 159..4096
//! 159     3937  zero
//! ```
//!
//! Opening reads both slots. A slot is a candidate when its magic, version and CRC32C hold
//! (the CRC tells a torn or damaged slot from a wrong key without any key). The candidate
//! with the highest generation is used, and only it: its key check value must match the
//! derived KEK ([`CryptoError::WrongKey`] otherwise), then the DEK must unwrap
//! ([`CryptoError::HeaderCorrupt`] otherwise). No candidate: `HeaderCorrupt` (or
//! [`CryptoError::UnsupportedVersion`] when a slot has another version; no magic in
//! either slot: [`CryptoError::NotEncrypted`]). [`rekey`] writes the slot not in use with
//! generation g+1 under the new KEK, fsyncs, then the other slot with g+2, fsyncs: after a
//! crash at any point exactly one of the two keys opens the file.
//!
//! ## Block slot (4128 bytes; the last slot of the file may be shorter)
//!
//! ```text
//! offset  size  field
//! 0       12    nonce (fresh random from ring's SystemRandom for every write of the block)
//! 12      1     flags u8: bit 0 = "this is the last logical block"; other bits 0
//! 13      3     seq, u24: write sequence number of a copy of block 0; 0 for other blocks
//! 16      n     ciphertext of the block's plaintext (n = 4096, or the tail length)
//! 16 + n  16    GCM tag
//! ```
//!
//! AAD (33 bytes) = file id [16] ‖ logical block index u64 ‖ flags u8 ‖ seq u32 ‖ key
//! epoch u32. So a block moved to another position, copied from another file or from
//! before a [`reencrypt`], or with its flags changed, fails with
//! [`CryptoError::Integrity`].
//!
//! ## Length
//!
//! The logical length L is derived from the physical length P alone. L = 0 ⇔ P = 8192.
//! Otherwise let d = P − 8192, r = d mod S: if r = 0 the file has d/S slots, all whole;
//! if 0 < r ≤ 32 the file is truncated; else it has d/S + 1 slots, the last with a tail of
//! r − 32 bytes. With k ≥ 2 slots, L = (k − 2) · 4096 + (tail, or 4096 when r = 0); k < 2
//! (or 0 < P < 8192) is truncated. Both copies of block 0 have the same ciphertext length,
//! min(L, 4096); slot 0 is padded to S bytes when L < 4096, so slot 1 ends the file.
//!
//! ## Truncation
//!
//! The physically last block must carry the last flag, or the file was cut at a block
//! boundary ([`CryptoError::Truncated`]); this is checked at open (the last block is read
//! and verified) and on every read of the last block, and `len()` compares the physical
//! length with the expected one. A last flag on a block in the middle is accepted: that is
//! a growth interrupted before its final step. `set_len` growth writes the new blocks
//! (sealed zeros, the new last one flagged) and then reseals the old last block without
//! the flag; shrinking reseals the new last block with the flag and then cuts the file.
//!
//! ## Torn writes
//!
//! redb rewrites its own header, in logical block 0, in place on every commit; a torn
//! block would fail authentication and make the database unopenable. So block 0 has two
//! slots. Each write of block 0 goes to the slot *not* holding the live copy, with the
//! live copy's seq + 1 (mod 2^24); opening authenticates both and takes the valid one with
//! the newer seq (serial-number comparison: the two differ by one). A torn write of block
//! 0 leaves the previous copy, which is what redb's own two-slot header recovery expects.
//! The seq is 24 bits rather than 64 to keep the slot at 4128 bytes; the comparison only
//! ever sees neighbours, so wrapping is harmless.
//!
//! Every other block is written copy-on-write by redb: a page being overwritten is never
//! referenced by the last durable commit, so a torn one is never read after recovery.
//! Our own in-place rewrites are the exceptions: the reseal of the old last block when the
//! file grows, and of the new last block when it shrinks. A power loss during exactly that
//! write can leave that one block unreadable (`Integrity`); likewise a crash in the middle
//! of a growth, before redb's next fsync, can leave a tail that fails the open
//! (`Truncated`/`Integrity`). redb's lengths are page multiples, which keeps the resealed
//! block's length unchanged.
//!
//! # Limits
//!
//! * Rollback of a single block to an older version of itself, at the same position, is
//!   not detected (that needs a Merkle tree or a counter outside the file). Neither is
//!   rolling back the whole file, or a header slot, to an older copy: someone who holds an
//!   old key and an old header can still open a file after [`rekey`]; use [`reencrypt`]
//!   after a key compromise.
//! * Nonces are random 96-bit values: keep the number of block writes under one data key
//!   far below 2^32 (the NIST bound for a 2^-32 collision chance). At 10 000 block writes
//!   a second that is about five days of continuous writing; [`reencrypt`] resets the
//!   count with a new data key.
//! * [`reencrypt`] needs free space for a second copy of the file.
//! * The file is locked exclusively (OS advisory lock) from open until the handle is
//!   dropped or closed; a second open gets [`CryptoError::Locked`].
//!
//! # Errors from the backend
//!
//! The `StorageBackend` methods return `std::io::Error`s; those raised here have kind
//! `InvalidData` and carry a [`CryptoError`], recovered with [`CryptoError::from_io`].
//! Reads past the end are `UnexpectedEof` without a `CryptoError`.
#![forbid(unsafe_code)]

mod error;
mod file;
mod header;
mod key;
mod ops;

pub use error::CryptoError;
pub use file::EncryptedFile;
pub use key::{
    DEFAULT_KDF_ITERATIONS, KdfParams, KeySource, MAX_KDF_ITERATIONS, MIN_KDF_ITERATIONS, kdf_time,
};
pub use ops::{is_encrypted, reencrypt, rekey};
