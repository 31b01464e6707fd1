//! The rule table: every rule's id, severity, cause, visitor status, why and fix.
//!
//! This is the single source for `--format sarif`'s rule list and the crate README.

use originlens_wire::Cause;

use super::{Rule, Severity, Target};

/// Every rule, in the order of the README.
pub static ALL: &[&Rule] = &[
    &HEAD_BUFFER_TOO_SMALL,
    &HEAD_BUFFER_BELOW_BUDGET,
    &BUSY_BUFFERS_INVALID,
    &READ_TIMEOUT_BEYOND_EDGE,
    &READ_TIMEOUT_SHORT,
    &FASTCGI_TIMEOUT_BEFORE_FPM,
    &KEEPALIVE_TIMEOUT_SHORT,
    &KEEPALIVE_TIMEOUT_BELOW_POOL,
    &KEEPALIVE_REQUESTS_LOW,
    &UPSTREAM_KEEPALIVE_UNUSED,
    &RETURN_444,
    &DENY_EDGE,
    &H2_HEADER_LIMIT_SMALL,
    &SERVER_TOKENS,
    &X_POWERED_BY,
    &ERROR_LOG_HIDES_EVIDENCE,
    &WORKER_CONNECTIONS_LOW,
    &CLIENT_TIMEOUT_SHORT,
    &UNFILLED_PLACEHOLDER,
    &FPM_TERMINATE_TIMEOUT_UNSET,
    &FPM_TERMINATE_TIMEOUT_BEYOND_EDGE,
    &FPM_TERMINATE_BEFORE_PHP_LIMIT,
    &FPM_PHP_TIME_LIMIT_BEYOND_EDGE,
    &FPM_CATCH_WORKERS_OUTPUT_OFF,
    &FPM_MEMORY_UNBOUNDED,
    &FPM_MEMORY_EXCEEDS_HOST,
    &FPM_LISTEN_BACKLOG_LOW,
    &FPM_MAX_REQUESTS_UNSET,
    &FPM_SLOWLOG_OFF,
    &FPM_SLOWLOG_DIR_MISSING,
    &APACHE_TIMEOUT_BEYOND_EDGE,
    &APACHE_PROXY_TIMEOUT_BEYOND_EDGE,
    &APACHE_KEEPALIVE_TIMEOUT_SHORT,
    &APACHE_SERVER_TOKENS,
];

/// Looks a rule up by id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// Buffer for upstream response heads smaller than the measured head.
pub static HEAD_BUFFER_TOO_SMALL: Rule = Rule {
    id: "nginx-head-buffer-too-small",
    severity: Severity::Error,
    target: Target::Nginx,
    cause: Some(Cause::HeadTooLarge),
    visitor: "502 (nginx's own, branded by the edge)",
    summary: "the buffer for the upstream's response head is smaller than the head measured with --head-bytes",
    why: "nginx reads the whole upstream response head into *_buffer_size; a larger head is logged as \
          \"upstream sent too big header while reading response header from upstream\" and answered with 502",
    fix: "proxy_buffer_size 32k;\nproxy_buffers 8 32k;\nproxy_busy_buffers_size 64k;",
};

/// Buffer for upstream response heads at nginx's page-size default, below the 16 KB budget.
pub static HEAD_BUFFER_BELOW_BUDGET: Rule = Rule {
    id: "nginx-head-buffer-below-budget",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::HeadTooLarge),
    visitor: "502 (nginx's own, branded by the edge)",
    summary: "the buffer for upstream response heads is below the 16 KB head budget",
    why: "nginx's default *_buffer_size is one memory page (4k); heads that grow with cookies, CSP or \
          link headers toward the 16 KB budget the runbook plans for fail with \"upstream sent too big header\" \
          and a 502. Measure the real head with `originlens probe` and pass it as --head-bytes",
    fix: "proxy_buffer_size 16k;\nproxy_buffers 8 16k;\nproxy_busy_buffers_size 32k;",
};

