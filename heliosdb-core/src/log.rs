//! The change log: one record per row change or schema change, written in the same redb
//! transaction as the change itself.
//!
//! Records are stored in chunks: a commit's records are packed into chunks, each stored
//! under the position of its first record, `commit_seq u64 BE ++ index u32 BE`, so the log
//! reads in commit order, a commit's chunks are contiguous, and a bulk load writes one
//! B-tree entry per chunk instead of one per change. Chunks, version 2 (written; see
//! [`CHUNK_FORMAT`]):
//! ```text
//! u8      chunk format (2)
//! u8      flags: bit 0 = LZ4; the other bits are 0
//! u32 LE  raw length: the length of the body below, uncompressed
//! body    flag 0: u32 LE n | n × (u32 LE length, record)
//!         LZ4:    that body compressed by `heliosdb_compress::lz4` (its own header:
//!                 u8 codec | u8 version | u32 LE length, equal to the raw length | block)
//! ```
//! A chunk is compressed when that saves at least 1/8 of its body and the body is at most
//! [`LZ4_RAW_MAX`] (a larger one holds a huge record; it is stored as it is, so that the
//! reader never decompresses more than `LZ4_RAW_MAX` bytes and refuses a compressed chunk
//! that claims more). Version 1, written by earlier builds and still read, is
//! `u8 chunk format (1) | u32 LE n | n × (u32 LE length, record)`: the uncompressed body.
//!
//! Chunk size: redb stores a value larger than a page in a leaf (in effect of its own),
//! allocated as a power-of-two number of 4 KiB pages, so a value just over a power of two
//! wastes almost half its allocation (format 1's 64 KiB chunks took 128 KiB each). A chunk
//! is therefore finished when its *stored* size is expected to reach
//! [`CHUNK_STORED_TARGET`], 1/16 under a 32 KiB allocation (less redb's 24 bytes of leaf
//! overhead): the writer scales the raw size at which it finishes by the compression ratio
//! of the chunk it finished last (between that target uncompressed and [`CHUNK_RAW_MAX`]).
//! The first chunk of a write transaction, and any after one stored uncompressed, stop at
//! the target uncompressed, which fits whatever the ratio. The 1/16 margin absorbs a chunk
//! that compresses a little worse than the one before and the record that crosses the
//! threshold. A commit's last chunk is smaller, and a record larger than the target makes
//! a chunk of about its own size. 32 KiB rather than 64: LZ4's window is 64 KiB, so larger
//! chunks compress little better (on the 1M-row sensor table of `cargo xtask
//! bench-compress`, 30.65 MiB of log instead of 30.93), and a reader starting mid-chunk
//! decodes less. On that table (~3.1× on its records) the log went from 95.6 MiB stored
//! plus 95.5 MiB unused (format 1) to 30.9 MiB plus 2.1 MiB.
//!
//! Index 0 of every commit is its commit header; the changes follow from index 1.
//! Records, version 1:
//! ```text
//! commit header (index 0):
//!   u8      log record format (1)
//!   u8      op = 0
//!   u64 LE  commit HLC
//!   16 B    origin node id
//!   u64 LE  origin sequence (the origin node's commit counter)
//! change (index >= 1):
//!   u8      log record format (1)
//!   u8      op (see `Op`)
//!   u16 LE  table name length, then the name (UTF-8)
//!   u32 LE  key length, then the order-preserving key of the row (empty for schema ops)
//!   insert / update: u16 LE n, then n × (u32 LE column id, value)
//!   schema ops:      u32 LE length, then the postcard encoding of the op's payload
//! ```
//! An insert lists every column outside the primary key (the key holds those); an update
//! lists only the columns whose value changed.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::key;
use crate::schema::{ColumnId, ColumnSchema, IndexSchema, TableSchema};
use crate::value::{Reader, Value, encode_value};

