//! Parses every statement of SQLite's sqllogictest corpus that our engine ("postgresql")
//! is expected to run successfully, and holds the parse rate at or above 99.5%.

use std::path::{Path, PathBuf};
use std::time::Instant;

use heliosdb_sql::parser::parse;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/sqllogictest");
const ENGINE: &str = "postgresql";

fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            test_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "test") {
            out.push(path);
        }
    }
}

/// The SQL of the records in `text` that should succeed on our engine, with line numbers.
fn records(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut out = Vec::new();
    let mut skip = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first().copied() {
            None => {}
            Some(w) if w.starts_with('#') => {}
            Some("skipif") => skip |= words.get(1) == Some(&ENGINE),
            Some("onlyif") => skip |= words.get(1) != Some(&ENGINE),
            Some("halt") => {
                if !skip {
                    break;
                }
                skip = false;
            }
            // Hashing only matters to the engine's result check, not to parsing.
            Some("hash-threshold") => skip = false,
            Some(kind @ ("statement" | "query")) => {
                let ok = kind == "query" || words.get(1) == Some(&"ok");
                let first = i + 2;
                let mut sql = Vec::new();
                i += 1;
                while i < lines.len() && !lines[i].trim().is_empty() && lines[i] != "----" {
                    sql.push(lines[i]);
                    i += 1;
                }
                while i < lines.len() && !lines[i].trim().is_empty() {
                    i += 1;
                }
                if ok && !skip {
                    out.push((first, sql.join("\n")));
                }
                skip = false;
            }
            Some(_) => {}
        }
        i += 1;
    }
    out
}

#[test]
fn corpus_parse_rate() {
    let root = Path::new(CORPUS);
    // A missing corpus must fail, not pass with nothing parsed.
    assert!(
        root.is_dir(),
        "the sqllogictest corpus is not at {CORPUS}; it belongs in shared/ beside the repository"
    );
    let started = Instant::now();
    let mut files = Vec::new();
    test_files(root, &mut files);
    let (mut total, mut parsed) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut round_trip = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            panic!("cannot read {}", file.display());
        };
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let (mut n, mut ok) = (0usize, 0usize);
        for (line, sql) in records(&text) {
            n += 1;
            match parse(&sql) {
                Ok(stmts) if !stmts.is_empty() => {
                    ok += 1;
                    // The printed form must parse back to the same tree.
                    let printed: Vec<String> = stmts.iter().map(|s| s.to_string()).collect();
                    let again = parse(&printed.join(";\n"))
                        .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                    if again.as_ref() != Ok(&printed) {
                        round_trip.push(format!(
                            "{name}:{line}: {sql}\n => {printed:?}\n => {again:?}"
                        ));
                    }
                }
                Ok(_) => failures.push(format!("{name}:{line}: no statement in {sql:?}")),
                Err(e) => failures.push(format!("{name}:{line}: {e}\n    {sql}")),
            }
        }
        println!("{name}: {ok}/{n} parsed");
        total += n;
        parsed += ok;
    }
    let rate = 100.0 * parsed as f64 / total.max(1) as f64;
    println!(
        "corpus: {parsed}/{total} statements parsed ({rate:.3}%), {} files, {:.1?}",
        files.len(),
        started.elapsed()
    );
    assert!(
        round_trip.is_empty(),
        "{} statements print as SQL that parses differently, e.g.:\n{}",
        round_trip.len(),
        round_trip
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        total > 100_000,
        "expected the full corpus, found {total} records"
    );
    assert!(
        rate >= 99.5,
        "parse rate {rate:.3}% is below 99.5%; first failures:\n{}",
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for f in failures.iter().take(20) {
        println!("failed: {f}");
    }
}
