//! Hybrid logical clock.
//!
//! An [`Hlc`] is a `u64`: the high 48 bits are milliseconds since the Unix epoch, the low
//! 16 bits a logical counter. It never goes backwards on one node, even when the wall clock
//! does, and [`Clock::observe`] pulls it past timestamps seen from other nodes, so that a
//! change always carries a timestamp greater than every change it could have seen.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

const LOGICAL_BITS: u32 = 16;
const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;

/// A hybrid-logical-clock timestamp.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Hlc(pub u64);

impl Hlc {
    pub const ZERO: Hlc = Hlc(0);
    pub const MAX: Hlc = Hlc(u64::MAX);

    pub fn new(physical_ms: u64, logical: u16) -> Hlc {
        Hlc((physical_ms << LOGICAL_BITS) | u64::from(logical))
    }

    /// The latest timestamp within wall-clock millisecond `ms`: "as of `ms`" includes every
    /// commit made during that millisecond.
    pub fn at_unix_ms(ms: u64) -> Hlc {
        Hlc((ms << LOGICAL_BITS) | LOGICAL_MASK)
    }

    pub fn physical_ms(self) -> u64 {
        self.0 >> LOGICAL_BITS
    }

    pub fn logical(self) -> u16 {
        (self.0 & LOGICAL_MASK) as u16
    }

    /// Saturating subtraction of a wall-clock duration.
    pub fn saturating_sub_ms(self, ms: u64) -> Hlc {
        Hlc::new(self.physical_ms().saturating_sub(ms), 0)
    }
}

impl fmt::Display for Hlc {
    /// `2026-11-25 10:00:00.123 UTC` followed by `+logical` when the counter is non-zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.physical_ms();
        let (secs, milli) = (ms / 1000, ms % 1000);
        let (days, day_secs) = ((secs / 86_400) as i64, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{milli:03} UTC",
            day_secs / 3600,
            (day_secs / 60) % 60,
            day_secs % 60
        )?;
        if self.logical() != 0 && self.logical() != u16::MAX {
            write!(f, "+{}", self.logical())?;
        }
        Ok(())
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian, UTC).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where a node's clock reads physical time: milliseconds since the Unix epoch. The
/// system clock unless [`DatabaseOptions::wall_clock`](crate::DatabaseOptions) says
/// otherwise (simulations give each node its own, skewed clock).
#[derive(Clone)]
pub struct WallClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl WallClock {
    /// The system clock.
    pub fn system() -> WallClock {
        WallClock(Arc::new(system_ms))
    }

    /// A clock that reads `f()`.
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> WallClock {
        WallClock(Arc::new(f))
    }

    /// The current reading, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WallClock({} ms)", self.now_ms())
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::system()
    }
}

/// A node's clock. One per open database.
#[derive(Debug)]
pub struct Clock {
    last: Mutex<Hlc>,
    wall: WallClock,
}

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Clock {
    /// A clock on the system's wall clock that will never return a timestamp at or below
    /// `floor`.
    pub fn new(floor: Hlc) -> Clock {
        Clock::with_wall(floor, WallClock::system())
    }

    /// A clock reading physical time from `wall`.
    pub fn with_wall(floor: Hlc, wall: WallClock) -> Clock {
        Clock {
            last: Mutex::new(floor),
            wall,
        }
    }

    /// The wall clock's reading, in milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> u64 {
        self.wall.now_ms()
    }

    /// The next timestamp: greater than every one returned or observed before.
    pub fn now(&self) -> Hlc {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let wall = Hlc::new(self.wall_ms(), 0);
        *last = if wall > *last {
            wall
        } else {
            Hlc(last.0.saturating_add(1))
        };
        *last
    }

    /// The current reading without advancing the clock (for bounds and horizons).
    pub fn peek(&self) -> Hlc {
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.max(Hlc::new(self.wall_ms(), 0))
    }

    /// Moves the clock past a timestamp seen from another node.
    pub fn observe(&self, seen: Hlc) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if seen > *last {
            *last = seen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_strictly_monotonic_even_past_the_wall() {
        let future = Hlc::new(system_ms() + 60_000, 7);
        let clock = Clock::new(future);
        let a = clock.now();
        let b = clock.now();
        assert!(a > future && b > a);
    }

    #[test]
    fn displays_utc() {
        assert_eq!(Hlc::new(0, 0).to_string(), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            Hlc::new(1_795_000_000_123, 2).to_string(),
            "2026-11-18 11:06:40.123 UTC+2"
        );
    }
}
