//! The documentation's examples and tables, checked against the product: what a user copies
//! from them must work, and what they list must be complete.

mod common;
use common::{copy_dir, sign_official, Payload};

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iamgate::config::Config;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The fenced blocks of `lang` in `text` after the line `heading`, up to the next heading of
/// the same level.
fn blocks_under(text: &str, heading: &str, lang: &str) -> Vec<String> {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading}"));
    let level = heading.split(' ').next().unwrap();
    let rest = &text[start + heading.len() + 2..];
    let section = &rest[..rest.find(&format!("\n{level} ")).unwrap_or(rest.len())];
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line == format!("```{lang}") {
            out.push(
                lines
                    .by_ref()
                    .take_while(|l| *l != "```")
                    .map(|l| format!("{l}\n"))
                    .collect(),
            );
        }
    }
    out
}

/// docs/ROUTING.md's route table, as given, in a gateway's configuration: the gateway starts,
/// and the table routes `GET /orders/42` to `orders:GetOrder` on the order's ARN (which the
/// refusal names, so nothing needs to answer at the example's `url`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_example_of_routing_md_loads_and_routes() {
    let [example] = &blocks_under(
        &read("docs/ROUTING.md"),
        "## Route tables for other services",
        "toml",
    )[..] else {
        panic!("ROUTING.md should have one toml example under its route-table heading")
    };
    let dir = std::env::temp_dir().join(format!("iamgate-docs-routing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&common::demo_policies(), &dir.join("policies"));
    let text = format!(
        "region = \"us-east-1\"\npolicies = \"policies\"\n[listen]\nhttp = \"127.0.0.1:0\"\n\
         [log]\ndecisions = \"off\"\n{example}"
    );
    let config = Config::parse(&text, &dir.join("iamgate.toml"), &dir)
        .unwrap_or_else(|e| panic!("the example does not load: {e}\n{example}"));
    let running = iamgate::proxy::start(config)
        .await
        .unwrap_or_else(|e| panic!("the example does not start: {e}\n{example}"));

    let bob = (
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    );
    let host = "orders.localhost";
    let signed = sign_official(
        "GET",
        "/orders/42",
        host,
        "orders",
        bob,
        None,
        Payload::Bytes(b""),
        false,
    );
    let mut request =
        hyper::Request::get(format!("http://{}{}", running.http.unwrap(), signed.uri));
    for (name, value) in &signed.headers {
        request = request.header(name, value);
    }
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(request.body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(
            "orders:GetOrder on resource: arn:aws:orders:us-east-1:111122223333:order/42"
        ),
        "{message}"
    );
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's `[limits]` table names every key `[limits]` takes, and only those.
#[test]
fn the_readme_lists_every_limit() {
    let readme = read("README.md");
    let table_start = readme.find("\n`[limits]` (").expect("the [limits] table");
    let documented: Vec<&str> = readme[table_start..]
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .collect();
    // The configuration refuses an unknown key and lists the keys it takes.
    let error = Config::parse(
        "[limits]\nno_such_limit = 1\n[upstreams.s3]\nkind = \"s3\"\nurl = \"http://127.0.0.1:9\"\n",
        Path::new("iamgate.toml"),
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    let expected = error
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("{error}"));
    let mut keys: Vec<&str> = expected
        .split(',')
        .map(|k| k.trim().trim_matches('`'))
        .map(|k| k.split('`').next().unwrap())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    let mut listed = documented.clone();
    listed.sort_unstable();
    assert_eq!(
        listed, keys,
        "README's [limits] table against the configuration"
    );
    for key in &documented {
        Config::parse(
            &format!(
                "[listen]\nhttp = \"127.0.0.1:0\"\n[limits]\n{key} = {}\n\
                 [upstreams.s3]\nkind = \"s3\"\nurl = \"http://127.0.0.1:9\"\n",
                match *key {
                    "upstream_max_body_bytes" => "{}",
                    "principal_rate" | "principal_burst" => "1.0",
                    _ => "1",
                }
            ),
            Path::new("iamgate.toml"),
            Path::new("."),
        )
        .unwrap_or_else(|e| panic!("README's `{key}`: {e}"));
    }
}
