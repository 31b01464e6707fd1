//! What the edge is told: where to listen, which origins to forward to and with which limits.
//!
//! Flags cover the common case of one origin; `crate::file` reads a TOML file for several
//! origins chosen by `Host`. Both end in an [`EdgeConfig`], checked by [`EdgeConfig::validate`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use originlens_net::ClientCert;
use originlens_wire::Profile;
use rustls::pki_types::{CertificateDer, ServerName};

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
    /// A mistake at a known place in a configuration file.
    #[error("{}{line}:{column}: {message}", file.as_ref().map(|f| format!("{}:", f.display())).unwrap_or_default())]
    At {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

/// How the origin's certificate is checked on HTTPS upstreams (Cloudflare's SSL modes): the
/// socket layer's one mode.
pub use originlens_net::SslMode;

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
    /// SNI for HTTPS origins; `None` uses the URL's host name, or for an IP URL `host_header`,
    /// else the visitor's host name (see [`OriginConfig::server_name`]).
    pub sni: Option<String>,
    /// Certificate checking for HTTPS origins.
    pub ssl_mode: SslMode,
    /// Roots trusted in strict mode besides the Mozilla ones: a private CA, or Cloudflare's
    /// Origin CA, which Full (strict) accepts although no browser does.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The client certificate presented when the origin asks for one.
    pub client_cert: Option<ClientCert>,
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
            extra_roots: Vec::new(),
            client_cert: None,
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

    /// The TLS server name the configuration fixes for an HTTPS origin: `sni`, else the URL's
    /// host name, else (for an IP URL) `host_header`. `None` for an IP URL with neither: each
    /// request then goes out under the visitor's host name, as Cloudflare sends it, or without
    /// SNI when the visitor gives no name (the certificate must then name the IP).
    pub fn server_name(&self) -> Result<Option<ServerName<'static>>, ConfigError> {
        let url_name = self
            .url
            .host
            .parse::<IpAddr>()
            .is_err()
            .then_some(&self.url.host);
        let Some(name) = self.sni.as_ref().or(url_name).or(self.host_header.as_ref()) else {
            return Ok(None);
        };
        ServerName::try_from(strip_port(name).to_owned())
            .map(Some)
            .map_err(|_| ConfigError::Origin {
                url: self.url.authority(),
                why: format!("`{name}` is not a valid TLS server name"),
            })
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
    /// How long a visitor may take to send a whole request head, counted from the connection's
    /// accept for its first request and from the head's first byte for later ones. A slowloris
    /// client that trickles a head is closed when it runs out, however often it sends a byte.
    pub header_timeout: Duration,
    /// How long a visitor may stay silent while sending a request body (between two reads,
    /// not for the whole body: a large upload on a slow line keeps going as long as it moves).
    pub body_timeout: Duration,
    /// How long a write to the visitor may make no progress (a visitor that stops reading).
    pub send_timeout: Duration,
    /// How long an idle visitor connection is kept between requests.
    pub visitor_idle_timeout: Duration,
}

/// Upstream connections kept idle per origin by default, shared out over the workers. As many
/// as a busy edge has requests in flight to one origin: a smaller pool closes connections after
/// each burst and opens them again, which overflows a small origin's listen queue (1,000
/// visitors through a pool of 256: 84 % of requests on reused connections and a p99 of 1 s,
/// the time a dropped SYN takes to be sent again; with 1,024: 99.8 %, `bench/edge.sh`).
pub const DEFAULT_MAX_IDLE_PER_ORIGIN: usize = 1024;

/// Request bodies the edge buffers at most by default (Cloudflare Free: 100 MB).
pub const DEFAULT_MAX_REQUEST_BODY: usize = 100 * 1024 * 1024;

