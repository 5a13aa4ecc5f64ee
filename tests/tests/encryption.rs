//! Encryption at rest, end to end through the facade: a stolen file reveals no names,
//! keys or values; a wrong key, a flipped bit, swapped blocks and a truncated file are
//! each told apart; rekey and full re-encryption keep the data; a re-encryption killed at
//! any point leaves a database that opens with one of the two keys.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use heliosdb_nano::{CryptoError, EmbeddedDatabase, KdfParams, KeySource, Value};

fn key(byte: u8) -> KeySource {
    KeySource::raw([byte; 32])
}

/// Writes distinctive names and values; returns the needles a raw scan must not find.
fn fill(db: &EmbeddedDatabase) -> Vec<Vec<u8>> {
    db.execute(
        "CREATE TABLE tbl_Marmalade (pk_Quokka TEXT PRIMARY KEY, col_Pangolin TEXT, num_Axolotl BIGINT)",
        &[],
    )
    .unwrap();
    db.execute(
        "CREATE INDEX idx_Wombat ON tbl_Marmalade (col_Pangolin)",
        &[],
    )
    .unwrap();
    for i in 0..200i64 {
        db.execute(
            "INSERT INTO tbl_Marmalade VALUES ($1, $2, $3)",
            &[
                Value::Text(format!("KeyNarwhal{i:04}")),
                Value::Text(format!("ZebraSecret{i:04} {}", "lorem ipsum ".repeat(20))),
                Value::Integer(31_337_424_242 + i),
            ],
        )
        .unwrap();
    }
    // Updates and deletes put old versions in history and records in the change log.
    db.execute(
        "UPDATE tbl_Marmalade SET col_Pangolin = 'ZebraUpdated' WHERE num_Axolotl % 7 = 0",
        &[],
    )
    .unwrap();
    db.execute("DELETE FROM tbl_Marmalade WHERE num_Axolotl % 11 = 0", &[])
        .unwrap();
    let n = 31_337_424_242i64;
    // Unquoted names fold to lower case, as in PostgreSQL.
    vec![
        b"tbl_marmalade".to_vec(),
        b"pk_quokka".to_vec(),
        b"col_pangolin".to_vec(),
        b"num_axolotl".to_vec(),
        b"idx_wombat".to_vec(),
        b"KeyNarwhal".to_vec(),
        b"ZebraSecret".to_vec(),
        b"ZebraUpdated".to_vec(),
        b"lorem ipsum".to_vec(),
        // Integers are stored little-endian in rows.
        n.to_le_bytes().to_vec(),
    ]
}

