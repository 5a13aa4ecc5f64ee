//! Columnar tables: row groups with each column encoded on its own.
//!
//! A table whose [`StorageOptions::layout`](crate::StorageOptions) is `Columnar` keeps its
//! rows in two places of the `heliosdb.rows` tree, both under the table's id prefix:
//!
//! - the **delta**: rows as they are written, in the ordinary row format under their
//!   rowid key (`table id ++ key(rowid)`). Inserts and the new versions of updated rows go
//!   here, so a write costs what it costs in a row table.
//! - **row groups**: once the delta holds [`GROUP_ROWS`] rows, the write that got it there
//!   packs them, in rowid order, into a group and deletes them from the delta. A group is
//!   a header (row count, rowid range, delete bitmap, per-column zone maps) and one chunk
//!   per column, each encoded by the codec that suits it (integers and timestamps: delta,
//!   frame of reference or RLE; reals: ALP or ALP-RD; text and blobs: dictionary, FSST or
//!   plain), plus two hidden chunks: the rowids and each row's `valid_from`.
//!
//! Keys (no row key has `0xFF` after the table prefix, since no key tag is `0xFF`):
//! ```text
//! table id (u32 BE) ++ FF 00 ++ group (u64 BE)                 group header
//! table id (u32 BE) ++ FF 01 ++ group (u64 BE) ++ part (u32 BE) column chunk
//! ```
//! Parts: 1 = rowids, 2 = valid_from, 16 + column id = a column. A column added after a
//! group was written has no chunk there and reads as its backfill.
//!
//! Group header, format 1:
//! ```text
//! u8 format (1) | u32 LE rows | i64 LE min rowid | i64 LE max rowid | u32 LE deleted
//! | ceil(rows / 8) bytes delete bitmap (bit i of byte i / 8: row i is deleted)
//! | u16 LE zone count | zones: u32 LE column id | u32 LE nulls | u8 codec | u64 LE raw bytes
//!   | u64 LE stored bytes | u8 has min/max | [value min | value max] (row value encoding)
//! ```
//! Chunk, format 1: `u8 format (1) | u8 kind | u32 LE n | u8 has nulls | [ceil(n / 8) bytes
//! null bitmap] | payload`, the payload one heliosdb-compress buffer (kinds 1 integer,
//! 2 real, 3 text, 4 blob, 5 boolean, 6 timestamp), or for kind 7 (vectors) n row values.
//! NULL positions hold 0 / 0.0 / "" in the payload.
//!
//! Deleting a grouped row sets its bit (the group goes when its last row does); updating
//! one sets the bit and writes the new version to the delta under the same rowid. The old
//! version goes to history in the row format either way, so as-of reads and the change log
//! behave as in row tables. A columnar table has no declared primary key and no unique
//! index (a uniqueness check would have to read every group); it scans in storage order:
//! groups, then the delta.

use std::cmp::Ordering;
use std::ops::Bound;

use heliosdb_compress as codec;
use redb::ReadableTable;

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::key;
use crate::row::{decode_row, encode_row, row_header};
use crate::schema::{ColumnId, TableId, TableSchema};
use crate::value::{DataType, Reader, Value, encode_value};

/// Rows per row group (16 ALP vectors of 1,024).
pub const GROUP_ROWS: usize = 16_384;

const HEADER_FORMAT: u8 = 1;
const CHUNK_FORMAT: u8 = 1;
const PART_ROWID: u32 = 1;
const PART_VALID_FROM: u32 = 2;
const PART_COLUMN_BASE: u32 = 16;

const KIND_INTEGER: u8 = 1;
const KIND_REAL: u8 = 2;
const KIND_TEXT: u8 = 3;
const KIND_BLOB: u8 = 4;
const KIND_BOOLEAN: u8 = 5;
const KIND_TIMESTAMP: u8 = 6;
const KIND_VALUES: u8 = 7;

/// The codec byte of a zone for chunks stored as row values (vectors).
const CODEC_VALUES: u8 = 0;

pub(crate) trait RowsTable: ReadableTable<&'static [u8], &'static [u8]> {}
impl<T: ReadableTable<&'static [u8], &'static [u8]>> RowsTable for T {}

fn prefix(table: TableId) -> [u8; 4] {
    table.to_be_bytes()
}

/// The end (exclusive) of a table's delta rows: past every row key, before the groups.
pub(crate) fn delta_end(table: TableId) -> Vec<u8> {
    let mut k = prefix(table).to_vec();
    k.push(0xFF);
    k
}

pub(crate) fn header_key(table: TableId, group: u64) -> Vec<u8> {
    let mut k = prefix(table).to_vec();
    k.extend_from_slice(&[0xFF, 0x00]);
    k.extend_from_slice(&group.to_be_bytes());
    k
}

