//! The signature catalogue: every log line format from `docs/reference/log-signatures.md`, as data.
//!
//! Each [`Signature`] names one line format: the program that writes it, a literal that every
//! such line contains (the scanner looks for these literals over the whole buffer first), a regex
//! with named groups run only on lines that contain the literal, the cause id it points to, the
//! role it plays in a story (a process died, a proxy saw the consequence, a pool is full, or just
//! context), the status the visitor most likely saw, and an example line that the unit tests
//! match. Some lines need a second look at their fields (a signal number, an nginx action, an APR
//! status): [`Signature::refine`] does that.

use originlens_wire::Cause;
use serde::Serialize;

use crate::fields::Fields;
use crate::source::{is_edge_comm, is_edge_unit, Source};

/// The part a line plays in an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A process died or was killed (segfault, OOM kill, supervisor timeout kill).
    Kill,
    /// A proxy saw the consequence of a failure behind it (upstream closed, reset, timed out).
    Symptom,
    /// A state that explains failures on its own (pool full, service down, fatal error).
    Condition,
    /// A detail that helps the story but explains nothing alone.
    Context,
}

impl Role {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kill => "kill",
            Role::Symptom => "symptom",
            Role::Condition => "condition",
            Role::Context => "context",
        }
    }
}

/// What one matched line means, after [`Signature::refine`] looked at its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The cause id.
    pub cause: Cause,
    /// The part the line plays.
    pub role: Role,
    /// The status the visitor most likely saw.
    pub status: &'static str,
    /// The line is about the edge-facing server itself (its death means 520).
    pub edge_facing: bool,
    /// The cause was inferred (e.g. from a signal number) rather than stated by the line.
    pub inferred: bool,
}

/// One catalogued line format.
#[derive(Debug)]
pub struct Signature {
    /// Row id in the reference (`N1`, `P3`, `K5`, ...).
    pub id: &'static str,
    /// The program that writes the line.
    pub source: Source,
    /// What happened, in a few words.
    pub title: &'static str,
    /// A literal every matching line contains; the scanner's prefilter.
    pub literal: &'static str,
    /// Regex (bytes, unanchored) with named groups: `pid`, `signal`, `signame`, `memory`,
    /// `upstream`, `request`, `client`, `host`, `comm`, `unit`, `pool`, `script`, `detail`,
    /// `status`, `conn`.
    pub pattern: &'static str,
    /// The cause when [`Signature::refine`] does not say otherwise.
    pub cause: Cause,
    /// The role when [`Signature::refine`] does not say otherwise.
    pub role: Role,
    /// The status the visitor most likely saw (Cloudflare in front).
    pub status: &'static str,
    /// An example line from the reference (unit tests match it).
    pub example: &'static str,
    /// Looks at the extracted fields and adjusts the verdict.
    pub refine: Option<fn(&Fields, &mut Verdict)>,
}

impl Signature {
    /// The verdict for a line with these fields.
    pub fn verdict(&self, fields: &Fields) -> Verdict {
        let mut v = Verdict {
            cause: self.cause,
            role: self.role,
            status: self.status,
            edge_facing: false,
            inferred: false,
        };
        if let Some(refine) = self.refine {
            refine(fields, &mut v);
        }
        v
    }
}

/// Maps a process death by signal to a cause: SIGKILL is usually the OOM killer (confirm with a
/// kernel line), SIGTERM usually a supervisor's timeout, SIGQUIT a graceful reload.
fn by_signal(f: &Fields, v: &mut Verdict) {
    match f.signal {
        Some(9) => {
            v.cause = Cause::OomKill;
            v.inferred = true;
        }
        Some(15) => {
            v.cause = Cause::TimeoutKill;
            v.inferred = true;
        }
        Some(3) | Some(1) => {
            v.cause = Cause::ProcessRestart;
            v.role = Role::Context;
        }
        _ => {}
    }
}

/// nginx's own worker died: that is the edge-facing process.
fn nginx_worker(f: &Fields, v: &mut Verdict) {
    v.edge_facing = true;
    if f.signal == Some(9) {
        v.cause = Cause::OomKill;
        v.inferred = true;
    }
}

/// Apache child died: edge-facing.
fn edge_process(_: &Fields, v: &mut Verdict) {
    v.edge_facing = true;
}

/// A kernel line naming an edge-facing `comm` means the edge server itself died.
fn kernel_comm(f: &Fields, v: &mut Verdict) {
    if f.comm.as_deref().is_some_and(is_edge_comm) {
        v.edge_facing = true;
        v.status = "520";
    }
}

/// The nginx action says which phase timed out.
fn nginx_timeout_action(f: &Fields, v: &mut Verdict) {
    if f.detail.as_deref() == Some("reading upstream") {
        v.cause = Cause::BodyTimeout;
        v.status = "origin status, stalled body";
    }
}

/// APR status 70007 (`The timeout specified has expired`) turns a read error into a timeout.
fn apr_timeout(f: &Fields, v: &mut Verdict) {
    if f.code.as_deref() == Some("70007") {
        v.cause = Cause::TimeoutUpstream;
        v.status = "504";
    }
}

/// AH00898's text says what went wrong.
fn apache_proxy_error(f: &Fields, v: &mut Verdict) {
    let d = f.detail.as_deref().unwrap_or("");
    if d.starts_with("Corrupt status line") {
        v.cause = Cause::StartLineInvalid;
    } else if d.starts_with("Malformed connection header") {
        v.cause = Cause::FieldInvalid;
    } else if d.contains("SSL Handshake") {
        v.cause = Cause::TlsHandshake;
        v.status = "500";
    } else if d.starts_with("Timeout on 100-Continue") {
        v.cause = Cause::TimeoutUpstream;
        v.status = "503";
    }
}

/// systemd's `code=` says how the main process ended.
fn systemd_main_exit(f: &Fields, v: &mut Verdict) {
    v.edge_facing = f.unit.as_deref().is_some_and(is_edge_unit);
    match (f.code.as_deref(), f.signal) {
        (Some("dumped"), _) => v.cause = Cause::CrashSignal,
        (Some("killed"), Some(9)) => {
            v.cause = Cause::OomKill;
            v.inferred = true;
        }
        // An ordinary stop (`systemctl stop`, a reload): no failure.
        (Some("killed"), Some(15)) | (Some("killed"), Some(1)) => {
            v.cause = Cause::ProcessRestart;
            v.role = Role::Context;
        }
        (Some("killed"), _) => v.cause = Cause::CrashSignal,
        // code=exited: status 0 is a clean stop; anything else a failed start or exit().
        _ => {
            v.cause = Cause::ProcessRestart;
            v.role = if f.signal == Some(0) {
                Role::Context
            } else {
                Role::Condition
            };
        }
    }
}

/// systemd's unit failure result.
fn systemd_result(f: &Fields, v: &mut Verdict) {
    v.edge_facing = f.unit.as_deref().is_some_and(is_edge_unit);
    v.cause = match f.detail.as_deref() {
        Some("oom-kill") => Cause::OomKill,
        Some("core-dump") | Some("signal") => Cause::CrashSignal,
        _ => Cause::ProcessRestart,
    };
}

/// systemd units: edge-facing when nginx/apache.
fn systemd_unit(f: &Fields, v: &mut Verdict) {
    v.edge_facing = f.unit.as_deref().is_some_and(is_edge_unit);
}

/// Core dumps name the process.
fn coredump(f: &Fields, v: &mut Verdict) {
    kernel_comm(f, v);
}

