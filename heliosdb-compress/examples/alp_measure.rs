//! Ratio and speed of ALP / ALP-RD and the integer codecs on synthetic columns.
//!
//! `cargo run --release -p heliosdb-compress --example alp_measure [--dump DIR]`
//! (`--dump` writes each raw column to DIR, e.g. to compare with `zstd`).

use std::time::Instant;

use heliosdb_compress::{alp, int};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const N: usize = 1 << 20;

fn round_to(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).round() / scale
}

fn columns() -> Vec<(&'static str, Vec<f64>)> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut price = 100.0;
    let prices = (0..N)
        .map(|_| {
            price = round_to((price + (rng.unit() - 0.5) * 0.2).max(1.0), 2);
            price
        })
        .collect();
    let temps = (0..N)
        .map(|i| {
            round_to(
                15.0 + 10.0 * (i as f64 / 5000.0).sin() + (rng.unit() - 0.5) * 4.0,
                1,
            )
        })
        .collect();
    let gps = (0..N)
        .map(|_| round_to(-90.0 + rng.unit() * 180.0, 6))
        .collect();
    let random = (0..N).map(|_| rng.unit() * 1000.0 - 500.0).collect();
    vec![
        ("prices-2dec", prices),
        ("temps-1dec", temps),
        ("gps-6dec", gps),
        ("random", random),
    ]
}

fn best_of<R>(runs: usize, mut f: impl FnMut() -> R) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1));
    println!(
        "{:<12} {:>8} {:>7} {:>10} {:>10}",
        "column", "codec", "ratio", "enc MB/s", "dec MB/s"
    );
    for (name, values) in columns() {
        let raw_mb = (values.len() * 8) as f64 / 1e6;
        if let Some(dir) = dump {
            let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(format!("{dir}/{name}.f64"), raw).expect("dump");
        }
        let mut bytes = Vec::new();
        let codec = alp::encode_f64(&values, &mut bytes);
        let enc = best_of(3, || {
            let mut b = Vec::with_capacity(bytes.len());
            alp::encode_f64(&values, &mut b);
            b
        });
        let mut back = Vec::new();
        let dec = best_of(10, || alp::decode_f64(&bytes, &mut back));
        assert!(
            back.iter()
                .zip(&values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let ratio = (values.len() * 8) as f64 / bytes.len() as f64;
        println!(
            "{name:<12} {:>8} {ratio:>7.2} {:>10.0} {:>10.0}",
            codec.name(),
            raw_mb / enc,
            raw_mb / dec
        );
        let f32s: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let mut bytes = Vec::new();
        let codec = alp::encode_f32(&f32s, &mut bytes);
        let mut back = Vec::new();
        let dec = best_of(10, || alp::decode_f32(&bytes, &mut back));
        let ratio = (f32s.len() * 4) as f64 / bytes.len() as f64;
        println!(
            "{:<12} {:>8} {ratio:>7.2} {:>10} {:>10.0}",
            format!("{name}/32"),
            codec.name(),
            "",
            raw_mb / 2.0 / dec
        );
    }
    let mut rng = Rng(7);
    let mut ts = 1_700_000_000_000i64;
    let int_columns: Vec<(&str, Vec<i64>)> = vec![
        (
            "timestamps",
            (0..N)
                .map(|_| {
                    ts += 1000 + (rng.next() % 7) as i64;
                    ts
                })
                .collect(),
        ),
        (
            "small-ids",
            (0..N).map(|_| (rng.next() % 5000) as i64).collect(),
        ),
        ("status", (0..N).map(|i| (i / 10_000) as i64 % 3).collect()),
    ];
    for (name, values) in int_columns {
        let raw_mb = (values.len() * 8) as f64 / 1e6;
        let mut bytes = Vec::new();
        let codec = int::encode_i64(&values, &mut bytes);
        let enc = best_of(3, || {
            let mut b = Vec::new();
            int::encode_i64(&values, &mut b);
            b
        });
        let mut back = Vec::new();
        let dec = best_of(10, || int::decode_i64(&bytes, &mut back));
        assert_eq!(back, values);
        let ratio = (values.len() * 8) as f64 / bytes.len() as f64;
        println!(
            "{name:<12} {:>8} {ratio:>7.2} {:>10.0} {:>10.0}",
            codec.name(),
            raw_mb / enc,
            raw_mb / dec
        );
    }
}
