//! A raw-TCP client: bytes sent as they are (so that nothing normalises them), the response
//! read until the gateway closes the connection.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::hardened::TESTER;
use super::sign::sign_raw;

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The head, lower-cased names.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `bytes` as they are on a new connection and reads until the gateway closes it (the
/// requests should say `Connection: close`). `None` when the connection closed without a
/// response. Fails the test if nothing happens within 20 s.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and no close within 20 s");
    parse_response(&out)
}

/// Parses the first response in `bytes` (Content-Length bodies; otherwise the rest).
pub fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = bytes[end + 4..].to_vec();
    let response = RawResponse {
        status,
        head,
        body: Vec::new(),
    };
    if let Some(len) = response
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(RawResponse { body, ..response })
}

/// Open file descriptors of this process (sockets included).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A `GET` of `target` with `Host: host`, the `extra` header lines, then `Connection: close`.
pub fn get(target: &str, host: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

/// [`get`] signed by [`sign_raw`] as the test user for `service`.
pub fn signed_get(path: &str, query: &str, host: &str, service: &str, extra: &str) -> Vec<u8> {
    let mut head = String::new();
    for (k, v) in sign_raw("GET", path, query, host, service, TESTER) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    get(&target, host, &format!("{head}{extra}"))
}
