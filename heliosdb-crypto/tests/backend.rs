//! EncryptedFile as a storage backend: model-based property test, redb round trip,
//! tampering, truncation, torn writes, locking.

use heliosdb_crypto::{CryptoError, EncryptedFile, KdfParams, KeySource, is_encrypted};
use proptest::prelude::*;
use redb::{ReadableDatabase, StorageBackend, TableDefinition};
use std::fs::OpenOptions;
use std::io;
use std::path::Path;

const DATA_START: u64 = 8192;
const SLOT: u64 = 4128;

fn key() -> KeySource {
    KeySource::raw([7u8; 32])
}

fn other_key() -> KeySource {
    KeySource::raw([8u8; 32])
}

/// Physical offset of logical block `i >= 1`.
fn block_off(i: u64) -> u64 {
    assert!(i >= 1);
    DATA_START + (i + 1) * SLOT
}

fn crypto_of(e: &io::Error) -> Option<&CryptoError> {
    CryptoError::from_io(e)
}

fn redb_crypto(e: &redb::DatabaseError) -> Option<String> {
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => {
            crypto_of(io).map(|c| format!("{c:?}"))
        }
        _ => None,
    }
}

fn flip_byte(path: &Path, off: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[off as usize] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// A file of `n` full blocks, block i filled with byte i+1.
fn make_blocks(path: &Path, n: u64) {
    let f = EncryptedFile::open(path, &key()).unwrap();
    f.set_len(n * 4096).unwrap();
    for i in 0..n {
        f.write(i * 4096, &[(i + 1) as u8; 4096]).unwrap();
    }
    f.sync_data().unwrap();
}

fn read_err(f: &EncryptedFile, off: u64, len: usize) -> CryptoError {
    let mut buf = vec![0u8; len];
    let e = f.read(off, &mut buf).unwrap_err();
    match CryptoError::from_io(&e) {
        Some(CryptoError::Integrity { block }) => CryptoError::Integrity { block: *block },
        Some(CryptoError::Truncated { why }) => CryptoError::Truncated { why: why.clone() },
        other => panic!("unexpected error {e:?} / {other:?}"),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Write(u64, Vec<u8>),
    Read(u64, usize),
    SetLen(u64),
    Sync,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let off = prop_oneof![0u64..40_000, (0u64..10).prop_map(|b| b * 4096)];
    prop_oneof![
        4 => (off.clone(), prop_oneof![1usize..9000, Just(4096usize)], any::<u8>())
            .prop_map(|(o, n, b)| Op::Write(o, (0..n).map(|i| b.wrapping_add(i as u8)).collect())),
        3 => (off.clone(), 0usize..9000).prop_map(|(o, n)| Op::Read(o, n)),
        2 => prop_oneof![0u64..40_000, (0u64..10).prop_map(|b| b * 4096)].prop_map(Op::SetLen),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn behaves_like_a_vec(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.db");
        let mut f = Some(EncryptedFile::open(&path, &key()).unwrap());
        let mut model: Vec<u8> = Vec::new();
        for op in ops {
            let file = f.as_ref().unwrap();
            match op {
                Op::Write(o, data) => {
                    file.write(o, &data).unwrap();
                    let end = o as usize + data.len();
                    if model.len() < end {
                        model.resize(end, 0);
                    }
                    model[o as usize..end].copy_from_slice(&data);
                }
                Op::Read(o, n) => {
                    let mut buf = vec![0u8; n];
                    let r = file.read(o, &mut buf);
                    if o as usize + n <= model.len() {
                        prop_assert!(r.is_ok(), "read {o}+{n} of {}: {r:?}", model.len());
                        prop_assert_eq!(&buf[..], &model[o as usize..o as usize + n]);
                    } else {
                        prop_assert!(r.is_err());
                    }
                }
                Op::SetLen(l) => {
                    file.set_len(l).unwrap();
                    model.resize(l as usize, 0);
                }
                Op::Sync => file.sync_data().unwrap(),
                Op::Reopen => {
                    drop(f.take());
                    f = Some(EncryptedFile::open(&path, &key()).unwrap());
                }
            }
            prop_assert_eq!(f.as_ref().unwrap().len().unwrap(), model.len() as u64);
        }
        drop(f.take());
        let f = EncryptedFile::open(&path, &key()).unwrap();
        let mut all = vec![0u8; model.len()];
        f.read(0, &mut all).unwrap();
        prop_assert_eq!(all, model);
    }

    /// Arbitrary damage to a valid file never panics: open, length and reads return
    /// values or typed errors.
    #[test]
    fn hostile_bytes_never_panic(
        edits in proptest::collection::vec((0usize..40_000, any::<u8>()), 1..20),
        cut in proptest::option::of(0u64..40_000),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hostile.db");
        make_blocks(&path, 7);
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, b) in edits {
            if at < bytes.len() {
                bytes[at] = b;
            }
        }
        if let Some(c) = cut {
            bytes.truncate(c as usize);
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(f) = EncryptedFile::open(&path, &key())
            && let Ok(len) = f.len()
        {
            let mut buf = vec![0u8; len as usize];
            let _ = f.read(0, &mut buf);
        }
    }
}

const TABLE: TableDefinition<&[u8], &str> = TableDefinition::new("tbl_Marmalade");

#[test]
fn redb_round_trip_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.db");
    let k: u64 = 31337424242;
    {
        let db = redb::Builder::new()
            .create_with_backend(EncryptedFile::open(&path, &key()).unwrap())
            .unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(TABLE).unwrap();
            t.insert(&k.to_le_bytes()[..], "ZebraSecret42").unwrap();
            for i in 0..2000u32 {
                let key = format!("row{i:05}");
                t.insert(key.as_bytes(), "ZebraSecret42 and more filler text")
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    assert!(is_encrypted(&path).unwrap());
    {
        let db = redb::Builder::new()
            .create_with_backend(EncryptedFile::open(&path, &key()).unwrap())
            .unwrap();
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(TABLE).unwrap();
        assert_eq!(
            t.get(&k.to_le_bytes()[..]).unwrap().unwrap().value(),
            "ZebraSecret42"
        );
        assert_eq!(
            t.get(&b"row01999"[..]).unwrap().unwrap().value(),
            "ZebraSecret42 and more filler text"
        );
    }
    let raw = std::fs::read(&path).unwrap();
    for needle in [
        &b"ZebraSecret42"[..],
        b"tbl_Marmalade",
        b"Marmalade",
        &k.to_le_bytes()[..],
        &k.to_be_bytes()[..],
        b"row01999",
        b"redb",
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "{:?} appears in the file",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn wrong_key_raw_and_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let p1 = dir.path().join("raw.db");
    drop(EncryptedFile::open(&p1, &key()).unwrap());
    assert!(matches!(
        EncryptedFile::open(&p1, &other_key()),
        Err(CryptoError::WrongKey)
    ));
    // A passphrase against a raw-key file is the wrong key too.
    assert!(matches!(
        EncryptedFile::open(&p1, &KeySource::passphrase("hunter2")),
        Err(CryptoError::WrongKey)
    ));
    let p2 = dir.path().join("pass.db");
    let kdf = KdfParams { iterations: 10_000 };
    drop(EncryptedFile::open_with(&p2, &KeySource::passphrase("correct horse"), kdf).unwrap());
    let e = EncryptedFile::open(&p2, &KeySource::passphrase("incorrect horse")).unwrap_err();
    assert!(matches!(e, CryptoError::WrongKey));
    assert_eq!(
        e.to_string(),
        "wrong key: the key or passphrase does not open this database"
    );
    assert!(matches!(
        EncryptedFile::open(&p2, &key()),
        Err(CryptoError::WrongKey)
    ));
    EncryptedFile::open(&p2, &KeySource::passphrase("correct horse")).unwrap();
    // Empty passphrase and too few iterations.
    assert!(matches!(
        EncryptedFile::open(&p2, &KeySource::passphrase("")),
        Err(CryptoError::InvalidKey { .. })
    ));
    assert!(matches!(
        EncryptedFile::open_with(
            dir.path().join("weak.db"),
            &KeySource::passphrase("x"),
            KdfParams { iterations: 9_999 }
        ),
        Err(CryptoError::InvalidKey { .. })
    ));
}

#[test]
fn plain_redb_file_is_not_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    drop(redb::Database::create(&path).unwrap());
    assert!(!is_encrypted(&path).unwrap());
    let e = EncryptedFile::open(&path, &key()).unwrap_err();
    assert!(matches!(e, CryptoError::NotEncrypted { .. }), "{e:?}");
    // A short, non-empty file without the magic is not encrypted either.
    let short = dir.path().join("short");
    std::fs::write(&short, b"hello").unwrap();
    assert!(matches!(
        EncryptedFile::open(&short, &key()),
        Err(CryptoError::NotEncrypted { .. })
    ));
}

#[test]
fn bit_flip_is_an_integrity_error_for_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flip.db");
    make_blocks(&path, 6);
    flip_byte(&path, block_off(3) + 16 + 100);
    let f = EncryptedFile::open(&path, &key()).unwrap();
    let mut ok = vec![0u8; 4096];
    f.read(2 * 4096, &mut ok).unwrap();
    assert_eq!(ok, vec![3u8; 4096]);
    assert!(matches!(
        read_err(&f, 3 * 4096 + 10, 10),
        CryptoError::Integrity { block: 3 }
    ));
    // A read spanning blocks 2..=4 fails on block 3 too.
    assert!(matches!(
        read_err(&f, 2 * 4096, 3 * 4096),
        CryptoError::Integrity { block: 3 }
    ));
    // The nonce, flags and tag are covered as well.
    drop(f);
    for off in [block_off(4), block_off(4) + 12, block_off(4) + SLOT - 1] {
        flip_byte(&path, off);
        let f = EncryptedFile::open(&path, &key()).unwrap();
        assert!(matches!(
            read_err(&f, 4 * 4096, 1),
            CryptoError::Integrity { block: 4 }
        ));
        drop(f);
        flip_byte(&path, off);
    }
}

fn redb_file(path: &Path) {
    let db = redb::Builder::new()
        .create_with_backend(EncryptedFile::open(path, &key()).unwrap())
        .unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(TABLE).unwrap();
        for i in 0..500u32 {
            t.insert(format!("key{i}").as_bytes(), "some value")
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn both_copies_of_block_zero_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redbflip.db");
    redb_file(&path);
    // Block 0 (redb's header) has two copies; damaging both makes the open fail on block 0.
    flip_byte(&path, DATA_START + 16 + 5);
    flip_byte(&path, DATA_START + SLOT + 16 + 5);
    let e = EncryptedFile::open(&path, &key()).unwrap_err();
    assert!(matches!(e, CryptoError::Integrity { block: 0 }), "{e:?}");
}

#[test]
fn redb_sees_integrity_errors_of_data_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redbpage.db");
    redb_file(&path);
    // Damage every data block except block 0 and the last one (checked at open): redb's
    // open, or its first read of a table, must report the typed error.
    let phys = std::fs::metadata(&path).unwrap().len();
    let n = (phys - DATA_START).div_ceil(SLOT) - 1;
    for i in 1..n - 1 {
        flip_byte(&path, block_off(i) + 20);
    }
    let backend = EncryptedFile::open(&path, &key()).unwrap();
    match redb::Builder::new().create_with_backend(backend) {
        Ok(db) => {
            let tx = db.begin_read().unwrap();
            let Err(e) = tx.open_table(TABLE) else {
                panic!("reading a damaged page must fail");
            };
            let s = format!("{e:?}");
            assert!(s.contains("Integrity"), "{s}");
        }
        Err(e) => assert!(
            redb_crypto(&e).is_some_and(|s| s.contains("Integrity")),
            "{e:?}"
        ),
    }
}

#[test]
fn swapped_blocks_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swap.db");
    make_blocks(&path, 6);
    let mut bytes = std::fs::read(&path).unwrap();
    let (a, b) = (block_off(2) as usize, block_off(3) as usize);
    let blk_a = bytes[a..a + SLOT as usize].to_vec();
    let blk_b = bytes[b..b + SLOT as usize].to_vec();
    bytes[a..a + SLOT as usize].copy_from_slice(&blk_b);
    bytes[b..b + SLOT as usize].copy_from_slice(&blk_a);
    std::fs::write(&path, bytes).unwrap();
    let f = EncryptedFile::open(&path, &key()).unwrap();
    assert!(matches!(
        read_err(&f, 2 * 4096, 1),
        CryptoError::Integrity { block: 2 }
    ));
    assert!(matches!(
        read_err(&f, 3 * 4096, 1),
        CryptoError::Integrity { block: 3 }
    ));
}

#[test]
fn blocks_from_another_file_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (dir.path().join("a.db"), dir.path().join("b.db"));
    make_blocks(&p1, 4);
    make_blocks(&p2, 4);
    let b1 = std::fs::read(&p1).unwrap();
    let mut b2 = std::fs::read(&p2).unwrap();
    let a = block_off(2) as usize;
    b2[a..a + SLOT as usize].copy_from_slice(&b1[a..a + SLOT as usize]);
    std::fs::write(&p2, b2).unwrap();
    let f = EncryptedFile::open(&p2, &key()).unwrap();
    assert!(matches!(
        read_err(&f, 2 * 4096, 1),
        CryptoError::Integrity { block: 2 }
    ));
}

#[test]
fn truncation_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trunc.db");
    make_blocks(&path, 6);
    let full = std::fs::read(&path).unwrap();
    // At a block boundary: the new last block lacks the end marker.
    for blocks in [1u64, 2, 3, 5] {
        std::fs::write(&path, &full).unwrap();
        truncate(&path, DATA_START + (blocks + 1) * SLOT);
        let e = EncryptedFile::open(&path, &key()).unwrap_err();
        assert!(
            matches!(e, CryptoError::Truncated { .. }),
            "{blocks}: {e:?}"
        );
    }
    // Mid-block.
    for cut in [
        DATA_START + 4 * SLOT + 7,
        DATA_START + 4 * SLOT + 100,
        DATA_START + 5,
    ] {
        std::fs::write(&path, &full).unwrap();
        truncate(&path, cut);
        let e = EncryptedFile::open(&path, &key()).unwrap_err();
        assert!(
            matches!(
                e,
                CryptoError::Truncated { .. } | CryptoError::Integrity { .. }
            ),
            "{cut}: {e:?}"
        );
    }
    // Header only: the file claims length 0, which an attacker could not use to hide the
    // cut: a header-only file is an empty database... accepted as empty.
    std::fs::write(&path, &full).unwrap();
    truncate(&path, DATA_START);
    let f = EncryptedFile::open(&path, &key()).unwrap();
    assert_eq!(f.len().unwrap(), 0);
}

