//! Peer profiles as data: what an edge or proxy does with each finding, and its limits.
//!
//! A profile is a default per severity plus a short list of overrides, so each peer's quirks
//! read as a table. Outcomes are one lookup, `(finding, profile) → disposition`, and the status
//! of a rejection is a second one, `(cause, profile) → status`.
//!
//! # Background
//! Facts come from `docs/reference/http1-malformations.md` (nginx, HAProxy and hyper observed
//! on crafted responses; Envoy and Pingora read from source) and `cloudflare-52x.md`
//! (Cloudflare's documented limits and codes). Where a real peer in the test suite disagrees,
//! the profile follows the peer and says so next to the rule.

use std::time::Duration;

use crate::bytes::{eq_lower, trim_ows};
use crate::cause::{Cause, Phase};
use crate::finding::{Kind, Severity};
use crate::framing::{FramingRules, LengthRules};
use crate::head::Head;

/// A status in a profile's table meaning "closes the connection without answering": the
/// visitor gets an empty reply (curl: `Empty reply from server`, status 000).
pub const EMPTY_REPLY: u16 = 0;

/// What a peer does with a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Accepted without notice.
    Pass,
    /// Accepted; a careful peer would log it.
    Warn,
    /// Repaired before forwarding (whitespace stripped, fold unfolded, Content-Length dropped).
    Normalize,
    /// The response is refused and the peer answers its own error status.
    Reject,
    /// The start line is not understood but the bytes are passed on as they are (nginx: as an
    /// HTTP/0.9 reply; HAProxy 2.6: the status line verbatim); the visitor's client must parse
    /// the origin's own bytes.
    Relay09,
    /// nginx: an interim 1xx is sent as the final response and the real response follows as
    /// its body; clients that skip 1xx then read the origin's own head.
    InterimAsFinal,
}

impl Disposition {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Pass => "pass",
            Disposition::Warn => "warn",
            Disposition::Normalize => "normalize",
            Disposition::Reject => "reject",
            Disposition::Relay09 => "relay-http09",
            Disposition::InterimAsFinal => "interim-as-final",
        }
    }

    /// Does this disposition decide the visitor's outcome?
    pub fn is_decisive(self) -> bool {
        matches!(
            self,
            Disposition::Reject | Disposition::Relay09 | Disposition::InterimAsFinal
        )
    }
}

/// Size and time limits of a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest response head accepted.
    pub max_head_bytes: Option<usize>,
    /// Head size above which a warning (`head.large`) is given.
    pub warn_head_bytes: Option<usize>,
    /// How the head is counted against `max_head_bytes`.
    pub head_measure: HeadMeasure,
    /// Most field lines accepted.
    pub max_fields: Option<usize>,
    /// Time allowed to open the connection.
    pub connect_timeout: Duration,
    /// Longest silence allowed between two reads.
    pub read_timeout: Duration,
    /// Time allowed for the whole response, if the peer has such a limit.
    pub total_timeout: Option<Duration>,
    /// How long idle upstream connections are kept for reuse (None: no reuse by default).
    pub idle_pool: Option<Duration>,
    /// Whether the peer speaks HTTP/2 to an origin that offers it by ALPN (Cloudflare does by
    /// default; nginx, HAProxy and Envoy proxy over HTTP/1.1 unless configured otherwise).
    pub h2_to_origin: bool,
}

/// How a peer counts a response head against its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadMeasure {
    /// The bytes on the wire, status line and line ends included.
    Wire,
    /// HAProxy's HTX form: the reason phrase, plus for each field line it keeps its name, its
    /// value without surrounding whitespace, and 8 bytes. It drops `Connection` tokens `close`
    /// and `keep-alive` (the whole field when nothing else is listed) and every Content-Length
    /// after the first before the head is stored. Measured with HAProxy 2.6.12 by searching,
    /// for heads of 1 to 100 fields, the largest accepted: the count does not depend on the
    /// version, the status code or the body bytes read with the head.
    Htx,
}

impl HeadMeasure {
    /// The size of `head` as this peer counts it.
    pub fn size(self, head: &Head) -> usize {
        match self {
            HeadMeasure::Wire => head.len(),
            HeadMeasure::Htx => htx_size(head),
        }
    }

