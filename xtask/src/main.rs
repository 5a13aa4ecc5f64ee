//! Repository automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask ci`: rustfmt check, clippy with `-D warnings`, the whole test suite, a
//!   short fuzz run of the codecs (`fuzz --seconds 3`) and SQLite's sqllogictest corpus in
//!   release.
//! - `cargo xtask bench [--quick] [--iterations N] [--json PATH] ...`: storage benchmark of
//!   SQLite, raw redb and heliosdb-core; rebuilds and runs itself in release mode.
//! - `cargo xtask bench-sql [--quick] [--iterations N] [--json PATH] ...`: SQL benchmark of
//!   HeliosDB's `EmbeddedDatabase` against SQLite; rebuilds and runs itself in release mode.
//! - `cargo xtask bench-crypto [--quick] [--iterations N] [--rows N] ...`: encryption at
//!   rest: the core and SQL workloads unencrypted vs encrypted (also with a small page
//!   cache, so reads decrypt), the KDF and open times, file sizes; runs itself in release.
//! - `cargo xtask bench-sync [--quick] [--rows N] [--iterations N]`: the sync engine's merge
//!   throughput, local write overhead and bytes per changed row, against SQLite.
//! - `cargo xtask bench-net [--quick] [--rows N] [--commits N] [--big N]`: sync over QUIC on
//!   loopback: end-to-end throughput, background-mode latency, idle rounds on a large
//!   database, and its initial sync (time and the client's peak memory).
//! - `cargo xtask bench-vector [--quick] [--queries N] [--synthetic N] [--dim N] [--ef LIST]`:
//!   vector search on the real text set in `shared/vectors` and a synthetic clustered set:
//!   recall@10 and single-threaded QPS of the raw HNSW segment, the SQL path and hnsw_rs,
//!   exact baselines, build times, sizes, inserts into an index; runs itself in release.
//! - `cargo xtask bench-compress [--quick] [--iterations N] [--values N] [--rows N]`: the
//!   heliosdb-compress codecs (ALP, integers, FSST, string columns) against lz4_flex and
//!   zstd on floats, integers and text, and a sensor table as a row table, a columnar table
//!   and in SQLite: file sizes, load and aggregate query times; runs itself in release.
//! - `cargo xtask bench-history [--quick] [--rows N] [--view-rows N] [--iterations N]`:
//!   `AS OF` against current point reads (core and SQL), `CREATE BRANCH` on 10k/100k/1M
//!   rows, and incremental against full refresh of a materialized GROUP BY view after a 1%
//!   change; runs itself in release.
//! - `cargo xtask sim [--seeds N | --seed S]`: the sync simulation over many seeds.
//! - `cargo xtask fuzz [--seconds N] [--target NAME] [--seed S]`: mutational fuzzing of
//!   every heliosdb-compress decoder (stable Rust, in-process; N seconds per target,
//!   default 60); crashes go to `target/fuzz-crashes/`, `--replay FILE --target NAME`
//!   reruns one.