pub const LOG_FORMAT: u8 = 1;
/// The chunk format this build writes. Format 1 (uncompressed, no flags) is still read.
pub const CHUNK_FORMAT: u8 = 2;
const CHUNK_FORMAT_V1: u8 = 1;
/// Chunk flag: the body is LZ4-compressed.
const FLAG_LZ4: u8 = 1;
/// `u8 format | u8 flags | u32 raw length`.
const CHUNK_HEADER: usize = 6;
/// The largest body that is compressed, and so the most a reader decompresses. A chunk can
/// be far larger (one record may hold several values of up to `VALUE_BYTES_MAX`, 1 GiB);
/// such a chunk is stored uncompressed, its length backed by its stored bytes.
pub const LZ4_RAW_MAX: usize = 16 << 20;
/// The redb allocation a full chunk is sized for (see the module doc).
const CHUNK_ALLOCATION: usize = 32 * 1024;
/// redb's overhead for a leaf of one entry: a 4-byte page header, the key's and the value's
/// u32 lengths, and the 12-byte key.
const LEAF_OVERHEAD: usize = 4 + 4 + 4 + 12;
/// The stored size a full chunk aims at: 1/16 under its allocation.
pub const CHUNK_STORED_TARGET: usize = CHUNK_ALLOCATION - CHUNK_ALLOCATION / 16 - LEAF_OVERHEAD;
/// The most raw bytes a chunk gathers before it is finished, however well it compresses.
pub const CHUNK_RAW_MAX: usize = 256 * 1024;
/// The raw size at which a chunk of unknown ratio is finished: it fits uncompressed.
const CHUNK_RAW_MIN: usize = CHUNK_STORED_TARGET - CHUNK_HEADER;

fn corrupt_chunk(why: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("change-log chunk: {why}"))
}

/// One stored chunk, decoded to its body: `u32 LE n | n × (u32 LE length, record)`.
/// Borrows the stored bytes when they are uncompressed, owns the decompressed body otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Chunk<'a> {
    body: Cow<'a, [u8]>,
}

impl<'a> Chunk<'a> {
    /// Reads a stored chunk of either format; decompression is bounded by [`LZ4_RAW_MAX`].
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self> {
        let body = match bytes.first() {
            None => return Err(corrupt_chunk("empty")),
            Some(&CHUNK_FORMAT_V1) => Cow::Borrowed(&bytes[1..]),
            Some(&CHUNK_FORMAT) => {
                let mut r = Reader::new(bytes, "change-log chunk");
                r.take(1)?;
                let flags = r.u8()?;
                let raw = r.u32()? as usize;
                let stored = &bytes[CHUNK_HEADER..];
                match flags {
                    0 if stored.len() == raw => Cow::Borrowed(stored),
                    0 => {
                        return Err(corrupt_chunk(format!(
                            "raw length {raw} but {} bytes stored",
                            stored.len()
                        )));
                    }
                    FLAG_LZ4 if raw > LZ4_RAW_MAX => {
                        return Err(corrupt_chunk(format!(
                            "compressed body of {raw} bytes, over the {LZ4_RAW_MAX} allowed"
                        )));
                    }
                    FLAG_LZ4 => {
                        let mut out = Vec::new();
                        heliosdb_compress::lz4::decompress(stored, raw, &mut out)
                            .map_err(corrupt_chunk)?;
                        if out.len() != raw {
                            return Err(corrupt_chunk(format!(
                                "raw length {raw} but the body decompresses to {}",
                                out.len()
                            )));
                        }
                        Cow::Owned(out)
                    }
                    _ => return Err(corrupt_chunk(format!("unknown flags {flags:#04x}"))),
                }
            }
            Some(&format) => return Err(corrupt_chunk(format!("unknown format {format}"))),
        };
        Ok(Chunk { body })
    }

    /// The chunk, no longer borrowing the stored bytes.
    pub(crate) fn into_owned(self) -> Chunk<'static> {
        Chunk {
            body: Cow::Owned(self.body.into_owned()),
        }
    }

    /// The records, checked against the body's length before any is returned.
    pub(crate) fn records(&self) -> Result<Vec<&[u8]>> {
        let bytes = &self.body[..];
        let mut r = Reader::new(bytes, "change-log chunk body");
        let n = r.u32()? as usize;
        // Every record takes at least its 4-byte length: bound the allocation by the bytes.
        if n > bytes.len() / 4 {
            return Err(r.corrupt("record count larger than the chunk"));
        }
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32()? as usize;
            records.push(r.take(len)?);
        }
        if !r.is_empty() {
            return Err(r.corrupt("trailing bytes"));
        }
        Ok(records)
    }
}

