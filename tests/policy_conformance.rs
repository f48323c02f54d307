//! The shared policy conformance cases, run through the real binary exactly as CI's runner does.

use std::path::Path;
use std::process::Command;

#[test]
fn every_policy_conformance_case_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let runner = root.join("tests/data/conformance/run-policy-cases");
    let cases = root.join("tests/data/conformance/policy-cases.json");
    let out = Command::new("python3")
        .arg(&runner)
        .arg(env!("CARGO_BIN_EXE_iamgate"))
        .arg(&cases)
        .arg("-v")
        .output()
        .expect("python3 runs the conformance runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "conformance failures:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
