//! TLS listeners, one per certificate or handshake problem, with certificates made at start-up.
//!
//! Nothing is committed: [`LabPki::generate`] makes a lab root CA, an intermediate and the leaf
//! certificates with rcgen every time the lab starts. Each [`TlsCase`] gets its own listener; after
//! a successful handshake it answers every request with a clean `200`, so the probe can tell the
//! TLS story apart from the HTTP one. Trust the lab root with `--ca-file` (see
//! [`LabPki::root_pem`]); without it the valid chain ends at an unknown issuer, as a private CA's
//! chain does at the edge.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use originlens_wire::{Cause, Kind};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The host name the lab's certificates are made for (also valid: `localhost`, `127.0.0.1`).
pub const LAB_HOST: &str = "lab.originlens.test";
/// The host name of the `wrong-host` certificate.
pub const WRONG_HOST: &str = "other.originlens.test";

/// How long a TLS connection may take to send its ClientHello or its next request.
const TLS_IDLE: Duration = Duration::from_secs(30);
/// Largest request head read on a TLS connection.
const MAX_TLS_HEAD: usize = 64 * 1024;
/// A fatal `protocol_version` alert in a TLS 1.0 record: what an origin limited to old protocol
/// versions answers to a ClientHello that offers TLS 1.2 and 1.3 only.
const PROTOCOL_VERSION_ALERT: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];
/// What a plain HTTP server (nginx without `ssl` on 443) answers to a ClientHello.
const PLAIN_HTTP_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: originlens-lab\r\n\
Content-Type: text/html\r\nContent-Length: 50\r\nConnection: close\r\n\r\n\
<html><body><h1>400 Bad Request</h1></body></html>";

/// One TLS listener of the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsCase {
    /// A valid chain (leaf + intermediate) for [`LAB_HOST`], issued by the lab root.
    Valid,
    /// The leaf expired.
    Expired,
    /// The leaf is not valid yet.
    NotYetValid,
    /// The leaf names [`WRONG_HOST`] only.
    WrongHost,
    /// A self-signed leaf for [`LAB_HOST`].
    SelfSigned,
    /// The valid leaf served without its intermediate.
    MissingIntermediate,
    /// The valid chain, TLS 1.2 only.
    Tls12Only,
    /// Plain HTTP on the TLS port: a 400 in answer to the ClientHello.
    PlainHttp,
    /// A `protocol_version` alert in answer to every ClientHello, like an origin limited to
    /// TLS 1.0/1.1.
    OldProtocol,
    /// The valid chain, `h2` by ALPN, and a clean HTTP/2 `200`.
    H2Valid,
    /// `h2` by ALPN, then HTTP/1.1 bytes: a 400 in answer to the client preface.
    H2SpeaksHttp1,
    /// `h2` by ALPN, then a DATA frame where the SETTINGS frame must open the connection.
    H2BadPreface,
    /// `h2` by ALPN and a proper SETTINGS frame, then a DATA frame on stream 0 in answer to the
    /// request: the client ends the connection with GOAWAY PROTOCOL_ERROR.
    H2GarbageFrames,
    /// `h2` by ALPN, then GOAWAY PROTOCOL_ERROR in answer to the request.
    H2Goaway,
    /// `h2` by ALPN, then RST_STREAM REFUSED_STREAM in answer to the request.
    H2RefusedStream,
    /// The valid chain, and a client certificate from the lab's CA demanded (TLS 1.3: the
    /// `certificate_required` alert comes after the client's Finished, on its first read).
    ClientCertRequired,
    /// The same, TLS 1.2 only: the alert ends the handshake itself.
    ClientCertRequiredTls12,
}

/// What the Cloudflare edge in Full (strict) mode makes of a TLS case, with the lab root trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsExpect {
    /// The status the visitor sees.
    pub status: u16,
    /// The cause; `None` when the edge forwards the origin's `200`.
    pub cause: Option<Cause>,
    /// The probe's reason id for the problem (`expired`, `plain-http`, ...), if any.
    pub reason: Option<&'static str>,
    /// The probe's finding for an HTTP/2 problem (`h2.goaway`, ...), if any.
    pub finding: Option<Kind>,
}

