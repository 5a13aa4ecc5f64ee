//! SQL end to end through a session: DDL, DML, queries, transactions, errors.
use heliosdb_core::{Database, Value};
use heliosdb_sql::session::{Outcome, Session, SqlError};

fn session() -> Session {
    Session::new(Database::open_in_memory().unwrap())
}

/// Runs `sql` and renders every outcome: rows as `a|b` lines, counts as `INSERT 3`.
fn run(s: &mut Session, sql: &str) -> String {
    match s.execute(sql, &[]) {
        Ok(outcomes) => outcomes.iter().map(render).collect::<Vec<_>>().join("\n"),
        Err(e) => format!("ERROR: {e}"),
    }
}

fn render(o: &Outcome) -> String {
    match o {
        Outcome::Rows { rows, .. } => rows
            .iter()
            .map(|r| r.iter().map(show).collect::<Vec<_>>().join("|"))
            .collect::<Vec<_>>()
            .join("\n"),
        Outcome::Affected { command, rows } => format!("{command} {rows}"),
        Outcome::Done(tag) => tag.to_string(),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => s.clone(),
        other => heliosdb_sql::values::to_text(other),
    }
}

#[test]
fn ddl_dml_and_queries() {
    let mut s = session();
    assert_eq!(
        run(
            &mut s,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)"
        ),
        "CREATE TABLE"
    );
    assert_eq!(
        run(
            &mut s,
            "INSERT INTO t VALUES (1, 'ann', 9.5), (2, 'bob', NULL), (3, 'cy', 7)"
        ),
        "INSERT 3"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT name, score FROM t WHERE id >= 2 ORDER BY id"
        ),
        "bob|NULL\ncy|7"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*), count(score), sum(score), max(name) FROM t"
        ),
        "3|2|16.5|cy"
    );
    assert_eq!(
        run(
            &mut s,
            "UPDATE t SET score = score + 1 WHERE score IS NOT NULL"
        ),
        "UPDATE 2"
    );
    assert_eq!(
        run(&mut s, "SELECT id FROM t WHERE score >= 8 ORDER BY id DESC"),
        "3\n1"
    );
    assert_eq!(
        run(
            &mut s,
            "DELETE FROM t WHERE name LIKE 'b%' RETURNING id, name"
        ),
        "2|bob"
    );
    assert_eq!(
        run(&mut s, "SELECT * FROM t ORDER BY 1"),
        "1|ann|10.5\n3|cy|8"
    );
    assert_eq!(
        run(&mut s, "INSERT INTO t VALUES (1, 'dup', 0)"),
        "ERROR: duplicate primary key (1) in table t"
    );
    assert_eq!(
        run(
            &mut s,
            "INSERT INTO t VALUES (1, 'dup', 0) ON CONFLICT DO NOTHING"
        ),
        "INSERT 0"
    );
    assert_eq!(
        run(
            &mut s,
            "INSERT INTO t VALUES (1, 'x', 0) ON CONFLICT (id) DO UPDATE SET name = excluded.name || t.name RETURNING name"
        ),
        "xann"
    );
    assert_eq!(run(&mut s, "SELECT name FROM t WHERE id = 1"), "xann");
}

