//! The change log: one record per row change or schema change, written in the same redb
//! transaction as the change itself.
//!
//! Records are stored in chunks: a commit's records are packed into chunks of about
//! [`CHUNK_BYTES`], each stored under the position of its first record,
//! `commit_seq u64 BE ++ index u32 BE`, so the log reads in commit order, a commit's chunks
//! are contiguous, and a bulk load writes one B-tree entry per chunk instead of one per
//! change. A chunk, version 1, is `u8 chunk format (1) | u32 LE n | n × (u32 LE length,
//! record)`. Index 0 of every commit is its commit header; the changes follow from index 1.
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

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::key;
use crate::schema::{ColumnId, ColumnSchema, IndexSchema, TableSchema};
use crate::value::{Reader, Value, encode_value};

pub const LOG_FORMAT: u8 = 1;
pub const CHUNK_FORMAT: u8 = 1;
/// A chunk is written once its records pass this size.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The records of one chunk, checked against its length before any is returned.
pub(crate) fn chunk_records(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut r = Reader::new(bytes, "change-log chunk");
    if r.u8()? != CHUNK_FORMAT {
        return Err(r.corrupt("unknown chunk format"));
    }
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

/// Builds chunks for the log.
#[derive(Debug, Default)]
pub(crate) struct ChunkWriter {
    /// `u8 format | u32 count | records`; empty when no record is pending.
    bytes: Vec<u8>,
    count: u32,
}

impl ChunkWriter {
    pub(crate) fn push(&mut self, record: &[u8]) {
        if self.bytes.is_empty() {
            self.bytes.push(CHUNK_FORMAT);
            self.bytes.extend_from_slice(&[0; 4]);
        }
        self.bytes
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(record);
        self.count += 1;
    }

    pub(crate) fn is_full(&self) -> bool {
        self.bytes.len() >= CHUNK_BYTES
    }

    pub(crate) fn records(&self) -> u32 {
        self.count
    }

    /// The finished chunk, if any record is pending; the writer is empty afterwards.
    pub(crate) fn finish(&mut self) -> Option<&[u8]> {
        if self.count == 0 {
            return None;
        }
        self.bytes[1..5].copy_from_slice(&self.count.to_le_bytes());
        self.count = 0;
        Some(&self.bytes)
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.count = 0;
    }

    pub(crate) fn mark(&self) -> ChunkMark {
        ChunkMark {
            len: self.bytes.len(),
            count: self.count,
        }
    }

    /// Returns to `mark`. `flushed` is the chunk written since, which began with the
    /// bytes pending at `mark` (`None` when nothing was flushed in between).
    pub(crate) fn restore(&mut self, mark: &ChunkMark, flushed: Option<&[u8]>) {
        if let Some(chunk) = flushed {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&chunk[..mark.len.min(chunk.len())]);
        }
        self.bytes.truncate(mark.len);
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
}

pub(crate) fn encode_commit_header(h: &CommitHeader, out: &mut Vec<u8>) {
    out.clear();
    out.push(LOG_FORMAT);
    out.push(OP_COMMIT);
    out.extend_from_slice(&h.commit_ts.0.to_le_bytes());
    out.extend_from_slice(&h.origin.0);
    out.extend_from_slice(&h.origin_seq.to_le_bytes());
}

pub(crate) fn decode_commit_header(bytes: &[u8]) -> Result<CommitHeader> {
    let mut r = Reader::new(bytes, "commit header");
    if r.u8()? != LOG_FORMAT || r.u8()? != OP_COMMIT {
        return Err(r.corrupt("not a commit header of a known format"));
    }
    let h = CommitHeader {
        commit_ts: Hlc(r.u64()?),
        origin: NodeId(r.array16()?),
        origin_seq: r.u64()?,
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