#[test]
fn truncation_behind_an_open_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("behind.db");
    make_blocks(&path, 4);
    let f = EncryptedFile::open(&path, &key()).unwrap();
    truncate(&path, DATA_START + 3 * SLOT);
    let e = f.len().unwrap_err();
    assert!(
        matches!(
            CryptoError::from_io(&e),
            Some(CryptoError::Truncated { .. })
        ),
        "{e:?}"
    );
    assert!(matches!(
        read_err(&f, 3 * 4096, 10),
        CryptoError::Truncated { .. }
    ));
}

#[test]
fn interrupted_growth_is_accepted() {
    // A block in the middle that still carries the end marker (growth whose last step
    // never ran) reads fine.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    make_blocks(&path, 3);
    let before = std::fs::read(&path).unwrap();
    {
        let f = EncryptedFile::open(&path, &key()).unwrap();
        f.set_len(6 * 4096).unwrap();
    }
    let mut after = std::fs::read(&path).unwrap();
    // Put back block 2 as it was (flagged last) to simulate the missing final reseal.
    let a = block_off(2) as usize;
    after[a..a + SLOT as usize].copy_from_slice(&before[a..a + SLOT as usize]);
    std::fs::write(&path, after).unwrap();
    let f = EncryptedFile::open(&path, &key()).unwrap();
    let mut buf = vec![0u8; 6 * 4096];
    f.read(0, &mut buf).unwrap();
    assert_eq!(&buf[2 * 4096..3 * 4096], &[3u8; 4096][..]);
    assert!(buf[3 * 4096..].iter().all(|&b| b == 0));
}

