//! Medians, the results table and the JSON file.

use std::fmt::Write as _;

use super::{Config, ENGINES, JOIN_WIDTH, Samples, V_LEN, Workload};

pub use crate::bench::report::{median, ms};

/// One workload's outcome: per engine (ENGINES order) all samples and the median, in ms.
pub struct Row {
    pub workload: Workload,
    pub label: String,
    pub samples_ms: Vec<Vec<f64>>,
    pub median_ms: Vec<f64>,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.median_ms[1] / self.median_ms[0]
    }

    pub fn met(&self) -> bool {
        self.ratio() <= self.workload.target()
    }
}

pub struct Results {
    pub config: Config,
    pub rows: Vec<Row>,
}

impl Results {
    pub fn new(config: &Config, samples: &Samples) -> Results {
        let rows = Workload::ALL
            .iter()
            .map(|&workload| {
                let per_engine = &samples.samples[workload.index()];
                Row {
                    workload,
                    label: workload.label(config),
                    samples_ms: per_engine
                        .iter()
                        .map(|s| s.iter().map(|&d| ms(d)).collect())
                        .collect(),
                    median_ms: per_engine.iter().map(|s| ms(median(s))).collect(),
                }
            })
            .collect();
        Results {
            config: *config,
            rows,
        }
    }

    pub fn print_table(&self) {
        println!(
            "median of {} iteration(s), ms; v {V_LEN} B; sqlite WAL synchronous=NORMAL, \
             ours durable commits",
            self.config.iterations
        );
        let header = format!(
            "{:<38} | {:>10} | {:>10} | {:>11} | {:<14}",
            "workload", "sqlite ms", "ours ms", "ours/sqlite", "target"
        );
        println!("{header}");
        println!("{}", "-".repeat(header.len()));
        let (mut met, mut missed) = (0, 0);
        for row in &self.rows {
            let target = row.workload.target();
            let verdict = if row.met() {
                met += 1;
                format!("<= {target:.1} met")
            } else {
                missed += 1;
                format!("<= {target:.1} MISSED")
            };
            let line = format!(
                "{:<38} | {:>10.2} | {:>10.2} | {:>11.2} | {:<14}",
                row.label,
                row.median_ms[0],
                row.median_ms[1],
                row.ratio(),
                verdict
            );
            println!("{}", line.trim_end());
        }
        println!("targets: {met} met, {missed} missed");
        println!(
            "1a: ours runs Transaction::execute with the SQL text (parsed once, then found in \
             the statement cache); sqlite prepare_cached."
        );
        println!(
            "1c: ours runs the INSERT prepared once with Transaction::execute_prepared; \
             sqlite as in 1a."
        );
        println!(
            "2-5: prepared statements, each execution its own autocommit read; 5 joins ranges \
             of {JOIN_WIDTH} customers."
        );
        println!(
            "2L/3L/5L*: the same queries with the values in the SQL text, a new text per call, \
             so both engines parse every call."
        );
    }

    pub fn to_json(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\n  \"unit\": \"ms\",\n  \"statistic\": \"median\",\n  \"iterations\": {},\n  \
             \"rows\": {},\n  \"reads\": {},\n  \"scans\": {},\n  \"big_rows\": {},\n  \
             \"customers\": {},\n  \"orders\": {},\n  \"joins\": {},\n  \
             \"sqlite_synchronous\": \"NORMAL\",\n  \"workloads\": [",
            c.iterations, c.rows, c.reads, c.scans, c.big_rows, c.customers, c.orders, c.joins
        );
        for (i, row) in self.rows.iter().enumerate() {
            let per_engine = |f: &dyn Fn(usize) -> String| {
                ENGINES
                    .iter()
                    .enumerate()
                    .map(|(e, (name, _))| format!("\"{name}\": {}", f(e)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let medians = per_engine(&|e| json_num(row.median_ms[e]));
            let samples = per_engine(&|e| {
                let list: Vec<String> = row.samples_ms[e].iter().map(|&x| json_num(x)).collect();
                format!("[{}]", list.join(", "))
            });
            let _ = write!(
                out,
                "{}\n    {{\n      \"id\": \"{}\",\n      \"label\": \"{}\",\n      \
                 \"median_ms\": {{{medians}}},\n      \"samples_ms\": {{{samples}}},\n      \
                 \"ours_over_sqlite\": {},\n      \"target_ours_over_sqlite\": {:.1},\n      \
                 \"met\": {}\n    }}",
                if i == 0 { "" } else { "," },
                row.workload.id(),
                row.label,
                json_num(row.ratio()),
                row.workload.target(),
                row.met(),
            );
        }
        out.push_str("\n  ]\n}\n");
        out
    }
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "null".to_owned()
    }
}
