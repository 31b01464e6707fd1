//! The `originlens.probe/1` JSON document.

use std::time::Duration;

use originlens_probe::advice;
use originlens_probe::certs::{date, CertInfo};
use originlens_probe::tls_check::Handshake;
use originlens_probe::{Exchange, SslMode};
use originlens_wire::escape::{escape, excerpt};
use originlens_wire::{Cause, Finding, Head, Verdict};
use serde_json::{json, Value};

use super::Probed;

/// The schema id; bump the number on an incompatible change.
pub const SCHEMA: &str = "originlens.probe/1";

/// Size facts about a head.
pub struct HeadStats {
    /// Bytes, terminator included.
    pub bytes: usize,
    /// Field lines.
    pub fields: usize,
    /// The largest field lines: name and line length.
    pub largest: Vec<(String, usize)>,
    /// Set-Cookie lines.
    pub set_cookie_count: usize,
    /// Their total bytes.
    pub set_cookie_bytes: usize,
}

/// Measures a head.
pub fn head_stats(head: &Head) -> HeadStats {
    let mut largest: Vec<(String, usize)> = head
        .fields
        .iter()
        .map(|f| (escape(head.name(f)), f.line.len() + 2))
        .collect();
    largest.sort_by_key(|f| std::cmp::Reverse(f.1));
    largest.truncate(5);
    let cookies: Vec<_> = head.fields_named("set-cookie").collect();
    HeadStats {
        bytes: head.len(),
        fields: head.fields.len(),
        largest,
        set_cookie_count: cookies.len(),
        set_cookie_bytes: cookies.iter().map(|f| f.line.len() + 2).sum(),
    }
}

fn ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| {
        json!((d.as_secs_f64() * 1e6).round() / 1e3)
    })
}

fn verdict_json(v: &Verdict) -> Value {
    json!({
        "profile": v.profile,
        "status": v.status,
        "generated_by": v.generated_by.as_str(),
        "cause": v.cause.map(|c| c.as_str()),
        "finding": v.finding.map(|k| k.as_str()),
        "disposition": v.disposition.map(|d| d.as_str()),
        "body_complete": v.body_complete,
        "normalized": v.normalized.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "note": v.note,
    })
}

/// The bytes a finding's offsets point into: the raw stream, or for a response that came over
/// HTTP/2 the HTTP/1.1 rendering the wire reader judged (the `h2.*` findings point into the raw
/// frames).
pub fn evidence<'a>(ex: &'a Exchange, f: &Finding) -> &'a [u8] {
    match &ex.h2 {
        Some(h2) if f.cause != Cause::H2Protocol => &h2.rendered,
        _ => &ex.response,
    }
}

/// The `h2` member: whether the request went over HTTP/2 (the origin picked `h2` by ALPN), the
/// response status and header sizes, and how it broke.
pub fn h2_json(ex: &Exchange) -> Value {
    let Some(h) = &ex.h2 else {
        return json!({ "used": false });
    };
    json!({
        "used": true,
        "status": h.status,
        "fields": h.fields,
        "header_list_size": h.header_list_size,
        "body_bytes": h.body_bytes,
        "complete": h.complete,
        "error": h.error.as_ref().map(|e| json!({
            "kind": e.kind.as_str(),
            "code": e.code,
            "code_name": e.code_name,
            "by": e.by,
            "message": e.message,
        })),
    })
}

/// Escaped bytes around a finding, from the captured stream.
pub fn finding_excerpt(response: &[u8], f: &Finding) -> Option<originlens_wire::escape::Excerpt> {
    let at = usize::try_from(f.offset).ok()?;
    (at <= response.len() && !response.is_empty()).then(|| excerpt(response, at, 24))
}

fn handshake_json(h: &Handshake) -> Value {
    match &h.outcome {
        Ok(n) => json!({
            "ok": true, "sni": h.sni, "version": n.version, "cipher": n.cipher, "alpn": n.alpn,
            "reason": null, "alert": null, "message": null,
        }),
        Err(f) => json!({
            "ok": false, "sni": h.sni, "version": null, "cipher": null, "alpn": null,
            "reason": f.reason.as_str(), "alert": f.alert, "message": f.message,
        }),
    }
}

fn cert_json(c: &CertInfo) -> Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial,
        "not_before": date(c.not_before),
        "not_after": date(c.not_after),
        "days_left": c.days_left,
        "names": c.names,
        "is_ca": c.is_ca,
        "self_issued": c.self_issued,
    })
}

