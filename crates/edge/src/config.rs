//! What the edge is told: where to listen, which origins to forward to and with which limits.
//!
//! Flags cover the common case of one origin; [`crate::file`] reads a TOML file for several
//! origins chosen by `Host`. Both end in an [`EdgeConfig`], checked by [`EdgeConfig::validate`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use originlens_wire::Profile;

/// Errors in the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An origin URL that cannot be used.
    #[error("origin `{url}`: {why}")]
    Origin {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// An unknown profile name.
    #[error("unknown profile `{0}` (known: {1})")]
    Profile(String, String),
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

/// How the origin's certificate is checked on HTTPS upstreams (Cloudflare's SSL modes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Full (strict): the chain must verify against the Mozilla roots and name the host (526).
    #[default]
    Strict,
    /// Full: any certificate is accepted; only handshake failures count (525).
    Full,
}

impl SslMode {
    /// Parses `strict` or `full`.
    pub fn parse(s: &str) -> Option<SslMode> {
        match s {
            "strict" => Some(SslMode::Strict),
            "full" => Some(SslMode::Full),
            _ => None,
        }
    }
}

/// Where an origin lives, parsed from `http://host:port` or `https://host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginUrl {
    /// `https` when true.
    pub tls: bool,
    /// Host name or IP literal (brackets removed).
    pub host: String,
    /// Port (80/443 by default).
    pub port: u16,
}

impl OriginUrl {
    /// Parses an origin URL. Paths, queries and credentials are refused: the edge forwards the
    /// visitor's own target.
    pub fn parse(url: &str) -> Result<OriginUrl, ConfigError> {
        let bad = |why: &str| ConfigError::Origin {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.is_empty() {
            return Err(bad("give scheme, host and port only"));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
                None if after.is_empty() => default_port,
                None => return Err(bad("junk after `]`")),
            };
            (h.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("invalid port"))?),
                None => (rest.to_owned(), default_port),
            }
        };
        if host.is_empty() || port == 0 {
            return Err(bad("empty host or port 0"));
        }
        Ok(OriginUrl { tls, host, port })
    }

    /// `host:port` for connecting (IPv6 literals in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One origin and how the edge talks to it.
#[derive(Clone, Debug)]
pub struct OriginConfig {
    /// Visitor `Host` values (without port) routed here; empty for the default origin.
    pub hosts: Vec<String>,
    /// Where the origin is.
    pub url: OriginUrl,
    /// `Host` sent to the origin; `None` keeps the visitor's.
    pub host_header: Option<String>,
    /// SNI for HTTPS origins; `None` uses the URL's host name (or the `Host` sent, for IP URLs).
    pub sni: Option<String>,
    /// Certificate checking for HTTPS origins.
    pub ssl_mode: SslMode,
    /// The peer whose behaviour is emulated, with the limits below applied.
    pub profile: Arc<Profile>,
}

impl OriginConfig {
    /// An origin with the named profile's own limits.
    pub fn new(url: OriginUrl, profile: &str) -> Result<OriginConfig, ConfigError> {
        let base = base_profile(profile)?;
        Ok(OriginConfig {
            hosts: Vec::new(),
            url,
            host_header: None,
            sni: None,
            ssl_mode: SslMode::default(),
            profile: Arc::new(base.clone()),
        })
    }

    /// Overrides the profile's timeouts (`None` keeps the profile's value).
    pub fn set_timeouts(
        &mut self,
        connect: Option<Duration>,
        read: Option<Duration>,
        idle: Option<Duration>,
    ) {
        let mut profile = (*self.profile).clone();
        let limits = &mut profile.limits;
        if let Some(c) = connect {
            limits.connect_timeout = c;
        }
        if let Some(r) = read {
            limits.read_timeout = r;
        }
        if let Some(i) = idle {
            limits.idle_pool = Some(i);
        }
        self.profile = Arc::new(profile);
    }

    /// How long an idle pooled connection is kept (no pooling when the profile has none).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.profile.limits.idle_pool.filter(|d| !d.is_zero())
    }
}

/// The built-in profile called `name`.
pub fn base_profile(name: &str) -> Result<&'static Profile, ConfigError> {
    Profile::by_name(name)
        .ok_or_else(|| ConfigError::Profile(name.to_owned(), Profile::names().join(", ")))
}

