//! Judging a report under a profile: what the visitor sees, who generated it, and why.
//!
//! The reader's findings are facts about the bytes and do not depend on any peer. Here each
//! profile adds the findings its own limits produce (head size, field count, timeouts), then the
//! first decisive finding in stream order decides. Warnings never set the cause.

use std::time::Duration;

use crate::cause::{Cause, Phase};
use crate::finding::{Finding, Kind, Severity};
use crate::outcome::GeneratedBy;
use crate::profile::{Disposition, Profile, EMPTY_REPLY};
use crate::reader::{End, Report};

/// Status-line defects a client forgives when it reads relayed bytes itself (curl accepts a
/// lower-case `http/1.1` and stops the line at a bare CR; observed through nginx 1.22.1).
const RELAYED_LINE_STILL_PARSES: &[Kind] = &[Kind::VersionBadName, Kind::StartLineBareCr];
/// Status-line defects nginx repairs when it parses the line itself, but a client reading the
/// relayed bytes does not (curl wants one digit after the dot).
const RELAYED_LINE_UNREADABLE: &[Kind] = &[Kind::VersionMultiDigit];

/// What one profile makes of a response.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// The profile's name.
    pub profile: &'static str,
    /// The status the visitor sees; `None` when nginx relays raw bytes with no status line.
    pub status: Option<u16>,
    /// Who produced that status.
    pub generated_by: GeneratedBy,
    /// The cause, or `None` for a clean exchange.
    pub cause: Option<Cause>,
    /// The kind of the finding that decided.
    pub finding: Option<Kind>,
    /// The finding that decided, with its offset and message (none for a plain origin 5xx,
    /// which no finding describes).
    #[serde(skip)]
    pub deciding: Option<Finding>,
    /// How the profile treated the deciding finding.
    pub disposition: Option<Disposition>,
    /// Whether the visitor gets the whole body.
    pub body_complete: bool,
    /// Findings the profile repairs before forwarding.
    pub normalized: Vec<Kind>,
    /// Findings produced by this profile's own limits.
    #[serde(skip)]
    pub limit_findings: Vec<Finding>,
    /// A note on how sure the verdict is (e.g. the probe waited less than the peer would).
    pub note: Option<String>,
}

impl Verdict {
    /// Does the edge generate an error instead of forwarding the origin's response?
    pub fn is_edge_error(&self) -> bool {
        self.generated_by == GeneratedBy::Edge
    }

    /// Does the visitor get the origin's own, complete, non-5xx response? What `curl --fail`
    /// calls success: the probe's exit status, the exporter's `probe_success` and the
    /// checklist's `direct-response-valid` all read this.
    pub fn delivered(&self) -> bool {
        let broken_body = matches!(
            self.cause,
            Some(Cause::BodyTruncated | Cause::BodyTimeout | Cause::ChunkedInvalid)
        );
        let origin_5xx =
            self.cause == Some(Cause::OriginError) || self.status.is_some_and(|s| s >= 500);
        !(self.is_edge_error() || broken_body || !self.body_complete || origin_5xx)
    }
}

/// What the judge needs to know beyond the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct JudgeContext {
    /// The read timeout the probe itself used, when it gave up waiting.
    pub waited: Option<Duration>,
}

