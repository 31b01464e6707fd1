//! The `originlens.probe/1` JSON document (`schemas/probe.json`), as typed structs borrowed from
//! a [`Judged`].

use std::time::Duration;

use originlens_probe::certs::{date, CertInfo};
use originlens_probe::judged::{head_stats, Judged};
use originlens_probe::tls_check::Handshake;
use originlens_probe::{Exchange, SslMode};
use originlens_wire::escape::{escape, excerpt, Excerpt};
use originlens_wire::{Cause, Disposition, Finding, Framing, GeneratedBy, Kind, Verdict};
use serde::Serialize;

/// The schema id; bump the number on an incompatible change.
pub const SCHEMA: &str = "originlens.probe/1";

/// Milliseconds, rounded to the microsecond.
fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
}

/// One profile's verdict.
#[derive(Serialize)]
pub struct VerdictDoc<'a> {
    profile: &'static str,
    status: Option<u16>,
    generated_by: GeneratedBy,
    cause: Option<Cause>,
    finding: Option<Kind>,
    disposition: Option<&'static str>,
    body_complete: bool,
    normalized: &'a [Kind],
    note: Option<&'a str>,
}

impl<'a> VerdictDoc<'a> {
    /// The JSON view of `v`.
    pub fn of(v: &'a Verdict) -> Self {
        VerdictDoc {
            profile: v.profile,
            status: v.status,
            generated_by: v.generated_by,
            cause: v.cause,
            finding: v.finding,
            disposition: v.disposition.map(Disposition::as_str),
            body_complete: v.body_complete,
            normalized: &v.normalized,
            note: v.note.as_deref(),
        }
    }
}

/// Escaped bytes around a finding, from the captured stream.
pub fn finding_excerpt(response: &[u8], f: &Finding) -> Option<Excerpt> {
    let at = usize::try_from(f.offset).ok()?;
    (at <= response.len() && !response.is_empty()).then(|| excerpt(response, at, 24))
}

#[derive(Serialize)]
struct FindingDoc<'a> {
    id: Kind,
    cause: Cause,
    severity: &'static str,
    offset: u64,
    span: [u64; 2],
    message: &'a str,
    disposition: &'static str,
    excerpt: Option<Excerpt>,
}

#[derive(Serialize)]
struct Target {
    url: String,
    host: String,
    connect_to: String,
    address: Option<String>,
    method: String,
}

#[derive(Serialize)]
struct Timings {
    resolve_ms: Option<f64>,
    connect_ms: Option<f64>,
    tls_ms: Option<f64>,
    request_sent_ms: Option<f64>,
    first_byte_ms: Option<f64>,
    head_ms: Option<f64>,
    total_ms: Option<f64>,
}

#[derive(Serialize)]
struct Timeouts {
    connect_s: f64,
    read_s: f64,
    edge_connect_s: f64,
    edge_read_s: f64,
    timed_out: bool,
    interrupted_s: Option<f64>,
}

#[derive(Serialize)]
struct FieldSize {
    name: String,
    bytes: usize,
}

#[derive(Serialize)]
struct SetCookie {
    count: usize,
    bytes: usize,
}

#[derive(Serialize)]
struct Budget {
    profile: &'static str,
    limit_bytes: Option<usize>,
    warn_bytes: Option<usize>,
    used_of_limit: Option<f64>,
}

#[derive(Serialize)]
struct HeadDoc {
    status: Option<u16>,
    version: Option<String>,
    reason: String,
    complete: bool,
    bytes: usize,
    fields: usize,
    largest_fields: Vec<FieldSize>,
    set_cookie: SetCookie,
    budget: Budget,
    interim: Vec<Option<u16>>,
}

#[derive(Serialize)]
struct BodyDoc {
    framing: Option<&'static str>,
    length: Option<u64>,
    received: u64,
    data: u64,
    chunks: u64,
    complete: bool,
    excess: u64,
}

#[derive(Serialize)]
struct H2ErrorDoc<'a> {
    kind: Kind,
    code: Option<u32>,
    code_name: Option<&'a str>,
    by: &'static str,
    message: &'a str,
}

/// The `h2` member: whether the request went over HTTP/2 (the origin picked `h2` by ALPN), the
/// response status and header sizes, and how it broke.
#[derive(Serialize)]
#[serde(untagged)]
enum H2Doc<'a> {
    /// `{"used": false}`.
    Unused { used: bool },
    /// Every member, null where nothing arrived.
    Used {
        used: bool,
        status: Option<u16>,
        fields: Option<usize>,
        header_list_size: Option<usize>,
        body_bytes: u64,
        complete: bool,
        error: Option<H2ErrorDoc<'a>>,
    },
}

