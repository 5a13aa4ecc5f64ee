//! Bad input gets a typed error and changes nothing.
use std::io::Write;

use heliosdb_core::{
    ColumnSpec, DataType, Database, DatabaseOptions, Error, IndexSpec, TableSpec, Value,
};

fn people(db: &Database) {
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("people")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("email", DataType::Text).not_null())
            .column(ColumnSpec::new("embedding", DataType::Vector(3)))
            .primary_key(["id"]),
    )
    .unwrap();
    w.create_index(
        "people",
        &IndexSpec::new("people_email", ["email"]).unique(),
    )
    .unwrap();
    w.insert("people", &[1.into(), "a@x".into(), Value::Null])
        .unwrap();
    w.commit().unwrap();
}

fn snapshot(db: &Database) -> (Vec<Vec<Value>>, usize) {
    let r = db.begin_read().unwrap();
    let rows = r
        .scan("people", ..)
        .unwrap()
        .map(|r| r.unwrap().values().unwrap())
        .collect();
    (rows, r.changes_since(0, usize::MAX).unwrap().len())
}

#[test]
fn input_errors_are_typed_and_change_nothing() {
    let db = Database::open_in_memory().unwrap();
    people(&db);
    let before = snapshot(&db);
    let mut w = db.begin_write().unwrap();
    let cases: Vec<(Error, &str)> = vec![
        (
            w.insert("nope", &[1.into()]).unwrap_err(),
            "no such table: nope",
        ),
        (
            w.insert("people", &[2.into(), 5.into(), Value::Null])
                .unwrap_err(),
            "is TEXT, but a INTEGER",
        ),
        (
            w.insert("people", &[2.into(), Value::Null, Value::Null])
                .unwrap_err(),
            "NOT NULL",
        ),
        (
            w.insert("people", &[1.into(), "b@x".into(), Value::Null])
                .unwrap_err(),
            "duplicate primary key (1)",
        ),
        (
            w.insert("people", &[2.into(), "a@x".into(), Value::Null])
                .unwrap_err(),
            "unique index people_email",
        ),
        (
            w.insert("people", &[2.into()]).unwrap_err(),
            "has 3 columns but 1 values",
        ),
        (
            w.insert(
                "people",
                &[2.into(), "c@x".into(), Value::Vector(vec![1.0, 2.0])],
            )
            .unwrap_err(),
            "VECTOR(3)",
        ),
        (
            w.update(
                "people",
                &[1.into(), 2.into()],
                &[1.into(), "z".into(), Value::Null],
            )
            .unwrap_err(),
            "key has 2 values",
        ),
        (
            w.create_table(&TableSpec::new("people").column(ColumnSpec::new("x", DataType::Blob)))
                .unwrap_err(),
            "already exists",
        ),
        (
            w.create_index("people", &IndexSpec::new("i", ["nope"]))
                .unwrap_err(),
            "has no column nope",
        ),
    ];
    for (err, text) in &cases {
        assert!(
            err.to_string().contains(text),
            "{err} should mention {text}"
        );
    }
    // The transaction is still usable and a failed call left no trace in it.
    w.insert(
        "people",
        &[2.into(), "b@x".into(), Value::Vector(vec![1.0, 2.0, 3.0])],
    )
    .unwrap();
    w.rollback().unwrap();
    assert_eq!(snapshot(&db), before);
}