    /// What a size in this measure is, for messages.
    pub fn unit(self) -> &'static str {
        match self {
            HeadMeasure::Wire => "bytes on the wire",
            HeadMeasure::Htx => "HAProxy's HTX form",
        }
    }
}

fn htx_size(head: &Head) -> usize {
    const PER_FIELD: usize = 8;
    let mut content_length_seen = false;
    let kept = head.fields.iter().map(|f| {
        let (name, value) = (head.name(f), trim_ows(head.value(f)));
        let value_len = if eq_lower(name, b"connection") {
            let (count, bytes) = value
                .split(|&b| b == b',')
                .map(trim_ows)
                .filter(|t| {
                    !t.eq_ignore_ascii_case(b"close") && !t.eq_ignore_ascii_case(b"keep-alive")
                })
                .fold((0, 0), |(n, len), t| (n + 1, len + t.len()));
            if count == 0 {
                return 0;
            }
            // What is left is joined again with ", ".
            bytes + 2 * (count - 1)
        } else if eq_lower(name, b"content-length") {
            if std::mem::replace(&mut content_length_seen, true) {
                return 0;
            }
            value.len()
        } else {
            value.len()
        };
        name.len() + value_len + PER_FIELD
    });
    head.reason.len() + kept.sum::<usize>()
}

/// A peer's behaviour. Cloning is cheap: the tables are `'static`.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Short name used on the command line and in JSON.
    pub name: &'static str,
    /// Human name.
    pub title: &'static str,
    /// Size and time limits.
    pub limits: Limits,
    /// How this peer delimits and decodes a body where it departs from RFC 9112. Reports
    /// read with the default rules judge the same findings; reading with these also gives
    /// the body data the peer forwards.
    pub framing: FramingRules,
    /// Status answered for a rejection whose cause has no entry in `statuses`.
    pub error_status: u16,
    /// Status per cause, where it differs from `error_status`.
    pub statuses: &'static [(Cause, u16)],
    /// Disposition by severity: info, warning, error.
    pub by_severity: [Disposition; 3],
    /// Dispositions that differ from `by_severity`.
    pub rules: &'static [(Kind, Disposition)],
    /// The peer parses the whole head before it relays a start line it cannot read, so a head
    /// defect it refuses decides before that start line does (HAProxy; nginx relays at once).
    pub relays_after_head: bool,
}

impl Profile {
    /// What this peer does with a finding of `kind`.
    pub fn disposition(&self, kind: Kind) -> Disposition {
        if let Some(&(_, d)) = self.rules.iter().find(|(k, _)| *k == kind) {
            return d;
        }
        match kind.severity() {
            Severity::Info => self.by_severity[0],
            Severity::Warning => self.by_severity[1],
            Severity::Error => self.by_severity[2],
        }
    }

    /// The status this peer answers when it rejects for `cause`. `None` for body-phase causes
    /// it does not turn into an error of its own: the head was already forwarded, so the
    /// visitor gets the origin's status and a broken body.
    pub fn status_for(&self, cause: Cause) -> Option<u16> {
        if let Some(&(_, s)) = self.statuses.iter().find(|(c, _)| *c == cause) {
            return Some(s);
        }
        (cause.phase() != Phase::Body).then_some(self.error_status)
    }

    /// A profile by name (`nginx-1.23` is an alias of `nginx`).
    pub fn by_name(name: &str) -> Option<&'static Profile> {
        let name = if name == "nginx-1.23" { "nginx" } else { name };
        ALL.iter().copied().find(|p| p.name == name)
    }

    /// The names of all profiles, for help texts.
    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|p| p.name).collect()
    }
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

use Disposition::{InterimAsFinal, Normalize, Pass, Reject, Relay09, Warn};

/// Every profile, the default first.
pub static ALL: [&Profile; 6] = [&CLOUDFLARE, &NGINX, &NGINX_1_22, &HAPROXY, &ENVOY, &STRICT];

