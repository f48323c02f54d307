//! Policy validation against IAM Access Analyzer's documented examples and recorded output
//! (tests/data/access-analyzer), the `validate-policy` command's output, `iamgate validate` on a
//! store with a typo, and the gateway's reload log.

mod support;
use support::scratch::demo_policies as demo;
use support::{GatewayConfig, Route, Scratch};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use iamgate::analyzer::{findings_json, validate_policy, Catalog, PolicyType};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/access-analyzer")
        .join(name)
}

fn iamgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn findings_match_access_analyzers_documented_examples() {
    let cases: Value =
        serde_json::from_str(&fs::read_to_string(data("cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let text = match case.get("policy_text") {
            Some(t) => t.as_str().unwrap().to_owned(),
            None => serde_json::to_string_pretty(&case["policy"]).unwrap(),
        };
        let policy_type: PolicyType = case["policy_type"].as_str().unwrap().parse().unwrap();
        let findings = validate_policy(&text, policy_type, None, &Catalog::aws());
        let got = findings_json(&findings);
        let got = got["findings"].as_array().unwrap();
        let expected = case["expect"].as_array().unwrap();
        let codes = |list: &[Value]| -> Vec<String> {
            list.iter()
                .map(|f| format!("{} {}", f["findingType"], f["issueCode"]))
                .collect()
        };
        assert_eq!(codes(got), codes(expected), "{name}: {got:#?}");
        for (g, e) in got.iter().zip(expected) {
            for field in ["findingDetails", "learnMoreLink"] {
                if let Some(want) = e.get(field) {
                    assert_eq!(&g[field], want, "{name}: {field}");
                }
            }
            if let Some(path) = e.get("path") {
                assert_eq!(&g["locations"][0]["path"], path, "{name}: path");
            }
            if let Some(span) = e.get("span") {
                assert_eq!(&g["locations"][0]["span"], span, "{name}: span");
            }
        }
    }
}

#[test]
fn validate_policy_prints_what_the_aws_cli_prints() {
    // The AWS CLI reference's example of `aws accessanalyzer validate-policy`, verbatim.
    let policy = data("aws-cli-example.policy.json");
    let out = iamgate(&[
        "validate-policy",
        "--policy-document",
        &format!("file://{}", policy.display()),
        "--policy-type",
        "RESOURCE_POLICY",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut expected: Value =
        serde_json::from_str(&fs::read_to_string(data("aws-cli-example.expected.json")).unwrap())
            .unwrap();
    // The example's condition value was shortened by two characters when the documentation
    // was written: its span ends two columns before the one printed. Every other field stands.
    let span = &mut expected["findings"][2]["locations"][1]["span"]["end"];
    assert_eq!(span["column"], 79);
    span["column"] = 77.into();
    span["offset"] = 462.into();
    assert_eq!(got, expected);
    let text = fs::read_to_string(&policy).unwrap();
    let value_at = text.find("\"us-west-2_EXAMPLE\"").unwrap();
    assert_eq!(
        got["findings"][2]["locations"][1]["span"]["start"]["offset"],
        value_at
    );

    // Inline documents, the options' values and a clean policy.
    let out = iamgate(&[
        "validate-policy",
        "--policy-document",
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}}"#,
        "--policy-type",
        "RESOURCE_POLICY",
        "--validate-policy-resource-type",
        "AWS::IAM::AssumeRolePolicyDocument",
    ]);
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!({"findings": []})
    );
    let out = iamgate(&[
        "validate-policy",
        "--policy-document",
        "{}",
        "--policy-type",
        "PERSONAL_POLICY",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("IDENTITY_POLICY"));
    let out = iamgate(&[
        "validate-policy",
        "--policy-document",
        r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObjects", "Resource": "*"}}"#,
        "--policy-type",
        "IDENTITY_POLICY",
        "--output",
        "text",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1:1: WARNING MISSING_VERSION"), "{text}");
    assert!(
        text.contains("ERROR INVALID_ACTION at Statement.Action: The action s3:GetObjects does not exist. Did you mean s3:GetObject?"),
        "{text}"
    );
}

/// Misspells bob's `s3:GetObject` (his inline ReadReports policy) in a copy of the demo store;
/// the new text of its `iam.json`.
fn misspell(store: &Scratch) -> String {
    let iam = store.join("111122223333/iam.json");
    let text = fs::read_to_string(&iam).unwrap();
    let at = text
        .find("\"s3:GetObject\"")
        .expect("the demo grants s3:GetObject");
    let text = format!(
        "{}\"s3:GetObjects\"{}",
        &text[..at],
        &text[at + "\"s3:GetObject\"".len()..]
    );
    fs::write(iam, &text).unwrap();
    text
}

#[test]
fn validate_reports_a_typo_in_the_store_and_fails() {
    // The demo has warnings only: they are printed, and the store validates.
    let out = iamgate(&["validate", "--policies", demo().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SECURITY_WARNING PUBLIC_ACCESS: policy 'arn:aws:s3:::public'"),
        "{stderr}"
    );
    assert!(stderr.contains("(0 error(s))"), "{stderr}");

    let s = Scratch::demo_store("typo");
    let text = misspell(&s);
    // It still loads: the gateway would serve it, with bob's read access quietly gone.
    assert!(iamgate::store::load(s.path()).is_ok());
    let out = iamgate(&["validate", "--policies", s.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an ERROR finding fails validation"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .position(|l| l.contains("s3:GetObjects"))
        .unwrap()
        + 1;
    let column = text
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("\"s3:GetObjects\"")
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!(
            "111122223333/iam.json:{line}:{column}: ERROR INVALID_ACTION: policy 'arn:aws:iam::111122223333:user/bob (inline ReadReports)'"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Did you mean s3:GetObject?"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 accounts"));
}

#[test]
fn a_reload_logs_the_findings_it_brings_and_still_loads() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    // This test binary's only subscriber: the reload runs on the watcher's thread.
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let log = || String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !log().contains(what) {
            assert!(
                std::time::Instant::now() < deadline,
                "no '{what}' in:\n{}",
                log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };

    let s = Scratch::demo_store("reload");
    let store = iamgate::store::LiveStore::open_validated(s.path(), Catalog::aws()).unwrap();
    // At start: the demo's findings, on a thread of their own.
    wait_for("issue=PUBLIC_ACCESS");
    let _watch = store.watch().unwrap();
    misspell(&s);
    wait_for("issue=INVALID_ACTION");
    let log = log();
    let line = log
        .lines()
        .find(|l| l.contains("issue=INVALID_ACTION"))
        .unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains(
            "policy finding: The action s3:GetObjects does not exist. Did you mean s3:GetObject?"
        ),
        "{line}"
    );
    assert!(line.contains("finding=ERROR"), "{line}");
    assert!(line.contains("111122223333/iam.json"), "{line}");
    assert!(log.contains("policy store reloaded"), "{log}");
    assert!(
        !log.contains("not loaded"),
        "a finding never blocks a load: {log}"
    );
    assert!(store.generation() >= 2);
    assert_eq!(
        log.matches("issue=PUBLIC_ACCESS").count(),
        1,
        "a reload logs only the findings it brings: {log}"
    );
}

#[test]
fn route_table_actions_are_known_from_the_configuration() {
    let dir = Scratch::new("routes");
    let config = dir.join("iamgate.toml");
    fs::write(
        &config,
        GatewayConfig::new()
            .orders("http://127.0.0.1:9", &[Route::GetOrder])
            .text(),
    )
    .unwrap();
    let policy = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Action": ["orders:GetOrder", "orders:GetOrdr", "ec2:RunInstances"], "Resource": "*"}}"#;
    let run = |extra: &[&str]| {
        let mut args = vec![
            "validate-policy",
            "--policy-document",
            policy,
            "--policy-type",
            "IDENTITY_POLICY",
        ];
        args.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["issueCode"].as_str().unwrap(),
                    f["findingDetails"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    // With the route table: its actions exist, a misspelt one does not; ec2 is not vendored, so
    // its actions are not checked.
    let with = run(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        with,
        ["INVALID_ACTION The action orders:GetOrdr does not exist. Did you mean orders:GetOrder?"]
    );
    // ./iamgate.toml is read when present; elsewhere `orders` names no AWS service.
    assert_eq!(run(&[]), with);
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args([
            "validate-policy",
            "--policy-document",
            policy,
            "--policy-type",
            "IDENTITY_POLICY",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("INVALID_SERVICE_IN_ACTION").count(),
        2,
        "{text}"
    );
}
