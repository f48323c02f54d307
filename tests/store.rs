//! Loading the policy store: the demo, real-export shapes, and every kind of broken file named
//! with its file, line and column.

mod support;
#[cfg(unix)]
use support::scratch::configmap_account;
use support::scratch::demo_policies as demo;
use support::Scratch;

use std::fs;

use iamgate::policy::PolicyKind;
use iamgate::store::{load, KeyOwner};

/// The problems loading the store in `scratch` reports.
fn load_errors(scratch: &Scratch) -> Vec<String> {
    match load(scratch.path()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// Asserts that `error` names `iam.json` at the line and column where `needle` first stands.
fn assert_placed_at(error: &str, text: &str, needle: &str) {
    let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let column = text.lines().nth(line - 1).unwrap().find(needle).unwrap() + 1;
    assert!(
        error.contains(&format!("iam.json:{line}:{column}:")),
        "expected line {line} column {column}: {error}"
    );
}

#[test]
fn the_demo_loads() {
    let snapshot = load(&demo()).unwrap();
    let s = snapshot.summary();
    assert_eq!(
        (s.accounts, s.principals, s.keys, s.resources),
        (2, 4, 4, 2)
    );
    let bob = snapshot
        .identity("arn:aws:iam::111122223333:user/bob")
        .unwrap();
    assert_eq!(bob.policies.policies().len(), 1);
    let alice = snapshot
        .identity("arn:aws:iam::111122223333:user/alice")
        .unwrap();
    assert_eq!(
        alice.policies.policies()[0].name(),
        "arn:aws:iam::111122223333:policy/AdminAll",
        "group policies reach the user"
    );
    let ctx = bob.context();
    assert_eq!(ctx.single("aws:principaltag/team"), Some("data"));
    assert_eq!(ctx.single("aws:username"), Some("bob"));
    let root = snapshot.key("AKIAROOTEXAMPLE00001").unwrap();
    assert_eq!(root.owner, KeyOwner::Root);
    assert!(
        !format!("{root:?}").contains(root.secret()),
        "Debug never shows a secret"
    );
    let auditor = snapshot
        .identity("arn:aws:iam::111122223333:role/auditor")
        .unwrap();
    assert!(auditor.trust.is_some());
    let object = snapshot
        .resource("arn:aws:s3:::reports/shared/summary.txt")
        .unwrap();
    assert_eq!(
        object.owner, "111122223333",
        "a bucket's entry governs its objects"
    );
    assert!(snapshot.resource("arn:aws:s3:::elsewhere/x").is_none());
}

#[test]
fn json_syntax_errors_name_file_line_and_column() {
    let s = Scratch::demo_store("syntax");
    s.write(
        "111122223333/resources.json",
        "{\n  \"arn:aws:s3:::x\": {\n    \"Tags\": {\"a\": }\n  }\n}\n",
    );
    let errors = load_errors(&s);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("111122223333/resources.json:3:"),
        "{}",
        errors[0]
    );
}

#[test]
fn policy_errors_point_at_the_element() {
    let s = Scratch::demo_store("element");
    let path = s.join("111122223333/iam.json");
    let text = fs::read_to_string(&path).unwrap().replace(
        "\"Sid\": \"NoConfidential\",\n                \"Effect\": \"Deny\"",
        "\"Sid\": \"NoConfidential\",\n                \"Effect\": \"Denied\"",
    );
    fs::write(&path, &text).unwrap();
    let errors = load_errors(&s);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_placed_at(&errors[0], &text, "\"Denied\"");
    assert!(
        errors[0].contains("statement 2 (Sid \"NoConfidential\")"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("Effect"), "{}", errors[0]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let s = Scratch::demo_store("many");
    s.write(
        "111122223333/credentials.json",
        r#"[{"AccessKeyId": "AKIA1", "SecretAccessKey": "s", "UserName": "nobody"},
            {"AccessKeyId": "AKIA2", "SecretAccessKey": "s", "UserName": "bob", "Status": "Sleeping"}]"#,
    );
    s.write(
        "444455556666/resources.json",
        r#"{"arn:aws:s3:::reports": {"Tags": {}}, "bucket": {}}"#,
    );
    s.write("not-an-account/iam.json", "{}");
    let errors = load_errors(&s);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let all = errors.join("\n");
    for fragment in [
        "user 'nobody'",
        "Sleeping",
        "more than one account",
        "'bucket' is not a resource ARN",
        "12-digit",
    ] {
        assert!(all.contains(fragment), "missing '{fragment}' in {all}");
    }
}

#[test]
fn references_must_resolve() {
    let s = Scratch::demo_store("refs");
    let path = s.join("111122223333/iam.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["UserDetailList"][0]["GroupList"] = serde_json::json!(["admins", "ghosts"]);
    doc["GroupDetailList"][0]["AttachedManagedPolicies"][0]["PolicyArn"] =
        serde_json::json!("arn:aws:iam::111122223333:policy/Missing");
    let text = serde_json::to_string_pretty(&doc).unwrap();
    fs::write(&path, text).unwrap();
    let all = load_errors(&s).join("\n");
    assert!(all.contains("group 'ghosts'"), "{all}");
    assert!(
        all.contains("policy/Missing is not among the exported Policies"),
        "{all}"
    );
}

#[test]
fn url_encoded_documents_as_aws_prints_them() {
    let s = Scratch::demo_store("encoded");
    s.write(
        "555555555555/iam.json",
        r#"{"UserDetailList": [{"UserName": "dave", "Arn": "arn:aws:iam::555555555555:user/dave",
            "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D"}]}]}"#,
    );
    let snapshot = load(s.path()).unwrap();
    let dave = snapshot
        .identity("arn:aws:iam::555555555555:user/dave")
        .unwrap();
    assert_eq!(dave.policies.policies()[0].statement_count(), 1);
}

