//! The nginx rules. Each judges the value nginx will really use at a level (after inheritance,
//! [`Scopes`]), and reports it at the directive in effect or, for a default, at the block that
//! leaves it in effect.

use super::catalog::*;
use super::edge::{edge_nets, Net};
use super::{head_budget, Finding, Options};
use crate::fpm::{self, FpmConfig, Pool};
use crate::nginx::{Config, Directive, ScopeId, ScopeKind, Scopes};
use crate::units::{format_secs, format_size, fpm_seconds, nginx_millis, nginx_size, PAGE_SIZE};

/// A module that passes requests to an upstream, and which of the shared directive families it
/// has (`ngx_http_upstream` users share `*_buffer_size`, `*_read_timeout`, ...).
struct UpstreamModule {
    /// Directive prefix: `proxy` for `proxy_read_timeout`.
    prefix: &'static str,
    /// Whether `*_buffers` and `*_busy_buffers_size` exist.
    buffers: bool,
    /// Whether `*_hide_header` exists.
    hide_header: bool,
}

const MODULES: &[UpstreamModule] = &[
    UpstreamModule {
        prefix: "proxy",
        buffers: true,
        hide_header: true,
    },
    UpstreamModule {
        prefix: "fastcgi",
        buffers: true,
        hide_header: true,
    },
    UpstreamModule {
        prefix: "uwsgi",
        buffers: true,
        hide_header: true,
    },
    UpstreamModule {
        prefix: "scgi",
        buffers: true,
        hide_header: true,
    },
    UpstreamModule {
        prefix: "grpc",
        buffers: false,
        hide_header: true,
    },
];

impl UpstreamModule {
    fn key(&self, suffix: &str) -> String {
        format!("{}_{}", self.prefix, suffix)
    }
}

/// nginx's default `*_read_timeout`.
const DEFAULT_READ_TIMEOUT_MS: u64 = 60_000;
/// Below this an upstream read timeout is "too short for the app".
const MIN_READ_TIMEOUT_MS: u64 = 10_000;
/// nginx's default `keepalive_timeout`.
const DEFAULT_KEEPALIVE_TIMEOUT_MS: u64 = 75_000;
/// nginx's own default `keepalive_requests` since 1.19.10.
const MIN_KEEPALIVE_REQUESTS: u64 = 1000;
/// nginx's default `large_client_header_buffers` size.
const DEFAULT_LARGE_HEADER_BUFFER: u64 = 8 * 1024;
/// `error_log` levels that drop `error` lines.
const QUIET_LEVELS: &[&str] = &["crit", "alert", "emerg"];

/// A place where requests are passed upstream: the level, the module and its `*_pass`.
struct Site<'c> {
    scope: ScopeId,
    module: &'static UpstreamModule,
    pass: &'c Directive,
}

struct Ctx<'a, 'c> {
    scopes: Scopes<'c>,
    fpm: &'a [FpmConfig],
    options: &'a Options,
    out: &'a mut Vec<Finding>,
}

pub(super) fn check(config: &Config, fpm: &[FpmConfig], options: &Options, out: &mut Vec<Finding>) {
    let mut ctx = Ctx {
        scopes: Scopes::build(config),
        fpm,
        options,
        out,
    };
    // HTTP rules read only the http levels: stream's and mail's `proxy_pass`, `return` and
    // timeouts mean something else.
    let levels: Vec<ScopeId> = http_levels(&ctx.scopes);
    let sites = sites(&ctx.scopes, &levels);
    for site in &sites {
        head_buffer(&mut ctx, site);
        read_timeout(&mut ctx, site);
        fastcgi_vs_fpm(&mut ctx, site);
        upstream_keepalive(&mut ctx, site);
        x_powered_by(&mut ctx, site);
    }
    for &id in &levels {
        busy_buffers(&mut ctx, id);
        deny_edge(&mut ctx, id);
        client_timeouts(&mut ctx, id);
    }
    let servers: Vec<ScopeId> = ctx
        .scopes
        .iter()
        .filter(|(_, s)| s.kind == ScopeKind::Server)
        .map(|(id, _)| id)
        .collect();
    keepalive_timeout(&mut ctx, &servers);
    for &id in &servers {
        keepalive_requests(&mut ctx, id);
        h2_header_limit(&mut ctx, id);
        server_tokens(&mut ctx, id);
    }
    every_directive(&mut ctx, &levels);
    worker_connections(config, ctx.out);
    placeholders(&config.directives, ctx.out);
}

