//! The encrypting storage backend.

use crate::error::CryptoError;
use crate::header::{self, HEADER_AREA, NewSlot, SLOT_LEN, aead_key, random_fill};
use crate::key::{KdfParams, KeySource};
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce, Tag};
use ring::rand::SystemRandom;
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use zeroize::Zeroizing;

/// Plaintext bytes per block (redb's page size).
pub(crate) const BS: u64 = 4096;
const BSU: usize = 4096;
/// Nonce, flags, 24-bit sequence.
const BLOCK_HDR: usize = 16;
const TAG_LEN: usize = 16;
const OVERHEAD: usize = BLOCK_HDR + TAG_LEN;
/// Physical bytes per block slot.
pub(crate) const SLOT_SIZE: u64 = BS + OVERHEAD as u64;
/// Physical offset of the first block slot.
pub(crate) const DATA_START: u64 = HEADER_AREA;
const FLAG_LAST: u8 = 1;
const SEQ_MASK: u32 = 0x00FF_FFFF;
/// Largest logical length accepted (keeps every physical offset inside i64).
const MAX_LOGICAL: u64 = (i64::MAX as u64 / SLOT_SIZE - 4) * BS;

// ---------------------------------------------------------------------------------------
// Length arithmetic

/// Number of logical blocks for a logical length.
fn nblocks(len: u64) -> u64 {
    len.div_ceil(BS)
}

/// Ciphertext (= plaintext) length of block `i` for logical length `len`.
fn ct_len(len: u64, i: u64) -> usize {
    let start = i * BS;
    (len.saturating_sub(start)).min(BS) as usize
}

/// Physical offset of slot `s` (slots 0 and 1 hold block 0; block i >= 1 is slot i + 1).
fn slot_off(s: u64) -> u64 {
    DATA_START + s * SLOT_SIZE
}

/// Physical length for a logical length (`len` <= MAX_LOGICAL).
pub(crate) fn phys_len(len: u64) -> u64 {
    if len == 0 {
        return DATA_START;
    }
    let n = nblocks(len);
    let tail = len - (n - 1) * BS;
    // slots 0..=n; the last one (slot n) holds `tail` bytes.
    slot_off(n) + OVERHEAD as u64 + tail
}

/// Logical length derived from the physical length.
pub(crate) fn logical_len(phys: u64) -> Result<u64, CryptoError> {
    if phys == DATA_START {
        return Ok(0);
    }
    if phys < DATA_START {
        return Err(CryptoError::Truncated {
            why: format!("the file is {phys} bytes, shorter than its {DATA_START}-byte header"),
        });
    }
    let d = phys - DATA_START;
    let (slots, tail) = match d % SLOT_SIZE {
        0 => (d / SLOT_SIZE, BS),
        r if r <= OVERHEAD as u64 => {
            return Err(CryptoError::Truncated {
                why: format!("the last block slot has only {r} bytes"),
            });
        }
        r => (d / SLOT_SIZE + 1, r - OVERHEAD as u64),
    };
    if slots < 2 {
        return Err(CryptoError::Truncated {
            why: "the second copy of block 0 is missing".into(),
        });
    }
    let len = (slots - 2) * BS + tail;
    if len > MAX_LOGICAL {
        return Err(CryptoError::HeaderCorrupt {
            why: "file too large".into(),
        });
    }
    Ok(len)
}

/// `a` is newer than `b` in 24-bit serial-number arithmetic.
fn seq_newer(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b) & SEQ_MASK;
    d != 0 && d < 0x0080_0000
}

fn io_err_invalid_input(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

// ---------------------------------------------------------------------------------------
// Positional file I/O

#[cfg(unix)]
struct FileIo {
    file: File,
}

#[cfg(unix)]
impl FileIo {
    fn new(file: File) -> Self {
        FileIo { file }
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, off)
    }
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.file, buf, off)
    }
    fn with<R>(&self, f: impl FnOnce(&File) -> R) -> R {
        f(&self.file)
    }
}

#[cfg(not(unix))]
struct FileIo {
    file: Mutex<File>,
}

#[cfg(not(unix))]
impl FileIo {
    fn new(file: File) -> Self {
        FileIo {
            file: Mutex::new(file),
        }
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(buf)
    }
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.seek(SeekFrom::Start(off))?;
        f.write_all(buf)
    }
    fn with<R>(&self, f: impl FnOnce(&File) -> R) -> R {
        let g = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f(&g)
    }
}

