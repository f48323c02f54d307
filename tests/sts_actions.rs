//! The STS operations against a store of the test's own, with a clock the test sets: trust
//! decisions, session tags and their transitivity, role chaining, external ids, managed session
//! policies, MFA facts, and how a session's requests are then decided.

mod support;
use support::Scratch;

use std::fs;
use std::sync::Arc;

use iamgate::caller::Caller;
use iamgate::policy::{evaluate, Action, Context, Outcome, Policies, Request};
use iamgate::store::{KeyOwner, Snapshot};
use iamgate::sts::mfa::totp;
use iamgate::sts::{Call, Params, Sts, StsError, StsResponse, TokenKeys};

const NOW: i64 = 1_800_000_000;
const ACCOUNT: &str = "111122223333";

fn role(name: &str, trust: serde_json::Value, policy: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "RoleName": name,
        "RoleId": format!("AROA{}", name.to_uppercase()),
        "Arn": format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        "AssumeRolePolicyDocument": trust,
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": policy}],
        "MaxSessionDuration": 7200,
        "Tags": [{"Key": "team", "Value": "from-role"}]
    })
}

fn trust(principal: &str, actions: &[&str], condition: serde_json::Value) -> serde_json::Value {
    let mut statement = serde_json::json!({
        "Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions
    });
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]})
}

fn allow(action: &str, resource: &str, condition: serde_json::Value) -> serde_json::Value {
    let mut statement =
        serde_json::json!({"Effect": "Allow", "Action": action, "Resource": resource});
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]})
}

