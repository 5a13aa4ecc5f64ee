//! The wire format of sync messages: a small checksummed header, then a postcard-encoded
//! [`Message`], lz4-compressed when that pays.
//!
//! # Frame, format version 1
//!
//! All integers are little-endian.
//!
//! | bytes   | field                                                                   |
//! |---------|-------------------------------------------------------------------------|
//! | 0..4    | magic, `b"HSYN"`                                                        |
//! | 4..6    | `u16` format version, [`WIRE_FORMAT`] (1)                               |
//! | 6       | `u8` flags: bit 0 set means the payload is lz4-compressed; bits 1..8 are 0 |
//! | 7..11   | `u32` payload length: the bytes that follow the header, as sent         |
//! | 11..15  | `u32` crc32c of bytes 0..11 followed by the payload, as sent            |
//! | 15..    | payload                                                                 |
//!
//! The uncompressed payload is `postcard::to_stdvec(&message)`. A compressed payload is
//! `lz4_flex::block::compress_prepend_size` of it: a `u32` uncompressed length, then an lz4
//! block. Compression is used only when the uncompressed payload is at least
//! [`COMPRESS_BYTES_MIN`] bytes and compressing makes it smaller.
//!
//! The checksum covers the header fields as well as the payload, so that a flipped flag bit
//! cannot make the receiver read plain postcard as lz4 (or the reverse) with a valid checksum.
//!
//! The payload, compressed or not, and the decompressed message are each at most
//! [`FRAME_BYTES_MAX`] bytes. Both limits are checked before anything of that size is
//! allocated, so a hostile length costs the receiver nothing.
//!
//! Any change to the bytes this module produces for the same message, including the postcard
//! encoding of the message types, needs a new [`WIRE_FORMAT`].

use std::collections::BTreeSet;

use heliosdb_core::{ColumnId, Hlc, NodeId, SchemaChange, Value};
use serde::{Deserialize, Serialize};

use crate::vv::{Dot, VersionVector};

/// The frame format this build writes, and the newest it reads.
pub const WIRE_FORMAT: u16 = 1;

/// The fixed-size header in front of every payload.
pub const FRAME_HEADER_BYTES: usize = 15;

/// The largest payload (compressed or not) and the largest decompressed message.
pub const FRAME_BYTES_MAX: u32 = 64 * 1024 * 1024;

/// Smaller payloads are sent as they are: lz4 rarely wins on them, and it would cost its
/// 4-byte size prefix.
pub const COMPRESS_BYTES_MIN: usize = 64;

const MAGIC: [u8; 4] = *b"HSYN";
const FLAG_LZ4: u8 = 0b0000_0001;
const FLAGS_KNOWN: u8 = FLAG_LZ4;
/// The header bytes the checksum covers: everything before the checksum itself.
const CHECKED_HEADER_BYTES: usize = 11;

/// One sync message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Opens an exchange: who the sender is and what it has applied, so the receiver can
    /// work out which commits to send back.
    Hello {
        node: NodeId,
        frontier: VersionVector,
    },
    /// Commits the receiver lacks.
    Changes(ChangeBatch),
    /// What the sender has applied, after taking in changes.
    Ack {
        node: NodeId,
        frontier: VersionVector,
    },
}

/// Commits, in the order the receiver should apply them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeBatch {
    pub commits: Vec<Commit>,
}

/// One commit as made at its origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    /// The origin's identity for this commit: which node, and which of its commits.
    pub dot: Dot,
    /// The origin's timestamp for this commit.
    pub hlc: Hlc,
    pub changes: Vec<RowChange>,
}

/// One row written by a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    pub table: String,
    /// The primary key values, in key column order.
    pub key: Vec<Value>,
    pub op: RowOp,
    /// The writes this row's version had seen when it was written: what it replaces, as
    /// opposed to what it conflicts with.
    pub context: VersionVector,
}