/// The head budget for messages (`16 KB`).
fn budget_text() -> String {
    format!("{} KB", head_budget() / 1024)
}

/// nginx's own default `worker_connections`.
const DEFAULT_WORKER_CONNECTIONS: u64 = 512;
/// Below this a visitor-facing timeout cuts slow visitors off.
const MIN_CLIENT_TIMEOUT_MS: u64 = 10_000;
/// From this keep-alive timeout on, the race with the edge's pool is rare (info, not warning).
const RARE_RACE_KEEPALIVE_MS: u64 = 300_000;
/// The bytes `server_tokens on` adds to the Server field (`/1.22.1`).
const SERVER_TOKENS_BYTES: usize = "/1.22.1".len();
/// A typical `X-Powered-By: PHP/8.2.7` field line with its CRLF.
const X_POWERED_BY_BYTES: usize = "X-Powered-By: PHP/8.2.7\r\n".len();

fn worker_connections(config: &Config, out: &mut Vec<Finding>) {
    let events = config.directives.iter().filter(|d| d.name() == "events");
    for d in events.flat_map(|e| e.children()) {
        if d.name() != "worker_connections" {
            continue;
        }
        let Some(n) = d.arg(0).and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if n < DEFAULT_WORKER_CONNECTIONS {
            out.push(Finding::new(
                &WORKER_CONNECTIONS_LOW,
                d.span(),
                format!(
                    "worker_connections is {n}: each idle connection the edge keeps for reuse and each \
                     upstream connection takes one, and at {n} nginx drops new connections"
                ),
            ));
        }
    }
}

fn client_timeouts(ctx: &mut Ctx<'_, '_>, id: ScopeId) {
    for d in ctx.scopes.get(id).directives {
        if !matches!(d.name(), "send_timeout" | "client_body_timeout") {
            continue;
        }
        let Some(ms) = d.arg(0).and_then(nginx_millis) else {
            continue;
        };
        if ms < MIN_CLIENT_TIMEOUT_MS {
            ctx.out.push(
                Finding::new(
                    &CLIENT_TIMEOUT_SHORT,
                    d.span(),
                    format!(
                        "{} is {}: a visitor who pauses longer between two reads or writes is cut off",
                        d.name(),
                        format_secs(ms)
                    ),
                )
                .with_fix(format!("{} 60s;", d.name())),
            );
        }
    }
}

/// `${NAME}` in an argument, anywhere (map and geo bodies too); a placeholder in a directive's
/// name is an unknown directive, reported by the directive check.
fn placeholders(directives: &[Directive], out: &mut Vec<Finding>) {
    for d in directives {
        if let Some(word) = d
            .args
            .iter()
            .find(|w| crate::nginx::check::is_placeholder(&w.text))
        {
            let var = word.text.split("${").nth(1).unwrap_or_default();
            let var = var.split('}').next().unwrap_or_default();
            out.push(
                Finding::new(
                    &UNFILLED_PLACEHOLDER,
                    &word.span,
                    format!(
                        "\"{}\" holds the placeholder ${{{var}}}: nginx reads it as the variable ${var} \
                         and refuses the configuration (unknown \"{}\" variable, or no host of that name)",
                        word.text,
                        var.to_ascii_lowercase()
                    ),
                )
                .with_fix(format!(
                    "# fill the template before nginx reads it, e.g.\n\
                     # envsubst '${{{var}}}' < nginx.conf.template > nginx.conf   # with {var} set"
                )),
            );
        }
        placeholders(d.children(), out);
    }
}

