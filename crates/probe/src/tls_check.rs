//! The TLS story of an origin: the handshake with and without SNI, why it failed, and every
//! problem in the served chain, judged by the edge's SSL mode.
//!
//! The edge connects with SNI and, in Full (strict) mode, verifies the chain against its roots:
//! a failed handshake is a 525 (`tls.handshake`), a refused certificate a 526
//! (`tls.certificate`). In Full mode the certificate is not verified, so its problems are
//! warnings; Flexible mode talks plain HTTP to port 80 and never reaches TLS.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::certs::{check_chain, CertInfo, ChainCheck};
use crate::tap::Tap;
use crate::tls::{client_config_with, root_store, ClientOptions};

/// The first bytes the origin sent during the handshake, kept to recognise plain HTTP.
const FIRST_BYTES: usize = 256;

/// How the edge talks to the origin (Cloudflare's SSL/TLS encryption mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Plain HTTP to port 80: no TLS toward the origin.
    Flexible,
    /// TLS without verifying the certificate.
    Full,
    /// TLS with the certificate verified (valid dates, host name, trusted chain).
    #[default]
    Strict,
}

impl SslMode {
    /// Stable name: `flexible`, `full`, `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Flexible => "flexible",
            SslMode::Full => "full",
            SslMode::Strict => "strict",
        }
    }
}

/// TLS settings of a probe.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// The edge's SSL mode, which decides whether certificate problems are errors.
    pub mode: SslMode,
    /// Certificates trusted besides the Mozilla roots (`--ca-file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Also shake hands without SNI to see the origin's default certificate.
    pub check_without_sni: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            mode: SslMode::Strict,
            extra_roots: Vec::new(),
            check_without_sni: true,
        }
    }
}

/// Reads every certificate from PEM text (a `--ca-file`).
pub fn load_ca_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

/// What a successful handshake agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Protocol version, e.g. `TLSv1_3`.
    pub version: String,
    /// Cipher suite.
    pub cipher: String,
    /// ALPN protocol, if one was agreed.
    pub alpn: Option<String>,
}

/// Why a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeFailure {
    /// Stable id: `plain-http`, `no-common-version`, `no-common-cipher`, `alert`, `closed`,
    /// `reset`, `timeout`, `protocol-error`.
    pub reason: &'static str,
    /// The TLS alert the origin sent, if any (`handshake_failure`).
    pub alert: Option<String>,
    /// For people.
    pub message: String,
}

/// One handshake, as seen by the client.
#[derive(Clone, Debug)]
pub struct Handshake {
    /// The SNI sent, if any.
    pub sni: Option<String>,
    /// What was agreed, or why it failed.
    pub outcome: Result<Negotiated, HandshakeFailure>,
    /// The chain the origin served (possibly before a failure).
    pub chain: Vec<CertificateDer<'static>>,
    /// webpki's verdict on the chain for the host, if it failed.
    pub certificate_error: Option<String>,
}

/// The handshake without SNI, compared with the one with SNI.
#[derive(Clone, Debug)]
pub struct WithoutSni {
    /// The handshake.
    pub handshake: Handshake,
    /// Its leaf certificate.
    pub leaf: Option<CertInfo>,
    /// Is it the same leaf as with SNI?
    pub same_certificate: bool,
    /// Does its leaf name the host?
    pub name_matches: bool,
}

/// The whole TLS story.
#[derive(Clone, Debug)]
pub struct TlsReport {
    /// The SSL mode judged under.
    pub mode: SslMode,
    /// The host the certificate must name.
    pub host: String,
    /// The handshake with SNI, as the edge makes it.
    pub handshake: Handshake,
    /// The handshake without SNI (`None` when the host is an IP address, so no SNI is sent
    /// anyway, or when the check was not asked for).
    pub without_sni: Option<WithoutSni>,
    /// The independent checks of the served chain.
    pub check: ChainCheck,
    /// How many extra roots were trusted (`--ca-file`).
    pub extra_roots: usize,
    /// Extra roots that could not be used, with the reason.
    pub rejected_roots: Vec<String>,
}