/// gunicorn/uWSGI/Unicorn worker deaths by signal; SIGABRT follows a gunicorn WORKER TIMEOUT.
fn worker_signal(f: &Fields, v: &mut Verdict) {
    match f.signal {
        Some(9) => {
            v.cause = Cause::OomKill;
            v.inferred = true;
        }
        Some(6) => {
            v.cause = Cause::TimeoutKill;
            v.inferred = true;
        }
        Some(15) | Some(1) | Some(3) => {
            v.cause = Cause::ProcessRestart;
            v.role = Role::Context;
        }
        Some(_) => {}
        None => v.inferred = true,
    }
}

/// uWSGI's `killed by signal N`: 6 is an abort (a C-level assert or `abort()`), not a timeout;
/// harakiri says so in its own line.
fn uwsgi_signal(f: &Fields, v: &mut Verdict) {
    match f.signal {
        Some(6) => v.cause = Cause::CrashSignal,
        _ => worker_signal(f, v),
    }
}

macro_rules! catalogue {
    ($( $id:literal $source:ident $role:ident $cause:ident $status:literal $title:literal
        lit $literal:literal re $pattern:literal ex $example:literal $(refine $refine:ident)? ;)*) => {
        /// Every catalogued signature, in the order the scanner tries them on a line (more
        /// specific rows first).
        pub static SIGNATURES: &[Signature] = &[
            $( Signature {
                id: $id,
                source: Source::$source,
                title: $title,
                literal: $literal,
                pattern: $pattern,
                cause: Cause::$cause,
                role: Role::$role,
                status: $status,
                example: $example,
                refine: catalogue!(@refine $($refine)?),
            }, )*
        ];
    };
    (@refine) => { None };
    (@refine $f:ident) => { Some($f) };
}