impl TlsCase {
    /// Every case, in the order of `lab --list`.
    pub const ALL: &'static [TlsCase] = &[
        TlsCase::Valid,
        TlsCase::Expired,
        TlsCase::NotYetValid,
        TlsCase::WrongHost,
        TlsCase::SelfSigned,
        TlsCase::MissingIntermediate,
        TlsCase::Tls12Only,
        TlsCase::PlainHttp,
        TlsCase::OldProtocol,
        TlsCase::H2Valid,
        TlsCase::H2SpeaksHttp1,
        TlsCase::H2BadPreface,
        TlsCase::H2GarbageFrames,
        TlsCase::H2Goaway,
        TlsCase::H2RefusedStream,
        TlsCase::ClientCertRequired,
        TlsCase::ClientCertRequiredTls12,
    ];

    /// The stable name, e.g. `missing-intermediate`.
    pub fn name(self) -> &'static str {
        match self {
            TlsCase::Valid => "valid",
            TlsCase::Expired => "expired",
            TlsCase::NotYetValid => "not-yet-valid",
            TlsCase::WrongHost => "wrong-host",
            TlsCase::SelfSigned => "self-signed",
            TlsCase::MissingIntermediate => "missing-intermediate",
            TlsCase::Tls12Only => "tls12-only",
            TlsCase::PlainHttp => "plain-http",
            TlsCase::OldProtocol => "old-protocol",
            TlsCase::H2Valid => "h2-valid",
            TlsCase::H2SpeaksHttp1 => "h2-speaks-http1",
            TlsCase::H2BadPreface => "h2-bad-preface",
            TlsCase::H2GarbageFrames => "h2-garbage-frames",
            TlsCase::H2Goaway => "h2-goaway",
            TlsCase::H2RefusedStream => "h2-refused-stream",
            TlsCase::ClientCertRequired => "client-cert-required",
            TlsCase::ClientCertRequiredTls12 => "client-cert-required-tls12",
        }
    }

    /// The case called `name`.
    pub fn by_name(name: &str) -> Option<TlsCase> {
        TlsCase::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// One line: what the listener does.
    pub fn summary(self) -> &'static str {
        match self {
            TlsCase::Valid => "leaf + intermediate for lab.originlens.test, issued by the lab root",
            TlsCase::Expired => "the leaf expired a long time ago",
            TlsCase::NotYetValid => "the leaf becomes valid in 2090",
            TlsCase::WrongHost => "the leaf names other.originlens.test only",
            TlsCase::SelfSigned => "a self-signed leaf for lab.originlens.test",
            TlsCase::MissingIntermediate => "the valid leaf without its intermediate",
            TlsCase::Tls12Only => "the valid chain, TLS 1.2 only",
            TlsCase::PlainHttp => "plain HTTP on the TLS port: a 400 in answer to the ClientHello",
            TlsCase::OldProtocol => {
                "a protocol_version alert to every ClientHello (an origin stuck on TLS 1.0/1.1)"
            }
            TlsCase::H2Valid => "h2 by ALPN and a clean HTTP/2 200",
            TlsCase::H2SpeaksHttp1 => {
                "h2 by ALPN, then HTTP/1.1 (a 400 to the client preface) [h2.http1-after-alpn]"
            }
            TlsCase::H2BadPreface => {
                "h2 by ALPN, then a DATA frame instead of SETTINGS [h2.bad-preface]"
            }
            TlsCase::H2GarbageFrames => {
                "h2 by ALPN, then DATA on stream 0: the client sends GOAWAY PROTOCOL_ERROR [h2.protocol]"
            }
            TlsCase::H2Goaway => "h2 by ALPN, then GOAWAY PROTOCOL_ERROR to the request [h2.goaway]",
            TlsCase::H2RefusedStream => {
                "h2 by ALPN, then RST_STREAM REFUSED_STREAM to the request [h2.refused-stream]"
            }
            TlsCase::ClientCertRequired => {
                "demands a client certificate (TLS 1.3: the alert comes on the first read)"
            }
            TlsCase::ClientCertRequiredTls12 => {
                "demands a client certificate (TLS 1.2: the alert ends the handshake)"
            }
        }
    }

    /// Does the listener advertise `h2` by ALPN?
    pub fn offers_h2(self) -> bool {
        matches!(
            self,
            TlsCase::H2Valid
                | TlsCase::H2SpeaksHttp1
                | TlsCase::H2BadPreface
                | TlsCase::H2GarbageFrames
                | TlsCase::H2Goaway
                | TlsCase::H2RefusedStream
        )
    }

    /// What the edge in Full (strict) mode makes of it, with the lab root trusted (`--ca-file`).
    pub fn expect(self) -> TlsExpect {
        let cert = |reason| TlsExpect {
            status: 526,
            cause: Some(Cause::TlsCertificate),
            reason: Some(reason),
            finding: Some(Kind::TlsCertificate),
        };
        let handshake = |reason| TlsExpect {
            status: 525,
            cause: Some(Cause::TlsHandshake),
            reason: Some(reason),
            finding: Some(Kind::TlsHandshake),
        };
        let h2 = |finding| TlsExpect {
            status: 520,
            cause: Some(Cause::H2Protocol),
            reason: None,
            finding: Some(finding),
        };
        let pass = TlsExpect {
            status: 200,
            cause: None,
            reason: None,
            finding: None,
        };
        match self {
            TlsCase::Valid | TlsCase::Tls12Only => pass,
            TlsCase::Expired => cert("expired"),
            TlsCase::NotYetValid => cert("not-yet-valid"),
            TlsCase::WrongHost => cert("name-mismatch"),
            TlsCase::SelfSigned => cert("self-signed"),
            TlsCase::MissingIntermediate => cert("missing-intermediate"),
            TlsCase::PlainHttp => handshake("plain-http"),
            TlsCase::OldProtocol => handshake("no-common-version"),
            TlsCase::H2Valid => pass,
            TlsCase::H2SpeaksHttp1 => h2(Kind::H2Http1AfterAlpn),
            TlsCase::H2BadPreface => h2(Kind::H2BadPreface),
            TlsCase::H2GarbageFrames => h2(Kind::H2Protocol),
            TlsCase::H2Goaway => h2(Kind::H2Goaway),
            TlsCase::H2RefusedStream => h2(Kind::H2RefusedStream),
            TlsCase::ClientCertRequired | TlsCase::ClientCertRequiredTls12 => {
                handshake("client-certificate-required")
            }
        }
    }
}

