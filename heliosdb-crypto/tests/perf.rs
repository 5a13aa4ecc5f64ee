//! Overhead against a plain redb file. Not a pass/fail test: run with
//! `cargo test -p heliosdb-crypto --release --test perf -- --ignored --nocapture`.

use heliosdb_crypto::{EncryptedFile, KeySource};
use redb::{Database, ReadableDatabase, TableDefinition};
use std::time::{Duration, Instant};

const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");

fn workload(db: &Database, rows: u64) -> (Duration, Duration) {
    let value = [0x5au8; 200];
    let start = Instant::now();
    for chunk in 0..rows / 1000 {
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            for i in 0..1000 {
                let k = (chunk * 1000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                t.insert(k, &value[..]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let write = start.elapsed();
    let start = Instant::now();
    for _ in 0..3 {
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(T).unwrap();
        for i in 0..rows {
            let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            assert!(t.get(k).unwrap().is_some());
        }
    }
    (write, start.elapsed())
}

#[test]
#[ignore = "benchmark"]
fn perf_against_plain_redb() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 200_000;
    for round in 0..2 {
        let plain_path = dir.path().join(format!("plain{round}.db"));
        // A small cache so that reads reach the backend.
        let plain = redb::Builder::new()
            .set_cache_size(1 << 20)
            .create(&plain_path)
            .unwrap();
        let (pw, pr) = workload(&plain, rows);
        drop(plain);
        let enc_path = dir.path().join(format!("enc{round}.db"));
        let enc = redb::Builder::new()
            .set_cache_size(1 << 20)
            .create_with_backend(EncryptedFile::open(&enc_path, &KeySource::raw([1; 32])).unwrap())
            .unwrap();
        let (ew, er) = workload(&enc, rows);
        drop(enc);
        println!(
            "round {round}: write plain {pw:?} encrypted {ew:?} ({:+.1}%); read plain {pr:?} \
             encrypted {er:?} ({:+.1}%); sizes {} / {}",
            (ew.as_secs_f64() / pw.as_secs_f64() - 1.0) * 100.0,
            (er.as_secs_f64() / pr.as_secs_f64() - 1.0) * 100.0,
            std::fs::metadata(&plain_path).unwrap().len(),
            std::fs::metadata(&enc_path).unwrap().len(),
        );
    }
}

#[test]
#[ignore = "benchmark"]
fn perf_block_io() {
    use redb::StorageBackend;
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let blocks = 4096u64;
    let f = EncryptedFile::open(dir.path().join("b.db"), &KeySource::raw([1; 32])).unwrap();
    f.set_len(blocks * 4096).unwrap();
    let plain = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("p.db"))
        .unwrap();
    plain.set_len(blocks * 4096).unwrap();
    let data = vec![7u8; 4096];
    let mut buf = vec![0u8; 4096];
    let n = 100_000u64;
    let t = Instant::now();
    for i in 0..n {
        plain.write_all_at(&data, (i % blocks) * 4096).unwrap();
    }
    let pw = t.elapsed();
    let t = Instant::now();
    for i in 0..n {
        f.write(((i % (blocks - 1)) + 1) * 4096, &data).unwrap();
    }
    let ew = t.elapsed();
    let t = Instant::now();
    for i in 0..n {
        plain.read_exact_at(&mut buf, (i % blocks) * 4096).unwrap();
    }
    let pr = t.elapsed();
    let t = Instant::now();
    for i in 0..n {
        f.read((i % blocks) * 4096, &mut buf).unwrap();
    }
    let er = t.elapsed();
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    println!(
        "per 4 KiB block: write plain {:.0} ns, encrypted {:.0} ns; read plain {:.0} ns, \
         encrypted {:.0} ns",
        per(pw),
        per(ew),
        per(pr),
        per(er)
    );
}

#[test]
#[ignore = "benchmark"]
fn perf_aes_gcm_only() {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[1u8; 32]).unwrap());
    let mut buf = vec![0u8; 4096];
    let n = 100_000u32;
    let t = Instant::now();
    for i in 0..n {
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&i.to_le_bytes());
        let _tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&[0u8; 33]),
                &mut buf,
            )
            .unwrap();
    }
    println!(
        "AES-256-GCM seal of 4 KiB: {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
