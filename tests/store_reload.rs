//! Hot reload of the policy store through the watcher: editors' save patterns, Kubernetes'
//! ConfigMap swap, bursts, and broken changes.

mod support;
use support::scratch::{configmap_account, copy_dir, demo_policies as demo, with_key};
use support::{within, Scratch};

use std::fs;
use std::time::Duration;

use iamgate::store::LiveStore;

/// Waits up to a second for `done`.
fn within_a_second(done: impl FnMut() -> bool) -> bool {
    within(Duration::from_secs(1), done)
}

fn has_key(store: &LiveStore, key: &str) -> bool {
    store.snapshot().key(key).is_some()
}

const EXTRA_KEY: &str = "AKIAEXTRAKEY00000001";

fn credentials_with_extra(original: &str) -> String {
    with_key(original, EXTRA_KEY)
}

#[test]
fn truncate_and_write_and_rename_over_both_reload() {
    let dir = Scratch::new("editors");
    copy_dir(&demo(), &dir);
    let store = LiveStore::open(&dir).unwrap();
    let _watch = store.watch().unwrap();
    let file = dir.join("111122223333/credentials.json");
    let original = fs::read_to_string(&file).unwrap();

    // Truncate and write in place (vim with backupcopy=yes, most IDEs).
    fs::write(&file, credentials_with_extra(&original)).unwrap();
    assert!(within_a_second(|| has_key(&store, EXTRA_KEY)));

    // Write a temporary file and rename it over (vim's default, many tools).
    let tmp = dir.join("111122223333/.credentials.json.swp");
    fs::write(&tmp, &original).unwrap();
    fs::rename(&tmp, &file).unwrap();
    assert!(within_a_second(|| !has_key(&store, EXTRA_KEY)));
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn kubernetes_configmap_swap_reloads() {
    use std::os::unix::fs::symlink;
    let dir = Scratch::new("configmap");
    let account = configmap_account(&dir, "..2026_11_27_00_00_00.1");
    let first = account.join("..2026_11_27_00_00_00.1");
    let store = LiveStore::open(&dir).unwrap();
    let _watch = store.watch().unwrap();
    assert!(!has_key(&store, EXTRA_KEY));

    // What the kubelet does: a new timestamped folder, a new link, renamed over `..data`.
    let second = account.join("..2026_11_27_00_05_00.2");
    copy_dir(&first, &second);
    let original = fs::read_to_string(second.join("credentials.json")).unwrap();
    fs::write(
        second.join("credentials.json"),
        credentials_with_extra(&original),
    )
    .unwrap();
    symlink("..2026_11_27_00_05_00.2", account.join("..data_tmp")).unwrap();
    fs::rename(account.join("..data_tmp"), account.join("..data")).unwrap();
    fs::remove_dir_all(&first).unwrap();
    assert!(within_a_second(|| has_key(&store, EXTRA_KEY)));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_burst_of_changes_is_one_reload_and_a_broken_one_keeps_the_last_good() {
    let dir = Scratch::new("burst");
    copy_dir(&demo(), &dir);
    let store = LiveStore::open(&dir).unwrap();
    let _watch = store.watch().unwrap();
    let file = dir.join("111122223333/credentials.json");
    let original = fs::read_to_string(&file).unwrap();
    let start = store.generation();
    for i in 0..30 {
        let text = if i % 2 == 0 {
            credentials_with_extra(&original)
        } else {
            original.clone()
        };
        fs::write(&file, text).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    fs::write(&file, credentials_with_extra(&original)).unwrap();
    assert!(within_a_second(|| has_key(&store, EXTRA_KEY)));
    std::thread::sleep(Duration::from_millis(400));
    let reloads = store.generation() - start;
    assert!(
        (1..=3).contains(&reloads),
        "30 writes in a burst gave {reloads} reloads"
    );

    let good = store.generation();
    fs::write(&file, "[{\"AccessKeyId\": ").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        store.generation(),
        good,
        "a broken change keeps the last good snapshot"
    );
    assert!(has_key(&store, EXTRA_KEY));
    assert!(
        store
            .stats
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    fs::write(&file, &original).unwrap();
    assert!(within_a_second(|| !has_key(&store, EXTRA_KEY)));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_reload_thread_frees_the_replaced_snapshot_once_requests_let_go() {
    let dir = Scratch::new("retire");
    copy_dir(&demo(), &dir);
    let store = LiveStore::open(&dir).unwrap();

    // A request in flight holds the snapshot across the reload, and lets go 30 ms later.
    let held = store.snapshot();
    let watch_old = std::sync::Arc::downgrade(&held);
    store.reload().unwrap();
    let request = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        drop(held);
    });
    store.drop_retired();
    // Freed by `drop_retired`, after the request let go, not by the request.
    assert!(watch_old.upgrade().is_none());
    request.join().unwrap();

    // A request that never lets go: the wait is bounded and the snapshot stays with it.
    let held = store.snapshot();
    let watch_old = std::sync::Arc::downgrade(&held);
    store.reload().unwrap();
    store.drop_retired();
    assert!(watch_old.upgrade().is_some());
    drop(held);
    assert!(watch_old.upgrade().is_none());
    // Nothing retired: returns at once.
    store.drop_retired();
    let _ = fs::remove_dir_all(&dir);
}