impl TlsReport {
    /// Did webpki accept the chain for the host (Full (strict) would)?
    pub fn trusted(&self) -> bool {
        self.handshake.outcome.is_ok()
            && self.handshake.certificate_error.is_none()
            && !self.handshake.chain.is_empty()
    }

    /// The certificate problem the edge refuses the origin for in this mode: the first fatal
    /// problem of the independent checks, else webpki's own message. `None` in Full mode, when
    /// the handshake failed, or when the chain is trusted.
    pub fn refusal(&self) -> Option<String> {
        if self.mode != SslMode::Strict || self.handshake.outcome.is_err() {
            return None;
        }
        let webpki = self.handshake.certificate_error.as_ref()?;
        Some(
            self.check
                .problems
                .iter()
                .find(|p| p.fatal)
                .map_or_else(|| format!("untrusted: {webpki}"), |p| p.message.clone()),
        )
    }
}

/// The client side of a finished handshake.
pub(crate) type ClientStream = TlsStream<Tap<TcpStream>>;

/// Shakes hands over `tcp` for `host`; returns the stream when the handshake succeeded.
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    opts: &TlsOptions,
    no_sni: bool,
    timeout: Duration,
) -> Result<(Option<ClientStream>, Handshake), String> {
    let client = ClientOptions {
        extra_roots: opts.extra_roots.clone(),
        no_sni,
    };
    let (config, verifier) = client_config_with(&client).map_err(|e| e.to_string())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned()).map_err(|e| format!("`{host}`: {e}"))?;
    let sni = match (&name, no_sni) {
        (ServerName::DnsName(d), false) => Some(d.as_ref().to_owned()),
        _ => None,
    };
    let (io, seen) = Tap::new(tcp, FIRST_BYTES);
    let connector = tokio_rustls::TlsConnector::from(config);
    let result = tokio::time::timeout(timeout, connector.connect(name, io)).await;
    let first = seen.lock().map(|s| s.bytes.clone()).unwrap_or_default();
    let mut hs = Handshake {
        sni,
        outcome: Err(HandshakeFailure {
            reason: "timeout",
            alert: None,
            message: format!(
                "the handshake did not finish within {:.1} s",
                timeout.as_secs_f64()
            ),
        }),
        chain: verifier.chain(),
        certificate_error: verifier.error().map(|e| describe_cert_error(&e)),
    };
    match result {
        Ok(Ok(stream)) => {
            let (_, conn) = stream.get_ref();
            hs.outcome = Ok(Negotiated {
                version: conn
                    .protocol_version()
                    .map(|v| format!("{v:?}"))
                    .unwrap_or_default(),
                cipher: conn
                    .negotiated_cipher_suite()
                    .map(|c| format!("{:?}", c.suite()))
                    .unwrap_or_default(),
                alpn: conn
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            });
            Ok((Some(stream), hs))
        }
        Ok(Err(e)) => {
            hs.outcome = Err(classify(&e, &first));
            Ok((None, hs))
        }
        Err(_) => Ok((None, hs)),
    }
}

