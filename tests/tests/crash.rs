//! Kill a committing process with SIGKILL at random points; on reopen every commit it
//! reported is there, no partial transaction is visible, and the change log matches the data.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use heliosdb_nano::{Change, Database, KeySource, Value};

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Opens the database, encrypted when `key` (hex) is given.
fn open(path: &std::path::Path, key: Option<&str>) -> Database {
    match key {
        Some(hex) => heliosdb_nano::open_encrypted(
            path,
            &KeySource::from_hex(hex).unwrap(),
            Default::default(),
        )
        .expect("reopen the encrypted database after SIGKILL"),
        None => Database::open(path).expect("reopen after SIGKILL"),
    }
}

/// Checks the database and returns the last whole transaction number (-1 for none).
fn check(path: &std::path::Path, key: Option<&str>, reported: i64) -> i64 {
    let db = open(path, key);
    let r = db.begin_read().unwrap();
    let mut by_txn: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut data = BTreeMap::new();
    let mut counter = -1;
    for row in r.scan("t", ..).unwrap() {
        let values = row.unwrap().values().unwrap();
        let k = int(&values[0]);
        data.insert(k, values.clone());
        if k == -1 {
            counter = int(&values[1]);
        } else {
            by_txn.entry(int(&values[1])).or_default().push(k);
        }
    }
    // No partial transaction: each has exactly its three rows, and they run 0..=counter.
    for (txn, keys) in &by_txn {
        assert_eq!(
            keys,
            &vec![txn * 3, txn * 3 + 1, txn * 3 + 2],
            "partial transaction {txn}"
        );
    }
    assert_eq!(
        by_txn.keys().copied().collect::<Vec<_>>(),
        (0..=counter).collect::<Vec<_>>()
    );
    // Every commit the writer saw return is there.
    assert!(
        counter >= reported,
        "commit {reported} was reported but only {counter} survived"
    );

    // The change log, replayed, gives exactly the data.
    let mut replayed: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for record in r.changes_since(0, usize::MAX).unwrap() {
        match record.change {
            Change::Insert { key, columns } | Change::Update { key, columns } => {
                // The key column (id 0) travels in the key, the others in `columns`.
                let row = replayed
                    .entry(int(&key[0]))
                    .or_insert_with(|| vec![key[0].clone(), Value::Null, Value::Null]);
                for (id, value) in columns {
                    row[id as usize] = value;
                }
            }
            Change::Delete { key } => {
                replayed.remove(&int(&key[0]));
            }
            Change::Schema(_) => {}
        }
    }
    assert_eq!(replayed, data, "change log and data disagree");
    counter
}

#[test]
fn sigkill_at_random_points_loses_no_reported_commit() {
    kill_writer_repeatedly(None);
}

/// The same with encryption at rest: every block redb wrote before the kill still
/// authenticates, and the file reopens with its key.
#[test]
fn sigkill_of_an_encrypted_writer_loses_no_reported_commit() {
    kill_writer_repeatedly(Some(&"a5".repeat(32)));
}

fn kill_writer_repeatedly(key: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ std::process::id() as u64;
    let mut last = -1;
    for round in 0..8 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(&path)
            .args(key)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut reported = -1i64;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("committed ") {
                    reported = n.parse().unwrap();
                }
            }
            reported
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 400));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let reported = reader.join().unwrap();
        let survived = check(&path, key, reported);
        assert!(
            survived >= last,
            "round {round}: went back from {last} to {survived}"
        );
        last = survived;
    }
    assert!(
        last > 0,
        "the writer never committed; the test proved nothing"
    );
}
