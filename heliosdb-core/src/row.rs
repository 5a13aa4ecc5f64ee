//! The stored row format and a zero-copy view of it.
//!
//! Version 1:
//! ```text
//! u8      row format (1)
//! u64 LE  valid_from: the HLC of the commit that wrote this version
//! u16 LE  number of values n
//! i64 LE  rowid — only in tables without a declared primary key
//! n × value (see `value::encode_value`), in column order
//! ```
//! A table with a declared key finds its key among the values, so the row needs no copy of
//! it and a read needs nothing but the row's bytes.
//! A row may hold fewer values than the table has columns: the missing trailing columns
//! were added later and read as their `backfill` value. History entries hold the same bytes.
//!
//! In a row table, a TEXT value of a column set to compress may be stored as TEXT-FSST
//! (tag 9) or TEXT-LZ4 (tag 10) instead of plain TEXT (see `value.rs` and `compress.rs`,
//! written by [`encode_table_row`]); every read here returns it as a plain `Value::Text`,
//! and skipping over it does not decode it.

use redb::AccessGuard;

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::key;
use crate::schema::TableSchema;
use crate::value::{Reader, StoredRef, Value, ValueCow, ValueRef, encode_value};

pub const ROW_FORMAT: u8 = 1;
const HEADER_BYTES: usize = 1 + 8 + 2;

/// Encodes a row version written at `valid_from`; `rowid` for tables without a key.
pub(crate) fn encode_row(valid_from: Hlc, rowid: Option<i64>, values: &[Value], out: &mut Vec<u8>) {
    out.clear();
    out.push(ROW_FORMAT);
    out.extend_from_slice(&valid_from.0.to_le_bytes());
    out.extend_from_slice(&(values.len() as u16).to_le_bytes());
    if let Some(rowid) = rowid {
        out.extend_from_slice(&rowid.to_le_bytes());
    }
    for v in values {
        encode_value(v, out);
    }
}

/// Encodes a row version of `table` as [`encode_row`] does, storing TEXT values compressed
/// where the table's settings say so and it pays (see `compress.rs`), and noting them for
/// training symbol tables.
pub(crate) fn encode_table_row(
    table: &TableSchema,
    valid_from: Hlc,
    rowid: Option<i64>,
    values: &[Value],
    out: &mut Vec<u8>,
) {
    encode_table_row_with(table, valid_from, rowid, values, out, true);
}

/// [`encode_table_row`]; `sample`: whether the values count for training and drift.
pub(crate) fn encode_table_row_with(
    table: &TableSchema,
    valid_from: Hlc,
    rowid: Option<i64>,
    values: &[Value],
    out: &mut Vec<u8>,
    sample: bool,
) {
    let codecs = table.row_codecs();
    if !codecs.any {
        return encode_row(valid_from, rowid, values, out);
    }
    if sample {
        crate::compress::observe(table, values);
    }
    out.clear();
    out.push(ROW_FORMAT);
    out.extend_from_slice(&valid_from.0.to_le_bytes());
    out.extend_from_slice(&(values.len() as u16).to_le_bytes());
    if let Some(rowid) = rowid {
        out.extend_from_slice(&rowid.to_le_bytes());
    }
    for (v, c) in values.iter().zip(&codecs.columns) {
        match v {
            Value::Text(s) if c.mode != crate::compress::Mode::Off => {
                crate::compress::encode_text(c, s, out)
            }
            v => encode_value(v, out),
        }
    }
}

/// Re-encodes a stored row of `table` with the table's current compression settings: the
/// same values (as many as the row holds), the same `valid_from` and rowid.
pub(crate) fn reencode_row(table: &TableSchema, bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let (valid_from, n) = row_header(bytes)?;
    let rowid = if table.has_rowid() {
        let b: [u8; 8] = bytes
            .get(HEADER_BYTES..HEADER_BYTES + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Corrupt("row truncated before its rowid".into()))?;
        Some(i64::from_le_bytes(b))
    } else {
        None
    };
    let mut values = decode_row(table, bytes)?;
    values.truncate(n);
    encode_table_row_with(table, valid_from, rowid, &values, out, false);
    Ok(())
}