fn sites<'c>(scopes: &Scopes<'c>, levels: &[ScopeId]) -> Vec<Site<'c>> {
    let mut out = Vec::new();
    for &id in levels {
        let scope = scopes.get(id);
        for module in MODULES {
            let pass = module.key("pass");
            if let Some(d) = scope.directives.iter().find(|d| d.name() == pass) {
                out.push(Site {
                    scope: id,
                    module,
                    pass: d,
                });
            }
        }
    }
    out
}

/// Levels that nginx merges http configuration into (a fragment's top level counts as http).
fn http_levels(scopes: &Scopes<'_>) -> Vec<ScopeId> {
    let has_http = scopes.iter().any(|(_, s)| s.kind == ScopeKind::Http);
    scopes
        .iter()
        .filter(|(_, s)| match s.kind {
            ScopeKind::Http
            | ScopeKind::Server
            | ScopeKind::Location
            | ScopeKind::If
            | ScopeKind::LimitExcept => true,
            ScopeKind::Main => !has_http,
            ScopeKind::Upstream | ScopeKind::Other => false,
        })
        .map(|(id, _)| id)
        .collect()
}

fn size_of(d: &Directive, arg: usize) -> Option<u64> {
    d.arg(arg).and_then(nginx_size)
}

fn head_buffer(ctx: &mut Ctx<'_, '_>, site: &Site<'_>) {
    let key = site.module.key("buffer_size");
    let (size, span, origin) = match ctx.scopes.effective(site.scope, &key) {
        Some(d) => match size_of(d, 0) {
            Some(size) => (size, d.span().clone(), "set"),
            None => return,
        },
        None => (
            PAGE_SIZE,
            site.pass.span().clone(),
            "nginx default: one memory page",
        ),
    };
    let fix = |head: u64| buffer_fix(site.module, head.max(head_budget()));
    if let Some(head) = ctx.options.head_bytes {
        if size < head {
            ctx.out.push(
                Finding::new(
                    &HEAD_BUFFER_TOO_SMALL,
                    &span,
                    format!(
                        "{key} is {} ({origin}) but the measured response head is {head} bytes: \
                         nginx answers 502 \"upstream sent too big header\"",
                        format_size(size)
                    ),
                )
                .with_fix(fix(head)),
            );
        }
    } else if size < head_budget() {
        ctx.out.push(
            Finding::new(
                &HEAD_BUFFER_BELOW_BUDGET,
                &span,
                format!(
                    "{key} is {} ({origin}), below the 16 KB head budget: heads larger than the \
                     buffer get 502 \"upstream sent too big header\"",
                    format_size(size)
                ),
            )
            .with_fix(fix(head_budget())),
        );
    }
}

/// Buffer settings that hold `head` bytes and satisfy nginx's busy-buffer checks.
fn buffer_fix(module: &UpstreamModule, head: u64) -> String {
    let kib = head.div_ceil(1024).next_power_of_two();
    let p = module.prefix;
    if module.buffers {
        format!(
            "{p}_buffer_size {kib}k;\n{p}_buffers 8 {kib}k;\n{p}_busy_buffers_size {}k;",
            kib * 2
        )
    } else {
        format!("{p}_buffer_size {kib}k;")
    }
}

