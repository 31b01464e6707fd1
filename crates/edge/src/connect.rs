//! Opening connections to an origin through `originlens_net::dial`: resolve, TCP connect and
//! TLS for `https://` origins, all within the profile's connect timeout. Failures come back as
//! the finding kind the edge reports (refused → 521, timeout → 522, unreachable → 523,
//! handshake → 525, certificate → 526, DNS → 530).
//!
//! A TLS connection goes out under one server name, sent as SNI and checked against the
//! certificate: the configured one, or for an IP URL without one, the visitor's host name (as
//! Cloudflare sends it). The connection remembers that name so that the pool never hands it to a
//! request for another.

use std::time::Duration;

use originlens_net::{dial, DialFailure, Endpoint, Timeouts, TlsClient, TlsPolicy, TlsTo};
use rustls::pki_types::{DnsName, ServerName};

use crate::config::{strip_port, ConfigError, OriginConfig};

/// An upstream connection, plain or TLS (the socket layer's stream).
pub type Conn = originlens_net::Stream;

/// A connection that could not be opened: the finding kind and a message for the evidence
/// (never shown to visitors: it may name the origin).
pub type ConnectFailure = DialFailure;

/// Opens connections to one origin.
pub struct Connector {
    endpoint: Endpoint,
    timeout: Duration,
    tls: Option<Tls>,
}

/// The TLS side of a connector.
struct Tls {
    client: TlsClient,
    /// The configured server name, else (an IP URL) the IP: no SNI, the certificate must name it.
    name: ServerName<'static>,
    /// The visitor's host name, when it is one, comes before `name`.
    visitor_first: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Tls {
    fn new(origin: &OriginConfig) -> Result<Tls, ConfigError> {
        let invalid = |why: String| ConfigError::Origin {
            url: origin.url.authority(),
            why,
        };
        // The edge speaks HTTP/1.1 to origins and, in strict mode, refuses a bad certificate in
        // the handshake (526).
        let client = TlsClient::new(TlsPolicy {
            mode: origin.ssl_mode,
            extra_roots: origin.extra_roots.clone(),
            client_cert: origin.client_cert.clone(),
            ..TlsPolicy::default()
        })
        .map_err(|e| invalid(e.to_string()))?;
        if let Some(why) = client.rejected_roots().first() {
            return Err(invalid(format!("CA file {why}")));
        }
        let (name, visitor_first) = match origin.server_name()? {
            Some(name) => (name, false),
            None => (
                ServerName::try_from(origin.url.host.clone())
                    .map_err(|_| invalid(format!("`{}` is not an IP address", origin.url.host)))?,
                true,
            ),
        };
        Ok(Tls {
            client,
            name,
            visitor_first,
        })
    }
}

impl Connector {
    /// A connector for `origin`, with its TLS server name and certificate checking.
    pub fn new(origin: &OriginConfig) -> Result<Connector, ConfigError> {
        let tls = if origin.url.tls {
            Some(Tls::new(origin)?)
        } else {
            None
        };
        Ok(Connector {
            endpoint: Endpoint::new(origin.url.host.clone(), origin.url.port),
            timeout: origin.profile.limits.connect_timeout,
            tls,
        })
    }

    /// The TLS server name of a request whose visitor asked for `host` (`None` for plain
    /// HTTP): the configured name, else the visitor's host name, else the URL's IP. It also
    /// decides which pooled connections the request may use.
    pub fn server_name<'a>(&'a self, host: &'a str) -> Option<ServerName<'a>> {
        let tls = self.tls.as_ref()?;
        let visitor = tls.visitor_first.then(|| visitor_name(host)).flatten();
        Some(visitor.unwrap_or_else(|| borrowed(&tls.name)))
    }

    /// Opens a new connection within the connect timeout (TLS included); TLS goes out under
    /// `server_name` (see [`Connector::server_name`]), or when `None` the name a visitor without
    /// one would get.
    pub async fn connect(
        &self,
        server_name: Option<&ServerName<'_>>,
    ) -> Result<Conn, ConnectFailure> {
        let timeouts = Timeouts {
            connect: self.timeout,
            handshake: None,
        };
        let tls = self.tls.as_ref().map(|tls| TlsTo {
            client: &tls.client,
            name: server_name.unwrap_or(&tls.name),
        });
        dial(&self.endpoint, timeouts, tls).await.map(|d| d.stream)
    }
}

/// The visitor's host as a server name: without port or final dot, lower-cased; `None` for an
/// IP literal, an empty host or anything else that is not a DNS name.
fn visitor_name(host: &str) -> Option<ServerName<'_>> {
    let dns = DnsName::try_from(strip_port(host)).ok()?;
    let lower = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        dns.to_lowercase_owned()
    } else {
        dns
    };
    Some(ServerName::DnsName(lower))
}