#[test]
fn a_garbage_file_is_not_a_database_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    let junk: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &junk).unwrap();
    let err = Database::open(&path).unwrap_err();
    assert!(
        matches!(err, Error::NotADatabase { .. } | Error::Corrupt(_)),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[test]
fn a_newer_format_version_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Database::open(&path).unwrap());
    {
        // Pretend a future version wrote the file.
        let db = redb::Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&[u8], &[u8]> =
                redb::TableDefinition::new("heliosdb.meta");
            let mut meta = w.open_table(def).unwrap();
            meta.insert(&b"format"[..], &99u32.to_le_bytes()[..])
                .unwrap();
        }
        w.commit().unwrap();
    }
    let err = Database::open(&path).unwrap_err();
    assert!(matches!(err, Error::NewerFormat { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("upgrade heliosdb"));
}

#[test]
fn a_version_1_file_opens_and_is_marked_with_this_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    drop(Database::open(&path).unwrap());
    let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("heliosdb.meta");
    let format = |path: &std::path::Path| {
        let db = redb::Database::create(path).unwrap();
        let r = redb::ReadableDatabase::begin_read(&db).unwrap();
        let meta = r.open_table(def).unwrap();
        let v = redb::ReadableTable::get(&meta, &b"format"[..])
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        u32::from_le_bytes(v.try_into().unwrap())
    };
    assert_eq!(format(&path), heliosdb_core::FORMAT_VERSION);
    {
        // What a version-1 build wrote.
        let db = redb::Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(def)
            .unwrap()
            .insert(&b"format"[..], &1u32.to_le_bytes()[..])
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(format(&path), 1);
    drop(Database::open(&path).unwrap());
    assert_eq!(format(&path), heliosdb_core::FORMAT_VERSION);
}

/// A database file of 2,000 rows, its bytes, and copies with 64 bytes flipped at 40 places.
fn damaged_copies(dir: &tempfile::TempDir) -> (std::path::PathBuf, Vec<(usize, Vec<u8>)>) {
    let path = dir.path().join("c.db");
    {
        let db = Database::open(&path).unwrap();
        people(&db);
        let mut w = db.begin_write().unwrap();
        for i in 2..2000i64 {
            w.insert(
                "people",
                &[i.into(), format!("user{i}@example.com").into(), Value::Null],
            )
            .unwrap();
        }
        w.commit().unwrap();
    }
    let clean = std::fs::read(&path).unwrap();
    let copies = (4096..clean.len())
        .step_by(clean.len() / 40)
        .map(|offset| {
            let mut bad = clean.clone();
            for b in &mut bad[offset..(offset + 64).min(clean.len())] {
                *b ^= 0x5a;
            }
            (offset, bad)
        })
        .collect();
    (path, copies)
}

/// Opens `path` and reads every row; panics inside are caught and reported by the caller.
fn read_all(
    path: &std::path::Path,
    verify_on_open: bool,
) -> std::thread::Result<Result<usize, Error>> {
    std::panic::catch_unwind(|| -> Result<usize, Error> {
        let options = DatabaseOptions {
            verify_on_open,
            ..Default::default()
        };
        let db = Database::open_with(path, options)?;
        let r = db.begin_read()?;
        let mut n = 0;
        for row in r.scan("people", ..)? {
            row?.values()?;
            n += 1;
        }
        Ok(n)
    })
}

#[test]
fn corrupted_pages_are_found_at_a_verifying_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, copies) = damaged_copies(&dir);
    for (offset, bad) in copies {
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&bad)
            .unwrap();
        let outcome = read_all(&path, true)
            .unwrap_or_else(|_| panic!("panic with corruption at byte {offset}"));
        if let Ok(n) = outcome {
            assert_eq!(n, 1999, "corruption at {offset} changed the data silently");
        }
    }
}

#[test]
fn corrupted_pages_never_panic_through_a_plain_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, copies) = damaged_copies(&dir);
    for (offset, bad) in copies {
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&bad)
            .unwrap();
        // Without verification a damaged page may go unnoticed (see DatabaseOptions), but
        // redb's panics on the damage it does notice must come out as errors.
        assert!(
            read_all(&path, false).is_ok(),
            "panic with corruption at byte {offset}"
        );
    }
}

#[test]
fn missing_tables_and_indexes_are_named() {
    let db = Database::open_in_memory().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.scan("ghost", ..).err().unwrap().to_string(),
        "no such table: ghost"
    );
    let mut w = db.begin_write().unwrap();
    assert!(matches!(
        w.drop_index("ghost_idx"),
        Err(Error::IndexNotFound(_))
    ));
    assert!(matches!(
        w.drop_table("ghost"),
        Err(Error::TableNotFound(_))
    ));
}

#[test]
fn hostile_change_records_are_refused_without_panics() {
    use heliosdb_core::{
        Change, ChangeRecord, Hlc, IndexSchema, LogPosition, NodeId, SchemaChange,
    };
    let db = Database::open_in_memory().unwrap();
    people(&db);
    let record = |change| ChangeRecord {
        position: LogPosition::default(),
        commit_ts: Hlc(1),
        origin: NodeId([7; 16]),
        origin_seq: 1,
        table: "people".into(),
        change,
    };
    let before = snapshot(&db);
    let mut w = db.begin_write().unwrap();
    let hostile = [
        Change::Schema(SchemaChange::CreateIndex(IndexSchema {
            id: 9,
            name: "evil".into(),
            columns: vec![99],
            unique: false,
        })),
        Change::Insert {
            key: vec![5.into()],
            columns: vec![(77, Value::Integer(1))],
        },
        Change::Insert {
            key: vec![5.into(), 6.into()],
            columns: vec![],
        },
        Change::Insert {
            key: vec![5.into()],
            columns: vec![(1, Value::Integer(3))],
        },
        Change::Update {
            key: vec![42.into()],
            columns: vec![(1, "x".into())],
        },
    ];
    for change in hostile {
        let err = w.apply_change(&record(change.clone())).unwrap_err();
        assert!(!err.to_string().is_empty(), "{change:?}");
    }
    w.commit().unwrap();
    assert_eq!(snapshot(&db), before);
}
