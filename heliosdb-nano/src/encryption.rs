//! Encryption at rest: a database file opened through heliosdb-crypto's encrypting storage
//! backend. Every byte redb writes (rows, keys, the catalog, the change log, sync's offline
//! state) passes through it; only a small header (magic, format version, KDF parameters,
//! salt, key check value, the wrapped data key) is in the clear.

use std::path::Path;

use heliosdb_core::{Database, DatabaseOptions, Error, Result};
pub use heliosdb_crypto::{CryptoError, KdfParams, KeySource};

/// Opens (or creates) the encrypted database at `path` with `key`.
///
/// A wrong key, a tampered block or a truncated file is an [`Error::Backend`] holding a
/// [`CryptoError`]; [`crypto_error`] gets it back.
pub fn open_encrypted(
    path: impl AsRef<Path>,
    key: &KeySource,
    options: DatabaseOptions,
) -> Result<Database> {
    let path = path.as_ref();
    let file = heliosdb_crypto::EncryptedFile::open(path, key).map_err(backend)?;
    Database::open_with_backend(file, &path.display().to_string(), options)
}

/// Opens (or creates) the unencrypted database at `path`. An encrypted file is refused
/// with an error that says to pass its key, instead of "not a database".
pub fn open_plain(path: impl AsRef<Path>, options: DatabaseOptions) -> Result<Database> {
    let path = path.as_ref();
    match Database::open_with(path, options) {
        Err(Error::NotADatabase { .. }) if heliosdb_crypto::is_encrypted(path).unwrap_or(false) => {
            Err(backend(CryptoError::KeyUnavailable {
                why: format!(
                    "'{}' is encrypted; open it with its key (EmbeddedDatabase::open_encrypted, \
                     or the CLI's --key-env, --key-file or --passphrase)",
                    path.display()
                ),
            }))
        }
        other => other,
    }
}

/// The [`CryptoError`] inside `e`, when encryption at rest is what failed.
pub fn crypto_error(e: &Error) -> Option<&CryptoError> {
    e.backend_error::<CryptoError>()
}

fn backend(e: CryptoError) -> Error {
    match e {
        // Plain I/O (a missing directory, no permission) stays an I/O error.
        CryptoError::Io(io) => Error::Io(io),
        other => Error::Backend(Box::new(other)),
    }
}

/// The [`CryptoError`] inside a SQL error, when encryption at rest is what failed.
#[cfg(feature = "sql")]
pub fn sql_crypto_error(e: &crate::SqlError) -> Option<&CryptoError> {
    match e {
        crate::SqlError::Exec(heliosdb_sql::error::Error::Storage(core)) => crypto_error(core),
        _ => None,
    }
}
