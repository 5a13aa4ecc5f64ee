//! Key sources, rekey and reencrypt.

use heliosdb_crypto::{
    CryptoError, EncryptedFile, KdfParams, KeySource, kdf_time, reencrypt, rekey,
};
use redb::{ReadableDatabase, StorageBackend, TableDefinition};
use std::time::Instant;

const FAST: KdfParams = KdfParams { iterations: 10_000 };
const TABLE: TableDefinition<u64, &str> = TableDefinition::new("t");
const HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

fn write_db(path: &std::path::Path, key: &KeySource, rows: u64) {
    let db = redb::Builder::new()
        .create_with_backend(EncryptedFile::open_with(path, key, FAST).unwrap())
        .unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(TABLE).unwrap();
        for i in 0..rows {
            t.insert(i, "a value that takes some room in the file, repeated")
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn check_db(path: &std::path::Path, key: &KeySource, rows: u64) {
    let db = redb::Builder::new()
        .create_with_backend(EncryptedFile::open(path, key).unwrap())
        .unwrap();
    let tx = db.begin_read().unwrap();
    let t = tx.open_table(TABLE).unwrap();
    for i in [0, rows / 2, rows - 1] {
        assert_eq!(
            t.get(i).unwrap().unwrap().value(),
            "a value that takes some room in the file, repeated"
        );
    }
}

#[test]
fn rekey_switches_keys_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rekey.db");
    let old = KeySource::passphrase("old passphrase");
    let new = KeySource::raw([3; 32]);
    write_db(&path, &old, 60_000);
    let size = std::fs::metadata(&path).unwrap().len();
    let t = Instant::now();
    rekey(&path, &old, &new, FAST).unwrap();
    println!("rekey of a {size}-byte file took {:?}", t.elapsed());
    assert!(size > 2_000_000, "{size}");
    assert!(matches!(
        EncryptedFile::open(&path, &old),
        Err(CryptoError::WrongKey)
    ));
    check_db(&path, &new, 60_000);
    // And back to a passphrase.
    let third = KeySource::passphrase("third");
    rekey(&path, &new, &third, FAST).unwrap();
    assert!(matches!(
        EncryptedFile::open(&path, &new),
        Err(CryptoError::WrongKey)
    ));
    check_db(&path, &third, 60_000);
    // Wrong old key: nothing changes.
    assert!(matches!(
        rekey(&path, &new, &old, FAST),
        Err(CryptoError::WrongKey)
    ));
    check_db(&path, &third, 60_000);
    // While open: locked.
    let f = EncryptedFile::open(&path, &third).unwrap();
    assert!(matches!(
        rekey(&path, &third, &old, FAST),
        Err(CryptoError::Locked { .. })
    ));
    drop(f);
}

#[test]
fn rekey_interrupted_after_first_slot() {
    // Simulate a crash after the first slot write: the newest slot (new key) wins, so the
    // old key no longer opens, the new one does.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.db");
    let old = KeySource::raw([1; 32]);
    let new = KeySource::raw([2; 32]);
    write_db(&path, &old, 100);
    let before = std::fs::read(&path).unwrap();
    rekey(&path, &old, &new, FAST).unwrap();
    let after = std::fs::read(&path).unwrap();
    // Header slot 0 was in use (tie on creation), so slot 1 was written first. Keep the
    // new slot 1 and the old slot 0.
    let mut mixed = before.clone();
    mixed[4096..8192].copy_from_slice(&after[4096..8192]);
    std::fs::write(&path, &mixed).unwrap();
    assert!(matches!(
        EncryptedFile::open(&path, &old),
        Err(CryptoError::WrongKey)
    ));
    check_db(&path, &new, 100);
    // Torn new slot: the old one still works.
    let mut torn = before.clone();
    torn[4096..4096 + 120].copy_from_slice(&after[4096..4096 + 120]);
    std::fs::write(&path, &torn).unwrap();
    check_db(&path, &old, 100);
}

#[test]
fn reencrypt_rewrites_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("re.db");
    let old = KeySource::raw([4; 32]);
    let new = KeySource::passphrase("fresh");
    write_db(&path, &old, 5_000);
    let before = std::fs::read(&path).unwrap();
    reencrypt(&path, &old, &new, FAST).unwrap();
    let after = std::fs::read(&path).unwrap();
    assert_eq!(before.len(), after.len());
    // New file id and data key: no slot in common.
    assert_ne!(
        before[8192 + 2 * 4128..8192 + 3 * 4128],
        after[8192 + 2 * 4128..8192 + 3 * 4128]
    );
    assert!(matches!(
        EncryptedFile::open(&path, &old),
        Err(CryptoError::WrongKey)
    ));
    check_db(&path, &new, 5_000);
    assert!(!dir.path().join("re.db.reencrypt").exists());
    // Old blocks spliced into the re-encrypted file fail.
    let mut spliced = after.clone();
    let a = 8192 + 3 * 4128;
    spliced[a..a + 4128].copy_from_slice(&before[a..a + 4128]);
    std::fs::write(&path, &spliced).unwrap();
    let f = EncryptedFile::open(&path, &new).unwrap();
    let mut buf = [0u8; 1];
    let e = f.read(2 * 4096, &mut buf).unwrap_err();
    assert!(matches!(
        CryptoError::from_io(&e),
        Some(CryptoError::Integrity { block: 2 })
    ));
}