/// dana may assume roles; `tagged` needs session tags and lets them decide; `chain` may be assumed
/// by `tagged`'s sessions; `partner` needs an external id; `mfa` needs MFA.
fn store(name: &str) -> (Scratch, Snapshot) {
    let dir = Scratch::new(name);
    let account = dir.join(ACCOUNT);
    fs::create_dir_all(&account).unwrap();
    let dana = format!("arn:aws:iam::{ACCOUNT}:user/dana");
    let read_docs = allow(
        "s3:GetObject",
        "arn:aws:s3:::docs/*",
        serde_json::Value::Null,
    );
    let iam = serde_json::json!({
        "UserDetailList": [
            {"UserName": "dana", "UserId": "AIDADANA", "Arn": dana,
             "UserPolicyList": [{"PolicyName": "assume", "PolicyDocument":
                 allow("sts:*", "*", serde_json::Value::Null)}]},
            {"UserName": "eve", "UserId": "AIDAEVE", "Arn": format!("arn:aws:iam::{ACCOUNT}:user/eve")}
        ],
        "RoleDetailList": [
            role("tagged",
                 trust(&dana, &["sts:AssumeRole", "sts:TagSession"], serde_json::Value::Null),
                 allow("s3:GetObject", "arn:aws:s3:::docs/${aws:PrincipalTag/team}/*", serde_json::Value::Null)),
            role("chain",
                 trust(&format!("arn:aws:iam::{ACCOUNT}:role/tagged"), &["sts:AssumeRole", "sts:TagSession"],
                       serde_json::Value::Null),
                 allow("s3:GetObject", "arn:aws:s3:::docs/${aws:PrincipalTag/team}/*", serde_json::Value::Null)),
            role("partner",
                 trust(&dana, &["sts:AssumeRole"],
                       serde_json::json!({"StringEquals": {"sts:ExternalId": "secret-handshake"}})),
                 read_docs.clone()),
            role("account-trust",
                 trust(&format!("arn:aws:iam::{ACCOUNT}:root"), &["sts:AssumeRole"], serde_json::Value::Null),
                 read_docs.clone()),
            role("mfa",
                 trust(&dana, &["sts:AssumeRole"],
                       serde_json::json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
                 allow("s3:GetObject", "*",
                       serde_json::json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}))),
        ],
        "Policies": [{
            "Arn": format!("arn:aws:iam::{ACCOUNT}:policy/OnlyPublicDocs"),
            "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                "Document": allow("s3:GetObject", "arn:aws:s3:::docs/public/*", serde_json::Value::Null)}]
        }]
    });
    fs::write(account.join("iam.json"), iam.to_string()).unwrap();
    fs::write(
        account.join("mfa.json"),
        serde_json::json!([{"SerialNumber": format!("arn:aws:iam::{ACCOUNT}:mfa/dana"),
                            "UserName": "dana", "Base32StringSeed": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}])
        .to_string(),
    )
    .unwrap();
    let snapshot = iamgate::store::load(dir.path()).unwrap();
    (dir, snapshot)
}

fn sts() -> Sts {
    Sts::new(TokenKeys::generate().unwrap())
}

fn user(snapshot: &Snapshot, name: &str) -> Caller {
    Caller::resolve(
        snapshot,
        ACCOUNT,
        &KeyOwner::User(Arc::from(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))),
        None,
    )
    .unwrap()
}

fn params(pairs: &[(&str, &str)]) -> Params {
    let mut text = String::new();
    for (k, v) in pairs {
        let v: String =
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        text.push_str(&format!("{k}={v}&"));
    }
    Params::parse(text.as_bytes())
}

fn call<'a>(
    snapshot: &'a Snapshot,
    environment: &'a Context,
    now: i64,
    caller: &'a Caller,
    params: &'a Params,
) -> Call<'a> {
    Call {
        snapshot,
        environment,
        now,
        caller,
        params,
    }
}

/// The session an answer carries, as the gateway would resolve it for a request.
fn session_caller(sts: &Sts, snapshot: &Snapshot, response: &StsResponse, now: i64) -> Caller {
    let token = match response {
        StsResponse::AssumeRole(s) => &s.credentials.session_token,
        StsResponse::GetSessionToken(c) => &c.session_token,
        other => panic!("no credentials in {other:?}"),
    };
    let session = sts.open_session(token, now).unwrap();
    Caller::resolve(snapshot, ACCOUNT, &KeyOwner::Root, Some(&session)).unwrap()
}

/// How the gateway decides a request of `caller`.
fn decide(caller: &Caller, snapshot: &Snapshot, action: &str, resource: &str, now: i64) -> Outcome {
    let policies = caller.policies(snapshot);
    evaluate(
        &Policies {
            identity: policies.identity,
            boundary: policies.boundary,
            session: policies.session.as_deref(),
            resource: None,
            resource_owner: None,
        },
        &Request {
            principal: &caller.principal(),
            action: &Action::new(action),
            resource,
            context: &caller.context(now),
        },
    )
    .outcome
}

fn assume(
    sts: &Sts,
    snapshot: &Snapshot,
    caller: &Caller,
    pairs: &[(&str, &str)],
) -> Result<StsResponse, StsError> {
    let env = Context::new();
    sts.assume_role(&call(snapshot, &env, NOW, caller, &params(pairs)))
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

#[test]
fn session_tags_override_role_tags_and_decide_requests() {
    let (_dir, snapshot) = store("tags");
    let sts = sts();
    let dana = user(&snapshot, "dana");
    let arn = role_arn("tagged");
    let r = assume(
        &sts,
        &snapshot,
        &dana,
        &[("RoleArn", &arn), ("RoleSessionName", "plain")],
    )
    .unwrap();
    let plain = session_caller(&sts, &snapshot, &r, NOW);
    assert_eq!(
        decide(
            &plain,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::docs/from-role/a",
            NOW
        ),
        Outcome::Allowed
    );
    let r = assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &arn),
            ("RoleSessionName", "blue"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "blue"),
        ],
    )
    .unwrap();
    let StsResponse::AssumeRole(s) = &r else {
        panic!()
    };
    assert!(s.packed_policy_size.is_some());
    let blue = session_caller(&sts, &snapshot, &r, NOW);
    assert_eq!(
        decide(
            &blue,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::docs/blue/a",
            NOW
        ),
        Outcome::Allowed
    );
    assert_eq!(
        decide(
            &blue,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::docs/from-role/a",
            NOW
        ),
        Outcome::ImplicitDeny
    );
    let context = blue.context(NOW);
    assert_eq!(context.single("aws:principaltype"), Some("AssumedRole"));
    assert_eq!(context.single("aws:userid"), Some("AROATAGGED:blue"));
    assert_eq!(context.single("aws:multifactorauthpresent"), Some("false"));
}

#[test]
fn tags_need_sts_tag_session_in_the_trust_policy() {
    let (_dir, snapshot) = store("tagsession");
    let e = assume(
        &sts(),
        &snapshot,
        &user(&snapshot, "dana"),
        &[
            ("RoleArn", &role_arn("partner")),
            ("RoleSessionName", "s1"),
            ("ExternalId", "secret-handshake"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "blue"),
        ],
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    assert!(e.message.contains("sts:TagSession"), "{}", e.message);
}

#[test]
fn transitive_tags_pass_through_role_chaining_and_cannot_be_overridden() {
    let (_dir, snapshot) = store("chain");
    let sts = sts();
    let dana = user(&snapshot, "dana");
    let first = assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &role_arn("tagged")),
            ("RoleSessionName", "first"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "green"),
            ("Tags.member.2.Key", "note"),
            ("Tags.member.2.Value", "not-transitive"),
            ("TransitiveTagKeys.member.1", "team"),
        ],
    )
    .unwrap();
    let first = session_caller(&sts, &snapshot, &first, NOW);
    // A chained session lasts at most an hour.
    let e = assume(
        &sts,
        &snapshot,
        &first,
        &[
            ("RoleArn", &role_arn("chain")),
            ("RoleSessionName", "second"),
            ("DurationSeconds", "7200"),
        ],
    )
    .unwrap_err();
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.contains("role chaining"), "{}", e.message);
    let second = assume(
        &sts,
        &snapshot,
        &first,
        &[
            ("RoleArn", &role_arn("chain")),
            ("RoleSessionName", "second"),
        ],
    )
    .unwrap();
    let second = session_caller(&sts, &snapshot, &second, NOW);
    let context = second.context(NOW);
    assert_eq!(context.single("aws:principaltag/team"), Some("green"));
    assert_eq!(context.single("aws:principaltag/note"), None);
    assert_eq!(
        decide(
            &second,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::docs/green/x",
            NOW
        ),
        Outcome::Allowed
    );
    let e = assume(
        &sts,
        &snapshot,
        &first,
        &[
            ("RoleArn", &role_arn("chain")),
            ("RoleSessionName", "override"),
            ("Tags.member.1.Key", "TEAM"),
            ("Tags.member.1.Value", "red"),
        ],
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    // dana herself is not trusted by `chain`, which names the role `tagged`.
    let e = assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &role_arn("chain")),
            ("RoleSessionName", "direct"),
        ],
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDenied");
}

#[test]
fn the_external_id_condition_and_account_trust() {
    let (_dir, snapshot) = store("external");
    let sts = sts();
    let dana = user(&snapshot, "dana");
    let partner = role_arn("partner");
    for bad in [None, Some("wrong-id")] {
        let mut p = vec![("RoleArn", partner.as_str()), ("RoleSessionName", "p1")];
        if let Some(id) = bad {
            p.push(("ExternalId", id));
        }
        assert_eq!(
            assume(&sts, &snapshot, &dana, &p).unwrap_err().code,
            "AccessDenied"
        );
    }
    assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &partner),
            ("RoleSessionName", "p1"),
            ("ExternalId", "secret-handshake"),
        ],
    )
    .unwrap();
    // A trust policy naming the account delegates to identity policies: dana's allow sts:*,
    // eve has no policy at all.
    let account = role_arn("account-trust");
    assume(
        &sts,
        &snapshot,
        &dana,
        &[("RoleArn", &account), ("RoleSessionName", "dd")],
    )
    .unwrap();
    let e = assume(
        &sts,
        &snapshot,
        &user(&snapshot, "eve"),
        &[("RoleArn", &account), ("RoleSessionName", "ee")],
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDenied");
}

#[test]
fn managed_session_policies_and_their_limits() {
    let (_dir, snapshot) = store("managed");
    let sts = sts();
    let dana = user(&snapshot, "dana");
    let arn = role_arn("account-trust");
    let only_public = format!("arn:aws:iam::{ACCOUNT}:policy/OnlyPublicDocs");
    let r = assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &arn),
            ("RoleSessionName", "mm"),
            ("PolicyArns.member.1.arn", &only_public),
        ],
    )
    .unwrap();
    let s = session_caller(&sts, &snapshot, &r, NOW);
    assert_eq!(
        decide(
            &s,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::docs/public/a",
            NOW
        ),
        Outcome::Allowed
    );
    assert_eq!(
        decide(
            &s,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::docs/private/a",
            NOW
        ),
        Outcome::ImplicitDeny
    );
    let e = assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &arn),
            ("RoleSessionName", "mm"),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::111122223333:policy/Nope",
            ),
        ],
    )
    .unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocument");
    // Fifty long tags overflow the packed budget.
    let mut pairs: Vec<(String, String)> = vec![
        ("RoleArn".into(), role_arn("tagged")),
        ("RoleSessionName".into(), "big".into()),
    ];
    for i in 1..=50 {
        pairs.push((
            format!("Tags.member.{i}.Key"),
            format!("key{i:03}{}", "k".repeat(100)),
        ));
        pairs.push((format!("Tags.member.{i}.Value"), "v".repeat(200)));
    }
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let e = assume(&sts, &snapshot, &dana, &borrowed).unwrap_err();
    assert_eq!(e.code, "PackedPolicyTooLarge");
    // A policy that is not a policy.
    let e = assume(
        &sts,
        &snapshot,
        &dana,
        &[
            ("RoleArn", &arn),
            ("RoleSessionName", "mm"),
            ("Policy", "{\"Version\":\"2012-10-17\"}"),
        ],
    )
    .unwrap_err();
    assert_eq!((e.code, e.status), ("MalformedPolicyDocument", 400));
}

#[test]
fn mfa_facts_reach_the_trust_policy_and_later_requests_with_their_age() {
    let (_dir, snapshot) = store("mfa");
    let sts = sts();
    let dana = user(&snapshot, "dana");
    let arn = role_arn("mfa");
    assert_eq!(
        assume(
            &sts,
            &snapshot,
            &dana,
            &[("RoleArn", &arn), ("RoleSessionName", "mm")]
        )
        .unwrap_err()
        .code,
        "AccessDenied"
    );
    let secret = b"12345678901234567890";
    let serial = format!("arn:aws:iam::{ACCOUNT}:mfa/dana");
    let env = Context::new();
    let code = totp(secret, NOW);
    let r = sts
        .get_session_token(&call(
            &snapshot,
            &env,
            NOW,
            &dana,
            &params(&[("SerialNumber", &serial), ("TokenCode", &code)]),
        ))
        .unwrap();
    // The same code is spent.
    let again = sts
        .get_session_token(&call(
            &snapshot,
            &env,
            NOW + 5,
            &dana,
            &params(&[("SerialNumber", &serial), ("TokenCode", &code)]),
        ))
        .unwrap_err();
    assert_eq!(again.code, "AccessDenied");
    let session = session_caller(&sts, &snapshot, &r, NOW);
    let context = session.context(NOW + 100);
    assert_eq!(context.single("aws:multifactorauthpresent"), Some("true"));
    assert_eq!(context.single("aws:multifactorauthage"), Some("100"));
    assert_eq!(context.single("aws:username"), Some("dana"));
    // The MFA session may assume the role; the role session keeps the MFA time.
    let role = sts
        .assume_role(&call(
            &snapshot,
            &env,
            NOW + 100,
            &session,
            &params(&[("RoleArn", &arn), ("RoleSessionName", "mm")]),
        ))
        .unwrap();
    let role = session_caller(&sts, &snapshot, &role, NOW + 100);
    assert_eq!(
        decide(
            &role,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::x/y",
            NOW + 200
        ),
        Outcome::Allowed
    );
    // An hour after the code, the role's own condition on the MFA age refuses.
    assert_eq!(
        decide(
            &role,
            &snapshot,
            "s3:GetObject",
            "arn:aws:s3:::x/y",
            NOW + 3700
        ),
        Outcome::ImplicitDeny
    );
    // Session credentials cannot get another session token.
    assert_eq!(
        sts.get_session_token(&call(&snapshot, &env, NOW, &session, &params(&[])))
            .unwrap_err()
            .message,
        "Cannot call GetSessionToken with session credentials"
    );
}

#[test]
fn sessions_expire_on_the_clock() {
    let (_dir, snapshot) = store("expiry");
    let sts = sts();
    let r = assume(
        &sts,
        &snapshot,
        &user(&snapshot, "dana"),
        &[
            ("RoleArn", &role_arn("account-trust")),
            ("RoleSessionName", "ee"),
            ("DurationSeconds", "900"),
        ],
    )
    .unwrap();
    let StsResponse::AssumeRole(s) = &r else {
        panic!()
    };
    assert_eq!(s.credentials.expiration, NOW + 900);
    let token = &s.credentials.session_token;
    assert!(sts.open_session(token, NOW + 899).is_ok());
    assert_eq!(
        sts.open_session(token, NOW + 900).unwrap_err(),
        iamgate::sts::TokenError::Expired
    );
    // Another deployment's STS cannot open it.
    assert_eq!(
        self::sts().open_session(token, NOW).unwrap_err(),
        iamgate::sts::TokenError::Invalid
    );
}

#[test]
fn responses_are_sts_xml() {
    let (_dir, snapshot) = store("xml");
    let sts = sts();
    let r = assume(
        &sts,
        &snapshot,
        &user(&snapshot, "dana"),
        &[
            ("RoleArn", &role_arn("account-trust")),
            ("RoleSessionName", "x&y"),
        ],
    );
    // `&` is not allowed in a session name.
    assert_eq!(r.unwrap_err().code, "ValidationError");
    let xml = assume(
        &sts,
        &snapshot,
        &user(&snapshot, "dana"),
        &[
            ("RoleArn", &role_arn("account-trust")),
            ("RoleSessionName", "x@y"),
        ],
    )
    .unwrap()
    .to_xml("REQ1");
    assert!(xml.starts_with("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"), "{xml}");
    assert!(
        xml.contains("<Arn>arn:aws:sts::111122223333:assumed-role/account-trust/x@y</Arn>"),
        "{xml}"
    );
    assert!(
        xml.contains("<AssumedRoleId>AROAACCOUNT-TRUST:x@y</AssumedRoleId>"),
        "{xml}"
    );
    assert!(xml.contains("<Expiration>2027-01-15T09:00:00Z<"), "{xml}");
    assert!(xml.ends_with(
        "<ResponseMetadata><RequestId>REQ1</RequestId></ResponseMetadata></AssumeRoleResponse>"
    ));
    let error = StsError::access_denied("a <b> & c").to_xml("REQ2");
    assert_eq!(
        error,
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>a &lt;b&gt; &amp; c</Message></Error><RequestId>REQ2</RequestId></ErrorResponse>"
    );
}
