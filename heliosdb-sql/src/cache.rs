//! A cache of parsed statements by their SQL text, so an application that runs the same
//! text again and again (`tx.execute("INSERT ...", params)` in a loop) parses it once, as
//! if it had prepared it. Bounded: past `capacity` texts, the least recently used goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ast::Statement;
use crate::parser::{self, ParseError};

/// Parsed statements by SQL text; cheap to share between threads.
#[derive(Debug)]
pub struct StatementCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_text: HashMap<String, (Arc<Vec<Statement>>, u64)>,
    /// A use counter: the entry with the smallest stamp is the least recently used.
    clock: u64,
}

/// Texts longer than this are parsed every time rather than kept (a bulk INSERT with its
/// values written in is seldom run twice).
const TEXT_BYTES_MAX: usize = 16 * 1024;

impl StatementCache {
    pub fn new(capacity: usize) -> Self {
        StatementCache {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// The statements of `sql`, parsed now or found from an earlier call.
    pub fn parse(&self, sql: &str) -> Result<Arc<Vec<Statement>>, ParseError> {
        if self.capacity == 0 || sql.len() > TEXT_BYTES_MAX {
            return Ok(Arc::new(parser::parse(sql)?));
        }
        if let Some(found) = self.lock().touch(sql) {
            return Ok(found);
        }
        // Parse outside the lock; a text that fails to parse is not kept.
        let parsed = Arc::new(parser::parse(sql)?);
        let mut entries = self.lock();
        if entries.by_text.len() >= self.capacity {
            entries.evict_oldest();
        }
        let stamp = entries.tick();
        entries
            .by_text
            .insert(sql.to_owned(), (parsed.clone(), stamp));
        Ok(parsed)
    }

    /// How many texts are kept.
    pub fn len(&self) -> usize {
        self.lock().by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves the map consistent (every change is one
        // insert or remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Entries {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn touch(&mut self, sql: &str) -> Option<Arc<Vec<Statement>>> {
        let stamp = self.tick();
        let (statements, used) = self.by_text.get_mut(sql)?;
        *used = stamp;
        Some(statements.clone())
    }

    /// Drops the least recently used half (at least one entry), so that a stream of texts
    /// that never repeat costs an eviction pass only every `capacity / 2` misses.
    fn evict_oldest(&mut self) {
        let mut stamps: Vec<u64> = self.by_text.values().map(|(_, used)| *used).collect();
        if stamps.is_empty() {
            return;
        }
        let at = stamps.len() - stamps.len() / 2 - 1;
        let (_, &mut cut, _) = stamps.select_nth_unstable(at);
        self.by_text.retain(|_, (_, used)| *used > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_parses_and_evicts_the_least_recently_used() {
        let cache = StatementCache::new(2);
        let a1 = cache.parse("SELECT 1").unwrap();
        let a2 = cache.parse("SELECT 1").unwrap();
        assert!(Arc::ptr_eq(&a1, &a2), "the second call reuses the parse");
        cache.parse("SELECT 2").unwrap();
        cache.parse("SELECT 1").unwrap(); // 1 is now newer than 2
        cache.parse("SELECT 3").unwrap(); // full: evicts the older half, 2
        assert_eq!(cache.len(), 2);
        let a3 = cache.parse("SELECT 1").unwrap();
        assert!(Arc::ptr_eq(&a1, &a3), "SELECT 1 was kept");
        // Many texts that never repeat keep the cache within its capacity.
        let many = StatementCache::new(10);
        for i in 0..1000 {
            many.parse(&format!("SELECT {i}")).unwrap();
            assert!(many.len() <= 10);
        }
        // A syntax error is reported every time and never kept.
        assert!(cache.parse("SELEC 1").is_err());
        assert!(cache.parse("SELEC 1").is_err());
        assert_eq!(cache.len(), 2);
        // A cache of capacity 0 keeps nothing.
        let none = StatementCache::new(0);
        none.parse("SELECT 1").unwrap();
        assert!(none.is_empty());
    }
}
