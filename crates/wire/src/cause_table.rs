//! What the project knows about each cause, in one table beside [`Cause`]: what it means, what
//! the origin's operator should change, and what a visitor sees through a profile.
//!
//! The probe's advice, the keep-alive fix and `CAUSES.md` read from here; a test keeps the
//! table, `Cause::ALL` and `CAUSES.md` in the same order.

use crate::cause::{Cause, Phase};
use crate::outcome::GeneratedBy;
use crate::profile::Profile;

/// One row of the cause table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CauseInfo {
    /// The cause this row describes.
    pub cause: Cause,
    /// What the cause means for the origin, one clause.
    pub meaning: &'static str,
    /// Commands or configuration to apply, one step per line.
    pub fix: &'static str,
}

/// What a visitor sees for a cause through one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitorOutcome {
    /// The status the visitor gets; `None` when it is the origin's own status (a body-phase
    /// cause: the head was already forwarded) or when the cause is not tied to one exchange.
    pub status: Option<u16>,
    /// Who wrote that status.
    pub generated_by: GeneratedBy,
}

/// The keep-alive idle timeout the fixes recommend, in seconds: longer than the 900 s the edge
/// keeps idle connections (Cloudflare's Proxy Idle Timeout) by a margin that covers timer
/// granularity and a request already on its way when the origin's timer fires. `lint` asks for
/// the same figure.
pub const KEEPALIVE_FIX_SECS: u64 = 905;