/// nginx's merge checks (`ngx_http_proxy_merge_loc_conf` and its FastCGI/uwsgi/SCGI twins).
fn busy_buffers(ctx: &mut Ctx<'_, '_>, id: ScopeId) {
    for module in MODULES.iter().filter(|m| m.buffers) {
        let p = module.prefix;
        let buffer_size = ctx.scopes.effective(id, &module.key("buffer_size"));
        let buffers = ctx.scopes.effective(id, &module.key("buffers"));
        let busy = ctx.scopes.effective(id, &module.key("busy_buffers_size"));
        let Some(blame) = busy.or(buffer_size).or(buffers) else {
            continue;
        };
        // Judge each level only where one of the three is written, so one mistake is one finding.
        let here = ctx.scopes.get(id).directives;
        let written_here = [buffer_size, buffers, busy]
            .iter()
            .flatten()
            .any(|d| here.iter().any(|h| std::ptr::eq(h, *d)));
        if !written_here {
            continue;
        }
        let size = buffer_size.map_or(Some(PAGE_SIZE), |d| size_of(d, 0));
        let (num, one) = match buffers {
            Some(d) => (d.arg(0).and_then(|n| n.parse::<u64>().ok()), size_of(d, 1)),
            None => (Some(8), Some(PAGE_SIZE)),
        };
        let (Some(size), Some(num), Some(one)) = (size, num, one) else {
            continue;
        };
        let largest = size.max(one);
        let busy_size = match busy {
            Some(d) => match size_of(d, 0) {
                Some(v) => v,
                None => continue,
            },
            None => 2 * largest,
        };
        let busy_origin = if busy.is_some() {
            ""
        } else {
            " (default: twice the larger buffer)"
        };
        let message = if num < 2 {
            format!("there must be at least 2 \"{p}_buffers\"")
        } else if busy_size < largest {
            format!(
                "\"{p}_busy_buffers_size\" {} must be equal to or greater than the maximum of \
                 \"{p}_buffer_size\" and one of the \"{p}_buffers\" ({})",
                format_size(busy_size),
                format_size(largest)
            )
        } else if busy_size > (num - 1) * one {
            format!(
                "\"{p}_busy_buffers_size\" {}{busy_origin} must be less than the size of all \
                 \"{p}_buffers\" minus one buffer ({} x {} = {}): nginx -t fails",
                format_size(busy_size),
                num - 1,
                format_size(one),
                format_size((num - 1) * one)
            )
        } else {
            continue;
        };
        ctx.out.push(
            Finding::new(&BUSY_BUFFERS_INVALID, blame.span(), message)
                .with_fix(buffer_fix(module, largest)),
        );
    }
}

fn read_timeout(ctx: &mut Ctx<'_, '_>, site: &Site<'_>) {
    let key = site.module.key("read_timeout");
    let effective = ctx.scopes.effective(site.scope, &key);
    let (ms, span) = match effective {
        Some(d) => match d.arg(0).and_then(nginx_millis) {
            Some(ms) => (ms, d.span().clone()),
            None => return,
        },
        None => (DEFAULT_READ_TIMEOUT_MS, site.pass.span().clone()),
    };
    if ms >= ctx.options.read_limit() * 1000 {
        ctx.out.push(
            Finding::new(
                &READ_TIMEOUT_BEYOND_EDGE,
                &span,
                format!(
                    "{key} is {}, at or past the edge's read timeout ({}): the edge answers 524 \
                     before nginx gives up",
                    format_secs(ms),
                    ctx.options.edge_source()
                ),
            )
            .with_fix(format!("{key} {}s;", ctx.options.safe_read_timeout())),
        );
    } else if ms < MIN_READ_TIMEOUT_MS {
        ctx.out.push(
            Finding::new(
                &READ_TIMEOUT_SHORT,
                &span,
                format!(
                    "{key} is {}: any response slower than that becomes a 504 from nginx",
                    format_secs(ms)
                ),
            )
            .with_fix(format!("{key} 60s;")),
        );
    }
}

/// The pools `fastcgi_pass` reaches: those whose `listen` matches its address, or the only
/// pool when nothing matches.
fn pools_for<'f>(fpm: &'f [FpmConfig], pass: &str) -> Vec<&'f Pool> {
    let pools: Vec<&Pool> = fpm.iter().flat_map(|c| c.pools.iter()).collect();
    let target = pass.strip_prefix("unix:").unwrap_or(pass);
    let matching: Vec<&Pool> = pools
        .iter()
        .copied()
        .filter(|p| {
            p.get("listen").is_some_and(|l| {
                l.value == target
                    || target.ends_with(&format!(":{}", l.value))
                    || l.value
                        .ends_with(&format!(":{}", target.rsplit(':').next().unwrap_or("")))
                        && !target.starts_with('/')
            })
        })
        .collect();
    if matching.is_empty() && pools.len() == 1 {
        pools
    } else {
        matching
    }
}