catalogue! {
    // ---- nginx error.log (§2) ----
    "N1" Nginx Symptom ResponseEmpty "502" "nginx: upstream closed the connection before sending a response head"
        lit "prematurely closed"
        re r"upstream prematurely closed connection while (?P<detail>reading response header from upstream)"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9141 upstream prematurely closed connection while reading response header from upstream, client: 172.70.42.10, server: example.com, request: "GET /api/orders HTTP/1.1", upstream: "http://127.0.0.1:3000/api/orders", host: "example.com""#;
    "N2" Nginx Symptom BodyTruncated "origin status, cut-off body" "nginx: upstream closed the connection in the middle of the body"
        lit "prematurely closed"
        re r"upstream prematurely closed connection while (?P<detail>reading upstream)"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9142 upstream prematurely closed connection while reading upstream, client: 172.70.42.10, server: example.com, request: "GET /export.csv HTTP/1.1", upstream: "http://127.0.0.1:8000/export.csv", host: "example.com""#;
    "N19" Nginx Symptom ResponseEmpty "502" "nginx: FastCGI upstream ended its output without a response head"
        lit "prematurely closed"
        re r"upstream prematurely closed FastCGI (?P<detail>stdout|request)"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9220 upstream prematurely closed FastCGI stdout while reading response header from upstream, client: 172.70.42.10"#;
    "N3" Nginx Symptom ResponseReset "502" "nginx: upstream reset the connection before the response head"
        lit ") failed (104: "
        re r"(?:recv|readv)\(\) failed \(104: [^)]*\) while (?P<detail>reading response header from upstream)"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9150 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 172.70.42.10, server: example.com, request: "POST /login HTTP/1.1", upstream: "http://127.0.0.1:3000/login", host: "example.com""#;
    "N4" Nginx Symptom BodyTruncated "origin status, cut-off body" "nginx: upstream reset the connection in the middle of the body"
        lit ") failed (104: "
        re r"(?:readv|recv)\(\) failed \(104: [^)]*\) while (?P<detail>reading upstream)"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9151 readv() failed (104: Connection reset by peer) while reading upstream, client: 172.70.42.10, server: example.com, request: "GET /report HTTP/1.1", upstream: "http://10.0.0.5:8080/report", host: "example.com""#;
    "N5" Nginx Symptom KeepaliveRace "502" "nginx: upstream closed the connection while the request was sent"
        lit "(32: Broken pipe) while sending"
        re r"(?:writev|send)\(\) failed \(32: Broken pipe\) while sending request to upstream"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9160 writev() failed (32: Broken pipe) while sending request to upstream, client: 172.70.42.10, server: example.com, request: "POST /upload HTTP/1.1", upstream: "http://127.0.0.1:8000/upload", host: "example.com""#;
    "N6c" Nginx Condition UpstreamUnreachable "504" "nginx: connecting to the upstream timed out (a connect failure: host down or port filtered, not a slow backend)"
        lit "upstream timed out"
        re r"upstream timed out \(110: [^)]*\) while connecting to upstream"
        ex r#"2024/01/02 03:05:05 [error] 2211#2211: *9171 upstream timed out (110: Connection timed out) while connecting to upstream, client: 172.70.42.10, server: example.com, request: "GET / HTTP/1.1", upstream: "http://10.0.0.7:8080/", host: "example.com""#;
    "N6" Nginx Symptom TimeoutUpstream "504" "nginx: upstream timed out"
        lit "upstream timed out"
        re r"upstream timed out \(110: [^)]*\) while (?P<detail>reading response header from upstream|connecting to upstream|reading upstream|sending request to upstream)"
        ex r#"2024/01/02 03:05:05 [error] 2211#2211: *9170 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 172.70.42.10, server: example.com, request: "GET /slow HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com""#
        refine nginx_timeout_action;
    "N7" Nginx Condition UpstreamUnreachable "502" "nginx: connecting to the upstream failed"
        lit "connect() "
        re r"connect\(\) failed \((?P<code>111|113|110): (?P<detail>[^)]*)\) while connecting to upstream"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9180 connect() failed (111: Connection refused) while connecting to upstream, client: 172.70.42.10, server: example.com, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:3000/", host: "example.com""#;
    "N9" Nginx Condition Saturated "502" "nginx: the upstream's unix socket listen queue is full"
        lit "connect() "
        re r"connect\(\) to (?P<detail>unix:\S+) failed \(11: Resource temporarily unavailable\)"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9182 connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 172.70.42.10, server: example.com, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com""#;
    "N8" Nginx Condition UpstreamUnreachable "502" "nginx: the upstream is not listening"
        lit "connect() "
        re r"connect\(\) to (?P<detail>unix:\S+|\S+) failed \((?P<code>2|111|113|110): [^)]*\) while connecting to upstream"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9181 connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream, client: 172.70.42.10, server: example.com, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com""#;
    "N10" Nginx Condition UpstreamUnreachable "502" "nginx: no permission to connect to the upstream socket"
        lit "connect() "
        re r"connect\(\) to (?P<detail>\S+) failed \(13: Permission denied\)"
        ex r#"2024/01/02 03:04:05 [crit] 2211#2211: *9183 connect() to unix:/run/php/php8.2-fpm.sock failed (13: Permission denied) while connecting to upstream, client: 172.70.42.10"#;
    "N11" Nginx Condition UpstreamUnreachable "502" "nginx: every upstream peer is marked down"
        lit "no live upstreams"
        re r"no live upstreams while connecting to upstream"
        ex r#"2024/01/02 03:04:06 [error] 2211#2211: *9190 no live upstreams while connecting to upstream, client: 172.70.42.10, server: example.com, request: "GET / HTTP/1.1", upstream: "http://backend/", host: "example.com""#;
    "N12" Nginx Context UpstreamUnreachable "502" "nginx: an upstream peer was marked down"
        lit "temporarily disabled"
        re r"upstream server temporarily disabled while (?P<detail>[^,]+)"
        ex r#"2024/01/02 03:04:05 [warn] 2211#2211: *9141 upstream server temporarily disabled while reading response header from upstream, client: 172.70.42.10"#;
    "N13" Nginx Symptom HeadTooLarge "502" "nginx: the upstream's response head does not fit the proxy/fastcgi buffer"
        lit "upstream sent "
        re r"upstream sent too big header while reading response header from upstream"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9200 upstream sent too big header while reading response header from upstream, client: 172.70.42.10, server: example.com, request: "GET /cart HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com""#;
    "N14" Nginx Symptom FieldInvalid "502" "nginx: the upstream sent an invalid header line"
        lit "upstream sent "
        re r#"upstream sent invalid header(?:: "(?P<detail>.*?)")? while"#
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9210 upstream sent invalid header: "X-Debug\x0D..." while reading response header from upstream, client: 172.70.42.10"#;
    "N15" Nginx Symptom StartLineInvalid "502" "nginx: the upstream did not answer with an HTTP status line"
        lit "upstream sent "
        re r"upstream sent no valid HTTP/1\.0 header while reading response header"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9211 upstream sent no valid HTTP/1.0 header while reading response header from upstream, client: 172.70.42.10, upstream: "http://127.0.0.1:8443/""#;
    "N16" Nginx Symptom FramingInvalid "502" "nginx: the upstream's Content-Length/Transfer-Encoding cannot be trusted"
        lit "upstream sent "
        re r#"upstream sent (?P<detail>invalid "Content-Length" header|"Content-Length" and "Transfer-Encoding" headers at the same time|unknown "Transfer-Encoding"(?: header)?|duplicate header line[^,]*)"#
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9212 upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time while reading response header from upstream, client: 172.70.42.10"#;
    "N17" Nginx Symptom ChunkedInvalid "origin status, broken body" "nginx: the upstream's chunked body is malformed"
        lit "upstream sent "
        re r"upstream sent invalid chunked response"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9213 upstream sent invalid chunked response while reading upstream, client: 172.70.42.10"#;
    "N18" Nginx Context BodyExcess "origin status" "nginx: the upstream sent more than its Content-Length"
        lit "upstream sent "
        re r#"upstream sent more data than specified in "Content-Length" header"#
        ex r#"2024/01/02 03:04:05 [warn] 2211#2211: *9214 upstream sent more data than specified in "Content-Length" header while reading upstream, client: 172.70.42.10"#;
    "N20" Nginx Condition AppFatal "500" "nginx relayed a PHP fatal error from FastCGI stderr"
        lit "FastCGI sent in stderr"
        re r#"FastCGI sent in stderr: "(?:PHP message: )?(?P<detail>PHP Fatal error: .*?)(?:" while|$)"#
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9221 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in /var/www/app/src/Report.php on line 88" while reading response header from upstream, client: 172.70.42.10"#;
    "N21" Nginx Symptom TlsHandshake "502" "nginx: the TLS handshake with the upstream failed"
        lit "SSL handshaking to upstream"
        re r"(?P<detail>SSL_do_handshake\(\) failed \(SSL: .*\)|peer closed connection in SSL handshake.*|upstream SSL certificate verify error: \(\d+:.*\)) while SSL handshaking to upstream"
        ex r#"2024/01/02 03:04:05 [error] 2211#2211: *9230 SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream, client: 172.70.42.10, upstream: "https://10.0.0.5:8080/""#;
    "N22" Nginx Kill CrashSignal "520" "nginx worker process died on a signal"
        lit "exited"
        re r"\[alert\] \d+#\d+: (?:\*\d+ )?worker process (?P<pid>\d+) exited on signal (?P<signal>\d+)(?P<detail> \(core dumped\))?"
        ex r#"2024/01/02 03:04:05 [alert] 1022#1022: worker process 2211 exited on signal 11 (core dumped)"#
        refine nginx_worker;
    "N23" Nginx Condition Saturated "520/522" "nginx ran out of worker_connections"
        lit "worker_connections are not enough"
        re r"(?P<detail>\d+) worker_connections are not enough"
        ex r#"2024/01/02 03:04:05 [alert] 2211#2211: 1024 worker_connections are not enough"#
        refine edge_process;
    "N24" Nginx Condition Saturated "520/522" "nginx ran out of file descriptors"
        lit "Too many open files"
        re r"accept4?\(\) failed \(2[34]: Too many open files(?: in system)?\)"
        ex r#"2024/01/02 03:04:05 [crit] 2211#2211: accept4() failed (24: Too many open files)"#
        refine edge_process;

    // ---- access log, combined format (§2) ----
    "L1" AccessLog Symptom OriginError "502" "access log: the proxy answered 502"
        lit "\" 502 "
        re r#"^\S+ \S+ \S+ \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>502) (?:\d+|-)"#
        ex r#"172.70.42.10 - - [02/Jan/2024:03:04:05 +0000] "GET /api/orders HTTP/1.1" 502 166 "-" "Mozilla/5.0""#;
    "L2" AccessLog Symptom TimeoutUpstream "504" "access log: the proxy answered 504"
        lit "\" 504 "
        re r#"^\S+ \S+ \S+ \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>504) (?:\d+|-)"#
        ex r#"172.70.42.10 - - [02/Jan/2024:03:05:05 +0000] "GET /slow HTTP/1.1" 504 166 "-" "Mozilla/5.0""#;
    "L3" AccessLog Context ClientAbort "524 if near 125 s" "access log: the client (the edge) hung up first (499)"
        lit "\" 499 "
        re r#"^\S+ \S+ \S+ \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>499) (?:\d+|-)"#
        ex r#"172.70.42.10 - - [02/Jan/2024:03:06:10 +0000] "POST /checkout HTTP/1.1" 499 0 "-" "Mozilla/5.0""#;
    "L4" AccessLog Symptom ResponseEmpty "520" "access log: nginx closed without a response (444)"
        lit "\" 444 "
        re r#"^\S+ \S+ \S+ \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>444) (?:\d+|-)"#
        ex r#"172.70.42.10 - - [02/Jan/2024:03:04:05 +0000] "GET /wp-login.php HTTP/1.1" 444 0 "-" "curl/8.5.0""#
        refine edge_process;
    "L5" AccessLog Symptom H2Protocol "520" "access log: the stream ended before any response (000)"
        lit "\" 000 "
        re r#"^\S+ \S+ \S+ \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>000) (?:\d+|-)"#
        ex r#"172.70.42.10 - - [02/Jan/2024:03:04:05 +0000] "GET / HTTP/2.0" 000 0 "-" "-""#
        refine edge_process;

    // ---- Apache httpd 2.4 / 2.2 error log (§3) ----
    "A1" Apache Symptom ResponseReset "502" "Apache: no status line from the backend"
        lit "error reading status line"
        re r"(?:\((?P<code>-?\d+)\)(?P<detail>[^:\[]*): )?(?:\[client [^\]]+\] )?(?:AH01102: )?(?:proxy: )?error reading status line from remote server (?P<upstream>[^\s,]+)"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_http:error] [pid 3011:tid 140233] (104)Connection reset by peer: [client 172.70.42.10:51234] AH01102: error reading status line from remote server 127.0.0.1:8080"#
        refine apr_timeout;
    "A2" Apache Symptom ResponseEmpty "502" "Apache: the proxy gave up on the backend"
        lit "AH0"
        re r"AH00898: (?P<detail>.*) returned by (?P<request>\S+)"
        ex r#"[Tue Jan 02 03:04:05.123600 2024] [proxy:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH00898: Error reading from remote server returned by /api/orders"#
        refine apache_proxy_error;
    "A3" Apache Symptom KeepaliveRace "502" "Apache: sending the request body to the backend failed"
        lit "pass request body failed"
        re r"(?:AH0109[7]|AH01084)?:? ?(?:proxy: )?pass request body failed to (?P<upstream>\S+)"
        ex r#"[Tue Jan 02 03:04:05.120000 2024] [proxy_http:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH01097: pass request body failed to 127.0.0.1:8080 (127.0.0.1) from 172.70.42.10 ()"#
        refine apr_timeout;
    "A5" Apache Condition UpstreamUnreachable "503" "Apache: connecting to the backend failed"
        lit "attempt to connect to"
        re r"(?:AH00957|AH02454)?:? ?(?:proxy: )?(?P<detail>\w+): attempt to connect to (?:Unix domain socket )?(?P<upstream>\S+)(?: \([^)]*\))? failed"
        ex r#"[Tue Jan 02 03:04:05.100000 2024] [proxy:error] [pid 3011:tid 140233] (111)Connection refused: AH00957: HTTP: attempt to connect to 127.0.0.1:8080 (localhost:8080) failed"#;
    "A5b" Apache Condition UpstreamUnreachable "503" "Apache: no connection to the backend"
        lit "AH0"
        re r"(?:AH01114|AH01079): (?:\w+: )?failed to make connection to backend: (?P<upstream>\S+)"
        ex r#"[Tue Jan 02 03:04:05.100100 2024] [proxy:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH01114: HTTP: failed to make connection to backend: localhost"#;
    "A7" Apache Symptom ResponseEmpty "503" "Apache: the FastCGI backend closed before its response head"
        lit "AH0"
        re r"(?:AH01067: )?Failed to read FastCGI header"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_fcgi:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH01067: Failed to read FastCGI header"#;
    "A8" Apache Symptom ResponseEmpty "503" "Apache: dispatching to the FastCGI backend failed"
        lit "AH0"
        re r"(?:\((?P<code>-?\d+)\)[^:\[]*: )?(?:\[client [^\]]+\] )?AH01075: Error dispatching request to (?P<upstream>\S*)"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_fcgi:error] [pid 3011:tid 140233] (70007)The timeout specified has expired: [client 172.70.42.10:51234] AH01075: Error dispatching request to :"#
        refine apr_timeout;
    "A9" Apache Condition AppFatal "500" "Apache relayed a PHP fatal error from FastCGI"
        lit "AH0"
        re r"AH01071: Got error '(?:PHP message: )?(?P<detail>PHP Fatal error: .*?)'?$"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_fcgi:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH01071: Got error 'PHP message: PHP Fatal error:  Maximum execution time of 30 seconds exceeded in /var/www/html/index.php on line 12'"#;
    "A10" Apache Symptom FieldInvalid "502" "Apache: the FastCGI script's headers are malformed"
        lit "AH0"
        re r"AH01070: Error parsing script headers"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_fcgi:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH01070: Error parsing script headers"#;
    "A11" Apache Symptom ResponseEmpty "500" "Apache: the script ended before its headers"
        lit "script output before headers"
        re r"End of script output before headers: (?P<script>\S+)"
        ex r#"[Tue Jan 02 03:04:05.123500 2024] [cgid:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] End of script output before headers: app.cgi"#;
    "A11b" Apache Symptom ResponseEmpty "500" "Apache 2.2: the script ended before its headers"
        lit "Premature end of script headers"
        re r"Premature end of script headers: (?P<script>\S+)"
        ex r#"[Tue Jan 02 03:04:05 2024] [error] [client 172.70.42.10] Premature end of script headers: app.cgi"#;
    "A12" Apache Kill TimeoutKill "504" "Apache: a CGI script timed out before its headers"
        lit "Script timed out before returning headers"
        re r"Script timed out before returning headers: (?P<script>\S+)"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [cgid:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] Script timed out before returning headers: app.cgi"#;
    "A12b" Apache Kill TimeoutKill "504" "Apache: no output from a CGI script in time"
        lit "AH0"
        re r"AH01220: Timeout waiting for output from CGI script (?P<script>\S+)"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [cgid:warn] [pid 3011] [client 172.70.42.10:51234] AH01220: Timeout waiting for output from CGI script /usr/lib/cgi-bin/app.cgi"#;
    "A13" Apache Kill TimeoutKill "500" "mod_fcgid: read timeout, the process is killed"
        lit "mod_fcgid: "
        re r"mod_fcgid: read data timeout in (?P<detail>\d+) seconds"
        ex r#"[Tue Jan 02 03:04:45.000000 2024] [fcgid:warn] [pid 3011] [client 172.70.42.10:51234] mod_fcgid: read data timeout in 40 seconds"#;
    "A13b" Apache Kill CrashSignal "500" "mod_fcgid: a FastCGI process died"
        lit "mod_fcgid: "
        re r"mod_fcgid: process (?P<script>\S+)\((?P<pid>\d+)\) exit\((?P<detail>[^)]*)\), (?:get unexpected signal (?P<signal>\d+)|.*)"
        ex r#"[Tue Jan 02 03:04:45.000000 2024] [fcgid:info] [pid 3011] mod_fcgid: process /var/www/app.fcgi(4411) exit(communication error), get unexpected signal 11"#;
    "A14" Apache Kill CrashSignal "520" "Apache child process died on a signal"
        lit "exit signal "
        re r"(?:AH0005[12]: )?child pid (?P<pid>\d+) exit signal (?P<signame>[^(]+?) \((?P<signal>\d+)\)"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [core:notice] [pid 1001:tid 140111] AH00052: child pid 3011 exit signal Segmentation fault (11)"#
        refine edge_process;
    "A15" Apache Kill CrashSignal "520/521" "Apache parent process crashed"
        lit "nasty error"
        re r"seg fault or similar nasty error detected in the parent process"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [core:notice] [pid 1001] AH00060: seg fault or similar nasty error detected in the parent process"#
        refine edge_process;
    "A16" Apache Condition Saturated "522/524/520" "Apache reached MaxRequestWorkers"
        lit "AH0"
        re r"AH(?:00484|00161|00286|10159): server (?P<detail>reached|is within MinSpareThreads of) MaxRequestWorkers"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [mpm_event:error] [pid 1001:tid 140111] AH00484: server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting"#
        refine edge_process;
    "A16b" Apache Condition Saturated "522/524/520" "Apache 2.2 reached MaxClients"
        lit "server reached MaxClients"
        re r"server reached MaxClients setting"
        ex r#"[Tue Jan 02 03:04:05 2024] [error] server reached MaxClients setting, consider raising the MaxClients setting"#
        refine edge_process;
    "A17" Apache Symptom HeadTooLarge "502" "Apache: the backend's response header exceeds ResponseFieldSize"
        lit "AH1"
        re r"AH10124: header size is over the limit allowed by ResponseFieldSize \((?P<detail>\d+) bytes\)"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_http:warn] [pid 3011:tid 140233] (28)No space left on device: [client 172.70.42.10:51234] AH10124: header size is over the limit allowed by ResponseFieldSize (8192 bytes). Bad response header: 'Set-Cookie: a=AAAA[...]AAAA'"#;
    "A18" Apache Symptom FieldInvalid "502" "Apache: the backend's response head is malformed"
        lit "header returned by"
        re r"(?:AH01106: )?(?:proxy: )?bad HTTP/\d\.\d header returned by (?P<request>\S+)(?: \((?P<detail>\w+)\))?"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_http:warn] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH01106: bad HTTP/1.1 header returned by /cart (GET)"#;
    "A19" Apache Symptom FieldInvalid "500" "Apache: the application sent an invalid header name"
        lit "AH0"
        re r"AH02429: Response header name '(?P<detail>.*)' contains invalid characters"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [http:error] [pid 3011:tid 140233] [client 172.70.42.10:51234] AH02429: Response header name 'X Bad' contains invalid characters, aborting request"#;
    "A20" Apache Symptom BodyTruncated "origin status, cut-off body" "Apache: reading the backend's body failed"
        lit "AH0"
        re r"AH01110: error reading response"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [proxy_http:error] [pid 3011:tid 140233] (104)Connection reset by peer: [client 172.70.42.10:51234] AH01110: error reading response"#;
    "A21" Apache Symptom BodyTruncated "origin status, cut-off body" "Apache: reading a script's or backend's output failed"
        lit "AH0"
        re r"(?:\((?P<code>-?\d+)\)[^:\[]*: )?(?:\[client [^\]]+\] )?AH00574: ap_content_length_filter"
        ex r#"[Tue Jan 02 03:04:05.123456 2024] [core:error] [pid 3011] (70007)The timeout specified has expired: [client 172.70.42.10:51234] AH00574: ap_content_length_filter: apr_bucket_read() failed"#
        refine apr_timeout;

    // ---- PHP-FPM and PHP (§4) ----
    "P1" PhpFpm Kill CrashSignal "502" "php-fpm child died on a signal"
        lit "exited"
        re r"\[pool +(?P<pool>\S+)\] child (?P<pid>\d+) exited on signal (?P<signal>\d+) \((?P<signame>SIG\w+)(?P<detail> - core dumped)?\)"
        ex r#"[02-Jan-2024 03:04:05] WARNING: [pool www] child 48211 exited on signal 11 (SIGSEGV - core dumped) after 912.503112 seconds from start"#
        refine by_signal;
    "P2" PhpFpm Context ProcessRestart "502" "php-fpm child exited with an error code"
        lit "exited"
        re r"\[pool +(?P<pool>\S+)\] child (?P<pid>\d+) exited with code (?P<detail>[1-9]\d*) after"
        ex r#"[02-Jan-2024 03:04:05] WARNING: [pool www] child 48212 exited with code 255 after 0.412345 seconds from start"#;
    "P3" PhpFpm Kill TimeoutKill "502" "php-fpm killed a request that ran past request_terminate_timeout"
        lit "xecut"
        re r#"\[pool +(?P<pool>\S+)\] child (?P<pid>\d+), script '(?P<script>[^']*)' \(request: "(?P<request>[^"]*)"\) execution timed out \((?P<detail>[\d.]+) sec\), terminating"#
        ex r#"[02-Jan-2024 03:05:05] WARNING: [pool www] child 48213, script '/var/www/html/index.php' (request: "POST /index.php?route=checkout") execution timed out (60.000612 sec), terminating"#;
    "P4" PhpFpm Context TimeoutKill "502" "php-fpm: a request is running slowly (slowlog)"
        lit "xecut"
        re r#"\[pool +(?P<pool>\S+)\] child (?P<pid>\d+), script '(?P<script>[^']*)' \(request: "(?P<request>[^"]*)"\) executing too slow \((?P<detail>[\d.]+) sec\)"#
        ex r#"[02-Jan-2024 03:04:35] WARNING: [pool www] child 48213, script '/var/www/html/index.php' (request: "POST /index.php") executing too slow (5.001234 sec), logging"#;
    "P5" PhpFpm Condition Saturated "502/504" "php-fpm pool reached max_children"
        lit "max_children setting"
        re r"\[pool +(?P<pool>\S+)\] server reached (?:pm\.)?max_children setting \((?P<detail>\d+)\)"
        ex r#"[02-Jan-2024 03:04:05] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it"#;
    "P6" PhpFpm Context Saturated "502/504" "php-fpm pool is busy and spawning children"
        lit "seems busy"
        re r"\[pool +(?P<pool>\S+)\] seems busy .*spawning (?P<detail>\d+) children"
        ex r#"[02-Jan-2024 03:04:04] WARNING: [pool www] seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), spawning 8 children, there are 0 idle, and 12 total children"#;
    "P7" PhpFpm Context CrashSignal "502" "php-fpm child reported heap corruption"
        lit "zend_mm_heap corrupted"
        re r#"(?:\[pool +(?P<pool>\S+)\] child (?P<pid>\d+) said into \w+: ")?(?P<detail>zend_mm_heap corrupted)"#
        ex r#"[02-Jan-2024 03:04:05] WARNING: [pool www] child 48211 said into stderr: "zend_mm_heap corrupted""#;
    "P8" PhpFpm Condition ProcessRestart "502" "php-fpm reloads after too many failed children"
        lit "processes"
        re r"failed processes threshold \((?P<detail>\d+ in \d+ sec)\) is reached, initiating reload"
        ex r#"[02-Jan-2024 03:04:09] WARNING: failed processes threshold (10 in 60 sec) is reached, initiating reload"#;
    "P9" PhpFpm Condition Saturated "502" "php-fpm reached process.max"
        lit "processes"
        re r"The maximum number of processes has been reached"
        ex r#"[02-Jan-2024 03:04:05] WARNING: The maximum number of processes has been reached. Please review your configuration and consider raising 'process.max'"#;
    "P10" Php Condition AppFatal "500" "PHP hit memory_limit (a 500, not an OOM kill)"
        lit "Allowed memory size of"
        re r"PHP Fatal error:  Allowed memory size of (?P<memory>\d+) bytes exhausted(?: \(tried to allocate \d+ bytes\))?(?: in (?P<script>\S+))?"
        ex r#"[02-Jan-2024 03:04:05 UTC] PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in /var/www/app/src/Report.php on line 88"#;
    "P11" Php Condition AppFatal "500" "PHP hit max_execution_time (a 500)"
        lit "xecut"
        re r"PHP Fatal error:  Maximum execution time of (?P<detail>\d+) seconds? exceeded(?: in (?P<script>\S+))?"
        ex r#"[02-Jan-2024 03:04:35 UTC] PHP Fatal error:  Maximum execution time of 30 seconds exceeded in /var/www/html/index.php on line 12"#;

    // ---- Linux kernel (§5) ----
    "K1" Kernel Kill CrashSignal "502" "kernel: a process segfaulted"
        lit "]: segfault at "
        re r"(?P<comm>[^\s\[\]]+)\[(?P<pid>\d+)\]: segfault at (?P<detail>[0-9a-f]+) ip [0-9a-f]+ sp [0-9a-f]+ error \d+(?: in (?P<script>[^\[\s]+))?"
        ex r#"[1234567.891011] php-fpm8.2[48211]: segfault at 0 ip 00007f3a1c2b4d10 sp 00007ffd9a8c1f40 error 4 in opcache.so[7f3a1c000000+5a3000] likely on CPU 3 (core 3, socket 0)"#
        refine kernel_comm;
    "K2" Kernel Kill CrashSignal "502" "kernel: a process hit a fatal trap"
        lit "traps: "
        re r"traps: (?P<comm>[^\s\[\]]+)\[(?P<pid>\d+)\] (?P<detail>general protection fault|trap invalid opcode|trap divide error|\w[\w ]*?) ip:[0-9a-f]+ sp:[0-9a-f]+ error:[0-9a-f]+"
        ex r#"[1234567.900000] traps: node[9911] general protection fault ip:55d0c3a1b2c3 sp:7ffc0d1e2f30 error:0 in node[55d0c2000000+2a00000]"#
        refine kernel_comm;
    "K3" Kernel Context OomKill "502" "kernel: the OOM killer was invoked"
        lit "oom-kill"
        re r"(?P<comm>\S+) invoked oom-killer: gfp_mask=(?P<detail>0x[0-9a-f]+)"
        ex r#"[1234570.000001] php-fpm8.2 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0"#;
    "K4" Kernel Context OomKill "502" "kernel: OOM victim chosen"
        lit "oom-kill"
        re r"oom-kill:constraint=(?P<detail>CONSTRAINT_\w+),nodemask=[^,]*(?:,cpuset=[^,]*,mems_allowed=[^,]*)?(?:,global_oom)?(?:,oom_memcg=[^,]*)?(?:,task_memcg=(?P<unit>[^,]*))?,task=(?P<comm>[^,]+),pid=(?P<pid>\d+),uid=\d+"
        ex r#"[1234570.000900] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=48214,uid=33"#
        refine kernel_comm;
    "K5" Kernel Kill OomKill "502" "kernel: the OOM killer killed a process"
        lit "of memory"
        re r"(?P<detail>Out of memory|Memory cgroup out of memory)?:? ?Killed process (?P<pid>\d+) \((?P<comm>[^)]+)\) total-vm:\d+kB, anon-rss:(?P<memory>\d+)kB"
        ex r#"[1234570.001200] Out of memory: Killed process 48214 (php-fpm8.2) total-vm:912340kB, anon-rss:523456kB, file-rss:1204kB, shmem-rss:45678kB, UID:33 pgtables:1400kB oom_score_adj:0"#
        refine kernel_comm;
    "K5b" Kernel Kill OomKill "502" "kernel: the OOM killer killed a process (kernels before 4.x)"
        lit "of memory"
        re r"(?P<detail>Out of memory|Memory cgroup out of memory): Kill process (?P<pid>\d+) \((?P<comm>[^)]+)\) score \d+ or sacrifice child"
        ex r#"Jan  2 03:04:05 web1 kernel: [812345.120001] Out of memory: Kill process 3882 (python) score 623 or sacrifice child"#
        refine kernel_comm;
    "K6" Kernel Context OomKill "502" "kernel: the OOM reaper freed the victim's memory"
        lit "reaped "
        re r"oom_reaper: reaped process (?P<pid>\d+) \((?P<comm>[^)]+)\), now anon-rss:(?P<memory>\d+)kB"
        ex r#"[1234570.050000] oom_reaper: reaped process 48214 (php-fpm8.2), now anon-rss:0kB, file-rss:0kB, shmem-rss:45678kB"#;
    "K7" Systemd Kill OomKill "502/521" "systemd-oomd killed a cgroup under memory pressure"
        lit "due to memory pressure"
        re r"systemd-oomd\[\d+\]: (?:Killed|Marked) (?P<unit>\S+) (?:for killing )?due to memory pressure for (?P<detail>\S+ being [\d.]+% > [\d.]+%)"
        ex r#"Jan 02 03:04:10 web1 systemd-oomd[612]: Killed /system.slice/php8.2-fpm.service due to memory pressure for /system.slice being 72.15% > 50.00% for > 20s with reclaim activity"#
        refine systemd_unit;

    // ---- systemd (§6) ----
    "S1" Systemd Kill CrashSignal "502/521" "systemd: a service's main process exited"
        lit "exited"
        re r"(?P<unit>[\w@.\\-]+): Main process exited, code=(?P<code>exited|killed|dumped), status=(?P<signal>\d+)/(?P<signame>\w+)"
        ex r#"Jan 02 03:04:05 web1 systemd[1]: node-api.service: Main process exited, code=dumped, status=11/SEGV"#
        refine systemd_main_exit;
    "S2" Systemd Kill OomKill "502" "systemd: the OOM killer killed a process of this unit"
        lit "killed by the OOM killer"
        re r"(?P<unit>[\w@.\\-]+): A process of this unit has been killed by the OOM killer"
        ex r#"Jan 02 03:04:05 web1 systemd[1]: php8.2-fpm.service: A process of this unit has been killed by the OOM killer."#
        refine systemd_unit;
    "S3" Systemd Condition ProcessRestart "502/521" "systemd: a service failed"
        lit "Failed with result"
        re r"(?P<unit>[\w@.\\-]+): Failed with result '(?P<detail>[\w-]+)'"
        ex r#"Jan 02 03:04:05 web1 systemd[1]: node-api.service: Failed with result 'core-dump'."#
        refine systemd_result;
    "S4" Systemd Condition ProcessRestart "502/521" "systemd: a service is being restarted"
        lit "Scheduled restart job"
        re r"(?P<unit>[\w@.\\-]+): Scheduled restart job, restart counter is at (?P<detail>\d+)"
        ex r#"Jan 02 03:04:06 web1 systemd[1]: node-api.service: Scheduled restart job, restart counter is at 3."#
        refine systemd_unit;
    "S6" Systemd Condition ProcessRestart "502/521" "systemd gave up restarting a service (start request repeated too quickly)"
        lit "Start request repeated too quickly"
        re r"(?P<unit>[\w@.\\-]+): Start request repeated too quickly"
        ex r#"Jan 02 03:04:09 web1 systemd[1]: php8.2-fpm.service: Start request repeated too quickly."#
        refine systemd_unit;
    "S5" Systemd Kill CrashSignal "502" "systemd-coredump: a process dumped core"
        lit "dumped core"
        re r"Process (?P<pid>\d+) \((?P<comm>[^)]+)\) of user \d+ dumped core"
        ex r#"Jan 02 03:04:05 web1 systemd-coredump[5120]: Process 48211 (php-fpm8.2) of user 33 dumped core."#
        refine coredump;

    // ---- Node.js (§7) ----
    "J1" Node Kill OomKill "502 (520 if exposed)" "Node.js ran out of V8 heap"
        lit "FATAL ERROR: "
        re r"FATAL ERROR: (?P<detail>.*?) Allocation failed - (?:JavaScript heap|process) out of memory"
        ex r#"FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"#;
    "J2" Node Kill CrashSignal "502 (520 if exposed)" "Node.js exited on an uncaught exception"
        lit "Node.js v"
        re r"^Node\.js (?P<detail>v\d+\.\d+\.\d+)\s*$"
        ex r#"Node.js v20.11.0"#;
    "J3" Node Kill CrashSignal "502 (520 if exposed)" "Node.js exited on an unhandled 'error' event"
        lit "Unhandled"
        re r"throw er; // Unhandled 'error' event"
        ex r#"      throw er; // Unhandled 'error' event"#;
    "J4" Node Kill CrashSignal "502 (520 if exposed)" "Node.js exited on an unhandled promise rejection"
        lit "Unhandled"
        re r#"\[UnhandledPromiseRejection: .*?(?:The promise rejected with the reason "(?P<detail>[^"]*)")?"#
        ex r#"[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "timeout".] { code: 'ERR_UNHANDLED_REJECTION' }"#;

    "J5" Node Condition UpstreamUnreachable "502" "Node.js could not listen: the address is in use (an old instance still holds the port)"
        lit "EADDRINUSE"
        re r"listen EADDRINUSE(?:: address already in use)? (?P<upstream>\S+)"
        ex r#"Error: listen EADDRINUSE: address already in use :::3000"#;

    // ---- gunicorn (§7) ----
    "G1" Gunicorn Kill TimeoutKill "502" "gunicorn killed a worker that ran past --timeout"
        lit "WORKER TIMEOUT"
        re r"\[CRITICAL\] WORKER TIMEOUT \(pid:(?P<pid>\d+)\)"
        ex r#"[2024-01-02 03:04:35 +0000] [1201] [CRITICAL] WORKER TIMEOUT (pid:1311)"#;
    "G2" Gunicorn Kill CrashSignal "502" "gunicorn worker was killed by a signal"
        lit "was sent SIG"
        re r"Worker \(pid:(?P<pid>\d+)\) was sent (?P<signame>SIG\w+)!(?P<detail> Perhaps out of memory\?)?"
        ex r#"[2024-01-02 03:04:05 +0000] [1201] [ERROR] Worker (pid:1312) was sent SIGKILL! Perhaps out of memory?"#
        refine worker_signal;
    "G3" Gunicorn Kill CrashSignal "502" "gunicorn worker was terminated by a signal"
        lit "was terminated due to signal"
        re r"Worker with pid (?P<pid>\d+) was terminated due to signal (?P<signal>\d+)"
        ex r#"[2024-01-02 03:04:05 +0000] [1201] [WARNING] Worker with pid 1312 was terminated due to signal 9"#
        refine worker_signal;
    "G4" Gunicorn Condition UpstreamUnreachable "502" "gunicorn worker exited with an error code"
        lit "exited"
        re r"Worker \(pid:(?P<pid>\d+)\) exited with code (?P<detail>[1-9]\d*)"
        ex r#"[2024-01-02 03:04:05 +0000] [1201] [ERROR] Worker (pid:1313) exited with code 3"#;
    "G4b" Gunicorn Condition UpstreamUnreachable "502" "gunicorn cannot start the application"
        lit "Reason: "
        re r"Reason: (?P<detail>Worker failed to boot)"
        ex r#"[2024-01-02 03:04:05 +0000] [1201] [INFO] Reason: Worker failed to boot."#;
    "G4c" Gunicorn Condition UpstreamUnreachable "502" "gunicorn cannot load the application"
        lit "Reason: "
        re r"Reason: (?P<detail>App failed to load)"
        ex r#"[2024-01-02 03:04:05 +0000] [1201] [INFO] Reason: App failed to load."#;

    // ---- uWSGI (§7) ----
    "U1" Uwsgi Kill CrashSignal "502" "uWSGI worker segfaulted"
        lit "got Segmentation Fault"
        re r"!!! uWSGI process (?P<pid>\d+) got Segmentation Fault !!!"
        ex r#"!!! uWSGI process 2412 got Segmentation Fault !!!"#;
    "U2" Uwsgi Kill CrashSignal "502" "uWSGI worker died"
        lit "DAMN ! worker"
        re r"DAMN ! worker \d+ \(pid: (?P<pid>\d+)\) (?:died, killed by signal (?P<signal>\d+)|died|M[IY]STERIOUSLY killed by signal (?P<signal2>\d+))"
        ex r#"DAMN ! worker 3 (pid: 2412) died, killed by signal 9 :( trying respawn ..."#
        refine uwsgi_signal;
    "U3" Uwsgi Kill TimeoutKill "502" "uWSGI harakiri killed a slow worker"
        lit "HARAKIRI ON WORKER"
        re r"\*\*\* HARAKIRI ON WORKER \d+ \(pid: (?P<pid>\d+), try: (?P<detail>\d+)"
        ex r#"Tue Jan  2 03:05:05 2024 - *** HARAKIRI ON WORKER 3 (pid: 2412, try: 1, graceful: yes) ***"#;
    "U4" Uwsgi Condition Saturated "502/504" "uWSGI listen queue is full"
        lit "listen queue of socket"
        re r#"uWSGI listen queue of socket (?:"(?P<upstream>[^"]+)" \(fd: \d+\)|\d+) full !!! \((?P<detail>\d+/\d+)\)"#
        ex r#"Tue Jan  2 03:04:05 2024 - *** uWSGI listen queue of socket "127.0.0.1:8000" (fd: 3) full !!! (101/100) ***"#;
    "U5" Uwsgi Context ClientAbort "context" "uWSGI: the proxy hung up before the response was written"
        lit "(): "
        re r"\w+\(\): (?P<detail>Broken pipe) \[\S+ line \d+\] during (?P<request>\w+ \S+)"
        ex r#"Tue Jan  2 03:05:05 2024 - uwsgi_response_writev_headers_and_body_do(): Broken pipe [core/writer.c line 306] during GET /report (172.70.42.10)"#;
    "U5b" Uwsgi Context ClientAbort "context" "uWSGI: the proxy reset the connection before the response was written"
        lit "(): "
        re r"\w+\(\): (?P<detail>Connection reset by peer) \[\S+ line \d+\] during (?P<request>\w+ \S+)"
        ex r#"Tue Jan  2 03:05:05 2024 - uwsgi_response_write_body_do(): Connection reset by peer [core/writer.c line 429] during GET /report (172.70.42.10)"#;

    // ---- Puma, Unicorn (§7) ----
    "R1" Puma Kill TimeoutKill "502" "Puma killed a worker that timed out"
        lit "Terminating timed out worker"
        re r"! Terminating timed out worker(?: \((?P<detail>[^)]*)\))?: (?P<pid>\d+)"
        ex r#"[1201] ! Terminating timed out worker (Worker 0 failed to check in within 60 seconds): 1311"#;
    "R2" Unicorn Kill TimeoutKill "502" "Unicorn killed a worker that timed out"
        lit "s), killing"
        re r"worker=\d+ PID:(?P<pid>\d+) timeout \((?P<detail>[\d.]+s > \d+s)\), killing"
        ex r#"E, [2024-01-02T03:05:05.123456 #1201] ERROR -- : worker=0 PID:1311 timeout (61.0012s > 60s), killing"#;
    "R2b" Unicorn Kill CrashSignal "502" "Unicorn reaped a worker killed by a signal"
        lit "reaped "
        re r"reaped #<Process::Status: pid (?P<pid>\d+) (?P<signame>SIG\w+) \(signal (?P<signal>\d+)\)> worker=\d+"
        ex r#"E, [2024-01-02T03:05:06.001000 #1201] ERROR -- : reaped #<Process::Status: pid 1311 SIGKILL (signal 9)> worker=0"#
        refine worker_signal;
}

