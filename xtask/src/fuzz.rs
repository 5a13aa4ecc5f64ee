//! `cargo xtask fuzz`: a dependency-free mutational fuzzer for the decoders of
//! heliosdb-compress, on stable Rust (`heliosdb_compress::fuzz` defines the targets).
//!
//! For each target: a corpus starting from the target's seeds; each iteration mutates a
//! corpus entry (bit flips, interesting bytes, u32 fields set to 0/1/huge, truncation,
//! extension, splicing, duplicated slices), runs the target under `catch_unwind`, and
//! keeps inputs that decode as new corpus entries (bounded). A panic is a failure: the
//! input goes to `target/fuzz-crashes/<target>-<hash>.bin` and the command exits non-zero;
//! `--replay FILE --target NAME` runs that input again with the panic message shown.
//!
//! While fuzzing, any single allocation over [`ALLOCATION_MAX`] aborts the process after
//! saving the input (a decoder must not allocate what its input does not justify).
//! xtask runs in the dev profile, where heliosdb-compress is optimized with overflow
//! checks on (root Cargo.toml).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Args;
use heliosdb_compress::fuzz::{Target, take_decoded, targets};

#[derive(Args, Clone, Debug)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// Fuzz (or replay with) only this target.
    #[arg(long)]
    pub target: Option<String>,
    /// Seed of the mutation generator [default: from the clock, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run this one input (a saved crash) on `--target` and show what happens.
    #[arg(long, requires = "target")]
    pub replay: Option<PathBuf>,
}

/// Inputs grow to at most this many bytes.
const INPUT_BYTES_MAX: usize = 64 * 1024;
/// The corpus of a target holds at most this many entries.
const CORPUS_MAX: usize = 2048;
/// A larger single allocation while fuzzing aborts the process.
pub const ALLOCATION_MAX: usize = 1 << 30;

pub fn run(args: &FuzzArgs) -> Result<()> {
    let all = targets();
    let chosen: Vec<&Target> = match &args.target {
        Some(name) => {
            let target = all.iter().find(|t| t.name == name).with_context(|| {
                let names: Vec<&str> = all.iter().map(|t| t.name).collect();
                format!("no fuzz target `{name}`; targets: {}", names.join(", "))
            })?;
            vec![target]
        }
        None => all.iter().collect(),
    };
    if let Some(path) = &args.replay {
        return replay(chosen[0], path);
    }
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let budget = Duration::from_secs_f64(args.seconds.max(0.0));
    println!(
        "fuzz: {} target(s), {:.1} s each, --seed {seed}",
        chosen.len(),
        budget.as_secs_f64()
    );
    let crash_dir = crash_dir();
    let mut crashes = Vec::new();
    for target in chosen {
        if let Some(path) = fuzz_target(target, budget, seed, &crash_dir)? {
            crashes.push(path);
        }
    }
    if !crashes.is_empty() {
        for path in &crashes {
            eprintln!("fuzz: crash saved to {}", path.display());
        }
        bail!(
            "{} fuzz target(s) crashed; replay with `cargo xtask fuzz --replay FILE --target NAME`",
            crashes.len()
        );
    }
    println!("fuzz: no crashes");
    Ok(())
}

fn crash_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from);
    target.join("fuzz-crashes")
}

