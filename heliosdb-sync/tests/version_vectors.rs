//! Version vectors form a join-semilattice under merge, and `compare` agrees with
//! `dominates`; frontiers advance only by the next commit of an origin.
use heliosdb_core::NodeId;
use heliosdb_sync::{Causality, Dot, VersionVector};
use proptest::prelude::*;

fn vv() -> impl Strategy<Value = VersionVector> {
    prop::collection::vec((0u8..5, 0u64..6), 0..6).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(n, s)| (NodeId([n; 16]), s))
            .collect()
    })
}

fn merged(a: &VersionVector, b: &VersionVector) -> VersionVector {
    let mut m = a.clone();
    m.merge(b);
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn merge_is_a_join(a in vv(), b in vv(), c in vv()) {
        prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        prop_assert_eq!(merged(&a, &a), a.clone());
        let m = merged(&a, &b);
        prop_assert!(m.dominates(&a) && m.dominates(&b));
    }

    #[test]
    fn compare_agrees_with_dominates(a in vv(), b in vv()) {
        let expected = match (a.dominates(&b), b.dominates(&a)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        };
        prop_assert_eq!(a.compare(&b), expected);
        // Equal means equal (no zero entries linger), and the relation is antisymmetric.
        prop_assert_eq!(a.compare(&b) == Causality::Equal, a == b);
        let flipped = match expected {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            other => other,
        };
        prop_assert_eq!(b.compare(&a), flipped);
    }

    #[test]
    fn missing_from_lists_exactly_what_the_other_has(a in vv(), b in vv()) {
        let mut caught_up = a.clone();
        for (node, from, to) in a.missing_from(&b) {
            prop_assert_eq!(from, a.get(&node) + 1);
            prop_assert!(to >= from);
            for seq in from..=to {
                let advanced = caught_up.advance(Dot { node, seq });
                prop_assert!(advanced);
            }
        }
        prop_assert!(caught_up.dominates(&b));
        prop_assert_eq!(caught_up, merged(&a, &b));
    }

    #[test]
    fn encoding_round_trips_and_drops_zero_entries(a in vv()) {
        let bytes = postcard::to_stdvec(&a).unwrap();
        let back: VersionVector = postcard::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back, a);
    }
}

#[test]
fn frontiers_advance_one_commit_at_a_time() {
    let n = NodeId([7; 16]);
    let mut f = VersionVector::new();
    assert!(!f.advance(Dot { node: n, seq: 2 }), "a gap is not applied");
    assert!(!f.advance(Dot { node: n, seq: 0 }), "there is no commit 0");
    assert!(f.advance(Dot { node: n, seq: 1 }));
    assert!(
        !f.advance(Dot { node: n, seq: 1 }),
        "a duplicate changes nothing"
    );
    assert!(f.advance(Dot { node: n, seq: 2 }));
    assert_eq!(f.get(&n), 2);
    assert!(f.contains(Dot { node: n, seq: 1 }) && !f.contains(Dot { node: n, seq: 3 }));
    // A hostile encoding with a zero entry decodes to the same vector as without it.
    let with_zero: std::collections::BTreeMap<NodeId, u64> = [(n, 2), (NodeId([9; 16]), 0)].into();
    let bytes = postcard::to_stdvec(&with_zero).unwrap();
    let decoded: VersionVector = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, f);
}
