//! Scratch folders, removed when dropped, and the repository's demo policy store.

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The demo policy store of the repository.
pub fn demo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh folder under the system's temporary folder, removed when dropped. Its name holds the
/// test crate, the `name` a test gives, the process and a counter, so that tests running at once
/// (threads of one binary, several binaries) never share one.
pub struct Scratch(PathBuf);

impl Scratch {
    /// An empty folder.
    pub fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "iamgate-{}-{name}-{}-{}",
            env!("CARGO_CRATE_NAME"),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A folder laid out for a gateway: a copy of the demo store at `policies/` (what
    /// [`GatewayConfig`](super::GatewayConfig) names), the rest free.
    pub fn gateway(name: &str) -> Scratch {
        let scratch = Scratch::new(name);
        copy_dir(&demo_policies(), &scratch.join("policies"));
        scratch
    }

    /// A folder that is itself a copy of the demo store.
    pub fn demo_store(name: &str) -> Scratch {
        let scratch = Scratch::new(name);
        copy_dir(&demo_policies(), &scratch);
        scratch
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `rel`, making its folders.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A demo `credentials.json` (`original`) with one more key of bob's, `key` (secret `s`), first.
pub fn with_key(original: &str, key: &str) -> String {
    original.replacen(
        '[',
        &format!("[\n  {{\"AccessKeyId\": \"{key}\", \"SecretAccessKey\": \"s\", \"UserName\": \"bob\"}},"),
        1,
    )
}

/// The demo account 111122223333 in `store` laid out as a Kubernetes ConfigMap volume: its
/// files in the timestamped folder `stamp`, `..data` a link to it, and each file a link through
/// `..data`. The account's folder.
#[cfg(unix)]
pub fn configmap_account(store: &Path, stamp: &str) -> PathBuf {
    use std::os::unix::fs::symlink;
    let account = store.join("111122223333");
    copy_dir(&demo_policies().join("111122223333"), &account.join(stamp));
    symlink(stamp, account.join("..data")).unwrap();
    for f in ["iam.json", "credentials.json", "resources.json"] {
        symlink(format!("..data/{f}"), account.join(f)).unwrap();
    }
    account
}
