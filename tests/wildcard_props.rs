//! Property test: the engine's wildcard matcher agrees with a simple reference matcher over
//! patterns and texts drawn from a small alphabet, where collisions are frequent.

use proptest::prelude::*;

// Only the reference matcher is used here, not the fuzz target's entry point.
#[allow(dead_code)]
mod wildcard {
    include!("../fuzz/src/wildcard.rs");
}

fn pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!["a", "b", "/", "*", "?", "é"]),
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(vec!["a", "b", "/", "é"]), 0..14)
        .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8000))]

    #[test]
    fn matcher_agrees_with_reference(p in pattern(), t in text()) {
        prop_assert_eq!(
            iamgate::policy::testing::wildcard_matches(&p, &t),
            wildcard::reference_matches(&p, &t),
            "pattern {:?} text {:?}", p, t
        );
    }

    /// Texts that are the pattern itself with its wildcards filled in always match.
    #[test]
    fn filled_pattern_matches(p in pattern(), fills in proptest::collection::vec(text(), 12)) {
        let mut t = String::new();
        for (i, c) in p.chars().enumerate() {
            match c {
                '*' => t.push_str(&fills[i % fills.len()]),
                '?' => t.push(fills[i % fills.len()].chars().next().unwrap_or('é')),
                c => t.push(c),
            }
        }
        prop_assert!(wildcard::reference_matches(&p, &t));
        prop_assert!(iamgate::policy::testing::wildcard_matches(&p, &t), "pattern {:?} text {:?}", p, t);
    }
}
