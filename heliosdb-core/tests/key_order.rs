//! Property: the key encoding preserves order and round-trips.
use std::cmp::Ordering;

use heliosdb_core::Value;
use heliosdb_core::key::{decode, encode, key_cmp, tuple_cmp};
use proptest::prelude::*;

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Integer),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(-0.0),
            Just(0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            any::<u64>().prop_map(f64::from_bits)
        ]
        .prop_map(Value::Real),
        ".{0,12}".prop_map(Value::Text),
        "[a\\x00b]{0,6}".prop_map(Value::Text),
        proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()],
            0..8
        )
        .prop_map(Value::Blob),
        any::<i64>().prop_map(Value::Timestamp),
        proptest::collection::vec(any::<f32>(), 0..4).prop_map(Value::Vector),
    ]
}

/// What a value reads back as from a key: reals canonical (one NaN, no -0.0).
fn canonical(v: &Value) -> Value {
    match v {
        Value::Real(r) if r.is_nan() => Value::Real(f64::NAN),
        Value::Real(r) if *r == 0.0 => Value::Real(0.0),
        Value::Vector(xs) => Value::Vector(
            xs.iter()
                .map(|x| {
                    if x.is_nan() {
                        f32::NAN
                    } else if *x == 0.0 {
                        0.0
                    } else {
                        *x
                    }
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn single_values_order(a in any_value(), b in any_value()) {
        let (ea, eb) = (encode(std::slice::from_ref(&a)), encode(std::slice::from_ref(&b)));
        prop_assert_eq!(ea.cmp(&eb), key_cmp(&a, &b), "{:?} vs {:?}", a, b);
    }

    #[test]
    fn tuples_order(a in proptest::collection::vec(any_value(), 0..4),
                    b in proptest::collection::vec(any_value(), 0..4)) {
        prop_assert_eq!(encode(&a).cmp(&encode(&b)), tuple_cmp(&a, &b));
    }

    #[test]
    fn round_trips(values in proptest::collection::vec(any_value(), 0..5)) {
        let decoded = decode(&encode(&values)).unwrap();
        let expected: Vec<Value> = values.iter().map(canonical).collect();
        prop_assert_eq!(decoded.len(), expected.len());
        for (d, e) in decoded.iter().zip(&expected) {
            prop_assert!(d.same_as(e), "{:?} != {:?}", d, e);
        }
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = decode(&bytes);
    }
}

#[test]
fn null_first_and_negatives_before_positives() {
    let ordered = [
        Value::Null,
        Value::Integer(i64::MIN),
        Value::Integer(-1),
        Value::Integer(0),
        Value::Integer(1),
        Value::Integer(i64::MAX),
    ];
    for w in ordered.windows(2) {
        assert_eq!(key_cmp(&w[0], &w[1]), Ordering::Less);
        assert!(encode(&w[..1]) < encode(&w[1..]));
    }
}

proptest! {
    #[test]
    fn encoded_len_finds_each_value(values in proptest::collection::vec(any_value(), 1..5)) {
        let bytes = encode(&values);
        let mut rest = &bytes[..];
        for v in &values {
            let n = heliosdb_core::key::encoded_len(rest).unwrap();
            let alone = encode(std::slice::from_ref(v));
            prop_assert_eq!(&rest[..n], alone.as_slice());
            rest = &rest[n..];
        }
        prop_assert!(rest.is_empty());
    }
}