/// What a write did to a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RowOp {
    /// Only the columns the write changed, each at most once; the others keep their value.
    Upsert {
        columns: Vec<(ColumnId, Value)>,
    },
    Delete,
    /// A schema change to the record's table (CREATE TABLE, ADD COLUMN, CREATE INDEX, …);
    /// the change's key is empty.
    Schema(SchemaChange),
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error(
        "sync frame is truncated: needed {needed} bytes, found {found}; the connection was \
         probably cut, retry the sync"
    )]
    Truncated { needed: u64, found: u64 },
    #[error(
        "not a HeliosDB Nano sync frame (bad magic bytes); check that the peer address is a \
         HeliosDB Nano sync endpoint"
    )]
    BadMagic,
    #[error(
        "sync frame has format {0}, which no HeliosDB Nano build writes; the frame is corrupt \
         or the peer is not HeliosDB Nano"
    )]
    BadFormat(u16),
    #[error(
        "the peer speaks sync format {found}; this build speaks up to {supported}: upgrade \
         HeliosDB Nano on this node"
    )]
    NewerFormat { found: u16, supported: u16 },
    #[error(
        "sync frame sets unknown flag bits {0:#010b}; the frame is corrupt or the peer's build \
         is incompatible with this one"
    )]
    UnknownFlags(u8),
    #[error(
        "sync message of {bytes} bytes is over the {max}-byte limit; send the changes in \
         smaller batches"
    )]
    TooLarge { bytes: u64, max: u64 },
    #[error(
        "{0} unexpected bytes after the end of the sync frame; the stream is out of step, \
         reconnect and retry"
    )]
    TrailingBytes(u64),
    #[error(
        "sync frame checksum mismatch (header says {expected:#010x}, bytes give {found:#010x}); \
         the frame was corrupted in transit, retry the sync"
    )]
    Checksum { expected: u32, found: u32 },
    #[error("sync frame does not decompress ({0}); the frame is corrupt, retry the sync")]
    Decompress(String),
    #[error(
        "sync message does not decode ({0}); the peer's build of HeliosDB Nano is probably \
         incompatible with this one"
    )]
    Decode(String),
    #[error("sync message is invalid: {0}")]
    Invalid(String),
}

