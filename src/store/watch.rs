//! Hot reload: a watcher turns every change in the store into a new snapshot, swapped in
//! atomically; a change that does not load keeps the last good snapshot.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};

use super::{load, validate_store, LoadErrors, Snapshot};
use crate::analyzer::{Catalog, FindingType};

/// How long the store must be quiet before a burst of changes is loaded, once.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// How long the reload thread waits for requests in flight to let go of a replaced snapshot.
pub const RETIRE_WAIT: Duration = Duration::from_millis(100);

/// Outcome counters of reloads, for metrics.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// Reloads that produced a new snapshot.
    pub succeeded: AtomicU64,
    /// Reloads that failed and kept the previous snapshot.
    pub failed: AtomicU64,
    /// How long the last successful load took, in microseconds.
    pub last_load_micros: AtomicU64,
}

/// The current snapshot, shared by every request. A request loads it once and keeps it.
pub struct LiveStore {
    dir: PathBuf,
    current: ArcSwap<Snapshot>,
    /// The snapshot replaced by the last reload, until [`LiveStore::drop_retired`] frees it.
    retired: Mutex<Option<Arc<Snapshot>>>,
    generation: AtomicU64,
    /// Reload counters.
    pub stats: ReloadStats,
    /// What the store's policies are validated against after each load; `None`: not validated.
    catalog: Option<Catalog>,
    /// The findings already logged, so that a reload logs only what is new.
    logged: Mutex<std::collections::HashSet<String>>,
}

/// At most this many findings are logged per load; `iamgate validate` lists them all.
const MAX_LOGGED_FINDINGS: usize = 50;

impl LiveStore {
    /// Loads the store in `dir`; fails when the first load fails.
    pub fn open(dir: &Path) -> Result<Arc<LiveStore>, LoadErrors> {
        LiveStore::open_with(dir, None)
    }

    fn open_with(dir: &Path, catalog: Option<Catalog>) -> Result<Arc<LiveStore>, LoadErrors> {
        let started = Instant::now();
        let snapshot = load(dir)?;
        let store = LiveStore {
            dir: dir.to_owned(),
            current: ArcSwap::from_pointee(snapshot),
            retired: Mutex::new(None),
            generation: AtomicU64::new(1),
            stats: ReloadStats::default(),
            catalog,
            logged: Mutex::default(),
        };
        store
            .stats
            .last_load_micros
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(Arc::new(store))
    }

    /// Loads the store in `dir` as [`LiveStore::open`] does, then validates its policies against
    /// `catalog` ([`crate::analyzer`]) on a thread of its own and logs the findings; each reload
    /// logs the findings it brings. Findings never keep a store from loading.
    pub fn open_validated(dir: &Path, catalog: Catalog) -> Result<Arc<LiveStore>, LoadErrors> {
        let store = LiveStore::open_with(dir, Some(catalog))?;
        let validating = Arc::clone(&store);
        let _ = std::thread::Builder::new()
            .name("iamgate-validate".into())
            .spawn(move || validating.log_findings());
        Ok(store)
    }

    /// Validates the store's policies and logs the findings not logged before.
    pub fn log_findings(&self) {
        let Some(catalog) = &self.catalog else {
            return;
        };
        let findings = validate_store(&self.dir, catalog);
        let Ok(mut logged) = self.logged.lock() else {
            return;
        };
        let mut current = std::collections::HashSet::new();
        let mut new = 0usize;
        for f in &findings {
            // Not the position: an edit above a finding moves it without making it new.
            let key = format!(
                "{}|{}|{}|{}|{}",
                f.file.display(),
                f.policy,
                f.finding.issue_code,
                f.finding.path_text(),
                f.finding.details
            );
            if !logged.contains(&key) {
                new += 1;
                if new <= MAX_LOGGED_FINDINGS {
                    let (line_no, column) = f.position;
                    let args = (
                        f.file.display(),
                        f.finding.finding_type.as_str(),
                        f.finding.issue_code,
                    );
                    if f.finding.finding_type == FindingType::Suggestion {
                        tracing::info!(file = %args.0, line = line_no, column, finding = %args.1, issue = %args.2, policy = %f.policy, path = %f.finding.path_text(), "policy finding: {}", f.finding.details);
                    } else {
                        tracing::warn!(file = %args.0, line = line_no, column, finding = %args.1, issue = %args.2, policy = %f.policy, path = %f.finding.path_text(), "policy finding: {}", f.finding.details);
                    }
                }
            }
            current.insert(key);
        }
        if new > MAX_LOGGED_FINDINGS {
            tracing::warn!(
                more = new - MAX_LOGGED_FINDINGS,
                "more policy findings not logged; `iamgate validate` lists them all"
            );
        }
        *logged = current;
    }