/// Fuzzes one target for `budget`; returns the path of a saved crash, if any.
fn fuzz_target(
    target: &Target,
    budget: Duration,
    seed: u64,
    crash_dir: &Path,
) -> Result<Option<PathBuf>> {
    let mut rng = Rng::new(seed ^ fnv1a(target.name.as_bytes()));
    let mut corpus: Vec<Vec<u8>> = (target.seeds)();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let seeds = corpus.len();
    let mut known: HashSet<u64> = corpus.iter().map(|c| fnv1a(c)).collect();
    let mut input = Vec::new();
    let (mut iterations, mut decoded) = (0u64, 0u64);
    let quiet = QuietPanics::install();
    let start = Instant::now();
    let mut crash = None;
    // Seeds first, unmutated: they must pass.
    let mut pending: Vec<Vec<u8>> = corpus.clone();
    while crash.is_none() && (!pending.is_empty() || start.elapsed() < budget) {
        match pending.pop() {
            Some(seed_input) => input = seed_input,
            None => mutate(&mut rng, &corpus, &mut input),
        }
        iterations += 1;
        match run_guarded(target, &input) {
            Ok(true) => {
                decoded += 1;
                let hash = fnv1a(&input);
                if known.insert(hash) {
                    if corpus.len() < CORPUS_MAX {
                        corpus.push(input.clone());
                    } else {
                        // Keep the seeds; replace one of the discovered entries.
                        let at = seeds + rng.below(corpus.len() - seeds);
                        corpus[at] = input.clone();
                    }
                }
            }
            Ok(false) => {}
            Err(message) => crash = Some(message),
        }
    }
    drop(quiet);
    let took = start.elapsed().as_secs_f64().max(1e-9);
    println!(
        "fuzz {:<12} {:>9} iterations in {:>5.1} s = {:>8.0}/s, {:>5.1}% decoded, corpus {}",
        target.name,
        iterations,
        took,
        iterations as f64 / took,
        100.0 * decoded as f64 / iterations.max(1) as f64,
        corpus.len()
    );
    let Some(message) = crash else {
        return Ok(None);
    };
    let path = save_crash(crash_dir, target.name, &input)?;
    eprintln!(
        "fuzz {}: PANIC on a {}-byte input: {message}\n  saved to {}\n  replay: cargo xtask fuzz --replay {} --target {}",
        target.name,
        input.len(),
        path.display(),
        path.display(),
        target.name
    );
    Ok(Some(path))
}

fn save_crash(dir: &Path, name: &str, input: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}-{:016x}.bin", fnv1a(input)));
    std::fs::write(&path, input).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn replay(target: &Target, path: &Path) -> Result<()> {
    let input = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    println!(
        "fuzz: replaying {} ({} bytes) on {}",
        path.display(),
        input.len(),
        target.name
    );
    // The default panic hook stays: it prints the message and (with RUST_BACKTRACE=1)
    // the backtrace.
    let outcome = {
        let _guard = AllocationGuard::arm(target.name, &input);
        panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input)))
    };
    match outcome {
        Ok(()) if take_decoded() => println!("fuzz: no panic; the input decodes"),
        Ok(()) => println!("fuzz: no panic; the input is rejected"),
        Err(_) => bail!("fuzz: {} panicked on {}", target.name, path.display()),
    }
    Ok(())
}

/// Runs the target on `input`: `Ok(decoded)`, or the panic message.
fn run_guarded(target: &Target, input: &[u8]) -> Result<bool, String> {
    let _guard = AllocationGuard::arm(target.name, input);
    take_decoded();
    match panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input))) {
        Ok(()) => Ok(take_decoded()),
        Err(payload) => Err(LAST_PANIC
            .lock()
            .ok()
            .and_then(|mut m| m.take())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string())),
    }
}

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the panic hook with one that records the message (with its location) instead
/// of printing it, while the fuzz loop runs; restores the previous hook when dropped.
struct QuietPanics;

impl QuietPanics {
    fn install() -> QuietPanics {
        panic::set_hook(Box::new(|info| {
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some(info.to_string());
            }
        }));
        QuietPanics
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        let _ = panic::take_hook(); // back to the default hook
    }
}

// ---- mutations -------------------------------------------------------------------------

/// Replaces `input` with a mutated copy of a corpus entry: one to four stacked mutations.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], input: &mut Vec<u8>) {
    input.clear();
    input.extend_from_slice(&corpus[rng.below(corpus.len())]);
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, corpus, input);
    }
    input.truncate(INPUT_BYTES_MAX);
}

const INTERESTING_U8: [u8; 6] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF];
const INTERESTING_U32: [u32; 8] = [0, 1, 2, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF];

