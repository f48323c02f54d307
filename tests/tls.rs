//! TLS, in process with real listeners: the certificate reloaded when its files are replaced
//! (connections already open keep theirs, a broken one keeps the one in force) and the protocol
//! ALPN agreed on (or, without ALPN, the one the first bytes tell).

mod support;
use support::client::h2_status;
use support::observe::metrics;
use support::upstream::Upstream;
use support::{GatewayConfig, Route, Scratch};

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iamgate::proxy::{start, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client that accepts any certificate and reports which one the server presented.
#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn tls_connect(addr: SocketAddr) -> TlsStream {
    tls_connect_alpn(addr, &[]).await
}

/// A TLS connection offering `alpn` (none: no ALPN extension).
async fn tls_connect_alpn(addr: SocketAddr, alpn: &[&[u8]]) -> TlsStream {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

fn presented(stream: &TlsStream) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn pem_cert(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

/// One HTTP/1.1 GET of the public page on an open connection; its status line.
async fn get_public(stream: &mut TlsStream) -> String {
    stream
        .write_all(b"GET /public/index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"</html>\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    text.lines().next().unwrap_or("").to_owned()
}

/// A gateway with an HTTPS listener, its certificate and key the repository's development pair
/// copied to `tls/server.crt` and `tls/server.key` in `scratch`; its HTTPS address.
async fn tls_gateway(scratch: &Scratch) -> (Running, SocketAddr) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch.join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root.join("certs/dev.crt"), dir.join("server.crt")).unwrap();
    std::fs::copy(root.join("certs/dev.key"), dir.join("server.key")).unwrap();
    let (orders, _) = Upstream::new().start().await;
    let tls = r#"
        [tls]
        cert = "tls/server.crt"
        key = "tls/server.key"
        "#;
    let mut config = GatewayConfig::demo()
        .admin()
        .decisions_file()
        .orders_at(orders, &[Route::GetOrder])
        .extra(tls)
        .parse(scratch);
    config.https = Some("127.0.0.1:0".parse().unwrap());
    let running = start(config).await.unwrap();
    let https = running.https.unwrap();
    (running, https)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_certificate_reloads_and_open_connections_keep_going() {
    let scratch = Scratch::gateway("tls");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (running, https) = tls_gateway(&scratch).await;
    let dir = scratch.join("tls");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let reloads = running.gateway.tls.clone().unwrap();

    let first = pem_cert(&root.join("certs/dev.crt"));
    let rotated = pem_cert(&root.join("tests/data/tls/rotated.crt"));
    let mut open = tls_connect(https).await;
    assert_eq!(presented(&open), first);
    assert_eq!(get_public(&mut open).await, "HTTP/1.1 200 OK");

    // Rotate as cert-manager or an operator does: new files renamed over the old ones.
    for (from, to) in [("rotated.key", &key), ("rotated.crt", &cert)] {
        let tmp = dir.join(format!(".{from}.tmp"));
        std::fs::copy(root.join("tests/data/tls").join(from), &tmp).unwrap();
        std::fs::rename(&tmp, to).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while presented(&tls_connect(https).await) != rotated {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection made before the rotation keeps going, on its certificate.
    assert_eq!(presented(&open), first);
    assert_eq!(get_public(&mut open).await, "HTTP/1.1 200 OK");

    // A broken certificate keeps the one in force.
    let failed = || {
        reloads
            .stats
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let failed_before = failed();
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while failed() == failed_before {
        assert!(
            Instant::now() < deadline,
            "the broken certificate was not tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut after = tls_connect(https).await;
    assert_eq!(presented(&after), rotated);
    assert_eq!(get_public(&mut after).await, "HTTP/1.1 200 OK");
    let m = metrics(&running).await;
    assert!(m[r#"iamgate_tls_reloads_total{outcome="failure"}"#] >= 1.0);
    assert!(m[r#"iamgate_tls_reloads_total{outcome="success"}"#] >= 1.0);
    drop(open);
    drop(after);
    running.stop().await;
}

/// Over TLS the gateway serves the protocol ALPN agreed on (and, without ALPN, either, told by
/// the first bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_the_protocol_alpn_agreed_on() {
    let scratch = Scratch::gateway("tls-alpn");
    let (running, https) = tls_gateway(&scratch).await;

    /// One HTTP/2 GET of the public page; its status.
    async fn h2_get(stream: TlsStream) -> u16 {
        let request = http::Request::get("https://127.0.0.1/public/index.html")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        h2_status(stream, request).await
    }

    let h2 = tls_connect_alpn(https, &[b"h2", b"http/1.1"]).await;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(h2_get(h2).await, 200);

    let mut h1 = tls_connect_alpn(https, &[b"http/1.1"]).await;
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(get_public(&mut h1).await, "HTTP/1.1 200 OK");
    assert_eq!(get_public(&mut h1).await, "HTTP/1.1 200 OK");

    // Without ALPN, both still work: the first bytes tell.
    assert_eq!(h2_get(tls_connect(https).await).await, 200);
    let mut plain_h1 = tls_connect(https).await;
    assert_eq!(get_public(&mut plain_h1).await, "HTTP/1.1 200 OK");
    running.stop().await;
}
