//! HTTPS served by Rapport itself: a real TLS client over TCP, HSTS on the
//! answers, and a silent client that cannot hold up the others.

use std::sync::Arc;

use rapport::clock::Clock;
use rapport::http::{AppState, HttpSettings};
use rapport::store::{DbOptions, Store};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestDb, test_now};

async fn get_over_tls(address: std::net::SocketAddr, ca: CertificateDer<'static>, path: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("trust the test certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(address).await.expect("connect");
    let mut tls = connector.connect(ServerName::try_from("localhost").expect("name"), tcp).await.expect("handshake");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn rapport_serves_https_with_hsts_and_a_silent_client_blocks_nobody() {
    let dir = tempfile::tempdir().expect("dir");
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, generated.cert.pem()).expect("write cert");
    std::fs::write(&key_file, generated.signing_key.serialize_pem()).expect("write key");
    let acceptor = rapport::tls::acceptor(&cert_file, &key_file).expect("acceptor");
    assert!(rapport::tls::acceptor(&key_file, &key_file).is_err(), "a key is not a certificate chain");

    let (db, url) = TestDb::sqlite();
    let (clock, _) = Clock::manual(test_now());
    let store = Store::open(&url, &DbOptions::default(), clock).await.expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rapport::server::serve(
        listener,
        Some(acceptor),
        AppState::new(store.clone()),
        HttpSettings::default(),
        async move {
            let _ = stopped.await;
        },
    ));

    let mut silent = TcpStream::connect(address).await.expect("a client that never says hello");
    let ca = generated.cert.der().clone();
    let response = get_over_tls(address, ca.clone(), "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.to_lowercase().contains("strict-transport-security: max-age=31536000"), "{response}");
    let refused = get_over_tls(address, ca, "/api/v1/organizations").await;
    assert!(refused.starts_with("HTTP/1.1 401"), "the same rules over TLS: {refused}");

    let mut plain = TcpStream::connect(address).await.expect("connect");
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "no plain HTTP on the TLS port");
    silent.write_all(b"").await.expect("still open");

    let _ = stop.send(());
    server.await.expect("join").expect("served");
    store.close().await;
    drop(db);
}
