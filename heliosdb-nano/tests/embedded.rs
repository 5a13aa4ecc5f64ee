//! The SQL facade: open, execute, query with typed reads, prepared statements, transactions.
use heliosdb_nano::{EmbeddedDatabase, SqlError, Value};

#[test]
fn execute_query_prepare_and_typed_rows() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, stars REAL)",
        &[],
    )
    .unwrap();
    let insert = db.prepare("INSERT INTO notes VALUES ($1, $2, $3)").unwrap();
    for i in 0..10i64 {
        assert_eq!(
            insert
                .execute(&[i.into(), format!("note {i}").into(), Value::Null])
                .unwrap(),
            1
        );
    }
    let rows = db
        .query(
            "SELECT id, body, stars FROM notes WHERE id >= $1 ORDER BY id",
            &[8.into()],
        )
        .unwrap();
    assert_eq!(
        rows.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "body", "stars"]
    );
    assert_eq!(rows.rows.len(), 2);
    let first = &rows.rows[0];
    assert_eq!(first.get::<i64>(0).unwrap(), 8);
    assert_eq!(first.get::<String>(1).unwrap(), "note 8");
    assert_eq!(first.get::<Option<f64>>(2).unwrap(), None);
    assert!(first.get::<bool>(0).is_err());
    assert_eq!(
        db.execute("UPDATE notes SET stars = 4.5 WHERE id < 3", &[])
            .unwrap(),
        3
    );
}

#[test]
fn transactions_commit_roll_back_and_roll_back_on_drop() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute("CREATE TABLE t (id INT PRIMARY KEY)", &[])
        .unwrap();
    let count = |db: &EmbeddedDatabase| {
        db.query("SELECT count(*) FROM t", &[]).unwrap().rows[0]
            .get::<i64>(0)
            .unwrap()
    };
    let mut tx = db.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES (1), (2)", &[]).unwrap();
    assert_eq!(count(&db), 0, "not visible before commit");
    tx.commit().unwrap();
    assert_eq!(count(&db), 2);
    {
        let mut tx = db.transaction().unwrap();
        tx.execute("INSERT INTO t VALUES (3)", &[]).unwrap();
    }
    assert_eq!(count(&db), 2, "dropped transaction rolled back");
    let mut tx = db.transaction().unwrap();
    assert!(tx.execute("INSERT INTO t VALUES (1)", &[]).is_err());
    assert!(matches!(
        tx.execute("SELECT 1", &[]),
        Err(SqlError::Aborted)
    ));
    assert!(matches!(tx.commit(), Err(SqlError::Aborted)));
    assert_eq!(count(&db), 2);
}

#[test]
fn prepared_statements_run_inside_a_transaction() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    let insert = db.prepare("INSERT INTO t VALUES ($1, $2)").unwrap();
    let select = db.prepare("SELECT v FROM t WHERE id = $1").unwrap();
    let mut tx = db.transaction().unwrap();
    for i in 0..5i64 {
        assert_eq!(
            tx.execute_prepared(&insert, &[i.into(), format!("v{i}").into()])
                .unwrap(),
            1
        );
    }
    let rows = tx.query_prepared(&select, &[3.into()]).unwrap();
    assert_eq!(rows.rows[0].get::<String>(0).unwrap(), "v3");
    tx.commit().unwrap();
    assert_eq!(
        select.query(&[4.into()]).unwrap().rows[0]
            .get::<String>(0)
            .unwrap(),
        "v4"
    );
}

