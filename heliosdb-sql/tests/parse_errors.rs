//! Syntax errors: messages, positions, carets; no panics and no stack overflows on any input.

use heliosdb_sql::parser::{MAX_DEPTH, ParseError, STACK_BUDGET, parse, parse_one};
use proptest::prelude::*;

#[track_caller]
fn error(sql: &str) -> ParseError {
    match parse(sql) {
        Ok(stmts) => panic!("{sql} parsed: {stmts:?}"),
        Err(e) => e,
    }
}

#[test]
fn render_draws_a_caret() {
    let sql = "SELECT FROM t";
    let e = error(sql);
    assert_eq!(e.message, "expected an expression, found keyword FROM");
    assert_eq!((e.line, e.column), (1, 8));
    assert_eq!(
        e.render(sql),
        "error: expected an expression, found keyword FROM\n --> line 1, column 8\n  |\n1 | SELECT FROM t\n  |        ^^^^\n"
    );
    assert_eq!(
        e.to_string(),
        "expected an expression, found keyword FROM at line 1, column 8"
    );
}

#[test]
fn positions_on_later_lines() {
    let sql = "SELECT a,\n       b\r\n  FROM t\n WHERE a = = 1";
    let e = error(sql);
    assert_eq!(e.message, "expected an expression, found \"=\"");
    assert_eq!((e.line, e.column), (4, 12));
    assert_eq!(
        e.render(sql),
        "error: expected an expression, found \"=\"\n --> line 4, column 12\n  |\n4 |  WHERE a = = 1\n  |            ^\n"
    );
    // Columns count characters, not bytes.
    let sql = "SELECT 'héllo' garbage junk";
    let e = error(sql);
    assert_eq!((e.line, e.column), (1, 24));
    assert!(
        e.render(sql)
            .ends_with("\n  |                        ^^^^\n"),
        "{}",
        e.render(sql)
    );
    // Ten lines: the gutter widens.
    let sql = "\n\n\n\n\n\n\n\n\nSELECT )";
    let e = error(sql);
    assert_eq!(e.line, 10);
    assert_eq!(
        e.render(sql),
        "error: expected an expression, found \")\"\n  --> line 10, column 8\n   |\n10 | SELECT )\n   |        ^\n"
    );
}

#[test]
fn carriage_returns() {
    for sql in [
        "SELECT\r",
        "SELECT\r\n",
        "SELECT 1 +\r\n\r\n",
        "SELECT 'a\r\nb",
        "SELECT \"a\r",
    ] {
        let e = error(sql);
        let rendered = e.render(sql);
        assert!(rendered.contains('^'), "{rendered}");
        assert!(!rendered.contains('\r'), "{rendered:?}");
    }
    let sql = "SELECT 1,\r\n  FROM t";
    let e = error(sql);
    assert_eq!((e.line, e.column), (2, 3));
    assert!(
        e.render(sql).ends_with("2 |   FROM t\n  |   ^^^^\n"),
        "{:?}",
        e.render(sql)
    );
}

#[test]
fn end_of_input() {
    let sql = "SELECT a FROM";
    let e = error(sql);
    assert_eq!(e.message, "expected a table name, found end of input");
    assert_eq!((e.line, e.column), (1, 14));
    assert!(
        e.render(sql)
            .ends_with("1 | SELECT a FROM\n  |              ^\n")
    );
}

