//! `cargo xtask bench-compress`: the codecs of heliosdb-compress against lz4_flex and zstd
//! on the same inputs, and columnar tables against row tables and SQLite, in one run.
//!
//! Part 1, codecs (`--values` values per input, default 1,000,000): for every input, the
//! codec chosen, the ratio (raw bytes / encoded bytes), encode and decode MB/s (MB of raw
//! data per second, 1 MB = 10^6 bytes, one thread, median of `--iterations` runs after a
//! verified warm-up run; every codec must round-trip bit-exactly or the run aborts):
//! - floats: prices with 2 decimals (a random walk in cents), temperatures with 1 decimal
//!   (a daily curve with noise), GPS latitudes with 6 decimals (a vehicle's track), and
//!   full-precision doubles uniform in [0, 1) (the ALP-RD case): ALP (`alp::encode_f64`),
//!   then lz4_flex (block) and zstd on the little-endian bytes;
//! - integers: timestamps (µs, a regular interval with jitter) and device ids (1..=64):
//!   `int::encode_i64`, lz4_flex, zstd;
//! - text: the lines of `../shared/vectors/base.txt` (English sentences; generated log
//!   lines when the file is missing), generated URLs and e-mail addresses. FSST: a symbol
//!   table trained on a sample (training time shown apart), every string encoded on its own;
//!   the ratio is the strings' bytes over their codes plus the table once (no lengths:
//!   the strings column below has those), decoding is random access, one string at a time
//!   in a shuffled order. The strings column codec (`strings::encode_strings`, which
//!   picks FSST, dictionary or plain and stores offsets): `StringColumn::get` in the same
//!   shuffled order, parsing included. lz4_flex and zstd compress the concatenation of the
//!   lines (`\n` separated) as one buffer and decode all of it: they cannot decode one
//!   value without its neighbours.
//!
//! zstd runs at level 3 (its default) over all iterations and at level 19 once, for the
//! ratio. Closing lines check the codec targets: ALP ≥ 3× on the 1–2 decimal
//! inputs, ALP decoding ≥ 1 GB/s, ALP's ratio at or above zstd-3's there; FSST ≥ 2× on the
//! English lines with random-access decoding ≥ 1 GB/s.
//!
//! Part 2, database (`--rows` rows, default 1,000,000): a sensor table `ts TIMESTAMP,
//! device_id INTEGER, temperature REAL, humidity REAL, pressure REAL, status TEXT`
//! (readings with 1–2 decimals, 100 devices, four statuses), loaded in one transaction with
//! a prepared multi-row INSERT into a row table and a columnar table (`WITH (storage =
//! 'columnar')`), each in its own database file, and into SQLite (WAL, `synchronous=NORMAL`,
//! one prepared INSERT per row in one transaction) as the baseline. Reported: load rows/s,
//! file sizes after closing and reopening (the columnar/row ratio, target ≤ 25%), and
//! median times of four aggregate queries (prepared; the engines take turns), with the
//! row/columnar speedup (target ≥ 3×). Every query result is compared across the three
//! engines (floats to 1e-9 relative) and the run aborts on a difference.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use heliosdb_compress::fsst::SymbolTable;
use heliosdb_compress::strings::{StringColumn, encode_strings};
use heliosdb_compress::{alp, int};
use heliosdb_nano::{EmbeddedDatabase, Value};

use crate::bench::report::{median, ms};

#[derive(Args, Clone, Debug)]
pub struct BenchCompressArgs {
    /// Smoke run: 100,000 values per codec input, a 200,000-row sensor table, 3 iterations
    /// (unless given explicitly).
    #[arg(long)]
    pub quick: bool,
    /// Timed runs of every codec and query; the median is reported [default: 5, 3 with
    /// --quick].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Values (and generated strings) per codec input [default: 1000000, 100000 with
    /// --quick].
    #[arg(long)]
    pub values: Option<usize>,
    /// Rows of the sensor table [default: 1000000, 200000 with --quick].
    #[arg(long)]
    pub rows: Option<usize>,
    /// The English text lines [default: <workspace>/../shared/vectors/base.txt].
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// Directory for the temporary databases [default: <target dir>/xtask-bench-compress].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only part 1 (the codecs).
    #[arg(long, conflicts_with = "db_only")]
    pub codecs_only: bool,
    /// Only part 2 (the database).
    #[arg(long)]
    pub db_only: bool,
}

/// `cargo xtask bench-compress`: build xtask in release mode and run `bench-compress-run`
/// with the same arguments. A binary that is already optimized runs the benchmark directly.
pub fn launch(args: &BenchCompressArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    crate::bench::relaunch_release("bench-compress", "bench-compress-run")
}

#[derive(Clone, Copy, Debug)]
struct Config {
    values: usize,
    rows: usize,
    iterations: usize,
}

impl Config {
    fn from_args(args: &BenchCompressArgs) -> Result<Config> {
        let (values, rows, iterations) = if args.quick {
            (100_000, 200_000, 3)
        } else {
            (1_000_000, 1_000_000, 5)
        };
        let config = Config {
            values: args.values.unwrap_or(values),
            rows: args.rows.unwrap_or(rows),
            iterations: args.iterations.unwrap_or(iterations),
        };
        ensure!(config.values >= 1000, "--values must be at least 1000");
        ensure!(config.rows >= 1000, "--rows must be at least 1000");
        ensure!(config.iterations > 0, "--iterations must be at least 1");
        Ok(config)
    }
}