fn fastcgi_vs_fpm(ctx: &mut Ctx<'_, '_>, site: &Site<'_>) {
    if site.module.prefix != "fastcgi" {
        return;
    }
    let Some(pass) = site.pass.arg(0) else { return };
    let effective = ctx.scopes.effective(site.scope, "fastcgi_read_timeout");
    let (ms, span) = match effective {
        Some(d) => match d.arg(0).and_then(nginx_millis) {
            Some(ms) => (ms, d.span().clone()),
            None => return,
        },
        None => (DEFAULT_READ_TIMEOUT_MS, site.pass.span().clone()),
    };
    for pool in pools_for(ctx.fpm, pass) {
        // How long the pool lets a request run: request_terminate_timeout, else PHP's own
        // max_execution_time (the pool's php_admin_value or its php.ini).
        let terminate = pool
            .get("request_terminate_timeout")
            .and_then(|e| Some((e, fpm_seconds(&e.value).filter(|s| *s > 0)?)));
        let (entry, secs, what) = match terminate {
            Some((e, secs)) => (e, secs, "request_terminate_timeout"),
            None => match pool
                .php_setting("max_execution_time")
                .and_then(|e| Some((e, e.value.trim().parse::<u64>().ok().filter(|s| *s > 0)?)))
            {
                Some((e, secs)) => (e, secs, "max_execution_time"),
                None => continue,
            },
        };
        if ms < secs * 1000 {
            ctx.out.push(
                Finding::new(
                    &FASTCGI_TIMEOUT_BEFORE_FPM,
                    &span,
                    format!(
                        "fastcgi_read_timeout is {} but pool [{}] lets a request run {secs}s \
                         ({what}, {}:{}:{}): nginx answers 504 first",
                        format_secs(ms),
                        pool.name,
                        entry.span.file.display(),
                        entry.span.line,
                        entry.span.col
                    ),
                )
                .with_fix(format!(
                    "fastcgi_read_timeout {}s;",
                    (secs + 10).min(ctx.options.safe_read_timeout())
                )),
            );
        }
    }
}

/// The upstream block a `*_pass` names, if it is one in this configuration.
fn upstream_named<'c>(scopes: &Scopes<'c>, pass: &str) -> Option<&'c Directive> {
    let host = pass.split_once("://").map_or(pass, |(_, rest)| rest);
    let host = host.split(['/', '?']).next().unwrap_or(host);
    scopes
        .iter()
        .filter(|(_, s)| s.kind == ScopeKind::Upstream)
        .filter_map(|(_, s)| s.block)
        .find(|b| b.arg(0) == Some(host))
}

fn upstream_keepalive(ctx: &mut Ctx<'_, '_>, site: &Site<'_>) {
    let Some(pass) = site.pass.arg(0) else { return };
    let Some(upstream) = upstream_named(&ctx.scopes, pass) else {
        return;
    };
    if !upstream.children().iter().any(|d| d.name() == "keepalive") {
        return;
    }
    let name = upstream.arg(0).unwrap_or_default();
    let mut missing = Vec::new();
    match site.module.prefix {
        "proxy" => {
            let version = ctx.scopes.effective(site.scope, "proxy_http_version");
            if version.and_then(|d| d.arg(0)) != Some("1.1") {
                missing.push("proxy_http_version 1.1;");
            }
            let headers = ctx.scopes.effective_all(site.scope, &["proxy_set_header"]);
            let connection_cleared = headers.iter().any(|d| {
                d.arg(0)
                    .is_some_and(|h| h.eq_ignore_ascii_case("connection"))
                    && d.arg(1).is_some_and(|v| !v.eq_ignore_ascii_case("close"))
            });
            if !connection_cleared {
                missing.push("proxy_set_header Connection \"\";");
            }
        }
        "fastcgi" => {
            let keep = ctx.scopes.effective(site.scope, "fastcgi_keep_conn");
            if keep.and_then(|d| d.arg(0)) != Some("on") {
                missing.push("fastcgi_keep_conn on;");
            }
        }
        _ => return,
    }
    if missing.is_empty() {
        return;
    }
    ctx.out.push(
        Finding::new(
            &UPSTREAM_KEEPALIVE_UNUSED,
            site.pass.span(),
            format!(
                "upstream \"{name}\" keeps idle connections ({}:{}) but this location lacks {}: \
                 nginx opens a new connection per request",
                upstream.span().file.display(),
                upstream.span().line,
                missing.join(" and ")
            ),
        )
        .with_fix(missing.join("\n")),
    );
}