#[test]
fn messages() {
    let cases = [
        ("SELEC 1", "expected a statement, found identifier selec"),
        (
            "SELECT 1 2",
            "expected \";\" or end of input, found number 2",
        ),
        ("SELECT (1", "expected \")\", found end of input"),
        ("SELECT 'abc", "unterminated string literal"),
        ("SELECT \"abc", "unterminated quoted identifier"),
        ("SELECT 1 /* x", "unterminated /* comment"),
        ("SELECT 12abc", "trailing junk after numeric literal"),
        ("SELECT a ~~ b", "operator ~~ is not supported"),
        (
            "SELECT a FROM t WHERE",
            "expected an expression, found end of input",
        ),
        (
            "SELECT CASE END",
            "expected an expression, found keyword END",
        ),
        ("SELECT CASE a END", "expected WHEN, found keyword END"),
        ("SELECT CAST(a AS money)", "type money is not supported"),
        (
            "SELECT count(DISTINCT *) FROM t",
            "expected an expression, found \"*\"",
        ),
        (
            "SELECT a IS 5",
            "expected NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM, found number 5",
        ),
        (
            "SELECT * FROM t1 JOIN t2",
            "expected ON or USING, found end of input",
        ),
        (
            "SELECT * FROM t1 NATURAL JOIN t2",
            "NATURAL JOIN is not supported; use USING",
        ),
        (
            "SELECT a FROM t LIMIT 1, 2",
            "LIMIT a, b is not supported; use LIMIT b OFFSET a",
        ),
        (
            "CREATE TRIGGER t1r1 UPDATE ON t1 BEGIN SELECT 1; END",
            "CREATE TRIGGER is not supported",
        ),
        ("DROP TRIGGER t1r1", "DROP TRIGGER is not supported"),
        (
            "REINDEX t1i1",
            "expected INDEX or TABLE, found identifier t1i1",
        ),
        ("VACUUM", "VACUUM is not supported"),
        (
            "CREATE TABLE t (a INT REFERENCES u (a))",
            "foreign keys (REFERENCES) are not supported",
        ),
        (
            "CREATE TABLE t (a INT, CONSTRAINT c)",
            "expected PRIMARY KEY, UNIQUE or CHECK, found \")\"",
        ),
        (
            "CREATE TABLE select (a INT)",
            "expected a table name, found keyword SELECT",
        ),
        (
            "INSERT INTO t VALUES ()",
            "expected an expression, found \")\"",
        ),
        (
            "UPDATE t SET a.b = 1",
            "qualified column names are not allowed in SET",
        ),
        (
            "SELECT a = b = c",
            "\"=\" cannot follow another operator of the same precedence; add parentheses",
        ),
        ("SELECT x IN ()", "expected an expression, found \")\""),
        ("SELECT $0", "expected a parameter number after $"),
        ("SELECT a FROM t WHERE a @ b", "operator @ is not supported"),
        (
            "SELECT 1 UNION",
            "expected SELECT, VALUES or \"(\", found end of input",
        ),
        (
            "WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r",
            "WITH RECURSIVE is not supported",
        ),
        (
            "SELECT (1, 2)",
            "row constructors (a, b, ...) are not supported",
        ),
        ("SELECT a FROM t ORDER a", "expected BY, found identifier a"),
        ("SELECT ?", "parameters are written $1, $2, ..., not ?"),
        ("SELECT a ? b", "operator ? is not supported"),
        ("SELECT #", "expected an expression, found \"#\""),
        ("SELECT [1]", "unexpected character \"[\""),
        ("SELECT a FROM t GROUP a", "expected BY, found identifier a"),
        ("", "expected a statement, found end of input"),
        (
            "SELECT 1; SELECT 2",
            "expected one statement, found a second one",
        ),
    ];
    for (sql, message) in cases {
        let e = match parse_one(sql) {
            Ok(s) => panic!("{sql} parsed: {s:?}"),
            Err(e) => e,
        };
        assert_eq!(e.message, message, "for {sql}");
        // Rendering never panics and always has one caret line.
        assert!(e.render(sql).contains('^'), "{}", e.render(sql));
    }
}

/// Runs `f` on a thread with Rust's default 2 MiB stack for spawned threads, which is
/// what an application's worker threads (tokio's too) usually have.
fn on_thread_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    const { assert!(STACK_BUDGET < 2 << 20) };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("parser thread overflowed or panicked")
}

fn nested(depth: usize, open: &str, inner: &str, close: &str) -> String {
    format!(
        "SELECT {}{inner}{}",
        open.repeat(depth),
        close.repeat(depth)
    )
}