#[test]
fn leftover_reencrypt_file_is_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let tmp = dir.path().join("crash.db.reencrypt");
    let key = KeySource::raw([5; 32]);
    write_db(&path, &key, 1_000);
    std::fs::write(&tmp, b"HDBNCRYP partial garbage from a crashed reencrypt").unwrap();
    check_db(&path, &key, 1_000);
    assert!(!tmp.exists());
    // Also a leftover that is a well-formed but partial encrypted file.
    let partial = std::fs::read(&path).unwrap();
    std::fs::write(&tmp, &partial[..20_000]).unwrap();
    let new = KeySource::raw([6; 32]);
    reencrypt(&path, &key, &new, FAST).unwrap();
    assert!(!tmp.exists());
    check_db(&path, &new, 1_000);
}

#[test]
fn reencrypt_of_small_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeySource::raw([9; 32]);
    let new = KeySource::raw([10; 32]);
    for len in [0u64, 1, 100, 4096, 4097, 3 * 4096 + 5] {
        let path = dir.path().join(format!("s{len}.db"));
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        {
            let f = EncryptedFile::open(&path, &key).unwrap();
            f.write(0, &data).unwrap();
        }
        reencrypt(&path, &key, &new, FAST).unwrap();
        let f = EncryptedFile::open(&path, &new).unwrap();
        assert_eq!(f.len().unwrap(), len);
        let mut buf = vec![0u8; len as usize];
        f.read(0, &mut buf).unwrap();
        assert_eq!(buf, data);
    }
    // A missing file is an I/O error, not a new file.
    assert!(matches!(
        reencrypt(dir.path().join("missing.db"), &key, &new, FAST),
        Err(CryptoError::Io(_))
    ));
}

#[test]
fn hex_keys() {
    assert!(matches!(KeySource::from_hex(HEX), Ok(KeySource::Raw(_))));
    assert!(matches!(
        KeySource::from_hex(&format!("  {HEX}\n")),
        Ok(KeySource::Raw(_))
    ));
    for bad in [
        "",
        "00",
        &HEX[..63],
        &format!("{HEX}0"),
        &format!("{}zz", &HEX[..62]),
        "this is certainly not a hex key but a passphrase of the right length ab",
    ] {
        let e = KeySource::from_hex(bad).err().unwrap();
        assert!(matches!(e, CryptoError::InvalidKey { .. }), "{bad}");
        if bad.len() > 4 {
            assert!(!e.to_string().contains(bad.trim()), "{e}");
        }
    }
    // The same key as hex and raw opens the same file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hex.db");
    let mut raw = [0u8; 32];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ][i % 16];
    }
    drop(EncryptedFile::open(&path, &KeySource::from_hex(HEX).unwrap()).unwrap());
    drop(EncryptedFile::open(&path, &KeySource::raw(raw)).unwrap());
}

#[test]
fn env_keys() {
    // SAFETY-free: tests in this binary use distinct variable names.
    let var_missing = "HELIOSDB_CRYPTO_TEST_MISSING_VAR";
    let e = KeySource::from_env(var_missing).unwrap_err();
    assert!(matches!(e, CryptoError::KeyUnavailable { .. }));
    assert!(e.to_string().contains(var_missing));
    // Setting variables needs `unsafe` in edition 2024 and the crate forbids unsafe code in
    // itself only; tests drive a child process instead.
    let exe = std::env::current_exe().unwrap();
    for (value, expect) in [
        ("", "unavailable"),
        (HEX, "raw"),
        ("my passphrase", "passphrase"),
    ] {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "env_child", "--nocapture", "--include-ignored"])
            .env("HELIOSDB_CRYPTO_TEST_VAR", value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("ENV-RESULT={expect}")),
            "{value}: {stdout}"
        );
        if !value.is_empty() {
            assert!(
                !stdout.replace(HEX, "").contains("my passphrase"),
                "{stdout}"
            );
        }
    }
}