fn h2_doc(ex: &Exchange) -> H2Doc<'_> {
    let Some(h) = &ex.h2 else {
        return H2Doc::Unused { used: false };
    };
    H2Doc::Used {
        used: true,
        status: h.status,
        fields: h.fields,
        header_list_size: h.header_list_size,
        body_bytes: h.body_bytes,
        complete: h.complete,
        error: h.error.as_ref().map(|e| H2ErrorDoc {
            kind: e.kind,
            code: e.code,
            code_name: e.code_name.as_deref(),
            by: e.by,
            message: &e.message,
        }),
    }
}

#[derive(Serialize)]
struct HandshakeDoc<'a> {
    ok: bool,
    sni: Option<&'a str>,
    version: Option<&'a str>,
    cipher: Option<&'a str>,
    alpn: Option<&'a str>,
    reason: Option<&'static str>,
    alert: Option<&'a str>,
    message: Option<&'a str>,
}

fn handshake_doc(h: &Handshake) -> HandshakeDoc<'_> {
    let sni = h.sni.as_deref();
    match &h.outcome {
        Ok(n) => HandshakeDoc {
            ok: true,
            sni,
            version: Some(&n.version),
            cipher: Some(&n.cipher),
            alpn: n.alpn.as_deref(),
            reason: None,
            alert: None,
            message: None,
        },
        Err(f) => HandshakeDoc {
            ok: false,
            sni,
            version: None,
            cipher: None,
            alpn: None,
            reason: Some(f.reason.as_str()),
            alert: f.alert.as_deref(),
            message: Some(&f.message),
        },
    }
}

#[derive(Serialize)]
struct CertDoc<'a> {
    subject: &'a str,
    issuer: &'a str,
    serial: &'a str,
    not_before: String,
    not_after: String,
    days_left: i64,
    names: &'a [String],
    is_ca: bool,
    self_issued: bool,
}

fn cert_doc(c: &CertInfo) -> CertDoc<'_> {
    CertDoc {
        subject: &c.subject,
        issuer: &c.issuer,
        serial: &c.serial,
        not_before: date(c.not_before),
        not_after: date(c.not_after),
        days_left: c.days_left,
        names: &c.names,
        is_ca: c.is_ca,
        self_issued: c.self_issued,
    }
}

#[derive(Serialize)]
struct ProblemDoc<'a> {
    id: &'static str,
    severity: &'static str,
    fatal_in_strict: bool,
    cert: Option<usize>,
    message: &'a str,
}

#[derive(Serialize)]
struct WithoutSniDoc<'a> {
    handshake: HandshakeDoc<'a>,
    same_certificate: bool,
    name_matches: bool,
    leaf: Option<CertDoc<'a>>,
    certificate_error: Option<&'a str>,
}

/// The `tls` member: both handshakes, the chain and every problem (null for plain HTTP).
#[derive(Serialize)]
struct TlsDoc<'a> {
    mode: &'static str,
    host: &'a str,
    version: Option<&'a str>,
    cipher: Option<&'a str>,
    alpn: Option<&'a str>,
    handshake: HandshakeDoc<'a>,
    trusted: bool,
    certificate_error: Option<&'a str>,
    name_matches: bool,
    chain_complete: bool,
    chain_ordered: bool,
    chain: Vec<CertDoc<'a>>,
    problems: Vec<ProblemDoc<'a>>,
    without_sni: Option<WithoutSniDoc<'a>>,
    extra_roots: usize,
    rejected_roots: &'a [String],
}

fn tls_doc(ex: &Exchange) -> Option<TlsDoc<'_>> {
    let r = ex.tls_report.as_ref()?;
    let negotiated = r.handshake.outcome.as_ref().ok();
    let strict = r.mode == SslMode::Strict;
    Some(TlsDoc {
        mode: r.mode.as_str(),
        host: &r.host,
        version: negotiated.map(|n| n.version.as_str()),
        cipher: negotiated.map(|n| n.cipher.as_str()),
        alpn: negotiated.and_then(|n| n.alpn.as_deref()),
        handshake: handshake_doc(&r.handshake),
        trusted: r.trusted(),
        certificate_error: r.handshake.certificate_error.as_deref(),
        name_matches: r.check.name_matches,
        chain_complete: r.check.complete,
        chain_ordered: r.check.ordered,
        chain: r.check.certs.iter().map(cert_doc).collect(),
        problems: r
            .check
            .problems
            .iter()
            .map(|p| ProblemDoc {
                id: p.id,
                severity: if p.fatal && strict {
                    "error"
                } else {
                    "warning"
                },
                fatal_in_strict: p.fatal,
                cert: p.cert,
                message: &p.message,
            })
            .collect(),
        without_sni: r.without_sni.as_ref().map(|w| WithoutSniDoc {
            handshake: handshake_doc(&w.handshake),
            same_certificate: w.same_certificate,
            name_matches: w.name_matches,
            leaf: w.leaf.as_ref().map(cert_doc),
            certificate_error: w.handshake.certificate_error.as_deref(),
        }),
        extra_roots: r.extra_roots,
        rejected_roots: &r.rejected_roots,
    })
}

