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
//!
//! [[origin]]
//! url = "http://127.0.0.1:9000"
//! hosts = ["shop.example"]        # omit for the default origin
//! profile = "cloudflare"
//! connect_timeout = 19            # seconds; each defaults to the profile's
//! read_timeout = 125
//! idle_timeout = 900
//! host_header = "shop.internal"   # default: the visitor's Host
//! sni = "shop.example"            # https origins
//! ssl_mode = "strict"             # or "full"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
    #[serde(default)]
    origin: Vec<OriginEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginEntry {
    url: String,
    #[serde(default)]
    hosts: Vec<String>,
    profile: Option<String>,
    connect_timeout: Option<f64>,
    read_timeout: Option<f64>,
    idle_timeout: Option<f64>,
    host_header: Option<String>,
    sni: Option<String>,
    ssl_mode: Option<String>,
}

fn secs(v: Option<f64>, what: &str) -> Result<Option<Duration>, ConfigError> {
    v.map(|s| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| ConfigError::Invalid(format!("{what}: {s} is not a duration")))
    })
    .transpose()
}

/// Parses a configuration from TOML text.
pub fn parse(text: &str) -> Result<EdgeConfig, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mut origins = Vec::with_capacity(file.origin.len());
    for o in file.origin {
        let mut cfg = OriginConfig::new(
            OriginUrl::parse(&o.url)?,
            o.profile.as_deref().unwrap_or("cloudflare"),
        )?;
        cfg.hosts = o.hosts;
        cfg.host_header = o.host_header;
        cfg.sni = o.sni;
        if let Some(m) = o.ssl_mode {
            cfg.ssl_mode = SslMode::parse(&m).ok_or_else(|| {
                ConfigError::Invalid(format!("ssl_mode `{m}`: use strict or full"))
            })?;
        }
        cfg.set_timeouts(
            secs(o.connect_timeout, "connect_timeout")?,
            secs(o.read_timeout, "read_timeout")?,
            secs(o.idle_timeout, "idle_timeout")?,
        );
        origins.push(cfg);
    }
    let Some(first) = origins.first().cloned() else {
        return Err(ConfigError::Invalid("no [[origin]] table".into()));
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
    c.validate()?;
    Ok(c)
}

/// Reads and parses the file at `path`; errors name the file.
pub fn load(path: &Path) -> Result<EdgeConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
    parse(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))
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
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
