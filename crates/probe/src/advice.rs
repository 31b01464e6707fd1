//! What to do about each cause: the runbook's steps and configuration snippets, one entry per
//! cause, so every verdict ends with a next step.

use originlens_wire::Cause;

/// One piece of advice: what it means and what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advice {
    /// What the cause means for this origin.
    pub meaning: &'static str,
    /// Commands or configuration to apply.
    pub fix: &'static str,
}

/// The advice for `cause`.
pub fn for_cause(cause: Cause) -> Advice {
    let (meaning, fix) = match cause {
        Cause::DnsUnresolved => (
            "the origin's name does not resolve",
            "check the DNS record the edge uses for the origin (A/AAAA/CNAME): dig +short ORIGIN_HOST",
        ),
        Cause::ConnectRefused => (
            "nothing listens on the origin's port, or a firewall rejects the edge",
            "ss -ltnp | grep ':443\\|:80'   # is the server up and listening?\n\
             allow the edge's IP ranges in iptables/nftables/security plugins; listen on 80 for Flexible, 443 for Full",
        ),
        Cause::ConnectTimeout => (
            "the origin never answered the TCP handshake: host down, or a firewall drops the edge",
            "check the host is up and that no firewall or rate limiter DROPs the edge's IP ranges",
        ),
        Cause::ConnectUnreachable => (
            "no route to the origin address",
            "check the A/AAAA record and routing (mtr ORIGIN_IP)",
        ),
        Cause::TlsHandshake => (
            "the TLS handshake failed: no common version or cipher, no SNI support, or plain HTTP on the TLS port",
            "openssl s_client -connect ORIGIN_IP:443 -servername HOST\n\
             serve TLS 1.2 or 1.3 with ECDHE AEAD suites and a certificate for the SNI name",
        ),
        Cause::TlsCertificate => (
            "the certificate is expired, not yet valid, for another name, self-signed or missing an intermediate",
            "openssl s_client -connect ORIGIN_IP:443 -servername HOST 2>/dev/null | openssl x509 -noout -dates -subject -ext subjectAltName\n\
             install the full chain (leaf + intermediates) for the site's name, or an origin CA certificate",
        ),
        Cause::ResponseTimeout => (
            "the origin sent no complete response head before the edge's read timeout (125 s on Cloudflare)",
            "find the slow request (PHP-FPM slowlog, app logs); keep it under the edge's timeout or move it to a background job\n\
             nginx: proxy_read_timeout 60s; fastcgi_read_timeout 60s;   PHP-FPM: request_terminate_timeout = 60\n\
             Apache: Timeout 60; ProxyTimeout 60",
        ),
        Cause::ResponseEmpty | Cause::ResponseReset | Cause::HeadTruncated => (
            "the origin dropped the connection before a complete head: usually a crash, a killed worker or a server that drops the edge",
            "originlens logs /var/log/nginx/error.log /var/log/apache2/error.log /var/log/php*-fpm.log /var/log/kern.log\n\
             dmesg | grep -i -e segfault -e 'out of memory'\n\
             PHP-FPM pool: catch_workers_output = yes, request_terminate_timeout = 60, php_admin_value[memory_limit] = 256M",
        ),
        Cause::HeadTooLarge => (
            "the response head is larger than the edge accepts (128 KB on Cloudflare; nginx in front of an app: one 4 KiB page)",
            "send fewer or smaller Set-Cookie headers; nginx: server_tokens off; proxy_hide_header X-Powered-By; fastcgi_hide_header X-Powered-By;\n\
             nginx in front of the app: proxy_buffer_size 32k; proxy_buffers 8 16k; fastcgi_buffer_size 32k; fastcgi_buffers 8 16k;\n\
             Apache: ServerTokens Prod; Header unset X-Powered-By",
        ),
        Cause::StartLineInvalid => (
            "there is no valid status line: output before the headers, a non-HTTP service on the port, or a broken proxy",
            "look for output sent before headers (echo/print before header(), a BOM, debug output) and for the service really bound to the port",
        ),
        Cause::FieldInvalid => (
            "a header line is malformed",
            "find what adds that header (application, add_header, a plugin) and send a token name, a colon, and a value without control bytes or line folding",
        ),
        Cause::FramingInvalid => (
            "the body length cannot be trusted: conflicting or invalid Content-Length / Transfer-Encoding",
            "send one valid Content-Length or `Transfer-Encoding: chunked` alone, never both; let the web server frame the body",
        ),
        Cause::H2Protocol => (
            "the origin offered HTTP/2 but broke the protocol",
            "fix the origin's HTTP/2 support or disable HTTP/2 to the origin in the edge's settings",
        ),
        Cause::KeepaliveRace => (
            "the origin closes idle keep-alive connections before the edge stops reusing them",
            "nginx: keepalive_timeout 910s; keepalive_requests 10000;   Node: server.keepAliveTimeout = 910000;   gunicorn: --keep-alive 910",
        ),
        Cause::BodyTruncated => (
            "the connection ended before the body was complete: a worker died mid-response, or Content-Length is larger than the body",
            "originlens logs on the web server and application logs; check the Content-Length the application sets",
        ),
        Cause::BodyTimeout => (
            "the body stalled longer than the read timeout",
            "find what blocks the response after the headers (streaming, a slow upstream) and flush or finish it sooner",
        ),
        Cause::ChunkedInvalid => (
            "the chunked framing is malformed",
            "often an application writing its own chunk framing under a server that chunks again: let one layer frame the body",
        ),
        Cause::BodyExcess => (
            "bytes follow the declared end of the body",
            "make Content-Length match the body exactly; send no body on HEAD, 204 and 304",
        ),
        Cause::EncodingMismatch => (
            "a compressed body does not fit its Content-Length, or the compressed data is broken",
            "let the web server compress (nginx: gzip on;) and do not set Content-Length in the application, or set it to the compressed size",
        ),
        Cause::OriginError => (
            "the origin itself answered 5xx: the fault is behind it",
            "originlens logs on the application and upstream logs",
        ),
        _ => ("see the cause id in CAUSES.md", ""),
    };
    Advice { meaning, fix }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exchange_cause_has_specific_advice() {
        for &c in Cause::ALL {
            if c.phase() != originlens_wire::Phase::Process {
                assert!(!for_cause(c).fix.is_empty(), "{c} has no fix");
            }
        }
    }
}