#[derive(Serialize)]
struct AdviceDoc {
    meaning: &'static str,
    fix: &'static str,
}

#[derive(Serialize)]
struct Bytes {
    sent: usize,
    received: u64,
}

#[derive(Serialize)]
struct RawDoc {
    request: String,
    response: String,
    response_captured: usize,
    /// Whether the 4 MiB capture cap cut the response (`received` says how much came).
    response_cut: bool,
}

/// The whole document.
#[derive(Serialize)]
pub struct ProbeDoc<'a> {
    schema: &'static str,
    target: Target,
    verdict: VerdictDoc<'a>,
    findings: Vec<FindingDoc<'a>>,
    timings: Timings,
    timeouts: Timeouts,
    head: Option<HeadDoc>,
    body: BodyDoc,
    end: Option<&'static str>,
    tls: Option<TlsDoc<'a>>,
    h2: H2Doc<'a>,
    peers: Vec<VerdictDoc<'a>>,
    advice: Option<AdviceDoc>,
    bytes: Bytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<RawDoc>,
}

/// Builds the document; `raw` adds the escaped exchange.
pub fn build(p: &Judged, raw: bool) -> ProbeDoc<'_> {
    let ex = &p.exchange;
    let report = &ex.report;
    let limits = p.profile.limits;
    let findings = p
        .findings()
        .into_iter()
        .map(|f| FindingDoc {
            id: f.id,
            cause: f.cause,
            severity: f.severity.as_str(),
            offset: f.offset,
            span: [f.span.start, f.span.end],
            message: &f.message,
            disposition: p.profile.disposition(f.id).as_str(),
            excerpt: finding_excerpt(p.evidence(f), f),
        })
        .collect();
    let head = report.head.as_ref().map(|h| {
        let s = head_stats(h);
        HeadDoc {
            status: h.code,
            version: h.version.map(|v| format!("{}.{}", v.major, v.minor)),
            reason: escape(h.bytes(&h.reason)),
            complete: report.head_complete,
            bytes: s.bytes,
            fields: s.fields,
            largest_fields: s
                .largest
                .into_iter()
                .map(|(name, bytes)| FieldSize { name, bytes })
                .collect(),
            set_cookie: SetCookie {
                count: s.set_cookie_count,
                bytes: s.set_cookie_bytes,
            },
            budget: Budget {
                profile: p.profile.name,
                limit_bytes: limits.max_head_bytes,
                warn_bytes: limits.warn_head_bytes,
                used_of_limit: limits
                    .max_head_bytes
                    .map(|m| (s.bytes as f64 / m as f64 * 1000.0).round() / 1000.0),
            },
            interim: report.interim.iter().map(|i| i.code).collect(),
        }
    });
    let t = &ex.timings;
    let target = &p.opts.target;
    ProbeDoc {
        schema: SCHEMA,
        target: Target {
            url: target.to_string(),
            host: target.host_header(),
            connect_to: format!("{}:{}", target.connect_host, target.connect_port),
            address: ex.remote.map(|a| a.to_string()),
            method: p.opts.method.clone(),
        },
        verdict: VerdictDoc::of(&p.verdict),
        findings,
        timings: Timings {
            resolve_ms: ms(t.resolve),
            connect_ms: ms(t.connect),
            tls_ms: ms(t.tls),
            request_sent_ms: ms(t.request_sent),
            first_byte_ms: ms(t.first_byte),
            head_ms: ms(t.head_complete),
            total_ms: ms(t.total),
        },
        timeouts: Timeouts {
            connect_s: p.opts.connect_timeout.as_secs_f64(),
            read_s: p.opts.read_timeout.as_secs_f64(),
            edge_connect_s: limits.connect_timeout.as_secs_f64(),
            edge_read_s: limits.read_timeout.as_secs_f64(),
            timed_out: ex.waited.is_some(),
            interrupted_s: ex.interrupted.map(|d| d.as_secs_f64()),
        },
        head,
        body: BodyDoc {
            framing: report.framing.map(|f| f.as_str()),
            length: match report.framing {
                Some(Framing::Length(n)) => Some(n),
                _ => None,
            },
            received: report.body.received,
            data: report.body.data,
            chunks: report.body.chunks,
            complete: report.body.complete,
            excess: report.body.excess,
        },
        end: report.end.map(|e| e.as_str()),
        tls: tls_doc(ex),
        h2: h2_doc(ex),
        peers: p.peers.iter().map(VerdictDoc::of).collect(),
        advice: p.verdict.cause.map(|c| AdviceDoc {
            meaning: c.meaning(),
            fix: c.fix(),
        }),
        bytes: Bytes {
            sent: ex.request.len(),
            received: ex.response_bytes,
        },
        raw: raw.then(|| RawDoc {
            request: escape(&ex.request),
            response: escape(&ex.response),
            response_captured: ex.response.len(),
            response_cut: p.capture_cut(),
        }),
    }
}