/// Judges `report` under `profile`.
pub fn judge(report: &Report, profile: &Profile, ctx: JudgeContext) -> Verdict {
    let limit_findings = limit_findings(report, profile);
    let mut all: Vec<&Finding> = Vec::new();
    // Most heads have no findings at all: skipping the collect and the order check for them
    // saves about 110 instructions a head (the plain `collect` measured under callgrind).
    if !report.findings.is_empty() || !limit_findings.is_empty() {
        all.extend(report.findings.iter().chain(&limit_findings));
        // Findings mostly come in the order they are acted on: checked in one pass, sorted if
        // not.
        let key = |f: &&Finding| acted_on_at(f, report, profile);
        if !all.is_sorted_by_key(key) {
            all.sort_by_key(key);
        }
    }

    let mut verdict = Verdict {
        profile: profile.name,
        status: report.status(),
        generated_by: GeneratedBy::Origin,
        cause: None,
        finding: None,
        deciding: None,
        disposition: None,
        body_complete: report.body.complete,
        normalized: Vec::new(),
        limit_findings: Vec::new(),
        note: None,
    };
    // An exchange over HTTP/2 says nothing about a peer that would have used HTTP/1.1.
    if !profile.limits.h2_to_origin && report.findings.iter().any(|f| f.cause == Cause::H2Protocol)
    {
        verdict.status = None;
        verdict.note = Some(format!(
            "{} speaks HTTP/1.1 to the origin; this exchange went over HTTP/2 and does not show its outcome",
            profile.name
        ));
        verdict.limit_findings = limit_findings;
        return verdict;
    }
    let mut previous: Option<(Kind, Severity)> = None;
    for f in &all {
        // A finding of the same kind and severity as the one before it (a run of obs-fold
        // lines) can change nothing: its disposition was applied already.
        if previous.replace((f.id, f.severity)) == Some((f.id, f.severity)) {
            continue;
        }
        // A finding its maker demoted below its kind's severity (a certificate problem the
        // edge in Full mode does not check) is reported, never decisive.
        if f.severity < f.id.severity() {
            continue;
        }
        let d = profile.disposition(f.id);
        if d == Disposition::Normalize && !verdict.normalized.contains(&f.id) {
            verdict.normalized.push(f.id);
        }
        if !d.is_decisive() || verdict.disposition.is_some() {
            continue;
        }
        verdict.finding = Some(f.id);
        verdict.deciding = Some((*f).clone());
        verdict.disposition = Some(d);
        match d {
            Disposition::Reject => match profile.status_for(f.cause) {
                Some(EMPTY_REPLY) => {
                    verdict.status = None;
                    verdict.generated_by = GeneratedBy::Edge;
                    verdict.cause = Some(f.cause);
                    verdict.body_complete = false;
                    verdict.note = Some(format!(
                        "{} closes the connection without answering (empty reply)",
                        profile.name
                    ));
                }
                Some(status) => {
                    verdict.status = Some(status);
                    verdict.generated_by = GeneratedBy::Edge;
                    verdict.cause = Some(f.cause);
                    verdict.body_complete = false;
                }
                None => {
                    verdict.cause = Some(f.cause);
                    verdict.body_complete = false;
                }
            },
            Disposition::Relay09 => {
                // The visitor's client parses the relayed bytes itself: a status line that is
                // only off in ways clients forgive still yields the origin's code.
                verdict.status = report
                    .status()
                    .filter(|c| (100..=599).contains(c) && relayed_line_parses(report, f.id));
                verdict.cause = Some(f.cause);
                verdict.note = Some(
                    "no valid status line: the origin's bytes are passed to the client as they are"
                        .into(),
                );
            }
            Disposition::InterimAsFinal => {
                verdict.note = Some(format!(
                    "{} sends the interim {} as its final response and the origin's real head as body; \
                     clients that skip 1xx read that head",
                    profile.name,
                    report.interim.first().and_then(|h| h.code).unwrap_or(100)
                ));
            }
            _ => {}
        }
    }
    if verdict.disposition.is_none() {
        match report.status() {
            Some(code @ 500..=599) => {
                verdict.cause = Some(Cause::OriginError);
                verdict.finding = Some(Kind::StatusOrigin5xx);
                verdict.status = Some(code);
            }
            // Forwarded as it is, but not a code clients know: RFC 9110 §15 says to treat it as
            // the 5xx class, so the visitor's client sees a server error.
            Some(code @ 600..) => {
                verdict.note = Some(format!(
                    "{code} is outside 100-599: {} forwards it, and clients treat it as a 5xx (RFC 9110 §15)",
                    profile.name
                ));
            }
            _ => {}
        }
    }
    if report.end == Some(End::Timeout) {
        if let Some(waited) = ctx.waited {
            if waited < profile.limits.read_timeout {
                verdict.note = Some(format!(
                    "the probe gave up after {:.1} s; {} waits {} s before answering",
                    waited.as_secs_f64(),
                    profile.name,
                    profile.limits.read_timeout.as_secs()
                ));
            }
        }
    }
    // Only a finding the profile acts on decides; one it merely warns about (or repairs) never
    // sets the status, the cause or the finding.
    debug_assert!(
        verdict.disposition.is_none_or(Disposition::is_decisive)
            && verdict.finding.is_none_or(|k| {
                profile.disposition(k).is_decisive() || k == Kind::StatusOrigin5xx
            }),
        "{}: {:?} decided the verdict without being acted on",
        profile.name,
        verdict.finding
    );
    verdict.limit_findings = limit_findings;
    verdict
}

