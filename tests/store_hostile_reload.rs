//! Reload under hostile change: partial writes, truncated and deleted files, a thousand changes
//! in a burst, symlink swaps in a loop; and memory across 10,000 reloads. The store must always
//! serve a snapshot that loaded whole: the last good one until a good one replaces it.

mod support;
use support::scratch::{copy_dir, demo_policies as demo, with_key};
use support::Scratch;

use std::fs;
use std::time::Duration;

use iamgate::store::LiveStore;

const BOB_KEY: &str = "AKIAI44QH8DHBEXAMPLE";

/// Lets the watcher see a change and its debounce pass, so that "nothing changed" means it.
fn settle() {
    std::thread::sleep(iamgate::store::DEBOUNCE * 4);
}

fn within(seconds: u64, done: impl FnMut() -> bool) -> bool {
    support::within(Duration::from_secs(seconds), done)
}

#[test]
fn partial_truncated_and_deleted_files_keep_the_last_good_snapshot() {
    let dir = Scratch::new("partial");
    copy_dir(&demo(), &dir);
    let store = LiveStore::open(&dir).unwrap();
    let _watch = store.watch().unwrap();
    let credentials = dir.join("111122223333/credentials.json");
    let iam = dir.join("111122223333/iam.json");
    let original = fs::read_to_string(&credentials).unwrap();
    let generation = store.generation();

    // A write caught halfway: the first half of a new file.
    let next = with_key(&original, "AKIAPARTIAL000000001");
    fs::write(&credentials, &next[..next.len() / 2]).unwrap();
    settle();
    assert_eq!(
        store.generation(),
        generation,
        "a half-written file was loaded"
    );
    assert!(store.snapshot().key(BOB_KEY).is_some());
    // Then the rest arrives.
    fs::write(&credentials, &next).unwrap();
    assert!(within(2, || store
        .snapshot()
        .key("AKIAPARTIAL000000001")
        .is_some()));
    let generation = store.generation();

    // Truncated to nothing.
    fs::write(&credentials, "").unwrap();
    settle();
    assert_eq!(store.generation(), generation);
    assert!(store.snapshot().key(BOB_KEY).is_some());

    // iam.json deleted: the keys name users that are gone, so the store does not load.
    fs::write(&credentials, &original).unwrap();
    assert!(within(2, || store
        .snapshot()
        .key("AKIAPARTIAL000000001")
        .is_none()));
    let generation = store.generation();
    let iam_text = fs::read_to_string(&iam).unwrap();
    fs::remove_file(&iam).unwrap();
    settle();
    assert_eq!(
        store.generation(),
        generation,
        "a store without its users was loaded"
    );
    assert!(store
        .snapshot()
        .identity("arn:aws:iam::111122223333:user/bob")
        .is_some());
    fs::write(&iam, &iam_text).unwrap();
    fs::write(&credentials, with_key(&original, "AKIABACK000000000001")).unwrap();
    assert!(within(2, || store
        .snapshot()
        .key("AKIABACK000000000001")
        .is_some()));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_thousand_changes_in_a_burst_end_in_the_last_state() {
    let dir = Scratch::new("burst");
    copy_dir(&demo(), &dir);
    let store = LiveStore::open(&dir).unwrap();
    let _watch = store.watch().unwrap();
    let credentials = dir.join("111122223333/credentials.json");
    let original = fs::read_to_string(&credentials).unwrap();
    let started = store.generation();
    for i in 0..1000 {
        let text = match i % 3 {
            // Every third write is broken.
            0 => "[{".to_owned(),
            _ => with_key(&original, &format!("AKIABURST{i:011}")),
        };
        fs::write(&credentials, text).unwrap();
    }
    // Whatever the burst left loaded, the next good state wins.
    let last = "AKIABURSTFINAL000001";
    fs::write(&credentials, with_key(&original, last)).unwrap();
    assert!(within(5, || store.snapshot().key(last).is_some()));
    let reloads = store.generation() - started;
    assert!(reloads >= 1);
    // Coalesced, not one reload per write.
    assert!(reloads < 1000, "{reloads} reloads for 1,000 writes");
    let _ = fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn symlink_swaps_in_a_loop_end_in_the_last_target() {
    use std::os::unix::fs::symlink;

    // Kubernetes' layout: policies/..data -> ..2026_..., and every account a link through it.
    let dir = Scratch::new("swaps");
    fs::create_dir_all(&dir).unwrap();
    let original = fs::read_to_string(demo().join("111122223333/credentials.json")).unwrap();
    let version = |i: usize| {
        let target = dir.join(format!("..v{i}"));
        copy_dir(&demo(), &target);
        fs::write(
            target.join("111122223333/credentials.json"),
            with_key(&original, &format!("AKIASWAP{i:012}")),
        )
        .unwrap();
        target
    };
    symlink(version(0), dir.join("..data")).unwrap();
    for account in ["111122223333", "444455556666"] {
        symlink(format!("..data/{account}"), dir.join(account)).unwrap();
    }
    let store = LiveStore::open(&dir).unwrap();
    let _watch = store.watch().unwrap();
    assert!(store.snapshot().key("AKIASWAP000000000000").is_some());
    for i in 1..=50 {
        let target = version(i);
        let tmp = dir.join("..data_tmp");
        symlink(&target, &tmp).unwrap();
        fs::rename(&tmp, dir.join("..data")).unwrap();
        if i % 10 == 0 {
            // A swap to a half-copied version (a broken iam.json) is refused.
            fs::write(
                target.join("111122223333/iam.json"),
                "{\"UserDetailList\": [",
            )
            .unwrap();
            settle();
            assert!(store.snapshot().key(BOB_KEY).is_some());
            fs::copy(
                demo().join("111122223333/iam.json"),
                target.join("111122223333/iam.json"),
            )
            .unwrap();
        }
    }
    assert!(within(3, || store
        .snapshot()
        .key("AKIASWAP000000000050")
        .is_some()));
    let _ = fs::remove_dir_all(&dir);
}

fn resident_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[test]
fn memory_stays_flat_across_ten_thousand_reloads() {
    let dir = Scratch::new("memory");
    copy_dir(&demo(), &dir);
    let store = LiveStore::open(&dir).unwrap();
    let start = store.generation();
    // Warm up: allocator pools, caches.
    for _ in 0..1_000 {
        store.reload().unwrap();
    }
    let before = resident_kib();
    for _ in 0..10_000 {
        store.reload().unwrap();
    }
    let after = resident_kib();
    let grown = after.saturating_sub(before);
    println!("RSS {before} KiB -> {after} KiB over 10,000 reloads (+{grown} KiB)");
    // Each reload builds a new snapshot and drops the old one: nothing may accumulate. A leak of
    // a single demo snapshot per reload would be hundreds of megabytes.
    assert!(
        grown < 8 * 1024,
        "RSS grew by {grown} KiB over 10,000 reloads"
    );
    assert_eq!(store.generation(), start + 11_000);
    let _ = fs::remove_dir_all(&dir);
}
