//! Criterion benchmarks of the core operations (24-byte keys, 150-byte values).
//! `cargo xtask bench` compares the same workloads against SQLite and raw redb.
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use heliosdb_core::{ColumnSpec, DataType, Database, DatabaseOptions, TableSpec, Value, ValueRef};

const ROWS: u64 = 10_000;

fn key(i: u64) -> Vec<u8> {
    let mut k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k.extend_from_slice(&[7; 8]);
    k
}

fn open(dir: &tempfile::TempDir, name: &str) -> Database {
    let db = Database::open_with(
        dir.path().join(name),
        DatabaseOptions {
            durable_commits: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("kv")
            .column(ColumnSpec::new("k", DataType::Blob))
            .column(ColumnSpec::new("v", DataType::Blob))
            .primary_key(["k"]),
    )
    .unwrap();
    w.commit().unwrap();
    db
}

fn load(db: &Database) {
    let mut w = db.begin_write().unwrap();
    for i in 0..ROWS {
        w.insert(
            "kv",
            &[Value::Blob(key(i)), Value::Blob(vec![i as u8; 150])],
        )
        .unwrap();
    }
    w.commit().unwrap();
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(ROWS));
    let mut n = 0;
    g.bench_function("insert_10k_one_txn", |b| {
        b.iter_batched(
            || {
                n += 1;
                open(&dir, &format!("ins{n}.db"))
            },
            // Returning the database drops (and flushes) it outside the measurement.
            |db| {
                load(&db);
                db
            },
            BatchSize::PerIteration,
        )
    });
    let db = open(&dir, "read.db");
    load(&db);
    g.bench_function("point_read_10k", |b| {
        b.iter(|| {
            let r = db.begin_read().unwrap();
            let mut sum = 0u64;
            for i in 0..ROWS {
                let row = r
                    .get("kv", &[Value::Blob(key((i * 7919) % ROWS))])
                    .unwrap()
                    .unwrap();
                if let ValueRef::Blob(v) = row.get(1).unwrap().as_ref() {
                    sum += u64::from(v[0]);
                }
            }
            sum
        })
    });
    g.bench_function("scan_10k", |b| {
        b.iter(|| {
            let r = db.begin_read().unwrap();
            let mut sum = 0u64;
            for row in r.scan("kv", ..).unwrap() {
                if let ValueRef::Blob(v) = row.unwrap().get(1).unwrap().as_ref() {
                    sum += u64::from(v[0]);
                }
            }
            sum
        })
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
