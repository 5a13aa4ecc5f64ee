//! heliosdb-compress: the codecs of HeliosDB Nano, usable on their own.
//!
//! - [`lz4`] — LZ4 block compression (lz4_flex) for blobs and large values;
//! - [`alp`] — ALP and ALP-RD for `f64` and `f32`, chosen by sampling;
//! - [`fsst`] — FSST for strings: a trained symbol table, every string encoded on its own;
//! - [`strings`] — string columns: FSST, dictionary or plain, with random access;
//! - [`int`] — integers and timestamps: delta, frame-of-reference with bit-packing, RLE.
//!
//! # Format
//! Every encoded buffer starts with two bytes, `u8 codec id | u8 codec version`
//! ([`Codec`], [`FORMAT_VERSION`]), so a buffer says how to decode itself and a newer
//! encoding is refused with [`Error::UnsupportedVersion`] instead of misread. Counts and
//! lengths are explicit little-endian integers (`u32 LE` unless a codec says otherwise).
//!
//! # Untrusted input
//! Decoders take bytes from files and peers. They never panic, and they never allocate
//! more than a bound derived from the input's length or from the caller's `max_len`
//! (LZ4, whose ratio is otherwise unbounded): a declared count is checked against the
//! bytes that must back it before anything is reserved. `cargo xtask fuzz` runs every
//! decoder on mutated inputs ([`fuzz`]).
#![forbid(unsafe_code)]

pub mod alp;
pub mod bitpack;
pub mod fsst;
pub mod fuzz;
pub mod int;
pub mod lz4;
pub mod strings;

mod reader;
pub use reader::Reader;

/// The version of every codec's layout that this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// The first byte of every encoded buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// LZ4 block: `u32 LE` decompressed length, then the block.
    Lz4 = 1,
    /// ALP f64 (decimal doubles).
    AlpF64 = 2,
    /// ALP-RD f64 (doubles without a short decimal form).
    AlpRdF64 = 3,
    /// ALP f32.
    AlpF32 = 4,
    /// ALP-RD f32.
    AlpRdF32 = 5,
    /// f64 little-endian, uncompressed.
    PlainF64 = 6,
    /// f32 little-endian, uncompressed.
    PlainF32 = 7,
    /// An FSST symbol table.
    FsstTable = 8,
    /// A string column: an FSST symbol table, offsets, codes.
    FsstStrings = 9,
    /// A string column: a dictionary of distinct strings and bit-packed codes.
    DictStrings = 10,
    /// A string column: offsets and raw bytes.
    PlainStrings = 11,
    /// Integers: first value, then the deltas bit-packed after subtracting their minimum
    /// (frame of reference on the deltas; see `int.rs`).
    DeltaInt = 12,
    /// Integers: frame of reference (minimum) and bit-packed offsets.
    ForInt = 13,
    /// Integers: runs of (value, length).
    RleInt = 14,
    /// Integers: i64 little-endian, uncompressed.
    PlainInt = 15,
}

impl Codec {
    pub fn from_u8(b: u8) -> Option<Codec> {
        use Codec::*;
        Some(match b {
            1 => Lz4,
            2 => AlpF64,
            3 => AlpRdF64,
            4 => AlpF32,
            5 => AlpRdF32,
            6 => PlainF64,
            7 => PlainF32,
            8 => FsstTable,
            9 => FsstStrings,
            10 => DictStrings,
            11 => PlainStrings,
            12 => DeltaInt,
            13 => ForInt,
            14 => RleInt,
            15 => PlainInt,
            _ => return None,
        })
    }

    /// A short lower-case name, as `\compression` shows it.
    pub fn name(self) -> &'static str {
        use Codec::*;
        match self {
            Lz4 => "lz4",
            AlpF64 | AlpF32 => "alp",
            AlpRdF64 | AlpRdF32 => "alp-rd",
            PlainF64 | PlainF32 | PlainStrings | PlainInt => "plain",
            FsstTable | FsstStrings => "fsst",
            DictStrings => "dict",
            DeltaInt => "delta",
            ForInt => "for",
            RleInt => "rle",
        }
    }
}

/// Reads the codec of an encoded buffer and checks its version.
pub fn peek_codec(bytes: &[u8]) -> Result<Codec> {
    let (&id, rest) = bytes.split_first().ok_or(Error::Truncated)?;
    let codec = Codec::from_u8(id).ok_or(Error::UnknownCodec(id))?;
    let &version = rest.first().ok_or(Error::Truncated)?;
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            codec: codec.name(),
            version,
        });
    }
    Ok(codec)
}

/// Writes the two-byte header of `codec`.
pub(crate) fn write_header(codec: Codec, out: &mut Vec<u8>) {
    out.push(codec as u8);
    out.push(FORMAT_VERSION);
}

/// Checks that `bytes` starts with the header of one of `expected` and returns the codec
/// and the payload after the header.
pub(crate) fn expect_header<'a>(bytes: &'a [u8], expected: &[Codec]) -> Result<(Codec, &'a [u8])> {
    let codec = peek_codec(bytes)?;
    if !expected.contains(&codec) {
        return Err(Error::WrongCodec {
            found: codec.name(),
        });
    }
    Ok((codec, &bytes[2..]))
}

/// Why bytes could not be decoded. Decoding never panics; every failure is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("compressed data is truncated")]
    Truncated,
    #[error(
        "unknown codec id {0}; the data was written by a newer build or is not compressed data"
    )]
    UnknownCodec(u8),
    #[error(
        "{codec} data of format version {version} is newer than this build (it reads version 1)"
    )]
    UnsupportedVersion { codec: &'static str, version: u8 },
    #[error("expected another codec's data, found {found}")]
    WrongCodec { found: &'static str },
    #[error("compressed data is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("decoded data would be {len} bytes, over the limit of {max}")]
    TooLarge { len: u64, max: u64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
