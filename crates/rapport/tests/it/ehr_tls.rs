//! MLLP over TLS (issue 7): a feed that connects with TLS, trusting the
//! listener's certificate, has its message kept and acknowledged; one that
//! speaks plain MLLP to the TLS listener gets no acknowledgement and
//! nothing is kept.

use std::sync::Arc;

use rapport::ehr::mllp::{MllpSettings, serve_tls};
use rapport::store::PageRequest;
use rapport_domain::OrganizationId;
use rapport_hl7::mllp::{Decoder, Frame, frame};
use rapport_hl7::parse;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::on_each_backend_app;

const REGISTRATION: &[u8] = b"MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122090000||ADT^A04^ADT_A01|T1|P|2.5.1\r\
PID|1||M1^^^RIVER^MR||Diaz^Rosa||19800402|F\r";

#[tokio::test]
async fn a_feed_over_tls_is_acknowledged_and_a_plain_one_is_not_heard() {
    on_each_backend_app(|app| async move {
        let (org, _) = app.organization("Riverbend Health").await;
        let org: OrganizationId = org.parse().expect("org");
        let dir = tempfile::tempdir().expect("dir");
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_file, generated.cert.pem()).expect("write cert");
        std::fs::write(&key_file, generated.signing_key.serialize_pem()).expect("write key");
        let acceptor = rapport::tls::acceptor(&cert_file, &key_file).expect("acceptor");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(serve_tls(listener, acceptor, app.store.clone(), org, MllpSettings::default(), stopped));

        // Plain MLLP to the TLS listener: the handshake fails, the connection closes, nothing is kept.
        let mut plain = TcpStream::connect(address).await.expect("connect");
        plain
            .write_all(&frame(b"MSH|^~\\&|EPIC|RIVER|RAPPORT|RIVER|20261122||ADT^A04|P1|P|2.5.1\r"))
            .await
            .expect("write");
        let mut sink = Vec::new();
        let _ = plain.read_to_end(&mut sink).await;
        assert!(!sink.windows(3).any(|w| w == b"MSA"), "no acknowledgement in the clear");

        let mut roots = rustls::RootCertStore::empty();
        roots.add(generated.cert.der().clone()).expect("trust the test certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(address).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        tls.write_all(&frame(REGISTRATION)).await.expect("write");
        let mut decoder = Decoder::new(1 << 20);
        let mut buffer = [0u8; 4096];
        let ack = loop {
            if let Some(Frame::Message(bytes)) = decoder.next_frame() {
                break parse(&bytes).message.expect("an ACK");
            }
            let n = tls.read(&mut buffer).await.expect("read");
            assert!(n > 0, "the listener closed the connection");
            decoder.push(&buffer[..n]);
        };
        let msa = ack.segment("MSA").expect("MSA");
        assert_eq!((msa.text(1, 1), msa.text(2, 1)), ("AA", "T1"));
        let log = app.store.hl7_log(org, &PageRequest::first(10)).await.expect("log").items;
        assert_eq!(
            log.iter().map(|e| e.control_id.as_str()).collect::<Vec<_>>(),
            ["T1"],
            "only the TLS message was kept"
        );
        let _ = stop.send(true);
    })
    .await;
}