/// `bench-compress-run`: the benchmark proper.
pub fn run(args: &BenchCompressArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-compress-run needs an optimized build: use `cargo xtask bench-compress`");
    }
    let config = Config::from_args(args)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    println!(
        "bench-compress: {} values per codec input, sensor table {} rows, {} iteration(s) \
         (medians); {cores} core(s), load average {load} at the start",
        config.values, config.rows, config.iterations
    );
    if !args.db_only {
        codecs(args, &config)?;
    }
    if !args.codecs_only {
        database(args, &config)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Data generation

/// SplitMix64: a small, fast, seeded generator (the data must be the same on every run).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in [0, 1), all 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The double nearest to `units / 10^decimals`: an integer divided by an exact power of
/// ten is correctly rounded, so this is the value a decimal literal parses to.
fn decimal(units: i64, decimals: u32) -> f64 {
    units as f64 / 10f64.powi(decimals as i32)
}

/// Prices: a random walk in cents from 100.00, steps of ±0.01..0.50, never below 0.01.
fn prices(n: usize) -> Vec<f64> {
    let mut rng = Rng::new(0x5052_4943_4553);
    let mut cents: i64 = 10_000;
    (0..n)
        .map(|_| {
            let step = rng.range(1, 50);
            cents = if rng.below(2) == 0 {
                cents + step
            } else {
                (cents - step).max(1)
            };
            decimal(cents, 2)
        })
        .collect()
}

/// Temperatures, one per minute: 25 ± 10 over the day, ±1.5 over the year, noise of σ 0.3,
/// rounded to one decimal.
fn temperatures(n: usize) -> Vec<f64> {
    let mut rng = Rng::new(0x5445_4D50);
    (0..n)
        .map(|i| {
            let minute = i as f64;
            let day = (std::f64::consts::TAU * minute / 1440.0).sin();
            let year = (std::f64::consts::TAU * minute / (1440.0 * 365.0)).sin();
            let t = 25.0 + 10.0 * day + 1.5 * year + 0.3 * rng.normal();
            decimal((t * 10.0).round() as i64, 1)
        })
        .collect()
}

/// GPS latitudes with 6 decimals: a vehicle's track from Berlin, steps of up to ±0.0005°.
fn gps(n: usize) -> Vec<f64> {
    let mut rng = Rng::new(0x0047_5053);
    let mut micro: i64 = 52_520_008;
    (0..n)
        .map(|_| {
            micro += rng.range(-500, 500);
            decimal(micro, 6)
        })
        .collect()
}

/// Full-precision doubles, uniform in [0, 1).
fn random_doubles(n: usize) -> Vec<f64> {
    let mut rng = Rng::new(0x5241_4E44);
    (0..n).map(|_| rng.unit()).collect()
}

/// Timestamps in µs: one a second from 2024-01-01, with up to ±5 ms of jitter.
fn timestamps(n: usize) -> Vec<i64> {
    let mut rng = Rng::new(0x5453);
    let start = 1_704_067_200_000_000i64;
    (0..n)
        .map(|i| start + i as i64 * 1_000_000 + rng.range(-5_000, 5_000))
        .collect()
}

/// Device ids, 1..=64.
fn device_ids(n: usize) -> Vec<i64> {
    let mut rng = Rng::new(0x0044_4556);
    (0..n).map(|_| rng.range(1, 64)).collect()
}

const WORDS: &[&str] = &[
    "about",
    "account",
    "admin",
    "alpha",
    "api",
    "archive",
    "article",
    "assets",
    "auth",
    "blog",
    "blue",
    "book",
    "cache",
    "camera",
    "cart",
    "catalog",
    "city",
    "cloud",
    "code",
    "community",
    "config",
    "contact",
    "data",
    "delta",
    "design",
    "dev",
    "docs",
    "download",
    "edge",
    "energy",
    "event",
    "export",
    "field",
    "file",
    "forum",
    "garden",
    "green",
    "guide",
    "health",
    "help",
    "home",
    "image",
    "index",
    "info",
    "jobs",
    "kitchen",
    "lab",
    "live",
    "login",
    "map",
    "market",
    "media",
    "metrics",
    "mobile",
    "music",
    "news",
    "north",
    "office",
    "open",
    "order",
    "page",
    "photo",
    "policy",
    "post",
    "press",
    "product",
    "profile",
    "project",
    "public",
    "report",
    "river",
    "search",
    "sensor",
    "service",
    "settings",
    "shop",
    "solar",
    "sport",
    "static",
    "status",
    "store",
    "stream",
    "support",
    "system",
    "team",
    "tech",
    "travel",
    "update",
    "user",
    "video",
    "water",
    "weather",
    "web",
    "wiki",
    "world",
];
const TLDS: &[&str] = &[
    ".com", ".com", ".com", ".org", ".net", ".io", ".de", ".co.uk", ".fr",
];
const FIRST: &[&str] = &[
    "anna", "ben", "carla", "david", "emma", "felix", "grace", "hugo", "ines", "jan", "karin",
    "leo", "maria", "noah", "olga", "paul", "quinn", "rosa", "sam", "tina", "uwe", "vera", "will",
    "xena", "yusuf", "zoe", "john", "mary", "peter", "linda", "michael", "susan", "thomas",
    "laura", "daniel", "sarah",
];
const LAST: &[&str] = &[
    "smith", "mueller", "garcia", "johnson", "schmidt", "brown", "rossi", "martin", "williams",
    "jones", "miller", "davis", "wilson", "moore", "taylor", "anderson", "thomas", "jackson",
    "white", "harris", "clark", "lewis", "walker", "young", "king", "wright", "lopez", "hill",
    "scott", "green", "adams", "baker", "nelson", "carter",
];
const MAIL_PROVIDERS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "gmx.de",
    "web.de",
    "proton.me",
];

fn word(rng: &mut Rng) -> &'static str {
    WORDS[rng.below(WORDS.len() as u64) as usize]
}

/// A few hundred domains made of two words and a top-level domain.
fn domains(rng: &mut Rng) -> Vec<String> {
    (0..300)
        .map(|_| {
            let sep = if rng.below(4) == 0 { "-" } else { "" };
            format!(
                "{}{sep}{}{}",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(TLDS)
            )
        })
        .collect()
}

/// URLs: `https://[www.]domain/word/word-word[.html|?id=N]` on a few hundred domains,
/// the popular domains more often.
fn urls(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x55_524C);
    let domains = domains(&mut rng);
    (0..n)
        .map(|_| {
            // Square of a uniform: a skew towards the first domains.
            let u = rng.unit();
            let domain = &domains[(u * u * domains.len() as f64) as usize];
            let mut s = format!(
                "{}://{}{domain}",
                if rng.below(10) == 0 { "http" } else { "https" },
                if rng.below(2) == 0 { "www." } else { "" }
            );
            for _ in 0..rng.range(1, 4) {
                s.push('/');
                s.push_str(word(&mut rng));
                if rng.below(3) == 0 {
                    s.push('-');
                    s.push_str(word(&mut rng));
                }
            }
            match rng.below(4) {
                0 => s.push_str(".html"),
                1 => s.push_str(&format!("?id={}", rng.below(100_000))),
                2 => s.push_str(&format!(
                    "?page={}&sort={}",
                    rng.range(1, 50),
                    rng.pick(WORDS)
                )),
                _ => {}
            }
            s.into_bytes()
        })
        .collect()
}

