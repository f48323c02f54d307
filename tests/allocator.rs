//! The gateway binary's heap: mimalloc built without transparent huge pages by default
//! (`.cargo/config.toml`), which the kernel reports per process. With them, the heap grows in
//! 2 MiB steps and holds them (docs/PERFORMANCE.md: peak RSS 27 → 18 MiB at 64 connections).

#![cfg(target_os = "linux")]

mod support;
use support::{GatewayConfig, Scratch};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Starts `iamgate serve` on a free port with the demo store, with `env`, and returns what
/// the kernel says of its huge pages once it serves.
fn thp_enabled(name: &str, env: &[(&str, &str)]) -> String {
    let dir = Scratch::gateway(name);
    let config = dir.join("iamgate.toml");
    dir.write(
        "iamgate.toml",
        &GatewayConfig::new()
            .decisions("off")
            .s3("url = \"http://127.0.0.1:9\"")
            .text(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("MIMALLOC_ALLOW_THP")
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains("iamgate is serving") {
            break;
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn the_gateway_heap_has_no_transparent_huge_pages_unless_asked() {
    assert_eq!(thp_enabled("default", &[]), "0");
    assert_eq!(thp_enabled("asked", &[("MIMALLOC_ALLOW_THP", "1")]), "1");
}

/// The container image builds with the same settings: its dependency stage declares every
/// bench the manifest does (cargo refuses a manifest whose bench file is missing), copies
/// `.cargo/` and the workspace's crates (with their own benches).
#[test]
fn the_dockerfile_builds_with_the_same_settings() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let stubs = dockerfile
        .lines()
        .find(|l| l.contains("for bench in"))
        .expect("a stub per bench");
    let mut benches = manifest.split("[[bench]]").skip(1);
    let mut count = 0;
    for section in benches.by_ref() {
        let name = section
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .unwrap()
            .trim_matches('"');
        assert!(
            stubs
                .split_whitespace()
                .any(|w| w == name || w == format!("{name};")),
            "the Dockerfile has no stub for bench '{name}': {stubs}"
        );
        count += 1;
    }
    assert!(count >= 1);
    assert!(dockerfile.contains("COPY .cargo ./.cargo"));
    assert!(dockerfile.contains("COPY crates ./crates"));
}