/// The frame for `message`.
pub fn encode(message: &Message) -> Result<Vec<u8>, WireError> {
    validate(message)?;
    let plain = postcard::to_stdvec(message)
        .map_err(|error| WireError::Invalid(format!("the message cannot be encoded: {error}")))?;
    // The receiver bounds the decompressed size too, so the uncompressed length is the one
    // that has to fit, whichever form is sent.
    if plain.len() as u64 > u64::from(FRAME_BYTES_MAX) {
        return Err(too_large(plain.len() as u64));
    }
    let (flags, payload) = if plain.len() >= COMPRESS_BYTES_MIN {
        let compressed = lz4_flex::block::compress_prepend_size(&plain);
        if compressed.len() < plain.len() {
            (FLAG_LZ4, compressed)
        } else {
            (0, plain)
        }
    } else {
        (0, plain)
    };
    let payload_len = u32::try_from(payload.len()).map_err(|_| too_large(payload.len() as u64))?;

    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&WIRE_FORMAT.to_le_bytes());
    frame.push(flags);
    frame.extend_from_slice(&payload_len.to_le_bytes());
    let checksum = crc32c::crc32c_append(crc32c::crc32c(&frame), &payload);
    frame.extend_from_slice(&checksum.to_le_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// The message in `frame`, which must be exactly one whole frame.
pub fn decode(frame: &[u8]) -> Result<Message, WireError> {
    let Some((header_bytes, payload)) = frame.split_first_chunk::<FRAME_HEADER_BYTES>() else {
        return Err(WireError::Truncated {
            needed: FRAME_HEADER_BYTES as u64,
            found: frame.len() as u64,
        });
    };
    let header = Header::parse(header_bytes)?;
    let declared = u64::from(header.payload_len);
    let present = payload.len() as u64;
    if present < declared {
        return Err(WireError::Truncated {
            needed: FRAME_HEADER_BYTES as u64 + declared,
            found: frame.len() as u64,
        });
    }
    if present > declared {
        return Err(WireError::TrailingBytes(present - declared));
    }

    let (checked, _) = header_bytes.split_at(CHECKED_HEADER_BYTES);
    let found = crc32c::crc32c_append(crc32c::crc32c(checked), payload);
    if found != header.checksum {
        return Err(WireError::Checksum {
            expected: header.checksum,
            found,
        });
    }

    let decompressed;
    let plain = if header.compressed {
        decompressed = decompress(payload)?;
        decompressed.as_slice()
    } else {
        payload
    };
    let (message, rest) = postcard::take_from_bytes::<Message>(plain)
        .map_err(|error| WireError::Decode(error.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Decode(format!(
            "{} bytes left over after the message",
            rest.len()
        )));
    }
    validate(&message)?;
    Ok(message)
}

/// The whole length of the frame that `header` starts (header and payload), so a transport
/// knows how many bytes to read; `None` until [`FRAME_HEADER_BYTES`] bytes are available.
/// Only the header is read, and the checksum is not checked until [`decode`].
pub fn frame_len(header: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(header_bytes) = header.first_chunk::<FRAME_HEADER_BYTES>() else {
        return Ok(None);
    };
    let header = Header::parse(header_bytes)?;
    let payload_len = u64::from(header.payload_len);
    usize::try_from(payload_len)
        .ok()
        .and_then(|len| len.checked_add(FRAME_HEADER_BYTES))
        .map(Some)
        .ok_or(too_large(payload_len))
}

fn too_large(bytes: u64) -> WireError {
    WireError::TooLarge {
        bytes,
        max: u64::from(FRAME_BYTES_MAX),
    }
}

/// The header fields, once checked to be ones this build can read.
#[derive(Debug, PartialEq)]
struct Header {
    compressed: bool,
    payload_len: u32,
    checksum: u32,
}

impl Header {
    fn parse(bytes: &[u8; FRAME_HEADER_BYTES]) -> Result<Header, WireError> {
        let [
            m0,
            m1,
            m2,
            m3,
            v0,
            v1,
            flags,
            l0,
            l1,
            l2,
            l3,
            c0,
            c1,
            c2,
            c3,
        ] = *bytes;
        if [m0, m1, m2, m3] != MAGIC {
            return Err(WireError::BadMagic);
        }
        // The version is checked before anything else it governs, so a newer peer is told
        // to upgrade rather than that its frame is corrupt.
        match u16::from_le_bytes([v0, v1]) {
            WIRE_FORMAT => {}
            0 => return Err(WireError::BadFormat(0)),
            found if found > WIRE_FORMAT => {
                return Err(WireError::NewerFormat {
                    found,
                    supported: WIRE_FORMAT,
                });
            }
            found => return Err(WireError::BadFormat(found)),
        }
        if flags & !FLAGS_KNOWN != 0 {
            return Err(WireError::UnknownFlags(flags & !FLAGS_KNOWN));
        }
        let payload_len = u32::from_le_bytes([l0, l1, l2, l3]);
        if payload_len > FRAME_BYTES_MAX {
            return Err(too_large(u64::from(payload_len)));
        }
        Ok(Header {
            compressed: flags & FLAG_LZ4 != 0,
            payload_len,
            checksum: u32::from_le_bytes([c0, c1, c2, c3]),
        })
    }
}

/// Decompresses a size-prefixed lz4 block, bounding the size before allocating for it.
/// The most an lz4 block can grow when decompressed, per compressed byte.
const LZ4_EXPANSION_MAX: usize = 255;

fn decompress(payload: &[u8]) -> Result<Vec<u8>, WireError> {
    let Some((size_bytes, block)) = payload.split_first_chunk::<4>() else {
        return Err(WireError::Decompress(format!(
            "{} bytes is too short for the 4-byte size prefix",
            payload.len()
        )));
    };
    let size = u32::from_le_bytes(*size_bytes);
    // Checked before the allocation below: the prefix is the sender's word, not a fact.
    let size = Some(size)
        .filter(|&size| size <= FRAME_BYTES_MAX)
        .and_then(|size| usize::try_from(size).ok())
        .ok_or(too_large(u64::from(size)))?;
    // An lz4 block expands at most 255-fold (a match token adds at most 255 bytes per byte
    // of input), so a larger prefix is a lie: refuse it before allocating for it.
    if size
        > block
            .len()
            .saturating_mul(LZ4_EXPANSION_MAX)
            .saturating_add(16)
    {
        return Err(WireError::Decompress(format!(
            "the size prefix says {size} bytes, more than {} compressed bytes can hold",
            block.len()
        )));
    }
    let mut plain = vec![0; size];
    let written = lz4_flex::block::decompress_into(block, &mut plain)
        .map_err(|error| WireError::Decompress(error.to_string()))?;
    if written != size {
        return Err(WireError::Decompress(format!(
            "{written} bytes came out, the size prefix says {size}"
        )));
    }
    Ok(plain)
}

/// Refuses content the rest of sync relies on never seeing, on both sides of the wire.
fn validate(message: &Message) -> Result<(), WireError> {
    let Message::Changes(batch) = message else {
        return Ok(());
    };
    for commit in &batch.commits {
        // Sequences count from 1; a frontier entry of 0 means "nothing", so a commit
        // numbered 0 could never be recorded as applied.
        if commit.dot.seq == 0 {
            return Err(WireError::Invalid(format!(
                "a commit from node {} has sequence number 0; sequences start at 1",
                commit.dot.node
            )));
        }
        for change in &commit.changes {
            if let RowOp::Upsert { columns } = &change.op {
                let mut seen = BTreeSet::new();
                if let Some((column, _)) = columns.iter().find(|(column, _)| !seen.insert(*column))
                {
                    return Err(WireError::Invalid(format!(
                        "commit {} of node {} sets column {column} of table {:?} twice in one \
                         row change",
                        commit.dot.seq, commit.dot.node, change.table
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(version: u16, flags: u8, payload_len: u32) -> [u8; FRAME_HEADER_BYTES] {
        let mut bytes = [0; FRAME_HEADER_BYTES];
        bytes[..4].copy_from_slice(&MAGIC);
        bytes[4..6].copy_from_slice(&version.to_le_bytes());
        bytes[6] = flags;
        bytes[7..11].copy_from_slice(&payload_len.to_le_bytes());
        bytes[11..].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
        bytes
    }

    #[test]
    fn header_parses_its_fields() {
        assert_eq!(
            Header::parse(&header_bytes(1, FLAG_LZ4, 300)),
            Ok(Header {
                compressed: true,
                payload_len: 300,
                checksum: 0xdead_beef,
            })
        );
    }

    #[test]
    fn header_refuses_older_and_newer_versions() {
        assert_eq!(
            Header::parse(&header_bytes(0, 0, 0)),
            Err(WireError::BadFormat(0))
        );
        assert_eq!(
            Header::parse(&header_bytes(u16::MAX, 0, 0)),
            Err(WireError::NewerFormat {
                found: u16::MAX,
                supported: WIRE_FORMAT,
            })
        );
    }

    #[test]
    fn header_limit_is_inclusive() {
        assert!(Header::parse(&header_bytes(1, 0, FRAME_BYTES_MAX)).is_ok());
        assert!(matches!(
            Header::parse(&header_bytes(1, 0, FRAME_BYTES_MAX + 1)),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[test]
    fn checksum_covers_the_flags() {
        let message = Message::Hello {
            node: NodeId([7; 16]),
            frontier: VersionVector::new(),
        };
        let mut frame = encode(&message).unwrap();
        frame[6] ^= FLAG_LZ4;
        assert!(matches!(decode(&frame), Err(WireError::Checksum { .. })));
    }

    #[test]
    fn decompress_refuses_short_and_mismatched_sizes() {
        assert!(matches!(decompress(&[1, 0]), Err(WireError::Decompress(_))));
        let mut block = lz4_flex::block::compress_prepend_size(&[5; 100]);
        block[..4].copy_from_slice(&101_u32.to_le_bytes());
        assert!(matches!(decompress(&block), Err(WireError::Decompress(_))));
    }

    #[test]
    fn duplicate_columns_are_invalid() {
        let node = NodeId([2; 16]);
        let message = Message::Changes(ChangeBatch {
            commits: vec![Commit {
                dot: Dot { node, seq: 1 },
                hlc: Hlc(1),
                changes: vec![RowChange {
                    table: "t".into(),
                    key: vec![Value::Integer(1)],
                    op: RowOp::Upsert {
                        columns: vec![(3, Value::Null), (3, Value::Integer(2))],
                    },
                    context: VersionVector::new(),
                }],
            }],
        });
        assert!(matches!(encode(&message), Err(WireError::Invalid(_))));
    }
}
