//! An HTTP/1.1 client for the gateway's listeners: a request as it goes on the wire, the answer
//! as a test reads it.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A request to send: method, target (path and query), every header (`host` among them), body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Request {
    /// `method uri` to `host`, nothing more (an anonymous request).
    pub fn unsigned(method: &str, uri: &str, host: &str) -> Request {
        Request {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers: vec![("host".into(), host.into())],
            body: Bytes::new(),
        }
    }

    /// With one more header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// An answer, its body read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// `x-amz-request-id` (empty when there is none).
    pub request_id: String,
    pub body: String,
}

/// Sends `req` to `to` on a new client.
pub async fn send(to: SocketAddr, req: Request) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(format!("http://{to}{}", req.uri));
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let response = client
        .request(builder.body(Full::new(req.body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let request_id = headers
        .get("x-amz-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        request_id,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// One bodiless HTTP/2 request (with prior knowledge, or as ALPN agreed) on `stream`; the
/// status of its answer.
pub async fn h2_status<S>(stream: S, request: http::Request<http_body_util::Empty<Bytes>>) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
        .send_request(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}
