//! Rules: each one an id, a severity, the cause it leads to, why and the fix ([`Rule`], listed in
//! [`catalog`]), and a check that walks the parsed configuration and reports [`Finding`]s.

mod apache;
pub mod catalog;
mod edge;
mod fpm;
mod nginx;

use originlens_wire::Cause;
use serde::Serialize;

use crate::apache::ApacheConfig;
use crate::fpm::FpmConfig;
use crate::span::Span;

pub use catalog::ALL;
pub use edge::CLOUDFLARE_IPV4;

/// How serious a finding is (the vocabulary shared with `originlens-wire`); an `error` makes
/// `originlens lint` exit 1. Info adds to a failure rather than causing one; a warning leads to
/// the named status under some load, timing or response; an error leads to it for the
/// configuration as written.
pub use originlens_wire::Severity;

/// Which kind of configuration a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// nginx.
    Nginx,
    /// A PHP-FPM pool.
    Fpm,
    /// Apache httpd.
    Apache,
}

/// A rule's fixed description.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, e.g. `nginx-head-buffer-too-small`.
    pub id: &'static str,
    /// Severity of every finding of this rule.
    pub severity: Severity,
    /// What the rule reads.
    pub target: Target,
    /// The cause id it leads to; `None` for rules that hide evidence rather than cause a status.
    pub cause: Option<Cause>,
    /// What the visitor sees behind Cloudflare when it happens.
    pub visitor: &'static str,
    /// One line: what is wrong.
    pub summary: &'static str,
    /// Why it leads to that status.
    pub why: &'static str,
    /// The fix, as a configuration snippet.
    pub fix: &'static str,
}

/// One rule firing at one place.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The rule.
    pub rule: &'static Rule,
    /// Where: the directive in effect, or the block that leaves a default in effect.
    pub span: Span,
    /// What is wrong here, with the values involved.
    pub message: String,
    /// A fix for this place (falls back to the rule's).
    pub fix: Option<String>,
}

impl Finding {
    fn new(rule: &'static Rule, span: &Span, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            span: span.clone(),
            message: message.into(),
            fix: None,
        }
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }

    /// The fix snippet for this finding.
    pub fn fix(&self) -> &str {
        self.fix.as_deref().unwrap_or(self.rule.fix)
    }
}

/// What the rules compare the configuration against.
#[derive(Clone, Debug)]
pub struct Options {
    /// The response head size measured by `originlens probe`, if known.
    pub head_bytes: Option<u64>,
    /// The edge's proxy read timeout in seconds (Cloudflare: 125; Enterprise up to 6000).
    pub edge_read_timeout: u64,
    /// How long the edge keeps an idle origin connection for reuse, in seconds (Cloudflare: 900).
    pub edge_idle_timeout: u64,
    /// The origin host's memory in bytes, to judge `memory_limit × pm.max_children`.
    pub host_memory: Option<u64>,
}

/// The edge these limits are read from: `originlens_wire`'s cloudflare profile, the one place the
/// project keeps Cloudflare's documented limits.
pub fn edge_profile() -> &'static originlens_wire::profile::Profile {
    &originlens_wire::profile::CLOUDFLARE
}

/// The edge's proxy read timeout in seconds (the cloudflare profile: 125 s).
pub fn edge_read_timeout() -> u64 {
    edge_profile().limits.read_timeout.as_secs()
}

/// How long the edge keeps an idle origin connection for reuse, in seconds (the cloudflare
/// profile: 900 s).
pub fn edge_idle_timeout() -> u64 {
    edge_profile()
        .limits
        .idle_pool
        .map_or(0, |idle| idle.as_secs())
}

/// How far below the edge's read timeout a read timeout is already too close: Cloudflare has
/// documented both 120 s and 125 s (`cloudflare-52x.md` §2), so a timeout of 120 s is flagged.
pub const READ_TIMEOUT_MARGIN: u64 = 5;

/// The response-head budget: the cloudflare profile's warning size (16 KB, the runbook's
/// figure); its hard limit is 128 KB, but a head above 16 KB already needs a buffer nginx does
/// not have by default.
pub fn head_budget() -> u64 {
    edge_profile()
        .limits
        .warn_head_bytes
        .map_or(16 * 1024, |b| b as u64)
}

impl Default for Options {
    fn default() -> Self {
        Options {
            head_bytes: None,
            edge_read_timeout: edge_read_timeout(),
            edge_idle_timeout: edge_idle_timeout(),
            host_memory: None,
        }
    }
}

impl Options {
    /// Read timeouts (seconds) at or above this are flagged: the edge's read timeout less
    /// [`READ_TIMEOUT_MARGIN`] (120 s for the cloudflare profile).
    pub fn read_limit(&self) -> u64 {
        self.edge_read_timeout
            .saturating_sub(READ_TIMEOUT_MARGIN)
            .max(1)
    }

    /// The read timeout fixes suggest (seconds): well inside [`Options::read_limit`], so
    /// applying a fix does not trip the rule again.
    pub fn safe_read_timeout(&self) -> u64 {
        (self.read_limit() * 5 / 6).max(1)
    }

    /// Where the limits come from, for messages.
    pub fn edge_source(&self) -> String {
        if self.edge_read_timeout == edge_read_timeout() {
            format!(
                "the {} profile's proxy read timeout, {} s (documented as 120-125 s)",
                edge_profile().name,
                self.edge_read_timeout
            )
        } else {
            format!("--edge-read-timeout {} s", self.edge_read_timeout)
        }
    }
}

/// Runs every rule over the parsed configurations; findings are sorted by place and unique.
pub fn check(
    nginx: &[crate::nginx::Config],
    fpm: &[FpmConfig],
    apache: &[ApacheConfig],
    inis: &[std::sync::Arc<crate::phpini::PhpIni>],
    options: &Options,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for config in nginx {
        nginx::check(config, fpm, options, &mut out);
    }
    for config in fpm {
        fpm::check(config, options, &mut out);
    }
    for config in apache {
        apache::check(config, options, &mut out);
    }
    for ini in inis {
        fpm::check_ini(ini, options, &mut out);
    }
    out.sort_by(|a, b| (&a.span, a.rule.id, &a.message).cmp(&(&b.span, b.rule.id, &b.message)));
    out.dedup_by(|a, b| a.span == b.span && a.rule.id == b.rule.id && a.message == b.message);
    out
}
