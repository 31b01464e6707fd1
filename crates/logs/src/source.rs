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

/// The service a process or unit belongs to, as far as fixes and joins care: the same for
/// `php-fpm8.2` (comm), `php8.2-fpm.service` (unit) and the FPM log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// nginx (or OpenResty).
    Nginx,
    /// Apache httpd.
    Apache,
    /// PHP-FPM (and PHP itself).
    PhpFpm,
    /// gunicorn.
    Gunicorn,
    /// uWSGI.
    Uwsgi,
    /// Node.js (node, pm2).
    Node,
    /// Puma or Unicorn.
    Ruby,
    /// Anything else.
    Other,
}

impl Service {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Nginx => "nginx",
            Service::Apache => "apache",
            Service::PhpFpm => "php-fpm",
            Service::Gunicorn => "gunicorn",
            Service::Uwsgi => "uwsgi",
            Service::Node => "node",
            Service::Ruby => "ruby",
            Service::Other => "other",
        }
    }

    /// The service of a process name or unit name (`php-fpm8.2`, `/system.slice/php8.2-fpm.service`,
    /// `nginx.service`, `pm2-deploy.service`).
    pub fn of_name(name: &str) -> Service {
        let base = name
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(name);
        let base = base.strip_suffix(".service").unwrap_or(base);
        let base = base.split('@').next().unwrap_or(base);
        if base.starts_with("nginx") || base.starts_with("openresty") {
            Service::Nginx
        } else if base.starts_with("apache2") || base.starts_with("httpd") {
            Service::Apache
        } else if base.starts_with("php") && base.contains("fpm") {
            Service::PhpFpm
        } else if base.starts_with("gunicorn") {
            Service::Gunicorn
        } else if base.starts_with("uwsgi") {
            Service::Uwsgi
        } else if base == "node"
            || base.starts_with("node-")
            || base.starts_with("node.")
            || base.starts_with("pm2")
        {
            Service::Node
        } else if base.starts_with("puma") || base.starts_with("unicorn") {
            Service::Ruby
        } else {
            Service::Other
        }
    }

    /// The service of a program's own log.
    pub fn of_source(source: Source) -> Service {
        match source {
            Source::Nginx | Source::AccessLog => Service::Nginx,
            Source::Apache => Service::Apache,
            Source::PhpFpm | Source::Php => Service::PhpFpm,
            Source::Gunicorn => Service::Gunicorn,
            Source::Uwsgi => Service::Uwsgi,
            Source::Node => Service::Node,
            Source::Puma | Source::Unicorn => Service::Ruby,
            Source::Kernel | Source::Systemd => Service::Other,
        }
    }
}

/// A systemd unit that serves the site: nginx, apache2/httpd, php*-fpm, gunicorn, uwsgi,
/// node/pm2, puma, unicorn, or one of `extra` (`--unit NAME`, with or without `.service`).
pub fn is_web_unit(unit: &str, extra: &[String]) -> bool {
    Service::of_name(unit) != Service::Other || is_named_unit(unit, extra)
}

/// `unit` is one of `extra` (with or without `.service`, anywhere in a cgroup path).
pub fn is_named_unit(unit: &str, extra: &[String]) -> bool {
    let base = unit
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(unit);
    let short = base.strip_suffix(".service").unwrap_or(base);
    extra.iter().any(|x| {
        let x = x.strip_suffix(".service").unwrap_or(x);
        x == short
            || unit
                .split('/')
                .any(|part| part.strip_suffix(".service").unwrap_or(part) == x)
    })
}
