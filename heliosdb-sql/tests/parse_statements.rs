//! Statements and expressions parse to the expected trees. Trees are compared through their
//! printed form, which puts every operator expression in parentheses.

use heliosdb_sql::ast::*;
use heliosdb_sql::parser::{parse, parse_one};

/// Parses one statement and compares its printed form.
#[track_caller]
fn check(sql: &str, expected: &str) {
    let stmt = parse_one(sql).unwrap_or_else(|e| panic!("{sql}\n{}", e.render(sql)));
    assert_eq!(stmt.to_string(), expected, "parsing {sql}");
    // The printed form reads back the same way.
    let again =
        parse_one(expected).unwrap_or_else(|e| panic!("{expected}\n{}", e.render(expected)));
    assert_eq!(again.to_string(), expected, "reparsing {expected}");
}

/// The printed form of `SELECT <sql>`'s only item.
#[track_caller]
fn expr(sql: &str) -> String {
    let full = format!("SELECT {sql}");
    let stmt = parse_one(&full).unwrap_or_else(|e| panic!("{full}\n{}", e.render(&full)));
    let printed = stmt.to_string();
    printed
        .strip_prefix("SELECT ")
        .unwrap_or(&printed)
        .to_string()
}

#[track_caller]
fn check_expr(sql: &str, expected: &str) {
    assert_eq!(expr(sql), expected, "parsing {sql}");
}

fn query(stmt: &Statement) -> &Query {
    match &stmt.kind {
        StatementKind::Query(q) => q,
        other => panic!("not a query: {other:?}"),
    }
}