/// Cloudflare's edge.
///
/// # Background
/// Limits: 128 KB of response head, 19 s to connect, 125 s proxy read timeout, 900 s idle pool
/// (developers.cloudflare.com connection-limits, July 2026). The seed runbook's 16 KB budget is
/// kept as a warning. Dispositions follow the reference's "edge should report" column; framing
/// duplicates are rejected as Pingora does (`duplicated Content-Length header`, and a
/// Content-Length list is not a valid integer there). Codes: 520 for a head it cannot use, 521
/// refused, 522 connect timeout, 523 unreachable, 524 read timeout, 525 handshake, 526
/// certificate, 530 DNS, and 502 for a compressed body that does not fit its Content-Length.
pub static CLOUDFLARE: Profile = Profile {
    name: "cloudflare",
    title: "Cloudflare edge",
    limits: Limits {
        max_head_bytes: Some(128 * 1024),
        warn_head_bytes: Some(16 * 1024),
        head_measure: HeadMeasure::Wire,
        // Not documented; Pingora hands httparse 256 header slots.
        max_fields: Some(256),
        connect_timeout: secs(19),
        read_timeout: secs(125),
        total_timeout: None,
        idle_pool: Some(secs(900)),
        h2_to_origin: true,
    },
    framing: FramingRules::RFC9112,
    error_status: 520,
    statuses: &[
        (Cause::DnsUnresolved, 530),
        (Cause::ConnectRefused, 521),
        (Cause::ConnectTimeout, 522),
        (Cause::ConnectUnreachable, 523),
        (Cause::ResponseTimeout, 524),
        (Cause::TlsHandshake, 525),
        (Cause::TlsCertificate, 526),
        (Cause::EncodingMismatch, 502),
    ],
    by_severity: [Pass, Warn, Reject],
    rules: &[
        (Kind::FieldNameTrailingWs, Normalize),
        (Kind::FieldObsFold, Normalize),
        (Kind::FramingClAndTe, Normalize),
        (Kind::FramingClDuplicateSame, Reject),
        (Kind::FramingClList, Reject),
    ],
    relays_after_head: false,
};

/// Rules shared by both nginx tiers: the status-line and field-line behaviour.
macro_rules! nginx_head_rules {
    ($($extra:tt)*) => {
        &[
            // `upstream sent no valid HTTP/1.0 header`: the bytes are relayed as HTTP/0.9.
            (Kind::StartLineMissing, Relay09),
            (Kind::StartLineGarbagePrefix, Relay09),
            (Kind::StartLineLeadingCrlf, Relay09),
            (Kind::StartLineBareCr, Relay09),
            (Kind::VersionBadName, Relay09),
            (Kind::VersionHttp09, Relay09),
            (Kind::StatusNot3Digits, Relay09),
            (Kind::StatusTooFewDigits, Relay09),
            (Kind::StatusNonDigit, Relay09),
            (Kind::StatusLineBadDelimiter, Relay09),
            // Accepted and re-emitted as HTTP/1.1 with the origin's code.
            (Kind::VersionUnsupportedMajor, Pass),
            (Kind::VersionMultiDigit, Pass),
            (Kind::StatusSubStatus, Pass),
            (Kind::StatusBelow100, Pass),
            (Kind::StatusUnsolicited101, Pass),
            (Kind::ReasonCtl, Pass),
            (Kind::HeadBareLf, Pass),
            // Only 103 is special-cased (1.29+); a 100 Continue is sent as the final
            // response, with the origin's real head relayed after it as body.
            (Kind::StatusInterim, InterimAsFinal),
            // `upstream sent invalid header`.
            (Kind::FieldNameTrailingWs, Reject),
            (Kind::FieldObsFold, Reject),
            // The upstream path ignores invalid names and keeps CTLs in values; IIS duplicate
            // status lines are skipped. A space or control byte in a name is `upstream sent
            // invalid header` (observed with nginx 1.22.1), and a line without a colon is a
            // name with an empty value.
            (Kind::FieldNameNonToken, Pass),
            (Kind::FieldMissingColon, Pass),
            (Kind::FieldValueCtl, Pass),
            // CR CR LF ends a line like CRLF (a CR elsewhere in the line is refused).
            (Kind::FieldValueCrBeforeCrlf, Pass),
            (Kind::FieldStatusLineInHead, Pass),
            (Kind::ChunkSizeTrailingWs, Pass),
            // What follows whitespace behind the chunk-size is skipped as an extension.
            (Kind::ChunkSizeJunk, Pass),
            (Kind::ChunkTrailerInvalid, Pass),
            (Kind::TeInHttp10, Pass),
            $($extra)*
        ]
    };
}

