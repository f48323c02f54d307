// The body of the `wildcard` fuzz target, shared by `fuzz_targets/wildcard.rs` and the main
// crate's tests through `include!` (so no inner doc comments here).

/// The obvious matcher, kept as simple as possible to serve as the reference: dynamic
/// programming over characters, `*` any run (including none), `?` exactly one character.
pub fn reference_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // m[j]: pattern[..i] matches text[..j], for the current i.
    let mut m = vec![false; t.len() + 1];
    m[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=t.len() {
                    any |= m[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = m[j - 1] && (pc == '?' || pc == t[j - 1]);
                }
            }
        }
        m = next;
    }
    m[t.len()]
}

/// Splits `data` (when UTF-8) at its first NUL into pattern and text, and checks that the
/// engine's matcher agrees with the reference.
pub fn check_wildcard(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, text) = input.split_once('\0').unwrap_or((input, ""));
    // Keep the reference's O(p·t) cost bounded.
    if pattern.len() > 512 || text.len() > 512 {
        return;
    }
    let engine = iamgate::policy::testing::wildcard_matches(pattern, text);
    let reference = reference_matches(pattern, text);
    assert_eq!(
        engine, reference,
        "wildcard_matches({pattern:?}, {text:?}) = {engine}, reference says {reference}"
    );
}
