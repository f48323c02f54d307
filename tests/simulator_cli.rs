//! `iamgate simulate-custom-policy` as a user runs it: arguments, output and refusals.

mod support;
use support::scratch::demo_policies;
use support::Scratch;

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
    let dir = Scratch::new("files");
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

/// The reproductions of the AWS documentation's answers, as a user would type them.
const OBJECT: &str = "arn:aws:s3:::b/o";
const ALICE_ARN: &str = "arn:aws:iam::111122223333:user/alice";

fn custom_decision(args: &[&str]) -> String {
    decisions(&run(args)).remove(0)
}

#[test]
fn allow_with_not_principal_does_not_grant_the_listed_caller() {
    for listed in [
        r#""arn:aws:iam::111122223333:user/alice""#,
        r#"["arn:aws:iam::111122223333:user/alice"]"#,
    ] {
        let rp = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","NotPrincipal":{{"AWS":{listed}}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/o"}}]}}"#
        );
        let args = |caller: &'static str| {
            vec![
                "--caller-arn",
                caller,
                "--resource-policy",
                rp.as_str(),
                "--action-names",
                "s3:GetObject",
                "--resource-arns",
                OBJECT,
            ]
        };
        assert_eq!(custom_decision(&args(ALICE_ARN)), "implicitDeny");
        assert_eq!(
            custom_decision(&args("arn:aws:iam::111122223333:user/bob")),
            "allowed",
            "everyone but the listed"
        );
    }
}

#[test]
fn deny_with_not_principal_denies_a_caller_with_a_boundary() {
    let rp = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/o"}]}"#;
    let mut args = vec![
        "--caller-arn",
        ALICE_ARN,
        "--policy-input-list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        "--resource-policy",
        rp,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        OBJECT,
    ];
    assert_eq!(custom_decision(&args), "allowed");
    args.extend([
        "--permissions-boundary-policy-input-list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ]);
    assert_eq!(custom_decision(&args), "explicitDeny");
}

#[test]
fn a_role_arn_caller_is_capped_like_its_sessions() {
    let rp = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/r"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/o"}]}"#;
    for caller in [
        "arn:aws:iam::111122223333:role/r",
        "arn:aws:sts::111122223333:assumed-role/r/s",
    ] {
        let mut args = vec![
            "--caller-arn",
            caller,
            "--resource-policy",
            rp,
            "--action-names",
            "s3:GetObject",
            "--resource-arns",
            OBJECT,
        ];
        assert_eq!(custom_decision(&args), "allowed", "{caller}");
        args.extend([
            "--permissions-boundary-policy-input-list",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
        ]);
        assert_eq!(custom_decision(&args), "implicitDeny", "{caller}");
    }
}

#[test]
fn a_trust_policy_must_name_the_caller() {
    let identity = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let trust = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole","Resource":"*"}}]}}"#
        )
    };
    let decide = |rp: &str| {
        custom_decision(&[
            "--caller-arn",
            ALICE_ARN,
            "--policy-input-list",
            identity,
            "--resource-policy",
            rp,
            "--action-names",
            "sts:AssumeRole",
            "--resource-arns",
            "arn:aws:iam::111122223333:role/admin",
        ])
    };
    assert_eq!(
        decide(&trust("arn:aws:iam::111122223333:user/other")),
        "implicitDeny"
    );
    assert_eq!(decide(&trust(ALICE_ARN)), "allowed");
    assert_eq!(decide(&trust("arn:aws:iam::111122223333:root")), "allowed");
    let out = run(&[
        "--caller-arn",
        ALICE_ARN,
        "--policy-input-list",
        identity,
        "--action-names",
        "sts:AssumeRole",
        "--resource-arns",
        "arn:aws:iam::111122223333:role/admin",
        "--output",
        "text",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("implicitDeny"), "{text}");
    assert!(text.contains("a role's trust policy"), "{text}");
}