/// Everything the edge needs to run.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// The visitor-facing listener.
    pub listen: SocketAddr,
    /// The admin listener (`/metrics`, `/healthz`); `None` for none.
    pub admin: Option<SocketAddr>,
    /// Origins; the first without `hosts` is the default.
    pub origins: Vec<OriginConfig>,
    /// The incident database; `None` keeps incidents in the log only.
    pub store: Option<PathBuf>,
    /// Retry once on a reused connection that failed before any byte (Pingora's rule).
    pub retry: bool,
    /// Test a pooled connection for EOF or stray bytes before reusing it.
    pub reuse_check: bool,
    /// Redact Cookie, Set-Cookie and Authorization values in stored evidence.
    pub redact: bool,
    /// Largest request body accepted (413 above); bodies are buffered so that a retry can
    /// replay them.
    pub max_request_body: usize,
    /// Upstream connections kept idle per origin at most.
    pub max_idle_per_origin: usize,
}

/// Request bodies the edge buffers at most by default (Cloudflare Free: 100 MB).
pub const DEFAULT_MAX_REQUEST_BODY: usize = 100 * 1024 * 1024;

impl EdgeConfig {
    /// A configuration for one origin with defaults elsewhere.
    pub fn single(listen: SocketAddr, origin: OriginConfig) -> EdgeConfig {
        EdgeConfig {
            listen,
            admin: None,
            origins: vec![origin],
            store: None,
            retry: true,
            reuse_check: true,
            redact: true,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            max_idle_per_origin: 256,
        }
    }

    /// Checks what the types cannot: at least one origin, one default at most, no host twice.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.origins.is_empty() {
            return Err(ConfigError::Invalid("no origin configured".into()));
        }
        let defaults = self.origins.iter().filter(|o| o.hosts.is_empty()).count();
        if defaults > 1 {
            return Err(ConfigError::Invalid(format!(
                "{defaults} origins without `hosts`: only one may be the default"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for o in &self.origins {
            for h in &o.hosts {
                if !seen.insert(h.to_ascii_lowercase()) {
                    return Err(ConfigError::Invalid(format!(
                        "host `{h}` is routed to two origins"
                    )));
                }
            }
            let l = o.profile.limits;
            if l.connect_timeout.is_zero() || l.read_timeout.is_zero() {
                return Err(ConfigError::Invalid(format!(
                    "origin {}: timeouts must be positive",
                    o.url.authority()
                )));
            }
        }
        Ok(())
    }

    /// The origin for a visitor `Host` (port ignored), else the default origin.
    pub fn route(&self, host: Option<&str>) -> Option<usize> {
        let name = host.map(strip_port);
        if let Some(name) = name {
            if let Some(i) = self
                .origins
                .iter()
                .position(|o| o.hosts.iter().any(|h| h.eq_ignore_ascii_case(name)))
            {
                return Some(i);
            }
        }
        self.origins.iter().position(|o| o.hosts.is_empty())
    }
}

/// Reads a TOML configuration file (see [`crate::file`]).
pub fn load_file(path: &std::path::Path) -> Result<EdgeConfig, ConfigError> {
    crate::file::load(path)
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_urls() {
        let u = OriginUrl::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "127.0.0.1", 9000));
        let u = OriginUrl::parse("https://example.com/").unwrap();
        assert_eq!(
            (u.tls, u.port, u.authority()),
            (true, 443, "example.com:443".into())
        );
        let u = OriginUrl::parse("http://[::1]:81").unwrap();
        assert_eq!((u.host.as_str(), u.authority()), ("::1", "[::1]:81".into()));
        for bad in [
            "ftp://x",
            "http://",
            "http://x/path",
            "http://u@x",
            "http://x:0",
            "http://x:y",
        ] {
            assert!(OriginUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_override_the_profile_only() {
        let mut o =
            OriginConfig::new(OriginUrl::parse("http://a:1").unwrap(), "cloudflare").unwrap();
        o.set_timeouts(None, Some(Duration::from_secs(2)), None);
        assert_eq!(o.profile.limits.read_timeout, Duration::from_secs(2));
        assert_eq!(o.profile.limits.connect_timeout, Duration::from_secs(19));
        assert_eq!(o.idle_timeout(), Some(Duration::from_secs(900)));
        assert_eq!(
            o.profile.status_for(originlens_wire::Cause::ConnectRefused),
            Some(521)
        );
        assert!(OriginConfig::new(o.url.clone(), "nope").is_err());
    }

    #[test]
    fn routes_by_host_then_default() {
        let url = OriginUrl::parse("http://a:1").unwrap();
        let mut a = OriginConfig::new(url.clone(), "cloudflare").unwrap();
        a.hosts = vec!["shop.example".into()];
        let b = OriginConfig::new(url, "cloudflare").unwrap();
        let mut c = EdgeConfig::single("127.0.0.1:0".parse().unwrap(), a);
        c.origins.push(b);
        c.validate().unwrap();
        assert_eq!(c.route(Some("SHOP.example:8080")), Some(0));
        assert_eq!(c.route(Some("other")), Some(1));
        assert_eq!(c.route(None), Some(1));
        c.origins.pop();
        assert_eq!(c.route(Some("other")), None);
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
