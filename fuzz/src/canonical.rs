// The body of the `canonical` fuzz target, shared by `fuzz_targets/canonical.rs` and the main
// crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments and no
// crate-level items here). It must never panic, whatever the bytes.
//
// Input: `path NUL query NUL header-value` (missing parts are empty). Checks the SigV4
// canonicaliser (`iamgate::sigv4::canonical`) against properties that AWS's definition implies.

use iamgate::sigv4::canonical::{
    canonical_header_value, canonical_path, canonical_query, parse_query, percent_decode, uri_encode,
    PathMode,
};

/// Whether `out` is only unreserved bytes, `/` (when allowed) and `%XX` escapes (upper-case
/// hex).
pub fn well_encoded(out: &[u8], slash: bool) -> bool {
    well_encoded_case(out, slash, false)
}

/// [`well_encoded`], with lower-case hex escapes allowed when `any_case` (S3 keeps the escapes
/// a client sent as they are: `%aF` stays `%aF`).
pub fn well_encoded_case(out: &[u8], slash: bool, any_case: bool) -> bool {
    let mut i = 0;
    while i < out.len() {
        let b = out[i];
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (slash && b == b'/')
        {
            i += 1;
        } else if b == b'%'
            && out
                .get(i + 1..i + 3)
                .is_some_and(|h| {
                    h.iter().all(|c| {
                        c.is_ascii_digit()
                            || (b'A'..=b'F').contains(c)
                            || (any_case && (b'a'..=b'f').contains(c))
                    })
                })
        {
            i += 3;
        } else {
            return false;
        }
    }
    true
}

/// Runs the properties on one input.
pub fn check_canonical(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let path = parts.next().unwrap_or(b"");
    let query = parts.next().unwrap_or(b"");
    let value = parts.next().unwrap_or(b"");

    // S3 (as sent): well encoded, decodes to what the raw path decodes to, idempotent.
    let mut as_sent = Vec::new();
    canonical_path(&mut as_sent, path, PathMode::AsSent);
    assert!(well_encoded_case(&as_sent, true, true), "AsSent output {as_sent:?}");
    if !path.is_empty() {
        assert_eq!(
            percent_decode(&as_sent),
            percent_decode(path),
            "AsSent changes what the path means"
        );
    }
    let mut again = Vec::new();
    canonical_path(&mut again, &as_sent, PathMode::AsSent);
    assert_eq!(again, as_sent, "AsSent is not idempotent");

    // Other services (normalised): absolute, well encoded, no empty or dot segment inside.
    let mut normalized = Vec::new();
    canonical_path(&mut normalized, path, PathMode::Normalized);
    assert!(normalized.starts_with(b"/"));
    assert!(well_encoded(&normalized, true), "Normalized output {normalized:?}");
    let inner = normalized.strip_suffix(b"/").unwrap_or(&normalized);
    if !inner.is_empty() {
        for segment in inner[1..].split(|&b| b == b'/') {
            assert!(
                !segment.is_empty() && segment != b"." && segment != b"..",
                "Normalized kept segment {segment:?} in {normalized:?}"
            );
        }
    }

    // Query: well encoded pairs, sorted, and canonicalising the canonical query changes nothing.
    let params = parse_query(query);
    let mut canonical = Vec::new();
    canonical_query(&mut canonical, query, |_| false);
    // The one-pass canonical form is the specification's: decode each parameter, then encode.
    let mut by_spec: Vec<Vec<u8>> = params
        .iter()
        .map(|(n, v)| {
            let mut pair = Vec::new();
            uri_encode(&mut pair, n, false);
            pair.push(b'=');
            uri_encode(&mut pair, v, false);
            pair
        })
        .collect();
    by_spec.sort_unstable_by(|a, b| {
        let split = |p: &[u8]| {
            let eq = p.iter().position(|&b| b == b'=').unwrap_or(p.len());
            (p[..eq].to_vec(), p[eq..].to_vec())
        };
        split(a).cmp(&split(b))
    });
    assert_eq!(canonical, by_spec.join(&b'&'), "canonical query differs from decode-then-encode");
    let pairs: Vec<&[u8]> = if canonical.is_empty() {
        Vec::new()
    } else {
        canonical.split(|&b| b == b'&').collect()
    };
    assert_eq!(pairs.len(), params.len(), "parameters lost in {canonical:?}");
    for pair in &pairs {
        let eq = pair.iter().position(|&b| b == b'=').expect("a pair has '='");
        assert!(well_encoded(&pair[..eq], false) && well_encoded(&pair[eq + 1..], false));
    }
    let split: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|p| {
            let eq = p.iter().position(|&b| b == b'=').unwrap_or(p.len());
            (&p[..eq], p.get(eq + 1..).unwrap_or(b""))
        })
        .collect();
    assert!(split.windows(2).all(|w| w[0] <= w[1]), "not sorted: {canonical:?}");
    let mut twice = Vec::new();
    canonical_query(&mut twice, &canonical, |_| false);
    assert_eq!(twice, canonical, "canonical query is not a fixed point");

    // Header value: trimmed, single spaces, no tab or line break; idempotent.
    let mut header = Vec::new();
    canonical_header_value(&mut header, value);
    assert!(!header.starts_with(b" ") && !header.ends_with(b" "));
    assert!(!header.windows(2).any(|w| w == b"  "));
    assert!(!header.iter().any(|b| matches!(b, b'\t' | b'\r' | b'\n')));
    let mut header_again = Vec::new();
    canonical_header_value(&mut header_again, &header);
    assert_eq!(header_again, header);
}
