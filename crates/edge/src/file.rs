//! The TOML configuration file: what flags cannot say (several origins chosen by `Host`,
//! per-origin profile and timeouts).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! admin = "127.0.0.1:9901"        # omit for no admin listener
//! store = "incidents.db"          # omit to keep incidents in the log only
//! retry = true                    # retry once on a reused connection that failed before any byte
//! reuse_check = true              # test pooled connections before reuse
//! redact = true                   # mask Cookie, Set-Cookie and Authorization in evidence
//! header_timeout = 60             # seconds for a whole request head (nginx client_header_timeout)
//! body_timeout = 60               # seconds of silence allowed within a request body
//! send_timeout = 60               # seconds a write to the visitor may make no progress
//! visitor_idle_timeout = 400      # seconds an idle visitor connection is kept (Cloudflare: 400)
//!
//! [[origin]]
//! url = "http://127.0.0.1:9000"
//! hosts = ["shop.example"]        # omit for the default origin
//! profile = "cloudflare"
//! connect_timeout = 19            # seconds; each defaults to the profile's
//! read_timeout = 125
//! idle_timeout = 900
//! host_header = "shop.internal"   # default: the visitor's Host
//! sni = "shop.example"            # https origins; default: the URL's host name, for an IP URL
//!                                 # host_header, else the visitor's host name
//! ssl_mode = "strict"             # or "full"
//! ca_file = "origin-ca.pem"       # roots trusted in strict mode besides the Mozilla ones
//! client_cert = "aop.pem"         # presented when the origin asks (Authenticated Origin
//! client_key = "aop.key"          # Pulls); both or neither
//! ```
//!
//! Relative paths (`store`, `ca_file`) are taken from the working directory.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigError, EdgeConfig, OriginConfig, OriginUrl, SslMode};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    store: Option<PathBuf>,
    retry: Option<bool>,
    reuse_check: Option<bool>,
    redact: Option<bool>,
    max_request_body: Option<usize>,
    max_idle_per_origin: Option<usize>,
    header_timeout: Option<Spanned<f64>>,
    body_timeout: Option<Spanned<f64>>,
    send_timeout: Option<Spanned<f64>>,
    visitor_idle_timeout: Option<Spanned<f64>>,
    #[serde(default)]
    origin: Vec<Spanned<OriginEntry>>,
}

// Values are spanned so that a mistake found after parsing still names its line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginEntry {
    url: Spanned<String>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    profile: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<f64>>,
    read_timeout: Option<Spanned<f64>>,
    idle_timeout: Option<Spanned<f64>>,
    host_header: Option<Spanned<String>>,
    sni: Option<Spanned<String>>,
    ssl_mode: Option<Spanned<String>>,
    ca_file: Option<Spanned<PathBuf>>,
    client_cert: Option<Spanned<PathBuf>>,
    client_key: Option<Spanned<PathBuf>>,
}

/// A mistake and the bytes of the text it is about, if known.
type Located = (Option<Range<usize>>, ConfigError);

fn at(span: Range<usize>) -> impl FnOnce(ConfigError) -> Located {
    move |e| (Some(span), e)
}

/// A timeout in seconds; zero is allowed only where it means "off".
fn secs(v: &Option<Spanned<f64>>, what: &str, zero_ok: bool) -> Result<Option<Duration>, Located> {
    let Some(v) = v else { return Ok(None) };
    let s = *v.get_ref();
    match Duration::try_from_secs_f64(s) {
        Ok(d) if zero_ok || !d.is_zero() => Ok(Some(d)),
        Ok(_) => Err((
            Some(v.span()),
            ConfigError::Invalid(format!("{what}: must be more than 0 seconds")),
        )),
        Err(_) => Err((
            Some(v.span()),
            ConfigError::Invalid(format!("{what}: {s} is not a duration")),
        )),
    }
}