impl FileIo {
    fn len(&self) -> io::Result<u64> {
        self.with(|f| f.metadata().map(|m| m.len()))
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|f| f.set_len(len))
    }
    fn sync_data(&self) -> io::Result<()> {
        self.with(|f| f.sync_data())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.with(|f| f.sync_all())
    }
    /// Takes the exclusive whole-file lock; `Ok(false)` if another handle holds it.
    fn try_lock(&self) -> io::Result<bool> {
        self.with(|f| match f.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(e),
        })
    }
    fn unlock(&self) -> io::Result<()> {
        self.with(|f| f.unlock())
    }
    /// Reads up to `buf.len()` bytes at `off`, returning how many were there.
    fn read_prefix(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        let len = self.len()?;
        let avail = len.saturating_sub(off).min(buf.len() as u64) as usize;
        self.read_at(&mut buf[..avail], off)?;
        Ok(avail)
    }
}

/// Fsyncs the directory holding `path` (makes a create or rename durable).
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        File::open(parent)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// `<path>.reencrypt`.
pub(crate) fn reencrypt_tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".reencrypt");
    PathBuf::from(s)
}

// ---------------------------------------------------------------------------------------
// Nonces

/// Random nonces drawn from the system CSPRNG in batches (one syscall per 256 blocks).
struct NoncePool {
    buf: [u8; NONCE_LEN * 256],
    pos: usize,
}

impl NoncePool {
    fn new() -> Self {
        NoncePool {
            buf: [0; NONCE_LEN * 256],
            pos: NONCE_LEN * 256,
        }
    }
    fn take(&mut self, rng: &SystemRandom) -> Result<[u8; NONCE_LEN], CryptoError> {
        if self.pos + NONCE_LEN > self.buf.len() {
            random_fill(rng, &mut self.buf)?;
            self.pos = 0;
        }
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&self.buf[self.pos..self.pos + NONCE_LEN]);
        // Never hand out the same bytes twice, even if a later refill failed.
        self.buf[self.pos..self.pos + NONCE_LEN].fill(0);
        self.pos += NONCE_LEN;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------
// The backend

#[derive(Clone, Copy, Debug)]
struct B0 {
    /// Physical slot (0 or 1) holding the current copy of block 0.
    slot: u64,
    /// Its 24-bit sequence number.
    seq: u32,
}

#[derive(Debug)]
struct State {
    /// Logical length in bytes.
    len: u64,
    /// The live copy of block 0; `None` when the file is empty.
    b0: Option<B0>,
}

/// An encrypted file, usable as a redb storage backend
/// (`redb::Builder::new().create_with_backend(EncryptedFile::open(path, &key)?)`).
///
/// Holds an exclusive OS lock on the file from open until drop (or redb's `close`).
/// Its `Debug` output shows the path and length, never key material.
pub struct EncryptedFile {
    io: FileIo,
    path: String,
    /// AES-256-GCM under the data key (ring does not zeroize its expanded key schedule).
    key: LessSafeKey,
    file_id: [u8; 16],
    key_epoch: u32,
    state: RwLock<State>,
    rng: SystemRandom,
    nonces: Mutex<NoncePool>,
    locked: AtomicBool,
}

impl fmt::Debug for EncryptedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.read_state().len;
        f.debug_struct("EncryptedFile")
            .field("path", &self.path)
            .field("logical_len", &len)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Drop for EncryptedFile {
    fn drop(&mut self) {
        if self.locked.swap(false, Ordering::AcqRel) {
            let _ = self.io.unlock();
        }
    }
}

/// Which kind of open `open_inner` does.
pub(crate) enum Mode {
    /// Create when missing or empty, with these KDF parameters and key epoch.
    Create(KdfParams, u32),
    /// The file must exist and be encrypted.
    Existing,
}

impl EncryptedFile {
    /// Opens the encrypted file at `path` with `key`, creating it (with default
    /// [`KdfParams`]) if it is missing or empty.
    pub fn open(path: impl AsRef<Path>, key: &KeySource) -> Result<EncryptedFile, CryptoError> {
        Self::open_with(path, key, KdfParams::default())
    }

    /// Like [`EncryptedFile::open`]; `kdf` is used only when the file is created.
    pub fn open_with(
        path: impl AsRef<Path>,
        key: &KeySource,
        kdf: KdfParams,
    ) -> Result<EncryptedFile, CryptoError> {
        Self::open_inner(path.as_ref(), key, Mode::Create(kdf, 0))
    }

