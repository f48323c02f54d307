//! The gateway binary's first words: plain log lines when they go to a file or a pipe, durations
//! rounded, and the warning about a readable `credentials.json` kept for real stores while the
//! demo's first start makes its own store's files private instead.

#![cfg(unix)]

mod support;
use support::{GatewayConfig, Scratch};

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WARNING: &str = "readable by group or others";

/// A folder with the demo store checked out as git does (files 0644) and a configuration whose
/// S3 upstream is `upstream` (TOML).
fn folder(name: &str, upstream: &str) -> Scratch {
    let dir = Scratch::gateway(name);
    for account in std::fs::read_dir(dir.join("policies")).unwrap() {
        for file in std::fs::read_dir(account.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    dir.write(
        "iamgate.toml",
        &GatewayConfig::new().decisions("off").s3(upstream).text(),
    );
    dir
}

/// Runs `iamgate` (no subcommand: serve `iamgate.toml`) in `dir` with stderr on a pipe, as a
/// service manager runs it, and returns what it wrote until it served.
fn first_words(dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("iamgate is serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    said
}

fn mode(path: PathBuf) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_demos_first_start_is_quiet_and_plain() {
    let dir = folder("demo", "local = \"data\"");
    let said = first_words(&dir);
    assert!(said.contains("iamgate is serving"), "{said}");
    assert!(!said.contains('\x1b'), "colour codes in a pipe:\n{said}");
    assert!(!said.contains(WARNING), "{said}");
    assert!(said.contains("is now readable by its owner only"), "{said}");
    for account in ["111122223333", "444455556666"] {
        let file = dir.join("policies").join(account).join("credentials.json");
        assert_eq!(mode(file), 0o600, "{account}");
    }
    // Milliseconds to a tenth.
    for field in ["start_ms=", "load_ms="] {
        let value = said
            .split(field)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {field} in\n{said}"));
        let decimals = value.split('.').nth(1).map_or(0, str::len);
        assert!(
            value.parse::<f64>().is_ok() && decimals <= 1,
            "{field}{value}"
        );
    }
    // The next start finds its files private and seeds nothing: still no warning.
    assert!(!first_words(&dir).contains(WARNING));
}

#[test]
fn a_real_store_readable_by_others_is_warned_about_and_left_alone() {
    // Not the demo's first start: the upstream is a URL (nothing is seeded).
    let dir = folder("real", "url = \"http://127.0.0.1:9\"");
    let said = first_words(&dir);
    assert_eq!(said.matches(WARNING).count(), 2, "{said}");
    assert!(!said.contains('\x1b'), "{said}");
    for account in ["111122223333", "444455556666"] {
        let file = dir.join("policies").join(account).join("credentials.json");
        assert_eq!(mode(file), 0o644, "{account}");
    }
    // Nor is a local store that already holds data.
    let dir2 = folder("used", "local = \"data\"");
    std::fs::create_dir_all(dir2.join("data/buckets")).unwrap();
    let said = first_words(&dir2);
    assert_eq!(said.matches(WARNING).count(), 2, "{said}");
}