/// E-mail addresses: `first.last[NN]@provider-or-domain`.
fn emails(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x0045_4D41_494C);
    let domains = domains(&mut rng);
    (0..n)
        .map(|_| {
            let domain = if rng.below(3) == 0 {
                rng.pick(&domains).as_str()
            } else {
                rng.pick(MAIL_PROVIDERS)
            };
            let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
            let name = match rng.below(4) {
                0 => format!("{first}.{last}"),
                1 => format!("{first}{}", rng.range(1, 999)),
                2 => format!("{}{last}", &first[..1]),
                _ => format!("{first}_{last}{}", rng.range(70, 99)),
            };
            format!("{name}@{domain}").into_bytes()
        })
        .collect()
}

/// Log lines, when the English text is missing.
fn log_lines(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x4C_4F47);
    let levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
    let mut ts = 1_714_564_800_000i64;
    (0..n)
        .map(|_| {
            ts += rng.range(0, 250);
            format!(
                "{}.{:03}Z {} [worker-{}] {} /{}/{} status={} took={}ms",
                ts / 1000,
                ts % 1000,
                rng.pick(&levels),
                rng.below(8),
                rng.pick(&["GET", "GET", "POST", "PUT", "DELETE"]),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(&[200, 200, 200, 201, 304, 404, 500]),
                rng.range(1, 900)
            )
            .into_bytes()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Part 1: codecs

/// One codec on one input.
#[derive(Clone, Debug)]
struct Measured {
    method: String,
    codec: String,
    /// The raw bytes the MB/s refer to.
    raw: usize,
    encoded: usize,
    enc: Duration,
    dec: Duration,
    note: String,
}

impl Measured {
    fn ratio(&self) -> f64 {
        self.raw as f64 / self.encoded as f64
    }
    fn enc_mbs(&self) -> f64 {
        mbs(self.raw, self.enc)
    }
    fn dec_mbs(&self) -> f64 {
        mbs(self.raw, self.dec)
    }
}

fn mbs(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-12)
}

/// Runs `encode` (into a cleared buffer; returns the codec name and the bytes stored,
/// `None` for the buffer's length) and `decode` (told whether to verify) once to verify,
/// then `iterations` timed times each.
fn measure(
    method: &str,
    raw: usize,
    iterations: usize,
    mut encode: impl FnMut(&mut Vec<u8>) -> Result<(String, Option<usize>)>,
    mut decode: impl FnMut(&[u8], bool) -> Result<()>,
) -> Result<Measured> {
    let mut buf = Vec::new();
    let (codec, stored) = encode(&mut buf).with_context(|| format!("{method}: encoding"))?;
    let encoded = stored.unwrap_or(buf.len());
    decode(&buf, true).with_context(|| format!("{method}: decoding"))?;
    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        buf.clear();
        let start = Instant::now();
        encode(&mut buf)?;
        enc.push(start.elapsed());
        let start = Instant::now();
        decode(black_box(&buf), false)?;
        dec.push(start.elapsed());
    }
    Ok(Measured {
        method: method.into(),
        codec,
        raw,
        encoded,
        enc: median(&enc),
        dec: median(&dec),
        note: String::new(),
    })
}

