//! Findings: one observed defect, with its fine id, cause, severity and place in the stream.
//!
//! The fine ids follow `docs/reference/http1-malformations.md` §3 ("Edge should report") and
//! may grow freely; the [`Cause`] each maps to is the stable public contract.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use crate::cause::Cause;

/// How serious a finding is by the RFC, before any profile is applied.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; valid HTTP.
    Info,
    /// A sender violation that recipients may tolerate.
    Warning,
    /// Invalid: a recipient must reject (or may only repair in a stated way).
    Error,
}

impl Severity {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident => $id:literal, $cause:ident, $sev:ident; )*) => {
        /// The fine id of a finding.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
        }

        impl Kind {
            /// Every kind.
            pub const ALL: &'static [Kind] = &[ $( Kind::$variant, )* ];

            /// The fine id, e.g. `"field.obs-fold"`.
            pub fn as_str(self) -> &'static str {
                match self { $( Kind::$variant => $id, )* }
            }

            /// The cause id this finding belongs to.
            pub fn cause(self) -> Cause {
                match self { $( Kind::$variant => Cause::$cause, )* }
            }

            /// Severity by the RFC.
            pub fn severity(self) -> Severity {
                match self { $( Kind::$variant => Severity::$sev, )* }
            }
        }
    };
}

