//! Graceful shutdown, in process with real listeners: the listener closes at once, requests in
//! flight finish and are logged, and those that outlast the grace period are abandoned.

mod support;
use support::config::DECISIONS;
use support::keys::ALICE;
use support::sign::Sign;
use support::upstream::Upstream;
use support::{send, GatewayConfig, Request, Route, Scratch};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iamgate::proxy::{Running, Stopped};
use tokio::sync::{mpsc, Semaphore};

/// Whether a new TCP connection to `addr` is refused.
async fn refused(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_err()
}

/// alice's `GET /orders/7`.
fn order() -> Request {
    Sign::new("GET", "/orders/7", "orders.localhost", "orders", ALICE).request()
}

/// A gateway on a scratch copy of the demo store whose `orders` upstream announces each request
/// on the receiver and answers it when `gate` gives a permit.
async fn gateway(
    name: &str,
) -> (
    Scratch,
    Running,
    mpsc::UnboundedReceiver<String>,
    Arc<Semaphore>,
) {
    let scratch = Scratch::gateway(name);
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let (orders, _) = Upstream::new()
        .echo()
        .announce(arrived_tx)
        .gate(Arc::clone(&gate))
        .start()
        .await;
    let running = GatewayConfig::demo()
        .admin()
        .decisions_file()
        .orders_at(orders, &[Route::GetOrder])
        .start(&scratch)
        .await;
    (scratch, running, arrived, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let (scratch, running, mut arrived, gate) = gateway("drain").await;
    let gw = running.http.unwrap();
    let slow = tokio::spawn(send(gw, order()));
    assert_eq!(arrived.recv().await.unwrap(), "/orders/7");
    let stopping = tokio::spawn(running.stop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused(gw).await {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !stopping.is_finished(),
        "stop waits for the request in flight"
    );
    gate.add_permits(1);
    let answer = slow.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "upstream saw /orders/7");
    assert_eq!(stopping.await.unwrap(), Stopped::Drained);
    // The request was recorded before the log was flushed at the end of stop.
    let text = std::fs::read_to_string(scratch.join(DECISIONS)).unwrap();
    assert!(text.contains(&answer.request_id));
}

/// A request that does not finish within the grace period is abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_abandons_a_request_at_its_deadline() {
    let (_scratch, running, mut arrived, gate) = gateway("deadline").await;
    let gw = running.http.unwrap();
    let stuck = tokio::spawn(send(gw, order()));
    assert_eq!(arrived.recv().await.unwrap(), "/orders/7");
    assert_eq!(
        running.stop_within(Duration::from_millis(200)).await,
        Stopped::DeadlinePassed { open: 1 }
    );
    assert!(refused(gw).await);
    gate.add_permits(1);
    stuck.abort();
}
