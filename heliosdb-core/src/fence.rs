//! A fence around the storage engine: redb answers some kinds of page damage with a panic
//! rather than an error. A library must not panic on a corrupt file, so every call into
//! redb runs inside [`fence`], which turns such a panic into [`Error::Corrupt`].
//!
//! This relies on unwinding; a binary built with `panic = "abort"` aborts instead.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::error::{Error, Result};

/// Runs `f`, reporting a panic inside it as corruption.
pub(crate) fn fence<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    // AssertUnwindSafe: after a caught panic the handle is only used to report errors;
    // redb's own locks turn poisoned and every later call fails (and is fenced) too.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| Err(corrupt(&*panic)))
}

/// Like [`fence`], for a body that also runs a caller's code: `f` is handed a flag to set
/// while that code runs, and a panic raised with the flag set is the caller's bug, not
/// damage, so it unwinds on as it was.
pub(crate) fn fence_around_guest<T>(f: impl FnOnce(&Cell<bool>) -> Result<T>) -> Result<T> {
    let in_guest = Cell::new(false);
    match catch_unwind(AssertUnwindSafe(|| f(&in_guest))) {
        Ok(result) => result,
        Err(panic) if in_guest.get() => resume_unwind(panic),
        Err(panic) => Err(corrupt(&*panic)),
    }
}

fn corrupt(panic: &(dyn Any + Send)) -> Error {
    let why = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown failure");
    Error::Corrupt(format!("the storage engine stopped on damaged data: {why}"))
}