fn mutate_once(rng: &mut Rng, corpus: &[Vec<u8>], input: &mut Vec<u8>) {
    let len = input.len();
    match rng.below(10) {
        // Flip a bit.
        0 | 1 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        // Set a byte to an interesting value, or a random one.
        2 if len > 0 => {
            let at = rng.below(len);
            input[at] = if rng.below(2) == 0 {
                INTERESTING_U8[rng.below(INTERESTING_U8.len())]
            } else {
                rng.next() as u8
            };
        }
        // Set a u32 field (counts, lengths, offsets) to 0, 1 or huge, or nudge it.
        3 if len >= 4 => {
            let at = rng.below(len - 3);
            let field = &mut input[at..at + 4];
            let old = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
            let new = match rng.below(3) {
                0 => old.wrapping_add(1),
                1 => old.wrapping_sub(1),
                _ => INTERESTING_U32[rng.below(INTERESTING_U32.len())],
            };
            field.copy_from_slice(&new.to_le_bytes());
        }
        // Truncate.
        4 if len > 0 => input.truncate(rng.below(len)),
        // Extend with random or interesting bytes.
        5 => {
            for _ in 0..1 + rng.below(32) {
                let byte = if rng.below(2) == 0 {
                    rng.next() as u8
                } else {
                    INTERESTING_U8[rng.below(INTERESTING_U8.len())]
                };
                input.push(byte);
            }
        }
        // Splice: a prefix of this input and a suffix of another entry.
        6 => {
            let other = &corpus[rng.below(corpus.len())];
            input.truncate(rng.below(len + 1));
            let from = rng.below(other.len() + 1);
            input.extend_from_slice(&other[from..]);
        }
        // Duplicate a slice somewhere else.
        7 if len > 0 => {
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(256));
            let slice = input[from..from + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, slice);
        }
        // Insert or remove a byte (shifts everything after it).
        8 if len > 0 => {
            let at = rng.below(len);
            if rng.below(2) == 0 {
                input.remove(at);
            } else {
                input.insert(at, rng.next() as u8);
            }
        }
        // Overwrite a slice with a slice of another entry at the same offset.
        _ => {
            let other = &corpus[rng.below(corpus.len())];
            let n = len.min(other.len());
            if n > 0 {
                let at = rng.below(n);
                let k = 1 + rng.below(n - at);
                input[at..at + k].copy_from_slice(&other[at..at + k]);
            }
        }
    }
}

/// splitmix64: small, fast, good enough for mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n`; 0 for `n == 0`.
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---- allocation guard ------------------------------------------------------------------

/// The global allocator of xtask: the system allocator, plus, while a fuzz input runs, an
/// abort on any single allocation over [`ALLOCATION_MAX`]. Without it, a decoder that
/// trusts a hostile length would just make the machine swap (Linux overcommits).
struct GuardedAllocator;

#[global_allocator]
static ALLOCATOR: GuardedAllocator = GuardedAllocator;

static GUARD_ARMED: AtomicBool = AtomicBool::new(false);
/// The target and input being run, saved to disk if the guard fires.
static CURRENT: Mutex<(&str, Vec<u8>)> = Mutex::new(("", Vec::new()));

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the only addition is a check that may abort the process
// (never unwind), and the slow path disarms the guard first, so the allocations it makes
// itself go straight to `System`.
unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check_size(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check_size(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check_size(new_size);
        // SAFETY: as above; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn check_size(size: usize) {
    if size > ALLOCATION_MAX && GUARD_ARMED.swap(false, Ordering::SeqCst) {
        allocation_too_large(size);
    }
}

#[cold]
fn allocation_too_large(size: usize) -> ! {
    let saved = CURRENT.try_lock().ok().and_then(|current| {
        let (name, input) = &*current;
        save_crash(&crash_dir(), name, input)
            .ok()
            .map(|path| (name.to_string(), path))
    });
    match saved {
        Some((name, path)) => eprintln!(
            "fuzz {name}: ABORT: an allocation of {size} bytes (over {ALLOCATION_MAX}); input saved to {}\n  replay: cargo xtask fuzz --replay {} --target {name}",
            path.display(),
            path.display()
        ),
        None => eprintln!("fuzz: ABORT: an allocation of {size} bytes (over {ALLOCATION_MAX})"),
    }
    std::process::abort()
}

/// Arms the allocation guard for one run; disarms it when dropped.
struct AllocationGuard;

impl AllocationGuard {
    fn arm(name: &'static str, input: &[u8]) -> AllocationGuard {
        if let Ok(mut current) = CURRENT.lock() {
            current.0 = name;
            current.1.clear();
            current.1.extend_from_slice(input);
        }
        GUARD_ARMED.store(true, Ordering::SeqCst);
        AllocationGuard
    }
}

impl Drop for AllocationGuard {
    fn drop(&mut self) {
        GUARD_ARMED.store(false, Ordering::SeqCst);
    }
}