/// `*_busy_buffers_size` inconsistent with `*_buffer_size` / `*_buffers`: nginx refuses the config.
pub static BUSY_BUFFERS_INVALID: Rule = Rule {
    id: "nginx-busy-buffers-invalid",
    severity: Severity::Error,
    target: Target::Nginx,
    cause: Some(Cause::ConnectRefused),
    visitor: "521 after the next restart (nginx refuses the configuration and does not start)",
    summary: "the buffer sizes contradict each other and nginx rejects the configuration",
    why: "nginx requires *_busy_buffers_size (default: twice the larger of *_buffer_size and one of *_buffers) \
          to be at least that larger size and less than all *_buffers minus one; raising *_buffer_size alone, \
          as many runbooks suggest, breaks this: `nginx -t` fails, a reload keeps the old configuration and a \
          restart leaves nothing listening",
    fix: "proxy_buffer_size 32k;\nproxy_buffers 8 32k;       # all buffers minus one must exceed busy\nproxy_busy_buffers_size 64k;",
};

/// `*_read_timeout` longer than the edge waits.
pub static READ_TIMEOUT_BEYOND_EDGE: Rule = Rule {
    id: "nginx-read-timeout-beyond-edge",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::ResponseTimeout),
    visitor: "524",
    summary: "nginx waits for the upstream as long as the edge waits for nginx, or longer (from 120 s)",
    why: "the edge gives up after its proxy read timeout (the cloudflare profile: 125 s; Cloudflare has also \
          documented 120 s) and answers 524; nginx keeps waiting, then logs 499 (the edge hung up). The work \
          finishes for nobody",
    fix: "proxy_read_timeout 100s;   # well below the edge's 120-125 s; move slow work to a queue",
};

/// `*_read_timeout` very short.
pub static READ_TIMEOUT_SHORT: Rule = Rule {
    id: "nginx-read-timeout-short",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::TimeoutUpstream),
    visitor: "504 (nginx's own, branded by the edge)",
    summary: "nginx gives the upstream less than 10 s to start answering",
    why: "when the application takes longer than *_read_timeout between two reads, nginx logs \"upstream timed out\" \
          and answers 504 while the application is still working",
    fix: "proxy_read_timeout 60s;",
};

/// nginx gives up on PHP-FPM before PHP-FPM's own limit.
pub static FASTCGI_TIMEOUT_BEFORE_FPM: Rule = Rule {
    id: "nginx-fastcgi-timeout-before-fpm",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::TimeoutUpstream),
    visitor: "504 (nginx's own, branded by the edge)",
    summary: "fastcgi_read_timeout is shorter than the PHP-FPM pool's request_terminate_timeout",
    why: "nginx answers 504 while the PHP worker keeps running until request_terminate_timeout; the worker is \
          busy for nothing and the FPM log has no line for the failed request. Keep the order \
          max_execution_time < request_terminate_timeout < fastcgi_read_timeout < edge (125 s)",
    fix: "fastcgi_read_timeout 90s;  # above request_terminate_timeout, below the edge's 120-125 s",
};

/// Client keep-alive closed before the edge stops reusing the connection.
pub static KEEPALIVE_TIMEOUT_SHORT: Rule = Rule {
    id: "nginx-keepalive-timeout-short",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::KeepaliveRace),
    visitor: "intermittent 520",
    summary: "nginx closes idle keep-alive connections well before the edge stops reusing them (below 300 s; \
              one finding per configuration)",
    why: "the edge keeps idle origin connections for up to 900 s and reuses them; when nginx closes one first \
          (keepalive_timeout, default 75 s), a request sent as the close crosses it meets a FIN or RST and the \
          visitor gets a 520 that no origin log shows",
    fix: "keepalive_timeout 905s;    # longer than the edge's 900 s idle pool",
};

/// Client keep-alive a little shorter than the edge's pool.
pub static KEEPALIVE_TIMEOUT_BELOW_POOL: Rule = Rule {
    id: "nginx-keepalive-timeout-below-edge-pool",
    severity: Severity::Info,
    target: Target::Nginx,
    cause: Some(Cause::KeepaliveRace),
    visitor: "rare 520 on a connection idle for minutes",
    summary: "keepalive_timeout is 300 s or more but below the edge's 900 s idle pool (one finding per \
              configuration)",
    why: "only connections idle longer than keepalive_timeout are closed under the edge; at 300 s and more few \
          are, so the race is rare",
    fix: "keepalive_timeout 905s;    # longer than the edge's 900 s idle pool",
};