/// `name` borrowed, so that the usual request allocates no server name.
fn borrowed<'a>(name: &'a ServerName<'static>) -> ServerName<'a> {
    match name {
        ServerName::DnsName(d) => {
            let d: &'a DnsName<'a> = d;
            ServerName::DnsName(d.borrow())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{OriginUrl, SslMode};
    use originlens_lab::{TlsCase, TlsLab, LAB_HOST};
    use originlens_wire::Kind;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    /// An origin on the lab's valid TLS listener, named by its IP, in `mode` with the lab root
    /// trusted. Its leaf names `LAB_HOST`, `localhost` and 127.0.0.1.
    pub(crate) async fn lab_origin(mode: SslMode) -> OriginConfig {
        let lab = TlsLab::bind([127, 0, 0, 1].into()).await.unwrap();
        let (_, addr) = lab
            .addrs()
            .into_iter()
            .find(|(c, _)| *c == TlsCase::Valid)
            .unwrap();
        let roots = CertificateDer::pem_slice_iter(lab.root_pem().as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        tokio::spawn(lab.serve());
        let url = OriginUrl::parse(&format!("https://{addr}")).unwrap();
        let mut origin = OriginConfig::new(url, "cloudflare").unwrap();
        origin.ssl_mode = mode;
        origin.extra_roots = roots;
        origin
    }

    fn origin(url: &str) -> OriginConfig {
        OriginConfig::new(OriginUrl::parse(url).unwrap(), "cloudflare").unwrap()
    }

    /// `connector.server_name(host)` as text, `None` for plain HTTP.
    fn name_for(connector: &Connector, host: &str) -> Option<String> {
        connector.server_name(host).map(|n| n.to_str().into_owned())
    }

    /// Opens a connection for a visitor asking for `host`.
    pub(crate) async fn open(connector: &Connector, host: &str) -> Result<Conn, ConnectFailure> {
        connector
            .connect(connector.server_name(host).as_ref())
            .await
    }

    #[test]
    fn ip_origins_take_the_visitor_name_unless_it_is_no_dns_name() {
        let ip = Connector::new(&origin("https://127.0.0.1:8443")).unwrap();
        for (host, expected) in [
            ("shop.example", "shop.example"),
            ("Shop.EXAMPLE.:8443", "shop.example"),
            ("shop.example.", "shop.example"),
            ("", "127.0.0.1"),
            ("198.51.100.7", "127.0.0.1"),
            ("198.51.100.7:80", "127.0.0.1"),
            ("[::1]:80", "127.0.0.1"),
            ("shop example", "127.0.0.1"),
            ("shop.example..", "127.0.0.1"),
        ] {
            assert_eq!(name_for(&ip, host).as_deref(), Some(expected), "{host:?}");
        }
        let v6 = Connector::new(&origin("https://[::1]:8443")).unwrap();
        assert_eq!(name_for(&v6, "").as_deref(), Some("::1"));
    }

    #[test]
    fn configured_names_win_over_the_visitor_name() {
        let mut header = origin("https://127.0.0.1:8443");
        header.host_header = Some("internal.example".into());
        let mut sni = header.clone();
        sni.sni = Some("sni.example".into());
        for (config, expected) in [
            (header, Some("internal.example")),
            (sni, Some("sni.example")),
            (origin("https://origin.example"), Some("origin.example")),
            (origin("http://127.0.0.1:8080"), None),
        ] {
            let c = Connector::new(&config).unwrap();
            assert_eq!(name_for(&c, "shop.example").as_deref(), expected);
        }
    }

    #[tokio::test]
    async fn strict_mode_checks_the_certificate_against_the_visitor_name() {
        let connector = Connector::new(&lab_origin(SslMode::Strict).await).unwrap();
        let lab = open(&connector, "LAB.originlens.test").await.unwrap();
        let sent = lab.server_name().map(|n| n.to_str().into_owned());
        assert_eq!(sent.as_deref(), Some(LAB_HOST));
        // No name from the visitor: no SNI, and the leaf names 127.0.0.1.
        let ip = open(&connector, "").await.unwrap();
        assert_eq!(
            ip.server_name(),
            Some(&ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()))
        );
        let wrong = open(&connector, "www.example.test").await.unwrap_err();
        assert_eq!(wrong.kind, Kind::TlsCertificate, "{}", wrong.message);
        assert!(
            wrong.message.contains("www.example.test"),
            "{}",
            wrong.message
        );
    }
}
