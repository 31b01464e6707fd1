//! The PHP-FPM pool rules.

use std::path::Path;

use super::catalog::*;
use super::{Finding, Options};
use crate::fpm::{is_true, Entry, FpmConfig, Pool};
use crate::phpini::PhpIni;
use crate::units::{format_size, fpm_seconds, php_size, PhpSize};

/// Below this a listen backlog overflows on an ordinary burst.
const MIN_LISTEN_BACKLOG: i64 = 128;
/// PHP's default `memory_limit`.
const DEFAULT_MEMORY_LIMIT: u64 = 128 << 20;

pub(super) fn check(config: &FpmConfig, options: &Options, out: &mut Vec<Finding>) {
    for pool in &config.pools {
        terminate_timeout(pool, options, out);
        catch_workers_output(pool, out);
        memory(pool, options, out);
        backlog(pool, out);
        max_requests(pool, out);
        slowlog(config, pool, out);
    }
}

/// Seconds of an entry, with 0 meaning "off" kept as 0.
fn seconds(pool: &Pool, key: &str) -> Option<u64> {
    pool.get(key).and_then(|e| fpm_seconds(&e.value))
}

fn terminate_timeout(pool: &Pool, options: &Options, out: &mut Vec<Finding>) {
    let entry = pool.get("request_terminate_timeout");
    let secs = seconds(pool, "request_terminate_timeout").unwrap_or(0);
    let max_execution = pool
        .php_setting("max_execution_time")
        .and_then(|e| Some((e, e.value.trim().parse::<u64>().ok()?)))
        .filter(|(_, s)| *s > 0);
    if secs == 0 {
        let span = entry.map_or(&pool.span, |e| &e.span);
        out.push(Finding::new(
            &FPM_TERMINATE_TIMEOUT_UNSET,
            span,
            format!(
                "pool [{}] has no request_terminate_timeout: a request stuck on I/O keeps its worker",
                pool.name
            ),
        ));
        if let Some((met, limit)) = max_execution {
            time_limit_beyond_edge(met, limit, pool.from_ini(met), options, out);
        }
        return;
    }
    let Some(entry) = entry else { return };
    if secs >= options.read_limit() {
        out.push(
            Finding::new(
                &FPM_TERMINATE_TIMEOUT_BEYOND_EDGE,
                &entry.span,
                format!(
                    "request_terminate_timeout is {secs}s, at or past the edge's read timeout \
                     ({}): the edge answers 524 while the worker keeps running",
                    options.edge_source()
                ),
            )
            .with_fix(format!(
                "request_terminate_timeout = {}s",
                options.safe_read_timeout()
            )),
        );
    }
    if let Some((met, max_execution)) = max_execution {
        if secs <= max_execution {
            let lower = (secs * 2 / 3).max(1);
            // Reported where the fix goes: the php.ini line when the limit comes from there.
            let (span, fix, place) = if pool.from_ini(met) {
                (
                    &met.span,
                    format!("max_execution_time = {lower}"),
                    format!(
                        " (pool [{}], {}:{})",
                        pool.name,
                        entry.span.file.display(),
                        entry.span.line
                    ),
                )
            } else if max_execution + 30 < options.read_limit() {
                // Replaces the request_terminate_timeout line: 30 s above PHP's own limit.
                (
                    &entry.span,
                    format!("request_terminate_timeout = {}s", max_execution + 30),
                    String::new(),
                )
            } else {
                (
                    &entry.span,
                    format!(
                        "php_admin_value[max_execution_time] = {lower}\n\
                         request_terminate_timeout = {secs}s"
                    ),
                    String::new(),
                )
            };
            out.push(
                Finding::new(
                    &FPM_TERMINATE_BEFORE_PHP_LIMIT,
                    span,
                    format!(
                        "request_terminate_timeout ({secs}s{place}) is not above max_execution_time \
                         ({max_execution}s, {}): PHP-FPM kills the worker before PHP can fail the \
                         request",
                        met.span
                    ),
                )
                .with_fix(fix),
            );
        }
    }
}