fn first_item(sql: &str) -> Expr {
    let stmt = parse_one(sql).unwrap();
    match &query(&stmt).body {
        SetExpr::Select(s) => match &s.items[0] {
            SelectItem::Expr { expr, .. } => expr.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn literals() {
    check_expr("1", "1");
    check_expr("9223372036854775807", "9223372036854775807");
    // Beyond i64 it is a numeric literal, as in PostgreSQL.
    check_expr("9223372036854775808", "9223372036854775808");
    assert_eq!(
        first_item("SELECT 9223372036854775808").kind,
        ExprKind::Literal(Literal::Numeric("9223372036854775808".into()))
    );
    assert_eq!(
        first_item("SELECT 42").kind,
        ExprKind::Literal(Literal::Integer(42))
    );
    for n in ["1.5", "1e3", ".5", "1.5e-3", "2.", "1E+10"] {
        assert_eq!(
            first_item(&format!("SELECT {n}")).kind,
            ExprKind::Literal(Literal::Numeric(n.into()))
        );
    }
    assert_eq!(
        first_item("SELECT 'it''s'").kind,
        ExprKind::Literal(Literal::String("it's".into()))
    );
    check_expr("'it''s'", "'it''s'");
    check_expr("NULL", "NULL");
    check_expr("true", "TRUE");
    check_expr("FALSE", "FALSE");
    check_expr("$1 + $12", "($1 + $12)");
    check_expr("'[1,2,3]'::vector(3)", "CAST('[1,2,3]' AS VECTOR(3))");
    let e = first_item("SELECT TIMESTAMP '2026-11-25 10:00:00'");
    match e.kind {
        ExprKind::TypedString { data_type, value } => {
            assert_eq!(data_type.kind, TypeKind::Timestamp);
            assert_eq!(value, "2026-11-25 10:00:00");
        }
        other => panic!("{other:?}"),
    }
    check_expr(
        "timestamp with time zone '2026-01-01 00:00:00+00'",
        "TIMESTAMPTZ '2026-01-01 00:00:00+00'",
    );
    check_expr("DOUBLE PRECISION '1.5'", "DOUBLE PRECISION '1.5'");
    check_expr("date_part('year', now())", "date_part('year', now())");
    check_expr("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP");
}

#[test]
fn identifiers_fold_unless_quoted() {
    let e = first_item(r#"SELECT MyCol, "MyCol" FROM T"#);
    match e.kind {
        ExprKind::Column {
            table: None,
            column,
        } => {
            assert_eq!(column.value, "mycol");
            assert!(!column.quoted);
            assert_eq!(column.span, Span::new(7, 12));
        }
        other => panic!("{other:?}"),
    }
    check(
        r#"SELECT MyCol, "MyCol", "a""b" FROM T"#,
        r#"SELECT mycol, "MyCol", "a""b" FROM t"#,
    );
    check(
        r#"SELECT T.A, "T"."A" FROM t"#,
        r#"SELECT t.a, "T"."A" FROM t"#,
    );
    // Non-reserved keywords are identifiers.
    check(
        "SELECT key, value, name, text, type, data, int FROM kv",
        "SELECT key, value, name, text, type, data, int FROM kv",
    );
    check(
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)",
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)",
    );
    // Reserved words need quotes.
    check(
        r#"SELECT "select", "from" FROM "order""#,
        r#"SELECT "select", "from" FROM "order""#,
    );
}

#[test]
fn precedence() {
    check_expr("1 + 2 * 3", "(1 + (2 * 3))");
    check_expr("1 * 2 + 3", "((1 * 2) + 3)");
    check_expr("1 - 2 - 3", "((1 - 2) - 3)");
    check_expr("8 / 4 / 2", "((8 / 4) / 2)");
    check_expr("1 + 2 % 3", "(1 + (2 % 3))");
    check_expr("2 ^ 3 ^ 2", "((2 ^ 3) ^ 2)");
    check_expr("- 2 ^ 2", "((- 2) ^ 2)");
    check_expr("2 * 3 ^ 2", "(2 * (3 ^ 2))");
    check_expr("a OR b AND c", "(a OR (b AND c))");
    check_expr("a AND b OR c", "((a AND b) OR c)");
    check_expr("NOT a AND b", "((NOT a) AND b)");
    check_expr("NOT a = b", "(NOT (a = b))");
    check_expr("NOT NOT x", "(NOT (NOT x))");
    check_expr("NOT a IS NULL", "(NOT (a IS NULL))");
    check_expr("a = b IS NULL", "((a = b) IS NULL)");
    check_expr("a IS NULL = b", "((a IS NULL) = b)");
    check_expr("a < b + 1", "(a < (b + 1))");
    check_expr(
        "a = 1 OR b <> 2 AND c != 3",
        "((a = 1) OR ((b <> 2) AND (c <> 3)))",
    );
    check_expr("a || b || c", "((a || b) || c)");
    check_expr("a || b = c", "((a || b) = c)");
    check_expr("a + b || c", "((a + b) || c)");
    check_expr("x BETWEEN 1 AND 2 AND y", "((x BETWEEN 1 AND 2) AND y)");
    check_expr(
        "x NOT BETWEEN a + 1 AND b * 2",
        "(x NOT BETWEEN (a + 1) AND (b * 2))",
    );
    check_expr("x BETWEEN 1 AND 2 = true", "((x BETWEEN 1 AND 2) = TRUE)");
    check_expr("a = b BETWEEN c AND d", "(a = (b BETWEEN c AND d))");
    check_expr("a IN (1, 2) = b", "((a IN (1, 2)) = b)");
    check_expr("a LIKE 'x%' || 'y'", "(a LIKE ('x%' || 'y'))");
    check_expr("a || 'x' LIKE b", "((a || 'x') LIKE b)");
    check_expr("- - 5", "(- (- 5))");
    check_expr("+ +5", "(+ (+ 5))");
    check_expr("- + - 5", "(- (+ (- 5)))");
    check_expr("44 - - - col2", "(44 - (- (- col2)))");
    check_expr("-1::text", "(- CAST(1 AS TEXT))");
    check_expr("(-1)::text", "CAST((- 1) AS TEXT)");
    check_expr("a::int + 1", "(CAST(a AS INTEGER) + 1)");
    check_expr("a::int::text", "CAST(CAST(a AS INTEGER) AS TEXT)");
    check_expr("a * - b", "(a * (- b))");
    check_expr("a*-1", "(a * (- 1))");
    check_expr("a<-1", "(a < (- 1))");
    check_expr("a<>-1", "(a <> (- 1))");
    check_expr("(a + b) * c", "((a + b) * c)");
    check_expr("((((1))))", "1");
    check_expr(
        "a IS NOT DISTINCT FROM b + 1",
        "(a IS NOT DISTINCT FROM (b + 1))",
    );
    check_expr("a IS DISTINCT FROM b = c", "(a IS DISTINCT FROM (b = c))");
    check_expr(
        "a IS NOT NULL AND b ISNULL OR c NOTNULL",
        "(((a IS NOT NULL) AND (b IS NULL)) OR (c IS NOT NULL))",
    );
    check_expr("a IS TRUE IS NOT FALSE", "((a IS TRUE) IS NOT FALSE)");
    check_expr("a IS UNKNOWN", "(a IS UNKNOWN)");
    // pgvector operators sit at PostgreSQL's "any other operator" level.
    check_expr("v <-> '[1,2]' < 5", "((v <-> '[1,2]') < 5)");
    check_expr("v <=> q + 1", "(v <=> (q + 1))");
    check_expr("v <#> q", "(v <#> q)");
    check_expr("a & b | c", "((a & b) | c)");
    check_expr("1 << 2 >> 1", "((1 << 2) >> 1)");
}

#[test]
fn comparisons_do_not_chain() {
    for sql in [
        "SELECT a = b = c",
        "SELECT a < b < c",
        "SELECT a LIKE b LIKE c",
        "SELECT a BETWEEN 1 AND 2 BETWEEN 3 AND 4",
        "SELECT a IS DISTINCT FROM b IS NULL",
    ] {
        let err = parse_one(sql).expect_err(sql);
        assert!(err.message.contains("add parentheses"), "{sql}: {err}");
    }
    check_expr("(a = b) = c", "((a = b) = c)");
}

#[test]
fn predicates() {
    check_expr("x IN (1, 2, 3)", "(x IN (1, 2, 3))");
    check_expr("x NOT IN (1)", "(x NOT IN (1))");
    check_expr("x IN (SELECT a FROM t)", "(x IN (SELECT a FROM t))");
    check_expr(
        "x NOT IN ((SELECT a FROM t))",
        "(x NOT IN ((SELECT a FROM t)))",
    );
    check_expr("x IN ((SELECT 1) + 1, 2)", "(x IN (((SELECT 1) + 1), 2))");
    check_expr("x IN ((1))", "(x IN (1))");
    check_expr("name LIKE 'a%'", "(name LIKE 'a%')");
    check_expr(
        "name NOT ILIKE 'a!%%' ESCAPE '!'",
        "(name NOT ILIKE 'a!%%' ESCAPE '!')",
    );
    check_expr("EXISTS (SELECT 1)", "EXISTS (SELECT 1)");
    check_expr(
        "NOT EXISTS (SELECT * FROM t WHERE t.a = u.a)",
        "(NOT EXISTS (SELECT * FROM t WHERE (t.a = u.a)))",
    );
    check_expr("(SELECT max(a) FROM t)", "(SELECT max(a) FROM t)");
    check_expr("(SELECT 1) + (SELECT 2)", "((SELECT 1) + (SELECT 2))");
    check_expr("((SELECT 1) + 1)", "((SELECT 1) + 1)");
    check_expr("((SELECT 1))", "((SELECT 1))");
    check_expr(
        "((SELECT 1) UNION (SELECT 2))",
        "((SELECT 1) UNION (SELECT 2))",
    );
}

#[test]
fn functions_case_cast() {
    check_expr("count(*)", "count(*)");
    check_expr("COUNT ( * )", "count(*)");
    check_expr("count(DISTINCT x)", "count(DISTINCT x)");
    check_expr("sum(ALL x)", "sum(x)");
    check_expr("coalesce(a, b, 1)", "coalesce(a, b, 1)");
    check_expr("nullif(a, 0)", "nullif(a, 0)");
    check_expr("now()", "now()");
    check_expr("left('abc', 2)", "left('abc', 2)");
    check_expr("\"Weird\"(1)", "\"Weird\"(1)");
    check_expr("abs(- a)", "abs((- a))");
    check_expr("CAST(a AS INTEGER)", "CAST(a AS INTEGER)");
    check_expr("CAST ( - 59 AS INTEGER )", "CAST((- 59) AS INTEGER)");
    check_expr(
        "CASE WHEN a < 0 THEN 'neg' WHEN a = 0 THEN 'zero' ELSE 'pos' END",
        "CASE WHEN (a < 0) THEN 'neg' WHEN (a = 0) THEN 'zero' ELSE 'pos' END",
    );
    check_expr(
        "CASE a + 1 WHEN b THEN 1 END",
        "CASE (a + 1) WHEN b THEN 1 END",
    );
    check_expr(
        "CASE WHEN NULL IS NULL THEN - 1 END * 2",
        "(CASE WHEN (NULL IS NULL) THEN (- 1) END * 2)",
    );
}

#[test]
fn types() {
    let cases = [
        ("INTEGER", TypeKind::Integer),
        ("int", TypeKind::Integer),
        ("INT4", TypeKind::Integer),
        ("int8", TypeKind::BigInt),
        ("BIGINT", TypeKind::BigInt),
        ("smallint", TypeKind::SmallInt),
        ("REAL", TypeKind::Real),
        ("FLOAT", TypeKind::Double),
        ("float(10)", TypeKind::Real),
        ("float(53)", TypeKind::Double),
        ("float8", TypeKind::Double),
        ("DOUBLE PRECISION", TypeKind::Double),
        (
            "NUMERIC",
            TypeKind::Numeric {
                precision: None,
                scale: None,
            },
        ),
        (
            "DECIMAL(10, 2)",
            TypeKind::Numeric {
                precision: Some(10),
                scale: Some(2),
            },
        ),
        (
            "numeric(5)",
            TypeKind::Numeric {
                precision: Some(5),
                scale: None,
            },
        ),
        ("TEXT", TypeKind::Text),
        ("VARCHAR", TypeKind::Varchar(None)),
        ("VARCHAR(8)", TypeKind::Varchar(Some(8))),
        ("character varying(20)", TypeKind::Varchar(Some(20))),
        ("CHAR(3)", TypeKind::Char(Some(3))),
        ("character", TypeKind::Char(None)),
        ("BLOB", TypeKind::Blob),
        ("bytea", TypeKind::Blob),
        ("BOOLEAN", TypeKind::Boolean),
        ("bool", TypeKind::Boolean),
        ("TIMESTAMP", TypeKind::Timestamp),
        ("timestamp without time zone", TypeKind::Timestamp),
        ("TIMESTAMP WITH TIME ZONE", TypeKind::TimestampTz),
        ("timestamptz", TypeKind::TimestampTz),
        ("VECTOR(384)", TypeKind::Vector(Some(384))),
        ("vector", TypeKind::Vector(None)),
    ];
    for (text, kind) in cases {
        let sql = format!("CREATE TABLE t (c {text} NOT NULL)");
        let stmt = parse_one(&sql).unwrap_or_else(|e| panic!("{}", e.render(&sql)));
        let StatementKind::CreateTable(ct) = stmt.kind else {
            panic!()
        };
        let dt = &ct.columns[0].data_type;
        assert_eq!(dt.kind, kind, "{text}");
        assert_eq!(dt.text, text, "original text kept");
        assert_eq!(&sql[dt.span.range()], text);
        assert_eq!(ct.columns[0].constraints.len(), 1);
    }
    let err = parse_one("CREATE TABLE t (c money)").unwrap_err();
    assert_eq!(err.message, "type money is not supported");
}

#[test]
fn select_clauses() {
    check("SELECT * FROM t", "SELECT * FROM t");
    check("select all a from t", "SELECT a FROM t");
    check(
        "SELECT DISTINCT a, t.* FROM t",
        "SELECT DISTINCT a, t.* FROM t",
    );
    check(
        "SELECT a AS x, b y, c AS \"Z\", d AS from FROM t",
        "SELECT a AS x, b AS y, c AS \"Z\", d AS \"from\" FROM t",
    );
    check("SELECT - 87 col0", "SELECT (- 87) AS col0");
    check(
        "SELECT a, count(*) FROM t WHERE b > 1 GROUP BY a, c HAVING count(*) > 2 ORDER BY 2 DESC, a NULLS FIRST LIMIT 10 OFFSET 5",
        "SELECT a, count(*) FROM t WHERE (b > 1) GROUP BY a, c HAVING (count(*) > 2) ORDER BY 2 DESC, a NULLS FIRST LIMIT 10 OFFSET 5",
    );
    check(
        "SELECT a FROM t ORDER BY a ASC NULLS LAST, b DESC NULLS FIRST",
        "SELECT a FROM t ORDER BY a ASC NULLS LAST, b DESC NULLS FIRST",
    );
    check(
        "SELECT a FROM t LIMIT ALL OFFSET 3 ROWS",
        "SELECT a FROM t OFFSET 3",
    );
    check(
        "SELECT a FROM t OFFSET 3 LIMIT 1",
        "SELECT a FROM t LIMIT 1 OFFSET 3",
    );
    check("SELECT 1", "SELECT 1");
    check("VALUES (1, 'a'), (2, 'b')", "VALUES (1, 'a'), (2, 'b')");
    check(
        "SELECT * FROM (VALUES (1), (2)) AS v (x)",
        "SELECT * FROM (VALUES (1), (2)) AS v (x)",
    );
    check(
        "WITH a AS (SELECT 1 AS x), b (y) AS (SELECT x FROM a) SELECT y FROM b",
        "WITH a AS (SELECT 1 AS x), b (y) AS (SELECT x FROM a) SELECT y FROM b",
    );
    check(
        "(SELECT a FROM t ORDER BY a LIMIT 1)",
        "(SELECT a FROM t ORDER BY a LIMIT 1)",
    );
    let stmt = parse_one("SELECT a FROM t ORDER BY a").unwrap();
    assert_eq!(query(&stmt).order_by[0].asc, None);
    assert_eq!(query(&stmt).order_by[0].nulls_first, None);
}

#[test]
fn set_operations() {
    check(
        "SELECT 1 UNION SELECT 2 UNION ALL SELECT 3",
        "(SELECT 1 UNION SELECT 2) UNION ALL SELECT 3",
    );
    check(
        "SELECT 1 UNION SELECT 2 INTERSECT SELECT 3",
        "SELECT 1 UNION (SELECT 2 INTERSECT SELECT 3)",
    );
    check(
        "SELECT 1 INTERSECT SELECT 2 UNION SELECT 3",
        "(SELECT 1 INTERSECT SELECT 2) UNION SELECT 3",
    );
    check(
        "SELECT 1 EXCEPT SELECT 2 EXCEPT SELECT 3",
        "(SELECT 1 EXCEPT SELECT 2) EXCEPT SELECT 3",
    );
    check(
        "SELECT 1 EXCEPT (SELECT 2 EXCEPT SELECT 3)",
        "SELECT 1 EXCEPT (SELECT 2 EXCEPT SELECT 3)",
    );
    check(
        "SELECT a FROM t UNION DISTINCT SELECT b FROM u ORDER BY 1 LIMIT 2",
        "SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 LIMIT 2",
    );
    check(
        "(SELECT 1 ORDER BY 1) UNION (SELECT 2)",
        "(SELECT 1 ORDER BY 1) UNION (SELECT 2)",
    );
    let stmt = parse_one("SELECT 1 UNION SELECT 2 ORDER BY 1").unwrap();
    assert!(matches!(
        query(&stmt).body,
        SetExpr::SetOperation {
            op: SetOperator::Union,
            all: false,
            ..
        }
    ));
    assert_eq!(query(&stmt).order_by.len(), 1);
}

#[test]
fn from_items_and_joins() {
    check(
        "SELECT * FROM t1, t2 AS x, t3 y",
        "SELECT * FROM t1, t2 AS x, t3 AS y",
    );
    check(
        "SELECT * FROM t1 JOIN t2 ON t1.a = t2.a",
        "SELECT * FROM t1 JOIN t2 ON (t1.a = t2.a)",
    );
    check(
        "SELECT * FROM t1 INNER JOIN t2 USING (a, b)",
        "SELECT * FROM t1 JOIN t2 USING (a, b)",
    );
    check(
        "SELECT * FROM t1 LEFT OUTER JOIN t2 ON true LEFT JOIN t3 ON false",
        "SELECT * FROM t1 LEFT JOIN t2 ON TRUE LEFT JOIN t3 ON FALSE",
    );
    check(
        "SELECT * FROM t1 CROSS JOIN t2 AS b",
        "SELECT * FROM t1 CROSS JOIN t2 AS b",
    );
    check(
        "SELECT * FROM t1 RIGHT JOIN t2 ON x FULL OUTER JOIN t3 ON y",
        "SELECT * FROM t1 RIGHT JOIN t2 ON x FULL JOIN t3 ON y",
    );
    check(
        "SELECT * FROM ( tab1 AS cor0 CROSS JOIN tab1 AS cor1 )",
        "SELECT * FROM tab1 AS cor0 CROSS JOIN tab1 AS cor1",
    );
    check(
        "SELECT * FROM t1 JOIN (t2 JOIN t3 ON a) ON b",
        "SELECT * FROM t1 JOIN (t2 JOIN t3 ON a) ON b",
    );
    check(
        "SELECT s.x FROM (SELECT 1 AS x) AS s",
        "SELECT s.x FROM (SELECT 1 AS x) AS s",
    );
    check(
        "SELECT * FROM (SELECT 1) s, ((SELECT 2)) AS u",
        "SELECT * FROM (SELECT 1) AS s, ((SELECT 2)) AS u",
    );
    check("SELECT * FROM (SELECT 1)", "SELECT * FROM (SELECT 1)");
    let stmt = parse_one("SELECT * FROM a LEFT JOIN b ON a.x = b.x").unwrap();
    let SetExpr::Select(s) = &query(&stmt).body else {
        panic!()
    };
    assert!(matches!(
        &s.from[0],
        TableRef::Join {
            kind: JoinKind::Left,
            constraint: JoinConstraint::On(_),
            ..
        }
    ));
}

#[test]
fn insert() {
    check(
        "INSERT INTO t VALUES (1, 'a'), (2, DEFAULT)",
        "INSERT INTO t VALUES (1, 'a'), (2, DEFAULT)",
    );
    check(
        "INSERT INTO t(e,c,b) VALUES(103,102,100)",
        "INSERT INTO t (e, c, b) VALUES (103, 102, 100)",
    );
    check(
        "INSERT INTO t SELECT * FROM u WHERE a > 1",
        "INSERT INTO t SELECT * FROM u WHERE (a > 1)",
    );
    check(
        "INSERT INTO t (a) (SELECT 1)",
        "INSERT INTO t (a) (SELECT 1)",
    );
    check(
        "INSERT INTO t DEFAULT VALUES",
        "INSERT INTO t DEFAULT VALUES",
    );
    check(
        "INSERT INTO t (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = t.n + excluded.n WHERE t.n < 10 RETURNING id, n AS total",
        "INSERT INTO t (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = (t.n + excluded.n) WHERE (t.n < 10) RETURNING id, n AS total",
    );
    check(
        "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
        "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
    );
    check(
        "INSERT INTO t VALUES (1) ON CONFLICT (a, b) DO NOTHING RETURNING *",
        "INSERT INTO t VALUES (1) ON CONFLICT (a, b) DO NOTHING RETURNING *",
    );
    check(
        "INSERT OR REPLACE INTO t1 VALUES(2, 'x')",
        "INSERT OR REPLACE INTO t1 VALUES (2, 'x')",
    );
    check(
        "REPLACE INTO t1 VALUES(2, 'x')",
        "INSERT OR REPLACE INTO t1 VALUES (2, 'x')",
    );
    let stmt = parse_one("INSERT OR IGNORE INTO t VALUES (1)").unwrap();
    let StatementKind::Insert(ins) = stmt.kind else {
        panic!()
    };
    assert_eq!(
        ins.on_conflict.map(|c| c.action),
        Some(ConflictAction::Nothing)
    );
    let stmt = parse_one("REPLACE INTO t VALUES (1)").unwrap();
    let StatementKind::Insert(ins) = stmt.kind else {
        panic!()
    };
    assert_eq!(
        ins.on_conflict.map(|c| c.action),
        Some(ConflictAction::Replace)
    );
    // DEFAULT is only an INSERT VALUES item.
    assert!(parse_one("SELECT DEFAULT").is_err());
    assert!(parse_one("VALUES (DEFAULT)").is_err());
    assert!(parse_one("INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 1").is_err());
}

#[test]
fn update_delete() {
    check(
        "UPDATE t1 SET x=3, x=4, x=5",
        "UPDATE t1 SET x = 3, x = 4, x = 5",
    );
    check(
        "UPDATE t SET a = DEFAULT, b = b + 1 WHERE c IS NULL RETURNING a, b",
        "UPDATE t SET a = DEFAULT, b = (b + 1) WHERE (c IS NULL) RETURNING a, b",
    );
    check("DELETE FROM t", "DELETE FROM t");
    check(
        "DELETE FROM t WHERE a IN (SELECT b FROM u) RETURNING *",
        "DELETE FROM t WHERE (a IN (SELECT b FROM u)) RETURNING *",
    );
}

#[test]
fn ddl() {
    check(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL NULL DEFAULT 0, b BOOL DEFAULT - 1 CHECK (b IS NOT NULL), CONSTRAINT c1 CHECK (score >= 0))",
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL NULL DEFAULT 0, b BOOLEAN DEFAULT (- 1) CHECK ((b IS NOT NULL)), CONSTRAINT c1 CHECK ((score >= 0)))",
    );
    check(
        "CREATE TABLE t (a INT, b INT, c VECTOR(3), PRIMARY KEY (a, b), UNIQUE (b, c)) WITH (fillfactor = 70, compress, codec = 'lz4', x.y = -1.5)",
        "CREATE TABLE t (a INTEGER, b INTEGER, c VECTOR(3), PRIMARY KEY (a, b), UNIQUE (b, c)) WITH (fillfactor = 70, compress, codec = 'lz4', x.y = -1.5)",
    );
    check(
        "CREATE TABLE t (ts TIMESTAMP DEFAULT now() NOT NULL)",
        "CREATE TABLE t (ts TIMESTAMP DEFAULT now() NOT NULL)",
    );
    check(
        "CREATE TABLE t (s TEXT DEFAULT 'a' || 'b')",
        "CREATE TABLE t (s TEXT DEFAULT ('a' || 'b'))",
    );
    check("DROP TABLE t", "DROP TABLE t");
    check("DROP TABLE IF EXISTS t, u", "DROP TABLE IF EXISTS t, u");
    check(
        "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a DESC, b ASC NULLS LAST)",
        "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a DESC, b ASC NULLS LAST)",
    );
    check(
        "CREATE INDEX idx_tab1_4 on tab1 (col4 DESC,col3)",
        "CREATE INDEX idx_tab1_4 ON tab1 (col4 DESC, col3)",
    );
    check(
        "CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)",
        "CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)",
    );
    check(
        "CREATE INDEX i ON t ((a + b), lower(name))",
        "CREATE INDEX i ON t (((a + b)), lower(name))",
    );
    check("DROP INDEX i", "DROP INDEX i");
    check("DROP INDEX IF EXISTS i", "DROP INDEX IF EXISTS i");
    check(
        "ALTER TABLE t ADD COLUMN c INT DEFAULT 0",
        "ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 0",
    );
    check(
        "ALTER TABLE t ADD c TEXT",
        "ALTER TABLE t ADD COLUMN c TEXT",
    );
    check(
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS c TEXT",
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS c TEXT",
    );
    check("ALTER TABLE t RENAME TO t2", "ALTER TABLE t RENAME TO t2");
    check(
        "ALTER TABLE t RENAME COLUMN a TO b",
        "ALTER TABLE t RENAME COLUMN a TO b",
    );
    check(
        "ALTER TABLE t RENAME a TO b",
        "ALTER TABLE t RENAME COLUMN a TO b",
    );
    check(
        "CREATE VIEW v AS SELECT x FROM t1 WHERE x>0",
        "CREATE VIEW v AS SELECT x FROM t1 WHERE (x > 0)",
    );
    check(
        "CREATE OR REPLACE VIEW v (a, b) AS SELECT 1, 2",
        "CREATE OR REPLACE VIEW v (a, b) AS SELECT 1, 2",
    );
    check("DROP VIEW IF EXISTS v", "DROP VIEW IF EXISTS v");
}