fn le_bytes_f64(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn le_bytes_i64(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// lz4_flex (block) on `raw`.
fn lz4_flex_block(raw: &[u8], iterations: usize) -> Result<Measured> {
    let mut out = vec![0u8; raw.len()];
    measure(
        "lz4_flex",
        raw.len(),
        iterations,
        |buf| {
            buf.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
            let n =
                lz4_flex::block::compress_into(raw, buf).map_err(|e| anyhow!("lz4_flex: {e}"))?;
            buf.truncate(n);
            Ok(("lz4 block".into(), None))
        },
        |buf, check| {
            let n = lz4_flex::block::decompress_into(buf, &mut out)
                .map_err(|e| anyhow!("lz4_flex: {e}"))?;
            ensure!(
                n == raw.len(),
                "lz4_flex: decompressed {n} of {} bytes",
                raw.len()
            );
            ensure!(!check || out == raw, "lz4_flex: round trip differs");
            Ok(())
        },
    )
}

/// zstd at `level` on `raw`.
fn zstd_level(raw: &[u8], level: i32, iterations: usize) -> Result<Measured> {
    let mut compressor = zstd::bulk::Compressor::new(level)?;
    let mut decompressor = zstd::bulk::Decompressor::new()?;
    let bound = zstd::zstd_safe::compress_bound(raw.len());
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    measure(
        &format!("zstd-{level}"),
        raw.len(),
        iterations,
        |buf| {
            buf.reserve(bound);
            compressor.compress_to_buffer(raw, buf)?;
            Ok(("zstd".into(), None))
        },
        |buf, check| {
            out.clear();
            let n = decompressor.decompress_to_buffer(buf, &mut out)?;
            ensure!(
                n == raw.len(),
                "zstd: decompressed {n} of {} bytes",
                raw.len()
            );
            ensure!(!check || out == raw, "zstd: round trip differs");
            Ok(())
        },
    )
}

/// lz4_flex, zstd-3 and zstd-19 (once) on `raw`.
fn baselines(raw: &[u8], iterations: usize) -> Result<Vec<Measured>> {
    let mut z19 = zstd_level(raw, 19, 1)?;
    z19.note = "1 run".into();
    Ok(vec![
        lz4_flex_block(raw, iterations)?,
        zstd_level(raw, 3, iterations)?,
        z19,
    ])
}

fn bench_floats(values: &[f64], iterations: usize) -> Result<Vec<Measured>> {
    let raw = le_bytes_f64(values);
    let mut decoded = Vec::with_capacity(values.len());
    let ours = measure(
        "alp",
        raw.len(),
        iterations,
        |buf| Ok((alp::encode_f64(values, buf).name().into(), None)),
        |buf, check| {
            decoded.clear();
            alp::decode_f64(buf, &mut decoded)?;
            ensure!(
                decoded.len() == values.len(),
                "alp: decoded {} of {} values",
                decoded.len(),
                values.len()
            );
            ensure!(
                !check || same_bits(&decoded, values),
                "alp: round trip is not bit-exact"
            );
            Ok(())
        },
    )?;
    let mut rows = vec![ours];
    rows.extend(baselines(&raw, iterations)?);
    Ok(rows)
}

fn bench_ints(values: &[i64], iterations: usize) -> Result<Vec<Measured>> {
    let raw = le_bytes_i64(values);
    let mut decoded = Vec::with_capacity(values.len());
    let ours = measure(
        "int",
        raw.len(),
        iterations,
        |buf| Ok((int::encode_i64(values, buf).name().into(), None)),
        |buf, check| {
            decoded.clear();
            int::decode_i64(buf, &mut decoded)?;
            ensure!(
                decoded.len() == values.len(),
                "int: decoded {} of {} values",
                decoded.len(),
                values.len()
            );
            ensure!(!check || decoded == values, "int: round trip differs");
            Ok(())
        },
    )?;
    let mut rows = vec![ours];
    rows.extend(baselines(&raw, iterations)?);
    Ok(rows)
}

fn bench_text(lines: &[Vec<u8>], iterations: usize) -> Result<Vec<Measured>> {
    let raw: usize = lines.iter().map(Vec::len).sum();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let mut order: Vec<u32> = (0..lines.len() as u32).collect();
    Rng::new(0x5348_5546).shuffle(&mut order);

    // FSST: train (timed apart), then every line on its own.
    let mut trains = Vec::new();
    let mut table = SymbolTable::train(refs.iter().copied());
    for _ in 0..iterations.min(3) {
        let start = Instant::now();
        table = SymbolTable::train(black_box(refs.iter().copied()));
        trains.push(start.elapsed());
    }
    let table_bytes = table.to_bytes().len();
    let ends = std::cell::RefCell::new(Vec::with_capacity(lines.len() + 1));
    let mut out = Vec::new();
    let mut fsst = measure(
        "fsst",
        raw,
        iterations,
        |buf| {
            let mut ends = ends.borrow_mut();
            ends.clear();
            ends.push(0u32);
            for line in &refs {
                table.encode(line, buf);
                ends.push(buf.len() as u32);
            }
            Ok(("fsst".into(), Some(buf.len() + table_bytes)))
        },
        |buf, check| {
            let ends = ends.borrow();
            let mut total = 0usize;
            for &i in &order {
                let i = i as usize;
                out.clear();
                table.decode(&buf[ends[i] as usize..ends[i + 1] as usize], &mut out)?;
                ensure!(
                    !check || out == lines[i],
                    "fsst: line {i} differs after the round trip"
                );
                total += out.len();
            }
            ensure!(total == raw, "fsst: decoded {total} of {raw} bytes");
            Ok(())
        },
    )?;
    fsst.note = format!(
        "{} symbols, table {table_bytes} B, train {:.1} ms; random access",
        table.symbols(),
        ms(median(&trains))
    );

    // The strings column codec.
    let mut column = measure(
        "strings",
        raw,
        iterations,
        |buf| Ok((encode_strings(&refs, buf).name().into(), None)),
        |buf, check| {
            let col = StringColumn::parse(buf)?;
            let mut total = 0usize;
            for &i in &order {
                let i = i as usize;
                out.clear();
                col.get(i, &mut out)?;
                ensure!(
                    !check || out == lines[i],
                    "strings: value {i} differs after the round trip"
                );
                total += out.len();
            }
            ensure!(total == raw, "strings: decoded {total} of {raw} bytes");
            Ok(())
        },
    )?;
    column.note = "with offsets; random access, parse included".into();

    let mut joined = Vec::with_capacity(raw + lines.len());
    for line in lines {
        joined.extend_from_slice(line);
        joined.push(b'\n');
    }
    let mut rows = vec![fsst, column];
    for mut m in baselines(&joined, iterations)? {
        m.note = if m.note.is_empty() {
            "whole buffer, no random access".into()
        } else {
            format!("{}, whole buffer", m.note)
        };
        rows.push(m);
    }
    Ok(rows)
}

/// The English lines of `path`, without empty ones; `None` if the file is missing.
fn read_lines(path: &Path) -> Result<Option<Vec<Vec<u8>>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Generators of the numeric inputs.
type MakeF64 = fn(usize) -> Vec<f64>;
type MakeI64 = fn(usize) -> Vec<i64>;

struct InputResult {
    name: String,
    /// The name without sizes, for the target lines.
    short: String,
    raw: usize,
    rows: Vec<Measured>,
}

fn codecs(args: &BenchCompressArgs, config: &Config) -> Result<()> {
    let n = config.values;
    let it = config.iterations;
    let text_path = args.text.clone().unwrap_or_else(|| {
        crate::workspace_root()
            .join("..")
            .join("shared")
            .join("vectors")
            .join("base.txt")
    });
    let (text_name, text) = match read_lines(&text_path)? {
        Some(lines) => (
            format!(
                "english lines ({})",
                text_path
                    .file_name()
                    .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
            ),
            lines,
        ),
        None => {
            println!(
                "  {} is missing: generated log lines instead of English text",
                text_path.display()
            );
            ("log lines (generated)".to_owned(), log_lines(n))
        }
    };

    println!();
    println!("Part 1: codecs (MB = 10^6 bytes of raw data; one thread)");
    let mut results = Vec::new();
    let floats: [(&str, MakeF64); 4] = [
        ("prices (2 decimals)", prices),
        ("temperatures (1 decimal)", temperatures),
        ("gps latitude (6 decimals)", gps),
        ("random doubles [0,1)", random_doubles),
    ];
    for (name, make) in floats {
        eprintln!("  [codecs] {name} ...");
        let values = make(n);
        results.push(InputResult {
            name: format!("{name}, {n} f64"),
            short: name.to_owned(),
            raw: n * 8,
            rows: bench_floats(&values, it)?,
        });
    }
    let ints: [(&str, MakeI64); 2] = [
        ("timestamps (µs, 1 s ± 5 ms)", timestamps),
        ("device ids (1..=64)", device_ids),
    ];
    for (name, make) in ints {
        eprintln!("  [codecs] {name} ...");
        let values = make(n);
        results.push(InputResult {
            name: format!("{name}, {n} i64"),
            short: name.to_owned(),
            raw: n * 8,
            rows: bench_ints(&values, it)?,
        });
    }
    let texts = [
        (text_name, text),
        ("urls (generated)".to_owned(), urls(n)),
        ("e-mail addresses (generated)".to_owned(), emails(n)),
    ];
    for (name, lines) in texts {
        eprintln!("  [codecs] {name} ...");
        let raw: usize = lines.iter().map(Vec::len).sum();
        results.push(InputResult {
            short: name.clone(),
            name: format!(
                "{name}, {} strings, avg {:.1} B",
                lines.len(),
                raw as f64 / lines.len() as f64
            ),
            raw,
            rows: bench_text(&lines, it)?,
        });
    }

    println!();
    println!(
        "  {:<10} {:<10} {:>10} {:>8} {:>10} {:>10}  note",
        "method", "codec", "bytes", "ratio", "enc MB/s", "dec MB/s"
    );
    for input in &results {
        println!("  {} ({:.2} MB raw)", input.name, input.raw as f64 / 1e6);
        for m in &input.rows {
            println!(
                "  {:<10} {:<10} {:>10} {:>8.2} {:>10.0} {:>10.0}  {}",
                m.method,
                m.codec,
                m.encoded,
                m.ratio(),
                m.enc_mbs(),
                m.dec_mbs(),
                m.note
            );
        }
    }

    // Targets.
    let find = |input: usize, method: &str| {
        results[input]
            .rows
            .iter()
            .find(|m| m.method == method)
            .cloned()
            .expect("every input has every method")
    };
    println!();
    println!("  codec targets:");
    for input in [0usize, 1] {
        let alp = find(input, "alp");
        let zstd = find(input, "zstd-3");
        let name = &results[input].short;
        target(
            &format!("ALP ratio ≥ 3× on {name}"),
            alp.ratio() >= 3.0,
            format!("{:.2}×", alp.ratio()),
        );
        target(
            &format!("ALP decode ≥ 1 GB/s on {name}"),
            alp.dec_mbs() >= 1000.0,
            format!("{:.2} GB/s", alp.dec_mbs() / 1000.0),
        );
        target(
            &format!("ALP ratio ≥ zstd-3's on {name}"),
            alp.ratio() >= zstd.ratio(),
            format!(
                "{:.2}× vs {:.2}× (zstd-19 {:.2}×)",
                alp.ratio(),
                zstd.ratio(),
                find(input, "zstd-19").ratio()
            ),
        );
    }
    let text = 6;
    let fsst = find(text, "fsst");
    let name = &results[text].short;
    target(
        &format!("FSST ratio ≥ 2× on {name}"),
        fsst.ratio() >= 2.0,
        format!("{:.2}×", fsst.ratio()),
    );
    target(
        &format!("FSST random-access decode ≥ 1 GB/s on {name}"),
        fsst.dec_mbs() >= 1000.0,
        format!("{:.2} GB/s", fsst.dec_mbs() / 1000.0),
    );
    Ok(())
}

fn target(what: &str, met: bool, got: String) {
    println!(
        "    {:<7} {what}: {got}",
        if met { "MET" } else { "MISSED" }
    );
}

// ---------------------------------------------------------------------------------------
// Part 2: the database

const STATUSES: &[(&str, u64)] = &[("ok", 900), ("warn", 60), ("fail", 20), ("offline", 20)];
const DEVICES: i64 = 100;
const START_US: i64 = 1_704_067_200_000_000;
/// 100 devices reporting every 10 s: a row every 100 ms.
const ROW_INTERVAL_US: i64 = 100_000;
const LOAD_BATCH: usize = 1000;
const SENSOR_COLS: usize = 6;

/// One sensor reading.
struct Reading {
    ts: i64,
    device: i64,
    /// Tenths of a degree.
    temperature: i64,
    /// Tenths of a percent.
    humidity: i64,
    /// Hundredths of a hPa.
    pressure: i64,
    status: &'static str,
}

fn sensor_rows(n: usize) -> Vec<Reading> {
    let mut rng = Rng::new(0x5345_4E53_4F52);
    let total: u64 = STATUSES.iter().map(|s| s.1).sum();
    (0..n)
        .map(|i| {
            let ts = START_US + i as i64 * ROW_INTERVAL_US + rng.range(0, ROW_INTERVAL_US / 2);
            let device = rng.range(1, DEVICES);
            let secs = (ts - START_US) as f64 / 1e6;
            let day = (std::f64::consts::TAU * secs / 86_400.0).sin();
            let temperature = 18.0 + (device % 10) as f64 + 5.0 * day + 0.5 * rng.normal();
            let humidity = (55.0 - 15.0 * day + 2.0 * rng.normal()).clamp(5.0, 100.0);
            let slow = (std::f64::consts::TAU * secs / (3.0 * 86_400.0)).sin();
            let pressure = 1013.25 + 8.0 * slow + 0.3 * rng.normal();
            let mut pick = rng.below(total);
            let mut status = STATUSES[0].0;
            for &(s, weight) in STATUSES {
                if pick < weight {
                    status = s;
                    break;
                }
                pick -= weight;
            }
            Reading {
                ts,
                device,
                temperature: (temperature * 10.0).round() as i64,
                humidity: (humidity * 10.0).round() as i64,
                pressure: (pressure * 100.0).round() as i64,
                status,
            }
        })
        .collect()
}

/// A result cell, engine-neutral.
#[derive(Clone, Debug)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    fn close_to(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (Cell::Text(a), Cell::Text(b)) => a == b,
            (Cell::Real(a), Cell::Real(b)) => close(*a, *b),
            // An integral aggregate may come back as either type.
            (Cell::Int(a), Cell::Real(b)) | (Cell::Real(b), Cell::Int(a)) => close(*a as f64, *b),
            _ => false,
        }
    }

    fn sort_key(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(i) => format!("{:020}", i.wrapping_add(i64::MAX / 2)),
            Cell::Real(r) => format!("{r:030.9}"),
            Cell::Text(t) => t.clone(),
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

type Table = Vec<Vec<Cell>>;

fn sorted(mut t: Table) -> Table {
    t.sort_by_key(|row| row.first().map(Cell::sort_key).unwrap_or_default());
    t
}

fn same_table(a: &Table, b: &Table) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.close_to(q)))
}

