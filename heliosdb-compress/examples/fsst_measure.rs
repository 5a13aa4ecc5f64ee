//! Measures FSST and the string column codecs: compression ratio, encode and decode MB/s.
//!
//! `cargo run --release -p heliosdb-compress --example fsst_measure [FILE]` (default:
//! `shared/vectors/base.txt` next to the workspace, if present), plus generated URLs and
//! e-mail addresses.
use std::time::Instant;

use heliosdb_compress::fsst::SymbolTable;
use heliosdb_compress::strings::{StringColumn, encode_strings};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn urls(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(1);
    let hosts = [
        "www.example.com",
        "docs.rs",
        "github.com",
        "en.wikipedia.org",
        "news.ycombinator.com",
        "api.heliosdb.io",
    ];
    let dirs = [
        "wiki",
        "user",
        "items",
        "search",
        "blob/main/src",
        "v1/tables",
        "crates",
    ];
    let words = [
        "compression",
        "string",
        "Rust_(programming_language)",
        "index",
        "fsst",
        "query",
        "lz4_flex",
        "page",
    ];
    (0..n)
        .map(|_| {
            let scheme = if rng.next().is_multiple_of(4) {
                "http"
            } else {
                "https"
            };
            let mut s = format!(
                "{scheme}://{}/{}/{}",
                rng.pick(&hosts),
                rng.pick(&dirs),
                rng.pick(&words)
            );
            if rng.next().is_multiple_of(2) {
                s += &format!("?id={}&page={}", rng.next() % 100_000, rng.next() % 50);
            }
            s.into_bytes()
        })
        .collect()
}

fn emails(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(2);
    let first = [
        "john", "mary", "peter", "anna", "li", "mohammed", "sofia", "james", "olga", "carlos",
    ];
    let last = [
        "smith", "johnson", "garcia", "mueller", "wang", "kowalski", "rossi", "tanaka",
    ];
    let domains = [
        "gmail.com",
        "yahoo.com",
        "outlook.com",
        "example.org",
        "company.co.uk",
        "hotmail.com",
    ];
    (0..n)
        .map(|_| {
            let sep = if rng.next().is_multiple_of(2) {
                "."
            } else {
                "_"
            };
            let num = if rng.next().is_multiple_of(3) {
                (rng.next() % 1000).to_string()
            } else {
                String::new()
            };
            format!(
                "{}{sep}{}{num}@{}",
                rng.pick(&first),
                rng.pick(&last),
                rng.pick(&domains)
            )
            .into_bytes()
        })
        .collect()
}

fn measure(name: &str, values: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let raw: usize = refs.iter().map(|v| v.len()).sum();
    let mb = raw as f64 / 1e6;

    let t = Instant::now();
    let table = SymbolTable::train(refs.iter().copied());
    let train = t.elapsed();
    let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(refs.len());
    let reps = (20_000_000 / raw.max(1)).max(1);
    let t = Instant::now();
    for _ in 0..reps {
        encoded.clear();
        let mut codes = Vec::new();
        for v in &refs {
            codes.clear();
            table.encode(v, &mut codes);
            encoded.push(codes.clone());
        }
    }
    let encode = t.elapsed().as_secs_f64() / reps as f64;
    let coded: usize = encoded.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut decode = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut check = 0usize;
        for _ in 0..reps {
            for c in &encoded {
                out.clear();
                table.decode(c, &mut out).unwrap();
                check += out.len();
            }
        }
        decode = decode.min(t.elapsed().as_secs_f64() / reps as f64);
        assert_eq!(check, raw * reps);
    }

    let mut column = Vec::new();
    let t = Instant::now();
    let codec = encode_strings(&refs, &mut column);
    let column_encode = t.elapsed().as_secs_f64();
    let parsed = StringColumn::parse(&column).unwrap();
    let mut rng = Rng(3);
    let order: Vec<usize> = (0..refs.len())
        .map(|_| (rng.next() % refs.len() as u64) as usize)
        .collect();
    let mut random_rate = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut random_bytes = 0usize;
        for _ in 0..reps {
            for &i in &order {
                out.clear();
                parsed.get(i, &mut out).unwrap();
                random_bytes += out.len();
            }
        }
        random_rate = random_rate.max(random_bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }

    println!(
        "{name}: {} values, {:.2} MB, avg {:.1} B; {} symbols, trained in {:.2} ms",
        refs.len(),
        mb,
        raw as f64 / refs.len() as f64,
        table.symbols(),
        train.as_secs_f64() * 1e3
    );
    println!(
        "  fsst codes only: ratio {:.2}x (incl. 4-byte offsets {:.2}x); encode {:.0} MB/s, decode {:.0} MB/s (best of 5, value by value)",
        raw as f64 / coded as f64,
        raw as f64 / (coded + 4 * refs.len()) as f64,
        mb / encode,
        mb / decode
    );
    println!(
        "  encode_strings: {:?}, {} bytes, ratio {:.2}x, {:.0} MB/s incl. training; random get {:.0} MB/s (best of 5)",
        codec,
        column.len(),
        raw as f64 / column.len() as f64,
        mb / column_encode,
        random_rate
    );
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/base.txt").to_string()
    });
    match std::fs::read(&path) {
        Ok(text) => {
            let lines: Vec<Vec<u8>> = text
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            measure("english lines", &lines);
        }
        Err(err) => println!("skipping {path}: {err}"),
    }
    measure("urls", &urls(100_000));
    measure("emails", &emails(100_000));
}