#[test]
fn get_caller_identity_needs_no_permission() {
    let deny_all =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    let decide = |caller: &str| {
        let out = run(&[
            "--caller-arn",
            caller,
            "--policy-input-list",
            deny_all,
            "--action-names",
            "sts:GetCallerIdentity",
            "s3:GetObject",
        ]);
        decisions(&out)
    };
    assert_eq!(decide(ALICE_ARN), ["allowed", "explicitDeny"]);
    assert_eq!(
        decide("arn:aws:sts::111122223333:assumed-role/r/s"),
        ["allowed", "explicitDeny"]
    );
    assert_eq!(decide("anonymous"), ["implicitDeny", "explicitDeny"]);
}

/// A copy of the demo store where `auditor` has a boundary that allows EC2 only (when
/// `boundary`), and the `reports` bucket lets the role put objects under `drop/`.
fn store_with_role_grant(boundary: bool) -> Scratch {
    let dir = Scratch::demo_store(&format!("role-{boundary}"));
    let account = dir.join("111122223333");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(account.join(name)).unwrap()).unwrap()
    };
    let mut resources = read("resources.json");
    resources["arn:aws:s3:::reports"]["Policy"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"Sid": "AuditorDrops", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/auditor"},
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::reports/drop/*"}));
    std::fs::write(account.join("resources.json"), resources.to_string()).unwrap();
    if boundary {
        let mut iam = read("iam.json");
        let only_ec2 = "arn:aws:iam::111122223333:policy/OnlyEc2";
        iam["Policies"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "PolicyName": "OnlyEc2", "Arn": only_ec2, "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document":
                {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}}]}));
        iam["RoleDetailList"][0]["PermissionsBoundary"] = serde_json::json!({"PermissionsBoundaryArn": only_ec2,
                               "PermissionsBoundaryType": "Policy"});
        std::fs::write(account.join("iam.json"), iam.to_string()).unwrap();
    }
    dir
}

fn principal_decisions(store: &std::path::Path, source: &str, action: &str, arn: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("simulate-principal-policy")
        .arg("--policies")
        .arg(store)
        .args([
            "--policy-source-arn",
            source,
            "--action-names",
            action,
            "--resource-arns",
            arn,
        ])
        .output()
        .expect("the binary runs");
    decisions(&out).remove(0)
}

#[test]
fn simulate_principal_policy_evaluates_a_role_as_one_of_its_sessions() {
    let role = "arn:aws:iam::111122223333:role/auditor";
    let session = "arn:aws:sts::111122223333:assumed-role/auditor/s";
    let drop = "arn:aws:s3:::reports/drop/x";
    let free = store_with_role_grant(false);
    let capped = store_with_role_grant(true);
    for source in [role, session] {
        assert_eq!(
            principal_decisions(&free, source, "s3:PutObject", drop),
            "allowed",
            "{source}"
        );
        assert_eq!(
            principal_decisions(&capped, source, "s3:PutObject", drop),
            "implicitDeny",
            "{source}: the boundary caps a grant to the role"
        );
    }
}

#[test]
fn simulate_principal_policy_asks_the_roles_trust_policy() {
    let store = demo_policies();
    let auditor = "arn:aws:iam::111122223333:role/auditor";
    // bob is named in the trust policy; alice may do anything by her policies, but is not.
    assert_eq!(
        principal_decisions(
            &store,
            "arn:aws:iam::111122223333:user/bob",
            "sts:AssumeRole",
            auditor
        ),
        "allowed"
    );
    assert_eq!(
        principal_decisions(&store, ALICE_ARN, "sts:AssumeRole", auditor),
        "implicitDeny"
    );
    assert_eq!(
        principal_decisions(&store, ALICE_ARN, "iam:GetRole", auditor),
        "allowed",
        "the trust policy governs STS only"
    );
    assert_eq!(
        principal_decisions(
            &store,
            "arn:aws:iam::111122223333:user/bob",
            "sts:GetCallerIdentity",
            "*"
        ),
        "allowed"
    );
}