#[cfg(unix)]
#[test]
fn kubernetes_configmap_layout_loads() {
    // A ConfigMap volume: visible names are links into `..data`, itself a link to a timestamped folder.
    let dir = Scratch::new("k8s");
    configmap_account(&dir, "..2026_11_27_00_00_00.1");
    let snapshot = load(dir.path()).unwrap();
    assert_eq!(snapshot.summary().principals, 3);
}

#[test]
fn validate_command_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_iamgate");
    let ok = std::process::Command::new(bin)
        .args(["validate", "--policies"])
        .arg(demo())
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("2 accounts, 4 principals"));
    let s = Scratch::demo_store("validate");
    s.write("111122223333/credentials.json", "[{]");
    let bad = std::process::Command::new(bin)
        .args(["validate", "--policies"])
        .arg(s.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("credentials.json:1:"));
}

/// A store large enough that its documents are compiled on several threads ahead of the load.
fn large_export(users: usize, broken_user: Option<usize>) -> String {
    let user = |i: usize| {
        let effect = if Some(i) == broken_user {
            "Maybe"
        } else {
            "Allow"
        };
        format!(
            r#"{{"UserName": "u{i}", "Arn": "arn:aws:iam::555555555555:user/u{i}",
  "UserPolicyList": [{{"PolicyName": "p{i}", "PolicyDocument": {{"Version": "2012-10-17",
    "Statement": [{{"Effect": "{effect}", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b{i}/*"}}]}}}}],
  "AttachedManagedPolicies": [{{"PolicyArn": "arn:aws:iam::555555555555:policy/shared"}}]}}"#
        )
    };
    let users: Vec<String> = (0..users).map(user).collect();
    format!(
        r#"{{"UserDetailList": [
{}
],
"RoleDetailList": [{{"RoleName": "r", "Arn": "arn:aws:iam::555555555555:role/r",
  "AssumeRolePolicyDocument": {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
    "Principal": {{"AWS": "arn:aws:iam::555555555555:root"}}, "Action": "sts:AssumeRole"}}]}}}}],
"Policies": [{{"Arn": "arn:aws:iam::555555555555:policy/shared", "DefaultVersionId": "v2",
  "PolicyVersionList": [
    {{"VersionId": "v1", "Document": {{"Statement": "not a statement"}}}},
    {{"VersionId": "v2", "Document": {{"Version": "2012-10-17", "Statement": {{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}}}}}}]}}]
}}"#,
        users.join(",\n")
    )
}

#[test]
fn a_large_store_compiled_in_parallel_loads_as_a_small_one() {
    let s = Scratch::demo_store("large");
    s.write("555555555555/iam.json", &large_export(400, None));
    let snapshot = load(s.path()).unwrap();
    for i in [0, 137, 399] {
        let user = snapshot
            .identity(&format!("arn:aws:iam::555555555555:user/u{i}"))
            .unwrap();
        let names: Vec<&str> = user.policies.policies().iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                format!("arn:aws:iam::555555555555:user/u{i} (inline p{i})").as_str(),
                "arn:aws:iam::555555555555:policy/shared"
            ]
        );
        assert_eq!(user.policies.policies()[0].kind(), PolicyKind::Identity);
    }
    let role = snapshot
        .identity("arn:aws:iam::555555555555:role/r")
        .unwrap();
    let trust = role.trust.as_ref().unwrap();
    assert_eq!(trust.policies()[0].kind(), PolicyKind::Trust);
    assert_eq!(
        trust.policies()[0].name(),
        "arn:aws:iam::555555555555:role/r (trust policy)"
    );
}

#[test]
fn an_error_in_a_large_store_is_named_with_its_place() {
    let s = Scratch::demo_store("large-broken");
    let text = large_export(400, Some(250));
    s.write("555555555555/iam.json", &text);
    let errors = load_errors(&s);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_placed_at(&errors[0], &text, "\"Maybe\"");
    assert!(errors[0].contains("Effect"), "{}", errors[0]);
}

#[test]
fn a_syntax_error_is_named_at_the_character_at_fault_without_a_cascade() {
    let s = Scratch::demo_store("comma");
    let path = s.join("111122223333/iam.json");
    let text = fs::read_to_string(&path).unwrap().replacen(
        "\"Value\": \"platform\"\n",
        "\"Value\": \"platform\",\n",
        1,
    );
    fs::write(&path, &text).unwrap();
    let errors = load_errors(&s);
    // credentials.json and mfa.json name users of this iam.json: they are not reported as
    // missing because the file that defines them does not read.
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let line = text
        .lines()
        .position(|l| l.contains("\"platform\","))
        .unwrap()
        + 1;
    let column = text.lines().nth(line - 1).unwrap().find("\",").unwrap() + 2;
    assert!(
        errors[0].ends_with(&format!(
            "iam.json:{line}:{column}: not valid JSON: trailing comma: a comma after the last member of an object (remove it)"
        )),
        "at the comma: {}",
        errors[0]
    );

    // The simulator names the same mistake in the same words.
    let policy =
        "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\",}}";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args([
            "simulate-custom-policy",
            "--action-names",
            "s3:GetObject",
            "--policy-input-list",
            policy,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let comma = policy.find(",}").unwrap() + 1;
    assert!(
        stderr.contains(&format!("at line 1, column {comma}: not valid JSON: trailing comma: a comma after the last member of an object (remove it)")),
        "{stderr}"
    );
    let e = iamgate::policy::Policy::parse("p", PolicyKind::Identity, "{\"Statement\": [1,]}")
        .unwrap_err();
    assert_eq!(e.position, Some((1, 17)));
    assert_eq!(
        e.message,
        "not valid JSON: trailing comma: a comma after the last element of a list (remove it)"
    );
}

#[test]
fn a_policy_that_does_not_load_is_reported_once() {
    let s = Scratch::demo_store("managed");
    let path = s.join("111122223333/iam.json");
    let text = fs::read_to_string(&path).unwrap().replacen(
        "\"Effect\": \"Allow\",\n                \"Action\": \"*\"",
        "\"Effect\": \"Alow\",\n                \"Action\": \"*\"",
        1,
    );
    assert!(text.contains("\"Alow\""));
    fs::write(&path, &text).unwrap();
    let errors = load_errors(&s);
    // The admins group attaches AdminAll: it is not also reported as missing.
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("policy/AdminAll"), "{}", errors[0]);
    assert_placed_at(&errors[0], &text, "\"Alow\"");
}