fn chunk_key(table: TableId, group: u64, part: u32) -> Vec<u8> {
    let mut k = prefix(table).to_vec();
    k.extend_from_slice(&[0xFF, 0x01]);
    k.extend_from_slice(&group.to_be_bytes());
    k.extend_from_slice(&part.to_be_bytes());
    k
}

fn column_part(id: ColumnId) -> Result<u32> {
    PART_COLUMN_BASE
        .checked_add(id)
        .ok_or_else(|| Error::InvalidSchema("column id out of range for a columnar table".into()))
}

/// One column's statistics in one group.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnZone {
    pub column: ColumnId,
    pub nulls: u32,
    /// The codec id (`heliosdb_compress::Codec`), 0 for plain row values.
    pub codec: u8,
    /// Bytes the values take in the row format.
    pub raw_bytes: u64,
    /// Bytes of the chunk.
    pub stored_bytes: u64,
    /// Smallest and largest non-NULL value in key order (`None`: all NULL).
    pub min_max: Option<(Value, Value)>,
}

/// A row group's header.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupHeader {
    pub group: u64,
    pub rows: u32,
    pub min_rowid: i64,
    pub max_rowid: i64,
    pub deleted: u32,
    bitmap: Vec<u8>,
    pub zones: Vec<ColumnZone>,
}

impl GroupHeader {
    pub fn is_deleted(&self, i: usize) -> bool {
        self.bitmap
            .get(i / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    pub(crate) fn set_deleted(&mut self, i: usize) {
        if let Some(b) = self.bitmap.get_mut(i / 8)
            && *b & (1 << (i % 8)) == 0
        {
            *b |= 1 << (i % 8);
            self.deleted += 1;
        }
    }

    pub fn live(&self) -> u32 {
        self.rows.saturating_sub(self.deleted)
    }

    fn zone(&self, column: ColumnId) -> Option<&ColumnZone> {
        self.zones.iter().find(|z| z.column == column)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![HEADER_FORMAT];
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&self.min_rowid.to_le_bytes());
        out.extend_from_slice(&self.max_rowid.to_le_bytes());
        out.extend_from_slice(&self.deleted.to_le_bytes());
        out.extend_from_slice(&self.bitmap);
        out.extend_from_slice(&(self.zones.len() as u16).to_le_bytes());
        for z in &self.zones {
            out.extend_from_slice(&z.column.to_le_bytes());
            out.extend_from_slice(&z.nulls.to_le_bytes());
            out.push(z.codec);
            out.extend_from_slice(&z.raw_bytes.to_le_bytes());
            out.extend_from_slice(&z.stored_bytes.to_le_bytes());
            match &z.min_max {
                Some((min, max)) => {
                    out.push(1);
                    encode_value(min, &mut out);
                    encode_value(max, &mut out);
                }
                None => out.push(0),
            }
        }
        out
    }

    fn decode(group: u64, bytes: &[u8]) -> Result<GroupHeader> {
        let mut r = Reader::new(bytes, "row group header");
        let format = r.u8()?;
        if format > HEADER_FORMAT {
            return Err(Error::NewerFormat {
                found: format as u32,
                supported: HEADER_FORMAT as u32,
            });
        }
        if format != HEADER_FORMAT {
            return Err(r.corrupt("unknown format"));
        }
        let rows = r.u32()?;
        let min_rowid = r.u64()? as i64;
        let max_rowid = r.u64()? as i64;
        let deleted = r.u32()?;
        if rows == 0 || rows as usize > GROUP_ROWS * 4 || deleted > rows || min_rowid > max_rowid {
            return Err(r.corrupt("bad counts"));
        }
        let bitmap = r.take((rows as usize).div_ceil(8))?.to_vec();
        let zone_count = r.u16()?;
        let mut zones = Vec::with_capacity(zone_count as usize);
        for _ in 0..zone_count {
            let column = r.u32()?;
            let nulls = r.u32()?;
            let codec = r.u8()?;
            let raw_bytes = r.u64()?;
            let stored_bytes = r.u64()?;
            let min_max = match r.u8()? {
                0 => None,
                1 => Some((r.value_ref()?.to_owned(), r.value_ref()?.to_owned())),
                _ => return Err(r.corrupt("bad zone flag")),
            };
            zones.push(ColumnZone {
                column,
                nulls,
                codec,
                raw_bytes,
                stored_bytes,
                min_max,
            });
        }
        if !r.is_empty() {
            return Err(r.corrupt("trailing bytes"));
        }
        let header = GroupHeader {
            group,
            rows,
            min_rowid,
            max_rowid,
            deleted,
            bitmap,
            zones,
        };
        let counted: u32 = header.bitmap.iter().map(|b| b.count_ones()).sum();
        if counted != deleted {
            return Err(Error::Corrupt("row group header: delete count".into()));
        }
        Ok(header)
    }
}

/// Bounds on one column that a scan's filter implies: a group whose zone lies outside
/// cannot hold a matching row (NULLs match no comparison) and is skipped.
#[derive(Debug, Clone)]
pub struct ZoneFilter {
    /// Column position.
    pub column: usize,
    pub lower: Bound<Value>,
    pub upper: Bound<Value>,
}

/// Orders two non-NULL values of the same type as keys order them; `None` across types.
fn zone_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    let same = matches!(
        (a, b),
        (Value::Integer(_), Value::Integer(_))
            | (Value::Real(_), Value::Real(_))
            | (Value::Text(_), Value::Text(_))
            | (Value::Timestamp(_), Value::Timestamp(_))
            | (Value::Boolean(_), Value::Boolean(_))
    );
    same.then(|| key::key_cmp(a, b))
}

