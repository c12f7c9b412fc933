use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::SharedRegistry;
use super::authorization::{Action, Authorizer, ConnectFacts};
use super::tls::{self, Peers};
use crate::fleet::{self, Account, Issued};
use crate::registry::certificate::certificate_id;
use crate::registry::{self, Registry};

struct Fleet {
    dir: std::path::PathBuf,
    registry: Registry,
}

/// A fleet of `thing-1` and `thing-2` on disk, and its registry.
fn fleet(name: &str) -> Fleet {
    let dir = std::env::temp_dir().join(format!("iotrules-endpoint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let account = Account { region: "us-east-1".to_owned(), account: "123456789012".to_owned() };
    fleet::create(&dir, &["thing-1".to_owned(), "thing-2".to_owned()], &account).unwrap();
    let loaded = registry::load(&dir.join("registry")).unwrap();
    assert!(!loaded.has_errors());
    Fleet { dir, registry: loaded.registry }
}

fn device_id(fleet: &Fleet, thing: &str) -> String {
    let pem = std::fs::read_to_string(fleet.dir.join(format!("devices/{thing}.pem"))).unwrap();
    certificate_id(&registry::certificate::pem_to_der(&pem).unwrap())
}

fn facts(client_id: &str) -> ConnectFacts {
    ConnectFacts { client_id: client_id.to_owned(), ..ConnectFacts::default() }
}

#[test]
fn packets_are_decided_by_the_connections_own_policies() {
    let fleet = fleet("decide");
    let peers = Arc::new(Peers::default());
    let shared = SharedRegistry::new(fleet.registry.clone());
    let authorizer = Authorizer::new(shared.clone(), Arc::clone(&peers), "us-east-1", "123456789012");
    let forwarded_from: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let device: SocketAddr = "192.0.2.7:51000".parse().unwrap();

    // Not forwarded by the TLS front: no certificate, refused.
    assert!(!authorizer.connect(forwarded_from, &facts("thing-1")).allowed);

    peers.insert_for_test(forwarded_from, device, &device_id(&fleet, "thing-1"));
    // thing-1's certificate as thing-2: not attached, so the policy's condition fails.
    let refused = authorizer.connect(forwarded_from, &facts("thing-2"));
    assert!(!refused.allowed);
    assert_eq!(refused.because, "no statement of device allows it");

    let connected = authorizer.connect(forwarded_from, &facts("thing-1"));
    assert!(connected.allowed, "{}", connected.because);
    assert_eq!(connected.because, "allowed by device statement 0");
    let session = authorizer.session(&forwarded_from).unwrap();
    assert_eq!(session.thing.as_deref(), Some("thing-1"));
    assert_eq!(session.source_ip, "192.0.2.7");

    assert!(authorizer.check(&forwarded_from, Action::Publish, "devices/thing-1/telemetry"));
    assert!(authorizer.check(&forwarded_from, Action::Receive, "$aws/things/thing-1/shadow/update/accepted"));
    assert!(authorizer.check(&forwarded_from, Action::Subscribe, "$aws/things/thing-1/shadow/update/accepted"));
    assert!(!authorizer.check(&forwarded_from, Action::Publish, "devices/thing-2/telemetry"));
    assert!(!authorizer.check(&forwarded_from, Action::Subscribe, "devices/+/telemetry"));
    assert!(!authorizer.check(&forwarded_from, Action::RetainPublish, "devices/thing-1/telemetry"));

    // A disconnected connection's session is gone.
    authorizer.disconnected(&forwarded_from);
    assert!(!authorizer.check(&forwarded_from, Action::Publish, "devices/thing-1/telemetry"));
    assert!(authorizer.connect(forwarded_from, &facts("thing-1")).allowed);

    // A will the policy does not let the device publish refuses the connection.
    let with_will = ConnectFacts { will: Some(("elsewhere/lwt".to_owned(), false)), ..facts("thing-1") };
    let refused = authorizer.connect(forwarded_from, &with_will);
    assert!(!refused.allowed);
    assert!(refused.because.starts_with("the last will on `elsewhere/lwt`"), "{}", refused.because);

    // Revoking the certificate: the live session goes at the next reload, and its connection
    // is closed.
    let mut revoked = fleet.registry.clone();
    let id = device_id(&fleet, "thing-1");
    if let Some(certificate) = revoked.certificates.get_mut(&id) {
        certificate.status = crate::registry::Status::Revoked;
    }
    shared.replace(revoked);
    assert!(authorizer.session(&forwarded_from).is_some());
    let closed = authorizer.reload();
    assert_eq!(closed, [forwarded_from]);
    assert!(peers.is_closing(&forwarded_from), "the revoked certificate's connection was not closed");
    assert!(!authorizer.check(&forwarded_from, Action::Publish, "devices/thing-1/telemetry"));
    std::fs::remove_dir_all(&fleet.dir).unwrap();
}

/// A session decides with the evaluator, is compiled on the compile thread once it has made
/// `COMPILE_AFTER` decisions, and decides every request the same way in both tiers.
#[test]
fn sessions_are_compiled_after_their_first_decisions_and_decide_alike() {
    let fleet = fleet("tiers");
    let peers = Arc::new(Peers::default());
    let authorizer =
        Authorizer::new(SharedRegistry::new(fleet.registry.clone()), Arc::clone(&peers), "us-east-1", "123456789012");
    let forwarded_from: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    peers.insert_for_test(forwarded_from, "192.0.2.8:51000".parse().unwrap(), &device_id(&fleet, "thing-1"));
    assert!(authorizer.connect(forwarded_from, &facts("thing-1")).allowed);
    let session = authorizer.session(&forwarded_from).unwrap();
    let requests = [
        (Action::Publish, "devices/thing-1/telemetry"),
        (Action::Publish, "devices/thing-2/telemetry"),
        (Action::Subscribe, "devices/thing-1/#"),
        (Action::Subscribe, "devices/+/telemetry"),
        (Action::Receive, "$aws/things/thing-1/shadow/update/delta"),
        (Action::Receive, "$aws/things/thing-2/shadow/update/delta"),
        (Action::RetainPublish, "devices/thing-1/telemetry"),
    ];
    let interpreted: Vec<_> = requests.iter().map(|(action, name)| session.decide(*action, name).0).collect();
    assert!(!session.is_compiled());
    let mut decisions = requests.len() as u32;
    while decisions < super::authorization::COMPILE_AFTER {
        assert!(authorizer.check(&forwarded_from, Action::Publish, "devices/thing-1/telemetry"));
        decisions += 1;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !session.is_compiled() {
        assert!(std::time::Instant::now() < deadline, "the session was not compiled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let compiled: Vec<_> = requests.iter().map(|(action, name)| session.decide(*action, name).0).collect();
    assert_eq!(interpreted, compiled);
    assert_eq!(
        interpreted.iter().map(|decided| decided.allowed).collect::<Vec<_>>(),
        [true, false, true, false, true, false, false]
    );
    std::fs::remove_dir_all(&fleet.dir).unwrap();
}

fn client_config(fleet: &Fleet, device: &Issued) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(fleet.dir.join("ca/ca.pem")).unwrap()).unwrap();
    let chain = vec![CertificateDer::from(device.der.clone())];
    let key = PrivateKeyDer::from_pem_slice(device.key_pem.as_bytes()).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap()
}

fn issued(fleet: &Fleet, thing: &str) -> Issued {
    let read =
        |extension: &str| std::fs::read_to_string(fleet.dir.join(format!("devices/{thing}.{extension}"))).unwrap();
    let certificate_pem = read("pem");
    let der = registry::certificate::pem_to_der(&certificate_pem).unwrap();
    Issued { certificate_pem, key_pem: read("key"), der }
}

/// Connects through the front with `config`; `Ok` with what the broker side received.
async fn through_front(
    front: SocketAddr,
    config: rustls::ClientConfig,
    broker: &TcpListener,
) -> Result<(Vec<u8>, SocketAddr), String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(front).await.map_err(|error| error.to_string())?;
    let mut tls =
        connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.map_err(|error| error.to_string())?;
    tls.write_all(b"hello").await.map_err(|error| error.to_string())?;
    let accepted = tokio::time::timeout(Duration::from_secs(2), broker.accept()).await;
    let (mut upstream, forwarded_from) =
        accepted.map_err(|_| "nothing reached the broker".to_owned())?.map_err(|error| error.to_string())?;
    let mut received = [0u8; 5];
    upstream.read_exact(&mut received).await.map_err(|error| error.to_string())?;
    Ok((received.to_vec(), forwarded_from))
}

#[tokio::test]
async fn the_front_forwards_registered_devices_and_refuses_the_rest() {
    let fleet = fleet("front");
    let shared = SharedRegistry::new(fleet.registry.clone());
    let config =
        tls::server_config(&fleet.dir.join("server/server.pem"), &fleet.dir.join("server/server.key"), shared.clone())
            .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let broker = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peers = Arc::new(Peers::default());
    tokio::spawn(tls::serve(listener, Arc::new(config), broker.local_addr().unwrap(), Arc::clone(&peers)));

    // A registered device: its bytes reach the broker, and the broker-side address names it.
    let thing_1 = issued(&fleet, "thing-1");
    let (received, forwarded_from) = through_front(front, client_config(&fleet, &thing_1), &broker).await.unwrap();
    assert_eq!(received, b"hello");
    let peer = peers.get(&forwarded_from).unwrap();
    assert_eq!(peer.certificate_id, certificate_id(&thing_1.der));
    assert!(peer.device.ip().is_loopback());

    // A certificate the registry does not hold is refused in the handshake (TLS 1.3 clients
    // learn it from the alert after their side finished, so nothing reaches the broker).
    let stranger = fleet::authority("another CA").unwrap().device("thing-1").unwrap();
    let refused = through_front(front, client_config(&fleet, &stranger), &broker).await;
    assert!(refused.is_err(), "an unregistered certificate got through");

    // Revoked in the registry: refused from then on.
    let mut revoked = fleet.registry.clone();
    if let Some(certificate) = revoked.certificates.get_mut(&certificate_id(&thing_1.der)) {
        certificate.status = crate::registry::Status::Revoked;
    }
    shared.replace(revoked);
    let refused = through_front(front, client_config(&fleet, &thing_1), &broker).await;
    assert!(refused.is_err(), "a revoked certificate got through");
    std::fs::remove_dir_all(&fleet.dir).unwrap();
}

/// Bytes flow both ways through the front until a close is requested; from then on nothing
/// the broker sends reaches the device, which sees its connection end.
#[tokio::test]
async fn a_closed_connection_gets_nothing_more_from_the_broker() {
    let fleet = fleet("close");
    let shared = SharedRegistry::new(fleet.registry.clone());
    let config =
        tls::server_config(&fleet.dir.join("server/server.pem"), &fleet.dir.join("server/server.key"), shared).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let broker = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peers = Arc::new(Peers::default());
    tokio::spawn(tls::serve(listener, Arc::new(config), broker.local_addr().unwrap(), Arc::clone(&peers)));

    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(&fleet, &issued(&fleet, "thing-1"))));
    let tcp = TcpStream::connect(front).await.unwrap();
    let mut device = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    device.write_all(b"CONNECT").await.unwrap();
    let (mut upstream, forwarded_from) = broker.accept().await.unwrap();
    let mut received = [0u8; 7];
    upstream.read_exact(&mut received).await.unwrap();
    assert_eq!(&received, b"CONNECT");
    upstream.write_all(b"CONNACK").await.unwrap();
    let mut answered = [0u8; 7];
    device.read_exact(&mut answered).await.unwrap();
    assert_eq!(&answered, b"CONNACK");

    // The close is requested before the broker answers, as the gate does.
    assert!(peers.close(&forwarded_from));
    let _ = upstream.write_all(b"SUBACK").await;
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), device.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the device's connection stayed open");
    assert!(rest.is_empty(), "the device received {rest:?} after the close");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while peers.get(&forwarded_from).is_some() {
        assert!(std::time::Instant::now() < deadline, "the connection is still listed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!peers.close(&forwarded_from));
    std::fs::remove_dir_all(&fleet.dir).unwrap();
}
