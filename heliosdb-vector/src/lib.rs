//! heliosdb-vector: not built yet.
//!
//! This crate is part of the workspace layout so that the facade's `vector` feature
//! already has a home. It deliberately exports nothing until its issue lands: an
//! empty crate cannot pretend to work.
#![forbid(unsafe_code)]