fn show(t: &Table) -> String {
    let rows: Vec<String> = t.iter().take(4).map(|r| format!("{r:?}")).collect();
    format!(
        "{} row(s): {}{}",
        t.len(),
        rows.join("; "),
        if t.len() > 4 { "; ..." } else { "" }
    )
}

struct Query {
    id: &'static str,
    sql: &'static str,
    /// The parameters: (ts from, ts to) in µs for the time window, none otherwise.
    window: bool,
}

const QUERIES: &[Query] = &[
    Query {
        id: "a",
        sql: "SELECT count(*), avg(temperature), min(humidity), max(pressure) FROM t",
        window: false,
    },
    Query {
        id: "b",
        sql: "SELECT device_id, avg(temperature), max(pressure) FROM t GROUP BY device_id",
        window: false,
    },
    Query {
        id: "c",
        sql: "SELECT count(*), avg(temperature) FROM t WHERE ts >= $1 AND ts < $2",
        window: true,
    },
    Query {
        id: "d",
        sql: "SELECT status, count(*) FROM t GROUP BY status",
        window: false,
    },
];

/// The engines of part 2.
trait SensorDb {
    fn load(&mut self, rows: &[Reading]) -> Result<()>;
    fn query(&mut self, q: &Query, window: (i64, i64)) -> Result<Table>;
}