/// nginx's statuses: timeouts are 504; a chunked body that breaks in the bytes read with the
/// head makes nginx close the client connection before sending anything (observed with nginx
/// 1.22.1: curl gets an empty reply, the reference notes the same).
const NGINX_STATUSES: &[(Cause, u16)] = &[
    (Cause::ResponseTimeout, 504),
    (Cause::ConnectTimeout, 504),
    (Cause::ChunkedInvalid, EMPTY_REPLY),
];

/// nginx 1.23 and later as a reverse proxy with default buffers.
///
/// # Background
/// `proxy_buffer_size` defaults to one memory page (4 KiB on x86-64): a longer head is
/// `upstream sent too big header` (502). 1.23.0 rejects every Content-Length /
/// Transfer-Encoding oddity; 1.29.4 rejects bare LF in chunk framing. `proxy_read_timeout`
/// and `proxy_connect_timeout` default to 60 s; upstream keep-alive is off by default.
pub static NGINX: Profile = Profile {
    name: "nginx",
    title: "nginx ≥ 1.23 (proxy_pass, defaults)",
    limits: Limits {
        max_head_bytes: Some(4096),
        warn_head_bytes: None,
        head_measure: HeadMeasure::Wire,
        max_fields: None,
        connect_timeout: secs(60),
        read_timeout: secs(60),
        total_timeout: None,
        idle_pool: None,
        h2_to_origin: false,
    },
    framing: FramingRules::RFC9112,
    error_status: 502,
    statuses: NGINX_STATUSES,
    by_severity: [Pass, Warn, Reject],
    rules: nginx_head_rules![
        (Kind::FramingClAndTe, Reject),
        (Kind::FramingClDuplicateSame, Reject),
        (Kind::FramingClList, Reject),
        (Kind::TeUnsupportedCoding, Reject),
    ],
    relays_after_head: false,
};

/// nginx 1.22 and earlier (Debian 12 ships 1.22.1).
///
/// # Background
/// Before 1.23.0 Content-Length was read with `ngx_atoof` and a bad value meant "no length",
/// and `chunked` anywhere in Transfer-Encoding meant chunked framing; none of the framing
/// oddities were refused. Bare LF in chunk framing was accepted. `framing` reads bodies so
/// ([`LengthRules::Nginx122`]); the rules below judge the RFC's findings.
pub static NGINX_1_22: Profile = Profile {
    name: "nginx-1.22",
    title: "nginx ≤ 1.22 (proxy_pass, defaults)",
    limits: NGINX.limits,
    framing: FramingRules {
        length: LengthRules::Nginx122,
        chunk_bare_lf: true,
    },
    error_status: 502,
    statuses: NGINX_STATUSES,
    by_severity: [Pass, Warn, Reject],
    rules: nginx_head_rules![
        (Kind::FramingClAndTe, Normalize),
        (Kind::FramingClDuplicateSame, Pass),
        (Kind::FramingClConflict, Pass),
        (Kind::FramingClList, Pass),
        (Kind::FramingClInvalid, Pass),
        (Kind::FramingClOverflow, Pass),
        (Kind::TeUnsupportedCoding, Pass),
        (Kind::TeChunkedNotFinal, Pass),
        (Kind::TeUnknown, Pass),
        (Kind::TeChunkedParams, Pass),
        (Kind::TeChunkedTwice, Pass),
        (Kind::TeEmpty, Pass),
        (Kind::ChunkBareLf, Pass),
        // `chunked` anywhere means chunked: a body that is not valid chunked framing is
        // `upstream sent invalid chunked response` (empty reply, observed with nginx 1.22.1).
        (Kind::TeNotFinalChunkedInvalid, Reject),
    ],
    relays_after_head: false,
};

