//! The threads that serve client connections.
//!
//! Each worker is a thread with a single-threaded tokio runtime of its own. A connection is
//! handed to one worker when it is accepted and stays there: its requests, their upstream
//! connections (each worker has its own pool, see [`super::forward::Forwarder`]) and their
//! timers all live on that thread, so that a request's server and client halves never wake each
//! other across threads (each such wake-up is a cross-core hand-off and a cache miss, several
//! times per request on a shared multi-threaded runtime).

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

    /// Tasks alive on the workers now: a connection is one, an upstream connection another.
    pub fn alive_tasks(&self) -> usize {
        self.handles
            .iter()
            .map(|h| h.metrics().num_alive_tasks())
            .sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_go_round_robin_and_run_on_their_worker() {
        let workers = Workers::start(2).unwrap();
        assert_eq!(workers.count(), 2);
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            workers.spawn(move |index| async move {
                let thread = std::thread::current().name().map(str::to_owned);
                // A timer and a spawned task work on the worker's own runtime.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let inner =
                    tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                        .await
                        .ok()
                        .flatten();
                let _ = tx.send((index, thread, inner));
            });
        }
        let mut seen: Vec<(usize, Option<String>, Option<String>)> = (0..4)
            .map(|_| rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap())
            .collect();
        seen.sort();
        let expected = |i: usize| Some(format!("iamgate-worker-{i}"));
        assert_eq!(
            seen,
            vec![
                (0, expected(0), expected(0)),
                (0, expected(0), expected(0)),
                (1, expected(1), expected(1)),
                (1, expected(1), expected(1)),
            ]
        );
    }

    #[test]
    fn alive_tasks_are_counted() {
        let workers = Workers::start(2).unwrap();
        assert_eq!(workers.alive_tasks(), 0);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (release, released) = tokio::sync::watch::channel(false);
        for _ in 0..3 {
            let tx = tx.clone();
            let mut released = released.clone();
            workers.spawn(move |_| async move {
                let _ = tx.send(());
                let _ = released.wait_for(|r| *r).await;
            });
        }
        for _ in 0..3 {
            rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        }
        assert_eq!(workers.alive_tasks(), 3);
        release.send(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while workers.alive_tasks() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(workers.alive_tasks(), 0);
    }

    #[test]
    fn dropping_stops_the_workers() {
        let workers = Workers::start(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // A task that never ends on its own: it is dropped with its runtime.
        workers.spawn(move |_| async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(workers);
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
    }
}
