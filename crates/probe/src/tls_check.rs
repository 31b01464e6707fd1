//! The TLS story of an origin: the handshake with and without SNI, why it failed, and every
//! problem in the served chain, judged by the edge's SSL mode.
//!
//! The edge connects with SNI and, in Full (strict) mode, verifies the chain against its roots:
//! a failed handshake is a 525 (`tls.handshake`), a refused certificate a 526
//! (`tls.certificate`). In Full mode the certificate is not verified, so its problems are
//! warnings; Flexible mode talks plain HTTP to port 80 and never reaches TLS.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;

use crate::certs::{check_chain, CertInfo, ChainCheck};
use originlens_wire::{Finding, Kind, Severity};

pub use originlens_net::handshake::{
    classify, Handshake, HandshakeFailure, HandshakeReason, Negotiated,
};
pub use originlens_net::{load_ca_pem, root_store, SslMode};

/// TLS settings of a probe.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// The edge's SSL mode, which decides whether certificate problems are errors.
    pub mode: SslMode,
    /// Certificates trusted besides the Mozilla roots (`--ca-file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Also shake hands without SNI to see the origin's default certificate.
    pub check_without_sni: bool,
    /// Offer `h2` before `http/1.1` by ALPN, as the edge does; `false` offers HTTP/1.1 only.
    pub offer_h2: bool,
    /// A client certificate to present when the origin asks (`--cert`/`--key`: what
    /// Cloudflare's Authenticated Origin Pulls presents).
    pub client_cert: Option<originlens_net::ClientCert>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            mode: SslMode::Strict,
            extra_roots: Vec::new(),
            check_without_sni: true,
            offer_h2: true,
            client_cert: None,
        }
    }
}

impl TlsOptions {
    /// The socket layer's policy: the chain recorded and never refused in the handshake (the
    /// probe judges it by the mode afterwards), with SNI, offering `h2` first as the edge does
    /// on the main connection (unless [`offer_h2`](Self::offer_h2) is off); without SNI,
    /// HTTP/1.1 only.
    pub fn policy(&self, with_sni: bool) -> originlens_net::TlsPolicy {
        originlens_net::TlsPolicy {
            mode: self.mode,
            extra_roots: self.extra_roots.clone(),
            alpn: if with_sni && self.offer_h2 {
                originlens_net::alpn_h2_and_http11()
            } else {
                vec![b"http/1.1".to_vec()]
            },
            record_chain: true,
            send_sni: with_sni,
            client_cert: self.client_cert.clone(),
        }
    }
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

/// The fine finding for a chain problem id.
fn problem_kind(id: &str) -> Kind {
    match id {
        "expired" => Kind::TlsCertificateExpired,
        "not-yet-valid" => Kind::TlsCertificateNotYetValid,
        "name-mismatch" => Kind::TlsCertificateNameMismatch,
        "self-signed" => Kind::TlsCertificateSelfSigned,
        "missing-intermediate" => Kind::TlsCertificateIncompleteChain,
        "expires-soon" => Kind::TlsCertificateExpiresSoon,
        "chain-order" => Kind::TlsCertificateChainOrder,
        _ => Kind::TlsCertificateUntrusted,
    }
}

/// Every certificate problem as a finding under `tls.certificate`, in both modes: in Strict
/// mode the ones the edge refuses for are errors (the first decides: 526); in Full mode they are
/// warnings that say what Strict would answer. A chain webpki refuses for a reason the
/// independent checks did not name is one `tls.certificate.untrusted`.
pub fn certificate_findings(r: &TlsReport) -> Vec<Finding> {
    if r.handshake.outcome.is_err() {
        return Vec::new();
    }
    let strict = r.mode == SslMode::Strict;
    let refused = r.handshake.certificate_error.is_some();
    let mut out: Vec<Finding> = r
        .check
        .problems
        .iter()
        .map(|p| {
            let kind = problem_kind(p.id);
            let mut f = if strict || !p.fatal {
                Finding::at(kind, 0, p.message.clone())
            } else {
                Finding::at(
                    kind,
                    0,
                    format!("{}; in Strict mode the edge answers 526", p.message),
                )
            };
            // Only what the edge really refuses for decides; the rest is reported.
            if !(strict && p.fatal && refused) {
                f.severity = f.severity.min(Severity::Warning);
            }
            f
        })
        .collect();
    if let (true, Some(webpki)) = (strict, &r.handshake.certificate_error) {
        if !r.check.problems.iter().any(|p| p.fatal) {
            out.insert(
                0,
                Finding::at(
                    Kind::TlsCertificateUntrusted,
                    0,
                    format!("certificate not valid: untrusted: {webpki}"),
                ),
            );
        }
    }
    // The edge refuses for the first fatal problem: it leads.
    out.sort_by_key(|f| f.severity != Severity::Error);
    out
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
