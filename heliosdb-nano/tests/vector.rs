//! Vector search through SQL and the typed API: VECTOR columns, pgvector's operators and
//! functions, HNSW indexes (planning, filters, updates, persistence) and errors.
use heliosdb_nano::sql::vector::{self as sqlvec, Metric};
use heliosdb_nano::{EmbeddedDatabase, SqlError, Value};

/// A deterministic pseudo-random generator (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.f32()).collect()
    }
}

fn ints(db: &EmbeddedDatabase, sql: &str, params: &[Value]) -> Vec<i64> {
    db.query(sql, params)
        .unwrap()
        .rows
        .iter()
        .map(|r| r.get::<i64>(0).unwrap())
        .collect()
}

fn explain(db: &EmbeddedDatabase, sql: &str) -> String {
    db.query(&format!("EXPLAIN {sql}"), &[])
        .unwrap()
        .rows
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Exact nearest ids by L2 among `rows`.
fn exact(rows: &[(i64, Vec<f32>)], q: &[f32], k: usize) -> Vec<i64> {
    let mut d: Vec<(f64, i64)> = rows.iter().map(|(id, v)| (l2(v, q), *id)).collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().take(k).map(|(_, id)| id).collect()
}

#[test]
fn operators_functions_literals_and_dimension_checks() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v VECTOR(3))",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[1,1,0]'), (4, NULL)",
        &[],
    )
    .unwrap();
    let real = |sql: &str| db.query(sql, &[]).unwrap().rows[0].get::<f64>(0).unwrap();
    assert!((real("SELECT '[1,2,3]'::vector(3) <-> '[4,6,3]'") - 5.0).abs() < 1e-6);
    assert!((real("SELECT l2_distance('[1,2,3]', '[4,6,3]')") - 5.0).abs() < 1e-6);
    assert!((real("SELECT '[1,0]'::vector(2) <=> '[0,1]'::vector(2)") - 1.0).abs() < 1e-6);
    assert!((real("SELECT cosine_distance('[1,1]', '[2,2]')")).abs() < 1e-6);
    assert!((real("SELECT '[1,2,3]'::vector(3) <#> '[4,5,6]'") + 32.0).abs() < 1e-6);
    assert!((real("SELECT inner_product('[1,2,3]', '[4,5,6]')") - 32.0).abs() < 1e-6);
    assert_eq!(
        ints(&db, "SELECT vector_dims(v) FROM items WHERE id = 1", &[]),
        [3]
    );
    assert!((real("SELECT vector_norm('[3,4]')") - 5.0).abs() < 1e-6);
    // Exact results without an index, NULL vectors last.
    assert_eq!(
        ints(
            &db,
            "SELECT id FROM items ORDER BY v <-> '[1,0.1,0]' LIMIT 10",
            &[]
        ),
        [1, 3, 2, 4]
    );
    assert!(
        explain(&db, "SELECT id FROM items ORDER BY v <-> '[1,0,0]' LIMIT 2")
            .contains("Vector Exact Scan on items")
    );

    // A dimension mismatch names both dimensions and changes nothing.
    let e = db
        .execute("INSERT INTO items VALUES (5, '[1,2]')", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains('3') && e.contains('2'), "{e}");
    let e = db
        .query("SELECT id FROM items ORDER BY v <-> '[1,2]' LIMIT 1", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("different vector dimensions"), "{e}");
    let e = db
        .query("SELECT '[1,2]'::vector(2) <-> '[1,2,3]'::vector(3)", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("different vector dimensions 2 and 3"), "{e}");
    // NaN and infinities are not vectors.
    for bad in ["'[NaN,0,0]'", "'[inf,0,0]'", "'[1,,2]'", "'1,2,3'", "'[]'"] {
        assert!(
            db.execute(&format!("INSERT INTO items VALUES (9, {bad})"), &[])
                .is_err(),
            "{bad}"
        );
    }
    let e = db
        .execute(
            "INSERT INTO items VALUES ($1, $2)",
            &[9.into(), Value::Vector(vec![f32::NAN, 0.0, 0.0])],
        )
        .unwrap_err();
    let _ = e.to_string();
    assert_eq!(ints(&db, "SELECT count(*) FROM items", &[]), [4]);
    // An empty table gives an empty result, with or without an index.
    db.execute("CREATE TABLE empty (id INT PRIMARY KEY, v VECTOR(2))", &[])
        .unwrap();
    assert!(
        ints(
            &db,
            "SELECT id FROM empty ORDER BY v <-> '[1,2]' LIMIT 3",
            &[]
        )
        .is_empty()
    );
    db.execute("CREATE INDEX ON empty USING hnsw (v)", &[])
        .unwrap();
    assert!(
        ints(
            &db,
            "SELECT id FROM empty ORDER BY v <-> '[1,2]' LIMIT 3",
            &[]
        )
        .is_empty()
    );
}

