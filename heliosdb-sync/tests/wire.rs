//! The sync wire format: round trips, the frozen byte layout, and hostile input.

use heliosdb_core::{Hlc, NodeId, Value};
use heliosdb_sync::wire::{
    COMPRESS_BYTES_MIN, ChangeBatch, Commit, FRAME_BYTES_MAX, FRAME_HEADER_BYTES, Message,
    RowChange, RowOp, WIRE_FORMAT, WireError, decode, encode, frame_len,
};
use heliosdb_sync::{Dot, VersionVector};
use proptest::prelude::*;

const FLAG_LZ4: u8 = 1;

/// A frame around `payload` with the given version and flags and a correct checksum, for
/// feeding the decoder bytes `encode` would never produce.
fn frame_around(version: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(b"HSYN");
    frame.extend_from_slice(&version.to_le_bytes());
    frame.push(flags);
    frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    let checksum = crc32c::crc32c_append(crc32c::crc32c(&frame), payload);
    frame.extend_from_slice(&checksum.to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn node(byte: u8) -> NodeId {
    NodeId([byte; 16])
}

fn small_changes() -> Message {
    Message::Changes(ChangeBatch {
        commits: vec![Commit {
            dot: Dot {
                node: node(1),
                seq: 3,
            },
            hlc: Hlc(0x0102),
            changes: vec![
                RowChange {
                    table: "t".into(),
                    key: vec![Value::Integer(-1)],
                    op: RowOp::Upsert {
                        columns: vec![(2, Value::Text("a".into())), (5, Value::Boolean(true))],
                    },
                    context: [(node(1), 2)].into_iter().collect(),
                },
                RowChange {
                    table: "t".into(),
                    key: vec![Value::Integer(7)],
                    op: RowOp::Delete,
                    context: VersionVector::new(),
                },
            ],
        }],
    })
}

/// Compresses well: many rows that differ only in their key.
fn big_changes() -> Message {
    let changes = (0..1_000)
        .map(|i| RowChange {
            table: "notes".into(),
            key: vec![Value::Integer(i)],
            op: RowOp::Upsert {
                columns: vec![
                    (1, Value::Text("the same note text, again and again".into())),
                    (2, Value::Timestamp(1_700_000_000_000_000)),
                ],
            },
            context: [(node(9), 41)].into_iter().collect(),
        })
        .collect();
    Message::Changes(ChangeBatch {
        commits: vec![Commit {
            dot: Dot {
                node: node(9),
                seq: 42,
            },
            hlc: Hlc(1 << 40),
            changes,
        }],
    })
}

fn flags_of(frame: &[u8]) -> u8 {
    frame[6]
}

// ---- the frozen layout -------------------------------------------------------------------

// These bytes are the format. If a change to the code changes them, old and new builds can no
// longer sync: bump WIRE_FORMAT (and keep reading the old format) rather than editing them.
#[test]
fn golden_hello_frame() {
    let message = Message::Hello {
        node: node(1),
        frontier: [(node(1), 5), (node(2), 300)].into_iter().collect(),
    };
    #[rustfmt::skip]
    let expected: &[u8] = &[
        // magic, format 1, flags 0, payload length 53, crc32c
        b'H', b'S', b'Y', b'N', 1, 0, 0, 53, 0, 0, 0, 126, 17, 98, 95,
        // Hello, node
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        // frontier: 2 entries, node 01.. at 5, node 02.. at 300 (varint)
        2,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 172, 2,
    ];
    assert_eq!(encode(&message).unwrap(), expected);
    assert_eq!(decode(expected).unwrap(), message);
}

// Same rule as above: changing these bytes means bumping WIRE_FORMAT.
#[test]
fn golden_changes_frame() {
    #[rustfmt::skip]
    let expected: &[u8] = &[
        // magic, format 1, flags 0, payload length 61, crc32c
        b'H', b'S', b'Y', b'N', 1, 0, 0, 61, 0, 0, 0, 181, 99, 95, 109,
        // Changes, 1 commit, dot (node 01.., seq 3), hlc 0x0102 (varint)
        1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3,
        130, 2,
        // 2 row changes; the first: table "t", key [Integer(-1)] (zigzag),
        // Upsert [(2, Text("a")), (5, Boolean(true))], context {01..: 2}
        2,
        1, b't', 1, 2, 1,
        0, 2, 2, 4, 1, b'a', 5, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2,
        // the second: table "t", key [Integer(7)], Delete, empty context
        1, b't', 1, 2, 14, 1, 0,
    ];
    assert_eq!(encode(&small_changes()).unwrap(), expected);
    assert_eq!(decode(expected).unwrap(), small_changes());
}

// ---- round trips ----------------------------------------------------------------------------

fn node_id() -> impl Strategy<Value = NodeId> {
    // Mostly a few shared ids, so vectors overlap the way real ones do; sometimes any id.
    prop_oneof![3 => (0_u8..4).prop_map(node), 1 => any::<[u8; 16]>().prop_map(NodeId)]
}

fn version_vector() -> impl Strategy<Value = VersionVector> {
    prop::collection::vec((node_id(), any::<u64>()), 0..5)
        .prop_map(|entries| entries.into_iter().collect())
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Integer),
        // NaN is not equal to itself, so a round trip could not be checked with ==.
        any::<f64>()
            .prop_filter("not NaN", |r| !r.is_nan())
            .prop_map(Value::Real),
        ".{0,20}".prop_map(Value::Text),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Blob),
        any::<i64>().prop_map(Value::Timestamp),
        prop::collection::vec(any::<f32>().prop_filter("not NaN", |x| !x.is_nan()), 0..8)
            .prop_map(Value::Vector),
    ]
}

