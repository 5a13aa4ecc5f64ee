//! heliosdb-vector: distances with pgvector's semantics, exact top-k, and HNSW segments.
//!
//! The crate knows `&[f32]`, keys and segments; it knows nothing about SQL, storage or the
//! network. The SQL layer stores [`Segment::encode`]d bytes, feeds a [`VectorIndex`] the
//! rows that changed since a segment was built, and asks it for the top `k`.
//!
//! Graphs are built with instant-distance and searched with this crate's own code (so that
//! `ef` can be chosen per query), over one flat vector array per segment. The persisted
//! format is this crate's own ([`Segment::encode`]), never instant-distance's.
//!
//! `unsafe` is allowed only in the SIMD kernels (module `simd`).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod distance;
mod error;
mod index;
mod key;
mod segment;
mod simd;

#[cfg(test)]
mod compare_tests;
// Lets the shared test helpers in tests/common name the crate from unit tests too.
#[cfg(test)]
extern crate self as heliosdb_vector;

pub use distance::{
    Metric, brute_force, brute_force_batch, distance, dot, kernel_name, l2_squared, norm,
};
pub use error::{Error, Result};
pub use index::VectorIndex;
pub use key::Key;
pub use segment::{
    DEFAULT_SEED, FORMAT_VERSION, HnswParams, INVALID, MAGIC, Scratch, Segment, UPPER_LINKS,
    ZERO_LINKS,
};