#[test]
fn create_index_options_and_errors() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute(
        "CREATE TABLE docs (id INT PRIMARY KEY, body TEXT, v VECTOR(4))",
        &[],
    )
    .unwrap();
    db.execute(
        "CREATE INDEX docs_v ON docs USING hnsw (v vector_cosine_ops) \
         WITH (m = 16, ef_construction = 200, ef_search = 40)",
        &[],
    )
    .unwrap();
    for (sql, expect) in [
        ("CREATE INDEX x ON docs USING hnsw (body)", "VECTOR"),
        (
            "CREATE INDEX x ON docs USING hnsw (v vector_foo_ops)",
            "vector_l2_ops",
        ),
        (
            "CREATE INDEX x ON docs USING hnsw (v) WITH (ef_search = 0)",
            "between 1",
        ),
        (
            "CREATE INDEX x ON docs USING hnsw (v) WITH (lists = 4)",
            "unrecognized",
        ),
        (
            "CREATE INDEX docs_v ON docs USING hnsw (v)",
            "already exists",
        ),
        ("CREATE INDEX x ON nope USING hnsw (v)", "does not exist"),
        ("CREATE INDEX x ON docs USING ivfflat (v)", "not supported"),
    ] {
        let e = db.execute(sql, &[]).unwrap_err().to_string();
        assert!(e.contains(expect), "{sql}: {e}");
    }
    db.execute(
        "CREATE INDEX IF NOT EXISTS docs_v ON docs USING hnsw (v)",
        &[],
    )
    .unwrap();
    let e = db
        .execute("SET hnsw.ef_search = 0", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("between 1 and 1000"), "{e}");
    db.execute("SET hnsw.ef_search = 100", &[]).unwrap();
    // Only the matching operator uses the index.
    let q = "SELECT id FROM docs ORDER BY v <=> '[1,0,0,0]' LIMIT 5";
    let plan = explain(&db, q);
    assert!(
        plan.contains("Vector Index Scan using docs_v on docs"),
        "{plan}"
    );
    let plan = explain(
        &db,
        "SELECT id FROM docs ORDER BY v <-> '[1,0,0,0]' LIMIT 5",
    );
    assert!(plan.contains("Vector Exact Scan"), "{plan}");
    db.execute("DROP INDEX docs_v", &[]).unwrap();
    assert!(explain(&db, q).contains("Vector Exact Scan"));
    db.execute("DROP INDEX IF EXISTS docs_v", &[]).unwrap();
    assert!(db.execute("DROP INDEX docs_v", &[]).is_err());
    // The name is free again.
    db.execute(
        "CREATE INDEX docs_v ON docs USING hnsw (v vector_ip_ops)",
        &[],
    )
    .unwrap();
    assert!(
        explain(
            &db,
            "SELECT id FROM docs ORDER BY v <#> '[1,0,0,0]' LIMIT 5"
        )
        .contains("Vector Index Scan using docs_v")
    );
}