#[test]
fn transactions_explain_set_show() {
    for (sql, expected) in [
        ("BEGIN", "BEGIN"),
        ("begin transaction", "BEGIN"),
        ("START TRANSACTION", "BEGIN"),
        ("COMMIT", "COMMIT"),
        ("END", "COMMIT"),
        ("commit work", "COMMIT"),
        ("ROLLBACK", "ROLLBACK"),
        (
            "EXPLAIN SELECT * FROM t WHERE id = 1",
            "EXPLAIN SELECT * FROM t WHERE (id = 1)",
        ),
        ("EXPLAIN DELETE FROM t", "EXPLAIN DELETE FROM t"),
        ("SET hnsw.ef_search = 40", "SET hnsw.ef_search = 40"),
        (
            "SET search_path TO public, other",
            "SET search_path = public, other",
        ),
        ("SET LOCAL x TO DEFAULT", "SET LOCAL x = DEFAULT"),
        ("SET x = 'on'", "SET x = 'on'"),
        ("SET x = on", "SET x = \"on\""),
        ("SET x = -5", "SET x = -5"),
        ("SHOW hnsw.ef_search", "SHOW hnsw.ef_search"),
        ("SHOW ALL", "SHOW \"all\""),
    ] {
        check(sql, expected);
    }
    let stmt = parse_one("SET enable = true").unwrap();
    assert!(matches!(
        stmt.kind,
        StatementKind::Set { value: SetValue::Values(ref v), .. }
            if v[0] == OptionValue::Literal(Literal::Boolean(true), Span::new(13, 17))
    ));
}

