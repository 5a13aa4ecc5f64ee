//! Order-preserving ("memcomparable") key encoding.
//!
//! `encode(a) < encode(b)` as bytes exactly when `a` sorts before `b` by [`key_cmp`], for
//! single values and for tuples (a composite key is the concatenation of its values'
//! encodings, and every encoding is prefix-free). Range scans and ORDER BY on a key
//! therefore come straight from the B-tree.
//!
//! The order:
//! - by type first: NULL < BOOLEAN < INTEGER < REAL < TEXT < BLOB < TIMESTAMP < VECTOR
//!   (a column has one type, so within a column this is just the value order, with NULL
//!   first);
//! - integers and timestamps numerically;
//! - reals numerically with PostgreSQL's rules: `-0.0` equals `0.0`, every NaN is one
//!   value, greater than `+inf`. Keys store the canonical form (`0.0`, one NaN); the row
//!   keeps the exact bits;
//! - text by its UTF-8 bytes (which is code-point order), blobs by bytes, shorter first
//!   when one is a prefix of the other;
//! - vectors by dimension, then element-wise as reals.
//!
//! Byte layout, version 1 (the tag byte is never 0xFF, so `prefix ++ [0xFF]` bounds every
//! key that extends `prefix`):
//! ```text
//! NULL       02
//! FALSE/TRUE 10 / 11
//! INTEGER    20  u64 BE of (i ^ 1<<63)
//! REAL       30  u64 BE of the order-transformed bits
//! TEXT       40  bytes with 00 escaped as 00 FF, then 00 01
//! BLOB       50  same as TEXT
//! TIMESTAMP  60  like INTEGER
//! VECTOR     70  u32 BE dimension, then per element u32 BE of the transformed f32 bits
//! ```

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::value::Value;

const K_NULL: u8 = 0x02;
const K_FALSE: u8 = 0x10;
const K_TRUE: u8 = 0x11;
const K_INTEGER: u8 = 0x20;
const K_REAL: u8 = 0x30;
const K_TEXT: u8 = 0x40;
const K_BLOB: u8 = 0x50;
const K_TIMESTAMP: u8 = 0x60;
const K_VECTOR: u8 = 0x70;

const SIGN64: u64 = 1 << 63;
const SIGN32: u32 = 1 << 31;

/// Appends the key encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(K_NULL),
        Value::Boolean(false) => out.push(K_FALSE),
        Value::Boolean(true) => out.push(K_TRUE),
        Value::Integer(i) => {
            out.push(K_INTEGER);
            out.extend_from_slice(&((*i as u64) ^ SIGN64).to_be_bytes());
        }
        Value::Real(r) => {
            out.push(K_REAL);
            out.extend_from_slice(&order_f64(*r).to_be_bytes());
        }
        Value::Text(s) => escaped(K_TEXT, s.as_bytes(), out),
        Value::Blob(b) => escaped(K_BLOB, b, out),
        Value::Timestamp(t) => {
            out.push(K_TIMESTAMP);
            out.extend_from_slice(&((*t as u64) ^ SIGN64).to_be_bytes());
        }
        Value::Vector(v) => {
            out.push(K_VECTOR);
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            for x in v {
                out.extend_from_slice(&order_f32(*x).to_be_bytes());
            }
        }
    }
}

/// The key encoding of a tuple of values.
pub fn encode(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.iter().map(encoded_size_hint).sum());
    for v in values {
        encode_into(v, &mut out);
    }
    out
}

/// The smallest byte string greater than every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = Vec::with_capacity(prefix.len() + 1);
    end.extend_from_slice(prefix);
    end.push(0xFF);
    end
}

fn escaped(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 3);
    out.push(tag);
    // Copy runs between zero bytes whole; most text has none.
    let mut rest = bytes;
    while let Some(zero) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=zero]);
        out.push(0xFF);
        rest = &rest[zero + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&[0x00, 0x01]);
}

/// An upper bound on the bytes `encode_into(value)` appends, up to small escapes.
pub fn encoded_size_hint(value: &Value) -> usize {
    match value {
        Value::Text(s) => s.len() + 3,
        Value::Blob(b) => b.len() + 3,
        Value::Vector(v) => 5 + 4 * v.len(),
        _ => 9,
    }
}

fn canonical_f64(r: f64) -> f64 {
    if r.is_nan() {
        f64::NAN
    } else if r == 0.0 {
        0.0
    } else {
        r
    }
}

fn canonical_f32(r: f32) -> f32 {
    if r.is_nan() {
        f32::NAN
    } else if r == 0.0 {
        0.0
    } else {
        r
    }
}

fn order_f64(r: f64) -> u64 {
    let bits = canonical_f64(r).to_bits();
    if bits & SIGN64 != 0 {
        !bits
    } else {
        bits ^ SIGN64
    }
}

fn unorder_f64(u: u64) -> f64 {
    f64::from_bits(if u & SIGN64 != 0 { u ^ SIGN64 } else { !u })
}

fn order_f32(r: f32) -> u32 {
    let bits = canonical_f32(r).to_bits();
    if bits & SIGN32 != 0 {
        !bits
    } else {
        bits ^ SIGN32
    }
}

fn unorder_f32(u: u32) -> f32 {
    f32::from_bits(if u & SIGN32 != 0 { u ^ SIGN32 } else { !u })
}

