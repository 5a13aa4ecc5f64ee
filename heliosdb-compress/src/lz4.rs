//! LZ4 block compression for blobs and large values (lz4_flex, safe encoder and decoder).
//!
//! # Layout
//! ```text
//! u8 codec (Lz4) | u8 version | u32 LE decompressed length | LZ4 block
//! ```
//! The decompressed length is checked against the caller's `max_len` and against LZ4's
//! largest possible ratio (255 bytes out per byte in) before anything is allocated, so a
//! hostile header cannot make the decoder reserve memory the input does not justify.

use crate::{Codec, Error, Reader, Result, expect_header, write_header};

/// LZ4's largest expansion: a match of length `255 * k` costs about `k` bytes of block.
const RATIO_MAX: u64 = 255;
/// Slack for the literals and the final sequence of tiny blocks.
const SLACK: u64 = 16;

/// Appends the LZ4 encoding of `data` to `out`.
///
/// # Panics
/// If `data` is 4 GiB or longer: the length is stored as a `u32` (values that large are
/// split by the caller long before they reach a codec).
pub fn compress(data: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(data.len()).expect("lz4::compress: input of 4 GiB or more");
    write_header(Codec::Lz4, out);
    out.extend_from_slice(&len.to_le_bytes());
    let start = out.len();
    out.resize(
        start + lz4_flex::block::get_maximum_output_size(data.len()),
        0,
    );
    let written = lz4_flex::block::compress_into(data, &mut out[start..])
        .expect("lz4_flex: output sized by get_maximum_output_size");
    out.truncate(start + written);
}

/// Appends the decompressed bytes of `bytes` (written by [`compress`]) to `out`.
///
/// Fails with [`Error::TooLarge`] if the declared length exceeds `max_len` and with
/// [`Error::Corrupt`] if it exceeds what the block could possibly expand to; both are
/// checked before `out` grows. On error `out` is left as it was.
pub fn decompress(bytes: &[u8], max_len: usize, out: &mut Vec<u8>) -> Result<()> {
    let (_, payload) = expect_header(bytes, &[Codec::Lz4])?;
    let mut reader = Reader::new(payload);
    let len = u64::from(reader.u32()?);
    let block = reader.rest();
    if len > max_len as u64 {
        return Err(Error::TooLarge {
            len,
            max: max_len as u64,
        });
    }
    if len > RATIO_MAX * block.len() as u64 + SLACK {
        return Err(Error::Corrupt(
            "lz4 length exceeds the block's largest expansion",
        ));
    }
    let len = len as usize; // <= max_len, a usize
    let start = out.len();
    out.resize(start + len, 0);
    match lz4_flex::block::decompress_into(block, &mut out[start..]) {
        Ok(written) if written == len => Ok(()),
        Ok(_) => {
            out.truncate(start);
            Err(Error::Corrupt("lz4 block shorter than its declared length"))
        }
        Err(_) => {
            out.truncate(start);
            Err(Error::Corrupt("invalid lz4 block"))
        }
    }
}