fn x_powered_by(ctx: &mut Ctx<'_, '_>, site: &Site<'_>) {
    if !site.module.hide_header || site.module.prefix == "grpc" {
        return;
    }
    let key = site.module.key("hide_header");
    let hidden = ctx.scopes.effective_all(site.scope, &[&key]);
    if hidden.iter().any(|d| {
        d.arg(0)
            .is_some_and(|h| h.eq_ignore_ascii_case("x-powered-by"))
    }) {
        return;
    }
    let cleared = ctx
        .scopes
        .effective_all(site.scope, &["more_clear_headers"])
        .iter()
        .any(|d| {
            d.args
                .iter()
                .any(|a| a.text.eq_ignore_ascii_case("x-powered-by"))
        });
    if cleared {
        return;
    }
    if site.module.prefix == "fastcgi" {
        let pass = site.pass.arg(0).unwrap_or_default();
        let pools = pools_for(ctx.fpm, pass);
        let exposes_off = !pools.is_empty()
            && pools.iter().all(|p| {
                p.php_setting("expose_php")
                    .is_some_and(|e| !fpm::is_true(&e.value))
            });
        if exposes_off {
            return;
        }
    }
    let note = if hidden.is_empty() {
        String::new()
    } else {
        format!(
            " (the {key} at {}:{} replaces every one inherited from above)",
            hidden[0].span().file.display(),
            hidden[0].span().line
        )
    };
    ctx.out.push(
        Finding::new(
            &X_POWERED_BY,
            site.pass.span(),
            format!(
                "the upstream's X-Powered-By header is passed to the visitor{note}: about \
                 {X_POWERED_BY_BYTES} bytes of each response head (counted toward the {} head budget)",
                budget_text()
            ),
        )
        .with_fix(format!("{key} X-Powered-By;")),
    );
}

/// One finding per configuration: the shortest keep-alive timeout of its servers.
fn keepalive_timeout(ctx: &mut Ctx<'_, '_>, servers: &[ScopeId]) {
    let mut shortest: Option<(u64, crate::span::Span, &str)> = None;
    let mut short_servers = 0;
    let idle_ms = ctx.options.edge_idle_timeout * 1000;
    for &id in servers {
        let Some(server_span) = ctx.scopes.get(id).block.map(|b| b.span().clone()) else {
            continue;
        };
        let (ms, span, origin) = match ctx.scopes.effective(id, "keepalive_timeout") {
            Some(d) => match d.arg(0).and_then(nginx_millis) {
                Some(ms) => (ms, d.span().clone(), ""),
                None => continue,
            },
            None => (
                DEFAULT_KEEPALIVE_TIMEOUT_MS,
                server_span,
                " (nginx default)",
            ),
        };
        if ms == 0 || ms >= idle_ms {
            continue;
        }
        short_servers += 1;
        if shortest.as_ref().is_none_or(|(best, _, _)| ms < *best) {
            shortest = Some((ms, span, origin));
        }
    }
    let Some((ms, span, origin)) = shortest else {
        return;
    };
    let rule = if ms < RARE_RACE_KEEPALIVE_MS {
        &KEEPALIVE_TIMEOUT_SHORT
    } else {
        &KEEPALIVE_TIMEOUT_BELOW_POOL
    };
    let others = if short_servers > 1 {
        format!(" ({short_servers} servers close idle connections before the edge does)")
    } else {
        String::new()
    };
    ctx.out.push(
        Finding::new(
            rule,
            &span,
            format!(
                "keepalive_timeout is {}{origin}, shorter than the {} the edge keeps idle \
                 connections for reuse{others}",
                format_secs(ms),
                format_secs(idle_ms)
            ),
        )
        .with_fix(format!(
            "keepalive_timeout {}s;",
            ctx.options.edge_idle_timeout + 5
        )),
    );
}