/// Client keep-alive closed after few requests.
pub static KEEPALIVE_REQUESTS_LOW: Rule = Rule {
    id: "nginx-keepalive-requests-low",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::KeepaliveRace),
    visitor: "intermittent 520",
    summary: "nginx closes keep-alive connections after few requests",
    why: "after keepalive_requests requests nginx closes the connection; the edge multiplexes many visitors onto \
          few origin connections, so a low limit closes them constantly and widens the window in which the edge \
          reuses a connection that is being closed",
    fix: "keepalive_requests 10000;",
};

/// Upstream keep-alive configured but not used.
pub static UPSTREAM_KEEPALIVE_UNUSED: Rule = Rule {
    id: "nginx-upstream-keepalive-unused",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::Saturated),
    visitor: "502/504 under load",
    summary: "the upstream has `keepalive` but this location does not let nginx reuse connections",
    why: "nginx reuses upstream connections only with HTTP/1.1 and a cleared Connection header (proxy), or \
          fastcgi_keep_conn on (FastCGI); otherwise every request opens a new connection, which under load \
          exhausts ports and the upstream's listen backlog",
    fix: "proxy_http_version 1.1;\nproxy_set_header Connection \"\";",
};

/// `return 444` closes without a response.
pub static RETURN_444: Rule = Rule {
    id: "nginx-return-444",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::ResponseEmpty),
    visitor: "520",
    summary: "`return 444` closes the connection without a response",
    why: "behind the edge the client nginx drops is the edge itself: it receives no byte, answers 520 and \
          may count the origin as failing",
    fix: "return 403;                # or 404: a real response the edge can pass on",
};

/// `allow`/`deny` that refuse the edge's own addresses.
pub static DENY_EDGE: Rule = Rule {
    id: "nginx-deny-edge",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::OriginError),
    visitor: "403 for every visitor (520 if 403 is turned into 444)",
    summary: "an allow/deny list refuses the edge's addresses and nginx does not know the visitor's",
    why: "behind the edge every connection comes from the edge's ranges; without the realip module \
          (set_real_ip_from + real_ip_header CF-Connecting-IP) an allow-list of visitor addresses never \
          matches and a deny of an edge range refuses everyone",
    fix: "# the edge's ranges (cloudflare.com/ips-v4; add ips-v6 if the origin has IPv6)\nset_real_ip_from 173.245.48.0/20;\nset_real_ip_from 103.21.244.0/22;\nset_real_ip_from 103.22.200.0/22;\nset_real_ip_from 103.31.4.0/22;\nset_real_ip_from 141.101.64.0/18;\nset_real_ip_from 108.162.192.0/18;\nset_real_ip_from 190.93.240.0/20;\nset_real_ip_from 188.114.96.0/20;\nset_real_ip_from 197.234.240.0/22;\nset_real_ip_from 198.41.128.0/17;\nset_real_ip_from 162.158.0.0/15;\nset_real_ip_from 104.16.0.0/13;\nset_real_ip_from 104.24.0.0/14;\nset_real_ip_from 172.64.0.0/13;\nset_real_ip_from 131.0.72.0/22;\nreal_ip_header CF-Connecting-IP;",
};

/// HTTP/2 header limits too small for large cookies.
pub static H2_HEADER_LIMIT_SMALL: Rule = Rule {
    id: "nginx-h2-header-limit-small",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::H2Protocol),
    visitor: "520",
    summary: "an HTTP/2 server's header field limit is below what the edge forwards",
    why: "with HTTP/2 to the origin, a request header field larger than large_client_header_buffers' size \
          (default 8k; the limit of http2_max_field_size in older nginx) makes nginx refuse the stream; the edge \
          forwards fields up to its own 16 KB+ limits, so a large Cookie (the Safari large-cookie case) \
          becomes a 520",
    fix: "large_client_header_buffers 4 32k;",
};

/// `server_tokens on`.
pub static SERVER_TOKENS: Rule = Rule {
    id: "nginx-server-tokens",
    severity: Severity::Info,
    target: Target::Nginx,
    cause: Some(Cause::HeadTooLarge),
    visitor: "nothing on its own (header hygiene): its bytes count toward the 16 KB head budget",
    summary: "server_tokens is on (the default): every response carries the nginx version",
    why: "the version adds bytes to every response head, counted toward the head budget (nginx's buffers, the \
          edge's 16 KB warning and 128 KB limit), and tells scanners the exact version",
    fix: "server_tokens off;",
};

