//! What one TLS handshake gave: what was agreed, or why it failed, named from the error and the
//! first bytes the origin sent (a plain HTTP answer to the ClientHello reads very differently
//! from an alert).

use std::io;

use originlens_wire::Kind;
use rustls::pki_types::CertificateDer;

/// What a successful handshake agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Protocol version, e.g. `TLS 1.3`.
    pub version: String,
    /// Cipher suite.
    pub cipher: String,
    /// ALPN protocol, if one was agreed.
    pub alpn: Option<String>,
}

/// Why a handshake failed, as a stable id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeReason {
    /// An HTTP server answered the ClientHello.
    PlainHttp,
    /// No TLS version in common.
    NoCommonVersion,
    /// No cipher suite or key exchange in common.
    NoCommonCipher,
    /// Another alert ended the handshake.
    Alert,
    /// The certificate was refused (strict mode, not recording).
    Certificate,
    /// The origin closed the connection during the handshake.
    Closed,
    /// The origin reset the connection during the handshake.
    Reset,
    /// The handshake did not finish in time.
    Timeout,
    /// The origin demands a client certificate the client did not present (a
    /// `certificate_required` alert: inside the handshake under TLS 1.2, on the first read
    /// after it under TLS 1.3).
    ClientCertificateRequired,
    /// Bytes that break TLS.
    ProtocolError,
}

impl HandshakeReason {
    /// Stable id: `plain-http`, `no-common-version`, `no-common-cipher`, `alert`, `certificate`,
    /// `closed`, `reset`, `timeout`, `protocol-error`, `client-certificate-required`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeReason::PlainHttp => "plain-http",
            HandshakeReason::NoCommonVersion => "no-common-version",
            HandshakeReason::NoCommonCipher => "no-common-cipher",
            HandshakeReason::Alert => "alert",
            HandshakeReason::Certificate => "certificate",
            HandshakeReason::Closed => "closed",
            HandshakeReason::Reset => "reset",
            HandshakeReason::Timeout => "timeout",
            HandshakeReason::ClientCertificateRequired => "client-certificate-required",
            HandshakeReason::ProtocolError => "protocol-error",
        }
    }

    /// The finding the edge reports: a refused certificate is a 526, the rest 525.
    pub fn kind(self) -> Kind {
        match self {
            HandshakeReason::Certificate => Kind::TlsCertificate,
            _ => Kind::TlsHandshake,
        }
    }
}

impl std::fmt::Display for HandshakeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeFailure {
    /// The reason, as a stable id.
    pub reason: HandshakeReason,
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
    /// The chain the origin served (possibly before a failure; recording clients only).
    pub chain: Vec<CertificateDer<'static>>,
    /// webpki's verdict on the chain for the host, if it failed (recording clients only).
    pub certificate_error: Option<String>,
}

/// `TLS 1.3`, as people and the RFCs write it, not rustls's `TLSv1_3`.
pub fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1".into(),
        rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0".into(),
        other => format!("{other:?}"),
    }
}

