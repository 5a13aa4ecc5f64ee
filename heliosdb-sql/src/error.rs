//! Errors of the SQL layer. "Your statement is wrong" (values, execution) is kept apart
//! from "the storage said no" and from "this is a bug in HeliosDB" (`Internal`).

use crate::values::ValueError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The payloads are boxed or strings, so `Result<Value>` stays small: the executor returns
/// one per expression node it evaluates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value could not be computed: division by zero, a bad cast, an overflow.
    #[error(transparent)]
    Value(Box<ValueError>),
    /// The storage engine refused: a missing table, a constraint, a damaged file.
    #[error(transparent)]
    Storage(Box<heliosdb_core::Error>),
    /// The statement cannot run as written (e.g. a subquery returned two rows).
    #[error("{0}")]
    Execution(String),
    /// A bug in HeliosDB: the plan does not match its input. Please report it.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

impl From<ValueError> for Error {
    #[cold]
    fn from(e: ValueError) -> Self {
        Error::Value(Box::new(e))
    }
}

impl From<heliosdb_core::Error> for Error {
    #[cold]
    fn from(e: heliosdb_core::Error) -> Self {
        Error::Storage(Box::new(e))
    }
}
