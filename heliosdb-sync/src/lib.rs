//! heliosdb-sync: replication between HeliosDB Nano databases (issue 4, in progress).
//!
//! Built so far, independent of storage and network:
//! - [`vv`]: version vectors — frontiers (what a node has applied, per origin) and row
//!   contexts (what a row's version has seen), compared for causality;
//! - [`row`]: the per-column merge of concurrent row versions, a state-based CRDT whose
//!   merge is commutative, associative and idempotent;
//! - [`wire`]: versioned, checksummed, compressed messages; hostile bytes get a typed
//!   error.
//!
//! Not yet: reading change sets from the log and applying them to a database, the offline
//! queue API, whole-row last-writer-wins and user resolvers, the conflict table, tombstone
//! collection and the simulation harness. ARCHITECTURE.md's sync section says what is
//! decided and what is open.
#![forbid(unsafe_code)]

pub mod row;
pub mod vv;
pub mod wire;

pub use row::{Cell, RowState, Stamp};
pub use vv::{Causality, Dot, VersionVector};