/// What a finished handshake agreed.
pub(crate) fn negotiated(conn: &rustls::ClientConnection) -> Negotiated {
    Negotiated {
        version: conn
            .protocol_version()
            .map(version_name)
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// Names the reason a handshake failed, from the error and the first bytes the origin sent.
pub fn classify(e: &io::Error, first: &[u8]) -> HandshakeFailure {
    use HandshakeReason as R;
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
                R::PlainHttp,
                None,
                format!("the origin answered the ClientHello in plain HTTP (`{line}`): this port speaks HTTP, not TLS"),
            );
        }
        return fail(
            R::ProtocolError,
            None,
            format!("the origin answered the ClientHello with bytes that are not TLS (`{line}`)"),
        );
    }
    if let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
        return match err {
            E::InvalidCertificate(_) => fail(
                R::Certificate,
                None,
                format!("the origin's certificate was refused: {err}"),
            ),
            E::AlertReceived(A::CertificateRequired) => client_certificate_required(),
            E::AlertReceived(A::ProtocolVersion) => fail(
                R::NoCommonVersion,
                Some("protocol_version".into()),
                "the origin sent a protocol_version alert: it accepts neither TLS 1.2 nor TLS 1.3 (the only versions this probe and the edge speak); it is probably limited to TLS 1.0/1.1".into(),
            ),
            E::AlertReceived(A::HandshakeFailure | A::InsufficientSecurity) => fail(
                R::NoCommonCipher,
                Some(alert_name(err)),
                format!("the origin sent a {} alert: no cipher suite or key exchange in common with TLS 1.2/1.3 ECDHE AEAD suites (or no certificate for this name)", alert_name(err)),
            ),
            E::AlertReceived(_) => fail(
                R::Alert,
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
                R::NoCommonVersion,
                None,
                format!("no TLS version in common ({err}); only TLS 1.2 and 1.3 are spoken"),
            ),
            E::PeerIncompatible(_) => fail(
                R::NoCommonCipher,
                None,
                format!("the origin's TLS parameters are incompatible: {err}"),
            ),
            other => fail(
                R::ProtocolError,
                None,
                format!("the origin broke the TLS handshake: {other}"),
            ),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => fail(
            R::Closed,
            None,
            "the origin closed the connection during the handshake (no certificate for this name, SNI not supported, or TLS not enabled on this port)".into(),
        ),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => fail(
            R::Reset,
            None,
            "the origin reset the connection during the handshake".into(),
        ),
        _ => fail(R::ProtocolError, None, format!("the handshake failed: {e}")),
    }
}

/// The origin asked for a client certificate and refused the connection without one.
pub fn client_certificate_required() -> HandshakeFailure {
    HandshakeFailure {
        reason: HandshakeReason::ClientCertificateRequired,
        alert: Some("certificate_required".into()),
        message: "the origin requires a client certificate (certificate_required alert): present \
                  the one it trusts with --cert/--key, as Cloudflare's Authenticated Origin \
                  Pulls does, or stop requiring one (nginx: ssl_verify_client)"
            .into(),
    }
}

/// The handshake failure a read error reveals after the handshake seemed to finish: under TLS
/// 1.3 a server that refuses the client's certificate (or its absence) says so only once the
/// client reads.
pub fn late_handshake_failure(e: &io::Error) -> Option<HandshakeFailure> {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)) => {
            Some(client_certificate_required())
        }
        _ => None,
    }
}

/// `HandshakeFailure` → `handshake_failure`, as the RFC spells alerts.
pub fn alert_name(err: &rustls::Error) -> String {
    match err {
        rustls::Error::AlertReceived(a) => {
            let name = format!("{a:?}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_and_alerts_are_named() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            classify(&eof, b"HTTP/1.1 400 Bad Request\r\n").reason,
            HandshakeReason::PlainHttp
        );
        assert_eq!(classify(&eof, b"").reason, HandshakeReason::Closed);
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        );
        let f = classify(&alert, &[0x15, 3, 1, 0, 2, 2, 70]);
        assert_eq!(f.reason, HandshakeReason::NoCommonVersion);
        assert_eq!(f.alert.as_deref(), Some("protocol_version"));
        let hf = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert_eq!(
            classify(&hf, &[]).alert.as_deref(),
            Some("handshake_failure")
        );
        assert_eq!(
            classify(&eof, &[0, 1, 2, 0xff]).reason,
            HandshakeReason::ProtocolError
        );
        let cert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        );
        assert_eq!(
            classify(&cert, &[22, 3, 3]).reason.kind(),
            Kind::TlsCertificate
        );
    }

    #[test]
    fn versions_are_spelt_as_people_write_them() {
        assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_3), "TLS 1.3");
        assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_2), "TLS 1.2");
    }
}