fn origin(o: &OriginEntry) -> Result<OriginConfig, Located> {
    let url = OriginUrl::parse(o.url.get_ref()).map_err(at(o.url.span()))?;
    let mut cfg = match &o.profile {
        Some(p) => OriginConfig::new(url, p.get_ref()).map_err(at(p.span()))?,
        None => OriginConfig::new(url, "cloudflare").map_err(|e| (None, e))?,
    };
    cfg.hosts = o.hosts.iter().map(|h| h.get_ref().clone()).collect();
    cfg.host_header = o.host_header.as_ref().map(|h| h.get_ref().clone());
    cfg.sni = o.sni.as_ref().map(|h| h.get_ref().clone());
    if let Some(m) = &o.ssl_mode {
        cfg.ssl_mode = SslMode::parse(m.get_ref()).ok_or_else(|| {
            (
                Some(m.span()),
                ConfigError::Invalid(format!("ssl_mode `{}`: use strict or full", m.get_ref())),
            )
        })?;
    }
    if let Some(f) = &o.ca_file {
        cfg.extra_roots = crate::config::load_ca_file(f.get_ref()).map_err(at(f.span()))?;
    }
    match (&o.client_cert, &o.client_key) {
        (Some(c), Some(k)) => {
            cfg.client_cert = Some(
                crate::config::load_client_cert(c.get_ref(), k.get_ref()).map_err(at(c.span()))?,
            );
        }
        (Some(one), None) | (None, Some(one)) => {
            return Err((
                Some(one.span()),
                ConfigError::Invalid("client_cert and client_key go together".into()),
            ));
        }
        (None, None) => {}
    }
    cfg.set_timeouts(
        secs(&o.connect_timeout, "connect_timeout", false)?,
        secs(&o.read_timeout, "read_timeout", false)?,
        secs(&o.idle_timeout, "idle_timeout", true)?,
    );
    if cfg.url.tls {
        // The name the server name comes from: `sni`, else the URL, else `host_header`.
        let source = o
            .sni
            .as_ref()
            .map(Spanned::span)
            .or_else(|| {
                cfg.url
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok()
                    .then(|| o.host_header.as_ref().map(Spanned::span))
                    .flatten()
            })
            .unwrap_or(o.url.span());
        cfg.server_name().map_err(at(source))?;
    }
    Ok(cfg)
}

fn parse_located(text: &str) -> Result<EdgeConfig, Located> {
    let file: File = toml::from_str(text)
        .map_err(|e| (e.span(), ConfigError::Invalid(e.message().to_owned())))?;
    let mut origins = Vec::with_capacity(file.origin.len());
    let mut hosts = HashSet::new();
    let mut has_default = false;
    for o in &file.origin {
        let entry = o.get_ref();
        for h in &entry.hosts {
            crate::config::check_host_name(h.get_ref())
                .map_err(|e| (Some(h.span()), ConfigError::Invalid(e)))?;
            if !hosts.insert(crate::config::host_key(h.get_ref())) {
                return Err((
                    Some(h.span()),
                    ConfigError::Invalid(format!(
                        "host `{}` is routed to two origins",
                        h.get_ref()
                    )),
                ));
            }
        }
        if entry.hosts.is_empty() {
            if has_default {
                return Err((
                    Some(o.span()),
                    ConfigError::Invalid(
                        "a second origin without `hosts`: only one may be the default".into(),
                    ),
                ));
            }
            has_default = true;
        }
        origins.push(origin(entry)?);
    }
    let Some(first) = origins.first().cloned() else {
        return Err((None, ConfigError::Invalid("no [[origin]] table".into())));
    };
    let listen = file
        .listen
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let mut c = EdgeConfig::single(listen, first);
    c.origins = origins;
    c.admin = file.admin;
    c.store = file.store;
    c.retry = file.retry.unwrap_or(c.retry);
    c.reuse_check = file.reuse_check.unwrap_or(c.reuse_check);
    c.redact = file.redact.unwrap_or(c.redact);
    c.max_request_body = file.max_request_body.unwrap_or(c.max_request_body);
    c.max_idle_per_origin = file.max_idle_per_origin.unwrap_or(c.max_idle_per_origin);
    for (value, name, slot) in [
        (
            &file.header_timeout,
            "header_timeout",
            &mut c.header_timeout,
        ),
        (&file.body_timeout, "body_timeout", &mut c.body_timeout),
        (&file.send_timeout, "send_timeout", &mut c.send_timeout),
        (
            &file.visitor_idle_timeout,
            "visitor_idle_timeout",
            &mut c.visitor_idle_timeout,
        ),
    ] {
        if let Some(d) = secs(value, name, false)? {
            *slot = d;
        }
    }
    c.validate().map_err(|e| (None, e))?;
    Ok(c)
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    // toml's spans fall on character boundaries.
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

fn locate(text: &str, file: Option<&Path>, (span, e): Located) -> ConfigError {
    match span {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            ConfigError::At {
                file: file.map(Path::to_path_buf),
                line,
                column,
                message: e.to_string(),
            }
        }
        None => match file {
            Some(f) => ConfigError::Invalid(format!("{}: {e}", f.display())),
            None => e,
        },
    }
}

/// Parses a configuration from TOML text; mistakes carry their line and column.
pub fn parse(text: &str) -> Result<EdgeConfig, ConfigError> {
    parse_located(text).map_err(|e| locate(text, None, e))
}

