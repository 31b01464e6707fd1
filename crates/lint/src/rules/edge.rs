//! The edge's own addresses, for rules about `allow`/`deny`.

use std::net::Ipv4Addr;

/// Cloudflare's published IPv4 ranges (cloudflare.com/ips-v4). They change rarely; an outdated
/// entry only makes the rule quieter, never wrong about a range it reports.
pub const CLOUDFLARE_IPV4: &[&str] = &[
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
];

/// An IPv4 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Net {
    base: u32,
    prefix: u32,
}

impl Net {
    /// `a.b.c.d` or `a.b.c.d/n`; `None` for anything else (IPv6, `unix:`, `all`).
    pub(crate) fn parse(text: &str) -> Option<Net> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, p.parse::<u32>().ok().filter(|p| *p <= 32)?),
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.parse().ok()?;
        Some(Net {
            base: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// Whether `self` contains all of `other`.
    pub(crate) fn contains(self, other: Net) -> bool {
        self.prefix <= other.prefix && other.base & mask(self.prefix) == self.base
    }

    /// Whether the two share any address.
    pub(crate) fn overlaps(self, other: Net) -> bool {
        self.contains(other) || other.contains(self)
    }
}

fn mask(prefix: u32) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

/// The edge ranges.
pub(crate) fn edge_nets() -> impl Iterator<Item = (&'static str, Net)> {
    CLOUDFLARE_IPV4
        .iter()
        .filter_map(|text| Net::parse(text).map(|net| (*text, net)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        let cf = Net::parse("162.158.0.0/15").unwrap();
        assert!(Net::parse("162.0.0.0/8").unwrap().contains(cf));
        assert!(cf.contains(Net::parse("162.159.1.2").unwrap()));
        assert!(!cf.contains(Net::parse("10.0.0.1").unwrap()));
        assert!(cf.overlaps(Net::parse("162.159.0.0/16").unwrap()));
        assert_eq!(Net::parse("all"), None);
        assert_eq!(edge_nets().count(), CLOUDFLARE_IPV4.len());
    }
}