/// Inserts, updates and deletes interleaved with queries: deleted rows never appear,
/// updated ones appear at their new place, before and after compaction.
#[test]
fn index_follows_inserts_updates_and_deletes() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    sqlvec::set_background_compaction(db.database(), false);
    db.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, tag INT, v VECTOR(8))",
        &[],
    )
    .unwrap();
    let mut rng = Rng(7);
    let mut rows: Vec<(i64, Vec<f32>)> = (0..500).map(|i| (i, rng.vector(8))).collect();
    let insert = db.prepare("INSERT INTO t VALUES ($1, $2, $3)").unwrap();
    for (id, v) in &rows {
        insert
            .execute(&[(*id).into(), (id % 10).into(), Value::Vector(v.clone())])
            .unwrap();
    }
    db.execute(
        "CREATE INDEX t_v ON t USING hnsw (v) WITH (ef_search = 200)",
        &[],
    )
    .unwrap();
    let search = db
        .prepare("SELECT id FROM t ORDER BY v <-> $1 LIMIT 10")
        .unwrap();
    let check = |rows: &[(i64, Vec<f32>)], rng: &mut Rng, label: &str| {
        let mut found = 0;
        for _ in 0..20 {
            let q = rng.vector(8);
            let got: Vec<i64> = search
                .query(&[Value::Vector(q.clone())])
                .unwrap()
                .rows
                .iter()
                .map(|r| r.get::<i64>(0).unwrap())
                .collect();
            let want = exact(rows, &q, 10);
            assert_eq!(got.len(), 10.min(rows.len()), "{label}");
            let live: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
            assert!(
                got.iter().all(|id| live.contains(id)),
                "{label}: a dead row"
            );
            found += got.iter().filter(|id| want.contains(id)).count();
        }
        let recall = found as f64 / 200.0;
        assert!(recall >= 0.9, "{label}: recall {recall}");
    };
    check(&rows, &mut rng, "built");
    // Delete 100 rows, move 100 others far away, insert 100 new ones.
    db.execute("DELETE FROM t WHERE id < 100", &[]).unwrap();
    rows.retain(|r| r.0 >= 100);
    let update = db.prepare("UPDATE t SET v = $2 WHERE id = $1").unwrap();
    for r in rows.iter_mut().take(100) {
        r.1 = rng.vector(8);
        update
            .execute(&[r.0.into(), Value::Vector(r.1.clone())])
            .unwrap();
    }
    for id in 500..600 {
        let v = rng.vector(8);
        insert
            .execute(&[id.into(), (id % 10).into(), Value::Vector(v.clone())])
            .unwrap();
        rows.push((id, v));
    }
    // An unrelated column's update does not move a row into the buffer.
    db.execute("UPDATE t SET tag = tag + 1 WHERE id >= 550", &[])
        .unwrap();
    let stats = sqlvec::index_stats(db.database(), "t_v").unwrap().unwrap();
    assert_eq!(stats.buffered, 200, "{stats:?}");
    assert_eq!(stats.live, 500, "{stats:?}");
    check(&rows, &mut rng, "buffered");
    // An updated vector is found at its new position, once.
    let target = rows[0].clone();
    let got = ints(
        &db,
        "SELECT id FROM t ORDER BY v <-> $1 LIMIT 3",
        &[Value::Vector(target.1.clone())],
    );
    assert_eq!(got[0], target.0);
    assert_eq!(got.iter().filter(|&&x| x == target.0).count(), 1);

    db.execute("REINDEX INDEX t_v", &[]).unwrap();
    let stats = sqlvec::index_stats(db.database(), "t_v").unwrap().unwrap();
    assert_eq!(
        (stats.segments, stats.buffered, stats.dead),
        (1, 0, 0),
        "{stats:?}"
    );
    check(&rows, &mut rng, "compacted");
    // Deleting everything empties the results.
    db.execute("DELETE FROM t", &[]).unwrap();
    assert!(
        search
            .query(&[Value::Vector(rng.vector(8))])
            .unwrap()
            .rows
            .is_empty()
    );
}

