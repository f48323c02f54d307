//! The documentation's examples and tables, checked against the product: what a user copies
//! from them must work, and what they list must be complete.

mod support;
use support::keys::BOB;
use support::sign::Sign;
use support::{send, GatewayConfig, Scratch};

use std::path::Path;

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

/// docs/ROUTING.md's route table example.
fn routing_md_example() -> String {
    let [example] = &blocks_under(
        &read("docs/ROUTING.md"),
        "## Route tables for other services",
        "toml",
    )[..] else {
        panic!("ROUTING.md should have one toml example under its route-table heading")
    };
    example.clone()
}

/// docs/ROUTING.md's route table, as given, in a gateway's configuration: the gateway starts,
/// and the table routes `GET /orders/42` to `orders:GetOrder` on the order's ARN (which the
/// refusal names, so nothing needs to answer at the example's `url`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_example_of_routing_md_loads_and_routes() {
    let example = &routing_md_example();
    let scratch = Scratch::gateway("routing");
    let config = GatewayConfig::new().decisions("off").extra(example);
    let config = Config::parse(
        &config.text(),
        &scratch.join("iamgate.toml"),
        scratch.path(),
    )
    .unwrap_or_else(|e| panic!("the example does not load: {e}\n{example}"));
    let running = iamgate::proxy::start(config)
        .await
        .unwrap_or_else(|e| panic!("the example does not start: {e}\n{example}"));

    let signed = Sign::new("GET", "/orders/42", "orders.localhost", "orders", BOB).request();
    let response = send(running.http.unwrap(), signed).await;
    assert_eq!(response.status, 403);
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(
            "orders:GetOrder on resource: arn:aws:orders:us-east-1:111122223333:order/42"
        ),
        "{message}"
    );
    running.stop().await;
}

/// docs/ROUTING.md's route table, in a configuration file, passes `iamgate validate` (which
/// checks route tables).
#[test]
fn the_route_table_example_of_routing_md_validates() {
    let example = routing_md_example();
    let scratch = Scratch::gateway("routing-validate");
    let config = GatewayConfig::new().decisions("off").extra(&example);
    scratch.write("iamgate.toml", &config.text());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(["validate", "--config"])
        .arg(scratch.join("iamgate.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{example}",
        String::from_utf8_lossy(&out.stderr)
    );
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