/// `max_execution_time` at or past the edge's read timeout, with no `request_terminate_timeout`
/// to end the request sooner.
fn time_limit_beyond_edge(
    met: &Entry,
    limit: u64,
    in_ini: bool,
    options: &Options,
    out: &mut Vec<Finding>,
) {
    if limit < options.read_limit() {
        return;
    }
    let safe = (options.safe_read_timeout() * 3 / 5).max(1);
    let fix = if in_ini {
        format!("max_execution_time = {safe}")
    } else {
        format!("php_admin_value[max_execution_time] = {safe}")
    };
    out.push(
        Finding::new(
            &FPM_PHP_TIME_LIMIT_BEYOND_EDGE,
            &met.span,
            format!(
                "max_execution_time is {limit}s, at or past the edge's read timeout ({}), and no \
                 request_terminate_timeout ends the request sooner: the edge answers 524 while PHP \
                 keeps running",
                options.edge_source()
            ),
        )
        .with_fix(fix),
    );
}

/// The rules a `php.ini` linted without any pool can be judged by.
pub(super) fn check_ini(ini: &PhpIni, options: &Options, out: &mut Vec<Finding>) {
    if let Some(met) = ini.get("max_execution_time") {
        if let Some(limit) = met.value.trim().parse::<u64>().ok().filter(|s| *s > 0) {
            time_limit_beyond_edge(met, limit, true, options, out);
        }
    }
    if let Some(entry) = ini.get("memory_limit") {
        if php_size(&entry.value) == Some(PhpSize::Unlimited) {
            out.push(memory_unbounded(entry, true));
        }
    }
}

fn memory_unbounded(entry: &Entry, in_ini: bool) -> Finding {
    let finding = Finding::new(
        &FPM_MEMORY_UNBOUNDED,
        &entry.span,
        "memory_limit is -1: a runaway request is stopped by the OOM killer, not by PHP",
    );
    if in_ini {
        finding.with_fix("memory_limit = 256M")
    } else {
        finding
    }
}

fn catch_workers_output(pool: &Pool, out: &mut Vec<Finding>) {
    let entry = pool.get("catch_workers_output");
    if entry.is_some_and(|e| is_true(&e.value)) {
        return;
    }
    let span = entry.map_or(&pool.span, |e| &e.span);
    out.push(Finding::new(
        &FPM_CATCH_WORKERS_OUTPUT_OFF,
        span,
        format!(
            "pool [{}] discards its workers' stderr (catch_workers_output is off)",
            pool.name
        ),
    ));
}

fn memory(pool: &Pool, options: &Options, out: &mut Vec<Finding>) {
    let entry = pool.php_setting("memory_limit");
    let limit = match entry.map(|e| (e, php_size(&e.value))) {
        Some((e, Some(PhpSize::Unlimited))) => {
            out.push(memory_unbounded(e, pool.from_ini(e)));
            return;
        }
        Some((_, Some(PhpSize::Bytes(b)))) => b,
        Some((_, None)) => return,
        None => DEFAULT_MEMORY_LIMIT,
    };
    let (Some(host), Some(children_entry)) = (options.host_memory, pool.get("pm.max_children"))
    else {
        return;
    };
    let Ok(children) = children_entry.value.trim().parse::<u64>() else {
        return;
    };
    let total = limit.saturating_mul(children);
    if total > host {
        let origin = match entry {
            None => " (PHP default)".to_string(),
            Some(e) if pool.from_ini(e) => format!(" ({})", e.span),
            Some(_) => String::new(),
        };
        let fits = (host / limit.max(1)).max(1);
        out.push(
            Finding::new(
                &FPM_MEMORY_EXCEEDS_HOST,
                &children_entry.span,
                format!(
                    "pm.max_children {children} x memory_limit {}{origin} = {} is more than the \
                     host's {}",
                    format_size(limit),
                    format_size(total),
                    format_size(host)
                ),
            )
            .with_fix(format!("pm.max_children = {fits}")),
        );
    }
}