/// Builds chunks for the log. Records gather uncompressed (savepoints mark and restore
/// that buffer); a chunk is compressed only when it is finished.
#[derive(Debug, Default)]
pub(crate) struct ChunkWriter {
    /// The body, `u32 count | records`; empty when no record is pending.
    body: Vec<u8>,
    count: u32,
    /// The last finished chunk, as stored.
    out: Vec<u8>,
    /// The body length at which the chunk is full (0: not yet known, [`CHUNK_RAW_MIN`]).
    raw_target: usize,
}

impl ChunkWriter {
    pub(crate) fn push(&mut self, record: &[u8]) {
        if self.body.is_empty() {
            self.body.extend_from_slice(&[0; 4]);
        }
        self.body
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.body.extend_from_slice(record);
        self.count += 1;
    }

    pub(crate) fn is_full(&self) -> bool {
        let target = match self.raw_target {
            0 => CHUNK_RAW_MIN,
            t => t,
        };
        self.body.len() >= target
    }

    pub(crate) fn records(&self) -> u32 {
        self.count
    }

    /// The finished chunk, as stored, if any record is pending; the writer is empty
    /// afterwards (once `clear`ed).
    pub(crate) fn finish(&mut self) -> Option<&[u8]> {
        if self.count == 0 {
            return None;
        }
        self.body[..4].copy_from_slice(&self.count.to_le_bytes());
        self.count = 0;
        let raw = self.body.len();
        self.out.clear();
        self.out.push(CHUNK_FORMAT);
        self.out.push(FLAG_LZ4);
        // A body of 4 GiB or more could not be stored anyway (redb's value lengths are u32).
        self.out.extend_from_slice(&(raw as u32).to_le_bytes());
        let compressed = raw <= LZ4_RAW_MAX && {
            heliosdb_compress::lz4::compress(&self.body, &mut self.out);
            self.out.len() - CHUNK_HEADER <= raw - raw / 8
        };
        if compressed {
            // Aim the next chunk's stored size at the target, at this chunk's ratio.
            let stored = self.out.len();
            self.raw_target = (raw.saturating_mul(CHUNK_STORED_TARGET) / stored)
                .clamp(CHUNK_RAW_MIN, CHUNK_RAW_MAX);
        } else {
            self.out.truncate(CHUNK_HEADER);
            self.out[1] = 0;
            self.out.extend_from_slice(&self.body);
            self.raw_target = CHUNK_RAW_MIN;
        }
        Some(&self.out)
    }

    pub(crate) fn clear(&mut self) {
        self.body.clear();
        self.count = 0;
    }

    pub(crate) fn mark(&self) -> ChunkMark {
        ChunkMark {
            len: self.body.len(),
            count: self.count,
        }
    }

    /// Returns to `mark`. `flushed` is the chunk written since (decoded, so uncompressed),
    /// which began with the records pending at `mark` (`None` when nothing was flushed in
    /// between).
    pub(crate) fn restore(&mut self, mark: &ChunkMark, flushed: Option<&Chunk<'_>>) {
        if let Some(chunk) = flushed {
            self.body.clear();
            self.body
                .extend_from_slice(&chunk.body[..mark.len.min(chunk.body.len())]);
        }
        self.body.truncate(mark.len);
        self.count = mark.count;
    }
}

/// Where a [`ChunkWriter`] was, for savepoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkMark {
    len: usize,
    count: u32,
}

/// A node's stable identity: 16 random bytes, made when its database file is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub [u8; 16]);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Where a record sits in the log. Records are ordered by `(commit_seq, index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogPosition {
    /// The local commit counter: 1 for the first commit that changed anything.
    pub commit_seq: u64,
    /// The record's place within its commit, from 0.
    pub index: u32,
}

impl LogPosition {
    /// The position just after every record of commit `commit_seq`: reading "after" it
    /// yields the changes of later commits.
    pub fn end_of_commit(commit_seq: u64) -> Self {
        LogPosition {
            commit_seq,
            index: u32::MAX,
        }
    }

