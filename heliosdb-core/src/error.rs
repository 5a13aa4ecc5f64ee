//! Typed errors. Each message says what happened and, where there is one, what to do.
//!
//! "Your input is wrong" variants (schema, constraint, type errors) leave the transaction
//! usable and the database unchanged by the failed call. "The file is wrong" variants
//! ([`Error::Corrupt`], [`Error::NewerFormat`], [`Error::NotADatabase`]) are reported at
//! open or on the read that found them, and nothing is written.

use crate::hlc::Hlc;
use crate::value::DataType;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- the file -----
    #[error("the database file is corrupt ({0}); restore it from a backup or a sync peer")]
    Corrupt(String),
    #[error(
        "the database file has format version {found}, newer than this build supports \
         ({supported}); upgrade heliosdb to open it"
    )]
    NewerFormat { found: u32, supported: u32 },
    #[error(
        "'{path}' is not a HeliosDB database ({why}); check the path, or move the file away \
         to create a new database there"
    )]
    NotADatabase { path: String, why: String },
    #[error("the database is already open in another process or handle; close it first")]
    AlreadyOpen,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage error: {0}")]
    Storage(String),
    /// The storage backend refused with its own typed error: encryption at rest reports a
    /// wrong key, a tampered block or a truncated file this way. Recover the typed error
    /// with [`Error::backend_error`].
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),

    // ----- the schema -----
    #[error("no such table: {0}")]
    TableNotFound(String),
    #[error("table {0} already exists")]
    TableExists(String),
    #[error("table {table} has no column {column}")]
    ColumnNotFound { table: String, column: String },
    #[error("table {table} already has a column {column}")]
    ColumnExists { table: String, column: String },
    #[error("no such index: {0}")]
    IndexNotFound(String),
    #[error("index {0} already exists")]
    IndexExists(String),
    #[error("invalid schema: {0}")]
    InvalidSchema(String),

    // ----- the data -----
    #[error("table {table} has {expected} columns but {found} values were given")]
    ArityMismatch {
        table: String,
        expected: usize,
        found: usize,
    },
    #[error("column {table}.{column} is {expected}, but a {found} value was given")]
    TypeMismatch {
        table: String,
        column: String,
        expected: DataType,
        found: &'static str,
    },
    #[error(
        "column {table}.{column} is VECTOR({expected}), but a vector of {found} dimensions was given"
    )]
    VectorDimension {
        table: String,
        column: String,
        expected: u32,
        found: usize,
    },
    #[error(
        "column {table}.{column}: component {index} of the vector is not a finite number (NaN and infinities are not allowed)"
    )]
    VectorNotFinite {
        table: String,
        column: String,
        index: usize,
    },
    #[error("column {table}.{column} is NOT NULL, but NULL was given")]
    NullViolation { table: String, column: String },
    #[error("duplicate primary key {key} in table {table}")]
    DuplicateKey { table: String, key: String },
    #[error("duplicate value {key} for unique index {index} on table {table}")]
    UniqueViolation {
        table: String,
        index: String,
        key: String,
    },
    #[error("the key has {found} values but table {table}'s primary key has {expected}")]
    KeyArity {
        table: String,
        expected: usize,
        found: usize,
    },
    #[error("a value of {bytes} bytes is over the limit of {max} bytes")]
    ValueTooLarge { bytes: u64, max: u64 },

    #[error("invalid savepoint: {0}")]
    InvalidSavepoint(&'static str),

    // ----- time -----
    #[error(
        "history before {horizon} is no longer kept (asked for {requested}); raise \
         history_retention to keep more"
    )]
    HistoryUnavailable { requested: Hlc, horizon: Hlc },
    #[error("{requested} is in the future (now is {now}); a past or present time is needed")]
    FutureTimestamp { requested: Hlc, now: Hlc },
}

impl Error {
    /// The backend's own error of type `T`, when this error is one.
    pub fn backend_error<T: std::error::Error + 'static>(&self) -> Option<&T> {
        match self {
            Error::Backend(inner) => inner.downcast_ref::<T>(),
            Error::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref::<T>()),
            _ => None,
        }
    }
}

/// A custom backend reports its typed errors as `io::Error`s of kind `InvalidData` that
/// carry the error inside (redb's `StorageBackend` speaks `io::Error`); those become
/// [`Error::Backend`], every other I/O error stays [`Error::Io`].
pub(crate) fn from_backend_io(io: std::io::Error) -> Error {
    if io.kind() == std::io::ErrorKind::InvalidData && io.get_ref().is_some() {
        let kind = io.kind();
        return match io.into_inner() {
            Some(inner) => Error::Backend(inner),
            None => Error::Io(kind.into()),
        };
    }
    Error::Io(io)
}

impl From<redb::StorageError> for Error {
    fn from(e: redb::StorageError) -> Self {
        match e {
            redb::StorageError::Corrupted(why) => Error::Corrupt(why),
            redb::StorageError::Io(io) => from_backend_io(io),
            other => Error::Storage(other.to_string()),
        }
    }
}

impl From<redb::TransactionError> for Error {
    fn from(e: redb::TransactionError) -> Self {
        match e {
            redb::TransactionError::Storage(s) => s.into(),
            other => Error::Storage(other.to_string()),
        }
    }
}

impl From<redb::TableError> for Error {
    fn from(e: redb::TableError) -> Self {
        match e {
            redb::TableError::Storage(s) => s.into(),
            other => Error::Storage(other.to_string()),
        }
    }
}

impl From<redb::CommitError> for Error {
    fn from(e: redb::CommitError) -> Self {
        match e {
            redb::CommitError::Storage(s) => s.into(),
            other => Error::Storage(other.to_string()),
        }
    }
}
