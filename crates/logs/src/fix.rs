//! What to do about each cause: one short paragraph per cause id, shown with every summary row
//! and incident.

use originlens_wire::Cause;

use crate::source::Service;

/// The fix for a cause, worded for the process that failed: an nginx worker killed for memory
/// is not fixed by `pm.max_children`, a Node heap not by `memory_limit`.
pub fn fix_for(cause: Cause, service: Service) -> &'static str {
    match (cause, service) {
        (Cause::OomKill, Service::Nginx | Service::Apache) => "The web server itself was killed for memory. Find what grew (`ps -o rss,cmd -C nginx`, modules such as lua/njs caches, large proxy_buffers x connections, a shared-memory zone) and what else fills the machine; nginx has no pm.max_children: cap the other services' memory (their MemoryMax=, worker counts) or add RAM/swap so the edge-facing server survives.",
        (Cause::OomKill, Service::Node) => "Node.js ran out of memory. Cap the heap below the machine or cgroup limit (`--max-old-space-size`), look for a leak with a heap snapshot, and run fewer cluster/pm2 instances if each needs that much.",
        (Cause::OomKill, Service::Gunicorn | Service::Uwsgi | Service::Ruby) => "An application worker was killed for memory. Fewer workers (workers x RSS must fit), recycle them (`--max-requests` / `max-requests` / puma-worker-killer), and find the request that grows them.",
        (Cause::CrashSignal, Service::Nginx) => "An nginx worker crashed. Get a backtrace (`worker_rlimit_core 500m;` and `working_directory /var/tmp/nginx;`, then `coredumpctl gdb`), and suspect third-party modules first (`nginx -V`); the edge answers 520 while workers respawn.",
        (Cause::CrashSignal, Service::Node) => "Node.js exited on an error nothing caught. Read the stack trace just before the `Node.js v` line, handle the error (or the 'error' event / promise rejection), and let a supervisor restart it quickly.",
        (Cause::CrashSignal, Service::Gunicorn | Service::Uwsgi | Service::Ruby) => "An application worker crashed (segfault or abort). Get a backtrace (core dumps, `faulthandler` for Python), and suspect native extensions and their versions.",
        _ => fix(cause),
    }
}

/// The fix for a cause, as advice for the origin's operator.
pub fn fix(cause: Cause) -> &'static str {
    match cause {
        Cause::CrashSignal => "A process crashed. Get a backtrace: enable core dumps (systemd-coredump, `rlimit_core = unlimited` in the FPM pool), read it with `coredumpctl gdb`, and disable suspect extensions (opcache JIT, xdebug, native modules) one at a time. Keep `catch_workers_output = yes` so the child's last words reach the log.",
        Cause::OomKill => "Memory ran out. Make the pool fit in RAM: lower pm.max_children (children × RSS per child must fit), cap PHP memory_limit or the Node heap, add swap, or raise the cgroup's MemoryMax= for the unit named in the kernel's task_memcg field.",
        Cause::TimeoutKill => "A supervisor killed a slow request (request_terminate_timeout, gunicorn --timeout, uWSGI harakiri, Puma/Unicorn timeout). Make the slow path faster or move it to a background job; keep the limit below the proxy's read timeout and the edge's 100-125 s.",
        Cause::TimeoutUpstream => "The proxy stopped waiting for the backend (fastcgi_read_timeout / proxy_read_timeout, Apache ProxyTimeout). Find out why the backend is slow (FPM slowlog, APM) and keep timeouts ordered: backend < proxy < edge (125 s).",
        Cause::UpstreamUnreachable => "Nothing accepts connections where the proxy connects. Start the backend (`systemctl status php8.2-fpm`), check the address or socket path in fastcgi_pass/proxy_pass and the socket's listen.owner/listen.group, and look for a crash or OOM kill just before.",
        Cause::Saturated => "A pool or queue is full. Raise the limit the line names (pm.max_children, MaxRequestWorkers, worker_connections, listen.backlog, LimitNOFILE) if memory allows, or make requests shorter so workers free up sooner.",
        Cause::AppFatal => "The application died with a fatal error and answered 500 (this rules a 520 out). Fix the script named in the line, or raise memory_limit / max_execution_time if the work is legitimate.",
        Cause::ClientAbort => "The client, usually the edge, hung up first. If such requests run for about 100-125 s the visitor saw a 524: make them faster or move the work off the request path.",
        Cause::ProcessRestart => "The service restarted or is in a restart loop. Read `journalctl -u <unit>` around this time for the reason (exit code, crash, OOM), fix it, and give Restart= a sane RestartSec=.",
        Cause::HeadTooLarge => "The response head does not fit. Raise fastcgi_buffer_size / proxy_buffer_size (e.g. 32k) with matching fastcgi_buffers / proxy_buffers (or Apache ResponseFieldSize), or send fewer and smaller headers (cookies). The edge's own limit is 128 KB.",
        Cause::ResponseEmpty | Cause::ResponseReset | Cause::HeadTruncated => "The backend closed or reset the connection before a response head. Look for a crash, OOM kill or timeout kill of the backend at the same moment; if it happens on reused connections, make the backend's keep-alive timeout longer than the proxy's.",
        Cause::BodyTruncated => "The backend died or was cut off while sending the body: look for a crash or kill at the same moment, and for send/read timeouts on large downloads.",
        Cause::BodyTimeout => "The body stalled longer than the proxy's read timeout: find what blocks the backend mid-response (streaming, slow queries) or raise the timeout for that location.",
        Cause::KeepaliveRace => "The backend closed a connection the proxy reused. Make the backend's keep-alive idle timeout longer than the proxy's (Node server.keepAliveTimeout, gunicorn --keep-alive), or shorten keepalive_timeout in the proxy's upstream block.",
        Cause::StartLineInvalid | Cause::FieldInvalid | Cause::FramingInvalid | Cause::ChunkedInvalid | Cause::BodyExcess | Cause::EncodingMismatch => "The backend sends a malformed response. Run `originlens probe` against it directly to see the exact bytes, then fix the code that writes the status line, headers or framing.",
        Cause::TlsHandshake | Cause::TlsCertificate => "TLS between the proxy and the backend fails: check that the backend really speaks TLS on that port ('wrong version number' means plain HTTP), proxy_ssl_server_name/SNI, and the backend's certificate.",
        Cause::H2Protocol => "The stream ended before any response (status 000). Check HTTP/2 settings and very large request headers or cookies.",
        Cause::OriginError => "The proxy answered 5xx because of its backend; the error-log lines of the same second say why.",
        _ => "See CAUSES.md for this cause.",
    }
}