    pub(crate) fn to_key(self) -> [u8; 12] {
        let mut k = [0u8; 12];
        k[..8].copy_from_slice(&self.commit_seq.to_be_bytes());
        k[8..].copy_from_slice(&self.index.to_be_bytes());
        k
    }

    pub(crate) fn from_key(k: &[u8]) -> Result<Self> {
        let k: &[u8; 12] = k
            .try_into()
            .map_err(|_| Error::Corrupt(format!("change-log key of {} bytes", k.len())))?;
        let (seq, index) = k.split_at(8);
        Ok(LogPosition {
            commit_seq: u64::from_be_bytes(seq.try_into().unwrap_or_default()),
            index: u32::from_be_bytes(index.try_into().unwrap_or_default()),
        })
    }
}

/// What a change record did.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new row; `columns` holds every column that is not part of the primary key.
    Insert {
        key: Vec<Value>,
        columns: Vec<(ColumnId, Value)>,
    },
    /// A changed row; `columns` holds only the columns whose value changed.
    Update {
        key: Vec<Value>,
        columns: Vec<(ColumnId, Value)>,
    },
    Delete {
        key: Vec<Value>,
    },
    /// A schema change to the record's table.
    Schema(SchemaChange),
}

/// A schema change, as logged. (Serializable so that sync can ship it; the log has its own
/// record format, see the module doc.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SchemaChange {
    CreateTable(TableSchema),
    DropTable,
    RenameTable {
        to: String,
    },
    AddColumn(ColumnSchema),
    CreateIndex(IndexSchema),
    DropIndex {
        name: String,
    },
    /// A table extension set (`Some`) or removed (`None`); see `TableSchema::extensions`.
    /// With an empty table name, a database-wide extension (`Catalog::extension`).
    SetExtension {
        key: String,
        value: Option<Vec<u8>>,
    },
}

/// One record of the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    pub position: LogPosition,
    pub commit_ts: Hlc,
    pub origin: NodeId,
    pub origin_seq: u64,
    /// The table's name when the change was made.
    pub table: String,
    pub change: Change,
}

const OP_COMMIT: u8 = 0;
const OP_INSERT: u8 = 1;
const OP_UPDATE: u8 = 2;
const OP_DELETE: u8 = 3;
const OP_CREATE_TABLE: u8 = 10;
const OP_DROP_TABLE: u8 = 11;
const OP_RENAME_TABLE: u8 = 12;
const OP_ADD_COLUMN: u8 = 13;
const OP_CREATE_INDEX: u8 = 14;
const OP_DROP_INDEX: u8 = 15;
const OP_SET_EXTENSION: u8 = 16;

/// The fields every record of one commit shares, stored once in its commit header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommitHeader {
    pub commit_ts: Hlc,
    pub origin: NodeId,
    pub origin_seq: u64,
    /// The local transaction's timestamp: the `valid_from` of the rows the commit wrote.
    /// It differs from `commit_ts` for a replicated commit (stamped at its origin).
    pub local_ts: Hlc,
}

/// The commit header's format: 2 adds `local_ts` (format 1 headers read it as `commit_ts`,
/// which is what it was for every commit but replicated ones).
const HEADER_FORMAT: u8 = 2;

pub(crate) fn encode_commit_header(h: &CommitHeader, out: &mut Vec<u8>) {
    out.clear();
    out.push(HEADER_FORMAT);
    out.push(OP_COMMIT);
    out.extend_from_slice(&h.commit_ts.0.to_le_bytes());
    out.extend_from_slice(&h.origin.0);
    out.extend_from_slice(&h.origin_seq.to_le_bytes());
    out.extend_from_slice(&h.local_ts.0.to_le_bytes());
}

