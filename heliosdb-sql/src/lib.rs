//! heliosdb-sql: SQL text → plan → rows over heliosdb-core (PostgreSQL dialect).
//!
//! - [`parser`] turns text into the [`ast`] (every node carries its source span; errors
//!   name the line and column and draw a caret);
//! - [`bind`] resolves names against the catalog and builds a [`plan`], pushing WHERE
//!   conjuncts into joins and primary-key ranges;
//! - [`prune`] tells each scan which columns the plan reads;
//! - [`exec`] pushes rows from the scans through the plan into sinks, over a snapshot or
//!   the write transaction;
//! - [`values`] holds the SQL semantics of values (three-valued logic, casts, functions);
//! - [`vector`] keeps HNSW indexes on VECTOR columns (persisted in the file, brought up to
//!   date from the change log) and [`knn`] plans `ORDER BY col <op> q LIMIT k` onto them;
//! - [`session`] runs statements with PostgreSQL's transaction rules; [`explain`] prints
//!   plans; [`cache`] keeps parsed statements by their SQL text; [`system`] lets layers
//!   above provide read-only tables by name.
//!
//! Not yet: RIGHT/FULL joins, triggers, recursive CTEs.
#![forbid(unsafe_code)]

pub mod ast;
pub mod bind;
pub mod cache;
pub mod constraints;
pub mod error;
pub mod exec;
pub mod explain;
pub mod knn;
pub mod parser;
pub mod plan;
pub mod prune;
pub mod session;
pub mod system;
pub mod values;
pub mod vector;
pub mod views;
