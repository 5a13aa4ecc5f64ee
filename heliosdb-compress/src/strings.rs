//! A column of strings (byte strings) with random access: dictionary, FSST or plain.
//!
//! [`encode_strings`] picks the smallest of the three by estimating their sizes (FSST's
//! on a sample); [`StringColumn`] reads any of them and decodes one value at a time.
//!
//! # Layouts
//! All integers little-endian. "End offsets" are `count × u32`: value `i` spans
//! `end[i-1]..end[i]` (with `end[-1] = 0`) of the bytes that follow, which they must cover
//! exactly.
//! ```text
//! PlainStrings: header | u32 count | end offsets | bytes
//! DictStrings:  header | u8 width (1, 2 or 4) | u32 distinct | end offsets | distinct bytes
//!                      | u32 count | count × width-byte code (< distinct)
//! FsstStrings:  header | u8 n | n × u8 length | symbol bytes   (the table, see fsst)
//!                      | u32 count | end offsets | codes
//! ```

use std::collections::HashMap;

use crate::fsst::SymbolTable;
use crate::{Codec, Error, Reader, Result, expect_header, write_header};

/// The string codecs, in the order of preference on equal size.
pub const CODECS: [Codec; 3] = [Codec::DictStrings, Codec::FsstStrings, Codec::PlainStrings];

/// FSST's size is estimated by encoding about this many bytes of values.
const ESTIMATE_BYTES: usize = 64 * 1024;

/// Appends the encoding of `values` to `out` in the codec of smallest estimated size, and
/// returns that codec.
///
/// # Panics
/// If the column is 4 GiB or longer, or has 2^32 values or more (offsets and counts are
/// `u32`; the caller cuts columns into chunks far smaller than that).
pub fn encode_strings(values: &[&[u8]], out: &mut Vec<u8>) -> Codec {
    let plain = plain_size(values);
    let dict = Dictionary::build(values, plain);
    let fsst = estimate_fsst(values);
    let dict_size = dict.as_ref().map_or(u64::MAX, |d| d.size(values.len()));
    let fsst_size = fsst.as_ref().map_or(u64::MAX, |(_, size)| *size);
    if dict_size <= fsst_size && dict_size <= plain {
        let dict = dict.expect("dict_size is finite");
        dict.write(values, out);
        Codec::DictStrings
    } else if fsst_size < plain {
        let (table, _) = fsst.expect("fsst_size is finite");
        write_fsst(values, &table, out);
        Codec::FsstStrings
    } else {
        write_plain(values, out);
        Codec::PlainStrings
    }
}

/// Appends the encoding of `values` in `codec`; any codec outside [`CODECS`] writes
/// [`Codec::PlainStrings`].
///
/// # Panics
/// As [`encode_strings`].
pub fn encode_strings_with(values: &[&[u8]], codec: Codec, out: &mut Vec<u8>) {
    match codec {
        Codec::DictStrings => {
            Dictionary::build(values, u64::MAX)
                .expect("no size limit")
                .write(values, out);
        }
        Codec::FsstStrings => {
            let table = SymbolTable::train(values.iter().copied());
            write_fsst(values, &table, out);
        }
        _ => write_plain(values, out),
    }
}

fn plain_size(values: &[&[u8]]) -> u64 {
    let bytes: u64 = values.iter().map(|v| v.len() as u64).sum();
    2 + 4 + 4 * values.len() as u64 + bytes
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).expect("string column: 2^32 values or bytes or more")
}

/// `u32 count | end offsets | bytes`, from an iterator of values.
fn write_offsets_and_bytes<'v>(
    count: usize,
    values: impl Iterator<Item = &'v [u8]> + Clone,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&count_u32(count).to_le_bytes());
    let mut end = 0usize;
    for v in values.clone() {
        end += v.len();
        out.extend_from_slice(&count_u32(end).to_le_bytes());
    }
    for v in values {
        out.extend_from_slice(v);
    }
}

fn write_plain(values: &[&[u8]], out: &mut Vec<u8>) {
    write_header(Codec::PlainStrings, out);
    write_offsets_and_bytes(values.len(), values.iter().copied(), out);
}

/// The distinct values in order of first appearance, and each value's code.
struct Dictionary<'v> {
    distinct: Vec<&'v [u8]>,
    codes: Vec<u32>,
    distinct_bytes: u64,
}

