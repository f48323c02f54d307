//! What a test reads of a running gateway: its decision log's records and its metrics.

use std::collections::HashMap;
use std::path::Path;

use iamgate::proxy::Running;
use serde_json::Value;

use super::{send, Request};

/// Every record of the decision log at `path`, by request id (after a flush).
pub async fn records(running: &Running, path: &Path) -> HashMap<String, Value> {
    running.gateway.decision_log().flush().await;
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            (v["requestID"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

/// `name{labels}` -> value, for every sample of a scrape; panics on a malformed line.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(samples.insert(series.to_owned(), value).is_none(), "{line}");
    }
    samples
}

/// A scrape of the gateway's admin listener, parsed by [`parse_metrics`].
pub async fn metrics(running: &Running) -> HashMap<String, f64> {
    let admin = running.admin.expect("an admin listener");
    let scrape = send(admin, Request::unsigned("GET", "/metrics", "127.0.0.1")).await;
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    parse_metrics(&scrape.body)
}
