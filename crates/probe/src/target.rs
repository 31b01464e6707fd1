//! What to probe: the URL (its host is the Host header and the TLS SNI) and where to connect.

use std::fmt;

/// A parsed probe target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub tls: bool,
    /// The URL's host: sent as Host and SNI.
    pub host: String,
    /// The URL's port (default for the scheme when absent).
    pub port: u16,
    /// Path and query to request.
    pub path: String,
    /// Where to connect instead of the URL's host (curl's `--connect-to`).
    pub connect_host: String,
    /// Port to connect to.
    pub connect_port: u16,
}

/// A target that could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// The URL did not parse.
    #[error("`{0}` is not an absolute http:// or https:// URL")]
    BadUrl(String),
    /// The scheme is not http or https.
    #[error("unsupported scheme `{0}` (use http:// or https://)")]
    Scheme(String),
    /// The `--connect-to` value did not parse.
    #[error("`{0}` is not HOST[:PORT]")]
    BadConnectTo(String),
}

impl Target {
    /// Parses `url`, with an optional `HOST[:PORT]` to connect to instead (IPv6 in brackets).
    /// A URL without a scheme (`www.example.com/x`) is `http://`, as curl takes it.
    pub fn parse(url: &str, connect_to: Option<&str>) -> Result<Target, TargetError> {
        let with_scheme;
        let url = if url.contains("://") {
            url
        } else {
            with_scheme = format!("http://{url}");
            &with_scheme
        };
        let uri: http::Uri = url.parse().map_err(|_| TargetError::BadUrl(url.into()))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => return Err(TargetError::Scheme(other.into())),
            None => return Err(TargetError::BadUrl(url.into())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| TargetError::BadUrl(url.into()))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(TargetError::BadUrl(url.into()));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let (connect_host, connect_port) = match connect_to {
            None => (host.to_owned(), port),
            Some(spec) => parse_host_port(spec, port)?,
        };
        Ok(Target {
            tls,
            host: host.to_owned(),
            port,
            path,
            connect_host,
            connect_port,
        })
    }

    /// The Host header value: the host, with the port when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path)
    }
}

fn parse_host_port(spec: &str, default_port: u16) -> Result<(String, u16), TargetError> {
    let bad = || TargetError::BadConnectTo(spec.into());
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.into(), port));
    }
    match spec.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port.parse().map_err(|_| bad())?;
            if host.is_empty() {
                return Err(bad());
            }
            Ok((host.into(), port))
        }
        _ if spec.is_empty() => Err(bad()),
        _ => Ok((spec.into(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_url_host_and_connects_elsewhere() {
        let t = Target::parse("https://www.example.com/checkout?x=1", Some("203.0.113.7")).unwrap();
        assert!(t.tls);
        assert_eq!(t.host_header(), "www.example.com");
        assert_eq!(t.path, "/checkout?x=1");
        assert_eq!(
            (t.connect_host.as_str(), t.connect_port),
            ("203.0.113.7", 443)
        );
        let t = Target::parse("http://example.com:8080", Some("[::1]:9000")).unwrap();
        assert_eq!(t.host_header(), "example.com:8080");
        assert_eq!(t.path, "/");
        assert_eq!((t.connect_host.as_str(), t.connect_port), ("::1", 9000));
    }

    #[test]
    fn refuses_what_it_cannot_probe() {
        assert!(matches!(
            Target::parse("ftp://x/", None),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("http://", None),
            Err(TargetError::BadUrl(_))
        ));
        assert!(Target::parse("http://x/", Some("h:notaport")).is_err());
    }

    #[test]
    fn a_url_without_a_scheme_is_http() {
        let t = Target::parse("example.com:8080/cart", None).unwrap();
        assert!(!t.tls);
        assert_eq!(t.host_header(), "example.com:8080");
        assert_eq!(t.path, "/cart");
        let t = Target::parse("127.0.0.1", None).unwrap();
        assert_eq!((t.connect_host.as_str(), t.connect_port), ("127.0.0.1", 80));
    }
}