impl ZoneFilter {
    /// Whether a group whose column spans `zone` (or holds only `backfill`) may match.
    fn may_match(&self, zone: Option<&ColumnZone>, backfill: &Value) -> bool {
        let (min, max) = match zone {
            Some(z) => match &z.min_max {
                Some((min, max)) => (min, max),
                // All NULL: no comparison matches.
                None => return false,
            },
            None if backfill.is_null() => return false,
            None => (backfill, backfill),
        };
        let above_lower = match &self.lower {
            Bound::Unbounded => true,
            Bound::Included(v) => zone_cmp(max, v).is_none_or(|o| o != Ordering::Less),
            Bound::Excluded(v) => zone_cmp(max, v).is_none_or(|o| o == Ordering::Greater),
        };
        let below_upper = match &self.upper {
            Bound::Unbounded => true,
            Bound::Included(v) => zone_cmp(min, v).is_none_or(|o| o != Ordering::Greater),
            Bound::Excluded(v) => zone_cmp(min, v).is_none_or(|o| o == Ordering::Less),
        };
        above_lower && below_upper
    }
}

/// Whether `header` may hold rows matching every filter.
pub(crate) fn group_may_match(
    table: &TableSchema,
    header: &GroupHeader,
    zones: &[ZoneFilter],
) -> bool {
    zones.iter().all(|f| match table.columns.get(f.column) {
        Some(c) => f.may_match(header.zone(c.id), &c.backfill),
        None => true,
    })
}

// --------------------------------------------------------------------------------------
// Chunks
// --------------------------------------------------------------------------------------

fn null_bitmap(values: &[&Value]) -> Option<Vec<u8>> {
    if !values.iter().any(|v| v.is_null()) {
        return None;
    }
    let mut bitmap = vec![0u8; values.len().div_ceil(8)];
    for (i, v) in values.iter().enumerate() {
        if v.is_null() {
            bitmap[i / 8] |= 1 << (i % 8);
        }
    }
    Some(bitmap)
}

/// Encodes one column of a group; returns the chunk and its zone.
fn encode_chunk(
    column: ColumnId,
    data_type: DataType,
    values: &[&Value],
) -> Result<(Vec<u8>, ColumnZone)> {
    let n = u32::try_from(values.len())
        .map_err(|_| Error::InvalidSchema("row group too large".into()))?;
    let kind = match data_type {
        DataType::Integer => KIND_INTEGER,
        DataType::Real => KIND_REAL,
        DataType::Text => KIND_TEXT,
        DataType::Blob => KIND_BLOB,
        DataType::Boolean => KIND_BOOLEAN,
        DataType::Timestamp => KIND_TIMESTAMP,
        DataType::Vector(_) => KIND_VALUES,
    };
    let mut out = vec![CHUNK_FORMAT, kind];
    out.extend_from_slice(&n.to_le_bytes());
    match null_bitmap(values) {
        Some(bitmap) => {
            out.push(1);
            out.extend_from_slice(&bitmap);
        }
        None => out.push(0),
    }
    let mismatch = || {
        Error::Corrupt(format!(
            "a {data_type} column holds a value of another type"
        ))
    };
    let codec_id = match kind {
        KIND_INTEGER | KIND_BOOLEAN | KIND_TIMESTAMP => {
            let ints = values
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(0),
                    Value::Integer(i) | Value::Timestamp(i) => Ok(*i),
                    Value::Boolean(b) => Ok(*b as i64),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<i64>>>()?;
            codec::int::encode_i64(&ints, &mut out) as u8
        }
        KIND_REAL => {
            let reals = values
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(0.0),
                    Value::Real(r) => Ok(*r),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<f64>>>()?;
            codec::alp::encode_f64(&reals, &mut out) as u8
        }
        KIND_TEXT | KIND_BLOB => {
            let bytes = values
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(&[][..]),
                    Value::Text(s) => Ok(s.as_bytes()),
                    Value::Blob(b) => Ok(b.as_slice()),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<&[u8]>>>()?;
            codec::strings::encode_strings(&bytes, &mut out) as u8
        }
        _ => {
            for v in values {
                encode_value(v, &mut out);
            }
            CODEC_VALUES
        }
    };
    let mut raw = Vec::new();
    let mut min_max: Option<(&Value, &Value)> = None;
    let mut nulls = 0u32;
    for v in values {
        raw.clear();
        encode_value(v, &mut raw);
        if v.is_null() {
            nulls += 1;
            continue;
        }
        if kind == KIND_VALUES || kind == KIND_BLOB {
            continue;
        }
        min_max = Some(match min_max {
            None => (v, v),
            Some((lo, hi)) => (
                if key::key_cmp(v, lo) == Ordering::Less {
                    v
                } else {
                    lo
                },
                if key::key_cmp(v, hi) == Ordering::Greater {
                    v
                } else {
                    hi
                },
            ),
        });
    }
    let raw_bytes = values
        .iter()
        .map(|v| {
            raw.clear();
            encode_value(v, &mut raw);
            raw.len() as u64
        })
        .sum();
    let zone = ColumnZone {
        column,
        nulls,
        codec: codec_id,
        raw_bytes,
        stored_bytes: out.len() as u64,
        min_max: min_max.map(|(a, b)| (a.clone(), b.clone())),
    };
    Ok((out, zone))
}

