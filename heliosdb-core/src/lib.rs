//! heliosdb-core: the storage engine of HeliosDB Nano.
//!
//! One redb file holds the catalog, current rows, row history, secondary indexes and the
//! change log. Every commit gets a hybrid-logical-clock timestamp; every row change is
//! logged in the same transaction as the change, so the log is exactly what was committed.
//! Core knows no SQL: it stores typed values under order-preserving keys.
//!
//! ```
//! use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec, Value};
//!
//! let db = Database::open_in_memory()?;
//! let mut w = db.begin_write()?;
//! w.create_table(
//!     &TableSpec::new("sensors")
//!         .column(ColumnSpec::new("id", DataType::Integer))
//!         .column(ColumnSpec::new("reading", DataType::Real))
//!         .primary_key(["id"]),
//! )?;
//! w.insert("sensors", &[Value::Integer(1), Value::Real(21.5)])?;
//! let info = w.commit()?;
//!
//! let r = db.begin_read()?;
//! let row = r.get("sensors", &[Value::Integer(1)])?.expect("row 1 exists");
//! assert_eq!(row.values()?, vec![Value::Integer(1), Value::Real(21.5)]);
//! assert_eq!(r.changes_since(0, 100)?.len(), 2); // CREATE TABLE and the insert
//! assert_eq!(info.commit_seq, 1);
//! # Ok::<(), heliosdb_core::Error>(())
//! ```
#![forbid(unsafe_code)]

mod columnar;
mod compress;
mod db;
mod error;
mod fence;
mod hlc;
pub mod key;
mod log;
mod read;
mod row;
mod schema;
mod storage;
mod value;
mod write;

pub use columnar::{ColumnZone, GROUP_ROWS, GroupHeader, ZoneFilter};
pub use compress::{ColumnStats, FSST_EXTENSION};
pub use db::{CommitNotice, DEFAULT_HISTORY_RETENTION, Database, DatabaseOptions, FORMAT_VERSION};
pub use error::{Error, Result};
pub use hlc::{Clock, Hlc, WallClock, civil_from_days};
pub use log::{Change, ChangeRecord, LogPosition, NodeId, SchemaChange};
pub use read::{AsOfScan, CommitSummary, IndexScan, ReadTxn, Scan, Version, VersionOp};
pub use row::StoredRow;
pub use schema::{
    CATALOG_FORMAT, Catalog, ColumnId, ColumnSchema, ColumnSpec, IndexId, IndexSchema, IndexSpec,
    TableId, TableSchema, TableSpec,
};
pub use storage::{
    ColumnCompression, Layout, STORAGE_EXTENSION, STORAGE_FORMAT, StorageOptions, TableCompression,
};
pub use value::{DataType, VALUE_BYTES_MAX, Value, ValueCow, ValueRef};
pub use write::{
    AUX_KEY_BYTES_MAX, CommitInfo, ReplicatedOrigin, Row, Savepoint, WriteScan, WriteTxn,
};