fn keepalive_requests(ctx: &mut Ctx<'_, '_>, id: ScopeId) {
    if let Some(d) = ctx.scopes.effective(id, "keepalive_requests") {
        if let Some(n) = d.arg(0).and_then(|n| n.parse::<u64>().ok()) {
            if n < MIN_KEEPALIVE_REQUESTS {
                ctx.out.push(Finding::new(
                    &KEEPALIVE_REQUESTS_LOW,
                    d.span(),
                    format!(
                        "keepalive_requests is {n}: nginx closes each connection after {n} requests \
                         (its own default is {MIN_KEEPALIVE_REQUESTS})"
                    ),
                ));
            }
        }
    }
}

fn listens_http2(ctx: &Ctx<'_, '_>, id: ScopeId) -> bool {
    let scope = ctx.scopes.get(id);
    let listen_h2 = scope
        .directives
        .iter()
        .filter(|d| d.name() == "listen")
        .any(|d| d.args.iter().any(|a| a.text == "http2"));
    let http2_on = ctx
        .scopes
        .effective(id, "http2")
        .is_some_and(|d| d.arg(0) == Some("on"));
    listen_h2 || http2_on
}

fn h2_header_limit(ctx: &mut Ctx<'_, '_>, id: ScopeId) {
    if !listens_http2(ctx, id) {
        return;
    }
    let server_span = ctx.scopes.get(id).block.map(|b| b.span().clone());
    let Some(server_span) = server_span else {
        return;
    };
    let buffers = ctx.scopes.effective(id, "large_client_header_buffers");
    let (size, span, origin) = match buffers {
        Some(d) => match size_of(d, 1) {
            Some(size) => (size, d.span().clone(), ""),
            None => return,
        },
        None => (DEFAULT_LARGE_HEADER_BUFFER, server_span, " (nginx default)"),
    };
    if size < head_budget() {
        ctx.out.push(Finding::new(
            &H2_HEADER_LIMIT_SMALL,
            &span,
            format!(
                "this HTTP/2 server accepts header fields up to {}{origin}: a larger Cookie from \
                 the edge makes nginx refuse the stream",
                format_size(size)
            ),
        ));
    }
}

fn server_tokens(ctx: &mut Ctx<'_, '_>, id: ScopeId) {
    match ctx.scopes.effective(id, "server_tokens") {
        Some(d) if d.arg(0) == Some("off") => {}
        Some(d) => {
            let span = d.span().clone();
            let value = d.arg(0).unwrap_or_default().to_string();
            ctx.out.push(Finding::new(
                &SERVER_TOKENS,
                &span,
                format!(
                    "server_tokens is {value}: every response names the nginx version, \
                     {SERVER_TOKENS_BYTES} bytes or more of each response head (counted toward the \
                     {} head budget)",
                    budget_text()
                ),
            ));
        }
        None => {
            let http = ctx.scopes.enclosing(id, ScopeKind::Http).unwrap_or(id);
            let Some(block) = ctx.scopes.get(http).block else {
                return;
            };
            ctx.out.push(Finding::new(
                &SERVER_TOKENS,
                block.span(),
                format!(
                    "server_tokens is not set and defaults to on: every response names the nginx \
                     version, {SERVER_TOKENS_BYTES} bytes of each response head (counted toward the \
                     {} head budget)",
                    budget_text()
                ),
            ));
        }
    }
}