impl<'v> Dictionary<'v> {
    /// Gives up (None) once the dictionary alone is larger than `limit` bytes.
    fn build(values: &[&'v [u8]], limit: u64) -> Option<Dictionary<'v>> {
        let mut ids: HashMap<&[u8], u32> = HashMap::new();
        let mut dict = Dictionary {
            distinct: Vec::new(),
            codes: Vec::with_capacity(values.len()),
            distinct_bytes: 0,
        };
        for &v in values {
            let next = dict.distinct.len() as u32;
            let id = *ids.entry(v).or_insert(next);
            if id == next {
                dict.distinct.push(v);
                dict.distinct_bytes += v.len() as u64;
                if dict.distinct_bytes + 4 * dict.distinct.len() as u64 > limit {
                    return None;
                }
            }
            dict.codes.push(id);
        }
        Some(dict)
    }

    fn width(&self) -> u8 {
        match self.distinct.len() {
            0..=256 => 1,
            257..=65536 => 2,
            _ => 4,
        }
    }

    fn size(&self, count: usize) -> u64 {
        2 + 1
            + 4
            + 4 * self.distinct.len() as u64
            + self.distinct_bytes
            + 4
            + u64::from(self.width()) * count as u64
    }

    fn write(&self, values: &[&[u8]], out: &mut Vec<u8>) {
        write_header(Codec::DictStrings, out);
        let width = self.width();
        out.push(width);
        write_offsets_and_bytes(self.distinct.len(), self.distinct.iter().copied(), out);
        out.extend_from_slice(&count_u32(values.len()).to_le_bytes());
        for &code in &self.codes {
            // The code fits `width` bytes: the width was chosen from the distinct count.
            out.extend_from_slice(&code.to_le_bytes()[..width as usize]);
        }
    }
}

/// A trained table and the estimated size of the FSST encoding; None for no values.
fn estimate_fsst(values: &[&[u8]]) -> Option<(SymbolTable, u64)> {
    let total: u64 = values.iter().map(|v| v.len() as u64).sum();
    if total == 0 {
        return None;
    }
    let table = SymbolTable::train(values.iter().copied());
    // Encode every step-th value, spread over the column, until about ESTIMATE_BYTES.
    let step = (total / ESTIMATE_BYTES as u64).max(1) as usize;
    let (mut raw, mut coded) = (0u64, 0u64);
    let mut codes = Vec::new();
    for v in values.iter().step_by(step) {
        codes.clear();
        table.encode(v, &mut codes);
        raw += v.len() as u64;
        coded += codes.len() as u64;
    }
    let codes_estimate = if raw == 0 {
        total
    } else {
        (total as u128 * coded as u128 / raw as u128) as u64
    };
    let table_size = 1 + 9 * table.symbols() as u64;
    let size = 2 + table_size + 4 + 4 * values.len() as u64 + codes_estimate;
    Some((table, size))
}

fn write_fsst(values: &[&[u8]], table: &SymbolTable, out: &mut Vec<u8>) {
    write_header(Codec::FsstStrings, out);
    table.write_body(out);
    out.extend_from_slice(&count_u32(values.len()).to_le_bytes());
    let offsets_at = out.len();
    out.resize(offsets_at + 4 * values.len(), 0);
    let codes_at = out.len();
    for (i, v) in values.iter().enumerate() {
        table.encode(v, out);
        let end = count_u32(out.len() - codes_at).to_le_bytes();
        out[offsets_at + 4 * i..offsets_at + 4 * i + 4].copy_from_slice(&end);
    }
}

/// A parsed string column: validated up front, then decoded one value at a time.
#[derive(Clone, Debug)]
pub struct StringColumn<'a> {
    len: usize,
    /// `len × u32` end offsets into `data` (for dictionaries: `distinct × u32`).
    offsets: Offsets<'a>,
    data: &'a [u8],
    kind: Kind<'a>,
}

#[derive(Clone, Debug)]
enum Kind<'a> {
    Plain,
    Dict { width: usize, codes: &'a [u8] },
    Fsst { table: Box<SymbolTable> },
}

/// Validated end offsets: monotone, the last equal to the length of the data.
#[derive(Clone, Copy, Debug)]
struct Offsets<'a>(&'a [u8]);