#[test]
fn grouping_joins_subqueries_and_set_operations() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE emp (id INT PRIMARY KEY, dept TEXT, salary INT)",
    );
    run(
        &mut s,
        "CREATE TABLE dept (name TEXT PRIMARY KEY, floor INT)",
    );
    run(
        &mut s,
        "INSERT INTO emp VALUES (1,'a',10),(2,'a',20),(3,'b',30),(4,NULL,40)",
    );
    run(
        &mut s,
        "INSERT INTO dept VALUES ('a', 1), ('b', 2), ('c', 3)",
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT dept, count(*) AS n, avg(salary) FROM emp GROUP BY dept HAVING count(*) >= 1 ORDER BY dept NULLS FIRST"
        ),
        "NULL|1|40\na|2|15\nb|1|30"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT e.id, d.floor FROM emp e JOIN dept d ON e.dept = d.name WHERE d.floor > 1"
        ),
        "3|2"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT d.name, count(e.id) FROM dept d LEFT JOIN emp e ON e.dept = d.name GROUP BY d.name ORDER BY 1"
        ),
        "a|2\nb|1\nc|0"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT id FROM emp WHERE salary > (SELECT avg(salary) FROM emp) ORDER BY id"
        ),
        "3\n4"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT id FROM emp e WHERE salary = (SELECT max(salary) FROM emp x WHERE x.dept = e.dept) ORDER BY id"
        ),
        "2\n3"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT name FROM dept WHERE NOT EXISTS (SELECT 1 FROM emp WHERE emp.dept = dept.name)"
        ),
        "c"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT dept FROM emp UNION SELECT name FROM dept ORDER BY 1"
        ),
        "a\nb\nc\nNULL"
    );
    assert_eq!(
        run(&mut s, "SELECT name FROM dept EXCEPT SELECT dept FROM emp"),
        "c"
    );
    assert_eq!(
        run(
            &mut s,
            "WITH rich AS (SELECT * FROM emp WHERE salary >= 30) SELECT count(*) FROM rich"
        ),
        "2"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT DISTINCT dept FROM emp WHERE dept IS NOT NULL ORDER BY dept"
        ),
        "a\nb"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT id FROM emp ORDER BY salary DESC LIMIT 2 OFFSET 1"
        ),
        "3\n2"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT CASE WHEN salary > 15 THEN 'hi' ELSE 'lo' END FROM emp WHERE id < 3 ORDER BY id"
        ),
        "lo\nhi"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT coalesce(dept, 'none'), upper(coalesce(dept, 'none')) FROM emp WHERE id = 4"
        ),
        "none|NONE"
    );
}