fn corrupt_chunk(e: codec::Error) -> Error {
    Error::Corrupt(format!("columnar chunk: {e}"))
}

/// A chunk's header checked against its group and column: its kind, NULL bitmap and
/// payload.
struct ChunkParts<'a> {
    kind: u8,
    nulls: Option<&'a [u8]>,
    payload: &'a [u8],
}

impl ChunkParts<'_> {
    #[inline]
    fn is_null(&self, i: usize) -> bool {
        self.nulls
            .is_some_and(|b| b.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
    }
}

fn chunk_parts(bytes: &[u8], n: usize, data_type: DataType) -> Result<ChunkParts<'_>> {
    let mut r = Reader::new(bytes, "columnar chunk");
    let format = r.u8()?;
    if format > CHUNK_FORMAT {
        return Err(Error::NewerFormat {
            found: format as u32,
            supported: CHUNK_FORMAT as u32,
        });
    }
    if format != CHUNK_FORMAT {
        return Err(r.corrupt("unknown format"));
    }
    let kind = r.u8()?;
    if r.u32()? as usize != n {
        return Err(r.corrupt("row count differs from its group's"));
    }
    let nulls = match r.u8()? {
        0 => None,
        1 => Some(r.take(n.div_ceil(8))?),
        _ => return Err(r.corrupt("bad null flag")),
    };
    let payload = bytes
        .get(7 + nulls.map_or(0, <[u8]>::len)..)
        .ok_or_else(|| Error::Corrupt("columnar chunk truncated".into()))?;
    let expected = match data_type {
        DataType::Integer => KIND_INTEGER,
        DataType::Real => KIND_REAL,
        DataType::Text => KIND_TEXT,
        DataType::Blob => KIND_BLOB,
        DataType::Boolean => KIND_BOOLEAN,
        DataType::Timestamp => KIND_TIMESTAMP,
        DataType::Vector(_) => KIND_VALUES,
    };
    if kind != expected {
        return Err(Error::Corrupt(format!(
            "columnar chunk of kind {kind} in a {data_type} column"
        )));
    }
    Ok(ChunkParts {
        kind,
        nulls,
        payload,
    })
}