/// `X-Powered-By` passed through from the upstream.
pub static X_POWERED_BY: Rule = Rule {
    id: "nginx-x-powered-by",
    severity: Severity::Info,
    target: Target::Nginx,
    cause: Some(Cause::HeadTooLarge),
    visitor: "nothing on its own (header hygiene): its bytes count toward the 16 KB head budget",
    summary: "the upstream's X-Powered-By header reaches the visitor",
    why: "the header adds bytes to every response head, counted toward the head budget; note that one \
          *_hide_header at a lower level drops every *_hide_header inherited from above",
    fix: "fastcgi_hide_header X-Powered-By;",
};

/// error_log that hides the evidence.
pub static ERROR_LOG_HIDES_EVIDENCE: Rule = Rule {
    id: "nginx-error-log-hides-evidence",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: None,
    visitor: "none directly: the lines that name the cause of a 502/504/520 are not written",
    summary: "error_log is off or above level `error`",
    why: "\"upstream sent too big header\", \"upstream timed out\", \"upstream prematurely closed connection\" \
          and \"connect() failed\" are logged at level error; a level of crit or above, /dev/null, or a file \
          named `off` (error_log has no off switch) drops them",
    fix: "error_log /var/log/nginx/error.log error;",
};

/// `worker_connections` too small for the edge's pooled connections.
pub static WORKER_CONNECTIONS_LOW: Rule = Rule {
    id: "nginx-worker-connections-low",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::Saturated),
    visitor: "502/520 under load",
    summary: "worker_connections is below 512, nginx's own default",
    why: "the edge keeps many idle connections open for reuse and each holds one of a worker's connections, \
          as does every upstream connection; when they run out nginx logs \"worker_connections are not \
          enough\" and drops new connections",
    fix: "events {\n    worker_connections 4096;\n}",
};

/// `send_timeout` / `client_body_timeout` shorter than a slow visitor needs.
pub static CLIENT_TIMEOUT_SHORT: Rule = Rule {
    id: "nginx-client-timeout-short",
    severity: Severity::Warning,
    target: Target::Nginx,
    cause: Some(Cause::OriginError),
    visitor: "408 or a cut response for slow uploads and downloads",
    summary: "send_timeout or client_body_timeout is below 10 s",
    why: "the edge relays the visitor's upload and download at the visitor's pace; a mobile visitor can pause \
          for seconds between two reads, and nginx then closes the connection (408 for a body, a truncated \
          response for send_timeout)",
    fix: "send_timeout 60s;\nclient_body_timeout 60s;",
};

/// An unfilled `${...}` template placeholder.
pub static UNFILLED_PLACEHOLDER: Rule = Rule {
    id: "nginx-unfilled-placeholder",
    severity: Severity::Error,
    target: Target::Nginx,
    cause: Some(Cause::ConnectRefused),
    visitor: "521 after the next restart (nginx refuses the configuration and does not start)",
    summary: "a ${...} placeholder was left by a template (envsubst, a container entrypoint)",
    why: "nginx reads ${NAME} as its variable $NAME: an unknown variable (\"unknown \"name\" variable\") or a \
          host named \"${NAME}\" makes nginx -t fail, so the next reload or restart keeps the old or no server",
    fix: "# fill the template before nginx reads it, e.g.\n# envsubst '$RESOLVER' < nginx.conf.template > nginx.conf",
};

/// FPM: no request_terminate_timeout.
pub static FPM_TERMINATE_TIMEOUT_UNSET: Rule = Rule {
    id: "fpm-terminate-timeout-unset",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::Saturated),
    visitor: "504/524, then 502 once every worker is stuck",
    summary: "request_terminate_timeout is unset or 0: a stuck request holds its worker forever",
    why: "max_execution_time counts CPU time only (waiting on a database or an API does not count), so a \
          hung request keeps its worker; once pm.max_children workers hang, the pool is saturated",
    fix: "request_terminate_timeout = 90s",
};