fn row_op() -> impl Strategy<Value = RowOp> {
    prop_oneof![
        // A map, so that each column appears once, as the format requires.
        prop::collection::btree_map(any::<u32>(), value(), 0..6).prop_map(|columns| {
            RowOp::Upsert {
                columns: columns.into_iter().collect(),
            }
        }),
        Just(RowOp::Delete),
    ]
}

fn row_change() -> impl Strategy<Value = RowChange> {
    (
        "[a-z_]{1,12}",
        prop::collection::vec(value(), 1..3),
        row_op(),
        version_vector(),
    )
        .prop_map(|(table, key, op, context)| RowChange {
            table,
            key,
            op,
            context,
        })
}

fn commit() -> impl Strategy<Value = Commit> {
    (
        node_id(),
        1..=u64::MAX,
        any::<u64>(),
        prop::collection::vec(row_change(), 0..5),
    )
        .prop_map(|(node, seq, hlc, changes)| Commit {
            dot: Dot { node, seq },
            hlc: Hlc(hlc),
            changes,
        })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (node_id(), version_vector())
            .prop_map(|(node, frontier)| Message::Hello { node, frontier }),
        prop::collection::vec(commit(), 0..5)
            .prop_map(|commits| Message::Changes(ChangeBatch { commits })),
        (node_id(), version_vector()).prop_map(|(node, frontier)| Message::Ack { node, frontier }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(message in message()) {
        let frame = encode(&message).unwrap();
        prop_assert_eq!(frame_len(&frame).unwrap(), Some(frame.len()));
        prop_assert_eq!(decode(&frame).unwrap(), message);
    }
}

#[test]
fn compressible_batch_is_compressed() {
    let message = big_changes();
    let plain_len = postcard::to_stdvec(&message).unwrap().len();
    let frame = encode(&message).unwrap();
    assert_eq!(flags_of(&frame) & FLAG_LZ4, FLAG_LZ4);
    assert!(
        frame.len() < plain_len / 2,
        "frame of {} bytes for {plain_len} bytes of postcard",
        frame.len()
    );
    assert_eq!(decode(&frame).unwrap(), message);
}

#[test]
fn small_messages_are_not_compressed() {
    let frame = encode(&small_changes()).unwrap();
    assert!(frame.len() - FRAME_HEADER_BYTES < COMPRESS_BYTES_MIN);
    assert_eq!(flags_of(&frame), 0);
}

#[test]
fn incompressible_payloads_are_sent_plain() {
    // Pseudo-random bytes: lz4 cannot shrink them.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise = (0..4_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    let message = Message::Changes(ChangeBatch {
        commits: vec![Commit {
            dot: Dot {
                node: node(1),
                seq: 1,
            },
            hlc: Hlc(1),
            changes: vec![RowChange {
                table: "blobs".into(),
                key: vec![Value::Integer(1)],
                op: RowOp::Upsert {
                    columns: vec![(1, Value::Blob(noise))],
                },
                context: VersionVector::new(),
            }],
        }],
    });
    let frame = encode(&message).unwrap();
    assert_eq!(flags_of(&frame), 0);
    assert_eq!(decode(&frame).unwrap(), message);
}