/// Decodes a chunk of `n` values into `out` (cleared first).
fn decode_chunk(bytes: &[u8], n: usize, data_type: DataType, out: &mut Vec<Value>) -> Result<()> {
    let parts = chunk_parts(bytes, n, data_type)?;
    let (kind, payload) = (parts.kind, parts.payload);
    let is_null = |i: usize| parts.is_null(i);
    out.clear();
    out.reserve(n);
    match kind {
        KIND_INTEGER | KIND_BOOLEAN | KIND_TIMESTAMP => {
            let mut ints = Vec::new();
            codec::int::decode_i64(payload, &mut ints).map_err(corrupt_chunk)?;
            if ints.len() != n {
                return Err(Error::Corrupt("columnar chunk: value count".into()));
            }
            out.extend(ints.into_iter().enumerate().map(|(i, x)| {
                if is_null(i) {
                    Value::Null
                } else {
                    match kind {
                        KIND_INTEGER => Value::Integer(x),
                        KIND_TIMESTAMP => Value::Timestamp(x),
                        _ => Value::Boolean(x != 0),
                    }
                }
            }));
        }
        KIND_REAL => {
            let mut reals = Vec::new();
            codec::alp::decode_f64(payload, &mut reals).map_err(corrupt_chunk)?;
            if reals.len() != n {
                return Err(Error::Corrupt("columnar chunk: value count".into()));
            }
            out.extend(reals.into_iter().enumerate().map(|(i, x)| {
                if is_null(i) {
                    Value::Null
                } else {
                    Value::Real(x)
                }
            }));
        }
        KIND_TEXT | KIND_BLOB => {
            let column = codec::strings::StringColumn::parse(payload).map_err(corrupt_chunk)?;
            if column.len() != n {
                return Err(Error::Corrupt("columnar chunk: value count".into()));
            }
            let mut bad_text = false;
            column
                .for_each(|i, b| {
                    out.push(if is_null(i) {
                        Value::Null
                    } else if kind == KIND_BLOB {
                        Value::Blob(b.to_vec())
                    } else {
                        match std::str::from_utf8(b) {
                            Ok(s) => Value::Text(s.to_owned()),
                            Err(_) => {
                                bad_text = true;
                                Value::Null
                            }
                        }
                    })
                })
                .map_err(corrupt_chunk)?;
            if bad_text {
                return Err(Error::Corrupt("columnar chunk: text not UTF-8".into()));
            }
        }
        KIND_VALUES => {
            let mut r = Reader::new(payload, "columnar chunk");
            for _ in 0..n {
                out.push(r.value_ref()?.to_owned());
            }
            if !r.is_empty() {
                return Err(r.corrupt("trailing bytes"));
            }
        }
        _ => {
            return Err(Error::Corrupt(format!(
                "unknown columnar chunk kind {kind}"
            )));
        }
    }
    Ok(())
}

fn decode_ints(bytes: &[u8], n: usize) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    let (format, rest) = bytes
        .split_first()
        .ok_or_else(|| Error::Corrupt("columnar chunk truncated".into()))?;
    if *format != CHUNK_FORMAT {
        return Err(Error::NewerFormat {
            found: *format as u32,
            supported: CHUNK_FORMAT as u32,
        });
    }
    codec::int::decode_i64(rest, &mut out).map_err(corrupt_chunk)?;
    if out.len() != n {
        return Err(Error::Corrupt("columnar chunk: value count".into()));
    }
    Ok(out)
}

fn encode_ints(values: &[i64]) -> Vec<u8> {
    let mut out = vec![CHUNK_FORMAT];
    codec::int::encode_i64(values, &mut out);
    out
}

// --------------------------------------------------------------------------------------
// Reading groups
// --------------------------------------------------------------------------------------

/// Every group header of `table`, in group order.
pub(crate) fn headers(rows: &impl RowsTable, table: TableId) -> Result<Vec<GroupHeader>> {
    let start = header_key(table, 0);
    let end = chunk_key(table, 0, 0);
    let mut out = Vec::new();
    for entry in rows.range(start.as_slice()..end.as_slice())? {
        let (k, v) = entry?;
        let group = k
            .value()
            .get(6..14)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| Error::Corrupt("row group key".into()))?;
        out.push(GroupHeader::decode(group, v.value())?);
    }
    Ok(out)
}

fn chunk(
    rows: &impl RowsTable,
    table: TableId,
    group: u64,
    part: u32,
) -> Result<Option<redb::AccessGuard<'_, &'static [u8]>>> {
    Ok(rows.get(chunk_key(table, group, part).as_slice())?)
}

fn required_chunk(
    rows: &impl RowsTable,
    table: TableId,
    group: u64,
    part: u32,
) -> Result<redb::AccessGuard<'_, &'static [u8]>> {
    chunk(rows, table, group, part)?
        .ok_or_else(|| Error::Corrupt(format!("row group {group} lacks its chunk {part}")))
}

/// The rowids of a group's rows, ascending.
pub(crate) fn rowids(rows: &impl RowsTable, table: TableId, h: &GroupHeader) -> Result<Vec<i64>> {
    let c = required_chunk(rows, table, h.group, PART_ROWID)?;
    decode_ints(c.value(), h.rows as usize)
}

fn valid_froms(rows: &impl RowsTable, table: TableId, h: &GroupHeader) -> Result<Vec<i64>> {
    let c = required_chunk(rows, table, h.group, PART_VALID_FROM)?;
    decode_ints(c.value(), h.rows as usize)
}