/// The lab's certificates, made at start-up.
pub struct LabPki {
    root_pem: String,
    client: ClientPem,
    configs: Vec<(TlsCase, Arc<ServerConfig>)>,
}

/// A client certificate the `client-cert-required` listeners accept, in PEM.
#[derive(Clone, Debug, Default)]
pub struct ClientPem {
    /// The chain: the client leaf, then the lab intermediate.
    pub chain: String,
    /// The leaf's private key (PKCS#8).
    pub key: String,
}

impl std::fmt::Debug for LabPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabPki").finish_non_exhaustive()
    }
}

fn pki_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("making the lab certificates: {e}"))
}

/// Sets the validity window, in seconds since the Unix epoch.
fn validity(params: &mut CertificateParams, from: u64, until: u64) {
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(from);
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(until);
}

struct Leaf {
    der: CertificateDer<'static>,
    key: KeyPair,
}

impl LabPki {
    /// Makes the root, the intermediate and every case's leaf and server configuration.
    pub fn generate() -> io::Result<LabPki> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(pki_err)?
            .as_secs();
        let day = 86_400;

        let mut root_params = CertificateParams::default();
        root_params.distinguished_name = dn("originlens lab root CA");
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut root_params, now - 365 * day, now + 3650 * day);
        let root = CertifiedIssuer::self_signed(root_params, KeyPair::generate().map_err(pki_err)?)
            .map_err(pki_err)?;

        let mut inter_params = CertificateParams::default();
        inter_params.distinguished_name = dn("originlens lab intermediate CA");
        inter_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        inter_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut inter_params, now - 365 * day, now + 1825 * day);
        let inter =
            CertifiedIssuer::signed_by(inter_params, KeyPair::generate().map_err(pki_err)?, &root)
                .map_err(pki_err)?;

        let leaf = |host: &str, from: u64, until: u64| -> io::Result<Leaf> {
            let key = KeyPair::generate().map_err(pki_err)?;
            let cert = leaf_params(host, from, until)?
                .signed_by(&key, &inter)
                .map_err(pki_err)?;
            Ok(Leaf {
                der: cert.der().clone(),
                key,
            })
        };
        let valid = leaf(LAB_HOST, now - 30 * day, now + 60 * day)?;
        let expired = leaf(LAB_HOST, now - 400 * day, now - 35 * day)?;
        // 2090-01-01 and 2091-01-01.
        let future = leaf(LAB_HOST, 3_786_912_000, 3_818_448_000)?;
        let wrong = leaf(WRONG_HOST, now - 30 * day, now + 60 * day)?;
        let self_key = KeyPair::generate().map_err(pki_err)?;
        let self_signed = Leaf {
            der: leaf_params(LAB_HOST, now - 30 * day, now + 60 * day)?
                .self_signed(&self_key)
                .map_err(pki_err)?
                .der()
                .clone(),
            key: self_key,
        };

        // The client certificate the client-authenticating listeners accept.
        let client_key = KeyPair::generate().map_err(pki_err)?;
        let mut client_params = CertificateParams::default();
        client_params.distinguished_name = dn("originlens lab client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.use_authority_key_identifier_extension = true;
        validity(&mut client_params, now - 30 * day, now + 60 * day);
        let client_cert = client_params
            .signed_by(&client_key, &inter)
            .map_err(pki_err)?;
        let client = ClientPem {
            chain: format!("{}{}", client_cert.pem(), inter.pem()),
            key: client_key.serialize_pem(),
        };
        let mut client_roots = rustls::RootCertStore::empty();
        client_roots.add(root.der().clone()).map_err(pki_err)?;
        let client_roots = Arc::new(client_roots);

        let inter_der = inter.der().clone();
        let mut configs = Vec::new();
        for &case in TlsCase::ALL {
            let (leaf, with_inter, tls12) = match case {
                TlsCase::Valid => (&valid, true, false),
                TlsCase::Expired => (&expired, true, false),
                TlsCase::NotYetValid => (&future, true, false),
                TlsCase::WrongHost => (&wrong, true, false),
                TlsCase::SelfSigned => (&self_signed, false, false),
                TlsCase::MissingIntermediate => (&valid, false, false),
                TlsCase::Tls12Only => (&valid, true, true),
                TlsCase::H2Valid
                | TlsCase::H2SpeaksHttp1
                | TlsCase::H2BadPreface
                | TlsCase::H2GarbageFrames
                | TlsCase::H2Goaway
                | TlsCase::H2RefusedStream => (&valid, true, false),
                TlsCase::ClientCertRequired => (&valid, true, false),
                TlsCase::ClientCertRequiredTls12 => (&valid, true, true),
                TlsCase::PlainHttp | TlsCase::OldProtocol => continue,
            };
            let client_auth = matches!(
                case,
                TlsCase::ClientCertRequired | TlsCase::ClientCertRequiredTls12
            )
            .then(|| client_roots.clone());
            let mut chain = vec![leaf.der.clone()];
            if with_inter {
                chain.push(inter_der.clone());
            }
            let alpn: &[&[u8]] = if case.offers_h2() {
                &[b"h2", b"http/1.1"]
            } else {
                &[b"http/1.1"]
            };
            configs.push((
                case,
                server_config(chain, &leaf.key, tls12, alpn, client_auth)?,
            ));
        }
        Ok(LabPki {
            root_pem: root.pem(),
            client,
            configs,
        })
    }

    /// The client certificate the `client-cert-required` listeners accept (`--cert`/`--key`).
    pub fn client_pem(&self) -> &ClientPem {
        &self.client
    }

    /// The lab root CA in PEM: write it to a file and pass it as `--ca-file`.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The server configuration of `case` (`None` for the cases that answer without TLS), for
    /// tests that write their own TLS server with the lab's certificates.
    pub fn config(&self, case: TlsCase) -> Option<Arc<ServerConfig>> {
        self.configs
            .iter()
            .find(|(c, _)| *c == case)
            .map(|(_, cfg)| cfg.clone())
    }
}