/// A WHERE filter that rejects most candidates still yields k rows (the index is asked
/// for more, then an exact scan takes over), all passing the filter.
#[test]
fn selective_filters_still_return_k_rows() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, tag INT, v VECTOR(8))",
        &[],
    )
    .unwrap();
    let mut rng = Rng(11);
    let insert = db.prepare("INSERT INTO t VALUES ($1, $2, $3)").unwrap();
    let mut rows = Vec::new();
    for id in 0..2000i64 {
        let v = rng.vector(8);
        insert
            .execute(&[id.into(), (id % 100).into(), Value::Vector(v.clone())])
            .unwrap();
        rows.push((id, v));
    }
    db.execute("CREATE INDEX t_v ON t USING hnsw (v)", &[])
        .unwrap();
    let sql = "SELECT id FROM t WHERE tag = $2 ORDER BY v <-> $1 LIMIT 10";
    assert!(
        explain(
            &db,
            "SELECT id FROM t WHERE tag = 3 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10"
        )
        .contains("Vector Index Scan using t_v")
    );
    for tag in [3i64, 42] {
        let q = rng.vector(8);
        let got = ints(&db, sql, &[Value::Vector(q.clone()), tag.into()]);
        let matching: Vec<(i64, Vec<f32>)> =
            rows.iter().filter(|r| r.0 % 100 == tag).cloned().collect();
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|id| id % 100 == tag));
        assert_eq!(
            got,
            exact(&matching, &q, 10),
            "a 1% filter is answered exactly"
        );
    }
    // A broad filter stays on the index.
    let got = ints(
        &db,
        "SELECT id FROM t WHERE tag < 90 ORDER BY v <-> $1 LIMIT 10",
        &[Value::Vector(rng.vector(8))],
    );
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|id| id % 100 < 90));
    // OFFSET pages through the same order.
    let q = Value::Vector(rng.vector(8));
    let all = ints(
        &db,
        "SELECT id FROM t ORDER BY v <-> $1 LIMIT 20",
        std::slice::from_ref(&q),
    );
    let page = ints(
        &db,
        "SELECT id FROM t ORDER BY v <-> $1 LIMIT 10 OFFSET 10",
        &[q],
    );
    assert_eq!(page, all[10..]);
}

/// The index lives in the file: reopening loads its segment (nothing is rebuilt or
/// buffered), and changes made after the build are still seen after the reopen.
#[test]
fn index_persists_and_reopens_without_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let mut rng = Rng(3);
    let rows: Vec<(i64, Vec<f32>)> = (0..300).map(|i| (i, rng.vector(16))).collect();
    let probe = rng.vector(16);
    let before;
    {
        let db = EmbeddedDatabase::open(&path).unwrap();
        sqlvec::set_background_compaction(db.database(), false);
        db.execute("CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(16))", &[])
            .unwrap();
        db.insert_vectors(
            "t",
            "id",
            "v",
            rows.iter().map(|(i, v)| ((*i).into(), v.clone())),
        )
        .unwrap();
        db.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)", &[])
            .unwrap();
        db.execute("DELETE FROM t WHERE id = 0", &[]).unwrap();
        before = ints(
            &db,
            "SELECT id FROM t ORDER BY v <-> $1 LIMIT 5",
            &[Value::Vector(probe.clone())],
        );
    }
    let db = EmbeddedDatabase::open(&path).unwrap();
    sqlvec::set_background_compaction(db.database(), false);
    let stats = sqlvec::index_stats(db.database(), "t_v").unwrap().unwrap();
    assert_eq!(stats.segments, 1, "{stats:?}");
    assert_eq!(stats.segment_vectors, 300, "loaded, not rebuilt: {stats:?}");
    assert_eq!(stats.buffered, 0, "{stats:?}");
    assert_eq!(
        stats.live, 299,
        "the delete after the build still counts: {stats:?}"
    );
    let after = ints(
        &db,
        "SELECT id FROM t ORDER BY v <-> $1 LIMIT 5",
        &[Value::Vector(probe.clone())],
    );
    assert_eq!(before, after);
    assert!(!after.contains(&0));
}

/// The typed API: insert many, search top-k with a filter and a metric.
#[test]
fn typed_api_inserts_and_searches_with_a_filter() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute(
        "CREATE TABLE docs (id INT PRIMARY KEY, lang TEXT, v VECTOR(2))",
        &[],
    )
    .unwrap();
    let n = db
        .insert_vectors(
            "docs",
            "id",
            "v",
            (0..100i64).map(|i| {
                let a = i as f32 / 100.0 * std::f32::consts::TAU;
                (i.into(), vec![a.cos(), a.sin()])
            }),
        )
        .unwrap();
    assert_eq!(n, 100);
    db.execute(
        "UPDATE docs SET lang = CASE WHEN id % 2 = 0 THEN 'en' ELSE 'de' END",
        &[],
    )
    .unwrap();
    db.execute("CREATE INDEX ON docs USING hnsw (v vector_cosine_ops)", &[])
        .unwrap();
    let hits = db
        .search("docs", "v")
        .metric(Metric::Cosine)
        .k(3)
        .filter("lang = $1", vec!["en".into()])
        .ef_search(64)
        .run(&[1.0, 0.0])
        .unwrap();
    let ids: Vec<Value> = hits.iter().map(|h| h.key[0].clone()).collect();
    assert_eq!(
        ids,
        [Value::Integer(0), Value::Integer(2), Value::Integer(98)]
    );
    assert!(hits[0].distance.abs() < 1e-6);
    assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
    // Errors are typed, never panics.
    assert!(db.search("docs", "v").run(&[1.0]).is_err());
    assert!(db.search("nope", "v").run(&[1.0, 0.0]).is_err());
    assert!(matches!(
        db.insert_vectors("docs", "id", "v", [(Value::Integer(1), vec![1.0, 0.0])]),
        Err(SqlError::Exec(_))
    ));
    assert_eq!(ints(&db, "SELECT count(*) FROM docs", &[]), [100]);
}

