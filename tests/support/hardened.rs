//! The hardening tests' world (`security.rs`, `limits.rs`, `upstream_failures.rs`): a policy
//! store made for them, and a gateway in front of two recording upstreams.

use std::net::SocketAddr;

use iamgate::config::Config;
use iamgate::proxy::Running;

use super::upstream::{recording_upstream, Log};
use super::{GatewayConfig, Route, Scratch};

/// The test user's key (account 111122223333, user `tester`).
pub const TESTER: (&str, &str) = (
    "AKIATESTER0000000001",
    "testerSecret/0123456789abcdefghijklmnopqr",
);
/// The test user's ARN.
pub const TESTER_ARN: &str = "arn:aws:iam::111122223333:user/tester";

/// A scratch folder holding a policy store made for these tests (at `policies/`):
/// - bucket `bucket`: anyone may `s3:GetObject` under `allowed/` and `s3:PutObject` under
///   `uploads/`, nobody anything under `secret/` (explicit deny); bucket `secret`: no policy (so
///   nothing for anonymous callers);
/// - user `tester`: `s3:GetObject` on `bucket/allowed/*`; `orders:GetOrder` on order `allowed`;
///   `orders:GetFile` on `file/public/*`, explicitly not `file/secret/*`.
pub fn store(name: &str) -> Scratch {
    let dir = Scratch::new(name);
    let account = dir.join("policies/111122223333");
    std::fs::create_dir_all(&account).unwrap();
    std::fs::write(
            account.join("iam.json"),
            r#"{"UserDetailList": [{"Path": "/", "UserName": "tester", "UserId": "AIDATESTER0000000001",
              "Arn": "arn:aws:iam::111122223333:user/tester", "CreateDate": "2026-01-01T00:00:00Z",
              "UserPolicyList": [{"PolicyName": "narrow", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/allowed/*"},
                {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "arn:aws:orders:us-east-1:111122223333:order/allowed"},
                {"Effect": "Allow", "Action": "orders:GetFile", "Resource": "arn:aws:orders:us-east-1:111122223333:file/public/*"},
                {"Effect": "Deny", "Action": "orders:*", "Resource": "arn:aws:orders:us-east-1:111122223333:file/secret/*"}
              ]}}],
              "GroupList": [], "AttachedManagedPolicies": [], "Tags": []}],
              "GroupDetailList": [], "RoleDetailList": [], "Policies": []}"#,
        )
        .unwrap();
    std::fs::write(
            account.join("credentials.json"),
            format!(
                r#"[{{"AccessKeyId": "{}", "SecretAccessKey": "{}", "UserName": "tester", "Status": "Active"}}]"#,
                TESTER.0, TESTER.1
            ),
        )
        .unwrap();
    std::fs::write(
            account.join("resources.json"),
            r#"{"arn:aws:s3:::bucket": {"Policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/allowed/*"},
                {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/uploads/*"},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/secret/*"}
              ]}}}"#,
        )
        .unwrap();
    dir
}

/// A gateway configuration on [`store`] in `scratch`: the S3 model in front of `s3` and the
/// `orders` route table (`GET /orders/{id}`, `GET /files/{path+}`) in front of `orders`;
/// `limits` is the body of the `[limits]` table.
pub fn config(scratch: &Scratch, s3: SocketAddr, orders: SocketAddr, limits: &str) -> Config {
    config_with(scratch, s3, orders, limits, "")
}

/// [`config`] with more keys for `[upstreams.s3]` (`s3_keys`, TOML lines).
pub fn config_with(
    scratch: &Scratch,
    s3: SocketAddr,
    orders: SocketAddr,
    limits: &str,
    s3_keys: &str,
) -> Config {
    GatewayConfig::s3_at(s3)
        .s3(s3_keys)
        .limits(limits)
        .orders_at(orders, &[Route::GetOrder, Route::GetFile])
        .parse(scratch)
}

/// A gateway on [`store`] with both upstreams recording.
pub struct Gateway {
    pub scratch: Scratch,
    pub running: Running,
    /// Its HTTP listener.
    pub gw: SocketAddr,
    /// What the S3 upstream received.
    pub s3: Log,
    /// What the `orders` upstream received.
    pub orders: Log,
}

/// Starts a [`Gateway`] with `limits` as its `[limits]` table.
pub async fn gateway(name: &str, limits: &str) -> Gateway {
    let scratch = store(name);
    let (s3_addr, s3) = recording_upstream().await;
    let (orders_addr, orders) = recording_upstream().await;
    let running = iamgate::proxy::start(config(&scratch, s3_addr, orders_addr, limits))
        .await
        .unwrap();
    let gw = running.http.unwrap();
    Gateway {
        scratch,
        running,
        gw,
        s3,
        orders,
    }
}
