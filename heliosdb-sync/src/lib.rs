//! heliosdb-sync: replication between HeliosDB Nano databases.
//!
//! - [`vv`]: version vectors — frontiers (what a node has applied, per origin) and row
//!   contexts (what a row's version has seen), compared for causality;
//! - [`row`]: the per-row merge of concurrent versions, a state-based CRDT whose merge is
//!   commutative, associative and idempotent, read through a [`ConflictResolver`]
//!   ([`LastWriterWins`] by default, or [`PerColumn`]);
//! - [`node`]: [`SyncNode`] over one database — what a peer lacks
//!   ([`SyncNode::changes_for`]), applying a batch atomically and idempotently
//!   ([`SyncNode::apply`]), recorded conflicts, the offline queue's length and age;
//! - [`wire`]: versioned, checksummed, compressed messages; hostile bytes get a typed
//!   error.
//!
//! ```
//! use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec};
//! use heliosdb_sync::SyncNode;
//!
//! let node = || -> Result<SyncNode, Box<dyn std::error::Error>> {
//!     let db = Database::open_in_memory()?;
//!     let mut w = db.begin_write()?;
//!     w.create_table(&TableSpec::new("notes")
//!         .column(ColumnSpec::new("id", DataType::Integer))
//!         .column(ColumnSpec::new("body", DataType::Text))
//!         .primary_key(["id"]))?;
//!     w.commit()?;
//!     Ok(SyncNode::new(db))
//! };
//! let (a, b) = (node()?, node()?);
//! let mut w = a.database().begin_write()?;
//! w.insert("notes", &[1.into(), "written offline on a".into()])?;
//! w.commit()?;
//! // b says what it has; a answers with what b lacks; b applies it.
//! let batch = a.changes_for(&b.frontier()?, 1000)?;
//! b.apply(&batch)?;
//! assert!(b.database().begin_read()?.get("notes", &[1.into()])?.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Schema changes travel with the data; conflicts are recorded (and readable in SQL as
//! `heliosdb_conflicts` through the facade); acknowledged history is collected.
//!
//! - [`auth`]: biscuit tokens signed by a server's root key — rights per table, expiry,
//!   device id, offline attenuation;
//! - [`jwt`]: HS256 or EdDSA JWT bearer tokens mapped to the same rights;
//! - [`net`]: sync over QUIC (quinn, rustls with ring): [`net::SyncServer`],
//!   [`net::SyncClient`], TLS identities and pinned or CA trust, limits.
//!
//! ARCHITECTURE.md's sync section has the design and what is still open.
#![forbid(unsafe_code)]

pub mod auth;
pub mod jwt;
pub mod net;
pub mod node;
pub mod row;
pub mod vv;
pub mod wire;

pub use node::{ApplyReport, Collected, Conflict, SyncError, SyncNode};
pub use row::{Cell, ConflictResolver, LastWriterWins, PerColumn, RowState, Stamp};
pub use vv::{Causality, Dot, VersionVector};