/// Every row, in the order of [`Cause::ALL`].
pub const TABLE: &[CauseInfo] = &[
    row(
        Cause::DnsUnresolved,
        "the origin's name does not resolve",
        "check the DNS record the edge uses for the origin (A/AAAA/CNAME): dig +short ORIGIN_HOST",
    ),
    row(
        Cause::ConnectRefused,
        "nothing listens on the origin's port, or a firewall rejects the edge",
        "ss -ltnp | grep ':443\\|:80'   # is the server up and listening?\n\
         allow the edge's IP ranges in iptables/nftables/security plugins; listen on 80 for Flexible, 443 for Full",
    ),
    row(
        Cause::ConnectTimeout,
        "the origin never answered the TCP handshake: host down, or a firewall drops the edge",
        "check the host is up and that no firewall or rate limiter DROPs the edge's IP ranges",
    ),
    row(
        Cause::ConnectUnreachable,
        "no route to the origin address",
        "check the A/AAAA record and routing (mtr ORIGIN_IP)",
    ),
    row(
        Cause::TlsHandshake,
        "the TLS handshake failed: no common version or cipher, no SNI support, or plain HTTP on the TLS port",
        "openssl s_client -connect ORIGIN_IP:443 -servername HOST\n\
         serve TLS 1.2 or 1.3 with ECDHE AEAD suites and a certificate for the SNI name",
    ),
    row(
        Cause::TlsCertificate,
        "the certificate is expired, not yet valid, for another name, self-signed or missing an intermediate",
        "openssl s_client -connect ORIGIN_IP:443 -servername HOST 2>/dev/null | openssl x509 -noout -dates -subject -ext subjectAltName\n\
         install the full chain (leaf + intermediates) for the site's name, or an origin CA certificate",
    ),
    row(
        Cause::ResponseTimeout,
        "the origin sent no complete response head before the edge's read timeout (125 s on Cloudflare)",
        "find the slow request (PHP-FPM slowlog, app logs); keep it under the edge's timeout or move it to a background job\n\
         nginx: proxy_read_timeout 60s; fastcgi_read_timeout 60s;   PHP-FPM: request_terminate_timeout = 60\n\
         Apache: Timeout 60; ProxyTimeout 60",
    ),
    row(Cause::ResponseEmpty, DROPPED_MEANING, DROPPED_FIX),
    row(Cause::ResponseReset, DROPPED_MEANING, DROPPED_FIX),
    row(Cause::HeadTruncated, DROPPED_MEANING, DROPPED_FIX),
    row(
        Cause::HeadTooLarge,
        "the response head is larger than the edge accepts (128 KB on Cloudflare; nginx in front of an app: one 4 KiB page)",
        "send fewer or smaller Set-Cookie headers; nginx: server_tokens off; proxy_hide_header X-Powered-By; fastcgi_hide_header X-Powered-By;\n\
         nginx in front of the app: proxy_buffer_size 32k; proxy_buffers 8 16k; fastcgi_buffer_size 32k; fastcgi_buffers 8 16k;\n\
         Apache: ServerTokens Prod; Header unset X-Powered-By",
    ),
    row(
        Cause::StartLineInvalid,
        "there is no valid status line: output before the headers, a non-HTTP service on the port, or a broken proxy",
        "look for output sent before headers (echo/print before header(), a BOM, debug output) and for the service really bound to the port",
    ),
    row(
        Cause::FieldInvalid,
        "a header line is malformed",
        "find what adds that header (application, add_header, a plugin) and send a token name, a colon, and a value without control bytes or line folding",
    ),
    row(
        Cause::FramingInvalid,
        "the body length cannot be trusted: conflicting or invalid Content-Length / Transfer-Encoding",
        "send one valid Content-Length or `Transfer-Encoding: chunked` alone, never both; let the web server frame the body",
    ),
    row(
        Cause::H2Protocol,
        "the origin offered HTTP/2 but broke the protocol",
        "fix the origin's HTTP/2 support or disable HTTP/2 to the origin in the edge's settings",
    ),
    row(
        Cause::KeepaliveRace,
        "the origin closes idle keep-alive connections before the edge stops reusing them",
        // KEEPALIVE_FIX_SECS, written out because a const str cannot be formatted.
        "keep idle connections open longer than the edge does (900 s):\n\
         nginx: keepalive_timeout 905s; keepalive_requests 10000;   Apache: KeepAliveTimeout 905\n\
         Node: server.keepAliveTimeout = 905000;   gunicorn: --keep-alive 905",
    ),
    row(
        Cause::BodyTruncated,
        "the connection ended before the body was complete: a worker died mid-response, or Content-Length is larger than the body",
        "originlens logs on the web server and application logs; check the Content-Length the application sets",
    ),
    row(
        Cause::BodyTimeout,
        "the body stalled longer than the read timeout",
        "find what blocks the response after the headers (streaming, a slow upstream) and flush or finish it sooner",
    ),
    row(
        Cause::ChunkedInvalid,
        "the chunked framing is malformed",
        "often an application writing its own chunk framing under a server that chunks again: let one layer frame the body",
    ),
    row(
        Cause::BodyExcess,
        "bytes follow the declared end of the body",
        "make Content-Length match the body exactly; send no body on HEAD, 204 and 304",
    ),
    row(
        Cause::EncodingMismatch,
        "a compressed body does not fit its Content-Length, or the compressed data is broken",
        "let the web server compress (nginx: gzip on;) and do not set Content-Length in the application, or set it to the compressed size",
    ),
    row(
        Cause::OriginError,
        "the origin itself answered 5xx: the fault is behind it",
        "originlens logs on the application and upstream logs",
    ),
    row(
        Cause::CrashSignal,
        "a worker or server process died on a signal (SIGSEGV, SIGABRT, SIGBUS)",
        "enable core dumps (systemd-coredump, `rlimit_core = unlimited` in the FPM pool) and read one with `coredumpctl gdb`\n\
         disable suspect extensions (opcache JIT, xdebug, native modules) one at a time; keep `catch_workers_output = yes`",
    ),
    row(
        Cause::OomKill,
        "killed by the kernel OOM killer, a cgroup limit or systemd-oomd; also V8 heap exhaustion",
        "make the pool fit in RAM: lower pm.max_children (children × RSS per child must fit), cap PHP memory_limit or the Node heap\n\
         or raise the cgroup's MemoryMax= for the unit named in the kernel's task_memcg field",
    ),
    row(
        Cause::TimeoutKill,
        "a supervisor killed a slow request (FPM request_terminate_timeout, gunicorn timeout, uWSGI harakiri, Puma/Unicorn)",
        "make the slow path faster or move it to a background job; keep the limit below the proxy's read timeout and the edge's 125 s",
    ),
    row(
        Cause::TimeoutUpstream,
        "a proxy stopped waiting for its upstream (nginx *_read_timeout, Apache ProxyTimeout)",
        "find why the backend is slow (FPM slowlog, APM) and keep timeouts ordered: backend < proxy < edge (125 s)",
    ),
    row(
        Cause::UpstreamUnreachable,
        "the upstream is not listening, its socket is missing, or all peers are down",
        "start the backend (systemctl status php8.2-fpm), check the address or socket path in fastcgi_pass/proxy_pass\n\
         and the socket's listen.owner/listen.group; look for a crash or OOM kill just before",
    ),
    row(
        Cause::Saturated,
        "worker pool or listen backlog full (pm.max_children, MaxRequestWorkers, listen queue, worker_connections)",
        "raise the limit the log line names (pm.max_children, MaxRequestWorkers, worker_connections, listen.backlog, LimitNOFILE)\n\
         if memory allows, or make requests shorter so workers free up sooner",
    ),
    row(
        Cause::AppFatal,
        "an application fatal error turned into HTTP 500 (PHP memory_limit, max_execution_time)",
        "fix the script the log line names, or raise memory_limit / max_execution_time if the work is legitimate",
    ),
    row(
        Cause::ClientAbort,
        "the client (often the edge) hung up first (nginx 499, broken pipe)",
        "requests that run for about 100-125 s gave the visitor a 524: make them faster or move the work off the request path",
    ),
    row(
        Cause::ProcessRestart,
        "the service restarted or is in a restart loop",
        "journalctl -u UNIT around that time for the reason (exit code, crash, OOM); fix it and give Restart= a sane RestartSec=",
    ),
];