#[test]
fn frame_len_matches_encode() {
    for message in [small_changes(), big_changes()] {
        let frame = encode(&message).unwrap();
        assert_eq!(frame_len(&frame).unwrap(), Some(frame.len()));
        // The header alone is enough.
        assert_eq!(
            frame_len(&frame[..FRAME_HEADER_BYTES]).unwrap(),
            Some(frame.len())
        );
    }
}

#[test]
fn frame_len_is_none_for_short_input() {
    let frame = encode(&small_changes()).unwrap();
    for len in 0..FRAME_HEADER_BYTES {
        assert_eq!(frame_len(&frame[..len]), Ok(None), "{len} bytes");
    }
}

// ---- damaged frames -------------------------------------------------------------------------

#[test]
fn every_bit_flip_is_rejected() {
    for message in [small_changes(), big_changes()] {
        let frame = encode(&message).unwrap();
        let mut damaged = frame.clone();
        for position in 0..frame.len() {
            for bit in 0..8 {
                damaged[position] ^= 1 << bit;
                let result = decode(&damaged);
                assert!(
                    result.is_err(),
                    "flipping bit {bit} of byte {position} (flags {}) decoded: {result:?}",
                    flags_of(&frame)
                );
                damaged[position] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    for message in [small_changes(), big_changes()] {
        let frame = encode(&message).unwrap();
        for len in 0..frame.len() {
            let result = decode(&frame[..len]);
            assert!(
                matches!(result, Err(WireError::Truncated { .. })),
                "{len} of {} bytes: {result:?}",
                frame.len()
            );
        }
    }
}

#[test]
fn an_appended_byte_is_rejected() {
    for message in [small_changes(), big_changes()] {
        let mut frame = encode(&message).unwrap();
        frame.push(0);
        assert_eq!(decode(&frame), Err(WireError::TrailingBytes(1)));
    }
}

#[test]
fn a_newer_format_asks_for_an_upgrade() {
    let mut frame = encode(&small_changes()).unwrap();
    frame[4..6].copy_from_slice(&(WIRE_FORMAT + 1).to_le_bytes());
    let expected = WireError::NewerFormat {
        found: WIRE_FORMAT + 1,
        supported: WIRE_FORMAT,
    };
    assert!(expected.to_string().contains("upgrade HeliosDB Nano"));
    assert_eq!(frame_len(&frame), Err(expected.clone()));
    assert_eq!(decode(&frame), Err(expected));
}

#[test]
fn format_zero_is_bad() {
    let mut frame = encode(&small_changes()).unwrap();
    frame[4..6].copy_from_slice(&0_u16.to_le_bytes());
    assert_eq!(decode(&frame), Err(WireError::BadFormat(0)));
}

#[test]
fn bad_magic_is_rejected() {
    let mut frame = encode(&small_changes()).unwrap();
    frame[..4].copy_from_slice(b"HSYM");
    assert_eq!(frame_len(&frame), Err(WireError::BadMagic));
    assert_eq!(decode(&frame), Err(WireError::BadMagic));
}

#[test]
fn unknown_flags_are_rejected() {
    let plain = postcard::to_stdvec(&small_changes()).unwrap();
    for flags in [0b10, 0b1000_0000, 0b1111_1111] {
        let frame = frame_around(WIRE_FORMAT, flags, &plain);
        let expected = WireError::UnknownFlags(flags & !FLAG_LZ4);
        assert_eq!(frame_len(&frame), Err(expected.clone()));
        assert_eq!(decode(&frame), Err(expected));
    }
}

#[test]
fn a_declared_length_over_the_limit_is_too_large() {
    // Only the header is present: the length is refused before any payload is read or
    // buffered, rather than reported as a truncation the transport would wait out.
    let mut frame = frame_around(WIRE_FORMAT, 0, &[]);
    frame[7..11].copy_from_slice(&(FRAME_BYTES_MAX + 1).to_le_bytes());
    let expected = WireError::TooLarge {
        bytes: u64::from(FRAME_BYTES_MAX) + 1,
        max: u64::from(FRAME_BYTES_MAX),
    };
    assert_eq!(frame_len(&frame), Err(expected.clone()));
    assert_eq!(decode(&frame), Err(expected));
    frame[7..11].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decode(&frame), Err(WireError::TooLarge { .. })));
}

#[test]
fn an_lz4_size_prefix_over_the_limit_is_refused() {
    let mut payload = (2_u32 << 30).to_le_bytes().to_vec();
    payload.extend_from_slice(&[0x1f, 0, 1, 0, 0xff, 0xff, 0xff]);
    assert_eq!(
        decode(&frame_around(WIRE_FORMAT, FLAG_LZ4, &payload)),
        Err(WireError::TooLarge {
            bytes: 2 << 30,
            max: u64::from(FRAME_BYTES_MAX),
        })
    );
}

#[test]
fn a_lying_lz4_size_prefix_is_refused() {
    let plain = postcard::to_stdvec(&big_changes()).unwrap();
    let mut payload = lz4_flex::block::compress_prepend_size(&plain);
    for size in [plain.len() - 1, plain.len() + 1, 0] {
        payload[..4].copy_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
        let result = decode(&frame_around(WIRE_FORMAT, FLAG_LZ4, &payload));
        assert!(
            matches!(result, Err(WireError::Decompress(_))),
            "size {size}: {result:?}"
        );
    }
}

#[test]
fn bytes_after_the_message_are_rejected() {
    let mut plain = postcard::to_stdvec(&small_changes()).unwrap();
    plain.push(0);
    assert!(matches!(
        decode(&frame_around(WIRE_FORMAT, 0, &plain)),
        Err(WireError::Decode(_))
    ));
}

#[test]
fn sequence_zero_is_invalid() {
    let Message::Changes(mut batch) = small_changes() else {
        unreachable!()
    };
    batch.commits[0].dot.seq = 0;
    let message = Message::Changes(batch);
    assert!(matches!(encode(&message), Err(WireError::Invalid(_))));
    // A peer that skips the check is caught on this side.
    let plain = postcard::to_stdvec(&message).unwrap();
    assert!(matches!(
        decode(&frame_around(WIRE_FORMAT, 0, &plain)),
        Err(WireError::Invalid(_))
    ));
}

#[test]
fn duplicate_columns_from_a_peer_are_invalid() {
    let message = Message::Changes(ChangeBatch {
        commits: vec![Commit {
            dot: Dot {
                node: node(1),
                seq: 1,
            },
            hlc: Hlc(1),
            changes: vec![RowChange {
                table: "t".into(),
                key: vec![Value::Integer(1)],
                op: RowOp::Upsert {
                    columns: vec![(4, Value::Integer(1)), (4, Value::Integer(2))],
                },
                context: VersionVector::new(),
            }],
        }],
    });
    let plain = postcard::to_stdvec(&message).unwrap();
    assert!(matches!(
        decode(&frame_around(WIRE_FORMAT, 0, &plain)),
        Err(WireError::Invalid(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        // Without the magic nothing decodes; a random match is a 1 in 2^32 chance per case.
        prop_assert!(decode(&bytes).is_err());
        let _ = frame_len(&bytes);
    }

    #[test]
    fn random_bytes_with_a_magic_are_rejected(
        header in prop::collection::vec(any::<u8>(), 11),
        rest in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut bytes = b"HSYN".to_vec();
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&rest);
        let _ = frame_len(&bytes);
        let _ = decode(&bytes);
    }

    // A correct header and checksum around garbage, so postcard and lz4 see it.
    #[test]
    fn garbage_payloads_do_not_panic(
        compressed in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let flags = if compressed { FLAG_LZ4 } else { 0 };
        let _ = decode(&frame_around(WIRE_FORMAT, flags, &payload));
    }

    // Garbage that starts like a real message gets further into the decoder.
    #[test]
    fn mangled_payloads_do_not_panic(
        message in message(),
        cut in any::<prop::sample::Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut plain = postcard::to_stdvec(&message).unwrap();
        plain.truncate(cut.index(plain.len() + 1));
        plain.extend_from_slice(&tail);
        let _ = decode(&frame_around(WIRE_FORMAT, 0, &plain));
        let compressed = lz4_flex::block::compress_prepend_size(&plain);
        let _ = decode(&frame_around(WIRE_FORMAT, FLAG_LZ4, &compressed));
    }
}
