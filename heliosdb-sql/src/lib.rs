//! heliosdb-sql: SQL text → plan → rows over heliosdb-core (PostgreSQL dialect).
//!
//! Being built (issue 3). What exists:
//! - [`values`]: SQL semantics on core values — three-valued logic, comparison,
//!   arithmetic with overflow checks, casts, LIKE/ILIKE and scalar functions;
//! - [`plan`]: bound query plans (names resolved to positions and built-ins);
//! - [`exec`]: the executor, pulling rows through scans, filters, projections, joins,
//!   aggregates, sorts, limits, DISTINCT, set operations and subqueries (correlated ones
//!   too) over a snapshot or the write transaction.
//!
//! The parser and the binder that turns syntax into plans come next; until then nothing
//! here runs SQL text.
#![forbid(unsafe_code)]

pub mod error;
pub mod exec;
pub mod plan;
pub mod values;