fn dn(cn: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::OrganizationName, "originlens lab");
    dn.push(DnType::CommonName, cn);
    dn
}

fn leaf_params(host: &str, from: u64, until: u64) -> io::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(host);
    let mut names = vec![SanType::DnsName(host.try_into().map_err(pki_err)?)];
    if host == LAB_HOST {
        names.push(SanType::DnsName("localhost".try_into().map_err(pki_err)?));
        names.push(SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
    }
    params.subject_alt_names = names;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, from, until);
    Ok(params)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: &KeyPair,
    tls12_only: bool,
    alpn: &[&[u8]],
    client_roots: Option<Arc<rustls::RootCertStore>>,
) -> io::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .map_err(pki_err)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(pki_err)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(pki_err)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The bound TLS listeners, one per [`TlsCase`].
#[derive(Debug)]
pub struct TlsLab {
    pki: Arc<LabPki>,
    listeners: Vec<(TlsCase, TcpListener, SocketAddr)>,
}

impl TlsLab {
    /// Makes the certificates and binds one listener per case on `ip`, each on a free port.
    pub async fn bind(ip: IpAddr) -> io::Result<TlsLab> {
        let pki = Arc::new(LabPki::generate()?);
        let mut listeners = Vec::new();
        for &case in TlsCase::ALL {
            let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
            let addr = listener.local_addr()?;
            listeners.push((case, listener, addr));
        }
        Ok(TlsLab { pki, listeners })
    }