#[test]
fn scripts() {
    let sql = "BEGIN; ;INSERT INTO t VALUES (1);\n\n SELECT 1;; COMMIT;";
    let stmts = parse(sql).unwrap();
    assert_eq!(stmts.len(), 4);
    assert_eq!(&sql[stmts[1].span.range()], "INSERT INTO t VALUES (1)");
    assert_eq!(&sql[stmts[2].span.range()], "SELECT 1");
    assert!(parse("").unwrap().is_empty());
    assert!(parse(" ; -- nothing\n /* here */ ;").unwrap().is_empty());
    assert!(parse_one("").is_err());
    assert!(parse_one("SELECT 1; SELECT 2").is_err());
    check("SELECT 1;", "SELECT 1");
    check(
        "SELECT /* a /* nested */ comment */ 1 -- trailing",
        "SELECT 1",
    );
}

#[test]
fn spans_point_at_source() {
    let sql = "SELECT a + b * 2 AS x FROM t WHERE c";
    let e = first_item(sql);
    assert_eq!(&sql[e.span.range()], "a + b * 2");
    let ExprKind::Binary { right, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(&sql[right.span.range()], "b * 2");
    let sql = "SELECT (a + b) FROM t";
    assert_eq!(&sql[first_item(sql).span.range()], "(a + b)");
    let sql = "SELECT CAST(x AS varchar(3)), y";
    let e = first_item(sql);
    assert_eq!(&sql[e.span.range()], "CAST(x AS varchar(3))");
    let ExprKind::Cast { data_type, .. } = e.kind else {
        panic!()
    };
    assert_eq!(data_type.text, "varchar(3)");
    let sql = "SELECT x::timestamp with time zone";
    let e = first_item(sql);
    assert_eq!(&sql[e.span.range()], "x::timestamp with time zone");
    let sql = "  CREATE TABLE t (a INT NOT NULL)  ";
    let stmt = parse_one(sql).unwrap();
    assert_eq!(&sql[stmt.span.range()], "CREATE TABLE t (a INT NOT NULL)");
    let StatementKind::CreateTable(ct) = stmt.kind else {
        panic!()
    };
    assert_eq!(&sql[ct.columns[0].span.range()], "a INT NOT NULL");
    assert_eq!(&sql[ct.columns[0].constraints[0].span.range()], "NOT NULL");
}

#[test]
fn corpus_style_statements() {
    for sql in [
        "SELECT ALL + COUNT ( * ) AS col0",
        "SELECT DISTINCT - col2 * col0 AS col0 FROM tab2 cor0",
        "SELECT * FROM tab2 WHERE NOT ( + - col0 ) IN ( ( - + col0 ) + + col1 * - + 57 )",
        "SELECT ALL 44 - - - col2 FROM tab0 cor0 WHERE ( NULL ) = col0 OR NULL = NULL",
        "SELECT pk FROM tab0 WHERE (col4 >= 9874.48 AND col4 <= 7485.80) AND col3 = 1590",
        "SELECT + CAST ( - 59 AS INTEGER ) FROM tab0 AS cor0",
        "SELECT a+b*2+c*3, CASE WHEN a<b-3 THEN 111 WHEN a<=b THEN 222 ELSE 444 END, (SELECT count(*) FROM t1 AS x WHERE x.b<t1.b) FROM t1 WHERE EXISTS(SELECT 1 FROM t1 AS x WHERE x.b<t1.b) ORDER BY 1,2",
        "SELECT 13 AS col0 FROM ( tab2 AS cor0 CROSS JOIN tab0 AS cor1 )",
    ] {
        parse_one(sql).unwrap_or_else(|e| panic!("{}", e.render(sql)));
    }
    check_expr(
        "NOT - col1 BETWEEN 1 AND 2",
        "(NOT ((- col1) BETWEEN 1 AND 2))",
    );
}

#[test]
fn time_travel_and_table_functions() {
    check(
        "select * from t as of timestamp '2026-11-25 10:00:00' x",
        "SELECT * FROM t AS OF TIMESTAMP TIMESTAMP '2026-11-25 10:00:00' AS x",
    );
    check(
        "select * from t x for system_time as of $1",
        "SELECT * FROM t AS OF TIMESTAMP $1 AS x",
    );
    check(
        "select * from t as of transaction 7 join u on t.a = u.a",
        "SELECT * FROM t AS OF TRANSACTION 7 JOIN u ON (t.a = u.a)",
    );
    check(
        "select * from t versions between transaction 1 and transaction 2 + 1",
        "SELECT * FROM t VERSIONS BETWEEN TRANSACTION 1 AND TRANSACTION (2 + 1)",
    );
    check(
        "select * from t for system_time between $1 and $2",
        "SELECT * FROM t VERSIONS BETWEEN TIMESTAMP $1 AND TIMESTAMP $2",
    );
    check(
        "select * from heliosdb_commits(10) c",
        "SELECT * FROM heliosdb_commits(10) AS c",
    );
    check("select * from f()", "SELECT * FROM f()");
    check(
        "alter database app set history_retention to '7 days'",
        "ALTER DATABASE SET history_retention = '7 days'",
    );
    check(
        "alter database set history_retention = default",
        "ALTER DATABASE SET history_retention = DEFAULT",
    );
    // `versions` and `of` still work as aliases when no time clause follows.
    check("select * from t versions", "SELECT * FROM t AS versions");
    for sql in [
        "select * from t as of 5",
        "select * from t for system_time",
        "update t as of transaction 1 set a = 1",
    ] {
        assert!(parse_one(sql).is_err(), "{sql}");
    }
}
