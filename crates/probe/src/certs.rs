//! Independent checks of a served certificate chain, with x509-parser.
//!
//! webpki stops at the first failing check (an expired leaf hides a name mismatch and a missing
//! intermediate), so the probe runs its own checks on the chain the origin served and lists every
//! problem. The verdict on trust stays webpki's: these checks explain it and never overrule it.
//! Certificates are hostile input: anything unparsable is a problem, never a panic.

use std::net::IpAddr;

use rustls::pki_types::{CertificateDer, TrustAnchor};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Days before expiry from which an otherwise valid certificate gets a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// Longest issuer path followed through the served certificates.
const MAX_PATH: usize = 16;

/// What one served certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name (`CN=..., O=...`).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// Whole days from now until `not_after` (negative once expired).
    pub days_left: i64,
    /// DNS names and IP addresses from subjectAltName.
    pub names: Vec<String>,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// A CA certificate (basicConstraints cA).
    pub is_ca: bool,
    /// Subject and issuer are the same name.
    pub self_issued: bool,
}

/// One problem found in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Stable id: `expired`, `not-yet-valid`, `name-mismatch`, `self-signed`,
    /// `missing-intermediate`, `unknown-issuer`, `chain-order`, `expires-soon`, `unparsable`,
    /// `no-certificate`, `untrusted`.
    pub id: &'static str,
    /// Would a verifying client (the edge in strict mode) refuse the chain for it?
    pub fatal: bool,
    /// The index of the certificate concerned in the served chain (0 = the leaf).
    pub cert: Option<usize>,
    /// For people.
    pub message: String,
}

/// The result of the independent checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainCheck {
    /// The served certificates, leaf first, as served.
    pub certs: Vec<CertInfo>,
    /// Every problem, in chain order.
    pub problems: Vec<Problem>,
    /// Does the leaf name the host?
    pub name_matches: bool,
    /// Does the served chain lead from the leaf to a trusted root?
    pub complete: bool,
    /// Is each certificate followed by its issuer?
    pub ordered: bool,
}

struct Parsed {
    info: CertInfo,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
}