fn found(bytes: &[u8], needles: &[Vec<u8>]) -> Vec<String> {
    needles
        .iter()
        .filter(|n| bytes.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

#[test]
fn a_stolen_file_reveals_no_names_keys_or_values() {
    let dir = tempfile::tempdir().unwrap();
    // The same data unencrypted: the scan finds every needle, so it can fail.
    let plain = dir.path().join("plain.db");
    let needles = fill(&EmbeddedDatabase::open(&plain).unwrap());
    let seen = found(&std::fs::read(&plain).unwrap(), &needles);
    assert_eq!(
        seen.len(),
        needles.len(),
        "the plain file should show all: {seen:?}"
    );

    let path = dir.path().join("secret.db");
    {
        let db = EmbeddedDatabase::open_encrypted(&path, &key(7)).unwrap();
        fill(&db);
    }
    let seen = found(&std::fs::read(&path).unwrap(), &needles);
    assert!(seen.is_empty(), "the encrypted file shows {seen:?}");

    // And the data is all there with the key.
    let db = EmbeddedDatabase::open_encrypted(&path, &key(7)).unwrap();
    let rows = db
        .query(
            "SELECT count(*) FROM tbl_Marmalade WHERE col_Pangolin LIKE 'ZebraSecret%'",
            &[],
        )
        .unwrap();
    assert!(matches!(rows.rows[0].values[0], Value::Integer(n) if n > 100));
}

#[test]
fn a_wrong_key_is_told_apart_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.db");
    fill(&EmbeddedDatabase::open_encrypted(&path, &key(1)).unwrap());
    let before = std::fs::read(&path).unwrap();
    for wrong in [key(2), KeySource::passphrase("not the passphrase")] {
        let e = EmbeddedDatabase::open_encrypted(&path, &wrong).unwrap_err();
        assert!(
            matches!(
                heliosdb_nano::sql_crypto_error(&e),
                Some(CryptoError::WrongKey)
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("wrong key"), "{e}");
    }
    // Opened without a key, the error says it is encrypted.
    let e = EmbeddedDatabase::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("encrypted") && e.contains("open_encrypted"),
        "{e}"
    );
    // A plain database opened with a key is not mistaken for a wrong key.
    let plain = dir.path().join("plain.db");
    drop(EmbeddedDatabase::open(&plain).unwrap());
    let e = EmbeddedDatabase::open_encrypted(&plain, &key(1)).unwrap_err();
    assert!(
        matches!(
            heliosdb_nano::sql_crypto_error(&e),
            Some(CryptoError::NotEncrypted { .. })
        ),
        "{e:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a failed open wrote to the file"
    );
}

#[test]
fn rekey_is_fast_and_full_reencryption_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.db");
    {
        let db = EmbeddedDatabase::open_encrypted(&path, &key(1)).unwrap();
        fill(&db);
        // A few MiB, so that a rekey which rewrote the file would show.
        db.execute("CREATE TABLE bulk (id INT PRIMARY KEY, body TEXT)", &[])
            .unwrap();
        let tx = db.transaction().unwrap();
        let mut tx = tx;
        for i in 0..4000i64 {
            tx.execute(
                "INSERT INTO bulk VALUES ($1, $2)",
                &[Value::Integer(i), Value::Text("x".repeat(1000))],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let kdf = KdfParams { iterations: 10_000 };
    let t = Instant::now();
    heliosdb_nano::crypto::rekey(&path, &key(1), &key(2), kdf).unwrap();
    println!(
        "rekey of a {:.1} MiB file: {:?}",
        size as f64 / 1048576.0,
        t.elapsed()
    );
    let e = EmbeddedDatabase::open_encrypted(&path, &key(1)).unwrap_err();
    assert!(matches!(
        heliosdb_nano::sql_crypto_error(&e),
        Some(CryptoError::WrongKey)
    ));
    let count = |k: &KeySource| -> Value {
        let db = EmbeddedDatabase::open_encrypted(&path, k).unwrap();
        db.query("SELECT count(*) FROM bulk", &[]).unwrap().rows[0].values[0].clone()
    };
    assert_eq!(count(&key(2)), Value::Integer(4000));

    let pass = KeySource::passphrase("a long passphrase for the full re-encryption");
    let t = Instant::now();
    heliosdb_nano::crypto::reencrypt(&path, &key(2), &pass, kdf).unwrap();
    println!("full re-encryption: {:?}", t.elapsed());
    assert_eq!(count(&pass), Value::Integer(4000));
    let e = EmbeddedDatabase::open_encrypted(&path, &key(2)).unwrap_err();
    assert!(matches!(
        heliosdb_nano::sql_crypto_error(&e),
        Some(CryptoError::WrongKey)
    ));
}

/// Opens with whichever of the two keys works; exactly one must.
fn open_either(path: &Path, a: &KeySource, b: &KeySource) -> EmbeddedDatabase {
    match (
        EmbeddedDatabase::open_encrypted(path, a),
        EmbeddedDatabase::open_encrypted(path, b),
    ) {
        (Ok(db), Err(_)) | (Err(_), Ok(db)) => db,
        (Err(ea), Err(eb)) => panic!("neither key opens the file: {ea}; {eb}"),
        (Ok(_), Ok(_)) => panic!("both keys open the file"),
    }
}

#[test]
fn a_killed_full_reencryption_leaves_a_database_that_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.db");
    let (hex_a, hex_b) = ("0a".repeat(32), "0b".repeat(32));
    let (a, b) = (
        KeySource::from_hex(&hex_a).unwrap(),
        KeySource::from_hex(&hex_b).unwrap(),
    );
    {
        let db = EmbeddedDatabase::open_encrypted(&path, &a).unwrap();
        db.execute("CREATE TABLE bulk (id INT PRIMARY KEY, body TEXT)", &[])
            .unwrap();
        let mut tx = db.transaction().unwrap();
        for i in 0..3000i64 {
            tx.execute(
                "INSERT INTO bulk VALUES ($1, $2)",
                &[
                    Value::Integer(i),
                    Value::Text(format!("{i:06}").repeat(100)),
                ],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ u64::from(std::process::id());
    let mut finished = 0;
    for _ in 0..6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_reencrypt"))
            .args([path.as_os_str(), hex_a.as_ref(), hex_b.as_ref()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter(|l| l.starts_with("reencrypted "))
                .count()
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % 300));
        child.kill().unwrap();
        child.wait().unwrap();
        let done = reader.join().unwrap();
        finished += done;
        // The child alternates A→B, B→A; after an odd number of finished passes the file
        // is under B. It may also have finished its rename just before the kill, so only
        // "exactly one key opens it, with all the data" is asserted.
        let db = open_either(&path, &a, &b);
        let rows = db
            .query("SELECT count(*), min(body), max(id) FROM bulk", &[])
            .unwrap();
        assert_eq!(rows.rows[0].values[0], Value::Integer(3000));
        assert_eq!(rows.rows[0].values[2], Value::Integer(2999));
        drop(db);
        // Which key opens it now decides the next child's direction: rename so key A opens.
        if EmbeddedDatabase::open_encrypted(&path, &a).is_err() {
            heliosdb_nano::crypto::rekey(&path, &b, &a, KdfParams { iterations: 10_000 }).unwrap();
        }
    }
    println!("{finished} re-encryptions finished between kills");
}

/// heliosdb-crypto's format v1: 8 KiB of header slots, two slots for logical block 0,
/// then logical block i ≥ 1 in slot i + 1; a slot is nonce 12 + flags 4 + 4096 + tag 16.
const SLOT: u64 = 4128;
fn slot_offset(block: u64) -> u64 {
    8192 + if block == 0 { 0 } else { (block + 1) * SLOT }
}

/// The logical blocks whose plaintext contains `needle`, read through the backend.
fn blocks_with(path: &Path, key: &KeySource, needle: &[u8]) -> Vec<u64> {
    use redb::StorageBackend;
    let file = heliosdb_nano::crypto::EncryptedFile::open(path, key).unwrap();
    let len = file.len().unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    for block in 0..len / 4096 {
        file.read(block * 4096, &mut buf).unwrap();
        if buf.windows(needle.len()).any(|w| w == needle) {
            out.push(block);
        }
    }
    out
}

fn read_all(path: &Path, k: &KeySource) -> Result<i64, heliosdb_nano::SqlError> {
    let db = EmbeddedDatabase::open_encrypted(path, k)?;
    let rows = db.query(
        "SELECT count(*), max(length(col_Pangolin)) FROM tbl_Marmalade",
        &[],
    )?;
    match rows.rows[0].values[0] {
        Value::Integer(n) => Ok(n),
        ref other => panic!("count(*) gave {other:?}"),
    }
}

fn encrypted_copy(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fill(&EmbeddedDatabase::open_encrypted(&path, &key(9)).unwrap());
    path
}

#[test]
fn a_flipped_bit_is_an_integrity_error_naming_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = encrypted_copy(dir.path(), "flip.db");
    let rows = read_all(&path, &key(9)).unwrap();
    assert!(rows > 100);
    // Every block holding the row (the live page and any stale copy-on-write copy) gets
    // one flipped bit; the scan must read the live one.
    let blocks = blocks_with(&path, &key(9), b"KeyNarwhal0101");
    assert!(!blocks.is_empty(), "the row is in some block");
    let mut bytes = std::fs::read(&path).unwrap();
    for &block in &blocks {
        bytes[(slot_offset(block) + 16 + 1000) as usize] ^= 0x10;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = read_all(&path, &key(9)).unwrap_err();
    let block = match heliosdb_nano::sql_crypto_error(&e) {
        Some(CryptoError::Integrity { block }) => *block,
        _ => panic!("expected an integrity error, got {e:?}"),
    };
    assert!(blocks.contains(&block), "{block} not in {blocks:?}");
    assert!(e.to_string().contains(&format!("block {block}")), "{e}");
}

#[test]
fn swapped_blocks_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = encrypted_copy(dir.path(), "swap.db");
    let blocks = blocks_with(&path, &key(9), b"ZebraSecret");
    assert!(
        blocks.len() >= 2,
        "the rows span several blocks: {blocks:?}"
    );
    // Rotate the slots of those blocks: each, validly sealed, now sits at another block's
    // position (live pages among them must fail; stale copies may go unread).
    let original = std::fs::read(&path).unwrap();
    let mut bytes = original.clone();
    for (j, &to) in blocks.iter().enumerate() {
        let from = slot_offset(blocks[(j + 1) % blocks.len()]) as usize;
        let to = slot_offset(to) as usize;
        bytes[to..to + SLOT as usize].copy_from_slice(&original[from..from + SLOT as usize]);
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = read_all(&path, &key(9)).unwrap_err();
    assert!(
        matches!(heliosdb_nano::sql_crypto_error(&e), Some(CryptoError::Integrity { block }) if blocks.contains(block)),
        "{e:?}"
    );
}

#[test]
fn a_truncated_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = encrypted_copy(dir.path(), "cut.db");
    let len = std::fs::metadata(&path).unwrap().len();
    // Cut at a block boundary: the last block left does not say it is the last.
    let at_boundary = dir.path().join("boundary.db");
    std::fs::copy(&path, &at_boundary).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&at_boundary)
        .unwrap()
        .set_len(len - SLOT)
        .unwrap();
    let e = EmbeddedDatabase::open_encrypted(&at_boundary, &key(9)).unwrap_err();
    assert!(
        matches!(
            heliosdb_nano::sql_crypto_error(&e),
            Some(CryptoError::Truncated { .. })
        ),
        "{e:?}"
    );
    // Cut in the middle of a block.
    let mid = dir.path().join("mid.db");
    std::fs::copy(&path, &mid).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&mid)
        .unwrap()
        .set_len(len - 1000)
        .unwrap();
    let e = EmbeddedDatabase::open_encrypted(&mid, &key(9)).unwrap_err();
    assert!(
        matches!(
            heliosdb_nano::sql_crypto_error(&e),
            Some(CryptoError::Truncated { .. } | CryptoError::Integrity { .. })
        ),
        "{e:?}"
    );
    // Cut into the header.
    let head = dir.path().join("head.db");
    std::fs::write(&head, &std::fs::read(&path).unwrap()[..5000]).unwrap();
    assert!(EmbeddedDatabase::open_encrypted(&head, &key(9)).is_err());
    // The original is untouched by all this.
    assert!(read_all(&path, &key(9)).unwrap() > 100);
}

/// Sync's offline state (the change log, the peer frontier, recorded conflicts) lives in
/// the same file, so it is sealed too.
#[test]
fn sync_state_and_conflicts_are_encrypted_too() {
    use heliosdb_nano::sync::SyncNode;
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.db"), dir.path().join("b.db"));
    {
        let a = EmbeddedDatabase::open_encrypted(&pa, &key(3)).unwrap();
        let b = EmbeddedDatabase::open_encrypted(&pb, &key(4)).unwrap();
        a.execute(
            "CREATE TABLE sync_Capybara (id INT PRIMARY KEY, note TEXT)",
            &[],
        )
        .unwrap();
        a.execute("INSERT INTO sync_Capybara VALUES (1, 'SyncedOkapi')", &[])
            .unwrap();
        let (na, nb) = (
            SyncNode::new(a.database().clone()),
            SyncNode::new(b.database().clone()),
        );
        nb.apply(&na.changes_for(&nb.frontier().unwrap(), 1000).unwrap())
            .unwrap();
        // Concurrent edits of the same row: a conflict recorded on both sides.
        a.execute(
            "UPDATE sync_Capybara SET note = 'ConflictTapirA' WHERE id = 1",
            &[],
        )
        .unwrap();
        b.execute(
            "UPDATE sync_Capybara SET note = 'ConflictTapirB' WHERE id = 1",
            &[],
        )
        .unwrap();
        nb.apply(&na.changes_for(&nb.frontier().unwrap(), 1000).unwrap())
            .unwrap();
        na.apply(&nb.changes_for(&na.frontier().unwrap(), 1000).unwrap())
            .unwrap();
        let conflicts = b
            .query("SELECT count(*) FROM heliosdb_conflicts", &[])
            .unwrap();
        assert_ne!(
            conflicts.rows[0].values[0],
            Value::Integer(0),
            "no conflict was recorded"
        );
    }
    let needles: Vec<Vec<u8>> = [
        "sync_capybara",
        "SyncedOkapi",
        "ConflictTapirA",
        "ConflictTapirB",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for path in [&pa, &pb] {
        let seen = found(&std::fs::read(path).unwrap(), &needles);
        assert!(seen.is_empty(), "{} shows {seen:?}", path.display());
    }
    // Both converged, readable with their keys.
    let note = |p: &Path, k: &KeySource| {
        EmbeddedDatabase::open_encrypted(p, k)
            .unwrap()
            .query("SELECT note FROM sync_Capybara", &[])
            .unwrap()
            .rows[0]
            .values[0]
            .clone()
    };
    assert_eq!(note(&pa, &key(3)), note(&pb, &key(4)));
}

#[test]
fn compressed_values_are_compressed_then_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.db");
    let line = |i: i64| {
        format!(
            "PelicanLog device {} reported reading {} within range",
            i % 9,
            i % 250
        )
    };
    {
        let db = EmbeddedDatabase::open_encrypted(&path, &key(9)).unwrap();
        db.execute(
            "CREATE TABLE logs (id BIGINT PRIMARY KEY, msg TEXT) WITH (compression = 'auto')",
            &[],
        )
        .unwrap();
        db.execute(
            "CREATE TABLE m (ts TIMESTAMP, note TEXT, temp REAL) WITH (storage = 'columnar')",
            &[],
        )
        .unwrap();
        let mut tx = db.transaction().unwrap();
        for i in 0..20_000i64 {
            tx.execute(
                "INSERT INTO logs VALUES ($1, $2)",
                &[Value::Integer(i), Value::Text(line(i))],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO m VALUES (to_timestamp($1), $2, $3)",
                &[
                    Value::Integer(1_700_000_000 + i),
                    Value::Text(line(i)),
                    Value::Real((i % 300) as f64 / 10.0),
                ],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    // Nothing readable in the file: not the plain text, not the FSST symbols' words.
    let bytes = std::fs::read(&path).unwrap();
    let needles = [
        b"PelicanLog".to_vec(),
        b"Pelican".to_vec(),
        b"reading".to_vec(),
    ];
    let seen = found(&bytes, &needles);
    assert!(seen.is_empty(), "the encrypted file shows {seen:?}");

    // With the key: every value, and the values are stored compressed (the stored sizes are
    // measured on the decrypted pages, so compression happened before encryption).
    let db = EmbeddedDatabase::open_encrypted(&path, &key(9)).unwrap();
    for table in ["logs", "m"] {
        let rows = db
            .query(
                &format!(
                    "SELECT count(*), count(DISTINCT msg) FROM (SELECT {} AS msg FROM {table}) s",
                    if table == "logs" { "msg" } else { "note" }
                ),
                &[],
            )
            .unwrap();
        assert_eq!(rows.rows[0].values[0], Value::Integer(20_000), "{table}");
        assert_eq!(rows.rows[0].values[1], Value::Integer(2_250), "{table}");
    }
    let rows = db
        .query(
            "SELECT table_name, codec, ratio FROM heliosdb_compression \
             WHERE column_name IN ('msg', 'note', 'temp') ORDER BY table_name, column_name",
            &[],
        )
        .unwrap();
    assert_eq!(rows.rows.len(), 3);
    for r in &rows.rows {
        match r.values.as_slice() {
            [_, Value::Text(codec), Value::Real(ratio)] => {
                assert!(codec != "none" && *ratio > 2.0, "{:?}", r.values)
            }
            other => panic!("{other:?}"),
        }
    }
    let one = db
        .query("SELECT msg FROM logs WHERE id = 12345", &[])
        .unwrap();
    assert_eq!(one.rows[0].values[0], Value::Text(line(12345)));
}
