//! Plain TCP client connections: what the gateway does on them itself instead of through
//! hyper, to keep a connection small.
//!
//! - **Noticing that a client has left** while its request is being served, without reading.
//!   hyper notices it by reading while a request is in flight, into a second 8 KiB buffer
//!   (the first still holds the request head): 8 MiB at a thousand busy connections. So hyper
//!   is told not to read mid-message (`half_close`), and each request waits on the socket's
//!   readiness instead, which the kernel reports as closed on FIN or RST: no read, no buffer,
//!   no system call ([`client_left`]). A response body that waits for the upstream's next
//!   bytes watches too, polling the same readiness ([`SharedStream::poll_closed`]).
//! - **Telling HTTP/2 prior knowledge from HTTP/1.1** by peeking at the first bytes
//!   ([`sniff`]). hyper-util's automatic detection reads the first 24 bytes itself and hands
//!   them back to hyper, whose read buffer then has to grow past its 8 KiB to take the rest of
//!   the head: every connection kept a 16 KiB buffer for its life.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The HTTP/2 connection preface, which a client with prior knowledge sends first.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a plain connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.x (also a connection closed before its first byte: hyper sees the end).
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
}

/// Which protocol the client speaks, from its first bytes, peeked at (`MSG_PEEK`) and left
/// for hyper to read. Any request line but the preface's differs from it within two bytes;
/// while the bytes so far are a beginning of the preface (a client sends the preface whole,
/// so only a slow or hostile one stops inside it), it looks again after a wait that doubles
/// each time, from 5 ms to a second, instead of spinning on the same bytes. The caller bounds
/// the wait.
pub async fn sniff(stream: &SharedStream) -> io::Result<Protocol> {
    let mut wait = Duration::from_millis(5);
    let mut first = [0u8; PREFACE.len()];
    loop {
        let n = stream.0.peek(&mut first).await?;
        if n == 0 || first[..n] != PREFACE[..n] {
            return Ok(Protocol::Http1);
        }
        if n == PREFACE.len() {
            return Ok(Protocol::Http2);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

/// A plain TCP client connection, shared by hyper (which reads and writes it) and the requests
/// on it (which watch it, see [`client_left`]).
#[derive(Debug, Clone)]
pub struct SharedStream(Arc<TcpStream>);

impl SharedStream {
    /// Shares `stream`.
    pub fn new(stream: TcpStream) -> SharedStream {
        SharedStream(Arc::new(stream))
    }

    /// Whether the client has closed or reset the connection, without reading and without
    /// allocating: `Ready(true)` when it has; `Ready(false)` when bytes wait unread, which hide
    /// whether a close is behind them; `Pending`, woken when that changes, otherwise. Only a
    /// change in the socket costs a system call (a one-byte `MSG_PEEK`).
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        match self.0.poll_peek(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(true),
            Poll::Ready(Ok(_)) => Poll::Ready(false),
        }
    }
}

/// The client closed its connection (or reset it) while its request was served: the request,
/// or its response body, is abandoned and the connection closed, as hyper does when it notices
/// this itself.
#[derive(Debug, thiserror::Error)]
#[error("the client closed the connection")]
pub struct ClientLeft;

/// Completes when the client has closed or reset the connection. Bytes waiting unread (the rest
/// of a request body that hyper reads as it is forwarded, or a pipelined request) make the
/// socket readable without telling whether it is closed: then it looks again a little later
/// instead of spinning on the same readiness.
pub async fn client_left(stream: &SharedStream) {
    /// How long a request with unread bytes behind it waits before looking again.
    const RECHECK: Duration = Duration::from_millis(250);
    loop {
        match stream.0.ready(Interest::READABLE).await {
            Ok(ready) if ready.is_read_closed() || ready.is_error() => return,
            Ok(_) => tokio::time::sleep(RECHECK).await,
            Err(_) => return,
        }
    }
}

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let capacity = buf.remaining();
        if capacity == 0 {
            return Poll::Ready(Ok(()));
        }
        let stream = &*self.0;
        loop {
            ready!(stream.poll_read_ready(cx))?;
            let mut read = 0;
            // The read happens inside `try_io` so that a read that did not fill the buffer, which
            // on an edge-triggered poller means the socket is drained, clears the readiness it
            // was ready for: the next read waits for the next edge instead of making a system
            // call that would block (as tokio's own `TcpStream` does).
            let outcome = stream.try_io(Interest::READABLE, || {
                read = stream.try_read_buf(buf)?;
                if read > 0 && read < capacity {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(())
            });
            match outcome {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && read > 0 => {
                    return Poll::Ready(Ok(()))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl SharedStream {
    /// Runs `write` once the socket is writable, and again each time it would block.
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match write(&self.0) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |stream| stream.try_write(data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |stream| stream.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (SharedStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (SharedStream::new(server), client)
    }

    #[tokio::test]
    async fn reads_writes_and_shuts_down_like_a_tcp_stream() {
        let (mut server, mut client) = pair().await;
        client.write_all(b"hello").await.expect("client writes");
        let mut got = [0u8; 64];
        let n = server.read(&mut got).await.expect("server reads");
        assert_eq!(&got[..n], b"hello");
        // Drained: the next read waits for the next bytes rather than failing or spinning.
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client
                .write_all(b" world")
                .await
                .expect("client writes again");
            client
        });
        let n = server.read(&mut got).await.expect("server reads again");
        assert_eq!(&got[..n], b" world");
        let mut client = late.await.expect("writer");
        server.write_all(b"answer").await.expect("server writes");
        server.shutdown().await.expect("server shuts down");
        let mut answer = Vec::new();
        client
            .read_to_end(&mut answer)
            .await
            .expect("client reads to the end");
        assert_eq!(answer, b"answer");
    }

    #[tokio::test]
    async fn http2_prior_knowledge_is_told_from_http1_without_consuming_a_byte() {
        let cases: [(&[&[u8]], Protocol); 6] = [
            (&[b"GET / HTTP/1.1\r\n"], Protocol::Http1),
            (&[b"PUT /b/k HTTP/1.1\r\n"], Protocol::Http1),
            (&[b"P", b"OST / HTTP/1.1\r\n"], Protocol::Http1),
            (&[PREFACE], Protocol::Http2),
            (&[b"PRI * HTTP/2", b".0\r\n\r\nSM\r\n\r\n"], Protocol::Http2),
            (&[b"PRI * HTTP/1.1\r\n"], Protocol::Http1),
        ];
        for (pieces, expected) in cases {
            let (mut server, mut client) = pair().await;
            let sent: Vec<u8> = pieces.concat();
            let writer = tokio::spawn(async move {
                for piece in pieces {
                    client.write_all(piece).await.expect("client writes");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                client
            });
            let protocol = tokio::time::timeout(Duration::from_secs(5), sniff(&server))
                .await
                .expect("told in time")
                .expect("no error");
            assert_eq!(protocol, expected, "{sent:?}");
            let _client = writer.await.expect("writer");
            // Every byte is still there for hyper.
            let mut got = vec![0u8; sent.len()];
            server.read_exact(&mut got).await.expect("server reads");
            assert_eq!(got, sent);
        }
    }

    #[tokio::test]
    async fn a_connection_closed_at_once_is_left_to_hyper() {
        let (server, client) = pair().await;
        drop(client);
        let protocol = sniff(&server).await.expect("no error");
        assert_eq!(protocol, Protocol::Http1);
    }

    #[tokio::test]
    async fn a_client_leaving_is_noticed_without_reading() {
        let (server, client) = pair().await;
        let watching = client_left(&server);
        tokio::pin!(watching);
        let still_there = tokio::time::timeout(Duration::from_millis(100), watching.as_mut()).await;
        assert!(still_there.is_err(), "nobody left yet");
        drop(client);
        tokio::time::timeout(Duration::from_secs(5), watching)
            .await
            .expect("the close is noticed");
    }

    #[tokio::test]
    async fn poll_closed_tells_a_close_from_bytes_and_from_nothing() {
        async fn closed(s: &SharedStream) -> bool {
            std::future::poll_fn(|cx| s.poll_closed(cx)).await
        }
        let (server, mut client) = pair().await;
        let quiet = tokio::time::timeout(Duration::from_millis(100), closed(&server)).await;
        assert!(quiet.is_err(), "nothing happened yet");
        client.write_all(b"x").await.expect("client writes");
        assert!(!closed(&server).await, "a byte is not a close");
        let (server, client) = pair().await;
        drop(client);
        let left = tokio::time::timeout(Duration::from_secs(5), closed(&server)).await;
        assert_eq!(left.ok(), Some(true), "the close is seen");
    }

    #[tokio::test]
    async fn unread_bytes_are_not_a_close_but_a_close_behind_them_is() {
        let (server, mut client) = pair().await;
        client
            .write_all(b"next request")
            .await
            .expect("client writes");
        let watching = client_left(&server);
        tokio::pin!(watching);
        let still_there = tokio::time::timeout(Duration::from_millis(400), watching.as_mut()).await;
        assert!(still_there.is_err(), "unread bytes are not a close");
        drop(client);
        tokio::time::timeout(Duration::from_secs(5), watching)
            .await
            .expect("the close behind the bytes is noticed");
    }
}