/// Where in the stream `profile` acts on `f`: where it is, except that a peer which parses the
/// whole head first relays an unreadable start line only after everything else in the head
/// (its own size limit included) and before the body. At one offset, head findings come
/// before body findings.
fn acted_on_at(f: &Finding, report: &Report, profile: &Profile) -> (u64, u8) {
    let body_rank = if f.cause.phase() == Phase::Body { 2 } else { 0 };
    match &report.head {
        Some(head)
            if profile.relays_after_head
                && profile.disposition(f.id) == Disposition::Relay09
                && f.offset < head.offset + head.len() as u64 =>
        {
            (head.offset + head.len() as u64, 1)
        }
        _ => (f.offset, body_rank),
    }
}

/// Does the visitor's client still read a status from the origin's own status line, relayed
/// because of `deciding`? Only if that defect is one clients forgive and nothing else in the
/// line stops them (`HTTP/1.10 200 OK` with a bare CR is unreadable).
fn relayed_line_parses(report: &Report, deciding: Kind) -> bool {
    let Some(head) = &report.head else {
        return false;
    };
    let line_end = head.offset + head.status_line.end as u64;
    RELAYED_LINE_STILL_PARSES.contains(&deciding)
        && !report
            .findings
            .iter()
            .any(|f| f.offset <= line_end && RELAYED_LINE_UNREADABLE.contains(&f.id))
}

