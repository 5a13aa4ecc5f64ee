//! Typed values, their declared types, and the row-value codec.
//!
//! The row-value codec is the format a column value has inside a stored row and inside a
//! change record: one tag byte, then a fixed-width little-endian payload or a `u32` length
//! and bytes. It is not order-preserving; [`crate::key`] is.
//!
//! | tag | value | payload |
//! | --- | --- | --- |
//! | 0 / 1 / 2 | NULL / false / true | none |
//! | 3 / 4 / 7 | INTEGER / REAL (bits) / TIMESTAMP | 8 bytes LE |
//! | 5 / 6 | TEXT / BLOB | `u32 LE length` + bytes |
//! | 8 | VECTOR | `u32 LE dimension` + `f32` LE each |
//! | 9 | TEXT, FSST | `u32 LE symbol-table id` + `u32 LE code length` + codes |
//! | 10 | TEXT, LZ4 | `u32 LE length` + `heliosdb_compress::lz4` bytes |
//!
//! Tags 9 and 10 appear only in stored rows and history versions of row tables (see
//! `compress.rs`), never in keys or change records: the log keeps plain values, so
//! replicas and sync never see another node's symbol tables. A compressed form is written
//! only when it is shorter than the plain one. [`Reader::value_ref`] refuses them (it
//! reads log records); row reads use [`Reader::stored_ref`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The declared type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Boolean,
    Integer,
    Real,
    Text,
    Blob,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
    /// A vector of `f32` with a fixed dimension.
    Vector(u32),
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Boolean => f.write_str("BOOLEAN"),
            DataType::Integer => f.write_str("INTEGER"),
            DataType::Real => f.write_str("REAL"),
            DataType::Text => f.write_str("TEXT"),
            DataType::Blob => f.write_str("BLOB"),
            DataType::Timestamp => f.write_str("TIMESTAMP"),
            DataType::Vector(n) => write!(f, "VECTOR({n})"),
        }
    }
}

/// An owned value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Value {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    Vector(Vec<f32>),
}

/// A value borrowed from stored bytes (no allocation for text and blobs).
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
    Timestamp(i64),
    /// Little-endian `f32`s, as stored.
    Vector(&'a [u8]),
}

/// A value read from a stored row: borrowed from the page, or a TEXT that was stored
/// compressed and had to be decoded (compression is invisible to readers, but a decoded
/// string cannot borrow the page). [`ValueCow::as_ref`] gives a [`ValueRef`] either way.
#[derive(Debug, Clone)]
pub enum ValueCow<'a> {
    Ref(ValueRef<'a>),
    Text(String),
}

impl<'a> ValueCow<'a> {
    /// The value as a [`ValueRef`], borrowed from the page or from this decoded string.
    #[inline]
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            ValueCow::Ref(v) => *v,
            ValueCow::Text(s) => ValueRef::Text(s),
        }
    }

    /// The value, owned (a decoded string is moved, not copied).
    pub fn into_owned(self) -> Value {
        match self {
            ValueCow::Ref(v) => v.to_owned(),
            ValueCow::Text(s) => Value::Text(s),
        }
    }
}

impl Value {
    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Boolean(_) => "BOOLEAN",
            Value::Integer(_) => "INTEGER",
            Value::Real(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Blob(_) => "BLOB",
            Value::Timestamp(_) => "TIMESTAMP",
            Value::Vector(_) => "VECTOR",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this value may be stored in a column of type `ty` (NULL is checked elsewhere).
    pub fn fits(&self, ty: DataType) -> bool {
        matches!(
            (self, ty),
            (Value::Null, _)
                | (Value::Boolean(_), DataType::Boolean)
                | (Value::Integer(_), DataType::Integer)
                | (Value::Real(_), DataType::Real)
                | (Value::Text(_), DataType::Text)
                | (Value::Blob(_), DataType::Blob)
                | (Value::Timestamp(_), DataType::Timestamp)
        ) || matches!((self, ty), (Value::Vector(v), DataType::Vector(n)) if v.len() == n as usize)
    }

    /// Bit-exact equality: NaN equals a NaN with the same bits, -0.0 differs from 0.0.
    /// This is what "the stored value did not change" means.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Real(a), Value::Real(b)) => a.to_bits() == b.to_bits(),
            (Value::Vector(a), Value::Vector(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (a, b) => a == b,
        }
    }
}

/// SQL-ish equality for the non-float variants, bit equality is [`Value::same_as`].
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a == b,
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Blob(a), Value::Blob(b)) => a == b,
            (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            (Value::Vector(a), Value::Vector(b)) => a == b,
            _ => false,
        }
    }
}

