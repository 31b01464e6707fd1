//! The route table: one route per cause and per interesting malformation.
//!
//! Each row names the raw bytes the origin sends (byte-string literals wherever the bytes are short
//! enough to read) and what the Cloudflare edge makes of them ([`Expect`]). Row numbers in the
//! comments refer to the catalogue in `http1-malformations.md` §3. Unless a row replaces the whole
//! head, the malformation sits in an otherwise plain `HTTP/1.1 200 OK` with `Content-Length: 2`
//! and the body `ok`.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use originlens_wire::{Cause, GeneratedBy, Kind};

use crate::behaviour::{leak, trickle, Behaviour, End, Step};

/// One route of the lab origin.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The request path, without query string (`"/empty"`).
    pub path: &'static str,
    /// One line: what the origin does.
    pub summary: &'static str,
    /// What the server does on the socket.
    pub behaviour: Behaviour,
    /// What the Cloudflare edge makes of it.
    pub expect: Expect,
    /// How to probe it.
    pub hint: ProbeHint,
}

/// What the Cloudflare edge shows the visitor for a route, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The status the visitor sees.
    pub status: u16,
    /// Whether that status is the origin's own or one the edge generated.
    pub generated_by: GeneratedBy,
    /// The cause of the verdict; `None` when the edge passes the response (warnings included).
    pub cause: Option<Cause>,
    /// The fine finding id behind the cause; `None` when `cause` is `None`.
    pub finding: Option<Kind>,
}

impl Expect {
    /// The edge passes the origin's response: clean, or with warnings only.
    pub const fn pass(status: u16) -> Expect {
        Expect {
            status,
            generated_by: GeneratedBy::Origin,
            cause: None,
            finding: None,
        }
    }

    /// The edge discards the response and generates `status` itself.
    pub fn edge(status: u16, finding: Kind) -> Expect {
        Expect {
            status,
            generated_by: GeneratedBy::Edge,
            cause: Some(finding.cause()),
            finding: Some(finding),
        }
    }

    /// The origin's status reaches the visitor, but the exchange has a defect (a broken body, or
    /// the origin's own 5xx).
    pub fn origin(status: u16, finding: Kind) -> Expect {
        Expect {
            status,
            generated_by: GeneratedBy::Origin,
            cause: Some(finding.cause()),
            finding: Some(finding),
        }
    }
}

/// How to probe a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeHint {
    /// The request method: `GET` unless the route is about `HEAD`.
    pub method: &'static str,
    /// A read timeout short enough to see the route's timeout cause in a test, when it has one.
    pub read_timeout: Option<Duration>,
}

impl ProbeHint {
    /// A plain `GET` with the probe's default timeouts.
    pub const GET: ProbeHint = ProbeHint {
        method: "GET",
        read_timeout: None,
    };
    /// A `HEAD` request.
    pub const HEAD: ProbeHint = ProbeHint {
        method: "HEAD",
        read_timeout: None,
    };
    /// A `GET` with a [`SHORT_TIMEOUT`](ProbeHint::SHORT_TIMEOUT) read timeout: the route
    /// stalls on purpose.
    pub const SHORT: ProbeHint = ProbeHint {
        method: "GET",
        read_timeout: Some(ProbeHint::SHORT_TIMEOUT),
    };
    /// The read timeout suggested for stalling routes.
    pub const SHORT_TIMEOUT: Duration = Duration::from_secs(2);
}

/// Every route, `/` first, in the order of `lab --list`.
pub fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(build)
}

/// The route for `path` (without query string).
pub fn route(path: &str) -> Option<&'static Route> {
    routes().iter().find(|r| r.path == path)
}

/// The decoded body of the gzip and br routes.
pub const ENCODED_TEXT: &[u8] = b"originlens lab: this text is compressed. ";
/// How often [`ENCODED_TEXT`] repeats in the decoded body.
pub const ENCODED_REPEAT: usize = 48;
/// How long `/keepalive-short` keeps an idle connection.
pub const KEEPALIVE_SHORT: Duration = Duration::from_secs(1);
/// After how many responses `/keepalive-requests` closes the connection.
pub const KEEPALIVE_REQUESTS: u32 = 3;
/// How long `/keepalive-silent` keeps an idle connection before it forgets it without a FIN.
pub const KEEPALIVE_SILENT: Duration = Duration::from_secs(2);
/// The head size of `/head-20k` (a warning only at Cloudflare).
pub const HEAD_20K: usize = 20 * 1024;
/// The head size of `/head-130k` (over Cloudflare's 128 KB).
pub const HEAD_130K: usize = 130 * 1024;

