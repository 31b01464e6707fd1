//! Human output of `originlens probe`.

use std::io::{self, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use originlens_probe::certs::date;
use originlens_probe::{SslMode, TlsReport};
use originlens_wire::escape::escape;
use originlens_wire::{GeneratedBy, Kind, Severity, Verdict};

use originlens_probe::judged::{head_stats, Judged};

use super::document::finding_excerpt;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default().bold();

fn status_text(v: &Verdict) -> String {
    let status = v
        .status
        .map_or("no status line".to_owned(), |s| s.to_string());
    match v.generated_by {
        GeneratedBy::Edge => format!("{status} from the edge"),
        GeneratedBy::Origin => format!("{status} from the origin"),
    }
}

fn style_for(v: &Verdict) -> Style {
    match (v.generated_by, v.cause) {
        (GeneratedBy::Edge, _) => RED,
        (_, Some(_)) => YELLOW,
        _ => GREEN,
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

/// One short line for a peer verdict: `502 (edge) framing.invalid`.
pub fn peer_cell(v: &Verdict) -> String {
    let status = v.status.map_or("no status".to_owned(), |s| s.to_string());
    let who = match v.generated_by {
        GeneratedBy::Edge => "edge",
        GeneratedBy::Origin => "origin",
    };
    match v.cause {
        Some(c) => format!("{status} ({who}) {c}"),
        None => format!("{status} ({who})"),
    }
}

/// Prints the report.
pub fn print(out: &mut impl Write, p: &Judged, raw: bool) -> io::Result<()> {
    let ex = &p.exchange;
    let v = &p.verdict;
    let t = &p.opts.target;
    let addr = ex.remote.map_or_else(
        || format!("{}:{}", t.connect_host, t.connect_port),
        |a| a.to_string(),
    );
    writeln!(
        out,
        "{BOLD}{} {t}{BOLD:#}  {DIM}via {addr}{DIM:#}",
        p.opts.method
    )?;
    writeln!(out)?;
    let s = style_for(v);
    writeln!(
        out,
        "  visitor sees  {s}{}{s:#}  ({})",
        status_text(v),
        p.profile.title
    )?;
    match v.cause {
        Some(c) => {
            writeln!(out, "  cause         {s}{c}{s:#}: {}", c.meaning())?;
        }
        None => writeln!(out, "  cause         none: the edge forwards this response")?,
    }
    if let Some(f) = p.deciding() {
        writeln!(
            out,
            "  because       {} at byte {}: {}",
            f.id, f.offset, f.message
        )?;
        let tls_phase = matches!(f.id, Kind::TlsCertificate | Kind::TlsHandshake);
        if let Some(e) = finding_excerpt(p.evidence(f), f).filter(|_| !tls_phase) {
            writeln!(
                out,
                "                {DIM}{}{DIM:#}{RED}[{}]{RED:#}{DIM}{}{DIM:#}",
                e.before, e.at, e.after
            )?;
        }
    }
    if let Some(note) = &v.note {
        writeln!(out, "  note          {note}")?;
    }
    if let Some(after) = ex.interrupted {
        writeln!(
            out,
            "  {YELLOW}stopped{YELLOW:#}       by Ctrl-C after {:.1} s: this is what {} would answer if it stopped waiting now (it waits {} s between reads)",
            after.as_secs_f64(),
            p.profile.name,
            p.profile.limits.read_timeout.as_secs()
        )?;
    }
    writeln!(out)?;

    let r = &ex.report;
    writeln!(
        out,
        "  origin sent   {} bytes{}",
        ex.response_bytes,
        r.end
            .map_or(String::new(), |e| format!(", ended: {}", e.as_str()))
    )?;
    if let Some(head) = &r.head {
        let st = head_stats(head);
        let limits = p.profile.limits;
        let budget = match limits.max_head_bytes {
            Some(max) => format!(
                "{:.1}% of {}'s {} bytes",
                st.bytes as f64 * 100.0 / max as f64,
                p.profile.name,
                max
            ),
            None => "no limit".into(),
        };
        writeln!(
            out,
            "  head          {} bytes, {} fields{} — {budget}",
            st.bytes,
            st.fields,
            if r.head_complete { "" } else { " (incomplete)" }
        )?;
        if st.set_cookie_count > 0 {
            writeln!(
                out,
                "  set-cookie    {} lines, {} bytes",
                st.set_cookie_count, st.set_cookie_bytes
            )?;
        }
        if st.bytes > 4096 {
            let largest: Vec<String> = st
                .largest
                .iter()
                .map(|(n, b)| format!("{n} {b} B"))
                .collect();
            writeln!(out, "  largest       {}", largest.join(", "))?;
        }
        if let Some(f) = r.framing {
            writeln!(
                out,
                "  body          {} ({} bytes on the wire, {} data){}",
                f.as_str(),
                r.body.received,
                r.body.data,
                if r.body.complete { "" } else { ", incomplete" }
            )?;
        }
    }
    if let Some(r) = &ex.tls_report {
        print_tls(out, r)?;
    }
    if let Some(h) = &ex.h2 {
        print_h2(out, h)?;
    }
    let tm = &ex.timings;
    writeln!(
        out,
        "  timings       connect {} · tls {} · first byte {} · head {} · total {}",
        ms(tm.connect),
        ms(tm.tls),
        ms(tm.first_byte),
        ms(tm.head_complete),
        ms(tm.total)
    )?;
    if ex.waited.is_some() || p.opts.read_timeout < p.profile.limits.read_timeout {
        writeln!(
            out,
            "  waiting       the probe waits {:.1} s between reads; {} waits {} s",
            p.opts.read_timeout.as_secs_f64(),
            p.profile.name,
            p.profile.limits.read_timeout.as_secs()
        )?;
    }
    if let (Some(head), false) = (&r.head, raw) {
        writeln!(out)?;
        print_head(out, head)?;
    }
    writeln!(out)?;
    writeln!(out, "  {BOLD}peers{BOLD:#}")?;
    for peer in &p.peers {
        let s = style_for(peer);
        let note = peer
            .note
            .as_deref()
            .filter(|_| peer.profile != p.profile.name)
            .map_or(String::new(), |n| format!("  {DIM}{n}{DIM:#}"));
        writeln!(
            out,
            "    {:<11} {s}{}{s:#}{note}",
            peer.profile,
            peer_cell(peer)
        )?;
    }

    let findings = p.findings();
    if !findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "  {BOLD}findings{BOLD:#}")?;
        for f in findings {
            let s = match f.severity {
                Severity::Error => RED,
                Severity::Warning => YELLOW,
                Severity::Info => DIM,
            };
            writeln!(
                out,
                "    {s}{:<7}{s:#} {:<28} @{:<6} {}  {DIM}[{}: {}]{DIM:#}",
                f.severity.as_str(),
                f.id.as_str(),
                f.offset,
                f.message,
                p.profile.name,
                p.profile.disposition(f.id).as_str()
            )?;
        }
    }
    if let Some(c) = v.cause {
        writeln!(out)?;
        writeln!(out, "  {BOLD}fix{BOLD:#}")?;
        for line in c.fix().lines() {
            writeln!(out, "    {line}")?;
        }
    }
    if raw {
        writeln!(out)?;
        writeln!(out, "  {BOLD}request{BOLD:#} ({} bytes)", ex.request.len())?;
        print_escaped_lines(out, &ex.request, "> ")?;
        writeln!(
            out,
            "  {BOLD}response{BOLD:#} ({} bytes{})",
            ex.response_bytes,
            if ex.response.len() as u64 == ex.response_bytes {
                String::new()
            } else {
                format!(
                    ", first {} shown: the capture stops at {} MiB",
                    ex.response.len(),
                    originlens_probe::MAX_CAPTURE >> 20
                )
            }
        )?;
        print_escaped_lines(out, &ex.response, "< ")?;
    }
    Ok(())
}

fn print_tls(out: &mut impl Write, r: &TlsReport) -> io::Result<()> {
    let sni = r.handshake.sni.as_deref().unwrap_or("none");
    match &r.handshake.outcome {
        Ok(n) => writeln!(
            out,
            "  tls           {} {} alpn={}  {DIM}(sni {sni}, ssl-mode {}){DIM:#}",
            n.version,
            n.cipher,
            n.alpn.as_deref().unwrap_or("-"),
            r.mode.as_str()
        )?,
        Err(f) => writeln!(
            out,
            "  tls           {RED}handshake failed{RED:#} ({}): {}  {DIM}(sni {sni}){DIM:#}",
            f.reason, f.message
        )?,
    }
    if let Some(leaf) = r.check.certs.first() {
        writeln!(
            out,
            "  certificate   {}  {DIM}valid {} to {}, {}{DIM:#}",
            leaf.subject,
            date(leaf.not_before),
            date(leaf.not_after),
            if leaf.days_left < 0 {
                format!("expired {} days ago", -leaf.days_left)
            } else {
                format!("{} days left", leaf.days_left)
            }
        )?;
        let names = if leaf.names.is_empty() {
            "no subjectAltName".to_owned()
        } else {
            leaf.names.join(", ")
        };
        let (s, verb) = if r.check.name_matches {
            (GREEN, "matches")
        } else {
            (RED, "does not match")
        };
        writeln!(out, "  names         {names}  {s}{verb} {}{s:#}", r.host)?;
        let issuers: Vec<&str> = r
            .check
            .certs
            .iter()
            .skip(1)
            .map(|c| c.subject.as_str())
            .collect();
        let served = if issuers.is_empty() {
            "leaf only".to_owned()
        } else {
            format!("leaf ← {}", issuers.join(" ← "))
        };
        let trust = if r.trusted() {
            format!("{GREEN}trusted{GREEN:#}")
        } else {
            format!("{RED}not trusted{RED:#}")
        };
        writeln!(
            out,
            "  chain         {served}; {}, {}, {trust}{}",
            if r.check.complete {
                "complete"
            } else {
                "incomplete"
            },
            if r.check.ordered {
                "in order"
            } else {
                "out of order"
            },
            if r.extra_roots > 0 {
                format!(
                    " {DIM}(Mozilla roots + {} from --ca-file){DIM:#}",
                    r.extra_roots
                )
            } else {
                format!(" {DIM}(Mozilla roots){DIM:#}")
            }
        )?;
    }
    let strict = r.mode == SslMode::Strict;
    for p in &r.check.problems {
        let (s, sev) = if p.fatal && strict {
            (RED, "error")
        } else {
            (YELLOW, "warning")
        };
        writeln!(out, "  {s}{sev:<7}{s:#}       {:<21} {}", p.id, p.message)?;
    }
    if let Some(e) = r.handshake.certificate_error.as_ref().filter(|_| !strict) {
        writeln!(
            out,
            "  note          ssl-mode {} does not verify the certificate (webpki: {e}); strict would answer 526",
            r.mode.as_str()
        )?;
    }
    for rejected in &r.rejected_roots {
        writeln!(
            out,
            "  {YELLOW}warning{YELLOW:#}       --ca-file {rejected}"
        )?;
    }
    if let Some(w) = &r.without_sni {
        let line = match (&w.handshake.outcome, &w.leaf) {
            (Err(f), _) => format!("handshake failed ({}): {}", f.reason, f.message),
            (Ok(_), _) if w.same_certificate => "the same certificate".to_owned(),
            (Ok(_), Some(leaf)) => format!(
                "a different certificate: {} for {} ({})",
                leaf.subject,
                if leaf.names.is_empty() {
                    "no names".to_owned()
                } else {
                    leaf.names.join(", ")
                },
                if w.name_matches {
                    "matches the host"
                } else {
                    "does not match the host"
                }
            ),
            (Ok(_), None) => "no certificate".to_owned(),
        };
        writeln!(
            out,
            "  without SNI   {line}  {DIM}(the edge always sends SNI){DIM:#}"
        )?;
    }
    Ok(())
}

fn print_h2(out: &mut impl Write, h: &originlens_probe::h2::H2Summary) -> io::Result<()> {
    let got = match (h.status, h.fields, h.header_list_size) {
        (Some(status), Some(fields), Some(size)) => format!(
            "status {status}, {fields} fields, header list {size} bytes, {} body bytes{}",
            h.body_bytes,
            if h.complete { "" } else { " (incomplete)" }
        ),
        _ => "no response".to_owned(),
    };
    match &h.error {
        None => writeln!(
            out,
            "  h2            {got}  {DIM}(the origin picked h2 by ALPN; the edge uses it too){DIM:#}"
        ),
        Some(e) => {
            let code = match (&e.code_name, e.code) {
                (Some(name), Some(code)) => format!(" {name} ({code})"),
                _ => String::new(),
            };
            writeln!(
                out,
                "  h2            {RED}broken{RED:#}: {}{code} by the {}; {got}",
                e.kind.as_str(),
                e.by
            )
        }
    }
}

/// Fields shown of the response head; the rest are counted.
const HEAD_LINES_SHOWN: usize = 40;
/// Bytes of a field line shown; a longer line is cut with its length said.
const HEAD_LINE_CUT: usize = 120;

/// The response head as received (status line and fields, escaped), long lines cut and many
/// fields counted: enough to see what the origin said without `--raw`.
fn print_head(out: &mut impl Write, head: &originlens_wire::Head) -> io::Result<()> {
    writeln!(out, "  {BOLD}response head{BOLD:#}")?;
    let lines: Vec<&[u8]> = head
        .raw
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| !matches!(*l, b"\r\n" | b"\n"))
        .collect();
    for line in lines.iter().take(HEAD_LINES_SHOWN) {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.len() > HEAD_LINE_CUT {
            writeln!(
                out,
                "    {}{DIM}… ({} bytes in all){DIM:#}",
                escape(&body[..HEAD_LINE_CUT]),
                body.len()
            )?;
        } else {
            writeln!(out, "    {}", escape(body))?;
        }
    }
    if lines.len() > HEAD_LINES_SHOWN {
        writeln!(
            out,
            "    {DIM}… and {} more lines (--raw shows them all){DIM:#}",
            lines.len() - HEAD_LINES_SHOWN
        )?;
    }
    Ok(())
}

fn print_escaped_lines(out: &mut impl Write, bytes: &[u8], prefix: &str) -> io::Result<()> {
    let mut offset = 0usize;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        writeln!(out, "    {DIM}{offset:>7}{DIM:#} {prefix}{}", escape(line))?;
        offset += line.len();
    }
    Ok(())
}
