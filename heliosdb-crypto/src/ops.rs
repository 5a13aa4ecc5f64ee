//! Whole-file operations: detection, rekeying, re-encryption.

use crate::error::CryptoError;
use crate::file::{
    EncryptedFile, Mode, read_header_area, reencrypt_tmp_path, sync_parent, write_slot_at,
};
use crate::header::{self, MAGIC, NewSlot, SLOT_LEN};
use crate::key::{KdfParams, KeySource};
use ring::rand::SystemRandom;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::path::Path;

/// Whether the file at `path` starts with the encryption header's magic number.
pub fn is_encrypted(path: impl AsRef<Path>) -> io::Result<bool> {
    let mut f = File::open(path)?;
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(&head == MAGIC)
}

fn lock_existing(path: &Path) -> Result<File, CryptoError> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(CryptoError::Locked {
            path: path.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}

fn validate_new(new: &KeySource, kdf: KdfParams) -> Result<(), CryptoError> {
    new.check_usable()?;
    if matches!(new, KeySource::Passphrase(_)) {
        kdf.validate()?;
    }
    Ok(())
}

/// Rewraps the data key under a new key or passphrase. Only the header changes, so this
/// takes milliseconds whatever the file's size (plus the KDF's time).
///
/// Crash-safe: the slot not in use is rewritten and fsynced first, then the other one.
/// The data key itself does not change: someone who holds the old key *and* a copy of
/// the file from before the rekey can still decrypt later data. After a key compromise,
/// use [`reencrypt`]. The file must not be open elsewhere ([`CryptoError::Locked`]).
pub fn rekey(
    path: impl AsRef<Path>,
    old: &KeySource,
    new: &KeySource,
    kdf: KdfParams,
) -> Result<(), CryptoError> {
    let path = path.as_ref();
    validate_new(new, kdf)?;
    old.check_usable()?;
    let file = lock_existing(path)?;
    let shown = path.display().to_string();
    let area = read_header_area(&file)?;
    let opened = header::open_header(&area, old, &shown)?;
    let rng = SystemRandom::new();
    let g = opened.slot.generation;
    let (g1, g2) = match (g.checked_add(1), g.checked_add(2)) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(CryptoError::HeaderCorrupt {
                why: "header generation counter exhausted".into(),
            });
        }
    };
    let inactive = 1 - opened.index;
    for (index, generation) in [(inactive, g1), (opened.index, g2)] {
        let slot = header::build_slot(
            &rng,
            &NewSlot {
                generation,
                file_id: opened.slot.file_id,
                key_epoch: opened.slot.key_epoch,
                key: new,
                kdf,
                dek: &opened.dek,
            },
        )?;
        write_slot_at(&file, &slot, (index * SLOT_LEN) as u64)?;
        file.sync_data()?;
    }
    Ok(())
}

/// Re-encrypts every block under a new random data key and file id, protected by `new`.
///
/// Writes `<path>.reencrypt` in full, fsyncs it, renames it over `path` and fsyncs the
/// directory; until the rename the original stays authoritative, and a leftover
/// `<path>.reencrypt` from a crash is removed by the next open or reencrypt. Needs free
/// space for a second copy of the file. The file must not be open elsewhere.
pub fn reencrypt(
    path: impl AsRef<Path>,
    old: &KeySource,
    new: &KeySource,
    kdf: KdfParams,
) -> Result<(), CryptoError> {
    let path = path.as_ref();
    validate_new(new, kdf)?;
    // Locks the original and removes any leftover temporary file.
    let src = EncryptedFile::open_inner(path, old, Mode::Existing)?;
    let tmp = reencrypt_tmp_path(path);
    let result = (|| {
        let dst = EncryptedFile::open_inner(
            &tmp,
            new,
            Mode::Create(kdf, src.key_epoch().wrapping_add(1)),
        )?;
        dst.copy_from(&src)?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)?;
        drop(dst);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drop(src);
    result
}