fn backlog(pool: &Pool, out: &mut Vec<Finding>) {
    let Some(entry) = pool.get("listen.backlog") else {
        return;
    };
    let Ok(value) = entry.value.trim().parse::<i64>() else {
        return;
    };
    // -1 means the system's maximum.
    if (0..MIN_LISTEN_BACKLOG).contains(&value) {
        out.push(Finding::new(
            &FPM_LISTEN_BACKLOG_LOW,
            &entry.span,
            format!(
                "listen.backlog is {value}: a burst beyond the busy workers overflows it and nginx \
                 answers 502"
            ),
        ));
    }
}

fn max_requests(pool: &Pool, out: &mut Vec<Finding>) {
    let entry = pool.get("pm.max_requests");
    if entry.is_some_and(|e| e.value.trim().parse::<u64>().is_ok_and(|n| n > 0)) {
        return;
    }
    let span = entry.map_or(&pool.span, |e| &e.span);
    out.push(Finding::new(
        &FPM_MAX_REQUESTS_UNSET,
        span,
        format!(
            "pool [{}] never recycles its workers (pm.max_requests is 0)",
            pool.name
        ),
    ));
}

fn slowlog(config: &FpmConfig, pool: &Pool, out: &mut Vec<Finding>) {
    if let Some(entry) = pool.get("slowlog") {
        let path = entry.value.replace("$pool", &pool.name);
        let dir = Path::new(&path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| d.is_absolute() && !d.is_dir()) {
            out.push(
                Finding::new(
                    &FPM_SLOWLOG_DIR_MISSING,
                    &entry.span,
                    format!(
                        "pool [{}] logs slow requests to {path}, but {} does not exist: PHP-FPM \
                         refuses to start",
                        pool.name,
                        dir.display()
                    ),
                )
                .with_fix(format!("slowlog = {}", slowlog_path(config, pool))),
            );
        }
    }
    let entry = pool.get("request_slowlog_timeout");
    if seconds(pool, "request_slowlog_timeout").is_some_and(|s| s > 0) {
        return;
    }
    let span = entry.map_or(&pool.span, |e| &e.span);
    out.push(
        Finding::new(
            &FPM_SLOWLOG_OFF,
            span,
            format!(
                "pool [{}] has no slow log (request_slowlog_timeout is 0)",
                pool.name
            ),
        )
        .with_fix(format!(
            "request_slowlog_timeout = 10s\nslowlog = {}",
            pool.get("slowlog")
                .map(|e| e.value.clone())
                .filter(|v| {
                    let v = v.replace("$pool", &pool.name);
                    Path::new(&v).parent().is_some_and(Path::is_dir)
                })
                .unwrap_or_else(|| slowlog_path(config, pool))
        )),
    );
}

/// A slow log path whose directory exists: beside the pool's or PHP-FPM's own error log, else
/// in the distribution's log directory.
fn slowlog_path(config: &FpmConfig, pool: &Pool) -> String {
    let error_logs = [
        pool.php_setting("error_log").map(|e| e.value.as_str()),
        config
            .global
            .iter()
            .rev()
            .find(|e| e.key == "error_log")
            .map(|e| e.value.as_str()),
    ];
    let dir = error_logs
        .into_iter()
        .flatten()
        .filter_map(|log| Path::new(log).parent())
        .find(|dir| dir.is_absolute() && dir.is_dir())
        .unwrap_or(Path::new(DISTRIBUTION_LOG_DIR));
    format!("{}/$pool.slow.log", dir.display())
}

/// Where Debian's (and most distributions') PHP-FPM packages write their logs.
const DISTRIBUTION_LOG_DIR: &str = "/var/log";