/// HAProxy 2.5 and later in `mode http` with defaults, as observed with HAProxy 2.6.12
/// (Debian 12) where it differs from the reference's 3.5 snapshot.
///
/// # Background
/// `tune.bufsize` 16384 less `maxrewrite` 1024 bounds the head in its HTX form
/// ([`HeadMeasure::Htx`]: 15264 bytes as counted there); `tune.http.maxhdr` is 101.
/// Since 2.5 any Transfer-Encoding but `chunked` is refused. CL+TE drops Content-Length;
/// identical Content-Lengths are merged; obs-fold is unfolded. A response whose first chunk
/// is broken is refused with 502 when it arrives with the head. Debian's default
/// configuration sets `timeout connect 5s` and `timeout server 50s`.
pub static HAPROXY: Profile = Profile {
    name: "haproxy",
    title: "HAProxy 2.6 (mode http, defaults)",
    limits: Limits {
        // Measured with 2.6.12 to the byte, see `HeadMeasure::Htx`.
        max_head_bytes: Some(15264),
        warn_head_bytes: None,
        head_measure: HeadMeasure::Htx,
        max_fields: Some(101),
        connect_timeout: secs(5),
        read_timeout: secs(50),
        total_timeout: None,
        idle_pool: None,
        h2_to_origin: false,
    },
    framing: FramingRules {
        length: LengthRules::Rfc9112,
        chunk_bare_lf: true,
    },
    error_status: 502,
    statuses: &[
        (Cause::DnsUnresolved, 503),
        (Cause::ConnectRefused, 503),
        (Cause::ConnectTimeout, 503),
        (Cause::ConnectUnreachable, 503),
        (Cause::ResponseTimeout, 504),
        (Cause::ChunkedInvalid, 502),
    ],
    by_severity: [Pass, Warn, Reject],
    rules: &[
        (Kind::StartLineLeadingCrlf, Pass),
        (Kind::VersionUnsupportedMajor, Pass),
        // 2.6 forwards these status lines verbatim and the client cannot read them, once
        // the rest of the head has passed its checks (`relays_after_head`).
        (Kind::VersionHttp09, Relay09),
        (Kind::StatusTooFewDigits, Relay09),
        (Kind::StatusNot3Digits, Relay09),
        (Kind::StatusBelow100, Pass),
        (Kind::StatusLineBadDelimiter, Pass),
        (Kind::ReasonCtl, Pass),
        (Kind::HeadBareLf, Pass),
        (Kind::FieldObsFold, Normalize),
        (Kind::FieldNameTrailingWs, Reject),
        (Kind::FieldValueCtl, Pass),
        // 2.6 passes NUL in a value and bare LF in chunk framing (3.x refuses both).
        (Kind::FieldValueNul, Pass),
        (Kind::ChunkBareLf, Pass),
        (Kind::FramingClAndTe, Normalize),
        (Kind::FramingClDuplicateSame, Normalize),
        (Kind::FramingClList, Normalize),
        (Kind::TeUnsupportedCoding, Reject),
        // An empty value is ignored; a list of empty elements (`,`) is refused, and so is an
        // empty element before a coding (`, chunked`; `chunked,` passes).
        (Kind::TeEmpty, Pass),
        (Kind::TeEmptyElement, Reject),
        (Kind::TeInHttp10, Pass),
        (Kind::ChunkSizeTrailingWs, Pass),
        (Kind::ChunkTrailerInvalid, Reject),
        (Kind::BodyTrailingGarbage, Pass),
    ],
    relays_after_head: true,
};