/// [`EdgeConfig::header_timeout`] by default: nginx's `client_header_timeout` (60 s).
/// Cloudflare does not publish one; its visitor connections idle out after 400 s, but a head
/// sent in pieces over minutes is an attack, not a slow visitor.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// [`EdgeConfig::body_timeout`] by default: nginx's `client_body_timeout` (60 s between reads).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// [`EdgeConfig::send_timeout`] by default: nginx's `send_timeout` (60 s between writes).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// [`EdgeConfig::visitor_idle_timeout`] by default: Cloudflare keeps idle visitor connections
/// 400 s.
pub const DEFAULT_VISITOR_IDLE_TIMEOUT: Duration = Duration::from_secs(400);

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
            max_idle_per_origin: DEFAULT_MAX_IDLE_PER_ORIGIN,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            visitor_idle_timeout: DEFAULT_VISITOR_IDLE_TIMEOUT,
        }
    }

    /// Checks what the types cannot: at least one origin, one default at most, no host twice.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.origins.is_empty() {
            return Err(ConfigError::Invalid("no origin configured".into()));
        }
        for (name, t) in [
            ("header_timeout", self.header_timeout),
            ("body_timeout", self.body_timeout),
            ("send_timeout", self.send_timeout),
            ("visitor_idle_timeout", self.visitor_idle_timeout),
        ] {
            if t.is_zero() {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
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
                check_host_name(h).map_err(ConfigError::Invalid)?;
                if !seen.insert(host_key(h)) {
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

    /// The origin for a visitor `Host` (port, case and a final dot ignored), else the default
    /// origin.
    pub fn route(&self, host: Option<&str>) -> Option<usize> {
        let name = host.map(|h| without_final_dot(strip_port(h)));
        if let Some(name) = name {
            if let Some(i) = self.origins.iter().position(|o| {
                o.hosts
                    .iter()
                    .any(|h| without_final_dot(h).eq_ignore_ascii_case(name))
            }) {
                return Some(i);
            }
        }
        self.origins.iter().position(|o| o.hosts.is_empty())
    }
}

/// Reads the certificates of a PEM file to trust as roots (`ca_file`, `--ca-file`); every one
/// must be usable as a trust anchor.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    originlens_net::load_ca_file(path).map_err(|e| ConfigError::Invalid(format!("CA file {e}")))
}

/// Reads the client certificate chain and key presented to origins that ask for one
/// (`--cert`/`--key`, `client_cert`/`client_key`; Authenticated Origin Pulls).
pub fn load_client_cert(cert: &Path, key: &Path) -> Result<ClientCert, ConfigError> {
    originlens_net::load_client_cert(cert, key)
        .map_err(|e| ConfigError::Invalid(format!("client certificate {e}")))
}

/// `shop.example.` names the same host as `shop.example` (nginx drops the dot as well).
fn without_final_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// The form under which two `hosts` entries are the same name.
pub fn host_key(name: &str) -> String {
    without_final_dot(name).to_ascii_lowercase()
}

/// A `hosts` entry must be a bare name: the visitor's port is ignored, so a name with a port
/// would never match.
pub fn check_host_name(name: &str) -> Result<(), String> {
    if without_final_dot(name).is_empty() {
        return Err("an empty name in `hosts`".into());
    }
    if strip_port(name) != name {
        return Err(format!(
            "host `{name}`: give the name without a port (the visitor's port is ignored)"
        ));
    }
    if name.contains(|c: char| c.is_whitespace() || c.is_control() || "/?#@,".contains(c)) {
        return Err(format!("host `{name}` is not a host name"));
    }
    Ok(())
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
        assert_eq!(c.route(Some("shop.example.")), Some(0));
        assert_eq!(c.route(Some("shop.example.:80")), Some(0));
        assert_eq!(c.route(Some("shop.example..")), Some(1));
        assert_eq!(c.route(Some("other")), Some(1));
        assert_eq!(c.route(None), Some(1));
        c.origins.pop();
        assert_eq!(c.route(Some("other")), None);
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }

    #[test]
    fn hosts_must_be_bare_names_and_distinct() {
        let url = OriginUrl::parse("http://a:1").unwrap();
        let mut a = OriginConfig::new(url.clone(), "cloudflare").unwrap();
        let mut b = OriginConfig::new(url, "cloudflare").unwrap();
        for (hosts, ok) in [
            (["shop.example", "[::1]"], true),
            (["shop.example", "SHOP.example."], false),
            (["shop.example:8080", "b"], false),
            (["shop.example", ""], false),
            (["shop.example", "."], false),
            (["shop example", "b"], false),
            (["a,b", "c"], false),
        ] {
            a.hosts = vec![hosts[0].into()];
            b.hosts = vec![hosts[1].into()];
            let mut c = EdgeConfig::single("127.0.0.1:0".parse().unwrap(), a.clone());
            c.origins.push(b.clone());
            assert_eq!(c.validate().is_ok(), ok, "{hosts:?}");
        }
    }

    #[test]
    fn server_name_falls_back_to_the_host_header_then_the_visitor_for_ip_urls() {
        let name = |n: &str| Some(ServerName::try_from(n.to_owned()).unwrap());
        let mut o = OriginConfig::new(
            OriginUrl::parse("https://127.0.0.1:8443").unwrap(),
            "cloudflare",
        )
        .unwrap();
        assert_eq!(o.server_name().unwrap(), None);
        o.host_header = Some("shop.example:8443".into());
        assert_eq!(o.server_name().unwrap(), name("shop.example"));
        o.sni = Some("sni.example".into());
        assert_eq!(o.server_name().unwrap(), name("sni.example"));
        o.sni = Some("not a name".into());
        assert!(o.server_name().is_err());
        let mut named = OriginConfig::new(
            OriginUrl::parse("https://origin.example").unwrap(),
            "cloudflare",
        )
        .unwrap();
        named.host_header = Some("shop.example".into());
        assert_eq!(named.server_name().unwrap(), name("origin.example"));
    }

    #[test]
    fn ca_files_must_hold_usable_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let pki = originlens_lab::tls::LabPki::generate().unwrap();
        let good = write("root.pem", pki.root_pem());
        assert_eq!(load_ca_file(&good).unwrap().len(), 1);
        for (path, needle) in [
            (
                write("junk.pem", "not a certificate\n"),
                "no PEM certificate",
            ),
            (
                write(
                    "bad-der.pem",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                ),
                "bad-der.pem",
            ),
            (dir.path().join("missing.pem"), "missing.pem"),
        ] {
            let e = load_ca_file(&path).unwrap_err().to_string();
            assert!(e.contains(needle) && e.starts_with("CA file "), "{e}");
        }
    }
}
