//! End-to-end tests across crates and processes live in `tests/`; helper programs they
//! spawn live in `src/bin/`.
#![forbid(unsafe_code)]
