//! TLS toward the origin with rustls (ring provider), verifying like the edge in strict mode but
//! without stopping: a certificate problem is recorded and the HTTP exchange still happens, so
//! the operator learns both what the certificate says and what the origin would answer.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// Wraps webpki verification, remembers its verdict, and lets the handshake go on.
/// It also keeps the chain the origin served, for the independent checks in [`crate::certs`].
#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    error: Mutex<Option<rustls::Error>>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl RecordingVerifier {
    /// The certificate error webpki reported, if any.
    pub fn error(&self) -> Option<rustls::Error> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// The chain the origin served, leaf first, exactly as served (empty before the
    /// Certificate message arrives).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        if let Err(e) = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            if let Ok(mut slot) = self.error.lock() {
                *slot = Some(e);
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// How the client side of the handshake is set up.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Certificates trusted besides the Mozilla roots (`--ca-file`, e.g. an origin CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Send no SNI (to see the origin's default certificate).
    pub no_sni: bool,
}

/// The trust store: the Mozilla roots plus `extra`. Returns the store and the extra
/// certificates it could not use as trust anchors, with the reason.
pub fn root_store(extra: &[CertificateDer<'static>]) -> (rustls::RootCertStore, Vec<String>) {
    let mut roots = rustls::RootCertStore {
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

tokio::task_local! {
    /// Set by [`offering_h2`]: the handshakes made inside offer `h2` before `http/1.1`.
    static OFFER_H2: bool;
}

/// Runs `fut` with every client configuration made inside it offering `h2, http/1.1` by ALPN,
/// as the edge does toward the origin. Outside it (the keep-alive checks, the handshake without
/// SNI) only `http/1.1` is offered, so an origin never picks a protocol the caller cannot speak.
pub async fn offering_h2<F: std::future::Future>(fut: F) -> F::Output {
    OFFER_H2.scope(true, fut).await
}

/// A client configuration trusting the Mozilla roots, offering HTTP/1.1 by ALPN (and `h2`
/// first inside [`offering_h2`]).
pub fn client_config() -> Result<(Arc<ClientConfig>, Arc<RecordingVerifier>), rustls::Error> {
    client_config_with(&ClientOptions::default())
}

/// A client configuration trusting the Mozilla roots and `opts.extra_roots`, offering HTTP/1.1
/// by ALPN (and `h2` first inside [`offering_h2`]).
pub fn client_config_with(
    opts: &ClientOptions,
) -> Result<(Arc<ClientConfig>, Arc<RecordingVerifier>), rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (roots, _) = root_store(&opts.extra_roots);
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
    let verifier = Arc::new(RecordingVerifier {
        inner,
        error: Mutex::new(None),
        chain: Mutex::new(Vec::new()),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = if OFFER_H2.try_with(|offer| *offer).unwrap_or(false) {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config.enable_sni = !opts.no_sni;
    Ok((Arc::new(config), verifier))
}