/// The header of a stored row: its validity start and value count.
#[inline]
pub(crate) fn row_header(bytes: &[u8]) -> Result<(Hlc, usize)> {
    let mut r = Reader::new(bytes, "row");
    if r.u8()? != ROW_FORMAT {
        return Err(r.corrupt("unknown row format"));
    }
    let valid_from = Hlc(r.u64()?);
    let n = r.u16()? as usize;
    Ok((valid_from, n))
}

/// Where the values of a row of `table` start.
fn values_start(table: &TableSchema) -> usize {
    if table.has_rowid() {
        HEADER_BYTES + 8
    } else {
        HEADER_BYTES
    }
}

/// Decodes all values of a stored row, filling columns added later with their backfill.
pub(crate) fn decode_row(table: &TableSchema, bytes: &[u8]) -> Result<Vec<Value>> {
    let (_, n) = row_header(bytes)?;
    if n > table.columns.len() {
        return Err(Error::Corrupt(format!(
            "a row of {} has {n} values but the table has {} columns",
            table.name,
            table.columns.len()
        )));
    }
    let start = values_start(table);
    let mut r = Reader::new(bytes.get(start..).unwrap_or_default(), "row");
    let mut values = Vec::with_capacity(table.columns.len());
    for at in 0..n {
        values.push(crate::compress::decode_stored(table, at, r.stored_ref()?)?.into_owned());
    }
    if !r.is_empty() {
        return Err(r.corrupt("trailing bytes"));
    }
    values.extend(table.columns[n..].iter().map(|c| c.backfill.clone()));
    Ok(values)
}

/// One row read from a snapshot, borrowed from the storage engine's pages.
///
/// Values are decoded lazily: [`StoredRow::get`] borrows a value from the page without
/// allocating (a compressed TEXT is decoded into a `String`); [`StoredRow::values`]
/// decodes the whole row.
pub struct StoredRow<'t> {
    pub(crate) table: &'t TableSchema,
    pub(crate) value: RowBytes,
}

/// A stored row's bytes: on redb's page, or rebuilt (a columnar table's row).
pub(crate) enum RowBytes {
    Page(AccessGuard<'static, &'static [u8]>),
    Owned(Vec<u8>),
}

impl From<AccessGuard<'static, &'static [u8]>> for RowBytes {
    fn from(guard: AccessGuard<'static, &'static [u8]>) -> Self {
        RowBytes::Page(guard)
    }
}

impl<'t> StoredRow<'t> {
    fn bytes(&self) -> &[u8] {
        match &self.value {
            RowBytes::Page(guard) => guard.value(),
            RowBytes::Owned(bytes) => bytes,
        }
    }

