//! Range scans: prefix bounds on composite keys, both directions, batches.
use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec, Value};

fn grid(db: &Database) {
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("grid")
            .column(ColumnSpec::new("x", DataType::Integer))
            .column(ColumnSpec::new("y", DataType::Text))
            .column(ColumnSpec::new("v", DataType::Real))
            .primary_key(["x", "y"]),
    )
    .unwrap();
    for x in -5..5i64 {
        for y in ["a", "b", "c"] {
            w.insert("grid", &[x.into(), y.into(), (x as f64 / 2.0).into()])
                .unwrap();
        }
    }
    w.commit().unwrap();
}

fn keys<'t>(
    rows: impl Iterator<Item = heliosdb_core::Result<heliosdb_core::StoredRow<'t>>>,
) -> Vec<(i64, String)> {
    rows.map(|r| match r.unwrap().key().unwrap().as_slice() {
        [Value::Integer(x), Value::Text(y)] => (*x, y.clone()),
        other => panic!("{other:?}"),
    })
    .collect()
}

#[test]
fn prefix_bounds_on_a_composite_key() {
    let db = Database::open_in_memory().unwrap();
    grid(&db);
    let r = db.begin_read().unwrap();
    let all = keys(r.scan("grid", ..).unwrap());
    assert_eq!(all.len(), 30);
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "key order is (x, y) order"
    );
    // [x = 2] as a prefix: three rows.
    let two = keys(
        r.scan("grid", vec![Value::Integer(2)]..=vec![Value::Integer(2)])
            .unwrap(),
    );
    assert_eq!(two, vec![(2, "a".into()), (2, "b".into()), (2, "c".into())]);
    // Half-open and exclusive bounds mix prefixes and full keys.
    let mid = keys(
        r.scan(
            "grid",
            vec![Value::Integer(-1), Value::Text("b".into())]..vec![Value::Integer(1)],
        )
        .unwrap(),
    );
    assert_eq!(
        mid,
        vec![
            (-1, "b".into()),
            (-1, "c".into()),
            (0, "a".into()),
            (0, "b".into()),
            (0, "c".into())
        ]
    );
    let after = keys(
        r.scan(
            "grid",
            (
                std::ops::Bound::Excluded(vec![Value::Integer(3)]),
                std::ops::Bound::Unbounded,
            ),
        )
        .unwrap(),
    );
    assert_eq!(after.first(), Some(&(4, "a".into())));
    assert_eq!(after.len(), 3);
}

#[test]
fn front_and_back_meet_exactly_once_across_batches() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("n")
            .column(ColumnSpec::new("i", DataType::Integer))
            .primary_key(["i"]),
    )
    .unwrap();
    for i in 0..1000i64 {
        w.insert("n", &[i.into()]).unwrap();
    }
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    for front_every in [1usize, 2, 3, 7, 100] {
        let mut scan = r.scan("n", ..).unwrap();
        let (mut front, mut back) = (Vec::new(), Vec::new());
        for step in 0.. {
            let row = if step % front_every == 0 {
                scan.next()
            } else {
                scan.next_back()
            };
            let Some(row) = row else { break };
            let k = match row.unwrap().key().unwrap()[0] {
                Value::Integer(i) => i,
                _ => unreachable!(),
            };
            if step % front_every == 0 {
                front.push(k)
            } else {
                back.push(k)
            }
        }
        back.reverse();
        front.extend(back);
        assert_eq!(
            front,
            (0..1000).collect::<Vec<_>>(),
            "front every {front_every}"
        );
    }
}

#[test]
fn a_write_transaction_scans_its_index_including_its_own_writes() {
    use heliosdb_core::IndexSpec;
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("p")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("city", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    w.create_index("p", &IndexSpec::new("p_city", ["city"]))
        .unwrap();
    for (id, city) in [(1, "oslo"), (2, "lima"), (3, "oslo"), (4, "rome")] {
        w.insert("p", &[Value::Integer(id), city.into()]).unwrap();
    }
    let oslo = vec![Value::from("oslo")];
    let hits = w.index_scan("p", "p_city", oslo.clone()..=oslo).unwrap();
    assert_eq!(
        hits.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        vec![vec![Value::Integer(1)], vec![Value::Integer(3)]]
    );
    let from_m = w
        .index_scan("p", "p_city", vec![Value::from("m")]..)
        .unwrap();
    assert_eq!(from_m.len(), 3);
}

/// `Scan::for_each` sees what iteration sees, stops when asked, passes the callback's
/// error through, and lets a panic in the callback unwind as a panic (not as corruption).
#[test]
fn for_each_matches_iteration_and_stops() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("n")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("d", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    for id in 0..300i64 {
        w.insert("n", &[id.into(), format!("row {id}").into()])
            .unwrap();
    }
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    let iterated: Vec<Vec<Value>> = r
        .scan("n", ..)
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect();
    let mut pushed = Vec::new();
    r.scan("n", ..)
        .unwrap()
        .for_each(|row| {
            pushed.push(row.values()?);
            Ok::<_, heliosdb_core::Error>(true)
        })
        .unwrap();
    assert_eq!(pushed, iterated);
    assert_eq!(pushed.len(), 300);

    // Stops after the row that says so, across the 64-row batches.
    let mut seen = 0;
    r.scan("n", ..)
        .unwrap()
        .for_each(|_| {
            seen += 1;
            Ok::<_, heliosdb_core::Error>(seen < 100)
        })
        .unwrap();
    assert_eq!(seen, 100);

    // A partly iterated scan hands on the rows it read ahead first.
    let mut scan = r.scan("n", ..).unwrap();
    scan.next().unwrap().unwrap();
    let mut rest = 0;
    scan.for_each(|_| {
        rest += 1;
        Ok::<_, heliosdb_core::Error>(true)
    })
    .unwrap();
    assert_eq!(rest, 299);

    let err = r
        .scan("n", ..)
        .unwrap()
        .for_each(|_| Err::<bool, _>(heliosdb_core::Error::Corrupt("callback".into())))
        .unwrap_err();
    assert!(err.to_string().contains("callback"), "{err}");

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = r
            .scan("n", ..)
            .unwrap()
            .for_each(|_| -> Result<bool, heliosdb_core::Error> {
                panic!("a bug in the callback")
            });
    }))
    .unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"a bug in the callback"));
}