kinds! {
    // Connection events, reported by the socket driver.
    /// The origin name does not resolve.
    DnsUnresolved => "dns.unresolved", DnsUnresolved, Error;
    /// RST in answer to the SYN.
    ConnectRefused => "connect.refused", ConnectRefused, Error;
    /// No SYN-ACK within the connect timeout.
    ConnectTimeout => "connect.timeout", ConnectTimeout, Error;
    /// No route to the origin.
    ConnectUnreachable => "connect.unreachable", ConnectUnreachable, Error;
    /// The TLS handshake failed.
    TlsHandshake => "tls.handshake", TlsHandshake, Error;
    /// The certificate failed verification.
    TlsCertificate => "tls.certificate", TlsCertificate, Error;
    /// The certificate (or one in its chain) is past its notAfter.
    TlsCertificateExpired => "tls.certificate.expired", TlsCertificate, Error;
    /// The certificate (or one in its chain) is before its notBefore.
    TlsCertificateNotYetValid => "tls.certificate.not-yet-valid", TlsCertificate, Error;
    /// The certificate does not name the host.
    TlsCertificateNameMismatch => "tls.certificate.name-mismatch", TlsCertificate, Error;
    /// The leaf certificate is self-signed.
    TlsCertificateSelfSigned => "tls.certificate.self-signed", TlsCertificate, Error;
    /// The served chain does not reach a trusted root (an intermediate is missing).
    TlsCertificateIncompleteChain => "tls.certificate.incomplete-chain", TlsCertificate, Error;
    /// The chain ends at a root that is not trusted, or cannot be read.
    TlsCertificateUntrusted => "tls.certificate.untrusted", TlsCertificate, Error;
    /// The certificate expires within the warning window.
    TlsCertificateExpiresSoon => "tls.certificate.expires-soon", TlsCertificate, Warning;
    /// The chain is served out of order (clients may still build it).
    TlsCertificateChainOrder => "tls.certificate.chain-order", TlsCertificate, Warning;

    // HTTP/2, when the origin agreed `h2` by ALPN.
    /// The h2 connection broke in another way (the probe's h2 client found invalid frames).
    H2Protocol => "h2.protocol", H2Protocol, Error;
    /// The origin agreed `h2` by ALPN, then answered in HTTP/1.
    H2Http1AfterAlpn => "h2.http1-after-alpn", H2Protocol, Error;
    /// The origin's first frame was not SETTINGS (a bad connection preface).
    H2BadPreface => "h2.bad-preface", H2Protocol, Error;
    /// The origin sent GOAWAY with an error code before answering.
    H2Goaway => "h2.goaway", H2Protocol, Error;
    /// The origin reset the request's stream (RST_STREAM) before answering.
    H2RstStream => "h2.rst-stream", H2Protocol, Error;
    /// The origin refused the request's stream (RST_STREAM REFUSED_STREAM).
    H2RefusedStream => "h2.refused-stream", H2Protocol, Error;

    // The head never came.
    /// FIN before any byte.
    ResponseEmpty => "response.empty", ResponseEmpty, Error;
    /// RST before any byte.
    ResponseReset => "response.reset", ResponseReset, Error;
    /// No complete head before the read timeout.
    ResponseTimeout => "response.timeout", ResponseTimeout, Error;
    /// FIN in the middle of the head.
    HeadTruncated => "head.truncated", HeadTruncated, Error;
    /// RST in the middle of the head.
    HeadReset => "head.reset", HeadTruncated, Error;

    // Size limits, judged per profile.
    /// The head is larger than the profile accepts.
    HeadTooLarge => "head.too-large", HeadTooLarge, Error;
    /// The head is larger than the profile's warning threshold (e.g. the old 16 KB budget).
    HeadLarge => "head.large", HeadTooLarge, Warning;
    /// More field lines than the profile accepts.
    HeadTooManyFields => "head.too-many-fields", HeadTooLarge, Error;

    // Status line.
    /// No status line at all: a body sent before (instead of) headers, HTTP/0.9.
    StartLineMissing => "start-line.missing", StartLineInvalid, Error;
    /// Bytes before a status line.
    StartLineGarbagePrefix => "start-line.garbage-prefix", StartLineInvalid, Error;
    /// Empty lines before the status line.
    StartLineLeadingCrlf => "start-line.leading-crlf", StartLineInvalid, Warning;
    /// A bare CR inside the status line.
    StartLineBareCr => "start-line.bare-cr", StartLineInvalid, Error;
    /// The protocol name is not `HTTP` (case-sensitive).
    VersionBadName => "version.bad-name", StartLineInvalid, Error;
    /// A major version other than 1 (`HTTP/2.0`).
    VersionUnsupportedMajor => "version.unsupported-major", StartLineInvalid, Error;
    /// `HTTP/0.9` in a status line: 0.9 has none.
    VersionHttp09 => "version.http09", StartLineInvalid, Error;
    /// `HTTP/1.2` and similar: valid, treated as 1.1.
    VersionUnknownMinor => "version.unknown-minor", StartLineInvalid, Warning;
    /// More than one digit on a side of the dot.
    VersionMultiDigit => "version.multi-digit", StartLineInvalid, Error;
    /// Status code of more than three digits.
    StatusNot3Digits => "status.not-3-digits", StartLineInvalid, Error;
    /// Status code of fewer than three digits, or none.
    StatusTooFewDigits => "status.too-few-digits", StartLineInvalid, Error;
    /// Status code with a non-digit.
    StatusNonDigit => "status.non-digit", StartLineInvalid, Error;
    /// IIS-style sub-status such as `403.1`.
    StatusSubStatus => "status.sub-status", StartLineInvalid, Error;
    /// Status 000–099.
    StatusBelow100 => "status.below-100", StartLineInvalid, Error;
    /// Status 600–999: to be treated as 5xx.
    StatusAbove599 => "status.above-599", StartLineInvalid, Warning;
    /// No SP after the status code.
    StatusLineMissingSp => "status-line.missing-sp", StartLineInvalid, Warning;
    /// More than one SP between version and code.
    StatusLineExtraWs => "status-line.extra-ws", StartLineInvalid, Warning;
    /// HTAB or another byte where the SP must be.
    StatusLineBadDelimiter => "status-line.bad-delimiter", StartLineInvalid, Error;
    /// A control byte in the reason phrase.
    ReasonCtl => "reason.ctl", StartLineInvalid, Warning;
    /// Non-ASCII bytes in the reason phrase (valid, opaque).
    ReasonObsText => "reason.obs-text", StartLineInvalid, Info;
    /// A 101 to a request that asked for no upgrade.
    StatusUnsolicited101 => "status.unsolicited-101", StartLineInvalid, Error;
    /// An interim 1xx response before the final one.
    StatusInterim => "status.interim", StartLineInvalid, Info;
    /// The origin answered 5xx itself.
    StatusOrigin5xx => "status.origin-5xx", OriginError, Info;

    // Field lines.
    /// Bare LF used as a line terminator in the head.
    HeadBareLf => "head.bare-lf", FieldInvalid, Warning;
    /// A whitespace-led line right after the status line.
    HeadWsAfterStartLine => "head.ws-after-start-line", FieldInvalid, Error;
    /// Whitespace between field name and colon.
    FieldNameTrailingWs => "field-name.trailing-ws", FieldInvalid, Warning;
    /// obs-fold: a continuation line.
    FieldObsFold => "field.obs-fold", FieldInvalid, Warning;
    /// A field line without a colon.
    FieldMissingColon => "field.missing-colon", FieldInvalid, Error;
    /// A field line starting with the colon.
    FieldNameEmpty => "field-name.empty", FieldInvalid, Error;
    /// A field name with a byte outside `tchar`.
    FieldNameNonToken => "field-name.non-token", FieldInvalid, Error;
    /// A space, control byte or DEL in a field name (nginx refuses these, unlike other
    /// non-`tchar` bytes).
    FieldNameCtl => "field-name.ctl", FieldInvalid, Error;
    /// NUL in a field value.
    FieldValueNul => "field-value.nul", FieldInvalid, Error;
    /// Bare CR in a field value.
    FieldValueBareCr => "field-value.bare-cr", FieldInvalid, Error;
    /// A field line ending in CR CR LF: the extra CRs sit at the end of the value (nginx reads
    /// them as part of the line end).
    FieldValueCrBeforeCrlf => "field-value.cr-before-crlf", FieldInvalid, Error;
    /// Another control byte in a field value.
    FieldValueCtl => "field-value.ctl", FieldInvalid, Warning;
    /// Non-ASCII bytes in a field value (valid, opaque).
    FieldValueObsText => "field-value.obs-text", FieldInvalid, Info;
    /// A status line repeated as a field line (IIS quirk).
    FieldStatusLineInHead => "field.status-line-in-head", FieldInvalid, Error;
    /// A non-list field sent twice.
    FieldDuplicateSingleton => "field.duplicate-singleton", FieldInvalid, Warning;

    // Framing.
    /// Whitespace before the colon of Content-Length or Transfer-Encoding.
    FramingNameWs => "framing.name-ws", FramingInvalid, Error;
    /// Content-Length together with Transfer-Encoding.
    FramingClAndTe => "framing.cl-and-te", FramingInvalid, Error;
    /// Two identical Content-Length lines.
    FramingClDuplicateSame => "framing.cl-duplicate-same", FramingInvalid, Warning;
    /// Content-Length lines that disagree.
    FramingClConflict => "framing.cl-conflict", FramingInvalid, Error;
    /// Content-Length as a list of identical values (`2, 2`).
    FramingClList => "framing.cl-list", FramingInvalid, Warning;
    /// Content-Length that is not `1*DIGIT`.
    FramingClInvalid => "framing.cl-invalid", FramingInvalid, Error;
    /// Content-Length too large for 64 bits.
    FramingClOverflow => "framing.cl-overflow", FramingInvalid, Error;
    /// Content-Length or Transfer-Encoding on a 1xx or 204 response.
    FramingOnBodilessStatus => "framing.on-bodiless-status", FramingInvalid, Warning;
    /// No length: the body ends when the connection closes (truncation is undetectable).
    FramingCloseDelimited => "framing.close-delimited", FramingInvalid, Info;
    /// A coding before the final `chunked` (`gzip, chunked`): valid, but common peers refuse it.
    TeUnsupportedCoding => "te.unsupported-coding", FramingInvalid, Warning;
    /// `chunked` present but not the final coding.
    TeChunkedNotFinal => "te.chunked-not-final", FramingInvalid, Error;
    /// Transfer-Encoding names `chunked` somewhere (`chunked, gzip`, `xchunked`) but the body
    /// runs to close, and it is not valid chunked framing either: a peer that reads any
    /// `chunked` as chunked (nginx ≤ 1.22) fails on it.
    TeNotFinalChunkedInvalid => "te.not-final-chunked-invalid", ChunkedInvalid, Info;
    /// A Transfer-Encoding without `chunked` (`identity`, empty, unknown).
    TeUnknown => "te.unknown", FramingInvalid, Error;
    /// Parameters on `chunked`.
    TeChunkedParams => "te.chunked-params", FramingInvalid, Error;
    /// `chunked` applied twice.
    TeChunkedTwice => "te.chunked-twice", FramingInvalid, Error;
    /// A Transfer-Encoding field with an empty value: it names no coding (nginx ≥ 1.23 refuses
    /// it; nginx 1.22 and HAProxy 2.6 ignore it).
    TeEmpty => "te.empty", FramingInvalid, Error;
    /// An empty list element before a coding (`, chunked`, `gzip, , chunked`): recipients must
    /// ignore it (RFC 9110 §5.6.1), HAProxy 2.6 refuses the response.
    TeEmptyElement => "te.empty-element", FramingInvalid, Info;
    /// Transfer-Encoding in an HTTP/1.0 response.
    TeInHttp10 => "te.in-http10", FramingInvalid, Warning;

    // Chunked body.
    /// A chunk-size that is not hex.
    ChunkSizeInvalid => "chunk.size-invalid", ChunkedInvalid, Error;
    /// An empty chunk-size line.
    ChunkSizeEmpty => "chunk.size-empty", ChunkedInvalid, Error;
    /// A chunk-size too large.
    ChunkSizeOverflow => "chunk.size-overflow", ChunkedInvalid, Error;
    /// Bare LF in chunk framing (CRLF only).
    ChunkBareLf => "chunk.bare-lf", ChunkedInvalid, Error;
    /// LF or CR inside a chunk extension.
    ChunkExtNewline => "chunk.ext-newline", ChunkedInvalid, Error;
    /// Whitespace after the chunk-size without `;`.
    ChunkSizeTrailingWs => "chunk.size-trailing-ws", ChunkedInvalid, Warning;
    /// Whitespace after the chunk-size, then bytes that are no extension (`2 abc`): nginx
    /// skips them as an extension, HAProxy refuses them.
    ChunkSizeJunk => "chunk.size-junk", ChunkedInvalid, Error;
    /// A chunk extension that is not `;name[=value]` (`2;`, `2;=x`, `2;a b`, `2;a@b`).
    ChunkExtInvalid => "chunk.ext-invalid", ChunkedInvalid, Warning;
    /// Chunk data longer than its size.
    ChunkDataOverrun => "chunk.data-overrun", ChunkedInvalid, Error;
    /// A malformed trailer field.
    ChunkTrailerInvalid => "chunk.trailer-invalid", ChunkedInvalid, Warning;

    // Body length.
    /// The connection ended before the last chunk.
    BodyIncompleteChunked => "body.incomplete-chunked", BodyTruncated, Error;
    /// The connection ended before Content-Length bytes.
    BodyShortOfCl => "body.short-of-cl", BodyTruncated, Error;
    /// RST in the middle of the body.
    BodyReset => "body.reset", BodyTruncated, Error;
    /// The body stalled past the read timeout.
    BodyStalled => "body.stalled", BodyTimeout, Error;
    /// Bytes after the last chunk.
    BodyTrailingGarbage => "body.trailing-garbage", BodyExcess, Warning;
    /// Bytes after Content-Length.
    BodyExcessAfterCl => "body.excess-after-cl", BodyExcess, Warning;
    /// A body on 204 or 304.
    BodyOnBodilessStatus => "body.on-bodiless-status", BodyExcess, Warning;
    /// A body on a response to HEAD.
    BodyOnHead => "body.on-head", BodyExcess, Warning;

    // Content coding.
    /// Content-Length equals the decoded length, not the bytes sent.
    EncodingClIsDecodedLength => "encoding.cl-is-decoded-length", EncodingMismatch, Error;
    /// The compressed stream ends early (cut by Content-Length or the connection).
    EncodingTruncated => "encoding.truncated", EncodingMismatch, Error;
    /// The compressed data is corrupt.
    EncodingCorrupt => "encoding.corrupt", EncodingMismatch, Error;
    /// Content-Encoding names a coding but the body is not encoded.
    EncodingNotEncoded => "encoding.not-encoded", EncodingMismatch, Error;
    /// A coding this tool does not decode; not checked.
    EncodingUnchecked => "encoding.unchecked", EncodingMismatch, Info;
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One observed defect.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The fine id.
    pub id: Kind,
    /// The cause it belongs to: `id.cause()`, unless the connection's context says otherwise
    /// (an empty answer on a reused connection is `keepalive.race`).
    pub cause: Cause,
    /// RFC severity.
    pub severity: Severity,
    /// Offset of the defect in the response stream (byte 0 is the first byte the origin sent).
    pub offset: u64,
    /// The bytes the finding is about, as offsets into the response stream.
    pub span: Range<u64>,
    /// A short human message: most are fixed text, which costs no allocation.
    pub message: Cow<'static, str>,
}

impl Finding {
    /// A finding of `kind` at `span`.
    pub fn new(kind: Kind, span: Range<u64>, message: impl Into<Cow<'static, str>>) -> Finding {
        Finding {
            id: kind,
            cause: kind.cause(),
            severity: kind.severity(),
            offset: span.start,
            span,
            message: message.into(),
        }
    }

    /// A finding about one position.
    pub fn at(kind: Kind, offset: u64, message: impl Into<Cow<'static, str>>) -> Finding {
        Finding::new(kind, offset..offset, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_ids_are_unique_and_prefixed_sensibly() {
        let mut seen = std::collections::HashSet::new();
        for &k in Kind::ALL {
            assert!(seen.insert(k.as_str()), "duplicate fine id {k}");
            assert!(k.as_str().contains('.'), "{k} has no group prefix");
        }
    }
}
