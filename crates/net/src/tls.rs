//! TLS toward the origin with rustls (ring provider): the SSL mode, the policy a caller asks
//! for, the one client configuration built from it, and the verifier that can record the
//! served chain and webpki's verdict without stopping the handshake.
//!
//! Two uses share this code. The edge verifies as Cloudflare does and stops on a bad
//! certificate (526) in strict mode. The probe records instead: the handshake goes on, so the
//! operator learns both what the certificate says and what the origin would answer, and the
//! probe judges the recorded verdict by the mode afterwards.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How the edge checks the origin's certificate (Cloudflare's SSL/TLS encryption modes that
/// use TLS toward the origin; "Flexible" talks plain HTTP and never reaches this layer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SslMode {
    /// Full: any certificate is accepted; only handshake failures count (525).
    Full,
    /// Full (strict): the chain must verify against the trusted roots and name the host (526).
    #[default]
    Strict,
}

impl SslMode {
    /// Stable name: `full`, `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Full => "full",
            SslMode::Strict => "strict",
        }
    }

    /// Parses `strict` or `full`.
    pub fn parse(s: &str) -> Option<SslMode> {
        match s {
            "strict" => Some(SslMode::Strict),
            "full" => Some(SslMode::Full),
            _ => None,
        }
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client certificate and its key, presented when the origin asks (Cloudflare's
/// Authenticated Origin Pulls).
#[derive(Clone, Debug)]
pub struct ClientCert {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: Arc<PrivateKeyDer<'static>>,
}

/// What a caller asks of TLS toward an origin.
#[derive(Clone, Debug)]
pub struct TlsPolicy {
    /// How the certificate is judged.
    pub mode: SslMode,
    /// Certificates trusted besides the Mozilla roots (`--ca-file`, e.g. an origin CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Protocols offered by ALPN, most preferred first.
    pub alpn: Vec<Vec<u8>>,
    /// Record the served chain and webpki's verdict and never stop on the certificate (the
    /// probe); when false, strict mode refuses a bad certificate in the handshake (the edge).
    pub record_chain: bool,
    /// Send SNI for DNS names (false: see the origin's default certificate).
    pub send_sni: bool,
    /// A client certificate to present when asked.
    pub client_cert: Option<ClientCert>,
}

impl Default for TlsPolicy {
    fn default() -> Self {
        TlsPolicy {
            mode: SslMode::Strict,
            extra_roots: Vec::new(),
            alpn: vec![b"http/1.1".to_vec()],
            record_chain: false,
            send_sni: true,
            client_cert: None,
        }
    }
}

/// ALPN offering `h2` before `http/1.1`, as the edge does toward an origin that may speak h2.
pub fn alpn_h2_and_http11() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// A TLS client could not be set up (a local problem, never the origin's).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// An extra root could not be used as a trust anchor.
    #[error("trusted certificate #{index}: {why}")]
    Root {
        /// 0-based position in the file.
        index: usize,
        /// Why.
        why: String,
    },
}

/// The trust store: the Mozilla roots plus `extra`. Returns the store and the extra
/// certificates it could not use as trust anchors, with the reason.
pub fn root_store(extra: &[CertificateDer<'static>]) -> (RootCertStore, Vec<String>) {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut rejected = Vec::new();
    for (i, cert) in extra.iter().enumerate() {
        if let Err(e) = roots.add(cert.clone()) {
            rejected.push(format!("certificate #{i}: {e}"));
        }
    }
    (roots, rejected)
}

/// A problem reading PEM input, naming the file when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{}{why}", origin.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct PemError {
    /// The file, when the text came from one.
    pub origin: Option<String>,
    /// What is wrong.
    pub why: String,
}

/// Reads every certificate from PEM text (a `--ca-file`); at least one must be there.
pub fn load_ca_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let fail = |why: String| PemError { origin: None, why };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// Reads a CA file for trusting as roots: every certificate must be usable as a trust anchor.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let named = |why: String| PemError {
        origin: Some(path.display().to_string()),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| named(e.to_string()))?;
    let certs = load_ca_pem(&pem).map_err(|e| named(e.why))?;
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots
            .add(cert.clone())
            .map_err(|e| named(format!("certificate #{i}: {e}")))?;
    }
    Ok(certs)
}

/// Reads a client certificate chain and its private key from PEM files (`--cert`, `--key`).
pub fn load_client_cert(cert: &Path, key: &Path) -> Result<ClientCert, PemError> {
    let named = |p: &Path, why: String| PemError {
        origin: Some(p.display().to_string()),
        why,
    };
    let pem = std::fs::read(cert).map_err(|e| named(cert, e.to_string()))?;
    let chain = load_ca_pem(&pem).map_err(|e| named(cert, e.why))?;
    let pem = std::fs::read(key).map_err(|e| named(key, e.to_string()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| named(key, format!("no private key: {e}")))?;
    Ok(ClientCert {
        chain,
        key: Arc::new(key_der),
    })
}

/// What the verifier saw: the chain as served and webpki's verdict on it.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    error: Option<rustls::Error>,
}