/// Nesting every build accepts. Optimized builds accept up to [`MAX_DEPTH`] levels;
/// unoptimized frames are larger, so there the stack budget stops the parse earlier.
/// Some shapes spend several levels per nesting (`(SELECT * FROM (SELECT ...` is a query, a
/// FROM item, a query and an expression).
/// In debug builds the worst shape stops at about 40 levels (measured).
const SAFE_DEPTH: usize = if cfg!(debug_assertions) {
    30
} else {
    MAX_DEPTH / 4 - 4
};

#[test]
fn deep_nesting_is_an_error_not_an_overflow() {
    let shapes: [(&str, &str, &str); 12] = [
        ("(", "1", ")"),
        ("- ", "1", ""),
        ("NOT ", "true", ""),
        ("(SELECT ", "1", ")"),
        ("abs(", "1", ")"),
        ("CASE WHEN ", "true", " THEN 1 END"),
        ("1 IN (", "1", ")"),
        ("((SELECT 1) + ", "1", ")"),
        ("EXISTS (SELECT ", "1", ")"),
        ("CAST(", "1", " AS INT)"),
        ("1 + (", "1", ")"),
        ("(SELECT * FROM (SELECT ", "1", "))"),
    ];
    for (open, inner, close) in shapes {
        // Within the limit: parses.
        let sql = nested(SAFE_DEPTH, open, inner, close);
        on_thread_stack(move || {
            parse(&sql).unwrap_or_else(|e| panic!("{}", e.render(&sql)));
        });
        // Far beyond it: a clean error.
        let sql = nested(10_000, open, inner, close);
        let e = on_thread_stack(move || parse(&sql).expect_err("too deep"));
        assert!(
            e.message.contains("nested too deeply"),
            "{open}: {}",
            e.message
        );
    }
    for sql in [
        format!("{}SELECT 1{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!(
            "SELECT * FROM {}t{}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        ),
        format!("{}SELECT 1", "EXPLAIN ".repeat(10_000)),
        format!("SELECT 1 {}", "UNION (SELECT 1 ".repeat(10_000)),
        "(".repeat(100_000),
        format!("SELECT {}1", "- ".repeat(100_000)),
    ] {
        let e = on_thread_stack(move || parse(&sql).expect_err("too deep"));
        assert!(e.message.contains("nested too deeply"), "{}", e.message);
    }
}

#[test]
fn the_depth_limit_is_exact_in_optimized_builds() {
    if cfg!(debug_assertions) {
        return;
    }
    let at = |n: usize| nested(n, "(", "1", ")");
    on_thread_stack(move || {
        let mut n = 0;
        while parse(&at(n + 1)).is_ok() {
            n += 1;
        }
        // Each parenthesis is a level; the statement, the query and the select item's
        // expression are three more.
        assert_eq!(n, MAX_DEPTH - 3);
    });
}

/// Statements covering most of the grammar, for prefix and mutation tests.
const VALID: &[&str] = &[
    "SELECT a, t.b AS x, count(DISTINCT c), 'it''s', 1.5e3, $1 FROM t AS u LEFT JOIN v ON u.a = v.a WHERE a BETWEEN 1 AND 2 OR b NOT IN (SELECT 1) GROUP BY a HAVING count(*) > 1 ORDER BY 1 DESC NULLS LAST LIMIT 5 OFFSET 2",
    "WITH w (x) AS (SELECT 1) SELECT CASE x WHEN 1 THEN 'a' ELSE NULL END FROM w UNION ALL (VALUES (2)) INTERSECT SELECT - - 3 EXCEPT SELECT CAST(x AS TEXT)::varchar(3)",
    "INSERT INTO t (a, b) VALUES (1, DEFAULT), (2, 'x') ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE t.a > 0 RETURNING *",
    "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY, v VECTOR(3) NOT NULL, ts TIMESTAMP WITH TIME ZONE DEFAULT now(), CHECK (id > 0), UNIQUE (v)) WITH (a = 1)",
    "CREATE UNIQUE INDEX IF NOT EXISTS i ON t USING hnsw (v vector_l2_ops, (a + 1) DESC) WITH (m = 16); DROP INDEX IF EXISTS i; ALTER TABLE t RENAME COLUMN a TO b",
    "UPDATE t SET a = a + 1 WHERE b IS NOT DISTINCT FROM c RETURNING a; DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x ILIKE 'a%' ESCAPE '!')",
    "BEGIN; SET hnsw.ef_search = 40; SHOW hnsw.ef_search; EXPLAIN SELECT v <-> '[1,2,3]' FROM t ORDER BY 1 LIMIT 3; COMMIT; /* c */ -- d",
];

#[test]
fn every_prefix_parses_or_fails_cleanly() {
    for sql in VALID {
        parse(sql).unwrap_or_else(|e| panic!("{}", e.render(sql)));
        for (end, _) in sql.char_indices() {
            let prefix = &sql[..end];
            if let Err(e) = parse(prefix) {
                let _ = e.render(prefix);
                assert!(e.span.start <= prefix.len() && e.span.end <= prefix.len());
            }
        }
    }
}

#[test]
fn deleting_or_doubling_a_token_never_panics() {
    for sql in VALID {
        let words: Vec<&str> = sql.split(' ').collect();
        for i in 0..words.len() {
            let mut w = words.clone();
            w.remove(i);
            let s = w.join(" ");
            if let Err(e) = parse(&s) {
                let _ = e.render(&s);
            }
            let mut w = words.clone();
            w.insert(i, words[i]);
            let s = w.join(" ");
            if let Err(e) = parse(&s) {
                let _ = e.render(&s);
            }
        }
    }
}

#[test]
fn backtracking_stays_polynomial() {
    // Every level could start a subquery until the `+` shows it does not; failed attempts
    // are remembered, so this is quadratic rather than cubic or worse.
    let k = 100;
    let inner = format!("{}SELECT 1) + 1{}", "(".repeat(k), ")".repeat(k - 1));
    let sql = format!(
        "SELECT {}SELECT {inner}) + 1{}",
        "(".repeat(k),
        ")".repeat(k - 1)
    );
    let started = std::time::Instant::now();
    on_thread_stack(move || parse(&sql).map(|_| ()).map_err(|e| e.message)).unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
        if let Err(e) = parse(&s) {
            let _ = e.render(&s);
            prop_assert!(e.line >= 1 && e.column >= 1);
        }
    }

    #[test]
    fn any_characters_never_panic(s in "(?s).{0,60}") {
        if let Err(e) = parse(&s) {
            let _ = e.render(&s);
        }
    }

    #[test]
    fn sql_like_text_never_panics(
        words in proptest::collection::vec(
            prop_oneof![
                Just("SELECT"), Just("FROM"), Just("WHERE"), Just("("), Just(")"), Just(","),
                Just("a"), Just("t.b"), Just("1"), Just("'x'"), Just("-"), Just("+"), Just("*"),
                Just("="), Just("<>"), Just("AND"), Just("OR"), Just("NOT"), Just("IN"),
                Just("BETWEEN"), Just("IS"), Just("NULL"), Just("CASE"), Just("WHEN"),
                Just("THEN"), Just("END"), Just("CAST"), Just("AS"), Just("INT"), Just("::"),
                Just("UNION"), Just("JOIN"), Just("ON"), Just("ORDER"), Just("BY"), Just(";"),
                Just("INSERT"), Just("INTO"), Just("VALUES"), Just("CREATE"), Just("TABLE"),
                Just("\""), Just("'"), Just("/*"), Just("--"), Just("$1"), Just("é"),
                Just("\r"), Just("\n"), Just("\r\n"), Just("\t"),
            ],
            0..40,
        )
    ) {
        let s = words.join(" ");
        if let Err(e) = parse(&s) {
            let _ = e.render(&s);
        }
    }
}
