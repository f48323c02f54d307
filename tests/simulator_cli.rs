//! `iamgate simulate-custom-policy` as a user runs it: arguments, output and refusals.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("simulate-custom-policy")
        .args(args)
        .output()
        .expect("the binary runs")
}

const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow",
    "Action":"s3:Get*","Resource":"arn:aws:s3:::reports/*",
    "Condition":{"StringEquals":{"aws:PrincipalTag/team":"data"}}}]}"#;

#[test]
fn json_output_for_every_action_and_resource() {
    let out = run(&[
        "--policy-input-list",
        READ,
        "--action-names",
        "s3:GetObject",
        "s3:PutObject",
        "--resource-arns",
        "arn:aws:s3:::reports/a",
        "arn:aws:s3:::other/a",
        "--context-entries",
        "ContextKeyName=aws:PrincipalTag/team,ContextKeyValues=data,ContextKeyType=string",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["EvaluationResults"].as_array().unwrap();
    let decisions: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r["EvalActionName"].as_str().unwrap(),
                r["EvalResourceName"].as_str().unwrap(),
                r["EvalDecision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        vec![
            ("s3:GetObject", "arn:aws:s3:::reports/a", "allowed"),
            ("s3:GetObject", "arn:aws:s3:::other/a", "implicitDeny"),
            ("s3:PutObject", "arn:aws:s3:::reports/a", "implicitDeny"),
            ("s3:PutObject", "arn:aws:s3:::other/a", "implicitDeny"),
        ]
    );
    assert_eq!(
        results[0]["MatchedStatements"][0]["SourcePolicyId"],
        "PolicyInputList.1"
    );
    assert_eq!(results[0]["MatchedStatements"][0]["Sid"], "Read");
}

#[test]
fn missing_context_values_are_reported() {
    let out = run(&[
        "--policy-input-list",
        READ,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::reports/a",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["EvaluationResults"][0]["EvalDecision"], "implicitDeny");
    assert_eq!(
        v["EvaluationResults"][0]["MissingContextValues"][0],
        "aws:PrincipalTag/team"
    );
}

#[test]
fn text_output_explains() {
    let out = run(&[
        "--policy-input-list",
        READ,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::reports/a",
        "--output",
        "text",
        "--context-entries",
        r#"[{"ContextKeyName":"aws:PrincipalTag/team","ContextKeyValues":["data"],"ContextKeyType":"string"}]"#,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("allowed"), "{text}");
    assert!(
        text.contains("PolicyInputList.1, statement 1 (Sid \"Read\")"),
        "{text}"
    );
}

#[test]
fn malformed_policy_is_refused_with_where_and_what() {
    let out = run(&[
        "--policy-input-list",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"X","Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/99"}}}]}"#,
        "--action-names",
        "s3:GetObject",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PolicyInputList.1"), "{err}");
    assert!(err.contains("Condition"), "{err}");
    assert!(err.contains("10.0.0.0/99"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn resource_policy_needs_a_caller_and_bad_context_is_refused() {
    let rp = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
    let out = run(&["--resource-policy", rp, "--action-names", "s3:GetObject"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--caller-arn"));
    let out = run(&[
        "--resource-policy",
        rp,
        "--action-names",
        "s3:GetObject",
        "--caller-arn",
        "anonymous",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["EvaluationResults"][0]["EvalDecision"], "allowed");
    let out = run(&[
        "--policy-input-list",
        READ,
        "--action-names",
        "s3:GetObject",
        "--context-entries",
        "ContextKeyName=k,ContextKeyValues=v,ContextKeyType=strang",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ContextKeyType"));
}

#[test]
fn policies_from_files() {
    let dir = std::env::temp_dir().join(format!("iamgate-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.json");
    std::fs::write(&path, READ).unwrap();
    let arg = format!("file://{}", path.display());
    let out = run(&[
        "--policy-input-list",
        &arg,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::reports/a",
        "--context-entries",
        "ContextKeyName=aws:PrincipalTag/team,ContextKeyValues=data,ContextKeyType=string",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["EvaluationResults"][0]["EvalDecision"], "allowed");
    let out = run(&[
        "--policy-input-list",
        "file:///nonexistent/p.json",
        "--action-names",
        "s3:GetObject",
    ]);
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn decisions(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn session_policies_cap_the_identity_policies() {
    let session = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/2026/*"}]}"#;
    let common = [
        "--policy-input-list",
        READ,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::reports/2026/q1.csv",
        "arn:aws:s3:::reports/confidential/x",
        "--context-entries",
        "ContextKeyName=aws:PrincipalTag/team,ContextKeyValues=data,ContextKeyType=string",
    ];
    assert_eq!(decisions(&run(&common)), ["allowed", "allowed"]);
    let mut capped = common.to_vec();
    capped.extend(["--session-policy-input-list", session]);
    assert_eq!(decisions(&run(&capped)), ["allowed", "implicitDeny"]);
}

#[test]
fn a_role_session_of_the_store_is_simulated_with_its_role_and_session_policies() {
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let principal = |extra: &[&str]| {
        let mut args = vec![
            "simulate-principal-policy",
            "--policies",
            policies,
            "--policy-source-arn",
            "arn:aws:sts::111122223333:assumed-role/auditor/bob-session",
            "--action-names",
            "s3:GetObject",
            "s3:PutObject",
            "--resource-arns",
            "arn:aws:s3:::reports/confidential/salaries.csv",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_iamgate"))
            .args(&args)
            .output()
            .expect("the binary runs")
    };
    assert_eq!(decisions(&principal(&[])), ["allowed", "implicitDeny"]);
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/2026/*"}]}"#;
    assert_eq!(
        decisions(&principal(&["--session-policy-input-list", narrow])),
        ["implicitDeny", "implicitDeny"]
    );
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args([
            "simulate-principal-policy",
            "--policies",
            policies,
            "--policy-source-arn",
            "arn:aws:sts::111122223333:assumed-role/nobody/s",
            "--action-names",
            "s3:GetObject",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not in the store"));
}
