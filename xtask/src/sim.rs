//! `cargo xtask sim --seeds N`: the sync simulation (heliosdb-sync/tests/simulation.rs) over
//! more seeds than CI runs, optimized; `--seed S` replays one.

use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct SimArgs {
    /// Run seeds 1..=N [default: 200].
    #[arg(long, default_value_t = 200)]
    pub seeds: u64,
    /// Replay this one seed instead.
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(args: &SimArgs) -> Result<()> {
    let mut cmd = Command::new(crate::cargo());
    cmd.current_dir(crate::workspace_root()).args([
        "test",
        "--release",
        "-p",
        "heliosdb-sync",
        "--test",
        "simulation",
        "--",
        "--nocapture",
    ]);
    match args.seed {
        Some(seed) => cmd.env("HELIOSDB_SIM_SEED", seed.to_string()),
        None => cmd.env("HELIOSDB_SIM_SEEDS", args.seeds.to_string()),
    };
    let status = cmd.status().context("could not start cargo")?;
    if !status.success() {
        bail!("the simulation failed ({status}); each failing seed above says how to replay it");
    }
    Ok(())
}