    /// The primary-key values (the rowid for tables without a declared key).
    pub fn key(&self) -> Result<Vec<Value>> {
        if self.table.has_rowid() {
            let b = self.bytes().get(HEADER_BYTES..HEADER_BYTES + 8);
            let b: [u8; 8] = b
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| Error::Corrupt("row truncated before its rowid".into()))?;
            return Ok(vec![Value::Integer(i64::from_le_bytes(b))]);
        }
        self.table
            .primary_key
            .iter()
            .map(|&c| Ok(self.get(c)?.into_owned()))
            .collect()
    }

    /// The encoded primary key (order-preserving encoding, see [`crate::key`]).
    pub fn key_bytes(&self) -> Result<Vec<u8>> {
        Ok(key::encode(&self.key()?))
    }

    /// The commit timestamp that wrote this version.
    pub fn valid_from(&self) -> Result<Hlc> {
        Ok(row_header(self.bytes())?.0)
    }

    /// The value of column `column` (by position): borrowed from the page, or decoded
    /// when it is a compressed TEXT (use [`ValueCow::as_ref`] to match on it).
    #[inline]
    pub fn get(&self, column: usize) -> Result<ValueCow<'_>> {
        let bytes = self.bytes();
        let (_, n) = row_header(bytes)?;
        if column >= n {
            return match self.table.columns.get(column) {
                Some(c) => Ok(ValueCow::Ref(c.backfill_ref())),
                None => Err(Error::ColumnNotFound {
                    table: self.table.name.clone(),
                    column: format!("#{column}"),
                }),
            };
        }
        let start = values_start(self.table);
        let mut r = Reader::new(bytes.get(start..).unwrap_or_default(), "row");
        for _ in 0..column {
            r.skip_value()?;
        }
        crate::compress::decode_stored(self.table, column, r.stored_ref()?)
    }

    /// All values, owned.
    pub fn values(&self) -> Result<Vec<Value>> {
        decode_row(self.table, self.bytes())
    }

    /// Decodes the row into `out` (cleared first), one value per table column; with
    /// `wanted`, only the columns marked true are decoded and the others read as NULL, so
    /// a scan that needs two integers of a wide row allocates nothing for the rest.
    pub fn decode_into(&self, wanted: Option<&[bool]>, out: &mut Vec<Value>) -> Result<()> {
        let bytes = self.bytes();
        let (_, n) = row_header(bytes)?;
        let columns = &self.table.columns;
        if n > columns.len() {
            return Err(Error::Corrupt(format!(
                "a row of {} has {n} values but the table has {} columns",
                self.table.name,
                columns.len()
            )));
        }
        // Every slot starts NULL and wanted values are written in place: building a value
        // on the stack and pushing it costs a store-forwarding stall per value.
        out.clear();
        out.resize(columns.len(), Value::Null);
        let start = values_start(self.table);
        let mut r = Reader::new(bytes.get(start..).unwrap_or_default(), "row");
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            if wanted.is_none_or(|w| w.get(i).copied().unwrap_or(true)) {
                match r.stored_ref()? {
                    StoredRef::Plain(ValueRef::Integer(x)) => *slot = Value::Integer(x),
                    StoredRef::Plain(ValueRef::Null) => {}
                    StoredRef::Plain(other) => *slot = other.to_owned(),
                    compressed => {
                        *slot =
                            crate::compress::decode_stored(self.table, i, compressed)?.into_owned()
                    }
                }
            } else {
                r.skip_value()?;
            }
        }
        if !r.is_empty() {
            return Err(r.corrupt("trailing bytes"));
        }
        for (slot, column) in out.iter_mut().zip(columns).skip(n) {
            *slot = column.backfill.clone();
        }
        Ok(())
    }

    pub fn table(&self) -> &TableSchema {
        self.table
    }

    /// Adds this row's stored values to per-column totals (see `compress.rs`).
    pub(crate) fn measure(&self, totals: &mut [crate::compress::ColumnTotals]) -> Result<()> {
        let bytes = self.bytes();
        let (_, n) = row_header(bytes)?;
        let start = values_start(self.table);
        let mut r = Reader::new(bytes.get(start..).unwrap_or_default(), "row");
        for at in 0..n.min(totals.len()) {
            let (tag, framed) = r.next_framed()?;
            crate::compress::measure(self.table, at, tag, framed, &mut totals[at])?;
        }
        Ok(())
    }
}

impl crate::schema::ColumnSchema {
    fn backfill_ref(&self) -> ValueRef<'_> {
        match &self.backfill {
            Value::Null => ValueRef::Null,
            Value::Boolean(b) => ValueRef::Boolean(*b),
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Timestamp(t) => ValueRef::Timestamp(*t),
            // `Catalog::add_column` refuses a non-NULL vector backfill, so this is NULL.
            Value::Vector(_) => ValueRef::Null,
        }
    }
}