#[test]
fn header_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hdr.db");
    make_blocks(&path, 3);
    let full = std::fs::read(&path).unwrap();
    // One torn slot: still opens from the other.
    for slot in [0u64, 1] {
        let mut b = full.clone();
        for x in &mut b[(slot * 4096 + 20) as usize..(slot * 4096 + 300) as usize] {
            *x = 0xAA;
        }
        std::fs::write(&path, b).unwrap();
        let f = EncryptedFile::open(&path, &key()).unwrap();
        let mut buf = [0u8; 1];
        f.read(2 * 4096, &mut buf).unwrap();
        assert_eq!(buf[0], 3);
    }
    // Both slots corrupt (magic intact).
    let mut b = full.clone();
    b[100] ^= 1;
    b[4096 + 100] ^= 1;
    std::fs::write(&path, b).unwrap();
    let e = EncryptedFile::open(&path, &key()).unwrap_err();
    assert!(matches!(e, CryptoError::HeaderCorrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("header"), "{e}");
    // Both slots with the magic destroyed: no longer recognisable.
    let mut b = full.clone();
    b[0] ^= 1;
    b[4096] ^= 1;
    std::fs::write(&path, b).unwrap();
    let e = EncryptedFile::open(&path, &key()).unwrap_err();
    assert!(matches!(e, CryptoError::NotEncrypted { .. }), "{e:?}");
    // A future format version.
    let mut b = full.clone();
    b[8] = 2;
    b[4096 + 8] = 2;
    std::fs::write(&path, b).unwrap();
    let e = EncryptedFile::open(&path, &key()).unwrap_err();
    assert!(
        matches!(
            e,
            CryptoError::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        ),
        "{e:?}"
    );
}