/// FPM: request_terminate_timeout longer than the edge waits.
pub static FPM_TERMINATE_TIMEOUT_BEYOND_EDGE: Rule = Rule {
    id: "fpm-terminate-timeout-beyond-edge",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::ResponseTimeout),
    visitor: "524",
    summary: "request_terminate_timeout is longer than the edge's 125 s read timeout",
    why: "the edge answers 524 at 125 s while the worker keeps running; the visitor retries and the pool fills \
          with work nobody waits for",
    fix: "request_terminate_timeout = 100s",
};

/// FPM: the hard kill comes before PHP's own limit.
pub static FPM_TERMINATE_BEFORE_PHP_LIMIT: Rule = Rule {
    id: "fpm-terminate-before-php-limit",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::TimeoutKill),
    visitor: "502 (instead of PHP's own 500 with an error message)",
    summary: "request_terminate_timeout is not above max_execution_time",
    why: "PHP-FPM kills the worker (SIGTERM, \"execution timed out ... terminating\") before PHP can stop the \
          script with a \"Maximum execution time\" fatal error; nginx sees the connection drop and answers 502",
    fix: "php_admin_value[max_execution_time] = 60\nrequest_terminate_timeout = 90s",
};

/// FPM: PHP's own time limit lets a script run past the edge's read timeout.
pub static FPM_PHP_TIME_LIMIT_BEYOND_EDGE: Rule = Rule {
    id: "fpm-php-time-limit-beyond-edge",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::ResponseTimeout),
    visitor: "524",
    summary: "max_execution_time (php.ini or the pool's php_admin_value) is 120 s or more and no \
              request_terminate_timeout ends the request sooner",
    why: "the edge answers 524 after its read timeout (the cloudflare profile: 125 s, documented as 120-125 s); \
          PHP stops a script only at max_execution_time, which on Linux counts CPU time, so a slower script \
          keeps its worker long after the visitor got the 524",
    fix: "php_admin_value[max_execution_time] = 60",
};

/// FPM: catch_workers_output off.
pub static FPM_CATCH_WORKERS_OUTPUT_OFF: Rule = Rule {
    id: "fpm-catch-workers-output-off",
    severity: Severity::Info,
    target: Target::Fpm,
    cause: None,
    visitor: "none directly: PHP's stderr (fatal errors, crashes) is discarded",
    summary: "catch_workers_output is off",
    why: "without it the workers' stderr goes to /dev/null, so the \"child said into stderr\" lines that explain \
          a crash or a 502 never reach the FPM log",
    fix: "catch_workers_output = yes",
};

/// FPM: memory_limit = -1.
pub static FPM_MEMORY_UNBOUNDED: Rule = Rule {
    id: "fpm-memory-unbounded",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::OomKill),
    visitor: "502 (520 if PHP faces the edge directly)",
    summary: "memory_limit is -1: one request can take all the host's memory",
    why: "without a PHP limit the kernel's OOM killer ends the runaway worker (or a neighbour) with SIGKILL \
          instead of PHP returning a 500",
    fix: "php_admin_value[memory_limit] = 256M",
};

/// FPM: memory_limit × pm.max_children over the host's memory.
pub static FPM_MEMORY_EXCEEDS_HOST: Rule = Rule {
    id: "fpm-memory-exceeds-host",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::OomKill),
    visitor: "502 (520 if PHP faces the edge directly)",
    summary: "memory_limit × pm.max_children is more than the host's memory (--host-memory)",
    why: "when every worker uses its allowance at once the kernel's OOM killer ends workers with SIGKILL",
    fix: "pm.max_children = 10        ; host memory / memory_limit, leaving room for the rest",
};

/// FPM: listen.backlog small.
pub static FPM_LISTEN_BACKLOG_LOW: Rule = Rule {
    id: "fpm-listen-backlog-low",
    severity: Severity::Warning,
    target: Target::Fpm,
    cause: Some(Cause::Saturated),
    visitor: "502",
    summary: "listen.backlog is below 128",
    why: "when every worker is busy, new connections wait in the listen backlog; once it is full, nginx's \
          connect() fails (\"Resource temporarily unavailable\") and it answers 502",
    fix: "listen.backlog = 511",
};

