//! The crate's typed errors.

use std::io;

/// Everything that can go wrong when opening, reading, writing or rekeying an encrypted file.
///
/// No message ever contains key bytes or a passphrase.
///
/// Errors raised inside [`redb::StorageBackend`] methods travel through redb as
/// [`std::io::Error`]s of kind [`io::ErrorKind::InvalidData`] that carry a `CryptoError`;
/// [`CryptoError::from_io`] recovers it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key or passphrase does not match the one the file was created (or rekeyed) with.
    #[error("wrong key: the key or passphrase does not open this database")]
    WrongKey,
    /// A key was given, but the file is not an encrypted HeliosDB file.
    #[error("{path} is not an encrypted HeliosDB database (no encryption header)")]
    NotEncrypted {
        /// The file.
        path: String,
    },
    /// A data block failed authentication: modified, moved, or corrupt.
    #[error("integrity check failed for block {block}: the file was modified or is corrupt")]
    Integrity {
        /// The logical block (4096-byte unit of the database) that failed.
        block: u64,
    },
    /// The file is shorter than its own structure says it must be.
    #[error("the encrypted file is truncated: {why}")]
    Truncated {
        /// What is missing.
        why: String,
    },
    /// Neither header slot is usable.
    #[error("the encryption header is corrupt: {why}")]
    HeaderCorrupt {
        /// What is wrong.
        why: String,
    },
    /// The file was written by a newer (or unknown) version of the format.
    #[error("unsupported encryption format version {found} (this build supports {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this build writes and reads.
        supported: u16,
    },
    /// The key material given is malformed, or a parameter is out of range.
    #[error("invalid key: {why}")]
    InvalidKey {
        /// What is wrong (never the key itself).
        why: String,
    },
    /// The key could not be obtained (missing environment variable, unreadable key file).
    #[error("key unavailable: {why}")]
    KeyUnavailable {
        /// Where the key was looked for.
        why: String,
    },
    /// Another handle (this process or another) holds the file open.
    #[error("{path} is already open (locked by another handle)")]
    Locked {
        /// The file.
        path: String,
    },
    /// An operating-system I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl CryptoError {
    /// Recovers the typed error from an [`io::Error`] produced by [`crate::EncryptedFile`]'s
    /// storage-backend methods (as redb hands it back).
    pub fn from_io(e: &io::Error) -> Option<&CryptoError> {
        e.get_ref()?.downcast_ref::<CryptoError>()
    }

    /// Converts into the `io::Error` a storage-backend method returns. Plain I/O errors
    /// pass through unchanged; everything else becomes kind `InvalidData` carrying `self`.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            CryptoError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