/// The same SQL text run many times (parsed once, then cached) behaves as it did the first
/// time, with each call's parameters; a text that does not parse fails every time.
#[test]
fn repeated_text_runs_with_each_calls_parameters() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute(
        "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT); CREATE INDEX kv_v ON kv (v)",
        &[],
    )
    .unwrap();
    let mut tx = db.transaction().unwrap();
    for k in 0..500i64 {
        tx.execute(
            "INSERT INTO kv VALUES ($1, $2)",
            &[k.into(), format!("v{k}").into()],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    for k in [0i64, 7, 499] {
        let rows = db
            .query("SELECT v FROM kv WHERE k = $1", &[k.into()])
            .unwrap();
        assert_eq!(rows.rows[0].get::<String>(0).unwrap(), format!("v{k}"));
    }
    assert!(
        db.query("SELECT v FROM kv WHERE k = $1", &[1000.into()])
            .unwrap()
            .rows
            .is_empty()
    );
    for _ in 0..2 {
        let err = db.execute("SELEC v FROM kv", &[]).unwrap_err();
        assert!(matches!(err, SqlError::Parse(_)), "{err}");
    }
    // A duplicate key through the cached text fails and changes nothing.
    assert!(
        db.execute("INSERT INTO kv VALUES ($1, $2)", &[1.into(), "x".into()])
            .is_err()
    );
    let rows = db.query("SELECT count(*) FROM kv", &[]).unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 500);
}

/// Conflicts that sync resolved are readable with SQL, from `heliosdb_conflicts`.
#[test]
fn sync_conflicts_are_a_sql_table() {
    use heliosdb_nano::sync::SyncNode;
    let open = || {
        let db = EmbeddedDatabase::open_in_memory().unwrap();
        db.execute(
            "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, stars INT)",
            &[],
        )
        .unwrap();
        db
    };
    let (a, b) = (open(), open());
    let (na, nb) = (
        SyncNode::new(a.database().clone()),
        SyncNode::new(b.database().clone()),
    );
    a.execute("INSERT INTO notes VALUES (1, 'draft', 0)", &[])
        .unwrap();
    nb.apply(&na.changes_for(&nb.frontier().unwrap(), 100).unwrap())
        .unwrap();
    let empty = a
        .query("SELECT count(*) FROM heliosdb_conflicts", &[])
        .unwrap();
    assert_eq!(empty.rows[0].get::<i64>(0).unwrap(), 0);
    // Both edit the note before hearing from each other; b's edit is later.
    a.execute("UPDATE notes SET body = 'from a' WHERE id = 1", &[])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    b.execute("UPDATE notes SET stars = 5 WHERE id = 1", &[])
        .unwrap();
    na.apply(&nb.changes_for(&na.frontier().unwrap(), 100).unwrap())
        .unwrap();
    let rows = a
        .query(
            "SELECT table_name, row_key, rule, before, after FROM heliosdb_conflicts ORDER BY id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.rows.len(), 1);
    let text = |i: usize| rows.rows[0].get::<String>(i).unwrap();
    assert_eq!(text(0), "notes");
    assert_eq!(text(1), "1");
    assert_eq!(text(2), "last-writer-wins");
    assert_eq!(text(3), "(body = 'from a', stars = 0)");
    assert_eq!(text(4), "(body = 'draft', stars = 5)");
    // The row reads as resolved.
    let note = a.query("SELECT body, stars FROM notes", &[]).unwrap();
    assert_eq!(note.rows[0].get::<String>(0).unwrap(), "draft");
    // A table of the same name wins over the system table.
    b.execute("CREATE TABLE heliosdb_conflicts (x INT PRIMARY KEY)", &[])
        .unwrap();
    let own = b
        .query("SELECT count(*) FROM heliosdb_conflicts", &[])
        .unwrap();
    assert_eq!(own.rows[0].get::<i64>(0).unwrap(), 0);
}

/// An empty system table joins like any table (found in review: the planner needs its width).
#[test]
fn an_empty_system_table_joins() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    db.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)", &[])
        .unwrap();
    db.execute("INSERT INTO t VALUES (1, 10), (2, 20)", &[])
        .unwrap();
    let rows = db
        .query(
            "SELECT t.id, c.rule FROM heliosdb_conflicts c, t WHERE t.v > 5 AND c.id = t.id",
            &[],
        )
        .unwrap();
    assert!(rows.rows.is_empty());
    // A view of the same name wins over the system table.
    db.execute("CREATE VIEW heliosdb_conflicts AS SELECT 1 AS id", &[])
        .unwrap();
    let rows = db.query("SELECT id FROM heliosdb_conflicts", &[]).unwrap();
    assert_eq!(rows.rows.len(), 1);
}
