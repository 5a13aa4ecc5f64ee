//! Medians, the results table and the JSON file.

use std::fmt::Write as _;
use std::time::Duration;

use super::{BenchArgs, Config, ENGINE_NAMES, KEY_LEN, Samples, VAL_LEN, Workload};

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// One workload's outcome. An engine without samples for it has no entry (`None`).
pub struct Row {
    pub workload: Workload,
    pub label: String,
    /// Per engine in ENGINE_NAMES order: all samples (ms) and their median (ms).
    pub samples_ms: [Option<Vec<f64>>; 3],
    pub median_ms: [Option<f64>; 3],
}

impl Row {
    fn ratio(&self, over: usize) -> Option<f64> {
        Some(self.median_ms[2]? / self.median_ms[over]?)
    }

    pub fn ours_over_sqlite(&self) -> Option<f64> {
        self.ratio(0)
    }

    pub fn ours_over_redb(&self) -> Option<f64> {
        self.ratio(1)
    }
}

pub struct Results {
    pub config: Config,
    pub sqlite_synchronous: &'static str,
    pub rows: Vec<Row>,
}

impl Results {
    pub fn new(config: &Config, args: &BenchArgs, samples: &Samples) -> Results {
        let rows = Workload::ALL
            .iter()
            .enumerate()
            .map(|(wi, &workload)| {
                let mut samples_ms: [Option<Vec<f64>>; 3] = Default::default();
                let mut median_ms = [None; 3];
                for (e, name) in samples.engines.iter().enumerate() {
                    let slot = ENGINE_NAMES.iter().position(|n| n == name).unwrap();
                    let these = &samples.samples[wi][e];
                    samples_ms[slot] = Some(these.iter().map(|&d| ms(d)).collect());
                    median_ms[slot] = Some(ms(median(these)));
                }
                Row {
                    workload,
                    label: workload.label(config),
                    samples_ms,
                    median_ms,
                }
            })
            .collect();
        Results {
            config: *config,
            sqlite_synchronous: args.sqlite_synchronous.pragma(),
            rows,
        }
    }

    pub fn print_table(&self) {
        let c = &self.config;
        println!(
            "median of {} iteration(s), ms; key {KEY_LEN} B, value {VAL_LEN} B; \
             sqlite WAL synchronous={}",
            c.iterations, self.sqlite_synchronous
        );
        let header = format!(
            "{:<27} | {:>11} | {:>11} | {:>11} | {:>11} | {:>9} | {:<18} | {:<18}",
            "workload",
            "sqlite ms",
            "redb ms",
            "ours ms",
            "ours/sqlite",
            "ours/redb",
            "target ours/sqlite",
            "target ours/redb"
        );
        let header = header.trim_end();
        println!("{header}");
        println!("{}", "-".repeat(header.len()));
        let mut met = 0;
        let mut missed = 0;
        for row in &self.rows {
            let (t_sqlite, t_redb) = row.workload.targets();
            let mut verdict = |ratio: Option<f64>, target: f64| match ratio {
                Some(r) if r <= target => {
                    met += 1;
                    format!("<= {target:.1} met")
                }
                Some(_) => {
                    missed += 1;
                    format!("<= {target:.1} MISSED")
                }
                None => format!("<= {target:.1} n/a"),
            };
            let v_sqlite = verdict(row.ours_over_sqlite(), t_sqlite);
            let v_redb = verdict(row.ours_over_redb(), t_redb);
            let line = format!(
                "{:<27} | {:>11} | {:>11} | {:>11} | {:>11} | {:>9} | {:<18} | {:<18}",
                row.label,
                opt(row.median_ms[0]),
                opt(row.median_ms[1]),
                opt(row.median_ms[2]),
                opt(row.ours_over_sqlite()),
                opt(row.ours_over_redb()),
                v_sqlite,
                v_redb
            );
            println!("{}", line.trim_end());
        }
        if self.rows.iter().all(|r| r.median_ms[2].is_none()) {
            println!("targets: not evaluated (heliosdb-core was not benchmarked)");
        } else {
            println!("targets: {met} met, {missed} missed");
        }
    }

    pub fn to_json(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\n  \"unit\": \"ms\",\n  \"statistic\": \"median\",\n  \"iterations\": {},\n  \
             \"rows\": {},\n  \"commits\": {},\n  \"reads\": {},\n  \"key_bytes\": {KEY_LEN},\n  \
             \"value_bytes\": {VAL_LEN},\n  \"sqlite_synchronous\": \"{}\",\n  \"workloads\": [",
            c.iterations, c.rows, c.commits, c.reads, self.sqlite_synchronous
        );
        for (i, row) in self.rows.iter().enumerate() {
            let (t_sqlite, t_redb) = row.workload.targets();
            let per_engine = |f: &dyn Fn(usize) -> String| {
                ENGINE_NAMES
                    .iter()
                    .enumerate()
                    .map(|(e, name)| format!("\"{name}\": {}", f(e)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let medians = per_engine(&|e| json_num(row.median_ms[e]));
            let samples = per_engine(&|e| match &row.samples_ms[e] {
                Some(s) => {
                    let list: Vec<String> = s.iter().map(|&x| format!("{x:.2}")).collect();
                    format!("[{}]", list.join(", "))
                }
                None => "null".to_owned(),
            });
            let met = |ratio: Option<f64>, target: f64| match ratio {
                Some(r) => (r <= target).to_string(),
                None => "null".to_owned(),
            };
            let _ = write!(
                out,
                "{}\n    {{\n      \"id\": \"{}\",\n      \"label\": \"{}\",\n      \
                 \"median_ms\": {{{medians}}},\n      \"samples_ms\": {{{samples}}},\n      \
                 \"ours_over_sqlite\": {},\n      \"ours_over_redb\": {},\n      \
                 \"target_ours_over_sqlite\": {t_sqlite:.1},\n      \
                 \"target_ours_over_redb\": {t_redb:.1},\n      \
                 \"met_sqlite\": {},\n      \"met_redb\": {}\n    }}",
                if i == 0 { "" } else { "," },
                row.workload.id(),
                row.label,
                json_num(row.ours_over_sqlite()),
                json_num(row.ours_over_redb()),
                met(row.ours_over_sqlite(), t_sqlite),
                met(row.ours_over_redb(), t_redb),
            );
        }
        out.push_str("\n  ]\n}\n");
        out
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.2}"))
}

fn json_num(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.2}"),
        _ => "null".to_owned(),
    }
}