/// Decodes the wanted columns of a group: `out[c]` holds every row's value of column `c`
/// (empty for columns not wanted).
pub(crate) fn decode_columns(
    rows: &impl RowsTable,
    table: &TableSchema,
    h: &GroupHeader,
    wanted: Option<&[bool]>,
    out: &mut Vec<Vec<Value>>,
) -> Result<()> {
    let n = h.rows as usize;
    out.resize_with(table.columns.len(), Vec::new);
    for (i, column) in table.columns.iter().enumerate() {
        let values = &mut out[i];
        values.clear();
        if !wanted.is_none_or(|w| w.get(i).copied().unwrap_or(true)) {
            continue;
        }
        match chunk(rows, table.id, h.group, column_part(column.id)?)? {
            Some(c) => decode_chunk(c.value(), n, column.data_type, values)?,
            None => values.resize(n, column.backfill.clone()),
        }
    }
    Ok(())
}

/// A column of a group decoded for a scan: values, or a TEXT column's strings in one
/// buffer, so that a scan copies each into its reused row slot instead of allocating one
/// string per row.
pub(crate) enum ScanColumn {
    Values(Vec<Value>),
    Text {
        text: String,
        /// Where value `i` ends in `text`; it starts where value `i - 1` ends.
        ends: Vec<u32>,
        nulls: Vec<bool>,
    },
}

impl ScanColumn {
    /// Puts value `i` into `slot` (a TEXT slot keeps its allocation); leaves `slot` alone
    /// when the column was not decoded.
    #[inline]
    pub(crate) fn take_into(&mut self, i: usize, slot: &mut Value) {
        match self {
            ScanColumn::Values(values) => {
                if let Some(v) = values.get_mut(i) {
                    *slot = std::mem::replace(v, Value::Null);
                }
            }
            ScanColumn::Text { text, ends, nulls } => {
                let (Some(&end), Some(&null)) = (ends.get(i), nulls.get(i)) else {
                    return;
                };
                if null {
                    *slot = Value::Null;
                    return;
                }
                let start = if i == 0 { 0 } else { ends[i - 1] as usize };
                let s = text.get(start..end as usize).unwrap_or_default();
                match slot {
                    Value::Text(t) => {
                        t.clear();
                        t.push_str(s);
                    }
                    _ => *slot = Value::Text(s.to_owned()),
                }
            }
        }
    }
}

/// Decodes the wanted columns of a group for a scan (see [`ScanColumn`]).
pub(crate) fn decode_scan_columns(
    rows: &impl RowsTable,
    table: &TableSchema,
    h: &GroupHeader,
    wanted: Option<&[bool]>,
    out: &mut Vec<ScanColumn>,
) -> Result<()> {
    let n = h.rows as usize;
    out.resize_with(table.columns.len(), || ScanColumn::Values(Vec::new()));
    for (i, column) in table.columns.iter().enumerate() {
        let slot = &mut out[i];
        if !wanted.is_none_or(|w| w.get(i).copied().unwrap_or(true)) {
            *slot = ScanColumn::Values(Vec::new());
            continue;
        }
        let Some(c) = chunk(rows, table.id, h.group, column_part(column.id)?)? else {
            *slot = ScanColumn::Values(vec![column.backfill.clone(); n]);
            continue;
        };
        if column.data_type != DataType::Text {
            if !matches!(slot, ScanColumn::Values(_)) {
                *slot = ScanColumn::Values(Vec::new());
            }
            if let ScanColumn::Values(values) = slot {
                decode_chunk(c.value(), n, column.data_type, values)?;
            }
            continue;
        }
        let parts = chunk_parts(c.value(), n, column.data_type)?;
        let strings = codec::strings::StringColumn::parse(parts.payload).map_err(corrupt_chunk)?;
        if strings.len() != n {
            return Err(Error::Corrupt("columnar chunk: value count".into()));
        }
        if !matches!(slot, ScanColumn::Text { .. }) {
            *slot = ScanColumn::Text {
                text: String::new(),
                ends: Vec::new(),
                nulls: Vec::new(),
            };
        }
        let ScanColumn::Text { text, ends, nulls } = slot else {
            continue;
        };
        text.clear();
        ends.clear();
        nulls.clear();
        let mut bad = false;
        strings
            .for_each(|i, b| {
                let null = parts.is_null(i);
                if !null {
                    match std::str::from_utf8(b) {
                        Ok(s) => text.push_str(s),
                        Err(_) => bad = true,
                    }
                }
                nulls.push(null);
                ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
            })
            .map_err(corrupt_chunk)?;
        if bad || u32::try_from(text.len()).is_err() {
            return Err(Error::Corrupt(
                "columnar chunk: text not UTF-8 or too long".into(),
            ));
        }
    }
    Ok(())
}