    pub(crate) fn open_inner(
        path: &Path,
        key: &KeySource,
        mode: Mode,
    ) -> Result<EncryptedFile, CryptoError> {
        key.check_usable()?;
        let shown = path.display().to_string();
        let create = matches!(mode, Mode::Create(..));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        let io = FileIo::new(file);
        if !io.try_lock()? {
            return Err(CryptoError::Locked { path: shown });
        }
        // From here on, dropping `io` (on any error) releases the lock with the descriptor.
        match std::fs::remove_file(reencrypt_tmp_path(path)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let rng = SystemRandom::new();
        let phys = io.len()?;
        if phys == 0 {
            let Mode::Create(kdf, epoch) = mode else {
                return Err(CryptoError::NotEncrypted { path: shown });
            };
            let mut file_id = [0u8; 16];
            random_fill(&rng, &mut file_id)?;
            let mut dek = Zeroizing::new([0u8; 32]);
            random_fill(&rng, &mut dek[..])?;
            let slot = header::build_slot(
                &rng,
                &NewSlot {
                    generation: 1,
                    file_id,
                    key_epoch: epoch,
                    key,
                    kdf,
                    dek: &dek,
                },
            )?;
            io.write_at(&slot, 0)?;
            io.write_at(&slot, SLOT_LEN as u64)?;
            io.set_len(DATA_START)?;
            io.sync_all()?;
            sync_parent(path)?;
            return Self::assemble(io, shown, &dek, file_id, epoch, rng, 0, None);
        }
        let mut area = vec![0u8; HEADER_AREA as usize];
        let got = io.read_prefix(&mut area, 0)?;
        area.truncate(got);
        let opened = header::open_header(&area, key, &shown)?;
        let len = logical_len(phys)?;
        let mut f = Self::assemble(
            io,
            shown,
            &opened.dek,
            opened.slot.file_id,
            opened.slot.key_epoch,
            rng,
            len,
            None,
        )?;
        f.verify_at_open()?;
        Ok(f)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        io: FileIo,
        path: String,
        dek: &[u8; 32],
        file_id: [u8; 16],
        key_epoch: u32,
        rng: SystemRandom,
        len: u64,
        b0: Option<B0>,
    ) -> Result<EncryptedFile, CryptoError> {
        let key = aead_key(dek)?;
        Ok(EncryptedFile {
            io,
            path,
            key,
            file_id,
            key_epoch,
            state: RwLock::new(State { len, b0 }),
            rng,
            nonces: Mutex::new(NoncePool::new()),
            locked: AtomicBool::new(true),
        })
    }

    /// Picks the live copy of block 0 and checks the end-of-file marker.
    fn verify_at_open(&mut self) -> Result<(), CryptoError> {
        let len = self.read_state().len;
        if len == 0 {
            return Ok(());
        }
        let b0 = self.select_b0(len)?;
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        st.b0 = Some(b0);
        let st = self.read_state();
        let mut buf = Vec::new();
        self.read_block(&st, nblocks(len) - 1, &mut buf)?;
        Ok(())
    }

    fn select_b0(&self, len: u64) -> Result<B0, CryptoError> {
        let ct = ct_len(len, 0);
        let mut buf = vec![0u8; ct + OVERHEAD];
        let mut best: Option<B0> = None;
        for slot in 0..2u64 {
            if self.io.read_at(&mut buf, slot_off(slot)).is_err() {
                continue;
            }
            if let Ok((_, seq, _)) = self.open_slot(0, &mut buf)
                && best.is_none_or(|b| seq_newer(seq, b.seq))
            {
                best = Some(B0 { slot, seq });
            }
        }
        best.ok_or(CryptoError::Integrity { block: 0 })
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn key_epoch(&self) -> u32 {
        self.key_epoch
    }

    fn aad(&self, block: u64, flags: u8, seq: u32) -> [u8; 33] {
        let mut a = [0u8; 33];
        a[..16].copy_from_slice(&self.file_id);
        a[16..24].copy_from_slice(&block.to_le_bytes());
        a[24] = flags;
        a[25..29].copy_from_slice(&seq.to_le_bytes());
        a[29..33].copy_from_slice(&self.key_epoch.to_le_bytes());
        a
    }

    /// Authenticates and decrypts one slot's bytes (`buf` = header, ciphertext, tag) in
    /// place; returns (flags, seq, plaintext).
    fn open_slot<'b>(
        &self,
        block: u64,
        buf: &'b mut [u8],
    ) -> Result<(u8, u32, &'b mut [u8]), CryptoError> {
        let bad = CryptoError::Integrity { block };
        if buf.len() < OVERHEAD {
            return Err(bad);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&buf[..NONCE_LEN]);
        let flags = buf[12];
        let seq = u32::from_le_bytes([buf[13], buf[14], buf[15], 0]);
        let tag_at = buf.len() - TAG_LEN;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&buf[tag_at..]);
        let aad = self.aad(block, flags, seq);
        let pt = self
            .key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad[..]),
                Tag::from(tag),
                &mut buf[BLOCK_HDR..tag_at],
                0..,
            )
            .map_err(|_| bad)?;
        Ok((flags, seq, pt))
    }

    /// Seals `pt` as block `block` into `out` (header, ciphertext, tag).
    fn seal(
        &self,
        block: u64,
        pt: &[u8],
        last: bool,
        seq: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let nonce = self
            .nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&self.rng)?;
        let flags = if last { FLAG_LAST } else { 0 };
        out.clear();
        out.extend_from_slice(&nonce);
        out.push(flags);
        out.extend_from_slice(&seq.to_le_bytes()[..3]);
        out.extend_from_slice(pt);
        let aad = self.aad(block, flags, seq);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad[..]),
                &mut out[BLOCK_HDR..],
            )
            .map_err(|_| CryptoError::Io(io::Error::other("AES-GCM sealing failed")))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Reads and authenticates logical block `i`; `buf` ends up holding the slot, and the
    /// plaintext is `buf[16..16 + ct_len]`.
    fn read_block(&self, st: &State, i: u64, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        let n = nblocks(st.len);
        if i >= n {
            return Err(CryptoError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "block past the end of the file",
            )));
        }
        let ct = ct_len(st.len, i);
        let slot = if i == 0 {
            match st.b0 {
                Some(b) => b.slot,
                None => return Err(CryptoError::Integrity { block: 0 }),
            }
        } else {
            i + 1
        };
        buf.clear();
        buf.resize(ct + OVERHEAD, 0);
        self.io.read_at(buf, slot_off(slot)).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                CryptoError::Truncated {
                    why: format!("block {i} extends past the end of the file"),
                }
            } else {
                CryptoError::Io(e)
            }
        })?;
        let (flags, seq, _) = self.open_slot(i, buf)?;
        if i == 0 && st.b0.is_some_and(|b| b.seq != seq) {
            return Err(CryptoError::Integrity { block: 0 });
        }
        if i + 1 == n && flags & FLAG_LAST == 0 {
            return Err(CryptoError::Truncated {
                why: format!(
                    "block {i} ends the file but lacks the end-of-file marker: blocks after it \
                     were cut off"
                ),
            });
        }
        Ok(())
    }

    /// Writes logical block `i >= 1` (the whole of its plaintext).
    fn write_block_nz(
        &self,
        st: &State,
        i: u64,
        pt: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let last = i + 1 == nblocks(st.len);
        self.seal(i, pt, last, 0, buf)?;
        self.io.write_at(buf, slot_off(i + 1))?;
        Ok(())
    }

    /// Writes logical block `i` (the whole of its plaintext, `ct_len(st.len, i)` bytes).
    /// Block 0 goes to the slot not holding the live copy, with the next sequence number.
    fn write_block(
        &self,
        st: &mut State,
        i: u64,
        pt: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if pt.len() != ct_len(st.len, i) {
            return Err(CryptoError::Io(io_err_invalid_input(
                "internal: block length mismatch",
            )));
        }
        if i != 0 {
            return self.write_block_nz(st, i, pt, buf);
        }
        let (slot, seq) = match st.b0 {
            Some(b) => (1 - b.slot, b.seq.wrapping_add(1) & SEQ_MASK),
            None => (0, 1),
        };
        let last = nblocks(st.len) == 1;
        self.seal(0, pt, last, seq, buf)?;
        self.io.write_at(buf, slot_off(slot))?;
        st.b0 = Some(B0 { slot, seq });
        Ok(())
    }

    /// Plaintext of block `i`, padded with zeros to `pad_to` bytes.
    fn block_plaintext(
        &self,
        st: &State,
        i: u64,
        pad_to: usize,
        buf: &mut Vec<u8>,
    ) -> Result<Vec<u8>, CryptoError> {
        self.read_block(st, i, buf)?;
        let ct = ct_len(st.len, i);
        let mut pt = buf[BLOCK_HDR..BLOCK_HDR + ct].to_vec();
        pt.resize(pad_to, 0);
        Ok(pt)
    }

    fn set_len_locked(&self, st: &mut State, new: u64) -> Result<(), CryptoError> {
        if new > MAX_LOGICAL {
            return Err(CryptoError::Io(io_err_invalid_input("length too large")));
        }
        let old = st.len;
        if new == old {
            return Ok(());
        }
        let (n_old, n_new) = (nblocks(old), nblocks(new));
        let mut buf = Vec::with_capacity(SLOT_SIZE as usize);
        if new > old {
            // The old last block's plaintext, padded to its new length.
            let old_last = match n_old {
                0 => None,
                n => Some((
                    n - 1,
                    self.block_plaintext(st, n - 1, ct_len(new, n - 1), &mut buf)?,
                )),
            };
            st.len = new;
            // New blocks first (zeros; the new last one carries the end marker). The new
            // last block is written before the ones between, so a process killed part way
            // leaves a file whose physical last block carries the marker: it opens, and
            // the unwritten blocks between (holes, beyond anything redb committed) are
            // never read. In increasing order, a kill would leave an unmarked last block
            // and the open would report a truncation ...
            let zeros = [0u8; BSU];
            let last = n_new - 1;
            self.write_block(st, last, &zeros[..ct_len(new, last)], &mut buf)?;
            for i in n_old..last {
                let ct = ct_len(new, i);
                self.write_block(st, i, &zeros[..ct], &mut buf)?;
            }
            // ... then the old last block, resealed without the marker (or, if it stays
            // the last block, with its longer length).
            if let Some((i, pt)) = old_last {
                self.write_block(st, i, &pt, &mut buf)?;
            }
            self.io.set_len(phys_len(new))?;
        } else if n_new == 0 {
            st.len = 0;
            st.b0 = None;
            self.io.set_len(DATA_START)?;
        } else {
            let k = n_new - 1;
            let pt = self.block_plaintext(st, k, ct_len(new, k), &mut buf)?;
            st.len = new;
            // The new last block with the end marker first, then cut the file.
            self.write_block(st, k, &pt, &mut buf)?;
            self.io.set_len(phys_len(new))?;
        }
        Ok(())
    }

    fn read_impl(&self, offset: u64, out: &mut [u8]) -> Result<(), CryptoError> {
        let st = self.read_state();
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&e| e <= st.len)
            .ok_or_else(|| {
                CryptoError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read of {} bytes at offset {offset} past the end ({} bytes)",
                        out.len(),
                        st.len
                    ),
                ))
            })?;
        let mut buf = Vec::with_capacity(SLOT_SIZE as usize);
        let mut pos = offset;
        let mut done = 0usize;
        while pos < end {
            let i = pos / BS;
            let bo = (pos % BS) as usize;
            let take = ((BS - bo as u64).min(end - pos)) as usize;
            self.read_block(&st, i, &mut buf)?;
            out[done..done + take].copy_from_slice(&buf[BLOCK_HDR + bo..BLOCK_HDR + bo + take]);
            pos += take as u64;
            done += take;
        }
        Ok(())
    }

    fn write_impl(&self, offset: u64, data: &[u8]) -> Result<(), CryptoError> {
        if data.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= MAX_LOGICAL)
            .ok_or_else(|| {
                CryptoError::Io(io_err_invalid_input("write past the maximum length"))
            })?;
        let mut buf = Vec::with_capacity(SLOT_SIZE as usize);
        // Fast path: whole blocks other than block 0, inside the file: no read-modify-write,
        // shared lock only.
        {
            let st = self.read_state();
            if offset >= BS
                && offset.is_multiple_of(BS)
                && end <= st.len
                && (end.is_multiple_of(BS) || end == st.len)
            {
                let mut pos = offset;
                for chunk in data.chunks(BSU) {
                    self.write_block_nz(&st, pos / BS, chunk, &mut buf)?;
                    pos += chunk.len() as u64;
                }
                return Ok(());
            }
        }
        let mut st = self.write_state();
        if end > st.len {
            self.set_len_locked(&mut st, end)?;
        }
        let mut pos = offset;
        let mut done = 0usize;
        while pos < end {
            let i = pos / BS;
            let bo = (pos % BS) as usize;
            let take = ((BS - bo as u64).min(end - pos)) as usize;
            let ct = ct_len(st.len, i);
            let src = &data[done..done + take];
            if bo == 0 && take == ct {
                self.write_block(&mut st, i, src, &mut buf)?;
            } else {
                let mut pt = self.block_plaintext(&st, i, ct, &mut buf)?;
                pt[bo..bo + take].copy_from_slice(src);
                self.write_block(&mut st, i, &pt, &mut buf)?;
            }
            pos += take as u64;
            done += take;
        }
        Ok(())
    }

    fn len_impl(&self) -> Result<u64, CryptoError> {
        let st = self.read_state();
        let phys = self.io.len()?;
        let expected = phys_len(st.len);
        if phys != expected {
            return Err(CryptoError::Truncated {
                why: format!(
                    "the file is {phys} bytes but should be {expected}: it was changed behind \
                     this handle"
                ),
            });
        }
        Ok(st.len)
    }

    /// Copies every block of `src` into this freshly created, empty file.
    pub(crate) fn copy_from(&self, src: &EncryptedFile) -> Result<(), CryptoError> {
        let sst = src.read_state();
        let mut st = self.write_state();
        if st.len != 0 {
            return Err(CryptoError::Io(io_err_invalid_input(
                "internal: copy into a non-empty file",
            )));
        }
        st.len = sst.len;
        let mut rbuf = Vec::with_capacity(SLOT_SIZE as usize);
        let mut wbuf = Vec::with_capacity(SLOT_SIZE as usize);
        for i in 0..nblocks(sst.len) {
            src.read_block(&sst, i, &mut rbuf)?;
            let ct = ct_len(sst.len, i);
            self.write_block(&mut st, i, &rbuf[BLOCK_HDR..BLOCK_HDR + ct], &mut wbuf)?;
        }
        self.io.set_len(phys_len(st.len))?;
        self.io.sync_all()?;
        Ok(())
    }
}