fn limit_findings(report: &Report, profile: &Profile) -> Vec<Finding> {
    let mut out = Vec::new();
    let limits = &profile.limits;
    if let Some(head) = &report.head {
        let size = head.len();
        let counted = limits.head_measure.size(head);
        match (limits.max_head_bytes, limits.warn_head_bytes) {
            (Some(max), _) if counted > max => out.push(Finding::at(
                Kind::HeadTooLarge,
                head.offset + max.min(size) as u64,
                if counted == size {
                    format!("the head is {size} bytes; {} accepts {max}", profile.name)
                } else {
                    format!(
                        "the head is {size} bytes in {} field lines, {counted} in {}; {} accepts {max}",
                        head.fields.len(),
                        limits.head_measure.unit(),
                        profile.name
                    )
                },
            )),
            (_, Some(warn)) if size > warn => out.push(Finding::at(
                Kind::HeadLarge,
                head.offset + warn as u64,
                format!(
                    "the head is {size} bytes, above the {} KiB budget",
                    warn / 1024
                ),
            )),
            _ => {}
        }
        if let Some(max) = limits.max_fields {
            if let Some(f) = head.fields.get(max) {
                out.push(Finding::at(
                    Kind::HeadTooManyFields,
                    head.abs(f.line.start),
                    format!(
                        "{} field lines; {} accepts {max}",
                        head.fields.len(),
                        profile.name
                    ),
                ));
            }
        }
    }
    let gaps = &report.gaps;
    let read = limits.read_timeout;
    let head_end = report
        .head
        .as_ref()
        .map_or(0, |h| h.offset + h.len() as u64);
    if report.head_complete && gaps.head > read {
        out.push(Finding::at(
            Kind::ResponseTimeout,
            head_end,
            format!(
                "the origin was silent for {:.1} s before the head was complete; {} waits {} s",
                gaps.head.as_secs_f64(),
                profile.name,
                read.as_secs()
            ),
        ));
    } else if gaps.body > read {
        out.push(Finding::at(
            Kind::BodyStalled,
            report.body.offset,
            format!(
                "the body stalled for {:.1} s; {} waits {} s",
                gaps.body.as_secs_f64(),
                profile.name,
                read.as_secs()
            ),
        ));
    } else if let Some(total) = limits.total_timeout {
        if gaps.head_complete.is_some_and(|t| t > total) {
            out.push(Finding::at(
                Kind::ResponseTimeout,
                head_end,
                format!(
                    "the head took {:.1} s; {} allows {} s for the response",
                    gaps.head_complete.unwrap_or_default().as_secs_f64(),
                    profile.name,
                    total.as_secs()
                ),
            ));
        } else if gaps.end.is_some_and(|t| t > total) {
            out.push(Finding::at(
                Kind::BodyStalled,
                report.body.offset,
                format!(
                    "the response took {:.1} s; {} allows {} s",
                    gaps.end.unwrap_or_default().as_secs_f64(),
                    profile.name,
                    total.as_secs()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::profile::ALL;
    use crate::reader::Report;

    /// A complete 200 whose only finding is `kind`.
    fn report_with(kind: Kind) -> Report {
        let mut report = crate::read_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            End::Complete,
            crate::ReaderOptions::default(),
        );
        assert!(report.findings.is_empty());
        report.findings.push(Finding::at(kind, 20, "test"));
        report
    }

    #[test]
    fn a_finding_only_warned_about_never_decides() {
        let mut warned = 0;
        for profile in ALL {
            for &kind in Kind::ALL {
                let d = profile.disposition(kind);
                if d.is_decisive() {
                    continue;
                }
                if kind.severity() == Severity::Warning {
                    warned += 1;
                }
                let v = judge(&report_with(kind), profile, JudgeContext::default());
                assert_eq!(v.cause, None, "{} {kind}", profile.name);
                assert_eq!(v.finding, None, "{} {kind}", profile.name);
                assert_eq!(v.status, Some(200), "{} {kind}", profile.name);
                assert_eq!(
                    v.generated_by,
                    GeneratedBy::Origin,
                    "{} {kind}",
                    profile.name
                );
                assert!(v.delivered(), "{} {kind}", profile.name);
            }
        }
        assert!(warned > 50, "only {warned} warning cases");
    }

    #[test]
    fn warning_severity_decides_only_where_the_profile_rejects_it() {
        for profile in ALL {
            for &kind in Kind::ALL {
                if kind.severity() != Severity::Warning {
                    continue;
                }
                let v = judge(&report_with(kind), profile, JudgeContext::default());
                match profile.disposition(kind) {
                    Disposition::Warn | Disposition::Pass | Disposition::Normalize => {
                        assert_eq!(v.cause, None, "{} {kind}", profile.name)
                    }
                    d => {
                        assert_eq!(v.finding, Some(kind), "{} {kind}", profile.name);
                        assert_eq!(v.disposition, Some(d), "{} {kind}", profile.name);
                    }
                }
            }
        }
    }

    #[test]
    fn the_verdict_carries_the_finding_that_decided_not_another_of_its_kind() {
        // Two NUL-valued fields: the first in the stream decides, and the verdict holds that
        // one (its offset and message), not a later finding of the same kind.
        let report = crate::read_all(
            b"HTTP/1.1 200 OK\r\nX-B: a\0b\r\nX-A: \0\r\nContent-Length: 0\r\n\r\n",
            End::Complete,
            crate::ReaderOptions::default(),
        );
        let nul: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.id == Kind::FieldValueNul)
            .collect();
        assert_eq!(nul.len(), 2, "{:?}", report.findings);
        let v = judge(
            &report,
            &crate::profile::CLOUDFLARE,
            JudgeContext::default(),
        );
        let deciding = v.deciding.as_ref().expect("a deciding finding");
        assert_eq!(v.finding, Some(deciding.id));
        assert_eq!(deciding, nul[0]);
        // A plain origin 5xx is decided by no finding.
        let report = crate::read_all(
            b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            End::Complete,
            crate::ReaderOptions::default(),
        );
        let v = judge(
            &report,
            &crate::profile::CLOUDFLARE,
            JudgeContext::default(),
        );
        assert_eq!(v.finding, Some(Kind::StatusOrigin5xx));
        assert!(v.deciding.is_none());
    }
}
