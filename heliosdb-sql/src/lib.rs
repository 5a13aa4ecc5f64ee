//! heliosdb-sql: SQL text → plan → rows over heliosdb-core (PostgreSQL dialect).
//!
//! Being built (issue 3). What exists:
//! - [`values`]: SQL semantics on core values — three-valued logic, comparison,
//!   arithmetic with overflow checks, casts, LIKE/ILIKE and scalar functions.
//!
//! The parser, binder, planner and executor come next; until then nothing here runs a
//! statement.
#![forbid(unsafe_code)]

pub mod values;
