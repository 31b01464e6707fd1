//! One exchange judged under every profile, and the size facts about its head: everything
//! `originlens probe` prints comes from a [`Judged`].

use originlens_wire::escape::escape;
use originlens_wire::{
    profile, Cause, Finding, FramingRules, Head, JudgeContext, Profile, ReaderOptions, Verdict,
};

use crate::{probe_watched, Exchange, ProbeError, ProbeOptions, TlsOptions, Watch};

/// A finished probe with its verdicts.
#[derive(Debug)]
pub struct Judged {
    /// The options used.
    pub opts: ProbeOptions,
    /// The evidence.
    pub exchange: Exchange,
    /// The chosen profile's verdict.
    pub verdict: Verdict,
    /// Every profile's verdict, in the order of [`profile::ALL`].
    pub peers: Vec<Verdict>,
    /// The chosen profile.
    pub profile: &'static Profile,
}

impl Judged {
    /// Judges `exchange` under `chosen` and under every profile.
    pub fn new(opts: ProbeOptions, exchange: Exchange, chosen: &'static Profile) -> Judged {
        let verdict = judge_exchange(&exchange, chosen);
        let peers = profile::ALL
            .iter()
            .map(|p| judge_exchange(&exchange, p))
            .collect();
        Judged {
            opts,
            exchange,
            verdict,
            peers,
            profile: chosen,
        }
    }

    /// Every finding, the reader's and the chosen profile's limit findings, by offset.
    pub fn findings(&self) -> Vec<&Finding> {
        let mut all: Vec<&Finding> = self
            .exchange
            .report
            .findings
            .iter()
            .chain(&self.verdict.limit_findings)
            .collect();
        all.sort_by_key(|f| f.offset);
        all
    }

    /// The finding that decided the chosen verdict.
    pub fn deciding(&self) -> Option<&Finding> {
        self.verdict.deciding.as_ref()
    }

    /// The bytes a finding's offsets point into: the raw stream, or for a response that came
    /// over HTTP/2 the HTTP/1.1 rendering the wire reader judged (the `h2.*` findings point into
    /// the raw frames).
    pub fn evidence(&self, f: &Finding) -> &[u8] {
        match &self.exchange.h2 {
            Some(h2) if f.cause != Cause::H2Protocol => &h2.rendered,
            _ => &self.exchange.response,
        }
    }

    /// Whether `--raw`'s capture holds fewer bytes than the origin sent (the 4 MiB cap).
    pub fn capture_cut(&self) -> bool {
        (self.exchange.response.len() as u64) < self.exchange.response_bytes
    }
}

/// `exchange` judged under `profile`. A peer that frames bodies its own way (nginx 1.22,
/// HAProxy 2.6: `Profile::framing`) is judged on the stream read again with its rules, when the
/// whole stream was kept and came over HTTP/1.1; its findings are the same facts, but the body
/// it forwards, and whether that is complete, can differ.
pub fn judge_exchange(exchange: &Exchange, profile: &Profile) -> Verdict {
    let ctx = JudgeContext {
        waited: exchange.waited,
    };
    let whole = exchange.response.len() as u64 == exchange.response_bytes;
    if profile.framing == FramingRules::RFC9112
        || exchange.h2.is_some()
        || !whole
        || !exchange.report.head_complete
    {
        return originlens_wire::judge(&exchange.report, profile, ctx);
    }
    let opts = ReaderOptions {
        framing: profile.framing,
        ..exchange.reader_options
    };
    let report = exchange.report.reread(&exchange.response, opts);
    originlens_wire::judge(&report, profile, ctx)
}

/// Probes once with these TLS options and judges under every profile.
pub async fn probe_and_judge(
    opts: ProbeOptions,
    tls: &TlsOptions,
    chosen: &'static Profile,
) -> Result<Judged, ProbeError> {
    probe_and_judge_watched(opts, tls, chosen, &Watch::new()).await
}

/// [`probe_and_judge`] with a [`Watch`] for progress and an early stop.
pub async fn probe_and_judge_watched(
    opts: ProbeOptions,
    tls: &TlsOptions,
    chosen: &'static Profile,
    watch: &Watch,
) -> Result<Judged, ProbeError> {
    let exchange = probe_watched(&opts, tls, watch).await?;
    Ok(Judged::new(opts, exchange, chosen))
}

/// Size facts about a head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadStats {
    /// Bytes, terminator included.
    pub bytes: usize,
    /// Field lines.
    pub fields: usize,
    /// The five largest field lines: escaped name and line length with CRLF.
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

#[cfg(test)]
mod tests {
    use super::*;
    use originlens_wire::{read_all, End, ReaderOptions};

    #[test]
    fn head_stats_count_fields_and_cookies() {
        let bytes = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: bb=2\r\nX-Long: 0123456789\r\nContent-Length: 0\r\n\r\n";
        let report = read_all(bytes, End::Complete, ReaderOptions::default());
        let s = head_stats(report.head.as_ref().unwrap());
        assert_eq!(s.bytes, bytes.len());
        assert_eq!(s.fields, 4);
        assert_eq!((s.set_cookie_count, s.set_cookie_bytes), (2, 17 + 18));
        assert_eq!(s.largest[0], ("X-Long".to_owned(), 20));
    }
}