impl<'a> Offsets<'a> {
    /// Reads `count × u32` end offsets and the bytes they cover from `reader`.
    fn read(reader: &mut Reader<'a>) -> Result<(Offsets<'a>, &'a [u8])> {
        let count = reader.count(4)?;
        let offsets = Offsets(reader.take(4 * count)?);
        let mut end = 0u32;
        for i in 0..count {
            let next = offsets.at(i)?;
            if next < end {
                return Err(Error::Corrupt("string offsets decrease"));
            }
            end = next;
        }
        let data = reader.take(end as usize)?;
        Ok((offsets, data))
    }

    fn len(&self) -> usize {
        self.0.len() / 4
    }

    fn at(&self, i: usize) -> Result<u32> {
        let bytes = self
            .0
            .get(4 * i..4 * i + 4)
            .ok_or(Error::Corrupt("string index out of range"))?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// The span of item `i` in the data.
    fn span(&self, i: usize) -> Result<std::ops::Range<usize>> {
        let start = if i == 0 { 0 } else { self.at(i - 1)? };
        let end = self.at(i)?;
        if start > end {
            return Err(Error::Corrupt("string offsets decrease"));
        }
        Ok(start as usize..end as usize)
    }
}

impl<'a> StringColumn<'a> {
    /// Parses a column written by [`encode_strings`], checking the header, every count
    /// and every offset (and dictionary code) against the bytes present.
    pub fn parse(bytes: &'a [u8]) -> Result<StringColumn<'a>> {
        let (codec, payload) = expect_header(bytes, &CODECS)?;
        let mut reader = Reader::new(payload);
        let column = match codec {
            Codec::PlainStrings => {
                let (offsets, data) = Offsets::read(&mut reader)?;
                StringColumn {
                    len: offsets.len(),
                    offsets,
                    data,
                    kind: Kind::Plain,
                }
            }
            Codec::DictStrings => {
                let width = reader.u8()? as usize;
                if !matches!(width, 1 | 2 | 4) {
                    return Err(Error::Corrupt("dictionary code width not 1, 2 or 4"));
                }
                let (offsets, data) = Offsets::read(&mut reader)?;
                let len = reader.count(width)?;
                let codes = reader.take(len * width)?;
                let distinct = offsets.len() as u64;
                if codes.chunks_exact(width).any(|c| code_at(c) >= distinct) {
                    return Err(Error::Corrupt("dictionary code out of range"));
                }
                StringColumn {
                    len,
                    offsets,
                    data,
                    kind: Kind::Dict { width, codes },
                }
            }
            _ => {
                let table = Box::new(SymbolTable::read_body(&mut reader)?);
                let (offsets, data) = Offsets::read(&mut reader)?;
                StringColumn {
                    len: offsets.len(),
                    offsets,
                    data,
                    kind: Kind::Fsst { table },
                }
            }
        };
        reader.finish()?;
        Ok(column)
    }

    pub fn codec(&self) -> Codec {
        match self.kind {
            Kind::Plain => Codec::PlainStrings,
            Kind::Dict { .. } => Codec::DictStrings,
            Kind::Fsst { .. } => Codec::FsstStrings,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends value `i` to `out`; `i >= len()` is [`Error::Corrupt`].
    pub fn get(&self, i: usize, out: &mut Vec<u8>) -> Result<()> {
        if i >= self.len {
            return Err(Error::Corrupt("string index out of range"));
        }
        match &self.kind {
            Kind::Plain => {
                out.extend_from_slice(self.slice(i)?);
                Ok(())
            }
            Kind::Dict { width, codes } => {
                let code = codes
                    .get(i * width..(i + 1) * width)
                    .ok_or(Error::Corrupt("string index out of range"))?;
                out.extend_from_slice(self.slice(code_at(code) as usize)?);
                Ok(())
            }
            Kind::Fsst { table } => table.decode(self.slice(i)?, out),
        }
    }

    /// Calls `f(i, value)` for every value in order, decoding into one reused buffer.
    pub fn for_each(&self, mut f: impl FnMut(usize, &[u8])) -> Result<()> {
        let mut buf = Vec::new();
        for i in 0..self.len {
            buf.clear();
            self.get(i, &mut buf)?;
            f(i, &buf);
        }
        Ok(())
    }

    fn slice(&self, i: usize) -> Result<&'a [u8]> {
        let span = self.offsets.span(i)?;
        self.data
            .get(span)
            .ok_or(Error::Corrupt("string offset out of bounds"))
    }
}

/// A little-endian code of 1, 2 or 4 bytes.
fn code_at(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
}