/// Checks `chain` (leaf first, as served) for `host` at `now` (Unix seconds) against `anchors`.
pub fn check_chain(
    chain: &[CertificateDer<'_>],
    host: &str,
    now: i64,
    anchors: &[TrustAnchor<'_>],
) -> ChainCheck {
    let mut out = ChainCheck::default();
    if chain.is_empty() {
        out.problems.push(Problem {
            id: "no-certificate",
            fatal: true,
            cert: None,
            message: "the origin presented no certificate".into(),
        });
        return out;
    }
    let mut parsed = Vec::new();
    for (i, der) in chain.iter().enumerate() {
        match parse(der, now) {
            Ok(p) => parsed.push(p),
            Err(e) => {
                out.problems.push(Problem {
                    id: "unparsable",
                    fatal: true,
                    cert: Some(i),
                    message: format!("certificate #{i} cannot be parsed: {e}"),
                });
                return out;
            }
        }
    }
    let what = |i: usize| {
        if i == 0 {
            "the certificate".to_owned()
        } else {
            format!("chain certificate #{i} ({})", parsed[i].info.subject)
        }
    };

    // Validity windows.
    for (i, p) in parsed.iter().enumerate() {
        let c = &p.info;
        if now > c.not_after {
            out.problems.push(Problem {
                id: "expired",
                fatal: true,
                cert: Some(i),
                message: format!(
                    "{} expired on {} ({} days ago)",
                    what(i),
                    date(c.not_after),
                    -c.days_left
                ),
            });
        } else if now < c.not_before {
            out.problems.push(Problem {
                id: "not-yet-valid",
                fatal: true,
                cert: Some(i),
                message: format!(
                    "{} is not valid before {} (in {} days): check the origin's clock and the certificate",
                    what(i),
                    date(c.not_before),
                    (c.not_before - now) / 86_400
                ),
            });
        } else if c.days_left < EXPIRY_WARNING_DAYS {
            out.problems.push(Problem {
                id: "expires-soon",
                fatal: false,
                cert: Some(i),
                message: format!(
                    "{} expires on {} (in {} days)",
                    what(i),
                    date(c.not_after),
                    c.days_left
                ),
            });
        }
    }

    // Host name, from subjectAltName only (the CN is ignored by webpki and browsers).
    let leaf = &parsed[0].info;
    out.name_matches = leaf.names.iter().any(|n| name_matches(n, host));
    if !out.name_matches {
        let named = if leaf.names.is_empty() {
            match &leaf.common_name {
                Some(cn) => {
                    format!("has no subjectAltName (its CN `{cn}` is ignored by verifying clients)")
                }
                None => "names no host at all".to_owned(),
            }
        } else {
            format!("is for {}", leaf.names.join(", "))
        };
        out.problems.push(Problem {
            id: "name-mismatch",
            fatal: true,
            cert: Some(0),
            message: format!("the certificate {named}, not {host}"),
        });
    }

    // Order: each certificate should be followed by its issuer.
    out.ordered = true;
    for i in 0..parsed.len() - 1 {
        if parsed[i].info.self_issued || parsed[i].issuer_raw == parsed[i + 1].subject_raw {
            continue;
        }
        out.ordered = false;
        let issuer_at = (0..parsed.len())
            .find(|&j| j != i && parsed[j].subject_raw == parsed[i].issuer_raw)
            .map_or("is not served".to_owned(), |j| format!("is served at #{j}"));
        out.problems.push(Problem {
            id: "chain-order",
            fatal: false,
            cert: Some(i + 1),
            message: format!(
                "chain out of order: #{} ({}) does not issue #{i}; #{i}'s issuer {issuer_at}",
                i + 1,
                parsed[i + 1].info.subject
            ),
        });
        break;
    }

    // Completeness: follow issuers through the served certificates to a trusted root.
    let trusted = |issuer_raw: &[u8]| {
        let contents = name_contents(issuer_raw);
        anchors
            .iter()
            .any(|a| a.subject.as_ref() == contents || a.subject.as_ref() == issuer_raw)
    };
    let mut at = 0usize;
    let mut seen = vec![0usize];
    for _ in 0..MAX_PATH {
        let p = &parsed[at];
        if trusted(&p.issuer_raw) {
            out.complete = true;
            break;
        }
        if p.info.self_issued {
            let id = if at == 0 {
                "self-signed"
            } else {
                "unknown-issuer"
            };
            let message = if at == 0 {
                format!(
                    "the certificate is self-signed ({}); verifying clients do not trust it",
                    p.info.subject
                )
            } else {
                format!(
                    "the chain ends at the root {} (#{at}), which is not trusted",
                    p.info.subject
                )
            };
            out.problems.push(Problem {
                id,
                fatal: true,
                cert: Some(at),
                message,
            });
            break;
        }
        let next = (0..parsed.len())
            .find(|&j| !seen.contains(&j) && parsed[j].subject_raw == p.issuer_raw);
        match next {
            Some(j) => {
                seen.push(j);
                at = j;
            }
            None if at == 0 => {
                out.problems.push(Problem {
                    id: "missing-intermediate",
                    fatal: true,
                    cert: Some(0),
                    message: format!(
                        "the chain is incomplete: the issuer of the certificate ({}) is not served and is not a trusted root; serve the full chain (leaf + intermediates), or trust a private CA with --ca-file",
                        p.info.issuer
                    ),
                });
                break;
            }
            None => {
                out.problems.push(Problem {
                    id: "unknown-issuer",
                    fatal: true,
                    cert: Some(at),
                    message: format!(
                        "the chain ends at {} (#{at}), issued by {}, which is not a trusted root",
                        p.info.subject, p.info.issuer
                    ),
                });
                break;
            }
        }
    }
    out.certs = parsed.into_iter().map(|p| p.info).collect();
    out
}

fn parse(der: &CertificateDer<'_>, now: i64) -> Result<Parsed, String> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
    let validity = cert.validity();
    let not_before = validity.not_before.timestamp();
    let not_after = validity.not_after.timestamp();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    if let Some(ip) = ip_of(b) {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let subject_raw = cert.subject().as_raw().to_vec();
    let issuer_raw = cert.issuer().as_raw().to_vec();
    Ok(Parsed {
        info: CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            not_before,
            not_after,
            days_left: (not_after - now).div_euclid(86_400),
            names,
            common_name,
            is_ca: cert.is_ca(),
            self_issued: subject_raw == issuer_raw,
        },
        subject_raw,
        issuer_raw,
    })
}

fn ip_of(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The contents of a DER `Name` (trust anchors keep the subject without its SEQUENCE header).
fn name_contents(raw: &[u8]) -> &[u8] {
    let header = match raw.get(1) {
        Some(&l) if l < 0x80 => 2,
        Some(&l) => 2 + usize::from(l & 0x7f),
        None => return raw,
    };
    raw.get(header..).unwrap_or(raw)
}

/// Does the subjectAltName entry `pattern` cover `host`? RFC 6125: case-insensitive, a wildcard
/// only as the whole left-most label, matching exactly one label.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return pattern.parse::<IpAddr>() == Ok(ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == suffix && suffix.contains('.'),
            None => false,
        },
        None => pattern == host,
    }
}

/// `YYYY-MM-DD` of Unix seconds (UTC).
pub fn date(unix: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(name_matches("*.example.com", "www.example.com"));
        assert!(name_matches("WWW.Example.com.", "www.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(name_matches("127.0.0.1", "127.0.0.1"));
        assert!(!name_matches("127.0.0.1", "127.0.0.2"));
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(3_786_912_000), "2090-01-01");
        assert_eq!(date(-86_400), "1969-12-31");
    }

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        let junk = CertificateDer::from(vec![0x30, 0x82, 0xff, 0xff, 1, 2, 3]);
        let c = check_chain(&[junk], "example.com", 0, &[]);
        assert_eq!(c.problems[0].id, "unparsable");
        assert!(check_chain(&[], "example.com", 0, &[]).problems[0].fatal);
    }

    #[test]
    fn name_contents_strips_the_sequence_header() {
        assert_eq!(name_contents(&[0x30, 2, 7, 8]), &[7, 8]);
        assert_eq!(name_contents(&[0x30, 0x81, 1, 9]), &[9]);
        assert_eq!(name_contents(&[0x30]), &[0x30]);
    }
}