/// Reads and parses the file at `path`; errors name the file (`FILE:LINE:COLUMN:` when the
/// place is known).
pub fn load(path: &Path) -> Result<EdgeConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
    parse_located(&text).map_err(|e| locate(&text, Some(path), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_origins_with_their_own_limits() {
        let c = parse(
            r#"
            listen = "127.0.0.1:0"
            store = "i.db"
            retry = false
            header_timeout = 10
            body_timeout = 2.5
            [[origin]]
            url = "http://127.0.0.1:9000"
            hosts = ["shop.example"]
            read_timeout = 2.5
            [[origin]]
            url = "https://origin.example"
            profile = "nginx"
            ssl_mode = "full"
            "#,
        )
        .unwrap();
        assert_eq!(c.origins.len(), 2);
        assert!(!c.retry && c.reuse_check && c.redact);
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.body_timeout, Duration::from_millis(2500));
        assert_eq!(c.send_timeout, crate::config::DEFAULT_SEND_TIMEOUT);
        assert_eq!(c.admin, None);
        assert_eq!(
            c.origins[0].profile.limits.read_timeout,
            Duration::from_millis(2500)
        );
        assert_eq!(c.origins[1].profile.name, "nginx");
        assert_eq!(c.origins[1].ssl_mode, SslMode::Full);
        assert_eq!(c.route(Some("shop.example")), Some(0));
        assert_eq!(c.route(Some("else")), Some(1));
    }

    #[test]
    fn mistakes_are_reported() {
        for (text, needle) in [
            ("", "no [[origin]]"),
            ("[[origin]]\nurl = \"ftp://x\"", "http://"),
            (
                "[[origin]]\nurl = \"http://x\"\nprofile = \"nope\"",
                "unknown profile",
            ),
            ("[[origin]]\nurl = \"http://x\"\ncolour = 1", "colour"),
            (
                "[[origin]]\nurl = \"http://x\"\n[[origin]]\nurl = \"http://y\"",
                "default",
            ),
            (
                "[[origin]]\nurl = \"http://x\"\nread_timeout = -1",
                "read_timeout",
            ),
            (
                "header_timeout = 0\n[[origin]]\nurl = \"http://x\"",
                "1:18: header_timeout: must be more than 0 seconds",
            ),
            (
                "send_timeout = \"1m\"\n[[origin]]\nurl = \"http://x\"",
                "1:16: invalid type",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn mistakes_name_their_line_and_column() {
        let base =
            "listen = \"127.0.0.1:0\"\n\n[[origin]]\nurl = \"http://a:1\"\nhosts = [\"a\"]\n";
        for (extra, at) in [
            ("profile = \"nope\"", "6:11: unknown profile `nope`"),
            ("colour = 1", "6:1: unknown field `colour`"),
            (
                "read_timeout = 0",
                "6:16: read_timeout: must be more than 0 seconds",
            ),
            (
                "idle_timeout = -2",
                "6:16: idle_timeout: -2 is not a duration",
            ),
            ("ssl_mode = \"off\"", "6:12: ssl_mode `off`"),
            (
                "[[origin]]\nurl = \"http://b:1\"\nhosts = [\"b\", \"é.example:80\"]",
                "8:15: host `é.example:80`",
            ),
            (
                "[[origin]]\nurl = \"http://b:1\"\nhosts = [\"A.\"]",
                "8:10: host `A.` is routed to two",
            ),
            (
                "[[origin]]\nurl = \"https://b\"\nsni = \"a b\"",
                "8:7: origin `b:443`: `a b` is not",
            ),
            (
                "[[origin]]\nurl = \"https://[::1]\"\nhost_header = \"a b\"",
                "8:15: origin `[::1]:443`: `a b`",
            ),
            (
                "[[origin]]\nurl = \"http://b:1\"\n[[origin]]\nurl = \"http://c:1\"",
                "8:1: a second origin without `hosts`",
            ),
            (
                "[[origin]]\nurl = \"http://b:1\"\nca_file = \"/nonexistent/ca.pem\"",
                "8:11: CA file /nonexistent/ca.pem",
            ),
        ] {
            let text = format!("{base}{extra}\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(at), "{extra:?}: {e}");
        }
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, format!("{base}profile = 1\n").as_bytes()).unwrap();
        let e = load(f.path()).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:6:11: ", f.path().display())),
            "{e}"
        );
        // Without a place, the file is still named.
        let e = load(Path::new("/nonexistent/edge.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/edge.toml: "), "{e}");
    }
}