struct Helios {
    db: EmbeddedDatabase,
    prepared: Vec<heliosdb_nano::PreparedStatement>,
}

impl Helios {
    fn open(path: &Path, create: Option<&str>) -> Result<Helios> {
        let db = EmbeddedDatabase::open(path)?;
        if let Some(sql) = create {
            db.execute(sql, &[])?;
        }
        let prepared = QUERIES
            .iter()
            .map(|q| {
                db.prepare(q.sql)
                    .with_context(|| format!("preparing {}", q.sql))
            })
            .collect::<Result<_>>()?;
        Ok(Helios { db, prepared })
    }
}

fn sensor_values(r: &Reading, out: &mut Vec<Value>) {
    out.extend([
        Value::Timestamp(r.ts),
        Value::Integer(r.device),
        Value::Real(decimal(r.temperature, 1)),
        Value::Real(decimal(r.humidity, 1)),
        Value::Real(decimal(r.pressure, 2)),
        Value::Text(r.status.to_owned()),
    ]);
}

fn helios_cell(v: &Value) -> Result<Cell> {
    Ok(match v {
        Value::Null => Cell::Null,
        Value::Integer(i) | Value::Timestamp(i) => Cell::Int(*i),
        Value::Real(r) => Cell::Real(*r),
        Value::Text(t) => Cell::Text(t.clone()),
        other => bail!("unexpected {} in a result", other.type_name()),
    })
}

impl SensorDb for Helios {
    fn load(&mut self, rows: &[Reading]) -> Result<()> {
        let full = self.db.prepare(&crate::bench_sql::multi_insert_sql(
            "t",
            SENSOR_COLS,
            LOAD_BATCH,
            false,
        ))?;
        let mut params = Vec::with_capacity(LOAD_BATCH * SENSOR_COLS);
        let mut tx = self.db.transaction()?;
        for chunk in rows.chunks(LOAD_BATCH) {
            params.clear();
            for r in chunk {
                sensor_values(r, &mut params);
            }
            let n = if chunk.len() == LOAD_BATCH {
                tx.execute_prepared(&full, &params)?
            } else {
                let sql = crate::bench_sql::multi_insert_sql("t", SENSOR_COLS, chunk.len(), false);
                tx.execute(&sql, &params)?
            };
            ensure!(
                n == chunk.len() as u64,
                "INSERT of {} rows reported {n}",
                chunk.len()
            );
        }
        tx.commit()?;
        Ok(())
    }

    fn query(&mut self, q: &Query, window: (i64, i64)) -> Result<Table> {
        let i = QUERIES
            .iter()
            .position(|x| x.id == q.id)
            .expect("a known query");
        let params = if q.window {
            vec![Value::Timestamp(window.0), Value::Timestamp(window.1)]
        } else {
            Vec::new()
        };
        let rows = self.prepared[i].query(&params)?;
        rows.rows
            .iter()
            .map(|row| row.values.iter().map(helios_cell).collect())
            .collect()
    }
}

struct Sqlite {
    conn: rusqlite::Connection,
}

const SQLITE_SCHEMA: &str = "CREATE TABLE t (ts INTEGER, device_id INTEGER, temperature REAL, \
                             humidity REAL, pressure REAL, status TEXT)";

impl Sqlite {
    fn open(path: &Path, create: bool) -> Result<Sqlite> {
        let conn = rusqlite::Connection::open(path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "sqlite: journal_mode is {mode}, not wal"
        );
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        if create {
            conn.execute_batch(SQLITE_SCHEMA)?;
        }
        Ok(Sqlite { conn })
    }
}