/// Vectors replicate through sync like any other column; the index is derived on each
/// node from its own rows (its definition travels with the schema, its graph never does).
#[test]
fn vectors_replicate_and_each_node_indexes_them() {
    use heliosdb_nano::sync::SyncNode;
    use heliosdb_nano::sync::wire::{self, Message};
    let sync = |from: &SyncNode, to: &SyncNode| loop {
        let batch = from.changes_for(&to.frontier().unwrap(), 100).unwrap();
        if batch.commits.is_empty() {
            return;
        }
        let frame = wire::encode(&Message::Changes(batch)).unwrap();
        let Message::Changes(received) = wire::decode(&frame).unwrap() else {
            panic!("not a Changes message");
        };
        to.apply(&received).unwrap();
    };
    let a = EmbeddedDatabase::open_in_memory().unwrap();
    let b = EmbeddedDatabase::open_in_memory().unwrap();
    let (na, nb) = (
        SyncNode::new(a.database().clone()),
        SyncNode::new(b.database().clone()),
    );
    a.execute("CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(4))", &[])
        .unwrap();
    let mut rng = Rng(5);
    let rows: Vec<(i64, Vec<f32>)> = (0..200).map(|i| (i, rng.vector(4))).collect();
    a.insert_vectors(
        "t",
        "id",
        "v",
        rows.iter().map(|(i, v)| ((*i).into(), v.clone())),
    )
    .unwrap();
    a.execute("CREATE INDEX t_v ON t USING hnsw (v)", &[])
        .unwrap();
    sync(&na, &nb);
    let q = "SELECT id FROM t ORDER BY v <-> '[0.1,0.2,0.3,0.4]' LIMIT 5";
    assert!(explain(&b, q).contains("Vector Index Scan using t_v"));
    assert_eq!(ints(&a, q, &[]), ints(&b, q, &[]));
    // B changes rows; A sees them through its own index.
    b.execute("UPDATE t SET v = '[0.1,0.2,0.3,0.4]' WHERE id = 7", &[])
        .unwrap();
    b.execute("DELETE FROM t WHERE id < 5", &[]).unwrap();
    sync(&nb, &na);
    let got = ints(&a, q, &[]);
    assert_eq!(got[0], 7);
    assert!(got.iter().all(|&id| id >= 5));
    assert_eq!(got, ints(&b, q, &[]));
}

/// Changes logged under a table's old name still reach its index after a rename.
#[test]
fn index_follows_a_renamed_table() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    sqlvec::set_background_compaction(db.database(), false);
    db.execute("CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(2))", &[])
        .unwrap();
    db.execute("INSERT INTO t VALUES (1, '[0,0]'), (2, '[5,5]')", &[])
        .unwrap();
    db.execute("CREATE INDEX t_v ON t USING hnsw (v)", &[])
        .unwrap();
    db.execute("INSERT INTO t VALUES (3, '[1,1]')", &[])
        .unwrap();
    db.execute("DELETE FROM t WHERE id = 1", &[]).unwrap();
    db.execute("ALTER TABLE t RENAME TO u", &[]).unwrap();
    db.execute("INSERT INTO u VALUES (4, '[2,2]')", &[])
        .unwrap();
    // A new table under the old name is not part of the index.
    db.execute("CREATE TABLE t (id INT PRIMARY KEY, v VECTOR(2))", &[])
        .unwrap();
    db.execute("INSERT INTO t VALUES (9, '[0,0]')", &[])
        .unwrap();
    let q = "SELECT id FROM u ORDER BY v <-> '[0,0]' LIMIT 10";
    assert!(explain(&db, q).contains("Vector Index Scan using t_v on u"));
    assert_eq!(ints(&db, q, &[]), [3, 4, 2]);
}
