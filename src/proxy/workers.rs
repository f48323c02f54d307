//! The threads that serve client connections.
//!
//! Each worker is a thread with a single-threaded tokio runtime of its own. A connection is
//! handed to one worker when it is accepted and stays there: its requests, their upstream
//! connections (each worker has its own pool, see [`super::forward::Forwarder`]) and their
//! timers all live on that thread. With one multi-threaded runtime, a request's server and
//! client halves woke each other across threads several times per request; measured in
//! `docs/PERFORMANCE.md`, that cost about a third of the CPU time per request.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::watch;

/// The worker threads. Dropping it stops them: their runtimes end, with whatever connections
/// they still hold (a graceful stop drains connections first, see [`super::Running::stop`]).
pub struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("count", &self.handles.len())
            .finish()
    }
}

impl Workers {
    /// Starts `count` worker threads (at least one).
    pub fn start(count: usize) -> std::io::Result<Workers> {
        let (stop, stopped) = watch::channel(());
        let mut handles = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let mut stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("iamgate-worker-{index}"))
                .spawn(move || {
                    // Runs the worker's tasks until the sender is dropped.
                    runtime.block_on(async move { while stopped.changed().await.is_ok() {} });
                })?;
        }
        Ok(Workers {
            handles,
            next: AtomicUsize::new(0),
            _stop: stop,
        })
    }

    /// How many workers there are.
    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// Runs `task` on the next worker in turn; `task` is given that worker's index.
    pub fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[index].spawn(task(index));
    }
}