const DROPPED_MEANING: &str = "the origin dropped the connection before a complete head: usually a crash, a killed worker or a server that drops the edge";
const DROPPED_FIX: &str = "originlens logs /var/log/nginx/error.log /var/log/apache2/error.log /var/log/php*-fpm.log /var/log/kern.log\n\
     dmesg | grep -i -e segfault -e 'out of memory'\n\
     PHP-FPM pool: catch_workers_output = yes, request_terminate_timeout = 60, php_admin_value[memory_limit] = 256M";

const fn row(cause: Cause, meaning: &'static str, fix: &'static str) -> CauseInfo {
    CauseInfo {
        cause,
        meaning,
        fix,
    }
}

impl Cause {
    /// This cause's row of the table.
    pub fn info(self) -> &'static CauseInfo {
        // TABLE follows Cause::ALL (a test checks it), so the position is the index.
        let i = Cause::ALL
            .iter()
            .position(|&c| c == self)
            .expect("every cause is in Cause::ALL");
        &TABLE[i]
    }

    /// What the cause means, one clause.
    pub fn meaning(self) -> &'static str {
        self.info().meaning
    }

    /// What to change, one step per line.
    pub fn fix(self) -> &'static str {
        self.info().fix
    }

    /// What a visitor sees for this cause through `profile`.
    pub fn visitor(self, profile: &Profile) -> VisitorOutcome {
        match self.phase() {
            // Not one exchange: the visitor outcome depends on which layer the process served.
            Phase::Process => VisitorOutcome {
                status: None,
                generated_by: GeneratedBy::Origin,
            },
            _ if self == Cause::OriginError => VisitorOutcome {
                status: None,
                generated_by: GeneratedBy::Origin,
            },
            _ => match profile.status_for(self) {
                Some(status) => VisitorOutcome {
                    status: Some(status),
                    generated_by: GeneratedBy::Edge,
                },
                None => VisitorOutcome {
                    status: None,
                    generated_by: GeneratedBy::Origin,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile;

    #[test]
    fn table_follows_cause_all() {
        let table: Vec<Cause> = TABLE.iter().map(|r| r.cause).collect();
        assert_eq!(table, Cause::ALL);
        for &c in Cause::ALL {
            assert!(!c.meaning().is_empty() && !c.fix().is_empty(), "{c}");
            assert_eq!(c.info().cause, c);
        }
    }

    #[test]
    fn keepalive_fix_names_one_figure() {
        let fix = Cause::KeepaliveRace.fix();
        let secs = KEEPALIVE_FIX_SECS.to_string();
        assert!(fix.contains(&format!("keepalive_timeout {secs}s")), "{fix}");
        assert!(
            fix.contains(&format!("keepAliveTimeout = {secs}000")),
            "{fix}"
        );
        assert!(!fix.contains("910"), "{fix}");
        let pool = profile::CLOUDFLARE.limits.idle_pool.unwrap().as_secs();
        assert!(KEEPALIVE_FIX_SECS > pool);
    }

    #[test]
    fn visitor_status_comes_from_the_profile() {
        let cf = &profile::CLOUDFLARE;
        let v = Cause::ConnectRefused.visitor(cf);
        assert_eq!((v.status, v.generated_by), (Some(521), GeneratedBy::Edge));
        assert_eq!(Cause::ResponseEmpty.visitor(cf).status, Some(520));
        let body = Cause::BodyTruncated.visitor(cf);
        assert_eq!(
            (body.status, body.generated_by),
            (None, GeneratedBy::Origin)
        );
        assert_eq!(Cause::OomKill.visitor(cf).status, None);
    }

    /// The cause ids of `CAUSES.md`'s tables, in order: the first backticked cell of each row.
    fn documented_ids(md: &str) -> Vec<&str> {
        md.lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(id, _)| id))
            .collect()
    }

    #[test]
    fn causes_md_lists_cause_all_in_order() {
        let md = include_str!("../../../CAUSES.md");
        let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented_ids(md), ids, "CAUSES.md and Cause::ALL differ");
    }

    #[test]
    fn the_causes_md_check_sees_a_missing_row() {
        let md = "| `a.b` | x |\n| `c.d` | y |\n| not a row |\n";
        assert_eq!(documented_ids(md), ["a.b", "c.d"]);
    }
}
