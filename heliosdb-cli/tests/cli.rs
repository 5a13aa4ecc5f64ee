//! The `heliosdb` binary: SQL from -c and stdin, output formats, exit codes, the shell fed
//! through a pipe.
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn heliosdb(args: &[&str], stdin: &str) -> Output {
    heliosdb_env(args, stdin, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sql_command_formats_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let db = db.to_str().unwrap();
    let out = heliosdb(
        &[
            "sql",
            db,
            "-c",
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a,b'), (2, NULL)",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = heliosdb(
        &[
            "sql",
            db,
            "-c",
            "SELECT * FROM t ORDER BY id",
            "--format",
            "csv",
        ],
        "",
    );
    assert_eq!(text(&out.stdout), "id,name\n1,\"a,b\"\n2,\n");
    let out = heliosdb(
        &["sql", db, "--format", "json"],
        "SELECT id, name FROM t WHERE id = 2;",
    );
    assert_eq!(text(&out.stdout), "{\"id\":2,\"name\":null}\n");
    let out = heliosdb(&["sql", db, "-c", "SELECT nope FROM t"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("column \"nope\" does not exist"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("^^^^"));
}

#[test]
fn the_shell_reads_multi_line_statements_and_meta_commands_from_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shell.db");
    let out = heliosdb(
        &["shell", db.to_str().unwrap()],
        "CREATE TABLE kv (k TEXT PRIMARY KEY,\n  v INT);\nINSERT INTO kv VALUES ('x', 1);\nSELECT k, v\n  FROM kv;\n\\dt\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(" x | 1\n(1 row)"), "{stdout}");
    assert!(stdout.contains(" kv   | table"), "{stdout}");
}

#[test]
fn the_shell_shows_per_column_compression() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let mut script = String::from(
        "CREATE TABLE logs (id INT PRIMARY KEY, line TEXT, n INT) WITH (compression = 'auto');\n\
         CREATE TABLE m (ts TIMESTAMP, temp REAL) WITH (storage = 'columnar');\n",
    );
    let logs: Vec<String> = (1..=2000)
        .map(|x| {
            format!(
                "({x}, 'device {} reported temperature within the expected range', {x})",
                x % 9
            )
        })
        .collect();
    script.push_str(&format!("INSERT INTO logs VALUES {};\n", logs.join(", ")));
    let m: Vec<String> = (1..=20_000)
        .map(|x| {
            format!(
                "(to_timestamp({}), {})",
                1_700_000_000 + x,
                f64::from(x % 300) / 10.0
            )
        })
        .collect();
    script.push_str(&format!("INSERT INTO m VALUES {};\n", m.join(", ")));
    script.push_str("\\compression logs\n\\compression\n\\compression nope\n");
    let out = heliosdb(&["shell", db.to_str().unwrap()], &script);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let row = |table: &str, column: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                cells.len() == 8 && cells[0] == table && cells[1] == column
            })
            .unwrap_or_else(|| panic!("no row for {table}.{column}:\n{stdout}\n{stderr}"))
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let line = row("logs", "line");
    assert!(line[3].starts_with("fsst"), "{line:?}");
    assert_eq!(line[4], "2000");
    let ratio: f64 = line[7].parse().unwrap();
    assert!(ratio > 2.0, "{line:?}");
    let temp = row("m", "temp");
    assert_eq!(temp[2], "columnar");
    assert!(temp[7].parse::<f64>().unwrap() > 2.0, "{temp:?}");
    // An unknown table is an error naming it, and the shell exits non-zero.
    assert!(!out.status.success());
    assert!(stderr.contains("nope"), "{stderr}");
}

#[test]
fn import_and_export_csv_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("io.db");
    let db = db.to_str().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "id,name,score\n1,\"Ann, A.\",9.5\n2,bob,\n3,\"multi\nline\",7\n",
    )
    .unwrap();
    let out = heliosdb(
        &[
            "sql",
            db,
            "-c",
            "CREATE TABLE p (id INT PRIMARY KEY, name TEXT, score REAL)",
        ],
        "",
    );
    assert!(out.status.success());
    let out = heliosdb(&["import", db, "p", csv.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 3 rows"));
    let out = heliosdb(&["export", db, "p"], "");
    assert_eq!(
        text(&out.stdout),
        "id,name,score\n1,\"Ann, A.\",9.5\n2,bob,\n3,\"multi\nline\",7\n"
    );
    // A bad row fails the whole import and names the line.
    std::fs::write(&csv, "id,name\n4,dan\nx,eve\n").unwrap();
    let out = heliosdb(&["import", db, "p", csv.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 3"),
        "{}",
        text(&out.stderr)
    );
    let out = heliosdb(
        &["sql", db, "-c", "SELECT count(*) FROM p", "--format", "csv"],
        "",
    );
    assert_eq!(text(&out.stdout), "count\n3\n");
}

fn heliosdb_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_heliosdb"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn encrypted_databases_open_with_their_key_and_rekey() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("secret.db");
    let db = db.to_str().unwrap();
    let key_a = "1f".repeat(32);
    let env = [
        ("HDB_KEY", key_a.as_str()),
        ("HDB_OTHER", "a passphrase, not hex"),
    ];

    // Created encrypted through the shell, keyed from an environment variable.
    let out = heliosdb_env(
        &["shell", db, "--key-env", "HDB_KEY"],
        "CREATE TABLE t (id INT PRIMARY KEY, secret TEXT);\nINSERT INTO t VALUES (1, 'OtterSecret77');\n",
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !std::fs::read(db)
            .unwrap()
            .windows(13)
            .any(|w| w == b"OtterSecret77")
    );

    // No key: the error says the file is encrypted and how to give the key.
    let out = heliosdb(&["sql", db, "-c", "SELECT 1"], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("encrypted") && err.contains("--key-env"),
        "{err}"
    );

    // A wrong key (here a passphrase) is told apart from damage, and never echoed.
    let out = heliosdb_env(
        &["sql", db, "--key-env", "HDB_OTHER", "-c", "SELECT 1"],
        "",
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("wrong key"), "{err}");
    assert!(!err.contains("a passphrase, not hex"), "{err}");

    // The key from a file works the same.
    let key_file = dir.path().join("key.hex");
    std::fs::write(&key_file, format!("{key_a}\n")).unwrap();
    let out = heliosdb(
        &[
            "sql",
            db,
            "--key-file",
            key_file.to_str().unwrap(),
            "-c",
            "SELECT secret FROM t",
            "--format",
            "csv",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "secret\nOtterSecret77\n");

    // Rekey to a passphrase read from standard input (not a terminal: its first line).
    let out = heliosdb_env(
        &[
            "rekey",
            db,
            "--key-env",
            "HDB_KEY",
            "--new-passphrase",
            "--kdf-iterations",
            "10000",
        ],
        "correct horse battery staple\n",
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("re-wrapped"),
        "{}",
        text(&out.stdout)
    );
    let out = heliosdb_env(
        &["sql", db, "--key-env", "HDB_KEY", "-c", "SELECT 1"],
        "",
        &env,
    );
    assert!(
        text(&out.stderr).contains("wrong key"),
        "the old key still opens the file"
    );
    let out = heliosdb(
        &["sql", db, "--passphrase", "--format", "csv"],
        "correct horse battery staple\nSELECT secret FROM t;\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "secret\nOtterSecret77\n");

    // A full re-encryption back to the raw key.
    let out = heliosdb_env(
        &[
            "rekey",
            db,
            "--passphrase",
            "--new-key-env",
            "HDB_KEY",
            "--full",
        ],
        "correct horse battery staple\n",
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = heliosdb_env(
        &[
            "sql",
            db,
            "--key-env",
            "HDB_KEY",
            "-c",
            "SELECT secret FROM t",
            "--format",
            "csv",
        ],
        "",
        &env,
    );
    assert_eq!(
        text(&out.stdout),
        "secret\nOtterSecret77\n",
        "{}",
        text(&out.stderr)
    );
    let out = heliosdb(&["check", db, "--key-file", key_file.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
}