/// The one certificate verifier: webpki's verdict, then the mode and the policy decide.
/// Handshake signatures are always checked, in every mode.
#[derive(Debug)]
pub struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    mode: SslMode,
    record: bool,
    seen: Mutex<Seen>,
}

impl Verifier {
    /// The certificate error webpki reported, if any (recording verifiers only).
    pub fn error(&self) -> Option<rustls::Error> {
        self.seen.lock().ok().and_then(|s| s.error.clone())
    }

    /// The chain the origin served, leaf first, exactly as served (empty before the
    /// Certificate message arrives, and for verifiers that do not record).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.seen
            .lock()
            .map(|s| s.chain.clone())
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.record && self.mode == SslMode::Full {
            // Full mode accepts any certificate: nothing to compute.
            return Ok(ServerCertVerified::assertion());
        }
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if !self.record {
            return verdict;
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            seen.error = verdict.err();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A TLS client built once from a [`TlsPolicy`]. A client that records hands out a fresh
/// verifier (and no session resumption, so every handshake shows the chain) per connection;
/// one that does not shares one configuration and its session cache.
#[derive(Debug, Clone)]
pub struct TlsClient {
    policy: Arc<TlsPolicy>,
    webpki: Arc<WebPkiServerVerifier>,
    rejected_roots: Vec<String>,
    /// The shared configuration, for clients that do not record.
    shared: Option<Arc<ClientConfig>>,
}

impl TlsClient {
    /// Builds the client for `policy`. Extra roots that cannot be trust anchors are listed by
    /// [`TlsClient::rejected_roots`], not refused: the probe reports them.
    pub fn new(policy: TlsPolicy) -> Result<TlsClient, TlsSetupError> {
        let provider = provider();
        let (roots, rejected_roots) = root_store(&policy.extra_roots);
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let mut client = TlsClient {
            policy: Arc::new(policy),
            webpki,
            rejected_roots,
            shared: None,
        };
        if !client.policy.record_chain {
            client.shared = Some(client.build()?.0);
        } else {
            // Fails here rather than on the first connection.
            client.build()?;
        }
        Ok(client)
    }

    /// The policy it was built from.
    pub fn policy(&self) -> &TlsPolicy {
        &self.policy
    }

    /// Extra roots that could not be used as trust anchors, with the reason.
    pub fn rejected_roots(&self) -> &[String] {
        &self.rejected_roots
    }

    /// The configuration for one connection, and its verifier when it records.
    pub fn config(&self) -> Result<(Arc<ClientConfig>, Option<Arc<Verifier>>), TlsSetupError> {
        match &self.shared {
            Some(c) => Ok((c.clone(), None)),
            None => self.build().map(|(c, v)| (c, Some(v))),
        }
    }

    fn build(&self) -> Result<(Arc<ClientConfig>, Arc<Verifier>), TlsSetupError> {
        let p = &self.policy;
        let verifier = Arc::new(Verifier {
            webpki: self.webpki.clone(),
            mode: p.mode,
            record: p.record_chain,
            seen: Mutex::new(Seen::default()),
        });
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut config = match &p.client_cert {
            Some(c) => builder.with_client_auth_cert(c.chain.clone(), c.key.clone_key())?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = p.alpn.clone();
        config.enable_sni = p.send_sni;
        if p.record_chain {
            config.resumption = Resumption::disabled();
        }
        Ok((Arc::new(config), verifier))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for m in [SslMode::Full, SslMode::Strict] {
            assert_eq!(SslMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(SslMode::parse("flexible"), None);
        assert_eq!(SslMode::default(), SslMode::Strict);
    }

    #[test]
    fn ca_files_need_certificates() {
        let e = load_ca_pem(b"nothing here").unwrap_err();
        assert_eq!(e.to_string(), "no PEM certificate found");
        let dir = std::env::temp_dir().join(format!("originlens-net-ca-{}", std::process::id()));
        std::fs::write(
            &dir,
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = load_ca_file(&dir).unwrap_err();
        assert!(e.to_string().starts_with(&dir.display().to_string()), "{e}");
        let _ = std::fs::remove_file(&dir);
        let missing = load_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            missing.to_string().starts_with("/nonexistent/ca.pem: "),
            "{missing}"
        );
    }

    #[test]
    fn recording_clients_build_one_configuration_per_connection() {
        let shared = TlsClient::new(TlsPolicy::default()).unwrap();
        let (a, v) = shared.config().unwrap();
        let (b, _) = shared.config().unwrap();
        assert!(v.is_none() && Arc::ptr_eq(&a, &b));
        let recording = TlsClient::new(TlsPolicy {
            record_chain: true,
            alpn: alpn_h2_and_http11(),
            ..TlsPolicy::default()
        })
        .unwrap();
        let (a, v) = recording.config().unwrap();
        let (b, _) = recording.config().unwrap();
        assert!(v.is_some() && !Arc::ptr_eq(&a, &b));
        assert_eq!(a.alpn_protocols[0], b"h2");
    }
}
