// The body of the `policy_validate` fuzz target, shared by `fuzz_targets/policy_validate.rs`
// and the main crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc
// comments and no crate-level items here). It must never panic, whatever the bytes.

use iamgate::analyzer::{json, validate_policy, Catalog, PolicyType, TRUST_POLICY};

/// Validates `data` (when UTF-8) as every policy type; checks that the JSON reader and
/// serde_json agree on what is JSON and that every finding's span lies inside the text.
pub fn check_policy_validate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut catalog = Catalog::aws();
    catalog.add_service("orders", ["GetOrder".to_owned()]);
    let chars = text.chars().count();
    for (policy_type, resource_type) in [
        (PolicyType::Identity, None),
        (PolicyType::Resource, None),
        (PolicyType::Resource, Some(TRUST_POLICY)),
        (PolicyType::ServiceControl, None),
    ] {
        for finding in validate_policy(text, policy_type, resource_type, &catalog) {
            for location in &finding.locations {
                assert!(location.start.offset <= location.end.offset, "{finding:?}");
                assert!(location.end.offset <= chars, "{finding:?}");
            }
            let _ = finding.to_json();
        }
    }
    let serde_ok = serde_json::from_str::<serde_json::Value>(text).is_ok();
    match json::parse(text) {
        // serde_json refuses numbers out of f64's range and deep nesting the reader accepts.
        Ok(_) => assert!(
            serde_ok || text.contains(['e', 'E']) || text.matches(['[', '{']).count() > 100,
            "{text:?}"
        ),
        Err(e) => {
            assert!(!serde_ok, "{text:?}: {e}");
            assert!(e.offset <= text.len());
        }
    }
}