const fn fin(bytes: &'static [u8]) -> Behaviour {
    Behaviour::Reply {
        bytes,
        end: End::Fin,
    }
}

const fn keep(bytes: &'static [u8]) -> Behaviour {
    Behaviour::Reply {
        bytes,
        end: End::KeepAlive,
    }
}

const fn route_(
    path: &'static str,
    summary: &'static str,
    behaviour: Behaviour,
    expect: Expect,
) -> Route {
    Route {
        path,
        summary,
        behaviour,
        expect,
        hint: ProbeHint::GET,
    }
}

#[rustfmt::skip]
fn build() -> Vec<Route> {
    use Kind as K;
    let r = route_;
    let pass = Expect::pass;
    let edge = |kind| Expect::edge(520, kind);
    let body = |kind| Expect::origin(200, kind);
    let enc = |kind| Expect::edge(502, kind);

    let mut table = vec![
        // Clean routes: valid HTTP/1.1, keep-alive honoured, HEAD answered with the head only.
        r("/ok", "a clean 200 with Content-Length (keep-alive)",
            keep(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"), pass(200)),
        r("/keep-alive", "a clean 200 announcing keep-alive explicitly",
            keep(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/chunked-ok", "a clean chunked 200",
            keep(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), pass(200)),
        // Row 62: valid, but truncation of such a body cannot be detected.
        r("/close-delimited", "a 200 without length: the body ends at FIN",
            fin(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nok, until the connection closes\n"), pass(200)),
        Route { hint: ProbeHint::HEAD, ..r("/head-aware", "a clean 200; HEAD gets the head only",
            keep(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n"), pass(200)) },
        // Fine for one request; an edge that pools the connection longer than 1 s loses the race.
        r("/keepalive-short", "a clean 200, then FIN after 1 s idle (Keep-Alive: timeout=1)",
            Behaviour::Reply {
                bytes: b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok",
                end: End::IdleClose(KEEPALIVE_SHORT),
            },
            pass(200)),
        r("/keepalive-requests", "a clean 200; FIN after the 3rd response on a connection, unannounced",
            Behaviour::Reply {
                bytes: b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
                end: End::MaxRequests(KEEPALIVE_REQUESTS),
            },
            pass(200)),
        r("/keepalive-silent", "a clean 200; after 2 s idle the connection is forgotten without a FIN",
            Behaviour::Reply {
                bytes: b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
                end: End::IdleDrop(KEEPALIVE_SILENT),
            },
            pass(200)),
        r("/gzip-ok", "a valid gzip body with its compressed length", keep(gzip_ok()), pass(200)),
        r("/br-ok", "a valid br body with its compressed length", keep(br_ok()), pass(200)),

        // Connection events: the head never completes.
        r("/empty", "FIN before any byte", Behaviour::Fin, edge(K::ResponseEmpty)),
        r("/reset", "RST before any byte", Behaviour::Reset, edge(K::ResponseReset)),
        r("/head-truncated", "FIN in the middle of the head (row 67)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Le"), edge(K::HeadTruncated)),
        r("/head-reset", "RST in the middle of the head",
            Behaviour::Reply { bytes: b"HTTP/1.1 200 OK\r\nContent-Le", end: End::Reset }, edge(K::HeadReset)),
        Route { hint: ProbeHint::SHORT, ..r("/hang", "accept, read the request, never answer",
            Behaviour::Hang, Expect::edge(524, K::ResponseTimeout)) },
        Route { hint: ProbeHint::SHORT, ..r("/hang-mid-head", "half a head, then silence",
            Behaviour::Reply { bytes: b"HTTP/1.1 200 OK\r\nContent-Type: text/pl", end: End::Hold },
            Expect::edge(524, K::ResponseTimeout)) },

        // Status line (rows 1-19).
        r("/no-status-line", "a bare body, no status line: HTTP/0.9 style (row 1)",
            fin(b"hello world\n"), edge(K::StartLineMissing)),
        r("/body-before-head", "body bytes first, then header lines, never a status line",
            fin(b"<html><body>Warning: output started early</body></html>\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"),
            edge(K::StartLineMissing)),
        r("/garbage-prefix", "junk line before the status line (row 2)",
            fin(b"xyz\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::StartLineGarbagePrefix)),
        r("/leading-crlf", "an empty line before the status line (row 3)",
            fin(b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/version-lowercase", "protocol name `http` in lower case (row 4)",
            fin(b"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::VersionBadName)),
        r("/version-2", "`HTTP/2.0` in an HTTP/1 status line (row 5)",
            fin(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::VersionUnsupportedMajor)),
        r("/version-1.2", "`HTTP/1.2`: unknown minor, treated as 1.1 (row 6)",
            fin(b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/version-multi-digit", "`HTTP/1.10` (row 7)",
            fin(b"HTTP/1.10 200 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::VersionMultiDigit)),
        r("/version-0.9", "`HTTP/0.9` status line (row 8)",
            fin(b"HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::VersionHttp09)),
        r("/status-2-digits", "status `20` (row 9)",
            fin(b"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::StatusTooFewDigits)),
        r("/status-4-digits", "status `2000` (row 10)",
            fin(b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::StatusNot3Digits)),
        r("/status-non-digit", "status `2x0` (row 11)",
            fin(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::StatusNonDigit)),
        r("/status-sub-status", "IIS sub-status `403.1` (row 11)",
            fin(b"HTTP/1.1 403.1 Forbidden\r\nContent-Length: 2\r\n\r\nok"), edge(K::StatusSubStatus)),
        r("/status-000", "status `000` (row 12)",
            fin(b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok"), edge(K::StatusBelow100)),
        r("/status-600", "status `600`: outside 100-599, forwarded; clients treat it as a 5xx (row 13)",
            fin(b"HTTP/1.1 600 High\r\nContent-Length: 2\r\n\r\nok"), Expect::pass(600)),
        r("/status-no-reason", "`HTTP/1.1 200` without SP or reason (row 14)",
            fin(b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/status-extra-space", "two SP after the version (row 15)",
            fin(b"HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/status-tab", "HTAB instead of SP after the version (row 16)",
            fin(b"HTTP/1.1\t200 OK\r\nContent-Length: 2\r\n\r\nok"), edge(K::StatusLineBadDelimiter)),
        r("/reason-ctl", "a control byte in the reason phrase (row 17)",
            fin(b"HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/reason-obs-text", "UTF-8 bytes in the reason phrase (row 18)",
            fin(b"HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/status-bare-cr", "a bare CR ends the status line (row 19)",
            fin(b"HTTP/1.1 200 OK\rX-A: b\r\nContent-Length: 2\r\n\r\nok"), edge(K::StartLineBareCr)),

        // Field lines (rows 20-37).
        r("/bare-lf", "bare LF line ends throughout the head (row 20)",
            fin(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"), pass(200)),
        r("/space-before-colon", "`X-Foo : bar` (row 21)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo : bar\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/framing-name-ws", "`Content-Length : 2` (row 22)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"), edge(K::FramingNameWs)),
        r("/obs-fold", "a folded field value (row 23)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo: a\r\n b\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/ws-before-first-field", "the first field line starts with SP (row 24)",
            fin(b"HTTP/1.1 200 OK\r\n X-Foo: bar\r\nContent-Length: 2\r\n\r\nok"), edge(K::HeadWsAfterStartLine)),
        r("/missing-colon", "`X-Foo bar` (row 25)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo bar\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldMissingColon)),
        r("/empty-field-name", "`: bar` (row 26)",
            fin(b"HTTP/1.1 200 OK\r\n: bar\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldNameEmpty)),
        r("/non-token-name", "`X@Foo: bar` (row 27)",
            fin(b"HTTP/1.1 200 OK\r\nX@Foo: bar\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldNameNonToken)),
        r("/non-ascii-name", "UTF-8 in a field name (row 27)",
            fin(b"HTTP/1.1 200 OK\r\nX-F\xc3\xb6o: bar\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldNameNonToken)),
        r("/underscore-name", "`X_Foo: bar`, a valid name (row 28)",
            fin(b"HTTP/1.1 200 OK\r\nX_Foo: bar\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/value-nul", "NUL in a field value (row 29)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo: a\x00b\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldValueNul)),
        r("/value-bare-cr", "bare CR in a field value (row 30)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo: a\rb\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldValueBareCr)),
        r("/value-ctl", "0x01 in a field value (row 31)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo: a\x01b\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/value-obs-text", "bytes 0xFF 0xFE in a field value (row 32)",
            fin(b"HTTP/1.1 200 OK\r\nX-Foo: \xff\xfe\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/fields-150", "150 field lines (row 33)", fin(many_fields(150)), pass(200)),
        r("/fields-300", "300 field lines, over Pingora's 256 (row 33)",
            fin(many_fields(300)), edge(K::HeadTooManyFields)),
        r("/head-20k", "a 20 KiB head: over the old 16 KB budget (row 34)",
            fin(padded_head(HEAD_20K)), pass(200)),
        r("/set-cookie-flood", "60 Set-Cookie lines, about 18 KB of head",
            fin(set_cookie_flood(60)), pass(200)),
        r("/head-130k", "a 130 KiB head: over Cloudflare's 128 KB (row 35)",
            fin(padded_head(HEAD_130K)), edge(K::HeadTooLarge)),
        r("/status-line-in-head", "a status line repeated as a field line (row 36)",
            fin(b"HTTP/1.1 200 OK\r\nHTTP/1.1 302 Found\r\nContent-Length: 2\r\n\r\nok"), edge(K::FieldStatusLineInHead)),
        r("/duplicate-location", "two Location fields (row 37)",
            fin(b"HTTP/1.1 200 OK\r\nLocation: /a\r\nLocation: /b\r\nContent-Length: 2\r\n\r\nok"), pass(200)),

        // Framing (rows 38-49).
        r("/cl-and-te", "Content-Length and chunked together; CL is dropped (row 38)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), pass(200)),
        r("/cl-duplicate", "`Content-Length: 2` twice (row 39)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"), edge(K::FramingClDuplicateSame)),
        r("/cl-conflict", "`Content-Length: 2` and `3` (row 40)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"), edge(K::FramingClConflict)),
        r("/cl-list", "`Content-Length: 2, 2` (row 41)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"), edge(K::FramingClList)),
        r("/cl-invalid", "`Content-Length: 0x2` (row 42)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok"), edge(K::FramingClInvalid)),
        r("/cl-negative", "`Content-Length: -1` (row 42)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok"), edge(K::FramingClInvalid)),
        r("/cl-overflow", "a Content-Length beyond 64 bits (row 43)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok"), edge(K::FramingClOverflow)),
        r("/cl-leading-zeros", "`Content-Length: 0002`, valid (row 44)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok"), pass(200)),
        r("/te-gzip-chunked", "`Transfer-Encoding: gzip, chunked`, valid (row 45)",
            fin(te_gzip_chunked()), pass(200)),
        r("/te-chunked-not-final", "`Transfer-Encoding: chunked, gzip` (row 46)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n"), edge(K::TeChunkedNotFinal)),
        r("/te-identity", "`Transfer-Encoding: identity` (row 46)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nok"), edge(K::TeUnknown)),
        r("/te-chunked-params", "`Transfer-Encoding: chunked;foo=bar` (row 46)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;foo=bar\r\n\r\n2\r\nok\r\n0\r\n\r\n"), edge(K::TeChunkedParams)),
        r("/te-chunked-twice", "two `Transfer-Encoding: chunked` lines (row 47)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
            edge(K::TeChunkedTwice)),
        r("/te-http10", "chunked in an HTTP/1.0 response (row 48)",
            fin(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), pass(200)),
        r("/te-uppercase", "`Transfer-Encoding: CHUNKED`, valid (row 49)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n"), pass(200)),

        // Chunked body and body length (rows 50-61): the head was forwarded already.
        r("/chunk-size-invalid", "chunk-size `zz` (row 50)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n"), body(K::ChunkSizeInvalid)),
        r("/chunk-size-0x", "chunk-size `0x2` (row 50)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n"), body(K::ChunkSizeInvalid)),
        r("/chunk-size-empty", "an empty chunk-size line (row 51)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n2\r\nok\r\n0\r\n\r\n"), body(K::ChunkSizeEmpty)),
        r("/chunk-size-overflow", "a 19-digit hex chunk-size (row 52)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nok\r\n0\r\n\r\n"), body(K::ChunkSizeOverflow)),
        r("/chunk-bare-lf", "bare LF after a chunk-size (row 53)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n"), body(K::ChunkBareLf)),
        r("/chunk-ext-newline", "LF inside a chunk extension (row 54)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a\nb\r\nok\r\n0\r\n\r\n"), body(K::ChunkExtNewline)),
        r("/chunk-size-trailing-ws", "chunk-size `2 ` with a trailing SP (row 55)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n"), pass(200)),
        r("/chunk-overrun", "chunk data longer than its size (row 56)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX\r\n0\r\n\r\n"), body(K::ChunkDataOverrun)),
        r("/chunked-eof", "FIN before the last chunk (row 57)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"), body(K::BodyIncompleteChunked)),
        r("/trailer-invalid", "a trailer line without colon (row 58)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nbad trailer\r\n\r\n"), pass(200)),
        r("/after-last-chunk", "bytes after the last chunk (row 59)",
            fin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nEXTRA"), pass(200)),
        r("/short-of-cl", "Content-Length 10, 2 bytes, FIN (row 60)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok"), body(K::BodyShortOfCl)),
        r("/excess-after-cl", "more bytes than Content-Length (row 61)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"), pass(200)),
        r("/body-reset", "Content-Length 20, 10 bytes, RST",
            Behaviour::Reply { bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789", end: End::Reset },
            body(K::BodyReset)),
        Route { hint: ProbeHint::SHORT, ..r("/stall-body", "Content-Length 20, 10 bytes, then silence",
            Behaviour::Reply { bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789", end: End::Hold },
            body(K::BodyStalled)) },

        // Bodiless statuses and interim responses (rows 63-66).
        r("/body-on-204", "a 204 with Content-Length and a body (row 63)",
            fin(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"), pass(204)),
        Route { hint: ProbeHint::HEAD, ..r("/body-on-head", "a body even in answer to HEAD (row 64)",
            fin(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), pass(200)) },
        r("/continue-then-200", "an unasked-for 100 Continue, then the 200 (row 65)",
            fin(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), pass(200)),
        r("/early-hints", "103 Early Hints, then the 200",
            fin(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            pass(200)),
        r("/unsolicited-101", "101 Switching Protocols to a plain GET (row 66)",
            fin(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            edge(K::StatusUnsolicited101)),

        // Content coding: the edge answers 502 (Cloudflare's 502/504 page).
        r("/gzip-cl-decoded", "gzip body, Content-Length is the decoded length, FIN",
            fin(gzip_cl_decoded()), enc(K::EncodingClIsDecodedLength)),
        r("/gzip-truncated", "gzip stream cut short by its Content-Length",
            fin(gzip_truncated()), enc(K::EncodingTruncated)),
        r("/gzip-corrupt", "a gzip header followed by bytes that are not deflate",
            fin(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 33\r\n\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate data at all"),
            enc(K::EncodingCorrupt)),
        r("/gzip-not-encoded", "`Content-Encoding: gzip` on a plain body",
            fin(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\nhello world\n"),
            enc(K::EncodingNotEncoded)),

        // The origin's own errors: the fault is behind it.
        r("/origin-500", "the origin answers 500 itself",
            keep(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\napp crashed.\n"),
            Expect::origin(500, K::StatusOrigin5xx)),
        r("/origin-502", "the origin's own proxy answers 502",
            keep(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n\r\nupstream failed.\n"),
            Expect::origin(502, K::StatusOrigin5xx)),
        r("/origin-504", "the origin's own proxy answers 504",
            keep(b"HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\nupstream too slow.\n"),
            Expect::origin(504, K::StatusOrigin5xx)),

        // Slow but fine.
        r("/slow-trickle", "a valid 200 written in 20 pieces over 2 s",
            Behaviour::Script { steps: trickle(SLOW_OK, 20, Duration::from_secs(2)), end: End::Fin }, pass(200)),
        r("/slow-first-byte", "a valid 200 after a 1.5 s pause",
            Behaviour::Script { steps: SLOW_FIRST_BYTE, end: End::Fin },
            pass(200)),
    ];
    table.insert(0, index(&table));
    table
}

/// The response of the slow routes.
const SLOW_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nslow, but complete.\n";

/// `/slow-first-byte`: the response after a pause.
const SLOW_FIRST_BYTE: &[Step] = &[
    Step::Sleep(Duration::from_millis(1500)),
    Step::Write(SLOW_OK),
];

/// `/`: a clean 200 listing every route.
fn index(table: &[Route]) -> Route {
    const SUMMARY: &str = "a clean 200 listing the routes";
    let mut text = String::from("originlens lab: an origin that misbehaves on purpose.\n\n");
    let width = table.iter().map(|r| r.path.len()).max().unwrap_or(1);
    text.push_str(&format!("{:width$}  200 origin -  {SUMMARY}\n", "/"));
    for r in table {
        let e = &r.expect;
        let cause = e.cause.map_or("-", |c| c.as_str());
        text.push_str(&format!(
            "{:width$}  {} {} {}  {}\n",
            r.path,
            e.status,
            e.generated_by.as_str(),
            cause,
            r.summary
        ));
    }
    let bytes = with_body(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n",
        text.as_bytes(),
    );
    route_("/", SUMMARY, keep(bytes), Expect::pass(200))
}

/// `head` (status line and fields, each ending in CRLF) plus a matching Content-Length and `body`.
fn with_body(head: &str, body: &[u8]) -> &'static [u8] {
    let mut v = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    leak(v)
}

/// A 200 whose head (through the empty line) is exactly `size` bytes, padded by one long field.
fn padded_head(size: usize) -> &'static [u8] {
    let (start, end) = (
        "HTTP/1.1 200 OK\r\nX-Padding: ",
        "\r\nContent-Length: 2\r\n\r\n",
    );
    let pad = size.saturating_sub(start.len() + end.len());
    let mut v = Vec::with_capacity(size + 2);
    v.extend_from_slice(start.as_bytes());
    v.resize(v.len() + pad, b'a');
    v.extend_from_slice(end.as_bytes());
    v.extend_from_slice(b"ok");
    leak(v)
}

/// A 200 with `n` short fields `X-H1: v` … before its Content-Length.
fn many_fields(n: usize) -> &'static [u8] {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for i in 1..=n {
        head.push_str(&format!("X-H{i}: v\r\n"));
    }
    with_body(&head, b"ok")
}

/// A 200 with `n` Set-Cookie lines of 300 bytes each, as a shop plugin might send.
fn set_cookie_flood(n: usize) -> &'static [u8] {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    let value = "x".repeat(256);
    for i in 0..n {
        head.push_str(&format!(
            "Set-Cookie: c{i:02}={value}; Path=/; Secure; HttpOnly\r\n"
        ));
    }
    with_body(&head, b"ok")
}

/// The decoded body of the encoding routes.
fn encoded_text() -> Vec<u8> {
    ENCODED_TEXT.repeat(ENCODED_REPEAT)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

fn gzip_ok() -> &'static [u8] {
    with_body(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n",
        &gzip(&encoded_text()),
    )
}

fn br_ok() -> &'static [u8] {
    let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 9, 22);
    w.write_all(&encoded_text()).expect("br into memory");
    let data = w.into_inner();
    with_body(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: br\r\n",
        &data,
    )
}

/// The compressed bytes under a Content-Length that counts the decoded bytes: a server that
/// compressed after computing the length.
fn gzip_cl_decoded() -> &'static [u8] {
    let text = encoded_text();
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        text.len()
    )
    .into_bytes();
    v.extend_from_slice(&gzip(&text));
    leak(v)
}

/// A Content-Length of half the gzip stream, and only that many bytes.
fn gzip_truncated() -> &'static [u8] {
    let gz = gzip(&encoded_text());
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n";
    with_body(head, &gz[..gz.len() / 2])
}

/// `gzip, chunked`: the body is gzip-coded, then chunked, as RFC 9112 §6.1 allows.
fn te_gzip_chunked() -> &'static [u8] {
    let gz = gzip(b"ok");
    let mut v = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec();
    v.extend_from_slice(format!("{:x}\r\n", gz.len()).as_bytes());
    v.extend_from_slice(&gz);
    v.extend_from_slice(b"\r\n0\r\n\r\n");
    leak(v)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Read as _;

    use super::*;
    use crate::behaviour::head_of;

    fn bytes(path: &str) -> Vec<u8> {
        route(path)
            .unwrap_or_else(|| panic!("no route {path}"))
            .behaviour
            .bytes()
    }

    /// Splits a response into (head, body) at the first empty line.
    fn split(b: &[u8]) -> (&[u8], &[u8]) {
        let head = head_of(b);
        (head, &b[head.len()..])
    }

    fn field<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
        std::str::from_utf8(head).ok()?.split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The status code of the last status line at a line start (the final response after 1xx).
    fn final_status(b: &[u8]) -> Option<u16> {
        let mut last = None;
        for i in 0..b.len() {
            if (i == 0 || b[i - 1] == b'\n') && b[i..].starts_with(b"HTTP/1.") {
                // Lenient on purpose: the version token, any run of SP, then the code.
                let line = b[i..].split(|&c| c == b'\n').next()?;
                let code = line
                    .split(|&c| c == b' ')
                    .filter(|t| !t.is_empty())
                    .nth(1)?;
                last = std::str::from_utf8(code.get(..3)?).ok()?.parse().ok();
            }
        }
        last
    }

    #[test]
    fn enough_routes_with_unique_plain_paths() {
        let all = routes();
        assert!(all.len() >= 40, "only {} routes", all.len());
        let mut seen = HashSet::new();
        for r in all {
            assert!(seen.insert(r.path), "duplicate path {}", r.path);
            assert!(
                r.path.starts_with('/') && !r.path.contains(['?', '#', ' ']),
                "{}",
                r.path
            );
            assert!(
                !r.summary.is_empty() && !r.summary.contains('\n'),
                "{}",
                r.path
            );
        }
        assert_eq!(all[0].path, "/");
        assert!(route("/nope").is_none());
    }

    #[test]
    fn every_expectation_is_consistent() {
        for r in routes() {
            let e = r.expect;
            let p = r.path;
            assert_eq!(
                e.cause.is_some(),
                e.finding.is_some(),
                "{p}: cause and finding go together"
            );
            if let (Some(c), Some(k)) = (e.cause, e.finding) {
                assert_eq!(k.cause(), c, "{p}: finding {k} belongs to {}", k.cause());
            }
            match e.generated_by {
                GeneratedBy::Edge => {
                    assert!(e.status >= 500, "{p}: edge status {}", e.status);
                    assert!(
                        e.cause.is_some(),
                        "{p}: the edge generates an error only for a cause"
                    );
                }
                // The visitor sees the origin's own final status.
                GeneratedBy::Origin => {
                    assert_eq!(
                        final_status(&r.behaviour.bytes()),
                        Some(e.status),
                        "{p}: status"
                    );
                }
            }
            let stalls = matches!(r.behaviour.end(), None | Some(End::Hold));
            assert_eq!(
                stalls,
                r.hint.read_timeout.is_some(),
                "{p}: stalling routes need a short timeout"
            );
            if matches!(e.cause, Some(Cause::ResponseTimeout | Cause::BodyTimeout)) {
                assert!(stalls, "{p}: a timeout cause needs a route that stalls");
            }
        }
    }

    #[test]
    fn clean_keep_alive_routes_are_well_formed() {
        let clean = routes().iter().filter(|r| {
            matches!(r.behaviour, Behaviour::Reply { .. }) && r.behaviour.keeps_alive()
        });
        let mut n = 0;
        for r in clean {
            n += 1;
            let b = r.behaviour.bytes();
            let (head, body) = split(&b);
            let text =
                std::str::from_utf8(head).unwrap_or_else(|_| panic!("{}: non-UTF-8 head", r.path));
            assert!(
                text.starts_with("HTTP/1.1 ") && text.ends_with("\r\n\r\n"),
                "{}",
                r.path
            );
            assert!(!text[..text.len() - 4]
                .split("\r\n")
                .any(|l| l.is_empty() || l.contains('\r') || l.contains('\n')));
            match (
                field(head, "content-length"),
                field(head, "transfer-encoding"),
            ) {
                (Some(cl), None) => assert_eq!(
                    cl.parse::<usize>().unwrap(),
                    body.len(),
                    "{}: Content-Length",
                    r.path
                ),
                (None, Some("chunked")) => assert!(body.ends_with(b"0\r\n\r\n"), "{}", r.path),
                other => panic!("{}: framing {other:?}", r.path),
            }
        }
        assert!(n >= 8, "only {n} keep-alive routes");
    }

    #[test]
    fn head_sizes_are_as_named() {
        assert_eq!(head_of(&bytes("/head-20k")).len(), HEAD_20K);
        assert_eq!(head_of(&bytes("/head-130k")).len(), HEAD_130K);
        let flood = bytes("/set-cookie-flood");
        let head = head_of(&flood);
        assert_eq!(head.windows(11).filter(|w| w == b"Set-Cookie:").count(), 60);
        assert!(
            (17_000..19_500).contains(&head.len()),
            "flood head is {} bytes",
            head.len()
        );
        let count = |p| {
            head_of(&bytes(p))
                .windows(3)
                .filter(|w| w == b"X-H")
                .count()
        };
        assert_eq!((count("/fields-150"), count("/fields-300")), (150, 300));
    }

    fn gunzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn encoding_routes_break_exactly_as_named() {
        let text = ENCODED_TEXT.repeat(ENCODED_REPEAT);
        let cl = |h: &[u8]| {
            field(h, "content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap()
        };

        let b = bytes("/gzip-ok");
        let (h, body) = split(&b);
        assert_eq!((cl(h), gunzip(body).unwrap()), (body.len(), text.clone()));

        let b = bytes("/br-ok");
        let (h, body) = split(&b);
        let mut out = Vec::new();
        brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!((cl(h), out), (body.len(), text.clone()));

        let b = bytes("/gzip-cl-decoded");
        let (h, body) = split(&b);
        assert_eq!(cl(h), text.len());
        assert!(body.len() < text.len());
        assert_eq!(gunzip(body).unwrap(), text);

        let b = bytes("/gzip-truncated");
        let (h, body) = split(&b);
        assert_eq!(cl(h), body.len());
        assert!(gunzip(body).is_err(), "a truncated stream must not decode");

        for p in ["/gzip-corrupt", "/gzip-not-encoded"] {
            let b = bytes(p);
            let (h, body) = split(&b);
            assert_eq!(cl(h), body.len(), "{p}");
            assert!(gunzip(body).is_err(), "{p} must not decode");
        }

        let b = bytes("/te-gzip-chunked");
        let (_, body) = split(&b);
        let size =
            std::str::from_utf8(&body[..body.iter().position(|&c| c == b'\r').unwrap()]).unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        let start = body.iter().position(|&c| c == b'\n').unwrap() + 1;
        assert_eq!(gunzip(&body[start..start + size]).unwrap(), b"ok");
        assert_eq!(&body[start + size..], b"\r\n0\r\n\r\n");
    }

    #[test]
    fn the_index_lists_every_route() {
        let index = bytes("/");
        let text = String::from_utf8(index).unwrap();
        for r in routes() {
            assert!(
                text.contains(&format!("\n{} ", r.path)),
                "index lacks {}",
                r.path
            );
        }
    }
}