/// FPM: pm.max_requests unset.
pub static FPM_MAX_REQUESTS_UNSET: Rule = Rule {
    id: "fpm-max-requests-unset",
    severity: Severity::Info,
    target: Target::Fpm,
    cause: Some(Cause::OomKill),
    visitor: "502 once a leaking worker is killed",
    summary: "pm.max_requests is unset or 0: workers are never recycled",
    why: "memory leaked by extensions or code accumulates in long-lived workers until a limit or the OOM \
          killer ends them mid-request",
    fix: "pm.max_requests = 500",
};

/// FPM: slowlog off.
pub static FPM_SLOWLOG_OFF: Rule = Rule {
    id: "fpm-slowlog-off",
    severity: Severity::Info,
    target: Target::Fpm,
    cause: None,
    visitor: "none directly: slow requests behind 504/524 leave no stack trace",
    summary: "request_slowlog_timeout is unset or 0",
    why: "the slow log records a PHP stack trace of a request that runs too long, which is what explains a \
          later 504 or 524",
    fix: "request_slowlog_timeout = 10s\nslowlog = /var/log/$pool.slow.log",
};

/// FPM: a slowlog whose directory does not exist.
pub static FPM_SLOWLOG_DIR_MISSING: Rule = Rule {
    id: "fpm-slowlog-dir-missing",
    severity: Severity::Error,
    target: Target::Fpm,
    cause: Some(Cause::ConnectRefused),
    visitor: "502 (521 if PHP faces the edge) after the next restart: PHP-FPM does not start",
    summary: "the directory of the configured slowlog does not exist",
    why: "PHP-FPM opens the slow log when it starts and refuses to start when it cannot; the pool's socket is \
          then missing and nginx answers 502",
    fix: "slowlog = /var/log/$pool.slow.log",
};

/// Apache: `Timeout` longer than the edge waits.
pub static APACHE_TIMEOUT_BEYOND_EDGE: Rule = Rule {
    id: "apache-timeout-beyond-edge",
    severity: Severity::Warning,
    target: Target::Apache,
    cause: Some(Cause::ResponseTimeout),
    visitor: "524",
    summary: "Apache's Timeout is longer than the edge's 125 s read timeout",
    why: "Timeout bounds how long Apache (and mod_proxy, without ProxyTimeout) waits; past 125 s the edge has \
          already answered 524 and hung up, and Apache logs the request with nobody to receive it",
    fix: "Timeout 100",
};

/// Apache: `ProxyTimeout` longer than the edge waits.
pub static APACHE_PROXY_TIMEOUT_BEYOND_EDGE: Rule = Rule {
    id: "apache-proxy-timeout-beyond-edge",
    severity: Severity::Warning,
    target: Target::Apache,
    cause: Some(Cause::ResponseTimeout),
    visitor: "524",
    summary: "ProxyTimeout is longer than the edge's 125 s read timeout",
    why: "mod_proxy waits ProxyTimeout for the backend; the edge stops waiting at 125 s and answers 524 first",
    fix: "ProxyTimeout 100",
};

/// Apache: keep-alive closed before the edge stops reusing the connection.
pub static APACHE_KEEPALIVE_TIMEOUT_SHORT: Rule = Rule {
    id: "apache-keepalive-timeout-short",
    severity: Severity::Warning,
    target: Target::Apache,
    cause: Some(Cause::KeepaliveRace),
    visitor: "intermittent 520",
    summary: "Apache closes idle keep-alive connections before the edge stops reusing them",
    why: "the edge reuses idle origin connections for up to 900 s; Apache closes them after KeepAliveTimeout \
          (default 5 s), so a request sent as the close crosses it meets a FIN or RST: a 520 no log shows",
    fix: "KeepAliveTimeout 905",
};

/// Apache: `ServerTokens` other than `Prod`.
pub static APACHE_SERVER_TOKENS: Rule = Rule {
    id: "apache-server-tokens",
    severity: Severity::Info,
    target: Target::Apache,
    cause: Some(Cause::HeadTooLarge),
    visitor: "520 only once the head exceeds the edge's limit",
    summary: "ServerTokens is not Prod: every response carries the version and OS",
    why: "header bloat adds up toward the head limits and tells scanners the exact version",
    fix: "ServerTokens Prod",
};