pub(crate) fn decode_commit_header(bytes: &[u8]) -> Result<CommitHeader> {
    let mut r = Reader::new(bytes, "commit header");
    let format = r.u8()?;
    if !(1..=HEADER_FORMAT).contains(&format) || r.u8()? != OP_COMMIT {
        return Err(r.corrupt("not a commit header of a known format"));
    }
    let commit_ts = Hlc(r.u64()?);
    let origin = NodeId(r.array16()?);
    let origin_seq = r.u64()?;
    let local_ts = if format >= 2 {
        Hlc(r.u64()?)
    } else {
        commit_ts
    };
    let h = CommitHeader {
        commit_ts,
        origin,
        origin_seq,
        local_ts,
    };
    if !r.is_empty() {
        return Err(r.corrupt("trailing bytes"));
    }
    Ok(h)
}

fn put_header(table: &str, op: u8, key: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(LOG_FORMAT);
    out.push(op);
    out.extend_from_slice(&(table.len() as u16).to_le_bytes());
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
}

/// Encodes an insert or update record straight from borrowed values.
pub(crate) fn encode_row_change<'v>(
    table: &str,
    is_insert: bool,
    key: &[u8],
    columns: impl Iterator<Item = (ColumnId, &'v Value)>,
    out: &mut Vec<u8>,
) {
    put_header(
        table,
        if is_insert { OP_INSERT } else { OP_UPDATE },
        key,
        out,
    );
    let count_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let mut count: u16 = 0;
    for (id, v) in columns {
        out.extend_from_slice(&id.to_le_bytes());
        encode_value(v, out);
        // A table has at most u16::MAX columns (the stored row's count is a u16 too).
        count = count.saturating_add(1);
    }
    out[count_at..count_at + 2].copy_from_slice(&count.to_le_bytes());
}

pub(crate) fn encode_delete(table: &str, key: &[u8], out: &mut Vec<u8>) {
    put_header(table, OP_DELETE, key, out);
}

/// Encodes a schema change.
pub(crate) fn encode_schema_change(table: &str, change: &SchemaChange, out: &mut Vec<u8>) {
    let (op, payload) = match change {
        SchemaChange::CreateTable(t) => (OP_CREATE_TABLE, postcard::to_stdvec(t)),
        SchemaChange::DropTable => (OP_DROP_TABLE, Ok(Vec::new())),
        SchemaChange::RenameTable { to } => (OP_RENAME_TABLE, postcard::to_stdvec(to)),
        SchemaChange::AddColumn(c) => (OP_ADD_COLUMN, postcard::to_stdvec(c)),
        SchemaChange::CreateIndex(i) => (OP_CREATE_INDEX, postcard::to_stdvec(i)),
        SchemaChange::DropIndex { name } => (OP_DROP_INDEX, postcard::to_stdvec(name)),
        SchemaChange::SetExtension { key, value } => {
            (OP_SET_EXTENSION, postcard::to_stdvec(&(key, value)))
        }
    };
    // Serializing plain structs into a Vec cannot fail.
    let payload = payload.unwrap_or_default();
    put_header(table, op, &[], out);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload);
}

fn from_postcard<'a, T: Deserialize<'a>>(r: &mut Reader<'a>) -> Result<T> {
    let len = r.u32()? as usize;
    let bytes = r.take(len)?;
    postcard::from_bytes(bytes).map_err(|e| r.corrupt(&format!("schema payload: {e}")))
}