/// Rebuilds the stored-row bytes of row `i` of a group from decoded columns.
fn row_bytes_at(
    columns: &mut [Vec<Value>],
    valid_from: i64,
    rowid: i64,
    i: usize,
    out: &mut Vec<u8>,
) {
    let values: Vec<Value> = columns
        .iter_mut()
        .map(|c| std::mem::replace(&mut c[i], Value::Null))
        .collect();
    encode_row(Hlc(valid_from as u64), Some(rowid), &values, out);
}

/// Every live row of a group as (rowid, stored-row bytes), in rowid order.
pub(crate) fn group_rows(
    rows: &impl RowsTable,
    table: &TableSchema,
    h: &GroupHeader,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let ids = rowids(rows, table.id, h)?;
    let froms = valid_froms(rows, table.id, h)?;
    let mut columns = Vec::new();
    decode_columns(rows, table, h, None, &mut columns)?;
    let mut out = Vec::with_capacity(h.live() as usize);
    for i in 0..h.rows as usize {
        if h.is_deleted(i) {
            continue;
        }
        let mut bytes = Vec::new();
        row_bytes_at(&mut columns, froms[i], ids[i], i, &mut bytes);
        out.push((ids[i], bytes));
    }
    Ok(out)
}

/// Where a grouped row is: its group's header and its index there.
pub(crate) struct Located {
    pub(crate) header: GroupHeader,
    pub(crate) index: usize,
}

/// Finds the live grouped row with `rowid`.
pub(crate) fn locate(rows: &impl RowsTable, table: TableId, rowid: i64) -> Result<Option<Located>> {
    for header in headers(rows, table)? {
        if rowid < header.min_rowid || rowid > header.max_rowid {
            continue;
        }
        let ids = rowids(rows, table, &header)?;
        if let Ok(index) = ids.binary_search(&rowid)
            && !header.is_deleted(index)
        {
            return Ok(Some(Located { header, index }));
        }
    }
    Ok(None)
}

/// The stored-row bytes of a located row.
pub(crate) fn located_bytes(
    rows: &impl RowsTable,
    table: &TableSchema,
    at: &Located,
) -> Result<Vec<u8>> {
    let ids = rowids(rows, table.id, &at.header)?;
    let froms = valid_froms(rows, table.id, &at.header)?;
    let mut columns = Vec::new();
    decode_columns(rows, table, &at.header, None, &mut columns)?;
    let mut out = Vec::new();
    row_bytes_at(
        &mut columns,
        froms[at.index],
        ids[at.index],
        at.index,
        &mut out,
    );
    Ok(out)
}

/// The rowid of a stored key, for a table without a declared key.
pub(crate) fn rowid_of_key(pk: &[u8]) -> Result<i64> {
    match key::decode(pk)?.as_slice() {
        [Value::Integer(i)] => Ok(*i),
        _ => Err(Error::Corrupt("a rowid key is not an integer".into())),
    }
}

/// The largest rowid in the groups, if any.
pub(crate) fn max_grouped_rowid(rows: &impl RowsTable, table: TableId) -> Result<Option<i64>> {
    Ok(headers(rows, table)?.iter().map(|h| h.max_rowid).max())
}

// --------------------------------------------------------------------------------------
// Writing groups (through the write transaction's undo-aware put/del)
// --------------------------------------------------------------------------------------

/// The writes that turn `delta` rows (rowid, stored bytes, in rowid order) into group
/// `group`: (key, value) pairs to put.
pub(crate) fn build_group(
    table: &TableSchema,
    group: u64,
    delta: &[(i64, Vec<u8>)],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let n = delta.len();
    let mut ids = Vec::with_capacity(n);
    let mut froms = Vec::with_capacity(n);
    let mut rows = Vec::with_capacity(n);
    for (rowid, bytes) in delta {
        ids.push(*rowid);
        froms.push(row_header(bytes)?.0.0 as i64);
        rows.push(decode_row(table, bytes)?);
    }
    let (Some(&min_rowid), Some(&max_rowid)) = (ids.first(), ids.last()) else {
        return Err(Error::InvalidSchema("an empty row group".into()));
    };
    let mut writes = vec![
        (chunk_key(table.id, group, PART_ROWID), encode_ints(&ids)),
        (
            chunk_key(table.id, group, PART_VALID_FROM),
            encode_ints(&froms),
        ),
    ];
    let mut zones = Vec::with_capacity(table.columns.len());
    for (i, column) in table.columns.iter().enumerate() {
        let values: Vec<&Value> = rows.iter().map(|r| &r[i]).collect();
        let (bytes, zone) = encode_chunk(column.id, column.data_type, &values)?;
        writes.push((chunk_key(table.id, group, column_part(column.id)?), bytes));
        zones.push(zone);
    }
    let header = GroupHeader {
        group,
        rows: n as u32,
        min_rowid,
        max_rowid,
        deleted: 0,
        bitmap: vec![0; n.div_ceil(8)],
        zones,
    };
    writes.push((header_key(table.id, group), header.encode()));
    Ok(writes)
}