impl redb::StorageBackend for EncryptedFile {
    fn len(&self) -> Result<u64, io::Error> {
        self.len_impl().map_err(CryptoError::into_io)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.read_impl(offset, out).map_err(CryptoError::into_io)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut st = self.write_state();
        self.set_len_locked(&mut st, len)
            .map_err(CryptoError::into_io)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.io.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.write_impl(offset, data).map_err(CryptoError::into_io)
    }

    fn close(&self) -> Result<(), io::Error> {
        if self.locked.swap(false, Ordering::AcqRel) {
            self.io.unlock()?;
        }
        Ok(())
    }
}

/// Reads both header slots of an open, locked file.
pub(crate) fn read_header_area(file: &File) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    let n = len.min(HEADER_AREA) as usize;
    let mut area = vec![0u8; n];
    #[cfg(unix)]
    std::os::unix::fs::FileExt::read_exact_at(file, &mut area, 0)?;
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = file;
        f.seek(SeekFrom::Start(0))?;
        f.read_exact(&mut area)?;
    }
    Ok(area)
}

/// Writes a 4096-byte slot at `off`.
pub(crate) fn write_slot_at(file: &File, slot: &[u8], off: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, slot, off)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = file;
        f.seek(SeekFrom::Start(off))?;
        f.write_all(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_formulas_round_trip() {
        for len in (0..20_000u64).chain([BS * 1000, BS * 1000 + 1, MAX_LOGICAL]) {
            let p = phys_len(len);
            assert_eq!(logical_len(p).ok(), Some(len), "len {len}");
        }
        assert!(logical_len(DATA_START - 1).is_err());
        assert!(logical_len(DATA_START + 1).is_err());
        assert!(logical_len(DATA_START + SLOT_SIZE).is_err());
        assert!(logical_len(DATA_START + SLOT_SIZE + 32).is_err());
        assert_eq!(logical_len(DATA_START + SLOT_SIZE + 33).ok(), Some(1));
        assert!(logical_len(DATA_START + 3 * SLOT_SIZE + 5).is_err());
    }

    #[test]
    fn serial_numbers() {
        assert!(seq_newer(2, 1));
        assert!(!seq_newer(1, 2));
        assert!(seq_newer(0, SEQ_MASK));
        assert!(!seq_newer(SEQ_MASK, 0));
        assert!(!seq_newer(5, 5));
    }
}
