//! HeliosDB Nano: an embedded database that apps open as a file, in-process.
//!
//! This facade wires the parts together; each lives in its own crate and is switched by a
//! cargo feature (all on by default):
//!
//! | feature | crate | state |
//! | --- | --- | --- |
//! | (always) | [`heliosdb_core`] | storage engine: typed rows, history, change log |
//! | `sql` | `heliosdb-sql` | SQL (PostgreSQL dialect): [`EmbeddedDatabase`] |
//! | `vector` | `heliosdb-vector` | distances, HNSW segments (SQL vector search is in `sql`: [`EmbeddedDatabase::search`]) |
//! | `crypto` | `heliosdb-crypto` | encryption at rest: [`EmbeddedDatabase::open_encrypted`], [`open_encrypted`] |
//! | `compress` | `heliosdb-compress` | not built yet |
//! | `sync` (alias `sync-experimental`) | `heliosdb-sync` | replication over QUIC, offline-first |
//!
//! SQL goes through `EmbeddedDatabase` (see the README); the storage engine's own API is
//! underneath:
//!
//! ```
//! use heliosdb_nano::{ColumnSpec, DataType, Database, TableSpec, Value};
//!
//! let db = Database::open_in_memory()?;
//! let mut w = db.begin_write()?;
//! w.create_table(&TableSpec::new("notes")
//!     .column(ColumnSpec::new("id", DataType::Integer))
//!     .column(ColumnSpec::new("body", DataType::Text))
//!     .primary_key(["id"]))?;
//! w.insert("notes", &[Value::Integer(1), Value::from("hello")])?;
//! w.commit()?;
//! assert_eq!(db.begin_read()?.scan("notes", ..)?.count(), 1);
//! # Ok::<(), heliosdb_nano::Error>(())
//! ```
#![forbid(unsafe_code)]

pub use heliosdb_core as core;
pub use heliosdb_core::{
    Change, ChangeRecord, ColumnSpec, CommitInfo, CommitNotice, DataType, Database,
    DatabaseOptions, Error, Hlc, IndexSpec, LogPosition, NodeId, ReadTxn, Result, Row, StoredRow,
    TableSpec, Value, ValueRef, WriteTxn,
};

#[cfg(feature = "compress")]
pub use heliosdb_compress as compress;
#[cfg(feature = "crypto")]
pub use heliosdb_crypto as crypto;
#[cfg(feature = "sql")]
pub use heliosdb_sql as sql;

#[cfg(feature = "sql")]
mod embedded;
#[cfg(feature = "crypto")]
mod encryption;
#[cfg(all(feature = "crypto", feature = "sql"))]
pub use encryption::sql_crypto_error;
#[cfg(feature = "crypto")]
pub use encryption::{CryptoError, KdfParams, KeySource, crypto_error, open_encrypted, open_plain};
#[cfg(feature = "sql")]
mod vectors;
#[cfg(feature = "sql")]
pub use embedded::{
    Column, Connection, EmbeddedDatabase, FromValue, FromValueError, PreparedStatement, ResultRow,
    Rows, STATEMENT_CACHE_TEXTS, SqlError, SqlResult, Transaction,
};
#[cfg(feature = "sync")]
pub use heliosdb_sync as sync;
#[cfg(feature = "vector")]
pub use heliosdb_vector as vector;
#[cfg(feature = "sql")]
pub use vectors::{Neighbor, VectorQuery};

/// The system tables SQL sees over `db`: `heliosdb_compression` and, with the `sync`
/// feature, `heliosdb_conflicts`.
/// `EmbeddedDatabase` registers them itself; a `Session` of your own takes them with
/// `Session::with_system_tables`.
#[cfg(feature = "sql")]
pub fn system_tables(db: &Database) -> heliosdb_sql::system::SystemTables {
    let mut tables = heliosdb_sql::system::SystemTables::new();
    tables.register(
        "heliosdb_compression",
        std::sync::Arc::new(compression::CompressionTable::new(db.clone())),
    );
    #[cfg(feature = "sync")]
    tables.register(
        "heliosdb_conflicts",
        std::sync::Arc::new(conflicts::ConflictsTable::new(db.clone())),
    );
    tables
}

#[cfg(feature = "sql")]
mod compression;
#[cfg(feature = "sql")]
pub use compression::compression_row;

#[cfg(all(feature = "sql", feature = "sync"))]
mod conflicts;