/// Envoy with default limits (read from source).
///
/// # Background
/// Balsa parser: 80 KiB of head and 100 headers; a response must start with `H`; names must be
/// tokens; CTLs in values are refused; any repeated Content-Length, CL+TE, non-`chunked`
/// Transfer-Encoding and CL/TE on 1xx/204 are refused. Failures before the head are answered
/// 503 (`upstream connect error or disconnect/reset before headers`); the route timeout
/// (15 s for the whole response) gives 504. A status code is converted as a number and one
/// above 999 is a protocol error, answered 502 like other head defects.
pub static ENVOY: Profile = Profile {
    name: "envoy",
    title: "Envoy (defaults)",
    limits: Limits {
        max_head_bytes: Some(80 * 1024),
        warn_head_bytes: None,
        head_measure: HeadMeasure::Wire,
        max_fields: Some(100),
        connect_timeout: secs(5),
        read_timeout: secs(15),
        total_timeout: Some(secs(15)),
        idle_pool: Some(secs(3600)),
        h2_to_origin: false,
    },
    framing: FramingRules::RFC9112,
    error_status: 502,
    statuses: &[
        (Cause::DnsUnresolved, 503),
        (Cause::ConnectRefused, 503),
        (Cause::ConnectTimeout, 503),
        (Cause::ConnectUnreachable, 503),
        (Cause::TlsHandshake, 503),
        (Cause::TlsCertificate, 503),
        (Cause::ResponseEmpty, 503),
        (Cause::ResponseReset, 503),
        (Cause::HeadTruncated, 503),
        (Cause::ResponseTimeout, 504),
    ],
    by_severity: [Pass, Warn, Reject],
    rules: &[
        (Kind::StartLineLeadingCrlf, Reject),
        (Kind::VersionUnsupportedMajor, Pass),
        (Kind::StatusTooFewDigits, Pass),
        (Kind::FieldObsFold, Normalize),
        (Kind::FieldNameTrailingWs, Reject),
        (Kind::FieldValueCtl, Reject),
        (Kind::FramingClDuplicateSame, Reject),
        (Kind::FramingClList, Reject),
        (Kind::TeUnsupportedCoding, Reject),
        (Kind::FramingOnBodilessStatus, Reject),
    ],
    relays_after_head: false,
};

/// A strict RFC 9110/9112 reader: everything a sender must not do is refused.
///
/// # Background
/// Where the RFC lets a recipient either reject or repair, this profile rejects. Valid but
/// unusual messages (HTTP/1.2, close-delimited bodies) pass. A transfer coding before
/// `chunked` (`gzip, chunked`) is valid but refused: nginx, HAProxy and Envoy refuse it, and
/// the body could not be checked past it.
pub static STRICT: Profile = Profile {
    name: "strict",
    title: "strict RFC 9112",
    limits: Limits {
        max_head_bytes: Some(128 * 1024),
        warn_head_bytes: Some(16 * 1024),
        head_measure: HeadMeasure::Wire,
        max_fields: Some(100),
        connect_timeout: secs(60),
        read_timeout: secs(60),
        total_timeout: None,
        idle_pool: None,
        h2_to_origin: false,
    },
    framing: FramingRules::RFC9112,
    error_status: 502,
    statuses: &[(Cause::ResponseTimeout, 504), (Cause::ConnectTimeout, 504)],
    by_severity: [Pass, Reject, Reject],
    rules: &[
        (Kind::HeadLarge, Warn),
        (Kind::VersionUnknownMinor, Warn),
        (Kind::BodyTrailingGarbage, Warn),
        (Kind::BodyExcessAfterCl, Warn),
        (Kind::BodyOnBodilessStatus, Warn),
        (Kind::BodyOnHead, Warn),
    ],
    relays_after_head: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for p in ALL {
            assert_eq!(Profile::by_name(p.name).unwrap().name, p.name);
        }
        assert_eq!(Profile::by_name("nginx-1.23").unwrap().name, "nginx");
        assert!(Profile::by_name("apache").is_none());
    }

    #[test]
    fn rules_name_each_kind_once() {
        for p in ALL {
            for (i, (k, _)) in p.rules.iter().enumerate() {
                assert!(
                    !p.rules[..i].iter().any(|(o, _)| o == k),
                    "{} lists {k} twice",
                    p.name
                );
            }
        }
    }

    #[test]
    fn body_causes_keep_the_origin_status_unless_listed() {
        assert_eq!(CLOUDFLARE.status_for(Cause::BodyTruncated), None);
        assert_eq!(CLOUDFLARE.status_for(Cause::EncodingMismatch), Some(502));
        assert_eq!(CLOUDFLARE.status_for(Cause::FieldInvalid), Some(520));
        assert_eq!(HAPROXY.status_for(Cause::ChunkedInvalid), Some(502));
        assert_eq!(NGINX.status_for(Cause::ResponseTimeout), Some(504));
    }
}