/// Every distinct literal of the catalogue, in first-use order (what `rg -F -f` would be given).
pub fn literals() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in SIGNATURES {
        if !out.contains(&s.literal) {
            out.push(s.literal);
        }
    }
    out
}

/// Looks up a signature by its row id.
pub fn by_id(id: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{LineMatch, Note, Sink};
    use crate::timestamp::TimeContext;
    use crate::Scanner;

    #[derive(Default)]
    struct Collect {
        hits: Vec<(&'static str, Verdict, Fields)>,
        notes: Vec<Note>,
    }

    impl Sink for Collect {
        fn matched(&mut self, m: &LineMatch<'_>) {
            self.hits
                .push((m.signature.id, m.verdict, m.fields.clone()));
        }
        fn note(&mut self, note: Note) {
            self.notes.push(note);
        }
    }

    fn scan(line: &str) -> Collect {
        static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
        let scanner = SCANNER.get_or_init(|| Scanner::new(TimeContext::default()));
        let mut c = Collect::default();
        scanner.scan_bytes(0, "t", format!("{line}\n").as_bytes(), &mut c);
        c
    }

    #[test]
    fn catalogue_covers_the_reference() {
        assert!(SIGNATURES.len() >= 90, "{} signatures", SIGNATURES.len());
        let mut ids: Vec<&str> = SIGNATURES.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate row id");
        for source in [
            Source::Nginx,
            Source::AccessLog,
            Source::Apache,
            Source::PhpFpm,
            Source::Php,
            Source::Kernel,
            Source::Systemd,
            Source::Node,
            Source::Gunicorn,
            Source::Uwsgi,
            Source::Puma,
            Source::Unicorn,
        ] {
            assert!(SIGNATURES.iter().any(|s| s.source == source), "{source:?}");
        }
    }

    #[test]
    fn every_example_line_matches_its_own_row() {
        for sig in SIGNATURES {
            assert!(
                sig.example.contains(sig.literal),
                "{}: example lacks literal {:?}",
                sig.id,
                sig.literal
            );
            let c = scan(sig.example);
            assert_eq!(c.hits.len(), 1, "{}: {:?}", sig.id, c.hits);
            assert_eq!(
                c.hits[0].0, sig.id,
                "{} example matched by {}",
                sig.id, c.hits[0].0
            );
        }
    }

    #[test]
    fn ordinary_lines_match_nothing() {
        for line in [
            r#"172.70.42.10 - - [02/Jan/2024:03:04:05 +0000] "GET / HTTP/1.1" 200 5023 "-" "Mozilla/5.0""#,
            r#"172.70.42.10 - - [02/Jan/2024:03:04:05 +0000] "GET / HTTP/1.1" 200 502 "-" "Mozilla/5.0""#,
            r#"2024/01/02 03:04:05 [error] 2211#2211: *1 open() "/var/www/favicon.ico" failed (2: No such file or directory), client: 1.2.3.4"#,
            r#"2024/01/02 03:04:05 [error] 2211#2211: *2 FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined variable $x" while reading response header from upstream"#,
            r#"[02-Jan-2024 03:04:05] NOTICE: [pool www] child 48300 started"#,
            r#"[02-Jan-2024 03:04:05] NOTICE: [pool www] child 48300 exited with code 0 after 1.0 seconds from start"#,
            r#"Jan 02 03:04:05 web1 systemd[1]: Started nginx.service - A high performance web server."#,
            r#"[2024-01-02 03:04:05 +0000] [1201] [INFO] Booting worker with pid: 1311"#,
        ] {
            let c = scan(line);
            assert!(c.hits.is_empty(), "{line} matched {:?}", c.hits);
        }
    }

    fn verdict(line: &str) -> (Verdict, Fields) {
        let c = scan(line);
        assert_eq!(c.hits.len(), 1, "{line}");
        let (_, v, f) = c.hits.into_iter().next().unwrap();
        (v, f)
    }

    #[test]
    fn fields_are_extracted() {
        let (v, f) = verdict(by_id("P1").unwrap().example);
        assert_eq!(
            (v.cause, f.pid, f.signal),
            (Cause::CrashSignal, Some(48211), Some(11))
        );
        assert_eq!(f.pool.as_deref(), Some("www"));
        let (v, f) = verdict(by_id("K5").unwrap().example);
        assert_eq!(
            (v.cause, f.pid, f.memory),
            (Cause::OomKill, Some(48214), Some(523456))
        );
        assert_eq!(f.comm.as_deref(), Some("php-fpm8.2"));
        let (_, f) = verdict(by_id("N1").unwrap().example);
        assert_eq!(
            f.upstream.as_deref(),
            Some("http://127.0.0.1:3000/api/orders")
        );
        assert_eq!(f.request.as_deref(), Some("GET /api/orders HTTP/1.1"));
        assert_eq!(f.connection, Some(9141));
        let (_, f) = verdict(by_id("L1").unwrap().example);
        assert_eq!(f.status, Some(502));
        assert_eq!(f.request.as_deref(), Some("GET /api/orders HTTP/1.1"));
        let (_, f) = verdict(by_id("K4").unwrap().example);
        assert_eq!(f.unit.as_deref(), Some("/system.slice/php8.2-fpm.service"));
        let (_, f) = verdict(by_id("G2").unwrap().example);
        assert_eq!(f.signal, Some(9));
    }

    #[test]
    fn refinements() {
        // Signal numbers.
        let p1 = |sig: &str| {
            verdict(&format!(
                "[02-Jan-2024 03:04:05] WARNING: [pool www] child 1 exited on signal {sig} after 1.0 seconds from start"
            ))
            .0
        };
        assert_eq!(p1("9 (SIGKILL)").cause, Cause::OomKill);
        assert!(p1("9 (SIGKILL)").inferred);
        assert_eq!(p1("15 (SIGTERM)").cause, Cause::TimeoutKill);
        assert_eq!(p1("7 (SIGBUS)").cause, Cause::CrashSignal);
        assert_eq!(p1("3 (SIGQUIT)").role, Role::Context);
        // nginx action.
        let (v, _) = verdict(
            r#"2024/01/02 03:05:05 [error] 1#1: *1 upstream timed out (110: Connection timed out) while connecting to upstream, client: 1.2.3.4"#,
        );
        assert_eq!(
            v.cause,
            Cause::UpstreamUnreachable,
            "a connect timeout is a connect failure, not a full backend"
        );
        let (v, _) = verdict(
            r#"2024/01/02 03:05:05 [error] 1#1: *1 upstream timed out (110: Connection timed out) while reading upstream, client: 1.2.3.4"#,
        );
        assert_eq!(v.cause, Cause::BodyTimeout);
        // APR timeout.
        let (v, _) = verdict(by_id("A8").unwrap().example);
        assert_eq!((v.cause, v.status), (Cause::TimeoutUpstream, "504"));
        let (v, _) = verdict(by_id("A1").unwrap().example);
        assert_eq!(v.cause, Cause::ResponseReset);
        // Edge process in the kernel's view.
        let (v, _) = verdict("[1.000000] nginx[2211]: segfault at 0 ip 00007f3a1c2b4d10 sp 00007ffd9a8c1f40 error 4 in nginx[55d0c2000000+2a00000]");
        assert!(v.edge_facing);
        assert_eq!(v.status, "520");
        let (v, _) = verdict(by_id("K1").unwrap().example);
        assert!(!v.edge_facing);
        // systemd.
        let (v, _) = verdict(by_id("S1").unwrap().example);
        assert_eq!(v.cause, Cause::CrashSignal);
        let (v, _) = verdict("Jan 02 03:04:05 web1 systemd[1]: nginx.service: Main process exited, code=killed, status=9/KILL");
        assert_eq!(v.cause, Cause::OomKill);
        assert!(v.edge_facing);
        let (v, _) = verdict("Jan 02 03:04:05 web1 systemd[1]: nginx.service: Main process exited, code=exited, status=0/SUCCESS");
        assert_eq!(v.role, Role::Context, "a clean stop explains nothing");
        let (v, _) = verdict(by_id("S3").unwrap().example);
        assert_eq!(v.cause, Cause::CrashSignal);
        // nginx worker crash is the edge.
        let (v, _) = verdict(by_id("N22").unwrap().example);
        assert!(v.edge_facing);
    }

    #[test]
    fn literals_are_few_and_distinct() {
        let lits = literals();
        assert!(lits.len() < SIGNATURES.len());
        let mut sorted = lits.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), lits.len());
    }
}