/// The `tls` member: both handshakes, the chain and every problem (null for plain HTTP).
pub fn tls_json(ex: &Exchange) -> Value {
    let Some(r) = &ex.tls_report else {
        return Value::Null;
    };
    let negotiated = r.handshake.outcome.as_ref().ok();
    let strict = r.mode == SslMode::Strict;
    json!({
        "mode": r.mode.as_str(),
        "host": r.host,
        "version": negotiated.map(|n| &n.version),
        "cipher": negotiated.map(|n| &n.cipher),
        "alpn": negotiated.and_then(|n| n.alpn.as_ref()),
        "handshake": handshake_json(&r.handshake),
        "trusted": r.trusted(),
        "certificate_error": r.handshake.certificate_error,
        "name_matches": r.check.name_matches,
        "chain_complete": r.check.complete,
        "chain_ordered": r.check.ordered,
        "chain": r.check.certs.iter().map(cert_json).collect::<Vec<_>>(),
        "problems": r.check.problems.iter().map(|p| json!({
            "id": p.id,
            "severity": if p.fatal && strict { "error" } else { "warning" },
            "fatal_in_strict": p.fatal,
            "cert": p.cert,
            "message": p.message,
        })).collect::<Vec<_>>(),
        "without_sni": r.without_sni.as_ref().map(|w| json!({
            "handshake": handshake_json(&w.handshake),
            "same_certificate": w.same_certificate,
            "name_matches": w.name_matches,
            "leaf": w.leaf.as_ref().map(cert_json),
            "certificate_error": w.handshake.certificate_error,
        })),
        "extra_roots": r.extra_roots,
        "rejected_roots": r.rejected_roots,
    })
}

/// Builds the document.
pub fn build(p: &Probed, raw: bool) -> Value {
    let ex = &p.exchange;
    let report = &ex.report;
    let v = &p.verdict;
    let mut findings: Vec<&Finding> = report.findings.iter().chain(&v.limit_findings).collect();
    findings.sort_by_key(|f| f.offset);
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "id": f.id.as_str(),
                "cause": f.cause.as_str(),
                "severity": f.severity.as_str(),
                "offset": f.offset,
                "span": [f.span.start, f.span.end],
                "message": f.message,
                "disposition": p.profile.disposition(f.id).as_str(),
                "excerpt": finding_excerpt(evidence(ex, f), f),
            })
        })
        .collect();
    let head = report.head.as_ref().map(|h| {
        let s = head_stats(h);
        let limits = p.profile.limits;
        json!({
            "status": h.code,
            "version": h.version.map(|v| format!("{}.{}", v.major, v.minor)),
            "reason": escape(h.bytes(&h.reason)),
            "complete": report.head_complete,
            "bytes": s.bytes,
            "fields": s.fields,
            "largest_fields": s.largest.iter().map(|(n, b)| json!({"name": n, "bytes": b})).collect::<Vec<_>>(),
            "set_cookie": {"count": s.set_cookie_count, "bytes": s.set_cookie_bytes},
            "budget": {
                "profile": p.profile.name,
                "limit_bytes": limits.max_head_bytes,
                "warn_bytes": limits.warn_head_bytes,
                "used_of_limit": limits.max_head_bytes.map(|m| (s.bytes as f64 / m as f64 * 1000.0).round() / 1000.0),
            },
            "interim": report.interim.iter().map(|i| i.code).collect::<Vec<_>>(),
        })
    });
    let t = &ex.timings;
    let limits = p.profile.limits;
    let advice = v.cause.map(|c| {
        let a = advice::for_cause(c);
        json!({"meaning": a.meaning, "fix": a.fix})
    });
    let mut doc = json!({
        "schema": SCHEMA,
        "target": {
            "url": p.opts.target.to_string(),
            "host": p.opts.target.host_header(),
            "connect_to": format!("{}:{}", p.opts.target.connect_host, p.opts.target.connect_port),
            "address": ex.remote.map(|a| a.to_string()),
            "method": p.opts.method,
        },
        "verdict": verdict_json(v),
        "findings": findings,
        "timings": {
            "resolve_ms": ms(t.resolve),
            "connect_ms": ms(t.connect),
            "tls_ms": ms(t.tls),
            "request_sent_ms": ms(t.request_sent),
            "first_byte_ms": ms(t.first_byte),
            "head_ms": ms(t.head_complete),
            "total_ms": ms(t.total),
        },
        "timeouts": {
            "connect_s": p.opts.connect_timeout.as_secs_f64(),
            "read_s": p.opts.read_timeout.as_secs_f64(),
            "edge_connect_s": limits.connect_timeout.as_secs_f64(),
            "edge_read_s": limits.read_timeout.as_secs_f64(),
            "timed_out": ex.waited.is_some(),
        },
        "head": head,
        "body": {
            "framing": report.framing.map(|f| f.as_str()),
            "length": match report.framing { Some(originlens_wire::Framing::Length(n)) => Some(n), _ => None },
            "received": report.body.received,
            "data": report.body.data,
            "chunks": report.body.chunks,
            "complete": report.body.complete,
            "excess": report.body.excess,
        },
        "end": report.end.map(|e| e.as_str()),
        "tls": tls_json(ex),
        "h2": h2_json(ex),
        "peers": p.peers.iter().map(verdict_json).collect::<Vec<_>>(),
        "advice": advice,
        "bytes": {"sent": ex.request.len(), "received": ex.response_bytes},
    });
    if raw {
        doc["raw"] = json!({
            "request": escape(&ex.request),
            "response": escape(&ex.response),
            "response_captured": ex.response.len(),
        });
    }
    doc
}