#[test]
fn errors_point_at_text_and_change_nothing() {
    let mut s = session();
    run(&mut s, "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    run(&mut s, "INSERT INTO t VALUES (1, 1)");
    let sql = "SELECT nope FROM t";
    let err = s.execute(sql, &[]).unwrap_err();
    assert_eq!(err.to_string(), "column \"nope\" does not exist");
    assert!(
        err.render(sql).contains("       ^^^^"),
        "{}",
        err.render(sql)
    );
    let sql = "SELECT FROM WHERE";
    let err = s.execute(sql, &[]).unwrap_err();
    assert!(matches!(err, SqlError::Parse(_)));
    assert!(err.render(sql).contains("line 1"), "{}", err.render(sql));
    // A multi-row insert that fails half-way inserts nothing.
    assert!(run(&mut s, "INSERT INTO t VALUES (2, 2), (1, 1)").starts_with("ERROR"));
    assert_eq!(run(&mut s, "SELECT count(*) FROM t"), "1");
    assert_eq!(run(&mut s, "SELECT 1 / 0"), "ERROR: division by zero");
    assert_eq!(
        run(&mut s, "SELECT v FROM t GROUP BY id"),
        "ERROR: column \"v\" must appear in the GROUP BY clause or be used in an aggregate function"
    );
}

#[test]
fn transactions_commit_roll_back_and_abort_like_postgres() {
    let mut s = session();
    run(&mut s, "CREATE TABLE t (id INT PRIMARY KEY)");
    assert_eq!(
        run(
            &mut s,
            "BEGIN; INSERT INTO t VALUES (1); SELECT count(*) FROM t"
        ),
        "BEGIN\nINSERT 1\n1"
    );
    assert_eq!(run(&mut s, "ROLLBACK"), "ROLLBACK");
    assert_eq!(run(&mut s, "SELECT count(*) FROM t"), "0");
    run(&mut s, "BEGIN");
    run(&mut s, "INSERT INTO t VALUES (1)");
    assert!(run(&mut s, "INSERT INTO t VALUES (1)").starts_with("ERROR"));
    assert_eq!(
        run(&mut s, "SELECT 1"),
        "ERROR: current transaction is aborted, commands ignored until end of transaction block"
    );
    assert_eq!(run(&mut s, "COMMIT"), "ROLLBACK");
    assert_eq!(run(&mut s, "SELECT count(*) FROM t"), "0");
    assert_eq!(
        run(&mut s, "BEGIN; INSERT INTO t VALUES (5); COMMIT"),
        "BEGIN\nINSERT 1\nCOMMIT"
    );
    assert_eq!(run(&mut s, "SELECT id FROM t"), "5");
}

#[test]
fn parameters_and_explain_show_key_use() {
    let mut s = session();
    run(&mut s, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)");
    run(&mut s, "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
    let out = s
        .execute("SELECT v FROM t WHERE id = $1", &[Value::Integer(2)])
        .unwrap();
    assert_eq!(render(&out[0]), "b");
    let plan = run(&mut s, "EXPLAIN SELECT v FROM t WHERE id = 2");
    assert!(
        plan.contains("Primary Key Lookup on t (key = (2))"),
        "{plan}"
    );
    let plan = run(&mut s, "EXPLAIN SELECT v FROM t WHERE id > 1");
    assert!(plan.contains("Primary Key Range Scan on t"), "{plan}");
    let plan = run(&mut s, "EXPLAIN SELECT v FROM t WHERE v = 'a'");
    assert!(plan.contains("Seq Scan on t"), "{plan}");
}

#[test]
fn comma_joins_are_reordered_but_keep_their_column_order() {
    let mut s = session();
    for t in ["a", "b", "c", "d"] {
        run(
            &mut s,
            &format!("CREATE TABLE {t} (k INT PRIMARY KEY, v INT, x TEXT)"),
        );
        let rows: Vec<String> = (0..20)
            .map(|i| format!("({i}, {}, '{t}{i}')", (i * 7) % 20))
            .collect();
        run(
            &mut s,
            &format!("INSERT INTO {t} VALUES {}", rows.join(",")),
        );
    }
    // Written so that the first two tables share no condition.
    let sql = "SELECT a.x, b.x, c.x, d.x FROM a, d, b, c WHERE b.v = a.k AND c.k = d.v AND a.k = 3 AND d.k = b.k";
    // a.k = 3; b.v = 3 → b.k = 9 (9*7%20 = 3); d.k = 9 → d.v = 3; c.k = 3.
    assert_eq!(run(&mut s, sql), "a3|b9|c3|d9");
    let star = run(
        &mut s,
        "SELECT * FROM a, b, c WHERE a.k = 1 AND b.k = a.k AND c.k = b.k",
    );
    assert_eq!(star, "1|7|a1|1|7|b1|1|7|c1");
}

#[test]
fn secondary_indexes_and_between_narrow_scans() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE o (id INT PRIMARY KEY, cust INT, amount INT)",
    );
    run(&mut s, "CREATE INDEX o_cust ON o (cust)");
    let rows: Vec<String> = (0..100)
        .map(|i| format!("({i}, {}, {i})", i % 10))
        .collect();
    run(&mut s, &format!("INSERT INTO o VALUES {}", rows.join(",")));
    let plan = run(&mut s, "EXPLAIN SELECT sum(amount) FROM o WHERE cust = 3");
    assert!(
        plan.contains("Index Lookup using o_cust on o (key = (3))"),
        "{plan}"
    );
    assert_eq!(
        run(&mut s, "SELECT sum(amount) FROM o WHERE cust = 3"),
        "480"
    );
    let plan = run(
        &mut s,
        "EXPLAIN SELECT count(*) FROM o WHERE id BETWEEN 10 AND 19",
    );
    assert!(
        plan.contains("Primary Key Range Scan on o (from (10) (inclusive) to (19) (inclusive))"),
        "{plan}"
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM o WHERE id BETWEEN 10 AND 19 AND cust > 4"
        ),
        "5"
    );
    // The primary key wins a tie; NULLs in the index are filtered, not returned.
    run(&mut s, "INSERT INTO o VALUES (100, NULL, 1)");
    assert_eq!(run(&mut s, "SELECT count(*) FROM o WHERE cust < 1"), "10");
    assert!(
        run(&mut s, "EXPLAIN SELECT * FROM o WHERE id = 5 AND cust = 5")
            .contains("Primary Key Lookup")
    );
}

