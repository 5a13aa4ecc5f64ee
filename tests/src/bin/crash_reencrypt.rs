//! Re-encrypts a database back and forth between two keys until killed, printing
//! `reencrypted N` after each full re-encryption returns (even N: now under key B, odd N:
//! under key A). `crash_reencrypt PATH HEXKEY_A HEXKEY_B`; the file starts under key A.
use std::io::Write;

use heliosdb_nano::{KdfParams, KeySource};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: crash_reencrypt PATH HEXKEY_A HEXKEY_B";
    let path = args.next().ok_or(usage)?;
    let a = KeySource::from_hex(&args.next().ok_or(usage)?)?;
    let b = KeySource::from_hex(&args.next().ok_or(usage)?)?;
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let (from, to) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        heliosdb_nano::crypto::reencrypt(&path, from, to, KdfParams::default())?;
        writeln!(out, "reencrypted {n}")?;
        out.flush()?;
    }
    Ok(())
}