    /// Every case with its address.
    pub fn addrs(&self) -> Vec<(TlsCase, SocketAddr)> {
        self.listeners.iter().map(|(c, _, a)| (*c, *a)).collect()
    }

    /// The lab root CA in PEM.
    pub fn root_pem(&self) -> &str {
        self.pki.root_pem()
    }

    /// The client certificate the `client-cert-required` listeners accept.
    pub fn client_pem(&self) -> &ClientPem {
        self.pki.client_pem()
    }

    /// Serves every listener until the task is dropped.
    pub async fn serve(self) {
        let mut tasks = tokio::task::JoinSet::new();
        for (case, listener, _) in self.listeners {
            let config = self.pki.config(case);
            tasks.spawn(accept_loop(case, listener, config));
        }
        while tasks.join_next().await.is_some() {}
    }
}

async fn accept_loop(case: TlsCase, listener: TcpListener, config: Option<Arc<ServerConfig>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(tls_connection(case, stream, config.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn tls_connection(case: TlsCase, mut stream: TcpStream, config: Option<Arc<ServerConfig>>) {
    let _ = stream.set_nodelay(true);
    let Some(config) = config else {
        // The raw cases answer the ClientHello without speaking TLS.
        let mut hello = [0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(TLS_IDLE, stream.read(&mut hello)).await {
            if n > 0 {
                let answer = match case {
                    TlsCase::PlainHttp => PLAIN_HTTP_400,
                    _ => PROTOCOL_VERSION_ALERT,
                };
                let _ = stream.write_all(answer).await;
            }
        }
        let _ = stream.shutdown().await;
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(tls)) = tokio::time::timeout(TLS_IDLE, acceptor.accept(stream)).await else {
        return;
    };
    // A client that did not pick h2 gets the origin's working HTTP/1.1.
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        crate::h2::serve(case, tls).await;
    } else {
        serve_ok(case, tls).await;
    }
}

/// Answers each request head with a clean `200` until the peer closes or stays idle too long.
async fn serve_ok<S: AsyncRead + AsyncWrite + Unpin>(case: TlsCase, mut stream: S) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_TLS_HEAD {
                return;
            }
            match tokio::time::timeout(TLS_IDLE, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        };
        let head = buf.drain(..end).collect::<Vec<u8>>();
        let close = String::from_utf8_lossy(&head)
            .lines()
            .any(|l| l.to_ascii_lowercase().replace(' ', "") == "connection:close");
        let body = format!("ok: tls case {}\n", case.name());
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if stream.write_all(reply.as_bytes()).await.is_err() || close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_a_unique_name_and_a_config_or_a_raw_answer() {
        let pki = LabPki::generate().unwrap();
        for (i, a) in TlsCase::ALL.iter().enumerate() {
            assert_eq!(TlsCase::by_name(a.name()), Some(*a));
            assert!(TlsCase::ALL[i + 1..].iter().all(|b| b.name() != a.name()));
            let raw = matches!(a, TlsCase::PlainHttp | TlsCase::OldProtocol);
            assert_eq!(pki.config(*a).is_some(), !raw, "{}", a.name());
        }
        assert!(pki.root_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}

/// How a [`scripted`] origin ends the connection after its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ending {
    /// TCP FIN. Over TLS: without `close_notify`, as a crashing or careless server closes.
    Fin,
    /// TLS `close_notify`, then FIN (plain TCP: a FIN).
    CloseNotify,
    /// RST (`SO_LINGER` zero), after a pause that lets the bytes arrive first.
    Reset,
    /// Nothing more: the connection stays open until the peer closes it (at most 30 s).
    Silence,
}

impl Ending {
    /// Every ending.
    pub const ALL: [Ending; 4] = [
        Ending::Fin,
        Ending::CloseNotify,
        Ending::Reset,
        Ending::Silence,
    ];

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Ending::Fin => "fin",
            Ending::CloseNotify => "close-notify",
            Ending::Reset => "reset",
            Ending::Silence => "silence",
        }
    }
}

/// Serves up to 8 connections on a free loopback port, each the same way: read the request
/// head (or whatever comes within 2 s), write `reply` byte for byte, and end as `ending` says;
/// over TLS when `tls` is given (see [`LabPki::config`]). For tests of how each ending reads.
pub async fn scripted(
    reply: Vec<u8>,
    ending: Ending,
    tls: Option<Arc<ServerConfig>>,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let reply: Arc<[u8]> = reply.into();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok(Ok((tcp, _))) =
                tokio::time::timeout(Duration::from_secs(60), listener.accept()).await
            else {
                return;
            };
            let (reply, tls) = (reply.clone(), tls.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                match tls {
                    None => scripted_plain(tcp, &reply, ending).await,
                    Some(config) => scripted_tls(tcp, &reply, ending, config).await,
                }
            });
        }
    });
    Ok(addr)
}

