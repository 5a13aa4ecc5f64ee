//! Time travel in SQL: AS OF per table reference, FOR SYSTEM_TIME, VERSIONS BETWEEN,
//! commit ids from heliosdb_commits(), retention, and the errors.
use heliosdb_core::{Database, Value};
use heliosdb_sql::session::{Outcome, Session};
use proptest::prelude::*;

fn session() -> Session {
    Session::new(Database::open_in_memory().unwrap())
}

fn rows(s: &mut Session, sql: &str, params: &[Value]) -> Vec<Vec<Value>> {
    match s
        .execute(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .pop()
    {
        Some(Outcome::Rows { rows, .. }) => rows,
        other => panic!("{sql}: {other:?}"),
    }
}

fn run(s: &mut Session, sql: &str) -> String {
    match s.execute(sql, &[]) {
        Ok(outcomes) => outcomes
            .iter()
            .map(|o| match o {
                Outcome::Rows { rows, .. } => rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| match v {
                                Value::Null => "NULL".into(),
                                Value::Text(t) => t.clone(),
                                other => heliosdb_sql::values::to_text(other),
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Outcome::Affected { command, rows } => format!("{command} {rows}"),
                Outcome::Done(tag) => tag.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("ERROR: {e}"),
    }
}

fn last_commit(s: &mut Session) -> i64 {
    match rows(s, "SELECT commit_id FROM heliosdb_commits(1)", &[])[0][0] {
        Value::Integer(n) => n,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn as_of_transaction_and_timestamp_read_the_past_per_table_reference() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)",
    );
    run(&mut s, "INSERT INTO acct VALUES (1, 100), (2, 200)");
    let c1 = last_commit(&mut s);
    let ts1 = rows(&mut s, "SELECT committed_at FROM heliosdb_commits(1)", &[])[0][0].clone();
    std::thread::sleep(std::time::Duration::from_millis(3));
    run(
        &mut s,
        "UPDATE acct SET balance = balance + 50 WHERE id = 1",
    );
    run(&mut s, "DELETE FROM acct WHERE id = 2");
    run(&mut s, "INSERT INTO acct VALUES (3, 300)");

    assert_eq!(
        run(&mut s, "SELECT * FROM acct ORDER BY id"),
        "1|150\n3|300"
    );
    let q = format!("SELECT * FROM acct AS OF TRANSACTION {c1} ORDER BY id");
    assert_eq!(run(&mut s, &q), "1|100\n2|200");
    // SQL:2011's spelling, a parameter, a point lookup and a key range.
    assert_eq!(
        rows(
            &mut s,
            "SELECT balance FROM acct FOR SYSTEM_TIME AS OF $1 WHERE id = 2",
            std::slice::from_ref(&ts1)
        ),
        vec![vec![Value::Integer(200)]]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT id FROM acct AS OF TIMESTAMP $1 WHERE id >= 2",
            std::slice::from_ref(&ts1)
        ),
        vec![vec![Value::Integer(2)]]
    );
    let text = match &ts1 {
        v @ Value::Timestamp(_) => heliosdb_sql::values::to_text(v),
        other => panic!("{other:?}"),
    };
    let q = format!("SELECT count(*) FROM acct AS OF TIMESTAMP '{text}'");
    assert_eq!(run(&mut s, &q), "2");
    // Two times in one query: what changed since commit c1.
    let q = format!(
        "SELECT now_.id, then_.balance, now_.balance FROM acct now_ \
         JOIN acct AS OF TRANSACTION {c1} AS then_ ON then_.id = now_.id ORDER BY 1"
    );
    assert_eq!(run(&mut s, &q), "1|100|150");
    // The past can be copied into the present.
    let q = format!("INSERT INTO acct SELECT * FROM acct AS OF TRANSACTION {c1} WHERE id = 2");
    assert_eq!(run(&mut s, &q), "INSERT 1");
    assert_eq!(
        run(&mut s, "SELECT * FROM acct ORDER BY id"),
        "1|150\n2|200\n3|300"
    );
    // EXPLAIN says which past a scan reads.
    let q = format!("EXPLAIN SELECT * FROM acct AS OF TRANSACTION {c1} WHERE id = 1");
    let plan = run(&mut s, &q);
    assert!(
        plan.contains("Primary Key Lookup on acct") && plan.contains(&format!("transaction {c1}")),
        "{plan}"
    );
}

#[test]
fn versions_between_lists_each_version_with_validity_and_operation() {
    let mut s = session();
    run(&mut s, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)");
    // Apart by more than a millisecond, the resolution of the validity columns.
    let pause = || std::thread::sleep(std::time::Duration::from_millis(3));
    run(&mut s, "INSERT INTO kv VALUES (1, 'a')");
    let first = last_commit(&mut s);
    pause();
    run(&mut s, "UPDATE kv SET v = 'b' WHERE k = 1");
    pause();
    run(&mut s, "DELETE FROM kv WHERE k = 1");
    pause();
    run(&mut s, "INSERT INTO kv VALUES (1, 'c')");
    let last = last_commit(&mut s);
    let q = format!(
        "SELECT k, v, operation, valid_to IS NULL FROM kv VERSIONS BETWEEN TRANSACTION {first} \
         AND TRANSACTION {last} ORDER BY valid_from, operation"
    );
    assert_eq!(
        run(&mut s, &q),
        "1|a|INSERT|false\n1|b|UPDATE|false\n1|b|DELETE|false\n1|c|INSERT|true"
    );
    let q = format!(
        "SELECT count(*) FROM kv FOR SYSTEM_TIME BETWEEN TRANSACTION {last} AND TRANSACTION {last}"
    );
    assert_eq!(run(&mut s, &q), "1");
    // valid_from of each version orders them; valid_to of one is valid_from of the next.
    let q = format!(
        "SELECT count(*) FROM kv VERSIONS BETWEEN TRANSACTION {first} AND TRANSACTION {last} a \
         JOIN kv VERSIONS BETWEEN TRANSACTION {first} AND TRANSACTION {last} b \
         ON a.valid_to = b.valid_from"
    );
    assert_eq!(run(&mut s, &q), "3");
}

#[test]
fn history_errors_are_clear() {
    let mut s = session();
    run(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
    run(&mut s, "CREATE VIEW v AS SELECT * FROM t");
    run(&mut s, "INSERT INTO t VALUES (1)");
    let future = run(
        &mut s,
        "SELECT * FROM t AS OF TIMESTAMP '2999-01-01 00:00:00'",
    );
    assert!(future.contains("in the future"), "{future}");
    let old = run(
        &mut s,
        "SELECT * FROM t AS OF TIMESTAMP '2001-01-01 00:00:00'",
    );
    assert!(old.starts_with("ERROR") && old.contains("history"), "{old}");
    let e = run(&mut s, "SELECT * FROM t AS OF TRANSACTION 999");
    assert!(e.contains("transaction 999 has not been committed"), "{e}");
    let e = run(&mut s, "SELECT * FROM t AS OF TRANSACTION 'x'");
    assert!(e.contains("commit id"), "{e}");
    let e = run(&mut s, "SELECT * FROM v AS OF TRANSACTION 1");
    assert!(e.contains("v is a view"), "{e}");
    for write in [
        "UPDATE t AS OF TRANSACTION 1 SET id = 2",
        "DELETE FROM t AS OF TRANSACTION 1",
        "INSERT INTO t AS OF TRANSACTION 1 VALUES (5)",
    ] {
        let e = run(&mut s, write);
        assert!(e.contains("history is read-only"), "{write}: {e}");
    }
    assert_eq!(run(&mut s, "SELECT count(*) FROM t"), "1");
    let e = run(&mut s, "SELECT * FROM nope()");
    assert!(e.contains("function nope() does not exist"), "{e}");
}

#[test]
fn retention_is_a_database_setting_and_bounds_as_of() {
    let mut s = session();
    assert_eq!(run(&mut s, "SHOW history_retention"), "7 days");
    run(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
    run(&mut s, "INSERT INTO t VALUES (1, 1)");
    let c = last_commit(&mut s);
    run(&mut s, "UPDATE t SET v = 2");
    let q = format!("SELECT v FROM t AS OF TRANSACTION {c}");
    assert_eq!(run(&mut s, &q), "1");
    assert_eq!(
        run(
            &mut s,
            "ALTER DATABASE SET history_retention = '1 day 12 hours'"
        ),
        "ALTER DATABASE"
    );
    assert_eq!(run(&mut s, "SHOW history_retention"), "36 hours");
    let e = run(&mut s, "ALTER DATABASE SET history_retention = 'a while'");
    assert!(e.contains("invalid history_retention"), "{e}");
    assert_eq!(run(&mut s, "SHOW history_retention"), "36 hours");
    run(&mut s, "BEGIN");
    let e = run(&mut s, "ALTER DATABASE SET history_retention = '1 day'");
    assert!(e.contains("transaction block"), "{e}");
    run(&mut s, "ROLLBACK");
    std::thread::sleep(std::time::Duration::from_millis(5));
    run(
        &mut s,
        "ALTER DATABASE mydb SET history_retention = '0 seconds'",
    );
    let e = run(&mut s, &q);
    assert!(e.starts_with("ERROR") && e.contains("history"), "{e}");
    run(&mut s, "ALTER DATABASE SET history_retention TO DEFAULT");
    assert_eq!(run(&mut s, "SHOW history_retention"), "7 days");
    run(&mut s, "ALTER DATABASE SET history_retention = 'forever'");
    assert_eq!(run(&mut s, "SHOW history_retention"), "forever");
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(i64, i64),
    Delete(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i64..8, 0i64..100).prop_map(|(k, v)| Op::Upsert(k, v)),
        1 => (0i64..8).prop_map(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// `AS OF` every commit of a random history equals the snapshot taken just after it,
    /// read whole, by key, and by key range.
    #[test]
    fn as_of_equals_a_snapshot_taken_then(
        commits in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 1..12)
    ) {
        let mut s = session();
        run(&mut s, "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)");
        let mut snapshots = Vec::new();
        for ops in &commits {
            run(&mut s, "BEGIN");
            for op in ops {
                let sql = match op {
                    Op::Upsert(k, v) => format!(
                        "INSERT INTO t VALUES ({k}, {v}) ON CONFLICT (k) DO UPDATE SET v = {v}"
                    ),
                    Op::Delete(k) => format!("DELETE FROM t WHERE k = {k}"),
                };
                run(&mut s, &sql);
            }
            run(&mut s, "COMMIT");
            let c = last_commit(&mut s);
            snapshots.push((c, rows(&mut s, "SELECT * FROM t ORDER BY k", &[])));
        }
        for (c, snapshot) in &snapshots {
            let all = rows(&mut s, &format!("SELECT * FROM t AS OF TRANSACTION {c} ORDER BY k"), &[]);
            prop_assert_eq!(&all, snapshot);
            for k in 0..8i64 {
                let one = rows(
                    &mut s,
                    &format!("SELECT * FROM t FOR SYSTEM_TIME AS OF TRANSACTION {c} WHERE k = $1"),
                    &[Value::Integer(k)],
                );
                let want: Vec<Vec<Value>> =
                    snapshot.iter().filter(|r| r[0] == Value::Integer(k)).cloned().collect();
                prop_assert_eq!(one, want);
            }
            let range = rows(
                &mut s,
                &format!("SELECT k FROM t AS OF TRANSACTION {c} WHERE k > 2 AND k <= 5 ORDER BY k"),
                &[],
            );
            let want: Vec<Vec<Value>> = snapshot
                .iter()
                .filter(|r| matches!(r[0], Value::Integer(k) if k > 2 && k <= 5))
                .map(|r| vec![r[0].clone()])
                .collect();
            prop_assert_eq!(range, want);
        }
    }
}
