//! Replays the fuzzers' regression seeds (`fuzz/regressions/<target>/*`) through the very code
//! the fuzz targets run, so that plain `cargo test` catches a regression without libFuzzer.

use std::path::{Path, PathBuf};

mod policy_parse {
    include!("../fuzz/src/policy_parse.rs");
}

mod policy_validate {
    include!("../fuzz/src/policy_validate.rs");
}

mod wildcard {
    include!("../fuzz/src/wildcard.rs");
}

mod sigv4_header {
    include!("../fuzz/src/sigv4_header.rs");
}

mod sigv4_query {
    include!("../fuzz/src/sigv4_query.rs");
}

mod chunk_decoder {
    include!("../fuzz/src/chunk_decoder.rs");
}

mod canonical {
    include!("../fuzz/src/canonical.rs");
}

mod s3_route {
    include!("../fuzz/src/s3_route.rs");
}

mod route_table {
    include!("../fuzz/src/route_table.rs");
}

mod sts_inputs {
    include!("../fuzz/src/sts_inputs.rs");
}

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.is_file()
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression seed in {}", dir.display());
    files
}

/// Runs `check` on every seed of `target`, each under `catch_unwind`, and fails naming every
/// seed that panicked.
fn replay(target: &str, check: fn(&[u8])) {
    let mut failed = Vec::new();
    for path in seeds(target) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: regression seeds panicked: {failed:#?}"
    );
}

#[test]
fn policy_parse_regressions() {
    replay("policy_parse", policy_parse::check_policy_parse);
}

#[test]
fn policy_validate_regressions() {
    replay("policy_validate", policy_validate::check_policy_validate);
}

#[test]
fn wildcard_regressions() {
    replay("wildcard", wildcard::check_wildcard);
}

#[test]
fn sigv4_header_regressions() {
    replay("sigv4_header", sigv4_header::check_sigv4_header);
}

#[test]
fn sigv4_query_regressions() {
    replay("sigv4_query", sigv4_query::check_sigv4_query);
}

#[test]
fn chunk_decoder_regressions() {
    replay("chunk_decoder", chunk_decoder::check_chunk_decoder);
}

#[test]
fn canonical_regressions() {
    replay("canonical", canonical::check_canonical);
}

#[test]
fn s3_route_regressions() {
    replay("s3_route", s3_route::check_s3_route);
}

#[test]
fn route_table_regressions() {
    replay("route_table", route_table::check_route_table);
}

#[test]
fn sts_inputs_regressions() {
    replay("sts_inputs", sts_inputs::check_sts_inputs);
}

#[test]
fn reference_matcher_sanity() {
    use wildcard::reference_matches as m;
    assert!(m("", ""));
    assert!(m("*", ""));
    assert!(m("a*b*c", "aXbYbZc"));
    assert!(!m("a*b*c", "aXbYbZ"));
    assert!(m("?", "é"));
    assert!(!m("??", "é"));
    assert!(!m("?", ""));
    assert!(m("*?*", "x"));
}