#[test]
fn torn_block_zero_falls_back_to_the_other_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b0.db");
    make_blocks(&path, 3);
    {
        let f = EncryptedFile::open(&path, &key()).unwrap();
        f.write(0, b"second version").unwrap();
    }
    let full = std::fs::read(&path).unwrap();
    // Damage each copy in turn: one of them is the newest, the other the previous one.
    let mut seen = Vec::new();
    for slot in [0u64, 1] {
        let mut b = full.clone();
        b[(DATA_START + slot * SLOT + 2000) as usize] ^= 0xFF;
        std::fs::write(&path, b).unwrap();
        let f = EncryptedFile::open(&path, &key()).unwrap();
        let mut buf = [0u8; 14];
        f.read(0, &mut buf).unwrap();
        seen.push(buf.to_vec());
    }
    seen.sort();
    assert_eq!(seen[0], vec![1u8; 14]);
    assert_eq!(seen[1], b"second version".to_vec());
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lock.db");
    let f = EncryptedFile::open(&path, &key()).unwrap();
    let e = EncryptedFile::open(&path, &key()).unwrap_err();
    assert!(matches!(e, CryptoError::Locked { .. }), "{e:?}");
    f.close().unwrap();
    drop(f);
    drop(EncryptedFile::open(&path, &key()).unwrap());
    // Through redb: dropping the database releases the lock.
    let db = redb::Builder::new()
        .create_with_backend(EncryptedFile::open(&path, &key()).unwrap())
        .unwrap();
    assert!(matches!(
        EncryptedFile::open(&path, &key()),
        Err(CryptoError::Locked { .. })
    ));
    drop(db);
    drop(EncryptedFile::open(&path, &key()).unwrap());
}

#[test]
fn debug_shows_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dbg.db");
    let k = KeySource::raw([0xAB; 32]);
    let f = EncryptedFile::open(&path, &k).unwrap();
    let s = format!("{f:?} {k:?}");
    assert!(!s.to_lowercase().contains("abab"), "{s}");
    assert!(!s.contains("171"), "{s}");
    let p = KeySource::passphrase("Sup3rSecretPass");
    assert!(!format!("{p:?}").contains("Sup3rSecretPass"));
}

#[test]
fn concurrent_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conc.db");
    make_blocks(&path, 32);
    let f = std::sync::Arc::new(EncryptedFile::open(&path, &key()).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || {
                for round in 0..200u64 {
                    let i = (round * 7 + t) % 32;
                    let mut buf = vec![0u8; 4096];
                    f.read(i * 4096, &mut buf).unwrap();
                    assert!(buf.iter().all(|&b| b == (i + 1) as u8));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