    /// The snapshot in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// How many snapshots have been swapped in, the first included.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Loads the store again; on success swaps the new snapshot in, otherwise keeps the old.
    pub fn reload(&self) -> Result<u64, LoadErrors> {
        let started = Instant::now();
        match load(&self.dir) {
            Ok(snapshot) => {
                let summary = snapshot.summary();
                let old = self.current.swap(Arc::new(snapshot));
                let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                // In force from here: freeing the old snapshot is not part of the reload.
                let took = started.elapsed();
                if let Ok(mut retired) = self.retired.lock() {
                    *retired = Some(old);
                }
                self.stats.succeeded.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .last_load_micros
                    .store(took.as_micros() as u64, Ordering::Relaxed);
                tracing::info!(
                    generation,
                    principals = summary.principals,
                    statements = summary.statements,
                    took_ms = crate::audit::log_ms(took),
                    "policy store reloaded"
                );
                Ok(generation)
            }
            Err(errors) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                for e in &errors.0 {
                    tracing::warn!(
                        file = %e.file.display(),
                        line = e.position.map(|p| p.0),
                        column = e.position.map(|p| p.1),
                        "policy store change not loaded, keeping generation {}: {}",
                        self.generation(),
                        e.message
                    );
                }
                Err(errors)
            }
        }
    }

    /// Frees the snapshot the last reload replaced, here rather than on a worker thread: requests
    /// in flight hold it, and the last of them would otherwise free a large store between two
    /// requests. Waits up to [`RETIRE_WAIT`] for them; after that, whoever holds it last frees it.
    pub fn drop_retired(&self) {
        let Some(old) = self.retired.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let deadline = Instant::now() + RETIRE_WAIT;
        let mut old = old;
        loop {
            match Arc::try_unwrap(old) {
                Ok(snapshot) => return drop(snapshot),
                Err(shared) if Instant::now() < deadline => {
                    old = shared;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return,
            }
        }
    }

    /// Watches the store's folder and reloads after each burst of changes, then (for a store
    /// opened with [`LiveStore::open_validated`]) logs the findings the change brought. The
    /// watcher stops when the returned guard is dropped.
    pub fn watch(self: &Arc<Self>) -> notify::Result<WatchGuard> {
        let store = Arc::clone(self);
        watch_debounced(
            "iamgate-reload",
            &[(self.dir.clone(), RecursiveMode::Recursive)],
            move || {
                if store.reload().is_ok() {
                    store.drop_retired();
                    // After the swap: the new snapshot is not held up by its validation.
                    store.log_findings();
                }
            },
        )
    }
}

/// Watches `paths` and calls `on_change` on a thread of its own (named `thread`) once after each
/// burst of changes, when they have been quiet for [`DEBOUNCE`]: an editor's save or a
/// ConfigMap swap is several events, and one reload. Reading a file (an access event) is no
/// change. Used by the policy store and the TLS certificate.
pub fn watch_debounced(
    thread: &str,
    paths: &[(PathBuf, RecursiveMode)],
    mut on_change: impl FnMut() + Send + 'static,
) -> notify::Result<WatchGuard> {
    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if !matches!(event.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(());
            }
        }
    })?;
    for (path, mode) in paths {
        watcher.watch(path, *mode)?;
    }
    let thread = std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            while rx.recv().is_ok() {
                loop {
                    match rx.recv_timeout(DEBOUNCE) {
                        Ok(()) => continue,
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                on_change();
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(WatchGuard {
        _watcher: watcher,
        _thread: thread,
    })
}

/// Keeps a watcher running; dropping it stops the watcher.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
    _thread: std::thread::JoinHandle<()>,
}