#[test]
#[ignore = "run by env_keys in a child process"]
fn env_child() {
    let r = match KeySource::from_env("HELIOSDB_CRYPTO_TEST_VAR") {
        Ok(KeySource::Raw(_)) => "raw",
        Ok(KeySource::Passphrase(_)) => "passphrase",
        Err(CryptoError::KeyUnavailable { why }) => {
            assert!(why.contains("HELIOSDB_CRYPTO_TEST_VAR"));
            "unavailable"
        }
        Err(e) => panic!("{e}"),
    };
    println!("ENV-RESULT={r}");
}

#[test]
fn key_files() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.key");
    std::fs::write(&raw, [0x42u8; 32]).unwrap();
    assert!(matches!(KeySource::from_file(&raw), Ok(KeySource::Raw(_))));
    let hex = dir.path().join("hex.key");
    std::fs::write(&hex, format!("{HEX}\n")).unwrap();
    assert!(matches!(KeySource::from_file(&hex), Ok(KeySource::Raw(_))));
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "SecretWordsThatAreNotAKey").unwrap();
    let e = KeySource::from_file(&bad).unwrap_err();
    assert!(matches!(e, CryptoError::InvalidKey { .. }));
    let msg = e.to_string();
    assert!(msg.contains("bad.key"), "{msg}");
    assert!(!msg.contains("SecretWords"), "{msg}");
    let short = dir.path().join("short.key");
    std::fs::write(&short, [1u8; 31]).unwrap();
    assert!(matches!(
        KeySource::from_file(&short),
        Err(CryptoError::InvalidKey { .. })
    ));
    let missing = dir.path().join("missing.key");
    let e = KeySource::from_file(&missing).unwrap_err();
    assert!(matches!(e, CryptoError::KeyUnavailable { .. }));
    assert!(e.to_string().contains("missing.key"));
}

#[test]
fn error_messages_never_contain_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msg.db");
    let pass = "Tr0ub4dor&3-PASSPHRASE";
    drop(EncryptedFile::open_with(&path, &KeySource::passphrase(pass), FAST).unwrap());
    let mut msgs = Vec::new();
    let wrong = KeySource::passphrase("Wr0ngPassphraseXYZ");
    let e = EncryptedFile::open(&path, &wrong).unwrap_err();
    msgs.push(format!("{e} {e:?}"));
    let e = EncryptedFile::open(&path, &KeySource::from_hex(HEX).unwrap()).unwrap_err();
    msgs.push(format!("{e} {e:?}"));
    let e = rekey(&path, &wrong, &KeySource::passphrase(pass), FAST).unwrap_err();
    msgs.push(format!("{e} {e:?}"));
    let f = EncryptedFile::open(&path, &KeySource::passphrase(pass)).unwrap();
    msgs.push(format!("{f:?}"));
    let e = EncryptedFile::open(&path, &KeySource::passphrase(pass)).unwrap_err();
    msgs.push(format!("{e} {e:?}"));
    for m in msgs {
        for secret in [pass, "Wr0ngPassphraseXYZ", HEX, "00112233"] {
            assert!(!m.contains(secret), "{m}");
        }
    }
}

#[test]
fn kdf_timing_and_limits() {
    let t = kdf_time(FAST);
    println!("PBKDF2 with {} iterations: {t:?}", FAST.iterations);
    assert_eq!(KdfParams::default().iterations, 600_000);
    let dir = tempfile::tempdir().unwrap();
    let e = EncryptedFile::open_with(
        dir.path().join("x.db"),
        &KeySource::passphrase("p"),
        KdfParams {
            iterations: u32::MAX,
        },
    )
    .unwrap_err();
    assert!(matches!(e, CryptoError::InvalidKey { .. }));
    // Raw keys ignore the KDF parameters.
    EncryptedFile::open_with(
        dir.path().join("y.db"),
        &KeySource::raw([0; 32]),
        KdfParams { iterations: 1 },
    )
    .unwrap();
}