/// Decodes a whole key into its values. Reals come back canonical (see the module doc).
pub fn decode(bytes: &[u8]) -> Result<Vec<Value>> {
    let mut d = Decoder { bytes, pos: 0 };
    let mut values = Vec::new();
    while d.pos < bytes.len() {
        values.push(d.value()?);
    }
    Ok(values)
}

/// The length of the first encoded value in `bytes`.
pub fn encoded_len(bytes: &[u8]) -> Result<usize> {
    let truncated = || Error::Corrupt("key value truncated".into());
    let tag = *bytes.first().ok_or_else(truncated)?;
    let fixed = |n: usize| {
        if bytes.len() > n {
            Ok(1 + n)
        } else {
            Err(truncated())
        }
    };
    match tag {
        K_NULL | K_FALSE | K_TRUE => Ok(1),
        K_INTEGER | K_REAL | K_TIMESTAMP => fixed(8),
        K_TEXT | K_BLOB => {
            let mut i = 1;
            loop {
                match bytes.get(i..i + 2) {
                    Some([0x00, 0x01]) => return Ok(i + 2),
                    Some([0x00, 0xFF]) => i += 2,
                    Some([0x00, _]) => return Err(Error::Corrupt("bad escape in key".into())),
                    Some(_) => i += 1,
                    None => return Err(truncated()),
                }
            }
        }
        K_VECTOR => {
            let dim: [u8; 4] = bytes
                .get(1..5)
                .ok_or_else(truncated)?
                .try_into()
                .map_err(|_| truncated())?;
            let len = 5usize.saturating_add((u32::from_be_bytes(dim) as usize).saturating_mul(4));
            if bytes.len() >= len {
                Ok(len)
            } else {
                Err(truncated())
            }
        }
        _ => Err(Error::Corrupt("unknown key tag".into())),
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn corrupt(&self, why: &str) -> Error {
        Error::Corrupt(format!("key at byte {}: {why}", self.pos))
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or_else(|| self.corrupt("truncated"))?;
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(slice);
        Ok(a)
    }

    fn unescape(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let [b] = self.take::<1>()?;
            if b != 0 {
                out.push(b);
                continue;
            }
            match self.take::<1>()? {
                [0xFF] => out.push(0),
                [0x01] => return Ok(out),
                _ => return Err(self.corrupt("bad escape in text or blob")),
            }
        }
    }

    fn value(&mut self) -> Result<Value> {
        let [tag] = self.take::<1>()?;
        Ok(match tag {
            K_NULL => Value::Null,
            K_FALSE => Value::Boolean(false),
            K_TRUE => Value::Boolean(true),
            K_INTEGER => Value::Integer((u64::from_be_bytes(self.take()?) ^ SIGN64) as i64),
            K_REAL => Value::Real(unorder_f64(u64::from_be_bytes(self.take()?))),
            K_TEXT => {
                let b = self.unescape()?;
                Value::Text(String::from_utf8(b).map_err(|_| self.corrupt("text not UTF-8"))?)
            }
            K_BLOB => Value::Blob(self.unescape()?),
            K_TIMESTAMP => Value::Timestamp((u64::from_be_bytes(self.take()?) ^ SIGN64) as i64),
            K_VECTOR => {
                let n = u32::from_be_bytes(self.take()?) as usize;
                if n.saturating_mul(4) > self.bytes.len() - self.pos {
                    return Err(self.corrupt("vector longer than the key"));
                }
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(unorder_f32(u32::from_be_bytes(self.take()?)));
                }
                Value::Vector(v)
            }
            _ => return Err(self.corrupt("unknown key tag")),
        })
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Boolean(_) => 1,
        Value::Integer(_) => 2,
        Value::Real(_) => 3,
        Value::Text(_) => 4,
        Value::Blob(_) => 5,
        Value::Timestamp(_) => 6,
        Value::Vector(_) => 7,
    }
}

fn real_cmp(a: f64, b: f64) -> Ordering {
    canonical_f64(a).total_cmp(&canonical_f64(b))
}

/// The order keys sort in; see the module doc. Equal keys compare `Equal`.
pub fn key_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => real_cmp(*x, *y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Vector(x), Value::Vector(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| canonical_f32(*p).total_cmp(&canonical_f32(*q)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// [`key_cmp`] over tuples, lexicographically.
pub fn tuple_cmp(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| key_cmp(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_follow_postgres_rules() {
        let order = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            1e-300,
            2.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for w in order.windows(2) {
            assert!(
                encode(&[Value::Real(w[0])]) < encode(&[Value::Real(w[1])]),
                "{w:?}"
            );
        }
        assert_eq!(encode(&[Value::Real(-0.0)]), encode(&[Value::Real(0.0)]));
        let other_nan = f64::from_bits(0xfff0_0000_0000_0001);
        assert_eq!(
            encode(&[Value::Real(other_nan)]),
            encode(&[Value::Real(f64::NAN)])
        );
    }

    #[test]
    fn text_with_zero_bytes_is_prefix_free() {
        let a = encode(&[Value::Text("a".into())]);
        let b = encode(&[Value::Text("a\0".into())]);
        let c = encode(&[Value::Text("ab".into())]);
        assert!(a < b && b < c);
        assert_eq!(decode(&b).unwrap(), vec![Value::Text("a\0".into())]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(&[0x99]).is_err());
        assert!(decode(&[K_TEXT, 0x61]).is_err());
        assert!(decode(&[K_VECTOR, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
