//! Which program wrote a line, and which layer of the stack that program sits in.

use serde::Serialize;

/// The program (or log format) a signature belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Source {
    /// nginx `error.log`.
    Nginx,
    /// nginx or Apache access log in `combined` (or `common`) format.
    AccessLog,
    /// Apache httpd 2.4 or 2.2 error log.
    Apache,
    /// The PHP-FPM master log.
    PhpFpm,
    /// PHP's own `error_log` file.
    Php,
    /// Linux kernel ring buffer (dmesg, kern.log, `journalctl -k`).
    Kernel,
    /// systemd and its helpers (journal).
    Systemd,
    /// Node.js stderr.
    Node,
    /// gunicorn error log.
    Gunicorn,
    /// uWSGI log.
    Uwsgi,
    /// Puma stdout/stderr.
    Puma,
    /// Unicorn (Ruby Logger) log.
    Unicorn,
}

impl Source {
    /// Stable lower-case name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Nginx => "nginx",
            Source::AccessLog => "access-log",
            Source::Apache => "apache",
            Source::PhpFpm => "php-fpm",
            Source::Php => "php",
            Source::Kernel => "kernel",
            Source::Systemd => "systemd",
            Source::Node => "node",
            Source::Gunicorn => "gunicorn",
            Source::Uwsgi => "uwsgi",
            Source::Puma => "puma",
            Source::Unicorn => "unicorn",
        }
    }

    /// The layer this program normally sits in.
    pub fn layer(self) -> Layer {
        match self {
            Source::Nginx | Source::AccessLog | Source::Apache => Layer::Edge,
            Source::Kernel => Layer::Kernel,
            Source::Systemd => Layer::Init,
            Source::PhpFpm
            | Source::Php
            | Source::Node
            | Source::Gunicorn
            | Source::Uwsgi
            | Source::Puma
            | Source::Unicorn => Layer::App,
        }
    }
}

/// Where in the stack a line was seen. The status the visitor gets depends on it: when the
/// edge-facing server dies the edge answers 520, when a process behind it dies the proxy answers
/// 502/503/504 itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The server the edge connects to (nginx, Apache).
    Edge,
    /// An application server behind it (PHP-FPM, Node, gunicorn, uWSGI, Puma, Unicorn).
    App,
    /// The Linux kernel.
    Kernel,
    /// The service manager (systemd).
    Init,
}

impl Layer {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Edge => "edge",
            Layer::App => "app",
            Layer::Kernel => "kernel",
            Layer::Init => "init",
        }
    }
}

/// Process names (`comm`, cut to 15 bytes by the kernel) of edge-facing servers.
pub fn is_edge_comm(comm: &str) -> bool {
    matches!(comm, "nginx" | "apache2" | "httpd" | "openresty")
        || comm.starts_with("nginx:")
        || comm.starts_with("nginx.")
}

/// systemd unit names of edge-facing servers.
pub fn is_edge_unit(unit: &str) -> bool {
    let base = unit.rsplit('/').next().unwrap_or(unit);
    base.starts_with("nginx") || base.starts_with("apache2") || base.starts_with("httpd")
}