impl SensorDb for Sqlite {
    fn load(&mut self, rows: &[Reading]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            for r in rows {
                insert.execute(rusqlite::params![
                    r.ts,
                    r.device,
                    decimal(r.temperature, 1),
                    decimal(r.humidity, 1),
                    decimal(r.pressure, 2),
                    r.status
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn query(&mut self, q: &Query, window: (i64, i64)) -> Result<Table> {
        let mut stmt = self.conn.prepare_cached(&q.sql.replace('$', "?"))?;
        let cols = stmt.column_count();
        let params: Vec<i64> = if q.window {
            vec![window.0, window.1]
        } else {
            Vec::new()
        };
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(cols);
            for c in 0..cols {
                use rusqlite::types::ValueRef as V;
                cells.push(match row.get_ref(c)? {
                    V::Null => Cell::Null,
                    V::Integer(i) => Cell::Int(i),
                    V::Real(r) => Cell::Real(r),
                    V::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    V::Blob(_) => bail!("sqlite: unexpected blob"),
                });
            }
            out.push(cells);
        }
        Ok(out)
    }
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("could not stat {}", path.display()))?
        .len())
}

/// The database file's size plus its `-wal` file's, if any.
fn db_size(path: &Path) -> Result<u64> {
    let mut size = file_size(path)?;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    if wal.exists() {
        size += file_size(&wal)?;
    }
    Ok(size)
}

/// The size of a compacted copy of the database at `path` (closed): redb's `compact` until
/// it has nothing left to do for HeliosDB (whose plain files are redb files), `VACUUM` for
/// SQLite. The copy is deleted; the benchmark's queries run on the file as loaded.
fn compacted_size(path: &Path, sqlite: bool) -> Result<(u64, Vec<Tree>)> {
    let copy = PathBuf::from(format!("{}.compacted", path.display()));
    std::fs::copy(path, &copy)
        .with_context(|| format!("could not copy {} to {}", path.display(), copy.display()))?;
    let result = (|| {
        let mut trees = Vec::new();
        if sqlite {
            let conn = rusqlite::Connection::open(&copy)?;
            conn.execute_batch("VACUUM")?;
            drop(conn);
        } else {
            let mut db = redb::Database::open(&copy)?;
            while db.compact()? {}
            trees = redb_trees(&db)?;
            drop(db);
        }
        Ok((db_size(&copy)?, trees))
    })();
    let _ = std::fs::remove_file(&copy);
    let _ = std::fs::remove_file(format!("{}-wal", copy.display()));
    let _ = std::fs::remove_file(format!("{}-shm", copy.display()));
    result
}

/// One redb tree of a HeliosDB file: where the bytes are.
struct Tree {
    name: String,
    /// Keys and values.
    stored: u64,
    /// Branch pages and the like.
    metadata: u64,
    /// Allocated but unused (redb's power-of-two page allocations).
    fragmented: u64,
}

/// The trees of a HeliosDB file of 64 KiB or more (all of them `&[u8]` to `&[u8]`).
fn redb_trees(db: &redb::Database) -> Result<Vec<Tree>> {
    use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
    let read = db.begin_read()?;
    let mut trees = Vec::new();
    for handle in read.list_tables()? {
        let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new(handle.name());
        let Ok(table) = read.open_table(def) else {
            continue;
        };
        let stats = table.stats()?;
        if stats.stored_bytes() + stats.fragmented_bytes() >= 64 * 1024 {
            trees.push(Tree {
                name: handle.name().to_owned(),
                stored: stats.stored_bytes(),
                metadata: stats.metadata_bytes(),
                fragmented: stats.fragmented_bytes(),
            });
        }
    }
    Ok(trees)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Engine {
    name: &'static str,
    db: Box<dyn SensorDb>,
    load: Duration,
    size: u64,
    /// The size of a compacted copy.
    compacted: u64,
    /// HeliosDB: the trees of the compacted copy.
    trees: Vec<Tree>,
    /// Per query, the timed samples.
    samples: Vec<Vec<Duration>>,
}

fn database(args: &BenchCompressArgs, config: &Config) -> Result<()> {
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
            .join("xtask-bench-compress"),
    };
    std::fs::create_dir_all(&base)
        .with_context(|| format!("could not create {}", base.display()))?;
    let dir = crate::bench_sql::temp_dir(&base, "sensor")?;
    let n = config.rows;
    println!();
    println!(
        "Part 2: database, sensor table t of {n} rows (ts TIMESTAMP, device_id INTEGER, \
         temperature REAL, humidity REAL, pressure REAL, status TEXT); databases in {}",
        base.display()
    );
    let rows = sensor_rows(n);
    let span = rows.last().map_or(0, |r| r.ts) - START_US;
    let window = (START_US + span / 2, START_US + span / 2 + span / 20);
    let in_window = rows
        .iter()
        .filter(|r| r.ts >= window.0 && r.ts < window.1)
        .count();
    let cols = "ts TIMESTAMP, device_id INTEGER, temperature REAL, humidity REAL, \
                pressure REAL, status TEXT";
    let create_row = format!("CREATE TABLE t ({cols})");
    let create_columnar = format!("CREATE TABLE t ({cols}) WITH (storage = 'columnar')");

    let mut engines: Vec<Engine> = Vec::new();
    let specs: [(&'static str, Option<&str>); 3] = [
        ("row", Some(create_row.as_str())),
        ("columnar", Some(create_columnar.as_str())),
        ("sqlite", None),
    ];
    for (name, create) in specs {
        let path = dir.path().join(format!("{name}.db"));
        eprintln!("  [db] loading {name} ...");
        let opened: Result<Box<dyn SensorDb>> = match create {
            Some(sql) => Helios::open(&path, Some(sql)).map(|h| Box::new(h) as Box<dyn SensorDb>),
            None => Sqlite::open(&path, true).map(|s| Box::new(s) as Box<dyn SensorDb>),
        };
        let mut db = match opened {
            Ok(db) => db,
            Err(e) if name == "columnar" => {
                println!("  columnar: NOT AVAILABLE, skipped: {e:#}");
                continue;
            }
            Err(e) => return Err(e.context(format!("{name}: creating the table"))),
        };
        let start = Instant::now();
        db.load(&rows)
            .with_context(|| format!("{name}: loading {n} rows"))?;
        let load = start.elapsed();
        drop(db);
        let closed = db_size(&path)?;
        let db: Box<dyn SensorDb> = match create {
            Some(_) => {
                Box::new(Helios::open(&path, None).with_context(|| format!("{name}: reopening"))?)
            }
            None => {
                Box::new(Sqlite::open(&path, false).with_context(|| format!("{name}: reopening"))?)
            }
        };
        let size = db_size(&path)?;
        if size != closed {
            println!("  {name}: {closed} bytes after the load, {size} after reopening");
        }
        let (compacted, trees) = compacted_size(&path, create.is_none())
            .with_context(|| format!("{name}: compacting a copy"))?;
        engines.push(Engine {
            name,
            db,
            load,
            size,
            compacted,
            trees,
            samples: vec![Vec::new(); QUERIES.len()],
        });
    }

    // Warm-up and correctness: every engine must return the same results.
    for q in QUERIES {
        let mut first: Option<(&str, Table)> = None;
        for e in &mut engines {
            let got = sorted(
                e.db.query(q, window)
                    .with_context(|| format!("{}: query ({}) {}", e.name, q.id, q.sql))?,
            );
            if q.id == "a" {
                let count = got.first().and_then(|r| r.first()).cloned();
                ensure!(
                    matches!(count, Some(Cell::Int(c)) if c == n as i64),
                    "{}: query (a) counted {count:?} rows, not {n}",
                    e.name
                );
            }
            if q.id == "c" {
                let count = got.first().and_then(|r| r.first()).cloned();
                ensure!(
                    matches!(count, Some(Cell::Int(c)) if c == in_window as i64),
                    "{}: query (c) counted {count:?} rows, not {in_window}",
                    e.name
                );
            }
            match &first {
                None => first = Some((e.name, got)),
                Some((name, expected)) => {
                    if !same_table(expected, &got) {
                        bail!(
                            "RESULTS DIFFER for query ({}) {}:\n  {name}: {}\n  {}: {}\nthe timings \
                             would be meaningless",
                            q.id,
                            q.sql,
                            show(expected),
                            e.name,
                            show(&got)
                        );
                    }
                }
            }
        }
    }

    // Timed runs; the engines take turns, in a rotating order.
    for iteration in 0..config.iterations {
        for (qi, q) in QUERIES.iter().enumerate() {
            let k = engines.len();
            for j in 0..k {
                let e = &mut engines[(j + iteration) % k];
                let start = Instant::now();
                let got = e.db.query(q, window)?;
                e.samples[qi].push(start.elapsed());
                black_box(got);
            }
        }
    }

    println!();
    println!(
        "  {:<9} {:>10} {:>12} {:>11} {:>8} {:>15} {:>8}",
        "engine", "load s", "load rows/s", "file MiB", "B/row", "compacted MiB", "B/row"
    );
    for e in &engines {
        println!(
            "  {:<9} {:>10.2} {:>12.0} {:>11.2} {:>8.1} {:>15.2} {:>8.1}",
            e.name,
            e.load.as_secs_f64(),
            n as f64 / e.load.as_secs_f64(),
            mib(e.size),
            e.size as f64 / n as f64,
            mib(e.compacted),
            e.compacted as f64 / n as f64
        );
    }
    println!(
        "  (file: as the load left it, after closing and reopening; compacted: a copy after \
         redb's compact, SQLite's VACUUM)"
    );
    for e in &engines {
        if e.trees.is_empty() {
            continue;
        }
        let parts: Vec<String> = e
            .trees
            .iter()
            .map(|t| {
                format!(
                    "{} {:.2} (+{:.2} meta, {:.2} unused)",
                    t.name,
                    mib(t.stored),
                    mib(t.metadata),
                    mib(t.fragmented)
                )
            })
            .collect();
        println!("  {} trees, MiB: {}", e.name, parts.join(", "));
    }
    println!();
    println!(
        "  queries (median of {} runs, ms); (c) covers {in_window} rows ({:.1}%):",
        config.iterations,
        100.0 * in_window as f64 / n as f64
    );
    let mut header = format!("  {:<4}", "");
    for e in &engines {
        header.push_str(&format!(" {:>10}", e.name));
    }
    println!("{header}  row/columnar  sqlite/columnar");
    let find = |name: &str| engines.iter().position(|e| e.name == name);
    let (row, col, lite) = (find("row"), find("columnar"), find("sqlite"));
    let mut speedups = Vec::new();
    for (qi, q) in QUERIES.iter().enumerate() {
        let mut line = format!("  ({}) ", q.id);
        let medians: Vec<Duration> = engines.iter().map(|e| median(&e.samples[qi])).collect();
        for m in &medians {
            line.push_str(&format!(" {:>10.2}", ms(*m)));
        }
        if let (Some(r), Some(c)) = (row, col) {
            let s = medians[r].as_secs_f64() / medians[c].as_secs_f64();
            speedups.push((q.id, s));
            line.push_str(&format!("  {s:>11.2}×"));
            if let Some(l) = lite {
                line.push_str(&format!(
                    "  {:>14.2}×",
                    medians[l].as_secs_f64() / medians[c].as_secs_f64()
                ));
            }
        }
        println!("{line}");
    }
    for q in QUERIES {
        println!("    ({}) {}", q.id, q.sql);
    }

    println!();
    println!("  database targets:");
    match (row, col) {
        (Some(r), Some(c)) => {
            type Size = fn(&Engine) -> u64;
            let sizes: [(&str, Size); 2] = [("", |e| e.size), (" (compacted)", |e| e.compacted)];
            for (what, size) in sizes {
                let ratio = size(&engines[c]) as f64 / size(&engines[r]) as f64;
                target(
                    &format!("columnar file ≤ 25% of the row table's{what}"),
                    ratio <= 0.25,
                    format!(
                        "{:.1}% ({:.2} MiB vs {:.2} MiB; sqlite {})",
                        100.0 * ratio,
                        mib(size(&engines[c])),
                        mib(size(&engines[r])),
                        lite.map_or_else(
                            || "-".into(),
                            |l| format!("{:.2} MiB", mib(size(&engines[l])))
                        )
                    ),
                );
            }
            let rows_tree = |e: &Engine| {
                e.trees
                    .iter()
                    .filter(|t| t.name == "heliosdb.rows")
                    .map(|t| t.stored + t.metadata)
                    .sum::<u64>()
            };
            let (rc, rr) = (rows_tree(&engines[c]), rows_tree(&engines[r]));
            if rr > 0 {
                println!(
                    "    (info)  the table data alone (tree heliosdb.rows, stored + metadata): \
                     columnar {:.1}% of row ({:.2} MiB vs {:.2} MiB); the rest of both files is \
                     mostly the change log, the same for both layouts",
                    100.0 * rc as f64 / rr as f64,
                    mib(rc),
                    mib(rr)
                );
            }
            for (id, s) in speedups {
                target(
                    &format!("aggregate ({id}) ≥ 3× faster on columnar than on row"),
                    s >= 3.0,
                    format!("{s:.2}×"),
                );
            }
        }
        _ => println!("    NOT RUN: the columnar table could not be created"),
    }
    Ok(())
}