/// The next group number of a table.
pub(crate) fn next_group(rows: &impl RowsTable, table: TableId) -> Result<u64> {
    let start = header_key(table, 0);
    let end = chunk_key(table, 0, 0);
    let last = rows
        .range(start.as_slice()..end.as_slice())?
        .next_back()
        .transpose()?;
    Ok(match last {
        Some((k, _)) => k
            .value()
            .get(6..14)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| Error::Corrupt("row group key".into()))?
            .checked_add(1)
            .ok_or_else(|| Error::Corrupt("row group numbers exhausted".into()))?,
        None => 1,
    })
}

/// Every key of a group (header and chunks), to remove it.
pub(crate) fn group_keys(table: TableId, header: &GroupHeader) -> Result<Vec<Vec<u8>>> {
    let mut keys = vec![
        header_key(table, header.group),
        chunk_key(table, header.group, PART_ROWID),
        chunk_key(table, header.group, PART_VALID_FROM),
    ];
    for z in &header.zones {
        keys.push(chunk_key(table, header.group, column_part(z.column)?));
    }
    Ok(keys)
}

/// A group decoded whole, as the write transaction keeps the last one it touched.
pub(crate) struct DecodedGroup {
    pub(crate) table: TableId,
    pub(crate) group: u64,
    pub(crate) rowids: Vec<i64>,
    pub(crate) valid_from: Vec<i64>,
    pub(crate) columns: Vec<Vec<Value>>,
}

impl DecodedGroup {
    pub(crate) fn read(
        rows: &impl RowsTable,
        table: &TableSchema,
        h: &GroupHeader,
    ) -> Result<Self> {
        let mut columns = Vec::new();
        decode_columns(rows, table, h, None, &mut columns)?;
        Ok(DecodedGroup {
            table: table.id,
            group: h.group,
            rowids: rowids(rows, table.id, h)?,
            valid_from: valid_froms(rows, table.id, h)?,
            columns,
        })
    }

    /// The stored-row bytes of row `i`.
    pub(crate) fn row_bytes(&self, i: usize) -> Result<Vec<u8>> {
        let values: Vec<Value> = self
            .columns
            .iter()
            .map(|c| c.get(i).cloned().unwrap_or(Value::Null))
            .collect();
        let (Some(&rowid), Some(&from)) = (self.rowids.get(i), self.valid_from.get(i)) else {
            return Err(Error::Corrupt("row group index out of range".into()));
        };
        let mut out = Vec::new();
        encode_row(Hlc(from as u64), Some(rowid), &values, &mut out);
        Ok(out)
    }
}

// --------------------------------------------------------------------------------------
// Statistics
// --------------------------------------------------------------------------------------

/// Per column of a columnar table: the codecs its groups use, its values, raw and stored
/// bytes (group chunks as written, deleted rows included); the delta counts as row-format
/// storage.
pub(crate) fn compression_stats(
    r: &crate::ReadTxn,
    table: &TableSchema,
) -> Result<Vec<crate::compress::ColumnStats>> {
    let rows = r.rows_tree();
    let headers = headers(rows, table.id)?;
    let mut out = Vec::with_capacity(table.columns.len());
    // The delta, measured once for all columns.
    let mut delta_raw = vec![0u64; table.columns.len()];
    let mut delta_rows = 0u64;
    let start = prefix(table.id);
    let end = delta_end(table.id);
    let mut buf = Vec::new();
    for entry in rows.range(&start[..]..end.as_slice())? {
        let (_, v) = entry?;
        delta_rows += 1;
        for (i, value) in decode_row(table, v.value())?.iter().enumerate() {
            buf.clear();
            encode_value(value, &mut buf);
            delta_raw[i] += buf.len() as u64;
        }
    }
    for (i, column) in table.columns.iter().enumerate() {
        let mut codecs: Vec<&'static str> = Vec::new();
        let (mut values, mut raw, mut stored) = (delta_rows, delta_raw[i], delta_raw[i]);
        for h in &headers {
            values += h.live() as u64;
            if let Some(z) = h.zone(column.id) {
                raw += z.raw_bytes;
                stored += z.stored_bytes;
                let name = codec::Codec::from_u8(z.codec).map_or("plain", codec::Codec::name);
                if !codecs.contains(&name) {
                    codecs.push(name);
                }
            }
        }
        if delta_rows > 0 {
            codecs.push("row");
        }
        out.push(crate::compress::ColumnStats {
            column: column.name.clone(),
            codec: codecs.join("+"),
            values,
            raw_bytes: raw,
            stored_bytes: stored,
        });
    }
    Ok(out)
}
