//! The Apache httpd rules: the same intent as the nginx ones, per `<VirtualHost>` (a directive
//! in the virtual host overrides the server-wide one).

use super::catalog::*;
use super::{Finding, Options};
use crate::apache::{ApacheConfig, ApacheDirective};
use crate::span::Span;

/// Apache's default `Timeout` (and so `ProxyTimeout`), seconds.
const DEFAULT_TIMEOUT: u64 = 60;
/// Apache's default `KeepAliveTimeout`, seconds.
const DEFAULT_KEEPALIVE_TIMEOUT: u64 = 5;

/// The server-wide level and each virtual host.
struct Level<'c> {
    directives: Vec<&'c ApacheDirective>,
    span: Span,
}

pub(super) fn check(config: &ApacheConfig, options: &Options, out: &mut Vec<Finding>) {
    let top: Vec<&ApacheDirective> = flatten(&config.directives);
    let global_span = Span::new(&config.file, 1, 1);
    let mut levels = vec![Level {
        directives: Vec::new(),
        span: global_span,
    }];
    for d in &top {
        if d.is("VirtualHost") {
            levels.push(Level {
                directives: flatten(d.children()),
                span: d.span.clone(),
            });
        }
    }
    let seconds = |d: &ApacheDirective| d.args.first().and_then(|a| a.parse::<u64>().ok());
    // With virtual hosts, judge them; without, the server-wide level alone.
    let judged: Vec<&Level<'_>> = if levels.len() > 1 {
        levels[1..].iter().collect()
    } else {
        levels.iter().collect()
    };
    for level in judged {
        let timeout = find(level, &top, "Timeout");
        let timeout_secs = timeout.and_then(seconds).unwrap_or(DEFAULT_TIMEOUT);
        if let Some(d) = timeout.filter(|_| timeout_secs >= options.read_limit()) {
            out.push(
                Finding::new(
                    &APACHE_TIMEOUT_BEYOND_EDGE,
                    &d.span,
                    format!(
                        "Timeout is {timeout_secs}s, longer than the edge's {}s read timeout",
                        options.edge_read_timeout
                    ),
                )
                .with_fix(format!("Timeout {}", options.safe_read_timeout())),
            );
        }
        let proxies = level.directives.iter().chain(top.iter()).any(|d| {
            d.is("ProxyPass")
                || d.is("ProxyPassMatch")
                || (d.is("RewriteRule")
                    && d.args.iter().any(|a| a.contains("[P") || a.contains(",P")))
        });
        // Without ProxyTimeout, Timeout applies and the rule above has judged it.
        if let Some(d) = find(level, &top, "ProxyTimeout") {
            let secs = seconds(d).unwrap_or(timeout_secs);
            if proxies && secs >= options.read_limit() {
                out.push(
                    Finding::new(
                        &APACHE_PROXY_TIMEOUT_BEYOND_EDGE,
                        &d.span,
                        format!(
                            "ProxyTimeout is {secs}s, longer than the edge's {}s read timeout",
                            options.edge_read_timeout
                        ),
                    )
                    .with_fix(format!("ProxyTimeout {}", options.safe_read_timeout())),
                );
            }
        }
        let keepalive_off = find(level, &top, "KeepAlive")
            .and_then(|d| d.args.first())
            .is_some_and(|a| a.eq_ignore_ascii_case("off"));
        let ka = find(level, &top, "KeepAliveTimeout");
        let ka_secs = ka.and_then(seconds).unwrap_or(DEFAULT_KEEPALIVE_TIMEOUT);
        if !keepalive_off && ka_secs > 0 && ka_secs < options.edge_idle_timeout {
            let (span, origin) = match ka {
                Some(d) => (d.span.clone(), ""),
                None => (level.span.clone(), " (Apache default)"),
            };
            out.push(
                Finding::new(
                    &APACHE_KEEPALIVE_TIMEOUT_SHORT,
                    &span,
                    format!(
                        "KeepAliveTimeout is {ka_secs}s{origin}, shorter than the {}s the edge keeps \
                         idle connections for reuse",
                        options.edge_idle_timeout
                    ),
                )
                .with_fix(format!("KeepAliveTimeout {}", options.edge_idle_timeout + 5)),
            );
        }
    }
    // ServerTokens is server-wide only.
    let tokens = top.iter().rev().find(|d| d.is("ServerTokens"));
    let value = tokens
        .and_then(|d| d.args.first())
        .map(|s| s.to_ascii_lowercase());
    if !matches!(value.as_deref(), Some("prod" | "productonly")) {
        let (span, shown) = match tokens {
            Some(d) => (d.span.clone(), d.args.first().cloned().unwrap_or_default()),
            None => (
                Span::new(&config.file, 1, 1),
                "Full (the default)".to_string(),
            ),
        };
        out.push(Finding::new(
            &APACHE_SERVER_TOKENS,
            &span,
            format!("ServerTokens is {shown}: every response names the server, version and OS"),
        ));
    }
}

/// Directives at this level and inside conditional sections (`<IfModule>`, `<IfDefine>`,
/// `<IfVersion>`), which apply where they stand.
fn flatten(directives: &[ApacheDirective]) -> Vec<&ApacheDirective> {
    let mut out = Vec::new();
    for d in directives {
        if d.is("IfModule") || d.is("IfDefine") || d.is("IfVersion") || d.is("IfFile") {
            out.extend(flatten(d.children()));
        } else {
            out.push(d);
        }
    }
    out
}

/// The directive `name` in effect at `level`: its own, else the server-wide one.
fn find<'c>(
    level: &Level<'c>,
    top: &[&'c ApacheDirective],
    name: &str,
) -> Option<&'c ApacheDirective> {
    level
        .directives
        .iter()
        .rev()
        .find(|d| d.is(name))
        .or_else(|| top.iter().rev().find(|d| d.is(name)))
        .copied()
}