impl<'a> ValueRef<'a> {
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Boolean(_) => "BOOLEAN",
            ValueRef::Integer(_) => "INTEGER",
            ValueRef::Real(_) => "REAL",
            ValueRef::Text(_) => "TEXT",
            ValueRef::Blob(_) => "BLOB",
            ValueRef::Timestamp(_) => "TIMESTAMP",
            ValueRef::Vector(_) => "VECTOR",
        }
    }

    pub fn to_owned(&self) -> Value {
        match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Boolean(b) => Value::Boolean(b),
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(s) => Value::Text(s.to_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            ValueRef::Timestamp(t) => Value::Timestamp(t),
            ValueRef::Vector(bytes) => Value::Vector(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r:?}"),
            Value::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Blob(b) => {
                f.write_str("x'")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str("'")
            }
            Value::Timestamp(t) => write!(f, "timestamp({t}µs)"),
            Value::Vector(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

macro_rules! from_impl {
    ($t:ty, $variant:ident) => {
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        }
    };
}
from_impl!(bool, Boolean);
from_impl!(i64, Integer);
from_impl!(i32, Integer);
from_impl!(f64, Real);
from_impl!(String, Text);
from_impl!(&str, Text);
from_impl!(Vec<u8>, Blob);
from_impl!(&[u8], Blob);
from_impl!(Vec<f32>, Vector);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

// ---------------------------------------------------------------------------------------
// Row-value codec
// ---------------------------------------------------------------------------------------

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INTEGER: u8 = 3;
const TAG_REAL: u8 = 4;
const TAG_TEXT: u8 = 5;
const TAG_BLOB: u8 = 6;
const TAG_TIMESTAMP: u8 = 7;
const TAG_VECTOR: u8 = 8;
pub(crate) const TAG_TEXT_FSST: u8 = 9;
pub(crate) const TAG_TEXT_LZ4: u8 = 10;

/// The largest text, blob or vector byte length a value may have (1 GiB).
pub const VALUE_BYTES_MAX: usize = 1 << 30;

/// Appends the encoding of `value` to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Boolean(false) => out.push(TAG_FALSE),
        Value::Boolean(true) => out.push(TAG_TRUE),
        Value::Integer(i) => {
            out.push(TAG_INTEGER);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Real(r) => {
            out.push(TAG_REAL);
            out.extend_from_slice(&r.to_bits().to_le_bytes());
        }
        Value::Text(s) => encode_bytes(TAG_TEXT, s.as_bytes(), out),
        Value::Blob(b) => encode_bytes(TAG_BLOB, b, out),
        Value::Timestamp(t) => {
            out.push(TAG_TIMESTAMP);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Vector(v) => {
            out.push(TAG_VECTOR);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            for x in v {
                out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
        }
    }
}

/// Appends a TEXT value in its plain form.
pub(crate) fn encode_plain_text(s: &str, out: &mut Vec<u8>) {
    encode_bytes(TAG_TEXT, s.as_bytes(), out);
}

fn encode_bytes(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Checks a value's size before it is written, so that oversized input is refused, not
/// truncated by the `u32` length.
pub fn check_value_size(value: &Value) -> Result<()> {
    let len = match value {
        Value::Text(s) => s.len(),
        Value::Blob(b) => b.len(),
        Value::Vector(v) => v.len().saturating_mul(4),
        _ => 0,
    };
    if len > VALUE_BYTES_MAX {
        return Err(Error::ValueTooLarge {
            bytes: len as u64,
            max: VALUE_BYTES_MAX as u64,
        });
    }
    Ok(())
}

/// A value as stored in a row: plain, or a compressed TEXT still to be decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoredRef<'a> {
    Plain(ValueRef<'a>),
    /// FSST codes of one string, with the id of the column's symbol table they use.
    Fsst {
        table: u32,
        codes: &'a [u8],
    },
    /// `heliosdb_compress::lz4` bytes.
    Lz4(&'a [u8]),
}

/// A cursor over encoded values; every read is bounds-checked and reports corruption.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader {
            bytes,
            pos: 0,
            what,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn corrupt(&self, why: &str) -> Error {
        Error::Corrupt(format!("{} at byte {}: {why}", self.what, self.pos))
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.corrupt("truncated")),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn array16(&mut self) -> Result<[u8; 16]> {
        let b = self.take(16)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(a)
    }

    #[inline]
    fn len_prefixed(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > VALUE_BYTES_MAX {
            return Err(self.corrupt("length over the value limit"));
        }
        self.take(len)
    }

    /// Reads one value without allocating.
    #[inline]
    pub(crate) fn value_ref(&mut self) -> Result<ValueRef<'a>> {
        let tag = self.u8()?;
        Ok(match tag {
            TAG_NULL => ValueRef::Null,
            TAG_FALSE => ValueRef::Boolean(false),
            TAG_TRUE => ValueRef::Boolean(true),
            TAG_INTEGER => ValueRef::Integer(self.u64()? as i64),
            TAG_REAL => ValueRef::Real(f64::from_bits(self.u64()?)),
            TAG_TEXT => {
                let b = self.len_prefixed()?;
                ValueRef::Text(std::str::from_utf8(b).map_err(|_| self.corrupt("text not UTF-8"))?)
            }
            TAG_BLOB => ValueRef::Blob(self.len_prefixed()?),
            TAG_TIMESTAMP => ValueRef::Timestamp(self.u64()? as i64),
            TAG_VECTOR => {
                let n = self.u32()? as usize;
                if n > VALUE_BYTES_MAX / 4 {
                    return Err(self.corrupt("vector dimension over the limit"));
                }
                ValueRef::Vector(self.take(n * 4)?)
            }
            _ => return Err(self.corrupt("unknown value tag")),
        })
    }

    /// Reads one value of a stored row: a plain value, or the bytes of a compressed TEXT
    /// (decoded by `compress.rs` with the column's symbol tables).
    #[inline]
    pub(crate) fn stored_ref(&mut self) -> Result<StoredRef<'a>> {
        match self.bytes.get(self.pos) {
            Some(&TAG_TEXT_FSST) => {
                self.pos += 1;
                let table = self.u32()?;
                Ok(StoredRef::Fsst {
                    table,
                    codes: self.len_prefixed()?,
                })
            }
            Some(&TAG_TEXT_LZ4) => {
                self.pos += 1;
                Ok(StoredRef::Lz4(self.len_prefixed()?))
            }
            _ => Ok(StoredRef::Plain(self.value_ref()?)),
        }
    }

    /// The bytes the next value takes, and the value's tag, without reading it.
    pub(crate) fn next_framed(&mut self) -> Result<(u8, &'a [u8])> {
        let start = self.pos;
        let tag = *self
            .bytes
            .get(start)
            .ok_or_else(|| self.corrupt("truncated"))?;
        self.skip_value()?;
        Ok((tag, &self.bytes[start..self.pos]))
    }

    /// Skips one value, checking its framing but not its contents (a text that is not
    /// read is not checked for UTF-8, a compressed text is not decompressed).
    #[inline]
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        match self.u8()? {
            TAG_NULL | TAG_FALSE | TAG_TRUE => {}
            TAG_INTEGER | TAG_REAL | TAG_TIMESTAMP => {
                self.take(8)?;
            }
            TAG_TEXT | TAG_BLOB | TAG_TEXT_LZ4 => {
                self.len_prefixed()?;
            }
            TAG_TEXT_FSST => {
                self.take(4)?;
                self.len_prefixed()?;
            }
            _ => {
                // Vectors and unknown tags: value_ref checks them.
                self.pos -= 1;
                self.value_ref()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_codec_round_trips_bit_exactly() {
        let values = vec![
            Value::Null,
            Value::Boolean(true),
            Value::Boolean(false),
            Value::Integer(i64::MIN),
            Value::Real(f64::from_bits(0x7ff8_0000_dead_beef)),
            Value::Real(-0.0),
            Value::Text("héllo".into()),
            Value::Blob(vec![0, 255, 1]),
            Value::Timestamp(-5),
            Value::Vector(vec![1.5, -0.0, f32::NAN]),
        ];
        let mut buf = Vec::new();
        for v in &values {
            encode_value(v, &mut buf);
        }
        let mut r = Reader::new(&buf, "test");
        for v in &values {
            assert!(r.value_ref().unwrap().to_owned().same_as(v), "{v:?}");
        }
        assert!(r.is_empty());
    }

    #[test]
    fn truncated_or_garbage_bytes_are_corrupt_not_panics() {
        let mut buf = Vec::new();
        encode_value(&Value::Text("abcdef".into()), &mut buf);
        for cut in 0..buf.len() {
            assert!(Reader::new(&buf[..cut], "test").value_ref().is_err());
        }
        assert!(Reader::new(&[99], "test").value_ref().is_err());
        assert!(
            Reader::new(&[TAG_TEXT, 2, 0, 0, 0, 0xff, 0xfe], "t")
                .value_ref()
                .is_err()
        );
    }
}