/// Decodes a change stored at `position`, in the commit with header `h`.
pub(crate) fn decode(
    h: &CommitHeader,
    position: LogPosition,
    bytes: &[u8],
) -> Result<ChangeRecord> {
    let mut r = Reader::new(bytes, "change record");
    let format = r.u8()?;
    if format != LOG_FORMAT {
        return Err(r.corrupt(&format!("unknown change-record format {format}")));
    }
    let op = r.u8()?;
    let name_len = r.u16()? as usize;
    let table = std::str::from_utf8(r.take(name_len)?)
        .map_err(|_| r.corrupt("table name not UTF-8"))?
        .to_owned();
    let key_len = r.u32()? as usize;
    let key_bytes = r.take(key_len)?;
    let row_key = || key::decode(key_bytes);
    let columns = |r: &mut Reader<'_>| -> Result<Vec<(ColumnId, Value)>> {
        let n = r.u16()? as usize;
        let mut cols = Vec::with_capacity(n);
        for _ in 0..n {
            cols.push((r.u32()?, r.value_ref()?.to_owned()));
        }
        Ok(cols)
    };
    let change = match op {
        OP_INSERT => Change::Insert {
            key: row_key()?,
            columns: columns(&mut r)?,
        },
        OP_UPDATE => Change::Update {
            key: row_key()?,
            columns: columns(&mut r)?,
        },
        OP_DELETE => Change::Delete { key: row_key()? },
        OP_CREATE_TABLE => Change::Schema(SchemaChange::CreateTable(from_postcard(&mut r)?)),
        OP_DROP_TABLE => {
            r.take(4)?;
            Change::Schema(SchemaChange::DropTable)
        }
        OP_RENAME_TABLE => Change::Schema(SchemaChange::RenameTable {
            to: from_postcard(&mut r)?,
        }),
        OP_ADD_COLUMN => Change::Schema(SchemaChange::AddColumn(from_postcard(&mut r)?)),
        OP_CREATE_INDEX => Change::Schema(SchemaChange::CreateIndex(from_postcard(&mut r)?)),
        OP_DROP_INDEX => Change::Schema(SchemaChange::DropIndex {
            name: from_postcard(&mut r)?,
        }),
        OP_SET_EXTENSION => {
            let (key, value) = from_postcard(&mut r)?;
            Change::Schema(SchemaChange::SetExtension { key, value })
        }
        _ => return Err(r.corrupt(&format!("unknown change op {op}"))),
    };
    if !r.is_empty() {
        return Err(r.corrupt("trailing bytes"));
    }
    Ok(ChangeRecord {
        position,
        commit_ts: h.commit_ts,
        origin: h.origin,
        origin_seq: h.origin_seq,
        table,
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_headers_of_both_formats_decode() {
        let h = CommitHeader {
            commit_ts: Hlc(7),
            origin: NodeId([3; 16]),
            origin_seq: 9,
            local_ts: Hlc(11),
        };
        let mut bytes = Vec::new();
        encode_commit_header(&h, &mut bytes);
        assert_eq!(bytes.len(), 42);
        assert_eq!(decode_commit_header(&bytes).unwrap(), h);
        // Format 1: no local time, which was the commit's own.
        let mut v1 = bytes[..34].to_vec();
        v1[0] = 1;
        let old = decode_commit_header(&v1).unwrap();
        assert_eq!(old.local_ts, Hlc(7));
        assert!(decode_commit_header(&bytes[..41]).is_err());
        let mut v3 = bytes.clone();
        v3[0] = 3;
        assert!(decode_commit_header(&v3).is_err());
    }

    /// A small deterministic generator (xorshift64*), so that the tests need no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// A sensor-like insert record: mostly repeated structure, a few varying bytes.
    fn sensor_record(rng: &mut Rng, i: u64) -> Vec<u8> {
        let key = (i as i64).to_be_bytes();
        let temperature = Value::Real(20.0 + (rng.next() % 1000) as f64 / 100.0);
        let humidity = Value::Real(40.0 + (rng.next() % 500) as f64 / 10.0);
        let status = Value::Text(
            if rng.next().is_multiple_of(10) {
                "warn"
            } else {
                "ok"
            }
            .into(),
        );
        let cols = [
            (1, Value::Timestamp(1_700_000_000_000_000 + i as i64 * 1000)),
            (2, Value::Integer((rng.next() % 100) as i64)),
            (3, temperature),
            (4, humidity),
            (5, status),
        ];
        let mut out = Vec::new();
        encode_row_change("t", true, &key, cols.iter().map(|(c, v)| (*c, v)), &mut out);
        out
    }

    fn write_chunk(records: &[Vec<u8>]) -> Vec<u8> {
        let mut w = ChunkWriter::default();
        for r in records {
            w.push(r);
        }
        w.finish().unwrap().to_vec()
    }

    fn read_chunk(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(Chunk::decode(bytes)?
            .records()?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn is_corrupt(r: Result<Vec<Vec<u8>>>) -> bool {
        matches!(r, Err(Error::Corrupt(_)))
    }

    #[test]
    fn compressible_chunks_round_trip_compressed() {
        let mut rng = Rng(1);
        let records: Vec<Vec<u8>> = (0..300).map(|i| sensor_record(&mut rng, i)).collect();
        let chunk = write_chunk(&records);
        assert_eq!(chunk[..2], [CHUNK_FORMAT, FLAG_LZ4]);
        let raw: usize = 4 + records.iter().map(|r| 4 + r.len()).sum::<usize>();
        assert_eq!(chunk[2..6], (raw as u32).to_le_bytes());
        assert!(chunk.len() < raw / 2, "{} of {raw} bytes", chunk.len());
        assert_eq!(read_chunk(&chunk).unwrap(), records);
    }

    #[test]
    fn incompressible_chunks_round_trip_uncompressed() {
        let mut rng = Rng(2);
        let records: Vec<Vec<u8>> = (0..50).map(|i| rng.bytes(10 + i * 7)).collect();
        let chunk = write_chunk(&records);
        assert_eq!(chunk[..2], [CHUNK_FORMAT, 0]);
        let raw = chunk.len() - CHUNK_HEADER;
        assert_eq!(chunk[2..6], (raw as u32).to_le_bytes());
        assert_eq!(read_chunk(&chunk).unwrap(), records);
        // Uncompressed, the body is format 1's.
        assert_eq!(chunk[CHUNK_HEADER..4 + CHUNK_HEADER], 50u32.to_le_bytes());
    }

    #[test]
    fn format_1_chunks_still_read() {
        let records = [b"first".to_vec(), Vec::new(), b"third record".to_vec()];
        let mut chunk = vec![1u8];
        chunk.extend_from_slice(&3u32.to_le_bytes());
        for r in &records {
            chunk.extend_from_slice(&(r.len() as u32).to_le_bytes());
            chunk.extend_from_slice(r);
        }
        assert_eq!(read_chunk(&chunk).unwrap(), records);
        chunk.push(0);
        assert!(is_corrupt(read_chunk(&chunk)), "trailing byte");
        chunk.truncate(chunk.len() - 2);
        assert!(is_corrupt(read_chunk(&chunk)), "truncated");
    }

    #[test]
    fn truncated_chunks_are_corrupt() {
        let mut rng = Rng(3);
        let compressible: Vec<Vec<u8>> = (0..40).map(|i| sensor_record(&mut rng, i)).collect();
        let random: Vec<Vec<u8>> = (0..20).map(|_| rng.bytes(30)).collect();
        for chunk in [write_chunk(&compressible), write_chunk(&random)] {
            for len in 0..chunk.len() {
                assert!(
                    is_corrupt(read_chunk(&chunk[..len])),
                    "prefix of {len} bytes"
                );
            }
        }
    }

    #[test]
    fn damaged_chunks_are_corrupt_or_read_without_panicking() {
        let mut rng = Rng(4);
        let records: Vec<Vec<u8>> = (0..40).map(|i| sensor_record(&mut rng, i)).collect();
        let chunk = write_chunk(&records);
        assert_eq!(chunk[1], FLAG_LZ4);
        for at in 0..chunk.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = chunk.clone();
                damaged[at] ^= flip;
                // A damaged literal can still decode; anything else must be `Corrupt`.
                if let Err(e) = read_chunk(&damaged) {
                    assert!(matches!(e, Error::Corrupt(_)), "byte {at}: {e:?}");
                }
            }
        }
    }

    #[test]
    fn bad_headers_are_corrupt() {
        let records = [b"abc".to_vec()];
        let plain = write_chunk(&records);
        assert_eq!(plain[1], 0);
        let with = |at: usize, bytes: &[u8]| {
            let mut c = plain.clone();
            c[at..at + bytes.len()].copy_from_slice(bytes);
            c
        };
        assert!(is_corrupt(read_chunk(&with(0, &[3]))), "unknown format");
        assert!(is_corrupt(read_chunk(&with(0, &[0]))), "format 0");
        assert!(is_corrupt(read_chunk(&with(1, &[2]))), "unknown flag");
        let raw = plain.len() - CHUNK_HEADER;
        for wrong in [raw - 1, raw + 1, u32::MAX as usize] {
            let c = with(2, &(wrong as u32).to_le_bytes());
            assert!(is_corrupt(read_chunk(&c)), "raw length {wrong} of {raw}");
        }
        assert!(is_corrupt(read_chunk(&[])), "empty");

        // A compressed chunk claiming more than LZ4_RAW_MAX is refused before decoding,
        // whatever its block says.
        let mut rng = Rng(5);
        let records: Vec<Vec<u8>> = (0..40).map(|i| sensor_record(&mut rng, i)).collect();
        let lz4 = write_chunk(&records);
        assert_eq!(lz4[1], FLAG_LZ4);
        let mut huge = lz4.clone();
        huge[2..6].copy_from_slice(&(LZ4_RAW_MAX as u32 + 1).to_le_bytes());
        assert!(is_corrupt(read_chunk(&huge)));
        huge[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(is_corrupt(read_chunk(&huge)));
        // One whose LZ4 header disagrees with the chunk's raw length.
        let raw = u32::from_le_bytes(lz4[2..6].try_into().unwrap());
        for wrong in [raw - 1, raw + 1] {
            let mut c = lz4.clone();
            c[2..6].copy_from_slice(&wrong.to_le_bytes());
            assert!(is_corrupt(read_chunk(&c)), "raw length {wrong} of {raw}");
        }
        // A huge LZ4 header length on an honest chunk header.
        let mut c = lz4.clone();
        c[CHUNK_HEADER + 2..CHUNK_HEADER + 6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(is_corrupt(read_chunk(&c)));
        // A record count larger than the body.
        let mut c = plain.clone();
        c[CHUNK_HEADER..CHUNK_HEADER + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(is_corrupt(read_chunk(&c)));
    }

    #[test]
    fn restore_rebuilds_the_pending_records_from_a_compressed_flushed_chunk() {
        let mut rng = Rng(6);
        let mut w = ChunkWriter::default();
        let before: Vec<Vec<u8>> = (0..10).map(|i| sensor_record(&mut rng, i)).collect();
        for r in &before {
            w.push(r);
        }
        let mark = w.mark();
        let mut i = 10;
        while !w.is_full() {
            w.push(&sensor_record(&mut rng, i));
            i += 1;
        }
        let stored = w.finish().unwrap().to_vec();
        w.clear();
        assert_eq!(stored[1], FLAG_LZ4);
        let flushed = Chunk::decode(&stored).unwrap().into_owned();
        w.restore(&mark, Some(&flushed));
        assert_eq!(w.records(), 10);
        let again = w.finish().unwrap().to_vec();
        assert_eq!(read_chunk(&again).unwrap(), before);

        // Nothing pending at the mark: the flushed chunk's records all go.
        let mut w = ChunkWriter::default();
        let mark = w.mark();
        w.push(b"after");
        let stored = w.finish().unwrap().to_vec();
        w.clear();
        w.restore(&mark, Some(&Chunk::decode(&stored).unwrap()));
        assert_eq!(w.records(), 0);
        assert!(w.finish().is_none());
    }

    #[test]
    fn full_chunks_fit_their_allocation() {
        let mut rng = Rng(7);
        let mut w = ChunkWriter::default();
        let mut sizes = Vec::new();
        for i in 0..100_000 {
            w.push(&sensor_record(&mut rng, i));
            if w.is_full() {
                sizes.push(w.finish().unwrap().len());
                w.clear();
            }
        }
        assert!(sizes.len() > 10);
        let budget = CHUNK_ALLOCATION - LEAF_OVERHEAD;
        for (i, &size) in sizes.iter().enumerate() {
            assert!(size <= budget, "chunk {i}: {size} bytes of {budget}");
        }
        // After the first (sized for an unknown ratio) they fill most of it.
        for &size in &sizes[1..] {
            assert!(size >= CHUNK_STORED_TARGET * 7 / 8, "{size} bytes");
        }
        // Incompressible records: chunks the size of the target, stored as they are.
        let mut w = ChunkWriter::default();
        while !w.is_full() {
            w.push(&rng.bytes(100));
        }
        let chunk = w.finish().unwrap();
        assert_eq!(chunk[1], 0);
        assert!(chunk.len() <= budget && chunk.len() >= CHUNK_STORED_TARGET);
    }
}