/// Names the reason a handshake failed, from the error and the first bytes the origin sent.
pub fn classify(e: &io::Error, first: &[u8]) -> HandshakeFailure {
    let fail = |reason, alert: Option<String>, message: String| HandshakeFailure {
        reason,
        alert,
        message,
    };
    // A TLS record starts with content type 20..=24 and major version 3; anything else that
    // reads as text is an HTTP server answering the ClientHello.
    let is_record = matches!(first, [20..=24, 3, ..]);
    if !first.is_empty() && !is_record {
        let line_end = first
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(first.len().min(60));
        let line = originlens_wire::escape::escape(&first[..line_end]);
        if first.starts_with(b"HTTP/")
            || first
                .iter()
                .take(16)
                .all(|b| b.is_ascii_graphic() || *b == b' ')
        {
            return fail(
                "plain-http",
                None,
                format!("the origin answered the ClientHello in plain HTTP (`{line}`): this port speaks HTTP, not TLS"),
            );
        }
        return fail(
            "protocol-error",
            None,
            format!("the origin answered the ClientHello with bytes that are not TLS (`{line}`)"),
        );
    }
    if let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
        return match err {
            E::AlertReceived(A::ProtocolVersion) => fail(
                "no-common-version",
                Some("protocol_version".into()),
                "the origin sent a protocol_version alert: it accepts neither TLS 1.2 nor TLS 1.3 (the only versions this probe and the edge speak); it is probably limited to TLS 1.0/1.1".into(),
            ),
            E::AlertReceived(A::HandshakeFailure | A::InsufficientSecurity) => fail(
                "no-common-cipher",
                Some(alert_name(err)),
                format!("the origin sent a {} alert: no cipher suite or key exchange in common with TLS 1.2/1.3 ECDHE AEAD suites (or no certificate for this name)", alert_name(err)),
            ),
            E::AlertReceived(_) => fail(
                "alert",
                Some(alert_name(err)),
                format!("the origin aborted the handshake with a {} alert", alert_name(err)),
            ),
            E::PeerIncompatible(
                P::ServerDoesNotSupportTls12Or13
                | P::ServerTlsVersionIsDisabledByOurConfig
                | P::Tls12NotOffered
                | P::Tls12NotOfferedOrEnabled
                | P::SupportedVersionsExtensionRequired,
            ) => fail(
                "no-common-version",
                None,
                format!("no TLS version in common ({err}); the probe speaks TLS 1.2 and 1.3 only"),
            ),
            E::PeerIncompatible(_) => fail(
                "no-common-cipher",
                None,
                format!("the origin's TLS parameters are incompatible: {err}"),
            ),
            other => fail(
                "protocol-error",
                None,
                format!("the origin broke the TLS handshake: {other}"),
            ),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => fail(
            "closed",
            None,
            "the origin closed the connection during the handshake (no certificate for this name, SNI not supported, or TLS not enabled on this port)".into(),
        ),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => fail(
            "reset",
            None,
            "the origin reset the connection during the handshake".into(),
        ),
        _ => fail("protocol-error", None, format!("the handshake failed: {e}")),
    }
}

fn alert_name(err: &rustls::Error) -> String {
    match err {
        rustls::Error::AlertReceived(a) => {
            let name = format!("{a:?}");
            // `HandshakeFailure` → `handshake_failure`, as the RFC spells alerts.
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
        other => other.to_string(),
    }
}

fn describe_cert_error(e: &rustls::Error) -> String {
    e.to_string()
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Builds the report from the handshake with SNI and, optionally, the one without.
pub(crate) fn report(
    host: &str,
    opts: &TlsOptions,
    handshake: Handshake,
    without: Option<Handshake>,
) -> TlsReport {
    let now = now_unix();
    let (store, rejected_roots) = root_store(&opts.extra_roots);
    let check = if handshake.chain.is_empty() && handshake.outcome.is_err() {
        ChainCheck::default()
    } else {
        check_chain(&handshake.chain, host, now, &store.roots)
    };
    let without_sni = without.map(|hs| {
        let c = check_chain(&hs.chain, host, now, &store.roots);
        WithoutSni {
            leaf: c.certs.first().cloned(),
            same_certificate: !hs.chain.is_empty() && hs.chain.first() == handshake.chain.first(),
            name_matches: c.name_matches,
            handshake: hs,
        }
    });
    TlsReport {
        mode: opts.mode,
        host: host.to_owned(),
        handshake,
        without_sni,
        check,
        extra_roots: opts.extra_roots.len(),
        rejected_roots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_and_alerts_are_named() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            classify(&eof, b"HTTP/1.1 400 Bad Request\r\n").reason,
            "plain-http"
        );
        assert_eq!(classify(&eof, b"").reason, "closed");
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        );
        let f = classify(&alert, &[0x15, 3, 1, 0, 2, 2, 70]);
        assert_eq!(f.reason, "no-common-version");
        assert_eq!(f.alert.as_deref(), Some("protocol_version"));
        let hf = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert_eq!(
            classify(&hf, &[]).alert.as_deref(),
            Some("handshake_failure")
        );
        assert_eq!(classify(&eof, &[0, 1, 2, 0xff]).reason, "protocol-error");
    }

    #[test]
    fn ca_files_need_certificates() {
        assert!(load_ca_pem(b"nothing here").is_err());
    }
}