#[test]
fn equi_joins_hash_the_right_side_with_sql_equality() {
    let mut s = session();
    run(&mut s, "CREATE TABLE l (id INT PRIMARY KEY, k INT)");
    run(
        &mut s,
        "CREATE TABLE r (id INT PRIMARY KEY, k REAL, tag TEXT)",
    );
    let left: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "({i}, {})",
                if i == 5 {
                    "NULL".into()
                } else {
                    (i % 7).to_string()
                }
            )
        })
        .collect();
    run(&mut s, &format!("INSERT INTO l VALUES {}", left.join(",")));
    // Right keys are reals: 3.0 must equal the integer 3; 2.5 equals nothing; NULL neither.
    let right: Vec<String> = (0..12)
        .map(|i| {
            format!(
                "({i}, {}, 't{i}')",
                match i {
                    0 => "NULL".to_string(),
                    1 => "2.5".to_string(),
                    i => format!("{}.0", i % 7),
                }
            )
        })
        .collect();
    run(&mut s, &format!("INSERT INTO r VALUES {}", right.join(",")));
    let hashed = run(
        &mut s,
        "SELECT l.id, r.tag FROM l JOIN r ON l.k = r.k AND r.id > 2 ORDER BY 1, 2",
    );
    // The same join computed without the equality (so no hash): must agree.
    let plain = run(
        &mut s,
        "SELECT l.id, r.tag FROM l JOIN r ON r.id > 2 WHERE l.k - r.k = 0 ORDER BY 1, 2",
    );
    assert_eq!(hashed, plain);
    assert!(
        hashed.contains("3|t3") && hashed.contains("3|t10"),
        "{hashed}"
    );
    // LEFT JOIN keeps unmatched rows, including the NULL key.
    let left_join = run(
        &mut s,
        "SELECT l.id, r.tag FROM l LEFT JOIN r ON l.k = r.k WHERE l.id IN (0, 5) ORDER BY 1",
    );
    assert_eq!(left_join, "0|t7\n5|NULL");
}

#[test]
fn joins_look_up_an_indexed_right_side_by_key() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE customers (id INT PRIMARY KEY, name TEXT)",
    );
    run(
        &mut s,
        "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, amount INT)",
    );
    run(
        &mut s,
        "CREATE INDEX orders_customer ON orders (customer_id)",
    );
    let c: Vec<String> = (0..50).map(|i| format!("({i}, 'c{i}')")).collect();
    run(
        &mut s,
        &format!("INSERT INTO customers VALUES {}", c.join(",")),
    );
    let o: Vec<String> = (0..500)
        .map(|i| {
            format!(
                "({i}, {}, {i})",
                if i % 97 == 0 {
                    "NULL".into()
                } else {
                    (i % 60).to_string()
                }
            )
        })
        .collect();
    run(
        &mut s,
        &format!("INSERT INTO orders VALUES {}", o.join(",")),
    );
    let sql = "SELECT c.name, sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id BETWEEN 10 AND 12 GROUP BY c.name ORDER BY 1";
    let plan = run(&mut s, &format!("EXPLAIN {sql}"));
    assert!(
        plan.contains("Index Join on orders using index orders_customer"),
        "{plan}"
    );
    // The same answer as a join that cannot use the index.
    let slow = "SELECT c.name, sum(o.amount) FROM customers c JOIN orders o ON o.customer_id + 0 = c.id WHERE c.id BETWEEN 10 AND 12 GROUP BY c.name ORDER BY 1";
    assert_eq!(run(&mut s, sql), run(&mut s, slow));
    assert_eq!(run(&mut s, sql).lines().count(), 3);
    // LEFT JOIN by primary key keeps unmatched rows; the right side's WHERE stays above.
    let left = "SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE o.id IN (55, 97, 1) ORDER BY 1";
    assert!(
        run(&mut s, &format!("EXPLAIN {left}"))
            .contains("Index Left Join on customers using primary key")
    );
    assert_eq!(run(&mut s, left), "1|c1\n55|NULL\n97|NULL");
}
