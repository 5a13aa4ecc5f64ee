//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first failure.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "test",
        args: &["test", "--workspace", "--locked"],
        env: &[("RUST_BACKTRACE", "1")],
    },
    // Every codec decoder on mutated input: 3 s per target (~30 s), in the dev profile
    // where heliosdb-compress is optimized with overflow checks on.
    Step {
        name: "fuzz",
        args: &["xtask", "fuzz", "--seconds", "3"],
        env: &[("RUST_BACKTRACE", "1")],
    },
    // SQLite's conformance corpus: 170k records, run optimized (minutes in debug).
    Step {
        name: "sqllogictest",
        args: &[
            "test",
            "--release",
            "--locked",
            "-p",
            "heliosdb-sql",
            "--test",
            "sqllogictest",
            "--",
            "--ignored",
            "--nocapture",
        ],
        env: &[("RUST_BACKTRACE", "1")],
    },
];

pub fn run() -> Result<()> {
    let root = crate::workspace_root();
    let cargo = crate::cargo();
    let total = Instant::now();
    let mut timings: Vec<(&str, Duration)> = Vec::new();

    for (i, step) in STEPS.iter().enumerate() {
        let shown = format!("cargo {}", step.args.join(" "));
        let env: String = step.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        println!(
            "==> ci step {}/{} `{}`: {env}{shown}",
            i + 1,
            STEPS.len(),
            step.name
        );
        let start = Instant::now();
        let status = Command::new(&cargo)
            .args(step.args)
            .envs(step.env.iter().copied())
            .current_dir(root)
            .status()
            .with_context(|| {
                format!(
                    "ci step `{}`: could not start {}",
                    step.name,
                    cargo.display()
                )
            })?;
        let took = start.elapsed();
        if !status.success() {
            print_summary(&timings, total.elapsed());
            bail!(
                "ci step `{}` FAILED ({status}) after {}: {env}{shown}",
                step.name,
                secs(took)
            );
        }
        println!("<== ci step `{}` passed in {}", step.name, secs(took));
        timings.push((step.name, took));
    }

    print_summary(&timings, total.elapsed());
    println!("ci: all {} steps passed", STEPS.len());
    Ok(())
}

fn print_summary(timings: &[(&str, Duration)], total: Duration) {
    println!("ci timings:");
    for (name, took) in timings {
        println!("  {name:<8} {:>10}", secs(*took));
    }
    println!("  {:<8} {:>10}", "total", secs(total));
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