/// `allow`/`deny` in the order nginx evaluates them: the first rule matching an address wins.
fn deny_edge(ctx: &mut Ctx<'_, '_>, id: ScopeId) {
    let scope = ctx.scopes.get(id);
    if !scope
        .directives
        .iter()
        .any(|d| matches!(d.name(), "allow" | "deny"))
    {
        return;
    }
    // Connections from a trusted range get the visitor's address (realip); the others keep the
    // edge's and meet the allow/deny list with it.
    let trusted: Vec<Net> = if ctx.scopes.effective(id, "real_ip_header").is_some() {
        ctx.scopes
            .effective_all(id, &["set_real_ip_from"])
            .iter()
            .filter_map(|d| d.arg(0).and_then(Net::parse))
            .collect()
    } else {
        Vec::new()
    };
    let rules = ctx.scopes.effective_all(id, &["allow", "deny"]);
    let has_allow = rules.iter().any(|d| d.name() == "allow");
    let mut denied = Vec::new();
    let mut blame: Option<&Directive> = None;
    for (range, edge) in edge_nets() {
        if trusted.iter().any(|t| t.contains(edge)) {
            continue;
        }
        for rule in &rules {
            let arg = rule.arg(0).unwrap_or_default();
            let net = Net::parse(arg);
            let is_all = arg == "all";
            if rule.name() == "allow" {
                if is_all || net.is_some_and(|n| n.contains(edge)) {
                    break;
                }
            } else if (is_all && has_allow) || net.is_some_and(|n| n.overlaps(edge)) {
                // A lone `deny all` blocks everyone on purpose; an allow-list or a deny of an edge
                // range is meant for visitors and hits the edge instead.
                denied.push(range);
                blame.get_or_insert(rule);
                break;
            } else if is_all {
                break;
            }
        }
    }
    let Some(blame) = blame else { return };
    let what = if denied.len() == super::CLOUDFLARE_IPV4.len() {
        "every edge address".to_string()
    } else {
        format!("edge ranges {}", denied.join(", "))
    };
    let span = blame.span().clone();
    let why = if trusted.is_empty() {
        "without set_real_ip_from/real_ip_header nginx sees the edge's address, not the visitor's"
    } else {
        "set_real_ip_from does not trust those ranges, so connections from them keep the edge's \
         address"
    };
    let fix = format!(
        "# the edge's ranges (cloudflare.com/ips-v4; add ips-v6 if the origin has IPv6)\n{}\n\
         real_ip_header CF-Connecting-IP;",
        super::CLOUDFLARE_IPV4
            .iter()
            .map(|r| format!("set_real_ip_from {r};"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    ctx.out.push(
        Finding::new(
            &DENY_EDGE,
            &span,
            format!("this allow/deny list refuses {what}, and {why}"),
        )
        .with_fix(fix),
    );
}

/// Rules about single directives wherever they are.
fn every_directive(ctx: &mut Ctx<'_, '_>, levels: &[ScopeId]) {
    let mut found = Vec::new();
    for (id, scope) in ctx.scopes.iter() {
        for d in scope.directives {
            match d.name() {
                "return" if d.arg(0) == Some("444") && levels.contains(&id) => {
                    found.push(Finding::new(
                        &RETURN_444,
                        d.span(),
                        "return 444 closes the connection without a response: behind the edge the \
                     visitor gets 520",
                    ))
                }
                "error_log" => {
                    if let Some(f) = error_log(d) {
                        found.push(f);
                    }
                }
                _ => {}
            }
        }
    }
    ctx.out.extend(found);
}

fn error_log(d: &Directive) -> Option<Finding> {
    let target = d.arg(0)?;
    let level = d.arg(1);
    let message = if target == "/dev/null" {
        "error_log goes to /dev/null: the lines that explain a 502/504/520 are lost".to_string()
    } else if target == "off" {
        "error_log off writes to a file named \"off\" (there is no off switch); use a real path"
            .to_string()
    } else if let Some(level) = level.filter(|l| QUIET_LEVELS.contains(l)) {
        format!(
            "error_log level {level} drops the error-level lines (\"upstream timed out\", \
             \"upstream sent too big header\") that explain a 502/504/520"
        )
    } else {
        return None;
    };
    Some(Finding::new(&ERROR_LOG_HIDES_EVIDENCE, d.span(), message))
}