/// How long a scripted origin waits for the request and holds a silent connection.
const SCRIPTED_WAIT: Duration = Duration::from_secs(2);
const SCRIPTED_HOLD: Duration = Duration::from_secs(30);

/// Reads until the end of a request head, at most [`MAX_TLS_HEAD`] bytes or [`SCRIPTED_WAIT`].
async fn read_request<S: AsyncRead + Unpin>(s: &mut S) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + SCRIPTED_WAIT;
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < MAX_TLS_HEAD {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}

/// Waits until the peer closes or [`SCRIPTED_HOLD`] passes, discarding what it sends.
async fn hold<S: AsyncRead + Unpin>(s: &mut S) {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + SCRIPTED_HOLD;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        if n == 0 {
            return;
        }
    }
}

fn reset(tcp: TcpStream) {
    let sock = socket2::SockRef::from(&tcp);
    let _ = sock.set_linger(Some(Duration::ZERO));
    drop(tcp);
}

async fn scripted_plain(mut tcp: TcpStream, reply: &[u8], ending: Ending) {
    read_request(&mut tcp).await;
    let _ = tcp.write_all(reply).await;
    match ending {
        Ending::Fin | Ending::CloseNotify => {
            let _ = tcp.shutdown().await;
            hold(&mut tcp).await;
        }
        Ending::Reset => {
            tokio::time::sleep(crate::behaviour::RESET_PAUSE).await;
            reset(tcp);
        }
        Ending::Silence => hold(&mut tcp).await,
    }
}

async fn scripted_tls(tcp: TcpStream, reply: &[u8], ending: Ending, config: Arc<ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(mut tls)) = tokio::time::timeout(TLS_IDLE, acceptor.accept(tcp)).await else {
        return;
    };
    read_request(&mut tls).await;
    let _ = tls.write_all(reply).await;
    let _ = tls.flush().await;
    match ending {
        Ending::Fin => {
            // The TCP stream alone: its FIN carries no close_notify.
            let (mut tcp, _) = tls.into_inner();
            let _ = tcp.shutdown().await;
            hold(&mut tcp).await;
        }
        Ending::CloseNotify => {
            let _ = tls.shutdown().await;
            hold(&mut tls).await;
        }
        Ending::Reset => {
            tokio::time::sleep(crate::behaviour::RESET_PAUSE).await;
            reset(tls.into_inner().0);
        }
        Ending::Silence => hold(&mut tls).await,
    }
}