mod bench;
mod bench_compress;
mod bench_crypto;
mod bench_history;
mod bench_net;
mod bench_sql;
mod bench_sync;
mod bench_vector;
mod ci;
mod fuzz;
mod sim;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "HeliosDB Nano repository automation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the CI checks: fmt --check, clippy -D warnings, the tests, a short fuzz run, the
    /// SQLite corpus.
    Ci,
    /// Storage benchmark: SQLite vs raw redb vs heliosdb-core (builds and runs in release mode).
    Bench(bench::BenchArgs),
    /// The benchmark itself, in the current binary (`bench` runs this from a release build).
    #[command(hide = true)]
    BenchRun(bench::BenchArgs),
    /// SQL benchmark: HeliosDB's SQL API vs SQLite (builds and runs in release mode).
    BenchSql(bench_sql::BenchSqlArgs),
    /// The SQL benchmark itself, in the current binary (`bench-sql` runs this in release).
    #[command(hide = true)]
    BenchSqlRun(bench_sql::BenchSqlArgs),
    /// Encryption-at-rest benchmark: the core and SQL workloads unencrypted vs encrypted,
    /// warm and with a small page cache, the KDF and open times, file sizes (builds and
    /// runs in release mode).
    BenchCrypto(bench_crypto::BenchCryptoArgs),
    /// The encryption benchmark itself, in the current binary.
    #[command(hide = true)]
    BenchCryptoRun(bench_crypto::BenchCryptoArgs),
    /// Network sync benchmark: QUIC throughput, background-mode latency, idle rounds and the
    /// initial sync of a large database (builds and runs in release mode).
    BenchNet(bench_net::BenchNetArgs),
    /// The network benchmark itself, in the current binary.
    #[command(hide = true)]
    BenchNetRun(bench_net::BenchNetArgs),
    /// The initial-sync client process of bench-net.
    #[command(hide = true)]
    BenchNetClient(bench_net::BenchNetClientArgs),
    /// Sync benchmark: merge throughput, local write overhead, bytes per changed row.
    BenchSync(bench_sync::BenchSyncArgs),
    /// The sync benchmark itself, in the current binary.
    #[command(hide = true)]
    BenchSyncRun(bench_sync::BenchSyncArgs),
    /// Vector search benchmark: recall and QPS of the HNSW segment, the SQL path and
    /// hnsw_rs, on real text embeddings and a synthetic set (builds and runs in release).
    BenchVector(bench_vector::BenchVectorArgs),
    /// The vector benchmark itself, in the current binary.
    #[command(hide = true)]
    BenchVectorRun(bench_vector::BenchVectorArgs),
    /// Compression benchmark: the codecs against lz4_flex and zstd, and columnar against
    /// row tables and SQLite (builds and runs in release mode).
    BenchCompress(bench_compress::BenchCompressArgs),
    /// The compression benchmark itself, in the current binary.
    #[command(hide = true)]
    BenchCompressRun(bench_compress::BenchCompressArgs),
    /// Time travel, branch and materialized-view benchmark: AS OF against current point
    /// reads, branch creation by database size, incremental against full view refresh
    /// (builds and runs in release mode).
    BenchHistory(bench_history::BenchHistoryArgs),
    /// The history benchmark itself, in the current binary.
    #[command(hide = true)]
    BenchHistoryRun(bench_history::BenchHistoryArgs),
    /// The sync simulation (faulty network, crashes) over many seeds, optimized.
    Sim(sim::SimArgs),
    /// Fuzz the heliosdb-compress decoders (mutational, in-process, stable Rust).
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ci => ci::run(),
        Command::Bench(args) => bench::launch(&args),
        Command::BenchRun(args) => bench::run(&args),
        Command::BenchSql(args) => bench_sql::launch(&args),
        Command::BenchSqlRun(args) => bench_sql::run(&args),
        Command::BenchCrypto(args) => bench_crypto::launch(&args),
        Command::BenchCryptoRun(args) => bench_crypto::run(&args),
        Command::BenchNet(args) => bench_net::launch(&args),
        Command::BenchNetRun(args) => bench_net::run(&args),
        Command::BenchNetClient(args) => bench_net::client(&args),
        Command::BenchSync(args) => bench_sync::launch(&args),
        Command::BenchSyncRun(args) => bench_sync::run(&args),
        Command::BenchVector(args) => bench_vector::launch(&args),
        Command::BenchVectorRun(args) => bench_vector::run(&args),
        Command::BenchCompress(args) => bench_compress::launch(&args),
        Command::BenchCompressRun(args) => bench_compress::run(&args),
        Command::BenchHistory(args) => bench_history::launch(&args),
        Command::BenchHistoryRun(args) => bench_history::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the workspace root")
}

/// The cargo that runs us (`CARGO`, set by `cargo run`), or `cargo` from `PATH`.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}
